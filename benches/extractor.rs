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

struct Fixture {
    app: Router,
    cookie: String,
    _sim: Simulator,
}

/// Starts simulator + app on loopback, logs in once over real HTTP, and
/// returns the router and the session cookie for in-process requests.
async fn fixture() -> Fixture {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sim = Simulator::start().await.unwrap();
    let redirect_uri = format!("{base}/auth/bankid/callback");
    sim.allow_redirect_uri(&redirect_uri);
    let config = BankIdConfig::builder()
        .issuer(sim.issuer())
        .client_id(sim.client_id())
        .client_secret(sim.client_secret())
        .redirect_uri(redirect_uri)
        .build()
        .unwrap();
    let sessions = config.session_layer(MemoryStore::default());
    let bankid = BankIdLayer::discover(config).await.unwrap();
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
    let authorize = location(client.get(format!("{base}/auth/bankid/login")).send().await.unwrap());
    let form = client.get(&authorize).send().await.unwrap().text().await.unwrap();
    let request_id = hidden_value(&form, "request");
    let callback = location(
        client
            .post(format!("{}/authorize", sim.issuer()))
            .form(&[("request", request_id.as_str()), ("user", "kari"), ("decision", "approve")])
            .send()
            .await
            .unwrap(),
    );
    let done = client.get(callback).send().await.unwrap();
    assert_eq!(done.status(), 303, "login for the benchmark failed");
    let cookie = jar.cookies(&base.parse().unwrap()).unwrap().to_str().unwrap().to_owned();
    Fixture { app, cookie, _sim: sim }
}

fn location(response: reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn hidden_value(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\"")).unwrap();
    let tag = &html[html[..at].rfind('<').unwrap()..at + html[at..].find('>').unwrap()];
    let start = tag.find("value=\"").unwrap() + 7;
    tag[start..start + tag[start..].find('"').unwrap()].to_owned()
}

async fn request(app: &Router, path: &str, cookie: &str) {
    let req = Request::get(path).header(header::COOKIE, cookie).body(Body::empty()).unwrap();
    let response = app.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), 200);
}

fn per_request(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fixture = runtime.block_on(fixture());
    let mut group = c.benchmark_group("per_request");
    group.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    group.bench_function("baseline_no_extractor", |b| {
        b.to_async(&runtime).iter(|| request(&fixture.app, "/baseline", &fixture.cookie))
    });
    group.bench_function("session_read_only", |b| {
        b.to_async(&runtime).iter(|| request(&fixture.app, "/session_only", &fixture.cookie))
    });
    group.bench_function("authenticated_user", |b| {
        b.to_async(&runtime).iter(|| request(&fixture.app, "/protected", &fixture.cookie))
    });
    group.finish();
}

criterion_group!(benches, per_request);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_ratio("per_request", "authenticated_user", "baseline_no_extractor");
    print_ratio("per_request", "authenticated_user", "session_read_only");
}

/// Prints measured/baseline from criterion's estimates of this run.
fn print_ratio(group: &str, measured: &str, baseline: &str) {
    let mean = |id: &str| -> Option<f64> {
        let path = format!("target/criterion/{group}/{id}/new/estimates.json");
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        json["mean"]["point_estimate"].as_f64()
    };
    if let (Some(m), Some(b)) = (mean(measured), mean(baseline)) {
        println!("RATIO {group}: {measured} / {baseline} = {:.2}x ({m:.0} ns vs {b:.0} ns)", m / b);
    }
}
