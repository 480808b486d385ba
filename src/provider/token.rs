//! Client-authenticated POSTs to the provider: token endpoint, PAR and
//! CIBA share client authentication and error parsing, which live here once.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Client;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;
use url::form_urlencoded::byte_serialize;

use super::http::read_limited;
use crate::error::TransportError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::clock::unix_now;
use crate::config::{ClientAssertionKey, ClientAuth, ClientSecret, Credential};
use crate::error::EndpointError;
use crate::log_value::{untrusted, untrusted_text};

/// A successful token response. `Debug` never shows the tokens.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) token_type: String,
    pub(crate) id_token: Option<String>,
    pub(crate) expires_in: Option<u64>,
    /// RFC 9396 §7: the authorization details the provider granted.
    pub(crate) authorization_details: Option<serde_json::Value>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("id_token", &self.id_token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    error_description: Option<String>,
}

/// How we authenticate at the provider.
pub(crate) struct ClientCredentials<'a> {
    pub(crate) client_id: &'a str,
    /// The method with its secret or key.
    pub(crate) auth: &'a ClientAuth,
    /// The audience of a `private_key_jwt` assertion (the issuer
    /// identifier, which names the provider unambiguously).
    pub(crate) audience: &'a str,
}

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Lifetime of a client assertion: long enough for one request.
const ASSERTION_LIFETIME_SECS: i64 = 60;

/// A fresh, single-use client assertion (RFC 7523 §3): `iss` = `sub` = the
/// client, `aud` the provider, a random `jti`, a short `exp`.
fn client_assertion(client_id: &str, key: &ClientAssertionKey, audience: &str) -> Result<String, EndpointError> {
    let now = unix_now();
    let claims = serde_json::json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECS,
    });
    let mut header = jsonwebtoken::Header::new(key.alg);
    header.kid = key.kid.clone();
    jsonwebtoken::encode(&header, &claims, &key.key).map_err(|e| {
        EndpointError::Unreachable(TransportError::not_sent("the client assertion could not be signed", e))
    })
}

/// POSTs `params` to the token endpoint and parses a Bearer token response.
pub(crate) async fn request_tokens(
    client: &Client,
    endpoint: &Url,
    credentials: &ClientCredentials<'_>,
    params: &[(&str, &str)],
) -> Result<TokenResponse, EndpointError> {
    let (status, tokens) = post_form::<TokenResponse>(client, endpoint, credentials, params).await?;
    if !tokens.token_type.eq_ignore_ascii_case("bearer") {
        return Err(EndpointError::UnexpectedResponse { status });
    }
    Ok(tokens)
}

/// POSTs a client-authenticated form and parses a 2xx JSON answer into `T`.
/// OAuth error bodies become [`EndpointError::Rejected`]; anything else
/// (5xx, HTML, wrong JSON) [`EndpointError::UnexpectedResponse`].
pub(crate) async fn post_form<T: DeserializeOwned>(
    client: &Client,
    endpoint: &Url,
    credentials: &ClientCredentials<'_>,
    params: &[(&str, &str)],
) -> Result<(u16, T), EndpointError> {
    let mut form: Vec<(&str, &str)> = params.to_vec();
    let mut request = client.post(endpoint.clone()).header(reqwest::header::ACCEPT, "application/json");
    let assertion;
    match &credentials.auth.0 {
        Credential::PrivateKeyJwt(key) => {
            assertion = client_assertion(credentials.client_id, key, credentials.audience)?;
            if !form.iter().any(|(k, _)| *k == "client_id") {
                form.push(("client_id", credentials.client_id));
            }
            form.push(("client_assertion_type", ASSERTION_TYPE));
            form.push(("client_assertion", &assertion));
        }
        Credential::SecretBasic(secret) => {
            request = request.header(reqwest::header::AUTHORIZATION, basic_auth(credentials.client_id, secret));
        }
        Credential::SecretPost(secret) => {
            // A PAR body already names the client; a repeated parameter is
            // an invalid request (RFC 6749 §3.1).
            if !form.iter().any(|(k, _)| *k == "client_id") {
                form.push(("client_id", credentials.client_id));
            }
            form.push(("client_secret", secret.expose()));
        }
    }
    let response =
        request.form(&form).send().await.map_err(|e| EndpointError::Unreachable(TransportError::from_reqwest(e)))?;
    parse_json_response(response).await
}

/// Shared answer parsing for form and JSON requests.
pub(crate) async fn parse_json_response<T: DeserializeOwned>(
    response: reqwest::Response,
) -> Result<(u16, T), EndpointError> {
    let status = response.status();
    let body = read_limited(response).await.map_err(|e| EndpointError::Unreachable(e.into()))?;
    if status.is_success() {
        let value =
            serde_json::from_slice(&body).map_err(|_| EndpointError::UnexpectedResponse { status: status.as_u16() })?;
        return Ok((status.as_u16(), value));
    }
    match serde_json::from_slice::<OAuthErrorBody>(&body) {
        Ok(err) if status.is_client_error() => Err(EndpointError::Rejected {
            // An error code is short; a longer one is cut like a logged value.
            error: untrusted(&err.error).to_string(),
            description: err.error_description.as_deref().map(|d| untrusted_text(d).to_string()),
        }),
        _ => Err(EndpointError::UnexpectedResponse { status: status.as_u16() }),
    }
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded before being joined,
/// which matters for secrets containing `:` or non-ASCII characters.
fn basic_auth(client_id: &str, secret: &ClientSecret) -> String {
    let id: String = byte_serialize(client_id.as_bytes()).collect();
    let secret: String = byte_serialize(secret.expose().as_bytes()).collect();
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_form_encodes_credentials() {
        let secret = ClientSecret::new("p@ss:wörd");
        let header = basic_auth("my client", &secret);
        let decoded = STANDARD.decode(header.trim_start_matches("Basic ")).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "my+client:p%40ss%3Aw%C3%B6rd");
    }

    /// A provider's `error` and `error_description` of a mebibyte each, full
    /// of newlines and ANSI escapes: the error (logged, shown) is one
    /// bounded line.
    #[tokio::test]
    async fn an_attacker_sized_oauth_error_is_bounded() {
        use crate::log_value::tests::{hostile_mebibyte, is_bounded_line};
        use crate::log_value::{MAX_LOGGED_CHARS, MAX_TEXT_CHARS};
        // 64 Ki characters of it: JSON-escaped, within the body limit.
        let hostile: String = hostile_mebibyte().chars().take(64 * 1024).collect();
        let body = serde_json::json!({"error": hostile, "error_description": hostile}).to_string();
        let response = http::Response::builder().status(400).body(body).unwrap();
        let err = parse_json_response::<serde_json::Value>(reqwest::Response::from(response)).await.unwrap_err();
        let EndpointError::Rejected { error, description } = &err else { panic!("{err:?}") };
        assert!(is_bounded_line(error, MAX_LOGGED_CHARS), "{error}");
        assert!(is_bounded_line(description.as_deref().unwrap(), MAX_TEXT_CHARS), "{description:?}");
        assert!(is_bounded_line(&err.to_string(), 400), "{err}");
    }
}

#[cfg(test)]
mod assertion_tests {
    use super::*;

    #[test]
    fn client_assertion_has_the_rfc_7523_claims() {
        let pem = axum_bankid_simulator::Simulator::client_private_key_pem();
        let key = ClientAssertionKey::rsa_pem(pem.as_bytes(), Some("client-1".into())).unwrap();
        let first = client_assertion("my-client", &key, "https://op.example").unwrap();
        let second = client_assertion("my-client", &key, "https://op.example").unwrap();
        let header = jsonwebtoken::decode_header(&first).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some("client-1"));
        let claims: serde_json::Value = jsonwebtoken::dangerous::insecure_decode(&first).unwrap().claims;
        assert_eq!(claims["iss"], "my-client");
        assert_eq!(claims["sub"], "my-client");
        assert_eq!(claims["aud"], "https://op.example");
        assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 60);
        let other: serde_json::Value = jsonwebtoken::dangerous::insecure_decode(&second).unwrap().claims;
        assert_ne!(claims["jti"], other["jti"], "every assertion is single-use");
    }
}
