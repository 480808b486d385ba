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

use std::collections::HashMap;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::Client;
use serde::Deserialize;
use url::Url;

use super::http::get_json_with_headers;
use super::max_age::{Fetched, MaxAgeCache, MaxAgePolicy, Snapshot};
use crate::error::{Failure, IdTokenError};

/// One usable verification key.
#[derive(Clone)]
pub(crate) struct VerificationKey {
    /// The JWK's `alg`, if it names one: the token's `alg` must then match.
    pub(crate) alg: Option<Algorithm>,
    pub(crate) key: DecodingKey,
}

#[derive(Default)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, VerificationKey>,
    /// Keys published without a `kid`; usable only for tokens without one.
    anonymous: Vec<VerificationKey>,
}

/// How a [`KeyCache`] refreshes: max-age bounds and the cooldown of
/// refetches triggered by tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyCacheSettings {
    pub(crate) max_age: MaxAgePolicy,
    pub(crate) cooldown: Duration,
}

/// The signing keys of one provider (one instance per provider / JWKS URI).
///
/// A refetch runs under the cache's single-flight gate, an async mutex held
/// across the HTTP request, so a burst of tokens with a new `kid` makes one
/// request. Nobody waits on it indefinitely: the layer's client has
/// [`http_timeout`](crate::BankIdConfigBuilder::http_timeout) on every
/// request, and after a failed fetch the cooldown answers the waiters
/// without another one (tests/outages.rs,
/// `slow_key_refetch_times_out_once_for_all_waiters_and_frees_the_cache`).
/// Verification while the set is fresh takes no lock but a brief read lock.
pub(crate) struct KeyCache {
    client: Client,
    jwks_uri: Url,
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
    pub(crate) async fn load(client: Client, jwks_uri: Url, settings: KeyCacheSettings) -> Result<KeyCache, Failure> {
        let (keys, headers) = fetch(&client, &jwks_uri).await?;
        let keys = MaxAgeCache::new(settings.max_age, settings.cooldown, keys, &headers);
        Ok(KeyCache { client, jwks_uri, keys })
    }

    /// Finds the key for a token header in a key set within its max age,
    /// refreshing the JWKS (at most once per cooldown) when the `kid` is
    /// unknown.
    pub(crate) async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Result<FoundKey, IdTokenError> {
        let set = self.keys.get(|| self.fetch()).await.map_err(|_| IdTokenError::KeysUnavailable)?;
        if let Some(key) = lookup(set.value(), kid, alg) {
            return Ok(FoundKey { key, from: set });
        }
        tracing::info!(kid, "unknown key id; refreshing the provider's JWKS");
        let newer = self.keys.refetch(&set, || self.fetch()).await.map_err(|_| IdTokenError::KeysUnavailable)?;
        let Some(set) = newer else {
            tracing::debug!(kid, "unknown key id; JWKS refresh is cooling down");
            return Err(IdTokenError::UnknownKey);
        };
        let key = lookup(set.value(), kid, alg).ok_or(IdTokenError::UnknownKey)?;
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
        tracing::info!(kid, "signature failed with a known key; refreshing the provider's JWKS");
        let set = self.keys.refetch(&found.from, || self.fetch()).await.ok()??;
        lookup(set.value(), kid, alg)
    }

    async fn fetch(&self) -> Fetched<KeySet> {
        fetch(&self.client, &self.jwks_uri).await
    }

    /// A cache that holds no key and can never load one: the stand-in of a
    /// layer that started degraded, until the real keys are loaded. Its JWKS
    /// URI has a scheme the HTTP client refuses, so a lookup fails with
    /// `keys_unavailable` without any network call.
    pub(crate) fn unloaded(client: Client, settings: KeyCacheSettings) -> KeyCache {
        let keys = MaxAgeCache::new(settings.max_age, settings.cooldown, KeySet::default(), &Default::default());
        KeyCache { client, jwks_uri: Url::parse("about:blank").expect("a constant URL"), keys }
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
        let raw: RawJwkSet = serde_json::from_value(jwks).expect("a JWKS");
        let settings = KeyCacheSettings {
            max_age: MaxAgePolicy { floor: Duration::from_secs(3600), ceiling: Duration::from_secs(3600) },
            cooldown: Duration::from_secs(60),
        };
        let keys = MaxAgeCache::new(settings.max_age, settings.cooldown, parse_keys(raw.keys), &Default::default());
        KeyCache { client: Client::new(), jwks_uri: "http://127.0.0.1:9/jwks".parse().expect("a URL"), keys }
    }
}

fn lookup(keys: &KeySet, kid: Option<&str>, alg: Algorithm) -> Option<VerificationKey> {
    // The key's type must suit the algorithm too: an EC key cannot check RS256.
    let fits = |k: &&VerificationKey| k.alg.is_none_or(|a| a == alg) && k.key.family() == alg.family();
    match kid {
        Some(kid) => keys.by_kid.get(kid).filter(fits).cloned(),
        // Without a kid, use the key only if it is the single candidate.
        None => {
            let mut candidates = keys.anonymous.iter().chain(keys.by_kid.values()).filter(fits);
            let first = candidates.next()?;
            candidates.next().is_none().then(|| first.clone())
        }
    }
}

async fn fetch(client: &Client, jwks_uri: &Url) -> Fetched<KeySet> {
    let (raw, headers): (RawJwkSet, _) = get_json_with_headers(client, jwks_uri)
        .await
        .map_err(|e| Failure::caused_by(format!("JWKS {jwks_uri}: {e}"), e))?;
    Ok((parse_keys(raw.keys), headers))
}

/// Keeps the signature keys we can use. Keys of other types or uses
/// (encryption keys, symmetric keys) are skipped rather than failing the
/// whole set, as providers publish them side by side.
fn parse_keys(raw: Vec<serde_json::Value>) -> KeySet {
    let mut set = KeySet::default();
    for value in raw {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else { continue };
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            continue;
        }
        if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
            continue;
        }
        let alg = match jwk.common.key_algorithm {
            Some(ka) => match signing_algorithm(ka) {
                Some(alg) if super::metadata::is_asymmetric(alg) => Some(alg),
                _ => continue,
            },
            None => None,
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else { continue };
        let entry = VerificationKey { alg, key };
        match jwk.common.key_id {
            Some(kid) => {
                set.by_kid.insert(kid, entry);
            }
            None => set.anonymous.push(entry),
        }
    }
    set
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

    #[test]
    fn skips_unusable_keys() {
        let set = parse_keys(vec![
            rsa(Some("sig"), Some("RS256"), Some("sig")),
            rsa(Some("enc"), Some("RSA-OAEP"), Some("enc")),
            serde_json::json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}),
            serde_json::json!({"kty": "weird", "kid": "x"}),
            rsa(Some("hs"), Some("HS256"), None),
        ]);
        assert_eq!(set.by_kid.keys().collect::<Vec<_>>(), ["sig"]);
    }

    #[test]
    fn lookup_respects_key_algorithm() {
        let set = parse_keys(vec![rsa(Some("k1"), Some("RS256"), None)]);
        assert!(lookup(&set, Some("k1"), Algorithm::RS256).is_some());
        assert!(lookup(&set, Some("k1"), Algorithm::PS256).is_none());
        assert!(lookup(&set, Some("k2"), Algorithm::RS256).is_none());
    }

    #[test]
    fn token_without_kid_needs_a_single_candidate() {
        let one = parse_keys(vec![rsa(Some("k1"), Some("RS256"), None)]);
        assert!(lookup(&one, None, Algorithm::RS256).is_some());
        let two = parse_keys(vec![rsa(Some("k1"), None, None), rsa(Some("k2"), None, None)]);
        assert!(lookup(&two, None, Algorithm::RS256).is_none());
    }
}
