//! BankID identity claims, as kept after verification.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::loa::Loa;

/// A verified BankID login: who the user is and how they authenticated.
///
/// Built only from a verified ID token, then stored in the session; reading it
/// back on later requests needs no cryptography and no call to the provider.
/// Its `Debug` output shows the subject and level but no identity numbers.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct AuthenticatedUser {
    /// Subject: the provider's stable, pairwise identifier for the user.
    pub sub: String,
    /// The level of assurance carried by `acr`.
    pub loa: Loa,
    /// The raw `acr` value, e.g. `urn:bankid:bis;LOA=3`.
    pub acr: String,
    /// Authentication methods (`amr`); BankID sends a string or a list, both
    /// become a list.
    pub amr: Vec<String>,
    /// When the user authenticated (seconds since the epoch), if sent.
    pub auth_time: Option<i64>,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Date of birth, `YYYY-MM-DD`.
    pub birthdate: Option<String>,
    /// BankID's personal identifier (PID), if granted: the code flow's
    /// `bankid_altsub`, or `sub_bankid` in a BIB (CIBA) ID token.
    pub bankid_altsub: Option<String>,
    /// The Norwegian national identity number, if granted: the code flow's
    /// `nnin_altsub` (scope `nnin_altsub`), or `sub_nnin` in a BIB (CIBA) ID
    /// token.
    pub nnin_altsub: Option<String>,
    /// Every claim of the ID token.
    pub claims: Map<String, Value>,
}

impl AuthenticatedUser {
    /// Builds the identity from verified claims; `loa` was already checked
    /// against the policy by the caller.
    pub(crate) fn from_claims(claims: Map<String, Value>, loa: Loa) -> Self {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        AuthenticatedUser {
            sub: text("sub").unwrap_or_default(),
            loa,
            acr: text("acr").unwrap_or_default(),
            amr: claims.get("amr").map(amr_list).unwrap_or_default(),
            auth_time: claims.get("auth_time").and_then(Value::as_i64),
            name: text("name"),
            given_name: text("given_name"),
            family_name: text("family_name"),
            birthdate: text("birthdate"),
            // The two providers name the same numbers differently.
            bankid_altsub: text("bankid_altsub").or_else(|| text("sub_bankid")),
            nnin_altsub: text("nnin_altsub").or_else(|| text("sub_nnin")),
            claims,
        }
    }
}

fn amr_list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

impl fmt::Debug for AuthenticatedUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatedUser")
            .field("sub", &self.sub)
            .field("loa", &self.loa)
            .field("acr", &self.acr)
            .field("amr", &self.amr)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_bankid_claims() {
        let claims = json!({
            "sub": "abc", "acr": "urn:bankid:bis;LOA=3", "amr": "bis", "auth_time": 1700000000,
            "name": "Kari Nordmann", "birthdate": "1986-05-17", "nnin_altsub": "01010112345"
        });
        let id = AuthenticatedUser::from_claims(claims.as_object().unwrap().clone(), Loa::SUBSTANTIAL);
        assert_eq!(id.amr, ["bis"]);
        assert_eq!(id.name.as_deref(), Some("Kari Nordmann"));
        assert_eq!(id.auth_time, Some(1700000000));
        let debug = format!("{id:?}");
        assert!(!debug.contains("01010112345"), "{debug}");
    }

    #[test]
    fn reads_bib_identity_numbers_like_the_code_flows() {
        let claims = json!({"sub": "abc", "acr": "urn:bankid:bis", "sub_nnin": "01010112345", "sub_bankid": "9578-6000-4-123456"});
        let id = AuthenticatedUser::from_claims(claims.as_object().unwrap().clone(), Loa::SUBSTANTIAL);
        assert_eq!(id.nnin_altsub.as_deref(), Some("01010112345"));
        assert_eq!(id.bankid_altsub.as_deref(), Some("9578-6000-4-123456"));
    }

    #[test]
    fn amr_list_form() {
        assert_eq!(amr_list(&json!(["bid", "otp"])), ["bid", "otp"]);
        assert!(amr_list(&json!(5)).is_empty());
    }
}
