//! [`CibaError`]: every way a CIBA authentication can end without a user,
//! one variant each, so the app can route each to its backup path.

use crate::login_check::LoginCheckError;
use crate::provider::error::{Cause, EndpointError};

/// Every way a CIBA authentication can fail, so the app can pick its backup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CibaError {
    /// No BIB issuer is configured, or BIB has no backchannel
    /// authentication endpoint.
    #[error("the provider does not offer CIBA")]
    NotSupported,
    /// The login hint is malformed (checked before sending).
    #[error("the login hint is malformed")]
    InvalidLoginHint,
    /// BankID refused the binding message.
    #[error("the provider refused the binding message")]
    InvalidBindingMessage,
    /// `user-exists` says the user has no BankID with biometrics: no push was attempted.
    #[error("the user cannot use BankID with biometrics")]
    UserNotEnrolled,
    /// The `user-exists` pre-check itself failed.
    #[error("the user-exists check failed: {0}")]
    UserCheckFailed(#[source] EndpointError),
    /// Registering the permission at BIB failed; no push was attempted.
    #[error("registering the permission failed: {0}")]
    RegistrationFailed(#[source] EndpointError),
    /// The provider does not know the user.
    #[error("the provider does not know this user")]
    UnknownUser,
    /// The user's BankID app cannot be reached (e.g. uninstalled).
    #[error("the user's BankID app is not available")]
    AppUnavailable,
    /// The provider refused to start the authentication.
    #[error("the provider refused to start the authentication: {error}")]
    InitiationRejected {
        /// The OAuth error code.
        error: String,
    },
    /// The user declined on the phone.
    #[error("the user declined")]
    Denied,
    /// The user did not answer in time.
    #[error("the authentication request expired")]
    Expired,
    /// Authentication on the phone failed (e.g. the passkey was deleted
    /// when the screen lock was removed).
    #[error("authentication on the phone failed: {error}")]
    AuthenticationFailed {
        /// The OAuth error code.
        error: String,
    },
    /// The provider no longer accepts this request.
    #[error("the provider rejected the request as invalid")]
    InvalidGrant,
    /// The provider could not be reached or answered with a server error;
    /// the request stays pending and is polled again after the interval.
    /// The [`Cause`]'s source is the cause where there is one (the
    /// [`EndpointError`], the [`crate::error::Error`], the poll task's `JoinError`).
    #[error("the provider is unavailable: {0}")]
    ProviderUnavailable(#[source] Cause),
    /// The login failed a check (ID token, LOA, permission): the same
    /// [`LoginCheckError`] as the code flow's, with its
    /// [`kind`](LoginCheckError::kind). A permission that cannot even be
    /// sent (it does not serialise) is a `Permission` check failure too.
    #[error(transparent)]
    Check(#[from] LoginCheckError),
    /// No pending authentication has this handle (unknown, finished and
    /// collected, or cancelled).
    #[error("no pending authentication has this handle")]
    UnknownHandle,
    /// The store failed. The [`Cause`]'s source is the store's error (a
    /// `tower_sessions::session_store::Error`), the encoder's, or the
    /// [`crate::error::Error`] of logging the session in.
    #[error("the CIBA store failed: {0}")]
    Store(#[source] Cause),
    /// A start made by the public start route failed after the route had
    /// answered, for a reason that is not the user's (BIB could not be
    /// reached, refused the registration, the store failed); `error` is
    /// that cause's [`kind`](CibaError::kind) (e.g. `registration_failed`).
    /// The cause itself was logged.
    #[error("the CIBA request could not be started: {error}")]
    StartFailed {
        /// The kind of the cause.
        error: String,
    },
    /// CIBA is not set up on the layer (see [`BankIdLayer::with_ciba`](crate::BankIdLayer::with_ciba)).
    #[error("CIBA is not enabled on BankIdLayer")]
    NotEnabled,
}

impl CibaError {
    /// A stable, machine-readable code.
    pub fn kind(&self) -> &'static str {
        match self {
            CibaError::NotSupported => "not_supported",
            CibaError::InvalidLoginHint => "invalid_login_hint",
            CibaError::InvalidBindingMessage => "invalid_binding_message",
            CibaError::UserNotEnrolled => "user_not_enrolled",
            CibaError::UserCheckFailed(_) => "user_check_failed",
            CibaError::RegistrationFailed(_) => "registration_failed",
            CibaError::UnknownUser => "unknown_user",
            CibaError::AppUnavailable => "app_unavailable",
            CibaError::InitiationRejected { .. } => "initiation_rejected",
            CibaError::Denied => "denied",
            CibaError::Expired => "expired",
            CibaError::AuthenticationFailed { .. } => "authentication_failed",
            CibaError::InvalidGrant => "invalid_grant",
            CibaError::ProviderUnavailable(_) => "provider_unavailable",
            CibaError::Check(check) => check.kind(),
            CibaError::UnknownHandle => "unknown_handle",
            CibaError::Store(_) => "store_error",
            CibaError::StartFailed { .. } => "start_failed",
            CibaError::NotEnabled => "not_enabled",
        }
    }

    /// Whether the authentication is over (as opposed to a transient failure).
    pub fn is_final(&self) -> bool {
        !matches!(self, CibaError::ProviderUnavailable(_) | CibaError::Store(_))
    }
}

pub(crate) fn initiation_error(error: &str) -> CibaError {
    match error {
        "unknown_user_id" => CibaError::UnknownUser,
        "app_unavailable" => CibaError::AppUnavailable,
        "invalid_binding_message" => CibaError::InvalidBindingMessage,
        "access_denied" => CibaError::Denied,
        other => CibaError::InitiationRejected { error: other.to_owned() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initiation_errors_are_distinct() {
        assert_eq!(initiation_error("unknown_user_id"), CibaError::UnknownUser);
        assert_eq!(initiation_error("app_unavailable"), CibaError::AppUnavailable);
        assert_eq!(
            initiation_error("invalid_request"),
            CibaError::InitiationRejected { error: "invalid_request".into() }
        );
    }
}
