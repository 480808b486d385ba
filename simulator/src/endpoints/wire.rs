//! What the endpoints share: their paths, the OAuth error responses, form
//! parameters and the `Authorization` header, the slow and outage faults.
//! A leaf below the endpoint modules, so that none of them imports the
//! router module that mounts it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

use crate::state::Shared;

/// Paths below the BankID OIDC issuer. Discovery advertises them, the router
/// serves them.
pub(crate) const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub(crate) const AUTHORIZE_PATH: &str = "/authorize";
pub(crate) const TOKEN_PATH: &str = "/token";
pub(crate) const USERINFO_PATH: &str = "/userinfo";
pub(crate) const JWKS_PATH: &str = "/jwks";
pub(crate) const LOGOUT_PATH: &str = "/logout";
pub(crate) const PAR_PATH: &str = "/par";
pub(crate) const PHONE_PATH: &str = "/phone";
pub(crate) const PHONE_DECIDE_PATH: &str = "/phone/decide";
/// The health route at both issuers (not BankID's; see `endpoints::health`).
pub(crate) const HEALTH_PATH: &str = "/healthz";

/// Paths below the BIB issuer (discovery, token and `/jwks` are named as at
/// BankID OIDC).
pub(crate) const GRANT_JWKS_PATH: &str = "/jwks/grants";
/// `permissions_endpoint`: with a trailing slash, as BankID's, because
/// clients append `user-exists` and `{id}/grant` to it.
pub(crate) const PERMISSIONS_PATH: &str = "/permissions/";
pub(crate) const USER_EXISTS_PATH: &str = "/permissions/user-exists";
pub(crate) const GRANT_PATH: &str = "/permissions/{id}/grant";
pub(crate) const BACKCHANNEL_PATH: &str = "/bc-authorize";

/// The grant type of CIBA polls (CIBA Core §10.1).
pub(crate) const CIBA_GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";

/// The `request_uri` prefix of RFC 9126 §2.2.
pub(crate) const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// `503` while [`Fault::DiscoveryUnavailable`](crate::faults::Fault::DiscoveryUnavailable)
/// is active (both issuers' discovery documents).
pub(crate) fn discovery_outage(shared: &Shared) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    let down = shared.lock().faults.has(&crate::faults::Fault::DiscoveryUnavailable);
    down.then(|| (axum::http::StatusCode::SERVICE_UNAVAILABLE, "simulated discovery outage\n").into_response())
}

/// Waits as long as an active `Fault::Slow` asks. Called by the back-channel
/// endpoints only: they are the ones relying parties put timeouts on.
pub(crate) async fn respond_slowly(shared: &Shared) {
    // The guard is a temporary and is dropped before the `.await`.
    let delay = shared.lock().faults.delay();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
}

/// An OAuth 2.0 error response (RFC 6749 §5.2).
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    no_store((status, Json(body)).into_response())
}

/// Why a back-channel request failed; each maps to one RFC 6749 §5.2 style
/// JSON error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OAuthError {
    /// `400 {"error": error, "error_description": why}`.
    BadRequest { error: &'static str, why: Cow<'static, str> },
    /// `401 invalid_client`, with a Basic challenge.
    InvalidClient,
    /// `401 invalid_token` with a Bearer challenge (RFC 6750 §3.1).
    InvalidToken(&'static str),
    /// `403 insufficient_scope` with a Bearer challenge (RFC 6750 §3.1).
    InsufficientScope(&'static str),
    /// Any other status with a JSON error body.
    Status { status: StatusCode, error: &'static str, why: Cow<'static, str> },
    /// `500 server_error`: a defect of the simulator, not of the client.
    Internal(&'static str),
}

impl OAuthError {
    pub(crate) fn bad(error: &'static str, why: impl Into<Cow<'static, str>>) -> Self {
        OAuthError::BadRequest { error, why: why.into() }
    }

    pub(crate) fn invalid_request(why: impl Into<Cow<'static, str>>) -> Self {
        OAuthError::bad("invalid_request", why)
    }

    pub(crate) fn status(status: StatusCode, error: &'static str, why: impl Into<Cow<'static, str>>) -> Self {
        OAuthError::Status { status, error, why: why.into() }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        match self {
            OAuthError::BadRequest { error, why } => oauth_error(StatusCode::BAD_REQUEST, error, &why),
            OAuthError::InvalidClient => {
                let mut response =
                    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed");
                // RFC 6749 §5.2: a 401 names the scheme the client should use.
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="bankid-simulator""#));
                response
            }
            OAuthError::InvalidToken(why) => bearer_challenge(StatusCode::UNAUTHORIZED, "invalid_token", why),
            OAuthError::InsufficientScope(why) => bearer_challenge(StatusCode::FORBIDDEN, "insufficient_scope", why),
            OAuthError::Status { status, error, why } => oauth_error(status, error, &why),
            OAuthError::Internal(why) => oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", why),
        }
    }
}

/// A JSON error with an RFC 6750 §3 `WWW-Authenticate: Bearer` challenge.
pub(crate) fn bearer_challenge(status: StatusCode, error: &'static str, why: &'static str) -> Response {
    let mut response = oauth_error(status, error, why);
    let challenge = format!(r#"Bearer error="{error}""#);
    if let Ok(challenge) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

/// Marks a response carrying tokens or token errors as uncacheable
/// (RFC 6749 §5.1).
pub(crate) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Form-urlencoded parameters, each of which may appear at most once
/// (RFC 6749 §3.1, §3.2): a repeated parameter is an error, never resolved
/// silently in favour of one of the values.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pub(crate) values: BTreeMap<String, String>,
    pub(crate) repeated: Vec<String>,
}

impl Params {
    pub(crate) fn parse(input: &[u8]) -> Self {
        let mut params = Params::default();
        for (name, value) in url::form_urlencoded::parse(input) {
            if params.values.contains_key(name.as_ref()) {
                params.repeated.push(name.into_owned());
            } else {
                params.values.insert(name.into_owned(), value.into_owned());
            }
        }
        params
    }

    /// The value of `name`, treating an empty value as absent.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str).filter(|value| !value.is_empty())
    }

    pub(crate) fn is_repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|repeated| repeated == name)
    }
}

/// The value of the `Authorization` header after `scheme` (matched without
/// regard to case, as RFC 9110 §11.1 requires).
pub(crate) fn authorization<'h>(headers: &'h HeaderMap, scheme: &str) -> Option<&'h str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_flagged() {
        let params = Params::parse(b"a=1&b=&a=2&c=x%20y");
        assert_eq!(params.get("a"), Some("1"));
        assert!(params.is_repeated("a"));
        assert_eq!(params.get("b"), None);
        assert_eq!(params.get("c"), Some("x y"));
    }

    #[test]
    fn authorization_scheme_is_case_insensitive() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert_eq!(authorization(&headers, "Bearer"), Some("abc"));
        assert_eq!(authorization(&headers, "Basic"), None);
    }
}
