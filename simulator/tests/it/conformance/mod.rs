//! Conformance tests: a started simulator driven over real HTTP on
//! 127.0.0.1 with exactly the requests BankID's own CIBA example sends, and
//! with the shapes BankID does not take, each of which must be refused with
//! the exact status and `error`.

mod access;
mod ciba;
mod code_flow;
mod permission_api;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::sim_support::unix_now;
use axum_bankid_simulator::{Simulator, SimulatorBuilder};

/// Kari: BankID with biometrics.
const KARI_NNIN: &str = "17858642043";
/// Nina: classic BankID only, no biometrics.
const NINA_NNIN: &str = "14889010291";
/// The statement of the payments these tests register.
const STATEMENT: &str = r#"{"nonce":"n-1","id":"p-1","payments":[{"paymentId":"1","amount":"100.00","currency":"NOK","creditorName":"Butikken"}]}"#;
/// Every scope a client-credentials token can have, as BankID's CIBA
/// example asks for them.
const ALL_SCOPES: &str = "openid permissions/client permissions/ciba";
const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// A started simulator with an HTTP client that does not follow redirects.
struct Bank {
    sim: Simulator,
    http: reqwest::Client,
}

impl Bank {
    async fn start() -> Bank {
        Bank::with(Simulator::builder()).await
    }

    async fn with(builder: SimulatorBuilder) -> Bank {
        let sim = builder.start().await.expect("simulator starts");
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Bank { sim, http }
    }

    fn oidc(&self, path: &str) -> String {
        format!("{}{path}", self.sim.issuer())
    }

    fn bib(&self, path: &str) -> String {
        format!("{}{path}", self.sim.bib_issuer())
    }

    /// `POST {issuer}/token` with client_secret_basic, as BankID's example.
    async fn client_token_response(&self, scope: &str) -> Response {
        self.http
            .post(self.oidc("/token"))
            .basic_auth(self.sim.client_id(), Some(self.sim.client_secret()))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
            .await
            .expect("token request")
    }

    async fn client_token(&self, scope: &str) -> String {
        let body = json_ok(self.client_token_response(scope).await).await;
        body["access_token"].as_str().expect("access_token").to_owned()
    }

    async fn user_exists(&self, token: &str, body: &Value) -> Response {
        self.http.post(self.bib("/permissions/user-exists")).bearer_auth(token).json(body).send().await.expect("send")
    }

    async fn register_response(&self, token: &str, body: &Value) -> Response {
        self.http.post(self.bib("/permissions/")).bearer_auth(token).json(body).send().await.expect("send")
    }

    /// Registers `body`; answers `(id, permissionToken, bindingMessage)`.
    async fn register(&self, token: &str, body: &Value) -> (String, String, String) {
        let answer = json_ok(self.register_response(token, body).await).await;
        let field = |name: &str| answer[name].as_str().unwrap_or_else(|| panic!("{name} in {answer}")).to_owned();
        (field("id"), field("permissionToken"), field("bindingMessage"))
    }

    async fn grant(&self, token: &str, id: &str) -> Response {
        self.http.get(self.bib(&format!("/permissions/{id}/grant"))).bearer_auth(token).send().await.expect("send")
    }

    fn bc_authorize(&self, token: &str, form: &[(&str, &str)]) -> RequestBuilder {
        self.http.post(self.bib("/bc-authorize")).bearer_auth(token).form(form)
    }

    /// BankID's backchannel request for a registered permission.
    async fn backchannel(&self, token: &str, permission_token: &str, binding_message: &str) -> Response {
        let form = [
            ("login_hint_token", permission_token),
            ("scope", "openid permissions/ciba"),
            ("binding_message", binding_message),
        ];
        self.bc_authorize(token, &form).send().await.expect("send")
    }

    async fn poll(&self, token: &str, auth_req_id: &str) -> Response {
        let form = [("grant_type", CIBA_GRANT), ("auth_req_id", auth_req_id)];
        self.http.post(self.bib("/token")).bearer_auth(token).form(&form).send().await.expect("send")
    }

    async fn jwks(&self, url: String) -> JwkSet {
        let value = json_ok(self.http.get(url).send().await.expect("jwks")).await;
        serde_json::from_value(value).expect("a JWKS")
    }

    /// Registers a CIBA payment for `nnin` and starts the backchannel
    /// request; answers `(permission id, auth_req_id)`.
    async fn start_ciba(&self, token: &str, nnin: &str) -> (String, String) {
        let (id, permission_token, binding) =
            self.register(token, &registration("payment.v1", &["ciba"], Some(nnin))).await;
        let started = json_ok(self.backchannel(token, &permission_token, &binding).await).await;
        (id, started["auth_req_id"].as_str().expect("auth_req_id").to_owned())
    }
}

/// A registration in BankID's shape, valid for ten minutes.
fn registration(kind: &str, intents: &[&str], nnin: Option<&str>) -> Value {
    let now = unix_now();
    let mut body = json!({
        "type": kind,
        "iat": now,
        "exp": now + 600,
        "permission": URL_SAFE_NO_PAD.encode(STATEMENT),
        "loa": "sub",
        "intents": intents,
        "signals": {"browserLanguage": "nb-NO", "browserWebAuthnSupported": true},
    });
    if let Some(nnin) = nnin {
        body["loginHint"] = json!([{"scheme": "nnin", "value": nnin}]);
    }
    body
}

/// `base64(SHA-256(statement))`, padded standard alphabet.
fn statement_digest() -> String {
    STANDARD.encode(Sha256::digest(STATEMENT.as_bytes()))
}

/// The JSON body of a `200`.
async fn json_ok(response: Response) -> Value {
    let status = response.status();
    let body = response.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).expect("JSON body")
}

/// Asserts `status` and the JSON `error`; returns `error_description`.
async fn expect_error(response: Response, status: u16, error: &str) -> String {
    let got = response.status();
    let body = response.text().await.expect("body");
    assert_eq!(got.as_u16(), status, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("JSON error body, got {body}"));
    assert_eq!(body["error"], error, "{body}");
    body["error_description"].as_str().unwrap_or_default().to_owned()
}

/// The header's `kid`.
fn kid(jws: &str) -> String {
    jsonwebtoken::decode_header(jws).expect("JWS header").kid.expect("kid")
}

/// Verifies an ES256 `jws` (the simulator's default) with the key its `kid` names in `jwks`, checking
/// `iss` (and `aud` when given); `Err` when it does not verify.
fn verify(jws: &str, jwks: &JwkSet, issuer: &str, audience: Option<&str>) -> Result<Value, String> {
    let jwk = jwks.find(&kid(jws)).ok_or("kid not in the JWKS")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|error| error.to_string())?;
    let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[issuer]);
    match audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    jsonwebtoken::decode::<Value>(jws, &key, &validation).map(|data| data.claims).map_err(|error| error.to_string())
}
