//! What this crate keeps in the `tower-sessions` session, and how.
//!
//! The verified login, the permission grants waiting to be redeemed and the
//! CIBA requests this session started. Logins in progress are not here: each
//! is its own store record (see `flow::attempt`), because the session record
//! is saved whole at the end of each request and concurrent tabs would
//! overwrite each other's. Tokens are stored server-side only.

use std::fmt;

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::claims::AuthenticatedUser;
use crate::error::Error;
use crate::loa::Loa;
use crate::permission::PermissionItem;

const LOGIN_KEY: &str = "axum_bankid.login";

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
    /// For a permission requested by a logged-in user: that user's `sub`,
    /// which the approving person must have.
    pub(crate) expected_sub: Option<String>,
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

/// The verified login kept in the session: the verified claims once (the
/// user's fields are derived from them when read, which keeps the record
/// that every request loads small), the level, and the ID token.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct StoredLogin {
    claims: serde_json::Map<String, serde_json::Value>,
    pub(crate) loa: Loa,
    /// Kept for `id_token_hint` at logout; never sent to the browser.
    pub(crate) id_token: String,
    pub(crate) logged_in_at: i64,
    /// The login time in Unix milliseconds, compared with back-channel
    /// logout markers (see `logout_registry`). Absent in logins stored by
    /// older versions: those count as made at the end of `logged_in_at`'s
    /// second, so a logout in that second still ends them.
    #[serde(default)]
    logged_in_ms: Option<i64>,
}

impl StoredLogin {
    pub(crate) fn new(user: AuthenticatedUser, id_token: String, logged_in_at: i64) -> Self {
        let logged_in_ms = Some(crate::clock::unix_now_ms());
        StoredLogin { loa: user.loa, claims: user.claims, id_token, logged_in_at, logged_in_ms }
    }

    /// A string claim of this login (`iss`, `sub`, `sid`).
    pub(crate) fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(serde_json::Value::as_str)
    }

    /// The login time in Unix milliseconds.
    pub(crate) fn logged_in_ms(&self) -> i64 {
        self.logged_in_ms.unwrap_or_else(|| self.logged_in_at.saturating_mul(1000).saturating_add(999))
    }

    /// The `sub` claim of this login.
    pub(crate) fn sub(&self) -> Option<&str> {
        self.claims.get("sub").and_then(serde_json::Value::as_str)
    }

    pub(crate) fn into_user(self) -> AuthenticatedUser {
        AuthenticatedUser::from_claims(self.claims, self.loa)
    }
}

impl fmt::Debug for StoredLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredLogin")
            .field("loa", &self.loa)
            .field("logged_in_at", &self.logged_in_at)
            .finish_non_exhaustive()
    }
}

fn store_error(err: tower_sessions::session::Error) -> Error {
    tracing::error!(error = %err, "session store failed");
    Error::Session(err.to_string())
}

/// Reads one of our keys. A value that no longer deserialises (e.g. after an
/// upgrade) counts as absent rather than locking the user out.
async fn read<T: serde::de::DeserializeOwned>(session: &Session, key: &str) -> Result<Option<T>, Error> {
    let value = session.get_value(key).await.map_err(store_error)?;
    Ok(value.and_then(|value| serde_json::from_value(value).ok()))
}

/// Drops the oldest entries beyond `max`, so a session's lists stay bounded.
fn keep_newest<T>(list: &mut Vec<T>, max: usize) {
    if list.len() > max {
        let excess = list.len() - max;
        list.drain(..excess);
    }
}

/// Stores a verified login after rotating the session id, so an id planted
/// before login (session fixation) is worthless afterwards.
///
/// When the session holds another person's login, it is emptied first: the
/// new person must not inherit the previous one's application data (a
/// basket, a half-filled form, their grants). A login by the same person —
/// or the first login of an anonymous session — keeps the data.
pub(crate) async fn store_login(session: &Session, login: StoredLogin) -> Result<(), Error> {
    let previous = load_login(session).await?;
    if previous.is_some_and(|p| p.sub() != login.sub()) {
        tracing::info!("a different person logged in: starting from an empty session");
        session.clear().await;
    }
    session.cycle_id().await.map_err(store_error)?;
    session.insert(LOGIN_KEY, login).await.map_err(store_error)
}

/// Gives a logged-in session the full login lifetime: expiry after
/// `lifetime_secs` of inactivity, whatever it had before.
pub(crate) fn give_login_lifetime(session: &Session, lifetime_secs: i64) {
    let lifetime = tower_sessions::cookie::time::Duration::seconds(lifetime_secs);
    session.set_expiry(Some(tower_sessions::Expiry::OnInactivity(lifetime)));
}

pub(crate) async fn load_login(session: &Session) -> Result<Option<StoredLogin>, Error> {
    read(session, LOGIN_KEY).await
}

/// Removes the login and rotates the id. (Grants go with their cookies,
/// which logout expires.)
pub(crate) async fn clear_login(session: &Session) -> Result<Option<StoredLogin>, Error> {
    let login = load_login(session).await?;
    session.remove_value(LOGIN_KEY).await.map_err(store_error)?;
    session.cycle_id().await.map_err(store_error)?;
    Ok(login)
}

/// A verified permission grant, waiting for [`Granted`](crate::Granted);
/// kept in the flow's own store record (see `flow::grants`).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct StoredGrant {
    pub(crate) id: String,
    /// The login (flow) that produced the grant; see `PendingLogin::flow`.
    #[serde(default)]
    pub(crate) flow: String,
    pub(crate) r#type: String,
    pub(crate) encoded: String,
    pub(crate) digest: String,
    pub(crate) sub: String,
    pub(crate) granted_at: i64,
    pub(crate) signed_permission: Option<String>,
    /// Names the grant's single-use record in a shared store; unlike `id`
    /// (which apps may show as an idempotency key) it never leaves the session.
    pub(crate) use_secret: String,
}

impl fmt::Debug for StoredGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredGrant")
            .field("type", &self.r#type)
            .field("granted_at", &self.granted_at)
            .finish_non_exhaustive()
    }
}

const CIBA_HANDLES_KEY: &str = "axum_bankid.ciba_handles";
const MAX_CIBA_HANDLES: usize = 8;

/// Notes that this session started the CIBA request `handle`, so that it
/// (and only it) is logged in on approval.
pub(crate) async fn remember_ciba_handle(session: &Session, handle: &str) -> Result<(), Error> {
    let mut handles: Vec<String> = read(session, CIBA_HANDLES_KEY).await?.unwrap_or_default();
    handles.push(handle.to_owned());
    keep_newest(&mut handles, MAX_CIBA_HANDLES);
    session.insert(CIBA_HANDLES_KEY, handles).await.map_err(store_error)
}

pub(crate) async fn owns_ciba_handle(session: &Session, handle: &str) -> Result<bool, Error> {
    let handles: Vec<String> = read(session, CIBA_HANDLES_KEY).await?.unwrap_or_default();
    Ok(handles.iter().any(|h| h == handle))
}

pub(crate) async fn forget_ciba_handle(session: &Session, handle: &str) -> Result<(), Error> {
    let mut handles: Vec<String> = read(session, CIBA_HANDLES_KEY).await?.unwrap_or_default();
    handles.retain(|h| h != handle);
    session.insert(CIBA_HANDLES_KEY, handles).await.map_err(store_error)
}

/// Takes every CIBA handle this session started (at logout: they are
/// cancelled, so no late approval logs the session in again).
pub(crate) async fn take_ciba_handles(session: &Session) -> Result<Vec<String>, Error> {
    let handles: Vec<String> = read(session, CIBA_HANDLES_KEY).await?.unwrap_or_default();
    if !handles.is_empty() {
        session.remove_value(CIBA_HANDLES_KEY).await.map_err(store_error)?;
    }
    Ok(handles)
}

/// Grant ids already used in this process. The session alone cannot stop two
/// concurrent requests on one session from both using a single-use grant
/// (each loads its own copy); this in-memory set closes that race within an
/// instance.
#[derive(Default)]
pub(crate) struct ConsumedGrants(std::sync::Mutex<std::collections::HashMap<String, i64>>);

impl ConsumedGrants {
    /// Marks `id` used; `false` if it already was.
    pub(crate) fn consume(&self, id: &str, now: i64) -> bool {
        let mut used = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if used.len() > 10_000 {
            used.retain(|_, at| now - *at < 86_400);
        }
        used.insert(id.to_owned(), now).is_none()
    }
}
