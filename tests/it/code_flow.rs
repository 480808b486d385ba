//! The Authorization Code flow end to end: app + simulator over loopback HTTP.

use crate::common;

use std::time::Duration;

use common::{TestApp, error_body, location, param, with_param};
use reqwest::StatusCode;

#[tokio::test]
async fn bis_login_reaches_me_at_loa_3() {
    let app = TestApp::builder().start().await;
    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&callback.response), "/me");
    assert_eq!(param(&callback.url, "iss").as_deref(), Some(app.sim.issuer().as_str()));

    let (status, me) = app.get_json("/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["loa"], 3);
    assert_eq!(me["acr"], "urn:bankid:bis;LOA=3");
    assert_eq!(me["name"], "Kari Nordmann");
    assert!(me["sub"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(me.get("id_token").is_none(), "the ID token must not reach the app's JSON");
}

fn assert_authorization_request(app: &common::TestApp, sent: &std::collections::BTreeMap<String, String>) {
    assert_eq!(sent["response_type"], "code");
    assert_eq!(sent["acr_values"], "urn:bankid:bis", "v4: acr_values selects the identity provider");
    assert!(!sent.contains_key("login_hint"), "the legacy hint is opt-in");
    assert_eq!(sent["code_challenge_method"], "S256");
    assert_eq!(sent["code_challenge"].len(), 43, "base64url SHA-256");
    assert!(sent["state"].len() >= 22);
    assert!(sent["nonce"].len() >= 22);
    assert!(sent["scope"].split(' ').any(|s| s == "openid"));
    assert_eq!(sent["redirect_uri"], app.url("/auth/bankid/callback"));
    assert!(!sent.contains_key("code_verifier"), "the verifier never leaves the server");
}

#[tokio::test]
async fn authorization_request_is_pushed_when_par_is_advertised() {
    let app = TestApp::builder().start().await;
    let authorize_url = app.begin_login("/me").await;
    let sent = app.sim.last_par_params().expect("pushed authorization request");
    assert_authorization_request(&app, &sent);
    let in_browser: Vec<String> =
        url::Url::parse(&authorize_url).unwrap().query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(in_browser, ["client_id", "request_uri"], "nothing else travels through the browser");
}

#[tokio::test]
async fn without_par_the_request_carries_pkce_state_nonce_and_bis_hint() {
    let app = TestApp::builder().configure(|b| b.par(axum_bankid::ParMode::Disabled)).start().await;
    let authorize_url = app.begin_login("/me").await;
    assert!(authorize_url.starts_with(&app.sim.issuer()));
    assert!(app.sim.last_authorize_params().is_none(), "not visited yet");
    app.client.get(&authorize_url).send().await.unwrap();
    let sent = app.sim.last_authorize_params().expect("authorize params recorded");
    assert_authorization_request(&app, &sent);
    assert!(app.sim.last_par_params().is_none());
    assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn classic_bankid_loa_4_is_accepted() {
    // BankID High is asked for: the default `urn:bankid:bis` routes every
    // user, Ola too, to biometrics (LOA 3), as BankID does.
    let app = TestApp::builder().configure(|b| b.acr_values(Some("urn:bankid:bid"))).start().await;
    let callback = app.login_as("ola").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    let (status, me) = app.get_json("/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["loa"], 4);
    assert_eq!(me["acr"], "urn:bankid:bid;LOA=4");
}

#[tokio::test]
async fn minimum_loa_4_rejects_biometrics() {
    // With `acr_values` switched off the user logs in with their own method:
    // Kari's biometrics (LOA 3) is refused at the callback.
    let app = TestApp::builder()
        .configure(|b| b.minimum_loa(axum_bankid::Loa::HIGH).acr_values(None::<String>))
        .start()
        .await;
    let (_, body) = error_body(app.login_as("kari").await.response).await;
    assert_eq!(body["error"], "insufficient_loa");
    app.assert_logged_out().await;
    assert_eq!(app.login_as("ola").await.response.status(), StatusCode::SEE_OTHER);
}

/// With the default selector a LOA 4 minimum asks for BankID High
/// (`urn:bankid:bid`), so Kari steps up instead of failing; a provider that
/// answers with biometrics anyway is still refused, by the token's `acr`.
#[tokio::test]
async fn minimum_loa_4_asks_for_bankid_high_and_still_checks_the_token() {
    let app = TestApp::builder().configure(|b| b.minimum_loa(axum_bankid::Loa::HIGH)).start().await;
    assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get_json("/me").await.1["loa"], 4);
    app.sim.add_fault(axum_bankid_simulator::Fault::BelowAskedLevel);
    let (_, body) = error_body(app.login_as("kari").await.response).await;
    assert_eq!(body["error"], "insufficient_loa");
}

#[tokio::test]
async fn client_secret_post_works() {
    let app = TestApp::builder()
        .configure(|b| {
            b.client_auth(axum_bankid::ClientAuth::client_secret_post(axum_bankid_simulator::DEFAULT_CLIENT_SECRET))
        })
        .start()
        .await;
    assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get_json("/me").await.0, StatusCode::OK);
}

#[tokio::test]
async fn access_denied_is_a_typed_error() {
    let app = TestApp::builder().start().await;
    let callback = app.login_with("kari", "deny", "/me").await;
    assert_eq!(param(&callback.url, "error").as_deref(), Some("access_denied"));
    let (status, body) = error_body(callback.response).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "access_denied");
    app.assert_logged_out().await;
}

#[tokio::test]
async fn missing_state_is_refused() {
    let app = TestApp::builder().start().await;
    let authorize_url = app.begin_login("/me").await;
    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    let response = app.client.get(with_param(&callback_url, "state", None)).send().await.unwrap();
    let (status, body) = error_body(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "missing_state");
    app.assert_logged_out().await;
}

#[tokio::test]
async fn unknown_state_is_refused() {
    let app = TestApp::builder().start().await;
    let authorize_url = app.begin_login("/me").await;
    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    let forged = with_param(&callback_url, "state", Some("forged-state-value-0000000"));
    let (status, body) = error_body(app.client.get(forged).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unknown_state");
    app.assert_logged_out().await;
}

#[tokio::test]
async fn state_from_another_browser_is_refused() {
    // Login CSRF: the attacker's own callback URL replayed in the victim's browser.
    let attacker = TestApp::builder().start().await;
    let authorize_url = attacker.begin_login("/me").await;
    let callback_url = attacker.authorize(&authorize_url, "kari", "approve").await;
    let victim =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap();
    let (status, body) = error_body(victim.get(&callback_url).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unknown_state");
}

/// A spent callback is refused once the login it made is over. (While it
/// lasts, the same browser is sent to the landing again, see
/// `tests/adversarial_sessions.rs::a_repeated_callback_lands_where_the_completed_login_went`.)
#[tokio::test]
async fn replayed_callback_is_refused() {
    let app = TestApp::builder().start().await;
    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    let logout = app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    let (status, body) = error_body(app.client.get(&callback.url).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unknown_state");
}

#[tokio::test]
async fn replayed_code_is_refused_by_the_provider() {
    let app = TestApp::builder().start().await;
    let first = app.login_as("kari").await;
    let used_code = param(&first.url, "code").unwrap();
    // A fresh login attempt (valid state), but with the old code injected.
    let other = TestApp::builder().start().await;
    let authorize_url = other.begin_login("/me").await;
    let callback_url = other.authorize(&authorize_url, "kari", "approve").await;
    let injected = with_param(&callback_url, "code", Some(&used_code));
    let response = other.client.get(injected).send().await.unwrap();
    let text_status = response.status();
    let (status, body) = error_body(response).await;
    assert_eq!(status, text_status);
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"], "token_exchange_failed");
    assert_eq!(body["detail"], "invalid_grant");
    other.assert_logged_out().await;

    // Same app, same code twice: also refused.
    let authorize_url = app.begin_login("/me").await;
    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    let replay = with_param(&callback_url, "code", Some(&used_code));
    let (_, body) = error_body(app.client.get(replay).send().await.unwrap()).await;
    assert_eq!(body["detail"], "invalid_grant");
}

#[tokio::test]
async fn duplicated_parameters_are_refused() {
    let app = TestApp::builder().start().await;
    let authorize_url = app.begin_login("/me").await;
    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    let state = param(&callback_url, "state").unwrap();
    let polluted = format!("{callback_url}&state={state}");
    let (status, body) = error_body(app.client.get(polluted).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "malformed_callback");
    app.assert_logged_out().await;
}

#[tokio::test]
async fn callback_issuer_is_checked() {
    let app = TestApp::builder().start().await;
    let authorize_url = app.begin_login("/me").await;
    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    let wrong = with_param(&callback_url, "iss", Some("https://evil.example"));
    let (_, body) = error_body(app.client.get(wrong).send().await.unwrap()).await;
    assert_eq!(body["error"], "callback_issuer_mismatch");
    app.assert_logged_out().await;

    // The simulator advertises RFC 9207 support, so a missing iss is refused too.
    let authorize_url = app.begin_login("/me").await;
    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    let stripped = with_param(&callback_url, "iss", None);
    let (_, body) = error_body(app.client.get(stripped).send().await.unwrap()).await;
    assert_eq!(body["error"], "missing_callback_issuer");
    app.assert_logged_out().await;
}

#[tokio::test]
async fn foreign_return_to_goes_home() {
    let app = TestApp::builder().start().await;
    for target in ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"] {
        let callback = app.login_with("kari", "approve", target).await;
        assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&callback.response), "/", "return_to {target:?}");
    }
    let callback = app.login_with("kari", "approve", "/reports?year=2026").await;
    assert_eq!(location(&callback.response), "/reports?year=2026");
}

#[tokio::test]
async fn concurrent_logins_in_one_browser_do_not_clobber_each_other() {
    let app = TestApp::builder().start().await;
    let tab_a = app.begin_login("/a").await;
    let tab_b = app.begin_login("/b").await;
    let callback_b = app.authorize(&tab_b, "kari", "approve").await;
    let callback_a = app.authorize(&tab_a, "ola", "approve").await;
    let response_b = app.client.get(&callback_b).send().await.unwrap();
    assert_eq!(location(&response_b), "/b");
    let response_a = app.client.get(&callback_a).send().await.unwrap();
    assert_eq!(location(&response_a), "/a");
    assert_eq!(app.get_json("/me").await.1["name"], "Ola Nordmann", "the later callback's user");
}

#[tokio::test]
async fn expired_login_attempt_is_refused() {
    let app = TestApp::builder().configure(|b| b.login_attempt_ttl(Duration::from_secs(1))).start().await;
    let authorize_url = app.begin_login("/me").await;
    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = error_body(app.client.get(callback_url).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "login_expired");
    app.assert_logged_out().await;
}

#[tokio::test]
async fn pending_logins_are_bounded() {
    let app = TestApp::builder().configure(|b| b.max_pending_logins(2)).start().await;
    let oldest = app.begin_login("/1").await;
    let _ = app.begin_login("/2").await;
    let _ = app.begin_login("/3").await;
    let callback_url = app.authorize(&oldest, "kari", "approve").await;
    let (_, body) = error_body(app.client.get(callback_url).send().await.unwrap()).await;
    assert_eq!(body["error"], "unknown_state", "the oldest attempt was evicted");
}

/// Identity is (`iss`, `sub`), so the issuer is on the user; `sid` and
/// `api_ver` are surfaced as the token carries them (read tolerantly:
/// `api_ver` as a string or a number, absent is `null`).
#[tokio::test]
async fn the_user_carries_issuer_session_and_api_version() {
    let app = TestApp::builder().start().await;
    app.login_as("kari").await;
    let (_, me) = app.get_json("/me").await;
    assert_eq!(me["iss"], app.sim.issuer());
    assert_eq!(me["sid"], me["claims"]["sid"]);
    assert!(me["sid"].is_string(), "{me}");
    let expected_api_ver = match &me["claims"]["api_ver"] {
        serde_json::Value::Number(n) => serde_json::json!(n.to_string()),
        other => other.clone(),
    };
    assert_eq!(me["api_ver"], expected_api_ver);
    assert!(me["amr"].is_array());
}

#[tokio::test]
async fn granted_identifiers_reach_the_user() {
    let app = TestApp::builder().configure(|b| b.scopes(["profile", "nnin_altsub"])).start().await;
    app.login_as("kari").await;
    let (_, me) = app.get_json("/me").await;
    let kari = axum_bankid_simulator::Simulator::default_users().iter().find(|u| u.id() == "kari").unwrap();
    assert_eq!(me["nnin_altsub"], kari.nnin());
    assert_eq!(me["bankid_altsub"], kari.bankid_altsub());
    assert_eq!(me["birthdate"], kari.birthdate());
    assert_eq!(me["amr"], serde_json::json!(["bis-mfa", "bis-hwk"]));
    assert!(me["auth_time"].as_i64().is_some());
    assert_eq!(me["claims"]["nnin_altsub"], kari.nnin(), "the full claim set is kept");

    // Without the scope the number is not there.
    let plain = TestApp::builder().start().await;
    plain.login_as("kari").await;
    assert!(plain.get_json("/me").await.1["nnin_altsub"].is_null());
}

fn client_key() -> axum_bankid::ClientAssertionKey {
    let pem = axum_bankid_simulator::Simulator::client_private_key_pem();
    axum_bankid::ClientAssertionKey::rsa_pem(pem.as_bytes(), None).unwrap()
}

#[tokio::test]
async fn private_key_jwt_works_without_a_secret() {
    // PAR and the code exchange both authenticate with a signed assertion.
    let app = TestApp::builder()
        .configure(|b| b.client_auth(axum_bankid::ClientAuth::private_key_jwt(client_key())))
        .start()
        .await;
    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get_json("/me").await.1["loa"], 3);
    let pushed = app.sim.last_par_params().unwrap();
    assert_eq!(pushed["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    assert!(!pushed.contains_key("client_secret"));
}

#[tokio::test]
async fn private_key_jwt_with_the_wrong_key_is_refused() {
    let other_pem = include_str!("../../simulator/src/keys/sim-unknown.pem");
    let wrong = axum_bankid::ClientAssertionKey::rsa_pem(other_pem.as_bytes(), None).unwrap();
    let app =
        TestApp::builder().configure(|b| b.client_auth(axum_bankid::ClientAuth::private_key_jwt(wrong))).start().await;
    let response = app.client.get(app.url("/auth/bankid/login?return_to=/me")).send().await.unwrap();
    let (status, body) = error_body(response).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"], "par_failed");
    assert_eq!(body["detail"], "invalid_client");
}
