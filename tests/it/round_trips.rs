//! What the relying party asks the provider, counted at the simulator: once
//! metadata and keys are cached, a login makes exactly the back-channel calls
//! it needs and an authenticated request makes none (issue 12, item 5: the
//! per-request path does no provider I/O).

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum_bankid_simulator::{CapturedRequest, Issuer};
use common::TestApp;
use reqwest::StatusCode;
use tower_sessions::session::{Id, Record};
use tower_sessions::{MemoryStore, SessionStore};

/// The back-channel calls the app made, as `METHOD path` at each provider.
/// Browser traffic (the login page and its form post) is left out.
fn backchannel(requests: &[CapturedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.path != "/authorize")
        .map(|r| format!("{} {} {}", if r.issuer == Issuer::Bib { "BIB" } else { "OIDC" }, r.method, r.path))
        .collect()
}

#[tokio::test]
async fn a_login_asks_for_par_and_tokens_only_and_requests_ask_nothing() {
    let app = TestApp::builder().start().await;
    // Start-up fetched discovery and keys of both providers.
    let at_start_up = backchannel(&app.sim.requests());
    assert!(at_start_up.iter().any(|r| r.ends_with("/.well-known/openid-configuration")), "{at_start_up:?}");
    app.sim.clear_requests();

    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    assert_eq!(backchannel(&app.sim.requests()), ["OIDC POST /par", "OIDC POST /token"], "a login needs exactly these");

    app.sim.clear_requests();
    for _ in 0..20 {
        let (status, me) = app.get_json("/me").await;
        assert_eq!(status, StatusCode::OK, "{me}");
    }
    assert!(app.sim.requests().is_empty(), "authenticated requests call no provider: {:?}", app.sim.requests());
}

#[tokio::test]
async fn without_par_a_login_asks_for_tokens_only() {
    let app = TestApp::builder().configure(|b| b.par(axum_bankid::ParMode::Disabled)).start().await;
    app.sim.clear_requests();

    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    assert_eq!(backchannel(&app.sim.requests()), ["OIDC POST /token"], "a login without PAR needs only this");

    app.sim.clear_requests();
    for _ in 0..20 {
        let (status, me) = app.get_json("/me").await;
        assert_eq!(status, StatusCode::OK, "{me}");
    }
    assert!(app.sim.requests().is_empty(), "authenticated requests call no provider: {:?}", app.sim.requests());
}

/// A memory store that counts its calls.
#[derive(Debug, Clone, Default)]
struct CountingStore {
    inner: MemoryStore,
    loads: Arc<AtomicUsize>,
    writes: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl SessionStore for CountingStore {
    async fn create(&self, record: &mut Record) -> tower_sessions::session_store::Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.create(record).await
    }
    async fn save(&self, record: &Record) -> tower_sessions::session_store::Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.save(record).await
    }
    async fn load(&self, id: &Id) -> tower_sessions::session_store::Result<Option<Record>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(id).await
    }
    async fn delete(&self, id: &Id) -> tower_sessions::session_store::Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(id).await
    }
}

/// Session-store round trips per request, logged in, with the login cache:
/// the first request reads the session, the next ones (within the cache's
/// TTL) read nothing, and none writes.
#[tokio::test]
async fn with_the_login_cache_an_authenticated_request_reads_the_store_once_per_ttl() {
    let store = CountingStore::default();
    let ttl = std::time::Duration::from_secs(60);
    let app = TestApp::builder().store(store.clone()).configure(move |b| b.login_cache_ttl(ttl)).start().await;
    assert_eq!(authenticated_round_trips(&app, &store).await, (0, 0), "answered from the cache, no write");
}

/// Without the cache: one read (the session) for a route that extracts the
/// user, none for a route that does not, and never a write.
#[tokio::test]
async fn an_authenticated_request_reads_the_store_once_and_a_public_one_not_at_all() {
    let store = CountingStore::default();
    let app = TestApp::builder().store(store.clone()).configure(|b| b.login_cache_ttl(Duration::ZERO)).start().await;
    assert_eq!(authenticated_round_trips(&app, &store).await, (10, 0), "one load per authenticated request, no write");
}

/// The store's reads and writes for ten authenticated requests after a
/// login; checks that ten public ones make none.
async fn authenticated_round_trips(app: &TestApp, store: &CountingStore) -> (usize, usize) {
    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    let (status, _) = app.get_json("/me").await;
    assert_eq!(status, StatusCode::OK);

    let count = || (store.loads.load(Ordering::SeqCst), store.writes.load(Ordering::SeqCst));
    let before = count();
    for _ in 0..10 {
        let (status, me) = app.get_json("/me").await;
        assert_eq!(status, StatusCode::OK, "{me}");
    }
    let after = count();
    let authenticated = (after.0 - before.0, after.1 - before.1);

    let before = count();
    for _ in 0..10 {
        let response = app.client.get(app.url("/")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(count(), before, "a route that reads no login does not touch the store");
    authenticated
}
