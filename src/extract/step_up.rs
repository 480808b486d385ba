//! The step-up extractor [`StepUp`], `Option<StepUp<_>>` and the
//! [`require_step_up`] guard: per-route requirements (see
//! [`Requirement`]) on top of what [`AuthenticatedUser`] already checks.
//!
//! Like [`AuthenticatedUser`] they do no cryptography and never call the
//! provider; they compare the stored login's level and `auth_time` with the
//! route's requirement.

use std::marker::PhantomData;

use axum::Json;
use axum::extract::{FromRequestParts, OptionalFromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::rejection::{LoginRedirect, unauthenticated_response};
use crate::clock::unix_now;
use crate::error::Error;
use crate::error::render::{mark_private, wants_html};
use crate::state::LayerState;
use crate::step_up::policy::StepUpPolicy;
use crate::step_up::requirement::Requirement;
use crate::user::AuthenticatedUser;

/// The current user, if their login meets the route's [`Requirement`] `R`
/// on top of the global floor: e.g. `StepUp<Loa4>`,
/// `StepUp<LoggedInWithin<300>>` or `StepUp<(Loa4, LoggedInWithin<300>)>`.
///
/// A user below it is sent through a new login that asks for what `R`
/// needs (RFC 9470 step-up); see [`StepUpRejection`]. `Option<StepUp<R>>`
/// is `None` for anyone who is not logged in or is below `R`.
///
/// ```
/// use axum::{Router, routing::get};
/// use axum_bankid::step_up::{Loa4, LoggedInWithin, StepUp};
///
/// async fn payout(user: StepUp<Loa4>) -> String {
///     format!("{} may change the payout account", user.sub)
/// }
/// async fn transfer(user: StepUp<(Loa4, LoggedInWithin<300>)>) -> String {
///     format!("{} logged in at {:?}", user.sub, user.auth_time)
/// }
/// let app: Router = Router::new().route("/payout-account", get(payout)).route("/transfer", get(transfer));
/// ```
pub struct StepUp<R> {
    user: AuthenticatedUser,
    requirement: PhantomData<fn() -> R>,
}

impl<R> StepUp<R> {
    /// The user, owned.
    pub fn into_user(self) -> AuthenticatedUser {
        self.user
    }
}

impl<R> std::ops::Deref for StepUp<R> {
    type Target = AuthenticatedUser;

    fn deref(&self) -> &AuthenticatedUser {
        &self.user
    }
}

impl<R> std::fmt::Debug for StepUp<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StepUp").field(&self.user).finish()
    }
}

/// Why [`StepUp`] could not be extracted.
///
/// - Browser navigations (`GET` with `Accept: text/html`) by someone not
///   logged in or below the requirement: `303` to the login route with
///   `return_to` and the step-up (`&acr=4&max_age=300`).
/// - API clients below the requirement ([`Error::StepUpRequired`]): `401`
///   with `WWW-Authenticate: Bearer error="insufficient_user_authentication",
///   error_description="...", acr_values="urn:bankid:bid", max_age="300"`
///   (RFC 9470 §3; only the parameters the route needs) and a JSON body
///   `{"error": "insufficient_user_authentication", "acr_values", "max_age",
///   "login_url"}`.
/// - API clients not logged in: `401 {"error": "unauthenticated",
///   "login_url"}` (with the step-up in `login_url`).
/// - Anything else (the session store failed): the error's own response.
#[derive(Debug)]
pub struct StepUpRejection {
    error: Error,
    /// What the route needs (for the challenge).
    needed: StepUpPolicy,
    login_url: Option<String>,
    /// Set for a browser navigation that should go (back) to login.
    login_redirect: Option<LoginRedirect>,
}

impl StepUpRejection {
    /// The underlying error: [`Error::StepUpRequired`] below the
    /// requirement, [`Error::Unauthenticated`] without a valid login.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The login route URL (path and query) that asks for the step-up, if
    /// the layer is installed.
    pub fn login_url(&self) -> Option<&str> {
        self.login_url.as_deref()
    }
}

impl IntoResponse for StepUpRejection {
    fn into_response(self) -> Response {
        let wants_login = matches!(self.error, Error::Unauthenticated | Error::StepUpRequired { .. });
        if !wants_login {
            return self.error.into_response();
        }
        if let Some(to_login) = self.login_redirect {
            return to_login.into_response();
        }
        if matches!(self.error, Error::Unauthenticated) {
            return unauthenticated_response(self.login_url.as_deref());
        }
        let body = serde_json::json!({
            "error": self.error.kind(),
            "message": description(&self.needed),
            "acr_values": self.needed.acr_values(),
            "max_age": self.needed.max_age(),
            "login_url": self.login_url,
        });
        let challenge = HeaderValue::try_from(challenge(&self.needed))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer error=\"insufficient_user_authentication\""));
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            Json(body),
        )
            .into_response()
    }
}

/// The RFC 9470 §3 error description for what is missing.
fn description(needed: &StepUpPolicy) -> &'static str {
    match (needed.acr_values(), needed.max_age()) {
        (Some(_), Some(_)) => "A different authentication level and a more recent authentication are required",
        (None, Some(_)) => "More recent authentication is required",
        _ => "A different authentication level is required",
    }
}

/// `Bearer error="insufficient_user_authentication", error_description="..."`
/// plus `acr_values="..."` and/or `max_age="..."` (RFC 9470 §3).
pub(crate) fn challenge(needed: &StepUpPolicy) -> String {
    let mut challenge =
        format!("Bearer error=\"insufficient_user_authentication\", error_description=\"{}\"", description(needed));
    if let Some(acr_values) = needed.acr_values() {
        challenge.push_str(&format!(", acr_values=\"{acr_values}\""));
    }
    if let Some(max_age) = needed.max_age() {
        challenge.push_str(&format!(", max_age=\"{max_age}\""));
    }
    challenge
}

impl<R: Requirement, S: Send + Sync> FromRequestParts<S> for StepUp<R> {
    type Rejection = StepUpRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ctx = parts.extensions.get::<LayerState>().cloned();
        let user = match <AuthenticatedUser as FromRequestParts<S>>::from_request_parts(parts, state).await {
            Ok(user) => user,
            Err(rejection) => {
                let error = rejection.into_error();
                return Err(step_up_rejection(ctx.as_ref(), parts, error, R::POLICY, None));
            }
        };
        let skew = ctx.as_ref().map_or(60, |ctx| ctx.core.config().clock_skew.as_secs() as i64);
        if R::POLICY.satisfied_by(user.loa, user.auth_time, unix_now(), skew) {
            return Ok(StepUp { user, requirement: PhantomData });
        }
        tracing::debug!(loa = user.loa.get(), "the login does not meet the route's step-up requirement");
        let error = Error::StepUpRequired { loa: R::POLICY.loa(), max_age: R::POLICY.max_age() };
        Err(step_up_rejection(ctx.as_ref(), parts, error, R::POLICY, Some(user.loa)))
    }
}

impl<R: Requirement, S: Send + Sync> OptionalFromRequestParts<S> for StepUp<R> {
    type Rejection = StepUpRejection;

    /// `None` without a valid login or below the requirement; an error only
    /// if the session store fails or the layers are missing.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, Self::Rejection> {
        match <StepUp<R> as FromRequestParts<S>>::from_request_parts(parts, state).await {
            Ok(step_up) => Ok(Some(step_up)),
            Err(rejection) if matches!(rejection.error, Error::Unauthenticated | Error::StepUpRequired { .. }) => {
                Ok(None)
            }
            Err(rejection) => Err(rejection),
        }
    }
}

fn step_up_rejection(
    ctx: Option<&LayerState>,
    parts: &Parts,
    error: Error,
    needed: StepUpPolicy,
    current: Option<crate::loa::Loa>,
) -> StepUpRejection {
    let is_get = parts.method == Method::GET;
    let login_url = ctx.map(|ctx| login_url(&ctx.core.config().login_path, parts, is_get, needed.to_ask(current)));
    let wants_login = matches!(error, Error::Unauthenticated | Error::StepUpRequired { .. });
    let login_redirect = match (ctx, &login_url) {
        (Some(ctx), Some(url)) if wants_login && is_get && wants_html(&parts.headers) => {
            Some(LoginRedirect::new(ctx, url.clone()))
        }
        _ => None,
    };
    StepUpRejection { error, needed, login_url, login_redirect }
}

/// `login_path?return_to=<this page>&acr=..&max_age=..` (without
/// `return_to` for other methods than `GET`, whose URL cannot be revisited).
fn login_url(login_path: &str, parts: &Parts, with_return_to: bool, asked: StepUpPolicy) -> String {
    let mut query = String::new();
    if with_return_to {
        let uri = parts.extensions.get::<OriginalUri>().map_or(&parts.uri, |o| &o.0);
        let here = uri.path_and_query().map_or("/", |pq| pq.as_str());
        let encoded: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
        query.push_str(&format!("&return_to={encoded}"));
    }
    query.push_str(&asked.query_suffix());
    match query.strip_prefix('&') {
        Some(query) => format!("{login_path}?{query}"),
        None => login_path.to_owned(),
    }
}

/// Middleware that lets through only requests whose login meets `R`; use
/// with [`axum::middleware::from_fn`]. Handlers behind it can still take
/// [`AuthenticatedUser`] or [`StepUp`] at no extra cost; their responses get
/// `Cache-Control: private, no-store`, as with
/// [`require_authenticated`](crate::require_authenticated).
///
/// ```
/// use axum::{Router, middleware, routing::post};
/// use axum_bankid::step_up::{Loa4, LoggedInWithin, require_step_up};
///
/// let payouts: Router = Router::new()
///     .route("/payout-account", post(|| async { "changed" }))
///     .route_layer(middleware::from_fn(require_step_up::<(Loa4, LoggedInWithin<300>)>));
/// ```
pub async fn require_step_up<R: Requirement>(step_up: StepUp<R>, mut req: Request, next: Next) -> Response {
    req.extensions_mut().insert(step_up.into_user());
    let mut response = next.run(req).await;
    mark_private(&mut response);
    response
}
