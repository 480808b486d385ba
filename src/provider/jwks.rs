//! The provider's signing keys, cached.
//!
//! Keys are parsed into `DecodingKey`s once, when the JWKS is fetched, so
//! verifying an ID token costs a map lookup plus one signature check.
//!
//! The key set is trusted for its max age only (the JWKS response's
//! `Cache-Control: max-age`, clamped by
//! [`jwks_max_age_floor`](crate::BankIdConfigBuilder::jwks_max_age_floor) and
//! [`jwks_max_age_ceiling`](crate::BankIdConfigBuilder::jwks_max_age_ceiling)),
//! so a key the provider removed stops verifying within that time. Past it,
//! the next token waits for one refetch (shared by every concurrent caller);
//! if that fails, tokens are refused with `keys_unavailable` — the last good
//! set is kept but not trusted — until the provider answers again (retried at
//! most once per cooldown). See [`super::max_age`].
//!
//! Two more events refetch the set before its age is up, at most once per
//! [`jwks_refresh_cooldown`](crate::BankIdConfigBuilder::jwks_refresh_cooldown)
//! together, so a flood of forged tokens cannot hammer the provider: a token
//! naming an unknown `kid` (the provider rotated its keys) and a signature
//! that fails with a known `kid` (the provider re-keyed under the same `kid`).
//!
//! Keys are chosen by `kid` **and** algorithm (BankID: "find key using a
//! combination of claims kid, alg and use"), so one `kid` may carry an RS256
//! and an ES256 key side by side. Only signature keys are kept: `use: enc`
//! keys, keys whose `key_ops` do not allow `verify`, symmetric keys and
//! encryption algorithms never verify anything.
//!
//! When root certificates are configured, each key's `x5c` chain is checked
//! here, as the set is loaded ([`crate::key_chain`]): a key that fails is
//! left out, logged once per load at `warn`, and a token naming it is
//! refused with [`KeyLookupError::UntrustedKey`] and the reason. Verifying a
//! token never touches a certificate.
//!
//! A failed lookup is a [`KeyLookupError`], which the JWS verifier passes on
//! inside its own error: this module knows keys, not tokens.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use reqwest::Client;
use serde::Deserialize;
use url::Url;

use super::error::Cause;
use super::http::get_json_with_headers;
use super::max_age::{Fetched, MaxAgeCache, MaxAgePolicy, Snapshot};
use crate::clock::unix_now;
use crate::key_chain::{ChainFailure, KeyChainError, TrustedRoots};
use crate::log_value::{untrusted, untrusted_text};

/// Why the key set holds no key that may verify a token. The codes of
/// [`kind`](Self::kind) are those every token family reports for it
/// (`unknown_key`, `keys_unavailable`, the chain check's reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyLookupError {
    /// No usable key has the token's `kid` and algorithm, even after a
    /// refresh (or a refresh is cooling down).
    UnknownKey,
    /// The provider's keys could not be fetched, or are past their max age
    /// and could not be fetched again: nothing is verified with them.
    KeysUnavailable,
    /// The key the token names was left out of the set because its
    /// certificate chain failed the check against the configured roots.
    UntrustedKey(KeyChainError),
}

impl KeyLookupError {
    /// A stable code, logged and carried on by the token's own error.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            KeyLookupError::UnknownKey => "unknown_key",
            KeyLookupError::KeysUnavailable => "keys_unavailable",
            KeyLookupError::UntrustedKey(reason) => reason.kind(),
        }
    }
}

/// One usable verification key.
#[derive(Clone)]
pub(crate) struct VerificationKey {
    /// The JWK's `alg`, if it names one: the token's `alg` must then match.
    pub(crate) alg: Option<Algorithm>,
    pub(crate) key: DecodingKey,
}

#[derive(Default)]
pub(crate) struct KeySet {
    /// Every usable key under a `kid`: one `kid` may name keys of several
    /// algorithms.
    by_kid: HashMap<String, Vec<VerificationKey>>,
    /// Keys published without a `kid`; usable only for tokens without one.
    anonymous: Vec<VerificationKey>,
    /// Signature keys left out because their certificate chain failed, so
    /// that a token naming one gets the reason rather than `unknown_key`.
    refused: Vec<RefusedKey>,
}

/// A signature key the chain check refused.
struct RefusedKey {
    kid: Option<String>,
    alg: Option<Algorithm>,
    family: AlgorithmFamily,
    reason: KeyChainError,
}

/// Which signing keys are trusted beyond the TLS connection that fetched
/// them (see [`crate::key_chain`]).
#[derive(Debug, Clone)]
pub(crate) enum KeyTrust {
    /// No certificate check: the keys are trusted because they came over
    /// TLS from the discovered `jwks_uri`.
    TlsOnly,
    /// Every key must carry an `x5c` chain to one of these roots (BankID
    /// OIDC).
    Chain { roots: TrustedRoots, skew: Duration },
    /// A key that carries `x5c` must chain to these roots; a key without one
    /// is trusted by TLS alone (BIB, which BankID documents no chain for).
    ChainWhenPresent { roots: TrustedRoots, skew: Duration },
}

/// How a [`KeyCache`] refreshes (max-age bounds and the cooldown of
/// refetches triggered by tokens) and which keys it trusts.
#[derive(Debug, Clone)]
pub(crate) struct KeyCacheSettings {
    pub(crate) max_age: MaxAgePolicy,
    pub(crate) cooldown: Duration,
    pub(crate) trust: KeyTrust,
}

/// The signing keys of one provider (one instance per provider / JWKS URI).
///
/// A refetch runs under the cache's single-flight gate, an async mutex held
/// across the HTTP request, so a burst of tokens with a new `kid` makes one
/// request. Nobody waits on it indefinitely: the layer's client has
/// [`http_timeout`](crate::BankIdConfigBuilder::http_timeout) on every
/// request, and after a failed fetch the cooldown answers the waiters
/// without another one (tests/it/outages.rs,
/// `slow_key_refetch_times_out_once_for_all_waiters_and_frees_the_cache`).
/// Verification while the set is fresh takes no lock but a brief read lock.
pub(crate) struct KeyCache {
    client: Client,
    /// Where the keys are fetched: the `jwks_uri` of the provider's latest
    /// accepted discovery document ([`KeyCache::follow`]).
    jwks_uri: RwLock<Url>,
    trust: KeyTrust,
    keys: MaxAgeCache<KeySet>,
}

/// A key found for a token, with the key set it came from (so that a
/// signature failure can ask for a newer set).
pub(crate) struct FoundKey {
    pub(crate) key: VerificationKey,
    from: Snapshot<KeySet>,
}

#[derive(Deserialize)]
struct RawJwkSet {
    keys: Vec<serde_json::Value>,
}

impl KeyCache {
    /// Fetches the JWKS once; start-up fails if it cannot be loaded.
    pub(crate) async fn load(client: Client, jwks_uri: Url, settings: KeyCacheSettings) -> Result<KeyCache, Cause> {
        let (keys, headers) = fetch(&client, &jwks_uri, &settings.trust).await?;
        let keys = MaxAgeCache::new(settings.max_age, settings.cooldown, keys, &headers);
        Ok(KeyCache { client, jwks_uri: RwLock::new(jwks_uri), trust: settings.trust, keys })
    }

    /// Finds the key for a token header in a key set within its max age,
    /// refreshing the JWKS (at most once per cooldown) when no usable key
    /// has the `kid` and algorithm. A key left out by the chain check
    /// answers with its reason ([`KeyLookupError::UntrustedKey`]).
    pub(crate) async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Result<FoundKey, KeyLookupError> {
        let set = self.keys.get(|| self.fetch()).await.map_err(|_| KeyLookupError::KeysUnavailable)?;
        let missing = match lookup(set.value(), kid, alg) {
            Ok(key) => return Ok(FoundKey { key, from: set }),
            Err(missing) => missing,
        };
        let logged_kid = untrusted(kid.unwrap_or("(none)"));
        tracing::info!(kid = %logged_kid, reason = missing.kind(), "no usable key for the token; refreshing the provider's JWKS");
        let newer = self.keys.refetch(&set, || self.fetch()).await.map_err(|_| KeyLookupError::KeysUnavailable)?;
        let Some(set) = newer else {
            tracing::debug!(kid = %logged_kid, "no usable key for the token; JWKS refresh is cooling down");
            return Err(missing);
        };
        let key = lookup(set.value(), kid, alg)?;
        Ok(FoundKey { key, from: set })
    }

    /// After `found` failed to verify a signature: the key now published
    /// under the same `kid`, from a refetch (at most once per cooldown, like
    /// the unknown-`kid` path). `None` if there is none or no refetch may run.
    pub(crate) async fn replacement_for(
        &self,
        found: &FoundKey,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Option<VerificationKey> {
        let logged_kid = untrusted(kid.unwrap_or("(none)"));
        tracing::info!(kid = %logged_kid, "signature failed with a known key; refreshing the provider's JWKS");
        let set = self.keys.refetch(&found.from, || self.fetch()).await.ok()??;
        lookup(set.value(), kid, alg).ok()
    }

    async fn fetch(&self) -> Fetched<KeySet> {
        let jwks_uri = self.jwks_uri.read().unwrap_or_else(|p| p.into_inner()).clone();
        fetch(&self.client, &jwks_uri, &self.trust).await
    }

    /// Fetches the keys from `jwks_uri` from now on: a refreshed discovery
    /// document moved them. The keys held stay in use for their max age
    /// (a provider keeps publishing a key while tokens signed with it
    /// live); a token naming a key they lack refetches from the new URI.
    pub(crate) fn follow(&self, jwks_uri: &Url) {
        let mut held = self.jwks_uri.write().unwrap_or_else(|p| p.into_inner());
        if *held != *jwks_uri {
            tracing::info!(from = %untrusted(held.as_str()), to = %untrusted(jwks_uri.as_str()), "the provider's discovery moved its JWKS");
            *held = jwks_uri.clone();
        }
    }

    /// A cache that holds no key and can never load one: the stand-in of a
    /// layer that started degraded, until the real keys are loaded. Its JWKS
    /// URI has a scheme the HTTP client refuses, so a lookup fails with
    /// `keys_unavailable` without any network call.
    pub(crate) fn unloaded(client: Client, settings: KeyCacheSettings) -> KeyCache {
        let keys = MaxAgeCache::new(settings.max_age, settings.cooldown, KeySet::default(), &Default::default());
        let jwks_uri = RwLock::new(Url::parse("about:blank").expect("a constant URL"));
        KeyCache { client, jwks_uri, trust: settings.trust, keys }
    }

    /// How old the held key set is and how long it may be used (no network).
    pub(crate) fn age(&self) -> (Duration, Duration) {
        self.keys.age()
    }
}

#[cfg(test)]
impl KeyCache {
    /// A cache holding `jwks`, trusted for an hour; its JWKS URI is a port
    /// nothing listens on, so a refetch fails.
    pub(crate) fn from_jwks(jwks: serde_json::Value) -> KeyCache {
        KeyCache::from_jwks_trusting(jwks, KeyTrust::TlsOnly)
    }

    /// Like [`from_jwks`](Self::from_jwks), with the chain check of `trust`.
    pub(crate) fn from_jwks_trusting(jwks: serde_json::Value, trust: KeyTrust) -> KeyCache {
        let raw: RawJwkSet = serde_json::from_value(jwks).expect("a JWKS");
        let settings = KeyCacheSettings {
            max_age: MaxAgePolicy { floor: Duration::from_secs(3600), ceiling: Duration::from_secs(3600) },
            cooldown: Duration::from_secs(60),
            trust,
        };
        let keys = parse_keys(raw.keys, &settings.trust, unix_now());
        let keys = MaxAgeCache::new(settings.max_age, settings.cooldown, keys, &Default::default());
        let jwks_uri = RwLock::new("http://127.0.0.1:9/jwks".parse().expect("a URL"));
        KeyCache { client: Client::new(), jwks_uri, trust: settings.trust, keys }
    }
}

/// The usable key for `kid` and `alg`; else why there is none: the chain
/// check's reason for a refused key that would have fitted, or
/// `unknown_key`.
fn lookup(keys: &KeySet, kid: Option<&str>, alg: Algorithm) -> Result<VerificationKey, KeyLookupError> {
    // The key's type must suit the algorithm too: an EC key cannot check RS256.
    let fits = |k: &&VerificationKey| k.alg.is_none_or(|a| a == alg) && k.key.family() == alg.family();
    let found = match kid {
        Some(kid) => keys.by_kid.get(kid).and_then(|list| list.iter().find(fits)).cloned(),
        // Without a kid, use the key only if it is the single candidate.
        None => {
            let mut candidates = keys.anonymous.iter().chain(keys.by_kid.values().flatten()).filter(fits);
            candidates.next().filter(|_| candidates.next().is_none()).cloned()
        }
    };
    found.ok_or_else(|| match refusal(keys, kid, alg) {
        Some(reason) => KeyLookupError::UntrustedKey(reason),
        None => KeyLookupError::UnknownKey,
    })
}

/// Why a key the token could have named was left out, if one was.
fn refusal(keys: &KeySet, kid: Option<&str>, alg: Algorithm) -> Option<KeyChainError> {
    let fits = |k: &&RefusedKey| k.kid.as_deref() == kid && k.alg.is_none_or(|a| a == alg) && k.family == alg.family();
    keys.refused.iter().find(fits).map(|k| k.reason)
}

async fn fetch(client: &Client, jwks_uri: &Url, trust: &KeyTrust) -> Fetched<KeySet> {
    let (raw, headers): (RawJwkSet, _) =
        crate::metrics::timed(crate::metrics::Endpoint::Jwks, get_json_with_headers(client, jwks_uri))
            .await
            .map_err(|e| Cause::caused_by(format!("JWKS {}: {e}", untrusted_text(jwks_uri.as_str())), e))?;
    Ok((parse_keys(raw.keys, trust, unix_now()), headers))
}

/// Keeps the signature keys we can use and trust at `now` (Unix seconds).
/// Keys of other types or uses (encryption keys, symmetric keys) are
/// skipped rather than failing the whole set, as providers publish them
/// side by side; keys that fail the chain check are kept aside with their
/// reason.
fn parse_keys(raw: Vec<serde_json::Value>, trust: &KeyTrust, now: i64) -> KeySet {
    let mut set = KeySet::default();
    for value in raw {
        let Some((jwk, alg, key)) = signature_key(value) else { continue };
        let kid = jwk.common.key_id.clone();
        if let Err(failure) = check_chain(&jwk, trust, now) {
            log_refused(kid.as_deref(), &failure);
            set.refused.push(RefusedKey { kid, alg, family: key.family(), reason: failure.reason });
            continue;
        }
        let entry = VerificationKey { alg, key };
        match kid {
            Some(kid) => set.by_kid.entry(kid).or_default().push(entry),
            None => set.anonymous.push(entry),
        }
    }
    set
}

/// A JWK that can verify signatures: its algorithm (if it names one) and
/// its key. `None` for encryption keys (`use: enc`, `key_ops` without
/// `verify`, an encryption `alg`), symmetric keys and keys we cannot parse.
fn signature_key(value: serde_json::Value) -> Option<(Jwk, Option<Algorithm>, DecodingKey)> {
    let jwk = serde_json::from_value::<Jwk>(value).ok()?;
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    if matches!(jwk.common.key_operations, Some(ref ops) if !ops.contains(&KeyOperations::Verify)) {
        return None;
    }
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        Some(ka) => Some(signing_algorithm(ka).filter(|alg| super::metadata::is_asymmetric(*alg))?),
        None => None,
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some((jwk, alg, key))
}

/// The chain check `trust` asks for (none, always, or when `x5c` is there).
fn check_chain(jwk: &Jwk, trust: &KeyTrust, now: i64) -> Result<(), ChainFailure> {
    let now = u64::try_from(now).unwrap_or_default();
    match trust {
        KeyTrust::TlsOnly => Ok(()),
        KeyTrust::Chain { roots, skew } => roots.check(jwk, now, *skew),
        KeyTrust::ChainWhenPresent { .. } if jwk.common.x509_chain.is_none() => Ok(()),
        KeyTrust::ChainWhenPresent { roots, skew } => roots.check(jwk, now, *skew),
    }
}

/// One `warn` per refused key and load: the provider's `kid` made safe to
/// log and the verifier's detail (control characters dropped, bounded).
fn log_refused(kid: Option<&str>, failure: &ChainFailure) {
    tracing::warn!(
        kid = %untrusted(kid.unwrap_or("(none)")),
        reason = failure.reason.kind(),
        detail = %untrusted_text(&failure.detail),
        "a signing key from the provider's JWKS failed the certificate chain check; it is not used"
    );
}

/// Maps a JWK `alg` to a signature algorithm (`None` for encryption
/// algorithms such as `RSA-OAEP`), going through the registered name.
fn signing_algorithm(alg: jsonwebtoken::jwk::KeyAlgorithm) -> Option<Algorithm> {
    let name = serde_json::to_value(alg).ok()?;
    name.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_N: &str = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";

    fn rsa(kid: Option<&str>, alg: Option<&str>, use_: Option<&str>) -> serde_json::Value {
        let mut v = serde_json::json!({"kty": "RSA", "n": RSA_N, "e": "AQAB"});
        if let Some(kid) = kid {
            v["kid"] = kid.into();
        }
        if let Some(alg) = alg {
            v["alg"] = alg.into();
        }
        if let Some(u) = use_ {
            v["use"] = u.into();
        }
        v
    }

    fn parse(raw: Vec<serde_json::Value>) -> KeySet {
        parse_keys(raw, &KeyTrust::TlsOnly, unix_now())
    }

    #[test]
    fn skips_unusable_keys() {
        let mut no_verify = rsa(Some("ops"), Some("RS256"), None);
        no_verify["key_ops"] = serde_json::json!(["encrypt", "wrapKey"]);
        let mut verify = rsa(Some("ops-ok"), Some("RS256"), None);
        verify["key_ops"] = serde_json::json!(["verify"]);
        let set = parse(vec![
            rsa(Some("sig"), Some("RS256"), Some("sig")),
            rsa(Some("enc"), Some("RSA-OAEP"), Some("enc")),
            rsa(Some("enc-rs256"), Some("RS256"), Some("enc")),
            no_verify,
            verify,
            serde_json::json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}),
            serde_json::json!({"kty": "weird", "kid": "x"}),
            rsa(Some("hs"), Some("HS256"), None),
        ]);
        let mut kids: Vec<_> = set.by_kid.keys().collect();
        kids.sort();
        assert_eq!(kids, ["ops-ok", "sig"]);
    }

    #[test]
    fn a_key_for_encryption_never_verifies_even_under_a_signing_kid() {
        // `use: enc` under the token's kid and algorithm: still unknown.
        let set = parse(vec![rsa(Some("k1"), Some("RS256"), Some("enc"))]);
        assert_eq!(lookup(&set, Some("k1"), Algorithm::RS256).err(), Some(KeyLookupError::UnknownKey));
    }

    #[test]
    fn lookup_respects_key_algorithm() {
        let set = parse(vec![rsa(Some("k1"), Some("RS256"), None)]);
        assert!(lookup(&set, Some("k1"), Algorithm::RS256).is_ok());
        assert_eq!(lookup(&set, Some("k1"), Algorithm::PS256).err(), Some(KeyLookupError::UnknownKey));
        assert_eq!(lookup(&set, Some("k2"), Algorithm::RS256).err(), Some(KeyLookupError::UnknownKey));
    }

    #[test]
    fn one_kid_may_name_keys_of_several_algorithms_in_any_order() {
        let pki_root = crate::provider::test_pki::Authority::root("r");
        let ec = crate::provider::test_pki::ec_jwk(&pki_root.key, "k1");
        for order in [[ec.clone(), rsa(Some("k1"), Some("RS256"), None)], [rsa(Some("k1"), Some("RS256"), None), ec]] {
            let set = parse(order.to_vec());
            let es = lookup(&set, Some("k1"), Algorithm::ES256).expect("the ES256 key");
            assert_eq!(es.alg, Some(Algorithm::ES256));
            let rs = lookup(&set, Some("k1"), Algorithm::RS256).expect("the RS256 key");
            assert_eq!(rs.alg, Some(Algorithm::RS256));
            assert_eq!(lookup(&set, Some("k1"), Algorithm::PS256).err(), Some(KeyLookupError::UnknownKey));
        }
    }

    #[test]
    fn token_without_kid_needs_a_single_candidate() {
        let one = parse(vec![rsa(Some("k1"), Some("RS256"), None)]);
        assert!(lookup(&one, None, Algorithm::RS256).is_ok());
        let two = parse(vec![rsa(Some("k1"), None, None), rsa(Some("k2"), None, None)]);
        assert_eq!(lookup(&two, None, Algorithm::RS256).err(), Some(KeyLookupError::UnknownKey));
    }

    mod chains {
        use super::*;
        use crate::provider::test_pki::{Authority, Validity, ec_jwk};

        fn trust(root: &Authority) -> KeyTrust {
            let roots = TrustedRoots::from_pem(root.pem().as_bytes(), unix_now() as u64).unwrap();
            KeyTrust::Chain { roots, skew: Duration::from_secs(60) }
        }

        #[test]
        fn a_refused_key_is_left_out_and_answers_with_its_reason() {
            let root = Authority::root("root");
            let ca = root.rsa_intermediate("utility CA");
            let good = ca.leaf(Validity::current());
            let expired = ca.leaf(Validity::expired_since(86_400));
            let jwks = vec![good.jwk("good", &[&ca]), expired.jwk("old", &[&ca]), ec_jwk(&good.key, "bare")];
            let set = parse_keys(jwks, &trust(&root), unix_now());
            assert!(lookup(&set, Some("good"), Algorithm::ES256).is_ok());
            assert_eq!(
                lookup(&set, Some("old"), Algorithm::ES256).err(),
                Some(KeyLookupError::UntrustedKey(KeyChainError::KeyCertificateExpired))
            );
            assert_eq!(
                lookup(&set, Some("bare"), Algorithm::ES256).err(),
                Some(KeyLookupError::UntrustedKey(KeyChainError::MissingKeyChain))
            );
            // Another algorithm under the refused kid is not that key.
            assert_eq!(lookup(&set, Some("old"), Algorithm::RS256).err(), Some(KeyLookupError::UnknownKey));
            assert!(!set.by_kid.contains_key("old") && !set.by_kid.contains_key("bare"));
        }

        #[test]
        fn without_roots_keys_are_trusted_by_tls_alone() {
            let root = Authority::root("root");
            let set = parse(vec![ec_jwk(&root.key, "bare")]);
            assert!(lookup(&set, Some("bare"), Algorithm::ES256).is_ok());
        }

        #[test]
        fn bib_keys_are_checked_only_when_they_carry_a_chain() {
            let root = Authority::root("root");
            let other = Authority::root("other");
            let KeyTrust::Chain { roots, skew } = trust(&root) else { unreachable!() };
            let bib = KeyTrust::ChainWhenPresent { roots, skew };
            let chained = root.leaf(Validity::current());
            let foreign = other.leaf(Validity::current());
            let jwks = vec![ec_jwk(&root.key, "bare"), chained.jwk("chained", &[]), foreign.jwk("foreign", &[])];
            let set = parse_keys(jwks, &bib, unix_now());
            assert!(lookup(&set, Some("bare"), Algorithm::ES256).is_ok());
            assert!(lookup(&set, Some("chained"), Algorithm::ES256).is_ok());
            assert_eq!(
                lookup(&set, Some("foreign"), Algorithm::ES256).err(),
                Some(KeyLookupError::UntrustedKey(KeyChainError::UntrustedKeyChain))
            );
        }
    }
}
