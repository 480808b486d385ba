//! The crate's error type and how it becomes an HTTP response.
//!
//! Every failure of a login has its own variant with a stable [`Error::kind`]
//! code, so applications and tests can tell them apart. Responses show a safe
//! message; details are logged with `tracing`. No variant ever holds a token,
//! code, verifier or secret, so neither `Debug`, `Display` nor the response
//! body can leak one.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::config::ConfigError;
use crate::loa::Loa;
use crate::permission::error::PermissionError;
use crate::provider::key_chain::KeyChainError;
use crate::wiring::Misconfiguration;

/// Why an ID token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// Not a compact JWS, or its header/claims are not valid JSON.
    #[error("the ID token is malformed")]
    Malformed,
    /// The `alg` is not one the provider advertises, or not an asymmetric
    /// signature algorithm (`none` and HMAC are never accepted).
    #[error("the ID token's signing algorithm `{0}` is not accepted")]
    UnsupportedAlgorithm(String),
    /// No key in the provider's JWKS matches the token's `kid`, even after a refresh.
    #[error("no key in the provider's JWKS matches the ID token's key id")]
    UnknownKey,
    /// The provider's keys could not be fetched.
    #[error("the provider's signing keys could not be fetched")]
    KeysUnavailable,
    /// The signature does not verify.
    #[error("the ID token's signature is invalid")]
    BadSignature,
    /// `iss` is not the configured issuer.
    #[error("the ID token was issued by another issuer")]
    IssuerMismatch,
    /// `aud` does not contain this client.
    #[error("the ID token is not meant for this client")]
    AudienceMismatch,
    /// `aud` names other parties besides this client.
    #[error("the ID token is also meant for other, untrusted audiences")]
    UntrustedAudience,
    /// `azp` is present and is not this client, or is missing although
    /// there are several audiences.
    #[error("the ID token's authorized party is not this client")]
    AuthorizedPartyMismatch,
    /// `exp` is in the past (beyond the allowed skew).
    #[error("the ID token has expired")]
    Expired,
    /// `iat` is in the future (beyond the allowed skew).
    #[error("the ID token was issued in the future")]
    IssuedInFuture,
    /// `auth_time` is in the future (beyond the allowed skew): a provider
    /// sending milliseconds, or a clock far ahead. Accepted, it would pass
    /// every recent-login requirement for as long as it stays ahead.
    #[error("the ID token's auth_time is in the future")]
    AuthTimeInFuture,
    /// `nonce` is missing.
    #[error("the ID token has no nonce")]
    MissingNonce,
    /// `nonce` does not match the one sent with this login.
    #[error("the ID token's nonce does not match this login")]
    NonceMismatch,
    /// A required claim is missing or has the wrong type.
    #[error("the ID token lacks a valid `{0}` claim")]
    MissingClaim(&'static str),
    /// `nbf` is in the future (beyond the allowed skew; RFC 7519 §4.1.5).
    #[error("the ID token is not valid yet")]
    NotYetValid,
    /// The protected header's `crit` names an extension this crate does not
    /// process, so the token must be rejected (RFC 7515 §4.1.11).
    #[error("the ID token requires a header extension that is not supported")]
    UnsupportedCriticalHeader,
    /// The protected header's `crit` breaks RFC 7515 §4.1.11: not a non-empty
    /// array of strings, names a registered header, or names a member that
    /// is absent.
    #[error("the ID token's critical header list is invalid")]
    InvalidCriticalHeader,
    /// The key the token names was left out of the provider's key set
    /// because its certificate chain (`x5c`) failed the check against the
    /// configured root certificates. [`kind`](Self::kind) is the reason's
    /// own code (`missing_key_chain`, `untrusted_key_chain`,
    /// `key_certificate_expired`, …).
    #[error("the ID token's signing key is not trusted: {0}")]
    UntrustedKey(#[source] KeyChainError),
}

impl IdTokenError {
    /// The error for a [`kind`](Self::kind) code (for outcomes kept in a
    /// store); unknown codes map to `Malformed`.
    pub(crate) fn from_kind(kind: &str) -> IdTokenError {
        match kind {
            "unknown_key" => IdTokenError::UnknownKey,
            "keys_unavailable" => IdTokenError::KeysUnavailable,
            "bad_signature" => IdTokenError::BadSignature,
            "issuer_mismatch" => IdTokenError::IssuerMismatch,
            "audience_mismatch" => IdTokenError::AudienceMismatch,
            "untrusted_audience" => IdTokenError::UntrustedAudience,
            "azp_mismatch" => IdTokenError::AuthorizedPartyMismatch,
            "expired" => IdTokenError::Expired,
            "issued_in_future" => IdTokenError::IssuedInFuture,
            "auth_time_in_future" => IdTokenError::AuthTimeInFuture,
            "missing_nonce" => IdTokenError::MissingNonce,
            "nonce_mismatch" => IdTokenError::NonceMismatch,
            "unsupported_algorithm" => IdTokenError::UnsupportedAlgorithm(String::new()),
            "missing_claim" => IdTokenError::MissingClaim("unknown"),
            "not_yet_valid" => IdTokenError::NotYetValid,
            "unsupported_critical_header" => IdTokenError::UnsupportedCriticalHeader,
            "invalid_critical_header" => IdTokenError::InvalidCriticalHeader,
            other => KeyChainError::from_kind(other).map_or(IdTokenError::Malformed, IdTokenError::UntrustedKey),
        }
    }

    /// A stable, machine-readable code.
    pub fn kind(&self) -> &'static str {
        match self {
            IdTokenError::Malformed => "malformed",
            IdTokenError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            IdTokenError::UnknownKey => "unknown_key",
            IdTokenError::KeysUnavailable => "keys_unavailable",
            IdTokenError::BadSignature => "bad_signature",
            IdTokenError::IssuerMismatch => "issuer_mismatch",
            IdTokenError::AudienceMismatch => "audience_mismatch",
            IdTokenError::UntrustedAudience => "untrusted_audience",
            IdTokenError::AuthorizedPartyMismatch => "azp_mismatch",
            IdTokenError::Expired => "expired",
            IdTokenError::IssuedInFuture => "issued_in_future",
            IdTokenError::AuthTimeInFuture => "auth_time_in_future",
            IdTokenError::MissingNonce => "missing_nonce",
            IdTokenError::NonceMismatch => "nonce_mismatch",
            IdTokenError::MissingClaim(_) => "missing_claim",
            IdTokenError::NotYetValid => "not_yet_valid",
            IdTokenError::UnsupportedCriticalHeader => "unsupported_critical_header",
            IdTokenError::InvalidCriticalHeader => "invalid_critical_header",
            IdTokenError::UntrustedKey(reason) => reason.kind(),
        }
    }
}

/// Why a login failed one of the checks every login passes, in the code
/// flow and over CIBA alike: one type, so a check failure has one
/// [`kind`](Self::kind) whichever way the user logged in. Carried by
/// [`Error::Check`] and [`CibaError::Check`](crate::ciba::CibaError::Check).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginCheckError {
    /// The ID token failed verification.
    #[error("invalid ID token: {0}")]
    InvalidIdToken(#[source] IdTokenError),
    /// The login's `acr` does not carry the required LOA.
    #[error("insufficient level of assurance: {required} required, found {}", found.map_or_else(|| "none".to_owned(), |l| l.to_string()))]
    InsufficientLoa {
        /// The configured minimum.
        required: Loa,
        /// What the token's `acr` carried (`None` if absent or malformed).
        found: Option<Loa>,
    },
    /// A permission this login asked for was not (verifiably) granted.
    #[error("permission not granted: {0}")]
    Permission(#[source] PermissionError),
    /// A permission requested by a logged-in user, or a step-up login of a
    /// logged-in user, was completed in BankID by someone else (another
    /// `sub`). The session is left as it was: the other person is not logged
    /// in, the original login stays and no grant is kept.
    #[error("the BankID login was completed by someone other than the logged-in user")]
    SubjectMismatch,
    /// A step-up login sent `max_age`, and its ID token has no `auth_time`
    /// (required then: OpenID Connect Core §3.1.2.1). The session keeps the
    /// login it had.
    #[error("the step-up login's ID token has no auth_time, which max_age requires")]
    MissingAuthTime,
    /// A step-up login sent `max_age`, and its ID token's `auth_time` is
    /// older than that (plus the clock skew; OpenID Connect Core §3.1.3.7
    /// item 13). The session keeps the login it had.
    #[error("the step-up login is older than the requested max_age of {max_age} s")]
    AuthTimeTooOld {
        /// The `max_age` that was sent, in seconds.
        max_age: u32,
    },
}

impl LoginCheckError {
    /// A stable, machine-readable code, the same in both flows.
    pub fn kind(&self) -> &'static str {
        match self {
            LoginCheckError::InvalidIdToken(_) => "invalid_id_token",
            LoginCheckError::InsufficientLoa { .. } => "insufficient_loa",
            LoginCheckError::Permission(_) => "permission_not_granted",
            LoginCheckError::SubjectMismatch => "subject_mismatch",
            LoginCheckError::MissingAuthTime => "missing_auth_time",
            LoginCheckError::AuthTimeTooOld { .. } => "auth_time_too_old",
        }
    }

    /// The source's code, for the variants that have one (the ID token's or
    /// the permission's [`kind`](IdTokenError::kind)).
    pub fn detail(&self) -> Option<&'static str> {
        match self {
            LoginCheckError::InvalidIdToken(e) => Some(e.kind()),
            LoginCheckError::Permission(e) => Some(e.kind()),
            LoginCheckError::InsufficientLoa { .. }
            | LoginCheckError::SubjectMismatch
            | LoginCheckError::MissingAuthTime
            | LoginCheckError::AuthTimeTooOld { .. } => None,
        }
    }
}

impl From<IdTokenError> for LoginCheckError {
    fn from(err: IdTokenError) -> Self {
        LoginCheckError::InvalidIdToken(err)
    }
}

/// Why a provider endpoint (token, PAR, Permission API) did not give us
/// what we asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The provider answered with an OAuth error (e.g. `invalid_grant` for a
    /// replayed or expired code).
    #[error("the provider refused the request: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Rejected {
        /// The OAuth `error` code.
        error: String,
        /// The provider's `error_description`, sanitised and shortened.
        description: Option<String>,
    },
    /// The provider answered with something that is not a token response.
    #[error("the provider answered with an unexpected response (HTTP {status})")]
    UnexpectedResponse {
        /// The HTTP status.
        status: u16,
    },
    /// The token response had no `id_token`.
    #[error("the token response has no ID token")]
    MissingIdToken,
    /// The endpoint could not be reached or timed out, or the request
    /// could not be sent at all; the [`TransportError`] says which and keeps
    /// the HTTP client's error as its [`source`](StdError::source).
    #[error("the provider could not be reached: {0}")]
    Unreachable(#[source] TransportError),
}

/// What kind of [`TransportError`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The request or the connection timed out.
    Timeout,
    /// The provider's host name did not resolve.
    Dns,
    /// The connection was refused.
    Refused,
    /// The TLS handshake failed (e.g. an untrusted certificate).
    Tls,
    /// The connection failed for another reason.
    Connect,
    /// The provider answered with a redirect, which is never followed.
    Redirect,
    /// The response body was larger than the crate accepts.
    TooLarge,
    /// No request was sent: something it needs was missing (no BIB issuer,
    /// an endpoint URL that cannot be built, a client assertion that could
    /// not be signed).
    NotSent,
    /// Any other failure of the HTTP client.
    Other,
}

/// Why a request to the provider got no usable answer: the
/// [`kind`](Self::kind), a message without any URL (URLs the crate builds
/// may carry query parameters) and the underlying error as
/// [`source`](StdError::source) — for HTTP failures a `reqwest::Error`,
/// with its URL removed.
///
/// Cloning shares the source. Two `TransportError`s are equal when their
/// kinds and messages are: the source is not compared (`reqwest::Error` is
/// not `PartialEq`).
#[derive(Debug, Clone)]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl TransportError {
    /// A failure of the HTTP client, described by `message`, which must
    /// not hold a URL; the source's URL is removed.
    pub(crate) fn http(kind: TransportErrorKind, message: String, source: reqwest::Error) -> TransportError {
        TransportError { kind, message, source: Some(Arc::new(source.without_url())) }
    }

    /// A failure with no error behind it.
    pub(crate) fn new(kind: TransportErrorKind, message: impl Into<String>) -> TransportError {
        TransportError { kind, message: message.into(), source: None }
    }

    /// A request that was not sent because of `source`.
    pub(crate) fn not_sent(
        message: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> TransportError {
        TransportError { kind: TransportErrorKind::NotSent, message: message.into(), source: Some(Arc::new(source)) }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for TransportError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

impl PartialEq for TransportError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for TransportError {}

/// A failure described in words, with its typed cause kept as
/// [`source`](StdError::source) (e.g. a
/// `tower_sessions::session_store::Error` for a store failure). Its
/// `Display` is the message alone, which never holds a token or secret.
///
/// Cloning shares the source. Two `Failure`s are equal when their messages
/// are: the source is not compared (most error types are not `PartialEq`).
#[derive(Debug, Clone)]
pub struct Failure {
    message: String,
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl Failure {
    /// A failure with no error behind it.
    pub(crate) fn new(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), source: None }
    }

    /// A failure caused by `source`, described by its `Display`.
    pub(crate) fn from_error(source: impl StdError + Send + Sync + 'static) -> Failure {
        Failure { message: source.to_string(), source: Some(Arc::new(source)) }
    }

    /// A failure caused by `source`, described by `message`.
    pub(crate) fn caused_by(message: impl Into<String>, source: impl StdError + Send + Sync + 'static) -> Failure {
        Failure { message: message.into(), source: Some(Arc::new(source)) }
    }

    /// The message (the same as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Failure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

impl PartialEq for Failure {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl Eq for Failure {}

/// Everything that can go wrong in a BankID login.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The provider's discovery document or keys could not be loaded at start-up.
    /// The [`Failure`]'s source is the cause where there is one: the
    /// HTTP client's error (through a [`TransportError`]), the JSON parser's,
    /// or none for a document whose content is unusable.
    #[error("provider discovery failed: {0}")]
    Discovery(#[source] Failure),
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
    /// The session store failed (e.g. Redis is down): HTTP `503` with
    /// `Retry-After`, since the store, not the request, is at fault and the
    /// same request succeeds once it is back. The session is left as it was.
    /// The [`Failure`]'s source is the store's error (a
    /// `tower_sessions::session_store::Error` or
    /// `tower_sessions::session::Error`), or the encoder's.
    #[error("session store error: {0}")]
    Session(#[source] Failure),
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
            Error::Config(_) => "config",
            Error::Discovery(_) => "discovery_failed",
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
            Error::Session(_) => "session_error",
            Error::Misconfigured(_) => "misconfigured",
            Error::ProviderUnavailable => "provider_unavailable",
        }
    }

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
            Error::AccessDenied { .. } | Error::CrossSiteRequest | Error::Permission(_) => StatusCode::FORBIDDEN,
            Error::Check(LoginCheckError::InvalidIdToken(_))
            | Error::Unauthenticated
            | Error::StepUpRequired { .. } => StatusCode::UNAUTHORIZED,
            Error::Check(_) => StatusCode::FORBIDDEN,
            Error::TokenExchange(_) | Error::Discovery(_) | Error::PushedAuthorization(_) | Error::PermissionApi(_) => {
                StatusCode::BAD_GATEWAY
            }
            Error::Config(_)
            | Error::Misconfigured(_)
            | Error::MissingCapability { .. }
            | Error::IdentityHintNeedsPar => StatusCode::INTERNAL_SERVER_ERROR,
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
            | Error::Config(_)
            | Error::Discovery(_)
            | Error::ProviderUnavailable
            | Error::MissingCapability { .. } => "BankID login is temporarily unavailable.".to_owned(),
            Error::TokenExchange(_) | Error::PushedAuthorization(_) | Error::PermissionApi(_) => {
                "BankID login could not be completed; please try again.".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// Renders the default response: an HTML page when the client asks for
    /// HTML, a small JSON body otherwise.
    pub fn to_response(&self, headers: &HeaderMap) -> Response {
        let response = if wants_html(headers) { self.html_response() } else { self.json_response() };
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

    fn html_response(&self) -> Response {
        let page = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>BankID login failed</title></head>\
             <body><h1>BankID login failed</h1><p>{}</p><p><code>{}</code></p><p><a href=\"/\">Back to the start page</a></p></body></html>",
            escape_html(&self.public_message()),
            escape_html(self.kind()),
        );
        (self.status(), no_store(), Html(page)).into_response()
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

/// Keeps attacker-controllable text (a callback's `error_description`, a
/// provider's error body) short and printable before it reaches a log line
/// or an error page.
pub(crate) fn sanitize(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untrusted_key_has_its_reason_as_kind_and_survives_a_store() {
        let err = IdTokenError::UntrustedKey(KeyChainError::KeyCertificateExpired);
        assert_eq!(err.kind(), "key_certificate_expired");
        assert_eq!(IdTokenError::from_kind(err.kind()), err);
        assert_eq!(
            IdTokenError::from_kind("missing_key_chain"),
            IdTokenError::UntrustedKey(KeyChainError::MissingKeyChain)
        );
        assert_eq!(IdTokenError::from_kind("no_such_kind"), IdTokenError::Malformed);
        let check = LoginCheckError::from(err);
        assert_eq!((check.kind(), check.detail()), ("invalid_id_token", Some("key_certificate_expired")));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape_html("<script>\"x\"&'"), "&lt;script&gt;&quot;x&quot;&amp;&#x27;");
    }

    #[test]
    fn sanitize_strips_control_and_truncates() {
        assert_eq!(sanitize("a\r\nb"), "ab");
        assert_eq!(sanitize(&"x".repeat(500)).len(), 200);
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
