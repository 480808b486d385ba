//! The crate's own per-login CPU work, each figure against a baseline
//! measured in the same run (issue 12, item 3):
//!
//! - full ID-token validation (header checks, key lookup, signature, claim
//!   checks) vs a bare `jsonwebtoken::crypto::verify` of the same token with
//!   the same key and crypto backend (rust_crypto), RS256 and ES256;
//! - `acr` parsing, the `return_to` check and the callback query parser,
//!   against copying the same input into a `String` (the least any parser
//!   that returns an owned value pays);
//! - the authorize URL, without and with PAR, through the crate's
//!   `login::authorize_url` (fixed part encoded once, a login's values
//!   appended), against copying the endpoint URL into a `String`;
//! - a login's secrets (state, nonce, PKCE S256), against one 32-byte draw
//!   from the same CSPRNG: the crypto a login needs, apart from the URL.
//!
//! Run: `cargo bench --bench parsers`

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum_bankid::fuzzing::{self, IdTokenCheck};
use criterion::{BenchmarkId, Criterion, black_box, criterion_group};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};

mod ratio;

const ISSUER: &str = "https://bench.invalid/oidc";
const CLIENT_ID: &str = "bench-client";
const NONCE: &str = "n-0S6_WzA2Mj";
const AUTHORIZATION_ENDPOINT: &str = "https://auth.bankid.no/auth/realms/prod/protocol/openid-connect/auth";
const REQUEST_URI: &str = "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c";

/// A BankID-like ID token signed with `key`.
fn id_token(alg: Algorithm, key: &EncodingKey, kid: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = serde_json::json!({
        "iss": ISSUER, "aud": CLIENT_ID, "sub": "9c4c6d0e-5d51-4f8a-a7f4-2f6d1b1f1c11", "iat": now, "exp": now + 3600,
        "auth_time": now, "nonce": NONCE, "acr": "urn:bankid:bis;LOA=3", "amr": ["BID"], "sid": "f3b1c2d4",
        "name": "Kari Nordmann", "given_name": "Kari", "family_name": "Nordmann", "birthdate": "1986-05-17",
        "nnin_altsub": "01018612345", "bankid_altsub": "9578-6000-4-123456", "jti": "0c7b2a6f",
    });
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

struct Case {
    alg: Algorithm,
    token: String,
    bare_key: DecodingKey,
    check: IdTokenCheck,
}

/// Serves the two public keys as a JWKS on loopback and loads them through
/// the crate's key cache, as discovery does.
async fn cases() -> Vec<Case> {
    let rsa = EncodingKey::from_rsa_pem(include_bytes!("keys/rs256.pem")).unwrap();
    let ec = EncodingKey::from_ec_pem(include_bytes!("keys/es256.pem")).unwrap();
    let mut jwks = JwkSet { keys: Vec::new() };
    let mut keys = Vec::new();
    for (alg, key, kid) in [(Algorithm::RS256, &rsa, "rs"), (Algorithm::ES256, &ec, "es")] {
        let mut jwk = Jwk::from_encoding_key(key, alg).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        keys.push((alg, id_token(alg, key, kid), DecodingKey::from_jwk(&jwk).unwrap()));
        jwks.keys.push(jwk);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_uri = format!("http://{}/jwks", listener.local_addr().unwrap());
    let body = serde_json::to_string(&jwks).unwrap();
    let app = Router::new().route("/jwks", get(move || async move { body }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut cases = Vec::new();
    for (alg, token, bare_key) in keys {
        let check = IdTokenCheck::load(&jwks_uri, ISSUER, CLIENT_ID, &[alg]).await.unwrap();
        check.verify(&token, Some(NONCE)).await.expect("the bench token verifies");
        cases.push(Case { alg, token, bare_key, check });
    }
    cases
}

fn id_tokens(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let cases = runtime.block_on(cases());
    let mut group = c.benchmark_group("id_token");
    group.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    for case in &cases {
        let name = format!("{:?}", case.alg);
        let (message, signature) = case.token.rsplit_once('.').unwrap();
        group.bench_function(BenchmarkId::new("bare_signature", &name), |b| {
            b.iter(|| {
                assert!(
                    jsonwebtoken::crypto::verify(black_box(signature), message.as_bytes(), &case.bare_key, case.alg)
                        .unwrap()
                )
            })
        });
        group.bench_function(BenchmarkId::new("full_validation", &name), |b| {
            b.to_async(&runtime)
                .iter(|| async { case.check.verify(black_box(&case.token), Some(NONCE)).await.unwrap() })
        });
    }
    group.finish();
    for case in &cases {
        let (message, signature) = case.token.rsplit_once('.').unwrap();
        let n = if case.alg == Algorithm::RS256 { 20 } else { 10 };
        ratio::interleaved(
            &format!("id_token full_validation / bare_signature ({:?})", case.alg),
            21,
            || {
                runtime.block_on(async {
                    for _ in 0..n {
                        case.check.verify(black_box(&case.token), Some(NONCE)).await.unwrap();
                    }
                })
            },
            || {
                for _ in 0..n {
                    let ok = jsonwebtoken::crypto::verify(
                        black_box(signature),
                        message.as_bytes(),
                        &case.bare_key,
                        case.alg,
                    );
                    assert!(ok.unwrap());
                }
            },
        );
    }
}

fn parsers(c: &mut Criterion) {
    let mut group = c.benchmark_group("parsers");
    group.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    let acr = "urn:bankid:bis;LOA=3";
    let return_to = "/accounts/1234/payments?from=2024-01-01&page=2";
    let query = "code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj-1234567890abcdef&iss=https%3A%2F%2Fauth.bankid.no%2Fauth%2Frealms%2Fprod";
    group.bench_function("copy_acr", |b| b.iter(|| black_box(acr).to_owned()));
    group.bench_function("acr", |b| b.iter(|| fuzzing::acr(black_box(acr))));
    group.bench_function("copy_return_to", |b| b.iter(|| black_box(return_to).to_owned()));
    group.bench_function("return_to", |b| b.iter(|| fuzzing::return_to(Some(black_box(return_to)))));
    group.bench_function("copy_callback_query", |b| b.iter(|| black_box(query).to_owned()));
    group.bench_function("callback_query", |b| b.iter(|| fuzzing::callback_query(black_box(query))));
    // The authorize URL (issue 12: < 1 us), through the crate's own code
    // (`fuzzing::AuthorizeUrl` is `login::authorize_url`, which the login
    // route calls): the fixed part is encoded once, as when the provider's
    // metadata is installed; a login appends `state`, `nonce` and
    // `code_challenge` (cloned from its secrets, as `begin` does). The
    // secrets are drawn once here: what they cost is `login_secrets` below.
    let endpoint = url::Url::parse(AUTHORIZATION_ENDPOINT).unwrap();
    let request = fuzzing::AuthorizeUrl::new(
        &endpoint,
        CLIENT_ID,
        "https://app.example/auth/bankid/callback",
        "openid profile nnin_altsub",
        Some("BIS"),
        None,
    );
    let secrets = fuzzing::LoginSecrets::new();
    group.bench_function("copy_endpoint", |b| b.iter(|| black_box(AUTHORIZATION_ENDPOINT).to_owned()));
    group.bench_function("authorize_url", |b| b.iter(|| request.login_url(black_box(&secrets))));
    // After PAR: the endpoint with `client_id` and the pushed `request_uri`.
    group.bench_function("authorize_url_par", |b| b.iter(|| request.pushed_url(black_box(REQUEST_URI))));
    // A login's secrets (16 random bytes each for state and nonce, a 32-byte
    // PKCE verifier and its SHA-256), against one 32-byte draw from the same
    // thread-local CSPRNG they come from.
    group.bench_function("random_32_bytes", |b| {
        b.iter(|| {
            let mut bytes = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
            bytes
        })
    });
    group.bench_function("login_secrets", |b| b.iter(fuzzing::LoginSecrets::new));
    group.finish();
}

criterion_group!(benches, id_tokens, parsers);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    for alg in ["RS256", "ES256"] {
        ratio::print("id_token", &format!("full_validation/{alg}"), &format!("bare_signature/{alg}"));
    }
    ratio::print("parsers", "acr", "copy_acr");
    ratio::print("parsers", "return_to", "copy_return_to");
    ratio::print("parsers", "callback_query", "copy_callback_query");
    ratio::print("parsers", "authorize_url", "copy_endpoint");
    ratio::print("parsers", "authorize_url_par", "copy_endpoint");
    ratio::print("parsers", "login_secrets", "random_32_bytes");
}
