//! Helpers shared by the simulator's own tests (`simulator*.rs`), which talk
//! to it as a bare relying party would, without the crate's RP code.
//!
//! The BankID OIDC half (code flow, PAR, client credentials) lives at
//! `sim.issuer()`, the BIB half (Permission API, CIBA) at `sim.bib_issuer()`;
//! every BIB call carries a Bearer client-credentials token, as in BankID's
//! own CIBA example.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum_bankid_simulator::{Simulator, SimulatorBuilder};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use url::Url;

/// Every scope a client-credentials token can carry, as BankID's CIBA
/// example asks for them.
pub const ALL_SCOPES: &str = "openid permissions/client permissions/ciba";
/// The CIBA grant type (CIBA Core §10.1).
pub const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";
/// The scope of BankID's backchannel request.
pub const CIBA_SCOPE: &str = "openid permissions/ciba";
/// The redirect URI the test client registers. Never contacted: redirects
/// are not followed, only read.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/auth/callback";

/// What the Permission API answers to a registration.
#[derive(Debug, Clone)]
pub struct Registered {
    pub id: String,
    pub permission_token: String,
    pub binding_message: String,
}

/// How the test client authenticates at the token (and PAR) endpoint.
#[derive(Clone, Copy)]
pub enum Auth {
    Basic,
    Post,
}

/// A relying party and a browser in one: drives the simulator over HTTP and
/// never follows a redirect, only reads it. Each test file adds the steps it
/// needs in its own `impl Rp`.
pub struct Rp {
    pub sim: Simulator,
    pub http: reqwest::Client,
}

impl Rp {
    /// A relying party on a default simulator that knows [`REDIRECT_URI`].
    pub async fn new() -> Rp {
        Rp::on(Simulator::builder().redirect_uri(REDIRECT_URI)).await
    }

    pub async fn on(builder: SimulatorBuilder) -> Rp {
        let sim = builder.start().await.expect("simulator starts");
        let http =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client builds");
        Rp { sim, http }
    }

    /// A URL at BankID OIDC.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.issuer())
    }

    /// A URL at BIB.
    pub fn bib_url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.bib_issuer())
    }

    /// `POST {issuer}/token` with `grant_type=client_credentials`, the
    /// client authenticated with `client_secret_basic`.
    pub async fn client_credentials(&self, scope: &str) -> reqwest::Response {
        let form = [("grant_type", "client_credentials"), ("scope", scope)];
        let request =
            self.http.post(self.url("/token")).basic_auth(self.sim.client_id(), Some(self.sim.client_secret()));
        request.form(&form).send().await.expect("token request")
    }

    /// A client-credentials access token for BIB with `scope`.
    pub async fn client_token(&self, scope: &str) -> String {
        let response = self.client_credentials(scope).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("JSON");
        body["access_token"].as_str().expect("access_token").to_owned()
    }

    /// `POST {bib}/permissions/` with `body`.
    pub async fn register(&self, token: &str, body: &Value) -> reqwest::Response {
        self.http.post(self.bib_url("/permissions/")).bearer_auth(token).json(body).send().await.expect("register")
    }

    /// A successful registration of `body`.
    pub async fn register_ok(&self, token: &str, body: &Value) -> Registered {
        let response = self.register(token, body).await;
        let status = response.status();
        let answer: Value = response.json().await.expect("JSON");
        assert_eq!(status, StatusCode::OK, "{answer}");
        let field = |name: &str| answer[name].as_str().unwrap_or_else(|| panic!("{name} in {answer}")).to_owned();
        Registered {
            id: field("id"),
            permission_token: field("permissionToken"),
            binding_message: field("bindingMessage"),
        }
    }

    /// `POST {bib}/permissions/user-exists` for `nnin`, with the Bearer
    /// `token` if any.
    pub async fn user_exists(&self, token: Option<&str>, nnin: &str) -> reqwest::Response {
        let body = json!({ "loginHint": [{ "scheme": "nnin", "value": nnin }] });
        let request = self.http.post(self.bib_url("/permissions/user-exists")).json(&body);
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        request.send().await.expect("user-exists")
    }

    /// `GET {bib}/permissions/{id}/grant`.
    pub async fn grant(&self, token: &str, id: &str) -> reqwest::Response {
        let url = self.bib_url(&format!("/permissions/{id}/grant"));
        self.http.get(url).bearer_auth(token).send().await.expect("grant")
    }

    /// `POST {bib}/bc-authorize` with exactly `form`.
    pub async fn bc_authorize(&self, token: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let request = self.http.post(self.bib_url("/bc-authorize")).bearer_auth(token).form(form);
        request.send().await.expect("backchannel request")
    }

    /// BankID's backchannel request for `registered`: its permissionToken as
    /// `login_hint_token`, its bindingMessage as `binding_message`.
    pub async fn backchannel(&self, token: &str, registered: &Registered) -> reqwest::Response {
        let form = [
            ("login_hint_token", registered.permission_token.as_str()),
            ("scope", CIBA_SCOPE),
            ("binding_message", registered.binding_message.as_str()),
        ];
        self.bc_authorize(token, &form).await
    }

    /// Registers `statement` (type `kind`, valid `lifetime` seconds) for
    /// `user` with `intents: ["ciba"]` and starts a backchannel request for
    /// it; the registration and the `200` answer of `bc-authorize`.
    pub async fn start_ciba(
        &self,
        token: &str,
        user: &str,
        kind: &str,
        statement: &str,
        lifetime: u64,
    ) -> (Registered, Value) {
        let registered =
            self.register_ok(token, &registration(kind, statement, &["ciba"], Some(nnin(user)), lifetime)).await;
        let response = self.backchannel(token, &registered).await;
        let status = response.status();
        let started: Value = response.json().await.expect("JSON");
        assert_eq!(status, StatusCode::OK, "{started}");
        (registered, started)
    }

    /// One CIBA poll of `POST {bib}/token`: the status and the JSON body.
    pub async fn poll(&self, token: &str, auth_req_id: &str) -> (StatusCode, Value) {
        let form = [("grant_type", CIBA_GRANT), ("auth_req_id", auth_req_id)];
        let response = self.http.post(self.bib_url("/token")).bearer_auth(token).form(&form).send().await;
        let response = response.expect("poll");
        (response.status(), response.json().await.expect("JSON"))
    }

    /// Posts the login form as `user` with `decision`.
    pub async fn post_form(&self, page: &str, user: &str, decision: &str) -> reqwest::Response {
        let form = [("request", hidden_request_id(page)), ("user", user.into()), ("decision", decision.into())];
        self.http.post(self.url("/authorize")).form(&form).send().await.expect("decision request")
    }

    /// Approves (or denies) the login page as `user`: the `Location` of the 303.
    pub async fn decide(&self, page: &str, user: &str, decision: &str) -> Url {
        let response = self.post_form(page, user, decision).await;
        assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER);
        location(&response)
    }
}

/// The national identity number of the test user `user` ("kari", ...).
pub fn nnin(user: &str) -> &'static str {
    Simulator::default_users().iter().find(|candidate| candidate.id() == user).expect("test user").nnin()
}

/// The current unix time in seconds.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

/// A registration in BankID's shape: `type`, `iat` = now, `exp` = now +
/// `lifetime` seconds, `permission` (base64url of `statement`, which must be
/// a JSON object), `intents` and, if given, the `loginHint` of `nnin`.
pub fn registration(kind: &str, statement: &str, intents: &[&str], nnin: Option<&str>, lifetime: u64) -> Value {
    let now = unix_now();
    let mut body = json!({
        "type": kind,
        "iat": now,
        "exp": now + lifetime,
        "permission": b64url(statement),
        "intents": intents,
    });
    if let Some(nnin) = nnin {
        body["loginHint"] = json!([{ "scheme": "nnin", "value": nnin }]);
    }
    body
}

/// 256 random bits, base64url: a state, nonce or PKCE verifier.
pub fn random() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

pub fn b64url(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

pub fn location(response: &reqwest::Response) -> Url {
    let location = response.headers()[LOCATION].to_str().expect("ASCII Location");
    Url::parse(location).expect("absolute Location")
}

pub fn query_map(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// The hidden `request` field of the simulator's login page.
pub fn hidden_request_id(page: &str) -> String {
    let marker = r#"name="request" value=""#;
    let start = page.find(marker).expect("hidden request field") + marker.len();
    let end = page[start..].find('"').expect("closing quote") + start;
    page[start..end].to_owned()
}

/// The header and claims of a JWT, without checking anything.
pub fn unverified(jwt: &str) -> (Value, Value) {
    let mut parts = jwt.split('.');
    let mut decode = || {
        let part = parts.next().expect("JWT part");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
    };
    (decode(), decode())
}

/// The claims of a JWT, without checking anything.
pub fn claims_of(jwt: &str) -> Value {
    unverified(jwt).1
}

/// Verifies a JWT signed by BankID OIDC against its JWKS: the JWK's algorithm, its
/// issuer, the simulator's client as audience, and the `required` claims.
pub async fn verify_jwt(
    http: &reqwest::Client,
    sim: &Simulator,
    jwt: &str,
    required: &[&str],
) -> Result<Value, jsonwebtoken::errors::Error> {
    let expected = Expected { issuer: &sim.issuer(), audience: Some(sim.client_id()), required };
    verify_at(http, &format!("{}/jwks", sim.issuer()), jwt, &expected).await
}

/// What [`verify_at`] checks besides the signature.
pub struct Expected<'a> {
    pub issuer: &'a str,
    /// `None`: no `aud` check (BIB's grants and BankID OIDC's access
    /// tokens name no audience of ours).
    pub audience: Option<&'a str>,
    pub required: &'a [&'a str],
}

/// Verifies a JWT with the key its `kid` names in the JWKS at `jwks_url`.
pub async fn verify_at(
    http: &reqwest::Client,
    jwks_url: &str,
    jwt: &str,
    expected: &Expected<'_>,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let header = jsonwebtoken::decode_header(jwt)?;
    let jwks: JwkSet = http.get(jwks_url).send().await.expect("jwks").json().await.expect("JWKS JSON");
    let kid = header.kid.unwrap_or_default();
    let jwk = jwks.find(&kid).ok_or(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
    // The algorithm the JWKS names for the key, never the token's own header.
    let alg = match jwk.common.key_algorithm {
        Some(jsonwebtoken::jwk::KeyAlgorithm::RS256) => Algorithm::RS256,
        _ => Algorithm::ES256,
    };
    let mut validation = Validation::new(alg);
    match expected.audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    validation.set_issuer(&[expected.issuer]);
    validation.set_required_spec_claims(expected.required);
    let data = jsonwebtoken::decode::<Value>(jwt, &DecodingKey::from_jwk(jwk)?, &validation)?;
    Ok(data.claims)
}

/// What the simulator program prints before it serves: its stdout up to and
/// including the `signing algorithm:` line, its last line before serving.
pub fn lines_until_serving(child: &mut std::process::Child) -> Vec<String> {
    use std::io::BufRead as _;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("UTF-8 output");
        let done = line.starts_with("signing algorithm: ");
        lines.push(line);
        if done {
            break;
        }
    }
    lines
}
