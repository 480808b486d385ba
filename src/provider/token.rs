//! Calls to the token endpoint, with client authentication.
//!
//! Shared by the code exchange and (later) CIBA polling, so client
//! authentication and error parsing live in one place.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Client;
use serde::Deserialize;
use url::Url;
use url::form_urlencoded::byte_serialize;

use super::http::{describe, read_limited};
use crate::config::{ClientAuth, ClientSecret};
use crate::error::{TokenEndpointError, sanitize};

/// A successful token response. `Debug` never shows the tokens.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    #[allow(dead_code)] // kept for userinfo calls and the CIBA flow
    pub(crate) access_token: String,
    pub(crate) token_type: String,
    pub(crate) id_token: Option<String>,
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

/// How we authenticate at the token endpoint.
pub(crate) struct ClientCredentials<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) secret: &'a ClientSecret,
    pub(crate) method: ClientAuth,
}

/// POSTs `params` to the token endpoint and parses the answer.
pub(crate) async fn request_tokens(
    client: &Client,
    endpoint: &Url,
    credentials: &ClientCredentials<'_>,
    params: &[(&str, &str)],
) -> Result<TokenResponse, TokenEndpointError> {
    let mut form: Vec<(&str, &str)> = params.to_vec();
    let mut request = client.post(endpoint.clone()).header(reqwest::header::ACCEPT, "application/json");
    match credentials.method {
        ClientAuth::SecretBasic => {
            request = request.header(reqwest::header::AUTHORIZATION, basic_auth(credentials));
        }
        ClientAuth::SecretPost => {
            form.push(("client_id", credentials.client_id));
            form.push(("client_secret", credentials.secret.expose()));
        }
    }
    let response = request.form(&form).send().await.map_err(|e| TokenEndpointError::Unreachable(describe(&e)))?;
    let status = response.status();
    let body = read_limited(response).await.map_err(|e| TokenEndpointError::Unreachable(e.to_string()))?;
    if status.is_success() {
        let tokens: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| TokenEndpointError::UnexpectedResponse { status: status.as_u16() })?;
        if !tokens.token_type.eq_ignore_ascii_case("bearer") {
            return Err(TokenEndpointError::UnexpectedResponse { status: status.as_u16() });
        }
        return Ok(tokens);
    }
    match serde_json::from_slice::<OAuthErrorBody>(&body) {
        Ok(err) if status.is_client_error() => Err(TokenEndpointError::Rejected {
            error: sanitize(&err.error),
            description: err.error_description.as_deref().map(sanitize),
        }),
        _ => Err(TokenEndpointError::UnexpectedResponse { status: status.as_u16() }),
    }
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded before being joined,
/// which matters for secrets containing `:` or non-ASCII characters.
fn basic_auth(credentials: &ClientCredentials<'_>) -> String {
    let id: String = byte_serialize(credentials.client_id.as_bytes()).collect();
    let secret: String = byte_serialize(credentials.secret.expose().as_bytes()).collect();
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_form_encodes_credentials() {
        let secret = ClientSecret::new("p@ss:wörd");
        let creds = ClientCredentials { client_id: "my client", secret: &secret, method: ClientAuth::SecretBasic };
        let header = basic_auth(&creds);
        let decoded = STANDARD.decode(header.trim_start_matches("Basic ")).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "my+client:p%40ss%3Aw%C3%B6rd");
    }
}
