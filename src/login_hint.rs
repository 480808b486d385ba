//! [`LoginHint`]: who a BankID interaction is about, named by the app.
//!
//! One type for three callers: a plain login prefilling the identity
//! number ([`LoginRequest::login_hint`](crate::LoginRequest::login_hint)),
//! a CIBA request ([`CibaRequest::new`](crate::ciba::CibaRequest::new)) and
//! the Permission API ([`Registration::login_hint`](crate::permission::Registration::login_hint),
//! [`PermissionApi::user_exists`](crate::permission::PermissionApi::user_exists)).
//! It lives here, apart from all three, so none of them imports another's
//! module for it; each encodes it for its own wire. Its public path is
//! `axum_bankid::permission::LoginHint`, where BankID's `loginHint` comes
//! from (the Permission API, which CIBA registers through).

use std::fmt;

/// Who a login, a CIBA request or a Permission API call is about. BankID's
/// only published scheme is `nnin` (a Norwegian national identity number,
/// 11 digits): in the Permission API's `loginHint` it is
/// `{"scheme": "nnin", "value": "<11 digits>"}`, in a pushed authorization
/// request `login_hint=:<11 digits>`.
///
/// `Debug` never shows the number.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginHint {
    /// A Norwegian national identity number (11 digits).
    Nnin(String),
}

impl fmt::Debug for LoginHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginHint::Nnin(_) => f.write_str("LoginHint::Nnin(<redacted>)"),
        }
    }
}

impl LoginHint {
    /// Whether the hint is well-formed (checked before anything is sent).
    pub(crate) fn is_valid(&self) -> bool {
        match self {
            LoginHint::Nnin(n) => n.len() == 11 && n.bytes().all(|b| b.is_ascii_digit()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_hints_are_checked_and_never_printed() {
        assert!(LoginHint::Nnin("01018012345".into()).is_valid());
        assert!(!LoginHint::Nnin("0101801234".into()).is_valid());
        assert!(!LoginHint::Nnin("0101801234x".into()).is_valid());
        assert!(!format!("{:?}", LoginHint::Nnin("01018012345".into())).contains("0101"));
    }
}
