//! The simulator's CIBA (poll mode) at BIB over real HTTP, in BankID's
//! dialect: a client-credentials token, a permission registered with
//! `intents: ["ciba"]`, `bc-authorize` with its `permissionToken` and
//! BankID-made binding message, then polls. Covers what the conformance
//! tests in `conformance/ciba.rs` do not: every scripted phone
//! behaviour, the phone page, polling discipline, expiry and load.

use crate::sim_support;

use sim_support::*;
use std::sync::Arc;
use std::time::Duration;

use axum_bankid_simulator::{CibaBehavior, CibaStatus, Endpoint, Fault, Simulator};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::Value;

const INTERVAL: Duration = Duration::from_secs(1);
/// A little more than the interval, so that no poll is early.
const WAIT: Duration = Duration::from_millis(1050);
/// A payment statement in BankID's `payment.v1` shape.
const PAYMENT: &str = r#"{"nonce":"n-1","id":"p-1","payments":[{"paymentId":"1","amount":"100.00","currency":"NOK","creditorName":"Butikken"}]}"#;
/// The registrations' lifetime (`exp - iat`) unless a test needs another.
const LIFETIME: u64 = 120;

/// A relying party for CIBA: the simulator and a token with every scope.
struct Ciba {
    rp: Rp,
    token: String,
}

impl Ciba {
    async fn new() -> Ciba {
        let rp = Rp::on(Simulator::builder().ciba_interval(INTERVAL)).await;
        let token = rp.client_token(ALL_SCOPES).await;
        Ciba { rp, token }
    }

    fn sim(&self) -> &Simulator {
        &self.rp.sim
    }

    /// Registers a payment for `user` and starts CIBA; the `auth_req_id`.
    async fn start(&self, user: &str) -> String {
        self.start_with(user, "payment.v1", PAYMENT).await.1
    }

    /// Registers `statement` as `kind` for `user` and starts CIBA; the
    /// registration and the `auth_req_id`.
    async fn start_with(&self, user: &str, kind: &str, statement: &str) -> (Registered, String) {
        let (registered, started) = self.rp.start_ciba(&self.token, user, kind, statement, LIFETIME).await;
        (registered, started["auth_req_id"].as_str().expect("auth_req_id").to_owned())
    }

    async fn poll(&self, auth_req_id: &str) -> (StatusCode, Value) {
        self.rp.poll(&self.token, auth_req_id).await
    }

    /// A poll that must fail with `400`; its `error`.
    async fn poll_error(&self, auth_req_id: &str) -> String {
        let (status, body) = self.poll(auth_req_id).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        body["error"].as_str().expect("error").to_owned()
    }

    /// A backchannel request with exactly `form` that must fail with `400`;
    /// its `error` and `error_description`.
    async fn start_error(&self, form: &[(&str, &str)]) -> (String, String) {
        let response = self.rp.bc_authorize(&self.token, form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{form:?}");
        let body: Value = response.json().await.expect("JSON");
        let field = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
        (field("error"), field("error_description"))
    }

    /// BankID's backchannel request for `registered`, which must fail with
    /// `400`; its `error`.
    async fn backchannel_error(&self, registered: &Registered) -> String {
        let response = self.rp.backchannel(&self.token, registered).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        response.json::<Value>().await.expect("JSON")["error"].as_str().expect("error").to_owned()
    }

    fn request(&self, auth_req_id: &str) -> axum_bankid_simulator::CibaRequestInfo {
        let requests = self.sim().ciba_requests();
        requests.into_iter().find(|request| request.auth_req_id == auth_req_id).expect("request is listed")
    }

    /// The phone page of `user`.
    async fn phone(&self, user: &str) -> String {
        let phone = self.rp.http.get(self.rp.url("/phone")).query(&[("login_hint", nnin(user))]).send().await;
        let phone = phone.expect("phone");
        assert_eq!(phone.status(), StatusCode::OK);
        phone.text().await.expect("page")
    }

    /// Verifies a CIBA ID token as BankID's example does: BIB's `jwks_uri`,
    /// BIB's issuer, our client id as audience.
    async fn verify(&self, jwt: &str) -> Value {
        let (bib, jwks) = (self.sim().bib_issuer(), self.rp.bib_url("/jwks"));
        let expected = Expected { issuer: &bib, audience: Some(self.sim().client_id()), required: &["exp"] };
        verify_at(&self.rp.http, &jwks, jwt, &expected).await.expect("ID token verifies with BIB's keys")
    }

    /// The approved grant of registration `id`, verified with BIB's
    /// `jwks_uri_grants`.
    async fn grant_claims(&self, id: &str) -> Value {
        let response = self.rp.grant(&self.token, id).await;
        assert_eq!(response.status(), StatusCode::OK);
        let jws = response.text().await.expect("grant");
        let (bib, jwks) = (self.sim().bib_issuer(), self.rp.bib_url("/jwks/grants"));
        let expected = Expected { issuer: &bib, audience: None, required: &["exp"] };
        verify_at(&self.rp.http, &jwks, &jws, &expected).await.expect("grant verifies")
    }

    /// The status and `error` of the grant of registration `id`.
    async fn grant_error(&self, id: &str) -> (StatusCode, String) {
        let response = self.rp.grant(&self.token, id).await;
        let status = response.status();
        let body: Value = response.json().await.expect("JSON error");
        (status, body["error"].as_str().expect("error").to_owned())
    }
}

fn digest_of(statement: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(<sha2::Sha256 as sha2::Digest>::digest(statement))
}

#[tokio::test]
async fn manual_approval_on_the_phone_yields_tokens_once() {
    let ciba = Ciba::new().await;
    let (registered, started) = ciba.rp.start_ciba(&ciba.token, "kari", "payment.v1", PAYMENT, LIFETIME).await;
    let auth_req_id = started["auth_req_id"].as_str().expect("auth_req_id").to_owned();
    assert!(URL_SAFE_NO_PAD.decode(&auth_req_id).is_ok_and(|bytes| bytes.len() >= 16), "≥ 128 random bits");
    // The registration's exp - now; a second boundary may pass in between.
    let expires_in = started["expires_in"].as_u64().expect("expires_in");
    assert!((LIFETIME - 1..=LIFETIME).contains(&expires_in), "{expires_in}");
    assert_eq!(started["interval"], 1);
    assert_eq!(ciba.sim().request_count(Endpoint::BackchannelAuthentication), 1);

    assert_eq!(ciba.poll_error(&auth_req_id).await, "authorization_pending");

    let phone = ciba.phone("kari").await;
    assert!(phone.contains(&registered.binding_message), "BankID's binding message is shown: {phone}");
    assert!(phone.contains(&format!(r#"name="auth_req_id" value="{auth_req_id}""#)));
    assert!(phone.contains(r#"action="/phone/decide""#));
    assert!(ciba.phone("ola").await.contains("No pending requests"));

    let form = [("auth_req_id", auth_req_id.as_str()), ("decision", "approve")];
    let decided = ciba.rp.http.post(ciba.rp.url("/phone/decide")).form(&form).send().await.expect("decide");
    assert_eq!(decided.status(), StatusCode::OK);
    assert_eq!(ciba.request(&auth_req_id).status, CibaStatus::Approved);
    assert!(!ciba.sim().ciba_decide(&auth_req_id, false), "already decided");

    tokio::time::sleep(WAIT).await;
    let (status, tokens) = ciba.poll(&auth_req_id).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let claims = ciba.verify(tokens["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["urn:openid:params:jwt:claim:auth_req_id"], auth_req_id);
    assert_eq!(claims["acr"], "urn:bankid:bis");
    assert_eq!(claims["name"], "Kari Nordmann");
    assert!(claims.get("nonce").is_none());
    assert!(claims.get("permission_digest").is_none(), "the grant proves the permission");
    let userinfo =
        ciba.rp.http.get(ciba.rp.url("/userinfo")).bearer_auth(tokens["access_token"].as_str().expect("token"));
    assert_eq!(userinfo.send().await.expect("userinfo").status(), StatusCode::OK);

    tokio::time::sleep(WAIT).await;
    assert_eq!(ciba.poll_error(&auth_req_id).await, "invalid_grant", "tokens are issued once");
    let info = ciba.request(&auth_req_id);
    assert_eq!(info.status, CibaStatus::TokensIssued);
    assert_eq!(info.login_hint, nnin("kari"));
    assert_eq!(info.binding_message.as_deref(), Some(registered.binding_message.as_str()));
    assert_eq!(info.poll_offsets.len(), 3);
    assert!(info.poll_offsets.windows(2).all(|pair| pair[1] - pair[0] >= INTERVAL));
    assert_eq!(ciba.poll_error("unknown").await, "invalid_grant");
}

#[tokio::test]
async fn denial_by_behaviour_and_by_hand() {
    let ciba = Ciba::new().await;
    ciba.sim().set_ciba_behavior("ola", CibaBehavior::Deny);
    let (registered, denied) = ciba.start_with("ola", "payment.v1", PAYMENT).await;
    assert_eq!(ciba.poll_error(&denied).await, "access_denied");
    assert_eq!(ciba.request(&denied).status, CibaStatus::Denied);
    // A refusal on the phone is a refusal of the permission too.
    assert_eq!(ciba.grant_error(&registered.id).await, (StatusCode::FORBIDDEN, "access_denied".into()));

    let manual = ciba.start("kari").await;
    assert!(ciba.sim().ciba_decide(&manual, false));
    assert_eq!(ciba.poll_error(&manual).await, "access_denied");
    assert!(!ciba.sim().ciba_decide("unknown", true));
}

#[tokio::test]
async fn never_answered_requests_expire_with_their_registration_and_stay_expired() {
    let ciba = Ciba::new().await;
    ciba.sim().set_ciba_behavior("kari", CibaBehavior::NeverAnswer);
    // A short registration: exp - iat = 2 s bounds the CIBA request.
    let body = registration("payment.v1", PAYMENT, &["ciba"], Some(nnin("kari")), 2);
    let registered = ciba.rp.register_ok(&ciba.token, &body).await;
    let response = ciba.rp.backchannel(&ciba.token, &registered).await;
    assert_eq!(response.status(), StatusCode::OK);
    let started: Value = response.json().await.expect("JSON");
    let expires_in = started["expires_in"].as_u64().expect("expires_in");
    assert!((1..=2).contains(&expires_in), "the registration's exp - now: {expires_in}");
    let auth_req_id = started["auth_req_id"].as_str().expect("auth_req_id");
    assert_eq!(ciba.poll_error(auth_req_id).await, "authorization_pending");

    tokio::time::sleep(Duration::from_secs(expires_in) + Duration::from_millis(100)).await;
    assert_eq!(ciba.request(auth_req_id).status, CibaStatus::Expired);
    assert!(!ciba.sim().ciba_decide(auth_req_id, true), "too late to approve");
    assert_eq!(ciba.poll_error(auth_req_id).await, "expired_token");
    tokio::time::sleep(WAIT).await;
    assert_eq!(ciba.poll_error(auth_req_id).await, "expired_token");
    assert_eq!(ciba.grant_error(&registered.id).await, (StatusCode::NOT_FOUND, "not_found".into()), "never approved");
}

#[tokio::test]
async fn slow_down_storm_then_tokens_and_too_fast_polling() {
    let ciba = Ciba::new().await;
    // Too fast: the second poll comes right after the first.
    let eager = ciba.start("ola").await;
    assert_eq!(ciba.poll_error(&eager).await, "authorization_pending");
    assert_eq!(ciba.poll_error(&eager).await, "slow_down");
    assert_eq!(ciba.request(&eager).interval, Duration::from_secs(6));
    assert_eq!(ciba.poll_error(&eager).await, "slow_down");
    assert_eq!(ciba.request(&eager).interval, Duration::from_secs(11));

    ciba.sim().set_ciba_behavior("kari", CibaBehavior::SlowDownStorm(1));
    let storm = ciba.start("kari").await;
    assert_eq!(ciba.poll_error(&storm).await, "slow_down");
    let grown = ciba.request(&storm).interval;
    assert_eq!(grown, Duration::from_secs(6));
    tokio::time::sleep(grown + Duration::from_millis(50)).await;
    let (status, tokens) = ciba.poll(&storm).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        claims_of(tokens["id_token"].as_str().expect("id_token"))["urn:openid:params:jwt:claim:auth_req_id"],
        storm
    );
}

#[tokio::test]
async fn uninstalled_app_and_lost_authenticator_are_distinct_failures() {
    let ciba = Ciba::new().await;
    ciba.sim().set_ciba_behavior("kari", CibaBehavior::AppUninstalled);
    let body = registration("payment.v1", PAYMENT, &["ciba"], Some(nnin("kari")), LIFETIME);
    let registered = ciba.rp.register_ok(&ciba.token, &body).await;
    let response = ciba.rp.backchannel(&ciba.token, &registered).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "app_unavailable");
    assert!(body["error_description"].is_string());
    assert!(ciba.sim().ciba_requests().is_empty());

    ciba.sim().set_ciba_behavior("ola", CibaBehavior::AuthenticatorLost);
    let lost = ciba.start("ola").await;
    let (status, body) = ciba.poll(&lost).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "transaction_failed");
    assert!(body["error_description"].is_string());
    assert_eq!(ciba.request(&lost).status, CibaStatus::Failed);
    assert_eq!(ciba.sim().request_count(Endpoint::BackchannelAuthentication), 2);
}

#[tokio::test]
async fn initiation_rules() {
    let ciba = Ciba::new().await;
    let body = registration("payment.v1", PAYMENT, &["ciba"], Some(nnin("kari")), LIFETIME);
    let kari = ciba.rp.register_ok(&ciba.token, &body).await;
    let hint = kari.permission_token.as_str();
    let binding = kari.binding_message.as_str();

    let (error, why) = ciba.start_error(&[("scope", CIBA_SCOPE), ("binding_message", binding)]).await;
    assert_eq!(error, "invalid_request", "no hint");
    assert!(why.contains("login_hint_token"), "{why}");
    let no_openid = [("login_hint_token", hint), ("scope", "permissions/ciba"), ("binding_message", binding)];
    assert_eq!(ciba.start_error(&no_openid).await.0, "invalid_scope");
    let lowercase = binding.to_lowercase();
    let padded = format!("{binding} ");
    let empty = [("login_hint_token", hint), ("scope", CIBA_SCOPE), ("binding_message", "")];
    let (error, why) = ciba.start_error(&empty).await;
    assert_eq!(error, "invalid_request", "an empty binding message is a missing one");
    assert!(why.contains("binding_message"), "{why}");
    // BankID makes the binding message; anything but its own is refused,
    // however harmless it looks.
    let messages =
        ["This message is far too long", "<script>", "a_b", "tab\there", lowercase.as_str(), padded.as_str()];
    for message in messages {
        let form = [("login_hint_token", hint), ("scope", CIBA_SCOPE), ("binding_message", message)];
        assert_eq!(ciba.start_error(&form).await.0, "invalid_binding_message", "{message:?}");
    }
    let form =
        [("login_hint_token", hint), ("scope", CIBA_SCOPE), ("binding_message", binding), ("permission_id", "x")];
    let (error, why) = ciba.start_error(&form).await;
    assert_eq!(error, "invalid_request");
    assert!(why.contains("permission_id"), "{why}");

    for nnin in ["01010100000", nnin("nina")] {
        let body = registration("payment.v1", PAYMENT, &["ciba"], Some(nnin), LIFETIME);
        let registered = ciba.rp.register_ok(&ciba.token, &body).await;
        assert_eq!(ciba.backchannel_error(&registered).await, "unknown_user_id", "{nnin}: no biometrics");
    }
    assert!(ciba.sim().ciba_requests().is_empty());
    assert_eq!(ciba.sim().request_count(Endpoint::BackchannelAuthentication), 12);

    // None of the refusals used up Kari's permissionToken.
    let response = ciba.rp.backchannel(&ciba.token, &kari).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(ciba.sim().ciba_requests().len(), 1);
}

#[tokio::test]
async fn permissions_and_faults_apply_to_ciba() {
    let ciba = Ciba::new().await;
    let statement = r#"{"amount":"123.45","currency":"NOK","note":"<b>"}"#;
    ciba.sim().set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(1));
    let (payment, with_payment) = ciba.start_with("kari", "payment.v1", statement).await;
    let phone = ciba.phone("kari").await;
    assert!(phone.contains("You are asked to approve") && phone.contains("&lt;b&gt;"), "{phone}");

    let card = r#"{"card":"**** 1234"}"#;
    ciba.sim().set_ciba_behavior("ola", CibaBehavior::ApproveAfterPolls(1));
    let (card_registration, with_card) = ciba.start_with("ola", "card.v1", card).await;

    for id in [&with_payment, &with_card] {
        assert_eq!(ciba.poll_error(id).await, "authorization_pending");
    }
    ciba.sim().add_fault(Fault::LowAcr);
    tokio::time::sleep(WAIT).await;

    let (status, tokens) = ciba.poll(&with_payment).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = ciba.verify(tokens["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["acr"], "urn:bankid:bis;LOA=2", "ID token faults apply to CIBA too");
    let grant = ciba.grant_claims(&payment.id).await;
    assert_eq!(grant["digest"], digest_of(statement));
    assert_eq!(grant["type"], "payment.v1");
    assert_eq!(grant["sub"], claims["sub"]);

    let (status, tokens) = ciba.poll(&with_card).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let grant = ciba.grant_claims(&card_registration.id).await;
    assert_eq!(grant["digest"], digest_of(card));
    assert_eq!(grant["type"], "card.v1");
    assert_eq!(grant["permissionId"], card_registration.id);
    assert_eq!(grant["sub"], claims_of(tokens["id_token"].as_str().expect("id_token"))["sub"]);
}

#[tokio::test]
async fn a_thousand_pending_requests_are_cheap() {
    let ciba = Arc::new(Ciba::new().await);
    let limit = Arc::new(tokio::sync::Semaphore::new(100));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let (ciba, limit) = (Arc::clone(&ciba), Arc::clone(&limit));
        tasks.spawn(async move {
            let _permit = limit.acquire().await.expect("semaphore open");
            let user = ["kari", "ola", "per"][i % 3];
            let auth_req_id = ciba.start(user).await;
            ciba.poll_error(&auth_req_id).await
        });
    }
    while let Some(outcome) = tasks.join_next().await {
        assert_eq!(outcome.expect("task"), "authorization_pending");
    }
    let requests = ciba.sim().ciba_requests();
    assert_eq!(requests.len(), 1000);
    assert!(requests.iter().all(|request| request.status == CibaStatus::Pending && request.poll_offsets.len() == 1));
    assert_eq!(ciba.sim().request_count(Endpoint::BackchannelAuthentication), 1000);
}

#[tokio::test]
async fn auto_approve_approves_that_users_ciba_at_the_first_poll_and_no_one_elses() {
    let rp = Rp::on(Simulator::builder().ciba_interval(INTERVAL).auto_approve("ola")).await;
    let token = rp.client_token(ALL_SCOPES).await;
    let ciba = Ciba { rp, token };
    let (ola, kari) = (ciba.start("ola").await, ciba.start("kari").await);
    let (status, body) = ciba.poll(&ola).await;
    assert_eq!(status, StatusCode::OK, "no phone page: {body}");
    let claims = ciba.verify(body["id_token"].as_str().expect("id_token")).await;
    let user = ciba.sim().users().into_iter().find(|user| user.id() == "ola").expect("ola");
    assert_eq!(claims["sub"], user.bib_sub());
    assert_eq!(ciba.poll_error(&kari).await, "authorization_pending", "only the auto-approved user");
}
