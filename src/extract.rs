//! Extractors: [`AuthenticatedUser`], `Option<AuthenticatedUser>`, the
//! [`require_authenticated`] guard for whole routers and the [`BankIdSession`]
//! handle for starting a login or a permission approval from a handler
//! (`Granted`, for approved permissions, is in `permission/granted.rs`
//! and reuses [`AuthRejection`]).
//!
//! These run on every request, so they do no cryptography and never call the
//! provider: the ID token was verified once at login and its claims kept in
//! the session. What they do re-check each time is policy — the minimum LOA
//! (which may have been raised since the user logged in) and the login's age.

use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, OptionalFromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::Error;
use crate::error::render::wants_html;
use crate::http::{redirect, session_of};
use crate::live_login::Stored;
use crate::loa::Loa;
use crate::login::options::{checked_identity_hint, checked_ui_locales};
use crate::login::start::{LoginOptions, begin};
use crate::login_hint::LoginHint;
use crate::permission::api::PermissionApi;
use crate::permission::request::PermissionRequest;
use crate::permission::statement::Permission;
use crate::private_responses::LoginShown;
use crate::state::LayerState;
use crate::step_up::policy::{MAX_STEP_UP_MAX_AGE, StepUpPolicy};
use crate::user::AuthenticatedUser;
use crate::wiring::Misconfiguration;

/// Why [`AuthenticatedUser`] could not be extracted.
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

impl<S: Send + Sync> FromRequestParts<S> for AuthenticatedUser {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Set by `require_authenticated`, so a guarded handler does not read
        // the session twice.
        if let Some(user) = parts.extensions.get::<AuthenticatedUser>() {
            LoginShown::raise(&parts.extensions);
            return Ok(user.clone());
        }
        let ctx = parts.extensions.get::<LayerState>().cloned();
        match current_user(ctx.as_ref(), parts).await {
            Ok(user) => {
                LoginShown::raise(&parts.extensions);
                Ok(user)
            }
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

async fn current_user(ctx: Option<&LayerState>, parts: &Parts) -> Result<AuthenticatedUser, Error> {
    let ctx = ctx.ok_or_else(no_bankid_layer)?;
    let session = session_of(&parts.extensions)?;
    // Read before the load, which forgets an id whose record is gone.
    let session_cookie_came_back = session.id().is_some();
    match ctx.live_logins().load(&session).await? {
        Stored::Live { user, .. } => Ok(*user),
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

/// The BankID side of this request's session, for a handler: start a plain
/// login with its own options ([`login`](Self::login)) or a one-off
/// permission approval (e.g. a single payment) in this session, or reach
/// the Permission API and CIBA.
///
/// ```
/// use axum::response::Response;
/// use axum_bankid::{BankIdSession, permission::Permission};
/// use axum_bankid::error::Error;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct ApprovePayment { amount: String, currency: String, creditor: String }
/// impl Permission for ApprovePayment { const TYPE: &'static str = "payment.v1"; }
///
/// async fn pay(bankid: BankIdSession) -> Result<Response, Error> {
///     let payment = ApprovePayment { amount: "123.45".into(), currency: "NOK".into(), creditor: "Shop AS".into() };
///     bankid.request(payment).return_to("/paid").start().await
/// }
/// ```
#[derive(Clone)]
pub struct BankIdSession {
    ctx: LayerState,
    session: tower_sessions::Session,
    /// The request's headers: the browser's login-attempt cookies count
    /// towards the cap on attempts.
    headers: http::HeaderMap,
}

impl std::fmt::Debug for BankIdSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankIdSession").finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BankIdSession {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ctx = parts.extensions.get::<LayerState>().cloned().ok_or_else(no_bankid_layer)?;
        let session = session_of(&parts.extensions)?;
        Ok(BankIdSession { ctx, session, headers: parts.headers.clone() })
    }
}

impl BankIdSession {
    /// Prepares a plain login with options of its own: where to return, a
    /// level, a recent authentication, the pages' language, a prefilled
    /// identity number.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum::response::Response;
    /// use axum_bankid::{BankIdSession, Loa, permission::LoginHint};
    /// use axum_bankid::error::Error;
    ///
    /// async fn log_in_for_payout(bankid: BankIdSession) -> Result<Response, Error> {
    ///     bankid
    ///         .login()
    ///         .return_to("/payout")
    ///         .acr(Loa::HIGH)
    ///         .max_age(Duration::from_secs(300))
    ///         .prompt_login()
    ///         .ui_locales("nb en")
    ///         .login_hint(LoginHint::Nnin("01010112345".into()))
    ///         .start()
    ///         .await
    /// }
    /// ```
    pub fn login(&self) -> LoginRequest {
        LoginRequest {
            bankid: self.clone(),
            return_to: None,
            loa: None,
            max_age: None,
            prompt_login: false,
            ui_locales: None,
            login_hint: None,
        }
    }

    /// Prepares a login that asks the user to approve `permission`.
    pub fn request<P: Permission>(&self, permission: P) -> PermissionRequest<P> {
        PermissionRequest::new(self.ctx.clone(), self.session.clone(), self.headers.clone(), permission)
    }

    /// The Permission API client.
    pub fn permission_api(&self) -> PermissionApi {
        self.ctx.permission_api()
    }

    /// The CIBA client, if [`BankIdLayer::with_ciba`](crate::BankIdLayer::with_ciba) enabled it.
    pub fn ciba(&self) -> Option<crate::ciba::Ciba> {
        self.ctx.ciba()
    }
}

/// A plain login started from a handler ([`BankIdSession::login`]); finish it with
/// [`start`](Self::start). Every option is checked there, before anything
/// is sent, and a bad one fails with a typed error naming it.
#[must_use = "call .start().await to send the user to BankID"]
pub struct LoginRequest {
    bankid: BankIdSession,
    return_to: Option<String>,
    loa: Option<Loa>,
    max_age: Option<Duration>,
    prompt_login: bool,
    ui_locales: Option<String>,
    login_hint: Option<LoginHint>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The identity hint is personal data: only whether there is one.
        f.debug_struct("LoginRequest")
            .field("return_to", &self.return_to)
            .field("loa", &self.loa)
            .field("max_age", &self.max_age)
            .field("prompt_login", &self.prompt_login)
            .field("ui_locales", &self.ui_locales)
            .field("login_hint", &self.login_hint.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl LoginRequest {
    /// Where to go after the login (a same-origin path; anything else becomes `/`).
    pub fn return_to(mut self, path: impl Into<String>) -> Self {
        self.return_to = Some(path.into());
        self
    }

    /// The level to ask for: `acr_values` selects the identity provider that
    /// reaches it (`urn:bankid:bid` for [`Loa::HIGH`], else
    /// `urn:bankid:bis`), and the callback checks the token's `acr` against
    /// it. Like a step-up, a login asking for a level is bound to the
    /// logged-in user, if any. Below
    /// [`minimum_loa`](crate::BankIdConfigBuilder::minimum_loa):
    /// `level_below_minimum`.
    pub fn acr(mut self, loa: Loa) -> Self {
        self.loa = Some(loa);
        self
    }

    /// OIDC `max_age`: the authentication must be at most this old; the
    /// callback checks the token's `auth_time` (plus the clock skew). Whole
    /// seconds, at most a day (else `invalid_login_option`, `max_age`).
    /// Bound to the logged-in user, if any, like [`acr`](Self::acr).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// `prompt=login`: BankID authenticates the user again even if it has a
    /// session of its own. To *check* that it did, also set
    /// [`max_age`](Self::max_age).
    pub fn prompt_login(mut self) -> Self {
        self.prompt_login = true;
        self
    }

    /// The language(s) of BankID's pages for this login: 1 to 4 BCP 47
    /// tags, space-separated, e.g. `nb` or `en` (else
    /// `invalid_login_option`, `ui_locales`). Replaces the configured
    /// [`ui_locales`](crate::BankIdConfigBuilder::ui_locales).
    pub fn ui_locales(mut self, ui_locales: impl Into<String>) -> Self {
        self.ui_locales = Some(ui_locales.into());
        self
    }

    /// Prefills the user's identity number at BankID (`login_hint`). Sent
    /// **only inside a pushed authorization request**, as BankID API v4
    /// requires: without PAR the login fails with `identity_hint_needs_par`
    /// and nothing is sent; a malformed number fails with
    /// `invalid_login_option` (`login_hint`). The number is never logged,
    /// stored or shown in an error.
    pub fn login_hint(mut self, hint: LoginHint) -> Self {
        self.login_hint = Some(hint);
        self
    }

    /// Checks every option, stores the login attempt and redirects (303)
    /// the browser to BankID.
    pub async fn start(self) -> Result<Response, Error> {
        let bankid = self.bankid.clone();
        let options = self.into_options()?;
        let started = begin(&bankid.ctx.login_start(), &bankid.session, &bankid.headers, options).await?;
        Ok(started.into_response())
    }

    fn into_options(self) -> Result<LoginOptions, Error> {
        let mut step_up = self.loa.map(StepUpPolicy::at_least).unwrap_or(StepUpPolicy::NONE);
        if let Some(max_age) = self.max_age {
            let secs = u32::try_from(max_age.as_secs()).ok().filter(|secs| *secs <= MAX_STEP_UP_MAX_AGE);
            let secs = secs.ok_or(Error::InvalidLoginOption { option: "max_age" })?;
            step_up = step_up.and(StepUpPolicy::logged_in_within(secs));
        }
        Ok(LoginOptions {
            return_to: self.return_to,
            step_up: (step_up != StepUpPolicy::NONE).then_some(step_up),
            ui_locales: self.ui_locales.map(checked_ui_locales).transpose()?,
            prompt_login: self.prompt_login,
            identity_hint: self.login_hint.map(checked_identity_hint).transpose()?,
            ..LoginOptions::default()
        })
    }
}
