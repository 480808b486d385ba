//! The simulator's signing keys.
//!
//! **TEST KEYS — PUBLIC ON PURPOSE. NEVER USE THEM IN PRODUCTION.**
//! The private keys in `keys/*.pem` are committed to the repository so that
//! the simulator starts instantly and deterministically; anyone can read them
//! and forge tokens with them. No relying party outside a test may trust them.
//!
//! Three keys exist so that key rotation can be tested: `sim-1` is published
//! from the start, `sim-2` only once [`Fault::RotatedKeys`](super::Fault::RotatedKeys)
//! rotates to it, and `sim-unknown` never. BIB ("aletheia") has keys of
//! its own, one per JWKS: `bib-1` for CIBA ID tokens and `bib-grant-1` for
//! grants (signed permissions).
//!
//! Each key exists twice, as an EC P-256 key for ES256 (the default: BankID
//! signs with ES256 since API v3 and replaces RS256) and as an RSA key for
//! RS256 ([`SimulatorBuilder::signing_algorithm`](super::SimulatorBuilder::signing_algorithm)).
//! Every published JWK carries its certificate chain (`x5c`, `x5t#S256`)
//! from the simulator's test PKI (`pki.rs`).

use std::collections::HashMap;
use std::sync::LazyLock;

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey};

use crate::pki::{self, Chain};

/// One of the simulator's bundled signing keys (public test keys), for
/// [`Simulator::publish_keys`](super::Simulator::publish_keys) and
/// [`Fault::SignWith`](super::Fault::SignWith).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningKey {
    /// `sim-1`: the key in use until a rotation.
    Primary,
    /// `sim-2`: the key rotated to.
    Rotated,
    /// `sim-unknown`: a key that is never published.
    Unpublished,
    /// `bib-1`: BIB's ID-token key (CIBA ID tokens), published at
    /// `{bib_issuer}/jwks` only.
    BibIdToken,
    /// `bib-grant-1`: BIB's grant key (signed permissions), published at
    /// `{bib_issuer}/jwks/grants` only.
    BibGrant,
}

/// The JWS algorithm every token of a simulator is signed with; choose it
/// with [`SimulatorBuilder::signing_algorithm`](super::SimulatorBuilder::signing_algorithm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// ES256 (ECDSA P-256 with SHA-256): BankID OIDC API v4's algorithm.
    #[default]
    Es256,
    /// RS256 (RSASSA-PKCS1-v1_5 with SHA-256): what BankID signed with
    /// before, for relying parties that still expect it.
    Rs256,
}

impl SigningAlgorithm {
    /// The JOSE name: `"ES256"` or `"RS256"`.
    pub fn name(self) -> &'static str {
        match self {
            SigningAlgorithm::Es256 => "ES256",
            SigningAlgorithm::Rs256 => "RS256",
        }
    }

    /// Parses a JOSE name (`ES256`, `RS256`; ASCII case ignored).
    pub fn from_name(name: &str) -> Option<SigningAlgorithm> {
        [SigningAlgorithm::Es256, SigningAlgorithm::Rs256].into_iter().find(|alg| alg.name().eq_ignore_ascii_case(name))
    }

    pub(crate) fn jwt(self) -> Algorithm {
        match self {
            SigningAlgorithm::Es256 => Algorithm::ES256,
            SigningAlgorithm::Rs256 => Algorithm::RS256,
        }
    }
}

/// A key parsed once, with its public half as a JWK (without `x5c`) and as
/// `rcgen`'s key for the certificate that certifies it.
struct LoadedKey {
    encoding: EncodingKey,
    jwk: Jwk,
    certified: rcgen::KeyPair,
}

// Parsing PEM and deriving the JWK is deterministic, so do it once per process.
static RSA_KEYS: LazyLock<[LoadedKey; 5]> =
    LazyLock::new(|| SigningKey::ALL.map(|key| load(key, SigningAlgorithm::Rs256)));
static EC_KEYS: LazyLock<[LoadedKey; 5]> =
    LazyLock::new(|| SigningKey::ALL.map(|key| load(key, SigningAlgorithm::Es256)));

impl SigningKey {
    /// Every key, in declaration order.
    pub(crate) const ALL: [SigningKey; 5] = [
        SigningKey::Primary,
        SigningKey::Rotated,
        SigningKey::Unpublished,
        SigningKey::BibIdToken,
        SigningKey::BibGrant,
    ];

    /// The `kid` of this key in JWT headers and in the JWKS.
    pub(crate) fn kid(self) -> &'static str {
        match self {
            SigningKey::Primary => "sim-1",
            SigningKey::Rotated => "sim-2",
            SigningKey::Unpublished => "sim-unknown",
            SigningKey::BibIdToken => "bib-1",
            SigningKey::BibGrant => "bib-grant-1",
        }
    }

    /// The private key for `alg`, ready for `jsonwebtoken::encode`.
    pub(crate) fn encoding_key(self, alg: SigningAlgorithm) -> &'static EncodingKey {
        &loaded(self, alg).encoding
    }

    fn index(self) -> usize {
        self as usize
    }

    fn pem(self, alg: SigningAlgorithm) -> &'static str {
        match (alg, self) {
            (SigningAlgorithm::Rs256, SigningKey::Primary) => include_str!("keys/sim-1.pem"),
            (SigningAlgorithm::Rs256, SigningKey::Rotated) => include_str!("keys/sim-2.pem"),
            (SigningAlgorithm::Rs256, SigningKey::Unpublished) => include_str!("keys/sim-unknown.pem"),
            (SigningAlgorithm::Rs256, SigningKey::BibIdToken) => include_str!("keys/bib-1.pem"),
            (SigningAlgorithm::Rs256, SigningKey::BibGrant) => include_str!("keys/bib-grant-1.pem"),
            (SigningAlgorithm::Es256, SigningKey::Primary) => include_str!("keys/sim-1.ec.pem"),
            (SigningAlgorithm::Es256, SigningKey::Rotated) => include_str!("keys/sim-2.ec.pem"),
            (SigningAlgorithm::Es256, SigningKey::Unpublished) => include_str!("keys/sim-unknown.ec.pem"),
            (SigningAlgorithm::Es256, SigningKey::BibIdToken) => include_str!("keys/bib-1.ec.pem"),
            (SigningAlgorithm::Es256, SigningKey::BibGrant) => include_str!("keys/bib-grant-1.ec.pem"),
        }
    }
}

fn loaded(key: SigningKey, alg: SigningAlgorithm) -> &'static LoadedKey {
    match alg {
        SigningAlgorithm::Es256 => &EC_KEYS[key.index()],
        SigningAlgorithm::Rs256 => &RSA_KEYS[key.index()],
    }
}

/// The `x5c` of every key, algorithm and chain, issued once per process:
/// RSA signatures are too slow in debug builds to sign per JWKS request.
static CHAINS: LazyLock<HashMap<(SigningKey, SigningAlgorithm, Chain), Vec<String>>> = LazyLock::new(|| {
    let mut chains = HashMap::new();
    for key in SigningKey::ALL {
        for alg in [SigningAlgorithm::Es256, SigningAlgorithm::Rs256] {
            for chain in [Chain::Trusted, Chain::ForeignRoot, Chain::ExpiredLeaf, Chain::OtherKeysLeaf] {
                // The wrong leaf certifies the never-published key.
                let certified = if chain == Chain::OtherKeysLeaf { SigningKey::Unpublished } else { key };
                let name = format!("Simulated BankID - token signing {}", key.kid());
                chains.insert((key, alg, chain), pki::x5c(&loaded(certified, alg).certified, &name, chain));
            }
        }
    }
    chains
});

/// The `x5c` of `key` for `alg` under `chain` (empty for [`Chain::Absent`]).
fn x5c(key: SigningKey, alg: SigningAlgorithm, chain: Chain) -> Vec<String> {
    CHAINS.get(&(key, alg, chain)).cloned().unwrap_or_default()
}

/// Parses a bundled key. The PEM files are part of the source, so a failure
/// is a build defect, not a runtime condition.
fn load(key: SigningKey, alg: SigningAlgorithm) -> LoadedKey {
    let pem = key.pem(alg);
    let (encoding, certified) = match alg {
        SigningAlgorithm::Es256 => (
            EncodingKey::from_ec_pem(pem.as_bytes()).expect("bundled simulator key is valid EC PEM"),
            rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(pem, &rcgen::PKCS_ECDSA_P256_SHA256),
        ),
        SigningAlgorithm::Rs256 => (
            EncodingKey::from_rsa_pem(pem.as_bytes()).expect("bundled simulator key is valid RSA PEM"),
            rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(pem, &rcgen::PKCS_RSA_SHA256),
        ),
    };
    let certified = certified.expect("bundled simulator key is PKCS#8");
    let mut jwk = Jwk::from_encoding_key(&encoding, alg.jwt()).expect("public JWK derives from a bundled key");
    jwk.common.key_id = Some(key.kid().to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    LoadedKey { encoding, jwk, certified }
}

/// The JWK of `key` for `alg` under `kid`, with the `x5c` and `x5t#S256`
/// of `chain`.
fn published(key: SigningKey, kid: &str, alg: SigningAlgorithm, chain: Chain) -> Jwk {
    let mut jwk = loaded(key, alg).jwk.clone();
    jwk.common.key_id = Some(kid.to_owned());
    let x5c = x5c(key, alg, chain);
    jwk.common.x509_sha256_fingerprint = pki::thumbprint(&x5c);
    jwk.common.x509_chain = (!x5c.is_empty()).then_some(x5c);
    jwk
}

/// How the JWKS of one simulator publish keys: its algorithm and the chain
/// every key carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Publication {
    pub(crate) alg: SigningAlgorithm,
    pub(crate) chain: Chain,
}

impl Publication {
    fn jwks(self, keys: &[SigningKey]) -> JwkSet {
        JwkSet { keys: keys.iter().map(|key| published(*key, key.kid(), self.alg, self.chain)).collect() }
    }
}

/// The test client's private key for `private_key_jwt` (PKCS#8 PEM).
/// Public on purpose, like the signing keys.
pub(crate) const CLIENT_KEY_PEM: &str = include_str!("keys/client.pem");

/// The public half of [`CLIENT_KEY_PEM`], for checking client assertions.
pub(crate) static CLIENT_PUBLIC_KEY: LazyLock<jsonwebtoken::DecodingKey> = LazyLock::new(|| {
    let encoding = EncodingKey::from_rsa_pem(CLIENT_KEY_PEM.as_bytes()).expect("bundled client key is valid RSA PEM");
    let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("public JWK derives from the client key");
    jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("decoding key from the client JWK")
});

/// The JWKS publishing `sim-1`, plus `sim-2` once keys were rotated.
pub(crate) fn published_jwks(publication: Publication, rotated: bool) -> JwkSet {
    if rotated {
        publication.jwks(&[SigningKey::Primary, SigningKey::Rotated])
    } else {
        publication.jwks(&[SigningKey::Primary])
    }
}

/// BIB's ID-token JWKS (`{bib_issuer}/jwks`): `bib-1` only.
pub(crate) fn bib_jwks(publication: Publication) -> JwkSet {
    publication.jwks(&[SigningKey::BibIdToken])
}

/// BIB's grant JWKS (`{bib_issuer}/jwks/grants`): `bib-grant-1` only.
pub(crate) fn grant_jwks(publication: Publication) -> JwkSet {
    publication.jwks(&[SigningKey::BibGrant])
}

/// A JWKS publishing exactly `keys`, each public key under the given `kid`.
pub(crate) fn jwks_of(publication: Publication, keys: &[(SigningKey, String)]) -> JwkSet {
    JwkSet { keys: keys.iter().map(|(key, kid)| published(*key, kid, publication.alg, publication.chain)).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HONEST_ES256: Publication = Publication { alg: SigningAlgorithm::Es256, chain: Chain::Trusted };

    #[test]
    fn every_key_loads_with_distinct_public_halves_in_both_algorithms() {
        for alg in [SigningAlgorithm::Es256, SigningAlgorithm::Rs256] {
            let publics: std::collections::BTreeSet<String> = SigningKey::ALL
                .iter()
                .map(|key| serde_json::to_string(&loaded(*key, alg).jwk.algorithm).unwrap())
                .collect();
            assert_eq!(publics.len(), 5, "every {alg:?} key is its own");
        }
        assert_eq!(SigningAlgorithm::default(), SigningAlgorithm::Es256);
        assert_eq!(SigningAlgorithm::from_name("rs256"), Some(SigningAlgorithm::Rs256));
        assert_eq!(SigningAlgorithm::from_name("PS256"), None);
    }

    #[test]
    fn chosen_keys_are_published_under_chosen_kids() {
        let jwks = jwks_of(HONEST_ES256, &[(SigningKey::Rotated, "sim-1".to_owned())]);
        assert_eq!(jwks.keys.len(), 1);
        let published = jwks.find("sim-1").expect("published under sim-1");
        assert_eq!(published.algorithm, loaded(SigningKey::Rotated, SigningAlgorithm::Es256).jwk.algorithm);
    }

    #[test]
    fn jwks_never_publishes_the_unknown_key() {
        for rotated in [false, true] {
            let jwks = published_jwks(HONEST_ES256, rotated);
            assert!(jwks.find("sim-1").is_some());
            assert_eq!(jwks.find("sim-2").is_some(), rotated);
            assert!(jwks.find("sim-unknown").is_none());
            assert!(jwks.find("bib-1").is_none() && jwks.find("bib-grant-1").is_none());
        }
    }

    #[test]
    fn each_bib_jwks_publishes_only_its_own_key() {
        let ids: Vec<_> = bib_jwks(HONEST_ES256).keys.iter().filter_map(|key| key.common.key_id.clone()).collect();
        assert_eq!(ids, ["bib-1"]);
        let grants: Vec<_> = grant_jwks(HONEST_ES256).keys.iter().filter_map(|key| key.common.key_id.clone()).collect();
        assert_eq!(grants, ["bib-grant-1"]);
    }

    #[test]
    fn a_key_without_a_chain_has_no_thumbprint_either() {
        let bare = Publication { alg: SigningAlgorithm::Rs256, chain: Chain::Absent };
        let jwk = &published_jwks(bare, false).keys[0];
        assert!(jwk.common.x509_chain.is_none() && jwk.common.x509_sha256_fingerprint.is_none());
        let honest = &published_jwks(HONEST_ES256, false).keys[0];
        assert_eq!(honest.common.x509_chain.as_ref().map(Vec::len), Some(3));
        assert!(honest.common.x509_sha256_fingerprint.is_some());
    }
}
