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
//! - **No enrolment oracle.** "Not enrolled", "unknown user" and "app
//!   unavailable" get the same answer, so the route cannot be used to learn
//!   who has BankID with biometrics.
//! - **Rate limits** per identity number and per client address, inside the
//!   crate (GCRA, from the `governor` crate). They are per instance; put a
//!   shared limiter in front when several instances serve the route.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

/// Options of the public CIBA start route; pass to
/// [`CibaOptions::public_start`](crate::ciba::CibaOptions::public_start).
///
/// Defaults: the starting session is **not** logged in; at most 3 starts per
/// identity number and 10 per client address in any 10 minutes.
#[derive(Debug, Clone)]
#[must_use]
pub struct PublicCibaStart {
    pub(crate) log_in_starting_session: bool,
    per_identity: (u32, Duration),
    per_client: (u32, Duration),
}

impl Default for PublicCibaStart {
    fn default() -> Self {
        PublicCibaStart {
            log_in_starting_session: false,
            per_identity: (3, Duration::from_secs(600)),
            per_client: (10, Duration::from_secs(600)),
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

    /// At most `count` starts for one identity number per `period`
    /// (counts are kept for hashes of the numbers, not the numbers).
    pub fn per_identity_limit(mut self, count: u32, period: Duration) -> Self {
        self.per_identity = (count, period);
        self
    }

    /// At most `count` starts from one client address per `period`. The
    /// address is the peer of the connection (`ConnectInfo<SocketAddr>`, when
    /// the app serves with `into_make_service_with_connect_info`); behind a
    /// reverse proxy, or without connect info, every client shares one
    /// budget — set `ConnectInfo` to the real client address in a
    /// proxy-aware middleware of your own.
    pub fn per_client_limit(mut self, count: u32, period: Duration) -> Self {
        self.per_client = (count, period);
        self
    }

    pub(crate) fn build(self) -> Result<PublicStartPolicy, crate::Error> {
        Ok(PublicStartPolicy {
            per_identity: limiter(self.per_identity)?,
            per_client: limiter(self.per_client)?,
            options: self,
        })
    }
}

fn limiter((count, period): (u32, Duration)) -> Result<DefaultKeyedRateLimiter<[u8; 32]>, crate::Error> {
    let invalid = || {
        let reason = "limits need a count of at least 1 and a period of 1 s to 1 day";
        crate::Error::Config(crate::ConfigError::invalid("public_ciba_start", reason))
    };
    let count = NonZeroU32::new(count).ok_or_else(invalid)?;
    if period < Duration::from_secs(1) || period > Duration::from_secs(86_400) {
        return Err(invalid());
    }
    let quota = Quota::with_period(period / count.get()).ok_or_else(invalid)?.allow_burst(count);
    Ok(RateLimiter::hashmap(quota))
}

/// The built policy, shared by the route's requests.
pub(crate) struct PublicStartPolicy {
    pub(crate) options: PublicCibaStart,
    per_identity: DefaultKeyedRateLimiter<[u8; 32]>,
    per_client: DefaultKeyedRateLimiter<[u8; 32]>,
}

impl PublicStartPolicy {
    /// Takes one start from both budgets; `Err(wait)` when either is spent.
    /// The client is charged first and for every attempt, refused or not, so
    /// a client hammering one number spends its own budget; the identity's
    /// budget is charged only when the client's allows the attempt.
    pub(crate) fn admit(&self, nnin: &str, client: Option<SocketAddr>) -> Result<(), Duration> {
        let client_key = key("client", client.map(|addr| addr.ip().to_string()).as_deref().unwrap_or("unknown"));
        let now = DefaultClock::default().now();
        self.per_client.check_key(&client_key).map_err(|wait| wait.wait_time_from(now))?;
        self.per_identity.check_key(&key("nnin", nnin)).map_err(|wait| wait.wait_time_from(now))?;
        // Keep the maps small: forget keys whose budget is full again.
        if rand::random::<u8>() == 0 {
            self.per_client.retain_recent();
            self.per_identity.retain_recent();
        }
        Ok(())
    }
}

/// Limiter keys are hashes, so no identity number is kept in memory.
fn key(kind: &str, value: &str) -> [u8; 32] {
    Sha256::new().chain_update(kind).chain_update([0]).chain_update(value).finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_apply_per_identity_and_per_client() {
        let policy = PublicCibaStart::new()
            .per_identity_limit(2, Duration::from_secs(60))
            .per_client_limit(3, Duration::from_secs(60))
            .build()
            .unwrap();
        let a: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:1".parse().unwrap();
        assert!(policy.admit("01018012345", Some(a)).is_ok());
        assert!(policy.admit("01018012345", Some(b)).is_ok());
        assert!(policy.admit("01018012345", Some(a)).is_err(), "the number's budget is spent");
        assert!(policy.admit("02029012345", Some(a)).is_ok());
        assert!(policy.admit("03039012345", Some(a)).is_err(), "client a's budget is spent");
        let wait = policy.admit("04049012345", Some(a)).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(60), "{wait:?}");
    }

    #[test]
    fn nonsense_limits_are_refused() {
        assert!(PublicCibaStart::new().per_client_limit(0, Duration::from_secs(60)).build().is_err());
        assert!(PublicCibaStart::new().per_identity_limit(3, Duration::ZERO).build().is_err());
        assert!(PublicCibaStart::new().per_identity_limit(3, Duration::MAX).build().is_err());
    }

    #[test]
    fn nobody_is_logged_in_unless_asked() {
        assert!(!PublicCibaStart::new().log_in_starting_session);
        assert!(PublicCibaStart::new().log_in_starting_session().log_in_starting_session);
    }
}
