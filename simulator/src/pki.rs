//! The simulator's own test PKI: the certificate chains (`x5c`) its JWKS
//! publish with every signing key, as BankID's do.
//!
//! BankID requires relying parties to check that each signing key's
//! certificate chains to BankID's published root certificates
//! (developer.bankid.no `core-concepts/token-validation`, `api/jwks`). Its
//! preprod JWKS shows the shape mirrored here: an EC P-256 (or, for RS256,
//! RSA) leaf issued by an RSA-signed intermediate CA ("BankID - PreProd -
//! Utility CA 3"), itself under an RSA root. The simulator has one such
//! hierarchy that a relying party may trust ([`root_pem`]) and a second,
//! foreign one that it must not, for [`Chain::ForeignRoot`].
//!
//! **TEST PKI — PUBLIC ON PURPOSE.** The CA keys are committed in `keys/`
//! like the signing keys; anyone can issue certificates under this root.
//!
//! The certificates are issued once per process, when first needed, with
//! `rcgen`: keys and names are fixed, validity is relative to the start
//! (from an hour before it, the leaves for two years, the CAs for ten), so
//! that a test never meets a certificate that expired because the
//! repository got old.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SerialNumber,
};
use sha2::{Digest as _, Sha256};
use time::{Duration, OffsetDateTime};

/// Which chain a published key carries in `x5c`: the honest one, or one
/// broken in exactly one way (each a [`Fault`](crate::Fault)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Chain {
    /// Leaf, intermediate, root of the simulator's trusted PKI.
    Trusted,
    /// Leaf and intermediate of a second PKI whose root no relying party
    /// was given.
    ForeignRoot,
    /// The trusted chain, but the leaf's validity ended yesterday.
    ExpiredLeaf,
    /// The trusted chain, but the leaf certifies another key (the
    /// never-published `sim-unknown`), not the JWK's.
    OtherKeysLeaf,
    /// No `x5c` (and no `x5t#S256`) at all.
    Absent,
}

/// A CA: its parameters (for issuing), key and certificate (DER).
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

/// Both hierarchies, issued once.
struct Pki {
    root: Ca,
    intermediate: Ca,
    foreign_root: Ca,
    foreign_intermediate: Ca,
    /// When the CAs were issued: leaves are valid relative to it.
    issued_at: OffsetDateTime,
}

static PKI: LazyLock<Pki> = LazyLock::new(Pki::issue);

/// Serial numbers of leaves: unique within the process.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(100);

/// The trusted root certificate as PEM: what a relying party configures as
/// its BankID root (`BANKID_ROOT_CERTS_FILE`) to trust this simulator.
pub(crate) fn root_pem() -> String {
    pem_of(&PKI.root.der)
}

/// Issues the `x5c` (standard base64 DER, leaf first) of a leaf named
/// `common_name` certifying `certified` under `chain`; empty for
/// [`Chain::Absent`]. For [`Chain::OtherKeysLeaf`] the caller passes the
/// other key as `certified`.
pub(crate) fn x5c(certified: &KeyPair, common_name: &str, chain: Chain) -> Vec<String> {
    if chain == Chain::Absent {
        return Vec::new();
    }
    PKI.leaf_chain(certified, common_name, chain)
}

/// `x5t#S256` of a chain: the base64url SHA-256 thumbprint of its leaf's
/// DER (RFC 7517 §4.9), or `None` without a leaf.
pub(crate) fn thumbprint(x5c: &[String]) -> Option<String> {
    let leaf = STANDARD.decode(x5c.first()?).ok()?;
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(leaf)))
}

fn pem_of(der: &[u8]) -> String {
    let body: Vec<String> =
        STANDARD.encode(der).as_bytes().chunks(64).map(|line| String::from_utf8_lossy(line).into_owned()).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", body.join("\n"))
}

impl Pki {
    /// The committed keys and names are part of the source, so a failure
    /// here is a build defect, not a runtime condition.
    fn issue() -> Pki {
        let now = OffsetDateTime::now_utc();
        let root = self_signed_ca(include_str!("keys/ca-root.pem"), "Simulated BankID - Test Root CA", now, 1);
        let intermediate =
            issued_ca(include_str!("keys/ca-intermediate.pem"), "Simulated BankID - Test Utility CA", &root, now, 2);
        let foreign_root =
            self_signed_ca(include_str!("keys/foreign-root.pem"), "Untrusted Test Root CA (not BankID)", now, 3);
        let foreign_intermediate = issued_ca(
            include_str!("keys/foreign-intermediate.pem"),
            "Untrusted Test Utility CA (not BankID)",
            &foreign_root,
            now,
            4,
        );
        Pki { root, intermediate, foreign_root, foreign_intermediate, issued_at: now }
    }

    fn leaf_chain(&self, certified: &KeyPair, common_name: &str, chain: Chain) -> Vec<String> {
        let now = self.issued_at;
        let (not_before, not_after) = match chain {
            Chain::ExpiredLeaf => (now - Duration::days(731), now - Duration::days(1)),
            _ => (now - Duration::hours(1), now + Duration::days(730)),
        };
        let (intermediate, root) = match chain {
            Chain::ForeignRoot => (&self.foreign_intermediate, &self.foreign_root),
            _ => (&self.intermediate, &self.root),
        };
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name);
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(SerialNumber::from(NEXT_SERIAL.fetch_add(1, Ordering::Relaxed)));
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let issuer = Issuer::from_params(&intermediate.params, &intermediate.key);
        let leaf = params.signed_by(certified, &issuer).expect("the simulator's intermediate CA signs a leaf");
        [leaf.der().to_vec(), intermediate.der.clone(), root.der.clone()]
            .iter()
            .map(|der| STANDARD.encode(der))
            .collect()
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, "NO");
    name.push(DnType::OrganizationName, "axum-bankid simulator (test only)");
    name.push(DnType::CommonName, common_name);
    name
}

fn ca_params(common_name: &str, path_len: Option<u8>, now: OffsetDateTime, serial: u64) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(3650);
    params.serial_number = Some(SerialNumber::from(serial));
    params.is_ca = IsCa::Ca(path_len.map_or(BasicConstraints::Unconstrained, BasicConstraints::Constrained));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

fn ca_key(pem: &str) -> KeyPair {
    KeyPair::from_pkcs8_pem_and_sign_algo(pem, &rcgen::PKCS_RSA_SHA256).expect("a committed RSA CA key (PKCS#8)")
}

fn self_signed_ca(pem: &str, common_name: &str, now: OffsetDateTime, serial: u64) -> Ca {
    let key = ca_key(pem);
    let params = ca_params(common_name, None, now, serial);
    let der = params.self_signed(&key).expect("a self-signed test root").der().to_vec();
    Ca { params, key, der }
}

fn issued_ca(pem: &str, common_name: &str, parent: &Ca, now: OffsetDateTime, serial: u64) -> Ca {
    let key = ca_key(pem);
    let mut params = ca_params(common_name, Some(0), now, serial);
    params.use_authority_key_identifier_extension = true;
    let issuer = Issuer::from_params(&parent.params, &parent.key);
    let der = params.signed_by(&key, &issuer).expect("a test intermediate CA").der().to_vec();
    Ca { params, key, der }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf_key() -> KeyPair {
        KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
    }

    #[test]
    fn every_chain_is_leaf_intermediate_root_and_the_root_is_handed_out() {
        let key = leaf_key();
        let trusted = x5c(&key, "leaf", Chain::Trusted);
        assert_eq!(trusted.len(), 3);
        assert_eq!(STANDARD.decode(&trusted[2]).unwrap(), PKI.root.der);
        assert_eq!(STANDARD.decode(&trusted[1]).unwrap(), PKI.intermediate.der);
        let foreign = x5c(&key, "leaf", Chain::ForeignRoot);
        assert_eq!(STANDARD.decode(&foreign[2]).unwrap(), PKI.foreign_root.der);
        assert!(root_pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(x5c(&key, "leaf", Chain::Absent).is_empty());
    }

    #[test]
    fn the_leaf_certifies_the_key_it_is_given() {
        let key = leaf_key();
        let public = rcgen::PublicKeyData::subject_public_key_info(&key);
        let leaf = STANDARD.decode(&x5c(&key, "leaf", Chain::Trusted)[0]).unwrap();
        assert!(leaf.windows(public.len()).any(|window| window == public.as_slice()));
    }

    #[test]
    fn thumbprint_is_the_leafs_sha256_base64url() {
        let chain = x5c(&leaf_key(), "leaf", Chain::Trusted);
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(STANDARD.decode(&chain[0]).unwrap()));
        assert_eq!(thumbprint(&chain), Some(expected));
        assert_eq!(thumbprint(&[]), None);
    }
}
