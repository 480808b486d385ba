//! State shared by the simulator's handlers and its public handle.
//!
//! Everything mutable sits behind one `std::sync::Mutex`: the critical
//! sections are a few map operations, never an `.await`, so an async mutex
//! would only add cost. Each map is bounded and its entries expire, so a
//! simulator left running under load cannot grow without limit.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::capture::{CaptureLog, RequestCounts};
use super::ciba::{CibaBehavior, CibaRequest};
use super::faults::Faults;
use super::keys::{Publication, SigningAlgorithm, SigningKey};
use super::permission::{Permission, RegisteredPermission};
use super::users::{TestUser, Users};
use crate::clock::unix_now;

/// How long a login page may stay open before its request is forgotten.
pub(crate) const PENDING_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// How long an authorization code may wait for redemption.
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(60);
/// Lifetime of access tokens, in seconds, as announced in `expires_in`.
pub(crate) const ACCESS_TOKEN_LIFETIME_SECS: u64 = 300;
/// How long a pushed authorization request may wait for the browser
/// (`expires_in` of the PAR response).
pub(crate) const REQUEST_URI_LIFETIME: Duration = Duration::from_secs(60);
/// How long a used or expired `request_uri` is remembered, so that its
/// `state` and redirect URI are still known when it comes back.
pub(crate) const REQUEST_URI_GRACE: Duration = Duration::from_secs(5 * 60);
/// How long a permission registered at the Permission API is kept.
pub(crate) const PERMISSION_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// How long a CIBA request is remembered after it expired, so that polls
/// keep getting `expired_token` rather than `invalid_grant`.
pub(crate) const CIBA_GRACE: Duration = Duration::from_secs(10 * 60);
/// Upper bound for each of the maps below, unless stated otherwise.
const MAX_ENTRIES: usize = 1024;
/// Upper bound for the maps that load tests fill: CIBA requests, pushed
/// requests, access tokens and registered permissions.
pub(crate) const MAX_BULK_ENTRIES: usize = 10_000;

/// Configuration and state of one simulator.
///
/// No `Debug`: it holds the client secret, codes and access tokens.
pub(crate) struct Shared {
    /// `http://<addr>`, without a trailing slash.
    pub(crate) issuer: String,
    /// BIB's issuer, `http://<addr of the second listener>`, without a
    /// trailing slash.
    pub(crate) bib_issuer: String,
    /// Lifetime of client-credentials access tokens.
    pub(crate) client_token_lifetime: Duration,
    /// Every request both listeners received, oldest first.
    pub(crate) captured: CaptureLog,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    /// Whether discovery names the PAR endpoint.
    pub(crate) advertise_par: bool,
    /// Whether discovery advertises back-channel logout.
    pub(crate) backchannel_logout: bool,
    /// Whether the code-flow token response body repeats the approved
    /// `authorization_details` (they are always in the access token).
    pub(crate) echo_authorization_details: bool,
    /// The polling interval CIBA requests start with, in whole seconds.
    pub(crate) ciba_interval: Duration,
    /// Who can log in: the built-in users, then the added ones.
    pub(crate) users: Users,
    /// The user every login completes as, without a login page
    /// (`SimulatorBuilder::auto_approve`).
    pub(crate) auto_approve: Option<Arc<TestUser>>,
    /// The algorithm every token is signed with and discovery advertises;
    /// switched at run time by `Simulator::set_signing_algorithm`.
    signing_alg: Mutex<SigningAlgorithm>,
    /// Requests per counted endpoint (`Simulator::request_count`).
    pub(crate) request_counts: RequestCounts,
    /// `jti`s of client assertions already used (RFC 7523 §3: single use),
    /// with their `exp`.
    pub(crate) used_assertion_ids: Mutex<std::collections::HashMap<String, i64>>,
    inner: Mutex<Inner>,
}

/// The fixed settings a simulator starts with.
pub(crate) struct Settings {
    pub(crate) issuer: String,
    pub(crate) bib_issuer: String,
    pub(crate) client_token_lifetime: Duration,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) redirect_uris: BTreeSet<String>,
    pub(crate) advertise_par: bool,
    pub(crate) backchannel_logout: bool,
    pub(crate) echo_authorization_details: bool,
    pub(crate) ciba_interval: Duration,
    pub(crate) users: Users,
    pub(crate) auto_approve: Option<Arc<TestUser>>,
    pub(crate) signing_alg: SigningAlgorithm,
}

/// The mutable part of [`Shared`].
pub(crate) struct Inner {
    pub(crate) redirect_uris: BTreeSet<String>,
    pub(crate) faults: Faults,
    /// Set for good by `Fault::RotatedKeys`: `sim-2` stays published.
    pub(crate) rotated: bool,
    /// Set by `Simulator::publish_keys`: exactly these keys are published
    /// (each under its `kid`), whatever `rotated` says.
    pub(crate) published_keys: Option<Vec<(SigningKey, String)>>,
    /// Set by `Simulator::set_jwks_cache_control`: sent with the JWKS.
    pub(crate) jwks_cache_control: Option<String>,
    /// Set by `Simulator::override_discovery`: fields replaced in BankID
    /// OIDC's discovery document (`Issuer::Oidc`) or BIB's.
    pub(crate) discovery_overrides: Vec<(crate::Issuer, String, serde_json::Value)>,
    pub(crate) last_authorize_params: Option<BTreeMap<String, String>>,
    pub(crate) last_par_params: Option<BTreeMap<String, String>>,
    pub(crate) pending: Expiring<PendingRequest>,
    pub(crate) codes: Expiring<IssuedCode>,
    pub(crate) tokens: Expiring<AccessGrant>,
    /// Pushed authorization requests, by the random part of `request_uri`.
    pub(crate) pushed: Expiring<PushedRequest>,
    /// Client-credentials access tokens for the Permission API.
    pub(crate) client_tokens: Expiring<ClientGrant>,
    /// Permissions registered at the Permission API, by `id`.
    pub(crate) permissions: Expiring<RegisteredPermission>,
    /// The `id` of each registered permission, by its `permissionToken`.
    pub(crate) permission_tokens: Expiring<String>,
    /// How many more grant requests `Fault::GrantNotReady` turns away.
    pub(crate) grants_not_ready: u32,
    /// CIBA requests, by `auth_req_id`.
    pub(crate) ciba: Expiring<CibaRequest>,
    /// How each user's phone answers CIBA requests, by [`TestUser::id`];
    /// users not named here answer [`CibaBehavior::Manual`]ly.
    pub(crate) ciba_behaviors: HashMap<String, CibaBehavior>,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            redirect_uris: BTreeSet::new(),
            faults: Faults::default(),
            rotated: false,
            published_keys: None,
            jwks_cache_control: None,
            discovery_overrides: Vec::new(),
            last_authorize_params: None,
            last_par_params: None,
            pending: Expiring::default(),
            codes: Expiring::default(),
            tokens: Expiring::with_capacity(MAX_BULK_ENTRIES),
            pushed: Expiring::with_capacity(MAX_BULK_ENTRIES),
            client_tokens: Expiring::with_capacity(MAX_BULK_ENTRIES),
            permissions: Expiring::with_capacity(MAX_BULK_ENTRIES),
            permission_tokens: Expiring::with_capacity(MAX_BULK_ENTRIES),
            grants_not_ready: 0,
            ciba: Expiring::with_capacity(MAX_BULK_ENTRIES),
            ciba_behaviors: HashMap::new(),
        }
    }
}

impl Inner {
    /// Records the user's decision on the registered permissions among
    /// `permissions`: `Some(user)` approved, `None` denied.
    pub(crate) fn decide_permissions(&mut self, permissions: &[Permission], user: Option<Arc<TestUser>>) {
        for id in permissions.iter().filter_map(|permission| permission.permission_id.as_deref()) {
            if let Some(registered) = self.permissions.get_mut(id) {
                registered.decide(user.clone());
            }
        }
    }

    /// The user's decision on an open CIBA request (phone page or
    /// `Simulator::ciba_decide`); whether there was one to decide.
    pub(crate) fn decide_ciba(&mut self, auth_req_id: &str, approve: bool) -> bool {
        let Some(request) = self.ciba.get_mut(auth_req_id) else {
            return false;
        };
        if !request.decide(approve, Instant::now(), unix_now()) {
            return false;
        }
        let user = Arc::clone(&request.login.user);
        let permissions = request.login.permissions.clone();
        let user_id = user.id.clone();
        self.decide_permissions(&permissions, approve.then_some(user));
        tracing::debug!(user = %user_id, approve, "simulator: CIBA request decided");
        true
    }
}

/// A validated authorization request waiting for the user's decision.
#[derive(Debug, Clone)]
pub(crate) struct PendingRequest {
    pub(crate) redirect_uri: String,
    pub(crate) state: String,
    pub(crate) nonce: Option<String>,
    pub(crate) code_challenge: String,
    pub(crate) scope: String,
    /// What the user is asked to approve besides the login, in request
    /// order: `authorization_details` items or one registered permission.
    pub(crate) permissions: Vec<Permission>,
    /// The asked method and `max_age`, and the method the user chose.
    pub(crate) step_up: super::step_up::StepUpRequest,
}

/// A pushed authorization request (RFC 9126), waiting for the browser.
#[derive(Debug, Clone)]
pub(crate) struct PushedRequest {
    pub(crate) request: PendingRequest,
    /// For pre-selecting a user on the login page.
    pub(crate) login_hint: Option<String>,
    pub(crate) acr_values: Option<String>,
    /// When the `request_uri` stops being usable; the record itself lives
    /// [`REQUEST_URI_GRACE`] longer.
    pub(crate) expires_at: Instant,
    /// Set when the browser first brings the `request_uri` to `/authorize`.
    pub(crate) used: bool,
}

/// What a client-credentials access token grants.
#[derive(Debug, Clone)]
pub(crate) struct ClientGrant {
    /// The client the token was issued to.
    pub(crate) client_id: String,
    pub(crate) scopes: BTreeSet<String>,
}

/// What an authorization code stands for.
#[derive(Clone)]
pub(crate) struct IssuedCode {
    pub(crate) request: PendingRequest,
    pub(crate) user: Arc<TestUser>,
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
    pub(crate) user: Arc<TestUser>,
    pub(crate) scope: String,
}

impl Shared {
    /// Replaces the fields `Simulator::override_discovery` set for `which`
    /// issuer in its discovery `document`.
    pub(crate) fn apply_discovery_overrides(&self, which: crate::Issuer, document: &mut serde_json::Value) {
        for (_, field, value) in self.lock().discovery_overrides.iter().filter(|(w, _, _)| *w == which) {
            document[field.as_str()] = value.clone();
        }
    }

    pub(crate) fn new(settings: Settings) -> Self {
        let Settings {
            issuer,
            bib_issuer,
            client_token_lifetime,
            client_id,
            client_secret,
            redirect_uris,
            advertise_par,
            backchannel_logout,
            echo_authorization_details,
            ciba_interval,
            users,
            auto_approve,
            signing_alg,
        } = settings;
        Shared {
            issuer,
            bib_issuer,
            client_token_lifetime,
            captured: CaptureLog::default(),
            client_id,
            client_secret,
            advertise_par,
            backchannel_logout,
            echo_authorization_details,
            ciba_interval,
            users,
            auto_approve,
            signing_alg: Mutex::new(signing_alg),
            request_counts: RequestCounts::default(),
            used_assertion_ids: Mutex::new(std::collections::HashMap::new()),
            inner: Mutex::new(Inner { redirect_uris, ..Inner::default() }),
        }
    }

    /// Locks the mutable state. A panic in another handler cannot leave the
    /// maps half-updated in a way that matters to a test double, so a
    /// poisoned lock is simply taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How the JWKS publish keys now: this simulator's algorithm, and the
    /// certificate chain the active faults call for.
    pub(crate) fn publication(&self) -> Publication {
        Publication { alg: self.signing_alg(), chain: self.lock().faults.chain() }
    }

    /// The algorithm tokens are signed with now.
    pub(crate) fn signing_alg(&self) -> SigningAlgorithm {
        *self.signing_alg.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Signs with `alg` from now on, and advertises only it.
    pub(crate) fn set_signing_alg(&self, alg: SigningAlgorithm) {
        *self.signing_alg.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = alg;
    }
}

/// A map from random handles to values that expire, holding at most
/// `MAX_ENTRIES` of them unless created [`with_capacity`](Self::with_capacity).
///
/// Expired entries are dropped when the next one is inserted; when the map
/// is full, the entry closest to expiry makes room.
pub(crate) struct Expiring<T> {
    entries: HashMap<String, (Instant, T)>,
    capacity: usize,
}

impl<T> Default for Expiring<T> {
    fn default() -> Self {
        Expiring::with_capacity(MAX_ENTRIES)
    }
}

impl<T> Expiring<T> {
    /// An empty map holding at most `capacity` (at least one) entries.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Expiring { entries: HashMap::new(), capacity: capacity.max(1) }
    }

    /// Stores `value` under a fresh random handle and returns the handle.
    pub(crate) fn insert(&mut self, value: T, lifetime: Duration) -> String {
        let now = Instant::now();
        self.entries.retain(|_, (expires, _)| *expires > now);
        if self.entries.len() >= self.capacity {
            self.evict_soonest_expiring();
        }
        let handle = random_token();
        self.entries.insert(handle.clone(), (now + lifetime, value));
        handle
    }

    /// Stores `value` under `handle` chosen by the caller (an unguessable
    /// one, e.g. from [`random_token`]), replacing any value there.
    pub(crate) fn insert_as(&mut self, handle: String, value: T, lifetime: Duration) {
        let now = Instant::now();
        self.entries.retain(|_, (expires, _)| *expires > now);
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&handle) {
            self.evict_soonest_expiring();
        }
        self.entries.insert(handle, (now + lifetime, value));
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

    /// Removes every entry.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// The live entries, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        let now = Instant::now();
        self.entries
            .iter()
            .filter(move |(_, (expires, _))| *expires > now)
            .map(|(handle, (_, value))| (handle.as_str(), value))
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
        let mut small = Expiring::with_capacity(3);
        for i in 0..5 {
            small.insert(i, Duration::from_secs(60 + i));
        }
        let mut kept: Vec<u64> = small.iter().map(|(_, value)| *value).collect();
        kept.sort_unstable();
        assert_eq!(kept, [2, 3, 4], "the entries closest to expiry made room");
    }

    #[test]
    fn tokens_are_43_url_safe_characters() {
        let token = random_token();
        assert_eq!(token.len(), 43);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(token, random_token());
    }
}
