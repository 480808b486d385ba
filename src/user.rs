//! The logged-in user: [`AuthenticatedUser`], a shared handle to its [`User`] (who logged in — issuer and
//! subject — and how: level, `acr`, `amr`, `auth_time`) and its [`Claims`],
//! as kept in the session after the ID token was verified.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::loa::Loa;

/// A verified BankID login: who the user is and how they authenticated —
/// the proof an extractor hands a handler.
///
/// Built only from a verified ID token, then stored in the session; reading it
/// back on later requests needs no cryptography and no call to the provider.
/// It is a shared handle to the login's [`User`] (read its fields through
/// `Deref`: `user.sub`, `user.loa`), so cloning it — as every request that
/// extracts it does — copies no string. Its `Debug` output shows the subject
/// and level but no identity numbers.
///
/// It serialises (an app may answer it as JSON) but never deserialises: a
/// user exists only from a verified token, never from JSON an attacker can
/// write. The crate keeps its own stored form.
///
/// ```compile_fail
/// // No JSON becomes a user:
/// let user: axum_bankid::AuthenticatedUser = serde_json::from_str("{}").unwrap();
/// ```
#[derive(Clone, PartialEq)]
pub struct AuthenticatedUser(Arc<User>);

/// Who logged in — issuer and subject — and how (level, `acr`, `amr`,
/// `auth_time`), as the verified ID token said: what an
/// [`AuthenticatedUser`] derefs to.
#[derive(Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct User {
    /// Issuer of the ID token: BankID OIDC for a code-flow login, BIB for a
    /// CIBA login. A `sub` is unique per issuer only (OIDC Core §2): the
    /// user's identity is the pair (`iss`, `sub`), never `sub` alone.
    pub iss: String,
    /// Subject: the issuer's stable, pairwise identifier for the user. The
    /// two BankID issuers give the same person different `sub`s.
    pub sub: String,
    /// The level of assurance carried by `acr`.
    pub loa: Loa,
    /// The raw `acr` value, e.g. `urn:bankid:bis;LOA=3`.
    pub acr: String,
    /// Authentication methods (`amr`), e.g. `["bis-mfa", "bis-bid"]`;
    /// BankID API v4 sends a list (a single string from older tokens becomes
    /// a one-item list). For display and statistics only: BankID says never
    /// to base a security decision on `amr` — use [`loa`](Self::loa).
    pub amr: Vec<String>,
    /// When the user authenticated (seconds since the epoch), if sent.
    pub auth_time: Option<i64>,
    /// The provider's session id (`sid`), if sent; back-channel logout
    /// names sessions by it.
    pub sid: Option<String>,
    /// BankID's API version of the token (`api_ver`, e.g. `"4"`), if sent;
    /// a number is kept as its decimal text.
    pub api_ver: Option<String>,
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
    /// Every claim of the ID token. Reads like a `Map<String, Value>`
    /// (`user.claims.get("sid")`, `user.claims["iss"]`, `&*user.claims`);
    /// decoded from the stored login the first time it is read, so requests
    /// that only use the fields above never decode it.
    pub claims: Claims,
}

/// Every claim of a verified ID token, as a [`Map`] (through [`Deref`]).
///
/// A login read back from the session carries its claims undecoded; the map
/// is built on first access (once per extracted user) and kept.
#[derive(Clone, Default)]
pub struct Claims {
    map: OnceLock<Map<String, Value>>,
    /// Where to decode the map from, when it is not built yet.
    source: Option<Arc<dyn ClaimsSource>>,
}

/// Something the claims can be decoded from (the stored login).
pub(crate) trait ClaimsSource: Send + Sync {
    fn decode(&self) -> Map<String, Value>;
}

impl Claims {
    /// Claims decoded later from `source`.
    pub(crate) fn lazy(source: Arc<dyn ClaimsSource>) -> Self {
        Claims { map: OnceLock::new(), source: Some(source) }
    }

    /// The claims as a map (decoding them if needed).
    pub fn as_map(&self) -> &Map<String, Value> {
        self.map.get_or_init(|| self.source.as_ref().map(|s| s.decode()).unwrap_or_default())
    }

    /// The claims as an owned map.
    pub fn into_map(self) -> Map<String, Value> {
        match self.map.into_inner() {
            Some(map) => map,
            None => self.source.map(|s| s.decode()).unwrap_or_default(),
        }
    }
}

impl From<Map<String, Value>> for Claims {
    fn from(map: Map<String, Value>) -> Self {
        Claims { map: OnceLock::from(map), source: None }
    }
}

impl From<Claims> for Map<String, Value> {
    fn from(claims: Claims) -> Self {
        claims.into_map()
    }
}

impl Deref for Claims {
    type Target = Map<String, Value>;

    fn deref(&self) -> &Map<String, Value> {
        self.as_map()
    }
}

impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        self.as_map() == other.as_map()
    }
}

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_map().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::deserialize(deserializer).map(Claims::from)
    }
}

/// No claim values: they hold identity numbers.
impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Claims { .. }")
    }
}

impl AuthenticatedUser {
    /// The handle to `user`.
    pub(crate) fn new(user: User) -> Self {
        AuthenticatedUser(Arc::new(user))
    }

    /// The user, moved out when this is the only handle (else copied).
    pub(crate) fn into_inner(self) -> User {
        Arc::unwrap_or_clone(self.0)
    }

    /// Builds the identity from verified claims; `loa` was already checked
    /// against the policy by the caller.
    pub(crate) fn from_claims(claims: Map<String, Value>, loa: Loa) -> Self {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        AuthenticatedUser::new(User {
            iss: text("iss").unwrap_or_default(),
            sub: text("sub").unwrap_or_default(),
            loa,
            acr: text("acr").unwrap_or_default(),
            amr: claims.get("amr").map(amr_list).unwrap_or_default(),
            auth_time: claims.get("auth_time").and_then(Value::as_i64),
            sid: text("sid"),
            api_ver: claims.get("api_ver").and_then(api_version),
            name: text("name"),
            given_name: text("given_name"),
            family_name: text("family_name"),
            birthdate: text("birthdate"),
            // The two providers name the same numbers differently.
            bankid_altsub: text("bankid_altsub").or_else(|| text("sub_bankid")),
            nnin_altsub: text("nnin_altsub").or_else(|| text("sub_nnin")),
            claims: Claims::from(claims),
        })
    }
}

impl Deref for AuthenticatedUser {
    type Target = User;

    fn deref(&self) -> &User {
        &self.0
    }
}

impl Serialize for AuthenticatedUser {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl fmt::Debug for AuthenticatedUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `api_ver` as text: BankID has not said whether it is a string or a
/// number, so both are read; anything else is ignored.
fn api_version(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Who logged in: the issuer and its `sub`. A `sub` is unique per issuer
/// only (OIDC Core §2), and BankID OIDC and BIB are two issuers whose `sub`s
/// for the same person differ, so every "is this the same user?" question in
/// this crate compares this pair. Two logins from different issuers are
/// different identities, even for the same person: a CIBA login (BIB)
/// followed by a code-flow step-up (BankID OIDC) is refused as
/// `subject_mismatch` rather than guessed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Subject {
    pub(crate) iss: String,
    pub(crate) sub: String,
}

impl Subject {
    /// The (`iss`, `sub`) of a login; `None` if either is empty.
    pub(crate) fn of_user(user: &AuthenticatedUser) -> Option<Subject> {
        let (iss, sub) = (user.iss.as_str(), user.sub.as_str());
        (!iss.is_empty() && !sub.is_empty()).then(|| Subject { iss: iss.to_owned(), sub: sub.to_owned() })
    }

    /// The (`iss`, `sub`) of verified claims; `None` if either is missing.
    pub(crate) fn of_claims(claims: &Map<String, Value>) -> Option<Subject> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).filter(|v| !v.is_empty());
        Some(Subject { iss: text("iss")?.to_owned(), sub: text("sub")?.to_owned() })
    }
}

fn amr_list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatedUser")
            .field("iss", &self.iss)
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
    fn claims_read_like_a_map_and_decode_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        struct Counting(AtomicUsize);
        impl ClaimsSource for Counting {
            fn decode(&self) -> Map<String, Value> {
                self.0.fetch_add(1, Ordering::SeqCst);
                json!({"sid": "s1"}).as_object().unwrap().clone()
            }
        }
        let source = Arc::new(Counting(AtomicUsize::new(0)));
        let claims = Claims::lazy(source.clone());
        assert_eq!(source.0.load(Ordering::SeqCst), 0, "nothing decoded until asked");
        assert_eq!(claims.get("sid").and_then(Value::as_str), Some("s1"));
        assert_eq!(claims["sid"], "s1");
        assert_eq!(source.0.load(Ordering::SeqCst), 1);
        assert_eq!(serde_json::to_value(&claims).unwrap(), json!({"sid": "s1"}));
        let map: Map<String, Value> = claims.into();
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn v4_claims_surface_issuer_session_and_api_version() {
        let claims = json!({"iss": "https://auth.example", "sub": "abc", "sid": "s-1", "api_ver": "4",
                            "amr": ["bis-mfa", "bis-bid"]});
        let id = AuthenticatedUser::from_claims(claims.as_object().unwrap().clone(), Loa::SUBSTANTIAL);
        assert_eq!(
            (id.iss.as_str(), id.sid.as_deref(), id.api_ver.as_deref()),
            ("https://auth.example", Some("s-1"), Some("4"))
        );
        assert_eq!(id.amr, ["bis-mfa", "bis-bid"]);
        let numeric = json!({"sub": "abc", "api_ver": 4, "sid": 7});
        let id = AuthenticatedUser::from_claims(numeric.as_object().unwrap().clone(), Loa::SUBSTANTIAL);
        assert_eq!(
            (id.api_ver.as_deref(), id.sid.clone()),
            (Some("4"), None),
            "a number is read, a non-string sid is not"
        );
    }

    #[test]
    fn identity_is_issuer_and_subject() {
        let of = |v: Value| Subject::of_claims(v.as_object().unwrap());
        let oidc = of(json!({"iss": "https://auth", "sub": "u1"})).unwrap();
        assert!(of(json!({"iss": "https://bib", "sub": "u1"})).unwrap() != oidc, "same sub, other issuer");
        assert!(of(json!({"iss": "https://auth", "sub": "u1"})).unwrap() == oidc);
        assert!(of(json!({"sub": "u1"})).is_none(), "no issuer, no identity");
        assert!(of(json!({"iss": "https://auth", "sub": ""})).is_none());
    }

    #[test]
    fn amr_list_form() {
        assert_eq!(amr_list(&json!(["bid", "otp"])), ["bid", "otp"]);
        assert!(amr_list(&json!(5)).is_empty());
    }
}
