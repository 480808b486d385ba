//! Single-use records: records in the session store that only the first
//! caller can create ("first one wins"), shared by every instance that uses
//! that store — a login's `state` is spent once, a single-use grant is used
//! once, a CIBA request is polled by one instance at a time and its outcome
//! is recorded once — and how their ids are derived. Every other record of
//! the crate (login attempts, logout markers, ended session ids) is kept
//! through the same handle, [`SingleUseRecords`].
//!
//! The store has no compare-and-swap, but `SessionStore::create` must not
//! overwrite an existing record, and the memory store and the Redis store
//! (`SET NX`) honour that atomically — the newcomer gets another id or an
//! error. So creating a record under a known id succeeds, with
//! that id, for exactly one caller. Stores whose `create` checks and then
//! upserts — tower-sessions-sqlx-store does — or that use the default `create`
//! (a plain `save`) give no such guarantee; the in-process guards still hold.
//!
//! Ids are derived from a random secret kept with the guarded object (the
//! pending CIBA request, the grant), never from anything a client sees, so
//! nobody can name such a record — say, to present it as a session cookie.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tower_sessions::SessionStore;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

/// A fresh secret to derive record ids from (128 random bits, hex).
pub(crate) fn new_secret() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The record id for `purpose` of the object that holds `secret`: a hash,
/// domain-separated, in the store's 128-bit id space (session ids are random
/// there, so a clash with a real session is a 2^-128 event).
pub(crate) fn record_id(secret: &str, purpose: &str) -> Id {
    let digest = Sha256::new()
        .chain_update(b"axum-bankid once-record\0")
        .chain_update(secret.as_bytes())
        .chain_update(b"\0")
        .chain_update(purpose.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Id(i128::from_le_bytes(bytes))
}

/// The record id for `purpose` and `parts` under a server-side `key`
/// (HMAC-SHA-256, NUL-delimited, truncated to the store's 128-bit id space):
/// for records whose name derives from something a client knows (a CIBA
/// handle, a logout token's `sub`), so that knowing it is not enough to name
/// the record — say, to present it as a session cookie.
pub(crate) fn keyed_record_id(key: &[u8; 32], purpose: &str, parts: &[&str]) -> Id {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(purpose.as_bytes());
    for part in parts {
        mac.update(b"\0");
        mac.update(part.as_bytes());
    }
    let digest = mac.finalize().into_bytes();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Id(i128::from_le_bytes(bytes))
}

/// The crate's records in an application's session store, created first-wins.
#[derive(Clone)]
pub(crate) struct SingleUseRecords {
    store: Arc<dyn SessionStore>,
}

impl fmt::Debug for SingleUseRecords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SingleUseRecords").finish_non_exhaustive()
    }
}

impl SingleUseRecords {
    pub(crate) fn new(store: Arc<dyn SessionStore>) -> Self {
        SingleUseRecords { store }
    }

    /// Creates record `id` holding `value` under `key`, until `expiry`.
    /// `Ok(true)` for the first caller on any instance, `Ok(false)` while the
    /// record exists; `Err` when the store failed (callers fail closed).
    pub(crate) async fn create_first(
        &self,
        id: Id,
        key: &str,
        value: Value,
        expiry: OffsetDateTime,
    ) -> Result<bool, session_store::Error> {
        let data = HashMap::from([(key.to_owned(), value)]);
        // A refused create with nothing live to read means the record went
        // meanwhile (released, or expired and dropped by Redis): try once
        // more, without deleting anything another caller may just have made.
        for _ in 0..2 {
            if self.try_create(id, data.clone(), expiry).await? {
                return Ok(true);
            }
            if self.read(id).await?.is_some() {
                return Ok(false);
            }
        }
        // Still refused yet nothing live: an expired record the store keeps
        // (the memory store never evicts). Only the memory store gets here,
        // i.e. one process, where the in-process guards serialise callers.
        self.store.delete(&id).await?;
        self.try_create(id, data, expiry).await
    }

    /// `Ok(true)` if the record was created under `id`.
    async fn try_create(
        &self,
        id: Id,
        data: HashMap<String, Value>,
        expiry: OffsetDateTime,
    ) -> Result<bool, session_store::Error> {
        let mut record = Record { id, data, expiry_date: expiry };
        if let Err(err) = self.store.create(&mut record).await {
            // A store may report a taken id as an error: tell that apart
            // from a broken store.
            return match self.store.load(&id).await {
                Ok(Some(_)) => Ok(false),
                _ => Err(err),
            };
        }
        if record.id == id {
            return Ok(true);
        }
        // The store kept our record under a fresh id instead: remove it.
        if let Err(err) = self.store.delete(&record.id).await {
            tracing::debug!(error = %err, "could not remove a redundant record");
        }
        Ok(false)
    }

    /// The live record `id`, if any.
    pub(crate) async fn read(&self, id: Id) -> Result<Option<Record>, session_store::Error> {
        let record = self.store.load(&id).await?;
        Ok(record.filter(|r| r.expiry_date > OffsetDateTime::now_utc()))
    }

    /// Removes record `id`.
    pub(crate) async fn remove(&self, id: Id) -> Result<(), session_store::Error> {
        self.store.delete(&id).await
    }

    /// Removes record `id` if it still holds `value` under `key` — so a
    /// holder whose record lapsed and was taken over does not remove the
    /// new holder's. (Check and delete are two steps; the window is one
    /// round trip, after a lapse that should never happen.)
    pub(crate) async fn remove_if(&self, id: Id, key: &str, value: &Value) -> Result<(), session_store::Error> {
        match self.read(id).await? {
            Some(record) if record.data.get(key) == Some(value) => self.remove(id).await,
            _ => Ok(()),
        }
    }

    /// Replaces record `id` (for the one case where a later answer must win).
    pub(crate) async fn overwrite(
        &self,
        id: Id,
        key: &str,
        value: Value,
        expiry: OffsetDateTime,
    ) -> Result<(), session_store::Error> {
        let record = Record { id, data: HashMap::from([(key.to_owned(), value)]), expiry_date: expiry };
        self.store.save(&record).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_sessions::MemoryStore;
    use tower_sessions::cookie::time::Duration;

    fn later(secs: i64) -> OffsetDateTime {
        OffsetDateTime::now_utc() + Duration::seconds(secs)
    }

    #[tokio::test]
    async fn first_caller_wins_and_others_lose() {
        let records = SingleUseRecords::new(Arc::new(MemoryStore::default()));
        let (a, b) = (record_id("s1", "grant"), record_id("s2", "grant"));
        assert_eq!(records.create_first(a, "k", Value::Bool(true), later(60)).await.ok(), Some(true));
        assert_eq!(records.create_first(a, "k", Value::Bool(true), later(60)).await.ok(), Some(false));
        assert_eq!(records.create_first(b, "k", Value::Bool(true), later(60)).await.ok(), Some(true));
    }

    #[tokio::test]
    async fn an_expired_record_is_free_again() {
        let records = SingleUseRecords::new(Arc::new(MemoryStore::default()));
        let id = record_id("s", "lease");
        assert_eq!(records.create_first(id, "k", Value::Bool(true), later(-1)).await.ok(), Some(true));
        assert_eq!(records.create_first(id, "k", Value::Bool(true), later(60)).await.ok(), Some(true));
        assert_eq!(records.create_first(id, "k", Value::Bool(true), later(60)).await.ok(), Some(false));
    }

    #[tokio::test]
    async fn a_lapsed_holder_does_not_remove_the_next_holders_record() {
        let records = SingleUseRecords::new(Arc::new(MemoryStore::default()));
        let id = record_id("s", "lease");
        let (old, new) = (Value::from("holder-1"), Value::from("holder-2"));
        assert_eq!(records.create_first(id, "k", old.clone(), later(-1)).await.ok(), Some(true));
        assert_eq!(records.create_first(id, "k", new.clone(), later(60)).await.ok(), Some(true), "lapsed: taken over");
        records.remove_if(id, "k", &old).await.unwrap();
        assert!(records.read(id).await.unwrap().is_some(), "the new holder's record stays");
        records.remove_if(id, "k", &new).await.unwrap();
        assert!(records.read(id).await.unwrap().is_none());
    }

    #[test]
    fn ids_depend_on_secret_and_purpose() {
        assert_eq!(record_id("x", "a"), record_id("x", "a"));
        assert_ne!(record_id("x", "a"), record_id("y", "a"));
        assert_ne!(record_id("x", "a"), record_id("x", "b"));
        assert_ne!(new_secret(), new_secret());
    }
}
