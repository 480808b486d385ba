//! [`AuthenticatedUser`] and `Option<AuthenticatedUser>` as extractors, and
//! the [`require_authenticated`] guard for whole routers.
//!
//! These run on every request, so they do no cryptography and never call the
//! provider: the ID token was verified once at login and its claims kept in
//! the session. What they do re-check each time is policy — the minimum LOA
//! (which may have been raised since the user logged in) and the login's age.

use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use super::rejection::{AuthRejection, no_bankid_layer, rejection};
use crate::error::Error;
use crate::http::session_of;
use crate::live_login::Stored;
use crate::private_responses::LoginShown;
use crate::state::LayerState;
use crate::user::AuthenticatedUser;
use crate::wiring::Misconfiguration;

impl<S: Send + Sync> FromRequestParts<S> for AuthenticatedUser {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Set by `require_authenticated`, so a guarded handler does not read
        // the session twice.
        if let Some(user) = parts.extensions.get::<AuthenticatedUser>() {
            LoginShown::raise(&parts.extensions);
            return Ok(user.clone());
        }
        let ctx = parts.extensions.get::<LayerState>();
        match current_user(ctx, parts).await {
            Ok(user) => {
                LoginShown::raise(&parts.extensions);
                Ok(user)
            }
            Err(error) => Err(rejection(ctx, parts, error)),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for AuthenticatedUser {
    type Rejection = AuthRejection;

    /// `None` when there is no valid login; an error only if the session
    /// store fails or the layers are missing.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, Self::Rejection> {
        match <AuthenticatedUser as FromRequestParts<S>>::from_request_parts(parts, state).await {
            Ok(user) => Ok(Some(user)),
            Err(rejection) if matches!(rejection.error(), Error::Unauthenticated) => Ok(None),
            Err(rejection) => Err(rejection),
        }
    }
}

async fn current_user(ctx: Option<&LayerState>, parts: &Parts) -> Result<AuthenticatedUser, Error> {
    let ctx = ctx.ok_or_else(no_bankid_layer)?;
    let session = session_of(&parts.extensions)?;
    // Read before the load, which forgets an id whose record is gone.
    let session_cookie_came_back = session.id().is_some();
    match ctx.live_logins().current(&session).await? {
        Stored::Live { user, .. } => Ok(user),
        Stored::Dead => Err(Error::Unauthenticated),
        Stored::Absent => Err(no_login(ctx, &parts.headers, session_cookie_came_back)),
    }
}

/// No login in the session. Two markers tell a wiring mistake from a plain
/// logged-out visit, and it is said once in the log and, in debug builds,
/// as the error, so the app does not just loop through login:
/// - the "sent to login" marker came back (a second or more after it was
///   set): the login route never ran, so `BankIdLayer` does not see its
///   own paths ([`Misconfiguration::LoginRouteNotReached`]);
/// - right after a completed callback the landing marker came back and no
///   session cookie did: the browser held that cookie back
///   ([`Misconfiguration::SessionCookieNotReturned`]). A session cookie
///   that came back with its login gone (a back-channel logout) is plain
///   `unauthenticated`.
fn no_login(ctx: &LayerState, headers: &http::HeaderMap, session_cookie_came_back: bool) -> Error {
    use crate::records::binding;
    // Only browser navigations: they are what loops through login, and a
    // script's cookie jar may keep a marker in ways a browser does not.
    if !crate::error::render::wants_html(headers) {
        return Error::Unauthenticated;
    }
    let config = ctx.core.config();
    let sent_to_login_ago = binding::sent_to_login_ago_ms(config, headers);
    let wrong = if sent_to_login_ago.is_some_and(|ago| ago >= binding::SENT_TO_LOGIN_GRACE_MS) {
        Misconfiguration::LoginRouteNotReached { login_path: config.login_path.clone() }
    } else if !session_cookie_came_back && binding::has_landed(config, headers) {
        Misconfiguration::SessionCookieNotReturned
    } else {
        return Error::Unauthenticated;
    };
    wrong.report();
    if cfg!(debug_assertions) { Error::Misconfigured(wrong) } else { Error::Unauthenticated }
}

/// Middleware that lets only authenticated requests through; use with
/// [`axum::middleware::from_fn`]. Handlers behind it can still take
/// [`AuthenticatedUser`] at no extra cost. Their responses are personal, so
/// they get `Cache-Control: private, no-store` (replacing any the handler
/// set): no shared cache or browser history keeps them after logout.
///
/// ```
/// use axum::{Router, middleware, routing::get};
/// use axum_bankid::require_authenticated;
///
/// let admin: Router = Router::new()
///     .route("/admin/reports", get(|| async { "secret reports" }))
///     .route_layer(middleware::from_fn(require_authenticated));
/// ```
pub async fn require_authenticated(user: AuthenticatedUser, mut req: Request, next: Next) -> Response {
    req.extensions_mut().insert(user);
    let mut response = next.run(req).await;
    crate::error::render::mark_private(&mut response);
    response
}
