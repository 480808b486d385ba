//! Signing keys that must chain to BankID's root certificates, over real
//! HTTP against the simulator: a login whose ID token is signed by a key
//! that does not chain to the configured roots ends with the chain check's
//! reason, and nothing is logged in. (Accepted chains, ES256 and RS256 under
//! one `kid`, and every refusal reason are covered at key-load level over a
//! loopback JWKS server in `src/id_token.rs`, `keys_over_http`.)

use crate::common;
use crate::common::logs;
use crate::common::pki;

use std::time::Duration;

use axum_bankid::{BankIdConfig, BankIdEnvironment, ConfigError};
use axum_bankid_simulator::{Fault, Issuer, LogoutSubject, SigningAlgorithm, Simulator};
use common::{TestApp, error_body};
use logs::{logged, logs};
use pki::Authority;
use reqwest::StatusCode;
use serde_json::Value;

/// The kind a simulator key gets against a root it was not issued under:
/// no `x5c` at all, or a chain to the simulator's own test PKI.
async fn expected_refusal(jwks_uri: &str) -> &'static str {
    let jwks: Value = reqwest::get(jwks_uri).await.unwrap().json().await.unwrap();
    let chained = jwks["keys"].as_array().unwrap().iter().all(|key| key.get("x5c").is_some());
    if chained { "untrusted_key_chain" } else { "missing_key_chain" }
}

#[tokio::test]
async fn a_login_signed_by_a_key_outside_the_configured_roots_is_refused_with_the_reason() {
    logs();
    let root = Authority::root("a root the simulator never issued under");
    let app = TestApp::builder().configure(|b| b.root_certificates_pem(root.pem())).start().await;
    let expected = expected_refusal(&format!("{}/jwks", app.sim.issuer())).await;
    let response = app.login_as("kari").await.response;
    let (status, body) = error_body(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_id_token", "{body}");
    assert_eq!(body["detail"], expected, "{body}");
    app.assert_logged_out().await;
    // Each refused key was logged at load, with its reason.
    assert!(logged("failed the certificate chain check") && logged(expected));
}

#[tokio::test]
async fn a_logout_token_signed_by_a_key_outside_the_roots_is_refused_with_its_own_kind() {
    logs();
    let root = Authority::root("a root the simulator never issued under");
    let sim = Simulator::builder().backchannel_logout(true);
    let app = TestApp::builder().simulator(sim).configure(|b| b.root_certificates_pem(root.pem())).start().await;
    let target = app.url("/auth/bankid/backchannel-logout");
    let delivery = app.sim.send_backchannel_logout(LogoutSubject::Sub("anyone".into()), &target).await.unwrap();
    assert_eq!(delivery.status, 400, "{}", delivery.body);
    assert!(logged("reason=logout_token_untrusted_key"), "the refusal names the untrusted key");
}

#[tokio::test]
async fn without_roots_the_simulator_login_still_works_outside_production() {
    logs();
    let app = TestApp::builder().without_roots().start().await;
    assert!(logged("no BankID root certificates configured"), "one warn at start-up");
    let response = app.login_as("kari").await.response;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, me) = app.get_json("/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
}

#[tokio::test]
async fn switching_the_check_off_is_logged_at_every_start() {
    logs();
    let app = TestApp::builder().without_roots().configure(|b| b.key_chain_check(false)).start().await;
    assert!(logged("certificate check is switched off"));
    assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER);
}

#[test]
fn production_refuses_to_start_without_roots_unless_switched_off() {
    let base = || {
        BankIdConfig::builder()
            .environment(BankIdEnvironment::Production)
            .client_id("c")
            .client_secret("s")
            .redirect_uri("https://app.example/auth/bankid/callback")
    };
    assert_eq!(base().build().unwrap_err(), ConfigError::Missing { field: "root_certificates" });
    assert!(base().key_chain_check(false).build().is_ok());
    assert!(base().root_certificates_pem(Authority::root("r").pem()).build().is_ok());
    let env = |name: &str| match name {
        "BANKID_ENV" => Some("production".to_owned()),
        "BANKID_CLIENT_ID" | "BANKID_CLIENT_SECRET" => Some("c".to_owned()),
        "BANKID_REDIRECT_URI" => Some("https://app.example/cb".to_owned()),
        _ => None,
    };
    let err = BankIdConfig::from_lookup(env).unwrap_err();
    assert_eq!(err, ConfigError::Missing { field: "BANKID_ROOT_CERTS_FILE" });
}

/// Issue #19: with the simulator's root configured (as every test app and
/// example is), each way a signing key's chain can be wrong keeps the login
/// from ever reaching `/me`, with the exact reason; the same login with a
/// sound chain goes through. The simulator signs with the published key in
/// each case, so only the chain check can tell.
#[tokio::test]
async fn a_key_whose_chain_is_wrong_never_reaches_me_and_says_why() {
    logs();
    let app = TestApp::builder().start().await;
    assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER, "a sound chain logs in");
    assert_eq!(app.get_json("/me").await.0, StatusCode::OK);
    app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    let faults = [
        (Fault::ChainToForeignRoot, "untrusted_key_chain"),
        (Fault::ExpiredCertificate, "key_certificate_expired"),
        (Fault::CertificateForOtherKey, "key_certificate_mismatch"),
        (Fault::NoCertificateChain, "missing_key_chain"),
    ];
    for (fault, kind) in faults {
        let app = TestApp::builder().simulator(Simulator::builder().fault(fault.clone())).start().await;
        let (status, body) = error_body(app.login_as("kari").await.response).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_id_token")),
            "{fault:?}: {body}"
        );
        assert_eq!(body["detail"], kind, "{fault:?}: {body}");
        let (status, _) = app.get_json("/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{fault:?}: never logged in");
    }
}

/// How many times BankID OIDC's discovery document was fetched.
fn discovery_fetches(sim: &Simulator) -> usize {
    let is_discovery = |r: &&axum_bankid_simulator::CapturedRequest| {
        r.issuer == Issuer::Oidc && r.path == "/.well-known/openid-configuration"
    };
    sim.requests().iter().filter(is_discovery).count()
}

#[tokio::test]
async fn a_provider_moving_from_rs256_to_es256_is_followed_without_a_restart() {
    logs();
    let sim = Simulator::builder().signing_algorithm(SigningAlgorithm::Rs256);
    let app = TestApp::builder().simulator(sim).start().await;
    assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER, "RS256 before the move");
    app.sim.set_signing_algorithm(SigningAlgorithm::Es256);
    let response = app.login_as("kari").await.response;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "ES256 after the move, same layer");
    let (status, me) = app.get_json("/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
}

#[tokio::test]
async fn a_burst_of_tokens_with_an_unknown_algorithm_fetches_discovery_once_per_cooldown() {
    logs();
    let sim = Simulator::builder().signing_algorithm(SigningAlgorithm::Rs256).backchannel_logout(true);
    let cooldown = |b: axum_bankid::BankIdConfigBuilder| b.jwks_refresh_cooldown(Duration::from_secs(3600));
    let app = TestApp::builder().simulator(sim).configure(cooldown).start().await;
    let target = app.url("/auth/bankid/backchannel-logout");
    let burst = || {
        let deliveries =
            (0..8).map(|i| app.sim.send_backchannel_logout(LogoutSubject::Sub(format!("user-{i}")), &target));
        futures_util::future::join_all(deliveries)
    };
    let before = discovery_fetches(&app.sim);
    app.sim.set_signing_algorithm(SigningAlgorithm::Es256);
    let statuses: Vec<u16> = burst().await.into_iter().map(|d| d.unwrap().status).collect();
    assert_eq!(statuses, [200; 8], "ES256 tokens verify after one refresh");
    assert_eq!(discovery_fetches(&app.sim), before + 1, "one discovery fetch for the whole burst");
    // Back to RS256 inside the cooldown: refused, and discovery is not asked again.
    app.sim.set_signing_algorithm(SigningAlgorithm::Rs256);
    let statuses: Vec<u16> = burst().await.into_iter().map(|d| d.unwrap().status).collect();
    assert_eq!(statuses, [400; 8], "no refresh inside the cooldown");
    assert_eq!(discovery_fetches(&app.sim), before + 1, "still one discovery fetch");
}
