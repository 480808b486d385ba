//! [`LoginCheckError`]: why a login failed one of the checks every login
//! passes, in the code flow and over CIBA alike — the ID token, the level,
//! permissions, the subject, a step-up's `auth_time` — with one stable
//! `kind()` per check, re-exported once from [`crate::error`].
//!
//! A file of its own, above the checks whose errors it carries
//! (`id_token/`, `permission/`) and below the flows that run them
//! (`login/complete.rs`, `step_up/`, `ciba/`). It cannot live in
//! `id_token/`: the permission code sits above the relying party, and so
//! above the ID token's checks.

use crate::id_token::error::IdTokenError;
use crate::loa::Loa;
use crate::permission::error::PermissionError;

/// Why a login failed one of the checks every login passes, in the code
/// flow and over CIBA alike: one type, so a check failure has one
/// [`kind`](Self::kind) whichever way the user logged in. Carried by
/// [`Error::Check`](crate::error::Error::Check) and [`CibaError::Check`](crate::error::CibaError::Check).
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

impl LoginCheckError {
    /// Whether the ID token itself failed, so nobody is known to have
    /// logged in (answered `401`); every other check refuses someone known
    /// (`403`). For rendering, which must not name this type's variants
    /// (`error/` sits below this file).
    pub(crate) fn is_invalid_id_token(&self) -> bool {
        matches!(self, LoginCheckError::InvalidIdToken(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key_chain::KeyChainError;

    #[test]
    fn an_invalid_id_token_has_the_token_reason_as_detail() {
        let check = LoginCheckError::from(IdTokenError::UntrustedKey(KeyChainError::KeyCertificateExpired));
        assert_eq!((check.kind(), check.detail()), ("invalid_id_token", Some("key_certificate_expired")));
        assert!(check.is_invalid_id_token());
    }

    #[test]
    fn a_refused_permission_has_the_permission_reason_as_detail() {
        let check = LoginCheckError::Permission(PermissionError::DigestMismatch);
        assert_eq!(
            (check.kind(), check.detail()),
            ("permission_not_granted", Some(PermissionError::DigestMismatch.kind()))
        );
        assert!(!check.is_invalid_id_token());
        for other in [LoginCheckError::SubjectMismatch, LoginCheckError::MissingAuthTime] {
            assert_eq!(other.detail(), None);
            assert!(!other.is_invalid_id_token());
        }
    }
}
