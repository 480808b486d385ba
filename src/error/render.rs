//! How an [`Error`] becomes an HTTP response: its status, the safe message
//! and detail code a user sees, the HTML page or JSON body (chosen by the
//! request's `Accept`), `Retry-After` for the failures that pass, and the
//! headers every error response carries; plus the small helpers the
//! crate's other responses share with it (escaping, sanitising, marking a
//! personal response private).
//!
//! Kept apart from the error types so that what can go wrong (`mod.rs` and
//! each producer's error) reads without how it is shown.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::{EndpointError, Error, LoginCheckError};

impl Error {
    /// The HTTP status this error maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::MalformedCallback
            | Error::MissingState
            | Error::UnknownState
            | Error::NoLoginCookie
            | Error::LoginExpired
            | Error::CallbackIssuerMismatch
            | Error::MissingCallbackIssuer
            | Error::Provider { .. }
            | Error::MissingCode
            | Error::InvalidStepUp
            | Error::LevelBelowMinimum { .. }
            | Error::InvalidLoginOption { .. } => StatusCode::BAD_REQUEST,
            Error::AccessDenied { .. }
            | Error::CrossSiteRequest
            | Error::Permission(_)
            | Error::LoginRefused { .. } => StatusCode::FORBIDDEN,
            Error::Check(LoginCheckError::InvalidIdToken(_))
            | Error::Unauthenticated
            | Error::StepUpRequired { .. } => StatusCode::UNAUTHORIZED,
            Error::Check(_) => StatusCode::FORBIDDEN,
            Error::TokenExchange(_) | Error::PushedAuthorization(_) | Error::PermissionApi(_) => {
                StatusCode::BAD_GATEWAY
            }
            Error::Misconfigured(_) | Error::MissingCapability { .. } | Error::IdentityHintNeedsPar => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Error::ProviderUnavailable | Error::Session(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A detail code for the variants that carry one (ID token reason,
    /// provider error code, token endpoint error).
    pub fn detail(&self) -> Option<&str> {
        match self {
            Error::Check(check) => check.detail(),
            Error::Permission(e) => Some(e.kind()),
            Error::MissingCapability { capability } => Some(capability),
            Error::InvalidLoginOption { option } => Some(option),
            Error::PushedAuthorization(e) | Error::PermissionApi(e) => Some(endpoint_detail(e)),
            Error::Provider { error, .. } => Some(error),
            Error::NoLoginCookie => Some("no_login_cookie"),
            Error::Misconfigured(wrong) => Some(wrong.kind()),
            Error::TokenExchange(e) => Some(endpoint_detail(e)),
            _ => None,
        }
    }

    /// The message shown to users: server-side failures get a generic text so
    /// internals (store errors, URLs) stay in the logs.
    fn public_message(&self) -> String {
        match self {
            Error::Misconfigured(wrong) if cfg!(debug_assertions) => wrong.fix(),
            Error::Session(_)
            | Error::Misconfigured(_)
            | Error::ProviderUnavailable
            | Error::MissingCapability { .. } => "BankID login is temporarily unavailable.".to_owned(),
            Error::TokenExchange(_) | Error::PushedAuthorization(_) | Error::PermissionApi(_) => {
                "BankID login could not be completed; please try again.".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// Renders the default response: an HTML page when the client asks for
    /// HTML, a small JSON body otherwise.
    pub fn to_response(&self, headers: &HeaderMap) -> Response {
        let response = if wants_html(headers) { self.html_response() } else { self.json_response() };
        self.with_retry_after(response)
    }

    /// `provider_unavailable` and `session_error` say when to come back
    /// (RFC 9110 §10.2.3); the layer's own routes replace this default with
    /// its loader's next wait.
    fn with_retry_after(&self, mut response: Response) -> Response {
        if matches!(self, Error::ProviderUnavailable | Error::Session(_)) {
            response.headers_mut().entry(header::RETRY_AFTER).or_insert(header::HeaderValue::from_static("5"));
        }
        response
    }

    fn json_response(&self) -> Response {
        let body = serde_json::json!({
            "error": self.kind(),
            "detail": self.detail(),
            "message": self.public_message(),
        });
        (self.status(), no_store(), Json(body)).into_response()
    }

    fn html_response(&self) -> Response {
        let page = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>BankID login failed</title></head>\
             <body><h1>BankID login failed</h1><p>{}</p><p><code>{}</code></p><p><a href=\"/\">Back to the start page</a></p></body></html>",
            escape_html(&self.public_message()),
            escape_html(self.kind()),
        );
        (self.status(), no_store(), Html(page)).into_response()
    }
}

impl IntoResponse for Error {
    /// Without request headers the JSON form is used; the layer's routes call
    /// [`Error::to_response`] so browsers get a page.
    fn into_response(self) -> Response {
        let response = self.json_response();
        self.with_retry_after(response)
    }
}

fn endpoint_detail(err: &EndpointError) -> &str {
    match err {
        EndpointError::Rejected { error, .. } => error,
        EndpointError::UnexpectedResponse { .. } => "unexpected_response",
        EndpointError::MissingIdToken => "missing_id_token",
        EndpointError::Unreachable(_) => "unreachable",
    }
}

/// Headers of every default error response: never cached, and a link on
/// the error page sends no `Referer` (the page's URL may be a callback URL
/// carrying `code` and `state`).
fn no_store() -> [(header::HeaderName, &'static str); 2] {
    [(header::CACHE_CONTROL, "no-store"), (header::REFERRER_POLICY, "no-referrer")]
}

/// Marks a response for a logged-in user as personal and uncacheable
/// (RFC 9111 §5.2.2.5, §5.2.2.7), replacing any `Cache-Control` it had.
pub(crate) fn mark_private(response: &mut Response) {
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("private, no-store"));
}

/// True for browser navigations: their `Accept` lists `text/html`.
pub(crate) fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|m| m.trim().starts_with("text/html")))
}

/// Escapes text for HTML element content and quoted attributes (`&`, `<`,
/// `>`, `"`, `'`).
pub(crate) fn escape_html(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape_html("<script>\"x\"&'"), "&lt;script&gt;&quot;x&quot;&amp;&#x27;");
    }

    #[test]
    fn browser_detection() {
        let mut headers = HeaderMap::new();
        assert!(!wants_html(&headers));
        headers.insert(header::ACCEPT, "text/html,application/xhtml+xml;q=0.9".parse().unwrap());
        assert!(wants_html(&headers));
        headers.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(!wants_html(&headers));
    }
}
