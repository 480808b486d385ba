//! [`PermissionError`]: why a permission was not granted, for every step
//! that can refuse one — the statement and its digest (`statement.rs`), the
//! Permission API's signed grant (`api.rs`), the grant records and
//! [`Granted`](super::Granted) (`grants.rs`, `granted.rs`) — with the stable
//! [`kind`](PermissionError::kind) codes that docs/error-kinds.md lists.

/// Why a permission was not granted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PermissionError {
    /// The statement could not be serialised to JSON.
    #[error("the permission statement could not be serialised")]
    Serialization,
    /// The ID token carries no `permission_digest`.
    #[error("the ID token carries no permission digest")]
    MissingDigest,
    /// The `permission_digest` differs from the digest of what was sent.
    #[error("the permission digest does not match the statement that was sent")]
    DigestMismatch,
    /// The granted `authorization_details` name another permission type.
    #[error("the provider granted a different permission type")]
    TypeMismatch,
    /// The token response lacks the granted `authorization_details`.
    #[error("the token response does not list the granted permissions")]
    MissingAuthorizationDetails,
    /// The provider's signed permission is invalid.
    #[error("the signed permission is invalid: {0}")]
    InvalidSignedPermission(&'static str),
    /// The session holds no (unused) grant of this permission for this user.
    #[error("no matching permission was granted in this session")]
    NotGranted,
    /// The grant was already redeemed (single use), here or on another
    /// instance sharing the single-use store.
    #[error("the permission grant was already used")]
    AlreadyRedeemed,
    /// The granted statement is not the one expected.
    #[error("the granted statement is not the one expected")]
    StatementMismatch,
    /// BIB never answered the grant request with the signed permission.
    #[error("the signed permission (grant) was not ready in time")]
    GrantNotReady,
    /// More than one permission would have to travel as a single reference.
    #[error("only one Permission API permission can be attached to a login")]
    TooManyReferences,
    /// An `app_callback_uri` is not a universal link: BankID requires an
    /// absolute `https` URL (custom schemes such as `myapp://` are refused).
    #[error("invalid app_callback_uri: BankID requires a universal link, an absolute https URL (no custom scheme)")]
    InvalidAppCallbackUri,
}

impl PermissionError {
    /// The error for a [`kind`](Self::kind) code (for outcomes kept in a
    /// store); unknown codes map to `NotGranted`.
    pub(crate) fn from_kind(kind: &str) -> PermissionError {
        match kind {
            "serialization" => PermissionError::Serialization,
            "missing_digest" => PermissionError::MissingDigest,
            "digest_mismatch" => PermissionError::DigestMismatch,
            "type_mismatch" => PermissionError::TypeMismatch,
            "missing_authorization_details" => PermissionError::MissingAuthorizationDetails,
            "invalid_signed_permission" => PermissionError::InvalidSignedPermission("stored"),
            "statement_mismatch" => PermissionError::StatementMismatch,
            "already_redeemed" => PermissionError::AlreadyRedeemed,
            "too_many_references" => PermissionError::TooManyReferences,
            "grant_not_ready" => PermissionError::GrantNotReady,
            "invalid_app_callback_uri" => PermissionError::InvalidAppCallbackUri,
            _ => PermissionError::NotGranted,
        }
    }

    /// A stable, machine-readable code.
    pub fn kind(&self) -> &'static str {
        match self {
            PermissionError::Serialization => "serialization",
            PermissionError::MissingDigest => "missing_digest",
            PermissionError::DigestMismatch => "digest_mismatch",
            PermissionError::TypeMismatch => "type_mismatch",
            PermissionError::MissingAuthorizationDetails => "missing_authorization_details",
            PermissionError::InvalidSignedPermission(_) => "invalid_signed_permission",
            PermissionError::NotGranted => "not_granted",
            PermissionError::AlreadyRedeemed => "already_redeemed",
            PermissionError::StatementMismatch => "statement_mismatch",
            PermissionError::TooManyReferences => "too_many_references",
            PermissionError::GrantNotReady => "grant_not_ready",
            PermissionError::InvalidAppCallbackUri => "invalid_app_callback_uri",
        }
    }
}
