//! Levels of assurance (LOA) and strict parsing of BankID `acr` values.
//!
//! BankID puts the level in the ID token's `acr` claim as a URN followed by
//! `;`-separated parameters, e.g. `urn:bankid:bis;LOA=3`. The token says what
//! the user actually did, which can differ from what was requested, so the
//! policy is always checked against the token and never against the request.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A level of assurance, 1 (lowest) to 4 (highest), ordered.
///
/// BankID with biometrics (BIS) yields [`Loa::SUBSTANTIAL`] (3), classic
/// BankID yields [`Loa::HIGH`] (4). A higher level always satisfies a lower
/// minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Loa(u8);

impl Loa {
    /// LOA 1.
    pub const LOW: Loa = Loa(1);
    /// LOA 2.
    pub const TWO: Loa = Loa(2);
    /// LOA 3, "substantial": BankID with biometrics.
    pub const SUBSTANTIAL: Loa = Loa(3);
    /// LOA 4, "high": classic BankID.
    pub const HIGH: Loa = Loa(4);

    /// Returns the level for `1..=4`, `None` otherwise.
    pub const fn new(level: u8) -> Option<Loa> {
        match level {
            1..=4 => Some(Loa(level)),
            _ => None,
        }
    }

    /// The numeric level.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// Extracts the level from an `acr` value such as `urn:bankid:bis;LOA=3`.
    ///
    /// Parsing is deliberately strict, because a lenient parser is a way to
    /// smuggle a level past the policy: the value must be a non-empty URN
    /// followed by `;key=value` parameters, with no whitespace anywhere,
    /// exactly one `LOA` parameter, and that parameter a single digit `1`–`4`.
    /// Anything else is "no LOA" (`None`).
    ///
    /// ```
    /// use axum_bankid::Loa;
    /// assert_eq!(Loa::from_acr("urn:bankid:bis;LOA=3"), Some(Loa::SUBSTANTIAL));
    /// assert_eq!(Loa::from_acr("urn:bankid:bid;LOA=4"), Some(Loa::HIGH));
    /// assert_eq!(Loa::from_acr("urn:bankid:bis; LOA=3"), None);
    /// assert_eq!(Loa::from_acr("urn:bankid:bis;LOA=3;LOA=4"), None);
    /// ```
    pub fn from_acr(acr: &str) -> Option<Loa> {
        if acr.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let mut parts = acr.split(';');
        let urn = parts.next()?;
        if urn.is_empty() || urn.contains('=') {
            return None;
        }
        let mut level = None;
        for param in parts {
            let (key, value) = param.split_once('=')?;
            if key.is_empty() {
                return None;
            }
            if key == "LOA" {
                if level.is_some() {
                    return None;
                }
                level = Some(parse_level(value)?);
            }
        }
        level
    }
}

/// Which of BankID's two providers issued a token; the table of bare URNs
/// below applies only to the provider that issues them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcrIssuer {
    /// BankID OIDC: code-flow ID tokens.
    BankIdOidc,
    /// BIB: CIBA ID tokens.
    Bib,
}

/// Known BankID URNs that stand for a level on their own, by issuer.
///
/// BankID OIDC's tokens always carry `;LOA=` (`urn:bankid:bis;LOA=3`,
/// `urn:bankid:bid;LOA=4`): every BankID source shows it, so **no** bare URN
/// from BankID OIDC has a level. BIB's CIBA ID tokens are different: the one
/// public sample carries the bare `urn:bankid:bis`. So a bare URN maps to a
/// level only through this explicit table, and only for tokens of BIB:
///
/// - `urn:bankid:bis` → LOA 3 (BankID with biometrics; the public sample);
/// - `urn:bankid:bih` → LOA 4 — **a guess**: BankID has not published what
///   `acr` BIB puts in a token after a forced step-up to BankID High
///   (`acr_values: ["urn:bankid:bih"]` at registration, see
///   [`BibAcr::High`](crate::permission::BibAcr::High)); this crate assumes BIB
///   echoes the URN it was asked for, as it does for `urn:bankid:bis`.
///
/// Any other value without a strict `LOA=` parameter is "no LOA" — never
/// "no LOA means fine".
const BARE_URNS: [(AcrIssuer, &str, Loa); 2] =
    [(AcrIssuer::Bib, "urn:bankid:bis", Loa::SUBSTANTIAL), (AcrIssuer::Bib, BIB_HIGH_ACR, Loa::HIGH)];

/// The `acr` this crate expects from BIB after a forced step-up to BankID
/// High (see [`BARE_URNS`]: a guess).
pub(crate) const BIB_HIGH_ACR: &str = "urn:bankid:bih";

/// The level of an `acr` from `issuer`: the strict `LOA=` parameter, else a
/// bare URN of [`BARE_URNS`].
pub(crate) fn loa_of(acr: &str, issuer: AcrIssuer) -> Option<Loa> {
    Loa::from_acr(acr)
        .or_else(|| BARE_URNS.iter().find(|(from, urn, _)| *from == issuer && *urn == acr).map(|(_, _, loa)| *loa))
}

/// The LOA policy, the one place it is decided: a level must be known and
/// reach `minimum`. Applied to the ID token at login (through [`check_loa`])
/// and again to the stored login on every request (the minimum may have
/// been raised since). The error carries what was found, if anything.
pub(crate) fn require_minimum(found: Option<Loa>, minimum: Loa) -> Result<Loa, Option<Loa>> {
    match found {
        Some(loa) if loa >= minimum => Ok(loa),
        found => Err(found),
    }
}

/// The policy on an ID token's `acr`: it must be a string whose level (see
/// [`loa_of`]) passes [`require_minimum`].
pub(crate) fn check_loa(acr: Option<&serde_json::Value>, minimum: Loa, issuer: AcrIssuer) -> Result<Loa, Option<Loa>> {
    require_minimum(acr.and_then(serde_json::Value::as_str).and_then(|acr| loa_of(acr, issuer)), minimum)
}

fn parse_level(value: &str) -> Option<Loa> {
    match value.as_bytes() {
        [digit @ b'1'..=b'4'] => Loa::new(digit - b'0'),
        _ => None,
    }
}

impl fmt::Display for Loa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LOA {}", self.0)
    }
}

impl TryFrom<u8> for Loa {
    type Error = String;

    fn try_from(level: u8) -> Result<Self, Self::Error> {
        Loa::new(level).ok_or_else(|| format!("LOA must be 1..=4, got {level}"))
    }
}

impl From<Loa> for u8 {
    fn from(loa: Loa) -> u8 {
        loa.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bankid_values() {
        assert_eq!(Loa::from_acr("urn:bankid:bis;LOA=3"), Some(Loa::SUBSTANTIAL));
        assert_eq!(Loa::from_acr("urn:bankid:bid;LOA=4"), Some(Loa::HIGH));
        assert_eq!(Loa::from_acr("urn:bankid:bim;LOA=4"), Some(Loa::HIGH));
        assert_eq!(Loa::from_acr("urn:bankid:bis;LOA=2"), Some(Loa::TWO));
        assert_eq!(Loa::from_acr("urn:x;foo=bar;LOA=1"), Some(Loa::LOW));
        assert_eq!(Loa::from_acr("urn:x;LOA=3;foo=bar"), Some(Loa::SUBSTANTIAL));
    }

    #[test]
    fn rejects_malformed_values() {
        for acr in [
            "",
            "urn:bankid:bis",
            "urn:bankid:bis;",
            "urn:bankid:bis;LOA=",
            "urn:bankid:bis;LOA=0",
            "urn:bankid:bis;LOA=5",
            "urn:bankid:bis;LOA=33",
            "urn:bankid:bis;LOA=03",
            "urn:bankid:bis;LOA=+3",
            "urn:bankid:bis;LOA=3 ",
            " urn:bankid:bis;LOA=3",
            "urn:bankid:bis; LOA=3",
            "urn:bankid:bis;LOA =3",
            "urn:bankid:bis;LOA=3\n",
            "urn:bankid:bis;\tLOA=3",
            "urn:bankid:bis;loa=3",
            "urn:bankid:bis;LOA=3;LOA=4",
            "urn:bankid:bis;LOA=3;LOA=3",
            "urn:bankid:bis;LOA",
            "urn:bankid:bis;=3",
            "LOA=3",
            ";LOA=3",
            "urn:bankid:bis;LOA=٣",
            "urn:bankid:bis;LOA=3;;",
        ] {
            assert_eq!(Loa::from_acr(acr), None, "{acr:?} must not parse");
        }
    }

    #[test]
    fn bare_bankid_urns_map_only_from_their_issuer() {
        use AcrIssuer::{BankIdOidc, Bib};
        assert_eq!(loa_of("urn:bankid:bis", Bib), Some(Loa::SUBSTANTIAL));
        assert_eq!(loa_of("urn:bankid:bih", Bib), Some(Loa::HIGH), "the named guess for a forced step-up");
        assert_eq!(loa_of("urn:bankid:bis", BankIdOidc), None);
        assert_eq!(loa_of("urn:bankid:bih", BankIdOidc), None);
        assert_eq!(loa_of("urn:bankid:bid", Bib), None);
        for other in ["urn:bankid:BIS", "urn:bankid:bis;", "urn:bankid:other", "urn:bankid:bis ", "urn:bankid:bim", ""]
        {
            assert_eq!(loa_of(other, Bib), None, "{other:?}");
        }
        assert_eq!(loa_of("urn:bankid:bis;LOA=2", Bib), Some(Loa::TWO), "an explicit level wins");
    }

    /// Every BankID source shows `;LOA=` in BankID OIDC tokens: a bare
    /// `urn:bankid:bid` (or `bim`) from BankID OIDC has no source, so no level.
    #[test]
    fn a_bare_bid_from_bankid_oidc_has_no_level() {
        use serde_json::json;
        for bare in ["urn:bankid:bid", "urn:bankid:bim"] {
            assert_eq!(loa_of(bare, AcrIssuer::BankIdOidc), None, "{bare}");
            assert_eq!(check_loa(Some(&json!(bare)), Loa::LOW, AcrIssuer::BankIdOidc), Err(None), "{bare}");
        }
        assert_eq!(loa_of("urn:bankid:bid;LOA=4", AcrIssuer::BankIdOidc), Some(Loa::HIGH));
    }

    #[test]
    fn the_policy_needs_a_string_acr_at_the_minimum() {
        use serde_json::json;
        let bib = AcrIssuer::Bib;
        assert_eq!(check_loa(Some(&json!("urn:bankid:bis")), Loa::SUBSTANTIAL, bib), Ok(Loa::SUBSTANTIAL));
        assert_eq!(check_loa(Some(&json!("urn:bankid:bis")), Loa::HIGH, bib), Err(Some(Loa::SUBSTANTIAL)));
        assert_eq!(check_loa(Some(&json!(3)), Loa::LOW, bib), Err(None));
        assert_eq!(check_loa(None, Loa::LOW, bib), Err(None));
    }

    #[test]
    fn orders_levels() {
        assert!(Loa::HIGH > Loa::SUBSTANTIAL);
        assert!(Loa::TWO < Loa::SUBSTANTIAL);
        assert_eq!(Loa::new(0), None);
        assert_eq!(Loa::new(5), None);
    }

    #[test]
    fn serializes_as_number() {
        assert_eq!(serde_json::to_string(&Loa::SUBSTANTIAL).unwrap(), "3");
        assert!(serde_json::from_str::<Loa>("7").is_err());
    }
}
