//! Client credentials at BankID OIDC, the two discovery documents and
//! keys, and the access check every BIB endpoint makes.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::*;
use axum_bankid_simulator::{Issuer, Simulator};

#[tokio::test]
async fn client_credentials_token_has_bankids_shape() {
    let bank = Bank::start().await;
    let body = json_ok(bank.client_token_response(ALL_SCOPES).await).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], ALL_SCOPES);
    assert!(body["access_token"].as_str().is_some_and(|token| token.len() >= 32));

    // client_secret_post works as well.
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "openid permissions/client"),
        ("client_id", bank.sim.client_id()),
        ("client_secret", bank.sim.client_secret()),
    ];
    let post = bank.http.post(bank.oidc("/token")).form(&form).send().await.expect("send");
    assert_eq!(json_ok(post).await["scope"], "openid permissions/client");

    let unknown = bank.client_token_response("openid permissions/iframe").await;
    let why = expect_error(unknown, 400, "invalid_scope").await;
    assert!(why.contains("permissions/iframe"), "{why}");

    let short = Bank::with(Simulator::builder().client_token_lifetime(Duration::from_secs(60))).await;
    assert_eq!(json_ok(short.client_token_response(ALL_SCOPES).await).await["expires_in"], 60);
}

#[tokio::test]
async fn each_issuer_has_its_own_discovery_and_keys() {
    let bank = Bank::start().await;
    let oidc = json_ok(bank.http.get(bank.sim.discovery_url()).send().await.expect("send")).await;
    let bib = json_ok(bank.http.get(bank.sim.bib_discovery_url()).send().await.expect("send")).await;
    assert_eq!(oidc["issuer"], bank.sim.issuer());
    assert!(oidc.get("backchannel_authentication_endpoint").is_none(), "CIBA is BIB's");
    assert_ne!(bank.sim.issuer(), bank.sim.bib_issuer());
    let b = bank.sim.bib_issuer();
    assert_eq!(bib["issuer"], b);
    assert_eq!(bib["permissions_endpoint"], format!("{b}/permissions/"));
    assert_eq!(bib["jwks_uri"], format!("{b}/jwks"));
    assert_eq!(bib["jwks_uri_grants"], format!("{b}/jwks/grants"));
    assert_eq!(bib["backchannel_authentication_endpoint"], format!("{b}/bc-authorize"));
    assert_eq!(bib["token_endpoint"], format!("{b}/token"));
    assert_eq!(bib["id_token_signing_alg_values_supported"], json!(["ES256"]));
    assert_eq!(bib["backchannel_token_delivery_modes_supported"], json!(["poll"]));

    let kids = |jwks: JwkSet| -> Vec<String> { jwks.keys.into_iter().filter_map(|key| key.common.key_id).collect() };
    assert_eq!(kids(bank.jwks(oidc["jwks_uri"].as_str().expect("uri").to_owned()).await), ["sim-1"]);
    assert_eq!(kids(bank.jwks(format!("{b}/jwks")).await), ["bib-1"]);
    assert_eq!(kids(bank.jwks(format!("{b}/jwks/grants")).await), ["bib-grant-1"]);
}

/// A form body.
type Form = Vec<(&'static str, &'static str)>;

/// Every BIB endpoint that takes a token, with a body of the right shape.
fn bib_calls(bank: &Bank) -> Vec<(Method, String, Option<Form>)> {
    let form = Some(vec![("grant_type", CIBA_GRANT), ("auth_req_id", "x")]);
    vec![
        (Method::POST, bank.bib("/permissions/"), None),
        (Method::POST, bank.bib("/permissions/user-exists"), None),
        (Method::GET, bank.bib("/permissions/some-id/grant"), None),
        (Method::POST, bank.bib("/bc-authorize"), Some(vec![("login_hint_token", "t")])),
        (Method::POST, bank.bib("/token"), form),
    ]
}

fn send(bank: &Bank, method: &Method, url: &str, form: Option<&[(&'static str, &'static str)]>) -> RequestBuilder {
    let request = bank.http.request(method.clone(), url);
    match form {
        Some(form) => request.form(form),
        None if *method == Method::POST => request.json(&json!({})),
        None => request,
    }
}

#[tokio::test]
async fn bib_refuses_missing_unknown_and_expired_tokens_with_a_bearer_challenge() {
    let bank = Bank::start().await;
    let expired_bank = Bank::with(Simulator::builder().client_token_lifetime(Duration::ZERO)).await;
    let expired = expired_bank.client_token(ALL_SCOPES).await;
    for (method, url, form) in bib_calls(&bank) {
        let form = form.as_deref();
        for request in [send(&bank, &method, &url, form), send(&bank, &method, &url, form).bearer_auth("not-a-token")] {
            let response = request.send().await.expect("send");
            let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().expect("ascii").to_owned());
            assert_eq!(challenge.as_deref(), Some(r#"Bearer error="invalid_token""#), "{url}");
            expect_error(response, 401, "invalid_token").await;
        }
    }
    for (method, path, form) in bib_calls(&expired_bank) {
        let response = send(&expired_bank, &method, &path, form.as_deref()).bearer_auth(&expired).send().await;
        expect_error(response.expect("send"), 401, "invalid_token").await;
    }
}

#[tokio::test]
async fn bib_refuses_client_authentication_naming_it() {
    let bank = Bank::start().await;
    let token = bank.client_token(ALL_SCOPES).await;
    for (method, url, form) in bib_calls(&bank) {
        let basic = send(&bank, &method, &url, form.as_deref())
            .basic_auth(bank.sim.client_id(), Some(bank.sim.client_secret()))
            .send()
            .await
            .expect("send");
        let why = expect_error(basic, 400, "invalid_request").await;
        assert!(why.contains("not client authentication") && why.contains("Basic"), "{url}: {why}");
    }
    for url in [bank.bib("/bc-authorize"), bank.bib("/token")] {
        for name in ["client_secret", "client_assertion"] {
            let form = [("grant_type", CIBA_GRANT), ("auth_req_id", "x"), (name, "secret")];
            let response = bank.http.post(&url).bearer_auth(&token).form(&form).send().await.expect("send");
            let why = expect_error(response, 400, "invalid_request").await;
            assert!(why.contains(name), "{url}: {why}");
        }
    }
}

#[tokio::test]
async fn bib_checks_the_scope_each_endpoint_needs() {
    let bank = Bank::start().await;
    let client_only = bank.client_token("openid permissions/client").await;
    let ciba_only = bank.client_token("openid permissions/ciba").await;
    for (method, url, form) in bib_calls(&bank) {
        let needs_ciba = url.ends_with("/bc-authorize") || url.ends_with("/token");
        let wrong = if needs_ciba { &client_only } else { &ciba_only };
        let response = send(&bank, &method, &url, form.as_deref()).bearer_auth(wrong).send().await.expect("send");
        let why = expect_error(response, 403, "insufficient_scope").await;
        let scope = if needs_ciba { "permissions/ciba" } else { "permissions/client" };
        assert!(why.contains(scope), "{url}: {why}");
    }
}

#[tokio::test]
async fn the_old_dialect_paths_are_gone_from_bankid_oidc() {
    let bank = Bank::start().await;
    for path in ["/bc-authorize", "/permissions", "/user-exists", "/permissions/x/signed"] {
        let response = bank.http.post(bank.oidc(path)).send().await.expect("send");
        let why = expect_error(response, 404, "not_found").await;
        assert!(why.contains("BIB"), "{path}: {why}");
    }
    let token = bank.client_token(ALL_SCOPES).await;
    let at_oidc = bank
        .http
        .post(bank.oidc("/token"))
        .basic_auth(bank.sim.client_id(), Some(bank.sim.client_secret()))
        .form(&[("grant_type", CIBA_GRANT), ("auth_req_id", "x")])
        .send()
        .await
        .expect("send");
    let why = expect_error(at_oidc, 400, "unsupported_grant_type").await;
    assert!(why.contains("BIB"), "{why}");
    // BIB's permissions_endpoint ends in '/': without it there is nothing.
    let no_slash = bank.http.post(bank.bib("/permissions")).bearer_auth(&token).json(&json!({})).send().await;
    expect_error(no_slash.expect("send"), 404, "not_found").await;
}

#[tokio::test]
async fn requests_to_both_issuers_are_captured_in_order() {
    let bank = Bank::start().await;
    let token = bank.client_token(ALL_SCOPES).await;
    let exists = bank.user_exists(&token, &json!({"loginHint": [{"scheme": "nnin", "value": KARI_NNIN}]})).await;
    json_ok(exists).await;
    let requests = bank.sim.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        (requests[0].issuer, requests[0].method.as_str(), requests[0].path.as_str()),
        (Issuer::Oidc, "POST", "/token")
    );
    assert!(requests[0].header("authorization").is_some_and(|value| value.starts_with("Basic ")));
    assert_eq!(requests[0].body, "grant_type=client_credentials&scope=openid+permissions%2Fclient+permissions%2Fciba");
    assert_eq!(requests[1].issuer, Issuer::Bib);
    assert_eq!(requests[1].path, "/permissions/user-exists");
    assert_eq!(requests[1].query, None);
    assert_eq!(requests[1].header("Authorization"), Some(format!("Bearer {token}").as_str()));
    assert_eq!(requests[1].body, format!(r#"{{"loginHint":[{{"scheme":"nnin","value":"{KARI_NNIN}"}}]}}"#));
    assert!(!format!("{:?}", requests[1]).contains(&token), "Debug hides header values");
    bank.sim.clear_requests();
    assert!(bank.sim.requests().is_empty());
}
