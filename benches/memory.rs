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
//! 5. (new) `LOGINS` (200) complete code-flow logins against the in-process
//!    simulator, one after another: logins/s and the time per step — the
//!    crate's login route (which includes the simulator's PAR), the
//!    simulator's authorize page and approval, the crate's callback (which
//!    includes the simulator's token endpoint and the ID-token check);
//! 6. (new) the bytes of the crate's CIBA store records (what a shared
//!    store holds, without the simulator), and the time of a CIBA status
//!    read (store read; within the interval no provider call);
//! 7. RSS growth for the same `CIBA` pending requests with the simulator in
//!    a child process (this bench binary re-run as the simulator), so the
//!    figure is the app's alone — as in production, where BankID is
//!    elsewhere. Item 3 keeps both sides in one process. Item 7 runs in a
//!    fresh process of its own (so memory freed by the stages before it
//!    cannot hide its growth), as item 2 runs first in this one.
//!
//! Only BIB-enabled users are used for CIBA (the simulator refuses the
//! others: that was the 2,500 of 10,000 refused starts of the first run).
//!
//! Run: `cargo bench --bench memory` (about a minute).

mod headless;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use axum_bankid::ciba::CibaOptions;
use axum_bankid::{AuthenticatedUser, BankIdConfig, BankIdLayer, ciba::CibaRequest, permission::LoginHint};
use axum_bankid_simulator::{Endpoint, Simulator};
use futures_util::StreamExt;
use reqwest::cookie::{CookieStore, Jar};
use tower_sessions::session::{Id, Record};
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

/// A memory store that sums the MessagePack size (what
/// `tower-sessions-redis-store` writes) of the records live in it.
#[derive(Debug, Clone, Default)]
struct SizedStore {
    inner: MemoryStore,
    bytes: Arc<AtomicUsize>,
    records: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl SessionStore for SizedStore {
    async fn create(&self, record: &mut Record) -> tower_sessions::session_store::Result<()> {
        self.bytes.fetch_add(rmp_serde::to_vec(record).map_or(0, |v| v.len()), Ordering::Relaxed);
        self.records.fetch_add(1, Ordering::Relaxed);
        self.inner.create(record).await
    }
    async fn save(&self, record: &Record) -> tower_sessions::session_store::Result<()> {
        if let Ok(Some(old)) = self.inner.load(&record.id).await {
            self.bytes.fetch_sub(rmp_serde::to_vec(&old).map_or(0, |v| v.len()), Ordering::Relaxed);
        } else {
            self.records.fetch_add(1, Ordering::Relaxed);
        }
        self.bytes.fetch_add(rmp_serde::to_vec(record).map_or(0, |v| v.len()), Ordering::Relaxed);
        self.inner.save(record).await
    }
    async fn load(&self, id: &Id) -> tower_sessions::session_store::Result<Option<Record>> {
        self.inner.load(id).await
    }
    async fn delete(&self, id: &Id) -> tower_sessions::session_store::Result<()> {
        if let Ok(Some(old)) = self.inner.load(id).await {
            self.bytes.fetch_sub(rmp_serde::to_vec(&old).map_or(0, |v| v.len()), Ordering::Relaxed);
            self.records.fetch_sub(1, Ordering::Relaxed);
        }
        self.inner.delete(id).await
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// A simulator and an app on loopback with a protected `/me`, its sessions
/// in `store`; answers the simulator and the app's base URL.
async fn serve_app(store: MemoryStore) -> (Simulator, String) {
    let sim = Simulator::start().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = config(&sim, &base);
    let (bankid, sessions) = BankIdLayer::discover(config).await.unwrap().with_session_store(store).into_parts();
    let app = Router::new()
        .route("/me", get(|user: AuthenticatedUser| async move { user.sub.clone() }))
        .layer(bankid)
        .layer(sessions);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (sim, base)
}

async fn sessions(count: usize) {
    let store = MemoryStore::default();
    let (sim, base) = serve_app(store.clone()).await;

    let jar = Arc::new(Jar::default());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    headless::log_in(&client, &base, &sim).await;
    assert_eq!(client.get(format!("{base}/me")).send().await.unwrap().status(), 200);
    let cookie = jar.cookies(&base.parse().unwrap()).unwrap().to_str().unwrap().to_owned();
    // The jar also holds the login's landing marker: pick the session cookie by name.
    let session_cookie = cookie.split("; ").find_map(|pair| pair.strip_prefix("bankid-session="));
    let id: Id = session_cookie.expect("the session cookie").parse().unwrap();
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

/// Complete logins, one after another, each step timed from the client.
async fn logins(count: usize) {
    let (sim, base) = serve_app(MemoryStore::default()).await;
    let (mut start, mut page, mut approve, mut callback) = (vec![], vec![], vec![], vec![]);
    let all = Instant::now();
    for _ in 0..count {
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap();
        let t = Instant::now();
        let authorize = headless::start_login(&client, &base).await;
        start.push(t.elapsed());
        let t = Instant::now();
        let request = headless::login_page(&client, &authorize).await;
        page.push(t.elapsed());
        let t = Instant::now();
        let back = headless::approve(&client, &sim, &request).await;
        approve.push(t.elapsed());
        let t = Instant::now();
        assert_eq!(client.get(back).send().await.unwrap().status(), 303, "login failed");
        callback.push(t.elapsed());
    }
    let total = all.elapsed();
    let (s, p, a, c) = (median(start), median(page), median(approve), median(callback));
    let sum = (s + p + a + c).as_secs_f64();
    let share = |d: Duration| 100.0 * d.as_secs_f64() / sum;
    println!(
        "MEM {count} complete logins one after another: {:.0} logins/s ({:.2} ms each)",
        count as f64 / total.as_secs_f64(),
        total.as_secs_f64() * 1e3 / count as f64
    );
    println!(
        "MEM login step medians: crate login route (incl. simulator PAR) {:.0} us ({:.0} %), simulator authorize page {:.0} us ({:.0} %), simulator approval {:.0} us ({:.0} %), crate callback (incl. simulator token endpoint) {:.0} us ({:.0} %)",
        s.as_secs_f64() * 1e6,
        share(s),
        p.as_secs_f64() * 1e6,
        share(p),
        a.as_secs_f64() * 1e6,
        share(a),
        c.as_secs_f64() * 1e6,
        share(c)
    );
}

async fn ciba(count: usize, polled: usize) {
    let interval = Duration::from_secs(1);
    let sim = Simulator::builder().ciba_interval(interval).start().await.unwrap();
    // Users without BIB are refused by the simulator (as by BankID).
    let users = bib_users();
    let layer = BankIdLayer::discover(config(&sim, "http://127.0.0.1:9")).await.unwrap();
    let store = SizedStore::default();
    let ciba = layer.clone().with_ciba(CibaOptions::new(store.clone())).unwrap().ciba().unwrap();
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
    let (bytes, records) = (store.bytes.load(Ordering::Relaxed), store.records.load(Ordering::Relaxed));
    println!(
        "MEM the crate's CIBA store for {ok} pending requests: {records} records, {bytes} bytes as MessagePack ({} bytes each; x 10,000 = {:.1} MB)",
        bytes / ok.max(1),
        (bytes / ok.max(1)) as f64 * 10_000.0 / 1e6
    );
    // Status reads within the interval: a store read each, no provider
    // call. On a fresh batch, read at once: of the 10,000 above, the first
    // are past their interval by now, and a read of those polls (as it
    // should).
    let fresh = start_all(ciba.clone(), 200).await;
    let tokens_before = sim.request_count(Endpoint::Token);
    let handles: Vec<_> = fresh.iter().filter_map(|s| s.as_ref().ok().cloned()).collect();
    let t = Instant::now();
    for handle in &handles {
        let _ = ciba.status(handle).await;
    }
    let per_read = t.elapsed() / handles.len().max(1) as u32;
    println!(
        "MEM CIBA status read (pending, within the interval): {:.1} us each over {} handles, {} token-endpoint requests",
        per_read.as_secs_f64() * 1e6,
        handles.len(),
        sim.request_count(Endpoint::Token) - tokens_before
    );
    drop(handles);
    tokio::time::sleep(interval * 3).await;
    let tokens_before = sim.request_count(Endpoint::Token);
    tokio::time::sleep(interval * 3).await;
    println!(
        "MEM token-endpoint requests while {ok} requests sat idle for {} s without a CIBA callback: {}",
        (interval * 3).as_secs(),
        sim.request_count(Endpoint::Token) - tokens_before
    );
    drop(started);

    // With a callback, one background task polls each pending request no
    // sooner than its interval allows.
    let polling = layer.with_ciba(CibaOptions::new(MemoryStore::default()).callback(|_| async {})).unwrap();
    let started = start_all(polling.ciba().unwrap(), polled).await;
    let ok = started.iter().filter(|s| s.is_ok()).count();
    let tokens_before = sim.request_count(Endpoint::Token);
    let window = Duration::from_secs(5);
    tokio::time::sleep(window).await;
    let polls = sim.request_count(Endpoint::Token) - tokens_before;
    let allowed = ok as u64 * (window.as_secs() / interval.as_secs() + 1);
    println!(
        "MEM token-endpoint requests for {ok} idle requests polled by the CIBA callback over {} s (interval {} s): {polls} (their intervals allow at most {allowed})",
        window.as_secs(),
        interval.as_secs()
    );
}

/// Set in the child process that serves the simulator for item 7.
const SIMULATOR_CHILD: &str = "AXUM_BANKID_MEMORY_BENCH_SIMULATOR";

/// The child of item 7: a simulator (CIBA interval 1 s) that prints its two
/// issuers on one line and serves until the parent kills it.
async fn serve_simulator_child() {
    let sim = Simulator::builder().ciba_interval(Duration::from_secs(1)).start().await.unwrap();
    println!("{} {}", sim.issuer(), sim.bib_issuer());
    std::future::pending::<()>().await;
}

/// Item 7: RSS growth of this process for `count` pending CIBA requests,
/// the simulator running in a child process.
async fn ciba_rss_without_the_simulator(count: usize) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env(SIMULATOR_CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let (issuer, bib_issuer) = line.trim().split_once(' ').expect("the child prints its issuers");
    let config = BankIdConfig::builder()
        .issuer(issuer)
        .bib_issuer(bib_issuer)
        .client_id(axum_bankid_simulator::DEFAULT_CLIENT_ID)
        .client_secret(axum_bankid_simulator::DEFAULT_CLIENT_SECRET)
        .redirect_uri("http://127.0.0.1:9/auth/bankid/callback")
        .build()
        .unwrap();
    let layer = BankIdLayer::discover(config).await.unwrap();
    let ciba = layer.with_ciba(CibaOptions::new(MemoryStore::default())).unwrap().ciba().unwrap();
    let nnins = bib_users();
    let before = rss();
    let started: Vec<_> = futures_util::stream::iter(0..count)
        .map(|i| {
            let (ciba, nnin) = (ciba.clone(), nnins[i % nnins.len()].clone());
            async move { ciba.start(CibaRequest::new(LoginHint::Nnin(nnin))).await.map(|s| s.handle) }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let after = rss();
    let ok = started.iter().filter(|s| s.is_ok()).count();
    println!(
        "MEM RSS growth for {ok} pending CIBA requests, simulator in another process ({} failed to start): {:.1} MB ({} bytes each; the app's memory store, handles and caches)",
        count - ok,
        after.saturating_sub(before) as f64 / 1e6,
        after.saturating_sub(before) / ok.max(1)
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// The identity numbers of the simulator's BIB-enabled users (the only ones
/// it, like BankID, lets CIBA reach).
fn bib_users() -> Vec<String> {
    Simulator::default_users().iter().filter(|u| u.bib_enabled()).map(|u| u.nnin().to_owned()).collect()
}

/// Set in the child process that runs item 7 on its own: RSS growth is
/// only meaningful in a process whose earlier stages freed nothing that
/// the allocator could hand out again.
const CIBA_RSS_CHILD: &str = "AXUM_BANKID_MEMORY_BENCH_CIBA_RSS";

/// Runs this bench binary again with `variable` set, sharing stdout.
fn run_child(variable: &str) {
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--bench")
        .env(variable, "1")
        .status()
        .unwrap();
    assert!(status.success(), "the {variable} child failed");
}

fn main() {
    if std::env::var_os(SIMULATOR_CHILD).is_some() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        return runtime.block_on(serve_simulator_child());
    }
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if std::env::var_os(CIBA_RSS_CHILD).is_some() {
        return runtime.block_on(ciba_rss_without_the_simulator(env("CIBA", 10_000)));
    }
    runtime.block_on(sessions(env("SESSIONS", 10_000)));
    runtime.block_on(logins(env("LOGINS", 200)));
    runtime.block_on(ciba(env("CIBA", 10_000), env("CIBA_POLLED", 200)));
    run_child(CIBA_RSS_CHILD);
}
