//! Upfront permissions: what a user approves besides the login.
//!
//! A permission reaches the simulator either as an item of
//! `authorization_details` in a pushed authorization request (RFC 9396 in
//! RFC 9126) or registered beforehand at the Permission API and named by
//! its `permissionToken`. Either way it is a `type` plus a *statement*: bytes the
//! relying party sends base64url-encoded (no padding) as `permission`.
//!
//! The digest BankID puts in `permission_digest` is, in the simulator,
//! standard base64 **with padding** of SHA-256 over the *decoded statement
//! bytes* — not over the base64url text. BankID's documentation leaves that
//! choice open; the known-answer test below pins the simulator's.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use std::sync::Arc;

use super::users::TestUser;
use crate::clock::unix_now;

/// At most this many `authorization_details` items per request.
const MAX_ITEMS: usize = 16;

/// One thing the user is asked to approve.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Permission {
    /// The item as the client sent it (RAR), or `type` and `permission` of a
    /// registered permission. Echoed in the token response.
    pub(crate) detail: Map<String, Value>,
    /// The permission type, e.g. `payment.v1`.
    pub(crate) kind: String,
    /// The decoded statement bytes.
    pub(crate) statement: Vec<u8>,
    /// [`digest`] of [`statement`](Self::statement).
    pub(crate) digest: String,
    /// Set when the permission was registered at the Permission API.
    pub(crate) permission_id: Option<String>,
    /// Registered with `acr_values: ["urn:bankid:bih"]` alone: the approval
    /// must end in BankID High (BankID, "Forcing step-up at BIB").
    pub(crate) forces_high: bool,
}

impl Permission {
    /// A permission from a type and a base64url statement; `None` if either
    /// is empty or the statement is not unpadded base64url.
    pub(crate) fn new(kind: &str, encoded: &str) -> Option<Permission> {
        let statement = decode_statement(encoded)?;
        if kind.is_empty() {
            return None;
        }
        let mut detail = Map::new();
        detail.insert("type".into(), Value::from(kind));
        detail.insert("permission".into(), Value::from(encoded));
        Some(Permission::from_statement(kind, encoded, statement))
    }

    /// A registered permission: `encoded` already decoded to `statement`
    /// (the Permission API also accepts standard base64).
    pub(crate) fn from_statement(kind: &str, encoded: &str, statement: Vec<u8>) -> Permission {
        let mut detail = Map::new();
        detail.insert("type".into(), Value::from(kind));
        detail.insert("permission".into(), Value::from(encoded));
        Permission {
            detail,
            kind: kind.to_owned(),
            digest: digest(&statement),
            statement,
            permission_id: None,
            forces_high: false,
        }
    }

    /// The statement for a human: pretty-printed if it is JSON, else the
    /// text (invalid UTF-8 replaced).
    pub(crate) fn display_statement(&self) -> String {
        match serde_json::from_slice::<Value>(&self.statement) {
            Ok(json) => serde_json::to_string_pretty(&json).unwrap_or_else(|_| json.to_string()),
            Err(_) => String::from_utf8_lossy(&self.statement).into_owned(),
        }
    }
}

/// `base64(SHA-256(statement))`, standard alphabet with padding.
pub(crate) fn digest(statement: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(statement))
}

/// Decodes a non-empty, unpadded base64url statement.
pub(crate) fn decode_statement(encoded: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(encoded).ok().filter(|bytes| !bytes.is_empty())
}

/// Parses an `authorization_details` parameter: a non-empty JSON array of
/// objects, each with a string `type` and a string `permission` that decodes.
/// Other members are kept and echoed.
pub(crate) fn parse_authorization_details(value: &str) -> Result<Vec<Permission>, &'static str> {
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(value) else {
        return Err("authorization_details must be a JSON array");
    };
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err("authorization_details must hold between 1 and 16 items");
    }
    items
        .into_iter()
        .map(|item| {
            let Value::Object(detail) = item else {
                return Err("each authorization_details item must be an object");
            };
            let kind = detail.get("type").and_then(Value::as_str).ok_or("each item needs a string type")?;
            let encoded =
                detail.get("permission").and_then(Value::as_str).ok_or("each item needs a string permission")?;
            let mut permission =
                Permission::new(kind, encoded).ok_or("permission must be non-empty unpadded base64url")?;
            permission.detail = detail;
            Ok(permission)
        })
        .collect()
}

/// A permission registered at the Permission API.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredPermission {
    /// With `permission_id` set to the registration's `id`.
    pub(crate) permission: Permission,
    pub(crate) status: PermissionStatus,
    /// The registration's `exp`, unix seconds: the grant's `exp`, and the
    /// end of the `permissionToken`'s use.
    pub(crate) exp: u64,
    pub(crate) intents: Vec<String>,
    /// The `loginHint` national identity number, if one was registered.
    pub(crate) nnin: Option<String>,
    /// Made by the simulator at registration, as BankID does.
    pub(crate) binding_message: String,
    /// Set when a CIBA request or a login started with the
    /// `permissionToken`: it is good for one.
    pub(crate) used: bool,
}

/// Where a registered permission stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PermissionStatus {
    /// No login carrying it was decided yet.
    Pending,
    /// `user` approved it at unix time `at`.
    Approved { user: Arc<TestUser>, at: u64 },
    /// The user refused the login carrying it.
    Denied,
}

impl RegisteredPermission {
    /// Records the decision of a login carrying this permission; the latest
    /// decision wins.
    pub(crate) fn decide(&mut self, user: Option<Arc<TestUser>>) {
        self.status = match user {
            Some(user) => PermissionStatus::Approved { user, at: unix_now() },
            None => PermissionStatus::Denied,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATEMENT: &str = r#"{"amount":"123.45","currency":"NOK"}"#;

    #[test]
    fn digest_is_over_the_decoded_statement_bytes() {
        // printf '%s' '{"amount":"123.45","currency":"NOK"}' | openssl dgst -sha256 -binary | base64
        assert_eq!(digest(STATEMENT.as_bytes()), "QFS9dO/Vg7oeuve4I0Owc8etOmyLVNuj3JbyUiVswi8=");
        let encoded = URL_SAFE_NO_PAD.encode(STATEMENT);
        assert_eq!(encoded, "eyJhbW91bnQiOiIxMjMuNDUiLCJjdXJyZW5jeSI6Ik5PSyJ9");
        let permission = Permission::new("payment.v1", &encoded).expect("valid");
        assert_eq!(permission.digest, "QFS9dO/Vg7oeuve4I0Owc8etOmyLVNuj3JbyUiVswi8=");
        assert_ne!(permission.digest, digest(encoded.as_bytes()));
    }

    #[test]
    fn authorization_details_are_checked_and_kept() {
        let encoded = URL_SAFE_NO_PAD.encode(STATEMENT);
        let details = format!(r#"[{{"type":"payment.v1","permission":"{encoded}","extra":1}}]"#);
        let parsed = parse_authorization_details(&details).expect("valid");
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].kind, "payment.v1");
        assert_eq!(parsed[0].detail["extra"], 1);
        assert_eq!(parsed[0].statement, STATEMENT.as_bytes());
        assert!(parsed[0].display_statement().contains("\"amount\": \"123.45\""));

        for bad in [
            "{}".to_owned(),
            "[]".to_owned(),
            "not json".to_owned(),
            "[1]".to_owned(),
            format!(r#"[{{"permission":"{encoded}"}}]"#),
            format!(r#"[{{"type":7,"permission":"{encoded}"}}]"#),
            r#"[{"type":"payment.v1"}]"#.to_owned(),
            r#"[{"type":"payment.v1","permission":"!!"}]"#.to_owned(),
            format!(r#"[{{"type":"payment.v1","permission":"{encoded}=="}}]"#),
            r#"[{"type":"payment.v1","permission":""}]"#.to_owned(),
        ] {
            assert!(parse_authorization_details(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn statements_that_are_not_json_are_shown_as_text() {
        let permission = Permission::new("card.v1", &URL_SAFE_NO_PAD.encode("Pay <b>5</b> NOK")).expect("valid");
        assert_eq!(permission.display_statement(), "Pay <b>5</b> NOK");
    }
}
