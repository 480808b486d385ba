//! Rotating the session id at login without losing the login it replaces.
//!
//! A login rotates the session id (so an id planted before login is
//! worthless afterwards). tower-sessions' `Session::cycle_id` deletes the
//! old record at once, while the record under the new id is only created
//! when the session layer saves after the response: when that save fails
//! (or the request fails in between), the browser keeps its old cookie and
//! finds no record, so a logged-in user is logged out by a failed login.
//!
//! [`RotationSafeStore`] reverses the order: while `store_login` rotates the
//! id, the old record's delete is deferred ([`rotate_id`]), the session
//! remembers the old id ([`REPLACES_KEY`]), and the store deletes the old
//! record only once the new one is created. A failure anywhere before that
//! leaves the old record, and the login it holds, as it was.

use std::cell::Cell;
use std::fmt;

use tower_sessions::session::{Id, Record};
use tower_sessions::{Session, SessionStore};

use crate::store_slot::StoreFuture;

/// The id of the record a new session record replaces: written by
/// [`rotate_id`], taken out (never stored) by [`RotationSafeStore::create`].
const REPLACES_KEY: &str = "axum_bankid.replaces";

tokio::task_local! {
    /// Set while [`rotate_id`] rotates: a [`RotationSafeStore`] defers the
    /// delete and marks it here, so `rotate_id` knows to name the old id.
    static ROTATING: Cell<bool>;
}

/// A session store that deletes the record a login replaces only after
/// the record under the new id is created, so a store failure during a
/// login leaves the previous login in place.
///
/// [`BankIdConfig::session_layer`](crate::BankIdConfig::session_layer) and
/// [`BankIdLayer::with_session_store`](crate::BankIdLayer::with_session_store)
/// wrap their store in it; wrap the store of a session layer built by hand
/// (`SessionManagerLayer::new(RotationSafeStore::new(store))`). Without it
/// a failed login can log out the user who was logged in.
#[derive(Clone)]
pub struct RotationSafeStore<S>(S);

impl<S> RotationSafeStore<S> {
    /// `store`, with the old record of a login deleted only after the new one is created.
    pub fn new(store: S) -> Self {
        RotationSafeStore(store)
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.0
    }
}

impl<S: fmt::Debug> fmt::Debug for RotationSafeStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RotationSafeStore").field(&self.0).finish()
    }
}

impl<S: SessionStore> SessionStore for RotationSafeStore<S> {
    fn create<'a, 'b, 'c>(&'a self, record: &'b mut Record) -> StoreFuture<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        Box::pin(async move {
            let replaced = take_replaced(record);
            self.0.create(record).await?;
            if let Some(old) = replaced {
                self.retire(&old).await;
            }
            Ok(())
        })
    }

    fn save<'a, 'b, 'c>(&'a self, record: &'b Record) -> StoreFuture<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        self.0.save(record)
    }

    fn load<'a, 'b, 'c>(&'a self, id: &'b Id) -> StoreFuture<'c, Option<Record>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        self.0.load(id)
    }

    fn delete<'a, 'b, 'c>(&'a self, id: &'b Id) -> StoreFuture<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        if ROTATING.try_with(|deferred| deferred.set(true)).is_ok() {
            return Box::pin(std::future::ready(Ok(())));
        }
        self.0.delete(id)
    }
}

impl<S: SessionStore> RotationSafeStore<S> {
    /// Deletes the record a new one replaced. A failure is logged, not
    /// returned: the new record holds the login and the browser is about to
    /// get its cookie; the old one still expires on its own.
    async fn retire(&self, old: &Id) {
        if let Err(err) = self.0.delete(old).await {
            tracing::error!(error = %err, "could not delete the session record a login replaced");
        }
    }
}

/// The replaced record's id, removed from `record` so it is never stored.
fn take_replaced(record: &mut Record) -> Option<Id> {
    record.data.remove(REPLACES_KEY)?.as_str()?.parse().ok()
}

/// Gives `session` a new id. Under a [`RotationSafeStore`] the old record
/// stays until the new one is created (see the module docs); under another
/// store it is deleted at once, as `Session::cycle_id` does.
pub(crate) async fn rotate_id(session: &Session) -> Result<(), tower_sessions::session::Error> {
    let old = session.id();
    let deferred =
        ROTATING.scope(Cell::new(false), async { session.cycle_id().await.map(|()| ROTATING.with(Cell::get)) });
    if let (true, Some(old)) = (deferred.await?, old) {
        session.insert_value(REPLACES_KEY, old.to_string().into()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tower_sessions::MemoryStore;

    use super::*;

    async fn stored_session(store: &Arc<RotationSafeStore<MemoryStore>>) -> Id {
        let session = Session::new(None, Arc::clone(store), None);
        session.insert_value("who", "kari".into()).await.unwrap();
        session.save().await.unwrap();
        session.id().unwrap()
    }

    #[tokio::test]
    async fn the_old_record_goes_only_when_the_new_one_is_created() {
        let store = Arc::new(RotationSafeStore::new(MemoryStore::default()));
        let old = stored_session(&store).await;
        let session = Session::new(Some(old), Arc::clone(&store), None);
        rotate_id(&session).await.unwrap();
        assert!(store.load(&old).await.unwrap().is_some(), "kept while the new record does not exist");

        session.save().await.unwrap();
        let new = session.id().unwrap();
        assert_ne!(new, old);
        assert!(store.load(&old).await.unwrap().is_none(), "deleted once the new one exists");
        let record = store.load(&new).await.unwrap().unwrap();
        assert_eq!(record.data.get("who"), Some(&serde_json::json!("kari")));
        assert!(!record.data.contains_key(REPLACES_KEY), "the old id is never stored");
    }

    #[tokio::test]
    async fn outside_a_rotation_delete_deletes() {
        let store = Arc::new(RotationSafeStore::new(MemoryStore::default()));
        let id = stored_session(&store).await;
        Session::new(Some(id), Arc::clone(&store), None).flush().await.unwrap();
        assert!(store.load(&id).await.unwrap().is_none());
    }
}
