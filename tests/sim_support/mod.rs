//! Helpers shared by the simulator's own tests (`simulator*.rs`), which talk
//! to it as a bare relying party would, without the crate's RP code.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::HashMap;

use axum_bankid::simulator::{Simulator, SimulatorBuilder};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::header::LOCATION;
use serde_json::Value;
use url::Url;

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
    pub async fn on(builder: SimulatorBuilder) -> Rp {
        let sim = builder.start().await.expect("simulator starts");
        let http =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client builds");
        Rp { sim, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.issuer())
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

/// Verifies a JWT signed by the simulator against its JWKS: RS256, the
/// simulator's issuer, its client as audience, and the `required` claims.
pub async fn verify_jwt(
    http: &reqwest::Client,
    sim: &Simulator,
    jwt: &str,
    required: &[&str],
) -> Result<Value, jsonwebtoken::errors::Error> {
    let header = jsonwebtoken::decode_header(jwt)?;
    let jwks: JwkSet =
        http.get(format!("{}/jwks", sim.issuer())).send().await.expect("jwks").json().await.expect("JWKS JSON");
    let kid = header.kid.unwrap_or_default();
    let jwk = jwks.find(&kid).ok_or(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[sim.client_id()]);
    validation.set_issuer(&[sim.issuer()]);
    validation.set_required_spec_claims(required);
    let data = jsonwebtoken::decode::<Value>(jwt, &DecodingKey::from_jwk(jwk)?, &validation)?;
    Ok(data.claims)
}
