//! The simulator's test users: the four built-in ones, and the checks a user
//! added by the app (`TestUser::new`, `TestUser::builder`, the program's
//! `--user`) must pass before it can log in.
//!
//! Every built-in value is synthetic. The national identity numbers follow the
//! Norwegian "synthetic identity" convention (80 added to the birth month, as
//! in Skatteetaten's Tenor test data), so they can never belong to a real
//! person, yet they still pass the mod-11 checksum that real parsers apply.

use std::sync::{Arc, LazyLock};

use sha2::{Digest as _, Sha256};

/// A person who can log in at the simulator.
///
/// The login page lists every user of the running simulator
/// ([`Simulator::users`](super::Simulator::users)): the four built-in ones
/// ([`Simulator::default_users`](super::Simulator::default_users)) and any
/// added with [`SimulatorBuilder::user`](super::SimulatorBuilder::user). The
/// one chosen there decides the claims of the ID token and of userinfo.
///
/// A `TestUser` is made by [`TestUser::new`] or [`TestUser::builder`], which
/// validate every field, so its `acr` always agrees with its method and LOA.
/// Its fields are read through the accessor methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestUser {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) given_name: String,
    pub(crate) family_name: String,
    pub(crate) birthdate: String,
    pub(crate) method: &'static str,
    pub(crate) acr: String,
    pub(crate) loa: u8,
    pub(crate) sub: String,
    pub(crate) bankid_altsub: String,
    pub(crate) nnin: String,
    pub(crate) bib_enabled: bool,
}

impl TestUser {
    /// A user logging in with BankID with biometrics (`BIS`, LOA 3,
    /// biometrics enabled), with `sub` and `bankid_altsub` derived from `id`.
    /// Shorthand for `TestUser::builder(id, name, nnin, birthdate).build()`;
    /// see [`TestUserBuilder`] for the rules and the other choices.
    ///
    /// # Errors
    ///
    /// A [`UserError`] naming the first field that breaks its rule.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        nnin: impl Into<String>,
        birthdate: impl Into<String>,
    ) -> Result<TestUser, UserError> {
        TestUser::builder(id, name, nnin, birthdate).build()
    }

    /// A builder for a user whose method, LOA or biometrics differ from the
    /// defaults of [`TestUser::new`].
    pub fn builder(
        id: impl Into<String>,
        name: impl Into<String>,
        nnin: impl Into<String>,
        birthdate: impl Into<String>,
    ) -> TestUserBuilder {
        TestUserBuilder {
            id: id.into(),
            name: name.into(),
            nnin: nnin.into(),
            birthdate: birthdate.into(),
            method: None,
            loa: None,
            bib_enabled: None,
        }
    }

    /// Short, stable identifier, used as the form value on the login page
    /// and by [`Simulator::set_ciba_behavior`](super::Simulator::set_ciba_behavior).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Full name (`name` claim).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Given name (`given_name` claim): every word of the name but the last.
    pub fn given_name(&self) -> &str {
        &self.given_name
    }

    /// Family name (`family_name` claim): the last word of the name.
    pub fn family_name(&self) -> &str {
        &self.family_name
    }

    /// Birth date as `YYYY-MM-DD` (`birthdate` claim).
    pub fn birthdate(&self) -> &str {
        &self.birthdate
    }

    /// BankID method the user logs in with: `"BIS"` (BankID with
    /// biometrics) or `"BID"` (classic BankID). Lower-cased, it becomes the
    /// only `amr` value.
    pub fn method(&self) -> &str {
        self.method
    }

    /// The `acr` claim the user's login yields,
    /// `urn:bankid:<bis|bid>;LOA=<loa>`, e.g. `urn:bankid:bis;LOA=3`.
    pub fn acr(&self) -> &str {
        &self.acr
    }

    /// The level of assurance carried in [`acr`](Self::acr).
    pub fn loa(&self) -> u8 {
        self.loa
    }

    /// Subject identifier (`sub` claim), stable per user.
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// The user's `sub` at BIB (in CIBA ID tokens and grants). BIB is another
    /// issuer than BankID OIDC, and a `sub` is unique per issuer only (OIDC
    /// Core §2): the two look nothing alike, as at BankID. Derived from
    /// [`sub`](Self::sub): 43 base64url characters.
    pub fn bib_sub(&self) -> String {
        use base64::Engine as _;
        let hash = Sha256::digest(format!("axum-bankid-simulator BIB subject {}", self.sub).as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash)
    }

    /// BankID's own person identifier (`bankid_altsub` claim).
    pub fn bankid_altsub(&self) -> &str {
        &self.bankid_altsub
    }

    /// Synthetic Norwegian national identity number, 11 digits (`nnin_altsub`
    /// claim, only released when the `nnin_altsub` scope was requested;
    /// `sub_nnin` in a CIBA ID token). BIB's Permission API takes it as
    /// `loginHint: [{"scheme": "nnin", "value": <nnin>}]`.
    pub fn nnin(&self) -> &str {
        &self.nnin
    }

    /// Whether the user has enabled BankID with biometrics in the BankID
    /// app. Only such users can be reached by CIBA, and only they make
    /// BIB's `user-exists` answer `true`.
    pub fn bib_enabled(&self) -> bool {
        self.bib_enabled
    }

    /// The label the login page shows, e.g. `Kari Nordmann — BIS, LOA 3`.
    pub fn label(&self) -> String {
        format!("{} — {}, LOA {}", self.name, self.method, self.loa)
    }

    /// The `amr` of a login by this user with their own method, as BankID
    /// OIDC API v4 issues it: `["bis-mfa", "bis-hwk"]` for BIS, `["bid"]`
    /// for BID.
    pub fn amr(&self) -> &'static [&'static str] {
        amr_of(self.method)
    }
}

/// The `amr` of a login with `method`, as BankID OIDC API v4 issues it: an
/// array. BIS: `["bis-mfa", "bis-hwk"]` (biometrics with a hardware-bound
/// key; a fallback to BankID inside BIS is `["bis-mfa", "bis-bid"]`, see
/// `step_up.rs`); BankID High: `["bid"]`. Both are examples from
/// BankID's `understanding-authentication-methods`; which one a given
/// login gets is the simulator's choice.
pub(crate) fn amr_of(method: &str) -> &'static [&'static str] {
    match method {
        "BID" => &["bid"],
        _ => &["bis-mfa", "bis-hwk"],
    }
}

/// Builds a validated [`TestUser`]; made by [`TestUser::builder`].
///
/// The rules, each refused with its own [`UserError`]:
///
/// - `id`: 1 to 32 ASCII letters, digits, `-` or `_` (it is a form value).
/// - `name`: a given and a family name separated by a space, no control
///   characters, at most 100 characters; the last word becomes
///   `family_name`, the rest `given_name`.
/// - `nnin`: 11 digits whose two mod-11 check digits are right (the
///   Norwegian national identity number's rule; the simulator's own users
///   use Skatteetaten's synthetic "month + 80" numbers, which pass it).
/// - `birthdate`: a real calendar date as `YYYY-MM-DD`.
/// - `method`: `BIS` or `BID` (any case). Default `BIS`.
/// - `loa`: 3 or 4. Default: what BankID issues for the method, LOA 3 for
///   `BIS` and LOA 4 for `BID` (BankID's acr values: `urn:bankid:bis;LOA=3`,
///   `urn:bankid:bid;LOA=4`). The other pairing is allowed, to test a
///   relying party's LOA policy; LOA 1 and 2 are not issued by BankID.
/// - `bib_enabled`: default `true`; `false` only with method `BID`, since a
///   `BIS` login needs biometrics.
///
/// `acr` is always `urn:bankid:<method>;LOA=<loa>`; `sub` is a UUID-shaped
/// value and `bankid_altsub` a `9578-6000-4-NNNNNN` value, both derived from
/// the SHA-256 of the `id`, so the same id always yields the same claims.
#[derive(Debug, Clone)]
#[must_use = "call build() to get the user"]
pub struct TestUserBuilder {
    id: String,
    name: String,
    nnin: String,
    birthdate: String,
    method: Option<String>,
    loa: Option<u8>,
    bib_enabled: Option<bool>,
}

impl TestUserBuilder {
    /// The BankID method, `BIS` or `BID`.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// The level of assurance, 3 or 4, instead of the method's own.
    pub fn loa(mut self, loa: u8) -> Self {
        self.loa = Some(loa);
        self
    }

    /// Whether the user has BankID with biometrics (CIBA, `user-exists`).
    pub fn bib_enabled(mut self, enabled: bool) -> Self {
        self.bib_enabled = Some(enabled);
        self
    }

    /// Checks every field (see [`TestUserBuilder`]) and derives the rest.
    ///
    /// # Errors
    ///
    /// A [`UserError`] naming the first field, in the order id, name, nnin,
    /// birthdate, method, loa, bib, that breaks its rule.
    pub fn build(self) -> Result<TestUser, UserError> {
        check_id(&self.id)?;
        let (given_name, family_name) = split_name(&self.name)?;
        check_nnin(&self.nnin)?;
        check_birthdate(&self.birthdate)?;
        let method = match self.method.as_deref() {
            None => BIS,
            Some(m) if m.eq_ignore_ascii_case(BIS) => BIS,
            Some(m) if m.eq_ignore_ascii_case(BID) => BID,
            Some(other) => return Err(UserError::UnknownMethod(other.to_owned())),
        };
        let loa = match self.loa {
            None if method == BID => 4,
            None => 3,
            Some(loa @ (3 | 4)) => loa,
            Some(other) => return Err(UserError::UnsupportedLoa(other)),
        };
        let bib_enabled = self.bib_enabled.unwrap_or(true);
        if method == BIS && !bib_enabled {
            return Err(UserError::BisWithoutBiometrics);
        }
        let (sub, bankid_altsub) = derived_ids(&self.id);
        Ok(TestUser {
            acr: format!("urn:bankid:{};LOA={loa}", method.to_ascii_lowercase()),
            id: self.id,
            name: self.name,
            given_name,
            family_name,
            birthdate: self.birthdate,
            method,
            loa,
            sub,
            bankid_altsub,
            nnin: self.nnin,
            bib_enabled,
        })
    }
}

/// Why a [`TestUser`] or a simulator's list of users was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// The `id` is empty, longer than 32 characters or not made of ASCII
    /// letters, digits, `-` and `_`.
    #[error("id {0:?}: must be 1 to 32 ASCII letters, digits, '-' or '_'")]
    InvalidId(String),
    /// The `name` is not a given and a family name, has control characters
    /// or is longer than 100 characters.
    #[error("name: must be a given and a family name separated by a space, at most 100 characters")]
    InvalidName,
    /// The `nnin` is not exactly 11 ASCII digits. The value is not repeated.
    #[error("nnin: must be exactly 11 digits")]
    NninNotElevenDigits,
    /// The `nnin`'s check digits are wrong (mod-11). The value is not repeated.
    #[error("nnin: the mod-11 check digits are wrong")]
    NninChecksum,
    /// The `birthdate` is not a real date as `YYYY-MM-DD`.
    #[error("birthdate {0:?}: must be a real date as YYYY-MM-DD")]
    InvalidBirthdate(String),
    /// The `method` is neither `BIS` nor `BID`.
    #[error("method {0:?}: must be BIS or BID")]
    UnknownMethod(String),
    /// The `loa` is not 3 or 4, the levels BankID issues.
    #[error("loa {0}: must be 3 or 4")]
    UnsupportedLoa(u8),
    /// `bib_enabled` is `false` for a `BIS` user, who logs in with biometrics.
    #[error("bib: a BIS user must have BankID with biometrics enabled")]
    BisWithoutBiometrics,
    /// Another user of the simulator already has this `id`, `sub`,
    /// `bankid_altsub` or `nnin`.
    #[error("{field}: already taken by user {taken_by:?}")]
    Duplicate {
        /// The field that collides: `"id"`, `"sub"`, `"bankid_altsub"` or `"nnin"`.
        field: &'static str,
        /// The [`TestUser::id`] of the user who has it already.
        taken_by: String,
    },
}

impl UserError {
    /// A stable, machine-readable name of the error, e.g. `"nnin_checksum"`.
    pub fn kind(&self) -> &'static str {
        match self {
            UserError::InvalidId(_) => "invalid_id",
            UserError::InvalidName => "invalid_name",
            UserError::NninNotElevenDigits => "nnin_not_eleven_digits",
            UserError::NninChecksum => "nnin_checksum",
            UserError::InvalidBirthdate(_) => "invalid_birthdate",
            UserError::UnknownMethod(_) => "unknown_method",
            UserError::UnsupportedLoa(_) => "unsupported_loa",
            UserError::BisWithoutBiometrics => "bis_without_biometrics",
            UserError::Duplicate { .. } => "duplicate",
        }
    }

    /// The field the error is about: `"id"`, `"name"`, `"nnin"`,
    /// `"birthdate"`, `"method"`, `"loa"`, `"bib"`, or for
    /// [`UserError::Duplicate`] the field that collides.
    pub fn field(&self) -> &'static str {
        match self {
            UserError::InvalidId(_) => "id",
            UserError::InvalidName => "name",
            UserError::NninNotElevenDigits | UserError::NninChecksum => "nnin",
            UserError::InvalidBirthdate(_) => "birthdate",
            UserError::UnknownMethod(_) => "method",
            UserError::UnsupportedLoa(_) => "loa",
            UserError::BisWithoutBiometrics => "bib",
            UserError::Duplicate { field, .. } => field,
        }
    }
}

const BIS: &str = "BIS";
const BID: &str = "BID";

fn check_id(id: &str) -> Result<(), UserError> {
    let valid = (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid { Ok(()) } else { Err(UserError::InvalidId(id.to_owned())) }
}

/// `(given_name, family_name)`: the family name is the last word.
fn split_name(name: &str) -> Result<(String, String), UserError> {
    if name.chars().count() > 100 || name.chars().any(char::is_control) || name.trim() != name {
        return Err(UserError::InvalidName);
    }
    match name.rsplit_once(' ') {
        Some((given, family)) if !given.trim().is_empty() && !family.is_empty() => {
            Ok((given.trim_end().to_owned(), family.to_owned()))
        }
        _ => Err(UserError::InvalidName),
    }
}

/// The Norwegian national identity number's two mod-11 check digits
/// (Skatteetaten's weights), over the 11 digits of `nnin`.
fn check_nnin(nnin: &str) -> Result<(), UserError> {
    if nnin.len() != 11 || !nnin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UserError::NninNotElevenDigits);
    }
    const K1: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
    const K2: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    let digits: Vec<u32> = nnin.bytes().map(|b| u32::from(b - b'0')).collect();
    // A remainder of 1 gives the check digit 11 - 1 = 10, which no number
    // can carry: such a number does not exist, so it never matches.
    let check = |weights: &[u32]| {
        let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
        (11 - sum % 11) % 11
    };
    if check(&K1) == digits[9] && check(&K2) == digits[10] { Ok(()) } else { Err(UserError::NninChecksum) }
}

/// `YYYY-MM-DD`, a day that exists (leap years included).
fn check_birthdate(birthdate: &str) -> Result<(), UserError> {
    let bad = || UserError::InvalidBirthdate(birthdate.to_owned());
    let bytes = birthdate.as_bytes();
    let digits_at = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    if bytes.len() != 10
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !digits_at(0..4)
        || !digits_at(5..7)
        || !digits_at(8..10)
    {
        return Err(bad());
    }
    let number = |range: std::ops::Range<usize>| birthdate[range].parse::<u32>().map_err(|_| bad());
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if (1..=days_in_month).contains(&day) { Ok(()) } else { Err(bad()) }
}

/// `sub` (UUID-shaped) and `bankid_altsub` (`9578-6000-4-NNNNNN`) from the
/// SHA-256 of the id: stable across runs, distinct per id.
fn derived_ids(id: &str) -> (String, String) {
    let hash = Sha256::digest(format!("axum-bankid-simulator test user {id}").as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    let sub = format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]);
    let number = u32::from_be_bytes([hash[16], hash[17], hash[18], hash[19]]) % 1_000_000;
    (sub, format!("9578-6000-4-{number:06}"))
}

/// One built-in user; its values are fixed and checked by the tests below.
#[allow(clippy::too_many_arguments)]
fn built_in(
    id: &str,
    (given_name, family_name): (&str, &str),
    birthdate: &str,
    (method, loa): (&'static str, u8),
    sub: &str,
    bankid_altsub: &str,
    nnin: &str,
    bib_enabled: bool,
) -> TestUser {
    TestUser {
        id: id.to_owned(),
        name: format!("{given_name} {family_name}"),
        given_name: given_name.to_owned(),
        family_name: family_name.to_owned(),
        birthdate: birthdate.to_owned(),
        method,
        acr: format!("urn:bankid:{};LOA={loa}", method.to_ascii_lowercase()),
        loa,
        sub: sub.to_owned(),
        bankid_altsub: bankid_altsub.to_owned(),
        nnin: nnin.to_owned(),
        bib_enabled,
    }
}

/// The four built-in users, every simulator's first four; the first one is
/// the login page's default choice.
pub(crate) static DEFAULT_USERS: LazyLock<Vec<TestUser>> = LazyLock::new(|| {
    vec![
        built_in(
            "kari",
            ("Kari", "Nordmann"),
            "1986-05-17",
            (BIS, 3),
            "4f0c7a52-1b6e-4d8a-9c31-5a1e0000ka01",
            "9578-6000-4-000001",
            "17858642043",
            true,
        ),
        built_in(
            "ola",
            ("Ola", "Nordmann"),
            "1979-11-02",
            (BID, 4),
            "4f0c7a52-1b6e-4d8a-9c31-5a1e00000a02",
            "9578-6000-4-000002",
            "02917943136",
            true,
        ),
        // A biometric login that only reached "low" (LOA 2, which an added
        // user cannot have): lets relying parties test that they reject an
        // LOA below their minimum.
        built_in(
            "per",
            ("Per", "Lavnivå"),
            "1992-03-28",
            (BIS, 2),
            "4f0c7a52-1b6e-4d8a-9c31-5a1e0000pe03",
            "9578-6000-4-000003",
            "28839245175",
            true,
        ),
        // Classic BankID only: no push can reach her (CIBA, `user-exists`).
        built_in(
            "nina",
            ("Nina", "Utenbib"),
            "1990-08-14",
            (BID, 4),
            "4f0c7a52-1b6e-4d8a-9c31-5a1e0000ni04",
            "9578-6000-4-000004",
            "14889010291",
            false,
        ),
    ]
});

/// One simulator's users, fixed when it starts: the built-in ones, then the
/// added ones in the order they were added. Shared by the handlers, which
/// keep an `Arc` of the user a login, code or grant belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Users(Vec<Arc<TestUser>>);

impl Default for Users {
    fn default() -> Self {
        Users(DEFAULT_USERS.iter().cloned().map(Arc::new).collect())
    }
}

impl Users {
    /// Adds `user` unless another user has its id, sub, bankid_altsub or
    /// nnin: a second user with a taken nnin would silently never be found.
    pub(crate) fn add(&mut self, user: TestUser) -> Result<(), UserError> {
        for other in &self.0 {
            let field = if other.id == user.id {
                "id"
            } else if other.sub == user.sub {
                "sub"
            } else if other.bankid_altsub == user.bankid_altsub {
                "bankid_altsub"
            } else if other.nnin == user.nnin {
                "nnin"
            } else {
                continue;
            };
            return Err(UserError::Duplicate { field, taken_by: other.id.clone() });
        }
        self.0.push(Arc::new(user));
        Ok(())
    }

    /// Every user, the login page's order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<TestUser>> {
        self.0.iter()
    }

    /// Looks a user up by [`TestUser::id`].
    pub(crate) fn find(&self, id: &str) -> Option<&Arc<TestUser>> {
        self.0.iter().find(|user| user.id == id)
    }

    /// Looks a user up by national identity number ([`TestUser::nnin`]).
    pub(crate) fn find_by_nnin(&self, nnin: &str) -> Option<&Arc<TestUser>> {
        self.0.iter().find(|user| user.nnin == nnin)
    }

    /// The user after `user` in the list, wrapping around (for
    /// `Fault::OtherPerson`).
    pub(crate) fn next_after(&self, user: &TestUser) -> &Arc<TestUser> {
        let at = self.0.iter().position(|u| u.id == user.id).unwrap_or_default();
        &self.0[(at + 1) % self.0.len()]
    }

    /// The user to pre-select on the login page for an authorization request.
    ///
    /// BankID routes `login_hint=BIS` / `acr_values=urn:bankid:bis` to BankID
    /// with biometrics and `BID` / `urn:bankid:bid` to classic BankID, so the
    /// page starts on the first user of that method.
    pub(crate) fn preselected(&self, login_hint: Option<&str>, acr_values: Option<&str>) -> &Arc<TestUser> {
        // `acr_values` is BankID's standard selector and wins over the
        // legacy `login_hint`, as it does for the method (`step_up.rs`).
        let method =
            acr_values.and_then(method_from_acr_values).or_else(|| login_hint.and_then(method_from_login_hint));
        method.and_then(|method| self.0.iter().find(|user| user.method == method)).unwrap_or(&self.0[0])
    }
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

    /// The first nnin with valid check digits for the nine digits `base`.
    fn with_check_digits(base: &str) -> String {
        (0..100).map(|n| format!("{base}{n:02}")).find(|nnin| check_nnin(nnin).is_ok()).expect("a valid nnin")
    }

    #[test]
    fn labels_name_method_and_loa() {
        let labels: Vec<String> = DEFAULT_USERS.iter().map(TestUser::label).collect();
        assert_eq!(
            labels,
            [
                "Kari Nordmann — BIS, LOA 3",
                "Ola Nordmann — BID, LOA 4",
                "Per Lavnivå — BIS, LOA 2",
                "Nina Utenbib — BID, LOA 4"
            ]
        );
    }

    #[test]
    fn acr_matches_method_and_loa() {
        for user in DEFAULT_USERS.iter() {
            let expected = format!("urn:bankid:{};LOA={}", user.method.to_ascii_lowercase(), user.loa);
            assert_eq!(user.acr, expected, "{}", user.id);
        }
    }

    #[test]
    fn nnins_are_synthetic_and_checksummed() {
        for user in DEFAULT_USERS.iter() {
            assert_eq!(check_nnin(&user.nnin), Ok(()), "{}", user.id);
            let month: u32 = user.nnin[2..4].parse().expect("digits");
            assert!(month > 80, "{} must use the synthetic month offset", user.id);
            assert_eq!(check_birthdate(&user.birthdate), Ok(()), "{}", user.id);
        }
    }

    #[test]
    fn users_are_found_by_nnin_and_only_nina_lacks_biometrics() {
        let users = Users::default();
        assert_eq!(users.find_by_nnin("14889010291").map(|user| user.id.as_str()), Some("nina"));
        assert_eq!(users.find_by_nnin("00000000000"), None);
        let without: Vec<&str> = users.iter().filter(|user| !user.bib_enabled).map(|user| user.id.as_str()).collect();
        assert_eq!(without, ["nina"]);
    }

    #[test]
    fn login_hint_and_acr_values_preselect_a_user() {
        let users = Users::default();
        let preselected = |hint, acr| users.preselected(hint, acr).id.clone();
        assert_eq!(preselected(Some("BIS"), None), "kari");
        assert_eq!(preselected(Some("BID"), None), "ola");
        assert_eq!(preselected(Some("bid:17858642043"), None), "ola");
        assert_eq!(preselected(None, Some("urn:bankid:bid")), "ola");
        assert_eq!(preselected(Some("BIM"), None), "kari");
        assert_eq!(preselected(None, None), "kari");
    }

    #[test]
    fn a_new_user_gets_derived_values() {
        let nnin = with_check_digits("318190123");
        let user = TestUser::new("ann", "Ann Marie Test", nnin.clone(), "1990-01-31").expect("valid");
        assert_eq!((user.given_name(), user.family_name()), ("Ann Marie", "Test"));
        assert_eq!((user.method(), user.loa(), user.acr()), ("BIS", 3, "urn:bankid:bis;LOA=3"));
        assert!(user.bib_enabled());
        assert_eq!(user.nnin(), nnin);
        // Deterministic, UUID-shaped, and different for another id.
        let again = TestUser::new("ann", "Ann Marie Test", nnin.clone(), "1990-01-31").expect("valid");
        assert_eq!((user.sub(), user.bankid_altsub()), (again.sub(), again.bankid_altsub()));
        let sub_groups: Vec<usize> = user.sub().split('-').map(str::len).collect();
        assert_eq!(sub_groups, [8, 4, 4, 4, 12]);
        assert!(user.bankid_altsub().starts_with("9578-6000-4-") && user.bankid_altsub().len() == 18);
        let other = TestUser::new("bob", "Bob Test", nnin, "1990-01-31").expect("valid");
        assert_ne!(user.sub(), other.sub());
    }

    #[test]
    fn loa_follows_the_method_unless_given_and_acr_always_agrees() {
        let nnin = with_check_digits("318190123");
        let build = |method: Option<&str>, loa: Option<u8>| {
            let mut builder = TestUser::builder("ann", "Ann Test", nnin.clone(), "1990-01-31");
            if let Some(method) = method {
                builder = builder.method(method);
            }
            if let Some(loa) = loa {
                builder = builder.loa(loa);
            }
            builder.build().map(|user| (user.method, user.loa, user.acr))
        };
        assert_eq!(build(Some("BID"), None), Ok(("BID", 4, "urn:bankid:bid;LOA=4".to_owned())));
        assert_eq!(build(Some("bid"), None), Ok(("BID", 4, "urn:bankid:bid;LOA=4".to_owned())));
        assert_eq!(build(Some("BIS"), Some(4)), Ok(("BIS", 4, "urn:bankid:bis;LOA=4".to_owned())));
        assert_eq!(build(Some("BID"), Some(3)), Ok(("BID", 3, "urn:bankid:bid;LOA=3".to_owned())));
        assert_eq!(build(None, Some(2)).map_err(|e| e.kind()), Err("unsupported_loa"));
        assert_eq!(build(None, Some(5)).map_err(|e| e.kind()), Err("unsupported_loa"));
        assert_eq!(build(Some("BIM"), None), Err(UserError::UnknownMethod("BIM".to_owned())));
    }

    #[test]
    fn each_bad_field_is_named() {
        let nnin = with_check_digits("318190123");
        let valid = || TestUser::builder("ann", "Ann Test", nnin.clone(), "1990-01-31");
        let error = |builder: TestUserBuilder| builder.build().map(|_| ()).map_err(|e| (e.kind(), e.field()));
        let make = |id: &str, name: &str, nnin: &str, birthdate: &str| TestUser::builder(id, name, nnin, birthdate);
        assert_eq!(error(valid()), Ok(()));
        for id in ["", "ann test", "<b>", "ä", &"x".repeat(33)] {
            assert_eq!(error(make(id, "Ann Test", &nnin, "1990-01-31")), Err(("invalid_id", "id")), "{id:?}");
        }
        for name in ["Ann", "", " Ann Test", "Ann Test ", "Ann\nTest", " Test"] {
            assert_eq!(error(make("ann", name, &nnin, "1990-01-31")), Err(("invalid_name", "name")), "{name:?}");
        }
        for bad in ["1781864204", "178586420431", "1785864204x", "+7858642043", "17858642043 "] {
            assert_eq!(error(make("ann", "Ann Test", bad, "1990-01-31")), Err(("nnin_not_eleven_digits", "nnin")));
        }
        // Kari's number with either check digit changed.
        for bad in ["17858642044", "17858642053"] {
            assert_eq!(error(make("ann", "Ann Test", bad, "1990-01-31")), Err(("nnin_checksum", "nnin")), "{bad}");
        }
        for date in [
            "1990-02-30",
            "1900-02-29",
            "1990-13-01",
            "1990-00-10",
            "1990-01-00",
            "90-01-31",
            "1990/01/31",
            "1990-1-31",
            "+990-01-31",
        ] {
            assert_eq!(error(make("ann", "Ann Test", &nnin, date)), Err(("invalid_birthdate", "birthdate")), "{date}");
        }
        assert_eq!(error(make("ann", "Ann Test", &nnin, "2000-02-29")), Ok(()), "a leap day");
        assert_eq!(error(valid().method("")), Err(("unknown_method", "method")));
        assert_eq!(error(valid().loa(2)), Err(("unsupported_loa", "loa")));
        assert_eq!(error(valid().bib_enabled(false)), Err(("bis_without_biometrics", "bib")));
        assert_eq!(error(valid().method("BID").bib_enabled(false)), Ok(()));
    }

    #[test]
    fn error_messages_do_not_repeat_the_nnin() {
        let checksum = TestUser::new("ann", "Ann Test", "17858642044", "1990-01-31").expect_err("bad");
        assert!(!checksum.to_string().contains("17858642044"), "{checksum}");
        let mut users = Users::default();
        let taken = users.add(TestUser::new("kari2", "Kari Kopi", "17858642043", "1986-05-17").expect("valid"));
        let taken = taken.expect_err("duplicate");
        assert_eq!(taken, UserError::Duplicate { field: "nnin", taken_by: "kari".to_owned() });
        assert!(!taken.to_string().contains("17858642043"), "{taken}");
    }

    #[test]
    fn an_added_user_must_not_collide_with_another() {
        let mut users = Users::default();
        let nnin = with_check_digits("318190123");
        let ann = TestUser::new("ann", "Ann Test", nnin.clone(), "1990-01-31").expect("valid");
        assert_eq!(users.add(ann.clone()), Ok(()));
        assert_eq!(users.find("ann").map(|user| user.as_ref()), Some(&ann));
        assert_eq!(users.find_by_nnin(&nnin).map(|user| user.id.as_str()), Some("ann"));
        let same_id = TestUser::new("kari", "Kari Annen", with_check_digits("318190124"), "1990-01-01").expect("valid");
        assert_eq!(users.add(same_id).map_err(|e| (e.field(), e.kind())), Err(("id", "duplicate")));
        let same_nnin = TestUser::new("anna", "Anna Test", nnin, "1990-01-31").expect("valid");
        assert_eq!(users.add(same_nnin).map_err(|e| (e.field(), e.kind())), Err(("nnin", "duplicate")));
        let mut same_sub = TestUser::new("bob", "Bob Test", with_check_digits("028190100"), "1990-01-02").expect("ok");
        same_sub.sub = ann.sub.clone();
        assert_eq!(users.add(same_sub).map_err(|e| e.field()), Err("sub"));
        assert_eq!(users.iter().count(), 5, "nothing was added by a refused user");
        assert_eq!(users.next_after(&ann).id, "kari", "the list wraps around");
    }
}
