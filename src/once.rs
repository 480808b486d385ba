//! "First one wins" marks shared by every instance that uses one session
//! store: a single-use grant is used once, a CIBA poll slot is polled once.
//!
//! The store has no compare-and-swap, but `SessionStore::create` must not
//! overwrite an existing record: the memory store gives the new record
//! another id, the Redis (`SET NX`) and SQL stores fail on the taken key. So
//! creating a record under an id derived from the mark's name succeeds, with
//! that id, for exactly one caller. A store whose `create` overwrites gives no
//! such guarantee; the in-process guards still hold then.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tower_sessions::SessionStore;
use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};
use tower_sessions::session::{Id, Record};

/// Marks kept in an application's session store.
#[derive(Clone)]
pub(crate) struct OnceMarks {
    store: Arc<dyn SessionStore>,
}

impl fmt::Debug for OnceMarks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceMarks").finish_non_exhaustive()
    }
}

impl OnceMarks {
    pub(crate) fn new(store: Arc<dyn SessionStore>) -> Self {
        OnceMarks { store }
    }

    /// Sets the mark `name` for `ttl`. `Ok(true)` for the first caller on any
    /// instance, `Ok(false)` for everyone after; `Err` when the store failed
    /// (callers treat that as "not first": failing closed).
    pub(crate) async fn set(&self, name: &str, ttl: Duration) -> Result<bool, String> {
        let id = mark_id(name);
        let ttl = TimeDuration::seconds(ttl.as_secs().clamp(1, 86_400 * 7) as i64);
        let mut record = Record { id, data: HashMap::new(), expiry_date: OffsetDateTime::now_utc() + ttl };
        if let Err(err) = self.store.create(&mut record).await {
            // Some stores answer a taken id with an error (SQL: duplicate
            // key; Redis: `SET NX` answers nil, which the store reports as a
            // failure): tell that apart from a broken store.
            return match self.store.load(&id).await {
                Ok(Some(_)) => Ok(false),
                _ => Err(err.to_string()),
            };
        }
        if record.id == id {
            return Ok(true);
        }
        // The store stored our empty record under a fresh id: remove it.
        if let Err(err) = self.store.delete(&record.id).await {
            tracing::debug!(error = %err, "could not remove a redundant mark record");
        }
        Ok(false)
    }
}

/// The record id of a mark: a hash of its name, domain-separated from
/// anything else, in the store's 128-bit id space (session ids are random
/// there, so a clash with a real session is a 2^-128 event).
fn mark_id(name: &str) -> Id {
    let digest = Sha256::new().chain_update(b"axum-bankid once-mark\0").chain_update(name.as_bytes()).finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Id(i128::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_sessions::MemoryStore;

    #[tokio::test]
    async fn first_caller_wins_and_others_lose() {
        let marks = OnceMarks::new(Arc::new(MemoryStore::default()));
        assert_eq!(marks.set("grant:a", Duration::from_secs(60)).await, Ok(true));
        assert_eq!(marks.set("grant:a", Duration::from_secs(60)).await, Ok(false));
        assert_eq!(marks.set("grant:b", Duration::from_secs(60)).await, Ok(true));
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(mark_id("x"), mark_id("x"));
        assert_ne!(mark_id("x"), mark_id("y"));
    }
}
