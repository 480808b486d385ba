//! BankID OIDC API version 4 at the authorization endpoint and in the
//! tokens, over HTTP: what v4 refuses (no PKCE, `state` or `nonce`; an
//! identity number in a front-channel `login_hint`), how `acr_values`
//! routes to an identity provider, the `amr` arrays, `api_ver` and `sid` —
//! and that a method chosen on the login page never lifts a user above
//! their own level.

use crate::sim_support;

use axum_bankid_simulator::Simulator;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sim_support::{Rp, claims_of, hidden_request_id, location, query_map, random};

const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// One authorization request's secrets, and the login page it got.
struct Started {
    verifier: String,
    page: String,
}

/// The parameters of an honest v4 request, with `changes` applied: a
/// name with a value replaces or adds it, a name with `""` removes it.
fn params(rp: &Rp, verifier: &str, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut params: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", rp.sim.client_id()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid profile"),
        ("state", "st-1"),
        ("nonce", "no-1"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
    .collect();
    for (name, value) in changes {
        params.retain(|(existing, _)| existing != name);
        if !value.is_empty() {
            params.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    params
}

async fn new_rp() -> Rp {
    Rp::on(Simulator::builder().redirect_uri(REDIRECT_URI)).await
}

impl Rp {
    async fn authorize_with(&self, changes: &[(&str, &str)]) -> (reqwest::Response, String) {
        let verifier = random();
        let query = params(self, &verifier, changes);
        let response = self.http.get(self.url("/authorize")).query(&query).send().await.expect("authorize");
        (response, verifier)
    }

    async fn page(&self, changes: &[(&str, &str)]) -> Started {
        let (response, verifier) = self.authorize_with(changes).await;
        assert_eq!(response.status(), StatusCode::OK);
        Started { verifier, page: response.text().await.expect("login page") }
    }

    /// `POST /par` with the honest parameters and `changes`, client_secret_basic.
    async fn push_with(&self, changes: &[(&str, &str)]) -> reqwest::Response {
        let form = params(self, &random(), changes);
        let request = self.http.post(self.url("/par")).basic_auth(self.sim.client_id(), Some(self.sim.client_secret()));
        request.form(&form).send().await.expect("PAR")
    }

    /// Approves `started` as `user` with `method` (if any) and redeems the
    /// code: the ID token's and the access token's claims.
    async fn approve_and_redeem(&self, started: &Started, user: &str, method: Option<&str>) -> (Value, Value) {
        let mut form = vec![("request", hidden_request_id(&started.page)), ("user", user.into())];
        form.push(("decision", "approve".into()));
        if let Some(method) = method {
            form.push(("method", method.into()));
        }
        let response = self.http.post(self.url("/authorize")).form(&form).send().await.expect("decision");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let callback = query_map(&location(&response));
        let form = [
            ("grant_type", "authorization_code"),
            ("code", callback["code"].as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", started.verifier.as_str()),
        ];
        let request =
            self.http.post(self.url("/token")).basic_auth(self.sim.client_id(), Some(self.sim.client_secret()));
        let tokens: Value = request.form(&form).send().await.expect("token").json().await.expect("JSON");
        let field = |name: &str| claims_of(tokens[name].as_str().unwrap_or_else(|| panic!("{name} in {tokens}")));
        (field("id_token"), field("access_token"))
    }
}

/// The `error` and `error_description` a refused front-channel request is
/// sent back with (the client and redirect URI are known good).
fn redirected_error(response: &reqwest::Response) -> (String, String) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "refused on the redirect");
    let query = query_map(&location(response));
    assert_eq!(query["state"], "st-1", "with the state, when there is one");
    (query["error"].clone(), query["error_description"].clone())
}

#[tokio::test]
async fn a_request_without_pkce_state_or_nonce_is_refused_at_authorize_and_par() {
    let rp = new_rp().await;
    for (changes, description) in [
        (vec![("code_challenge", "")], "code_challenge is required (PKCE)"),
        (vec![("code_challenge_method", "")], "code_challenge_method must be S256"),
        (vec![("code_challenge_method", "plain")], "code_challenge_method must be S256"),
        (vec![("nonce", "")], "nonce is required (BankID OIDC API v4)"),
    ] {
        let (response, _) = rp.authorize_with(&changes).await;
        let (error, why) = redirected_error(&response);
        assert_eq!((error.as_str(), why.as_str()), ("invalid_request", description), "{changes:?}");
        let pushed = rp.push_with(&changes).await;
        assert_eq!(pushed.status(), StatusCode::BAD_REQUEST, "{changes:?}");
        let body: Value = pushed.json().await.expect("JSON");
        assert_eq!(body, json!({"error": "invalid_request", "error_description": description}), "{changes:?}");
    }
    let (response, _) = rp.authorize_with(&[("state", "")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let query = query_map(&location(&response));
    assert_eq!(
        (query["error"].as_str(), query["error_description"].as_str()),
        ("invalid_request", "state is required")
    );
    let body: Value = rp.push_with(&[("state", "")]).await.json().await.expect("JSON");
    assert_eq!(body["error_description"], "state is required");
    assert!(rp.sim.requests().iter().all(|request| request.path != "/token"), "nothing was issued");
}

#[tokio::test]
async fn an_identity_number_in_login_hint_is_refused_in_the_front_channel_and_accepted_in_par() {
    let rp = new_rp().await;
    for hint in [":17858642043", "BID:17858642043", "BIS:17858642043"] {
        let (response, _) = rp.authorize_with(&[("login_hint", hint)]).await;
        let (error, why) = redirected_error(&response);
        assert_eq!(error, "invalid_request", "{hint}");
        assert_eq!(why, "an identity number in login_hint is only accepted in a pushed authorization request (PAR)");
        assert!(!location(&response).as_str().contains("17858642043"), "the number is not echoed");

        let pushed = rp.push_with(&[("login_hint", hint)]).await;
        assert_eq!(pushed.status(), StatusCode::CREATED, "{hint} inside PAR");
    }
    for hint in ["BIS", "BID"] {
        let (response, _) = rp.authorize_with(&[("login_hint", hint)]).await;
        assert_eq!(response.status(), StatusCode::OK, "the legacy selector {hint} is still accepted");
    }
}

#[tokio::test]
async fn acr_values_route_to_the_identity_provider_like_bankid() {
    let rp = new_rp().await;
    // urn:bankid:bis routes to BankID with biometrics, whoever logs in.
    let started = rp.page(&[("acr_values", "urn:bankid:bis")]).await;
    let (claims, _) = rp.approve_and_redeem(&started, "ola", None).await;
    assert_eq!((&claims["acr"], &claims["amr"]), (&json!("urn:bankid:bis;LOA=3"), &json!(["bis-mfa", "bis-hwk"])));
    // Nina has no biometrics: BankID's fallback inside BIS, still LOA 3.
    let started = rp.page(&[("acr_values", "urn:bankid:bis")]).await;
    let (claims, _) = rp.approve_and_redeem(&started, "nina", None).await;
    assert_eq!((&claims["acr"], &claims["amr"]), (&json!("urn:bankid:bis;LOA=3"), &json!(["bis-mfa", "bis-bid"])));
    // urn:bankid:bid routes to BankID High.
    let started = rp.page(&[("acr_values", "urn:bankid:bid")]).await;
    assert!(started.page.contains(r#"value="ola" checked"#), "a BID user is preselected");
    let (claims, access) = rp.approve_and_redeem(&started, "kari", None).await;
    assert_eq!((&claims["acr"], &claims["amr"]), (&json!("urn:bankid:bid;LOA=4"), &json!(["bid"])));
    assert_eq!(claims["api_ver"], 4, "an integer in the ID token");
    assert_eq!(access["api_ver"], 4, "and in the access token");
    assert!(claims["sid"].as_str().is_some_and(|sid| sid.len() > 20), "code-flow ID tokens carry sid");
    // The legacy hint still selects; acr_values wins over it.
    let started = rp.page(&[("login_hint", "BID")]).await;
    assert!(started.page.contains(r#"value="ola" checked"#));
    let started = rp.page(&[("login_hint", "BID"), ("acr_values", "urn:bankid:bis")]).await;
    assert!(started.page.contains(r#"value="kari" checked"#), "acr_values wins");
    // A value BankID does not document is refused (the simulator's choice).
    let (response, _) = rp.authorize_with(&[("acr_values", "urn:bankid:bim")]).await;
    let (error, why) = redirected_error(&response);
    assert_eq!(
        (error.as_str(), why.as_str()),
        ("invalid_request", "acr_values may only name urn:bankid:bis or urn:bankid:bid")
    );
}

#[tokio::test]
async fn per_with_the_preselected_method_stays_at_loa_2() {
    let rp = new_rp().await;
    for asked in [vec![("login_hint", "BIS")], vec![("acr_values", "urn:bankid:bis")]] {
        let started = rp.page(&asked).await;
        assert!(started.page.contains(r#"name="method" value="BIS" checked"#), "{asked:?}: BIS is preselected");
        let (claims, _) = rp.approve_and_redeem(&started, "per", Some("BIS")).await;
        assert_eq!(claims["acr"], "urn:bankid:bis;LOA=2", "{asked:?}: the method does not lift Per");
        assert_eq!(claims["amr"], json!(["bis-mfa", "bis-hwk"]));
    }
    let started = rp.page(&[("acr_values", "urn:bankid:bid")]).await;
    let (claims, _) = rp.approve_and_redeem(&started, "per", None).await;
    assert_eq!(claims["acr"], "urn:bankid:bis;LOA=2", "asked for BID, Per has none: his own level");
}

#[tokio::test]
async fn the_page_shows_each_users_methods_and_refuses_one_the_user_lacks() {
    let rp = new_rp().await;
    let started = rp.page(&[("acr_values", "urn:bankid:bid")]).await;
    for (user, methods) in
        [("kari", "BIS LOA 3, BID LOA 4"), ("ola", "BIS LOA 3, BID LOA 4"), ("per", "BIS LOA 2"), ("nina", "BID LOA 4")]
    {
        let start = started.page.find(&format!(r#"value="{user}""#)).expect("the user is listed");
        let line = &started.page[start..start + started.page[start..].find("</label>").expect("label end")];
        assert!(line.ends_with(&format!("(methods: {methods})")), "{user}: {line}");
    }
    for (user, method, message) in [
        ("per", "BID", "This user has no BankID High."),
        ("nina", "BIS", "This user has not enabled BankID with biometrics."),
    ] {
        let started = rp.page(&[("acr_values", "urn:bankid:bid")]).await;
        let form = [
            ("request", hidden_request_id(&started.page)),
            ("user", user.into()),
            ("method", method.into()),
            ("decision", "approve".into()),
        ];
        let response = rp.http.post(rp.url("/authorize")).form(&form).send().await.expect("decision");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{user} {method}");
        assert!(response.text().await.expect("page").contains(message), "{user} {method}");
    }
}

#[tokio::test]
async fn a_flow_with_upfront_permissions_must_ask_for_bankid_with_biometrics() {
    let rp = new_rp().await;
    let statement = URL_SAFE_NO_PAD.encode(r#"{"nonce":"n","id":"p-1","payments":[]}"#);
    let details = json!([{"type": "payment.v1", "permission": statement}]).to_string();
    let refused = "a flow with upfront permissions must send acr_values=urn:bankid:bis";
    for selector in [vec![("acr_values", "")], vec![("acr_values", "urn:bankid:bid")], vec![("login_hint", "BIS")]] {
        let mut changes = selector.clone();
        changes.push(("authorization_details", details.as_str()));
        let pushed = rp.push_with(&changes).await;
        assert_eq!(pushed.status(), StatusCode::BAD_REQUEST, "{selector:?}");
        let body: Value = pushed.json().await.expect("JSON");
        assert_eq!(body, json!({"error": "invalid_request", "error_description": refused}), "{selector:?}");
    }
    let pushed = rp.push_with(&[("acr_values", "urn:bankid:bis"), ("authorization_details", &details)]).await;
    assert_eq!(pushed.status(), StatusCode::CREATED, "routed to BankID with biometrics");

    // A registered permission's token is refused the same way, and not used up.
    let token = rp.client_token("openid permissions/client").await;
    let registered = rp
        .register_ok(&token, &sim_support::registration("payment.v1", r#"{"nonce":"n","id":"p-2"}"#, &[], None, 600))
        .await;
    let attached = [("permission_token", registered.permission_token.as_str())];
    let (response, _) = rp.authorize_with(&attached).await;
    let (error, why) = redirected_error(&response);
    assert_eq!((error.as_str(), why.as_str()), ("invalid_request", refused));
    let routed = [attached[0], ("acr_values", "urn:bankid:bis")];
    let started = rp.page(&routed).await;
    assert!(started.page.contains("payment.v1"), "the token still works once routed");
}
