//! Set-up shared by the examples: the embedded simulator unless
//! `BANKID_ENV` (or `BANKID_ISSUER`) points at real BankID, logging, and
//! tiny HTML helpers.

use std::net::SocketAddr;

use axum_bankid::BankIdConfig;
use axum_bankid::simulator::Simulator;
use tracing_subscriber::EnvFilter;

/// Logging at `info`, with the crate's flow steps at `debug`.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,axum_bankid=debug".into()))
        .init();
}

/// `127.0.0.1:$PORT` (default 3000).
pub fn listen_addr() -> SocketAddr {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The configuration from `BANKID_*` variables when `BANKID_ENV` (e.g.
/// `current`, BankID's test environment) or `BANKID_ISSUER` is set,
/// otherwise a freshly started simulator (returned so it lives as long as
/// the app) with both of its issuers, BankID OIDC and BIB.
pub async fn config(base: &str) -> Result<(BankIdConfig, Option<Simulator>), Box<dyn std::error::Error>> {
    if std::env::var_os("BANKID_ENV").is_some() || std::env::var_os("BANKID_ISSUER").is_some() {
        return Ok((BankIdConfig::from_env()?, None));
    }
    let simulator = Simulator::start().await?;
    let redirect_uri = format!("{base}/auth/bankid/callback");
    simulator.allow_redirect_uri(&redirect_uri);
    let config = BankIdConfig::builder()
        .issuer(simulator.issuer())
        .bib_issuer(simulator.bib_issuer())
        .client_id(simulator.client_id())
        .client_secret(simulator.client_secret())
        .redirect_uri(redirect_uri)
        .post_logout_redirect_uri(format!("{base}/"))
        .build()?;
    tracing::info!(issuer = %simulator.issuer(), "using the embedded BankID simulator");
    Ok((config, Some(simulator)))
}

/// A minimal HTML page.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    )
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
