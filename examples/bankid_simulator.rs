//! The embedded BankID simulator on its own: BankID OIDC and BIB on two
//! fixed loopback ports, for a relying party configured only by `BANKID_*`
//! variables (any stack, or another example of this crate).
//!
//! ```sh
//! SIM_REDIRECT_URIS=http://127.0.0.1:3000/auth/bankid/callback cargo run --example bankid_simulator
//! # then, elsewhere:
//! BANKID_ISSUER=http://127.0.0.1:4000 BANKID_BIB_ISSUER=http://127.0.0.1:4001 \
//! BANKID_CLIENT_ID=sim-client BANKID_CLIENT_SECRET=sim-secret \
//! BANKID_REDIRECT_URI=http://127.0.0.1:3000/auth/bankid/callback cargo run --example ciba
//! ```
//!
//! `SIM_PORT` (default 4000) and `SIM_BIB_PORT` (default 4001) choose the
//! ports; `SIM_REDIRECT_URIS` is a comma-separated list of redirect URIs to
//! accept. The test users' phone page is at `http://127.0.0.1:$SIM_PORT/phone`.

use std::net::SocketAddr;

use axum_bankid_simulator::Simulator;

fn port(name: &str, default: u16) -> u16 {
    std::env::var(name).ok().and_then(|p| p.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let mut builder = Simulator::builder()
        .bind(SocketAddr::from(([127, 0, 0, 1], port("SIM_PORT", 4000))))
        .bib_bind(SocketAddr::from(([127, 0, 0, 1], port("SIM_BIB_PORT", 4001))));
    for uri in std::env::var("SIM_REDIRECT_URIS").unwrap_or_default().split(',').filter(|u| !u.is_empty()) {
        builder = builder.redirect_uri(uri.trim());
    }
    let sim = builder.start().await?;
    println!("BANKID_ISSUER={}", sim.issuer());
    println!("BANKID_BIB_ISSUER={}", sim.bib_issuer());
    println!("BANKID_CLIENT_ID={} BANKID_CLIENT_SECRET={}", sim.client_id(), sim.client_secret());
    println!("phone page: {}/phone", sim.issuer());
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
