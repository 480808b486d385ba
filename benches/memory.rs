//! Memory (issue 12, item 4), printed as `MEM` lines:
//!
//! 1. bytes stored per logged-in session: the session record of a real login
//!    (simulator, code flow), as the memory store holds it (JSON) and as the
//!    Redis store writes it (MessagePack);
//! 2. RSS growth of this process for `SESSIONS` (10,000) logged-in sessions
//!    in a `MemoryStore` (copies of that record under fresh ids);
//! 3. RSS growth for `CIBA` (10,000) pending CIBA requests (started for real
//!    against the simulator, memory store), and the simulator's token
//!    endpoint count while they sit idle: without status reads or a CIBA
//!    callback nothing polls, so it stays at 0;
//! 4. with a CIBA callback (background polling), the token requests of
//!    `CIBA_POLLED` (200) idle requests over a few intervals, against what
//!    their interval allows.
//!
//! Run: `cargo bench --bench memory` (about a minute).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum_bankid::ciba::CibaOptions;
use axum_bankid::{AuthenticatedUser, BankIdConfig, BankIdLayer, ciba::CibaRequest, permission::LoginHint};
use axum_bankid_simulator::Simulator;
use futures_util::StreamExt;
use reqwest::cookie::{CookieStore, Jar};
use tower_sessions::session::Id;
use tower_sessions::{MemoryStore, SessionStore};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Resident set size of this process, in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn config(sim: &Simulator, base: &str) -> BankIdConfig {
    let redirect_uri = format!("{base}/auth/bankid/callback");
    sim.allow_redirect_uri(&redirect_uri);
    BankIdConfig::builder()
        .issuer(sim.issuer())
        .bib_issuer(sim.bib_issuer())
        .client_id(sim.client_id())
        .client_secret(sim.client_secret())
        .redirect_uri(redirect_uri)
        .build()
        .unwrap()
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

async fn sessions(count: usize) {
    let sim = Simulator::start().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = config(&sim, &base);
    let store = MemoryStore::default();
    let sessions = config.session_layer(store.clone());
    let bankid = BankIdLayer::discover(config).await.unwrap();
    let app = Router::new()
        .route("/me", get(|user: AuthenticatedUser| async move { user.sub }))
        .layer(bankid)
        .layer(sessions);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let jar = Arc::new(Jar::default());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let authorize = location(client.get(format!("{base}/auth/bankid/login")).send().await.unwrap());
    let form = client.get(&authorize).send().await.unwrap().text().await.unwrap();
    let request = hidden_value(&form, "request");
    let callback = location(
        client
            .post(format!("{}/authorize", sim.issuer()))
            .form(&[("request", request.as_str()), ("user", "kari"), ("decision", "approve")])
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(client.get(callback).send().await.unwrap().status(), 303, "login failed");
    assert_eq!(client.get(format!("{base}/me")).send().await.unwrap().status(), 200);
    let cookie = jar.cookies(&base.parse().unwrap()).unwrap().to_str().unwrap().to_owned();
    let id: Id = cookie.split_once('=').unwrap().1.parse().unwrap();
    let record = store.load(&id).await.unwrap().expect("the session record");
    let json = serde_json::to_vec(&record).unwrap().len();
    let msgpack = rmp_serde::to_vec(&record).unwrap().len();
    println!("MEM session record: {json} bytes as JSON, {msgpack} bytes as MessagePack (what Redis stores)",);
    println!("MEM bytes per logged-in session (Redis value): {msgpack}");

    let before = rss();
    for _ in 0..count {
        let mut copy = record.clone();
        copy.id = Id::default();
        store.create(&mut copy).await.unwrap();
    }
    let after = rss();
    println!(
        "MEM RSS growth for {count} logged-in sessions (memory store): {:.1} MB ({} bytes per session)",
        (after - before) as f64 / 1e6,
        (after - before) / count.max(1)
    );
}

async fn ciba(count: usize, polled: usize) {
    let interval = Duration::from_secs(1);
    let sim = Simulator::builder().ciba_interval(interval).start().await.unwrap();
    let users: Vec<String> = Simulator::users().iter().map(|u| u.nnin.to_owned()).collect();
    let layer = BankIdLayer::discover(config(&sim, "http://127.0.0.1:9")).await.unwrap();
    let ciba = layer.clone().with_ciba(CibaOptions::new(MemoryStore::default())).unwrap().ciba().unwrap();
    let start_all = |ciba: axum_bankid::ciba::Ciba, n: usize| {
        let users = users.clone();
        async move {
            futures_util::stream::iter(0..n)
                .map(|i| {
                    let ciba = ciba.clone();
                    let nnin = users[i % users.len()].clone();
                    async move { ciba.start(CibaRequest::new(LoginHint::Nnin(nnin))).await.map(|s| s.handle) }
                })
                .buffer_unordered(16)
                .collect::<Vec<_>>()
                .await
        }
    };
    let before = rss();
    let started = start_all(ciba.clone(), count).await;
    let ok = started.iter().filter(|s| s.is_ok()).count();
    let after = rss();
    println!(
        "MEM RSS growth for {ok} pending CIBA requests ({} failed to start): {:.1} MB ({} bytes each; store, handles and the simulator's side in one process)",
        count - ok,
        (after - before) as f64 / 1e6,
        (after - before) / ok.max(1)
    );
    let tokens_before = sim.token_requests();
    tokio::time::sleep(interval * 3).await;
    println!(
        "MEM token-endpoint requests while {ok} requests sat idle for {} s without a CIBA callback: {}",
        (interval * 3).as_secs(),
        sim.token_requests() - tokens_before
    );
    drop(started);

    // With a callback, one background task polls each pending request no
    // sooner than its interval allows.
    let polling = layer.with_ciba(CibaOptions::new(MemoryStore::default()).callback(|_| async {})).unwrap();
    let started = start_all(polling.ciba().unwrap(), polled).await;
    let ok = started.iter().filter(|s| s.is_ok()).count();
    let tokens_before = sim.token_requests();
    let window = Duration::from_secs(5);
    tokio::time::sleep(window).await;
    let polls = sim.token_requests() - tokens_before;
    let allowed = ok as u64 * (window.as_secs() / interval.as_secs() + 1);
    println!(
        "MEM token-endpoint requests for {ok} idle requests polled by the CIBA callback over {} s (interval {} s): {polls} (their intervals allow at most {allowed})",
        window.as_secs(),
        interval.as_secs()
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(sessions(env("SESSIONS", 10_000)));
    runtime.block_on(ciba(env("CIBA", 10_000), env("CIBA_POLLED", 200)));
}
