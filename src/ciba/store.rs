//! Pending CIBA authentications, kept in the application's session store
//! (memory, Redis, …) under an opaque handle, so any instance sharing the
//! store can continue one.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tower_sessions::SessionStore;
use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};
use tower_sessions::session::{Id, Record};

use super::{CibaError, CibaHandle};
use crate::claims::AuthenticatedUser;
use crate::id_token::unix_now_ms;
use crate::permission::PermissionItem;

const RECORD_KEY: &str = "axum_bankid.ciba";
/// Outcomes stay readable this long after the request expired.
const GRACE_SECS: i64 = 600;

/// The state of one backchannel authentication.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct PendingCiba {
    pub(crate) auth_req_id: String,
    pub(crate) interval_secs: u64,
    pub(crate) next_poll_at_ms: i64,
    pub(crate) expires_at_ms: i64,
    pub(crate) permission: Option<PermissionItem>,
    pub(crate) outcome: Option<Outcome>,
}

/// How it ended.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) enum Outcome {
    Approved { user: Box<AuthenticatedUser>, id_token: String },
    Failed { kind: String, detail: Option<String> },
}

impl PendingCiba {
    pub(crate) fn new(
        auth_req_id: String,
        interval_secs: u64,
        expires_in: u64,
        permission: Option<PermissionItem>,
    ) -> Self {
        let now = unix_now_ms();
        PendingCiba {
            auth_req_id,
            interval_secs,
            // CIBA Core §7.3: wait one interval before the first poll.
            next_poll_at_ms: now + (interval_secs as i64) * 1000,
            expires_at_ms: now + (expires_in as i64) * 1000,
            permission,
            outcome: None,
        }
    }
}

pub(crate) struct CibaStore {
    store: Arc<dyn SessionStore>,
    /// Handles being polled right now by this instance, so concurrent status
    /// requests never poll the provider twice at once.
    in_flight: Mutex<HashSet<String>>,
    /// Background polling, used only when the app set a CIBA callback.
    pub(crate) scheduler: super::deliver::Scheduler,
    /// Poll slots taken, shared with the other instances on this store.
    pub(crate) poll_marks: crate::once::OnceMarks,
}

pub(crate) fn is_valid_handle(text: &str) -> bool {
    text.len() <= 64 && Id::from_str(text).is_ok()
}

fn store_error(err: impl std::fmt::Display) -> CibaError {
    tracing::error!(error = %err, "CIBA store failed");
    CibaError::Store(err.to_string())
}

impl CibaStore {
    pub(crate) fn new(store: Arc<dyn SessionStore>) -> Self {
        CibaStore {
            poll_marks: crate::once::OnceMarks::new(Arc::clone(&store)),
            store,
            in_flight: Mutex::new(HashSet::new()),
            scheduler: Default::default(),
        }
    }

    pub(crate) async fn create(&self, pending: PendingCiba) -> Result<CibaHandle, CibaError> {
        let mut record = Record { id: Id::default(), data: HashMap::new(), expiry_date: expiry(&pending) };
        record.data.insert(RECORD_KEY.to_owned(), serde_json::to_value(&pending).map_err(store_error)?);
        self.store.create(&mut record).await.map_err(store_error)?;
        Ok(CibaHandle(record.id.to_string()))
    }

    pub(crate) async fn load(&self, handle: &CibaHandle) -> Result<PendingCiba, CibaError> {
        let id = Id::from_str(&handle.0).map_err(|_| CibaError::UnknownHandle)?;
        let record = self.store.load(&id).await.map_err(store_error)?.ok_or(CibaError::UnknownHandle)?;
        let value = record.data.get(RECORD_KEY).cloned().ok_or(CibaError::UnknownHandle)?;
        serde_json::from_value(value).map_err(|_| CibaError::UnknownHandle)
    }

    pub(crate) async fn save(&self, handle: &CibaHandle, pending: &PendingCiba) -> Result<(), CibaError> {
        let id = Id::from_str(&handle.0).map_err(|_| CibaError::UnknownHandle)?;
        let mut record = Record { id, data: HashMap::new(), expiry_date: expiry(pending) };
        record.data.insert(RECORD_KEY.to_owned(), serde_json::to_value(pending).map_err(store_error)?);
        self.store.save(&record).await.map_err(store_error)
    }

    pub(crate) async fn delete(&self, handle: &CibaHandle) -> Result<(), CibaError> {
        let id = Id::from_str(&handle.0).map_err(|_| CibaError::UnknownHandle)?;
        self.store.delete(&id).await.map_err(store_error)
    }

    /// Marks `handle` as being polled; `None` if it already is.
    pub(crate) fn claim(&self, handle: &CibaHandle) -> Option<InFlight<'_>> {
        let mut set = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        set.insert(handle.0.clone()).then(|| InFlight { store: self, handle: handle.0.clone() })
    }
}

/// Releases the in-flight mark when dropped (also on cancellation).
pub(crate) struct InFlight<'a> {
    store: &'a CibaStore,
    handle: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.store.in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.handle);
    }
}

fn expiry(pending: &PendingCiba) -> OffsetDateTime {
    let secs = pending.expires_at_ms / 1000 + GRACE_SECS;
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or_else(|_| OffsetDateTime::now_utc() + TimeDuration::hours(1))
}
