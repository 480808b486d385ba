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

use std::sync::LazyLock;

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey};

/// One of the simulator's bundled RSA signing keys (public test keys), for
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

/// A key parsed once, with its public half as a JWK.
struct LoadedKey {
    encoding: EncodingKey,
    jwk: Jwk,
}

// Parsing PEM and deriving the JWK is deterministic, so do it once per process.
static KEYS: LazyLock<[LoadedKey; 5]> = LazyLock::new(|| {
    [SigningKey::Primary, SigningKey::Rotated, SigningKey::Unpublished, SigningKey::BibIdToken, SigningKey::BibGrant]
        .map(load)
});

impl SigningKey {
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

    /// The private key, ready for `jsonwebtoken::encode`.
    pub(crate) fn encoding_key(self) -> &'static EncodingKey {
        &KEYS[self.index()].encoding
    }

    fn index(self) -> usize {
        self as usize
    }

    fn pem(self) -> &'static str {
        match self {
            SigningKey::Primary => include_str!("keys/sim-1.pem"),
            SigningKey::Rotated => include_str!("keys/sim-2.pem"),
            SigningKey::Unpublished => include_str!("keys/sim-unknown.pem"),
            SigningKey::BibIdToken => include_str!("keys/bib-1.pem"),
            SigningKey::BibGrant => include_str!("keys/bib-grant-1.pem"),
        }
    }
}

/// Parses a bundled key. The PEM files are part of the source, so a failure
/// is a build defect, not a runtime condition.
fn load(key: SigningKey) -> LoadedKey {
    let encoding = EncodingKey::from_rsa_pem(key.pem().as_bytes()).expect("bundled simulator key is valid RSA PEM");
    let mut jwk =
        Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("public JWK derives from a bundled RSA key");
    jwk.common.key_id = Some(key.kid().to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    LoadedKey { encoding, jwk }
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
pub(crate) fn published_jwks(rotated: bool) -> JwkSet {
    let mut keys = vec![KEYS[SigningKey::Primary.index()].jwk.clone()];
    if rotated {
        keys.push(KEYS[SigningKey::Rotated.index()].jwk.clone());
    }
    JwkSet { keys }
}

/// BIB's ID-token JWKS (`{bib_issuer}/jwks`): `bib-1` only.
pub(crate) fn bib_jwks() -> JwkSet {
    JwkSet { keys: vec![KEYS[SigningKey::BibIdToken.index()].jwk.clone()] }
}

/// BIB's grant JWKS (`{bib_issuer}/jwks/grants`): `bib-grant-1` only.
pub(crate) fn grant_jwks() -> JwkSet {
    JwkSet { keys: vec![KEYS[SigningKey::BibGrant.index()].jwk.clone()] }
}

/// A JWKS publishing exactly `keys`, each public key under the given `kid`.
pub(crate) fn jwks_of(keys: &[(SigningKey, String)]) -> JwkSet {
    let keys = keys
        .iter()
        .map(|(key, kid)| {
            let mut jwk = KEYS[key.index()].jwk.clone();
            jwk.common.key_id = Some(kid.clone());
            jwk
        })
        .collect();
    JwkSet { keys }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::jwk::AlgorithmParameters;

    #[test]
    fn every_key_loads_with_distinct_modulus() {
        let moduli: Vec<String> = KEYS
            .iter()
            .map(|key| match &key.jwk.algorithm {
                AlgorithmParameters::RSA(rsa) => rsa.n.clone(),
                other => panic!("expected an RSA key, got {other:?}"),
            })
            .collect();
        assert_eq!(moduli.len(), 5);
        let distinct: std::collections::BTreeSet<&String> = moduli.iter().collect();
        assert_eq!(distinct.len(), 5, "every key is its own");
    }

    #[test]
    fn chosen_keys_are_published_under_chosen_kids() {
        let jwks = jwks_of(&[(SigningKey::Rotated, "sim-1".to_owned())]);
        assert_eq!(jwks.keys.len(), 1);
        let published = jwks.find("sim-1").expect("published under sim-1");
        assert_eq!(published.algorithm, KEYS[SigningKey::Rotated.index()].jwk.algorithm);
    }

    #[test]
    fn jwks_never_publishes_the_unknown_key() {
        for rotated in [false, true] {
            let jwks = published_jwks(rotated);
            assert!(jwks.find("sim-1").is_some());
            assert_eq!(jwks.find("sim-2").is_some(), rotated);
            assert!(jwks.find("sim-unknown").is_none());
            assert!(jwks.find("bib-1").is_none() && jwks.find("bib-grant-1").is_none());
        }
    }

    #[test]
    fn each_bib_jwks_publishes_only_its_own_key() {
        let ids: Vec<_> = bib_jwks().keys.iter().filter_map(|key| key.common.key_id.clone()).collect();
        assert_eq!(ids, ["bib-1"]);
        let grants: Vec<_> = grant_jwks().keys.iter().filter_map(|key| key.common.key_id.clone()).collect();
        assert_eq!(grants, ["bib-grant-1"]);
    }
}
