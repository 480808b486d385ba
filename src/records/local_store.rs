//! The store a `BankIdLayer` keeps login attempts (and its other records)
//! in until it is told the app's session store (`with_session_store`,
//! `with_login_store`): this process only, so a callback must reach the
//! instance its login started on. Each layer has its own; it warns once,
//! at first use, that nothing is shared.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tower_sessions::SessionStore;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};

use crate::expiry_queue::ExpiringMap;

/// The store used when the application gave none: this process only, with
/// `create` that never overwrites, and expired records dropped a few at a
/// time on every write (see [`ExpiringMap`]), so no call rescans the store.
#[derive(Debug, Default)]
pub(crate) struct LocalStore {
    records: Mutex<ExpiringMap<i128, Record>>,
    warned: AtomicBool,
}

impl LocalStore {
    /// The records, with up to a few expired ones dropped first.
    fn records(&self) -> std::sync::MutexGuard<'_, ExpiringMap<i128, Record>> {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "no session store known to axum-bankid (use BankIdLayer::with_session_store, or \
                 BankIdLayer::with_login_store for a session layer built otherwise): login attempts are kept in this \
                 process only"
            );
        }
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
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
