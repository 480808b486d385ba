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
