//! Redis going away under a running app, and coming back (issue 14 §2 e).
//!
//! Each test starts its own `redis-server` with append-only persistence in a
//! fresh directory on a free loopback port (`common::redis`), stops it with
//! `SHUTDOWN` (which writes the append-only file) and starts it again on the
//! same port and directory. The fred pool is set up the way the examples set it up
//! (`examples/support/mod.rs`): a command timeout, and reconnecting for ever.
//! Without `redis-server` the tests are skipped, unless
//! `AXUM_BANKID_REQUIRE_REDIS=1` (CI sets it).

use crate::common;

use std::time::Duration;

use common::redis::{RedisServer, start_persistent_redis};
use common::{TestApp, location};
use reqwest::{Response, StatusCode};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{
    ClientLike, Config, ConnectionConfig, PerformanceConfig, Pool, ReconnectPolicy,
};

/// A pool as the examples build it: store calls fail after 2 s while Redis
/// is away, and the pool reconnects every 200 ms until it is back.
async fn pool(url: &str) -> Pool {
    let config = Config::from_url(url).unwrap();
    let performance = PerformanceConfig { default_command_timeout: Duration::from_secs(2), ..Default::default() };
    let connection = ConnectionConfig { connection_timeout: Duration::from_secs(2), ..Default::default() };
    let reconnect = ReconnectPolicy::new_constant(0, 200);
    let pool = Pool::new(config, Some(performance), Some(connection), Some(reconnect), 2).unwrap();
    pool.init().await.expect("connect to redis-server");
    pool
}

/// Without the login cache: these tests are about what the store's outage
/// does (`login_cache` has the cache's part in it).
async fn logged_in_app(redis: &RedisServer) -> TestApp {
    let store = RedisStore::new(pool(&redis.url()).await);
    let uncached = |b: axum_bankid::BankIdConfigBuilder| b.login_cache_ttl(std::time::Duration::ZERO);
    let app = TestApp::builder().store(store).configure(uncached).start().await;
    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    let (status, me) = app.get_json("/me").await;
    assert_eq!((status, me["loa"].as_u64()), (StatusCode::OK, Some(3)), "{me}");
    app
}

/// Asserts the outage answer: `503 session_error` with `Retry-After`, a
/// generic message, and the session cookie untouched (the browser keeps its
/// session). The only cookie a response may set is the removal of a login
/// attempt's binding cookie (`bankid-login-*`, `Max-Age=0`), which the
/// callback clears whatever its outcome.
async fn assert_store_unavailable(response: Response) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get("retry-after").is_some(), "503 says when to come back");
    for cookie in response.headers().get_all("set-cookie") {
        let cookie = cookie.to_str().unwrap();
        assert!(cookie.starts_with("bankid-login-") && cookie.contains("Max-Age=0"), "unexpected cookie: {cookie}");
    }
    let (_, body) = common::error_body(response).await;
    assert_eq!(body["error"], "session_error");
    assert_eq!(body["message"], "BankID login is temporarily unavailable.", "no store internals: {body}");
}

/// Polls `/me` (bounded) until Redis answers again, then returns its answer.
async fn me_once_redis_is_back(app: &TestApp) -> (StatusCode, serde_json::Value) {
    for _ in 0..100 {
        let (status, body) = app.get_json("/me").await;
        if status != StatusCode::SERVICE_UNAVAILABLE {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the app did not recover after Redis came back");
}

#[tokio::test]
async fn redis_down_is_a_503_and_a_restart_keeps_the_login() {
    let Some(mut redis) = start_persistent_redis() else { return };
    let app = logged_in_app(&redis).await;
    let cookie = app.session_cookie().unwrap();

    redis.shutdown();
    // An API client and a browser navigation: both get 503, neither is
    // treated as logged out (no 401, no redirect to a new login).
    let api = app.client.get(app.url("/me")).header("accept", "application/json").send().await.unwrap();
    assert_store_unavailable(api).await;
    let page = app.client.get(app.url("/me")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE, "no silent logout for browsers either");
    assert_eq!(page.headers().get_all("set-cookie").iter().count(), 0);
    // A new login cannot be recorded: refused, not half-started.
    let login = app.client.get(app.url("/auth/bankid/login?return_to=/me")).send().await.unwrap();
    assert_store_unavailable(login).await;
    assert_eq!(app.session_cookie().unwrap(), cookie);
    // A route that does not use the session is not affected.
    let home = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!((home.status(), home.text().await.unwrap().as_str()), (StatusCode::OK, "home"));

    redis.restart();
    let (status, me) = me_once_redis_is_back(&app).await;
    assert_eq!(status, StatusCode::OK, "still logged in after the restart: {me}");
    assert_eq!(me["loa"], 3);
    assert_eq!(app.session_cookie().unwrap(), cookie, "the same session, not a new one");
}

#[tokio::test]
async fn a_callback_during_the_outage_logs_nobody_in_and_a_new_login_works_afterwards() {
    let Some(mut redis) = start_persistent_redis() else { return };
    let app = TestApp::builder().store(RedisStore::new(pool(&redis.url()).await)).start().await;
    let authorize_url = app.begin_login("/me").await;
    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    let before = app.cookie("bankid-session");

    redis.shutdown();
    let during = app.client.get(&callback_url).send().await.unwrap();
    assert_store_unavailable(during).await;
    assert_eq!(app.cookie("bankid-session"), before, "no session created or rotated");

    redis.restart();
    let (status, body) = me_once_redis_is_back(&app).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the failed callback logged nobody in: {body}");
    // The browser's binding cookie for that attempt is gone, so the same
    // callback cannot complete it any more; a new login works.
    let replay = app.client.get(&callback_url).send().await.unwrap();
    let (status, body) = common::error_body(replay).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&callback.response), "/me");
    let (status, me) = app.get_json("/me").await;
    assert_eq!((status, me["loa"].as_u64()), (StatusCode::OK, Some(3)), "{me}");
}

/// With the login cache, a Redis outage is answered from the cache for at
/// most its TTL, then with `503` — never as a logout.
#[tokio::test]
async fn a_cached_login_is_answered_through_an_outage_for_at_most_its_ttl() {
    let Some(mut redis) = start_persistent_redis() else { return };
    let ttl = Duration::from_millis(1500);
    let store = RedisStore::new(pool(&redis.url()).await);
    let app = TestApp::builder().store(store).configure(move |b| b.login_cache_ttl(ttl)).start().await;
    assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get_json("/me").await.0, StatusCode::OK);
    redis.shutdown();
    let down = std::time::Instant::now();
    loop {
        let response = app.client.get(app.url("/me")).header("accept", "application/json").send().await.unwrap();
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert_store_unavailable(response).await;
            break;
        }
        assert_eq!(response.status(), StatusCode::OK, "served from the cache, or 503: never a logout");
        // The TTL, plus the store's command timeout for the read after it.
        assert!(down.elapsed() <= ttl + Duration::from_secs(3), "cached for {:?}", down.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
