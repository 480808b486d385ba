//! BankID's identity providers as an authorization request selects them.
//!
//! BankID OIDC API version 4 selects the identity provider (and with it the
//! level of assurance) with `acr_values`, which BankID now calls the
//! standard selector; the older `login_hint=BIS`/`BID` is still accepted as
//! a legacy alternative (developer.bankid.no, `core-concepts/identity-providers`
//! and `api-versions`). The request is only a wish: the level is always
//! checked on the ID token's `acr`.

use crate::loa::Loa;

/// One of BankID's identity providers: how a request selects it and the
/// level its logins reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdentityProvider {
    /// The `acr_values` entry that selects it (v4's standard selector).
    pub(crate) acr_value: &'static str,
    /// The legacy `login_hint` code that selects it.
    pub(crate) legacy_hint: &'static str,
    /// The level of assurance its logins carry in `acr` (`;LOA=`).
    pub(crate) loa: Loa,
}

/// BankID with biometrics: LOA 3, and the provider that serves the
/// Permission API, so every flow with upfront permissions selects it
/// (`bankid-with-biometrics/advanced-topics/forcing-step-up`).
pub(crate) const BIS: IdentityProvider =
    IdentityProvider { acr_value: "urn:bankid:bis", legacy_hint: "BIS", loa: Loa::SUBSTANTIAL };

/// BankID High (netcentric or app): LOA 4.
pub(crate) const BID: IdentityProvider =
    IdentityProvider { acr_value: "urn:bankid:bid", legacy_hint: "BID", loa: Loa::HIGH };

/// The providers a code-flow request can select. BankID on mobile (BIM) is
/// no longer offered, so it is not here.
const ALL: [IdentityProvider; 2] = [BIS, BID];

impl IdentityProvider {
    /// The provider to ask for when a login needs `loa`: BankID High for
    /// LOA 4, else BankID with biometrics (BankID offers nothing below
    /// LOA 3, so a lower floor still gets BIS, which satisfies it).
    pub(crate) fn for_level(loa: Loa) -> IdentityProvider {
        if loa >= Loa::HIGH { BID } else { BIS }
    }

    /// The provider an `acr_values` entry names, if it is one BankID
    /// documents for the code flow (exact, no `;LOA=` suffix).
    pub(crate) fn by_acr_value(value: &str) -> Option<IdentityProvider> {
        ALL.into_iter().find(|idp| idp.acr_value == value)
    }

    /// The provider a legacy `login_hint` code names (exact: `BIS`, `BID`).
    pub(crate) fn by_legacy_hint(code: &str) -> Option<IdentityProvider> {
        ALL.into_iter().find(|idp| idp.legacy_hint == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_level_selects_the_provider_that_reaches_it() {
        assert_eq!(IdentityProvider::for_level(Loa::HIGH), BID);
        for loa in [Loa::LOW, Loa::TWO, Loa::SUBSTANTIAL] {
            assert_eq!(IdentityProvider::for_level(loa), BIS);
        }
        assert_eq!(IdentityProvider::by_acr_value("urn:bankid:bid"), Some(BID));
        for unknown in ["urn:bankid:bis;LOA=3", "URN:BANKID:BIS", "urn:bankid:bim", "urn:bankid:bih", ""] {
            assert_eq!(IdentityProvider::by_acr_value(unknown), None, "{unknown}");
        }
        assert_eq!(IdentityProvider::by_legacy_hint("BIS"), Some(BIS));
        assert_eq!(IdentityProvider::by_legacy_hint("bis"), None);
    }
}
