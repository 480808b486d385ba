//! The verified-login cache: this instance's copy of the logins it read
//! from the session store, so that an authenticated request is a hash
//! lookup and a policy check instead of a store read and a JSON decode.
//!
//! # Exact on this instance
//!
//! Every write to the session store goes through the
//! [`RotationSafeStore`](crate::RotationSafeStore) that
//! [`BankIdLayer::with_session_store`](crate::BankIdLayer::with_session_store)
//! builds, and that store tells the caches of each one once the store has
//! it ([`WriteWatcher`]): a deleted record (logout, an ended or rotated id)
//! and a saved record whose login is not the cached one (a new login, the
//! app clearing the session) drop the copy. A back-channel logout received
//! here drops the copies of every login it names
//! ([`LoginCache::end_logins_everywhere`]). "The caches": every cache of
//! the process, so that two layers on one store (nested routers, two
//! clients) share their logouts as they share their sessions.
//!
//! A request that read the store just before such a write must not put the
//! old login back afterwards. So each id belongs to one of [`STRIPES`]
//! counters, raised by every drop: the same store tells the cache when a
//! read of a session record begins, and the request's [`CacheTicket`] takes
//! the counter then, before the store is asked; its copy is kept only if
//! the counter has not moved once it is in. Whichever order the two take,
//! the old login is not served again: the drop either removes the copy or
//! moves the counter the copy is checked against. A request whose session
//! was read elsewhere (not through the watched store, or before
//! `BankIdLayer` saw the request) has no ticket and keeps no copy.
//!
//! # Across instances: the time to live
//!
//! What another instance writes reaches this one only through the store, so
//! a copy answers for at most
//! [`login_cache_ttl`](crate::BankIdConfigBuilder::login_cache_ttl),
//! counted from before its read, and never past the record's own expiry
//! (as the store answered it): a logout elsewhere ends the login here
//! within that time. The store must answer a read with the writes that
//! completed before it (the memory store and Redis do).
//!
//! # Bounded
//!
//! At most `login_cache_max_entries` logins and `login_cache_max_bytes`
//! bytes: each entry weighs its estimated size but at least
//! `max_bytes / max_entries`, so one weight bound keeps both, and the
//! cache holds it at every insert.

use std::cell::Cell;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use quick_cache::Weighter;
use quick_cache::sync::Cache;
use serde_json::Value;
use tokio::task::futures::TaskLocalFuture;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};

use crate::config::LoginCacheSettings;
use crate::records::logout_markers::LogoutSubject;
use crate::records::rotation::WriteWatcher;
use crate::session::CurrentLogin;

/// How many drop counters the ids share: a drop refuses only the copies
/// being put in for ids on its counter, so a busy instance's logouts do not
/// stall every other session's cache.
const STRIPES: usize = 256;

/// The logins one layer read from its session store, by session id.
pub(crate) struct LoginCache {
    /// Which cache this is (tickets name the cache whose counters they took).
    serial: u64,
    entries: Cache<Id, Arc<CachedLogin>, ByWeight>,
    drops: Box<[AtomicU64]>,
    settings: LoginCacheSettings,
    /// Keyed per process: nobody outside can make two logins look alike.
    hashes: RandomState,
    /// The session key the login is stored under.
    login_key: &'static str,
    hits: Counter,
    misses: Counter,
}

/// One cached login.
pub(crate) struct CachedLogin {
    pub(crate) login: CurrentLogin,
    /// The stored value's hash: a save that keeps it keeps the copy.
    fingerprint: u64,
    fresh_until: Instant,
    /// The last activity this instance knows of (Unix milliseconds; with an
    /// idle timeout): it only moves forward.
    last_active_ms: AtomicI64,
    weight: u64,
}

impl CachedLogin {
    /// The last activity this instance knows of.
    pub(crate) fn last_active_ms(&self) -> i64 {
        self.last_active_ms.load(Ordering::Acquire)
    }

    /// Records activity at `ms` (never moving it back).
    pub(crate) fn active_at(&self, ms: i64) {
        self.last_active_ms.fetch_max(ms, Ordering::AcqRel);
    }
}

/// What a request took from the cache when its session record was read:
/// the record's id, the id's drop counter before the read, and until when
/// a copy of what it read may answer. (No `Debug`: the id is the cookie.)
/// Public only as part of `BankIdService`'s future type; not nameable.
#[derive(Clone, Copy)]
pub struct CacheTicket {
    cache: u64,
    id: Id,
    drops: u64,
    fresh_until: Instant,
}

tokio::task_local! {
    /// The ticket of the session record the current request read through
    /// the watched store, in the scope `BankIdLayer` gives each request.
    static READ_TICKET: Cell<Option<CacheTicket>>;
}

/// A request's future within the scope of its [`CacheTicket`].
pub type TicketScope<F> = TaskLocalFuture<Cell<Option<CacheTicket>>, F>;

/// `request` with a place for its [`CacheTicket`] (see the module docs).
pub(crate) fn with_ticket_scope<F: Future>(request: F) -> TicketScope<F> {
    READ_TICKET.scope(Cell::new(None), request)
}

/// Every cache of this process (see [`every_cache`]).
static CACHES: Mutex<Vec<Weak<LoginCache>>> = Mutex::new(Vec::new());

/// Every live cache of this process. A write to a session store, or a
/// back-channel logout, reaches them all: two layers on one store in one
/// process (nested routers, two clients) share sessions, so one's logout
/// must end the other's copy too. Telling a cache of an id it does not hold
/// costs a counter bump.
fn every_cache() -> Vec<Arc<LoginCache>> {
    let caches = CACHES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    caches.iter().filter_map(Weak::upgrade).collect()
}

/// The cache's size and use, for monitoring and benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginCacheStats {
    /// Logins held.
    pub entries: usize,
    /// The bytes they are charged (estimated size, at least
    /// `max_bytes / max_entries` each).
    pub bytes: u64,
    /// The bounds: `login_cache_max_entries` and `login_cache_max_bytes`.
    pub max_entries: usize,
    /// See `max_entries`.
    pub max_bytes: u64,
    /// Authenticated requests answered from the cache.
    pub hits: u64,
    /// Requests with a session cookie that read the store instead.
    pub misses: u64,
}

/// One shard per MiB of the byte bound, up to four per core: quick_cache
/// splits the bound evenly between its shards and admits no entry heavier
/// than (nearly) a shard's share, so shards must stay large against a login
/// (a few kB). quick_cache itself keeps at least 32 entries per shard.
fn options(settings: &LoginCacheSettings) -> quick_cache::Options {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let shards = (settings.max_bytes >> 20).clamp(1, 4 * cores);
    quick_cache::OptionsBuilder::new()
        .shards(shards)
        .estimated_items_capacity(settings.max_entries)
        .weight_capacity(settings.max_bytes as u64)
        .build()
        .expect("every option is set")
}

/// Weighs an entry by its charged bytes.
#[derive(Clone)]
struct ByWeight;

impl Weighter<Id, Arc<CachedLogin>> for ByWeight {
    fn weight(&self, _id: &Id, entry: &Arc<CachedLogin>) -> u64 {
        entry.weight
    }
}

impl LoginCache {
    /// A cache with `settings`, for logins stored under `login_key`; `None`
    /// when the settings turn it off.
    pub(crate) fn new(settings: LoginCacheSettings, login_key: &'static str) -> Option<Arc<LoginCache>> {
        if settings.ttl.is_zero() {
            return None;
        }
        static SERIALS: AtomicU64 = AtomicU64::new(0);
        let entries = Cache::with_options(options(&settings), ByWeight, Default::default(), Default::default());
        let cache = Arc::new(LoginCache {
            serial: SERIALS.fetch_add(1, Ordering::Relaxed),
            entries,
            drops: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            settings,
            hashes: RandomState::new(),
            login_key,
            hits: Counter::default(),
            misses: Counter::default(),
        });
        let mut caches = CACHES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        caches.retain(|cache| cache.strong_count() > 0);
        caches.push(Arc::downgrade(&cache));
        Some(cache)
    }

    /// The ticket of the current request's read of session `id`, if it was
    /// read through this cache's watched store within the request's scope.
    pub(crate) fn ticket_for(&self, id: Id) -> Option<CacheTicket> {
        let ticket = READ_TICKET.try_with(Cell::get).ok().flatten();
        ticket.filter(|ticket| ticket.id == id && ticket.cache == self.serial)
    }

    /// The ticket of a read of session `id` that begins now.
    fn ticket(&self, id: Id) -> CacheTicket {
        let drops = self.drops_of(&id).load(Ordering::SeqCst);
        CacheTicket { cache: self.serial, id, drops, fresh_until: Instant::now() + self.settings.ttl }
    }

    /// The fresh copy for `id`, if any (a stale one is dropped).
    pub(crate) fn get(&self, id: &Id) -> Option<Arc<CachedLogin>> {
        match self.entries.get(id) {
            Some(entry) if entry.fresh_until > Instant::now() => {
                self.hits.add_one();
                Some(entry)
            }
            Some(stale) => {
                self.entries.remove_if(id, |e| Arc::ptr_eq(e, &stale));
                self.misses.add_one();
                None
            }
            None => {
                self.misses.add_one();
                None
            }
        }
    }

    /// Keeps `login`, read from the store after `ticket` was taken, unless
    /// a drop for its id came in between (see the module docs).
    /// `stored` identifies the value it was read from; `last_active_ms` is
    /// the login's last activity (with an idle timeout).
    pub(crate) fn insert(&self, ticket: CacheTicket, login: CurrentLogin, stored: LoginValue, last_active_ms: i64) {
        let weight = self.weight_of(stored.len);
        let entry = Arc::new(CachedLogin {
            login,
            fingerprint: stored.fingerprint,
            fresh_until: ticket.fresh_until,
            last_active_ms: AtomicI64::new(last_active_ms),
            weight,
        });
        let drops = self.drops_of(&ticket.id);
        if drops.load(Ordering::SeqCst) != ticket.drops {
            return;
        }
        self.entries.insert(ticket.id, Arc::clone(&entry));
        if drops.load(Ordering::SeqCst) != ticket.drops {
            self.entries.remove_if(&ticket.id, |e| Arc::ptr_eq(e, &entry));
        }
    }

    /// Drops the copy for `id`, and any a request that read the store
    /// before now is about to put in.
    pub(crate) fn forget(&self, id: &Id) {
        self.drops_of(id).fetch_add(1, Ordering::SeqCst);
        self.entries.remove(id);
    }

    /// Drops, in every cache of the process, every copy of a login
    /// `subject` names (a back-channel logout received here, already
    /// recorded in the store).
    pub(crate) fn end_logins_everywhere(subject: &LogoutSubject<'_>) {
        for cache in every_cache() {
            cache.end_logins(subject);
        }
    }

    fn end_logins(&self, subject: &LogoutSubject<'_>) {
        for drops in &self.drops {
            drops.fetch_add(1, Ordering::SeqCst);
        }
        self.entries.retain(|_, entry| !subject.names(&entry.login.keys()));
    }

    /// What identifies a stored login value (its hash) and its length.
    pub(crate) fn login_value(&self, value: &Value) -> LoginValue {
        match value {
            Value::String(text) => LoginValue { fingerprint: self.hashes.hash_one(text.as_str()), len: text.len() },
            // An older stored form: never equal to a packed one.
            other => {
                let text = other.to_string();
                LoginValue { fingerprint: self.hashes.hash_one(("object", text.as_str())), len: text.len() }
            }
        }
    }

    /// The cache's size and use.
    pub(crate) fn stats(&self) -> LoginCacheStats {
        LoginCacheStats {
            entries: self.entries.len(),
            bytes: self.entries.weight(),
            max_entries: self.settings.max_entries,
            max_bytes: self.settings.max_bytes as u64,
            hits: self.hits.sum(),
            misses: self.misses.sum(),
        }
    }

    fn drops_of(&self, id: &Id) -> &AtomicU64 {
        // Session ids are random: their low bits spread evenly.
        &self.drops[(id.0 as u64 as usize) % STRIPES]
    }

    /// An entry's charged bytes: its parts' sizes — the stored value, which
    /// the claims are decoded from, counted three times (the value, the
    /// claims map a handler may decode, the user's fields) — and at least
    /// the share of one entry in the byte bound.
    fn weight_of(&self, value_len: usize) -> u64 {
        let fixed = std::mem::size_of::<CachedLogin>() + std::mem::size_of::<crate::User>() + 128;
        let estimate = (fixed + 3 * value_len) as u64;
        let floor = (self.settings.max_bytes / self.settings.max_entries) as u64;
        estimate.max(floor)
    }
}

impl CacheTicket {
    /// This ticket, fresh no longer than `record` lives.
    fn until_expiry_of(self, record: &Record) -> CacheTicket {
        let left = record.expiry_date - OffsetDateTime::now_utc();
        let left = std::time::Duration::try_from(left).unwrap_or_default();
        CacheTicket { fresh_until: self.fresh_until.min(Instant::now() + left), ..self }
    }
}

/// A count that every worker thread adds to on every request: each thread
/// adds to a lane of its own, on its own cache line, so that counting does
/// not make the cores fight over one line; reading sums the lanes.
struct Counter {
    lanes: Box<[Lane]>,
}

#[repr(align(128))]
#[derive(Default)]
struct Lane(AtomicU64);

const LANES: usize = 16;

thread_local! {
    /// This thread's lane.
    static LANE: usize = {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) as usize % LANES
    };
}

impl Default for Counter {
    fn default() -> Self {
        Counter { lanes: (0..LANES).map(|_| Lane::default()).collect() }
    }
}

impl Counter {
    fn add_one(&self) {
        let lane = LANE.with(|lane| *lane);
        self.lanes[lane].0.fetch_add(1, Ordering::Relaxed);
    }

    fn sum(&self) -> u64 {
        self.lanes.iter().map(|lane| lane.0.load(Ordering::Relaxed)).sum()
    }
}

/// A stored login value's hash and length (see [`LoginCache::login_value`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct LoginValue {
    fingerprint: u64,
    len: usize,
}

impl WriteWatcher for LoginCache {
    /// The current request's ticket is taken (see the module docs).
    fn loading(&self, id: &Id) {
        let _ = READ_TICKET.try_with(|slot| slot.set(Some(self.ticket(*id))));
    }

    /// A copy of what was read answers no longer than the record lives.
    fn loaded(&self, id: &Id, record: Option<&Record>) {
        let _ = READ_TICKET.try_with(|slot| {
            let ticket = slot.get().filter(|ticket| ticket.id == *id);
            slot.set(ticket.zip(record).map(|(ticket, record)| ticket.until_expiry_of(record)));
        });
    }

    /// In every cache of the process (see [`every_cache`]).
    fn saved(&self, record: &Record) {
        for cache in every_cache() {
            cache.saved_here(record);
        }
    }

    /// In every cache of the process (see [`every_cache`]).
    fn deleted(&self, id: &Id) {
        for cache in every_cache() {
            cache.forget(id);
        }
    }
}

impl LoginCache {
    /// A save that keeps the cached login keeps the copy; any other drops it
    /// (a different login, none, or nothing cached to compare with).
    fn saved_here(&self, record: &Record) {
        let kept = self.entries.peek(&record.id).is_some_and(|entry| {
            record.data.get(self.login_key).is_some_and(|v| self.login_value(v).fingerprint == entry.fingerprint)
        });
        if !kept {
            self.forget(&record.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::session::packed_for_tests;

    const KEY: &str = "login";

    fn cache(ttl_ms: u64, max_entries: usize, max_bytes: usize) -> Arc<LoginCache> {
        let settings = LoginCacheSettings { ttl: Duration::from_millis(ttl_ms), max_entries, max_bytes };
        LoginCache::new(settings, KEY).unwrap()
    }

    fn value(sub: &str, sid: &str) -> Value {
        let claims = json!({"iss": "https://oidc.example", "sub": sub, "sid": sid, "acr": "urn:bankid:bis;LOA=3"});
        packed_for_tests(claims.as_object().unwrap().clone())
    }

    /// A login the size of a real one with every claim granted (~3 kB).
    fn full_size_value(sub: &str) -> Value {
        let claims = json!({"iss": "https://oidc.example", "sub": sub, "acr": "urn:bankid:bis;LOA=3",
            "name": "Kari Nordmann", "padding": "x".repeat(3000)});
        packed_for_tests(claims.as_object().unwrap().clone())
    }

    /// Reads `stored` for `id` as a request holding `ticket` would, and keeps it.
    fn put(cache: &LoginCache, ticket: CacheTicket, stored: &Value) {
        let login = CurrentLogin::from_value(stored.clone()).unwrap();
        cache.insert(ticket, login, cache.login_value(stored), 0);
    }

    fn record(id: Id, login: Option<&Value>) -> Record {
        let expiry_date = OffsetDateTime::now_utc() + tower_sessions::cookie::time::Duration::hours(1);
        let mut record = Record { id, data: Default::default(), expiry_date };
        if let Some(login) = login {
            record.data.insert(KEY.into(), login.clone());
        }
        record
    }

    #[test]
    fn a_zero_ttl_is_no_cache() {
        let settings = LoginCacheSettings { ttl: Duration::ZERO, max_entries: 1, max_bytes: 1 << 20 };
        assert!(LoginCache::new(settings, KEY).is_none());
    }

    #[test]
    fn the_bound_on_entries_and_bytes_holds_at_every_insert() {
        for (max_entries, max_bytes) in [(16, 1 << 20), (1000, 64 * 1024), (50_000, 64 << 20)] {
            let cache = cache(60_000, max_entries, max_bytes);
            for i in 0..2000 {
                let id = Id(i);
                put(&cache, cache.ticket(id), &value(&format!("user-{i}"), "s"));
                let stats = cache.stats();
                assert!(stats.entries <= max_entries, "{i}: {stats:?}");
                assert!(stats.bytes <= max_bytes as u64, "{i}: {stats:?}");
            }
            assert!(cache.stats().entries > 0);
        }
    }

    #[test]
    fn the_smallest_bounds_still_cache_full_size_logins() {
        for (max_entries, max_bytes) in [(16, 64 * 1024), (50_000, 64 * 1024), (16, 64 << 20)] {
            let cache = cache(60_000, max_entries, max_bytes);
            let stored = full_size_value("kari");
            assert!(stored.as_str().unwrap().len() > 3000);
            put(&cache, cache.ticket(Id(1)), &stored);
            assert!(cache.get(&Id(1)).is_some(), "{max_entries} entries, {max_bytes} bytes");
        }
    }

    #[tokio::test]
    async fn a_read_takes_its_ticket_only_within_a_requests_scope_and_for_its_id() {
        let cache = cache(60_000, 100, 1 << 20);
        let kari = value("kari", "s1");
        let record = record(Id(3), Some(&kari));
        cache.loading(&Id(3));
        assert!(cache.ticket_for(Id(3)).is_none(), "outside a request's scope there is none");
        with_ticket_scope(async {
            assert!(cache.ticket_for(Id(3)).is_none(), "nothing read yet");
            cache.loading(&Id(3));
            cache.loaded(&Id(3), Some(&record));
            assert!(cache.ticket_for(Id(4)).is_none(), "the ticket is for the id that was read");
            let ticket = cache.ticket_for(Id(3)).expect("a ticket");
            cache.loading(&Id(3));
            cache.loaded(&Id(3), None);
            assert!(cache.ticket_for(Id(3)).is_none(), "a read that found nothing leaves nothing to keep");
            put(&cache, ticket, &kari);
        })
        .await;
        assert!(cache.get(&Id(3)).is_some());
    }

    #[tokio::test]
    async fn a_copy_never_outlives_the_record_it_was_read_from() {
        let cache = cache(60_000, 100, 1 << 20);
        let kari = value("kari", "s1");
        let mut expiring = record(Id(5), Some(&kari));
        expiring.expiry_date = OffsetDateTime::now_utc() + tower_sessions::cookie::time::Duration::milliseconds(30);
        let ticket = with_ticket_scope(async {
            cache.loading(&Id(5));
            cache.loaded(&Id(5), Some(&expiring));
            cache.ticket_for(Id(5)).unwrap()
        })
        .await;
        put(&cache, ticket, &kari);
        assert!(cache.get(&Id(5)).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get(&Id(5)).is_none(), "the store's record expired: so did the copy");
    }

    #[test]
    fn a_drop_after_the_ticket_keeps_the_read_login_out() {
        let cache = cache(60_000, 100, 1 << 20);
        let id = Id(7);
        let stored = value("kari", "s1");
        // Dropped after the request took its ticket (and read the store):
        let ticket = cache.ticket(id);
        cache.deleted(&id);
        put(&cache, ticket, &stored);
        assert!(cache.get(&id).is_none(), "the login read before the drop is not kept");
        // A request that begins after the drop may keep what it reads.
        put(&cache, cache.ticket(id), &stored);
        assert!(cache.get(&id).is_some());
    }

    #[test]
    fn a_copy_answers_for_its_ttl_counted_from_its_ticket() {
        let cache = cache(30, 100, 1 << 20);
        let id = Id(8);
        let ticket = cache.ticket(id);
        std::thread::sleep(Duration::from_millis(40));
        put(&cache, ticket, &value("kari", "s1"));
        assert!(cache.get(&id).is_none(), "stale as soon as it is in: its read began 40 ms ago");
        put(&cache, cache.ticket(id), &value("kari", "s1"));
        assert!(cache.get(&id).is_some());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (1, 1));
    }

    #[test]
    fn a_save_keeps_the_copy_only_while_it_holds_the_same_login() {
        let cache = cache(60_000, 100, 1 << 20);
        let id = Id(9);
        let kari = value("kari", "s1");
        put(&cache, cache.ticket(id), &kari);
        cache.saved(&record(id, Some(&kari)));
        assert!(cache.get(&id).is_some(), "the app saved other data: the login is the same");
        cache.saved(&record(id, Some(&value("ola", "s2"))));
        assert!(cache.get(&id).is_none(), "another login under the id");
        put(&cache, cache.ticket(id), &kari);
        cache.saved(&record(id, None));
        assert!(cache.get(&id).is_none(), "the session was emptied");
    }

    #[test]
    fn a_backchannel_logout_drops_the_logins_it_names_only() {
        let cache = cache(60_000, 100, 1 << 20);
        put(&cache, cache.ticket(Id(1)), &value("kari", "s1"));
        put(&cache, cache.ticket(Id(2)), &value("kari", "s2"));
        put(&cache, cache.ticket(Id(3)), &value("ola", "s3"));
        let issuer = "https://oidc.example";
        cache.end_logins(&LogoutSubject { issuer, sub: Some("kari"), sid: Some("s1") });
        assert!(cache.get(&Id(1)).is_none() && cache.get(&Id(2)).is_some(), "a sid names one session");
        cache.end_logins(&LogoutSubject { issuer, sub: Some("kari"), sid: None });
        assert!(cache.get(&Id(2)).is_none() && cache.get(&Id(3)).is_some(), "a sub alone names the user's");
        cache.end_logins(&LogoutSubject { issuer: "https://other.example", sub: Some("ola"), sid: None });
        assert!(cache.get(&Id(3)).is_some(), "another issuer's ola is someone else");
    }
}
