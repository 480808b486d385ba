//! The verified-login cache (issue #23): exact on its own instance — a
//! logout, a new login, a step-up, a session id rotation and a back-channel
//! logout received here end the copy before the next request, also with
//! requests racing them — within its TTL across instances sharing Redis,
//! bounded, and with the idle timeout still ending an idle login on time.

use crate::common;

use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::{Json, Router};
use axum_bankid::step_up::{Loa4, StepUp};
use axum_bankid::testing::TestLogin;
use axum_bankid::{AuthenticatedUser, BankIdConfigBuilder};
use axum_bankid_simulator::{LogoutSubject, Simulator};
use common::{TestApp, location, second_server};
use reqwest::StatusCode;
use tower_sessions::Session;

/// Long enough that any copy a test sees served after the event that should
/// end it was served from a stale cache entry, never from a fresh one.
const LONG_TTL: Duration = Duration::from_secs(60);

fn caching(ttl: Duration) -> impl FnOnce(BankIdConfigBuilder) -> BankIdConfigBuilder {
    move |b| b.login_cache_ttl(ttl)
}

/// Routes through which the app itself ends, empties or rotates the session
/// (tower-sessions' own calls, not the crate's logout).
fn app_session_routes() -> Router {
    Router::new()
        .route("/app/flush", post(|session: Session| async move { session.flush().await.unwrap() }))
        .route("/app/clear", post(|session: Session| async move { session.clear().await }))
        .route("/app/rotate", post(|session: Session| async move { session.cycle_id().await.unwrap() }))
        .route("/payout", get(|user: StepUp<Loa4>| async move { Json(user.into_user()) }))
}

async fn start(ttl: Duration) -> TestApp {
    TestApp::builder().routes(app_session_routes()).configure(caching(ttl)).start().await
}

/// `/me` with exactly this `Cookie` header, from a client without a jar
/// (an attacker replaying a cookie, or another tab).
async fn me_with(base: &str, cookie: &str) -> StatusCode {
    let client = reqwest::Client::new();
    let response = client.get(format!("{base}/me")).header("cookie", cookie).header("accept", "application/json");
    response.send().await.unwrap().status()
}

/// Logs `user` in with the app's browser and reads `/me` twice (the
/// second from the cache); answers the session's `Cookie` header.
async fn logged_in_and_cached(app: &TestApp, user: &str) -> String {
    assert_eq!(app.login_as(user).await.response.status(), StatusCode::SEE_OTHER);
    for _ in 0..2 {
        let (status, me) = app.get_json("/me").await;
        assert_eq!(status, StatusCode::OK, "{me}");
    }
    let stats = app.bankid.as_ref().unwrap().login_cache_stats().expect("the cache is on");
    assert!(stats.hits >= 1 && stats.entries >= 1, "{stats:?}");
    let cookie = app.session_cookie().unwrap();
    assert_eq!(me_with(&app.base, &cookie).await, StatusCode::OK, "the cookie alone is the login");
    cookie
}

async fn post_here(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.post(app.url(path)).header("origin", &app.base).send().await.unwrap()
}

#[tokio::test]
async fn a_logout_here_ends_the_cached_login_before_the_next_request() {
    let app = start(LONG_TTL).await;
    let cookie = logged_in_and_cached(&app, "kari").await;
    assert_eq!(post_here(&app, "/auth/bankid/logout").await.status(), StatusCode::SEE_OTHER);
    app.assert_logged_out().await;
    assert_eq!(me_with(&app.base, &cookie).await, StatusCode::UNAUTHORIZED, "the old cookie is worthless");
}

#[tokio::test]
async fn a_new_login_replaces_the_cached_one_at_once() {
    let app = start(LONG_TTL).await;
    let kari = logged_in_and_cached(&app, "kari").await;
    assert_eq!(app.login_as("ola").await.response.status(), StatusCode::SEE_OTHER);
    let (status, me) = app.get_json("/me").await;
    assert_eq!((status, me["name"].as_str()), (StatusCode::OK, Some("Ola Nordmann")), "{me}");
    assert_eq!(me_with(&app.base, &kari).await, StatusCode::UNAUTHORIZED, "the rotated id is gone");
}

#[tokio::test]
async fn a_step_up_replaces_the_cached_login_at_once() {
    let app = start(LONG_TTL).await;
    let before = logged_in_and_cached(&app, "kari").await;
    assert_eq!(app.get_json("/me").await.1["loa"], 3);
    let response = app.client.get(app.url("/payout")).header("accept", "text/html").send().await.unwrap();
    let authorize_url = app.begin_at(&location(&response)).await;
    let callback = app.authorize(&authorize_url, "kari", "approve").await;
    assert_eq!(app.client.get(&callback).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    let (status, me) = app.get_json("/me").await;
    assert_eq!((status, me["loa"].as_u64()), (StatusCode::OK, Some(4)), "{me}");
    assert_eq!(me_with(&app.base, &before).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_apps_own_flush_clear_and_id_rotation_are_seen_at_once() {
    let app = start(LONG_TTL).await;
    // Rotation: the login moves to the new id; the old id is worthless.
    let before = logged_in_and_cached(&app, "kari").await;
    assert_eq!(post_here(&app, "/app/rotate").await.status(), StatusCode::OK);
    assert_eq!(app.get_json("/me").await.0, StatusCode::OK, "the login moved with the session");
    assert_eq!(me_with(&app.base, &before).await, StatusCode::UNAUTHORIZED);
    // Emptying the session under the same id ends the login.
    let cookie = logged_in_and_cached(&app, "kari").await;
    assert_eq!(post_here(&app, "/app/clear").await.status(), StatusCode::OK);
    assert_eq!(me_with(&app.base, &cookie).await, StatusCode::UNAUTHORIZED);
    // Deleting it too.
    let cookie = logged_in_and_cached(&app, "kari").await;
    assert_eq!(post_here(&app, "/app/flush").await.status(), StatusCode::OK);
    assert_eq!(me_with(&app.base, &cookie).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_backchannel_logout_received_here_ends_the_cached_login_at_once() {
    let simulator = Simulator::builder().backchannel_logout(true);
    let app = TestApp::builder().simulator(simulator).configure(caching(LONG_TTL)).start().await;
    let cookie = logged_in_and_cached(&app, "kari").await;
    let (_, me) = app.get_json("/me").await;
    let subject = LogoutSubject::Sub(me["sub"].as_str().unwrap().to_owned());
    let delivery = app.sim.send_backchannel_logout(subject, &app.url("/auth/bankid/backchannel-logout")).await;
    assert_eq!(delivery.unwrap().status, 200);
    assert_eq!(me_with(&app.base, &cookie).await, StatusCode::UNAUTHORIZED);
}

/// Requests that read the session just before a logout must not put the
/// login back in the cache after it: once the logout has answered, no new
/// request is let through, however many were in flight.
/// The store answers every read 30 ms after it took its snapshot, and the
/// racing requests start a millisecond apart around the logout, so some
/// read the login before the logout deletes it and are back after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_racing_a_logout_never_bring_the_login_back() {
    let store = common::TroubleStore::lagging(tower_sessions::MemoryStore::default());
    let app = TestApp::builder().store(store).configure(caching(LONG_TTL)).start().await;
    for round in 0..5 {
        // Not read since the login, so not cached: the racers read the store.
        assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER);
        let cookie = app.session_cookie().unwrap();
        let racing = (0..80u64).map(|i| {
            let (base, cookie) = (app.base.clone(), cookie.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i)).await;
                me_with(&base, &cookie).await
            })
        });
        let racing: Vec<_> = racing.collect();
        assert_eq!(post_here(&app, "/auth/bankid/logout").await.status(), StatusCode::SEE_OTHER);
        let mut served = 0;
        for request in racing {
            let status = request.await.unwrap();
            assert!(status == StatusCode::OK || status == StatusCode::UNAUTHORIZED, "{status}");
            served += usize::from(status == StatusCode::OK);
        }
        assert!(served > 0, "round {round}: some requests ran before the logout");
        for _ in 0..20 {
            assert_eq!(me_with(&app.base, &cookie).await, StatusCode::UNAUTHORIZED, "round {round}");
        }
    }
}

#[tokio::test]
async fn the_cache_keeps_at_most_its_bound_and_every_login_still_works() {
    let bounded = |b: BankIdConfigBuilder| b.login_cache_ttl(LONG_TTL).login_cache_max_entries(16);
    let app = TestApp::builder().configure(bounded).start().await;
    let mut cookies = Vec::new();
    for _ in 0..40 {
        cookies.push(TestLogin::new(&app.base, &app.sim).user("kari").cookie().await.unwrap());
    }
    for _ in 0..3 {
        for cookie in &cookies {
            assert_eq!(me_with(&app.base, cookie).await, StatusCode::OK);
        }
    }
    let stats = app.bankid.as_ref().unwrap().login_cache_stats().unwrap();
    assert!(stats.entries <= 16 && stats.bytes <= stats.max_bytes, "{stats:?}");
    assert!(stats.entries >= 1 && stats.hits >= 1, "the bounded cache still caches: {stats:?}");
    assert_eq!((stats.max_entries, stats.max_bytes), (16, 64 << 20));
}

/// A session read before `BankIdLayer` sees the request (something between
/// the two layers of `into_parts`) has no ticket: it is answered, never
/// cached, so a logout can never race its copy.
#[tokio::test]
async fn a_session_read_before_the_layer_is_never_cached() {
    use axum::extract::Request;
    use axum::middleware::{self, Next};

    let store = tower_sessions::MemoryStore::default();
    let app = TestApp::builder().store(store.clone()).configure(caching(LONG_TTL)).start().await;
    let config = common::builder_for(&app.sim, "http://127.0.0.1:1/cb").login_cache_ttl(LONG_TTL).build().unwrap();
    let (bankid, sessions) =
        axum_bankid::BankIdLayer::discover(config).await.unwrap().with_session_store(store).into_parts();
    let reads_first = middleware::from_fn(|session: Session, req: Request, next: Next| async move {
        let _ = session.get_value("anything").await;
        next.run(req).await
    });
    let me = get(|user: AuthenticatedUser| async move { Json(user) });
    let router = Router::new().route("/me", me).layer(bankid.clone()).layer(reads_first).layer(sessions);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let cookie = logged_in_and_cached(&app, "kari").await;
    for _ in 0..3 {
        assert_eq!(me_with(&other, &cookie).await, StatusCode::OK);
    }
    let stats = bankid.login_cache_stats().unwrap();
    assert_eq!((stats.entries, stats.hits), (0, 0), "{stats:?}");
}

#[tokio::test]
async fn an_idle_login_ends_on_time_though_cached_and_activity_keeps_it() {
    let idle = |b: BankIdConfigBuilder| b.login_cache_ttl(LONG_TTL).idle_timeout(Duration::from_secs(2));
    let app = TestApp::builder().configure(idle).start().await;
    let cookie = logged_in_and_cached(&app, "kari").await;
    // Active every 300 ms for 3.5 s: longer than the timeout, never idle for it.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(3500) {
        assert_eq!(me_with(&app.base, &cookie).await, StatusCode::OK, "active at {:?}", start.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(me_with(&app.base, &cookie).await, StatusCode::UNAUTHORIZED, "idle for longer than 2 s");
}

/// Two layers on one store in one process (here two servers on a shared
/// Redis) share their logouts as they share their sessions: every cache of
/// the process hears every layer's writes, so a logout through A ends B's
/// copy at once. (Across processes a copy lives at most `login_cache_ttl`:
/// `scripts/multi-instance.sh`, step b, run by CI, replays the logged-out
/// cookie on the other process.)
#[tokio::test]
async fn on_redis_two_layers_in_one_process_share_a_logout_at_once() {
    let Some(redis) = common::redis::start_redis() else { return };
    let store = tower_sessions_redis_store::RedisStore::new(common::redis::connect(redis.port).await);
    let app = TestApp::builder().store(store.clone()).configure(caching(LONG_TTL)).start().await;
    let instance_b = second_server(&app.sim, store, |layer, _| layer).await;
    let cookie = logged_in_and_cached(&app, "kari").await;
    for _ in 0..2 {
        assert_eq!(me_with(&instance_b, &cookie).await, StatusCode::OK, "cached on B too");
    }
    assert_eq!(post_here(&app, "/auth/bankid/logout").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(me_with(&app.base, &cookie).await, StatusCode::UNAUTHORIZED, "exact on A");
    assert_eq!(me_with(&instance_b, &cookie).await, StatusCode::UNAUTHORIZED, "and on B, in the same process");
}

/// `AuthenticatedUser` is a shared handle: the extractor hands out the
/// cached login itself, so a hit copies no string.
#[tokio::test]
async fn a_hit_hands_out_the_cached_user_itself() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<AuthenticatedUser>::new()));
    let keep = seen.clone();
    let routes = Router::new().route(
        "/keep",
        get(move |user: AuthenticatedUser| {
            keep.lock().unwrap().push(user);
            async {}
        }),
    );
    let app = TestApp::builder().routes(routes).configure(caching(LONG_TTL)).start().await;
    logged_in_and_cached(&app, "kari").await;
    for _ in 0..3 {
        assert_eq!(app.client.get(app.url("/keep")).send().await.unwrap().status(), StatusCode::OK);
    }
    let seen = seen.lock().unwrap();
    assert!(std::ptr::eq(&*seen[0], &*seen[2]), "the same user, not a copy");
}
