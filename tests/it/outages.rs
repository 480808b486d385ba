//! Provider outages: start-up retries, degraded mode, health, timeouts.
//!
//! Everything runs against the embedded simulator (or, to count start-up
//! attempts, a loopback server that is always down) over real HTTP. Waits
//! for the background loader are bounded polls, used as guards only: no test
//! asserts how long anything took.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use axum_bankid::{
    AuthenticatedUser, BankIdConfig, BankIdConfigBuilder, BankIdLayer, BankIdSession, permission::LoginHint,
};
use axum_bankid_simulator::{Endpoint, Fault, Issuer, Simulator};
use common::{error_body, hidden_field, location, payment};
use reqwest::StatusCode;
use reqwest::cookie::Jar;
use serde_json::Value;
use tower_sessions::MemoryStore;

/// An app on loopback around a layer the test built, sharing `store`.
struct App {
    base: String,
    /// The simulator's issuer, where its login form posts.
    sim_issuer: String,
    client: reqwest::Client,
    layer: BankIdLayer,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn routes() -> Router {
    Router::new()
        .route("/me", get(|user: AuthenticatedUser| async move { Json(user.sub.clone()) }))
        .route(
            "/maybe",
            get(|user: Option<AuthenticatedUser>| async move { user.map_or("anonymous".into(), |u| u.sub.clone()) }),
        )
        .route("/pay", get(|bankid: BankIdSession| async move { bankid.request(payment()).start().await }))
        .route(
            "/pay-api",
            get(|bankid: BankIdSession| async move { bankid.request(payment()).via_permission_api().start().await }),
        )
}

/// A browser-like client: keeps cookies, follows no redirect. The jar
/// ignores ports, so one client is the same browser for every app here.
fn browser(jar: &Arc<Jar>) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(Arc::clone(jar))
        .build()
        .unwrap()
}

/// Discovers (however `configure` says) against `sim` and serves the app.
async fn serve(
    sim: &Simulator,
    jar: &Arc<Jar>,
    store: MemoryStore,
    configure: impl FnOnce(BankIdConfigBuilder) -> BankIdConfigBuilder,
) -> App {
    serve_layer(sim, jar, store, configure, |layer| layer).await
}

/// Like [`serve`], with a last say on the layer.
async fn serve_layer(
    sim: &Simulator,
    jar: &Arc<Jar>,
    store: MemoryStore,
    configure: impl FnOnce(BankIdConfigBuilder) -> BankIdConfigBuilder,
    customize: impl FnOnce(BankIdLayer) -> BankIdLayer,
) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let redirect_uri = format!("{base}/auth/bankid/callback");
    sim.allow_redirect_uri(&redirect_uri);
    // With a post-logout redirect URI, logout goes by the end-session endpoint these tests follow.
    let builder = common::builder_for(sim, &redirect_uri).post_logout_redirect_uri(format!("{base}/"));
    let config = configure(builder).build().unwrap();
    let layer = customize(BankIdLayer::discover(config).await.expect("discover returns a layer"));
    let (layer, sessions) = layer.with_session_store(store).into_parts();
    let app = routes().layer(layer.clone()).layer(sessions);
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    App { base, sim_issuer: sim.issuer(), client: browser(jar), layer, server }
}

impl App {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str, accept: &str) -> reqwest::Response {
        self.client.get(self.url(path)).header("accept", accept).send().await.unwrap()
    }

    /// Starts a login and approves it at the simulator as `user`; returns
    /// the callback URL, not yet visited.
    async fn approved_callback(&self, user: &str) -> String {
        self.approved_callback_in(&self.client, user).await
    }

    /// [`approved_callback`](Self::approved_callback) in another browser.
    async fn approved_callback_in(&self, client: &reqwest::Client, user: &str) -> String {
        let response = client.get(self.url("/auth/bankid/login")).header("accept", "text/html").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "login should redirect to BankID");
        let page = client.get(location(&response)).send().await.unwrap().text().await.unwrap();
        let form = [("request", hidden_field(&page, "request")), ("user", user.into()), ("decision", "approve".into())];
        let url = format!("{}/authorize", self.sim_issuer);
        let response = client.post(url).form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "simulator form post");
        location(&response)
    }

    /// A whole login; asserts it ends logged in.
    async fn login(&self, user: &str) {
        let callback = self.approved_callback(user).await;
        let response = self.client.get(callback).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "callback should log in");
        let me = self.get("/me", "application/json").await;
        assert_eq!(me.status(), StatusCode::OK);
    }

    /// Bounded wait for the background loader (a guard, not an assertion
    /// on timing: the loader retries every few milliseconds here).
    async fn wait_ready(&self) {
        for _ in 0..1000 {
            if self.layer.health().ready {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the layer never left degraded mode: {:?}", self.layer.health());
    }
}

fn degraded(builder: BankIdConfigBuilder) -> BankIdConfigBuilder {
    builder.start_degraded(true).discovery_backoff(Duration::from_millis(5))
}

/// Asserts the typed `503` of a degraded route, as JSON.
async fn assert_unavailable_json(response: reqwest::Response) {
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = error_body(response).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "provider_unavailable");
    let secs: u64 = retry_after.expect("a Retry-After header").parse().expect("Retry-After in seconds");
    assert!((1..=60).contains(&secs), "Retry-After {secs}");
}

#[tokio::test]
async fn degraded_start_answers_503_and_recovers_without_a_restart() {
    let sim = Simulator::start().await.unwrap();
    sim.add_fault(Fault::DiscoveryUnavailable);
    let jar = Arc::new(Jar::default());
    let app = serve(&sim, &jar, MemoryStore::default(), degraded).await;

    let health = app.layer.health();
    assert!(!health.ready);
    assert!(!health.oidc.metadata_loaded && !health.oidc.keys.loaded);
    assert!(!health.bib.as_ref().unwrap().metadata_loaded);
    // Every route that needs the provider answers the typed 503 (the
    // callback too, whatever it carries): JSON for APIs...
    assert_unavailable_json(app.get("/auth/bankid/login", "application/json").await).await;
    assert_unavailable_json(app.get("/auth/bankid/callback?code=c&state=s", "application/json").await).await;
    // ...and a page for browsers.
    let page = app.get("/auth/bankid/login", "text/html").await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.headers().contains_key("retry-after"));
    assert!(page.text().await.unwrap().contains("temporarily unavailable"));
    // Logins started by the app's own handlers fail closed with the same
    // typed 503, never redirecting to the stand-in metadata: through the
    // Permission API and through PAR alike.
    assert_unavailable_json(app.get("/pay-api", "application/json").await).await;
    assert_unavailable_json(app.get("/pay", "application/json").await).await;
    // Server-side clients refuse too, with the same kind.
    let err = app.layer.permission_api().user_exists(&LoginHint::Nnin("17858642043".into())).await.unwrap_err();
    assert_eq!(err.kind(), "provider_unavailable");

    sim.clear_faults();
    app.wait_ready().await;
    let health = app.layer.health();
    assert!(health.oidc.metadata_loaded && health.oidc.keys.loaded && health.oidc.keys.fresh);
    let bib = health.bib.unwrap();
    assert!(bib.metadata_loaded && bib.keys.loaded && bib.grant_keys.unwrap().loaded);
    app.login("kari").await;
    // The Permission API client taken while degraded works now too.
    assert!(app.layer.permission_api().user_exists(&LoginHint::Nnin("17858642043".into())).await.unwrap());
}

#[tokio::test]
async fn degraded_layer_keeps_existing_logins_and_local_logout() {
    let sim = Simulator::start().await.unwrap();
    let store = MemoryStore::default();
    let jar = Arc::new(Jar::default());
    // One instance logs the browser in while the provider is up...
    let before = serve(&sim, &jar, store.clone(), |b| b).await;
    before.login("kari").await;
    // ...then the provider goes down and another instance starts degraded
    // on the same session store.
    sim.add_fault(Fault::DiscoveryUnavailable);
    let app = serve(&sim, &jar, store, degraded).await;
    assert!(!app.layer.health().ready);

    let me = app.get("/me", "application/json").await;
    assert_eq!(me.status(), StatusCode::OK);
    let anonymous = browser(&Arc::new(Jar::default()));
    let maybe = anonymous.get(app.url("/maybe")).send().await.unwrap();
    assert_eq!(maybe.status(), StatusCode::OK);
    assert_eq!(maybe.text().await.unwrap(), "anonymous");
    let unauthenticated = anonymous.get(app.url("/me")).header("accept", "application/json").send().await.unwrap();
    let (status, body) = error_body(unauthenticated).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));

    // Logout ends the local login without the provider's logout endpoint.
    let logout = app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&logout), "/");
    let me = app.get("/me", "application/json").await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    assert!(!app.layer.health().ready, "nothing above loaded the provider");
}

/// A loopback "provider" that is always down, counting the requests.
async fn down_provider() -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let app = Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { (StatusCode::SERVICE_UNAVAILABLE, "down") }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, hits, server)
}

fn config_against(issuer: &str, configure: impl FnOnce(BankIdConfigBuilder) -> BankIdConfigBuilder) -> BankIdConfig {
    let builder = BankIdConfig::builder()
        .issuer(issuer)
        .client_id("client")
        .client_secret("secret")
        .redirect_uri("http://127.0.0.1:9/auth/bankid/callback");
    configure(builder).build().unwrap()
}

#[tokio::test]
async fn fail_fast_retries_as_configured_then_fails_typed() {
    let (issuer, hits, server) = down_provider().await;
    let config = config_against(&issuer, |b| b.discovery_retries(2).discovery_backoff(Duration::from_millis(1)));
    let err = BankIdLayer::discover(config).await.unwrap_err();
    assert_eq!(err.kind(), "discovery_failed");
    assert_eq!(hits.load(Ordering::SeqCst), 3, "one attempt and two retries");

    hits.store(0, Ordering::SeqCst);
    let err = BankIdLayer::discover(config_against(&issuer, |b| b.discovery_retries(0))).await.unwrap_err();
    assert_eq!(err.kind(), "discovery_failed");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "no retries: fail at the first error");
    server.abort();
}

#[tokio::test]
async fn start_up_retries_until_the_provider_comes_up() {
    let sim = Simulator::start().await.unwrap();
    // Down in the middle of start-up: discovery works, the keys do not.
    sim.add_fault(Fault::JwksUnavailable);
    let config = config_against(&sim.issuer(), |b| {
        b.bib_issuer(sim.bib_issuer())
            .client_id(sim.client_id())
            .client_secret(sim.client_secret())
            .discovery_retries(20)
            .discovery_backoff(Duration::from_millis(20))
    });
    let discovering = tokio::spawn(BankIdLayer::discover(config));
    // Bring the provider back only after an attempt has failed on it.
    for _ in 0..1000 {
        if sim.request_count(Endpoint::Jwks) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(sim.request_count(Endpoint::Jwks) > 0, "discover never asked for the keys");
    sim.clear_faults();
    let layer = discovering.await.unwrap().expect("a later attempt succeeds");
    assert!(layer.health().ready);
}

#[tokio::test]
async fn jwks_down_after_start_up_keeps_logins_working_on_cached_keys() {
    let sim = Simulator::start().await.unwrap();
    let jar = Arc::new(Jar::default());
    let app = serve(&sim, &jar, MemoryStore::default(), |b| b).await;
    let fetched_at_start = sim.request_count(Endpoint::Jwks);
    sim.add_fault(Fault::JwksUnavailable);
    app.login("kari").await;
    assert_eq!(sim.request_count(Endpoint::Jwks), fetched_at_start, "the cached keys verified the token");
    let health = app.layer.health();
    assert!(health.ready && health.oidc.keys.fresh);
}

#[tokio::test]
async fn slow_token_endpoint_times_out_typed_and_releases_everything() {
    let sim = Simulator::start().await.unwrap();
    let jar = Arc::new(Jar::default());
    let app = serve(&sim, &jar, MemoryStore::default(), |b| b.http_timeout(Duration::from_millis(300))).await;

    // Code exchange: the token endpoint answers after the client gave up.
    let callback = app.approved_callback("kari").await;
    sim.add_fault(Fault::SlowTokenAnswer(Duration::from_secs(5)));
    let response = app.client.get(&callback).header("accept", "application/json").send().await.unwrap();
    let (status, body) = error_body(response).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"], "token_exchange_failed");
    assert_eq!(body["detail"], "unreachable");
    assert_eq!(app.get("/me", "application/json").await.status(), StatusCode::UNAUTHORIZED);

    // Client-credentials tokens: many concurrent callers share the cache's
    // single-flight lock; each times out with a typed error and none is
    // left waiting on a lock.
    let api = app.layer.permission_api();
    let hint = LoginHint::Nnin("17858642043".into());
    let calls = (0..8).map(|_| {
        let (api, hint) = (api.clone(), hint.clone());
        tokio::spawn(async move { api.user_exists(&hint).await })
    });
    for call in calls.collect::<Vec<_>>() {
        let err = call.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), "permission_api_failed");
        assert!(err.to_string().contains("timed out"), "{err}");
    }

    sim.clear_faults();
    app.login("kari").await;
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let (api, hint) = (api.clone(), hint.clone());
            tokio::spawn(async move { api.user_exists(&hint).await })
        })
        .collect();
    for call in calls {
        assert!(call.await.unwrap().unwrap());
    }
}

#[tokio::test]
async fn health_serialises_for_a_healthz_route() {
    let sim = Simulator::start().await.unwrap();
    let jar = Arc::new(Jar::default());
    let app = serve(&sim, &jar, MemoryStore::default(), |b| b).await;
    let json = serde_json::to_value(app.layer.health()).unwrap();
    assert_eq!(json["ready"], true);
    assert_eq!(json["oidc"]["issuer"], Value::from(sim.issuer()));
    assert_eq!(json["oidc"]["metadata_loaded"], true);
    assert_eq!(json["oidc"]["keys"]["loaded"], true);
    assert_eq!(json["oidc"]["keys"]["fresh"], true);
    assert!(json["oidc"]["keys"]["max_age_secs"].as_u64().unwrap() >= 1);
    assert!(json["oidc"].get("grant_keys").is_none());
    assert_eq!(json["bib"]["grant_keys"]["loaded"], true);
    let text = json.to_string();
    assert!(!text.contains(sim.client_secret()), "no secret in the health report");
}

#[test]
fn start_up_settings_are_bounded() {
    let base = || config_builder_for("http://127.0.0.1:9/issuer");
    let err = base().discovery_retries(21).build().unwrap_err();
    assert!(err.to_string().contains("discovery_retries"), "{err}");
    let err = base().discovery_backoff(Duration::ZERO).build().unwrap_err();
    assert!(err.to_string().contains("discovery_backoff"), "{err}");
    let err = base().discovery_backoff(Duration::from_secs(61)).build().unwrap_err();
    assert!(err.to_string().contains("discovery_backoff"), "{err}");
    assert!(base().discovery_retries(20).discovery_backoff(Duration::from_secs(60)).build().is_ok());
}

fn config_builder_for(issuer: &str) -> BankIdConfigBuilder {
    BankIdConfig::builder()
        .issuer(issuer)
        .client_id("client")
        .client_secret("secret")
        .redirect_uri("http://127.0.0.1:9/auth/bankid/callback")
}

#[tokio::test]
async fn degraded_ciba_routes_and_custom_error_pages_answer_503() {
    let sim = Simulator::start().await.unwrap();
    sim.add_fault(Fault::DiscoveryUnavailable);
    let jar = Arc::new(Jar::default());
    let customize = |layer: BankIdLayer| {
        // BIB's CIBA endpoint cannot be checked yet; enabling CIBA still works.
        let layer = layer
            .with_ciba(axum_bankid::ciba::CibaOptions::new(MemoryStore::default()))
            .expect("CIBA can be enabled while degraded");
        layer.with_error_handler(|err, _| {
            (StatusCode::SERVICE_UNAVAILABLE, format!("custom: {}", err.kind())).into_response()
        })
    };
    let app = serve_layer(&sim, &jar, MemoryStore::default(), degraded, customize).await;
    let status = app.get("/auth/bankid/ciba/some-handle", "application/json").await;
    assert_eq!(status.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(status.headers().contains_key("retry-after"), "Retry-After is added to the app's page too");
    assert_eq!(status.text().await.unwrap(), "custom: provider_unavailable");
    let login = app.get("/auth/bankid/login", "text/html").await;
    assert_eq!(login.text().await.unwrap(), "custom: provider_unavailable");

    sim.clear_faults();
    app.wait_ready().await;
    let ciba = app.layer.ciba().expect("CIBA enabled");
    let started = ciba.start(axum_bankid::ciba::CibaRequest::new(LoginHint::Nnin("17858642043".into()))).await;
    assert!(started.is_ok(), "CIBA starts once BIB is loaded: {started:?}");
}

#[tokio::test]
async fn slow_key_refetch_times_out_once_for_all_waiters_and_frees_the_cache() {
    let sim = Simulator::start().await.unwrap();
    let jar = Arc::new(Jar::default());
    // The timeout covers every provider call, the token exchange too: long
    // enough for that on a loaded 2-core CI machine, far below the slow JWKS.
    let app = serve(&sim, &jar, MemoryStore::default(), |b| b.http_timeout(Duration::from_millis(1500))).await;
    // Tokens name a key id the JWKS lacks, so verifying them refetches the
    // JWKS, which answers after the client's timeout.
    sim.add_fault(Fault::UnknownKid);
    sim.add_fault(Fault::SlowJwks(Duration::from_secs(5)));
    let browsers: Vec<_> = (0..4).map(|_| browser(&Arc::new(Jar::default()))).collect();
    let mut callbacks = Vec::new();
    for client in &browsers {
        callbacks.push(app.approved_callback_in(client, "kari").await);
    }
    let fetched_before = sim.request_count(Endpoint::Jwks);
    let visits = browsers
        .iter()
        .zip(&callbacks)
        .map(|(client, url)| async move { client.get(url).header("accept", "application/json").send().await.unwrap() });
    let responses = futures_util::future::join_all(visits).await;
    let mut details = Vec::new();
    for response in responses {
        let (status, body) = error_body(response).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_id_token")));
        details.push(body["detail"].as_str().unwrap().to_owned());
    }
    details.sort();
    // One refetch, shared by the concurrent verifiers: it timed out
    // (`keys_unavailable`); the others waited for it, then were refused a
    // second fetch within the cooldown (`unknown_key`).
    assert_eq!(details, ["keys_unavailable", "unknown_key", "unknown_key", "unknown_key"]);
    assert_eq!(sim.request_count(Endpoint::Jwks), fetched_before + 1);

    // The refetch gate is free again: another unknown key id is refused at
    // once (cooldown), and tokens signed with the cached key verify.
    sim.clear_faults();
    sim.add_fault(Fault::UnknownKid);
    let callback = app.approved_callback("kari").await;
    let (status, body) =
        error_body(app.client.get(callback).header("accept", "application/json").send().await.unwrap()).await;
    assert_eq!((status, body["detail"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown_key")));
    sim.clear_faults();
    app.login("kari").await;
}

#[tokio::test]
async fn degraded_start_with_the_provider_up_is_ready_at_once() {
    let sim = Simulator::start().await.unwrap();
    let jar = Arc::new(Jar::default());
    // A generous timeout: the first attempt is over well before it.
    let app = serve(&sim, &jar, MemoryStore::default(), |b| degraded(b).http_timeout(Duration::from_secs(60))).await;
    assert!(app.layer.health().ready);
    app.login("kari").await;
}

#[tokio::test]
async fn degraded_start_does_not_wait_for_a_hanging_provider() {
    let sim = Simulator::start().await.unwrap();
    // Each answer comes within the timeout, but the five documents of both
    // providers together take 3 s: more than the one timeout
    // `discover` waits for the first attempt.
    sim.add_fault(Fault::Slow(Duration::from_millis(600)));
    let jar = Arc::new(Jar::default());
    let app = serve(&sim, &jar, MemoryStore::default(), |b| degraded(b).http_timeout(Duration::from_secs(1))).await;
    assert!(!app.layer.health().ready, "discover returned before the first attempt was over");
    assert_unavailable_json(app.get("/auth/bankid/login", "application/json").await).await;
    // The attempt goes on in the background and succeeds.
    app.wait_ready().await;
    sim.clear_faults();
    app.login("kari").await;
}

/// Discovery (and the keys) trusted for one second, refetched at most once
/// a second: the metadata refresh schedule, shortened for a test.
fn short_max_age(builder: BankIdConfigBuilder) -> BankIdConfigBuilder {
    let second = Duration::from_secs(1);
    builder.jwks_max_age_floor(second).jwks_max_age_ceiling(second).jwks_refresh_cooldown(second)
}

/// Past [`short_max_age`]'s max age and cooldown.
async fn outlive_the_max_age() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

impl App {
    /// Where the login route sends a browser now.
    async fn login_redirect(&self) -> String {
        let response = self.get("/auth/bankid/login", "text/html").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "login should redirect to BankID");
        location(&response)
    }

    /// Logs out; where the logout route sends the browser.
    async fn logout_redirect(&self) -> String {
        let response = self.client.post(self.url("/auth/bankid/logout")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "logout redirects");
        location(&response)
    }
}

#[tokio::test]
async fn moved_endpoints_are_followed_once_the_metadata_is_past_its_max_age() {
    let sim = Simulator::start().await.unwrap();
    let jar = Arc::new(Jar::default());
    let app = serve(&sim, &jar, MemoryStore::default(), short_max_age).await;
    let pushed = app.login_redirect().await;
    assert!(pushed.contains("request_uri="), "PAR while advertised: {pushed}");
    app.login("kari").await;
    let moved_logout = format!("{}/moved/logout", sim.issuer());
    sim.override_discovery(Issuer::Oidc, "end_session_endpoint", moved_logout.clone().into());
    sim.override_discovery(Issuer::Oidc, "pushed_authorization_request_endpoint", Value::Null);
    outlive_the_max_age().await;
    let plain = app.login_redirect().await;
    assert!(plain.starts_with(&format!("{}/authorize?", sim.issuer())), "{plain}");
    assert!(!plain.contains("request_uri=") && plain.contains("state="), "no PAR once unadvertised: {plain}");
    assert!(app.logout_redirect().await.starts_with(&format!("{moved_logout}?")), "the moved end-session endpoint");
    assert!(app.layer.metadata().pushed_authorization_request_endpoint.is_none());
}

#[tokio::test]
async fn a_refreshed_document_naming_another_issuer_is_refused_and_the_last_one_kept() {
    let sim = Simulator::start().await.unwrap();
    let jar = Arc::new(Jar::default());
    common::logs::logs();
    let app = serve(&sim, &jar, MemoryStore::default(), short_max_age).await;
    sim.override_discovery(Issuer::Oidc, "issuer", "https://attacker.example".into());
    sim.override_discovery(Issuer::Oidc, "end_session_endpoint", "https://attacker.example/logout".into());
    outlive_the_max_age().await;
    app.login("kari").await;
    let kept = format!("{}/logout?", sim.issuer());
    assert!(app.logout_redirect().await.starts_with(&kept), "the accepted document's endpoint");
    assert_eq!(app.layer.metadata().issuer, sim.issuer());
    assert!(common::logs::logged("names issuer `https://attacker.example`"), "the refusal is logged");
}

#[tokio::test]
async fn a_failing_discovery_refresh_keeps_serving_logins() {
    let sim = Simulator::start().await.unwrap();
    let jar = Arc::new(Jar::default());
    let app = serve(&sim, &jar, MemoryStore::default(), short_max_age).await;
    sim.add_fault(Fault::DiscoveryUnavailable);
    outlive_the_max_age().await;
    app.login("kari").await;
    assert!(app.logout_redirect().await.starts_with(&format!("{}/logout?", sim.issuer())));
    assert!(app.layer.health().ready);
}

/// The paths BIB was asked for since the last `clear_requests`.
fn bib_paths(sim: &Simulator) -> Vec<String> {
    sim.requests().into_iter().filter(|r| r.issuer == Issuer::Bib).map(|r| r.path).collect()
}

#[tokio::test]
async fn bibs_moved_endpoint_is_followed_and_a_document_naming_another_issuer_refused() {
    let sim = Simulator::start().await.unwrap();
    let jar = Arc::new(Jar::default());
    let app = serve(&sim, &jar, MemoryStore::default(), short_max_age).await;
    assert_eq!(app.get("/pay-api", "text/html").await.status(), StatusCode::SEE_OTHER, "registered at BIB");
    let moved = format!("{}/moved/permissions/", sim.bib_issuer());
    sim.override_discovery(Issuer::Bib, "permissions_endpoint", moved.into());
    outlive_the_max_age().await;
    sim.clear_requests();
    let (status, body) = error_body(app.get("/pay-api", "application/json").await).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_GATEWAY, Some("permission_api_failed")), "{body}");
    assert!(bib_paths(&sim).contains(&"/moved/permissions/".to_owned()), "{:?}", bib_paths(&sim));

    // Another issuer: the whole document is refused, the moved endpoint too.
    let sim = Simulator::start().await.unwrap();
    let app = serve(&sim, &jar, MemoryStore::default(), short_max_age).await;
    sim.override_discovery(Issuer::Bib, "issuer", "https://attacker.example".into());
    sim.override_discovery(Issuer::Bib, "permissions_endpoint", "https://attacker.example/permissions/".into());
    outlive_the_max_age().await;
    assert_eq!(app.get("/pay-api", "text/html").await.status(), StatusCode::SEE_OTHER, "the last accepted document");
}

#[tokio::test]
async fn a_moved_jwks_uri_is_where_the_keys_come_from_next() {
    let sim = Simulator::start().await.unwrap();
    let jar = Arc::new(Jar::default());
    let app = serve(&sim, &jar, MemoryStore::default(), short_max_age).await;
    // The simulator serves its JWKS whatever the query: the query marks the move.
    sim.override_discovery(Issuer::Oidc, "jwks_uri", format!("{}/jwks?moved=1", sim.issuer()).into());
    outlive_the_max_age().await;
    sim.clear_requests();
    // The login's start refreshes discovery; its callback finds the keys
    // past their max age and fetches them from the moved URI.
    app.login("kari").await;
    let jwks: Vec<_> = sim.requests().into_iter().filter(|r| r.issuer == Issuer::Oidc && r.path == "/jwks").collect();
    assert_eq!(jwks.iter().map(|r| r.query.as_deref()).collect::<Vec<_>>(), [Some("moved=1")]);
}
