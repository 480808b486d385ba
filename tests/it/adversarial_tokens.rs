//! JOSE edge cases and key lifetime, over real HTTP against the simulator:
//! header members the relying party must ignore or refuse (RFC 7515), `nbf`
//! (RFC 7519), keys the provider removed or replaced, and the security
//! headers of the default responses.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use axum_bankid::BankIdConfigBuilder;
use axum_bankid_simulator::{Endpoint, Fault, SigningKey, Simulator};
use common::{TestApp, error_body, hidden_field, location};
use reqwest::StatusCode;
use reqwest::cookie::Jar;
use serde_json::{Map, Value, json};

fn members(value: Value) -> Map<String, Value> {
    value.as_object().expect("a JSON object").clone()
}

/// Logs in with these extra header members on the ID token; the callback's answer.
async fn login_with_header(app: &TestApp, header: Value) -> reqwest::Response {
    app.sim.clear_faults();
    app.sim.add_fault(Fault::HeaderMembers(members(header)));
    app.login_as("kari").await.response
}

/// Asserts a refused login with `invalid_id_token` / `reason`, and no session.
async fn assert_refused(app: &TestApp, response: reqwest::Response, reason: &str, case: &str) {
    let (status, body) = error_body(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
    assert_eq!(body["error"], "invalid_id_token", "{case}: {body}");
    assert_eq!(body["detail"], reason, "{case}: {body}");
    app.assert_logged_out().await;
}

// ---- 1. Unregistered header members are ignored, whatever their JSON type ----

#[tokio::test]
async fn unregistered_header_members_of_any_json_type_are_ignored() {
    let cases = [
        json!({"x-issued": 1_700_000_000}),
        json!({"x-ratio": 0.5}),
        json!({"x-flag": true}),
        json!({"x-none": null}),
        json!({"x-list": [1, "two", {"three": 3}]}),
        json!({"x-object": {"nested": {"deep": [null]}}}),
        json!({"x5t#S256-lookalike": "text", "cty": "JWT"}),
    ];
    for header in cases {
        let app = TestApp::builder().start().await;
        let response = login_with_header(&app, header.clone()).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{header}: {}", response.text().await.unwrap());
        let (status, me) = app.get_json("/me").await;
        assert_eq!(status, StatusCode::OK, "{header}: {me}");
        assert_eq!(me["name"], "Kari Nordmann", "{header}");
    }
}

// ---- 2. `crit` (RFC 7515 §4.1.11) ----

#[tokio::test]
async fn critical_extension_we_do_not_process_is_refused() {
    let app = TestApp::builder().start().await;
    let header = json!({"crit": ["urn:example:policy"], "urn:example:policy": "strict"});
    let response = login_with_header(&app, header).await;
    assert_refused(&app, response, "unsupported_critical_header", "crit naming an extension").await;
}

#[tokio::test]
async fn malformed_crit_is_refused() {
    let cases = [
        ("empty list", json!({"crit": []})),
        ("not a list", json!({"crit": "urn:example:policy", "urn:example:policy": 1})),
        ("non-string name", json!({"crit": [1], "1": 1})),
        ("names a registered header", json!({"crit": ["alg"]})),
        ("names kid", json!({"crit": ["kid"]})),
        ("names a member that is absent", json!({"crit": ["urn:example:absent"]})),
        ("null", json!({"crit": null})),
    ];
    let app = TestApp::builder().start().await;
    for (case, header) in cases {
        let response = login_with_header(&app, header).await;
        assert_refused(&app, response, "invalid_critical_header", case).await;
    }
}

// ---- 3. `nbf` (RFC 7519 §4.1.5) ----

#[tokio::test]
async fn token_not_yet_valid_is_refused() {
    let app = TestApp::builder().start().await;
    app.sim.add_fault(Fault::NotYetValid);
    let response = app.login_as("kari").await.response;
    assert_refused(&app, response, "not_yet_valid", "nbf five minutes ahead").await;
}

// ---- 4. Keys are trusted for their max age only ----

/// Waits until a key set fetched with a 1 s max age is past it. Only a lower
/// bound on elapsed time matters, so this is no timing assumption.
async fn let_one_second_max_age_pass() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

/// An app whose simulator sends `cache_control` with every JWKS, the
/// relying party's start-up fetch included.
async fn start_with_jwks_cache_control(
    cache_control: &str,
    configure: impl FnOnce(BankIdConfigBuilder) -> BankIdConfigBuilder,
) -> TestApp {
    let sim = Simulator::builder().jwks_cache_control(cache_control);
    TestApp::builder().simulator(sim).configure(configure).start().await
}

/// The provider stops publishing `sim-1` (compromised, say) while tokens are
/// still signed with it; once the cached set is past its max age, such a
/// token is refused.
async fn assert_removed_key_refused_after_max_age(app: &TestApp) {
    app.sim.publish_keys(&[(SigningKey::Rotated, "sim-2")]);
    let_one_second_max_age_pass().await;
    let fetched = app.sim.request_count(Endpoint::Jwks);
    let response = app.login_as("kari").await.response;
    assert_refused(app, response, "unknown_key", "token signed with a removed key").await;
    assert_eq!(
        app.sim.request_count(Endpoint::Jwks),
        fetched + 1,
        "one refetch of the expired set, none more in the cooldown"
    );
}

#[tokio::test]
async fn removed_key_stops_verifying_after_the_max_age_the_provider_sent() {
    let app =
        start_with_jwks_cache_control("public, max-age=1", |b| b.jwks_max_age_floor(Duration::from_secs(1))).await;
    assert_removed_key_refused_after_max_age(&app).await;
}

#[tokio::test]
async fn removed_key_stops_verifying_after_the_configured_ceiling() {
    let app = start_with_jwks_cache_control("max-age=86400", |b| {
        b.jwks_max_age_floor(Duration::from_secs(1)).jwks_max_age_ceiling(Duration::from_secs(1))
    })
    .await;
    assert_removed_key_refused_after_max_age(&app).await;
}

#[tokio::test]
async fn keys_within_their_max_age_are_used_without_fetching() {
    let app = start_with_jwks_cache_control("max-age=3600", |b| b).await;
    let fetched = app.sim.request_count(Endpoint::Jwks);
    for _ in 0..3 {
        assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(app.sim.request_count(Endpoint::Jwks), fetched, "no JWKS request while the keys are fresh");
}

/// A browser of its own (own cookie jar) that has approved a login at the
/// simulator and holds the callback URL, not yet visited.
async fn browser_at_callback(app: &TestApp) -> (reqwest::Client, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(Arc::new(Jar::default()))
        .build()
        .unwrap();
    let start = client.get(app.url("/auth/bankid/login?return_to=/me")).send().await.unwrap();
    let page = client.get(location(&start)).send().await.unwrap().text().await.unwrap();
    let form = [("request", hidden_field(&page, "request")), ("user", "kari".into()), ("decision", "approve".into())];
    let approved = client.post(format!("{}/authorize", app.sim.issuer())).form(&form).send().await.unwrap();
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    let callback = location(&approved);
    (client, callback)
}

#[tokio::test]
async fn stale_keys_are_refetched_once_for_a_burst_of_logins() {
    let app = start_with_jwks_cache_control("max-age=1", |b| b.jwks_max_age_floor(Duration::from_secs(1))).await;
    // The refetched set is good for an hour, so the whole burst needs one fetch.
    app.sim.set_jwks_cache_control(Some("max-age=3600"));
    let mut browsers = Vec::new();
    for _ in 0..12 {
        browsers.push(browser_at_callback(&app).await);
    }
    let_one_second_max_age_pass().await;
    // A slow provider makes the logins' key lookups overlap the one fetch.
    app.sim.add_fault(Fault::Slow(Duration::from_millis(300)));
    let fetched = app.sim.request_count(Endpoint::Jwks);
    let burst = browsers.iter().map(|(client, callback)| client.get(callback).send());
    for response in futures_util::future::join_all(burst).await {
        assert_eq!(response.unwrap().status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(app.sim.request_count(Endpoint::Jwks), fetched + 1, "one fetch for the whole burst");
}

#[tokio::test]
async fn expired_keys_are_not_trusted_while_the_provider_is_down() {
    let app = start_with_jwks_cache_control("max-age=1", |b| {
        b.jwks_max_age_floor(Duration::from_secs(1)).jwks_refresh_cooldown(Duration::from_secs(1))
    })
    .await;
    let_one_second_max_age_pass().await;
    app.sim.add_fault(Fault::JwksUnavailable);
    let response = app.login_as("kari").await.response;
    assert_refused(&app, response, "keys_unavailable", "expired keys, provider down").await;
    // The provider is back: after the cooldown the next login refetches.
    app.sim.clear_faults();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get_json("/me").await.0, StatusCode::OK);
}

// ---- 5. Re-keying under the same `kid` ----

#[tokio::test]
async fn rekey_under_the_same_kid_is_picked_up() {
    let app = TestApp::builder().start().await;
    let fetched = app.sim.request_count(Endpoint::Jwks);
    // The provider replaces sim-1's key material but keeps the kid.
    app.sim.publish_keys(&[(SigningKey::Rotated, "sim-1")]);
    app.sim.add_fault(Fault::SignWith { key: SigningKey::Rotated, kid: "sim-1".into() });
    let response = app.login_as("kari").await.response;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap());
    assert_eq!(app.get_json("/me").await.0, StatusCode::OK);
    assert_eq!(app.sim.request_count(Endpoint::Jwks), fetched + 1, "one refetch after the signature failed");
}

#[tokio::test]
async fn bad_signature_refetches_at_most_once_per_cooldown() {
    let app = TestApp::builder().start().await;
    let fetched = app.sim.request_count(Endpoint::Jwks);
    app.sim.add_fault(Fault::BadSignature);
    for attempt in 0..4 {
        let response = app.login_as("kari").await.response;
        assert_refused(&app, response, "bad_signature", &format!("attempt {attempt}")).await;
    }
    assert_eq!(
        app.sim.request_count(Endpoint::Jwks),
        fetched + 1,
        "one refetch per cooldown, however many bad signatures"
    );
}

// ---- Security headers of default responses ----

#[tokio::test]
async fn default_error_pages_send_no_referrer() {
    let app = TestApp::builder().start().await;
    let callback = app.url("/auth/bankid/callback?state=forged&code=forged");
    for accept in ["text/html", "application/json"] {
        let response = app.client.get(&callback).header("accept", accept).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{accept}");
        let headers = response.headers();
        assert_eq!(headers["referrer-policy"], "no-referrer", "{accept}");
        assert_eq!(headers["cache-control"], "no-store", "{accept}");
    }
}

#[tokio::test]
async fn responses_behind_require_authenticated_are_private_and_not_stored() {
    let app = TestApp::builder().start().await;
    assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER);
    let response = app.client.get(app.url("/guarded")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "private, no-store");
    assert_eq!(response.text().await.unwrap(), "members only");
}
