//! What this crate keeps in the `tower-sessions` session, and how.
//!
//! The session holds two values of the crate's: the verified login (claims,
//! LOA, login time, the ID token for `id_token_hint` at logout, and the CIBA
//! request it came from, so that logout cancels it), packed as one string the
//! extractor decodes cheaply; and, after a logout that keeps the app's data,
//! a hash of who logged in last, so that the next person starts empty.
//! Everything else a login writes is its own store record — logins in
//! progress (`records::attempt`), grants (`permission::grants`), the CIBA
//! requests a browser started (`ciba::owner`) — because the session record is
//! saved whole at the end of each request and concurrent tabs would
//! overwrite each other's. The contents of a login-attempt record
//! (`PendingLogin`) are defined here too. Tokens are stored server-side only.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::error::{Cause, Error};
use crate::loa::Loa;
use crate::permission::statement::PermissionItem;
use crate::records::logout_markers::LoginKeys;
use crate::user::{AuthenticatedUser, Claims, ClaimsSource, Subject, User};

pub(crate) const LOGIN_KEY: &str = "axum_bankid.login";

/// Who last logged in, kept after a logout that keeps the session's data
/// (`keep_session_data_at_logout`), so that a login by another person still
/// starts from an empty session. A fingerprint, not the identity.
const PREVIOUS_PERSON_KEY: &str = "axum_bankid.previous_person";

/// The app's data kept with the login by its login hook
/// (`LoginDecision::allow_with`): written with the login, gone with it.
const LOGIN_DATA_KEY: &str = "axum_bankid.login_data";

/// One login that was started and has not come back yet.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct PendingLogin {
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) pkce_verifier: String,
    pub(crate) return_to: String,
    pub(crate) started_at: i64,
    /// Permissions requested with this login, with the digests to expect.
    #[serde(default)]
    pub(crate) permissions: Vec<PermissionItem>,
    /// Names this login's grants in the landing URL (`bankid_flow`); random,
    /// unrelated to `state`.
    pub(crate) flow: String,
    /// For a permission or step-up requested by a logged-in user: that
    /// user's (`iss`, `sub`), which the new ID token must carry. Attempts
    /// stored by older versions hold a bare `sub` string here: it no longer
    /// decodes, so such an attempt fails closed (`unknown_state`).
    #[serde(default, alias = "expected_sub")]
    pub(crate) expected_subject: Option<Subject>,
    /// Step-up (see `step_up`): the level this login asked for, which the
    /// token's `acr` must reach.
    #[serde(default)]
    pub(crate) asked_loa: Option<Loa>,
    /// Step-up: the `max_age` this login sent; the token's `auth_time` must
    /// then be present and within it.
    #[serde(default)]
    pub(crate) max_age: Option<u32>,
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("return_to", &self.return_to)
            .field("started_at", &self.started_at)
            .finish_non_exhaustive()
    }
}

/// The verified login kept in the session: the verified claims, the level,
/// the ID token and the login time.
///
/// In the session it is stored packed (see [`PACKED_SEPARATOR`]): one JSON string
/// holding the fields every request needs first, then the ID token. So a
/// store clones one string per request rather than a tree of claims, and
/// the extractor decodes only those first fields; the claim map is rebuilt
/// from the ID token's payload (verified at login) only when an app reads
/// [`AuthenticatedUser::claims`] or this full form is loaded (login,
/// logout).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct StoredLogin {
    claims: serde_json::Map<String, serde_json::Value>,
    pub(crate) loa: Loa,
    /// Kept for `id_token_hint` at logout; never sent to the browser.
    pub(crate) id_token: String,
    pub(crate) logged_in_at: i64,
    /// The login time in Unix milliseconds, compared with back-channel
    /// logout markers (see `records::logout_markers`). Absent in logins stored by
    /// older versions: those count as made at the end of `logged_in_at`'s
    /// second, so a logout in that second still ends them.
    #[serde(default)]
    logged_in_ms: Option<i64>,
    /// The CIBA request whose approval this login is, if any: logout
    /// cancels it, so that approval logs no session in again.
    #[serde(default)]
    pub(crate) ciba_handle: Option<String>,
}

impl StoredLogin {
    pub(crate) fn new(user: AuthenticatedUser, id_token: String, logged_in_at: i64) -> Self {
        let logged_in_ms = Some(crate::clock::unix_now_ms());
        let user = user.into_inner();
        let claims = user.claims.into_map();
        StoredLogin { loa: user.loa, claims, id_token, logged_in_at, logged_in_ms, ciba_handle: None }
    }

    /// A string claim of this login (`iss`, `sub`, `sid`).
    pub(crate) fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(serde_json::Value::as_str)
    }

    /// The login time in Unix milliseconds.
    pub(crate) fn logged_in_ms(&self) -> i64 {
        self.logged_in_ms.unwrap_or_else(|| self.logged_in_at.saturating_mul(1000).saturating_add(999))
    }

    pub(crate) fn into_user(self) -> AuthenticatedUser {
        AuthenticatedUser::from_claims(self.claims, self.loa)
    }

    /// The packed session value (see [`PACKED_SEPARATOR`]).
    fn pack(&self) -> Result<serde_json::Value, Error> {
        let user = AuthenticatedUser::from_claims(self.claims.clone(), self.loa).into_inner();
        // The claims are the ID token's payload (they were verified from
        // it), so they are not stored twice; should they ever differ, they
        // are stored as well.
        let claims = (id_token_claims(&self.id_token).as_ref() != Some(&self.claims)).then(|| self.claims.clone());
        let head = PackedHead {
            loa: self.loa,
            at: self.logged_in_at,
            ms: self.logged_in_ms(),
            iss: self.claim("iss").map(str::to_owned),
            sid: self.claim("sid").map(str::to_owned),
            user: UserFields {
                sub: user.sub,
                acr: user.acr,
                amr: user.amr,
                auth_time: user.auth_time,
                api_ver: user.api_ver,
                name: user.name,
                given_name: user.given_name,
                family_name: user.family_name,
                birthdate: user.birthdate,
                bankid_altsub: user.bankid_altsub,
                nnin_altsub: user.nnin_altsub,
            },
        };
        let tail = PackedTail { id_token: self.id_token.clone(), claims, ciba: self.ciba_handle.clone() };
        let json = |e: serde_json::Error| Error::Session(Cause::from_error(e));
        let mut text = serde_json::to_string(&head).map_err(json)?;
        text.push(PACKED_SEPARATOR);
        text.push_str(&serde_json::to_string(&tail).map_err(json)?);
        Ok(serde_json::Value::String(text))
    }

    /// The full login from a session value: packed, or as stored by older
    /// versions (a JSON object).
    fn unpack(value: serde_json::Value) -> Option<StoredLogin> {
        match value {
            serde_json::Value::String(text) => {
                let (head, tail) = split_packed(&text);
                let head: PackedHead = serde_json::from_str(head).ok()?;
                let tail: PackedTail = serde_json::from_str(tail).ok()?;
                let claims = match tail.claims {
                    Some(claims) => claims,
                    None => id_token_claims(&tail.id_token)?,
                };
                Some(StoredLogin {
                    claims,
                    loa: head.loa,
                    id_token: tail.id_token,
                    logged_in_at: head.at,
                    logged_in_ms: Some(head.ms),
                    ciba_handle: tail.ciba,
                })
            }
            value => serde_json::from_value(value).ok(),
        }
    }
}

/// The claims in an ID token's payload. Only for tokens this crate verified
/// and stored itself: nothing is checked here.
fn id_token_claims(id_token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    use base64::Engine;
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The stored form of a login, kept as one string in the session: the
/// fields every authenticated request reads ([`PackedHead`]: policy,
/// back-channel logout keys, the user's fields) as one JSON object, a
/// newline, then the ID token and any claims it does not carry
/// ([`PackedTail`]) as another. The extractor parses only the head: the
/// ID token (most of the bytes) is neither copied nor scanned per request.
/// Compact JSON never holds a raw newline, so the first one splits the two.
/// Logins stored by 0.2 pre-releases are one object holding both, which
/// both halves still parse from (unknown fields are ignored).
const PACKED_SEPARATOR: char = '\n';

/// The head and tail JSON of a packed login; both the whole string when
/// it is the older single object.
fn split_packed(text: &str) -> (&str, &str) {
    text.split_once(PACKED_SEPARATOR).unwrap_or((text, text))
}

/// What the extractor decodes on every request (see [`PACKED_SEPARATOR`]).
#[derive(Serialize, Deserialize)]
struct PackedHead {
    loa: Loa,
    /// `logged_in_at`.
    at: i64,
    /// The login time in Unix milliseconds.
    ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    user: UserFields,
}

/// The rest of a packed login: read at logout (`id_token_hint`) and when
/// an app asks for [`AuthenticatedUser::claims`].
#[derive(Serialize, Deserialize)]
struct PackedTail {
    id_token: String,
    /// Only when the claims are not the ID token's payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claims: Option<serde_json::Map<String, serde_json::Value>>,
    /// [`StoredLogin::ciba_handle`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ciba: Option<String>,
}

/// [`AuthenticatedUser`]'s fields but `loa`, `claims` and the two kept in
/// [`PackedHead`] (`iss`, `sid`).
#[derive(Serialize, Deserialize)]
struct UserFields {
    sub: String,
    acr: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_ver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    birthdate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bankid_altsub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nnin_altsub: Option<String>,
}

/// The claim map of a packed login, decoded when an app first reads
/// [`AuthenticatedUser::claims`].
struct PackedClaims(String);

impl ClaimsSource for PackedClaims {
    fn decode(&self) -> serde_json::Map<String, serde_json::Value> {
        let Ok(tail) = serde_json::from_str::<PackedTail>(split_packed(&self.0).1) else { return Default::default() };
        tail.claims.or_else(|| id_token_claims(&tail.id_token)).unwrap_or_default()
    }
}

/// The login as the extractor reads it on every request: the user (claims
/// not decoded yet) and what the policy and logout checks need.
pub(crate) struct CurrentLogin {
    pub(crate) user: AuthenticatedUser,
    pub(crate) logged_in_at: i64,
    logged_in_ms: i64,
    iss: Option<String>,
    sid: Option<String>,
}

impl CurrentLogin {
    pub(crate) fn keys(&self) -> LoginKeys<'_> {
        LoginKeys {
            iss: self.iss.as_deref(),
            sub: Some(&self.user.sub),
            sid: self.sid.as_deref(),
            logged_in_ms: self.logged_in_ms,
        }
    }

    /// The login of a stored value (see [`load_current_login`]).
    pub(crate) fn from_value(value: serde_json::Value) -> Option<CurrentLogin> {
        match value {
            serde_json::Value::String(text) => CurrentLogin::from_packed(text),
            older => StoredLogin::unpack(older).map(CurrentLogin::from_stored),
        }
    }

    fn from_packed(text: String) -> Option<CurrentLogin> {
        let (head, tail) = split_packed(&text);
        // The tail is not parsed per request, but a cut-off value is no login.
        if !tail.ends_with('}') {
            return None;
        }
        let head: PackedHead = serde_json::from_str(head).ok()?;
        let u = head.user;
        let user = AuthenticatedUser::new(User {
            iss: head.iss.clone().unwrap_or_default(),
            sub: u.sub,
            loa: head.loa,
            acr: u.acr,
            amr: u.amr,
            auth_time: u.auth_time,
            sid: head.sid.clone(),
            api_ver: u.api_ver,
            name: u.name,
            given_name: u.given_name,
            family_name: u.family_name,
            birthdate: u.birthdate,
            bankid_altsub: u.bankid_altsub,
            nnin_altsub: u.nnin_altsub,
            claims: Claims::lazy(Arc::new(PackedClaims(text))),
        });
        Some(CurrentLogin { user, logged_in_at: head.at, logged_in_ms: head.ms, iss: head.iss, sid: head.sid })
    }

    fn from_stored(login: StoredLogin) -> CurrentLogin {
        let logged_in_ms = login.logged_in_ms();
        let iss = login.claim("iss").map(str::to_owned);
        let sid = login.claim("sid").map(str::to_owned);
        let logged_in_at = login.logged_in_at;
        CurrentLogin { user: login.into_user(), logged_in_at, logged_in_ms, iss, sid }
    }
}

impl fmt::Debug for CurrentLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurrentLogin").field("user", &self.user).finish_non_exhaustive()
    }
}

fn store_error(err: tower_sessions::session::Error) -> Error {
    tracing::error!(error = %err, "session store failed");
    Error::Session(Cause::from_error(err))
}

/// Stores a verified login after rotating the session id, so an id planted
/// before login (session fixation) is worthless afterwards. The record under
/// the old id (the login it had) goes only once the new one is created (see
/// `rotation`): a login that fails, here or in the session layer's save,
/// leaves the session as it was.
///
/// When the session holds another identity's login, it is emptied first:
/// the new person must not inherit the previous one's application data (a
/// basket, a half-filled form, their grants). Identity is (`iss`, `sub`)
/// (see [`Subject`]): a login by the same identity — or the first login of
/// an anonymous session — keeps the data; the same `sub` from another issuer
/// (a CIBA login after a code-flow one) is another identity and starts empty.
pub(crate) async fn store_login(session: &Session, login: StoredLogin) -> Result<(), Error> {
    let previous = match load_login(session).await? {
        Some(previous) => Some(person_of(&previous)),
        None => session
            .get_value(PREVIOUS_PERSON_KEY)
            .await
            .map_err(store_error)?
            .and_then(|v| v.as_str().map(str::to_owned)),
    };
    if previous.is_some_and(|p| p != person_of(&login)) {
        tracing::info!("a different person logged in: starting from an empty session");
        session.clear().await;
    }
    session.remove_value(PREVIOUS_PERSON_KEY).await.map_err(store_error)?;
    crate::records::rotation::rotate_id(session).await.map_err(store_error)?;
    session.insert_value(LOGIN_KEY, login.pack()?).await.map_err(store_error)?;
    Ok(())
}

/// Keeps the login hook's `data` with the login just stored (in the same
/// session save), or removes a previous login's when there is none.
pub(crate) async fn store_login_data(session: &Session, data: Option<serde_json::Value>) -> Result<(), Error> {
    match data {
        Some(data) => session.insert_value(LOGIN_DATA_KEY, data).await.map(drop),
        None => session.remove_value(LOGIN_DATA_KEY).await.map(drop),
    }
    .map_err(store_error)
}

/// The login hook's data kept with the current login, if any.
pub(crate) async fn load_login_data(session: &Session) -> Result<Option<serde_json::Value>, Error> {
    session.get_value(LOGIN_DATA_KEY).await.map_err(store_error)
}

/// A fingerprint of the person a login is: `sub` is unique per issuer only
/// (OIDC Core §2), so both go in, NUL-separated, hashed so the session keeps
/// no identity after logout.
fn person_of(login: &StoredLogin) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(login.claim("iss").unwrap_or_default())
        .chain_update(b"\0")
        .chain_update(login.claim("sub").unwrap_or_default())
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Gives a logged-in session the full login lifetime: expiry after
/// `lifetime_secs` of inactivity, whatever it had before.
pub(crate) fn give_login_lifetime(session: &Session, lifetime_secs: i64) {
    let lifetime = tower_sessions::cookie::time::Duration::seconds(lifetime_secs);
    session.set_expiry(Some(tower_sessions::Expiry::OnInactivity(lifetime)));
}

/// The full login (claims decoded, ID token): for login and logout.
pub(crate) async fn load_login(session: &Session) -> Result<Option<StoredLogin>, Error> {
    let value = session.get_value(LOGIN_KEY).await.map_err(store_error)?;
    Ok(value.and_then(StoredLogin::unpack))
}

/// The login for the extractor: one session read, one string cloned out of
/// the record, its first fields decoded. A value that no longer decodes
/// counts as absent, as in [`read`].
pub(crate) async fn load_current_login(session: &Session) -> Result<Option<CurrentLogin>, Error> {
    Ok(load_login_value(session).await?.and_then(CurrentLogin::from_value))
}

/// The session's login as stored, undecoded.
pub(crate) async fn load_login_value(session: &Session) -> Result<Option<serde_json::Value>, Error> {
    session.get_value(LOGIN_KEY).await.map_err(store_error)
}

/// Ends the login at logout: by default the whole session (every value,
/// the record, and with it the cookie), so nothing of the user's reaches the
/// next visitor of the browser; with `keep_data`, only the login, under a
/// rotated id. (Grants go with their cookies, which logout expires.)
pub(crate) async fn end_login(session: &Session, keep_data: bool) -> Result<Option<StoredLogin>, Error> {
    let login = load_login(session).await?;
    if keep_data {
        session.remove_value(LOGIN_KEY).await.map_err(store_error)?;
        session.remove_value(LOGIN_DATA_KEY).await.map_err(store_error)?;
        if let Some(login) = &login {
            session.insert_value(PREVIOUS_PERSON_KEY, person_of(login).into()).await.map_err(store_error)?;
        }
        session.cycle_id().await.map_err(store_error)?;
    } else {
        session.flush().await.map_err(store_error)?;
    }
    Ok(login)
}

/// A packed login value for `claims`, as `store_login` writes it (for
/// other modules' tests).
#[cfg(test)]
pub(crate) fn packed_for_tests(claims: serde_json::Map<String, serde_json::Value>) -> serde_json::Value {
    let user = AuthenticatedUser::from_claims(claims, Loa::SUBSTANTIAL);
    StoredLogin::new(user, "e30.e30.sig".into(), crate::clock::unix_now()).pack().unwrap()
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::{Value, json};

    use super::*;

    fn claims() -> serde_json::Map<String, Value> {
        json!({
            "iss": "https://op.example", "sub": "abc", "sid": "s-1", "acr": "urn:bankid:bis;LOA=3", "amr": ["BID"],
            "auth_time": 1700000000, "name": "Kari Nordmann", "given_name": "Kari", "family_name": "Nordmann",
            "birthdate": "1986-05-17", "nnin_altsub": "01018612345", "aud": "client", "exp": 1700003600
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn token(payload: &serde_json::Map<String, Value>) -> String {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        format!("{}.{}.c2ln", part(&json!({"alg": "RS256"})), part(&Value::Object(payload.clone())))
    }

    fn login(claims: serde_json::Map<String, Value>, id_token: String) -> StoredLogin {
        StoredLogin::new(AuthenticatedUser::from_claims(claims, Loa::SUBSTANTIAL), id_token, 1_700_000_100)
    }

    #[test]
    fn a_packed_login_reads_back_whole_and_stores_the_claims_once() {
        let stored = login(claims(), token(&claims()));
        let packed = stored.pack().unwrap();
        let Value::String(text) = &packed else { panic!("packed into one string") };
        assert!(!text.contains("\"claims\""), "the claims are the ID token's payload: {text}");
        let full = StoredLogin::unpack(packed.clone()).unwrap();
        assert_eq!(full.claims, claims());
        assert_eq!(full.id_token, stored.id_token);
        assert_eq!(
            (full.loa, full.logged_in_at, full.logged_in_ms()),
            (stored.loa, 1_700_000_100, stored.logged_in_ms())
        );

        let Value::String(text) = packed else { unreachable!() };
        let current = CurrentLogin::from_packed(text).unwrap();
        let expected = stored.clone().into_user();
        assert_eq!(current.user, expected, "the same user as decoding every claim (claims included)");
        assert_eq!(current.user.claims.get("sid"), Some(&json!("s-1")));
        let keys = current.keys();
        assert_eq!((keys.iss, keys.sub, keys.sid), (Some("https://op.example"), Some("abc"), Some("s-1")));
        assert_eq!(keys.logged_in_ms, stored.logged_in_ms());
        assert_eq!(current.logged_in_at, 1_700_000_100);
    }

    #[test]
    fn claims_that_are_not_the_id_tokens_payload_are_stored_too() {
        let mut other = claims();
        other.insert("extra".into(), json!(1));
        let stored = login(other.clone(), token(&claims()));
        let Value::String(text) = stored.pack().unwrap() else { panic!() };
        assert!(text.contains("\"claims\""));
        let current = CurrentLogin::from_packed(text.clone()).unwrap();
        assert_eq!(*current.user.claims, other);
        assert_eq!(StoredLogin::unpack(Value::String(text)).unwrap().claims, other);
    }

    #[test]
    fn a_login_stored_by_an_older_version_still_reads() {
        let stored = login(claims(), token(&claims()));
        let older = serde_json::to_value(&stored).unwrap();
        assert!(older.is_object());
        assert_eq!(StoredLogin::unpack(older.clone()).unwrap().claims, claims());
        let current = CurrentLogin::from_stored(StoredLogin::unpack(older).unwrap());
        assert_eq!(current.user, stored.into_user());
        assert!(StoredLogin::unpack(Value::String("not json".into())).is_none(), "garbage counts as absent");
        assert!(CurrentLogin::from_packed("{}".into()).is_none());
    }

    #[test]
    fn the_extractor_reads_a_head_without_the_id_token() {
        let stored = login(claims(), token(&claims()));
        let Value::String(text) = stored.pack().unwrap() else { panic!() };
        let (head, tail) = text.split_once('\n').expect("head, newline, tail");
        assert!(!head.contains(&stored.id_token) && tail.contains(&stored.id_token), "{text}");
        assert!(!tail.contains('\n'), "one separator");
        // The head alone is a whole login for the extractor.
        let current = CurrentLogin::from_packed(head.to_owned()).unwrap();
        assert_eq!((current.user.sub.as_str(), current.user.loa), ("abc", Loa::SUBSTANTIAL));
    }

    /// Logins packed by 0.2 pre-releases (one object, ID token inside) are
    /// still read whole, by the extractor and at logout.
    #[test]
    fn a_login_packed_as_one_object_still_reads() {
        let stored = login(claims(), token(&claims()));
        let Value::String(text) = stored.pack().unwrap() else { panic!() };
        let (head, tail) = text.split_once('\n').unwrap();
        let one_object = format!("{},{}", head.strip_suffix('}').unwrap(), tail.strip_prefix('{').unwrap());
        assert!(!one_object.contains('\n'));
        let full = StoredLogin::unpack(Value::String(one_object.clone())).unwrap();
        assert_eq!((full.claims, full.id_token), (claims(), stored.id_token.clone()));
        let current = CurrentLogin::from_packed(one_object).unwrap();
        assert_eq!(current.user, stored.into_user());
    }

    #[test]
    fn a_cut_off_login_is_no_login() {
        let stored = login(claims(), token(&claims()));
        let Value::String(text) = stored.pack().unwrap() else { panic!() };
        let cut = &text[..text.len() - 10];
        assert!(CurrentLogin::from_packed(cut.to_owned()).is_none());
        assert!(StoredLogin::unpack(Value::String(cut.to_owned())).is_none());
    }
}
