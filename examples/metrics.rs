//! The login example's app with `/metrics`: the crate's counters and
//! provider latencies (cargo feature `metrics`) in Prometheus' text format,
//! against the embedded simulator.
//!
//! ```sh
//! cargo run --example metrics --features metrics   # then log in at http://127.0.0.1:3000
//! curl http://127.0.0.1:3000/metrics
//! ```
//!
//! axum-bankid records through the `metrics` facade and picks no exporter;
//! this one installs `metrics-exporter-prometheus` as the process' recorder
//! and renders it in a route of its own (no second listener). With
//! `BANKID_ISSUER` (and the other `BANKID_*` variables) set, the same binary
//! talks to that provider instead. `PORT` changes the port (default 3000).
//!
//! In production, serve `/metrics` where only the scraper reaches it (another
//! port or a network policy): the counters describe your users' logins.

mod support;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum_bankid::{AuthenticatedUser, BankIdLayer};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use support::{Locale, escape, page, private_page};

/// Buckets for `bankid_provider_request_duration_seconds`, in seconds: from
/// a cached connection on a LAN to the HTTP client's default timeout.
const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::init_tracing();
    // Before the layer: discovery and the JWKS are fetched (and timed) at start.
    let prometheus = install_prometheus()?;
    let addr = support::listen_addr();
    let base = format!("http://{addr}");
    let (config, _simulator) = support::config(&base).await?;

    let bankid = BankIdLayer::discover(config)
        .await?
        .with_error_handler(support::error_page(APP))
        .with_session_store(support::session_store().await?);
    let app = Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .merge(support::assets())
        .layer(bankid)
        // Outside the BankID layer: a scrape needs no session.
        .route("/metrics", get(move || render(prometheus.clone())));

    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on {base}; metrics at {base}/metrics");
    axum::serve(listener, app).await?;
    Ok(())
}

/// The app's name in the page header.
const APP: &str = "Nordmann Bank";

/// Prometheus as the process' recorder, with histogram buckets for the
/// latencies and the crate's help texts; its upkeep (draining histogram
/// samples) on a timer, as the exporter's docs ask when it serves no
/// listener of its own.
fn install_prometheus() -> Result<PrometheusHandle, Box<dyn std::error::Error>> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)?
        .install_recorder()?;
    axum_bankid::metrics::describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// `GET /metrics`: the text exposition format.
async fn render(prometheus: PrometheusHandle) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], prometheus.render())
}

/// Public page: who is logged in, and where the metrics are.
async fn home(user: Option<AuthenticatedUser>) -> Html<String> {
    let who = match user {
        Some(user) => format!(
            "Logged in as <strong>{}</strong> ({}).",
            escape(user.name.as_deref().unwrap_or("unknown")),
            user.loa
        ),
        None => {
            "<a class=\"button bankid\" href=\"/auth/bankid/login?return_to=/me\">Log in with BankID</a>".to_owned()
        }
    };
    let body = format!(
        "<p class=\"lead\">{who}</p><p>Each login, failure and call to BankID shows in \
         <a href=\"/metrics\"><code>/metrics</code></a>.</p>"
    );
    Html(page(APP, &Locale::english_only(), "Metrics", &body))
}

/// Protected page: JSON for API clients, HTML for browsers.
async fn me(user: AuthenticatedUser, headers: HeaderMap) -> Response {
    if let Some(json) = support::user_json(&user, &headers) {
        return json;
    }
    let body = format!(
        "<p class=\"lead\">Logged in as <strong>{}</strong> at LOA {}.</p>\
         <div class=\"actions\"><a class=\"button secondary\" href=\"/metrics\">Metrics</a></div>",
        escape(user.name.as_deref().unwrap_or("unknown")),
        user.loa,
    );
    private_page(APP, &Locale::english_only(), "Your BankID login", &body)
}
