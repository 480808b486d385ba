//! The simulator's upfront permissions over real HTTP: pushed authorization
//! requests with `authorization_details`, the `permission_digest` in the ID
//! token and `authorization_details` in the access token (BankID OIDC), and
//! BIB's Permission API (`{bib}/permissions/`, `user-exists`, the grant) in
//! BankID's dialect. The shapes BIB refuses are pinned by the conformance
//! tests in `conformance/`; this file keeps the behaviours.

use crate::sim_support;

use sim_support::*;

use axum_bankid_simulator::{Endpoint, Fault, Simulator};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Never contacted: redirects are not followed, only read.
/// The statement of the known-answer test, and its digest:
/// `printf '%s' '{"amount":"123.45","currency":"NOK"}' | openssl dgst -sha256 -binary | base64`.
const STATEMENT: &str = r#"{"amount":"123.45","currency":"NOK"}"#;
const STATEMENT_DIGEST: &str = "QFS9dO/Vg7oeuve4I0Owc8etOmyLVNuj3JbyUiVswi8=";
const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// What the relying party remembers of a pushed request.
struct Pushed {
    request_uri: String,
    state: String,
    nonce: String,
    verifier: String,
}

impl Rp {
    async fn with(builder: axum_bankid_simulator::SimulatorBuilder) -> Rp {
        Rp::on(builder.redirect_uri(REDIRECT_URI)).await
    }

    /// A front-channel `GET /authorize` (no PAR) with a correct PKCE
    /// request, `state` and one `extra` parameter.
    async fn authorize_plain(&self, state: &str, extra: (&str, &str)) -> reqwest::Response {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(random().as_bytes()));
        let query = [
            ("response_type", "code"),
            ("client_id", self.sim.client_id()),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
            ("state", state),
            ("nonce", "n-plain"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("acr_values", "urn:bankid:bis"),
            extra,
        ];
        self.http.get(self.url("/authorize")).query(&query).send().await.expect("authorize")
    }

    /// `POST /par` with a correct PKCE request, overridden by `extra`
    /// (an empty value removes a parameter).
    async fn par_raw(&self, extra: &[(&str, &str)], auth: Auth) -> (reqwest::Response, Pushed) {
        let verifier = random();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let (state, nonce) = (random(), random());
        let mut form: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", self.sim.client_id()),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid profile"),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("acr_values", "urn:bankid:bis"),
        ];
        for (name, value) in extra {
            form.retain(|(existing, _)| existing != name);
            if !value.is_empty() {
                form.push((name, value));
            }
        }
        let request = self.http.post(self.url("/par"));
        let request = match auth {
            Auth::Basic => request.basic_auth(self.sim.client_id(), Some(self.sim.client_secret())),
            Auth::Post => {
                form.push(("client_secret", self.sim.client_secret()));
                request
            }
        };
        let response = request.form(&form).send().await.expect("PAR request");
        let pushed = Pushed { request_uri: String::new(), state, nonce, verifier };
        (response, pushed)
    }

    /// A successful push.
    async fn push(&self, extra: &[(&str, &str)]) -> Pushed {
        let (response, mut pushed) = self.par_raw(extra, Auth::Basic).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("PAR JSON");
        assert_eq!(body["expires_in"], 60);
        pushed.request_uri = body["request_uri"].as_str().expect("request_uri").to_owned();
        pushed
    }

    /// The browser brings `request_uri` to `/authorize`.
    async fn authorize_pushed(&self, request_uri: &str, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut query = vec![("client_id", self.sim.client_id()), ("request_uri", request_uri)];
        query.extend_from_slice(extra);
        self.http.get(self.url("/authorize")).query(&query).send().await.expect("authorize")
    }

    /// Push, authorize, approve as `user`: the code, checked against state.
    async fn login_pushed(&self, extra: &[(&str, &str)], user: &str) -> (String, Pushed, String) {
        let pushed = self.push(extra).await;
        let response = self.authorize_pushed(&pushed.request_uri, &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = response.text().await.expect("login page");
        let callback = query_map(&self.decide(&page, user, "approve").await);
        assert_eq!(callback["state"], pushed.state);
        assert_eq!(callback["iss"], self.sim.issuer());
        (callback["code"].clone(), pushed, page)
    }

    async fn redeem(&self, code: &str, verifier: &str) -> Value {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ];
        let request =
            self.http.post(self.url("/token")).basic_auth(self.sim.client_id(), Some(self.sim.client_secret()));
        let response = request.form(&form).send().await.expect("token request");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("token JSON")
    }

    /// Verifies an ID token from BankID OIDC against its JWKS.
    async fn verify_id_token(&self, jwt: &str) -> Value {
        verify_jwt(&self.http, &self.sim, jwt, &["iat", "iss", "aud", "sub"])
            .await
            .expect("signature and claims verify")
    }

    /// The claims of a code-flow access token: a JWT signed with BankID
    /// OIDC's key, where BankID documents the `authorization_details`.
    async fn access_claims(&self, tokens: &Value) -> Value {
        let access_token = tokens["access_token"].as_str().expect("access_token");
        let issuer = self.sim.issuer();
        let expected = Expected { issuer: &issuer, audience: None, required: &["exp"] };
        verify_at(&self.http, &self.url("/jwks"), access_token, &expected).await.expect("access token verifies")
    }

    /// A grant verified with BIB's `jwks_uri_grants` and issuer.
    async fn verify_grant(&self, jws: &str) -> Value {
        let bib = self.sim.bib_issuer();
        let expected = Expected { issuer: &bib, audience: None, required: &["exp", "iss", "sub"] };
        verify_at(&self.http, &self.bib_url("/jwks/grants"), jws, &expected).await.expect("grant verifies")
    }
}

/// `authorization_details` with one item per `(type, statement)`.
fn details(items: &[(&str, &str)]) -> String {
    let items: Vec<Value> =
        items.iter().map(|(kind, statement)| json!({ "type": kind, "permission": b64url(statement) })).collect();
    Value::Array(items).to_string()
}

/// `base64(SHA-256(bytes))`, computed independently of the simulator.
fn digest_of(bytes: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes.as_bytes()))
}

async fn error_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.expect("JSON error");
    (status, body["error"].as_str().expect("error").to_owned())
}

#[tokio::test]
async fn discovery_advertises_par_rar_and_ciba_at_bib() {
    let rp = Rp::new().await;
    let doc: Value = rp.http.get(rp.sim.discovery_url()).send().await.expect("discovery").json().await.expect("JSON");
    assert_eq!(doc["pushed_authorization_request_endpoint"], rp.url("/par"));
    assert_eq!(doc["require_pushed_authorization_requests"], false);
    assert_eq!(doc["authorization_details_types_supported"], json!(["payment.v1", "card.v1", "account.v1"]));
    let grants = doc["grant_types_supported"].as_array().expect("grant types");
    assert!(grants.contains(&json!("authorization_code")));
    assert!(grants.contains(&json!("client_credentials")), "BIB's Bearer tokens come from here");

    // CIBA is BIB's now, in BIB's own discovery document.
    let bib: Value =
        rp.http.get(rp.sim.bib_discovery_url()).send().await.expect("discovery").json().await.expect("JSON");
    assert_eq!(bib["backchannel_authentication_endpoint"], rp.bib_url("/bc-authorize"));
    assert_eq!(bib["backchannel_user_code_parameter_supported"], false);
    assert_eq!(bib["grant_types_supported"], json!([CIBA_GRANT]));

    let hidden = Rp::with(Simulator::builder().advertise_par(false)).await;
    let doc: Value =
        hidden.http.get(hidden.sim.discovery_url()).send().await.expect("discovery").json().await.expect("JSON");
    assert!(doc.get("pushed_authorization_request_endpoint").is_none());
    let bib: Value =
        hidden.http.get(hidden.sim.bib_discovery_url()).send().await.expect("discovery").json().await.expect("JSON");
    assert_eq!(bib["backchannel_authentication_endpoint"], hidden.bib_url("/bc-authorize"), "BIB is unaffected");
    // Not advertised, but still served.
    hidden.push(&[]).await;
}

#[tokio::test]
async fn par_round_trip_puts_the_digest_in_id_token_and_access_token() {
    let rp = Rp::new().await;
    let details = details(&[("payment.v1", STATEMENT)]);
    let (response, pushed) = rp.par_raw(&[("authorization_details", &details)], Auth::Post).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("JSON");
    let request_uri = body["request_uri"].as_str().expect("request_uri");
    assert!(request_uri.starts_with(REQUEST_URI_PREFIX), "{request_uri}");
    let recorded = rp.sim.last_par_params().expect("recorded");
    assert_eq!(recorded["authorization_details"], details);
    assert_eq!(recorded["state"], pushed.state);
    assert!(!recorded.contains_key("client_secret"), "secrets are not recorded");

    // Parameters beside request_uri are ignored (RFC 9126 §4).
    let response = rp.authorize_pushed(request_uri, &[("state", "other"), ("scope", "bogus")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.expect("page");
    assert!(page.contains("You are asked to approve"), "{page}");
    assert!(page.contains("payment.v1"));
    assert!(page.contains("&quot;amount&quot;: &quot;123.45&quot;"), "pretty-printed and escaped: {page}");
    let callback = query_map(&rp.decide(&page, "kari", "approve").await);
    assert_eq!(callback["state"], pushed.state);

    let tokens = rp.redeem(&callback["code"], &pushed.verifier).await;
    let claims = rp.verify_id_token(tokens["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["permission_digest"], STATEMENT_DIGEST);
    assert_eq!(claims["permission_digest"], digest_of(STATEMENT));
    assert_eq!(claims["nonce"], pushed.nonce);
    assert_eq!(claims["acr"], "urn:bankid:bis;LOA=3");
    // Exactly the pushed item plus its digest, nothing else.
    assert_eq!(
        rp.access_claims(&tokens).await["authorization_details"],
        json!([{ "type": "payment.v1", "permission": b64url(STATEMENT), "permission_digest": STATEMENT_DIGEST }])
    );
    // userinfo is unaffected by the permission.
    let access_token = tokens["access_token"].as_str().expect("access_token");
    let userinfo = rp.http.get(rp.url("/userinfo")).bearer_auth(access_token).send().await.expect("userinfo");
    let userinfo: Value = userinfo.json().await.expect("userinfo JSON");
    assert_eq!(userinfo["sub"], claims["sub"]);
    assert!(userinfo.get("permission_digest").is_none());
    assert!(userinfo.get("authorization_details").is_none());
}

#[tokio::test]
async fn several_items_give_an_array_of_digests_in_order() {
    let rp = Rp::new().await;
    let card = r#"{"card":"**** 1234"}"#;
    let details = details(&[("payment.v1", STATEMENT), ("card.v1", card), ("any.custom.type", "plain text")]);
    let (code, pushed, page) = rp.login_pushed(&[("authorization_details", &details)], "ola").await;
    assert!(page.contains("any.custom.type") && page.contains("plain text"));
    let tokens = rp.redeem(&code, &pushed.verifier).await;
    let claims = rp.verify_id_token(tokens["id_token"].as_str().expect("id_token")).await;
    let expected = [digest_of(STATEMENT), digest_of(card), digest_of("plain text")];
    assert_eq!(claims["permission_digest"], json!(expected));
    let access = rp.access_claims(&tokens).await;
    let items = access["authorization_details"].as_array().expect("authorization_details");
    assert_eq!(items.len(), 3);
    let kinds = ["payment.v1", "card.v1", "any.custom.type"];
    for ((item, kind), digest) in items.iter().zip(kinds).zip(&expected) {
        assert_eq!(item["type"], kind);
        assert_eq!(&item["permission_digest"], digest);
    }
}

#[tokio::test]
async fn request_uri_is_single_use_and_bound_to_the_client() {
    let rp = Rp::new().await;
    let (_, pushed, _) = rp.login_pushed(&[], "kari").await;
    let again = rp.authorize_pushed(&pushed.request_uri, &[]).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let target = location(&again);
    assert!(target.as_str().starts_with(REDIRECT_URI));
    let error = query_map(&target);
    assert_eq!(error["error"], "invalid_request_uri");
    assert_eq!(error["state"], pushed.state);
    assert_eq!(error["iss"], rp.sim.issuer());

    let unknown = rp.authorize_pushed(&format!("{REQUEST_URI_PREFIX}nope"), &[]).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert!(unknown.headers().get(LOCATION).is_none());

    let fresh = rp.push(&[]).await;
    let query = [("client_id", "intruder"), ("request_uri", fresh.request_uri.as_str())];
    let intruder = rp.http.get(rp.url("/authorize")).query(&query).send().await.expect("authorize");
    assert_eq!(intruder.status(), StatusCode::BAD_REQUEST);
    assert!(intruder.headers().get(LOCATION).is_none());
    // The refused attempt did not use it up.
    assert_eq!(rp.authorize_pushed(&fresh.request_uri, &[]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn pushed_requests_are_validated() {
    let rp = Rp::new().await;
    let good = b64url(STATEMENT);
    for bad in [
        "not json".to_owned(),
        "[]".to_owned(),
        r#"{"type":"payment.v1"}"#.to_owned(),
        format!(r#"[{{"permission":"{good}"}}]"#),
        r#"[{"type":"payment.v1"}]"#.to_owned(),
        r#"[{"type":"payment.v1","permission":"not base64!"}]"#.to_owned(),
        format!(r#"[{{"type":"payment.v1","permission":"{good}=="}}]"#),
        format!(r#"[{{"type":["payment.v1"],"permission":"{good}"}}]"#),
    ] {
        let (response, _) = rp.par_raw(&[("authorization_details", &bad)], Auth::Basic).await;
        assert_eq!(
            error_of(response).await,
            (StatusCode::BAD_REQUEST, "invalid_authorization_details".into()),
            "{bad}"
        );
    }
    let expectations: [(&[(&str, &str)], &str); 6] = [
        (&[("request_uri", "urn:x")], "invalid_request"),
        (&[("code_challenge", "")], "invalid_request"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("redirect_uri", "https://evil.example/cb")], "invalid_request"),
        (&[("scope", "profile")], "invalid_scope"),
        (&[("permission_token", "unknown")], "invalid_request"),
    ];
    for (extra, expected) in expectations {
        let (response, _) = rp.par_raw(extra, Auth::Basic).await;
        assert_eq!(error_of(response).await, (StatusCode::BAD_REQUEST, expected.into()), "{extra:?}");
    }

    let (response, _) = rp.par_raw(&[("client_id", "intruder")], Auth::Post).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let unauthenticated = rp.http.post(rp.url("/par")).form(&[("client_id", rp.sim.client_id())]).send().await;
    assert_eq!(unauthenticated.expect("PAR").status(), StatusCode::UNAUTHORIZED);

    // Both ways of attaching a permission at once.
    let token = rp.client_token("openid permissions/client").await;
    let registered = rp.register_ok(&token, &registration("payment.v1", STATEMENT, &[], None, 600)).await;
    let details = details(&[("payment.v1", STATEMENT)]);
    let both = [("authorization_details", details.as_str()), ("permission_token", &registered.permission_token)];
    let (response, _) = rp.par_raw(&both, Auth::Basic).await;
    assert_eq!(error_of(response).await, (StatusCode::BAD_REQUEST, "invalid_request".into()));
    // The refusal did not use up the permissionToken.
    rp.push(&[("permission_token", &registered.permission_token)]).await;

    // authorization_details only in PAR, as at BankID.
    let plain = rp.authorize_plain("s-1", ("authorization_details", &details)).await;
    assert_eq!(plain.status(), StatusCode::SEE_OTHER);
    let error = query_map(&location(&plain));
    assert_eq!(error["error"], "invalid_request");
    assert_eq!(error["state"], "s-1");
}

#[tokio::test]
async fn permission_faults_each_break_one_thing() {
    let rp = Rp::new().await;
    let details = details(&[("payment.v1", STATEMENT)]);
    let extra = [("authorization_details", details.as_str())];

    rp.sim.add_fault(Fault::WrongPermissionDigest);
    let (code, pushed, _) = rp.login_pushed(&extra, "kari").await;
    let tokens = rp.redeem(&code, &pushed.verifier).await;
    let claims = rp.verify_id_token(tokens["id_token"].as_str().expect("id_token")).await;
    assert!(claims["permission_digest"].is_string());
    assert_ne!(claims["permission_digest"], STATEMENT_DIGEST);
    let access = rp.access_claims(&tokens).await;
    assert_eq!(access["authorization_details"][0]["permission_digest"], STATEMENT_DIGEST, "access token honest");

    rp.sim.clear_faults();
    rp.sim.add_fault(Fault::MissingPermissionDigest);
    let (code, pushed, _) = rp.login_pushed(&extra, "kari").await;
    let tokens = rp.redeem(&code, &pushed.verifier).await;
    assert!(claims_of(tokens["id_token"].as_str().expect("id_token")).get("permission_digest").is_none());
    let access = rp.access_claims(&tokens).await;
    assert!(access["authorization_details"][0].get("permission_digest").is_none());
    assert_eq!(access["authorization_details"][0]["type"], "payment.v1");

    rp.sim.clear_faults();
    rp.sim.add_fault(Fault::DifferentPermissionType);
    let (code, pushed, _) = rp.login_pushed(&extra, "kari").await;
    let tokens = rp.redeem(&code, &pushed.verifier).await;
    assert_eq!(rp.access_claims(&tokens).await["authorization_details"][0]["type"], "other.v1");
    assert_eq!(claims_of(tokens["id_token"].as_str().expect("id_token"))["permission_digest"], STATEMENT_DIGEST);

    rp.sim.clear_faults();
    rp.sim.add_fault(Fault::ExpiredRequestUri);
    let pushed = rp.push(&extra).await;
    let expired = rp.authorize_pushed(&pushed.request_uri, &[]).await;
    assert_eq!(expired.status(), StatusCode::SEE_OTHER);
    let error = query_map(&location(&expired));
    assert_eq!(error["error"], "invalid_request_uri");
    assert_eq!(error["state"], pushed.state);

    rp.sim.clear_faults();
    rp.sim.add_fault(Fault::ReusableRequestUri);
    let pushed = rp.push(&extra).await;
    for _ in 0..2 {
        assert_eq!(rp.authorize_pushed(&pushed.request_uri, &[]).await.status(), StatusCode::OK);
    }
    rp.sim.clear_faults();
    let refused = rp.authorize_pushed(&pushed.request_uri, &[]).await;
    assert_eq!(query_map(&location(&refused))["error"], "invalid_request_uri");
}

#[tokio::test]
async fn client_credentials_are_limited_to_permission_scopes() {
    let rp = Rp::new().await;
    let response = rp.client_credentials("openid permissions/client permissions/ciba permissions/client").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "openid permissions/client permissions/ciba");
    assert!(body.get("id_token").is_none());
    assert!(body["access_token"].as_str().is_some_and(|token| token.len() >= 43));

    for scope in ["openid profile", "admin", ""] {
        let response = rp.client_credentials(scope).await;
        assert_eq!(error_of(response).await, (StatusCode::BAD_REQUEST, "invalid_scope".into()), "{scope:?}");
    }
    let form = [("grant_type", "client_credentials"), ("scope", "openid")];
    let wrong = rp.http.post(rp.url("/token")).basic_auth(rp.sim.client_id(), Some("wrong")).form(&form).send().await;
    assert_eq!(wrong.expect("token").status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn permission_api_registers_and_signs_a_grant_after_a_login() {
    let rp = Rp::new().await;
    let token = rp.client_token("openid permissions/client").await;
    let valid = registration("payment.v1", STATEMENT, &[], None, 600);

    let mut no_permission = valid.clone();
    no_permission.as_object_mut().expect("object").remove("permission");
    let mut not_base64 = valid.clone();
    not_base64["permission"] = json!("***");
    for bad in [no_permission, not_base64, json!([1])] {
        assert_eq!(
            error_of(rp.register(&token, &bad).await).await,
            (StatusCode::BAD_REQUEST, "invalid_request".into()),
            "{bad}"
        );
    }

    let registered = rp.register_ok(&token, &valid).await;

    // The permission rides along a login, here a pushed one.
    let (code, pushed, page) = rp.login_pushed(&[("permission_token", &registered.permission_token)], "ola").await;
    assert!(page.contains("You are asked to approve") && page.contains("123.45"));
    let tokens = rp.redeem(&code, &pushed.verifier).await;
    let claims = rp.verify_id_token(tokens["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["permission_digest"], STATEMENT_DIGEST);
    assert!(
        rp.access_claims(&tokens).await.get("authorization_details").is_none(),
        "a registered permission is not an authorization_details item"
    );

    let grant = rp.grant(&token, &registered.id).await;
    assert_eq!(grant.status(), StatusCode::OK);
    let jws = grant.text().await.expect("grant");
    assert_eq!(jsonwebtoken::decode_header(&jws).expect("header").kid.as_deref(), Some("bib-grant-1"));
    let signed = rp.verify_grant(&jws).await;
    assert_eq!(signed["iss"], rp.sim.bib_issuer());
    assert_ne!(signed["sub"], claims["sub"], "BIB's sub, not the ID token's (another issuer)");
    assert!(signed["sub"].as_str().is_some_and(|sub| sub.len() == 43));
    assert_eq!(signed["type"], "payment.v1");
    assert_eq!(signed["digest"], STATEMENT_DIGEST, "known answer");
    assert_eq!(signed["permissionId"], registered.id);

    // A registered permission in a plain authorization URL, denied.
    let card = registration("card.v1", r#"{"card":"**** 1234"}"#, &[], None, 600);
    let other = rp.register_ok(&token, &card).await;
    let page = rp.authorize_plain("s-2", ("permission_token", &other.permission_token)).await;
    let page = page.text().await.expect("page");
    assert!(page.contains("card.v1"));
    let denied = query_map(&rp.decide(&page, "kari", "deny").await);
    assert_eq!(denied["error"], "access_denied");
    assert_eq!(error_of(rp.grant(&token, &other.id).await).await, (StatusCode::FORBIDDEN, "access_denied".into()));
}

#[tokio::test]
async fn user_exists_only_for_users_with_biometrics() {
    let rp = Rp::new().await;
    let token = rp.client_token("openid permissions/client").await;
    let nina = Simulator::default_users().iter().find(|user| user.id() == "nina").expect("nina");
    assert_eq!(nina.name(), "Nina Utenbib");
    assert!(!nina.bib_enabled());
    for (hint, expected) in [(nnin("kari"), true), (nnin("ola"), true), (nnin("per"), true), (nina.nnin(), false)] {
        let response = rp.user_exists(Some(&token), hint).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.json::<Value>().await.expect("JSON"), json!({ "exists": expected }), "{hint}");
    }
    let unknown: Value = rp.user_exists(Some(&token), "01010100000").await.json().await.expect("JSON");
    assert_eq!(unknown["exists"], false);
    assert_eq!(rp.user_exists(None, nnin("kari")).await.status(), StatusCode::UNAUTHORIZED);
    let url = rp.bib_url("/permissions/user-exists");
    let bad = rp.http.post(url).bearer_auth(&token).json(&json!({})).send().await;
    assert_eq!(error_of(bad.expect("user-exists")).await, (StatusCode::BAD_REQUEST, "invalid_request".into()));

    rp.sim.add_fault(Fault::UserExistsError);
    let failing = rp.user_exists(Some(&token), nnin("kari")).await;
    assert_eq!(failing.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(rp.sim.request_count(Endpoint::UserExists), 8, "every call counts");
}
