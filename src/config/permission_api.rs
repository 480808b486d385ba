//! [`PermissionApiConfig`]: how the Permission API at BIB is used.

use std::time::Duration;

/// How the Permission API at BIB is used. Paths are not configurable: they
/// come from BIB's discovery document (`permissions_endpoint`, which ends in
/// `/`; `user-exists` and `{id}/grant` are appended to it, as in BankID's own
/// example client).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PermissionApiConfig {
    /// **A guess.** How a registered permission rides on a code-flow
    /// authorize (or PAR) request is not published by BankID. This crate
    /// sends the registration's `permissionToken` under this parameter name.
    /// Default: `permission_token`. Settle it against BankID "current".
    pub reference_parameter: String,
    /// Scope of the client-credentials token for Permission API calls
    /// (BankID: `openid permissions/client`). Default: that.
    pub scope: String,
    /// How often a grant is asked for before giving up; BankID answers
    /// non-2xx until it is ready (its example client asks 10 times).
    /// Default: 10.
    pub grant_attempts: u32,
    /// Wait before the second request for a grant; doubles after each
    /// further attempt, capped at 2 s. Default: 250 ms.
    pub grant_retry_delay: Duration,
    /// Lifetime of a registered permission (`exp` − `iat` in the register
    /// request; BankID's example uses 600 s). Default: 10 min; 1 s to 1 h.
    pub registration_lifetime: Duration,
}

impl Default for PermissionApiConfig {
    fn default() -> Self {
        PermissionApiConfig {
            reference_parameter: "permission_token".into(),
            scope: "openid permissions/client".into(),
            grant_attempts: 10,
            grant_retry_delay: Duration::from_millis(250),
            registration_lifetime: Duration::from_secs(600),
        }
    }
}
