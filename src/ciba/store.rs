//! Pending CIBA authentications, kept in the application's session store
//! (memory, Redis, …) under an opaque handle, so any instance sharing the
//! store can continue one.
//!
//! A request is three records: its state (rewritten after every poll), a
//! poll lease (held while one instance polls), and its outcome (created
//! once). Keeping the outcome apart means no stale write of the state — by
//! an instance whose poll was slow — can ever replace it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tower_sessions::SessionStore;
use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};
use tower_sessions::session::{Id, Record};

use super::error::CibaError;
use super::request::CibaHandle;
use crate::clock::unix_now_ms;
use crate::error::Cause;
use crate::loa::Loa;
use crate::permission::statement::PermissionItem;
use crate::records::single_use::{SingleUseRecords, keyed_record_id, new_secret, record_id};
use crate::user::AuthenticatedUser;

const RECORD_KEY: &str = "axum_bankid.ciba";
const OUTCOME_KEY: &str = "axum_bankid.ciba_outcome";
const LEASE_KEY: &str = "axum_bankid.ciba_lease";
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
    /// The level this request must reach when it is above the layer's
    /// minimum (it forced BankID High, see `BibAcr::High`).
    #[serde(default)]
    pub(crate) minimum_loa: Option<Loa>,
    /// BankID's binding message, made at registration: the status route
    /// shows it to the device once BIB has answered.
    #[serde(default)]
    pub(crate) binding_message: Option<String>,
    /// A public start whose calls to BIB are still under way (see
    /// `ciba::background`): no `auth_req_id` yet, nothing to poll.
    #[serde(default)]
    pub(crate) starting: bool,
    /// Names the lease and outcome records; never leaves the store.
    secret: String,
}

/// How it ended.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) enum Outcome {
    Approved {
        #[serde(with = "stored_user")]
        user: Box<AuthenticatedUser>,
        id_token: String,
    },
    Failed {
        kind: String,
        detail: Option<String>,
    },
}

/// The store's form of an approved user: the verified claims and level,
/// from which [`AuthenticatedUser::from_claims`] rebuilds it (the public type
/// has no `Deserialize`, so no JSON can become a user by itself).
mod stored_user {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::{Map, Value};

    use crate::loa::Loa;
    use crate::user::AuthenticatedUser;

    #[derive(Serialize, Deserialize)]
    struct Stored {
        claims: Map<String, Value>,
        loa: Loa,
    }

    pub(super) fn serialize<S: Serializer>(user: &AuthenticatedUser, serializer: S) -> Result<S::Ok, S::Error> {
        Stored { claims: user.claims.as_map().clone(), loa: user.loa }.serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Box<AuthenticatedUser>, D::Error> {
        let stored = Stored::deserialize(deserializer)?;
        Ok(Box::new(AuthenticatedUser::from_claims(stored.claims, stored.loa)))
    }
}

impl PendingCiba {
    pub(crate) fn new(
        auth_req_id: String,
        interval_secs: u64,
        expires_in: u64,
        permission: Option<PermissionItem>,
    ) -> Self {
        let now = unix_now_ms();
        let mut pending = PendingCiba {
            auth_req_id,
            interval_secs,
            next_poll_at_ms: now,
            expires_at_ms: now + (expires_in as i64) * 1000,
            permission,
            minimum_loa: None,
            binding_message: None,
            starting: false,
            secret: new_secret(),
        };
        // CIBA Core §7.3: wait one interval before the first poll.
        pending.wait_one_interval_from(now);
        pending
    }

    /// The record of a public start before BIB was asked: it lives
    /// `lifetime_secs` at most. Its first "poll" is due only at its expiry
    /// (which records it expired), so no reader ever polls BIB for it.
    pub(crate) fn starting(lifetime_secs: u64) -> Self {
        let mut starting = PendingCiba::new(String::new(), 1, lifetime_secs, None);
        starting.next_poll_at_ms = starting.expires_at_ms;
        starting.starting = true;
        starting
    }

    /// Takes over the lease and outcome records of `starting`, the record
    /// this request had while BIB was being asked.
    pub(crate) fn continues(mut self, starting: &PendingCiba) -> Self {
        self.secret = starting.secret.clone();
        self
    }

    /// Seconds until the request expires (at least 1).
    pub(crate) fn expires_in_secs(&self) -> u64 {
        ((self.expires_at_ms - unix_now_ms() + 999) / 1000).max(1) as u64
    }

    /// The next poll may go out one interval after `now_ms`.
    pub(crate) fn wait_one_interval_from(&mut self, now_ms: i64) {
        self.next_poll_at_ms = now_ms + (self.interval_secs as i64) * 1000;
    }

    fn outcome_id(&self) -> Id {
        record_id(&self.secret, "ciba-outcome")
    }

    fn lease_id(&self) -> Id {
        record_id(&self.secret, "ciba-lease")
    }
}

pub(crate) struct CibaStore {
    store: Arc<dyn SessionStore>,
    /// Keys the record ids of pending requests (see [`pending_record_id`]).
    record_key: [u8; 32],
    records: SingleUseRecords,
    /// Handles being polled right now by this instance, so concurrent status
    /// requests never poll the provider twice at once.
    in_flight: Mutex<HashSet<String>>,
    /// Background polling, used only when the app set a CIBA callback.
    pub(crate) scheduler: Arc<super::deliver::Scheduler>,
    /// Outcomes the store failed to take (see `keep_unsaved`).
    unsaved: Mutex<HashMap<String, Outcome>>,
}

/// The store record of the request behind `handle`: a keyed hash (HMAC with
/// the [record key](crate::BankIdConfig::record_key)) in the store's id space.
/// Whoever holds a handle still cannot name its record — say, to present it
/// as a session cookie, which would let the session layer load, rewrite or
/// delete the pending request.
fn pending_record_id(key: &[u8; 32], handle: &CibaHandle) -> Id {
    keyed_record_id(key, "ciba-pending", &[&handle.0])
}

fn store_error(err: impl std::error::Error + Send + Sync + 'static) -> CibaError {
    tracing::error!(error = %err, "CIBA store failed");
    CibaError::Store(Cause::from_error(err))
}

fn store_inconsistent(what: &str) -> CibaError {
    tracing::error!(error = %what, "CIBA store failed");
    CibaError::Store(Cause::new(what))
}

impl CibaStore {
    pub(crate) fn new(store: Arc<dyn SessionStore>, record_key: [u8; 32]) -> Self {
        CibaStore {
            records: SingleUseRecords::new(Arc::clone(&store)),
            store,
            record_key,
            in_flight: Mutex::new(HashSet::new()),
            scheduler: Default::default(),
            unsaved: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) async fn create(&self, pending: PendingCiba) -> Result<CibaHandle, CibaError> {
        let handle = CibaHandle(new_secret());
        let value = serde_json::to_value(&pending).map_err(store_error)?;
        let id = pending_record_id(&self.record_key, &handle);
        // Created under its derived id, never overwriting: a 2^-128 clash
        // with a live record fails instead of replacing it.
        match self.records.create_first(id, RECORD_KEY, value, expiry(&pending)).await.map_err(store_error)? {
            true => Ok(handle),
            false => Err(store_inconsistent("a record with this id exists")),
        }
    }

    pub(crate) async fn load(&self, handle: &CibaHandle) -> Result<PendingCiba, CibaError> {
        let id = pending_record_id(&self.record_key, handle);
        let record = self.store.load(&id).await.map_err(store_error)?.ok_or(CibaError::UnknownHandle)?;
        let value = record.data.get(RECORD_KEY).cloned().ok_or(CibaError::UnknownHandle)?;
        serde_json::from_value(value).map_err(|_| CibaError::UnknownHandle)
    }

    pub(crate) async fn save(&self, handle: &CibaHandle, pending: &PendingCiba) -> Result<(), CibaError> {
        let id = pending_record_id(&self.record_key, handle);
        let mut record = Record { id, data: HashMap::new(), expiry_date: expiry(pending) };
        record.data.insert(RECORD_KEY.to_owned(), serde_json::to_value(pending).map_err(store_error)?);
        self.store.save(&record).await.map_err(store_error)
    }

    /// Forgets the request and its outcome.
    pub(crate) async fn delete(&self, handle: &CibaHandle) -> Result<(), CibaError> {
        self.forget_unsaved(handle);
        if let Ok(pending) = self.load(handle).await {
            self.records.remove(pending.outcome_id()).await.map_err(store_error)?;
        }
        self.store.delete(&pending_record_id(&self.record_key, handle)).await.map_err(store_error)
    }

    /// The recorded outcome, if the request has one.
    pub(crate) async fn outcome(&self, pending: &PendingCiba) -> Result<Option<Outcome>, CibaError> {
        let Some(record) = self.records.read(pending.outcome_id()).await.map_err(store_error)? else {
            return Ok(None);
        };
        let value = record
            .data
            .get(OUTCOME_KEY)
            .cloned()
            .ok_or_else(|| store_inconsistent("outcome record without outcome"))?;
        serde_json::from_value(value).map(Some).map_err(store_error)
    }

    /// Records `outcome` unless one is recorded already: the first stands
    /// (`Some(it)` then) — except that an approval replaces an
    /// `invalid_grant`, the provider's answer to a second poll of a request
    /// it had approved (possible only if a lease lapsed). `None`: ours stands.
    pub(crate) async fn record_outcome(
        &self,
        pending: &PendingCiba,
        outcome: &Outcome,
    ) -> Result<Option<Outcome>, CibaError> {
        let value = serde_json::to_value(outcome).map_err(store_error)?;
        let (id, expires) = (pending.outcome_id(), expiry(pending));
        if self.records.create_first(id, OUTCOME_KEY, value.clone(), expires).await.map_err(store_error)? {
            return Ok(None);
        }
        let recorded = self.outcome(pending).await?.ok_or(CibaError::UnknownHandle)?;
        if !approval_replaces(&recorded, outcome) {
            return Ok(Some(recorded));
        }
        self.records.overwrite(id, OUTCOME_KEY, value, expires).await.map_err(store_error)?;
        Ok(None)
    }

    /// Keeps an outcome the store would not take, so this instance does not
    /// poll (and lose) it again; bounded, as it only fills while the store fails.
    pub(crate) fn keep_unsaved(&self, handle: &CibaHandle, outcome: Outcome) {
        let mut unsaved = self.unsaved.lock().unwrap_or_else(|p| p.into_inner());
        if unsaved.len() < 10_000 {
            unsaved.insert(handle.0.clone(), outcome);
        }
    }

    /// An outcome kept by [`keep_unsaved`](Self::keep_unsaved), if any.
    pub(crate) fn unsaved(&self, handle: &CibaHandle) -> Option<Outcome> {
        self.unsaved.lock().unwrap_or_else(|p| p.into_inner()).get(&handle.0).cloned()
    }

    pub(crate) fn forget_unsaved(&self, handle: &CibaHandle) {
        self.unsaved.lock().unwrap_or_else(|p| p.into_inner()).remove(&handle.0);
    }

    /// Takes the right to poll this request, for every instance sharing the
    /// store, for at most `ttl` (should the holder die); `None` if another
    /// poll holds it.
    pub(crate) async fn lease(&self, pending: &PendingCiba, ttl: Duration) -> Result<Option<Lease>, CibaError> {
        let until = OffsetDateTime::now_utc() + TimeDuration::seconds(ttl.as_secs().max(1) as i64);
        let id = pending.lease_id();
        // The holder's token: releasing checks it, so a holder whose lease
        // lapsed cannot release the next holder's.
        let token = serde_json::Value::String(new_secret());
        let taken = self.records.create_first(id, LEASE_KEY, token.clone(), until).await;
        match taken.map_err(store_error)? {
            true => Ok(Some(Lease { records: self.records.clone(), id, token, released: false })),
            false => Ok(None),
        }
    }

    /// Marks `handle` as being polled; `None` if it already is.
    pub(crate) fn claim(&self, handle: &CibaHandle) -> Option<InFlight<'_>> {
        let mut set = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        set.insert(handle.0.clone()).then(|| InFlight { store: self, handle: handle.0.clone() })
    }
}

/// The store-wide right to poll one request.
pub(crate) struct Lease {
    records: SingleUseRecords,
    id: Id,
    token: serde_json::Value,
    released: bool,
}

impl Lease {
    pub(crate) async fn release(mut self) {
        self.released = true;
        if let Err(err) = self.records.remove_if(self.id, LEASE_KEY, &self.token).await {
            tracing::warn!(error = %err, "could not release a CIBA poll lease; it lapses by itself");
        }
    }
}

impl Drop for Lease {
    /// A lease dropped without `release` (a panic, a runtime shutting down)
    /// is freed in the background if possible, else it lapses.
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (records, id, token) = (self.records.clone(), self.id, self.token.clone());
            runtime.spawn(async move {
                let _ = records.remove_if(id, LEASE_KEY, &token).await;
            });
        }
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

/// Whether `ours`, an approval, must replace `recorded`, a stray `invalid_grant`.
fn approval_replaces(recorded: &Outcome, ours: &Outcome) -> bool {
    let stray = matches!(recorded, Outcome::Failed { kind, .. } if kind == CibaError::InvalidGrant.kind());
    stray && matches!(ours, Outcome::Approved { .. })
}

fn expiry(pending: &PendingCiba) -> OffsetDateTime {
    let secs = pending.expires_at_ms / 1000 + GRACE_SECS;
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or_else(|_| OffsetDateTime::now_utc() + TimeDuration::hours(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_starting_record_is_never_due_before_it_expires_and_hands_on_its_records() {
        let starting = PendingCiba::starting(70);
        assert!(starting.starting);
        assert_eq!(starting.next_poll_at_ms, starting.expires_at_ms, "nobody polls BIB for it");
        assert!((69..=70).contains(&starting.expires_in_secs()));
        let started = PendingCiba::new("auth-req".into(), 5, 600, None).continues(&starting);
        assert!(!started.starting);
        assert_eq!(started.outcome_id(), starting.outcome_id(), "an outcome recorded meanwhile stands");
        assert_eq!(started.lease_id(), starting.lease_id());
    }

    #[test]
    fn records_written_before_public_starts_ran_in_the_background_still_read() {
        let mut old = serde_json::to_value(PendingCiba::new("auth-req".into(), 5, 600, None)).unwrap();
        let fields = old.as_object_mut().unwrap();
        fields.remove("binding_message");
        fields.remove("starting");
        let read: PendingCiba = serde_json::from_value(old).unwrap();
        assert!(!read.starting && read.binding_message.is_none());
    }
}
