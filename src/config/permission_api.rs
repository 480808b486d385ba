//! The permission settings: [`PermissionApiConfig`] (how the Permission
//! API at BIB is used), [`DigestInput`] (what `permission_digest` is
//! computed over) and the upfront permissions as statements. Plain data,
//! kept here so the configuration stays below `permission/`; the public
//! types' one path is `axum_bankid::permission::…`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the `permission_digest` is computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DigestInput {
    /// SHA-256 over the statement's bytes (the JSON). Default.
    #[default]
    StatementBytes,
    /// SHA-256 over the base64url string sent as `permission`.
    EncodedPermission,
}

/// A permission every login asks for
/// ([`upfront_permission`](crate::BankIdConfigBuilder::upfront_permission)),
/// kept as the type's name and the statement's JSON bytes so that the
/// configuration needs no `Permission` trait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UpfrontStatement {
    /// `Permission::TYPE`, e.g. `card.v1`.
    pub(crate) r#type: String,
    /// The statement's JSON serialisation.
    pub(crate) statement: Vec<u8>,
}

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
    /// (BankID: `openid permissions/client`). Default: that. A permission
    /// type's product scopes are added to it (see
    /// [`BankIdConfigBuilder::permission_type_scopes`](crate::BankIdConfigBuilder::permission_type_scopes)).
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
    /// Permission type → the product scopes its client-credentials token
    /// needs besides `scope` (BankID: `text.v1` needs `permissions/text`).
    /// Extended with
    /// [`BankIdConfigBuilder::permission_type_scopes`](crate::BankIdConfigBuilder::permission_type_scopes).
    pub(crate) type_scopes: BTreeMap<String, Vec<String>>,
}

impl Default for PermissionApiConfig {
    fn default() -> Self {
        PermissionApiConfig {
            reference_parameter: "permission_token".into(),
            scope: "openid permissions/client".into(),
            grant_attempts: 10,
            grant_retry_delay: Duration::from_millis(250),
            registration_lifetime: Duration::from_secs(600),
            type_scopes: default_type_scopes(),
        }
    }
}

/// BankID's product scopes by permission type (BankID's Permission API
/// page): `text.v1` needs `permissions/text`. Other products BankID names
/// (`permissions/iframe`, `permissions/app2app`) are flows, not types.
fn default_type_scopes() -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([("text.v1".to_owned(), vec!["permissions/text".to_owned()])])
}

impl PermissionApiConfig {
    /// The client-credentials scope for a call about a permission of
    /// `kind`: `base` (space-separated), then the type's product scopes that
    /// `base` lacks. Deterministic, so equal sets share one cached token.
    pub(crate) fn scope_for(&self, base: &str, kind: &str) -> String {
        let mut scopes: Vec<&str> = base.split_whitespace().collect();
        for extra in self.type_scopes.get(kind).into_iter().flatten() {
            if !scopes.contains(&extra.as_str()) {
                scopes.push(extra);
            }
        }
        scopes.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_types_product_scopes_are_added_once() {
        let config = PermissionApiConfig::default();
        let base = "openid permissions/client";
        assert_eq!(config.scope_for(base, "text.v1"), "openid permissions/client permissions/text");
        assert_eq!(config.scope_for(base, "payment.v1"), base, "no product scope");
        assert_eq!(config.scope_for("openid permissions/text", "text.v1"), "openid permissions/text");
    }
}
