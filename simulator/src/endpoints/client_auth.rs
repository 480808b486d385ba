//! Client authentication at the back-channel endpoints (`/token`, `/par`,
//! `/bc-authorize`): `client_secret_basic`, `client_secret_post` or
//! `private_key_jwt` (RFC 7523), never two at once (RFC 6749 §2.3).

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

use super::wire::{OAuthError, Params, authorization};
use crate::state::Shared;

/// Whether the body is `application/x-www-form-urlencoded` (a charset
/// parameter is allowed).
pub(super) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// The form parameters of a back-channel request: a form body in which no
/// parameter is repeated.
pub(super) fn form_params(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    if !is_form(headers) {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    let params = Params::parse(body);
    if !params.repeated.is_empty() {
        return Err(OAuthError::invalid_request("a parameter was given more than once"));
    }
    Ok(params)
}

/// `client_secret_basic` or `client_secret_post`, but never both at once
/// (RFC 6749 §2.3: one authentication method per request).
pub(super) fn authenticate(shared: &Shared, headers: &HeaderMap, params: &Params) -> Result<(), OAuthError> {
    let basic = authorization(headers, "Basic");
    if params.get("client_assertion").is_some() || params.get("client_assertion_type").is_some() {
        if basic.is_some() || params.get("client_secret").is_some() {
            return Err(OAuthError::invalid_request("use one client authentication method"));
        }
        return check_client_assertion(shared, params);
    }
    let (client_id, secret) = match (basic, params.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request("use one client authentication method"));
        }
        (Some(credentials), None) => {
            let (id, secret) = basic_credentials(credentials).ok_or(OAuthError::InvalidClient)?;
            // A client_id in the body is allowed, but must not contradict.
            if params.get("client_id").is_some_and(|form_id| form_id != id) {
                return Err(OAuthError::InvalidClient);
            }
            (id, secret)
        }
        (None, Some(secret)) => {
            let id = params.get("client_id").ok_or(OAuthError::InvalidClient)?;
            (id.to_owned(), secret.to_owned())
        }
        (None, None) => return Err(OAuthError::InvalidClient),
    };
    // Constant time, out of habit: this is the check that guards a secret.
    let id_ok = client_id.as_bytes().ct_eq(shared.client_id.as_bytes());
    let secret_ok = secret.as_bytes().ct_eq(shared.client_secret.as_bytes());
    if bool::from(id_ok & secret_ok) { Ok(()) } else { Err(OAuthError::InvalidClient) }
}

/// `private_key_jwt`: an RS256 JWT signed with the test client's key, with
/// `iss` = `sub` = the client, `aud` the issuer or the token endpoint, not
/// expired, and a `jti` never seen before (RFC 7523 §3).
fn check_client_assertion(shared: &Shared, params: &Params) -> Result<(), OAuthError> {
    const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    if params.get("client_assertion_type") != Some(JWT_BEARER) {
        return Err(OAuthError::InvalidClient);
    }
    let assertion = params.get("client_assertion").ok_or(OAuthError::InvalidClient)?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.set_issuer(&[shared.client_id.as_str()]);
    validation.sub = Some(shared.client_id.clone());
    validation.set_audience(&[shared.issuer.clone(), format!("{}/token", shared.issuer)]);
    validation.leeway = 5;
    let claims = jsonwebtoken::decode::<serde_json::Value>(assertion, &crate::keys::CLIENT_PUBLIC_KEY, &validation)
        .map_err(|_| OAuthError::InvalidClient)?
        .claims;
    if params.get("client_id").is_some_and(|id| id != shared.client_id) {
        return Err(OAuthError::InvalidClient);
    }
    let jti = claims.get("jti").and_then(serde_json::Value::as_str).ok_or(OAuthError::InvalidClient)?;
    let exp = claims.get("exp").and_then(serde_json::Value::as_i64).unwrap_or_default();
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let mut used = shared.used_assertion_ids.lock().unwrap_or_else(|p| p.into_inner());
    used.retain(|_, until| *until + 5 >= now);
    if used.len() >= crate::state::MAX_BULK_ENTRIES || used.insert(jti.to_owned(), exp).is_some() {
        return Err(OAuthError::InvalidClient);
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

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
