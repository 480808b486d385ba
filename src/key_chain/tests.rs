//! The chain check against generated PKIs: each way a key can fail, with
//! its exact reason, and the roots' own checks.

use super::*;
use crate::clock::unix_now;
use crate::provider::test_pki::{Authority, Leaf, Validity, ec_jwk, ec_key, x5c_entry};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use rcgen::ExtendedKeyUsagePurpose;
use serde_json::{Value, json};

const SKEW: Duration = Duration::from_secs(60);

fn now() -> u64 {
    unix_now() as u64
}

fn roots(authorities: &[&Authority]) -> TrustedRoots {
    let pem: String = authorities.iter().map(|a| a.pem()).collect();
    TrustedRoots::from_pem(pem.as_bytes(), now()).expect("valid roots")
}

fn jwk(value: Value) -> Jwk {
    serde_json::from_value(value).expect("a JWK")
}

/// BankID's shape: root → RSA utility CA → EC P-256 leaf.
struct Pki {
    root: Authority,
    ca: Authority,
}

impl Pki {
    fn new() -> Pki {
        let root = Authority::root("test BankID root");
        let ca = root.rsa_intermediate("test utility CA");
        Pki { root, ca }
    }

    fn check(&self, value: Value) -> Result<(), KeyChainError> {
        roots(&[&self.root]).check(&jwk(value), now(), SKEW).map_err(|f| f.reason)
    }

    fn leaf_jwk(&self, leaf: &Leaf) -> Value {
        leaf.jwk("k1", &[&self.ca])
    }
}

#[test]
fn a_chain_to_a_configured_root_is_accepted() {
    let pki = Pki::new();
    let leaf = pki.ca.leaf(Validity::current());
    assert_eq!(pki.check(pki.leaf_jwk(&leaf)), Ok(()));
    // The root may be sent too; other configured roots do not disturb.
    assert_eq!(pki.check(leaf.jwk("k1", &[&pki.ca, &pki.root])), Ok(()));
    let other = Authority::root("another root");
    let both = roots(&[&other, &pki.root]);
    assert_eq!(both.check(&jwk(pki.leaf_jwk(&leaf)), now(), SKEW).map_err(|f| f.reason), Ok(()));
}

#[test]
fn x5c_entries_may_omit_base64_padding() {
    let pki = Pki::new();
    let leaf = pki.ca.leaf(Validity::current());
    let mut value = pki.leaf_jwk(&leaf);
    value["x5c"] = json!([STANDARD_NO_PAD.encode(leaf.cert.der()), STANDARD_NO_PAD.encode(pki.ca.cert.der())]);
    assert_eq!(pki.check(value), Ok(()));
}

#[test]
fn a_leaf_with_any_extended_key_usage_is_accepted() {
    // BankID publishes no EKU for its signing certificates: neither a TLS
    // nor another purpose may make the verifier refuse them.
    let pki = Pki::new();
    for ekus in [vec![ExtendedKeyUsagePurpose::CodeSigning], vec![ExtendedKeyUsagePurpose::ServerAuth]] {
        let leaf = pki.ca.leaf_with(Validity::current(), ekus);
        assert_eq!(pki.check(pki.leaf_jwk(&leaf)), Ok(()));
    }
}

#[test]
fn an_rsa_key_is_compared_with_its_certificate_too() {
    let pki = Pki::new();
    let leaf = pki.ca.rsa_leaf(Validity::current());
    assert_eq!(pki.check(leaf.rsa_jwk("r1", &[&pki.ca])), Ok(()));
    let mut other = leaf.rsa_jwk("r1", &[&pki.ca]);
    other["n"] = json!(crate::provider::test_pki::other_rsa_modulus());
    assert_eq!(pki.check(other), Err(KeyChainError::KeyCertificateMismatch));
}

#[test]
fn a_key_without_a_chain_is_refused() {
    let pki = Pki::new();
    let bare = ec_jwk(&ec_key(), "k1");
    assert_eq!(pki.check(bare.clone()), Err(KeyChainError::MissingKeyChain));
    let mut empty = bare;
    empty["x5c"] = json!([]);
    assert_eq!(pki.check(empty), Err(KeyChainError::MissingKeyChain));
}

#[test]
fn a_malformed_chain_is_refused() {
    let pki = Pki::new();
    let leaf = pki.ca.leaf(Validity::current());
    let with_x5c = |x5c: Value| {
        let mut value = pki.leaf_jwk(&leaf);
        value["x5c"] = x5c;
        value.as_object_mut().unwrap().remove("x5t#S256");
        value
    };
    let url_safe = URL_SAFE_NO_PAD.encode(leaf.cert.der());
    let cases = [
        ("not base64", json!(["%%%"])),
        ("base64url instead of base64", json!([url_safe])),
        ("not a certificate", json!([STANDARD.encode(b"not DER")])),
        ("too many certificates", json!(vec![x5c_entry(&leaf.cert); MAX_CHAIN_LEN + 1])),
        ("an entry too long", json!(["A".repeat(MAX_CERT_BASE64_LEN + 4)])),
    ];
    for (case, x5c) in cases {
        let result = pki.check(with_x5c(x5c));
        // A certificate's base64url holds `-` or `_` (a thousand characters
        // without either has odds of about 1e-18), which base64 refuses.
        assert_eq!(result, Err(KeyChainError::MalformedKeyChain), "{case}");
    }
}

#[test]
fn a_chain_to_another_root_is_refused() {
    let pki = Pki::new();
    let foreign = Pki::new();
    let leaf = foreign.ca.leaf(Validity::current());
    assert_eq!(pki.check(foreign.leaf_jwk(&leaf)), Err(KeyChainError::UntrustedKeyChain));
    // Claiming our root in x5c does not help: the signature decides.
    assert_eq!(pki.check(leaf.jwk("k1", &[&foreign.ca, &pki.root])), Err(KeyChainError::UntrustedKeyChain));
}

#[test]
fn a_chain_without_its_intermediate_is_refused() {
    let pki = Pki::new();
    let leaf = pki.ca.leaf(Validity::current());
    assert_eq!(pki.check(leaf.jwk("k1", &[])), Err(KeyChainError::UntrustedKeyChain));
}

#[test]
fn an_issuer_that_is_not_a_ca_is_refused() {
    let pki = Pki::new();
    let not_ca = pki.root.end_entity_intermediate("not a CA");
    let leaf = not_ca.leaf(Validity::current());
    assert_eq!(pki.check(leaf.jwk("k1", &[&not_ca])), Err(KeyChainError::UntrustedKeyChain));
}

#[test]
fn an_expired_leaf_is_refused() {
    let pki = Pki::new();
    let leaf = pki.ca.leaf(Validity::expired_since(86_400));
    assert_eq!(pki.check(pki.leaf_jwk(&leaf)), Err(KeyChainError::KeyCertificateExpired));
}

#[test]
fn a_leaf_not_valid_yet_is_refused() {
    let pki = Pki::new();
    let leaf = pki.ca.leaf(Validity::starting_in(86_400));
    assert_eq!(pki.check(pki.leaf_jwk(&leaf)), Err(KeyChainError::KeyCertificateNotYetValid));
}

#[test]
fn validity_allows_the_clock_skew_and_no_more() {
    let pki = Pki::new();
    let just_expired = pki.ca.leaf(Validity::expired_since(30));
    assert_eq!(pki.check(pki.leaf_jwk(&just_expired)), Ok(()), "expired 30 s ago, skew 60 s");
    let long_expired = pki.ca.leaf(Validity::expired_since(120));
    assert_eq!(pki.check(pki.leaf_jwk(&long_expired)), Err(KeyChainError::KeyCertificateExpired));
    let almost_valid = pki.ca.leaf(Validity::starting_in(30));
    assert_eq!(pki.check(pki.leaf_jwk(&almost_valid)), Ok(()), "valid in 30 s, skew 60 s");
    let later = pki.ca.leaf(Validity::starting_in(120));
    assert_eq!(pki.check(pki.leaf_jwk(&later)), Err(KeyChainError::KeyCertificateNotYetValid));
}

#[test]
fn a_leaf_holding_another_key_is_refused() {
    let pki = Pki::new();
    let leaf = pki.ca.leaf(Validity::current());
    let mut value = ec_jwk(&ec_key(), "k1");
    value["x5c"] = pki.leaf_jwk(&leaf)["x5c"].clone();
    assert_eq!(pki.check(value), Err(KeyChainError::KeyCertificateMismatch));
}

#[test]
fn a_wrong_sha256_thumbprint_is_refused() {
    let pki = Pki::new();
    let leaf = pki.ca.leaf(Validity::current());
    let mut value = pki.leaf_jwk(&leaf);
    value["x5t#S256"] = json!(URL_SAFE_NO_PAD.encode([0u8; 32]));
    assert_eq!(pki.check(value.clone()), Err(KeyChainError::KeyCertificateMismatch));
    value["x5t#S256"] = json!("not base64url!");
    assert_eq!(pki.check(value.clone()), Err(KeyChainError::KeyCertificateMismatch));
    value.as_object_mut().unwrap().remove("x5t#S256");
    assert_eq!(pki.check(value), Ok(()), "x5t#S256 is optional");
}

#[test]
fn every_reason_has_a_stable_kind_that_maps_back() {
    for reason in ALL {
        assert_eq!(KeyChainError::from_kind(reason.kind()), Some(reason));
    }
    assert_eq!(KeyChainError::from_kind("bad_signature"), None);
}

#[test]
fn roots_must_be_ca_certificates_within_their_validity() {
    let root = Authority::root("root");
    assert_eq!(TrustedRoots::from_pem(root.pem().as_bytes(), now()).map(|r| r.len()), Ok(1));
    let two = format!("{}{}", root.pem(), Authority::root("second").pem());
    assert_eq!(TrustedRoots::from_pem(two.as_bytes(), now()).map(|r| r.len()), Ok(2));
    let err = |pem: &str| TrustedRoots::from_pem(pem.as_bytes(), now()).unwrap_err();
    assert_eq!(err(""), "holds no PEM certificate");
    assert_eq!(err("just text"), "holds no PEM certificate");
    let key_only = ec_key().serialize_pem();
    assert_eq!(err(&key_only), "holds no PEM certificate");
    assert!(err(&Authority::not_a_ca("leaf").pem()).contains("is not a CA certificate"));
    let expired = Validity { not_before: unix_now() - 7200, not_after: unix_now() - 3600 };
    assert!(err(&Authority::root_valid("old", expired).pem()).contains("has expired"));
    let future = Validity { not_before: unix_now() + 3600, not_after: unix_now() + 7200 };
    assert!(err(&Authority::root_valid("new", future).pem()).contains("is not valid yet"));
    let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert!(err(broken).starts_with("certificate 1 "), "{}", err(broken));
    // The second certificate is named when it is the bad one.
    let mixed = format!("{}{}", root.pem(), Authority::not_a_ca("leaf").pem());
    assert!(err(&mixed).starts_with("certificate 2 "));
}

#[test]
fn a_root_with_an_unknown_critical_extension_is_still_an_anchor() {
    // The verifier ignores such extensions in an anchor (RFC 5280 §6.1.1),
    // so BankID's root must not be refused over one.
    let root = Authority::root_with_unknown_critical_extension("root");
    let trusted = roots(&[&root]);
    let leaf = root.leaf(Validity::current());
    assert_eq!(trusted.check(&jwk(leaf.jwk("k1", &[])), now(), SKEW).map_err(|f| f.reason), Ok(()));
}

#[test]
fn a_leaf_with_an_unknown_critical_extension_is_refused() {
    let pki = Pki::new();
    let strange = pki.ca.leaf_with_unknown_critical_extension();
    assert_eq!(pki.check(pki.leaf_jwk(&strange)), Err(KeyChainError::UntrustedKeyChain));
}

#[test]
fn debug_of_the_roots_names_only_their_number() {
    let root = Authority::root("root");
    assert_eq!(format!("{:?}", roots(&[&root])), "TrustedRoots(1 certificates)");
}
