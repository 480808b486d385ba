//! How an [`Error`] becomes an HTTP response: its status, the safe message
//! and detail code a user sees, the HTML page or JSON body (chosen by the
//! request's `Accept`), `Retry-After` for the failures that pass, and the
//! headers every error response carries; plus the small helpers the
//! crate's other responses share with it (escaping, sanitising, marking a
//! personal response private).
//!
//! Kept apart from the error types so that what can go wrong (`mod.rs` and
//! each producer's error) reads without how it is shown.

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::page_text::{norwegian_message, page_text};
use super::{EndpointError, Error};
use crate::language::Language;

/// The app's error page for login failures (`BankIdLayer::with_error_handler`).
pub(crate) type ErrorHandler = Arc<dyn Fn(&Error, &HeaderMap) -> Response + Send + Sync>;

/// How a layer shows a login failure: the app's handler if it set one, else
/// this module's default page/JSON. Kept here, beside the default, so that
/// every route family (the layer's own and CIBA's) renders through one path.
#[derive(Clone, Default)]
pub(crate) struct ErrorPages(Option<ErrorHandler>);

impl ErrorPages {
    /// Pages from the app's `handler`.
    pub(crate) fn custom(handler: ErrorHandler) -> ErrorPages {
        ErrorPages(Some(handler))
    }

    /// Whether the app's handler renders (it then decides `Retry-After` too).
    pub(crate) fn is_custom(&self) -> bool {
        self.0.is_some()
    }

    /// The response for `err` to a request with `headers`.
    pub(crate) fn render(&self, err: &Error, headers: &HeaderMap) -> Response {
        match &self.0 {
            Some(handler) => handler(err, headers),
            None => err.to_response(headers),
        }
    }
}

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
            Error::Check(check) if check.is_invalid_id_token() => StatusCode::UNAUTHORIZED,
            Error::Unauthenticated | Error::StepUpRequired { .. } => StatusCode::UNAUTHORIZED,
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
            Error::TokenExchange(e) | Error::PushedAuthorization(e) | Error::PermissionApi(e) => {
                let generic = "BankID login could not be completed; please try again.";
                match endpoint_advice(e) {
                    Some(advice) if cfg!(debug_assertions) => format!("{generic} {advice}"),
                    _ => generic.to_owned(),
                }
            }
            other => other.to_string(),
        }
    }

    /// Renders the default response: an HTML page when the client asks for
    /// HTML, a small JSON body otherwise.
    pub fn to_response(&self, headers: &HeaderMap) -> Response {
        let response = if wants_html(headers) { self.html_response(headers) } else { self.json_response() };
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

    /// The page, in the language the request prefers (see `page_text.rs`),
    /// with `lang` set; a debug build's English advice to the developer
    /// keeps `lang="en"`.
    fn html_response(&self, headers: &HeaderMap) -> Response {
        let language = Language::preferred(headers).unwrap_or(Language::En);
        let text = page_text(language);
        let page = format!(
            "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{heading}</title></head><body><main><h1>{heading}</h1>{message}\
             <p>{code_label}: <code>{code}</code></p><p><a href=\"/\">{back}</a></p></main></body></html>",
            lang = language.tag(),
            heading = text.heading,
            message = self.page_message(language),
            code_label = text.code_label,
            code = escape_html(self.kind()),
            back = text.back,
        );
        (self.status(), no_store(), Html(page)).into_response()
    }

    /// The page's message paragraph(s), escaped.
    fn page_message(&self, language: Language) -> String {
        let nynorsk = match language {
            Language::En => return format!("<p>{}</p>", escape_html(&self.public_message())),
            Language::Nb => false,
            Language::Nn => true,
        };
        let message = format!("<p>{}</p>", escape_html(norwegian_message(self, nynorsk)));
        let advice = match self {
            Error::Misconfigured(wrong) if cfg!(debug_assertions) => {
                return format!("{message}<p>{}</p>", escape_html(&wrong.fix_in(language)));
            }
            Error::TokenExchange(e) | Error::PushedAuthorization(e) | Error::PermissionApi(e)
                if cfg!(debug_assertions) =>
            {
                endpoint_advice(e)
            }
            _ => None,
        };
        match advice {
            Some(advice) => format!("{message}<p lang=\"en\">{}</p>", escape_html(&advice)),
            None => message,
        }
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

/// For a debug build's error page: the OAuth `error` code a provider
/// endpoint refused the request with, and what usually causes it. A wrong
/// client secret (`invalid_client`) or an unregistered redirect URI
/// (`invalid_request` at PAR) otherwise shows as "please try again".
///
/// The code is one of RFC 6749 §5.2's fixed tokens and names no input, so
/// it may be shown (it is in the JSON `detail` in every build); a code
/// outside the token alphabet is not echoed. The provider's
/// `error_description` is free text that may repeat what was sent (a
/// redirect URI, a client id, a code), so it stays in the log.
fn endpoint_advice(err: &EndpointError) -> Option<String> {
    let EndpointError::Rejected { error, .. } = err else { return None };
    let cause = match error.as_str() {
        "invalid_client" => {
            "The client did not authenticate: check BANKID_CLIENT_ID and BANKID_CLIENT_SECRET (or the \
             private_key_jwt key), and that BANKID_CLIENT_AUTH is the method registered for the client."
        }
        "invalid_request" => {
            "The request is malformed or names something not registered, most often a BANKID_REDIRECT_URI \
             that is not registered for the client exactly (scheme, host, port and path)."
        }
        "unauthorized_client" => "The client may not use this flow or grant: check its registration at BankID.",
        "invalid_grant" => {
            "The code was used already or expired, or the redirect URI differs from the one the login \
             started with."
        }
        "invalid_scope" => "BANKID_SCOPES asks for a scope the client may not use.",
        _ => "See the provider's documentation of this code; its description is in the log.",
    };
    let is_token = !error.is_empty() && error.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    let code = if is_token { format!("`{error}`") } else { "an unusual error code".to_owned() };
    Some(format!("(Debug build) The provider answered {code}. {cause}"))
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

    use crate::wiring::Misconfiguration;

    async fn page(err: Error, accept_language: Option<&str>) -> String {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, "text/html".parse().unwrap());
        if let Some(value) = accept_language {
            headers.insert(header::ACCEPT_LANGUAGE, value.parse().unwrap());
        }
        let body = err.to_response(&headers).into_body();
        String::from_utf8(axum::body::to_bytes(body, 1 << 16).await.unwrap().to_vec()).unwrap()
    }

    /// #22 item 5: the page in the language the browser prefers, with `lang`
    /// set, the stable code under it; English when it names none of ours.
    #[tokio::test]
    async fn the_error_page_speaks_bokmal_nynorsk_or_english() {
        let denied = || Error::AccessDenied { description: None };
        let cases = [
            (Some("nb-NO,nb;q=0.9"), "lang=\"nb\"", "Innloggingen ble avbrutt."),
            (Some("nn-NO"), "lang=\"nn\"", "Innlogginga vart avbroten."),
            (Some("no"), "lang=\"nb\"", "BankID-innloggingen mislyktes"),
            (Some("en-GB"), "lang=\"en\"", "BankID login failed"),
            (Some("de-DE"), "lang=\"en\"", "Back to the start page"),
            (None, "lang=\"en\"", "Error code: <code>access_denied</code>"),
        ];
        for (accept_language, lang, text) in cases {
            let html = page(denied(), accept_language).await;
            assert!(html.contains(lang) && html.contains(text), "{accept_language:?}: {html}");
            assert!(html.contains("<code>access_denied</code>"), "{html}");
        }
    }

    /// In a debug build the wiring advice is in the page's language too.
    #[tokio::test]
    async fn a_debug_build_explains_a_wiring_mistake_in_norwegian() {
        let html = page(Error::Misconfigured(Misconfiguration::NoBankIdLayer), Some("nb")).await;
        if cfg!(debug_assertions) {
            assert!(html.contains("Denne ruten er ikke pakket inn av BankIdLayer"), "{html}");
        }
        let html = page(Error::Misconfigured(Misconfiguration::NoBankIdLayer), Some("nn")).await;
        assert!(html.contains("mellombels utilgjengeleg"), "{html}");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape_html("<script>\"x\"&'"), "&lt;script&gt;&quot;x&quot;&amp;&#x27;");
    }

    #[test]
    fn a_provider_refusal_names_its_code_and_a_cause_but_never_odd_text() {
        let rejected = |error: &str| EndpointError::Rejected { error: error.into(), description: Some("echo".into()) };
        let advice = endpoint_advice(&rejected("invalid_client")).unwrap();
        assert!(advice.contains("`invalid_client`") && advice.contains("BANKID_CLIENT_SECRET"), "{advice}");
        assert!(endpoint_advice(&rejected("invalid_request")).unwrap().contains("BANKID_REDIRECT_URI"));
        let odd = endpoint_advice(&rejected("<b>x</b>")).unwrap();
        assert!(!odd.contains("<b>") && odd.contains("an unusual error code"), "{odd}");
        assert!(!advice.contains("echo"), "the description is not shown");
        assert_eq!(endpoint_advice(&EndpointError::MissingIdToken), None);
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
