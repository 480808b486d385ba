//! Why an ID token was refused: [`IdTokenError`], a JWS that failed
//! verification (converted from the verifier's own error) or claims that
//! failed OpenID Connect Core §3.1.3.7.
//!
//! It lives beside the checks that produce it and is re-exported once from
//! [`crate::error`]. Each variant has a stable `kind()` code. The checks
//! every login passes besides the ID token's (level, permissions, subject,
//! a step-up's `auth_time`) report `LoginCheckError`, which carries this
//! error and sits above this module (`login_check.rs`).

use crate::jws::JwsError;
use crate::key_chain::KeyChainError;
use crate::provider::jwks::KeyLookupError;

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

/// A JWS failure of the ID token, under the same variant and code (no
/// wildcard: a new JWS failure must choose its public variant here).
impl From<JwsError> for IdTokenError {
    fn from(err: JwsError) -> Self {
        match err {
            JwsError::Malformed => IdTokenError::Malformed,
            JwsError::UnsupportedAlgorithm(alg) => IdTokenError::UnsupportedAlgorithm(alg),
            JwsError::Key(KeyLookupError::UnknownKey) => IdTokenError::UnknownKey,
            JwsError::Key(KeyLookupError::KeysUnavailable) => IdTokenError::KeysUnavailable,
            JwsError::Key(KeyLookupError::UntrustedKey(reason)) => IdTokenError::UntrustedKey(reason),
            JwsError::BadSignature => IdTokenError::BadSignature,
            JwsError::NotYetValid => IdTokenError::NotYetValid,
            JwsError::MissingClaim(name) => IdTokenError::MissingClaim(name),
            JwsError::UnsupportedCriticalHeader => IdTokenError::UnsupportedCriticalHeader,
            JwsError::InvalidCriticalHeader => IdTokenError::InvalidCriticalHeader,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every JWS failure, one of each variant (and each key reason).
    fn every_jws_error() -> Vec<JwsError> {
        vec![
            JwsError::Malformed,
            JwsError::UnsupportedAlgorithm("HS256".into()),
            JwsError::Key(KeyLookupError::UnknownKey),
            JwsError::Key(KeyLookupError::KeysUnavailable),
            JwsError::Key(KeyLookupError::UntrustedKey(KeyChainError::MissingKeyChain)),
            JwsError::Key(KeyLookupError::UntrustedKey(KeyChainError::KeyCertificateExpired)),
            JwsError::BadSignature,
            JwsError::NotYetValid,
            JwsError::MissingClaim("nbf"),
            JwsError::UnsupportedCriticalHeader,
            JwsError::InvalidCriticalHeader,
        ]
    }

    #[test]
    fn a_jws_failure_keeps_its_code_and_its_data_as_an_id_token_error() {
        for err in every_jws_error() {
            assert_eq!(IdTokenError::from(err.clone()).kind(), err.kind(), "{err:?}");
        }
        let cases = [
            (JwsError::UnsupportedAlgorithm("none".into()), IdTokenError::UnsupportedAlgorithm("none".into())),
            (JwsError::Key(KeyLookupError::UnknownKey), IdTokenError::UnknownKey),
            (JwsError::Key(KeyLookupError::KeysUnavailable), IdTokenError::KeysUnavailable),
            (
                JwsError::Key(KeyLookupError::UntrustedKey(KeyChainError::UntrustedKeyChain)),
                IdTokenError::UntrustedKey(KeyChainError::UntrustedKeyChain),
            ),
            (JwsError::MissingClaim("exp"), IdTokenError::MissingClaim("exp")),
        ];
        for (jws, id_token) in cases {
            assert_eq!(IdTokenError::from(jws), id_token);
        }
    }

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
    }
}
