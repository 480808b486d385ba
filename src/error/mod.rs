//! The crate's error type, [`Error`], and its stable [`Error::kind`] codes;
//! how an error becomes an HTTP response is in `render.rs`.
//!
//! Every failure of a login has its own variant with a stable [`Error::kind`]
//! code, so applications and tests can tell them apart. Responses show a safe
//! message; details are logged with `tracing`. No variant ever holds a token,
//! code, verifier or secret, so neither `Debug`, `Display` nor the response
//! body can leak one.

use crate::config::ConfigError;
use crate::loa::Loa;
pub use crate::provider::error::{Cause, EndpointError, TransportError, TransportErrorKind};
use crate::provider::key_chain::KeyChainError;
use crate::statement::PermissionError;
use crate::wiring::Misconfiguration;

pub(crate) mod render;

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

/// Everything that can go wrong in a BankID login.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The provider's discovery document or keys could not be loaded at start-up.
    /// The [`Cause`]'s source is the cause where there is one: the
    /// HTTP client's error (through a [`TransportError`]), the JSON parser's,
    /// or none for a document whose content is unusable.
    #[error("provider discovery failed: {0}")]
    Discovery(#[source] Cause),
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
}
