//! Where login attempts (and other single-use records) are kept when the
//! app did not name a store: a slot in the configuration that the session
//! layer fills, and this process's own fallback store.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tower_sessions::SessionStore;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};

use crate::expiry_queue::ExpiringMap;

/// Where login attempts are kept; filled by `session_layer` (also via `with_session_store`) or
/// `with_login_store`, shared by every clone of the configuration.
#[derive(Clone, Default)]
pub(crate) struct StoreSlot(Arc<Mutex<Option<Arc<dyn SessionStore>>>>);

impl fmt::Debug for StoreSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.0.lock().map(|s| s.is_some()).unwrap_or(false);
        f.debug_struct("StoreSlot").field("set", &set).finish()
    }
}

impl StoreSlot {
    pub(crate) fn set(&self, store: Arc<dyn SessionStore>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(store);
    }

    /// The configured store, or else (once, then kept) one in this process.
    pub(crate) fn get(&self) -> Arc<dyn SessionStore> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let store = slot.get_or_insert_with(|| {
            tracing::warn!(
                "no session store known to axum-bankid (use BankIdLayer::with_session_store, BankIdConfig::session_layer or \
                 BankIdLayer::with_login_store): login attempts are kept in this process only"
            );
            Arc::new(LocalStore::default())
        });
        Arc::clone(store)
    }
}

/// The store used when the application gave none: this process only, with
/// `create` that never overwrites, and expired records dropped a few at a
/// time on every write (see [`ExpiringMap`]), so no call rescans the store.
#[derive(Debug, Default)]
struct LocalStore(Mutex<ExpiringMap<i128, Record>>);

impl LocalStore {
    /// The records, with up to a few expired ones dropped first.
    fn records(&self) -> std::sync::MutexGuard<'_, ExpiringMap<i128, Record>> {
        let mut records = self.0.lock().unwrap_or_else(|p| p.into_inner());
        records.prune(OffsetDateTime::now_utc().unix_timestamp());
        records
    }
}

fn put(records: &mut ExpiringMap<i128, Record>, record: &Record) {
    records.insert(record.id.0, record.expiry_date.unix_timestamp(), record.clone());
}

/// The boxed future `SessionStore`'s methods return (the trait is declared
/// with `async_trait`, written out here to spare a dependency).
pub(crate) type StoreFuture<'a, T> =
    Pin<Box<dyn Future<Output = tower_sessions::session_store::Result<T>> + Send + 'a>>;

impl SessionStore for LocalStore {
    fn create<'a, 'b, 'c>(&'a self, record: &'b mut Record) -> StoreFuture<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        let mut records = self.records();
        while records.contains_key(&record.id.0) {
            record.id = Id::default();
        }
        put(&mut records, record);
        Box::pin(std::future::ready(Ok(())))
    }

    fn save<'a, 'b, 'c>(&'a self, record: &'b Record) -> StoreFuture<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        let mut records = self.records();
        put(&mut records, record);
        Box::pin(std::future::ready(Ok(())))
    }

    fn load<'a, 'b, 'c>(&'a self, id: &'b Id) -> StoreFuture<'c, Option<Record>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        Box::pin(std::future::ready(Ok(self.records().get(&id.0).cloned())))
    }

    fn delete<'a, 'b, 'c>(&'a self, id: &'b Id) -> StoreFuture<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        self.records().remove(&id.0);
        Box::pin(std::future::ready(Ok(())))
    }
}
