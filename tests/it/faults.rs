//! Each simulator fault yields its exact typed error and no login.

use crate::common;

use std::time::Duration;

use axum_bankid_simulator::{Endpoint, Fault};
use common::{TestApp, error_body};
use reqwest::StatusCode;

/// Logs in with `fault` active and returns the app's JSON error.
async fn failed_login(app: &TestApp, fault: Fault) -> (StatusCode, serde_json::Value) {
    app.sim.add_fault(fault);
    let result = error_body(app.login_as("kari").await.response).await;
    app.assert_logged_out().await;
    result
}

async fn assert_id_token_error(fault: Fault, reason: &str) {
    let app = TestApp::builder().start().await;
    let (status, body) = failed_login(&app, fault.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{fault:?}: {body}");
    assert_eq!(body["error"], "invalid_id_token", "{fault:?}: {body}");
    assert_eq!(body["detail"], reason, "{fault:?}: {body}");
}

#[tokio::test]
async fn wrong_audience() {
    assert_id_token_error(Fault::WrongAudience, "audience_mismatch").await;
}

#[tokio::test]
async fn extra_audience_without_azp() {
    assert_id_token_error(Fault::ExtraAudience, "azp_mismatch").await;
}

#[tokio::test]
async fn wrong_azp() {
    assert_id_token_error(Fault::WrongAzp, "azp_mismatch").await;
}

#[tokio::test]
async fn wrong_issuer() {
    assert_id_token_error(Fault::WrongIssuer, "issuer_mismatch").await;
}

#[tokio::test]
async fn expired_token() {
    assert_id_token_error(Fault::Expired, "expired").await;
}

#[tokio::test]
async fn issued_in_the_future() {
    assert_id_token_error(Fault::IssuedInFuture, "issued_in_future").await;
}

/// Issue 20 item 12: an `auth_time` ahead of now (a provider sending
/// milliseconds) would pass every recent-login check for as long as it stays
/// ahead; it is refused like a future `iat`.
#[tokio::test]
async fn auth_time_in_the_future_is_refused() {
    assert_id_token_error(Fault::AuthTimeInMilliseconds, "auth_time_in_future").await;
}

#[tokio::test]
async fn bad_signature() {
    assert_id_token_error(Fault::BadSignature, "bad_signature").await;
}

#[tokio::test]
async fn alg_none() {
    assert_id_token_error(Fault::AlgNone, "unsupported_algorithm").await;
}

#[tokio::test]
async fn wrong_nonce() {
    assert_id_token_error(Fault::WrongNonce, "nonce_mismatch").await;
}

#[tokio::test]
async fn missing_nonce() {
    assert_id_token_error(Fault::MissingNonce, "missing_nonce").await;
}

#[tokio::test]
async fn unknown_kid_refreshes_once_then_fails() {
    let app = TestApp::builder().start().await;
    let fetched_at_start = app.sim.request_count(Endpoint::Jwks);
    let (_, body) = failed_login(&app, Fault::UnknownKid).await;
    assert_eq!(body["detail"], "unknown_key");
    assert_eq!(app.sim.request_count(Endpoint::Jwks), fetched_at_start + 1, "one refresh on an unknown kid");
    // A flood of further bad tokens inside the cooldown does not reach the provider.
    for _ in 0..3 {
        let (_, body) = error_body(app.login_as("kari").await.response).await;
        assert_eq!(body["detail"], "unknown_key");
    }
    assert_eq!(app.sim.request_count(Endpoint::Jwks), fetched_at_start + 1, "refresh is rate limited");
}

#[tokio::test]
async fn rotated_keys_are_picked_up() {
    let app = TestApp::builder().start().await;
    let fetched_at_start = app.sim.request_count(Endpoint::Jwks);
    app.sim.add_fault(Fault::RotatedKeys);
    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get_json("/me").await.0, StatusCode::OK);
    assert_eq!(app.sim.request_count(Endpoint::Jwks), fetched_at_start + 1);
}

#[tokio::test]
async fn missing_acr() {
    let app = TestApp::builder().start().await;
    let (status, body) = failed_login(&app, Fault::MissingAcr).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "insufficient_loa");
}

#[tokio::test]
async fn low_acr() {
    let app = TestApp::builder().start().await;
    let (status, body) = failed_login(&app, Fault::LowAcr).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "insufficient_loa");
}

#[tokio::test]
async fn wrong_callback_issuer() {
    let app = TestApp::builder().start().await;
    let (status, body) = failed_login(&app, Fault::WrongCallbackIss).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "callback_issuer_mismatch");
}

#[tokio::test]
async fn token_endpoint_error() {
    let app = TestApp::builder().start().await;
    let (status, body) = failed_login(&app, Fault::TokenEndpointError).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"], "token_exchange_failed");
    assert_eq!(body["detail"], "invalid_grant");
}

#[tokio::test]
async fn token_endpoint_server_error() {
    let app = TestApp::builder().start().await;
    let (_, body) = failed_login(&app, Fault::TokenEndpointServerError).await;
    assert_eq!(body["error"], "token_exchange_failed");
    assert_eq!(body["detail"], "unexpected_response");
}

#[tokio::test]
async fn slow_par_endpoint_times_out_at_login_start() {
    let app = TestApp::builder().configure(|b| b.http_timeout(Duration::from_millis(500))).start().await;
    app.sim.add_fault(Fault::Slow(Duration::from_secs(2)));
    let response = app.client.get(app.url("/auth/bankid/login?return_to=/me")).send().await.unwrap();
    let (status, body) = error_body(response).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"], "par_failed");
    assert_eq!(body["detail"], "unreachable");
    app.assert_logged_out().await;
}

#[tokio::test]
async fn slow_provider_times_out() {
    // Without PAR the first call to the provider is the token exchange.
    let app = TestApp::builder()
        .configure(|b| b.http_timeout(Duration::from_millis(500)).par(axum_bankid::ParMode::Disabled))
        .start()
        .await;
    let (status, body) = failed_login(&app, Fault::Slow(Duration::from_secs(2))).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"], "token_exchange_failed");
    assert_eq!(body["detail"], "unreachable");
}

#[tokio::test]
async fn slow_but_within_timeout_succeeds() {
    let app = TestApp::builder().configure(|b| b.http_timeout(Duration::from_secs(5))).start().await;
    app.sim.add_fault(Fault::Slow(Duration::from_millis(300)));
    assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER);
}
