//! Extractors: [`AuthenticatedUser`], `Option<AuthenticatedUser>`, the
//! [`require_authenticated`] guard for whole routers, [`Granted`] for
//! approved permissions and the [`BankId`] handle for starting one.
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

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::claims::AuthenticatedUser;
use crate::clock::unix_now;
use crate::error::{Error, wants_html};
use crate::flow::grants;
use crate::http::{redirect, session_of};
use crate::live_login::Stored;
use crate::loa::Loa;
use crate::login::options::{checked_identity_hint, checked_ui_locales};
use crate::login::start::{LoginOptions, begin};
use crate::permission_api::{LoginHint, PermissionApi, Registration};
use crate::private_responses::LoginShown;
use crate::state::Ctx;
use crate::statement::{Permission, PermissionError, PermissionItem};
use crate::step_up::{MAX_STEP_UP_MAX_AGE, StepUpPolicy};
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
    pub(crate) fn new(ctx: &Ctx, location: String) -> LoginRedirect {
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
        let ctx = parts.extensions.get::<Ctx>().cloned();
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

async fn current_user(ctx: Option<&Ctx>, parts: &Parts) -> Result<AuthenticatedUser, Error> {
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
fn no_login(ctx: &Ctx, headers: &http::HeaderMap, session_cookie_came_back: bool) -> Error {
    use crate::records::binding;
    // Only browser navigations: they are what loops through login, and a
    // script's cookie jar may keep a marker in ways a browser does not.
    if !crate::error::wants_html(headers) {
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
fn no_bankid_layer() -> Error {
    let wrong = Misconfiguration::NoBankIdLayer;
    wrong.report();
    Error::Misconfigured(wrong)
}

fn rejection(ctx: Option<&Ctx>, parts: &Parts, error: Error) -> AuthRejection {
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
    crate::error::mark_private(&mut response);
    response
}

/// A handle for starting BankID interactions from a handler: a plain login
/// with its own options ([`login`](Self::login)), a one-off permission
/// approval (e.g. a single payment), or the Permission API.
///
/// ```
/// use axum::response::Response;
/// use axum_bankid::{BankId, Error, permission::Permission};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct ApprovePayment { amount: String, currency: String, creditor: String }
/// impl Permission for ApprovePayment { const TYPE: &'static str = "payment.v1"; }
///
/// async fn pay(bankid: BankId) -> Result<Response, Error> {
///     let payment = ApprovePayment { amount: "123.45".into(), currency: "NOK".into(), creditor: "Shop AS".into() };
///     bankid.request(payment).return_to("/paid").start().await
/// }
/// ```
#[derive(Clone)]
pub struct BankId {
    ctx: Ctx,
    session: tower_sessions::Session,
    /// The request's headers: the browser's login-attempt cookies count
    /// towards the cap on attempts.
    headers: http::HeaderMap,
}

impl std::fmt::Debug for BankId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankId").finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BankId {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ctx = parts.extensions.get::<Ctx>().cloned().ok_or_else(no_bankid_layer)?;
        let session = session_of(&parts.extensions)?;
        Ok(BankId { ctx, session, headers: parts.headers.clone() })
    }
}

impl BankId {
    /// Prepares a plain login with options of its own: where to return, a
    /// level, a recent authentication, the pages' language, a prefilled
    /// identity number.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum::response::Response;
    /// use axum_bankid::{BankId, Error, Loa, permission::LoginHint};
    ///
    /// async fn log_in_for_payout(bankid: BankId) -> Result<Response, Error> {
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
        crate::statement::assert_upfront_type::<P>();
        PermissionRequest { bankid: self.clone(), permission, return_to: None, app_callback_uri: None, via_api: false }
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

/// A plain login started from a handler ([`BankId::login`]); finish it with
/// [`start`](Self::start). Every option is checked there, before anything
/// is sent, and a bad one fails with a typed error naming it.
#[must_use = "call .start().await to send the user to BankID"]
pub struct LoginRequest {
    bankid: BankId,
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

/// A login that asks for one permission; finish it with [`start`](Self::start).
#[must_use = "call .start().await to send the user to BankID"]
pub struct PermissionRequest<P> {
    bankid: BankId,
    permission: P,
    return_to: Option<String>,
    app_callback_uri: Option<String>,
    via_api: bool,
}

impl<P> std::fmt::Debug for PermissionRequest<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PermissionRequest").field("return_to", &self.return_to).finish_non_exhaustive()
    }
}

impl<P: Permission> PermissionRequest<P> {
    /// Where to go after approval (a same-origin path; anything else becomes `/`).
    pub fn return_to(mut self, path: impl Into<String>) -> Self {
        self.return_to = Some(path.into());
        self
    }

    /// *Preview (BankID public preview, iOS apps)*: where the BankID app
    /// returns the user. Must be absolute with `https` or a custom scheme;
    /// checked when the request starts.
    pub fn app_callback_uri(mut self, uri: impl Into<String>) -> Self {
        self.app_callback_uri = Some(uri.into());
        self
    }

    /// Registers the permission through the Permission API at BIB and sends
    /// its permission token on the authorize request (under
    /// [`reference_parameter`](crate::permission::PermissionApiConfig::reference_parameter),
    /// a guess: BankID has not published how), instead of sending the
    /// statement as `authorization_details`. After the callback the grant is
    /// fetched from BIB and verified. Needs a BIB issuer.
    pub fn via_permission_api(mut self) -> Self {
        self.via_api = true;
        self
    }

    /// Stores the login attempt and redirects (303) the browser to BankID.
    ///
    /// When someone is logged in, the approval must come from that person:
    /// a callback with another BankID user fails with
    /// [`LoginCheckError::SubjectMismatch`](crate::LoginCheckError::SubjectMismatch) and changes nothing in the session.
    pub async fn start(self) -> Result<Response, Error> {
        let ctx = &self.bankid.ctx;
        let app_callback_uri =
            self.app_callback_uri.as_deref().map(crate::statement::validate_app_callback_uri).transpose()?;
        let item = if self.via_api {
            self.bankid.permission_api().register(&self.permission, Registration::new()).await?.item
        } else {
            PermissionItem::new(&self.permission, ctx.core.config().digest_input)?
        };
        let options = LoginOptions {
            return_to: self.return_to,
            permissions: vec![item],
            app_callback_uri,
            for_current_user: true,
            ..LoginOptions::default()
        };
        let started = begin(&ctx.login_start(), &self.bankid.session, &self.bankid.headers, options).await?;
        Ok(started.into_response())
    }
}

/// Proof that the logged-in user approved a statement of type `P` in
/// BankID: its `permission_digest` matched what was sent.
///
/// The grant is the one of *this* flow: the permission login's landing URL
/// carries `bankid_flow=<id>` (added to
/// [`return_to`](PermissionRequest::return_to) by the callback), and only a
/// request naming that flow gets its grant — keep the parameter on the
/// requests that act on it (e.g. in a form's `action`). A grant older than
/// [`grant_ttl`](crate::BankIdConfigBuilder::grant_ttl) is ignored.
///
/// Extracting spends nothing: a link prefetch, a reload or a handler that
/// rejects the request body leave the approval intact. Call
/// [`redeem`](Self::redeem) right before acting on it; with
/// [`single_use_grants`](crate::BankIdConfigBuilder::single_use_grants) (the
/// default) it succeeds once.
///
/// ```
/// use axum::Json;
/// use axum_bankid::{Error, permission::{Granted, Permission}};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Payment { amount: String }
/// impl Permission for Payment { const TYPE: &'static str = "payment.v1"; }
///
/// #[derive(Deserialize)]
/// struct Order { amount: String }
///
/// async fn pay(granted: Granted<Payment>, Json(order): Json<Order>) -> Result<&'static str, Error> {
///     granted.require(&Payment { amount: order.amount })?;
///     granted.redeem().await?; // spent here, and only here
///     Ok("paid")
/// }
/// ```
///
/// Rejected with `403 {"error":"permission_not_granted"}` when this browser
/// holds no unused grant of type `P` from the named flow for the current
/// user, `401` when nobody is logged in.
pub struct Granted<P> {
    statement: P,
    statement_bytes: Vec<u8>,
    id: String,
    digest: String,
    signed_permission: Option<String>,
    use_secret: String,
    ctx: Ctx,
}

impl<P> std::fmt::Debug for Granted<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Granted").field("digest", &self.digest).finish_non_exhaustive()
    }
}

impl<P: Permission> Granted<P> {
    /// The approved statement.
    pub fn statement(&self) -> &P {
        &self.statement
    }

    /// The approved statement, owned.
    pub fn into_statement(self) -> P {
        self.statement
    }

    /// A random id of this grant: use it as the idempotency key of the
    /// action it authorises.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The verified `permission_digest`.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The provider-signed permission (Permission API flow only).
    pub fn signed_permission(&self) -> Option<&str> {
        self.signed_permission.as_deref()
    }

    /// Fails unless the approved statement is exactly `expected` (same
    /// serialisation), e.g. the payment this page is about to execute.
    pub fn require(&self, expected: &P) -> Result<(), PermissionError> {
        let expected = serde_json::to_vec(expected).map_err(|_| PermissionError::Serialization)?;
        if crate::statement::same_digest(
            &crate::statement::permission_digest(&expected),
            &crate::statement::permission_digest(&self.statement_bytes),
        ) {
            Ok(())
        } else {
            Err(PermissionError::StatementMismatch)
        }
    }

    /// Uses the grant up: call it right before acting on the approval.
    ///
    /// With single-use grants (the default) only the first call for a grant
    /// succeeds — per instance, and across instances when
    /// [`with_single_use_store`](crate::BankIdLayer::with_single_use_store)
    /// is configured; later ones fail with
    /// [`PermissionError::AlreadyRedeemed`] (`403`, detail
    /// `already_redeemed`), and later extractions find no grant. The use is
    /// recorded in the store at once, so a handler that fails afterwards
    /// with a 5xx cannot revive it. A store failure fails closed with
    /// [`Error::Session`]. With reusable grants this always succeeds.
    #[tracing::instrument(name = "bankid.redeem", skip_all, fields(r#type = P::TYPE), err(Display))]
    pub async fn redeem(&self) -> Result<(), Error> {
        if !self.ctx.core.config().single_use_grants {
            return Ok(());
        }
        if !grants::mark_used(&self.ctx, &self.id, &self.use_secret).await? {
            return Err(PermissionError::AlreadyRedeemed.into());
        }
        tracing::info!("permission grant redeemed");
        Ok(())
    }
}

impl<P: Permission, S: Send + Sync> FromRequestParts<S> for Granted<P> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = <AuthenticatedUser as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        let ctx = parts.extensions.get::<Ctx>().cloned();
        find_grant::<P>(ctx.as_ref(), parts, &user).await.map_err(|error| rejection(ctx.as_ref(), parts, error))
    }
}

/// The flow the request names with `bankid_flow`, if it names exactly one:
/// a repeated parameter names none (which one counts would be a guess).
fn requested_flow(parts: &Parts) -> Option<String> {
    let query = parts.uri.query()?;
    let mut named = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key == crate::return_to::FLOW_PARAM)
        .map(|(_, value)| value.into_owned());
    let flow = named.next().filter(|flow| !flow.is_empty())?;
    named.next().is_none().then_some(flow)
}

/// The grant of type `P` for `user` — the same (`iss`, `sub`) that logged in
/// with it — from the flow this request names. Reads only: nothing is spent
/// until [`Granted::redeem`].
async fn find_grant<P: Permission>(
    ctx: Option<&Ctx>,
    parts: &Parts,
    user: &AuthenticatedUser,
) -> Result<Granted<P>, Error> {
    let ctx = ctx.ok_or_else(no_bankid_layer)?;
    let flow = requested_flow(parts).ok_or(PermissionError::NotGranted)?;
    let now = unix_now();
    let ttl = ctx.core.config().grant_ttl.as_secs() as i64;
    let grant = grants::of_flow(ctx, &parts.headers, &flow)
        .await?
        .into_iter()
        .find(|g| {
            g.flow == flow && g.r#type == P::TYPE && g.iss == user.iss && g.sub == user.sub && now - g.granted_at <= ttl
        })
        .ok_or(PermissionError::NotGranted)?;
    if ctx.core.config().single_use_grants && grants::is_used(ctx, &grant.use_secret).await? {
        return Err(PermissionError::NotGranted.into());
    }
    let statement_bytes = URL_SAFE_NO_PAD.decode(&grant.encoded).map_err(|_| PermissionError::StatementMismatch)?;
    let statement: P = serde_json::from_slice(&statement_bytes).map_err(|_| PermissionError::StatementMismatch)?;
    Ok(Granted {
        statement,
        statement_bytes,
        id: grant.id,
        digest: grant.digest,
        signed_permission: grant.signed_permission,
        use_secret: grant.use_secret,
        ctx: ctx.clone(),
    })
}
