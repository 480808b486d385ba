//! [`AuthRejection`]: how every extractor of this crate refuses a request —
//! browser navigations go to the login route (with `return_to`), everything
//! else gets `401` and the login URL — and the "no `BankIdLayer`" error.

use axum::Json;
use axum::extract::OriginalUri;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::Error;
use crate::error::render::wants_html;
use crate::http::redirect;
use crate::state::LayerState;
use crate::wiring::Misconfiguration;

/// Why [`AuthenticatedUser`](crate::AuthenticatedUser) could not be extracted.
///
/// Browser navigations (`GET` with `Accept: text/html`) are redirected to the
/// login route with `return_to` set to the requested page; everything else
/// gets `401` with `{"error": "unauthenticated", "login_url": ...}` (or a
/// `503` with `Retry-After` if the session store failed).
#[derive(Debug)]
pub struct AuthRejection {
    error: Error,
    login_redirect: Option<LoginRedirect>,
    login_url: Option<String>,
}

/// A browser navigation sent to the login route: where to, and the "sent to
/// login" marker that lets the next request tell a login route
/// `BankIdLayer` never saw (see `records::binding::sent_to_login`).
#[derive(Debug)]
pub(crate) struct LoginRedirect {
    location: String,
    marker: http::HeaderValue,
}

impl LoginRedirect {
    pub(crate) fn new(ctx: &LayerState, location: String) -> LoginRedirect {
        LoginRedirect { location, marker: crate::records::binding::sent_to_login(ctx.core.config()) }
    }
}

impl IntoResponse for LoginRedirect {
    fn into_response(self) -> Response {
        crate::http::with_cookies(redirect(&self.location), [self.marker])
    }
}

/// `401` with `{"error": "unauthenticated", "message": .., "login_url": ..}`
/// and the `BankID` challenge: what API clients get without a login.
pub(crate) fn unauthenticated_response(login_url: Option<&str>) -> Response {
    let body = serde_json::json!({
        "error": "unauthenticated",
        "message": "A BankID login is required.",
        "login_url": login_url,
    });
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "BankID"), (header::CACHE_CONTROL, "no-store")], Json(body))
        .into_response()
}

impl AuthRejection {
    /// The underlying error ([`Error::Unauthenticated`] when there simply is
    /// no valid login).
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The underlying error, owned (for extractors built on this one).
    pub(crate) fn into_error(self) -> Error {
        self.error
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        if let Some(to_login) = self.login_redirect {
            return to_login.into_response();
        }
        if !matches!(self.error, Error::Unauthenticated) {
            return self.error.into_response();
        }
        unauthenticated_response(self.login_url.as_deref())
    }
}

/// An extractor ran where `BankIdLayer` put no state: say so, once, with
/// the fix.
pub(crate) fn no_bankid_layer() -> Error {
    let wrong = Misconfiguration::NoBankIdLayer;
    wrong.report();
    Error::Misconfigured(wrong)
}

pub(crate) fn rejection(ctx: Option<&LayerState>, parts: &Parts, error: Error) -> AuthRejection {
    let login_path = ctx.map(|c| c.core.config().login_path.clone());
    let is_navigation = parts.method == Method::GET && wants_html(&parts.headers);
    let login_redirect = match (&error, ctx, &login_path) {
        (Error::Unauthenticated, Some(ctx), Some(path)) if is_navigation => {
            Some(LoginRedirect::new(ctx, login_redirect(path, parts)))
        }
        _ => None,
    };
    AuthRejection { error, login_redirect, login_url: login_path }
}

/// `login_path?return_to=<this page>`, using the URI before any nesting
/// stripped its prefix.
fn login_redirect(login_path: &str, parts: &Parts) -> String {
    let uri = parts.extensions.get::<OriginalUri>().map_or(&parts.uri, |o| &o.0);
    let here = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let encoded: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
    format!("{login_path}?return_to={encoded}")
}
