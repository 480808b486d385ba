//! The code flow at BankID OIDC with upfront permissions: a registered
//! permission attached with `permission_token` (the simulator's guess), and
//! RAR in PAR with `authorization_details` in the access token.

use serde_json::json;

use super::*;

const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

async fn bank() -> Bank {
    Bank::with(Simulator::builder().redirect_uri(REDIRECT_URI)).await
}

/// A PAR body for a PKCE code flow, plus `extra`.
fn par_form<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let mut form = vec![
        ("response_type", "code".to_owned()),
        ("redirect_uri", REDIRECT_URI.to_owned()),
        ("scope", "openid profile".to_owned()),
        ("state", "st-1".to_owned()),
        ("nonce", "no-1".to_owned()),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256".to_owned()),
        // Every flow here carries a permission: BankID routes it to BIS.
        ("acr_values", "urn:bankid:bis".to_owned()),
    ];
    form.extend(extra.iter().map(|(name, value)| (*name, (*value).to_owned())));
    form
}

impl Bank {
    async fn par(&self, form: &[(&str, String)]) -> Response {
        self.http
            .post(self.oidc("/par"))
            .basic_auth(self.sim.client_id(), Some(self.sim.client_secret()))
            .form(form)
            .send()
            .await
            .expect("send")
    }

    /// PAR, the login page, Kari's approval and the code exchange; answers
    /// the token response and the login page's HTML.
    async fn log_in(&self, extra: &[(&str, &str)]) -> (Value, String) {
        let pushed = json_ok_status(self.par(&par_form(extra)).await, 201).await;
        let request_uri = pushed["request_uri"].as_str().expect("request_uri");
        let page = self
            .http
            .get(self.oidc("/authorize"))
            .query(&[("client_id", self.sim.client_id()), ("request_uri", request_uri)])
            .send()
            .await
            .expect("login page")
            .text()
            .await
            .expect("html");
        let request = page.split(r#"name="request" value=""#).nth(1).and_then(|rest| rest.split('"').next());
        let form = [("request", request.expect("hidden request field")), ("user", "kari"), ("decision", "approve")];
        let back = self.http.post(self.oidc("/authorize")).form(&form).send().await.expect("decision");
        let location = back.headers().get("location").expect("redirect").to_str().expect("ascii").to_owned();
        let location = url::Url::parse(&location).expect("absolute");
        let code = location.query_pairs().find(|(name, _)| name == "code").expect("code").1.into_owned();
        let exchange = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ];
        let tokens = self
            .http
            .post(self.oidc("/token"))
            .basic_auth(self.sim.client_id(), Some(self.sim.client_secret()))
            .form(&exchange)
            .send()
            .await
            .expect("exchange");
        (json_ok(tokens).await, page)
    }
}

async fn json_ok_status(response: Response, status: u16) -> Value {
    let got = response.status();
    let body = response.text().await.expect("body");
    assert_eq!(got.as_u16(), status, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

#[tokio::test]
async fn a_registered_permission_rides_on_par_as_permission_token_and_yields_a_grant() {
    let bank = bank().await;
    let token = bank.client_token("openid permissions/client").await;
    let (id, permission_token, _) = bank.register(&token, &registration("payment.v1", &[], None)).await;
    let (tokens, page) = bank.log_in(&[("permission_token", permission_token.as_str())]).await;
    assert!(page.contains("Butikken"), "the login page shows the registered statement");
    let oidc_keys = bank.jwks(bank.oidc("/jwks")).await;
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let claims = verify(id_token, &oidc_keys, &bank.sim.issuer(), Some(bank.sim.client_id())).expect("verifies");
    assert_eq!(claims["permission_digest"], statement_digest());
    assert_eq!(claims["acr"], "urn:bankid:bis;LOA=3");
    let grant = bank.grant(&token, &id).await;
    assert_eq!(grant.status(), StatusCode::OK);
    let jws = grant.text().await.expect("jws");
    let grants = bank.jwks(bank.bib("/jwks/grants")).await;
    let grant_claims = verify(&jws, &grants, &bank.sim.bib_issuer(), None).expect("grant verifies");
    // Two issuers, two subjects for the same person (OIDC Core §2).
    assert_ne!(grant_claims["sub"], claims["sub"], "the grant carries BIB's sub, not BankID OIDC's");
    assert_eq!(grant_claims["sub"], axum_bankid_simulator::Simulator::default_users()[0].bib_sub());

    // The token is used up by that login.
    let again = bank.par(&par_form(&[("permission_token", permission_token.as_str())])).await;
    let why = expect_error(again, 400, "invalid_request").await;
    assert!(why.contains("already used"), "{why}");
}

#[tokio::test]
async fn permission_id_is_the_old_dialect_and_refused() {
    let bank = bank().await;
    let token = bank.client_token("openid permissions/client").await;
    let (id, _, _) = bank.register(&token, &registration("payment.v1", &[], None)).await;
    let why = expect_error(bank.par(&par_form(&[("permission_id", id.as_str())])).await, 400, "invalid_request").await;
    assert!(why.contains("permission_token"), "{why}");
}

#[tokio::test]
async fn rar_puts_authorization_details_in_the_access_token_not_the_response_body() {
    let bank = bank().await;
    let permission = URL_SAFE_NO_PAD.encode(STATEMENT);
    let details = json!([{"type": "payment.v1", "permission": permission}]).to_string();
    let (tokens, _) = bank.log_in(&[("authorization_details", details.as_str())]).await;
    assert!(tokens.get("authorization_details").is_none(), "not echoed in the response body");
    let oidc_keys = bank.jwks(bank.oidc("/jwks")).await;
    let issuer = bank.sim.issuer();
    let id_claims = verify(tokens["id_token"].as_str().expect("id"), &oidc_keys, &issuer, Some(bank.sim.client_id()))
        .expect("ID token verifies");
    assert_eq!(id_claims["permission_digest"], statement_digest());

    let access_token = tokens["access_token"].as_str().expect("access_token");
    let access = verify(access_token, &oidc_keys, &issuer, None).expect("a JWT signed with BankID OIDC's key");
    let item = &access["authorization_details"][0];
    assert_eq!(item["type"], "payment.v1");
    assert_eq!(item["permission"], permission);
    assert_eq!(item["permission_digest"], statement_digest());

    let userinfo = bank.http.get(bank.oidc("/userinfo")).bearer_auth(access_token).send().await.expect("userinfo");
    assert_eq!(json_ok(userinfo).await["sub"], id_claims["sub"]);
}

#[tokio::test]
async fn a_permission_token_in_a_plain_authorization_url_works_and_a_refusal_denies_the_grant() {
    let bank = bank().await;
    let token = bank.client_token("openid permissions/client").await;
    let (id, permission_token, _) = bank.register(&token, &registration("payment.v1", &[], None)).await;
    let mut query = par_form(&[("permission_token", permission_token.as_str())]);
    query.push(("client_id", bank.sim.client_id().to_owned()));
    let page = bank.http.get(bank.oidc("/authorize")).query(&query).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("html");
    assert!(page.contains("Butikken"), "the registered statement is shown");
    let request = page.split(r#"name="request" value=""#).nth(1).and_then(|rest| rest.split('"').next());
    let form = [("request", request.expect("hidden request field")), ("decision", "deny")];
    let back = bank.http.post(bank.oidc("/authorize")).form(&form).send().await.expect("decision");
    let location = back.headers().get("location").expect("redirect").to_str().expect("ascii").to_owned();
    assert!(location.contains("error=access_denied"), "{location}");
    expect_error(bank.grant(&token, &id).await, 403, "access_denied").await;
}

#[tokio::test]
async fn echo_authorization_details_repeats_them_in_the_response_body_with_the_faults() {
    let bank = Bank::with(Simulator::builder().redirect_uri(REDIRECT_URI).echo_authorization_details(true)).await;
    let permission = URL_SAFE_NO_PAD.encode(STATEMENT);
    let details = json!([{"type": "payment.v1", "permission": permission}]).to_string();
    let (tokens, _) = bank.log_in(&[("authorization_details", details.as_str())]).await;
    assert_eq!(tokens["authorization_details"][0]["type"], "payment.v1");
    assert_eq!(tokens["authorization_details"][0]["permission_digest"], statement_digest());

    bank.sim.add_fault(axum_bankid_simulator::Fault::DifferentPermissionType);
    let (tokens, _) = bank.log_in(&[("authorization_details", details.as_str())]).await;
    assert_eq!(tokens["authorization_details"][0]["type"], "other.v1");
}
