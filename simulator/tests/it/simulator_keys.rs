//! The simulator's keys as BankID OIDC API v4 publishes them, seen over
//! HTTP: ES256 by default (RS256 when asked), every key of both issuers
//! with an `x5c` chain (leaf, intermediate, root; standard base64 DER) and
//! `x5t#S256`, the root handed out as PEM — and the four certificate faults,
//! each breaking exactly one property of the chain while tokens still
//! verify with the published key.

use crate::sim_support;

use axum_bankid_simulator::{Fault, LogoutSubject, SigningAlgorithm, Simulator};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sim_support::{Expected, unix_now, unverified, verify_at};

/// The three JWKS of a simulator: BankID OIDC's, BIB's ID-token and grant keys.
fn jwks_urls(sim: &Simulator) -> [String; 3] {
    [
        format!("{}/jwks", sim.issuer()),
        format!("{}/jwks", sim.bib_issuer()),
        format!("{}/jwks/grants", sim.bib_issuer()),
    ]
}

async fn fetch(url: &str) -> JwkSet {
    reqwest::get(url).await.expect("JWKS request").json().await.expect("JWKS JSON")
}

async fn discovery(url: String) -> Value {
    reqwest::get(url).await.expect("discovery").json().await.expect("JSON")
}

/// The DER of the root certificate the simulator hands out.
fn root_der(sim: &Simulator) -> Vec<u8> {
    let pem = sim.root_certificates_pem();
    let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
    STANDARD.decode(body).expect("PEM body is base64")
}

fn chain(jwk: &Jwk) -> Vec<Vec<u8>> {
    let x5c = jwk.common.x509_chain.as_ref().expect("x5c");
    x5c.iter().map(|cert| STANDARD.decode(cert).expect("x5c is standard base64 DER")).collect()
}

/// A logout token signed with BankID OIDC's current key verifies against
/// `/jwks`, whatever the chain says.
async fn oidc_key_still_verifies(sim: &Simulator) {
    let token = sim.logout_token(&LogoutSubject::Sub("someone".into()), None);
    let expected = Expected { issuer: &sim.issuer(), audience: Some(sim.client_id()), required: &["iat"] };
    let http = reqwest::Client::new();
    verify_at(&http, &format!("{}/jwks", sim.issuer()), &token, &expected).await.expect("verifies with the JWK");
}

#[tokio::test]
async fn es256_is_the_default_and_every_key_of_both_issuers_carries_a_chain_to_the_handed_out_root() {
    let sim = Simulator::start().await.expect("simulator");
    assert_eq!(sim.signing_algorithm(), SigningAlgorithm::Es256);
    for url in [format!("{}/.well-known/openid-configuration", sim.issuer()), sim.bib_discovery_url()] {
        assert_eq!(discovery(url).await["id_token_signing_alg_values_supported"], serde_json::json!(["ES256"]));
    }
    let root = root_der(&sim);
    for url in jwks_urls(&sim) {
        let jwks = fetch(&url).await;
        assert_eq!(jwks.keys.len(), 1, "{url}");
        let jwk = &jwks.keys[0];
        assert!(matches!(&jwk.algorithm, AlgorithmParameters::EllipticCurve(_)), "{url}: an EC key");
        assert_eq!(serde_json::to_value(jwk.common.key_algorithm).expect("alg"), "ES256");
        let certs = chain(jwk);
        assert_eq!(certs.len(), 3, "{url}: leaf, intermediate, root");
        assert_eq!(certs[2], root, "{url}: the chain ends at the handed-out root");
        assert_eq!(der::issuer(&certs[0]), der::subject(&certs[1]), "{url}: the intermediate issued the leaf");
        assert_eq!(der::issuer(&certs[1]), der::subject(&certs[2]), "{url}: the root issued the intermediate");
        assert_eq!(der::ec_point(&certs[0]), jwk_point(jwk), "{url}: the leaf certifies the JWK's key");
        let now = unix_now();
        assert!(der::validity(&certs[0]).0 < now && now < der::validity(&certs[0]).1, "{url}: the leaf is valid");
        let thumbprint = URL_SAFE_NO_PAD.encode(Sha256::digest(&certs[0]));
        assert_eq!(jwk.common.x509_sha256_fingerprint.as_deref(), Some(thumbprint.as_str()), "{url}");
    }
    let token = sim.logout_token(&LogoutSubject::Sub("someone".into()), None);
    assert_eq!(unverified(&token).0["alg"], "ES256");
    oidc_key_still_verifies(&sim).await;
}

#[tokio::test]
async fn rs256_is_selectable_with_rsa_keys_that_chain_to_the_same_root() {
    let sim = Simulator::builder().signing_algorithm(SigningAlgorithm::Rs256).start().await.expect("simulator");
    for url in [format!("{}/.well-known/openid-configuration", sim.issuer()), sim.bib_discovery_url()] {
        assert_eq!(discovery(url).await["id_token_signing_alg_values_supported"], serde_json::json!(["RS256"]));
    }
    for url in jwks_urls(&sim) {
        let jwk = &fetch(&url).await.keys[0];
        assert!(matches!(&jwk.algorithm, AlgorithmParameters::RSA(_)), "{url}: an RSA key");
        let certs = chain(jwk);
        assert_eq!(certs.len(), 3);
        assert_eq!(certs[2], root_der(&sim), "{url}");
    }
    let token = sim.logout_token(&LogoutSubject::Sub("someone".into()), None);
    assert_eq!(unverified(&token).0["alg"], "RS256");
    oidc_key_still_verifies(&sim).await;
}

#[tokio::test]
async fn chain_to_foreign_root_ends_at_a_root_nobody_was_given() {
    let sim = Simulator::start().await.expect("simulator");
    sim.add_fault(Fault::ChainToForeignRoot);
    for url in jwks_urls(&sim) {
        let jwk = &fetch(&url).await.keys[0];
        let certs = chain(jwk);
        assert_eq!(certs.len(), 3, "{url}");
        assert_ne!(certs[2], root_der(&sim), "{url}: another root");
        assert_ne!(der::subject(&certs[2]), der::subject(&root_der(&sim)), "{url}: another root name");
        assert_eq!(der::issuer(&certs[0]), der::subject(&certs[1]), "{url}: still a well-formed chain");
        assert_eq!(der::ec_point(&certs[0]), jwk_point(jwk), "{url}: of the JWK's own key");
    }
    oidc_key_still_verifies(&sim).await;
    sim.clear_faults();
    assert_eq!(chain(&fetch(&jwks_urls(&sim)[0]).await.keys[0])[2], root_der(&sim), "honest again");
}

#[tokio::test]
async fn expired_certificate_publishes_a_leaf_whose_validity_ended() {
    let sim = Simulator::start().await.expect("simulator");
    sim.add_fault(Fault::ExpiredCertificate);
    for url in jwks_urls(&sim) {
        let jwk = &fetch(&url).await.keys[0];
        let certs = chain(jwk);
        let (_, not_after) = der::validity(&certs[0]);
        assert!(not_after < unix_now(), "{url}: the leaf expired");
        assert_eq!(certs[2], root_der(&sim), "{url}: the trusted root");
        assert_eq!(der::ec_point(&certs[0]), jwk_point(jwk), "{url}: of the JWK's own key");
    }
    oidc_key_still_verifies(&sim).await;
}

#[tokio::test]
async fn certificate_for_other_key_certifies_a_key_that_is_not_the_jwks() {
    let sim = Simulator::start().await.expect("simulator");
    sim.add_fault(Fault::CertificateForOtherKey);
    for url in jwks_urls(&sim) {
        let jwk = &fetch(&url).await.keys[0];
        let certs = chain(jwk);
        assert_ne!(der::ec_point(&certs[0]), jwk_point(jwk), "{url}: another key");
        assert_eq!(certs[2], root_der(&sim), "{url}: the trusted root");
        let (not_before, not_after) = der::validity(&certs[0]);
        assert!(not_before < unix_now() && unix_now() < not_after, "{url}: valid");
    }
    oidc_key_still_verifies(&sim).await;
}

#[tokio::test]
async fn no_certificate_chain_publishes_bare_keys() {
    let sim = Simulator::start().await.expect("simulator");
    sim.add_fault(Fault::NoCertificateChain);
    for url in jwks_urls(&sim) {
        let jwk = &fetch(&url).await.keys[0];
        assert!(jwk.common.x509_chain.is_none(), "{url}: no x5c");
        assert!(jwk.common.x509_sha256_fingerprint.is_none(), "{url}: no x5t#S256");
    }
    oidc_key_still_verifies(&sim).await;
}

/// The uncompressed EC point (`04 || x || y`) of an EC JWK.
fn jwk_point(jwk: &Jwk) -> Vec<u8> {
    let AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm else { panic!("an EC JWK") };
    let coordinate = |value: &str| URL_SAFE_NO_PAD.decode(value).expect("base64url coordinate");
    [vec![4], coordinate(&ec.x), coordinate(&ec.y)].concat()
}

/// Just enough DER to read an X.509 certificate's names, validity and
/// public key (RFC 5280 §4.1), so the tests check the published chain
/// without trusting the code that made it.
mod der {
    /// Splits the first TLV off `input`: (tag, content, rest).
    fn tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
        let (tag, first) = (input[0], input[1]);
        let (len, header) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let count = usize::from(first & 0x7f);
            (input[2..2 + count].iter().fold(0usize, |len, byte| (len << 8) | usize::from(*byte)), 2 + count)
        };
        (tag, &input[header..header + len], &input[header + len..])
    }

    /// The fields of tbsCertificate, each as (tag, content, whole TLV).
    fn tbs_fields(cert: &[u8]) -> Vec<(u8, Vec<u8>, Vec<u8>)> {
        let (_, certificate, _) = tlv(cert);
        let (_, mut tbs, _) = tlv(certificate);
        let mut fields = Vec::new();
        while !tbs.is_empty() {
            let (tag, content, rest) = tlv(tbs);
            fields.push((tag, content.to_vec(), tbs[..tbs.len() - rest.len()].to_vec()));
            tbs = rest;
        }
        fields
    }

    /// version [0], serial, signature, issuer, validity, subject, spki.
    fn field(cert: &[u8], index: usize) -> (u8, Vec<u8>, Vec<u8>) {
        let fields = tbs_fields(cert);
        assert_eq!(fields[0].0, 0xa0, "an X.509 v3 certificate");
        fields[index].clone()
    }

    pub fn issuer(cert: &[u8]) -> Vec<u8> {
        field(cert, 3).2
    }

    pub fn subject(cert: &[u8]) -> Vec<u8> {
        field(cert, 5).2
    }

    /// notBefore and notAfter as unix seconds.
    pub fn validity(cert: &[u8]) -> (u64, u64) {
        let (_, validity, _) = field(cert, 4);
        let (tag_before, before, rest) = tlv(&validity);
        let (tag_after, after, _) = tlv(rest);
        (time(tag_before, before), time(tag_after, after))
    }

    /// The BIT STRING of the SubjectPublicKeyInfo, without its
    /// unused-bits byte: for EC keys the point `04 || x || y`.
    pub fn ec_point(cert: &[u8]) -> Vec<u8> {
        let (_, spki, _) = field(cert, 6);
        let (_, _algorithm, rest) = tlv(&spki);
        let (tag, bits, _) = tlv(rest);
        assert_eq!(tag, 0x03, "a BIT STRING");
        bits[1..].to_vec()
    }

    /// UTCTime (`YYMMDDHHMMSSZ`, 0x17) or GeneralizedTime (0x18).
    fn time(tag: u8, text: &[u8]) -> u64 {
        let text = std::str::from_utf8(text).expect("ASCII time");
        let (year, rest) = match tag {
            0x17 => {
                let yy: i64 = text[..2].parse().expect("year");
                (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
            }
            0x18 => (text[..4].parse().expect("year"), &text[4..]),
            other => panic!("not a time tag: {other:#x}"),
        };
        let number = |range: std::ops::Range<usize>| -> i64 { rest[range].parse().expect("digits") };
        let days = days_from_civil(year, number(0..2), number(2..4));
        u64::try_from(days * 86_400 + number(4..6) * 3600 + number(6..8) * 60 + number(8..10)).expect("after 1970")
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
    /// algorithm).
    fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
        let year = if month <= 2 { year - 1 } else { year };
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }
}
