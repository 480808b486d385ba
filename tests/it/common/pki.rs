//! A test PKI shaped like BankID's token-signing chain (an EC P-256 leaf
//! under an RSA "utility" CA under a root), generated with rcgen for each
//! test rather than committed: roots, intermediates, leaves with chosen
//! validity, and the JWKs that publish them with `x5c`.
//!
//! Shared by the crate's unit tests (`src/provider/mod.rs` includes this
//! file) and the integration tests (`tests/common`).
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The RSA key of the intermediate CA: ring cannot generate RSA keys, so
/// one of the simulator's public test keys (PKCS#8) stands in.
const RSA_CA_KEY: &str = include_str!("../../../simulator/src/keys/sim-2.pem");
/// The RSA key of an RSA leaf (another public test key).
const RSA_LEAF_KEY: &str = include_str!("../../../simulator/src/keys/sim-1.pem");

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A certificate's validity, in Unix seconds.
#[derive(Clone, Copy)]
pub struct Validity {
    pub not_before: i64,
    pub not_after: i64,
}

impl Validity {
    /// From a day ago to a year from now.
    pub fn current() -> Validity {
        Validity { not_before: now() - 86_400, not_after: now() + 365 * 86_400 }
    }

    /// Ended `secs` seconds ago.
    pub fn expired_since(secs: i64) -> Validity {
        Validity { not_before: now() - 365 * 86_400, not_after: now() - secs }
    }

    /// Starts in `secs` seconds.
    pub fn starting_in(secs: i64) -> Validity {
        Validity { not_before: now() + secs, not_after: now() + 365 * 86_400 }
    }
}

/// A CA: its certificate and key.
pub struct Authority {
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
}

/// A token-signing certificate and its EC P-256 key.
pub struct Leaf {
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
}

fn params(name: &str, validity: Validity) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "NO");
    dn.push(DnType::OrganizationName, "axum-bankid tests");
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.not_before = time::OffsetDateTime::from_unix_timestamp(validity.not_before).unwrap();
    params.not_after = time::OffsetDateTime::from_unix_timestamp(validity.not_after).unwrap();
    params
}

fn ca_params(name: &str, validity: Validity) -> CertificateParams {
    let mut params = params(name, validity);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

impl Authority {
    /// A self-signed EC P-256 root CA, valid now.
    pub fn root(name: &str) -> Authority {
        Authority::root_valid(name, Validity::current())
    }

    /// A self-signed EC P-256 root CA with this validity.
    pub fn root_valid(name: &str, validity: Validity) -> Authority {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = ca_params(name, validity).self_signed(&key).unwrap();
        Authority { cert, key }
    }

    /// A self-signed EC P-256 root CA with a critical private extension
    /// (an OID under 1.3.6.1.4.1.55555, no meaning).
    pub fn root_with_unknown_critical_extension(name: &str) -> Authority {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = ca_params(name, Validity::current());
        params.custom_extensions = vec![unknown_critical_extension()];
        let cert = params.self_signed(&key).unwrap();
        Authority { cert, key }
    }

    /// A self-signed certificate that is not a CA (no basic constraints).
    pub fn not_a_ca(name: &str) -> Authority {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = params(name, Validity::current()).self_signed(&key).unwrap();
        Authority { cert, key }
    }

    /// An RSA intermediate CA issued by this one (like BankID's utility CA).
    pub fn rsa_intermediate(&self, name: &str) -> Authority {
        let key = KeyPair::from_pem_and_sign_algo(RSA_CA_KEY, &PKCS_RSA_SHA256).unwrap();
        let cert = ca_params(name, Validity::current()).signed_by(&key, &self.cert, &self.key).unwrap();
        Authority { cert, key }
    }

    /// An end-entity certificate signed by this CA that claims to be a CA
    /// issuer for nobody: not a CA, so it cannot issue a leaf.
    pub fn end_entity_intermediate(&self, name: &str) -> Authority {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = params(name, Validity::current());
        params.is_ca = IsCa::ExplicitNoCa;
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Authority { cert, key }
    }

    /// An EC P-256 token-signing leaf with this validity, key usage
    /// `digitalSignature` (critical, as rcgen writes it).
    pub fn leaf(&self, validity: Validity) -> Leaf {
        self.leaf_with(validity, Vec::new())
    }

    /// A leaf with a critical private extension no verifier knows.
    pub fn leaf_with_unknown_critical_extension(&self) -> Leaf {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = params("BankID OIDC test signing key", Validity::current());
        params.custom_extensions = vec![unknown_critical_extension()];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf { cert, key }
    }

    /// A leaf with these extended key usages.
    pub fn leaf_with(&self, validity: Validity, ekus: Vec<ExtendedKeyUsagePurpose>) -> Leaf {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = params("BankID OIDC test signing key", validity);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = ekus;
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf { cert, key }
    }

    /// An RSA token-signing leaf (RS256, as BankID signed before ES256).
    pub fn rsa_leaf(&self, validity: Validity) -> Leaf {
        let key = KeyPair::from_pem_and_sign_algo(RSA_LEAF_KEY, &PKCS_RSA_SHA256).unwrap();
        let mut params = params("BankID OIDC test RSA signing key", validity);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf { cert, key }
    }

    /// This CA's certificate in PEM.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }
}

/// A critical extension under a private OID (1.3.6.1.4.1.55555.1, no
/// meaning), holding an ASN.1 NULL.
fn unknown_critical_extension() -> rcgen::CustomExtension {
    let mut extension = rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1], vec![0x05, 0x00]);
    extension.set_criticality(true);
    extension
}

/// One `x5c` entry: standard base64 DER (RFC 7517 §4.7).
pub fn x5c_entry(cert: &rcgen::Certificate) -> String {
    STANDARD.encode(cert.der())
}

impl Leaf {
    /// The JWK publishing this leaf's key, with `x5c` = leaf then `chain`,
    /// and `x5t#S256`.
    pub fn jwk(&self, kid: &str, chain: &[&Authority]) -> Value {
        let mut jwk = ec_jwk(&self.key, kid);
        let mut x5c = vec![x5c_entry(&self.cert)];
        x5c.extend(chain.iter().map(|ca| x5c_entry(&ca.cert)));
        jwk["x5c"] = json!(x5c);
        jwk["x5t#S256"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(self.cert.der())));
        jwk
    }

    /// The RSA JWK of an [`rsa_leaf`](Authority::rsa_leaf), with `x5c`.
    pub fn rsa_jwk(&self, kid: &str, chain: &[&Authority]) -> Value {
        let mut jwk = rsa_jwk(RSA_LEAF_KEY, kid);
        let mut x5c = vec![x5c_entry(&self.cert)];
        x5c.extend(chain.iter().map(|ca| x5c_entry(&ca.cert)));
        jwk["x5c"] = json!(x5c);
        jwk
    }
}

/// The EC P-256 public JWK of `key` (no `x5c`).
pub fn ec_jwk(key: &KeyPair, kid: &str) -> Value {
    let raw = key.public_key_raw();
    assert_eq!(raw.len(), 65, "an uncompressed P-256 point");
    json!({
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&raw[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&raw[33..]),
    })
}

/// The RS256 public JWK of an RSA PKCS#8 PEM key.
fn rsa_jwk(pem: &str, kid: &str) -> Value {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let mut jwk =
        serde_json::to_value(jsonwebtoken::jwk::Jwk::from_encoding_key(&key, jsonwebtoken::Algorithm::RS256).unwrap())
            .unwrap();
    jwk["kid"] = json!(kid);
    jwk["use"] = json!("sig");
    jwk
}

/// The modulus (`n`) of another RSA key than an RSA leaf's.
pub fn other_rsa_modulus() -> String {
    rsa_jwk(RSA_CA_KEY, "other")["n"].as_str().unwrap().to_owned()
}

/// A fresh EC P-256 key (for a JWK whose certificate is someone else's).
pub fn ec_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
}

/// Signs `claims` as a compact JWS with ES256 and this P-256 key, under `kid`.
pub fn sign_es256(key: &KeyPair, kid: &str, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    let key = jsonwebtoken::EncodingKey::from_ec_pem(key.serialize_pem().as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}
