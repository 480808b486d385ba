//! `POST /token`: redeems an authorization code for an ID token and an
//! access token (RFC 6749 §4.1.3, RFC 7636 §4.6, OpenID Connect Core §3.1.3).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Params, authorization, no_store, oauth_error, respond_slowly};
use crate::simulator::faults::{Fault, Faults};
use crate::simulator::id_token::{self, IdTokenInput};
use crate::simulator::state::{ACCESS_TOKEN_LIFETIME_SECS, AccessGrant, IssuedCode, Shared};

/// Why a token request failed; each maps to one RFC 6749 §5.2 error.
#[derive(Debug, PartialEq, Eq)]
enum TokenError {
    InvalidRequest(&'static str),
    InvalidClient,
    InvalidGrant(&'static str),
    UnsupportedGrantType,
    /// Signing failed: a defect of the simulator, not of the client.
    Internal,
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        match self {
            TokenError::InvalidRequest(why) => oauth_error(StatusCode::BAD_REQUEST, "invalid_request", why),
            TokenError::InvalidClient => {
                let mut response =
                    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed");
                // RFC 6749 §5.2: a 401 names the scheme the client should use.
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="bankid-simulator""#));
                response
            }
            TokenError::InvalidGrant(why) => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why),
            TokenError::UnsupportedGrantType => {
                oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "only authorization_code is supported")
            }
            TokenError::Internal => oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the simulator could not sign the ID token",
            ),
        }
    }
}

pub(super) async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.token_requests.fetch_add(1, Ordering::SeqCst);
    respond_slowly(&shared).await;
    let faults = shared.lock().faults.clone();
    if faults.has(&Fault::TokenEndpointServerError) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "simulated internal server error\n").into_response();
    }
    if faults.has(&Fault::TokenEndpointError) {
        return TokenError::InvalidGrant("simulated failure").into_response();
    }
    match exchange(&shared, &headers, &body, &faults) {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(?error, "simulator: token request rejected");
            error.into_response()
        }
    }
}

fn exchange(shared: &Shared, headers: &HeaderMap, body: &[u8], faults: &Faults) -> Result<Response, TokenError> {
    if !is_form(headers) {
        return Err(TokenError::InvalidRequest("the body must be application/x-www-form-urlencoded"));
    }
    let params = Params::parse(body);
    if !params.repeated.is_empty() {
        return Err(TokenError::InvalidRequest("a parameter was given more than once"));
    }
    authenticate_client(shared, headers, &params)?;
    match params.get("grant_type") {
        Some("authorization_code") => {}
        Some(_) => return Err(TokenError::UnsupportedGrantType),
        None => return Err(TokenError::InvalidRequest("grant_type is missing")),
    }
    let code = params.get("code").ok_or(TokenError::InvalidRequest("code is missing"))?;
    let issued = redeem(shared, code)?;
    check_redirect_uri(&issued, &params)?;
    check_pkce(&issued, &params)?;
    issue_tokens(shared, code, &issued, faults)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// `client_secret_basic` or `client_secret_post`, but never both at once
/// (RFC 6749 §2.3: one authentication method per request).
fn authenticate_client(shared: &Shared, headers: &HeaderMap, params: &Params) -> Result<(), TokenError> {
    let basic = authorization(headers, "Basic");
    let (client_id, secret) = match (basic, params.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(TokenError::InvalidRequest("use one client authentication method"));
        }
        (Some(credentials), None) => {
            let (id, secret) = basic_credentials(credentials).ok_or(TokenError::InvalidClient)?;
            // A client_id in the body is allowed, but must not contradict.
            if params.get("client_id").is_some_and(|form_id| form_id != id) {
                return Err(TokenError::InvalidClient);
            }
            (id, secret)
        }
        (None, Some(secret)) => {
            let id = params.get("client_id").ok_or(TokenError::InvalidClient)?;
            (id.to_owned(), secret.to_owned())
        }
        (None, None) => return Err(TokenError::InvalidClient),
    };
    // Constant time, out of habit: this is the check that guards a secret.
    let id_ok = client_id.as_bytes().ct_eq(shared.client_id.as_bytes());
    let secret_ok = secret.as_bytes().ct_eq(shared.client_secret.as_bytes());
    if bool::from(id_ok & secret_ok) { Ok(()) } else { Err(TokenError::InvalidClient) }
}

/// Decodes `base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(encoded: &str) -> Option<(String, String)> {
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Decodes one `application/x-www-form-urlencoded` value: `+` is a space and
/// `%XX` an escaped byte. Malformed escapes are an error, not passed through.
fn form_decode(value: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut input = value.bytes();
    while let Some(byte) = input.next() {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let high = char::from(input.next()?).to_digit(16)?;
                let low = char::from(input.next()?).to_digit(16)?;
                bytes.push(u8::try_from(high * 16 + low).ok()?);
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).ok()
}

/// Marks the code as redeemed and returns what it stands for. A second
/// redemption is a replay: it fails and revokes the access token issued for
/// the first (RFC 6749 §4.1.2).
fn redeem(shared: &Shared, code: &str) -> Result<IssuedCode, TokenError> {
    let mut guard = shared.lock();
    let inner = &mut *guard;
    let issued = inner.codes.get_mut(code).ok_or(TokenError::InvalidGrant("the code is unknown or expired"))?;
    if std::mem::replace(&mut issued.redeemed, true) {
        if let Some(token) = issued.access_token.take() {
            inner.tokens.take(&token);
        }
        tracing::debug!("simulator: authorization code replayed; its access token is revoked");
        return Err(TokenError::InvalidGrant("the code was already used"));
    }
    Ok(issued.clone())
}

fn check_redirect_uri(issued: &IssuedCode, params: &Params) -> Result<(), TokenError> {
    if params.get("redirect_uri") == Some(issued.request.redirect_uri.as_str()) {
        Ok(())
    } else {
        Err(TokenError::InvalidGrant("redirect_uri does not match the authorization request"))
    }
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(code_verifier)) == code_challenge`.
fn check_pkce(issued: &IssuedCode, params: &Params) -> Result<(), TokenError> {
    let verifier = params.get("code_verifier").unwrap_or_default();
    // §4.1: 43 to 128 characters from the unreserved set.
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if well_formed && challenge == issued.request.code_challenge {
        Ok(())
    } else {
        Err(TokenError::InvalidGrant("code_verifier does not match code_challenge"))
    }
}

fn issue_tokens(shared: &Shared, code: &str, issued: &IssuedCode, faults: &Faults) -> Result<Response, TokenError> {
    let input = IdTokenInput { issuer: &shared.issuer, client_id: &shared.client_id, code: issued };
    let id_token = id_token::mint(&input, faults).map_err(|error| {
        tracing::error!(%error, "simulator: signing the ID token failed");
        TokenError::Internal
    })?;
    let grant = AccessGrant { user: issued.user, scope: issued.request.scope.clone() };
    let lifetime = std::time::Duration::from_secs(ACCESS_TOKEN_LIFETIME_SECS);
    let access_token = {
        let mut guard = shared.lock();
        let inner = &mut *guard;
        let access_token = inner.tokens.insert(grant, lifetime);
        // Remembered so that a replay of the code can revoke it.
        if let Some(code) = inner.codes.get_mut(code) {
            code.access_token = Some(access_token.clone());
        }
        access_token
    };
    tracing::debug!(user = issued.user.id, "simulator: tokens issued");
    let body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_LIFETIME_SECS,
        "id_token": id_token,
        "scope": issued.request.scope,
    });
    Ok(no_store(Json(body).into_response()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let encoded = STANDARD.encode("my%20client:p%3Ass+word%2B");
        assert_eq!(basic_credentials(&encoded), Some(("my client".to_owned(), "p:ss word+".to_owned())));
        assert_eq!(basic_credentials("%%%"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%zz"), None);
    }

    #[test]
    fn form_content_type_may_carry_a_charset() {
        let mut headers = HeaderMap::new();
        headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"));
        assert!(is_form(&headers));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(!is_form(&headers));
    }
}
