//! Extractors: [`AuthenticatedUser`], `Option<AuthenticatedUser>`, and the
//! [`require_authenticated`] guard for whole routers.
//!
//! These run on every request, so they do no cryptography and never call the
//! provider: the ID token was verified once at login and its claims kept in
//! the session. What they do re-check each time is policy — the minimum LOA
//! (which may have been raised since the user logged in) and the login's age.

use axum::Json;
use axum::extract::{FromRequestParts, OptionalFromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::claims::AuthenticatedUser;
use crate::error::{Error, wants_html};
use crate::flow::{redirect, session_of};
use crate::id_token::unix_now;
use crate::layer::Ctx;
use crate::session::load_login;

/// Why [`AuthenticatedUser`] could not be extracted.
///
/// Browser navigations (`GET` with `Accept: text/html`) are redirected to the
/// login route with `return_to` set to the requested page; everything else
/// gets `401` with `{"error": "unauthenticated", "login_url": ...}` (or a
/// `500` if the session store failed).
#[derive(Debug)]
pub struct AuthRejection {
    error: Error,
    login_redirect: Option<String>,
    login_url: Option<String>,
}

impl AuthRejection {
    /// The underlying error ([`Error::Unauthenticated`] when there simply is
    /// no valid login).
    pub fn error(&self) -> &Error {
        &self.error
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        if let Some(location) = &self.login_redirect {
            return redirect(location);
        }
        if !matches!(self.error, Error::Unauthenticated) {
            return self.error.into_response();
        }
        let body = serde_json::json!({
            "error": "unauthenticated",
            "message": "A BankID login is required.",
            "login_url": self.login_url,
        });
        let challenge = "BankID";
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge), (header::CACHE_CONTROL, "no-store")],
            Json(body),
        )
            .into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthenticatedUser {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Set by `require_authenticated`, so a guarded handler does not read
        // the session twice.
        if let Some(user) = parts.extensions.get::<AuthenticatedUser>() {
            return Ok(user.clone());
        }
        let ctx = parts.extensions.get::<Ctx>().cloned();
        match current_user(ctx.as_ref(), parts).await {
            Ok(user) => Ok(user),
            Err(error) => Err(rejection(ctx.as_ref(), parts, error)),
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
            Err(rejection) if matches!(rejection.error, Error::Unauthenticated) => Ok(None),
            Err(rejection) => Err(rejection),
        }
    }
}

async fn current_user(ctx: Option<&Ctx>, parts: &Parts) -> Result<AuthenticatedUser, Error> {
    let ctx = ctx.ok_or_else(|| {
        tracing::error!("AuthenticatedUser used on a route that BankIdLayer does not wrap");
        Error::NotInstalled
    })?;
    let session = session_of(&parts.extensions)?;
    let login = load_login(&session).await?.ok_or(Error::Unauthenticated)?;
    let config = ctx.config();
    if login.identity.loa < config.minimum_loa {
        tracing::debug!(loa = login.identity.loa.get(), "stored login is below the current minimum LOA");
        return Err(Error::Unauthenticated);
    }
    if unix_now() - login.logged_in_at > config.max_login_age.as_secs() as i64 {
        tracing::debug!("stored login is older than max_login_age");
        return Err(Error::Unauthenticated);
    }
    Ok(login.identity)
}

fn rejection(ctx: Option<&Ctx>, parts: &Parts, error: Error) -> AuthRejection {
    let login_path = ctx.map(|c| c.config().login_path.clone());
    let is_navigation = parts.method == Method::GET && wants_html(&parts.headers);
    let login_redirect = match (&error, &login_path) {
        (Error::Unauthenticated, Some(path)) if is_navigation => Some(login_redirect(path, parts)),
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

/// Middleware that lets only authenticated requests through; use with
/// [`axum::middleware::from_fn`]. Handlers behind it can still take
/// [`AuthenticatedUser`] at no extra cost.
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
    next.run(req).await
}
