//! BIB's Permission API: user-exists, register and the grant.

use serde_json::json;

use super::*;
use axum_bankid_simulator::{Endpoint, Fault};

fn nnin_hint(nnin: &str) -> Value {
    json!({"loginHint": [{"scheme": "nnin", "value": nnin}]})
}

#[tokio::test]
async fn user_exists_answers_true_for_users_with_biometrics_only() {
    let bank = Bank::start().await;
    let token = bank.client_token("openid permissions/client").await;
    assert_eq!(json_ok(bank.user_exists(&token, &nnin_hint(KARI_NNIN)).await).await, json!({"exists": true}));
    assert_eq!(json_ok(bank.user_exists(&token, &nnin_hint(NINA_NNIN)).await).await, json!({"exists": false}));
    assert_eq!(json_ok(bank.user_exists(&token, &nnin_hint("01010100000")).await).await, json!({"exists": false}));
    assert_eq!(bank.sim.request_count(Endpoint::UserExists), 3);

    bank.sim.add_fault(Fault::UserExistsFalse);
    assert_eq!(json_ok(bank.user_exists(&token, &nnin_hint(KARI_NNIN)).await).await, json!({"exists": false}));
    bank.sim.clear_faults();
    bank.sim.add_fault(Fault::UserExistsError);
    let error = bank.user_exists(&token, &nnin_hint(KARI_NNIN)).await;
    assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(bank.sim.request_count(Endpoint::UserExists), 5);
}

#[tokio::test]
async fn user_exists_refuses_the_old_dialect_and_other_shapes() {
    let bank = Bank::start().await;
    let token = bank.client_token("openid permissions/client").await;
    for (body, named) in [
        (json!({"login_hint": KARI_NNIN}), "login_hint"),
        (json!({"loginHint": KARI_NNIN}), "array"),
        (json!({"loginHint": [{"scheme": "nnin", "value": 17858642043u64}]}), "11 digits"),
        (json!({"loginHint": [{"scheme": "bankid", "value": KARI_NNIN}]}), "scheme"),
        (json!({}), "loginHint is required"),
    ] {
        let why = expect_error(bank.user_exists(&token, &body).await, 400, "invalid_request").await;
        assert!(why.contains(named), "{body}: {why}");
    }
}

#[tokio::test]
async fn register_answers_id_permission_token_and_a_binding_message_it_made() {
    let bank = Bank::start().await;
    let token = bank.client_token("openid permissions/client").await;
    let (id, permission_token, binding) =
        bank.register(&token, &registration("payment.v1", &["ciba"], Some(KARI_NNIN))).await;
    assert_ne!(id, permission_token);
    assert!(!binding.is_empty() && binding.chars().count() <= 20, "{binding}");
    let (other_id, other_token, _) = bank.register(&token, &registration("payment.v1", &[], None)).await;
    assert_ne!(id, other_id);
    assert_ne!(permission_token, other_token);
}

#[tokio::test]
async fn register_refuses_the_old_dialect_and_wrong_shapes_by_name() {
    let bank = Bank::start().await;
    let token = bank.client_token("openid permissions/client").await;
    let valid = registration("payment.v1", &["ciba"], Some(KARI_NNIN));
    let now = unix_now();
    let changes: Vec<(&str, Value, &str)> = vec![
        ("login_hint", json!(KARI_NNIN), "unknown member login_hint"),
        ("permission_id", json!("p"), "unknown member permission_id"),
        ("iat", Value::Null, "iat"),
        ("exp", json!(now + 3601), "at most 3600"),
        ("iat", json!(now - 3600), "iat must be within"),
        ("permission", json!("e30="), ""),
        ("permission", json!("not base64!"), "base64url"),
        ("loginHint", json!([{"scheme": "nnin", "value": "123"}]), "11 digits"),
        ("signals", json!({"screen": 1}), "unknown signals member screen"),
    ];
    for (member, value, named) in changes {
        let mut body = valid.clone();
        if value.is_null() {
            body.as_object_mut().expect("object").remove(member);
        } else {
            body[member] = value;
        }
        let response = bank.register_response(&token, &body).await;
        if named.is_empty() {
            // `e30=` is padded standard base64 of `{}`: accepted too.
            json_ok(response).await;
            continue;
        }
        let why = expect_error(response, 400, "invalid_request").await;
        assert!(why.contains(named), "{member}: {why}");
    }
    bank.sim.add_fault(Fault::RegisterRefused);
    let why = expect_error(bank.register_response(&token, &valid).await, 400, "invalid_request").await;
    assert_eq!(why, "simulated refusal");
}

#[tokio::test]
async fn grant_is_404_until_approved_then_a_plain_text_jws_signed_with_the_grant_key() {
    let bank = Bank::start().await;
    let token = bank.client_token(ALL_SCOPES).await;
    expect_error(bank.grant(&token, "no-such-id").await, 404, "not_found").await;
    let (id, auth_req_id) = bank.start_ciba(&token, KARI_NNIN).await;
    expect_error(bank.grant(&token, &id).await, 404, "not_found").await;
    assert!(bank.sim.ciba_decide(&auth_req_id, true));

    let response = bank.grant(&token, &id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers().get("content-type").expect("content type").to_str().expect("ascii");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let jws = response.text().await.expect("body");
    assert_eq!(jws.split('.').count(), 3, "a compact JWS, no JSON envelope");
    let header = jsonwebtoken::decode_header(&jws).expect("header");
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(kid(&jws), "bib-grant-1");

    let bib = bank.sim.bib_issuer();
    let grants = bank.jwks(bank.bib("/jwks/grants")).await;
    let claims = verify(&jws, &grants, &bib, None).expect("verifies with jwks_uri_grants");
    assert!(verify(&jws, &bank.jwks(bank.bib("/jwks")).await, &bib, None).is_err(), "not with jwks_uri");
    let kari = &axum_bankid_simulator::Simulator::default_users()[0];
    assert_eq!(claims["sub"], kari.bib_sub(), "the grant is BIB's: BIB's subject");
    assert_eq!(claims["type"], "payment.v1");
    assert_eq!(claims["permissionId"], id);
    assert_eq!(claims["digest"], statement_digest());
    assert!(claims["nonce"].as_str().is_some_and(|nonce| !nonce.is_empty()));
    assert!(claims["exp"].as_u64() > claims["iat"].as_u64());
}

#[tokio::test]
async fn denied_grant_is_403_access_denied() {
    let bank = Bank::start().await;
    let token = bank.client_token(ALL_SCOPES).await;
    let (id, auth_req_id) = bank.start_ciba(&token, KARI_NNIN).await;
    assert!(bank.sim.ciba_decide(&auth_req_id, false));
    expect_error(bank.grant(&token, &id).await, 403, "access_denied").await;
}

#[tokio::test]
async fn grant_faults_delay_it_or_sign_it_with_the_wrong_key() {
    let bank = Bank::start().await;
    let token = bank.client_token(ALL_SCOPES).await;
    let (id, auth_req_id) = bank.start_ciba(&token, KARI_NNIN).await;
    assert!(bank.sim.ciba_decide(&auth_req_id, true));
    let bib = bank.sim.bib_issuer();
    let grants = bank.jwks(bank.bib("/jwks/grants")).await;
    let id_keys = bank.jwks(bank.bib("/jwks")).await;

    bank.sim.add_fault(Fault::GrantNotReady(2));
    expect_error(bank.grant(&token, &id).await, 404, "not_found").await;
    expect_error(bank.grant(&token, &id).await, 404, "not_found").await;
    let ready = bank.grant(&token, &id).await;
    assert_eq!(ready.status(), StatusCode::OK, "the third request gets it");
    bank.sim.clear_faults();

    bank.sim.add_fault(Fault::GrantWrongKey);
    let jws = bank.grant(&token, &id).await.text().await.expect("body");
    assert_eq!(kid(&jws), "bib-grant-1");
    let error = verify(&jws, &grants, &bib, None).expect_err("the signature does not match the named key");
    assert!(error.contains("InvalidSignature"), "{error}");
    bank.sim.clear_faults();

    bank.sim.add_fault(Fault::GrantSignedWithIdTokenKey);
    let jws = bank.grant(&token, &id).await.text().await.expect("body");
    assert_eq!(kid(&jws), "bib-1");
    assert!(verify(&jws, &grants, &bib, None).is_err(), "bib-1 is not a grant key");
    assert!(verify(&jws, &id_keys, &bib, None).is_ok(), "only a client using jwks_uri would accept it");
}
