//! The policy of the public CIBA start route (`POST {ciba_path}`).
//!
//! Whoever can reach that route can make BankID push an approval request to
//! the phone of any national identity number. Three things keep that from
//! being a weapon:
//! - **Who becomes logged in.** By default nobody: the device that started
//!   the request learns only *that* it was approved. Otherwise a stranger
//!   could post a victim's number, talk the victim into approving, and have
//!   their own browser logged in as the victim. Logging the starting session
//!   in is an explicit opt-in for devices that are themselves the user's
//!   (a TV in the user's home).
//! - **No enrolment oracle.** Every well-formed, admitted number gets the
//!   same `202` at once, before BIB is asked (see `ciba::background`), so
//!   neither the answer nor its time says who has BankID with biometrics;
//!   "not enrolled", "unknown user" and "app unavailable" then read as one
//!   `failed` kind, `ciba_unavailable`, on the status routes. At most
//!   [`PublicCibaStart::max_starts_in_flight`] starts run at once; past it
//!   every number gets the same `503 busy`, and BIB is not called.
//! - **Rate limits** per identity number, per client address (IPv6 by its
//!   /64, the smallest block one subscriber gets) and for the route as a
//!   whole, inside the crate (GCRA, from the `governor` crate), on keys that
//!   are HMACs under a per-process secret (no number is kept, and none can
//!   be tested against the keys). The client address comes from a source
//!   the app names: the connection's peer (`ConnectInfo`, the default) or a
//!   header its trusted proxy sets; without it the route refuses to guess
//!   (`client_address_unknown`), since one shared budget would let one
//!   client lock everybody out. The limits are per instance; put a shared
//!   limiter in front when several instances serve the route.
//!
//! The per-number budget protects a phone from a flood of pushes, at a
//! price: whoever can reach the route can spend a victim's budget and delay
//! the victim's own CIBA login until it refills (by default three starts
//! per ten minutes). The code flow stays open to the victim meanwhile.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName};
use sha2::Sha256;

/// Where the public start route reads the client's address from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAddress {
    /// The connection's peer: serve the app with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    ConnectInfo,
    /// A header the app's own reverse proxy sets (e.g. `x-forwarded-for`):
    /// its **last** comma-separated entry, the one the nearest proxy wrote,
    /// is the client. Only name a header that proxy always overwrites or
    /// appends to; a client can write anything before it.
    TrustedProxyHeader(HeaderName),
}

/// Options of the public CIBA start route; pass to
/// [`CibaOptions::public_start`](crate::ciba::CibaOptions::public_start).
///
/// Defaults: the starting session is **not** logged in; the client address
/// is the connection's peer ([`ClientAddress::ConnectInfo`]); at most 3
/// starts per identity number and 10 per client address in any 10 minutes,
/// 100 a minute for the whole route on this instance, and 64 starts whose
/// calls to BIB are under way at once.
#[derive(Debug, Clone)]
#[must_use]
pub struct PublicCibaStart {
    pub(crate) log_in_starting_session: bool,
    pub(crate) client_address: ClientAddress,
    per_identity: (u32, Duration),
    per_client: (u32, Duration),
    overall: (u32, Duration),
    max_in_flight: usize,
}

impl Default for PublicCibaStart {
    fn default() -> Self {
        PublicCibaStart {
            log_in_starting_session: false,
            client_address: ClientAddress::ConnectInfo,
            per_identity: (3, Duration::from_secs(600)),
            per_client: (10, Duration::from_secs(600)),
            overall: (100, Duration::from_secs(60)),
            max_in_flight: 64,
        }
    }
}

impl PublicCibaStart {
    /// The defaults above.
    pub fn new() -> Self {
        PublicCibaStart::default()
    }

    /// Logs the session that started a request in when it reads the
    /// approval (over `GET {ciba_path}/{handle}`). Only for devices that
    /// belong to the user who approves: anyone who can post a number to the
    /// route can otherwise end up logged in as that number's owner.
    pub fn log_in_starting_session(mut self) -> Self {
        self.log_in_starting_session = true;
        self
    }

    /// Where the client's address comes from (see [`ClientAddress`]).
    pub fn client_address(mut self, source: ClientAddress) -> Self {
        self.client_address = source;
        self
    }

    /// At most `count` starts for one identity number per `period`.
    pub fn per_identity_limit(mut self, count: u32, period: Duration) -> Self {
        self.per_identity = (count, period);
        self
    }

    /// At most `count` starts from one client address (an IPv6 client by
    /// its /64) per `period`.
    pub fn per_client_limit(mut self, count: u32, period: Duration) -> Self {
        self.per_client = (count, period);
        self
    }

    /// At most `count` starts per `period` on this instance, whoever asks:
    /// a bound on the pushes (and BIB calls) many clients together can cause.
    pub fn overall_limit(mut self, count: u32, period: Duration) -> Self {
        self.overall = (count, period);
        self
    }

    /// At most `count` starts on this instance whose calls to BIB are still
    /// under way (the route answers before BIB is asked, so this bounds the
    /// background work); past it the route answers `503 busy` to every
    /// number alike, before any budget is spent or BIB is called.
    pub fn max_starts_in_flight(mut self, count: usize) -> Self {
        self.max_in_flight = count;
        self
    }

    pub(crate) fn build(self) -> Result<PublicStartPolicy, crate::error::ConfigError> {
        if self.max_in_flight == 0 || self.max_in_flight > tokio::sync::Semaphore::MAX_PERMITS {
            let reason = "max_starts_in_flight needs at least 1";
            return Err(crate::error::ConfigError::invalid("public_ciba_start", reason));
        }
        Ok(PublicStartPolicy {
            in_flight: Arc::new(tokio::sync::Semaphore::new(self.max_in_flight)),
            per_identity: RateLimiter::hashmap(quota(self.per_identity)?),
            per_client: RateLimiter::hashmap(quota(self.per_client)?),
            overall: RateLimiter::direct(quota(self.overall)?),
            key: rand::random(),
            admits: AtomicU32::new(0),
            max_keys: MAX_KEYS,
            options: self,
        })
    }
}

fn quota((count, period): (u32, Duration)) -> Result<Quota, crate::error::ConfigError> {
    let invalid = || {
        let reason = "limits need a count of at least 1 and a period of 1 s to 1 day";
        crate::error::ConfigError::invalid("public_ciba_start", reason)
    };
    let count = NonZeroU32::new(count).ok_or_else(invalid)?;
    if period < Duration::from_secs(1) || period > Duration::from_secs(86_400) {
        return Err(invalid());
    }
    Ok(Quota::with_period(period / count.get()).ok_or_else(invalid)?.allow_burst(count))
}

/// How many keys each limiter may hold. Past it, the keys whose budget is
/// full again are dropped (as they are every [`PRUNE_EVERY`] admissions);
/// if that frees nothing, the route admits nobody until it does — a flood
/// from ever new addresses or numbers meets a fixed amount of memory.
const MAX_KEYS: usize = 100_000;
const PRUNE_EVERY: u32 = 1_024;

/// The built policy, shared by the route's requests.
pub(crate) struct PublicStartPolicy {
    pub(crate) options: PublicCibaStart,
    per_identity: DefaultKeyedRateLimiter<[u8; 32]>,
    per_client: DefaultKeyedRateLimiter<[u8; 32]>,
    overall: DefaultDirectRateLimiter,
    /// The per-process HMAC key of the limiters' keys.
    key: [u8; 32],
    admits: AtomicU32,
    max_keys: usize,
    /// Permits of starts whose calls to BIB are under way.
    in_flight: Arc<tokio::sync::Semaphore>,
}

/// Why a start was not admitted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A budget is spent; try again after this long.
    RateLimited(Duration),
    /// The configured address source gave no address.
    ClientAddressUnknown,
}

impl PublicStartPolicy {
    /// The client's address by the configured source, if it gave one.
    pub(crate) fn client_of(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        match &self.options.client_address {
            ClientAddress::ConnectInfo => peer.map(|addr| addr.ip()),
            ClientAddress::TrustedProxyHeader(name) => {
                let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
                value.rsplit(',').next()?.trim().parse().ok()
            }
        }
    }

    /// A place for one start's calls to BIB; `None` while every place is taken.
    pub(crate) fn start_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.in_flight).try_acquire_owned().ok()
    }

    /// Takes one start from every budget. The client is charged first and
    /// for every attempt, refused or not, so a client hammering one number
    /// spends its own budget; the number's budget and the route's are
    /// charged only when the client's allows the attempt.
    pub(crate) fn admit(&self, nnin: &str, client: Option<IpAddr>) -> Result<(), Refusal> {
        let client = client.ok_or(Refusal::ClientAddressUnknown)?;
        if !self.prune() {
            return Err(Refusal::RateLimited(Duration::from_secs(1)));
        }
        let now = DefaultClock::default().now();
        let limited = |wait: governor::NotUntil<_>| Refusal::RateLimited(wait.wait_time_from(now));
        self.per_client.check_key(&self.key_of("client", &client_prefix(client))).map_err(limited)?;
        self.per_identity.check_key(&self.key_of("nnin", nnin)).map_err(limited)?;
        self.overall.check().map_err(limited)
    }

    /// Keeps the maps bounded whatever the outcome of the admissions:
    /// prunes every [`PRUNE_EVERY`] calls and whenever a map is full;
    /// `false` while a map stays full (nothing may be added).
    fn prune(&self) -> bool {
        let calls = self.admits.fetch_add(1, Ordering::Relaxed);
        let full = || self.per_client.len() >= self.max_keys || self.per_identity.len() >= self.max_keys;
        if full() || calls.is_multiple_of(PRUNE_EVERY) {
            self.per_client.retain_recent();
            self.per_identity.retain_recent();
        }
        !full()
    }

    /// A limiter key: an HMAC under the per-process key, so no number is
    /// kept, and a key cannot be tested against guessed numbers.
    fn key_of(&self, kind: &str, value: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    #[cfg(test)]
    fn keys_held(&self) -> (usize, usize) {
        (self.per_client.len(), self.per_identity.len())
    }
}

/// The part of an address that stands for one client: the whole IPv4
/// address, an IPv6 address's /64 (one subscriber's usual block, whose
/// addresses a client can rotate through at will).
fn client_prefix(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn limits_apply_per_identity_per_client_and_overall() {
        let minute = Duration::from_secs(60);
        let policy = PublicCibaStart::new().per_identity_limit(2, minute).per_client_limit(3, minute).build().unwrap();
        assert_eq!(policy.admit("01018012345", ip("10.0.0.1")), Ok(()));
        assert_eq!(policy.admit("01018012345", ip("10.0.0.2")), Ok(()));
        assert!(policy.admit("01018012345", ip("10.0.0.1")).is_err(), "the number's budget is spent");
        assert_eq!(policy.admit("02029012345", ip("10.0.0.1")), Ok(()));
        assert!(policy.admit("03039012345", ip("10.0.0.1")).is_err(), "client a's budget is spent");
        let Err(Refusal::RateLimited(wait)) = policy.admit("04049012345", ip("10.0.0.1")) else { panic!() };
        assert!(wait > Duration::ZERO && wait <= minute, "{wait:?}");
        let overall = PublicCibaStart::new().overall_limit(2, minute).build().unwrap();
        assert_eq!(overall.admit("01018012345", ip("10.0.0.1")), Ok(()));
        assert_eq!(overall.admit("02029012345", ip("10.0.0.2")), Ok(()));
        assert!(overall.admit("03039012345", ip("10.0.0.3")).is_err(), "the route's budget is spent");
    }

    #[test]
    fn an_ipv6_client_is_its_64_block() {
        let minute = Duration::from_secs(60);
        let policy = PublicCibaStart::new().per_client_limit(2, minute).build().unwrap();
        assert_eq!(policy.admit("01018012345", ip("2001:db8:1:2::1")), Ok(()));
        assert_eq!(policy.admit("02029012345", ip("2001:db8:1:2:ffff::9")), Ok(()));
        assert!(policy.admit("03039012345", ip("2001:db8:1:2:abcd::1")).is_err(), "the same /64");
        assert_eq!(policy.admit("03039012345", ip("2001:db8:1:3::1")), Ok(()), "the next /64 is another client");
        assert_eq!(client_prefix("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1", "IPv4-mapped is IPv4");
    }

    #[test]
    fn without_a_client_address_nothing_is_admitted() {
        let policy = PublicCibaStart::new().build().unwrap();
        assert_eq!(policy.admit("01018012345", None), Err(Refusal::ClientAddressUnknown));
        assert_eq!(policy.client_of(None, &HeaderMap::new()), None);
        let peer: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        assert_eq!(policy.client_of(Some(peer), &HeaderMap::new()), ip("10.0.0.1"));
    }

    #[test]
    fn a_trusted_proxy_header_gives_its_last_entry() {
        let name = HeaderName::from_static("x-forwarded-for");
        let policy = PublicCibaStart::new().client_address(ClientAddress::TrustedProxyHeader(name)).build().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 10.0.0.7".parse().unwrap());
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(policy.client_of(Some(peer), &headers), ip("10.0.0.7"), "what the proxy appended");
        headers.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(policy.client_of(Some(peer), &headers), None);
    }

    #[test]
    fn the_maps_stay_bounded_under_a_flood_of_new_clients() {
        let minute = Duration::from_secs(60);
        let mut policy = PublicCibaStart::new().per_identity_limit(1, minute).build().unwrap();
        policy.max_keys = 100;
        let mut refused = 0;
        for i in 0..1_000u32 {
            // Every attempt from a new address for the same number: all but
            // the first are refused by the number's budget, yet each adds a
            // client key until the cap.
            if policy.admit("01018012345", Some(IpAddr::from(i.to_be_bytes()))).is_err() {
                refused += 1;
            }
        }
        let (clients, numbers) = policy.keys_held();
        assert!(clients <= 100 && numbers <= 100, "{clients} {numbers}");
        assert_eq!(refused, 999);
    }

    #[test]
    fn limiter_keys_are_keyed_hashes() {
        let a = PublicCibaStart::new().build().unwrap();
        let b = PublicCibaStart::new().build().unwrap();
        assert_ne!(a.key_of("nnin", "01018012345"), b.key_of("nnin", "01018012345"), "a per-process key");
        assert_ne!(a.key_of("nnin", "x"), a.key_of("client", "x"));
    }

    #[test]
    fn nonsense_limits_are_refused() {
        assert!(PublicCibaStart::new().per_client_limit(0, Duration::from_secs(60)).build().is_err());
        assert!(PublicCibaStart::new().per_identity_limit(3, Duration::ZERO).build().is_err());
        assert!(PublicCibaStart::new().overall_limit(3, Duration::MAX).build().is_err());
    }

    #[test]
    fn nobody_is_logged_in_unless_asked() {
        assert!(!PublicCibaStart::new().log_in_starting_session);
        assert!(PublicCibaStart::new().log_in_starting_session().log_in_starting_session);
    }
}
