//! [`Health`]: what [`BankIdLayer::health`](crate::BankIdLayer::health)
//! reports about the providers, for readiness and liveness probes.
//!
//! Why a report and not a probe: the layer already knows whether discovery
//! finished and how old each key set is, so a health route answers without
//! calling the provider (a probe that fetched from BankID on every hit would
//! add load and turn a provider hiccup into a restart loop). Nothing in it is
//! secret: issuers, booleans and ages.

use std::time::Duration;

use serde::Serialize;

use crate::provider::jwks::KeyCache;
use crate::relying_party::RelyingParty;

/// The state of the layer's providers. Serialises to JSON, e.g.
///
/// ```json
/// {"ready": true,
///  "oidc": {"issuer": "https://auth.bankid.no/...", "metadata_loaded": true,
///           "keys": {"loaded": true, "fresh": true, "age_secs": 12, "max_age_secs": 3600}},
///  "bib": {"issuer": "https://bib.bankid.no/...", "metadata_loaded": true,
///          "keys": {...}, "grant_keys": {...}}}
/// ```
///
/// `ready` is what a readiness probe wants: `false` only while a layer that
/// [started degraded](crate::BankIdConfigBuilder::start_degraded) waits for
/// a provider (its login routes answer `503` meanwhile). Stale keys do not
/// make a layer unready: the next token to verify refetches them, and only
/// if that fails too does the token fail (`keys_unavailable`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Health {
    /// Every configured provider's metadata and keys are loaded.
    pub ready: bool,
    /// BankID OIDC (the code flow).
    pub oidc: ProviderHealth,
    /// BIB (CIBA, the Permission API), when a BIB issuer is configured.
    pub bib: Option<ProviderHealth>,
}

/// One provider's part of [`Health`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProviderHealth {
    /// The issuer: as its discovery document names it once loaded (equal
    /// to the configured one), the configured URL before.
    pub issuer: String,
    /// Discovery succeeded (metadata is loaded once, at start-up).
    pub metadata_loaded: bool,
    /// The key set that signs ID tokens.
    pub keys: KeysHealth,
    /// BIB only: the key set that signs permission grants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_keys: Option<KeysHealth>,
}

/// One key set (JWKS) in [`ProviderHealth`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct KeysHealth {
    /// The key set was fetched at least once.
    pub loaded: bool,
    /// It is within its max age (`age_secs < max_age_secs`). A stale set is
    /// refetched when the next token needs it; a set stays stale while the
    /// provider's JWKS endpoint is down or while no token needed it.
    pub fresh: bool,
    /// Seconds since the set was fetched; `None` until loaded.
    pub age_secs: Option<u64>,
    /// How long the set may be used, in seconds: the provider's
    /// `Cache-Control: max-age` within the configured
    /// [floor](crate::BankIdConfigBuilder::jwks_max_age_floor) and
    /// [ceiling](crate::BankIdConfigBuilder::jwks_max_age_ceiling); `None`
    /// until loaded.
    pub max_age_secs: Option<u64>,
}

impl KeysHealth {
    const UNLOADED: KeysHealth = KeysHealth { loaded: false, fresh: false, age_secs: None, max_age_secs: None };

    fn of(keys: &KeyCache) -> KeysHealth {
        let (age, max_age): (Duration, Duration) = keys.age();
        KeysHealth {
            loaded: true,
            fresh: age < max_age,
            age_secs: Some(age.as_secs()),
            max_age_secs: Some(max_age.as_secs()),
        }
    }
}

/// The report for one layer's core state.
pub(crate) fn of(core: &RelyingParty) -> Health {
    let config = &core.config;
    let oidc = ProviderHealth {
        issuer: core.oidc().metadata.issuer.clone(),
        metadata_loaded: core.metadata_loaded(),
        keys: if core.verifier.is_loaded() { KeysHealth::of(&core.verifier.jws.keys) } else { KeysHealth::UNLOADED },
        grant_keys: None,
    };
    let bib = config.bib_issuer.as_ref().map(|issuer| match core.loaded_bib() {
        Some(bib) => ProviderHealth {
            issuer: bib.metadata().issuer.clone(),
            metadata_loaded: true,
            keys: KeysHealth::of(&bib.id_tokens.jws.keys),
            grant_keys: Some(KeysHealth::of(&bib.grants.keys)),
        },
        None => ProviderHealth {
            issuer: issuer.to_string(),
            metadata_loaded: false,
            keys: KeysHealth::UNLOADED,
            grant_keys: Some(KeysHealth::UNLOADED),
        },
    });
    Health { ready: core.is_ready(), oidc, bib }
}
