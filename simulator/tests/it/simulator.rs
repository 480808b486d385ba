//! The BankID simulator, driven over real HTTP the way a relying party and a
//! browser would drive it.

use crate::sim_support;

use sim_support::*;
use std::time::{Duration, Instant};

use axum_bankid_simulator::{Endpoint, Fault};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use openidconnect::core::CoreProviderMetadata;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, LOCATION, WWW_AUTHENTICATE};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What the relying party remembers between authorization and callback.
struct Started {
    state: String,
    nonce: String,
    verifier: String,
    page: String,
}

/// A successful callback.
struct Callback {
    code: String,
    verifier: String,
    nonce: String,
}

impl Rp {
    /// `GET /authorize` with a correct PKCE request, overridden by `extra`.
    async fn authorize_raw(&self, extra: &[(&str, &str)]) -> (reqwest::Response, Started) {
        let verifier = random();
        let started = Started { state: random(), nonce: random(), verifier: verifier.clone(), page: String::new() };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", self.sim.client_id()),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid profile"),
            ("state", &started.state),
            ("nonce", &started.nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("login_hint", "BIS"),
        ];
        for (name, value) in extra {
            params.retain(|(existing, _)| existing != name);
            if !value.is_empty() {
                params.push((name, value));
            }
        }
        let response = self.http.get(self.url("/authorize")).query(&params).send().await.expect("authorize request");
        (response, started)
    }

    async fn authorize(&self, extra: &[(&str, &str)]) -> Started {
        let (response, mut started) = self.authorize_raw(extra).await;
        assert_eq!(response.status(), StatusCode::OK);
        started.page = response.text().await.expect("login page");
        started
    }

    /// Authorization request plus approval by `user`.
    async fn login_with(&self, user: &str, extra: &[(&str, &str)]) -> Callback {
        let started = self.authorize(extra).await;
        let callback = self.decide(&started.page, user, "approve").await;
        let query = query_map(&callback);
        assert_eq!(query["state"], started.state);
        Callback { code: query["code"].clone(), verifier: started.verifier, nonce: started.nonce }
    }

    async fn login(&self, user: &str) -> Callback {
        self.login_with(user, &[]).await
    }

    async fn token(&self, code: &str, verifier: &str, auth: Auth) -> reqwest::Response {
        self.token_as(code, verifier, auth, self.sim.client_secret()).await
    }

    async fn token_as(&self, code: &str, verifier: &str, auth: Auth, secret: &str) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ];
        let request = self.http.post(self.url("/token"));
        let request = match auth {
            Auth::Basic => request.basic_auth(self.sim.client_id(), Some(secret)),
            Auth::Post => {
                form.push(("client_id", self.sim.client_id()));
                form.push(("client_secret", secret));
                request
            }
        };
        request.form(&form).send().await.expect("token request")
    }

    /// A full login by `user`, returning the token response.
    async fn tokens(&self, user: &str) -> (Value, Callback) {
        let callback = self.login(user).await;
        let response = self.token(&callback.code, &callback.verifier, Auth::Basic).await;
        assert_eq!(response.status(), StatusCode::OK);
        (response.json().await.expect("token JSON"), callback)
    }

    async fn jwks(&self) -> JwkSet {
        let response = self.http.get(self.url("/jwks")).send().await.expect("jwks");
        response.json().await.expect("JWKS JSON")
    }

    /// Verifies an ID token the way a relying party must (OIDC Core §3.1.3.7).
    async fn verify(&self, id_token: &str) -> Result<Value, jsonwebtoken::errors::Error> {
        verify_jwt(&self.http, &self.sim, id_token, &["exp", "iat", "iss", "aud", "sub"]).await
    }
}

fn now() -> u64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since_epoch.expect("clock after 1970").as_secs()
}

#[tokio::test]
async fn discovery_is_valid_provider_metadata() {
    let rp = Rp::new().await;
    let body = rp.http.get(rp.sim.discovery_url()).send().await.expect("discovery");
    let json: Value = body.json().await.expect("JSON");
    let metadata: CoreProviderMetadata = serde_json::from_value(json.clone()).expect("provider metadata");
    assert_eq!(metadata.issuer().as_str(), rp.sim.issuer());
    assert_eq!(metadata.jwks_uri().as_str(), rp.url("/jwks"));
    assert_eq!(json["token_endpoint"], rp.url("/token"));
    assert_eq!(json["end_session_endpoint"], rp.url("/logout"));
    assert_eq!(json["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(json["authorization_response_iss_parameter_supported"], true);
    assert!(!rp.sim.issuer().ends_with('/'));
}

#[tokio::test]
async fn login_page_offers_every_user_and_records_the_request() {
    let rp = Rp::new().await;
    let started = rp.authorize(&[]).await;
    for label in ["Kari Nordmann — BIS, LOA 3", "Ola Nordmann — BID, LOA 4", "Per Lavnivå — BIS, LOA 2"] {
        assert!(started.page.contains(label), "missing {label}");
    }
    assert!(started.page.contains(r#"value="kari" checked"#), "BIS preselects Kari");
    for field in [r#"name="request""#, r#"name="user""#, r#"value="approve""#, r#"value="deny""#] {
        assert!(started.page.contains(field), "missing {field}");
    }
    let params = rp.sim.last_authorize_params().expect("recorded");
    assert_eq!(params["login_hint"], "BIS");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["nonce"], started.nonce);

    let classic = rp.authorize(&[("login_hint", "BID")]).await;
    assert!(classic.page.contains(r#"value="ola" checked"#), "BID preselects Ola");
}

#[tokio::test]
async fn code_flow_yields_a_verifiable_id_token() {
    let rp = Rp::new().await;
    let started = rp.authorize(&[]).await;
    let callback = rp.decide(&started.page, "kari", "approve").await;
    assert!(callback.as_str().starts_with(REDIRECT_URI));
    let query = query_map(&callback);
    assert_eq!(query["state"], started.state);
    assert_eq!(query["iss"], rp.sim.issuer());

    let response = rp.token(&query["code"], &started.verifier, Auth::Basic).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    let tokens: Value = response.json().await.expect("token JSON");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 300);

    let id_token = tokens["id_token"].as_str().expect("id_token");
    let (header, _) = unverified(id_token);
    assert_eq!(header["kid"], "sim-1");
    let claims = rp.verify(id_token).await.expect("ID token verifies");
    assert_eq!(claims["nonce"], started.nonce);
    assert_eq!(claims["acr"], "urn:bankid:bis;LOA=3");
    assert_eq!(claims["amr"], serde_json::json!(["bis-mfa", "bis-hwk"]));
    assert_eq!(claims["api_ver"], 4);
    assert!(claims["sid"].as_str().is_some_and(|sid| !sid.is_empty()), "code-flow ID tokens carry sid");
    assert_eq!(claims["name"], "Kari Nordmann");
    assert!(claims.get("azp").is_none());
    assert!(claims.get("nnin_altsub").is_none(), "nnin needs its scope");

    let access_token = tokens["access_token"].as_str().expect("access_token");
    let userinfo = rp.http.get(rp.url("/userinfo")).bearer_auth(access_token).send().await.expect("userinfo");
    assert_eq!(userinfo.status(), StatusCode::OK);
    let userinfo: Value = userinfo.json().await.expect("userinfo JSON");
    assert_eq!(userinfo["sub"], claims["sub"]);
    assert_eq!(userinfo["birthdate"], "1986-05-17");

    let bogus = rp.http.get(rp.url("/userinfo")).bearer_auth("nope").send().await.expect("userinfo");
    assert_eq!(bogus.status(), StatusCode::UNAUTHORIZED);
    assert!(bogus.headers().contains_key(WWW_AUTHENTICATE));
}

#[tokio::test]
async fn each_user_gets_their_own_acr_and_nnin_needs_its_scope() {
    let rp = Rp::new().await;
    let expected = [
        ("ola", "urn:bankid:bid;LOA=4", serde_json::json!(["bid"])),
        ("per", "urn:bankid:bis;LOA=2", serde_json::json!(["bis-mfa", "bis-hwk"])),
    ];
    for (user, acr, amr) in expected {
        let callback = rp.login_with(user, &[("scope", "openid profile nnin_altsub")]).await;
        let response = rp.token(&callback.code, &callback.verifier, Auth::Post).await;
        assert_eq!(response.status(), StatusCode::OK, "client_secret_post works");
        let tokens: Value = response.json().await.expect("token JSON");
        let claims = rp.verify(tokens["id_token"].as_str().expect("id_token")).await.expect("verifies");
        assert_eq!(claims["acr"], acr);
        assert_eq!(claims["amr"], amr);
        assert_eq!(claims["nnin_altsub"].as_str().map(str::len), Some(11));
        assert_eq!(claims["nonce"], callback.nonce);
    }
}

#[tokio::test]
async fn pkce_and_single_use_codes_are_enforced() {
    let rp = Rp::new().await;
    let callback = rp.login("kari").await;
    let wrong = rp.token(&callback.code, &random(), Auth::Basic).await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(wrong.json::<Value>().await.expect("JSON")["error"], "invalid_grant");

    let callback = rp.login("kari").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", callback.code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/other"),
        ("code_verifier", callback.verifier.as_str()),
    ];
    let request = rp.http.post(rp.url("/token")).basic_auth(rp.sim.client_id(), Some(rp.sim.client_secret()));
    let mismatch = request.form(&form).send().await.expect("token");
    assert_eq!(mismatch.json::<Value>().await.expect("JSON")["error"], "invalid_grant", "redirect_uri must match");

    let (tokens, callback) = rp.tokens("kari").await;
    let replay = rp.token(&callback.code, &callback.verifier, Auth::Basic).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert_eq!(replay.json::<Value>().await.expect("JSON")["error"], "invalid_grant");
    // The replay revoked what the code had been exchanged for.
    let access_token = tokens["access_token"].as_str().expect("access_token");
    let userinfo = rp.http.get(rp.url("/userinfo")).bearer_auth(access_token).send().await.expect("userinfo");
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn client_authentication_is_checked() {
    let rp = Rp::new().await;
    for auth in [Auth::Basic, Auth::Post] {
        let callback = rp.login("kari").await;
        let response = rp.token_as(&callback.code, &callback.verifier, auth, "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.json::<Value>().await.expect("JSON")["error"], "invalid_client");
    }
    let callback = rp.login("kari").await;
    let form = [("grant_type", "authorization_code"), ("code", callback.code.as_str())];
    let anonymous = rp.http.post(rp.url("/token")).form(&form).send().await.expect("token");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(rp.sim.request_count(Endpoint::Token), 3);
}

#[tokio::test]
async fn denial_and_invalid_requests_are_reported() {
    let rp = Rp::new().await;
    let started = rp.authorize(&[]).await;
    let denied = query_map(&rp.decide(&started.page, "kari", "deny").await);
    assert_eq!(denied["error"], "access_denied");
    assert_eq!(denied["state"], started.state);
    assert_eq!(denied["iss"], rp.sim.issuer());
    // A login page is good for one decision only.
    let again = rp.post_form(&started.page, "kari", "approve").await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    let (no_pkce, started) = rp.authorize_raw(&[("code_challenge", "")]).await;
    assert_eq!(no_pkce.status(), StatusCode::SEE_OTHER);
    let error = query_map(&location(&no_pkce));
    assert_eq!(error["error"], "invalid_request");
    assert_eq!(error["state"], started.state);

    let (plain, _) = rp.authorize_raw(&[("code_challenge_method", "plain")]).await;
    assert_eq!(query_map(&location(&plain))["error"], "invalid_request");
}

#[tokio::test]
async fn only_registered_redirect_uris_are_used() {
    let rp = Rp::new().await;
    let late = "http://127.0.0.1:9/late/callback";
    let (unknown, _) = rp.authorize_raw(&[("redirect_uri", late)]).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert!(unknown.headers().get(LOCATION).is_none(), "never redirect to an unregistered URI");

    let (wrong_client, _) = rp.authorize_raw(&[("client_id", "intruder")]).await;
    assert_eq!(wrong_client.status(), StatusCode::BAD_REQUEST);
    assert!(wrong_client.headers().get(LOCATION).is_none());

    rp.sim.allow_redirect_uri(late);
    let (registered, _) = rp.authorize_raw(&[("redirect_uri", late)]).await;
    assert_eq!(registered.status(), StatusCode::OK);
}

#[tokio::test]
async fn token_faults_answer_with_errors() {
    let rp = Rp::new().await;
    let callback = rp.login("kari").await;
    rp.sim.add_fault(Fault::TokenEndpointError);
    let response = rp.token(&callback.code, &callback.verifier, Auth::Basic).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "simulated failure");

    rp.sim.clear_faults();
    rp.sim.add_fault(Fault::TokenEndpointServerError);
    let response = rp.token(&callback.code, &callback.verifier, Auth::Basic).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = response.text().await.expect("body");
    assert!(serde_json::from_str::<Value>(&body).is_err(), "body must not be JSON");

    rp.sim.clear_faults();
    let response = rp.token(&callback.code, &callback.verifier, Auth::Basic).await;
    assert_eq!(response.status(), StatusCode::OK, "faults left the code unused");
}

#[tokio::test]
async fn claim_faults_each_break_one_claim() {
    let rp = Rp::new().await;
    // (fault, how the token shows it, whether signature-and-claims
    // validation alone already rejects it)
    type Check = fn(&Value, &Value, &str) -> bool;
    let cases: [(Fault, Check, bool); 9] = [
        (Fault::WrongAudience, |_, c, _| c["aud"] == "someone-else", true),
        (
            Fault::ExtraAudience,
            |_, c, id| c["aud"] == serde_json::json!([id, "someone-else"]) && c.get("azp").is_none(),
            false,
        ),
        (Fault::WrongAzp, |_, c, id| c["aud"] == id && c["azp"] == "someone-else", false),
        (Fault::WrongIssuer, |_, c, _| c["iss"] == "https://evil.example", true),
        (Fault::Expired, |_, c, _| c["exp"].as_u64() < Some(now()), true),
        (Fault::MissingNonce, |_, c, _| c.get("nonce").is_none(), false),
        (Fault::MissingAcr, |_, c, _| c.get("acr").is_none(), false),
        (Fault::LowAcr, |_, c, _| c["acr"] == "urn:bankid:bis;LOA=2", false),
        (Fault::AlgNone, |h, _, _| h["alg"] == "none", true),
    ];
    for (fault, shows, rejected_by_jwt_validation) in cases {
        rp.sim.clear_faults();
        rp.sim.add_fault(fault.clone());
        let (tokens, _) = rp.tokens("ola").await;
        let id_token = tokens["id_token"].as_str().expect("id_token");
        let (header, claims) = unverified(id_token);
        assert!(shows(&header, &claims, rp.sim.client_id()), "{fault:?}: {claims}");
        assert_eq!(rp.verify(id_token).await.is_err(), rejected_by_jwt_validation, "{fault:?}");
    }

    rp.sim.clear_faults();
    rp.sim.add_fault(Fault::WrongNonce);
    let (tokens, callback) = rp.tokens("kari").await;
    let claims = rp.verify(tokens["id_token"].as_str().expect("id_token")).await.expect("signature ok");
    assert_ne!(claims["nonce"], callback.nonce);

    rp.sim.clear_faults();
    rp.sim.add_fault(Fault::IssuedInFuture);
    let (tokens, _) = rp.tokens("kari").await;
    let (_, claims) = unverified(tokens["id_token"].as_str().expect("id_token"));
    assert!(claims["iat"].as_u64().expect("iat") > now() + 500);

    rp.sim.clear_faults();
    rp.sim.add_fault(Fault::BadSignature);
    let (tokens, _) = rp.tokens("kari").await;
    let error = rp.verify(tokens["id_token"].as_str().expect("id_token")).await.expect_err("tampered");
    assert_eq!(error.kind(), &jsonwebtoken::errors::ErrorKind::InvalidSignature);
}

#[tokio::test]
async fn wrong_callback_iss_is_a_mix_up() {
    let rp = Rp::new().await;
    rp.sim.add_fault(Fault::WrongCallbackIss);
    let started = rp.authorize(&[]).await;
    let callback = query_map(&rp.decide(&started.page, "kari", "approve").await);
    assert_eq!(callback["iss"], "https://evil.example");
}

#[tokio::test]
async fn key_rotation_and_unknown_kid() {
    let rp = Rp::new().await;
    let kids =
        |jwks: &JwkSet| -> Vec<String> { jwks.keys.iter().filter_map(|key| key.common.key_id.clone()).collect() };
    assert_eq!(kids(&rp.jwks().await), ["sim-1"]);
    assert_eq!(rp.sim.request_count(Endpoint::Jwks), 1);

    rp.sim.add_fault(Fault::UnknownKid);
    let (tokens, _) = rp.tokens("kari").await;
    let id_token = tokens["id_token"].as_str().expect("id_token");
    assert_eq!(unverified(id_token).0["kid"], "sim-unknown");
    assert!(rp.verify(id_token).await.is_err());
    assert_eq!(rp.sim.request_count(Endpoint::Jwks), 2);

    rp.sim.clear_faults();
    rp.sim.add_fault(Fault::RotatedKeys);
    let (tokens, _) = rp.tokens("kari").await;
    let id_token = tokens["id_token"].as_str().expect("id_token");
    assert_eq!(unverified(id_token).0["kid"], "sim-2");
    assert_eq!(kids(&rp.jwks().await), ["sim-1", "sim-2"]);
    rp.verify(id_token).await.expect("verifies against the refreshed JWKS");
    assert_eq!(rp.sim.request_count(Endpoint::Jwks), 4);
}

#[tokio::test]
async fn slow_fault_delays_back_channel_only() {
    let rp = Rp::new().await;
    let delay = Duration::from_millis(300);
    rp.sim.add_fault(Fault::Slow(delay));

    let started = Instant::now();
    rp.authorize(&[]).await;
    assert!(started.elapsed() < delay, "the login page is not slowed");

    let started = Instant::now();
    let discovery = rp.http.get(rp.sim.discovery_url()).send().await.expect("discovery");
    assert_eq!(discovery.status(), StatusCode::OK);
    assert!(started.elapsed() >= delay);

    let timeout = rp.http.get(rp.url("/jwks")).timeout(Duration::from_millis(50)).send().await;
    assert!(timeout.is_err_and(|error| error.is_timeout()));
    assert_eq!(rp.sim.request_count(Endpoint::Jwks), 1, "counted on arrival");
}

#[tokio::test]
async fn logout_returns_only_to_registered_origins() {
    let rp = Rp::new().await;
    let back = rp
        .http
        .get(rp.url("/logout"))
        .query(&[("post_logout_redirect_uri", "http://127.0.0.1:9/"), ("state", "s1")])
        .send()
        .await
        .expect("logout");
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&back).as_str(), "http://127.0.0.1:9/?state=s1");

    let elsewhere = rp
        .http
        .get(rp.url("/logout"))
        .query(&[("post_logout_redirect_uri", "https://evil.example/")])
        .send()
        .await
        .expect("logout");
    assert_eq!(elsewhere.status(), StatusCode::OK);
    assert!(elsewhere.text().await.expect("page").contains("You are logged out"));
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let rp = Rp::new().await;
    let discovery = rp.sim.discovery_url();
    let Rp { sim, http } = rp;
    sim.shutdown().await;
    assert!(http.get(discovery).send().await.is_err());
}
