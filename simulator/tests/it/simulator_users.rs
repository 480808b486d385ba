//! Users added to one simulator (`SimulatorBuilder::user`), over real HTTP:
//! they log in through the login page and get their own claims, BIB's
//! `user-exists` and CIBA find them by nnin, and a bad or colliding user is
//! refused with its typed error before anything starts.

use crate::sim_support;

use sim_support::*;

use axum_bankid_simulator::{CibaStatus, Simulator, SimulatorBuilder, TestUser, UserError};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Never contacted: redirects are not followed, only read.
/// A payment statement in BankID's `payment.v1` shape.
const PAYMENT: &str = r#"{"nonce":"n-1","id":"p-1","payments":[{"paymentId":"1","amount":"10.00","currency":"NOK","creditorName":"Kiosken"}]}"#;

// Synthetic nnins (birth month + 80) with valid check digits.
fn ann() -> TestUser {
    TestUser::new("ann", "Ann Marie O'Test", "31819012388", "1990-01-31").expect("ann is valid")
}

fn bo() -> TestUser {
    TestUser::builder("bo", "Bo Høyt", "15868510045", "1985-06-15").method("BID").build().expect("bo is valid")
}

/// Classic BankID at LOA 3: a pairing BankID does not issue, for testing a
/// relying party's LOA policy.
fn cy() -> TestUser {
    let cy = TestUser::builder("cy", "Cy Lavt", "29820010092", "2000-02-29").method("bid").loa(3);
    cy.build().expect("cy is valid")
}

/// Classic BankID only: no BankID with biometrics.
fn dag() -> TestUser {
    let dag = TestUser::builder("dag", "Dag Utenbib", "07927710034", "1977-12-07").method("BID").bib_enabled(false);
    dag.build().expect("dag is valid")
}

fn with_added_users() -> SimulatorBuilder {
    let builder = Simulator::builder().redirect_uri(REDIRECT_URI).ciba_interval(std::time::Duration::from_secs(1));
    [ann(), bo(), cy(), dag()].into_iter().try_fold(builder, SimulatorBuilder::user).expect("the users are distinct")
}

/// What a code-flow login leaves the relying party with.
struct Login {
    id_token: String,
    access_token: String,
    nonce: String,
}

impl Rp {
    /// The login page for a PKCE request with `scope` and `login_hint`, and
    /// the verifier and nonce.
    async fn login_page(&self, scope: &str, login_hint: &str) -> (String, String, String) {
        let (verifier, nonce) = (random(), random());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let params = [
            ("response_type", "code"),
            ("client_id", self.sim.client_id()),
            ("redirect_uri", REDIRECT_URI),
            ("scope", scope),
            ("state", "st"),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("login_hint", login_hint),
        ];
        let response = self.http.get(self.url("/authorize")).query(&params).send().await.expect("authorize");
        assert_eq!(response.status(), StatusCode::OK);
        (response.text().await.expect("login page"), verifier, nonce)
    }

    /// A full code-flow login by `user` with `scope`, tokens redeemed with
    /// `client_secret_basic`.
    async fn log_in(&self, user: &str, scope: &str) -> Login {
        let (page, verifier, nonce) = self.login_page(scope, "BIS").await;
        let callback = query_map(&self.decide(&page, user, "approve").await);
        let form = [
            ("grant_type", "authorization_code"),
            ("code", callback["code"].as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
        ];
        let request =
            self.http.post(self.url("/token")).basic_auth(self.sim.client_id(), Some(self.sim.client_secret()));
        let response = request.form(&form).send().await.expect("token request");
        assert_eq!(response.status(), StatusCode::OK);
        let tokens: Value = response.json().await.expect("token JSON");
        let field = |name: &str| tokens[name].as_str().expect(name).to_owned();
        Login { id_token: field("id_token"), access_token: field("access_token"), nonce }
    }
}

#[tokio::test]
async fn added_users_follow_the_built_in_ones_on_this_instance_only() {
    let rp = Rp::on(with_added_users()).await;
    let ids: Vec<String> = rp.sim.users().iter().map(|user| user.id().to_owned()).collect();
    assert_eq!(ids, ["kari", "ola", "per", "nina", "ann", "bo", "cy", "dag"]);
    assert_eq!(rp.sim.users()[4], ann());
    let defaults: Vec<&str> = Simulator::default_users().iter().map(TestUser::id).collect();
    assert_eq!(defaults, ["kari", "ola", "per", "nina"]);

    let (page, _, _) = rp.login_page("openid", "BIS").await;
    for user in rp.sim.users() {
        assert!(page.contains(&format!(r#"value="{}""#, user.id())), "{} is offered: {page}", user.id());
    }
    assert!(page.contains("Ann Marie O&#x27;Test — BIS, LOA 3"), "the label is escaped: {page}");
    assert!(page.contains(r#"value="kari" checked"#), "the first BIS user stays the default");

    // Another simulator knows nothing of them.
    let plain = Rp::on(Simulator::builder().redirect_uri(REDIRECT_URI)).await;
    assert_eq!(plain.sim.users().len(), 4);
    let (page, _, _) = plain.login_page("openid", "BIS").await;
    assert!(!page.contains(r#"value="ann""#));
    let refused = plain.post_form(&page, "ann", "approve").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_added_user_logs_in_and_the_id_token_carries_their_claims() {
    let rp = Rp::on(with_added_users()).await;
    let ann = ann();
    let login = rp.log_in("ann", "openid profile nnin_altsub").await;
    let claims = verify_jwt(&rp.http, &rp.sim, &login.id_token, &["exp", "iat", "iss", "aud", "sub"])
        .await
        .expect("the ID token verifies");
    assert_eq!(claims["nonce"], login.nonce);
    assert_eq!(claims["sub"], ann.sub());
    assert_eq!(claims["name"], "Ann Marie O'Test");
    assert_eq!(claims["given_name"], "Ann Marie");
    assert_eq!(claims["family_name"], "O'Test");
    assert_eq!(claims["birthdate"], "1990-01-31");
    assert_eq!(claims["nnin_altsub"], "31819012388");
    assert_eq!(claims["bankid_altsub"], ann.bankid_altsub());
    assert_eq!(claims["acr"], "urn:bankid:bis;LOA=3");
    assert_eq!(claims["amr"], json!(["bis-mfa", "bis-hwk"]));

    let userinfo = rp.http.get(rp.url("/userinfo")).bearer_auth(&login.access_token).send().await.expect("userinfo");
    assert_eq!(userinfo.status(), StatusCode::OK);
    let userinfo: Value = userinfo.json().await.expect("userinfo JSON");
    assert_eq!((&userinfo["sub"], &userinfo["name"]), (&claims["sub"], &claims["name"]));

    let without_scope = rp.log_in("ann", "openid profile").await;
    assert!(claims_of(&without_scope.id_token).get("nnin_altsub").is_none(), "the nnin needs its scope");
}

#[tokio::test]
async fn acr_and_amr_follow_the_added_users_method_and_loa() {
    let rp = Rp::on(with_added_users()).await;
    let expected = [("bo", "urn:bankid:bid;LOA=4", "bid"), ("cy", "urn:bankid:bid;LOA=3", "bid")];
    for (user, acr, amr) in expected {
        let login = rp.log_in(user, "openid").await;
        let claims = verify_jwt(&rp.http, &rp.sim, &login.id_token, &["exp", "sub"]).await.expect("verifies");
        assert_eq!(claims["acr"], acr, "{user}");
        assert_eq!(claims["amr"], json!([amr]), "{user}: an array, as API v4 issues it");
    }
    // login_hint=BID preselects the first BID user, a built-in one.
    let (page, _, _) = rp.login_page("openid", "BID").await;
    assert!(page.contains(r#"value="ola" checked"#), "{page}");
}

#[tokio::test]
async fn an_added_bib_user_is_found_by_user_exists_and_can_do_ciba() {
    let rp = Rp::on(with_added_users()).await;
    let token = rp.client_token(ALL_SCOPES).await;
    for (user, exists) in [(ann(), true), (bo(), true), (dag(), false)] {
        let response = rp.user_exists(Some(&token), user.nnin()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.json::<Value>().await.expect("JSON"), json!({ "exists": exists }), "{}", user.id());
    }

    let for_ann = registration("payment.v1", PAYMENT, &["ciba"], Some(ann().nnin()), 120);
    let registered = rp.register_ok(&token, &for_ann).await;
    let started = rp.backchannel(&token, &registered).await;
    assert_eq!(started.status(), StatusCode::OK);
    let started: Value = started.json().await.expect("JSON");
    let auth_req_id = started["auth_req_id"].as_str().expect("auth_req_id");

    // Ann's phone page, found by her nnin, shows the request; she approves there.
    let phone = rp.http.get(rp.url("/phone")).query(&[("login_hint", ann().nnin())]).send().await.expect("phone");
    assert_eq!(phone.status(), StatusCode::OK);
    let phone = phone.text().await.expect("page");
    assert!(phone.contains(&format!(r#"name="auth_req_id" value="{auth_req_id}""#)), "{phone}");
    let form = [("auth_req_id", auth_req_id), ("decision", "approve")];
    let decided = rp.http.post(rp.url("/phone/decide")).form(&form).send().await.expect("decide");
    assert_eq!(decided.status(), StatusCode::OK);

    let (status, tokens) = rp.poll(&token, auth_req_id).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (bib, jwks) = (rp.sim.bib_issuer(), rp.bib_url("/jwks"));
    let expected = Expected { issuer: &bib, audience: Some(rp.sim.client_id()), required: &["exp"] };
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let claims = verify_at(&rp.http, &jwks, id_token, &expected).await.expect("the CIBA ID token verifies");
    assert_eq!(claims["sub"], ann().bib_sub(), "BIB's subject: another issuer than her code-flow login's");
    assert_ne!(claims["sub"], ann().sub());
    assert_eq!(claims["sub_nnin"], ann().nnin());
    assert_eq!(claims["name"], ann().name());
    let info = rp.sim.ciba_requests().into_iter().find(|request| request.auth_req_id == auth_req_id).expect("listed");
    assert_eq!((info.status, info.login_hint.as_str()), (CibaStatus::TokensIssued, ann().nnin()));

    // Dag has no BankID with biometrics: CIBA cannot reach him.
    let for_dag = registration("payment.v1", PAYMENT, &["ciba"], Some(dag().nnin()), 120);
    let registered = rp.register_ok(&token, &for_dag).await;
    let refused = rp.backchannel(&token, &registered).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refused.json::<Value>().await.expect("JSON")["error"], "unknown_user_id");
}

#[test]
fn each_bad_user_is_refused_with_its_typed_error() {
    let kind = |user: Result<TestUser, UserError>| user.map(|_| ()).map_err(|error| (error.kind(), error.field()));
    let ann = |nnin: &str, birthdate: &str| TestUser::builder("ann", "Ann Test", nnin, birthdate);
    assert_eq!(kind(ann("31819012389", "1990-01-31").build()), Err(("nnin_checksum", "nnin")));
    assert_eq!(kind(ann("3181901238", "1990-01-31").build()), Err(("nnin_not_eleven_digits", "nnin")));
    assert_eq!(kind(ann("31819012388", "1990-02-30").build()), Err(("invalid_birthdate", "birthdate")));
    assert_eq!(kind(ann("31819012388", "1990-01-31").method("BIM").build()), Err(("unknown_method", "method")));
    assert_eq!(kind(ann("31819012388", "1990-01-31").loa(2).build()), Err(("unsupported_loa", "loa")));
    assert_eq!(
        ann("31819012388", "1990-01-31").loa(2).build().expect_err("LOA 2").to_string(),
        "loa 2: must be 3 or 4"
    );
}

#[test]
fn a_user_whose_nnin_or_id_is_taken_is_refused_not_shadowed() {
    let karis_nnin = TestUser::new("kari2", "Kari Kopi", "17858642043", "1986-05-17").expect("valid on its own");
    let error = Simulator::builder().user(karis_nnin).expect_err("kari has this nnin");
    assert_eq!(error, UserError::Duplicate { field: "nnin", taken_by: "kari".to_owned() });
    assert_eq!((error.kind(), error.field()), ("duplicate", "nnin"));
    assert!(!error.to_string().contains("17858642043"), "the message names the user, not the number: {error}");

    let builder = Simulator::builder().user(ann()).expect("ann is new");
    let other_ann = TestUser::new("ann", "Ann Annen", "15868510045", "1985-06-15").expect("valid on its own");
    let error = builder.clone().user(other_ann).expect_err("the id is taken");
    assert_eq!((error.kind(), error.field()), ("duplicate", "id"));
    let error = builder.user(ann()).expect_err("the same user twice");
    assert_eq!(error.field(), "id");
}
