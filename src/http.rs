//! Small HTTP helpers shared by the routes, the extractors and CIBA:
//! no-store redirects and JSON answers, `Set-Cookie`, the same-origin check
//! for POSTs, and the session that `SessionManagerLayer` put in the request.
//! (Error pages and their headers are rendered by `error`.)

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::error::Error;
use crate::wiring::Misconfiguration;

/// `303 See Other` that no cache may keep: each of these redirects carries
/// per-login values (state, PKCE challenge) or depends on the session.
pub(crate) fn redirect(location: &str) -> Response {
    match HeaderValue::try_from(location) {
        Ok(value) => (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, value), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A JSON answer that no cache may keep: the routes' API bodies (CIBA's
/// start and status, back-channel logout's refusal) are per request.
pub(crate) fn no_store_json(status: StatusCode, body: impl serde::Serialize) -> Response {
    (status, [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], axum::Json(body)).into_response()
}

/// Adds `Set-Cookie` headers to a response.
pub(crate) fn with_cookies(mut response: Response, cookies: impl IntoIterator<Item = HeaderValue>) -> Response {
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Browsers send `Origin` on every cross-origin POST; our own forms send our
/// origin. Clients that send none (curl, old browsers) are let through: the
/// `SameSite=Lax` session cookie already keeps cross-site POSTs sessionless.
pub(crate) fn same_origin_or_absent(headers: &http::HeaderMap, ours: &url::Url) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    url::Url::parse(origin).is_ok_and(|o| o.origin() == ours.origin())
}

/// The session put in place by `SessionManagerLayer`.
pub(crate) fn session_of(extensions: &http::Extensions) -> Result<Session, Error> {
    extensions.get::<Session>().cloned().ok_or_else(|| {
        let wrong = Misconfiguration::NoSessionLayer;
        wrong.report();
        Error::Misconfigured(wrong)
    })
}

/// The session if `SessionManagerLayer` is installed; routes that also work
/// without one (CIBA status for API clients) take this.
pub(crate) struct MaybeSession(pub(crate) Option<Session>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for MaybeSession {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeSession(parts.extensions.get::<Session>().cloned()))
    }
}
