//! Upfront permissions end to end: PAR + RAR, digest verification, grants.

use crate::common;

use axum_bankid::error::StartupError;
use axum_bankid::{BankIdConfig, BankIdLayer, ParMode, permission::DigestInput};
use axum_bankid_simulator::{Fault, Simulator};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{CardAccess, TestApp, error_body, location, param, payment};
use reqwest::StatusCode;
use serde_json::Value;

/// Runs `/pay` through approval and returns the app's callback response.
async fn approve_payment(app: &TestApp, start_path: &str, decision: &str) -> reqwest::Response {
    let authorize_url = app.begin_at(start_path).await;
    let callback_url = app.authorize(&authorize_url, "kari", decision).await;
    app.client.get(callback_url).send().await.unwrap()
}

/// Approves `/pay` and returns the landing path (`/paid?bankid_flow=...`).
async fn landing(app: &TestApp, start_path: &str) -> String {
    let response = approve_payment(app, start_path, "approve").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location(&response)
}

#[tokio::test]
async fn approved_payment_grants_exactly_that_statement() {
    let app = TestApp::builder().start().await;
    let authorize_url = app.begin_at("/pay").await;
    // PAR: the browser only carries client_id and request_uri.
    let keys: Vec<String> =
        url::Url::parse(&authorize_url).unwrap().query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(keys, ["client_id", "request_uri"]);
    let pushed = app.sim.last_par_params().expect("a pushed authorization request");
    assert_eq!(pushed["acr_values"], "urn:bankid:bis", "a permission flow goes to BankID with biometrics");
    assert_eq!(pushed["code_challenge_method"], "S256");
    let details: Value = serde_json::from_str(&pushed["authorization_details"]).unwrap();
    assert_eq!(details[0]["type"], "payment.v1");
    let statement = URL_SAFE_NO_PAD.decode(details[0]["permission"].as_str().unwrap()).unwrap();
    assert_eq!(serde_json::from_slice::<common::Payment>(&statement).unwrap(), payment());

    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    let response = app.client.get(callback_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let landing = location(&response);
    assert!(landing.starts_with("/paid?bankid_flow="), "{landing}");

    let (status, paid) = app.get_json(&landing).await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(paid["statement"]["amount"], "123.45");
    assert_eq!(paid["statement"]["creditor"], "Nordmann Sko AS");
    assert_eq!(paid["loa"], 3);
    assert_eq!(paid["digest"], axum_bankid::permission::permission_digest(&statement));
    assert_eq!(paid["matches_own"], true);
    assert_eq!(paid["matches_other"], false, "require() refuses another statement");
}

#[tokio::test]
async fn a_grant_cannot_be_replayed() {
    let app = TestApp::builder().start().await;
    let landing = landing(&app, "/pay").await;
    assert_eq!(app.get_json(&landing).await.0, StatusCode::OK);
    let (status, body) = app.get_json(&landing).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "permission_not_granted");
    assert_eq!(body["detail"], "already_redeemed");
}

#[tokio::test]
async fn grants_can_be_reusable_when_configured() {
    let app = TestApp::builder().configure(|b| b.single_use_grants(false)).start().await;
    let landing = landing(&app, "/pay").await;
    assert_eq!(app.get_json(&landing).await.0, StatusCode::OK);
    assert_eq!(app.get_json(&landing).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_grant_of_another_type_does_not_count() {
    let app = TestApp::builder().start().await;
    let landing = landing(&app, "/pay").await;
    let (status, body) = app.get_json(&landing.replace("/paid", "/card")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "permission_not_granted");
    // And a plain login grants nothing.
    let plain = TestApp::builder().start().await;
    plain.login_as("kari").await;
    assert_eq!(plain.get_json("/paid").await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn denied_payment_grants_nothing() {
    let app = TestApp::builder().start().await;
    let (status, body) = error_body(approve_payment(&app, "/pay", "deny").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "access_denied");
    assert_eq!(app.get_json("/paid").await.0, StatusCode::UNAUTHORIZED);
}

async fn assert_permission_fault(fault: Fault, reason: &str) {
    let app = TestApp::builder().start().await;
    app.sim.add_fault(fault.clone());
    let (status, body) = error_body(approve_payment(&app, "/pay", "approve").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{fault:?}: {body}");
    assert_eq!(body["error"], "permission_not_granted", "{fault:?}: {body}");
    assert_eq!(body["detail"], reason, "{fault:?}: {body}");
    app.assert_logged_out().await;
    assert_eq!(app.get_json("/paid").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn wrong_digest_is_refused() {
    assert_permission_fault(Fault::WrongPermissionDigest, "digest_mismatch").await;
}

#[tokio::test]
async fn missing_digest_is_refused() {
    assert_permission_fault(Fault::MissingPermissionDigest, "missing_digest").await;
}

#[tokio::test]
async fn different_type_is_refused() {
    // BankID documents `authorization_details` in the access token; should a
    // token response also echo them, they must name what was sent.
    let echoing = Simulator::builder().echo_authorization_details(true);
    let app = TestApp::builder().simulator(echoing).start().await;
    app.sim.add_fault(Fault::DifferentPermissionType);
    let (status, body) = error_body(approve_payment(&app, "/pay", "approve").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        (body["error"].as_str(), body["detail"].as_str()),
        (Some("permission_not_granted"), Some("type_mismatch"))
    );
    app.assert_logged_out().await;
}

#[tokio::test]
async fn digest_over_the_wrong_input_is_refused() {
    // The simulator digests the statement bytes; a client configured for the
    // other reading of BankID's docs must notice the mismatch, not grant.
    let app = TestApp::builder().configure(|b| b.permission_digest_input(DigestInput::EncodedPermission)).start().await;
    let (_, body) = error_body(approve_payment(&app, "/pay", "approve").await).await;
    assert_eq!(body["detail"], "digest_mismatch");
}

#[tokio::test]
async fn expired_request_uri_is_a_provider_error() {
    let app = TestApp::builder().start().await;
    app.sim.add_fault(Fault::ExpiredRequestUri);
    let authorize_url = app.begin_at("/pay").await;
    let page = app.client.get(&authorize_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    let callback_url = location(&page);
    assert_eq!(param(&callback_url, "error").as_deref(), Some("invalid_request_uri"));
    let (_, body) = error_body(app.client.get(callback_url).send().await.unwrap()).await;
    assert_eq!(body["error"], "provider_error");
    assert_eq!(body["detail"], "invalid_request_uri");
    app.assert_logged_out().await;
}

#[tokio::test]
async fn replayed_request_uri_is_refused() {
    let app = TestApp::builder().start().await;
    let authorize_url = app.begin_at("/pay").await;
    let first = app.client.get(&authorize_url).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let replay = app.client.get(&authorize_url).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    let callback_url = location(&replay);
    assert_eq!(param(&callback_url, "error").as_deref(), Some("invalid_request_uri"));
    let (_, body) = error_body(app.client.get(callback_url).send().await.unwrap()).await;
    assert_eq!(body["detail"], "invalid_request_uri");
}

#[tokio::test]
async fn permission_api_flow_yields_a_signed_permission() {
    let app = TestApp::builder().start().await;
    let landing = landing(&app, "/pay-api").await;
    let pushed = app.sim.last_par_params().unwrap();
    assert!(pushed.contains_key("permission_token"), "the guessed reference parameter: {pushed:?}");
    assert!(!pushed.contains_key("authorization_details"));
    let grants = app.sim.requests().into_iter().filter(|r| r.path.ends_with("/grant")).count();
    assert!(grants >= 1, "the grant is fetched from BIB after the callback");
    let (status, paid) = app.get_json(&landing).await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(paid["statement"]["amount"], "123.45");
    assert!(paid["signed_permission"].as_str().is_some_and(|s| s.split('.').count() == 3));
}

/// The claims of a compact JWS, unverified (the crate verified it).
fn jws_claims(jws: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jws.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

/// BIB and BankID OIDC are two issuers: the grant's `sub` is BIB's and
/// differs from the ID token's, and the login still succeeds, because the
/// two are never compared (`sub` is unique per issuer only).
#[tokio::test]
async fn a_permission_api_grant_with_bibs_own_sub_binds_to_the_login() {
    let app = TestApp::builder().start().await;
    let landing = landing(&app, "/pay-api").await;
    let (status, paid) = app.get_json(&landing).await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    let grant = jws_claims(paid["signed_permission"].as_str().unwrap());
    let (_, me) = app.get_json("/me").await;
    let kari = Simulator::default_users().iter().find(|u| u.id() == "kari").unwrap();
    assert_eq!(grant["sub"], kari.bib_sub());
    assert_ne!(grant["sub"], me["sub"], "two issuers, two subjects");
    assert_eq!(grant["iss"], app.sim.bib_issuer());
    assert_eq!(me["iss"], app.sim.issuer(), "the login is BankID OIDC's");
}

/// Approves `start_path` with `fault` set and returns the error's `detail`
/// (or `"ok"` when the login succeeded).
async fn outcome_with_fault(start_path: &str, fault: Fault) -> String {
    let app = TestApp::builder().start().await;
    app.sim.add_fault(fault);
    let response = approve_payment(&app, start_path, "approve").await;
    if response.status() == StatusCode::SEE_OTHER {
        let (status, body) = app.get_json(&location(&response)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        return "ok".into();
    }
    let (status, body) = error_body(response).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("permission_not_granted")), "{body}");
    app.assert_logged_out().await;
    body["detail"].as_str().unwrap().to_owned()
}

/// The ID-token `permission_digest` is documented for RAR only: a
/// Permission-API login is proven by its grant, so a missing digest is
/// fine there, but a present one must still match.
#[tokio::test]
async fn a_permission_api_digest_is_checked_when_present_and_not_required() {
    assert_eq!(outcome_with_fault("/pay-api", Fault::MissingPermissionDigest).await, "ok");
    assert_eq!(outcome_with_fault("/pay-api", Fault::WrongPermissionDigest).await, "digest_mismatch");
    assert_eq!(outcome_with_fault("/pay", Fault::MissingPermissionDigest).await, "missing_digest", "RAR needs it");
}

/// A `text.v1` statement (BankID's text product, scope `permissions/text`).
#[derive(serde::Serialize, serde::Deserialize)]
struct TextApproval {
    text: String,
}

impl axum_bankid::permission::Permission for TextApproval {
    const TYPE: &'static str = "text.v1";
}

/// The Permission API asks for a type's product scope: `text.v1`'s token
/// carries `permissions/text`, which BIB needs to register it.
#[tokio::test]
async fn the_permission_api_asks_for_a_types_product_scope() {
    let sim = Simulator::start().await.unwrap();
    let layer = BankIdLayer::discover(common::config_for(&sim)).await.unwrap();
    let text = TextApproval { text: "Approve the new address?".into() };
    let registration = axum_bankid::permission::Registration::new();
    layer.permission_api().register(&text, registration).await.unwrap();
    let token_request = sim.requests().into_iter().find(|r| r.body.contains("client_credentials")).unwrap();
    let scope = url::form_urlencoded::parse(token_request.body.as_bytes()).find(|(k, _)| k == "scope").unwrap().1;
    assert_eq!(scope, "openid permissions/client permissions/text");
}

#[tokio::test]
async fn app_callback_uri_is_validated_and_pushed() {
    let app = TestApp::builder().start().await;
    let link = "https%3A%2F%2Fshop.example%2Fbankid-done";
    let authorize_url = app.begin_at(&format!("/pay?app_callback_uri={link}")).await;
    assert!(authorize_url.contains("request_uri"));
    assert_eq!(app.sim.last_par_params().unwrap()["app_callback_uri"], "https://shop.example/bankid-done");

    // BankID asks for a universal link: a custom scheme is refused like a script URL.
    for bad in ["nordmannsko%3A%2F%2Fbankid-done", "javascript%3Aalert(1)", "http%3A%2F%2Fshop.example%2F"] {
        let par_before = app.sim.requests().len();
        let response = app.client.get(app.url(&format!("/pay?app_callback_uri={bad}"))).send().await.unwrap();
        let (status, body) = error_body(response).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{bad}");
        assert_eq!(body["detail"], "invalid_app_callback_uri", "{bad}");
        assert!(body["message"].as_str().unwrap().contains("universal link"), "{body}");
        let pushed = app.sim.requests()[par_before..].iter().filter(|r| r.path == "/par").count();
        assert_eq!(pushed, 0, "nothing was pushed for {bad}");
    }
}

#[tokio::test]
async fn upfront_permission_on_every_login() {
    let app =
        TestApp::builder().configure(|b| b.upfront_permission(&CardAccess { card: "4925-xxxx".into() })).start().await;
    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    let landing = location(&callback.response);
    assert!(landing.starts_with("/me?bankid_flow="), "{landing}");
    let details: Value = serde_json::from_str(&app.sim.last_par_params().unwrap()["authorization_details"]).unwrap();
    assert_eq!(details[0]["type"], "card.v1");
    let card = app.client.get(app.url(&landing.replace("/me", "/card"))).send().await.unwrap();
    assert_eq!(card.status(), StatusCode::OK);
    assert_eq!(card.text().await.unwrap(), "4925-xxxx");
}

async fn discover_without_par(
    configure: impl FnOnce(axum_bankid::BankIdConfigBuilder) -> axum_bankid::BankIdConfigBuilder,
) -> StartupError {
    let sim = Simulator::builder().advertise_par(false).start().await.unwrap();
    let builder = BankIdConfig::builder()
        .issuer(sim.issuer())
        .client_id(sim.client_id())
        .client_secret(sim.client_secret())
        .redirect_uri("http://127.0.0.1:1/auth/bankid/callback");
    BankIdLayer::discover(configure(builder).build().unwrap()).await.unwrap_err()
}

#[tokio::test]
async fn par_required_but_not_advertised_fails_at_start_up() {
    let err = discover_without_par(|b| b.par(ParMode::Required)).await;
    assert!(
        matches!(err, StartupError::MissingCapability { capability: "pushed_authorization_request_endpoint" }),
        "{err:?}"
    );
    let err = discover_without_par(|b| b.upfront_permission(&CardAccess { card: "x".into() })).await;
    assert!(matches!(err, StartupError::MissingCapability { .. }), "{err:?}");
}

#[tokio::test]
async fn a_grant_used_by_a_failing_handler_stays_used() {
    let app = TestApp::builder().start().await;
    let landing = landing(&app, "/pay").await;
    let failed = app.client.get(app.url(&landing.replace("/paid", "/paid-then-fail"))).send().await.unwrap();
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let (status, body) = app.get_json(&landing).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test]
async fn grants_expire() {
    let app = TestApp::builder().configure(|b| b.grant_ttl(std::time::Duration::from_secs(1))).start().await;
    let landing = landing(&app, "/pay").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body) = app.get_json(&landing).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["detail"], "not_granted");
}

#[tokio::test]
async fn permission_api_failures_are_typed() {
    let app = TestApp::builder().start().await;
    // The client-credentials token cannot be had: registering fails before any redirect.
    app.sim.add_fault(Fault::TokenEndpointError);
    let response = app.client.get(app.url("/pay-api")).send().await.unwrap();
    let (status, body) = error_body(response).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"], "permission_api_failed");
    assert_eq!(body["detail"], "invalid_grant");
    assert!(app.sim.last_par_params().is_none(), "no login was started");
}
