//! What the relying party asks the provider, counted at the simulator: once
//! metadata and keys are cached, a login makes exactly the back-channel calls
//! it needs and an authenticated request makes none (issue 12, item 5: the
//! per-request path does no provider I/O).

mod common;

use axum_bankid_simulator::{CapturedRequest, Which};
use common::start;
use reqwest::StatusCode;

/// The back-channel calls the app made, as `METHOD path` at each provider.
/// Browser traffic (the login page and its form post) is left out.
fn backchannel(requests: &[CapturedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.path != "/authorize")
        .map(|r| format!("{} {} {}", if r.issuer == Which::Bib { "BIB" } else { "OIDC" }, r.method, r.path))
        .collect()
}

#[tokio::test]
async fn a_login_asks_for_par_and_tokens_only_and_requests_ask_nothing() {
    let app = start().await;
    // Start-up fetched discovery and keys of both providers.
    let at_start_up = backchannel(&app.sim.requests());
    assert!(at_start_up.iter().any(|r| r.ends_with("/.well-known/openid-configuration")), "{at_start_up:?}");
    app.sim.clear_requests();

    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    assert_eq!(backchannel(&app.sim.requests()), ["OIDC POST /par", "OIDC POST /token"], "a login needs exactly these");

    app.sim.clear_requests();
    for _ in 0..20 {
        let (status, me) = app.get_json("/me").await;
        assert_eq!(status, StatusCode::OK, "{me}");
    }
    assert!(app.sim.requests().is_empty(), "authenticated requests call no provider: {:?}", app.sim.requests());
}
