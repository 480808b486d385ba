//! Cost of `AuthenticatedUser` on the per-request path, as a ratio against
//! the same route without the extractor, measured in the same run.
//!
//! Both routes sit behind the same session layer (memory store) and
//! `BankIdLayer`, and both requests carry the same logged-in session cookie,
//! so the difference is exactly the extractor: reading the stored claims and
//! re-checking the LOA and age policy. No signature is verified per request.
//! A third route only reads the session, which separates the session store's
//! cost (paid by any session-based route) from the extractor's own.
//!
//! The protected route is measured twice: with the verified-login cache
//! (`login_cache_ttl` 60 s, so every measured request is a hit: no store
//! read, no decoding) and without it (TTL 0: the session read and the
//! decoding on every request).
//!
//! Two more comparisons: the public route against the same route in a
//! router without the session layer and `BankIdLayer` (what the layers cost
//! a request that never reads the login), and the uncached protected route
//! while the provider advertises back-channel logout (one logout-marker read
//! per request, see `records::logout_markers`) against it without.
//!
//! Run: `cargo bench --bench extractor`

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, header};
use axum::routing::get;
use axum::{Json, Router};
use axum_bankid::{AuthenticatedUser, BankIdConfig, BankIdLayer};
use axum_bankid_simulator::Simulator;
use criterion::{Criterion, criterion_group};
use reqwest::cookie::{CookieStore, Jar};
use tower::ServiceExt;
use tower_sessions::MemoryStore;

mod headless;
mod ratio;

struct Fixture {
    app: Router,
    cookie: String,
    _sim: Simulator,
}

/// Starts simulator + app on loopback, logs in once over real HTTP, and
/// returns the router and the session cookie for in-process requests.
async fn fixture(backchannel_logout: bool, login_cache_ttl: Duration) -> Fixture {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sim = Simulator::builder().backchannel_logout(backchannel_logout).start().await.unwrap();
    let redirect_uri = format!("{base}/auth/bankid/callback");
    sim.allow_redirect_uri(&redirect_uri);
    let config = BankIdConfig::builder()
        .issuer(sim.issuer())
        .client_id(sim.client_id())
        .client_secret(sim.client_secret())
        .redirect_uri(redirect_uri)
        .login_cache_ttl(login_cache_ttl)
        .build()
        .unwrap();
    let (bankid, sessions) =
        BankIdLayer::discover(config).await.unwrap().with_session_store(MemoryStore::default()).into_parts();
    let app = Router::new()
        .route("/baseline", get(|| async { Json(serde_json::json!({"ok": true})) }))
        .route("/protected", get(|user: AuthenticatedUser| async move { Json(serde_json::json!({"sub": user.sub})) }))
        // What any session-based route pays: load the session record and read one value.
        .route(
            "/session_only",
            get(|session: tower_sessions::Session| async move {
                let found = session.get_value("axum_bankid.login").await.ok().flatten().is_some();
                Json(serde_json::json!({"found": found}))
            }),
        )
        .layer(bankid)
        .layer(sessions);
    let served = app.clone();
    tokio::spawn(async move { axum::serve(listener, served).await.unwrap() });

    let jar = Arc::new(Jar::default());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(Arc::clone(&jar))
        .build()
        .unwrap();
    headless::log_in(&client, &base, &sim).await;
    let cookie = jar.cookies(&base.parse().unwrap()).unwrap().to_str().unwrap().to_owned();
    Fixture { app, cookie, _sim: sim }
}

async fn request(app: &Router, path: &str, cookie: &str) {
    let req = Request::get(path).header(header::COOKIE, cookie).body(Body::empty()).unwrap();
    let response = app.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), 200);
}

fn per_request(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(fixture(false, Duration::from_secs(60)));
    let uncached = runtime.block_on(fixture(false, Duration::ZERO));
    let with_logout_check = runtime.block_on(fixture(true, Duration::ZERO));
    let bare = Router::new().route("/baseline", get(|| async { Json(serde_json::json!({"ok": true})) }));
    let mut group = c.benchmark_group("per_request");
    group.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    group.bench_function("bare_router", |b| b.to_async(&runtime).iter(|| request(&bare, "/baseline", &app.cookie)));
    group.bench_function("baseline_no_extractor", |b| {
        b.to_async(&runtime).iter(|| request(&app.app, "/baseline", &app.cookie))
    });
    group.bench_function("session_read_only", |b| {
        b.to_async(&runtime).iter(|| request(&app.app, "/session_only", &app.cookie))
    });
    group.bench_function("authenticated_user", |b| {
        b.to_async(&runtime).iter(|| request(&app.app, "/protected", &app.cookie))
    });
    group.bench_function("authenticated_user_uncached", |b| {
        b.to_async(&runtime).iter(|| request(&uncached.app, "/protected", &uncached.cookie))
    });
    group.bench_function("authenticated_user_backchannel_logout", |b| {
        b.to_async(&runtime).iter(|| request(&with_logout_check.app, "/protected", &with_logout_check.cookie))
    });
    group.finish();

    // The same comparisons, alternated batch by batch (see `ratio::interleaved`).
    let batch = |app: &Router, path: &'static str, cookie: &str| {
        runtime.block_on(async {
            for _ in 0..500 {
                request(app, path, cookie).await;
            }
        })
    };
    let rounds = 31;
    ratio::interleaved(
        "authenticated_user / baseline_no_extractor",
        rounds,
        || batch(&app.app, "/protected", &app.cookie),
        || batch(&app.app, "/baseline", &app.cookie),
    );
    ratio::interleaved(
        "authenticated_user_uncached / baseline_no_extractor",
        rounds,
        || batch(&uncached.app, "/protected", &uncached.cookie),
        || batch(&uncached.app, "/baseline", &uncached.cookie),
    );
    ratio::interleaved(
        "authenticated_user_uncached / session_read_only",
        rounds,
        || batch(&uncached.app, "/protected", &uncached.cookie),
        || batch(&uncached.app, "/session_only", &uncached.cookie),
    );
    ratio::interleaved(
        "baseline_no_extractor / bare_router",
        rounds,
        || batch(&app.app, "/baseline", &app.cookie),
        || batch(&bare, "/baseline", &app.cookie),
    );
    ratio::interleaved(
        "authenticated_user_backchannel_logout / authenticated_user_uncached",
        rounds,
        || batch(&with_logout_check.app, "/protected", &with_logout_check.cookie),
        || batch(&uncached.app, "/protected", &uncached.cookie),
    );
}

criterion_group!(benches, per_request);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratio::print("per_request", "authenticated_user", "baseline_no_extractor");
    ratio::print("per_request", "authenticated_user_uncached", "baseline_no_extractor");
    ratio::print("per_request", "authenticated_user_uncached", "session_read_only");
    ratio::print("per_request", "baseline_no_extractor", "bare_router");
    ratio::print("per_request", "authenticated_user_backchannel_logout", "authenticated_user_uncached");
}
