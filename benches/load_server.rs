//! The server `scripts/load.sh` puts under wrk: one process, four listeners,
//! so every rung of the ladder below is measured in the same run against the
//! same simulator and store.
//!
//! Public route (`/healthz`, body `ok`), one layer added per rung:
//! - `BARE_PORT` (3997): a bare router;
//! - `SESSIONS_PORT` (3998): the same router with only tower-sessions'
//!   `SessionManagerLayer`, the very one `BankIdLayer::with_session_store`
//!   made for the app, so store, cookie name, flags and expiry are the app's;
//! - `PORT` (3996): the session layer + `BankIdLayer` (the app below).
//!
//! So `sessions / bare` is tower-sessions' share and `both / sessions` is
//! `BankIdLayer`'s own share of what a public route pays.
//!
//! Protected, all on `PORT` behind both layers, same logged-in cookie, same
//! body `ok`:
//! - `/healthz`: public, never reads the session;
//! - `/healthz-private`: the same with `Cache-Control: private, no-store`,
//!   the header every response that showed a login gets;
//! - `/session-read`: loads the session record and reads the crate's stored
//!   login as a raw `serde_json::Value` through tower-sessions' `Session` —
//!   what the store costs to hand over the record, without the crate's
//!   decoding or checks;
//! - `/ok`: `AuthenticatedUser` (decoding, LOA/age policy, logout markers).
//!
//! So `session-read / public` is the store's share and `ok / session-read`
//! the extractor's own. `/me` answers as the `login` example's (JSON).
//!
//! At start-up the server logs itself in through the simulator and checks
//! that `/session-read` finds the login; it exits with an error otherwise
//! (see [`LOGIN_KEY`]), before printing `ready`.
//!
//! The verified-login cache is on as configured by
//! `BANKID_LOGIN_CACHE_TTL_MS` (the crate's default, 2 s, when unset; `0`
//! turns it off) and bounded by `CACHE_MAX_ENTRIES` (the crate's default
//! when unset). `/cache-stats` answers its size and hit counts.
//!
//! Interleaved logins and logouts (`POST /churn?secs=N&tasks=T`, answered
//! when done): T tasks each log in through the simulator, read `/ok` three
//! times, log out, and read `/ok` three times more with the logged-out
//! cookie; the answer counts the logins, the logouts and any request served
//! after its session's logout (there must be none), then the cache's size
//! against its bounds and its hit rate. `scripts/load.sh` (`CHURN=1`) runs it
//! while wrk loads `/ok` with `POOL` other logged-in sessions, whose cookies
//! the server writes to `POOL_FILE` (one per line) before it says `ready`.
//!
//! Env: `PORT` (3996), `BARE_PORT` (3997), `SESSIONS_PORT` (3998),
//! `REDIS_URL` (Redis sessions, as in the examples), `BACKCHANNEL=1` (the
//! simulator advertises back-channel logout, so every uncached authenticated
//! request also checks logout markers), `POOL`/`POOL_FILE` (above). Built by
//! `cargo bench --no-run`; started by `scripts/load.sh`.

#[path = "../examples/support/mod.rs"]
#[allow(dead_code)]
mod support;

mod headless;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_bankid::{AuthenticatedUser, BankIdConfig, BankIdLayer};
use axum_bankid_simulator::Simulator;
use tower_sessions::Session;

/// The session key under which the crate keeps the login (`LOGIN_KEY` in
/// `src/session.rs`), duplicated so the crate exposes nothing for a bench.
/// If the crate renames it, `/session-read` would measure a miss; the
/// start-up check ([`check_session_read`]) refuses to serve then.
const LOGIN_KEY: &str = "axum_bankid.login";

fn addr(name: &str, default: u16) -> SocketAddr {
    let port = std::env::var(name).ok().and_then(|p| p.parse().ok()).unwrap_or(default);
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` runs every bench target with `--bench`; this one only
    // serves when started by the load script.
    if std::env::args().any(|a| a == "--bench" || a == "--test" || a == "--list") {
        return Ok(());
    }
    support::init_tracing();
    let (app_addr, bare_addr, sessions_addr) =
        (addr("PORT", 3996), addr("BARE_PORT", 3997), addr("SESSIONS_PORT", 3998));
    let base = format!("http://{app_addr}");
    let backchannel = std::env::var("BACKCHANNEL").is_ok_and(|v| v == "1");
    let simulator = Simulator::builder().backchannel_logout(backchannel).start().await?;
    let redirect_uri = format!("{base}/auth/bankid/callback");
    simulator.allow_redirect_uri(&redirect_uri);
    let config = BankIdConfig::builder()
        .issuer(simulator.issuer())
        .client_id(simulator.client_id())
        .client_secret(simulator.client_secret())
        .redirect_uri(redirect_uri)
        .login_cache_ttl(std::time::Duration::from_millis(env_number("BANKID_LOGIN_CACHE_TTL_MS", 2000)))
        .login_cache_max_entries(env_number("CACHE_MAX_ENTRIES", 50_000) as usize)
        .build()?;
    let store = support::session_store().await?;
    // Both session layers from the crate's own builder on one store: the
    // sessions-only rung differs from the app by `BankIdLayer` alone.
    let (bankid, sessions) = BankIdLayer::discover(config).await?.with_session_store(store).into_parts();
    let sessions_only = sessions.clone();
    let simulator = Arc::new(simulator);
    let churn_state =
        Arc::new(ChurnState { base: base.clone(), simulator: Arc::clone(&simulator), layer: bankid.clone() });
    let app = Router::new()
        .route("/me", get(me))
        .route("/cache-stats", get(cache_stats).with_state(Arc::clone(&churn_state)))
        .route("/churn", post(churn).with_state(churn_state))
        // Protected, with /healthz's body: the extractor's cost alone.
        .route("/ok", get(|_: AuthenticatedUser| async { "ok" }))
        .route("/session-read", get(session_read))
        .route("/healthz", get(healthz))
        // Public, with the header a response that shows a login gets:
        // what `/ok` pays for being private, apart from the extractor.
        .route("/healthz-private", get(healthz_private))
        .layer(bankid)
        .layer(sessions);
    let with_sessions = Router::new().route("/healthz", get(healthz)).layer(sessions_only);
    let bare = Router::new().route("/healthz", get(healthz));

    let listener = tokio::net::TcpListener::bind(app_addr).await?;
    let bare_listener = tokio::net::TcpListener::bind(bare_addr).await?;
    let sessions_listener = tokio::net::TcpListener::bind(sessions_addr).await?;
    tokio::spawn(async move { axum::serve(bare_listener, bare).await });
    tokio::spawn(async move { axum::serve(sessions_listener, with_sessions).await });
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    check_session_read(&base, &simulator).await?;
    write_pool(&base, &simulator).await?;
    println!("load_server ready: app {app_addr}, bare {bare_addr}, sessions only {sessions_addr}");
    server.await??;
    Ok(())
}

/// `ok` on every rung: the same small body, so only the layers differ.
async fn healthz() -> &'static str {
    "ok"
}

/// `ok` with `Cache-Control: private, no-store`, as every response that
/// showed a login carries.
async fn healthz_private() -> impl IntoResponse {
    ([(axum::http::header::CACHE_CONTROL, "private, no-store")], "ok")
}

/// Loads the session record and reads the stored login as it is, undecoded:
/// `ok` when present, `401` when not (no login, or the key changed), `503`
/// when the store failed.
async fn session_read(session: Session) -> Response {
    match session.get_value(LOGIN_KEY).await {
        Ok(Some(_)) => "ok".into_response(),
        Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// Logs in once through the simulator and requires `/session-read` to find
/// the login, so a renamed [`LOGIN_KEY`] stops the bench instead of
/// silently measuring a session miss.
async fn check_session_read(base: &str, simulator: &Simulator) -> Result<(), Box<dyn std::error::Error>> {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = browser(&jar);
    headless::log_in(&client, base, simulator).await;
    let ok = client.get(format!("{base}/ok")).send().await?.status();
    let read = client.get(format!("{base}/session-read")).send().await?.status();
    if ok != StatusCode::OK || read != StatusCode::OK {
        return Err(format!(
            "start-up check failed: logged in, /ok answered {ok} and /session-read {read}; \
             has the crate's session key changed from {LOGIN_KEY:?} (src/session.rs)?"
        )
        .into());
    }
    Ok(())
}

/// As the `login` example's `/me` for API clients.
async fn me(user: AuthenticatedUser, headers: HeaderMap) -> Response {
    support::user_json(&user, &headers).unwrap_or_else(|| user.sub.clone().into_response())
}

/// A whole number from the environment, or `default`.
fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A client that keeps cookies and follows no redirect (a browser, step by step).
fn browser(jar: &Arc<reqwest::cookie::Jar>) -> reqwest::Client {
    let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    builder.cookie_provider(Arc::clone(jar)).build().expect("a client")
}

/// Logs a new session in; answers its `Cookie` header.
async fn new_session(base: &str, simulator: &Simulator) -> String {
    use reqwest::cookie::CookieStore;
    let jar = Arc::new(reqwest::cookie::Jar::default());
    headless::log_in(&browser(&jar), base, simulator).await;
    let cookies = jar.cookies(&base.parse().expect("the base URL")).expect("a session cookie");
    cookies.to_str().expect("ASCII cookies").to_owned()
}

/// Logs `POOL` sessions in and writes their cookies to `POOL_FILE`.
async fn write_pool(base: &str, simulator: &Simulator) -> Result<(), Box<dyn std::error::Error>> {
    let (size, Ok(path)) = (env_number("POOL", 0), std::env::var("POOL_FILE")) else { return Ok(()) };
    let mut cookies = Vec::new();
    for _ in 0..size {
        cookies.push(new_session(base, simulator).await);
    }
    std::fs::write(path, cookies.join("\n") + "\n")?;
    Ok(())
}

/// What `/churn` and `/cache-stats` need.
struct ChurnState {
    base: String,
    simulator: Arc<Simulator>,
    layer: BankIdLayer,
}

async fn cache_stats(State(state): State<Arc<ChurnState>>) -> String {
    cache_line(&state.layer)
}

/// The cache's size against its bounds, and its hit rate.
fn cache_line(layer: &BankIdLayer) -> String {
    let Some(s) = layer.login_cache_stats() else { return "CACHE off".to_owned() };
    let rate = s.hits as f64 / (s.hits + s.misses).max(1) as f64;
    format!(
        "CACHE entries={} max_entries={} bytes={} max_bytes={} hits={} misses={} hit_rate={rate:.4}",
        s.entries, s.max_entries, s.bytes, s.max_bytes, s.hits, s.misses
    )
}

#[derive(serde::Deserialize)]
struct ChurnParams {
    secs: u64,
    tasks: Option<usize>,
}

/// Counts of one churn task.
#[derive(Default)]
struct ChurnCounts {
    logins: u64,
    logouts: u64,
    after_logout: u64,
    served_after_logout: u64,
}

async fn churn(State(state): State<Arc<ChurnState>>, Query(params): Query<ChurnParams>) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(params.secs);
    let tasks = (0..params.tasks.unwrap_or(4)).map(|_| {
        let state = Arc::clone(&state);
        tokio::spawn(async move { churn_task(&state, deadline).await })
    });
    let mut total = ChurnCounts::default();
    for task in tasks.collect::<Vec<_>>() {
        let counts = task.await.expect("a churn task");
        total.logins += counts.logins;
        total.logouts += counts.logouts;
        total.after_logout += counts.after_logout;
        total.served_after_logout += counts.served_after_logout;
    }
    format!(
        "CHURN logins={} logouts={} requests_after_logout={} served_after_logout={}\n{}\n",
        total.logins,
        total.logouts,
        total.after_logout,
        total.served_after_logout,
        cache_line(&state.layer)
    )
}

/// Log in, use, log out, try the old cookie — until `deadline`.
async fn churn_task(state: &ChurnState, deadline: std::time::Instant) -> ChurnCounts {
    let mut counts = ChurnCounts::default();
    // No jar (the cookie is sent as given) and no redirects followed.
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let ok = format!("{}/ok", state.base);
    while std::time::Instant::now() < deadline {
        let cookie = new_session(&state.base, &state.simulator).await;
        counts.logins += 1;
        for _ in 0..3 {
            let status = plain.get(&ok).header("cookie", &cookie).send().await.map(|r| r.status());
            assert_eq!(status.ok(), Some(StatusCode::OK), "a fresh login is let through");
        }
        let logout = plain.post(format!("{}/auth/bankid/logout", state.base)).header("cookie", &cookie);
        let logout = logout.header("origin", &state.base).send().await.map(|r| r.status());
        assert_eq!(logout.ok(), Some(StatusCode::SEE_OTHER), "logout");
        counts.logouts += 1;
        for _ in 0..3 {
            let status = plain.get(&ok).header("cookie", &cookie).send().await.map(|r| r.status());
            counts.after_logout += 1;
            counts.served_after_logout += u64::from(status.ok() == Some(StatusCode::OK));
        }
    }
    counts
}
