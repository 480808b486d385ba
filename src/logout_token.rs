//! [`LogoutTokenError`]: why a back-channel logout request was refused
//! (OpenID Connect Back-Channel Logout 1.0 §2.6), with a stable `kind()` per
//! check, and how a JWS failure of the logout token maps onto it.
//!
//! The checks are in the back-channel logout route; the error is its own
//! leaf file so that [`crate::error`] can re-export it without depending on
//! the route.

use crate::id_token::error::IdTokenError;
use crate::jws::JwsError;
use crate::key_chain::KeyChainError;

/// Why a back-channel logout request was refused (answered with `400
/// invalid_request`). [`kind`](Self::kind) is stable and is what the layer
/// logs as `reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogoutTokenError {
    /// The body is not a form with exactly one `logout_token` (§2.5).
    #[error("the request carries no single logout_token form parameter")]
    MissingToken,
    /// Not a compact JWS, or its header or claims are not JSON objects.
    #[error("the logout token is malformed")]
    Malformed,
    /// The signature does not verify with the provider's keys (or names an
    /// unknown key, an algorithm the provider does not use, or a critical
    /// header extension this crate does not process).
    #[error("the logout token's signature is invalid")]
    BadSignature,
    /// The provider's keys could not be fetched, so nothing could be verified.
    #[error("the provider's signing keys could not be fetched")]
    KeysUnavailable,
    /// The key the token names failed the certificate chain check against
    /// the configured root certificates, so it is not used (see
    /// [`KeyChainError`]; the reason is logged).
    #[error("the logout token's signing key is not trusted: {0}")]
    UntrustedKey(#[source] KeyChainError),
    /// `iss` is not the provider's issuer.
    #[error("the logout token was issued by another issuer")]
    WrongIssuer,
    /// `aud` does not name this client, names others too, or `azp` is not
    /// this client.
    #[error("the logout token is not meant for this client alone")]
    WrongAudience,
    /// `iat` lies in the future (beyond the clock skew).
    #[error("the logout token was issued in the future")]
    IssuedInFuture,
    /// `nbf` lies in the future (beyond the clock skew).
    #[error("the logout token is not valid yet")]
    NotYetValid,
    /// `exp` has passed (beyond the clock skew).
    #[error("the logout token has expired")]
    Expired,
    /// `exp` is more than a day away.
    #[error("the logout token is valid for too long")]
    LifetimeTooLong,
    /// A required claim (`iss`, `aud`, `iat`, `exp`, `jti`) is missing, or
    /// a claim has the wrong type (also `sub`, `sid`: non-empty strings).
    #[error("the logout token lacks a valid `{0}` claim")]
    MissingClaim(&'static str),
    /// `events` is missing, is not an object, lacks the back-channel logout
    /// member, or that member's value is not an object (§2.4).
    #[error("the logout token carries no back-channel logout event")]
    MissingEvent,
    /// The token has a `nonce`, which §2.4 prohibits.
    #[error("the logout token has a nonce")]
    NoncePresent,
    /// Neither `sub` nor `sid` is present (§2.4).
    #[error("the logout token names neither a subject nor a session")]
    NoSubject,
    /// This `jti` was already accepted (§2.6 step 8: replay).
    #[error("the logout token was already used")]
    Replayed,
    /// The session store failed, so the logout could not be recorded.
    #[error("the logout could not be recorded")]
    NotRecorded,
}

impl LogoutTokenError {
    /// A stable, machine-readable code, e.g. `logout_token_expired`.
    pub fn kind(&self) -> &'static str {
        match self {
            LogoutTokenError::MissingToken => "logout_token_missing",
            LogoutTokenError::Malformed => "logout_token_malformed",
            LogoutTokenError::BadSignature => "logout_token_bad_signature",
            LogoutTokenError::KeysUnavailable => "logout_token_keys_unavailable",
            LogoutTokenError::UntrustedKey(_) => "logout_token_untrusted_key",
            LogoutTokenError::WrongIssuer => "logout_token_wrong_issuer",
            LogoutTokenError::WrongAudience => "logout_token_wrong_audience",
            LogoutTokenError::IssuedInFuture => "logout_token_issued_in_future",
            LogoutTokenError::NotYetValid => "logout_token_not_yet_valid",
            LogoutTokenError::Expired => "logout_token_expired",
            LogoutTokenError::LifetimeTooLong => "logout_token_lifetime_too_long",
            LogoutTokenError::MissingClaim(_) => "logout_token_missing_claim",
            LogoutTokenError::MissingEvent => "logout_token_missing_event",
            LogoutTokenError::NoncePresent => "logout_token_nonce_present",
            LogoutTokenError::NoSubject => "logout_token_no_subject",
            LogoutTokenError::Replayed => "logout_token_replayed",
            LogoutTokenError::NotRecorded => "logout_not_recorded",
        }
    }
}

impl From<IdTokenError> for LogoutTokenError {
    fn from(err: IdTokenError) -> Self {
        match err {
            IdTokenError::Malformed => LogoutTokenError::Malformed,
            IdTokenError::KeysUnavailable => LogoutTokenError::KeysUnavailable,
            IdTokenError::UntrustedKey(reason) => LogoutTokenError::UntrustedKey(reason),
            IdTokenError::NotYetValid => LogoutTokenError::NotYetValid,
            IdTokenError::IssuerMismatch => LogoutTokenError::WrongIssuer,
            IdTokenError::AudienceMismatch
            | IdTokenError::UntrustedAudience
            | IdTokenError::AuthorizedPartyMismatch => LogoutTokenError::WrongAudience,
            IdTokenError::Expired => LogoutTokenError::Expired,
            IdTokenError::IssuedInFuture => LogoutTokenError::IssuedInFuture,
            IdTokenError::MissingClaim(name) => LogoutTokenError::MissingClaim(name),
            _ => LogoutTokenError::BadSignature,
        }
    }
}

/// The logout token's JWS failed (or a NumericDate claim could not be
/// read): the same reason an ID token would get, so both token families
/// map a JWS failure through one table.
impl From<JwsError> for LogoutTokenError {
    fn from(err: JwsError) -> Self {
        LogoutTokenError::from(IdTokenError::from(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::jwks::KeyLookupError;

    #[test]
    fn a_jws_failure_of_a_logout_token_has_the_logout_token_code() {
        let kind = |e: JwsError| LogoutTokenError::from(e).kind();
        assert_eq!(kind(JwsError::Malformed), "logout_token_malformed");
        assert_eq!(kind(JwsError::BadSignature), "logout_token_bad_signature");
        assert_eq!(kind(JwsError::Key(KeyLookupError::UnknownKey)), "logout_token_bad_signature");
        assert_eq!(kind(JwsError::UnsupportedAlgorithm("none".into())), "logout_token_bad_signature");
        assert_eq!(kind(JwsError::UnsupportedCriticalHeader), "logout_token_bad_signature");
        assert_eq!(kind(JwsError::InvalidCriticalHeader), "logout_token_bad_signature");
        assert_eq!(kind(JwsError::Key(KeyLookupError::KeysUnavailable)), "logout_token_keys_unavailable");
        assert_eq!(kind(JwsError::NotYetValid), "logout_token_not_yet_valid");
        let untrusted = JwsError::Key(KeyLookupError::UntrustedKey(KeyChainError::UntrustedKeyChain));
        assert_eq!(LogoutTokenError::from(untrusted), LogoutTokenError::UntrustedKey(KeyChainError::UntrustedKeyChain));
        assert_eq!(LogoutTokenError::from(JwsError::MissingClaim("iat")), LogoutTokenError::MissingClaim("iat"));
    }
}
