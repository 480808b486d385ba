//! The signing keys' certificate chains (`x5c`) checked against BankID's
//! published root certificates.
//!
//! BankID asks relying parties to check not only a token's signature but
//! that the signing key's certificate was issued under BankID's officially
//! published roots (developer.bankid.no, `core-concepts/token-validation`
//! and `advanced-topics/verify-token`): each key in `jwks_uri` carries its
//! chain in `x5c`, leaf first. Without that check, whoever can answer for
//! `jwks_uri` (a compromised proxy, a mis-issued TLS certificate, a DNS
//! take-over) can sign ID tokens for anyone; with it, they also need a
//! certificate from BankID's CA.
//!
//! The check runs when a key set is loaded, never per token: a key that
//! fails is left out of the set, with its reason kept for the token that
//! names it (see [`crate::provider::jwks`]). It accepts a key only if
//!
//! - `x5c` is present and every entry is base64 DER (RFC 7517 §4.7);
//! - `x5t#S256`, when present, is the SHA-256 of the leaf's DER;
//! - the leaf's SubjectPublicKeyInfo is exactly the JWK's key (EC P-256
//!   `x`/`y`, RSA `n`/`e`), compared as DER bytes;
//! - the chain builds from the leaf to one of the configured roots, every
//!   certificate within its validity period (allowing the configured clock
//!   skew), every signature valid, every issuer a CA within its path length.
//!
//! Path building, validity, signatures and CA constraints are rustls'
//! verifier (`rustls-webpki`), not code of ours. Two of its rules are set
//! here: it would refuse a leaf whose extended key usage lacks TLS server
//! or client authentication, and BankID publishes no key usage for its
//! token-signing certificates, so any (well-formed) extended key usage is
//! accepted — the roots are BankID's own; and it refuses a certificate with
//! a critical extension it does not know, which we keep (reported as
//! `untrusted_key_chain`, the detail in the log). The roots' own validity is
//! checked when the configuration is built (a trust anchor is not re-checked
//! on every chain, as in TLS).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};
use sha2::{Digest, Sha256};
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter};

/// Why a signing key from the provider's JWKS was not trusted. The key is
/// left out of the key set; a token signed with it is refused with
/// [`IdTokenError::UntrustedKey`](crate::error::IdTokenError::UntrustedKey)
/// carrying this reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyChainError {
    /// The key has no `x5c` certificate chain, so its origin cannot be
    /// checked against the configured root certificates.
    #[error("the signing key has no certificate chain (x5c)")]
    MissingKeyChain,
    /// `x5c` is not a list of base64 DER certificates (or is too long).
    #[error("the signing key's certificate chain is malformed")]
    MalformedKeyChain,
    /// The chain does not build to a configured root certificate: an
    /// unknown issuer, a bad signature, an issuer that is not a CA, a
    /// critical extension the verifier does not know.
    #[error("the signing key's certificate chain does not lead to a trusted BankID root")]
    UntrustedKeyChain,
    /// A certificate of the chain expired (beyond the allowed clock skew).
    #[error("a certificate of the signing key's chain has expired")]
    KeyCertificateExpired,
    /// A certificate of the chain is not valid yet (beyond the allowed
    /// clock skew).
    #[error("a certificate of the signing key's chain is not valid yet")]
    KeyCertificateNotYetValid,
    /// The leaf certificate is not the JWK's key: another public key, or
    /// `x5t#S256` is not the leaf's SHA-256 thumbprint.
    #[error("the signing key's certificate does not match the key")]
    KeyCertificateMismatch,
}

impl KeyChainError {
    /// A stable, machine-readable code.
    pub fn kind(&self) -> &'static str {
        match self {
            KeyChainError::MissingKeyChain => "missing_key_chain",
            KeyChainError::MalformedKeyChain => "malformed_key_chain",
            KeyChainError::UntrustedKeyChain => "untrusted_key_chain",
            KeyChainError::KeyCertificateExpired => "key_certificate_expired",
            KeyChainError::KeyCertificateNotYetValid => "key_certificate_not_yet_valid",
            KeyChainError::KeyCertificateMismatch => "key_certificate_mismatch",
        }
    }

    /// The error for a [`kind`](Self::kind) code, if it is one.
    pub(crate) fn from_kind(kind: &str) -> Option<KeyChainError> {
        ALL.into_iter().find(|reason| reason.kind() == kind)
    }
}

const ALL: [KeyChainError; 6] = [
    KeyChainError::MissingKeyChain,
    KeyChainError::MalformedKeyChain,
    KeyChainError::UntrustedKeyChain,
    KeyChainError::KeyCertificateExpired,
    KeyChainError::KeyCertificateNotYetValid,
    KeyChainError::KeyCertificateMismatch,
];

/// A refused key's reason, with the verifier's detail for the log
/// (certificates are public: the detail holds no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainFailure {
    pub(crate) reason: KeyChainError,
    pub(crate) detail: String,
}

impl ChainFailure {
    fn new(reason: KeyChainError, detail: impl Into<String>) -> ChainFailure {
        ChainFailure { reason, detail: detail.into() }
    }
}

/// `x5c` entries: the standard alphabet (RFC 7517 §4.7), with or without
/// padding (providers differ; the alphabet is what tells base64 from
/// base64url).
const X5C_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// More certificates than this in one `x5c` is not a key chain.
const MAX_CHAIN_LEN: usize = 8;
/// Base64 characters of one `x5c` entry, at most.
const MAX_CERT_BASE64_LEN: usize = 16 * 1024;

/// The signature algorithms a certificate of the chain may be signed with:
/// ECDSA P-256/P-384, RSA PKCS#1 v1.5 (with or without the NULL parameters
/// some CAs omit) and PSS (2048 bits and more), Ed25519.
static CERT_SIGNATURE_ALGS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P256_SHA384,
    webpki::ring::ECDSA_P384_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
    webpki::ring::ED25519,
];

/// Accepts any well-formed extended key usage (see the module docs: BankID
/// publishes none for its token-signing certificates).
struct AnyKeyPurpose;

impl ExtendedKeyUsageValidator for AnyKeyPurpose {
    fn validate(&self, purposes: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for purpose in purposes {
            purpose?;
        }
        Ok(())
    }
}

/// The root certificates a signing key's chain must lead to: parsed once,
/// when the configuration is built.
#[derive(Clone)]
pub(crate) struct TrustedRoots {
    anchors: Arc<[TrustAnchor<'static>]>,
}

impl fmt::Debug for TrustedRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustedRoots({} certificates)", self.anchors.len())
    }
}

impl TrustedRoots {
    /// Every `CERTIFICATE` in `pem`, each a CA certificate valid at `now`
    /// (Unix seconds). `Err` says why not, naming no secret.
    pub(crate) fn from_pem(pem: &[u8], now: u64) -> Result<TrustedRoots, String> {
        let mut anchors = Vec::new();
        for (index, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
            let cert = cert.map_err(|e| format!("certificate {} is not valid PEM ({e})", index + 1))?;
            check_root(&cert, now).map_err(|why| format!("certificate {} {why}", index + 1))?;
            let anchor = webpki::anchor_from_trusted_cert(&cert)
                .map_err(|e| format!("certificate {} is not usable as a root ({e:?})", index + 1))?;
            anchors.push(anchor.to_owned());
        }
        if anchors.is_empty() {
            return Err("holds no PEM certificate".to_owned());
        }
        Ok(TrustedRoots { anchors: anchors.into() })
    }

    /// How many root certificates there are.
    pub(crate) fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Checks `jwk`'s certificate chain (see the module docs) at `now`
    /// (Unix seconds), allowing `skew` either way on validity periods.
    pub(crate) fn check(&self, jwk: &Jwk, now: u64, skew: Duration) -> Result<(), ChainFailure> {
        let chain = decode_chain(jwk)?;
        let (leaf, intermediates) = chain.split_first().ok_or_else(|| missing("x5c is empty"))?;
        check_thumbprint(jwk, leaf)?;
        let end_entity = EndEntityCert::try_from(leaf).map_err(leaf_unreadable)?;
        check_same_key(jwk, &end_entity)?;
        self.verify_path(&end_entity, intermediates, now, skew)
    }

    /// Builds the path at `now`; a validity failure is retried once at the
    /// edge of the skew (the verifier takes one time, not a window).
    fn verify_path(
        &self,
        leaf: &EndEntityCert<'_>,
        intermediates: &[CertificateDer<'_>],
        now: u64,
        skew: Duration,
    ) -> Result<(), ChainFailure> {
        let at = |secs: u64| self.verify_at(leaf, intermediates, secs);
        let outcome = match at(now) {
            Err(webpki::Error::CertExpired { .. }) => at(now.saturating_sub(skew.as_secs())),
            Err(webpki::Error::CertNotValidYet { .. }) => at(now.saturating_add(skew.as_secs())),
            other => other,
        };
        outcome.map_err(|err| {
            let reason = match err {
                webpki::Error::CertExpired { .. } => KeyChainError::KeyCertificateExpired,
                webpki::Error::CertNotValidYet { .. } => KeyChainError::KeyCertificateNotYetValid,
                _ => KeyChainError::UntrustedKeyChain,
            };
            ChainFailure::new(reason, format!("{err:?}"))
        })
    }

    fn verify_at(
        &self,
        leaf: &EndEntityCert<'_>,
        intermediates: &[CertificateDer<'_>],
        secs: u64,
    ) -> Result<(), webpki::Error> {
        let time = UnixTime::since_unix_epoch(Duration::from_secs(secs));
        leaf.verify_for_usage(CERT_SIGNATURE_ALGS, &self.anchors, intermediates, time, AnyKeyPurpose, None, None)
            .map(|_| ())
    }
}

/// A leaf the verifier cannot read: a critical extension it does not know
/// makes the certificate untrusted (as for an intermediate, where path
/// building says so); anything else is a malformed chain.
fn leaf_unreadable(err: webpki::Error) -> ChainFailure {
    let reason = match err {
        webpki::Error::UnsupportedCriticalExtension => KeyChainError::UntrustedKeyChain,
        _ => KeyChainError::MalformedKeyChain,
    };
    ChainFailure::new(reason, format!("leaf: {err:?}"))
}

fn missing(detail: &str) -> ChainFailure {
    ChainFailure::new(KeyChainError::MissingKeyChain, detail)
}

fn malformed(detail: impl Into<String>) -> ChainFailure {
    ChainFailure::new(KeyChainError::MalformedKeyChain, detail)
}

/// A root must be a CA certificate, valid now. The verifier answers
/// `CaUsedAsEndEntity` for a CA certificate presented as a leaf once its
/// validity holds, before looking for an issuer, so that answer is the
/// proof; an expired or future root gets its own message.
///
/// One exception: the verifier reads a certificate it will verify
/// strictly (a critical extension it does not know is an error) but a
/// trust anchor leniently (such extensions ignored, as RFC 5280 §6.1.1
/// allows for anchors). A root it can only read as an anchor is accepted
/// as one, with a warning that its CA flag and validity went unchecked,
/// rather than making BankID's real root unusable over an extension.
fn check_root(cert: &CertificateDer<'_>, now: u64) -> Result<(), String> {
    let parsed = match EndEntityCert::try_from(cert) {
        Ok(parsed) => parsed,
        Err(webpki::Error::UnsupportedCriticalExtension) => {
            tracing::warn!(
                "a configured root certificate has a critical extension the verifier does not know; \
                 it is used as a trust anchor without checking that it is a CA within its validity"
            );
            return Ok(());
        }
        Err(e) => return Err(format!("is not an X.509 v3 certificate ({e:?})")),
    };
    let time = UnixTime::since_unix_epoch(Duration::from_secs(now));
    match parsed.verify_for_usage(CERT_SIGNATURE_ALGS, &[], &[], time, AnyKeyPurpose, None, None) {
        Err(webpki::Error::CaUsedAsEndEntity) => Ok(()),
        Err(webpki::Error::CertExpired { .. }) => Err("has expired".to_owned()),
        Err(webpki::Error::CertNotValidYet { .. }) => Err("is not valid yet".to_owned()),
        _ => Err("is not a CA certificate".to_owned()),
    }
}

/// `x5c` as DER certificates, leaf first (RFC 7517 §4.7: standard base64,
/// not base64url).
fn decode_chain(jwk: &Jwk) -> Result<Vec<CertificateDer<'static>>, ChainFailure> {
    let encoded = jwk.common.x509_chain.as_deref().ok_or_else(|| missing("no x5c"))?;
    if encoded.len() > MAX_CHAIN_LEN {
        return Err(malformed(format!("x5c has {} certificates", encoded.len())));
    }
    encoded
        .iter()
        .map(|entry| {
            if entry.len() > MAX_CERT_BASE64_LEN {
                return Err(malformed("an x5c entry is too long"));
            }
            X5C_BASE64.decode(entry).map(CertificateDer::from).map_err(|_| malformed("an x5c entry is not base64"))
        })
        .collect()
}

/// `x5t#S256`, when present, must be the leaf's SHA-256 thumbprint.
fn check_thumbprint(jwk: &Jwk, leaf: &CertificateDer<'_>) -> Result<(), ChainFailure> {
    let Some(thumbprint) = jwk.common.x509_sha256_fingerprint.as_deref() else {
        return Ok(());
    };
    let digest = Sha256::digest(leaf.as_ref());
    match URL_SAFE_NO_PAD.decode(thumbprint) {
        Ok(given) if given[..] == digest[..] => Ok(()),
        _ => Err(ChainFailure::new(KeyChainError::KeyCertificateMismatch, "x5t#S256 is not the leaf's thumbprint")),
    }
}

/// The leaf's SubjectPublicKeyInfo must be the JWK's key, byte for byte
/// (DER is canonical, so equal keys encode equally).
fn check_same_key(jwk: &Jwk, leaf: &EndEntityCert<'_>) -> Result<(), ChainFailure> {
    let mismatch = |detail: &str| ChainFailure::new(KeyChainError::KeyCertificateMismatch, detail);
    let expected = jwk_spki(jwk).ok_or_else(|| mismatch("the JWK is not an RSA or EC P-256 public key"))?;
    if leaf.subject_public_key_info().as_ref() == expected.as_slice() {
        Ok(())
    } else {
        Err(mismatch("the leaf certificate holds another public key"))
    }
}

/// The JWK's public key as a DER SubjectPublicKeyInfo (RSA, EC P-256).
fn jwk_spki(jwk: &Jwk) -> Option<Vec<u8>> {
    // One trait (pkcs8's) encodes both key types.
    use p256::pkcs8::EncodePublicKey as _;
    let b64 = |value: &str| URL_SAFE_NO_PAD.decode(value).ok();
    match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            let (x, y) = (b64(&ec.x)?, b64(&ec.y)?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let point = [&[0x04][..], &x, &y].concat();
            let key = p256::PublicKey::from_sec1_bytes(&point).ok()?;
            Some(key.to_public_key_der().ok()?.into_vec())
        }
        AlgorithmParameters::RSA(params) => {
            let n = rsa::BigUint::from_bytes_be(&b64(&params.n)?);
            let e = rsa::BigUint::from_bytes_be(&b64(&params.e)?);
            let key = rsa::RsaPublicKey::new(n, e).ok()?;
            Some(key.to_public_key_der().ok()?.into_vec())
        }
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests;
