//! State shared by the simulator's handlers and its public handle.
//!
//! Everything mutable sits behind one `std::sync::Mutex`: the critical
//! sections are a few map operations, never an `.await`, so an async mutex
//! would only add cost. Each map is bounded and its entries expire, so a
//! simulator left running under load cannot grow without limit.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::faults::Faults;
use super::users::TestUser;

/// How long a login page may stay open before its request is forgotten.
pub(crate) const PENDING_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// How long an authorization code may wait for redemption.
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(60);
/// Lifetime of access tokens, in seconds, as announced in `expires_in`.
pub(crate) const ACCESS_TOKEN_LIFETIME_SECS: u64 = 300;
/// Upper bound for each of the maps below.
const MAX_ENTRIES: usize = 1024;

/// Configuration and state of one simulator.
///
/// No `Debug`: it holds the client secret, codes and access tokens.
pub(crate) struct Shared {
    /// `http://<addr>`, without a trailing slash.
    pub(crate) issuer: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) jwks_requests: AtomicUsize,
    pub(crate) token_requests: AtomicUsize,
    inner: Mutex<Inner>,
}

/// The mutable part of [`Shared`].
#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) redirect_uris: BTreeSet<String>,
    pub(crate) faults: Faults,
    /// Set for good by `Fault::RotatedKeys`: `sim-2` stays published.
    pub(crate) rotated: bool,
    pub(crate) last_authorize_params: Option<BTreeMap<String, String>>,
    pub(crate) pending: Expiring<PendingRequest>,
    pub(crate) codes: Expiring<IssuedCode>,
    pub(crate) tokens: Expiring<AccessGrant>,
}

/// A validated authorization request waiting for the user's decision.
#[derive(Debug, Clone)]
pub(crate) struct PendingRequest {
    pub(crate) redirect_uri: String,
    pub(crate) state: String,
    pub(crate) nonce: Option<String>,
    pub(crate) code_challenge: String,
    pub(crate) scope: String,
}

/// What an authorization code stands for.
#[derive(Clone)]
pub(crate) struct IssuedCode {
    pub(crate) request: PendingRequest,
    pub(crate) user: &'static TestUser,
    /// Unix time of the user's approval (`auth_time`).
    pub(crate) auth_time: u64,
    /// Session id of this login (`sid`).
    pub(crate) sid: String,
    /// Set by the first redemption attempt, successful or not: any later
    /// attempt is a replay.
    pub(crate) redeemed: bool,
    /// The access token issued for this code, revoked if the code is
    /// replayed (RFC 6749 §4.1.2).
    pub(crate) access_token: Option<String>,
}

/// What an access token grants at the userinfo endpoint.
#[derive(Debug, Clone)]
pub(crate) struct AccessGrant {
    pub(crate) user: &'static TestUser,
    pub(crate) scope: String,
}

impl Shared {
    pub(crate) fn new(
        issuer: String,
        client_id: String,
        client_secret: String,
        redirect_uris: BTreeSet<String>,
    ) -> Self {
        Shared {
            issuer,
            client_id,
            client_secret,
            jwks_requests: AtomicUsize::new(0),
            token_requests: AtomicUsize::new(0),
            inner: Mutex::new(Inner { redirect_uris, ..Inner::default() }),
        }
    }

    /// Locks the mutable state. A panic in another handler cannot leave the
    /// maps half-updated in a way that matters to a test double, so a
    /// poisoned lock is simply taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A map from random handles to values that expire, holding at most
/// `MAX_ENTRIES` of them.
pub(crate) struct Expiring<T> {
    entries: HashMap<String, (Instant, T)>,
}

impl<T> Default for Expiring<T> {
    fn default() -> Self {
        Expiring { entries: HashMap::new() }
    }
}

impl<T> Expiring<T> {
    /// Stores `value` under a fresh random handle and returns the handle.
    pub(crate) fn insert(&mut self, value: T, lifetime: Duration) -> String {
        let now = Instant::now();
        self.entries.retain(|_, (expires, _)| *expires > now);
        if self.entries.len() >= MAX_ENTRIES {
            self.evict_soonest_expiring();
        }
        let handle = random_token();
        self.entries.insert(handle.clone(), (now + lifetime, value));
        handle
    }

    /// The live value under `handle`, if any.
    pub(crate) fn get_mut(&mut self, handle: &str) -> Option<&mut T> {
        let now = Instant::now();
        match self.entries.get_mut(handle) {
            Some((expires, value)) if *expires > now => Some(value),
            _ => None,
        }
    }

    /// Removes and returns the live value under `handle`, if any.
    pub(crate) fn take(&mut self, handle: &str) -> Option<T> {
        let (expires, value) = self.entries.remove(handle)?;
        (expires > Instant::now()).then_some(value)
    }

    fn evict_soonest_expiring(&mut self) {
        let soonest = self.entries.iter().min_by_key(|(_, (expires, _))| *expires).map(|(handle, _)| handle.clone());
        if let Some(handle) = soonest {
            self.entries.remove(&handle);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// 32 random bytes, base64url without padding: unguessable handles for
/// pending requests, codes and access tokens.
pub(crate) fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_expire_and_are_taken_once() {
        let mut map = Expiring::default();
        let live = map.insert(1, Duration::from_secs(60));
        let dead = map.insert(2, Duration::ZERO);
        assert_eq!(map.get_mut(&dead), None);
        assert_eq!(map.take(&live), Some(1));
        assert_eq!(map.take(&live), None);
    }

    #[test]
    fn size_is_bounded() {
        let mut map = Expiring::default();
        for i in 0..MAX_ENTRIES + 10 {
            map.insert(i, Duration::from_secs(60));
        }
        assert_eq!(map.len(), MAX_ENTRIES);
    }

    #[test]
    fn tokens_are_43_url_safe_characters() {
        let token = random_token();
        assert_eq!(token.len(), 43);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(token, random_token());
    }
}
