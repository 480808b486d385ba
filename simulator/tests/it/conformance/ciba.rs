//! CIBA at BIB: BankID's backchannel request and token poll, and every
//! other shape refused.

use std::collections::BTreeSet;

use serde_json::json;

use super::*;
use axum_bankid_simulator::{CibaBehavior, CibaStatus, Endpoint, Fault, Simulator};

#[tokio::test]
async fn ciba_in_bankids_exact_shapes_from_user_exists_to_verified_id_token() {
    let bank = Bank::start().await;
    let token = bank.client_token(ALL_SCOPES).await;
    let exists = bank.user_exists(&token, &json!({"loginHint": [{"scheme": "nnin", "value": KARI_NNIN}]})).await;
    assert_eq!(json_ok(exists).await["exists"], true);
    let (id, permission_token, binding) =
        bank.register(&token, &registration("payment.v1", &["ciba"], Some(KARI_NNIN))).await;

    let started = json_ok(bank.backchannel(&token, &permission_token, &binding).await).await;
    let auth_req_id = started["auth_req_id"].as_str().expect("auth_req_id").to_owned();
    let expires_in = started["expires_in"].as_u64().expect("expires_in");
    assert!((1..=600).contains(&expires_in), "the registration's exp - now: {expires_in}");
    assert_eq!(started["interval"], 5);
    assert_eq!(bank.sim.request_count(Endpoint::BackchannelAuthentication), 1);

    let requests = bank.sim.ciba_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].binding_message.as_deref(), Some(binding.as_str()));
    assert_eq!(requests[0].login_hint, KARI_NNIN);
    let phone = bank.http.get(bank.oidc(&format!("/phone?login_hint={KARI_NNIN}"))).send().await.expect("phone");
    assert!(phone.text().await.expect("page").contains(&binding), "the phone shows BankID's binding message");

    assert!(bank.sim.ciba_decide(&auth_req_id, true));
    let tokens = json_ok(bank.poll(&token, &auth_req_id).await).await;
    let members: BTreeSet<&str> = tokens.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(members, BTreeSet::from(["access_token", "token_type", "expires_in", "id_token"]));
    assert_eq!(tokens["token_type"], "Bearer");

    let id_token = tokens["id_token"].as_str().expect("id_token");
    assert_eq!(kid(id_token), "bib-1");
    let bib = bank.sim.bib_issuer();
    let claims = verify(id_token, &bank.jwks(bank.bib("/jwks")).await, &bib, Some(bank.sim.client_id()))
        .expect("verifies with BIB's jwks_uri");
    let oidc_keys = bank.jwks(bank.oidc("/jwks")).await;
    assert!(verify(id_token, &oidc_keys, &bib, None).is_err(), "not with BankID OIDC's keys");
    let kari = &Simulator::default_users()[0];
    assert_eq!(claims["acr"], "urn:bankid:bis");
    assert_eq!(claims["amr"], json!(["bis-mfa", "bis-hwk"]));
    assert_eq!(claims["sub"], kari.bib_sub(), "BIB's subject, not the code flow's");
    assert_ne!(claims["sub"], kari.sub());
    assert_eq!(claims["sub_nnin"], KARI_NNIN);
    assert_eq!(claims["sub_bankid"], kari.bankid_altsub());
    assert_eq!(claims["name"], kari.name());
    assert_eq!(claims["birthdate"], kari.birthdate());
    assert_eq!(claims["urn:openid:params:jwt:claim:auth_req_id"], auth_req_id);
    assert!(claims["auth_time"].is_u64());

    // The approved payment's grant is there now.
    assert_eq!(bank.grant(&token, &id).await.status(), StatusCode::OK);
    // Tokens once: a second poll is refused (after the interval, or early).
    let again = bank.poll(&token, &auth_req_id).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn polls_before_a_decision_are_pending_and_faulted_polls_fail_as_before() {
    let bank = Bank::start().await;
    let token = bank.client_token(ALL_SCOPES).await;
    let (_, pending) = bank.start_ciba(&token, KARI_NNIN).await;
    expect_error(bank.poll(&token, &pending).await, 400, "authorization_pending").await;
    expect_error(bank.poll(&token, "unknown").await, 400, "invalid_grant").await;

    bank.sim.set_ciba_behavior("ola", CibaBehavior::Deny);
    let (_, denied) = bank.start_ciba(&token, "02917943136").await;
    expect_error(bank.poll(&token, &denied).await, 400, "access_denied").await;

    bank.sim.add_fault(Fault::TokenEndpointError);
    expect_error(bank.poll(&token, &pending).await, 400, "invalid_grant").await;
    bank.sim.clear_faults();
    bank.sim.add_fault(Fault::TokenEndpointServerError);
    assert_eq!(bank.poll(&token, &pending).await.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn backchannel_refuses_the_old_dialect_and_every_other_parameter_by_name() {
    let bank = Bank::start().await;
    let token = bank.client_token(ALL_SCOPES).await;
    let (_, permission_token, binding) =
        bank.register(&token, &registration("payment.v1", &["ciba"], Some(KARI_NNIN))).await;
    let good = [
        ("login_hint_token", permission_token.as_str()),
        ("scope", "openid permissions/ciba"),
        ("binding_message", binding.as_str()),
    ];
    for (extra, value, named) in [
        ("login_hint", KARI_NNIN, "login_hint_token"),
        ("id_token_hint", "a.b.c", "id_token_hint"),
        ("requested_expiry", "60", "requested_expiry"),
        ("acr_values", "urn:bankid:bis", "acr_values"),
        ("authorization_details", "[]", "authorization_details"),
        ("client_id", "sim-client", "client_id"),
    ] {
        let mut form = good.to_vec();
        form.push((extra, value));
        let why =
            expect_error(bank.bc_authorize(&token, &form).send().await.expect("send"), 400, "invalid_request").await;
        assert!(why.contains(named), "{extra}: {why}");
    }
    // The old dialect alone: a login_hint instead of a login_hint_token.
    let old = [("login_hint", KARI_NNIN), ("scope", "openid"), ("binding_message", "ABC 12")];
    let why = expect_error(bank.bc_authorize(&token, &old).send().await.expect("send"), 400, "invalid_request").await;
    assert!(why.contains("permissionToken as login_hint_token"), "{why}");

    let no_ciba_scope = [good[0], ("scope", "openid"), good[2]];
    expect_error(bank.bc_authorize(&token, &no_ciba_scope).send().await.expect("send"), 400, "invalid_scope").await;
    let no_binding = [good[0], good[1]];
    let why =
        expect_error(bank.bc_authorize(&token, &no_binding).send().await.expect("send"), 400, "invalid_request").await;
    assert!(why.contains("binding_message"), "{why}");
    let app_made = [good[0], good[1], ("binding_message", "MY CODE 1")];
    expect_error(bank.bc_authorize(&token, &app_made).send().await.expect("send"), 400, "invalid_binding_message")
        .await;
    let unknown = [("login_hint_token", "nope"), good[1], good[2]];
    let why =
        expect_error(bank.bc_authorize(&token, &unknown).send().await.expect("send"), 400, "invalid_request").await;
    assert!(why.contains("permissionToken"), "{why}");
    assert!(bank.sim.ciba_requests().is_empty(), "no refused request started anything");

    // The refusals above left the permission token unused; now it is used.
    json_ok(bank.bc_authorize(&token, &good).send().await.expect("send")).await;
    let why = expect_error(bank.bc_authorize(&token, &good).send().await.expect("send"), 400, "invalid_request").await;
    assert!(why.contains("already used"), "{why}");
}

#[tokio::test]
async fn backchannel_needs_a_ciba_registration_for_a_user_with_biometrics_that_has_not_expired() {
    let bank = Bank::start().await;
    let token = bank.client_token(ALL_SCOPES).await;
    let (_, no_intent, binding) = bank.register(&token, &registration("payment.v1", &[], Some(KARI_NNIN))).await;
    let why = expect_error(bank.backchannel(&token, &no_intent, &binding).await, 400, "invalid_request").await;
    assert!(why.contains("intents"), "{why}");

    let (_, nina, binding) = bank.register(&token, &registration("payment.v1", &["ciba"], Some(NINA_NNIN))).await;
    expect_error(bank.backchannel(&token, &nina, &binding).await, 400, "unknown_user_id").await;

    let (_, nobody, binding) = bank.register(&token, &registration("payment.v1", &["ciba"], None)).await;
    let why = expect_error(bank.backchannel(&token, &nobody, &binding).await, 400, "invalid_request").await;
    assert!(why.contains("loginHint"), "{why}");

    // Registered with iat 290 s ago and exp 10 s ago: valid to register,
    // expired for CIBA.
    let mut stale = registration("payment.v1", &["ciba"], Some(KARI_NNIN));
    stale["iat"] = json!(unix_now() - 290);
    stale["exp"] = json!(unix_now() - 10);
    let (_, stale, binding) = bank.register(&token, &stale).await;
    expect_error(bank.backchannel(&token, &stale, &binding).await, 400, "expired_login_hint_token").await;
}

#[tokio::test]
async fn backchannel_faults_and_phone_behaviours_fail_at_initiation() {
    let bank = Bank::start().await;
    let token = bank.client_token(ALL_SCOPES).await;
    let (_, permission_token, binding) =
        bank.register(&token, &registration("payment.v1", &["ciba"], Some(KARI_NNIN))).await;
    bank.sim.add_fault(Fault::BackchannelRefused);
    expect_error(bank.backchannel(&token, &permission_token, &binding).await, 400, "access_denied").await;
    bank.sim.clear_faults();

    bank.sim.set_ciba_behavior("kari", CibaBehavior::AppUninstalled);
    expect_error(bank.backchannel(&token, &permission_token, &binding).await, 400, "app_unavailable").await;
    assert!(bank.sim.ciba_requests().is_empty());
}

#[tokio::test]
async fn approve_after_polls_still_works_at_bib() {
    let bank = Bank::start().await;
    let token = bank.client_token(ALL_SCOPES).await;
    bank.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let (_, auth_req_id) = bank.start_ciba(&token, KARI_NNIN).await;
    let tokens = json_ok(bank.poll(&token, &auth_req_id).await).await;
    assert!(tokens["id_token"].is_string());
    assert_eq!(bank.sim.ciba_requests()[0].status, CibaStatus::TokensIssued);
}

#[tokio::test]
async fn bib_token_endpoint_takes_only_ciba_polls_in_bankids_shape() {
    let bank = Bank::start().await;
    let token = bank.client_token(ALL_SCOPES).await;
    let (_, auth_req_id) = bank.start_ciba(&token, KARI_NNIN).await;
    let url = bank.bib("/token");
    let code = [("grant_type", "authorization_code"), ("code", "x")];
    let response = bank.http.post(&url).bearer_auth(&token).form(&code).send().await.expect("send");
    expect_error(response, 400, "unsupported_grant_type").await;
    let extra = [("grant_type", CIBA_GRANT), ("auth_req_id", auth_req_id.as_str()), ("scope", "openid")];
    let response = bank.http.post(&url).bearer_auth(&token).form(&extra).send().await.expect("send");
    let why = expect_error(response, 400, "invalid_request").await;
    assert!(why.contains("scope"), "{why}");
    let json_body = bank.http.post(&url).bearer_auth(&token).json(&json!({"grant_type": CIBA_GRANT})).send().await;
    expect_error(json_body.expect("send"), 400, "invalid_request").await;
}

#[tokio::test]
async fn ciba_id_token_signed_by_the_oidc_key_fails_bib_verification() {
    let bank = Bank::start().await;
    let token = bank.client_token(ALL_SCOPES).await;
    bank.sim.add_fault(Fault::CibaIdTokenSignedByOidcKey);
    let (_, auth_req_id) = bank.start_ciba(&token, KARI_NNIN).await;
    assert!(bank.sim.ciba_decide(&auth_req_id, true));
    let tokens = json_ok(bank.poll(&token, &auth_req_id).await).await;
    let id_token = tokens["id_token"].as_str().expect("id_token");
    assert_eq!(kid(id_token), "sim-1");
    let bib = bank.sim.bib_issuer();
    assert!(verify(id_token, &bank.jwks(bank.bib("/jwks")).await, &bib, None).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_permission_token_starts_exactly_one_ciba_request_under_concurrent_use() {
    let bank = Bank::start().await;
    let token = bank.client_token(ALL_SCOPES).await;
    for round in 0..200 {
        let (_, permission_token, binding) =
            bank.register(&token, &registration("payment.v1", &["ciba"], Some(KARI_NNIN))).await;
        let attempts = (0..16).map(|_| bank.backchannel(&token, &permission_token, &binding));
        let statuses: Vec<u16> =
            futures_util::future::join_all(attempts).await.iter().map(|response| response.status().as_u16()).collect();
        assert_eq!(statuses.iter().filter(|status| **status == 200).count(), 1, "round {round}: {statuses:?}");
        assert!(statuses.iter().all(|status| [200, 400].contains(status)), "round {round}: {statuses:?}");
    }
    assert_eq!(bank.sim.ciba_requests().len(), 200);
}
