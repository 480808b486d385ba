//! The provider's signing keys, cached.
//!
//! Keys are parsed into `DecodingKey`s once, when the JWKS is fetched, so
//! verifying an ID token costs a map lookup plus one signature check. A token
//! naming an unknown `kid` usually means the provider rotated its keys, so the
//! cache refreshes — but only one refresh runs at a time (concurrent callers
//! wait for it and reuse its result) and at most once per cooldown, so a flood
//! of forged tokens with random key ids cannot hammer the provider.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::Client;
use serde::Deserialize;
use url::Url;

use super::http::get_json;
use crate::error::IdTokenError;

/// One usable verification key.
#[derive(Clone)]
pub(crate) struct VerificationKey {
    /// The JWK's `alg`, if it names one: the token's `alg` must then match.
    pub(crate) alg: Option<Algorithm>,
    pub(crate) key: DecodingKey,
}

#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, VerificationKey>,
    /// Keys published without a `kid`; usable only for tokens without one.
    anonymous: Vec<VerificationKey>,
}

pub(crate) struct KeyCache {
    client: Client,
    jwks_uri: Url,
    cooldown: Duration,
    keys: RwLock<Arc<KeySet>>,
    /// Serialises refreshes; holds the time of the last one.
    refresh: tokio::sync::Mutex<Option<Instant>>,
}

#[derive(Deserialize)]
struct RawJwkSet {
    keys: Vec<serde_json::Value>,
}

impl KeyCache {
    /// Fetches the JWKS once; start-up fails if it cannot be loaded.
    pub(crate) async fn load(client: Client, jwks_uri: Url, cooldown: Duration) -> Result<KeyCache, String> {
        let keys = fetch(&client, &jwks_uri).await?;
        Ok(KeyCache {
            client,
            jwks_uri,
            cooldown,
            keys: RwLock::new(Arc::new(keys)),
            // The start-up fetch does not count: a rotation right after start must still be picked up.
            refresh: tokio::sync::Mutex::new(None),
        })
    }

    /// Finds the key for a token header, refreshing the JWKS at most once per
    /// cooldown when the `kid` is unknown.
    pub(crate) async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Result<VerificationKey, IdTokenError> {
        let before = self.snapshot();
        if let Some(key) = lookup(&before, kid, alg) {
            return Ok(key);
        }
        let mut last_refresh = self.refresh.lock().await;
        // Another task may have refreshed while we waited for the lock.
        let current = self.snapshot();
        if !Arc::ptr_eq(&before, &current) {
            return lookup(&current, kid, alg).ok_or(IdTokenError::UnknownKey);
        }
        if last_refresh.is_some_and(|at| at.elapsed() < self.cooldown) {
            tracing::debug!(kid, "unknown key id; JWKS refresh is cooling down");
            return Err(IdTokenError::UnknownKey);
        }
        *last_refresh = Some(Instant::now());
        tracing::info!(kid, "unknown key id; refreshing the provider's JWKS");
        let fresh = match fetch(&self.client, &self.jwks_uri).await {
            Ok(keys) => Arc::new(keys),
            Err(err) => {
                tracing::warn!(error = %err, "JWKS refresh failed");
                return Err(IdTokenError::KeysUnavailable);
            }
        };
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::clone(&fresh);
        lookup(&fresh, kid, alg).ok_or(IdTokenError::UnknownKey)
    }

    fn snapshot(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(|p| p.into_inner()))
    }
}

fn lookup(keys: &KeySet, kid: Option<&str>, alg: Algorithm) -> Option<VerificationKey> {
    let fits = |k: &&VerificationKey| k.alg.is_none_or(|a| a == alg);
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

async fn fetch(client: &Client, jwks_uri: &Url) -> Result<KeySet, String> {
    let raw: RawJwkSet = get_json(client, jwks_uri).await.map_err(|e| format!("JWKS {jwks_uri}: {e}"))?;
    Ok(parse_keys(raw.keys))
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
