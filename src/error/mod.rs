//! Every error type of the crate, one path each: [`Error`] (everything that
//! can go wrong in a code-flow login, with its stable [`Error::kind`] codes)
//! is defined here; the others live beside the code that produces them and
//! are re-exported here once:
//!
//! | type | what failed | defined in |
//! |---|---|---|
//! | [`LoginCheckError`] | a check every login passes | `login_check.rs` |
//! | [`IdTokenError`] | the ID token or another BankID JWS | `id_token/error.rs` |
//! | [`EndpointError`], [`TransportError`], [`TransportErrorKind`], [`Cause`] | a provider endpoint, the HTTP call to it, a described cause with its source | `provider/error.rs` |
//! | [`KeyChainError`] | a signing key's certificate chain | `key_chain.rs` |
//! | [`ConfigError`] | building the configuration | `config/error.rs` |
//! | [`Misconfiguration`] | how the app's router is wired | `wiring.rs` |
//! | [`LogoutTokenError`] | a back-channel logout request | `logout_token.rs` |
//! | [`CibaError`] | a CIBA login | `ciba/error.rs` |
//! | [`PermissionError`] | a permission's grant or digest | `statement.rs` |
//!
//! The extractors' rejections ([`AuthRejection`](crate::AuthRejection),
//! [`StepUpRejection`](crate::step_up::StepUpRejection)) stay beside their
//! extractors: each carries an [`Error`], so re-exporting them here would
//! make this module and the extractors depend on each other.
//!
//! How an error becomes an HTTP response (status, safe message, HTML page or
//! JSON body, `Retry-After`) is in `render.rs`. No variant ever holds a
//! token, code, verifier or secret, so neither `Debug`, `Display` nor the
//! response body can leak one; details are logged with `tracing`.

use crate::loa::Loa;

pub use crate::ciba::error::CibaError;
pub use crate::config::ConfigError;
pub use crate::id_token::error::IdTokenError;
pub use crate::key_chain::KeyChainError;
pub use crate::login_check::LoginCheckError;
pub use crate::logout_token::LogoutTokenError;
pub use crate::permission::error::PermissionError;
pub use crate::provider::error::{Cause, EndpointError, TransportError, TransportErrorKind};
pub use crate::wiring::Misconfiguration;

mod page_text;
pub(crate) mod render;
mod startup;

pub use startup::StartupError;

/// Everything that can go wrong in a BankID login, once the layer has
/// started (start-up failures are a [`StartupError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The callback repeats a parameter.
    #[error("the callback's parameters are malformed")]
    MalformedCallback,
    /// The callback has no `state` parameter.
    #[error("the callback has no state parameter")]
    MissingState,
    /// The callback's `state` matches no login started in this session. This
    /// also covers a replayed callback: each state is single-use.
    #[error("the callback's state matches no login in progress in this session")]
    UnknownState,
    /// The callback came with no login cookie at all — the kind of
    /// `unknown_state` a setup causes rather than an attacker: the app was
    /// opened on another host than the redirect URI's (`localhost` vs
    /// `127.0.0.1`), or the browser blocks cookies. Same `kind()` as
    /// [`UnknownState`](Self::UnknownState) (the request is refused the same
    /// way); `detail` is `no_login_cookie`.
    #[error(
        "the browser sent no login cookie back: open the app on the same host as the redirect URI \
         (e.g. 127.0.0.1 in both, not localhost in one), and allow cookies"
    )]
    NoLoginCookie,
    /// The login attempt is older than the configured lifetime.
    #[error("the login attempt has expired; please start again")]
    LoginExpired,
    /// The authorization response's `iss` (RFC 9207) is not our issuer.
    #[error("the authorization response comes from another issuer")]
    CallbackIssuerMismatch,
    /// The provider says it sends `iss` in authorization responses (RFC 9207),
    /// but this one has none.
    #[error("the authorization response lacks the issuer parameter")]
    MissingCallbackIssuer,
    /// The user (or the provider on their behalf) declined the login.
    #[error("the login was cancelled or denied")]
    AccessDenied {
        /// The provider's `error_description`, sanitised and shortened.
        description: Option<String>,
    },
    /// The provider returned another OAuth error to the callback.
    #[error("the provider returned an error: {error}")]
    Provider {
        /// The OAuth `error` code, sanitised.
        error: String,
        /// The provider's `error_description`, sanitised and shortened.
        description: Option<String>,
    },
    /// The callback has neither `code` nor `error`.
    #[error("the callback has no authorization code")]
    MissingCode,
    /// Exchanging the code for tokens failed.
    #[error("token exchange failed: {0}")]
    TokenExchange(#[from] EndpointError),
    /// The login failed a check (ID token, LOA, permission, subject): the
    /// same [`LoginCheckError`] as CIBA's, with its [`kind`](LoginCheckError::kind).
    #[error(transparent)]
    Check(#[from] LoginCheckError),
    /// The login route was asked for a step-up it does not know: `acr` must
    /// be `3` or `4` and `max_age` a whole number of seconds up to a day,
    /// each given at most once.
    #[error("invalid step-up request: acr must be 3 or 4 and max_age 0..=86400 seconds")]
    InvalidStepUp,
    /// A login asked for a level of assurance below the configured
    /// [`minimum_loa`](crate::BankIdConfigBuilder::minimum_loa): its token
    /// could never be accepted, so it is not started.
    #[error("a login may not ask for LOA {} when the minimum is LOA {}", asked.get(), minimum.get())]
    LevelBelowMinimum {
        /// The level asked for.
        asked: Loa,
        /// The configured minimum.
        minimum: Loa,
    },
    /// A login option is invalid (`ui_locales`, `prompt`, `max_age`,
    /// `login_hint`), or a `login_hint` was put on the login route's URL,
    /// where an identity number must never travel. `detail` names the
    /// option; the value is never repeated.
    #[error("invalid login option `{option}`")]
    InvalidLoginOption {
        /// The option.
        option: &'static str,
    },
    /// A login with a prefilled identity number (`login_hint`) cannot be
    /// pushed: PAR is disabled or the provider has no PAR endpoint. BankID
    /// accepts an identity number only inside a pushed request, never in the
    /// browser's URL, so the login is not started.
    #[error("a login_hint with an identity number needs a pushed authorization request (PAR)")]
    IdentityHintNeedsPar,
    /// The route needs more than the current login has: a higher level of
    /// assurance or a more recent login (RFC 9470
    /// `insufficient_user_authentication`). Browsers are sent through a new
    /// login that asks for it; API clients get `401` with a Bearer challenge.
    #[error("a stronger or more recent BankID login is required")]
    StepUpRequired {
        /// The level the route needs, if it needs one above the floor.
        loa: Option<Loa>,
        /// The largest accepted login age in seconds, if any.
        max_age: Option<u32>,
    },
    /// A state-changing request came from another origin.
    #[error("cross-site request refused")]
    CrossSiteRequest,
    /// The provider lacks something this configuration needs (e.g. a PAR
    /// endpoint when PAR is required or permissions are requested).
    #[error("the provider does not advertise `{capability}`, which this configuration needs")]
    MissingCapability {
        /// The discovery metadata field that is missing.
        capability: &'static str,
    },
    /// The pushed authorization request (RFC 9126) failed.
    #[error("pushed authorization request failed: {0}")]
    PushedAuthorization(EndpointError),
    /// A call to the Permission API failed.
    #[error("Permission API call failed: {0}")]
    PermissionApi(EndpointError),
    /// A permission was not (verifiably) granted, outside a login's checks
    /// (a [`Granted`](crate::permission::Granted) grant, the Permission API, a request
    /// that cannot start).
    #[error("permission not granted: {0}")]
    Permission(#[from] PermissionError),
    /// There is no valid BankID login in the session.
    #[error("not logged in with BankID")]
    Unauthenticated,
    /// The app's [login hook](crate::login_hook) refused a login that
    /// passed every check ([`LoginDecision::refuse`](crate::login_hook::LoginDecision::refuse)).
    /// Nothing was written, the login attempt is spent, and whoever was
    /// logged in before still is.
    #[error("the service refused the login")]
    LoginRefused {
        /// The app's reason, as the hook gave it: for the app's error
        /// handler. The default error page does not show it.
        reason: String,
    },
    /// The session store failed (e.g. Redis is down): HTTP `503` with
    /// `Retry-After`, since the store, not the request, is at fault and the
    /// same request succeeds once it is back. The session is left as it was.
    /// The [`Cause`]'s source is the store's error (a
    /// `tower_sessions::session_store::Error` or
    /// `tower_sessions::session::Error`), or the encoder's.
    #[error("session store error: {0}")]
    Session(#[source] Cause),
    /// The app's router is wired wrongly (no session layer, layers in the
    /// wrong order, a route outside `BankIdLayer`): the
    /// [`Misconfiguration`] says which and what to change. Logged once per
    /// process; in debug builds the error page says it too.
    #[error("axum-bankid is wired wrongly: {0}")]
    Misconfigured(Misconfiguration),
    /// The layer [started degraded](crate::BankIdConfigBuilder::start_degraded)
    /// and the provider's metadata or keys are not loaded yet: try again
    /// later (HTTP `503` with `Retry-After`).
    #[error("the BankID provider is not available yet")]
    ProviderUnavailable,
}

impl From<IdTokenError> for Error {
    fn from(err: IdTokenError) -> Self {
        Error::Check(LoginCheckError::InvalidIdToken(err))
    }
}

impl Error {
    /// A stable, machine-readable code, used in JSON error bodies.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::MalformedCallback => "malformed_callback",
            Error::MissingState => "missing_state",
            Error::UnknownState | Error::NoLoginCookie => "unknown_state",
            Error::LoginExpired => "login_expired",
            Error::CallbackIssuerMismatch => "callback_issuer_mismatch",
            Error::MissingCallbackIssuer => "missing_callback_issuer",
            Error::AccessDenied { .. } => "access_denied",
            Error::Provider { .. } => "provider_error",
            Error::MissingCode => "missing_code",
            Error::TokenExchange(_) => "token_exchange_failed",
            Error::Check(check) => check.kind(),
            Error::InvalidStepUp => "invalid_step_up",
            Error::LevelBelowMinimum { .. } => "level_below_minimum",
            Error::InvalidLoginOption { .. } => "invalid_login_option",
            Error::IdentityHintNeedsPar => "identity_hint_needs_par",
            Error::StepUpRequired { .. } => "insufficient_user_authentication",
            Error::CrossSiteRequest => "cross_site_request",
            Error::MissingCapability { .. } => "missing_capability",
            Error::PushedAuthorization(_) => "par_failed",
            Error::PermissionApi(_) => "permission_api_failed",
            Error::Permission(_) => "permission_not_granted",
            Error::Unauthenticated => "unauthenticated",
            Error::LoginRefused { .. } => "login_refused",
            Error::Session(_) => "session_error",
            Error::Misconfigured(_) => "misconfigured",
            Error::ProviderUnavailable => "provider_unavailable",
        }
    }
}
