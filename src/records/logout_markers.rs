//! Where back-channel logouts (OpenID Connect Back-Channel Logout 1.0) are
//! recorded so that every instance ends the sessions they name.
//!
//! # Design: "logged out before T" markers, read with the session
//!
//! A logout token names a user (`sub`) and/or one provider session (`sid`),
//! never our session ids. When one is accepted, this module writes a marker
//! record into the session store (the one given to
//! [`BankIdLayer::with_session_store`](crate::BankIdLayer::with_session_store), so
//! every instance that shares sessions shares markers):
//!
//! - `sid` given (with or without `sub`): marker keyed by (issuer, `sid`) —
//!   ends the logins of that provider session only (§2.4);
//! - `sub` alone: marker keyed by (issuer, `sub`) — ends every login of
//!   that user at that issuer made up to now.
//!
//! Each marker holds the time of the logout (Unix milliseconds, this
//! instance's clock). The stored login already keeps its verified claims
//! (`iss`, `sub`, `sid`) and its login time in milliseconds; the
//! extractor derives the two marker ids from them and ends the login when a
//! marker is not older than the login. A login made after the logout is
//! untouched, so the user can log in again at once.
//!
//! **Cost:** while the provider advertises back-channel logout, each
//! request that reads a login from the store reads these markers: one store
//! read for a login without `sid`, two issued concurrently (one round trip)
//! with `sid`. No provider I/O, no cryptography. The markers are what makes
//! a logout exact across instances; the verified-login cache
//! (`login_cache`) skips them, with the session read, for at most
//! `login_cache_ttl` after a read — the bound it documents — and drops the
//! logins a logout received on this instance names at once. Per-user lists
//! of session ids were not an option: they would need read-modify-write
//! appends on a store that has no compare-and-swap (two logins at once
//! would lose one), and session ids rotate anyway.
//!
//! Logout tokens come from BankID OIDC, so markers name its issuer and its
//! `sub`/`sid`: a CIBA login (whose `iss` is BIB's, with BIB's own `sub` and
//! no BankID OIDC session) is not ended by them. No BankID source maps one
//! provider's `sub` to the other's, and BIB advertises no back-channel
//! logout; a CIBA login ends at logout, at `max_login_age`, or with the
//! session.
//!
//! An instance that started degraded (no provider metadata yet) reads the
//! markers on every request all the same: it cannot know whether the
//! provider sends logouts, and other instances may have recorded some
//! (fail closed).
//!
//! Marker ids are keyed with the client's record key (a secret derived
//! from the client credentials), so nobody outside can name a marker —
//! e.g. present it as a session cookie and have the session layer overwrite
//! it. Markers live as long as a login can ([`max_login_age`] plus clock
//! skew): no older login survives the age check anyway.
//!
//! A marker is created once (create-once) and afterwards only replaced by a
//! later time, each write re-read; the store has no compare-and-swap. The residual race — two deliveries for one
//! user within one store round trip, with a login completing between them —
//! can at worst keep a login made *after* the first of the two logouts.
//!
//! Instances' clocks are compared (the marker's time against the login's
//! time on another instance): keep them in sync (NTP); a skew of `d` lets
//! a login made up to `d` before the logout survive on a fast-clocked peer.
//!
//! [`max_login_age`]: crate::BankIdConfigBuilder::max_login_age

use std::sync::Arc;

use serde_json::Value;
use tower_sessions::SessionStore;
use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};
use tower_sessions::session::Id;

use crate::clock::unix_now_ms;
use crate::config::BankIdConfig;
use crate::error::{Cause, Error};
use crate::records::single_use::{SingleUseRecords, keyed_record_id};

/// The key holding a marker's time in its record.
const MARKER_KEY: &str = "axum_bankid.logged_out_before_ms";
/// The key of a used `jti`'s record.
const JTI_KEY: &str = "axum_bankid.logout_jti_used";

/// What the markers are compared with: the stored login's verified
/// `iss`, `sub` and `sid`, and when it was made.
#[derive(Clone, Copy)]
pub(crate) struct LoginKeys<'a> {
    pub(crate) iss: Option<&'a str>,
    pub(crate) sub: Option<&'a str>,
    pub(crate) sid: Option<&'a str>,
    pub(crate) logged_in_ms: i64,
}

/// What a logout token names: at least one of the two.
#[derive(Clone, Copy)]
pub(crate) struct LogoutSubject<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) sub: Option<&'a str>,
    pub(crate) sid: Option<&'a str>,
}

impl LogoutSubject<'_> {
    /// Whether this logout names the login `keys` describes (made at any
    /// time: [`LogoutMarkers::is_logged_out`] also compares when).
    pub(crate) fn names(&self, keys: &LoginKeys<'_>) -> bool {
        if keys.iss != Some(self.issuer) {
            return false;
        }
        match (self.sid, self.sub) {
            (Some(sid), _) => keys.sid == Some(sid),
            (None, Some(sub)) => keys.sub == Some(sub),
            (None, None) => false,
        }
    }
}

/// The store records of back-channel logouts for one layer.
pub(crate) struct LogoutMarkers {
    records: SingleUseRecords,
    key: [u8; 32],
    marker_ttl_secs: i64,
}

impl LogoutMarkers {
    /// The markers in `store` (the session store the layer knows), named
    /// with `key`, `config`'s record key (hashed once, by the relying party).
    pub(crate) fn new(store: Arc<dyn SessionStore>, config: &BankIdConfig, key: [u8; 32]) -> LogoutMarkers {
        let marker_ttl_secs = (config.max_login_age + config.clock_skew).as_secs() as i64;
        LogoutMarkers { records: SingleUseRecords::new(store), key, marker_ttl_secs }
    }

    /// Marks the `jti` of a logout token from `issuer` used, until
    /// `expires_at` (Unix seconds). `Ok(false)` if it already was, on any
    /// instance (Back-Channel Logout 1.0 §2.6 step 8: replay detection).
    pub(crate) async fn consume_jti(&self, issuer: &str, jti: &str, expires_at: i64) -> Result<bool, Error> {
        let id = self.id("jti", issuer, jti);
        let expiry = OffsetDateTime::from_unix_timestamp(expires_at)
            .map_err(|e| store_failed(Cause::caused_by("bad expiry", e)))?;
        self.records.create_first(id, JTI_KEY, Value::Bool(true), expiry).await.map_err(store_failed)
    }

    /// Lets a consumed `jti` be used again (when recording its logout failed,
    /// so that the provider's retry is not refused as a replay).
    pub(crate) async fn release_jti(&self, issuer: &str, jti: &str) {
        if let Err(err) = self.records.remove(self.id("jti", issuer, jti)).await {
            tracing::warn!(error = %err, "could not release a logout token's jti");
        }
    }

    /// Ends every login `subject` names that was made up to now: the
    /// provider session `sid` when the token names one, else every login of
    /// `sub`. Back-Channel Logout 1.0 §2.4 gives `sub` alone the meaning
    /// "all sessions of the user"; with a `sid` beside it, only that session
    /// ends (the user may be logged in elsewhere through another one).
    pub(crate) async fn record_logout(&self, subject: LogoutSubject<'_>) -> Result<(), Error> {
        let now_ms = unix_now_ms();
        let id = match (subject.sid, subject.sub) {
            (Some(sid), _) => self.id("sid", subject.issuer, sid),
            (None, Some(sub)) => self.id("sub", subject.issuer, sub),
            (None, None) => return Ok(()),
        };
        self.raise_marker(id, now_ms).await
    }

    /// Whether a back-channel logout ended `login`. Reads the store (see
    /// the module docs for the cost); a store failure is an error (callers
    /// fail closed).
    pub(crate) async fn is_logged_out(&self, login: LoginKeys<'_>) -> Result<bool, Error> {
        let Some(issuer) = login.iss else { return Ok(false) };
        let login_ms = login.logged_in_ms;
        let by_sub = async {
            match login.sub {
                Some(sub) => self.marker(self.id("sub", issuer, sub)).await,
                None => Ok(None),
            }
        };
        let by_sid = async {
            match login.sid {
                Some(sid) => self.marker(self.id("sid", issuer, sid)).await,
                None => Ok(None),
            }
        };
        let (by_sub, by_sid) = tokio::join!(by_sub, by_sid);
        Ok([by_sub?, by_sid?].into_iter().flatten().any(|logged_out_before| login_ms <= logged_out_before))
    }

    /// The marker's time, if one is live.
    async fn marker(&self, id: Id) -> Result<Option<i64>, Error> {
        let record = self.records.read(id).await.map_err(store_failed)?;
        Ok(record.and_then(|r| r.data.get(MARKER_KEY).and_then(Value::as_i64)))
    }

    /// Sets marker `id` to `at_ms` unless it already holds a later time:
    /// created if absent (create-once), else replaced — stores such as
    /// Redis only replace existing records with `save` (`SET XX`). Each
    /// write is followed by a read, so a concurrent writer with an earlier
    /// time that landed last is overwritten again.
    async fn raise_marker(&self, id: Id, at_ms: i64) -> Result<(), Error> {
        let expiry = OffsetDateTime::now_utc() + TimeDuration::seconds(self.marker_ttl_secs);
        for _ in 0..3 {
            match self.marker(id).await? {
                Some(existing) if existing >= at_ms => return Ok(()),
                Some(_) => {
                    self.records.overwrite(id, MARKER_KEY, Value::from(at_ms), expiry).await.map_err(store_failed)?
                }
                None => {
                    // Losing this race to another writer is fine: the next
                    // round reads what it wrote.
                    let value = Value::from(at_ms);
                    self.records.create_first(id, MARKER_KEY, value, expiry).await.map_err(store_failed)?;
                }
            }
        }
        Ok(())
    }

    /// A record id for `kind` (`sub`, `sid`, `jti`) of `issuer` and
    /// `value`: a keyed hash, so it cannot be named from outside.
    fn id(&self, kind: &str, issuer: &str, value: &str) -> Id {
        keyed_record_id(&self.key, "backchannel-logout", &[kind, issuer, value])
    }
}

fn store_failed(err: impl std::error::Error + Send + Sync + 'static) -> Error {
    tracing::error!(error = %err, "session store failed (back-channel logout)");
    Error::Session(Cause::from_error(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> LogoutMarkers {
        let store: Arc<dyn SessionStore> = Arc::new(tower_sessions::MemoryStore::default());
        LogoutMarkers { records: SingleUseRecords::new(store), key: [7; 32], marker_ttl_secs: 600 }
    }

    #[test]
    fn ids_are_keyed_and_separated_by_kind_and_issuer() {
        let a = registry();
        let b = LogoutMarkers { key: [8; 32], ..registry() };
        assert_ne!(a.id("sub", "iss", "u"), b.id("sub", "iss", "u"), "another client key, another id");
        assert_ne!(a.id("sub", "iss", "u"), a.id("sid", "iss", "u"));
        assert_ne!(a.id("sub", "iss", "u"), a.id("sub", "iss2", "u"));
        assert_ne!(a.id("sub", "is", "su"), a.id("sub", "iss", "u"), "fields are delimited");
    }

    #[tokio::test]
    async fn a_marker_only_moves_forward() {
        let registry = registry();
        let id = registry.id("sub", "iss", "u");
        registry.raise_marker(id, 2_000).await.unwrap();
        registry.raise_marker(id, 1_000).await.unwrap();
        assert_eq!(registry.marker(id).await.unwrap(), Some(2_000));
        registry.raise_marker(id, 3_000).await.unwrap();
        assert_eq!(registry.marker(id).await.unwrap(), Some(3_000));
    }

    #[tokio::test]
    async fn a_jti_is_consumed_once_and_can_be_released() {
        let registry = registry();
        let exp = crate::clock::unix_now() + 60;
        assert!(registry.consume_jti("iss", "j1", exp).await.unwrap());
        assert!(!registry.consume_jti("iss", "j1", exp).await.unwrap());
        assert!(registry.consume_jti("other-iss", "j1", exp).await.unwrap(), "jtis are per issuer");
        registry.release_jti("iss", "j1").await;
        assert!(registry.consume_jti("iss", "j1", exp).await.unwrap());
    }
}
