//! The simulator's fixed set of test users.
//!
//! Every value here is synthetic. The national identity numbers follow the
//! Norwegian "synthetic identity" convention (80 added to the birth month, as
//! in Skatteetaten's Tenor test data), so they can never belong to a real
//! person, yet they still pass the mod-11 checksum that real parsers apply.

/// A person who can log in at the simulator.
///
/// The login page lists every user in [`Simulator::users`](super::Simulator::users);
/// the one chosen there decides the claims of the ID token and of userinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestUser {
    /// Short, stable identifier, used as the form value on the login page.
    pub id: &'static str,
    /// Full name (`name` claim).
    pub name: &'static str,
    /// Given name (`given_name` claim).
    pub given_name: &'static str,
    /// Family name (`family_name` claim).
    pub family_name: &'static str,
    /// Birth date as `YYYY-MM-DD` (`birthdate` claim).
    pub birthdate: &'static str,
    /// BankID method the user logs in with: `"BIS"` (BankID with
    /// biometrics) or `"BID"` (classic BankID). Lower-cased, it becomes the
    /// only `amr` value.
    pub method: &'static str,
    /// The `acr` claim the user's login yields, e.g. `urn:bankid:bis;LOA=3`.
    pub acr: &'static str,
    /// The level of assurance carried in [`acr`](Self::acr).
    pub loa: u8,
    /// Subject identifier (`sub` claim), stable per user.
    pub sub: &'static str,
    /// BankID's own person identifier (`bankid_altsub` claim).
    pub bankid_altsub: &'static str,
    /// Synthetic Norwegian national identity number (`nnin_altsub` claim,
    /// only released when the `nnin_altsub` scope was requested; `sub_nnin`
    /// in a CIBA ID token). BIB's Permission API takes it as
    /// `loginHint: [{"scheme": "nnin", "value": <nnin>}]`.
    pub nnin: &'static str,
    /// Whether the user has enabled BankID with biometrics in the BankID
    /// app. Only such users can be reached by CIBA, and only they make
    /// BIB's `user-exists` answer `true`.
    pub bib_enabled: bool,
}

impl TestUser {
    /// The label the login page shows, e.g. `Kari Nordmann — BIS, LOA 3`.
    pub fn label(&self) -> String {
        format!("{} — {}, LOA {}", self.name, self.method, self.loa)
    }

    /// The `amr` value of a login by this user (`"bis"` or `"bid"`).
    pub fn amr(&self) -> String {
        self.method.to_ascii_lowercase()
    }
}

/// All test users; the first one is the login page's default choice.
pub(crate) static USERS: [TestUser; 4] = [
    TestUser {
        id: "kari",
        name: "Kari Nordmann",
        given_name: "Kari",
        family_name: "Nordmann",
        birthdate: "1986-05-17",
        method: "BIS",
        acr: "urn:bankid:bis;LOA=3",
        loa: 3,
        sub: "4f0c7a52-1b6e-4d8a-9c31-5a1e0000ka01",
        bankid_altsub: "9578-6000-4-000001",
        nnin: "17858642043",
        bib_enabled: true,
    },
    TestUser {
        id: "ola",
        name: "Ola Nordmann",
        given_name: "Ola",
        family_name: "Nordmann",
        birthdate: "1979-11-02",
        method: "BID",
        acr: "urn:bankid:bid;LOA=4",
        loa: 4,
        sub: "4f0c7a52-1b6e-4d8a-9c31-5a1e00000a02",
        bankid_altsub: "9578-6000-4-000002",
        nnin: "02917943136",
        bib_enabled: true,
    },
    TestUser {
        id: "per",
        name: "Per Lavnivå",
        given_name: "Per",
        family_name: "Lavnivå",
        birthdate: "1992-03-28",
        method: "BIS",
        // A biometric login that only reached "low": lets relying parties
        // test that they reject an LOA below their minimum.
        acr: "urn:bankid:bis;LOA=2",
        loa: 2,
        sub: "4f0c7a52-1b6e-4d8a-9c31-5a1e0000pe03",
        bankid_altsub: "9578-6000-4-000003",
        nnin: "28839245175",
        bib_enabled: true,
    },
    TestUser {
        id: "nina",
        name: "Nina Utenbib",
        given_name: "Nina",
        family_name: "Utenbib",
        birthdate: "1990-08-14",
        method: "BID",
        acr: "urn:bankid:bid;LOA=4",
        loa: 4,
        sub: "4f0c7a52-1b6e-4d8a-9c31-5a1e0000ni04",
        bankid_altsub: "9578-6000-4-000004",
        nnin: "14889010291",
        // Classic BankID only: no push can reach her (CIBA, `user-exists`).
        bib_enabled: false,
    },
];

/// Looks a user up by [`TestUser::id`].
pub(crate) fn find(id: &str) -> Option<&'static TestUser> {
    USERS.iter().find(|user| user.id == id)
}

/// Looks a user up by national identity number ([`TestUser::nnin`]).
pub(crate) fn find_by_nnin(nnin: &str) -> Option<&'static TestUser> {
    USERS.iter().find(|user| user.nnin == nnin)
}

/// The user to pre-select on the login page for an authorization request.
///
/// BankID routes `login_hint=BIS` / `acr_values=urn:bankid:bis` to BankID
/// with biometrics and `BID` / `urn:bankid:bid` to classic BankID, so the
/// page starts on the first user of that method.
pub(crate) fn preselected(login_hint: Option<&str>, acr_values: Option<&str>) -> &'static TestUser {
    let method = login_hint.and_then(method_from_login_hint).or_else(|| acr_values.and_then(method_from_acr_values));
    method.and_then(|method| USERS.iter().find(|user| user.method == method)).unwrap_or(&USERS[0])
}

/// `BIS` and `BID`, optionally followed by `:<user id>` as BankID allows.
fn method_from_login_hint(hint: &str) -> Option<&'static str> {
    let method = hint.split(':').next().unwrap_or_default();
    ["BIS", "BID"].into_iter().find(|m| m.eq_ignore_ascii_case(method))
}

/// The first `urn:bankid:<method>` among the space-separated `acr_values`.
fn method_from_acr_values(acr_values: &str) -> Option<&'static str> {
    acr_values.split_ascii_whitespace().find_map(|value| match value.split(';').next().unwrap_or_default() {
        "urn:bankid:bis" => Some("BIS"),
        "urn:bankid:bid" => Some("BID"),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_method_and_loa() {
        assert_eq!(USERS[0].label(), "Kari Nordmann — BIS, LOA 3");
        assert_eq!(USERS[1].label(), "Ola Nordmann — BID, LOA 4");
        assert_eq!(USERS[2].label(), "Per Lavnivå — BIS, LOA 2");
        assert_eq!(USERS[3].label(), "Nina Utenbib — BID, LOA 4");
    }

    #[test]
    fn acr_matches_method_and_loa() {
        for user in &USERS {
            let expected = format!("urn:bankid:{};LOA={}", user.amr(), user.loa);
            assert_eq!(user.acr, expected, "{}", user.id);
        }
    }

    #[test]
    fn nnins_are_synthetic_and_checksummed() {
        const K1: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
        const K2: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
        let check = |digits: &[u32], weights: &[u32]| {
            let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
            (11 - sum % 11) % 11
        };
        for user in &USERS {
            let digits: Vec<u32> = user.nnin.chars().filter_map(|c| c.to_digit(10)).collect();
            assert_eq!(digits.len(), 11, "{}", user.id);
            let month = digits[2] * 10 + digits[3];
            assert!(month > 80, "{} must use the synthetic month offset", user.id);
            assert_eq!(check(&digits[..9], &K1), digits[9], "{}", user.id);
            assert_eq!(check(&digits[..10], &K2), digits[10], "{}", user.id);
        }
    }

    #[test]
    fn users_are_found_by_nnin_and_only_nina_lacks_biometrics() {
        assert_eq!(find_by_nnin("14889010291").map(|user| user.id), Some("nina"));
        assert_eq!(find_by_nnin("00000000000"), None);
        let without: Vec<&str> = USERS.iter().filter(|user| !user.bib_enabled).map(|user| user.id).collect();
        assert_eq!(without, ["nina"]);
    }

    #[test]
    fn login_hint_and_acr_values_preselect_a_user() {
        assert_eq!(preselected(Some("BIS"), None).id, "kari");
        assert_eq!(preselected(Some("BID"), None).id, "ola");
        assert_eq!(preselected(Some("bid:17858642043"), None).id, "ola");
        assert_eq!(preselected(None, Some("urn:bankid:bid")).id, "ola");
        assert_eq!(preselected(Some("BIM"), None).id, "kari");
        assert_eq!(preselected(None, None).id, "kari");
    }
}
