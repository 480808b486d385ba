//! Idle expiry ([`idle_timeout`](crate::BankIdConfigBuilder::idle_timeout)):
//! when a login was last active, in a record of its own in the login store.
//!
//! # Why not in the session
//!
//! Extending the deadline is a write on every active stretch. tower-sessions
//! saves the whole session record, without a lock, from whatever it loaded
//! at the start of the request: a request that only moved the deadline
//! would write back a login that a logout or a new login in another tab had
//! just replaced. A record of its own, named after the login (not the
//! session), holds only the last activity: writes to it are last-wins and
//! harmless, and a login that is gone from the session is not revived by a
//! late one.
//!
//! # Cost
//!
//! With an idle timeout, an authenticated request reads this record (one
//! store read) and writes it at most once per [`touch_step`], so an active
//! user costs at most one write a minute. A missing record means the login
//! has been idle since it was made: a login is active when made, and its
//! record is first written by the first request that extends it.

use std::time::Duration;

use serde_json::Value;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::Id;
use tower_sessions::session_store;

use super::logout_markers::LoginKeys;
use super::single_use::{SingleUseRecords, keyed_record_id};

/// The record's one key: the last activity, Unix milliseconds.
const LAST_ACTIVE_KEY: &str = "axum_bankid.last_active_ms";

/// Whether a request extends the idle deadline: authenticated requests and
/// the explicit touch do; reading the session status does not (a page that
/// polls it must not keep an idle user logged in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Touch {
    Extend,
    Keep,
}

/// How a login stands against the idle timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idle {
    /// Active: it ends if idle until this moment (Unix milliseconds).
    Until(i64),
    /// Idle for longer than the timeout: logged out.
    Expired,
}

/// A layer's activity records (made by the layer's state).
pub(crate) struct Activity {
    pub(crate) records: SingleUseRecords,
    pub(crate) key: [u8; 32],
    pub(crate) timeout: Duration,
}

impl Activity {
    /// Judges the login named by `keys` at `now_ms`, and with
    /// [`Touch::Extend`] moves its deadline when it is due (see [`touch_step`]).
    pub(crate) async fn check(
        &self,
        keys: &LoginKeys<'_>,
        now_ms: i64,
        touch: Touch,
    ) -> Result<Idle, session_store::Error> {
        let id = self.id(keys);
        let recorded = self.records.read(id).await?.and_then(|r| r.data.get(LAST_ACTIVE_KEY).and_then(Value::as_i64));
        // A record is never older than its login; one from before it (a
        // clock step back) counts from the login.
        let last_active = recorded.unwrap_or(keys.logged_in_ms).max(keys.logged_in_ms);
        match standing(self.timeout, last_active, now_ms, touch) {
            Standing::Expired => return Ok(Idle::Expired),
            Standing::Until(ms) => return Ok(Idle::Until(ms)),
            Standing::Due => {}
        }
        let timeout_ms = self.timeout_ms();
        let expiry =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms.saturating_add(timeout_ms)) * 1_000_000)
                .unwrap_or_else(|_| OffsetDateTime::now_utc());
        self.records.overwrite(id, LAST_ACTIVE_KEY, Value::from(now_ms), expiry).await?;
        Ok(Idle::Until(now_ms.saturating_add(timeout_ms)))
    }

    fn timeout_ms(&self) -> i64 {
        i64::try_from(self.timeout.as_millis()).unwrap_or(i64::MAX)
    }

    /// Named by the login (issuer, subject, provider session and when it
    /// was made), under the layer's key: a new login starts a new record.
    fn id(&self, keys: &LoginKeys<'_>) -> Id {
        let made = keys.logged_in_ms.to_string();
        let parts = [keys.iss.unwrap_or_default(), keys.sub.unwrap_or_default(), keys.sid.unwrap_or_default(), &made];
        keyed_record_id(&self.key, "login-activity", &parts)
    }
}

/// Where a login last active at `last_active_ms` stands at `now_ms`,
/// before anything is written (see [`standing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Idle for longer than the timeout.
    Expired,
    /// Active until this moment (Unix milliseconds), and no move is due.
    Until(i64),
    /// Active, and this extending request must move the deadline (write).
    Due,
}

/// The one rule for the idle deadline: expired after `timeout` without
/// activity; otherwise moved by an extending request only once it has
/// fallen [`touch_step`] behind. Used on the record read from the store and
/// on the verified-login cache's copy of it.
pub(crate) fn standing(timeout: Duration, last_active_ms: i64, now_ms: i64, touch: Touch) -> Standing {
    let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
    let idle_for = now_ms.saturating_sub(last_active_ms);
    if idle_for > timeout_ms {
        Standing::Expired
    } else if touch == Touch::Keep || idle_for < touch_step(timeout).as_millis() as i64 {
        Standing::Until(last_active_ms.saturating_add(timeout_ms))
    } else {
        Standing::Due
    }
}

/// How far the deadline must have fallen behind before a request moves it:
/// a tenth of the timeout, at most a minute, so that an active user costs at
/// most one store write a minute and the deadline a page shows is at most
/// that much early.
pub(crate) fn touch_step(timeout: Duration) -> Duration {
    (timeout / 10).min(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::records::local_store::LocalStore;

    fn activity(timeout_secs: u64) -> Activity {
        let records = SingleUseRecords::new(Arc::new(LocalStore::default()));
        Activity { records, key: [7; 32], timeout: Duration::from_secs(timeout_secs) }
    }

    /// Times in these tests are milliseconds after this moment: records
    /// carry real expiry dates, which the store compares with the real clock.
    fn t0() -> i64 {
        crate::clock::unix_now_ms()
    }

    fn keys(logged_in_ms: i64) -> LoginKeys<'static> {
        LoginKeys { iss: Some("https://op.example"), sub: Some("kari"), sid: Some("s-1"), logged_in_ms }
    }

    #[tokio::test]
    async fn a_fresh_login_is_active_until_its_timeout_from_the_login() {
        let t = t0();
        let idle = activity(600);
        assert_eq!(idle.check(&keys(t + 1_000), t + 2_000, Touch::Keep).await.unwrap(), Idle::Until(t + 601_000));
        assert_eq!(idle.check(&keys(t + 1_000), t + 601_001, Touch::Keep).await.unwrap(), Idle::Expired);
    }

    #[tokio::test]
    async fn extending_moves_the_deadline_and_keeping_does_not() {
        let t = t0();
        let idle = activity(600);
        // Within the step: nothing written, the deadline stays.
        assert_eq!(idle.check(&keys(t), t + 30_000, Touch::Extend).await.unwrap(), Idle::Until(t + 600_000));
        // Past it: written, and kept by a later read that does not extend.
        assert_eq!(idle.check(&keys(t), t + 300_000, Touch::Extend).await.unwrap(), Idle::Until(t + 900_000));
        assert_eq!(idle.check(&keys(t), t + 800_000, Touch::Keep).await.unwrap(), Idle::Until(t + 900_000));
        assert_eq!(idle.check(&keys(t), t + 900_001, Touch::Keep).await.unwrap(), Idle::Expired);
    }

    #[tokio::test]
    async fn an_expired_login_is_not_revived_by_a_request() {
        let t = t0();
        let idle = activity(60);
        assert_eq!(idle.check(&keys(t), t + 60_001, Touch::Extend).await.unwrap(), Idle::Expired);
        assert_eq!(idle.check(&keys(t), t + 60_002, Touch::Keep).await.unwrap(), Idle::Expired);
    }

    #[tokio::test]
    async fn each_login_has_its_own_record() {
        let t = t0();
        let idle = activity(600);
        idle.check(&keys(t), t + 500_000, Touch::Extend).await.unwrap();
        // A later login of the same person starts from its own moment.
        assert_eq!(idle.check(&keys(t + 100_000), t + 500_000, Touch::Keep).await.unwrap(), Idle::Until(t + 700_000));
    }

    #[test]
    fn the_step_is_a_tenth_of_the_timeout_and_at_most_a_minute() {
        assert_eq!(touch_step(Duration::from_secs(300)), Duration::from_secs(30));
        assert_eq!(touch_step(Duration::from_secs(3600)), Duration::from_secs(60));
    }
}
