//! `POST /token` at BankID OIDC: redeems an authorization code for an ID
//! token and an access token (RFC 6749 §4.1.3, RFC 7636 §4.6, OpenID
//! Connect Core §3.1.3) and issues client-credentials tokens for BIB
//! (RFC 6749 §4.4). CIBA polls go to BIB's own token endpoint.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::client_auth;
use super::permissions;
use super::token_answer::answer;
use super::wire::{CIBA_GRANT_TYPE, OAuthError, Params, no_store};
use crate::faults::{Fault, Faults};
use crate::id_token::{self, IdTokenInput};
use crate::keys::SigningKey;
use crate::permission::Permission;
use crate::state::{ACCESS_TOKEN_LIFETIME_SECS, AccessGrant, IssuedCode, Shared, random_token};

pub(super) async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    answer(&shared, |faults| dispatch(&shared, &headers, &body, faults)).await
}

fn dispatch(shared: &Shared, headers: &HeaderMap, body: &[u8], faults: &Faults) -> Result<Response, OAuthError> {
    let params = client_auth::form_params(headers, body)?;
    client_auth::authenticate(shared, headers, &params)?;
    let body = match params.get("grant_type") {
        Some("authorization_code") => exchange(shared, &params, faults)?,
        Some("client_credentials") => permissions::client_credentials(shared, &params)?,
        Some(CIBA_GRANT_TYPE) => {
            return Err(OAuthError::bad(
                "unsupported_grant_type",
                "CIBA polls go to BIB's token endpoint (the token_endpoint of BIB's discovery document)",
            ));
        }
        Some(_) => {
            return Err(OAuthError::bad("unsupported_grant_type", "supported: authorization_code, client_credentials"));
        }
        None => return Err(OAuthError::invalid_request("grant_type is missing")),
    };
    Ok(no_store(Json(Value::Object(body)).into_response()))
}

fn exchange(shared: &Shared, params: &Params, faults: &Faults) -> Result<Map<String, Value>, OAuthError> {
    let code = params.get("code").ok_or(OAuthError::invalid_request("code is missing"))?;
    let issued = redeem(shared, code)?;
    check_redirect_uri(&issued, params)?;
    check_pkce(&issued, params)?;
    let input = IdTokenInput::for_code(&shared.issuer, &shared.client_id, &issued, shared.signing_alg());
    let body = issue_login_tokens(shared, &input, faults, Some(code))?;
    tracing::debug!(user = issued.user.id, "simulator: tokens issued for a code");
    Ok(body)
}

/// Marks the code as redeemed and returns what it stands for. A second
/// redemption is a replay: it fails and revokes the access token issued for
/// the first (RFC 6749 §4.1.2).
fn redeem(shared: &Shared, code: &str) -> Result<IssuedCode, OAuthError> {
    let mut guard = shared.lock();
    let inner = &mut *guard;
    let issued = inner.codes.get_mut(code).ok_or(OAuthError::bad("invalid_grant", "the code is unknown or expired"))?;
    if std::mem::replace(&mut issued.redeemed, true) {
        if let Some(token) = issued.access_token.take() {
            inner.tokens.take(&token);
        }
        tracing::debug!("simulator: authorization code replayed; its access token is revoked");
        return Err(OAuthError::bad("invalid_grant", "the code was already used"));
    }
    Ok(issued.clone())
}

fn check_redirect_uri(issued: &IssuedCode, params: &Params) -> Result<(), OAuthError> {
    if params.get("redirect_uri") == Some(issued.request.redirect_uri.as_str()) {
        Ok(())
    } else {
        Err(OAuthError::bad("invalid_grant", "redirect_uri does not match the authorization request"))
    }
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(code_verifier)) == code_challenge`.
fn check_pkce(issued: &IssuedCode, params: &Params) -> Result<(), OAuthError> {
    let verifier = params.get("code_verifier").unwrap_or_default();
    // §4.1: 43 to 128 characters from the unreserved set.
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if well_formed && challenge == issued.request.code_challenge {
        Ok(())
    } else {
        Err(OAuthError::bad("invalid_grant", "code_verifier does not match code_challenge"))
    }
}

/// The token response of an approved code-flow login. Its access token is
/// a JWT signed with BankID OIDC's key carrying the approved
/// `authorization_details` (BankID documents them inside the access token,
/// not in the response body), good at `/userinfo`; it is remembered with
/// the `code`, so that a replay of the code can revoke it.
pub(super) fn issue_login_tokens(
    shared: &Shared,
    input: &IdTokenInput<'_>,
    faults: &Faults,
    code: Option<&str>,
) -> Result<Map<String, Value>, OAuthError> {
    let id_token = id_token::mint(input, faults).map_err(|error| {
        tracing::error!(%error, "simulator: signing the ID token failed");
        OAuthError::Internal("the simulator could not sign the ID token")
    })?;
    let details = authorization_details(input.permissions, faults);
    let access_token = access_token(input, details.as_ref()).map_err(|error| {
        tracing::error!(%error, "simulator: signing the access token failed");
        OAuthError::Internal("the simulator could not sign the access token")
    })?;
    let grant = AccessGrant { user: std::sync::Arc::clone(input.user), scope: input.scope.to_owned() };
    let lifetime = std::time::Duration::from_secs(ACCESS_TOKEN_LIFETIME_SECS);
    {
        let mut guard = shared.lock();
        let inner = &mut *guard;
        inner.tokens.insert_as(access_token.clone(), grant, lifetime);
        if let Some(issued) = code.and_then(|code| inner.codes.get_mut(code)) {
            issued.access_token = Some(access_token.clone());
        }
    }
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(ACCESS_TOKEN_LIFETIME_SECS));
    body.insert("id_token".into(), json!(id_token));
    body.insert("scope".into(), json!(input.scope));
    if let Some(details) = details.filter(|_| shared.echo_authorization_details) {
        body.insert("authorization_details".into(), details);
    }
    Ok(body)
}

/// The access token: a JWT signed with BankID OIDC's key (`sim-1`),
/// with a random `jti` so that each is unique, and `authorization_details`
/// when the login approved pushed ones.
fn access_token(input: &IdTokenInput<'_>, details: Option<&Value>) -> Result<String, jsonwebtoken::errors::Error> {
    let now = crate::clock::unix_now();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(input.issuer));
    claims.insert("sub".into(), json!(input.user.sub));
    claims.insert("client_id".into(), json!(input.client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + ACCESS_TOKEN_LIFETIME_SECS));
    claims.insert("jti".into(), json!(random_token()));
    claims.insert("scope".into(), json!(input.scope));
    claims.insert("api_ver".into(), json!(id_token::API_VERSION));
    if let Some(details) = details {
        claims.insert("authorization_details".into(), details.clone());
    }
    id_token::sign(&claims, SigningKey::Primary, input.alg)
}

/// RFC 9396 §7: the granted `authorization_details` for the access token
/// (and the response body, if echoed), each item as pushed plus its
/// `permission_digest`. Only items that came
/// as `authorization_details` are listed, not registered permissions.
fn authorization_details(permissions: &[Permission], faults: &Faults) -> Option<Value> {
    let items: Vec<Value> = permissions
        .iter()
        .filter(|permission| permission.permission_id.is_none())
        .map(|permission| {
            let mut item = permission.detail.clone();
            if !faults.has(&Fault::MissingPermissionDigest) {
                item.insert("permission_digest".into(), json!(permission.digest));
            }
            if faults.has(&Fault::DifferentPermissionType) {
                item.insert("type".into(), json!("other.v1"));
            }
            Value::Object(item)
        })
        .collect();
    (!items.is_empty()).then_some(Value::Array(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_details_echo_items_with_their_digest() {
        let permission = Permission::new("payment.v1", "eyJhIjoxfQ").expect("valid");
        let honest = authorization_details(std::slice::from_ref(&permission), &Faults::default()).expect("items");
        assert_eq!(honest[0]["type"], "payment.v1");
        assert_eq!(honest[0]["permission"], "eyJhIjoxfQ");
        assert_eq!(honest[0]["permission_digest"], json!(permission.digest));

        let mut faults = Faults::default();
        faults.add(Fault::MissingPermissionDigest);
        faults.add(Fault::DifferentPermissionType);
        let broken = authorization_details(std::slice::from_ref(&permission), &faults).expect("items");
        assert!(broken[0].get("permission_digest").is_none());
        assert_eq!(broken[0]["type"], "other.v1");

        let registered = Permission { permission_id: Some("p".into()), ..permission };
        assert_eq!(authorization_details(&[registered], &Faults::default()), None);
    }
}
