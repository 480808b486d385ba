//! The simulator's CIBA (poll mode) over real HTTP: initiation rules, every
//! scripted phone behaviour, polling discipline and the tokens at the end.

mod sim_support;

use sim_support::*;
use std::sync::Arc;
use std::time::Duration;

use axum_bankid::simulator::{CibaBehavior, CibaStatus, Fault, Simulator};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

const INTERVAL: Duration = Duration::from_secs(1);
/// A little more than the interval, so that no poll is early.
const WAIT: Duration = Duration::from_millis(1050);
const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

impl Rp {
    async fn new() -> Rp {
        Rp::on(Simulator::builder().ciba_interval(INTERVAL)).await
    }

    /// `POST /bc-authorize` with `scope=openid` and `params`.
    async fn start_raw(&self, params: &[(&str, &str)]) -> reqwest::Response {
        let mut form = vec![("scope", "openid")];
        for (name, value) in params {
            form.retain(|(existing, _)| existing != name);
            form.push((name, value));
        }
        let request =
            self.http.post(self.url("/bc-authorize")).basic_auth(self.sim.client_id(), Some(self.sim.client_secret()));
        request.form(&form).send().await.expect("backchannel request")
    }

    /// A successful start for `user`; the auth_req_id.
    async fn start(&self, user: &str, params: &[(&str, &str)]) -> String {
        let mut all = vec![("login_hint", nnin(user))];
        all.extend_from_slice(params);
        let response = self.start_raw(&all).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("JSON");
        body["auth_req_id"].as_str().expect("auth_req_id").to_owned()
    }

    /// One poll: the status and the JSON body.
    async fn poll(&self, auth_req_id: &str) -> (StatusCode, Value) {
        let form = [("grant_type", CIBA_GRANT), ("auth_req_id", auth_req_id)];
        let request =
            self.http.post(self.url("/token")).basic_auth(self.sim.client_id(), Some(self.sim.client_secret()));
        let response = request.form(&form).send().await.expect("poll");
        (response.status(), response.json().await.expect("JSON"))
    }

    async fn poll_error(&self, auth_req_id: &str) -> String {
        let (status, body) = self.poll(auth_req_id).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        body["error"].as_str().expect("error").to_owned()
    }

    async fn start_error(&self, params: &[(&str, &str)]) -> String {
        let response = self.start_raw(params).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{params:?}");
        response.json::<Value>().await.expect("JSON")["error"].as_str().expect("error").to_owned()
    }

    fn request(&self, auth_req_id: &str) -> axum_bankid::simulator::CibaRequestInfo {
        let requests = self.sim.ciba_requests();
        requests.into_iter().find(|request| request.auth_req_id == auth_req_id).expect("request is listed")
    }

    /// Verifies an ID token against the simulator's JWKS.
    async fn verify(&self, jwt: &str) -> Value {
        verify_jwt(&self.http, &self.sim, jwt, &["exp"]).await.expect("ID token verifies")
    }
}

fn nnin(user: &str) -> &'static str {
    Simulator::users().iter().find(|candidate| candidate.id == user).expect("test user").nnin
}

#[tokio::test]
async fn manual_approval_on_the_phone_yields_tokens_once() {
    let rp = Rp::new().await;
    let response = rp
        .start_raw(&[("login_hint", nnin("kari")), ("binding_message", "Kode: ÆØÅ 42"), ("scope", "openid profile")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let started: Value = response.json().await.expect("JSON");
    let auth_req_id = started["auth_req_id"].as_str().expect("auth_req_id").to_owned();
    assert!(URL_SAFE_NO_PAD.decode(&auth_req_id).is_ok_and(|bytes| bytes.len() >= 16), "≥ 128 random bits");
    assert_eq!(started["expires_in"], 120);
    assert_eq!(started["interval"], 1);
    assert_eq!(rp.sim.backchannel_requests(), 1);

    assert_eq!(rp.poll_error(&auth_req_id).await, "authorization_pending");

    let phone = rp.http.get(rp.url("/phone")).query(&[("login_hint", nnin("kari"))]).send().await.expect("phone");
    assert_eq!(phone.status(), StatusCode::OK);
    let phone = phone.text().await.expect("page");
    assert!(phone.contains("Kode: ÆØÅ 42"), "{phone}");
    assert!(phone.contains(&format!(r#"name="auth_req_id" value="{auth_req_id}""#)));
    assert!(phone.contains(r#"action="/phone/decide""#));
    let others = rp.http.get(rp.url("/phone")).query(&[("login_hint", nnin("ola"))]).send().await.expect("phone");
    assert!(others.text().await.expect("page").contains("No pending requests"));

    let form = [("auth_req_id", auth_req_id.as_str()), ("decision", "approve")];
    let decided = rp.http.post(rp.url("/phone/decide")).form(&form).send().await.expect("decide");
    assert_eq!(decided.status(), StatusCode::OK);
    assert_eq!(rp.request(&auth_req_id).status, CibaStatus::Approved);
    assert!(!rp.sim.ciba_decide(&auth_req_id, false), "already decided");

    tokio::time::sleep(WAIT).await;
    let (status, tokens) = rp.poll(&auth_req_id).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let claims = rp.verify(tokens["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["urn:openid:params:jwt:claim:auth_req_id"], auth_req_id);
    assert_eq!(claims["acr"], "urn:bankid:bis;LOA=3");
    assert_eq!(claims["name"], "Kari Nordmann");
    assert!(claims.get("nonce").is_none());
    assert!(claims.get("permission_digest").is_none());
    let userinfo = rp.http.get(rp.url("/userinfo")).bearer_auth(tokens["access_token"].as_str().expect("token"));
    assert_eq!(userinfo.send().await.expect("userinfo").status(), StatusCode::OK);

    tokio::time::sleep(WAIT).await;
    assert_eq!(rp.poll_error(&auth_req_id).await, "invalid_grant", "tokens are issued once");
    let info = rp.request(&auth_req_id);
    assert_eq!(info.status, CibaStatus::TokensIssued);
    assert_eq!(info.login_hint, nnin("kari"));
    assert_eq!(info.binding_message.as_deref(), Some("Kode: ÆØÅ 42"));
    assert_eq!(info.poll_offsets.len(), 3);
    assert!(info.poll_offsets.windows(2).all(|pair| pair[1] - pair[0] >= INTERVAL));
    assert_eq!(rp.poll_error("unknown").await, "invalid_grant");
}

#[tokio::test]
async fn denial_by_behaviour_and_by_hand() {
    let rp = Rp::new().await;
    rp.sim.set_ciba_behavior("ola", CibaBehavior::Deny);
    let denied = rp.start("ola", &[]).await;
    assert_eq!(rp.poll_error(&denied).await, "access_denied");
    assert_eq!(rp.request(&denied).status, CibaStatus::Denied);

    let manual = rp.start("kari", &[]).await;
    assert!(rp.sim.ciba_decide(&manual, false));
    assert_eq!(rp.poll_error(&manual).await, "access_denied");
    assert!(!rp.sim.ciba_decide("unknown", true));
}

#[tokio::test]
async fn never_answered_requests_expire_and_stay_expired() {
    let rp = Rp::new().await;
    rp.sim.set_ciba_behavior("kari", CibaBehavior::NeverAnswer);
    let response = rp.start_raw(&[("login_hint", nnin("kari")), ("requested_expiry", "2")]).await;
    let started: Value = response.json().await.expect("JSON");
    assert_eq!(started["expires_in"], 2);
    let auth_req_id = started["auth_req_id"].as_str().expect("auth_req_id");
    assert_eq!(rp.poll_error(auth_req_id).await, "authorization_pending");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(rp.request(auth_req_id).status, CibaStatus::Expired);
    assert!(!rp.sim.ciba_decide(auth_req_id, true), "too late to approve");
    assert_eq!(rp.poll_error(auth_req_id).await, "expired_token");
    tokio::time::sleep(WAIT).await;
    assert_eq!(rp.poll_error(auth_req_id).await, "expired_token");
}

#[tokio::test]
async fn slow_down_storm_then_tokens_and_too_fast_polling() {
    let rp = Rp::new().await;
    // Too fast: the second poll comes right after the first.
    let eager = rp.start("ola", &[]).await;
    assert_eq!(rp.poll_error(&eager).await, "authorization_pending");
    assert_eq!(rp.poll_error(&eager).await, "slow_down");
    assert_eq!(rp.request(&eager).interval, Duration::from_secs(6));
    assert_eq!(rp.poll_error(&eager).await, "slow_down");
    assert_eq!(rp.request(&eager).interval, Duration::from_secs(11));

    rp.sim.set_ciba_behavior("kari", CibaBehavior::SlowDownStorm(1));
    let storm = rp.start("kari", &[]).await;
    assert_eq!(rp.poll_error(&storm).await, "slow_down");
    let grown = rp.request(&storm).interval;
    assert_eq!(grown, Duration::from_secs(6));
    tokio::time::sleep(grown + Duration::from_millis(50)).await;
    let (status, tokens) = rp.poll(&storm).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        claims_of(tokens["id_token"].as_str().expect("id_token"))["urn:openid:params:jwt:claim:auth_req_id"],
        storm
    );
}

#[tokio::test]
async fn uninstalled_app_and_lost_authenticator_are_distinct_failures() {
    let rp = Rp::new().await;
    rp.sim.set_ciba_behavior("kari", CibaBehavior::AppUninstalled);
    let response = rp.start_raw(&[("login_hint", nnin("kari"))]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "app_unavailable");
    assert!(body["error_description"].is_string());
    assert!(rp.sim.ciba_requests().is_empty());

    rp.sim.set_ciba_behavior("ola", CibaBehavior::AuthenticatorLost);
    let lost = rp.start("ola", &[]).await;
    let (status, body) = rp.poll(&lost).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "transaction_failed");
    assert!(body["error_description"].is_string());
    assert_eq!(rp.request(&lost).status, CibaStatus::Failed);
    assert_eq!(rp.sim.backchannel_requests(), 2);
}

#[tokio::test]
async fn initiation_rules() {
    let rp = Rp::new().await;
    let kari = nnin("kari");
    assert_eq!(rp.start_error(&[]).await, "invalid_request", "no hint");
    assert_eq!(rp.start_error(&[("login_hint", kari), ("id_token_hint", "x.y.z")]).await, "invalid_request");
    assert_eq!(rp.start_error(&[("login_hint", kari), ("login_hint_token", "t")]).await, "invalid_request");
    assert_eq!(rp.start_error(&[("login_hint_token", "t")]).await, "invalid_request", "unsupported");
    assert_eq!(rp.start_error(&[("id_token_hint", "x.y.z")]).await, "invalid_request", "unsupported");
    assert_eq!(rp.start_error(&[("login_hint", "01010100000")]).await, "unknown_user_id");
    assert_eq!(rp.start_error(&[("login_hint", nnin("nina"))]).await, "unknown_user_id", "no biometrics");
    assert_eq!(rp.start_error(&[("login_hint", kari), ("scope", "profile")]).await, "invalid_scope");
    for message in ["This message is far too long", "<script>", "a_b", "tab\there"] {
        let params = [("login_hint", kari), ("binding_message", message)];
        assert_eq!(rp.start_error(&params).await, "invalid_binding_message", "{message:?}");
    }
    for expiry in ["0", "601", "abc", "-5", "2.5"] {
        let params = [("login_hint", kari), ("requested_expiry", expiry)];
        assert_eq!(rp.start_error(&params).await, "invalid_request", "{expiry:?}");
    }
    let details = json!([{ "type": "payment.v1", "permission": "not base64!" }]).to_string();
    let params = [("login_hint", kari), ("authorization_details", details.as_str())];
    assert_eq!(rp.start_error(&params).await, "invalid_authorization_details");
    let params = [("login_hint", kari), ("permission_id", "unknown")];
    assert_eq!(rp.start_error(&params).await, "invalid_request");

    let form = [("scope", "openid"), ("login_hint", kari)];
    let response = rp.http.post(rp.url("/bc-authorize")).basic_auth(rp.sim.client_id(), Some("wrong")).form(&form);
    assert_eq!(response.send().await.expect("request").status(), StatusCode::UNAUTHORIZED);
    assert!(rp.sim.ciba_requests().is_empty());
    assert_eq!(rp.sim.backchannel_requests(), 20);
}

#[tokio::test]
async fn permissions_and_faults_apply_to_ciba_tokens() {
    let rp = Rp::new().await;
    let statement = r#"{"amount":"123.45","currency":"NOK","note":"<b>"}"#;
    let details = json!([{ "type": "payment.v1", "permission": b64url(statement) }]).to_string();
    rp.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(1));
    let with_details = rp.start("kari", &[("authorization_details", &details)]).await;
    let phone = rp.http.get(rp.url("/phone")).query(&[("login_hint", nnin("kari"))]).send().await.expect("phone");
    let phone = phone.text().await.expect("page");
    assert!(phone.contains("You are asked to approve") && phone.contains("&lt;b&gt;"), "{phone}");

    // A registered permission, via the Permission API.
    let form = [("grant_type", "client_credentials"), ("scope", "openid permissions/client permissions/ciba")];
    let token = rp.http.post(rp.url("/token")).basic_auth(rp.sim.client_id(), Some(rp.sim.client_secret()));
    let token: Value = token.form(&form).send().await.expect("token").json().await.expect("JSON");
    let token = token["access_token"].as_str().expect("access_token");
    let registered = rp.http.post(rp.url("/permissions")).bearer_auth(token);
    let registered = registered.json(&json!({ "type": "payment.v1", "permission": b64url("pay 5 NOK") }));
    let registered: Value = registered.send().await.expect("register").json().await.expect("JSON");
    let permission_id = registered["permission_id"].as_str().expect("permission_id");
    rp.sim.set_ciba_behavior("ola", CibaBehavior::ApproveAfterPolls(1));
    let with_id = rp.start("ola", &[("permission_id", permission_id)]).await;

    for id in [&with_details, &with_id] {
        assert_eq!(rp.poll_error(id).await, "authorization_pending");
    }
    rp.sim.set_fault(Fault::LowAcr);
    tokio::time::sleep(WAIT).await;

    let (status, tokens) = rp.poll(&with_details).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let digest = base64::engine::general_purpose::STANDARD.encode(<sha2::Sha256 as sha2::Digest>::digest(statement));
    let claims = rp.verify(tokens["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["permission_digest"], digest);
    assert_eq!(claims["acr"], "urn:bankid:bis;LOA=2", "ID token faults apply to CIBA too");
    assert_eq!(tokens["authorization_details"][0]["permission_digest"], digest);

    let (status, tokens) = rp.poll(&with_id).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        claims_of(tokens["id_token"].as_str().expect("id_token"))["permission_digest"],
        registered["permission_digest"]
    );
    let signed = rp.http.get(rp.url(&format!("/permissions/{permission_id}/signed"))).bearer_auth(token);
    let signed: Value = signed.send().await.expect("signed").json().await.expect("JSON");
    assert_eq!(signed["status"], "approved");
    let signed = claims_of(signed["signed_permission"].as_str().expect("JWS"));
    assert_eq!(signed["sub"], claims_of(tokens["id_token"].as_str().expect("id_token"))["sub"]);
}

#[tokio::test]
async fn a_thousand_pending_requests_are_cheap() {
    let rp = Arc::new(Rp::new().await);
    let limit = Arc::new(tokio::sync::Semaphore::new(100));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let (rp, limit) = (Arc::clone(&rp), Arc::clone(&limit));
        tasks.spawn(async move {
            let _permit = limit.acquire().await.expect("semaphore open");
            let user = ["kari", "ola", "per"][i % 3];
            let auth_req_id = rp.start(user, &[]).await;
            rp.poll_error(&auth_req_id).await
        });
    }
    while let Some(outcome) = tasks.join_next().await {
        assert_eq!(outcome.expect("task"), "authorization_pending");
    }
    let requests = rp.sim.ciba_requests();
    assert_eq!(requests.len(), 1000);
    assert!(requests.iter().all(|request| request.status == CibaStatus::Pending && request.poll_offsets.len() == 1));
    assert_eq!(rp.sim.backchannel_requests(), 1000);
}
