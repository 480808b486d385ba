//! A provider document (JWKS, discovery metadata) cached for a bounded time.
//!
//! The provider says how long a response may be reused with
//! `Cache-Control: max-age` (RFC 9111 §5.2.2.1); [`MaxAgePolicy`] clamps
//! that between a floor (so a provider cannot make us fetch on every
//! request) and a ceiling (so a document — a removed signing key — is never
//! trusted for longer than we chose). [`MaxAgeCache`] then serves the value
//! without any network call while it is within its age, and refetches it
//! when it is not:
//!
//! - **Expiry-driven, fail closed.** Past its max age the value is not
//!   handed out until a refetch succeeds. If the refetch fails, the last good
//!   value is kept (nothing is wiped, and a later successful fetch replaces
//!   it) but not used: callers get an error until the provider answers again.
//! - **Single-flight.** Concurrent callers that find the value stale wait for
//!   one fetch and share its result; after a failed fetch, further attempts
//!   wait for the cooldown, so a provider that is down is not hammered.
//! - **Forced refetch** (an unknown key id, a signature that no longer
//!   verifies) is rate-limited to one per cooldown.
//!
//! One cache holds one document of one provider; a second provider gets its
//! own instance.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use http::HeaderMap;

use super::error::Cause;

/// How long a fetched document may be used: the response's
/// `Cache-Control: max-age`, clamped to `[floor, ceiling]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MaxAgePolicy {
    /// The shortest max age: `max-age=0`, `no-cache` and `no-store` get this.
    pub(crate) floor: Duration,
    /// The longest max age, also used when the response says nothing.
    pub(crate) ceiling: Duration,
}

impl MaxAgePolicy {
    /// The max age for a response with these headers. Without a usable
    /// `max-age` the ceiling applies; `no-store`/`no-cache` mean "as short as
    /// we allow", the floor.
    pub(crate) fn max_age(&self, headers: &HeaderMap) -> Duration {
        let asked = cache_control_max_age(headers).unwrap_or(self.ceiling);
        asked.clamp(self.floor, self.ceiling.max(self.floor))
    }
}

/// The `max-age` a response allows, if it says: `Some(ZERO)` for `no-store`
/// and `no-cache`, `None` when there is no (parsable) `max-age`. Directive
/// names are case-insensitive (RFC 9111 §5.2); `s-maxage` is for shared
/// caches and is ignored.
fn cache_control_max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut max_age = None;
    for value in headers.get_all(http::header::CACHE_CONTROL).iter().filter_map(|v| v.to_str().ok()) {
        for directive in value.split(',').map(str::trim) {
            let (name, arg) = directive.split_once('=').map_or((directive, None), |(n, a)| (n.trim(), Some(a)));
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return Some(Duration::ZERO);
            }
            if name.eq_ignore_ascii_case("max-age") {
                // Quoted values are allowed by the grammar's recipients (§5.2).
                let secs = arg.map(|a| a.trim().trim_matches('"')).and_then(|a| a.parse::<u64>().ok());
                max_age = secs.map(Duration::from_secs).or(max_age);
            }
        }
    }
    max_age
}

/// Why [`MaxAgeCache`] has no value to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CacheError {
    /// The value is past its max age and the refetch failed (now or within
    /// the cooldown).
    Unavailable,
}

/// A fetch's result: the value and the response headers it came with.
pub(crate) type Fetched<T> = Result<(T, HeaderMap), Cause>;

/// One value with the time it was fetched and how long it may be used.
struct Entry<T> {
    value: Arc<T>,
    fetched_at: Instant,
    max_age: Duration,
}

impl<T> Entry<T> {
    fn is_fresh(&self) -> bool {
        self.fetched_at.elapsed() < self.max_age
    }
}

/// Serialises fetches; remembers the last attempt for the cooldown.
#[derive(Default)]
struct Gate {
    last_attempt: Option<Instant>,
    last_failed: bool,
}

/// A document fetched from the provider, reused within its max age; see the
/// module docs for the refresh rules.
pub(crate) struct MaxAgeCache<T> {
    policy: MaxAgePolicy,
    cooldown: Duration,
    entry: RwLock<Arc<Entry<T>>>,
    gate: tokio::sync::Mutex<Gate>,
}

/// A value handed out by the cache, with the identity of the fetch it came
/// from (for [`MaxAgeCache::refetch`]).
pub(crate) struct Snapshot<T>(Arc<Entry<T>>);

impl<T> Snapshot<T> {
    pub(crate) fn value(&self) -> &Arc<T> {
        &self.0.value
    }
}

impl<T> MaxAgeCache<T> {
    /// A cache holding a value fetched at start-up. The start-up fetch does
    /// not start a cooldown: a rotation right after start is still picked up.
    pub(crate) fn new(policy: MaxAgePolicy, cooldown: Duration, value: T, headers: &HeaderMap) -> Self {
        let entry = Entry { value: Arc::new(value), fetched_at: Instant::now(), max_age: policy.max_age(headers) };
        MaxAgeCache { policy, cooldown, entry: RwLock::new(Arc::new(entry)), gate: Default::default() }
    }

    /// How old the held value is and how long it may be used, without
    /// touching the network (for health reports).
    pub(crate) fn age(&self) -> (Duration, Duration) {
        let entry = self.current();
        (entry.fetched_at.elapsed(), entry.max_age)
    }

    /// The value held now, fresh or not, without touching the network: for
    /// a document whose last good copy is better than none while its
    /// refresh fails (discovery metadata; never the keys).
    pub(crate) fn latest(&self) -> Snapshot<T> {
        Snapshot(self.current())
    }

    fn current(&self) -> Arc<Entry<T>> {
        Arc::clone(&self.entry.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The value if it is within its max age; otherwise one refetch shared
    /// by all concurrent callers. Never touches the network while fresh.
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> Result<Snapshot<T>, CacheError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Fetched<T>>,
    {
        let seen = self.current();
        if seen.is_fresh() {
            return Ok(Snapshot(seen));
        }
        let mut gate = self.gate.lock().await;
        let now = self.current();
        if !Arc::ptr_eq(&seen, &now) && now.is_fresh() {
            // Another caller refreshed while we waited for the gate.
            return Ok(Snapshot(now));
        }
        if gate.last_failed && self.cooling_down(&gate) {
            return Err(CacheError::Unavailable);
        }
        tracing::debug!("cached provider document is past its max age; refetching");
        self.fetch_locked(&mut gate, fetch).await.map(Snapshot)
    }

    /// A refetch because `seen` did not have what was needed (an unknown
    /// key id, a key that no longer verifies). Returns the newer value if
    /// another caller already replaced `seen`, `Ok(None)` while cooling down
    /// (at most one forced fetch per cooldown), or the fresh value.
    pub(crate) async fn refetch<F, Fut>(&self, seen: &Snapshot<T>, fetch: F) -> Result<Option<Snapshot<T>>, CacheError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Fetched<T>>,
    {
        let mut gate = self.gate.lock().await;
        let now = self.current();
        if !Arc::ptr_eq(&seen.0, &now) {
            return Ok(Some(Snapshot(now)));
        }
        if self.cooling_down(&gate) {
            return Ok(None);
        }
        self.fetch_locked(&mut gate, fetch).await.map(|entry| Some(Snapshot(entry)))
    }

    fn cooling_down(&self, gate: &Gate) -> bool {
        gate.last_attempt.is_some_and(|at| at.elapsed() < self.cooldown)
    }

    async fn fetch_locked<F, Fut>(&self, gate: &mut Gate, fetch: F) -> Result<Arc<Entry<T>>, CacheError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Fetched<T>>,
    {
        gate.last_attempt = Some(Instant::now());
        match fetch().await {
            Ok((value, headers)) => {
                gate.last_failed = false;
                let max_age = self.policy.max_age(&headers);
                let entry = Arc::new(Entry { value: Arc::new(value), fetched_at: Instant::now(), max_age });
                *self.entry.write().unwrap_or_else(|p| p.into_inner()) = Arc::clone(&entry);
                tracing::debug!(max_age_secs = max_age.as_secs(), "provider document refreshed");
                Ok(entry)
            }
            Err(err) => {
                gate.last_failed = true;
                // The last good value stays in place, unused once stale.
                tracing::warn!(error = %err, "refreshing a provider document failed");
                Err(CacheError::Unavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn headers(cache_control: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in cache_control {
            map.append(http::header::CACHE_CONTROL, value.parse().unwrap());
        }
        map
    }

    const POLICY: MaxAgePolicy = MaxAgePolicy { floor: Duration::from_secs(60), ceiling: Duration::from_secs(3600) };

    #[test]
    fn max_age_is_clamped_between_floor_and_ceiling() {
        let secs = |cc: &[&str]| POLICY.max_age(&headers(cc)).as_secs();
        assert_eq!(secs(&[]), 3600, "silence means the ceiling");
        assert_eq!(secs(&["public, max-age=600"]), 600);
        assert_eq!(secs(&["MAX-AGE=\"120\""]), 120);
        assert_eq!(secs(&["max-age=5"]), 60, "raised to the floor");
        assert_eq!(secs(&["max-age=99999999999"]), 3600, "cut to the ceiling");
        assert_eq!(secs(&["max-age=18446744073709551616"]), 3600, "unparsable: ceiling");
        assert_eq!(secs(&["no-store"]), 60);
        assert_eq!(secs(&["max-age=600", "no-cache"]), 60);
        assert_eq!(secs(&["s-maxage=10"]), 3600);
        assert_eq!(secs(&["max-age=-1"]), 3600);
    }

    /// A cache of `1` whose first fetch allowed `max-age={max_age}`; later
    /// fetches may allow up to an hour.
    fn cache(max_age: u64, cooldown: u64) -> MaxAgeCache<u32> {
        let policy = MaxAgePolicy { floor: Duration::ZERO, ceiling: Duration::from_secs(3600) };
        let first = headers(&[&format!("max-age={max_age}")]);
        MaxAgeCache::new(policy, Duration::from_secs(cooldown), 1, &first)
    }

    #[tokio::test]
    async fn fresh_values_never_fetch() {
        let cache = cache(3600, 60);
        let got = cache.get(|| async { panic!("no fetch while fresh") }).await.unwrap();
        assert_eq!(**got.value(), 1);
    }

    #[tokio::test]
    async fn stale_values_are_refetched_once_for_a_burst() {
        let cache = Arc::new(cache(0, 60));
        let fetches = Arc::new(AtomicUsize::new(0));
        let burst = (0..16).map(|_| {
            let (cache, fetches) = (Arc::clone(&cache), Arc::clone(&fetches));
            tokio::spawn(async move {
                // Fresh for an hour once refetched.
                let fetch = || async {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    Ok((2, headers(&["max-age=3600"])))
                };
                cache.get(fetch).await.map(|s| **s.value())
            })
        });
        let results = futures_util::future::join_all(burst).await;
        assert!(results.into_iter().all(|r| r.unwrap() == Ok(2)));
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_refetch_keeps_nothing_stale_in_use_and_is_not_retried_in_the_cooldown() {
        let cache = cache(0, 3600);
        let failed = cache.get(|| async { Err(Cause::new("down")) }).await;
        assert_eq!(failed.err(), Some(CacheError::Unavailable));
        let again = cache.get(|| async { panic!("no retry inside the cooldown") }).await;
        assert_eq!(again.err(), Some(CacheError::Unavailable));
    }

    #[tokio::test]
    async fn forced_refetches_are_rate_limited() {
        let cache = cache(3600, 3600);
        let seen = cache.get(|| async { unreachable!() }).await.unwrap();
        let fresh = cache.refetch(&seen, || async { Ok((2, HeaderMap::new())) }).await.unwrap().unwrap();
        assert_eq!(**fresh.value(), 2);
        // The stale snapshot gets the newer value without a fetch.
        let newer = cache.refetch(&seen, || async { panic!("already refreshed") }).await.unwrap().unwrap();
        assert_eq!(**newer.value(), 2);
        let cooling = cache.refetch(&fresh, || async { panic!("cooling down") }).await.unwrap();
        assert!(cooling.is_none());
    }
}
