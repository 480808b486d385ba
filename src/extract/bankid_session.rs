//! [`BankIdSession`], the handler's handle on the BankID side of its
//! session, and [`LoginRequest`], a plain login started from a handler.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;

use super::permission_request::PermissionRequest;
use super::rejection::no_bankid_layer;
use crate::error::Error;
use crate::http::session_of;
use crate::loa::Loa;
use crate::login::options::{checked_identity_hint, checked_ui_locales};
use crate::login::start::{LoginOptions, begin};
use crate::login_hint::LoginHint;
use crate::permission::api::PermissionApi;
use crate::permission::statement::Permission;
use crate::state::LayerState;
use crate::step_up::policy::{MAX_STEP_UP_MAX_AGE, StepUpPolicy};

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
