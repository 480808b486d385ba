//! OpenID Connect Back-Channel Logout 1.0: the simulator posts logout tokens
//! to the app over real HTTP; accepted ones end the named sessions on every
//! instance sharing the store, every broken one is refused with `400` and
//! its own logged reason and changes nothing.

use crate::common;
use crate::common::logs;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum_bankid_simulator::{LogoutDelivery, LogoutSubject, LogoutTokenFault, Simulator};
use common::{TestApp, hidden_field, location, second_server};
use logs::{logged, logs, subscriber_into};
use reqwest::cookie::Jar;
use reqwest::{StatusCode, redirect};
use serde_json::Value;
use tower_sessions::session::{Id, Record};
use tower_sessions::{MemoryStore, SessionStore};

const PATH: &str = "/auth/bankid/backchannel-logout";

/// Runs `test` with the lines it logs captured on their own (the tests run
/// on one thread each, the app's server included), and returns them.
async fn own_logs(test: impl std::future::Future<Output = ()>) -> String {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let _scope = tracing::subscriber::set_default(subscriber_into(&buffer));
    test.await;
    String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
}

/// The app against a simulator that advertises back-channel logout.
async fn start_app<S: SessionStore + Clone>(store: S) -> TestApp {
    start_app_caching(store, Duration::from_secs(2)).await
}

/// The app with its login cache's time to live set to `ttl`.
async fn start_app_caching<S: SessionStore + Clone>(store: S, ttl: Duration) -> TestApp {
    logs();
    let simulator = Simulator::builder().backchannel_logout(true);
    TestApp::builder().simulator(simulator).store(store).configure(move |b| b.login_cache_ttl(ttl)).start().await
}

/// The cache's TTL in the two-instance tests, and the slack a loaded
/// machine gets on top of it.
const CROSS_INSTANCE_TTL: Duration = Duration::from_millis(1500);
const SLACK: Duration = Duration::from_secs(1);

/// A memory store whose writes of logout markers fail while `broken` is set.
#[derive(Debug, Clone, Default)]
struct MarkerFailingStore {
    inner: MemoryStore,
    broken: Arc<std::sync::atomic::AtomicBool>,
}

impl MarkerFailingStore {
    fn refuse_markers(&self, record: &Record) -> tower_sessions::session_store::Result<()> {
        let marker = record.data.contains_key("axum_bankid.logged_out_before_ms");
        if marker && self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(tower_sessions::session_store::Error::Backend("store unavailable".into()));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl SessionStore for MarkerFailingStore {
    async fn create(&self, record: &mut Record) -> tower_sessions::session_store::Result<()> {
        self.refuse_markers(record)?;
        self.inner.create(record).await
    }
    async fn save(&self, record: &Record) -> tower_sessions::session_store::Result<()> {
        self.refuse_markers(record)?;
        self.inner.save(record).await
    }
    async fn load(&self, id: &Id) -> tower_sessions::session_store::Result<Option<Record>> {
        self.inner.load(id).await
    }
    async fn delete(&self, id: &Id) -> tower_sessions::session_store::Result<()> {
        self.inner.delete(id).await
    }
}

/// A second browser (own cookie jar) on `app`.
struct Browser {
    client: reqwest::Client,
}

impl Browser {
    fn new() -> Browser {
        let client =
            reqwest::Client::builder().redirect(redirect::Policy::none()).cookie_provider(Arc::new(Jar::default()));
        Browser { client: client.build().unwrap() }
    }

    /// A whole code-flow login as `user` at `app`.
    async fn login(&self, app: &TestApp, user: &str) {
        let start = self.client.get(app.url("/auth/bankid/login?return_to=/me")).send().await.unwrap();
        let page = self.client.get(location(&start)).send().await.unwrap().text().await.unwrap();
        let request = hidden_field(&page, "request");
        let form = [("request", request.as_str()), ("user", user), ("decision", "approve")];
        let decided = self.client.post(format!("{}/authorize", app.sim.issuer())).form(&form).send().await.unwrap();
        let landed = self.client.get(location(&decided)).send().await.unwrap();
        assert_eq!(landed.status(), StatusCode::SEE_OTHER, "callback");
    }

    async fn me(&self, base: &str) -> (StatusCode, Value) {
        let response = self.client.get(format!("{base}/me")).header("accept", "application/json").send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// Logs `app`'s own browser in as kari; her `sub` and `sid`.
async fn login_kari(app: &TestApp) -> (String, String) {
    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    let (status, me) = app.get_json("/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let sid = me["claims"]["sid"].as_str().expect("the ID token carries sid").to_owned();
    (me["sub"].as_str().unwrap().to_owned(), sid)
}

fn assert_refused(delivery: &LogoutDelivery) {
    assert_eq!(delivery.status, 400, "{}", delivery.body);
    assert_eq!(delivery.cache_control.as_deref(), Some("no-store"));
    let body: Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_description"], "The logout request is not valid.", "one description: no oracle");
    assert!(!delivery.body.contains("logout_token_"), "the reason is not in the body: {}", delivery.body);
}

/// Sends kari's logout broken by `fault`: refused with `reason`, and her
/// session lives on.
async fn refused_and_harmless(fault: LogoutTokenFault, reason: &str, detail: &str) {
    let app = start_app(MemoryStore::default()).await;
    let (sub, sid) = login_kari(&app).await;
    let subject = LogoutSubject::Both { sub, sid };
    let delivery = app.sim.send_faulty_backchannel_logout(subject, fault, &app.url(PATH)).await.unwrap();
    assert_refused(&delivery);
    assert!(logged(&format!("reason={reason}")), "{fault:?} should be logged as {reason}");
    assert!(logged(detail), "{fault:?}: the log names `{detail}`");
    let (status, me) = app.get_json("/me").await;
    assert_eq!(status, StatusCode::OK, "a refused logout token ends nothing: {me}");
}

#[tokio::test]
async fn logout_by_sub_ends_the_session() {
    let app = start_app(MemoryStore::default()).await;
    let (sub, _) = login_kari(&app).await;
    let delivery = app.sim.send_backchannel_logout(LogoutSubject::Sub(sub), &app.url(PATH)).await.unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.body);
    assert_eq!(delivery.cache_control.as_deref(), Some("no-store"));
    app.assert_logged_out().await;
    // A browser navigation is sent to the login page.
    let page = app.client.get(app.url("/me")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert!(location(&page).starts_with("/auth/bankid/login?return_to="), "{}", location(&page));
    // Logging in again afterwards works: the marker only ends older logins.
    login_kari(&app).await;
}

#[tokio::test]
async fn logout_by_sub_ends_every_session_of_that_user_only() {
    let app = start_app(MemoryStore::default()).await;
    let (sub, _) = login_kari(&app).await;
    let (kari_again, ola) = (Browser::new(), Browser::new());
    kari_again.login(&app, "kari").await;
    ola.login(&app, "ola").await;
    assert_eq!(ola.me(&app.base).await.0, StatusCode::OK);
    let delivery = app.sim.send_backchannel_logout(LogoutSubject::Sub(sub), &app.url(PATH)).await.unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.body);
    app.assert_logged_out().await;
    assert_eq!(kari_again.me(&app.base).await.0, StatusCode::UNAUTHORIZED, "kari's other session ends too");
    assert_eq!(ola.me(&app.base).await.0, StatusCode::OK, "another user is untouched");
}

#[tokio::test]
async fn logout_by_sid_ends_only_that_provider_session() {
    let app = start_app(MemoryStore::default()).await;
    let (_, sid) = login_kari(&app).await;
    let other_tab_of_kari = Browser::new();
    other_tab_of_kari.login(&app, "kari").await;
    let delivery = app.sim.send_backchannel_logout(LogoutSubject::Sid(sid), &app.url(PATH)).await.unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.body);
    app.assert_logged_out().await;
    let (status, me) = other_tab_of_kari.me(&app.base).await;
    assert_eq!(status, StatusCode::OK, "kari's login in another provider session lives on: {me}");
}

#[tokio::test]
async fn a_logout_delivered_to_instance_b_ends_the_session_used_on_instance_a() {
    let store = MemoryStore::default();
    let app = start_app_caching(store.clone(), CROSS_INSTANCE_TTL).await;
    let instance_b = second_server(&app.sim, store, |layer, _| layer).await;
    let (sub, sid) = login_kari(&app).await;
    // The same browser's session works on B too (shared store).
    let on_b = app.client.get(format!("{instance_b}/me")).header("accept", "application/json").send().await;
    assert_eq!(on_b.unwrap().status(), StatusCode::OK);
    let subject = LogoutSubject::Both { sub, sid };
    let delivery = app.sim.send_backchannel_logout(subject, &format!("{instance_b}{PATH}")).await.unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.body);
    // B received it and ends the session at once; A in the same process at
    // once too (the caches of one process share logouts), and at the latest
    // within its cache's TTL, as another process would.
    let on_b = app.client.get(format!("{instance_b}/me")).header("accept", "application/json").send().await;
    assert_eq!(on_b.unwrap().status(), StatusCode::UNAUTHORIZED);
    app.logged_out_within(CROSS_INSTANCE_TTL + SLACK).await;
}

#[tokio::test]
async fn a_replayed_logout_token_is_refused_on_any_instance_and_ends_nothing() {
    let store = MemoryStore::default();
    let app = start_app(store.clone()).await;
    let instance_b = second_server(&app.sim, store, |layer, _| layer).await;
    let (sub, _) = login_kari(&app).await;
    let token = app.sim.logout_token(&LogoutSubject::Sub(sub), None);
    let first = app.sim.post_logout_token(&app.url(PATH), &token).await.unwrap();
    assert_eq!(first.status, 200, "{}", first.body);
    app.assert_logged_out().await;
    // Kari logs in again; a replay of the old token must not end that login.
    login_kari(&app).await;
    for target in [app.url(PATH), format!("{instance_b}{PATH}")] {
        let again = app.sim.post_logout_token(&target, &token).await.unwrap();
        assert_refused(&again);
    }
    assert!(logged("reason=logout_token_replayed"));
    let (status, me) = app.get_json("/me").await;
    assert_eq!(status, StatusCode::OK, "a replay records no new logout: {me}");
}

#[tokio::test]
async fn one_logout_token_sent_concurrently_is_accepted_exactly_once() {
    let store = MemoryStore::default();
    let app = start_app(store.clone()).await;
    let instance_b = second_server(&app.sim, store, |layer, _| layer).await;
    for round in 0..10 {
        let token = app.sim.logout_token(&LogoutSubject::Sub(format!("user-{round}")), None);
        let sends = (0..16).map(|i| {
            let target = if i % 2 == 0 { app.url(PATH) } else { format!("{instance_b}{PATH}") };
            let (sim, token) = (&app.sim, token.clone());
            async move { sim.post_logout_token(&target, &token).await.unwrap().status }
        });
        let statuses = futures_util::future::join_all(sends).await;
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "round {round}: {statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 15, "round {round}: {statuses:?}");
    }
}

#[tokio::test]
async fn the_route_exists_only_when_discovery_advertises_back_channel_logout() {
    let app = TestApp::builder().start().await;
    let token = app.sim.logout_token(&LogoutSubject::Sub("someone".into()), None);
    let delivery = app.sim.post_logout_token(&app.url(PATH), &token).await.unwrap();
    assert_eq!(delivery.status, 404, "the request reaches the app's own routes: {}", delivery.body);
}

#[tokio::test]
async fn a_request_without_a_logout_token_is_refused() {
    let app = start_app(MemoryStore::default()).await;
    let client = reqwest::Client::new();
    let token = app.sim.logout_token(&LogoutSubject::Sub("someone".into()), None);
    let requests = [
        client.post(app.url(PATH)).form(&[("other", "x")]),
        client.post(app.url(PATH)).form(&[("logout_token", "")]),
        client.post(app.url(PATH)).form(&[("logout_token", token.as_str()), ("logout_token", token.as_str())]),
        client
            .post(app.url(PATH))
            .header("content-type", "application/json")
            .body(format!("{{\"logout_token\":\"{token}\"}}")),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
    }
    assert!(logged("reason=logout_token_missing"));
    // None of those used the token: it is still good.
    assert_eq!(app.sim.post_logout_token(&app.url(PATH), &token).await.unwrap().status, 200);
}

#[tokio::test]
async fn a_token_without_events_is_refused() {
    refused_and_harmless(LogoutTokenFault::MissingEvents, "logout_token_missing_event", "no back-channel logout event")
        .await;
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    refused_and_harmless(LogoutTokenFault::WrongIssuer, "logout_token_wrong_issuer", "issued by another issuer").await;
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    refused_and_harmless(LogoutTokenFault::WrongAudience, "logout_token_wrong_audience", "not meant for this client")
        .await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    refused_and_harmless(LogoutTokenFault::Expired, "logout_token_expired", "has expired").await;
}

#[tokio::test]
async fn a_token_issued_in_the_future_is_refused() {
    refused_and_harmless(LogoutTokenFault::IssuedInFuture, "logout_token_issued_in_future", "issued in the future")
        .await;
}

#[tokio::test]
async fn a_token_without_exp_is_refused() {
    refused_and_harmless(LogoutTokenFault::MissingExp, "logout_token_missing_claim", "lacks a valid `exp` claim").await;
}

#[tokio::test]
async fn a_token_without_jti_is_refused() {
    refused_and_harmless(LogoutTokenFault::MissingJti, "logout_token_missing_claim", "lacks a valid `jti` claim").await;
}

#[tokio::test]
async fn a_token_for_another_event_is_refused() {
    refused_and_harmless(LogoutTokenFault::WrongEvent, "logout_token_missing_event", "no back-channel logout event")
        .await;
}

#[tokio::test]
async fn an_event_that_is_not_an_object_is_refused() {
    refused_and_harmless(
        LogoutTokenFault::EventNotObject,
        "logout_token_missing_event",
        "no back-channel logout event",
    )
    .await;
}

#[tokio::test]
async fn a_token_with_a_nonce_is_refused() {
    refused_and_harmless(LogoutTokenFault::NoncePresent, "logout_token_nonce_present", "has a nonce").await;
}

#[tokio::test]
async fn a_token_naming_neither_sub_nor_sid_is_refused() {
    refused_and_harmless(LogoutTokenFault::NoSubject, "logout_token_no_subject", "neither a subject nor a session")
        .await;
}

#[tokio::test]
async fn a_bad_signature_is_refused() {
    refused_and_harmless(LogoutTokenFault::BadSignature, "logout_token_bad_signature", "signature is invalid").await;
}

#[tokio::test]
async fn a_token_signed_with_an_unpublished_key_is_refused() {
    refused_and_harmless(LogoutTokenFault::UnknownKey, "logout_token_bad_signature", "signature is invalid").await;
}

#[test]
fn the_back_channel_logout_path_is_validated_and_must_differ_from_the_other_routes() {
    let builder = || {
        axum_bankid::BankIdConfig::builder()
            .issuer("https://auth.current.bankid.no/auth/realms/current")
            .client_id("client")
            .client_secret("secret")
            .redirect_uri("https://app.example/auth/bankid/callback")
    };
    assert_eq!(builder().build().unwrap().backchannel_logout_path(), PATH);
    let custom = builder().backchannel_logout_path("/oidc/bcl").build().unwrap();
    assert_eq!(custom.backchannel_logout_path(), "/oidc/bcl");
    for clash in ["/auth/bankid/logout", "/auth/bankid/login", "/auth/bankid/callback"] {
        let err = builder().backchannel_logout_path(clash).build().unwrap_err();
        assert!(err.to_string().contains("backchannel_logout_path"), "{clash}: {err}");
    }
    let err = builder().backchannel_logout_path("//evil.example").build().unwrap_err();
    assert!(err.to_string().contains("backchannel_logout_path"), "{err}");
}

#[tokio::test]
async fn a_logout_the_store_cannot_record_is_refused_and_can_be_retried() {
    let store = MarkerFailingStore::default();
    let app = start_app(store.clone()).await;
    let (sub, _) = login_kari(&app).await;
    let token = app.sim.logout_token(&LogoutSubject::Sub(sub), None);
    store.broken.store(true, std::sync::atomic::Ordering::SeqCst);
    let failed = app.sim.post_logout_token(&app.url(PATH), &token).await.unwrap();
    assert_refused(&failed);
    assert!(logged("reason=logout_not_recorded"));
    // The provider's retry of the same token is not taken for a replay.
    store.broken.store(false, std::sync::atomic::Ordering::SeqCst);
    let retried = app.sim.post_logout_token(&app.url(PATH), &token).await.unwrap();
    assert_eq!(retried.status, 200, "{}", retried.body);
    app.assert_logged_out().await;
}

async fn redis_store(
    port: u16,
) -> tower_sessions_redis_store::RedisStore<tower_sessions_redis_store::fred::prelude::Pool> {
    tower_sessions_redis_store::RedisStore::new(common::redis::connect(port).await)
}

#[tokio::test]
async fn on_redis_two_instances_share_markers_and_jtis() {
    let Some(redis) = common::redis::start_redis() else { return };
    let store = redis_store(redis.port).await;
    let app = start_app_caching(store.clone(), CROSS_INSTANCE_TTL).await;
    let instance_b = second_server(&app.sim, store, |layer, _| layer).await;
    // One token posted to both instances at once, many rounds: one winner.
    for round in 0..10 {
        let token = app.sim.logout_token(&LogoutSubject::Sub(format!("user-{round}")), None);
        let sends = (0..8).map(|i| {
            let target = if i % 2 == 0 { app.url(PATH) } else { format!("{instance_b}{PATH}") };
            let (sim, token) = (&app.sim, token.clone());
            async move { sim.post_logout_token(&target, &token).await.unwrap().status }
        });
        let statuses = futures_util::future::join_all(sends).await;
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "round {round}: {statuses:?}");
    }
    // A logout delivered to B ends the session used (and cached) on A
    // within A's cache TTL (in one process, at once).
    let (sub, sid) = login_kari(&app).await;
    let subject = LogoutSubject::Both { sub, sid };
    let delivery = app.sim.send_backchannel_logout(subject, &format!("{instance_b}{PATH}")).await.unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.body);
    app.logged_out_within(CROSS_INSTANCE_TTL + SLACK).await;
    login_kari(&app).await;
}

#[tokio::test]
async fn concurrent_logouts_of_one_user_on_two_instances_all_end_the_login() {
    let store = MemoryStore::default();
    let app = start_app(store.clone()).await;
    let instance_b = second_server(&app.sim, store, |layer, _| layer).await;
    for round in 0..5 {
        let (sub, _) = login_kari(&app).await;
        let sends = (0..8).map(|i| {
            let target = if i % 2 == 0 { app.url(PATH) } else { format!("{instance_b}{PATH}") };
            let (sim, subject) = (&app.sim, LogoutSubject::Sub(sub.clone()));
            async move { sim.send_backchannel_logout(subject, &target).await.unwrap().status }
        });
        let statuses = futures_util::future::join_all(sends).await;
        assert!(statuses.iter().all(|s| *s == 200), "round {round}: {statuses:?}");
        app.assert_logged_out().await;
    }
}

/// Issue 20 item 5: a logout token with both `sid` and `sub` ends only that
/// provider session (Back-Channel Logout 1.0 §2.4: `sub` alone means "every
/// session of the user"). Kari's login through another provider session
/// lives on.
#[tokio::test]
async fn logout_by_sid_and_sub_ends_only_that_provider_session() {
    let app = start_app(MemoryStore::default()).await;
    let (sub, sid) = login_kari(&app).await;
    let other_session_of_kari = Browser::new();
    other_session_of_kari.login(&app, "kari").await;
    let delivery = app.sim.send_backchannel_logout(LogoutSubject::Both { sub, sid }, &app.url(PATH)).await.unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.body);
    app.assert_logged_out().await;
    let (status, me) = other_session_of_kari.me(&app.base).await;
    assert_eq!(status, StatusCode::OK, "only the named provider session ends: {me}");
}

/// Issue 20 item 5: an instance that started degraded (its provider
/// unreachable, so it has not read whether logouts are sent) still honours
/// the logout markers other instances recorded: it fails closed.
#[tokio::test]
async fn a_degraded_instance_honours_logouts_recorded_by_others() {
    let store = MemoryStore::default();
    let app = start_app(store.clone()).await;
    let (sub, _) = login_kari(&app).await;
    // Instance B: the same client and store, its provider unreachable.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let config = axum_bankid::BankIdConfig::builder()
        .issuer(dead)
        .client_id(app.sim.client_id())
        .client_secret(app.sim.client_secret())
        .redirect_uri("http://127.0.0.1:9/auth/bankid/callback")
        .http_timeout(std::time::Duration::from_secs(1))
        .start_degraded(true)
        .build()
        .unwrap();
    let degraded = axum_bankid::BankIdLayer::discover(config).await.unwrap().with_session_store(store);
    let router = axum::Router::new()
        .route("/me", axum::routing::get(|user: axum_bankid::AuthenticatedUser| async move { axum::Json(user) }))
        .layer(degraded);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let instance_b = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let me_on_b =
        || async { app.client.get(format!("{instance_b}/me")).header("accept", "application/json").send().await };
    assert_eq!(me_on_b().await.unwrap().status(), StatusCode::OK, "B serves the stored login while degraded");
    let delivery = app.sim.send_backchannel_logout(LogoutSubject::Sub(sub), &app.url(PATH)).await.unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.body);
    app.assert_logged_out().await;
    assert_eq!(me_on_b().await.unwrap().status(), StatusCode::UNAUTHORIZED, "B honours A's logout marker");
}

/// A JWS with `header` and an empty payload, its signature garbage.
fn unsigned_jws(header: &Value) -> String {
    use base64::Engine;
    let b64 = |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.AAAA", b64(header), b64(&serde_json::json!({})))
}

async fn post_logout_token(app: &TestApp, token: &str) -> StatusCode {
    let form = [("logout_token", token)];
    app.client.post(app.url(PATH)).form(&form).send().await.unwrap().status()
}

#[tokio::test]
async fn a_ten_kib_kid_of_newlines_is_logged_as_one_bounded_line() {
    let app = start_app(MemoryStore::default()).await;
    // 10 KiB, a newline every 8 bytes (the token stays within the 16 KiB
    // the verifier reads).
    let kid = "xxxxxxx\n".repeat(1280);
    let token = unsigned_jws(&serde_json::json!({"alg": app.sim.signing_algorithm().name(), "kid": kid}));
    let lines = own_logs(async {
        assert_eq!(post_logout_token(&app, &token).await, StatusCode::BAD_REQUEST);
    })
    .await;
    let capped = format!("kid={}…", "x".repeat(64));
    let kid_lines: Vec<&str> = lines.lines().filter(|line| line.contains("kid=")).collect();
    assert!(!kid_lines.is_empty(), "the unknown kid is logged: {lines}");
    for line in &kid_lines {
        assert!(line.contains(&capped), "the kid is cut to 64 characters and …: {line}");
        assert!(line.len() < 400, "one bounded line, not 10 KiB: {} bytes", line.len());
    }
    assert!(!lines.contains(&"x".repeat(65)), "no longer run of the kid anywhere");
    assert!(lines.contains("reason=logout_token_bad_signature"), "no key, no valid signature: {lines}");
}

#[tokio::test]
async fn a_flood_of_bad_logout_tokens_yields_one_warn_summary() {
    let app = start_app(MemoryStore::default()).await;
    let lines = own_logs(async {
        let flood = (0..20).map(|_| post_logout_token(&app, "not-a-token"));
        let statuses = futures_util::future::join_all(flood).await;
        assert!(statuses.iter().all(|s| *s == StatusCode::BAD_REQUEST), "{statuses:?}");
    })
    .await;
    let refusals = lines.lines().filter(|l| l.contains("DEBUG") && l.contains("back-channel logout refused"));
    assert_eq!(refusals.count(), 20, "each refusal at debug: {lines}");
    let summaries: Vec<&str> = lines.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(summaries.len(), 1, "one warn for the whole flood: {summaries:?}");
    let summary = summaries[0];
    // The first refusal is reported at once; the other 19 wait for the next
    // summary, a minute on.
    for field in ["route=back-channel logout", "refused=1 ", "last_reason=logout_token_malformed"] {
        assert!(summary.contains(field), "{field} in {summary}");
    }
}
