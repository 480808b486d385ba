//! Login attempts in flight: each one is its own store record, bound to the
//! browser by its own cookie.
//!
//! # Why not in the session
//!
//! `tower-sessions` loads the whole session record at the start of a request
//! and saves the whole record at the end, with no per-session lock. A list
//! of pending logins inside the session is therefore a read-modify-write
//! that two concurrent requests of one browser (two tabs starting a login, a
//! callback overlapping a new login) race on: the later save drops what the
//! earlier one added, and that login ends in `unknown_state`. It also skips
//! the save on a 5xx answer, so a callback that failed at the token endpoint
//! left its `state` usable for a replay.
//!
//! # The design
//!
//! Like ASP.NET Core's correlation cookies, each attempt gets a cookie of
//! its own, `bankid-login-<tag>` (`__Host-` prefixed on https), where
//! `<tag>` is a hash of the attempt's `state`. It holds only the start time
//! and a random 128-bit *binding* secret; nothing in it is worth stealing
//! without the browser's other cookies. The attempt itself (nonce, PKCE
//! verifier, return path, requested permissions) is a record in the session
//! store whose id is derived from binding and `state` together, so:
//!
//! - attempts never share a record: no lost updates, however requests interleave;
//! - a `state` replayed in another browser finds no record (no binding
//!   cookie there) — login CSRF fails with `unknown_state`;
//! - only that browser could compute the record id (it sees both halves), so
//!   no one else can present it as a session id;
//! - the callback spends the `state` first, with a create-once record in the
//!   store (see [`crate::once`]) plus an in-process guard, before anything
//!   else, so the first callback naming it wins whatever its outcome — also
//!   across instances sharing the store;
//! - an anonymous visitor who starts a login gets no session at all: the
//!   attempt's record and cookie live for the attempt's TTL only.
//!
//! The cap on attempts per browser counts that browser's attempt cookies;
//! beyond the cap the oldest cookie is expired, which orphans its record
//! (it expires unread). Two logins started at the same instant may both
//! pass the cap once; the cap exists to bound cookie size, not for security.
//!
//! The store is the one given to [`BankIdConfig::session_layer`] (or
//! [`BankIdLayer::with_login_store`]); without either, attempts are kept in
//! this process only.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderValue, header};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower_sessions::SessionStore;
use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};
use tower_sessions::cookie::{Cookie, SameSite};
use tower_sessions::session::{Id, Record};

use crate::config::BankIdConfig;
use crate::error::Error;
use crate::layer::{BankIdLayer, Ctx};
use crate::once::{OnceRecords, new_secret, record_id};
use crate::session::PendingLogin;

const ATTEMPT_KEY: &str = "axum_bankid.login_attempt";
const SPENT_KEY: &str = "axum_bankid.state_spent";
/// Records outlive the attempt by this much, so a late callback is told
/// `login_expired` rather than `unknown_state`.
const GRACE_SECS: i64 = 60;

/// Where login attempts are kept; filled by `session_layer` or
/// `with_login_store`, shared by every clone of the configuration.
#[derive(Clone, Default)]
pub(crate) struct StoreSlot(Arc<Mutex<Option<Arc<dyn SessionStore>>>>);

impl fmt::Debug for StoreSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.0.lock().map(|s| s.is_some()).unwrap_or(false);
        f.debug_struct("StoreSlot").field("set", &set).finish()
    }
}

impl StoreSlot {
    pub(crate) fn set(&self, store: Arc<dyn SessionStore>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(store);
    }

    /// The configured store, or else (once, then kept) one in this process.
    fn get(&self) -> Arc<dyn SessionStore> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let store = slot.get_or_insert_with(|| {
            tracing::warn!(
                "no session store known to axum-bankid (use BankIdConfig::session_layer or \
                 BankIdLayer::with_login_store): login attempts are kept in this process only"
            );
            Arc::new(LocalStore::default())
        });
        Arc::clone(store)
    }
}

impl BankIdLayer {
    /// Keeps login attempts in `store` — pass the session store. Only needed
    /// when the session layer is not built by
    /// [`BankIdConfig::session_layer`], which does this itself. Without a
    /// shared store, a callback must reach the instance the login started on.
    ///
    /// Use a store whose `create` never overwrites (the memory store,
    /// `tower-sessions-redis-store`) so a `state` is spent once across instances.
    pub fn with_login_store<S: SessionStore>(self, store: S) -> Self {
        self.config().login_store.set(Arc::new(store));
        self
    }
}

fn records(ctx: &Ctx) -> OnceRecords {
    OnceRecords::new(ctx.config().login_store.get())
}

/// What the browser must be sent for a started attempt.
pub(crate) struct Started {
    /// `Set-Cookie` values: the new attempt's cookie, and expired ones for
    /// attempts beyond the cap.
    pub(crate) cookies: Vec<HeaderValue>,
}

/// Stores `pending` under a fresh binding and returns the cookies to set.
pub(crate) async fn store(ctx: &Ctx, headers: &HeaderMap, pending: &PendingLogin) -> Result<Started, Error> {
    let config = ctx.config();
    let binding = new_secret();
    let ttl = config.login_attempt_ttl.as_secs() as i64;
    let value = serde_json::to_value(pending).map_err(|e| Error::Session(e.to_string()))?;
    let expiry = OffsetDateTime::now_utc() + TimeDuration::seconds(ttl + GRACE_SECS);
    let created = records(ctx)
        .create_first(attempt_id(&binding, &pending.state), ATTEMPT_KEY, value, expiry)
        .await
        .map_err(store_error)?;
    if !created {
        // 2^-128: a fresh random id already taken.
        return Err(Error::Session("login attempt id collision".into()));
    }
    let now_ms = unix_millis();
    let mut cookies = evict_beyond_cap(config, headers, now_ms);
    let name = cookie_name(config, &pending.state);
    // The cookie outlives the attempt like the record does, so that a late
    // callback is told `login_expired`.
    cookies.push(set_cookie(config, &name, &format!("{now_ms}.{binding}"), ttl + GRACE_SECS));
    Ok(Started { cookies })
}

/// Finds, spends and removes the attempt this browser started with `state`.
/// `UnknownState` when this browser has no such attempt or it was spent.
pub(crate) async fn spend(ctx: &Ctx, headers: &HeaderMap, state: &str) -> Result<PendingLogin, Error> {
    let name = cookie_name(ctx.config(), state);
    let binding = attempt_cookies(ctx.config(), headers)
        .find(|c| c.name == name)
        .map(|c| c.binding)
        .ok_or(Error::UnknownState)?;
    let records = records(ctx);
    let id = attempt_id(&binding, state);
    let record = records.read(id).await.map_err(store_error)?.ok_or(Error::UnknownState)?;
    mark_spent(ctx, &records, &binding, state, record.expiry_date).await?;
    if let Err(err) = records.remove(id).await {
        // Spent already; the record expires on its own.
        tracing::debug!(error = %err, "could not remove a spent login attempt");
    }
    let pending = record.data.get(ATTEMPT_KEY).cloned().ok_or(Error::UnknownState)?;
    serde_json::from_value(pending).map_err(|_| Error::UnknownState)
}

/// First wins: in this process, then in the shared store.
async fn mark_spent(
    ctx: &Ctx,
    records: &OnceRecords,
    binding: &str,
    state: &str,
    until: OffsetDateTime,
) -> Result<(), Error> {
    let spent = spent_id(binding, state);
    let now = crate::id_token::unix_now();
    if !ctx.shared.consumed_grants.consume(&format!("login-state:{spent}"), now) {
        return Err(Error::UnknownState);
    }
    match records.create_first(spent, SPENT_KEY, Value::Bool(true), until).await.map_err(store_error)? {
        true => Ok(()),
        false => Err(Error::UnknownState),
    }
}

/// The `Set-Cookie` that removes the attempt cookie for `state`, if the
/// request carried one.
pub(crate) fn clear_cookie(config: &BankIdConfig, headers: &HeaderMap, state: &str) -> Option<HeaderValue> {
    let name = cookie_name(config, state);
    attempt_cookies(config, headers).any(|c| c.name == name).then(|| set_cookie(config, &name, "", 0))
}

fn store_error(err: String) -> Error {
    tracing::error!(error = %err, "session store failed");
    Error::Session(err)
}

fn attempt_id(binding: &str, state: &str) -> Id {
    record_id(&format!("{binding}:{state}"), "login-attempt")
}

fn spent_id(binding: &str, state: &str) -> Id {
    record_id(&format!("{binding}:{state}"), "login-attempt-spent")
}

fn cookie_prefix(config: &BankIdConfig) -> &'static str {
    if is_https(config) { "__Host-bankid-login-" } else { "bankid-login-" }
}

fn is_https(config: &BankIdConfig) -> bool {
    config.redirect_uri.scheme() == "https"
}

/// `prefix` + 64 bits of a hash of `state`: finds the cookie from the
/// callback's `state` without putting the `state` itself in a cookie name.
fn cookie_name(config: &BankIdConfig, state: &str) -> String {
    let digest = Sha256::new().chain_update(b"axum-bankid attempt cookie\0").chain_update(state).finalize();
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}{tag}", cookie_prefix(config))
}

fn set_cookie(config: &BankIdConfig, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let cookie = Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .max_age(TimeDuration::seconds(max_age_secs))
        .http_only(true)
        // Lax, not Strict: the provider's redirect back is a cross-site navigation.
        .same_site(SameSite::Lax)
        .secure(is_https(config))
        .build();
    HeaderValue::try_from(cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Milliseconds since the epoch: orders attempts started within one second.
fn unix_millis() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// One attempt cookie as the browser sent it.
struct AttemptCookie {
    name: String,
    /// Unix milliseconds.
    started_at: i64,
    binding: String,
}

fn attempt_cookies<'a>(config: &BankIdConfig, headers: &'a HeaderMap) -> impl Iterator<Item = AttemptCookie> + 'a {
    let prefix = cookie_prefix(config);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(move |pair| {
            let (name, value) = pair.trim().split_once('=')?;
            if !name.starts_with(prefix) {
                return None;
            }
            let (started_at, binding) = value.split_once('.')?;
            Some(AttemptCookie {
                name: name.to_owned(),
                started_at: started_at.parse().ok()?,
                binding: binding.to_owned(),
            })
        })
}

/// Expires the oldest live attempt cookies so that, with the new one, at
/// most `max_pending_logins` remain (`now_ms` in unix milliseconds).
fn evict_beyond_cap(config: &BankIdConfig, headers: &HeaderMap, now_ms: i64) -> Vec<HeaderValue> {
    let ttl_ms = config.login_attempt_ttl.as_millis() as i64;
    let mut live: Vec<AttemptCookie> =
        attempt_cookies(config, headers).filter(|c| now_ms - c.started_at <= ttl_ms).collect();
    let keep = config.max_pending_logins.saturating_sub(1);
    if live.len() <= keep {
        return Vec::new();
    }
    live.sort_by_key(|c| c.started_at);
    let excess = live.len() - keep;
    live.iter().take(excess).map(|c| set_cookie(config, &c.name, "", 0)).collect()
}

/// The store used when the application gave none: this process only, with
/// `create` that never overwrites, and expired records dropped as it grows.
#[derive(Debug, Default)]
struct LocalStore(Mutex<HashMap<Id, Record>>);

impl LocalStore {
    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Record>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The boxed future `SessionStore`'s methods return (the trait is declared
/// with `async_trait`, written out here to spare a dependency).
type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = tower_sessions::session_store::Result<T>> + Send + 'a>>;

impl SessionStore for LocalStore {
    fn create<'a, 'b, 'c>(&'a self, record: &'b mut Record) -> StoreFuture<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        let mut records = self.records();
        if records.len() > 10_000 {
            let now = OffsetDateTime::now_utc();
            records.retain(|_, r| r.expiry_date > now);
        }
        while records.contains_key(&record.id) {
            record.id = Id::default();
        }
        records.insert(record.id, record.clone());
        Box::pin(std::future::ready(Ok(())))
    }

    fn save<'a, 'b, 'c>(&'a self, record: &'b Record) -> StoreFuture<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        self.records().insert(record.id, record.clone());
        Box::pin(std::future::ready(Ok(())))
    }

    fn load<'a, 'b, 'c>(&'a self, id: &'b Id) -> StoreFuture<'c, Option<Record>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        Box::pin(std::future::ready(Ok(self.records().get(id).cloned())))
    }

    fn delete<'a, 'b, 'c>(&'a self, id: &'b Id) -> StoreFuture<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        self.records().remove(id);
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(redirect: &str) -> BankIdConfig {
        BankIdConfig::builder()
            .issuer("https://op.example")
            .client_id("c")
            .client_secret("s")
            .redirect_uri(redirect)
            .max_pending_logins(2)
            .build()
            .unwrap()
    }

    #[test]
    fn cookie_names_depend_on_state_and_scheme() {
        let plain = config("http://127.0.0.1:1/cb");
        assert_eq!(cookie_name(&plain, "s1"), cookie_name(&plain, "s1"));
        assert_ne!(cookie_name(&plain, "s1"), cookie_name(&plain, "s2"));
        assert!(!cookie_name(&plain, "s1").contains("s1"));
        let https = config("https://app.example/cb");
        assert!(cookie_name(&https, "s1").starts_with("__Host-"));
        let set = set_cookie(&https, "__Host-x", "v", 60);
        let set = set.to_str().unwrap();
        assert!(set.contains("Secure") && set.contains("HttpOnly") && set.contains("Path=/"), "{set}");
    }

    #[test]
    fn the_oldest_attempts_beyond_the_cap_are_expired() {
        let config = config("http://127.0.0.1:1/cb");
        let mut headers = HeaderMap::new();
        let cookie = "bankid-login-aa=100.x; other=1; bankid-login-bb=200.y; bankid-login-cc=bad";
        headers.insert(header::COOKIE, HeaderValue::from_static(cookie));
        let expired = evict_beyond_cap(&config, &headers, 300_000);
        assert_eq!(expired.len(), 1, "one slot left for the new attempt");
        assert!(expired[0].to_str().unwrap().starts_with("bankid-login-aa=;"));
    }
}
