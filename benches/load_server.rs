//! The server `scripts/load.sh` puts under wrk: the `login` example's routes
//! (`/me` answers the same JSON, `/healthz` the same `ok`) behind the session
//! layer and `BankIdLayer` on `PORT`, and the same `/healthz` *without* either
//! layer on `BARE_PORT`, so "a public route costs nothing extra" is measured
//! against the same route in the same process and the same run.
//!
//! Env: `PORT` (3996), `BARE_PORT` (3997), `REDIS_URL` (Redis sessions, as in
//! the examples), `BACKCHANNEL=1` (the simulator advertises back-channel
//! logout, so every authenticated request also checks logout markers).
//! Built by `cargo bench --no-run`; started by `scripts/load.sh`.

#[path = "../examples/support/mod.rs"]
#[allow(dead_code)]
mod support;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_bankid::{AuthenticatedUser, BankIdConfig, BankIdLayer};
use axum_bankid_simulator::Simulator;

fn port(name: &str, default: u16) -> u16 {
    std::env::var(name).ok().and_then(|p| p.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` runs every bench target with `--bench`; this one only
    // serves when started by the load script.
    if std::env::args().any(|a| a == "--bench" || a == "--test" || a == "--list") {
        return Ok(());
    }
    support::init_tracing();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port("PORT", 3996)));
    let bare_addr = std::net::SocketAddr::from(([127, 0, 0, 1], port("BARE_PORT", 3997)));
    let base = format!("http://{addr}");
    let backchannel = std::env::var("BACKCHANNEL").is_ok_and(|v| v == "1");
    let simulator = Simulator::builder().backchannel_logout(backchannel).start().await?;
    let redirect_uri = format!("{base}/auth/bankid/callback");
    simulator.allow_redirect_uri(&redirect_uri);
    let config = BankIdConfig::builder()
        .issuer(simulator.issuer())
        .client_id(simulator.client_id())
        .client_secret(simulator.client_secret())
        .redirect_uri(redirect_uri)
        .build()?;
    let sessions = config.session_layer(support::session_store().await?);
    let bankid = BankIdLayer::discover(config).await?;
    let app = Router::new()
        .route("/me", get(me))
        // Protected, with /healthz's body: the extractor's cost alone.
        .route("/ok", get(|_: AuthenticatedUser| async { "ok" }))
        .route("/healthz", get(|| async { "ok" }))
        .layer(bankid)
        .layer(sessions);
    let bare = Router::new().route("/healthz", get(|| async { "ok" }));

    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bare_listener = tokio::net::TcpListener::bind(bare_addr).await?;
    tokio::spawn(async move { axum::serve(bare_listener, bare).await });
    axum::serve(listener, app).await?;
    Ok(())
}

/// As the `login` example's `/me` for API clients.
async fn me(user: AuthenticatedUser, headers: HeaderMap) -> Response {
    support::user_json(&user, &headers).unwrap_or_else(|| user.sub.into_response())
}
