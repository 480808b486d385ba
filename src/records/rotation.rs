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
//!
//! # A deleted record stays deleted
//!
//! tower-sessions saves a modified session whole at the end of a request,
//! from the copy it loaded at the start. A slow request that loaded the
//! session before a logout (or before a login replaced the record) would
//! write the login back, and its `Set-Cookie` would hand the browser the
//! old id again. So every delete first leaves a marker for the id
//! ([`ended_id`]), and a save that finds the marker after writing deletes
//! what it wrote: whichever order the two requests' writes take, the record
//! ends deleted (the marker is written before the delete and read after the
//! save). That save then fails, so the session layer answers the late
//! request with a bare `500` instead of handing the browser the ended id.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};

use tower_sessions::session::{Id, Record};
use tower_sessions::{Session, SessionStore};

use crate::records::local_store::StoreFuture;
use crate::records::single_use::{SingleUseRecords, record_id};

/// How long a deleted session id counts as ended (see the module docs): far
/// longer than any request that could still save it.
const ENDED_SECS: i64 = 60 * 60;
/// The one key of an ended-id marker.
const ENDED_KEY: &str = "axum_bankid.session_ended";

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
/// login leaves the previous login in place; and that keeps a deleted
/// record deleted when a request that loaded it earlier saves it late
/// (see the module docs).
///
/// [`BankIdLayer::with_session_store`](crate::BankIdLayer::with_session_store)
/// wraps its store in it; wrap the store of a session layer built by hand
/// (`SessionManagerLayer::new(RotationSafeStore::new(store))`). Without it
/// a failed login can log out the user who was logged in.
pub struct RotationSafeStore<S> {
    store: Arc<S>,
    /// Told of each write once the store has it (the verified-login cache).
    watcher: Option<Arc<dyn WriteWatcher>>,
}

/// What keeps a copy of session data in step with the store: told of every
/// record a [`RotationSafeStore`] saved or deleted, after the store has
/// the change (so a read begun after the call sees it), and of every read,
/// before and after it.
pub(crate) trait WriteWatcher: Send + Sync {
    /// A read of the record `id` is about to ask the store.
    fn loading(&self, id: &Id);
    /// The read of `id` answered `record` (`None`: no record, or the store failed).
    fn loaded(&self, id: &Id, record: Option<&Record>);
    /// `record` was created or saved (possibly changed).
    fn saved(&self, record: &Record);
    /// The record `id` was deleted (or may have been: the delete failed).
    fn deleted(&self, id: &Id);
}

impl<S> Clone for RotationSafeStore<S> {
    fn clone(&self) -> Self {
        RotationSafeStore { store: Arc::clone(&self.store), watcher: self.watcher.clone() }
    }
}

impl<S> RotationSafeStore<S> {
    /// `store`, with the old record of a login deleted only after the new one is created.
    pub fn new(store: S) -> Self {
        RotationSafeStore { store: Arc::new(store), watcher: None }
    }

    /// This store, telling `watcher` of every write.
    pub(crate) fn watched_by(self, watcher: Arc<dyn WriteWatcher>) -> Self {
        RotationSafeStore { watcher: Some(watcher), ..self }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.store
    }

    fn tell_saved(&self, record: &Record) {
        if let Some(watcher) = &self.watcher {
            watcher.saved(record);
        }
    }

    fn tell_deleted(&self, id: &Id) {
        if let Some(watcher) = &self.watcher {
            watcher.deleted(id);
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for RotationSafeStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RotationSafeStore").field(&self.store).finish()
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
            let created = self.store.create(record).await;
            self.tell_saved(record);
            created?;
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
        Box::pin(async move {
            let saved = self.store.save(record).await;
            self.tell_saved(record);
            saved?;
            if self.ended(&record.id).await? {
                // A request that loaded the session before it was ended.
                // The error keeps the session layer from sending the ended
                // id's cookie again (it answers a bare 500 instead).
                tracing::info!("a late save of an ended session was undone");
                let deleted = self.store.delete(&record.id).await;
                self.tell_deleted(&record.id);
                deleted?;
                return Err(tower_sessions::session_store::Error::Backend("the session was ended meanwhile".into()));
            }
            Ok(())
        })
    }

    fn load<'a, 'b, 'c>(&'a self, id: &'b Id) -> StoreFuture<'c, Option<Record>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        let Some(watcher) = &self.watcher else { return self.store.load(id) };
        Box::pin(async move {
            watcher.loading(id);
            let loaded = self.store.load(id).await;
            watcher.loaded(id, loaded.as_ref().ok().and_then(Option::as_ref));
            loaded
        })
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
        Box::pin(self.end(id))
    }
}

impl<S: SessionStore> RotationSafeStore<S> {
    /// Deletes the record a new one replaced. A failure is logged, not
    /// returned: the new record holds the login and the browser is about to
    /// get its cookie; the old one still expires on its own.
    async fn retire(&self, old: &Id) {
        if let Err(err) = self.end(old).await {
            tracing::error!(error = %err, "could not delete the session record a login replaced");
        }
    }

    /// Marks `id` ended, then deletes its record (see the module docs).
    async fn end(&self, id: &Id) -> tower_sessions::session_store::Result<()> {
        let expiry = OffsetDateTime::now_utc() + TimeDuration::seconds(ENDED_SECS);
        // `false` (marked already) is as good as `true`.
        let marked = self.markers().create_first(ended_id(id), ENDED_KEY, true.into(), expiry).await;
        if let Err(err) = marked {
            // Nothing was deleted; told all the same, as a copy costs only a read.
            self.tell_deleted(id);
            return Err(err);
        }
        let deleted = self.store.delete(id).await;
        self.tell_deleted(id);
        deleted
    }

    /// Whether `id` was ended.
    async fn ended(&self, id: &Id) -> tower_sessions::session_store::Result<bool> {
        Ok(self.markers().read(ended_id(id)).await?.is_some())
    }

    /// The markers live in the wrapped store itself (shared by every instance).
    fn markers(&self) -> SingleUseRecords {
        SingleUseRecords::new(self.store.clone())
    }
}

/// The marker record of an ended session id.
fn ended_id(id: &Id) -> Id {
    record_id(&id.to_string(), "session-ended")
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
    async fn a_late_save_of_an_ended_session_is_undone_and_refused() {
        let store = Arc::new(RotationSafeStore::new(MemoryStore::default()));
        let id = stored_session(&store).await;
        let late = store.load(&id).await.unwrap().unwrap();
        store.delete(&id).await.unwrap();
        assert!(store.save(&late).await.is_err(), "the late request must not get the ended id's cookie");
        assert!(store.load(&id).await.unwrap().is_none(), "the ended record stays deleted");
    }

    #[tokio::test]
    async fn outside_a_rotation_delete_deletes() {
        let store = Arc::new(RotationSafeStore::new(MemoryStore::default()));
        let id = stored_session(&store).await;
        Session::new(Some(id), Arc::clone(&store), None).flush().await.unwrap();
        assert!(store.load(&id).await.unwrap().is_none());
    }
}
