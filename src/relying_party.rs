//! [`RelyingParty`]: the configuration with everything discovery
//! loads from the two providers (metadata, keys and verifiers for BankID OIDC
//! and BIB), the HTTP client, and the client-credentials token cache.
//!
//! Login logic, the Permission API and CIBA are built on a [`RelyingParty`]; the
//! per-layer state (`state::LayerState`) adds what one layer mounts on top (error
//! page, CIBA store, callbacks). Nothing here knows about routes or
//! sessions, so this module depends only on leaves (config, provider, error,
//! id_token) and the modules above it depend on it, never the reverse.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::config::BankIdConfig;
use crate::error::{Cause, EndpointError, Error, StartupError};
use crate::id_token::IdTokenVerifier;
use crate::jws::JwsVerifier;
use crate::log_value::RefusalSummary;
use crate::provider::authorize_url::AuthorizeRequest;
use crate::provider::bib::BibMetadata;
use crate::provider::client_token::{ClientTokens, TokenSource};
use crate::provider::discovered::{Discovered, FetchDoc, NamesSigningAlgs, RefreshSettings};
use crate::provider::jwks::{KeyCache, KeyCacheSettings, KeyTrust};
use crate::provider::max_age::MaxAgePolicy;
use crate::provider::signing_algs::SigningAlgs;
use crate::provider::token::ClientCredentials;
use crate::provider::{ProviderMetadata, bib, http, metadata};

/// Everything that is fixed once the providers are loaded. A layer that
/// [started degraded](crate::BankIdConfigBuilder::start_degraded) shares one
/// `RelyingParty` from the start, so the single-use grant records, the token cache
/// and every `Ciba`/`PermissionApi` handed out stay the same when the
/// provider arrives; only the provider parts fill in.
pub(crate) struct RelyingParty {
    pub(crate) config: BankIdConfig,
    /// The key naming the crate's records ([`BankIdConfig::record_key`]),
    /// hashed once here: requests read records named with it (logout
    /// markers, activity), and the per-request path does no cryptography.
    pub(crate) record_key: [u8; 32],
    /// BankID OIDC (the code flow and client-credentials tokens) as its
    /// discovery document describes it, kept current
    /// ([`Discovered`]); read it with [`RelyingParty::oidc`] or
    /// [`RelyingParty::fresh_oidc`].
    discovery: Deferred<Arc<Discovered<Oidc>>>,
    pub(crate) http: reqwest::Client,
    /// Verifies BankID OIDC's ID tokens (code flow).
    pub(crate) verifier: Deferred<IdTokenVerifier>,
    /// BIB: `Some(None)` when no BIB issuer is configured, unset until loaded.
    bib: OnceLock<Option<Bib>>,
    pub(crate) client_tokens: ClientTokens,
    /// Login states and grants spent in this process (the shared store's
    /// create-once records guard the other instances).
    pub(crate) spent_ids: crate::expiry_queue::SpentIds,
    /// When every provider part was in place; unset while degraded.
    loaded_at: OnceLock<Instant>,
    /// `config` with PAR required, handed out while degraded: PAR needs an
    /// endpoint the stand-in metadata lacks, so a login started from a
    /// handler fails closed instead of redirecting to a stand-in URL.
    degraded_config: BankIdConfig,
    /// Seconds until the background loader's next attempt (`Retry-After`).
    retry_after_secs: AtomicU64,
    /// Refusals on the back-channel logout route, which anyone can call:
    /// each is logged at `debug`, a summary at most once a minute at `warn`.
    pub(crate) backchannel_refusals: RefusalSummary,
}

impl RelyingParty {
    /// Whether the providers are loaded (always, unless started degraded).
    pub(crate) fn is_ready(&self) -> bool {
        self.loaded_at.get().is_some()
    }

    /// BIB's parts once loaded (never without a BIB issuer).
    pub(crate) fn loaded_bib(&self) -> Option<&Bib> {
        self.bib.get().and_then(Option::as_ref)
    }

    /// BankID OIDC's last accepted metadata, without touching the network:
    /// for requests that only read (a session, a route decision).
    pub(crate) fn oidc(&self) -> Arc<Oidc> {
        self.discovery.now()
    }

    /// BankID OIDC's metadata within its max age, refetched first when
    /// older (the last accepted one if that fails): for the flows that talk
    /// to the provider anyway.
    pub(crate) async fn fresh_oidc(&self) -> Arc<Oidc> {
        self.discovery.fresh().await
    }

    /// Whether BankID OIDC's metadata came from the provider (not the
    /// degraded start's stand-in).
    pub(crate) fn metadata_loaded(&self) -> bool {
        self.discovery.is_loaded()
    }
}

/// BankID OIDC as one accepted discovery document describes it, with the
/// authorization request's fixed part encoded for that document's endpoint
/// (see [`crate::provider::authorize_url`]), so a login that sees an endpoint also sees its
/// prefix.
pub(crate) struct Oidc {
    pub(crate) metadata: Arc<ProviderMetadata>,
    pub(crate) authorize: AuthorizeRequest,
}

impl Oidc {
    fn new(metadata: ProviderMetadata, config: &BankIdConfig) -> Oidc {
        let authorize = AuthorizeRequest::for_config(&metadata.authorization_endpoint, config);
        Oidc { metadata: Arc::new(metadata), authorize }
    }
}

impl NamesSigningAlgs for Oidc {
    fn signing_algs(&self) -> &[jsonwebtoken::Algorithm] {
        &self.metadata.id_token_signing_algs
    }
}

/// A provider part that a degraded start fills in later. Until then it reads
/// as a stand-in that can do nothing: metadata naming no algorithm, PAR or
/// logout endpoint and pointing at the issuer, a verifier without keys. The
/// layer answers `503` on the routes that would use it and [`RelyingParty::bib`]
/// refuses; code that still reaches it (a login started by an app's handler
/// asks for PAR, see `RelyingParty::degraded_config`) finds nothing to send a user
/// or a token to, and fails closed.
pub(crate) struct Deferred<T> {
    loaded: OnceLock<T>,
    stand_in: T,
}

impl<T> Deferred<T> {
    fn stand_in(stand_in: T) -> Self {
        Deferred { loaded: OnceLock::new(), stand_in }
    }

    pub(crate) fn is_loaded(&self) -> bool {
        self.loaded.get().is_some()
    }
}

impl<T> Deref for Deferred<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.loaded.get().unwrap_or(&self.stand_in)
    }
}

/// The providers' parts, as one discovery attempt loads them.
struct Loaded {
    discovery: Arc<Discovered<Oidc>>,
    verifier: IdTokenVerifier,
    bib: Option<Bib>,
}

/// BIB, the second provider of BankID with biometrics: its metadata (kept
/// current like BankID OIDC's) and two verifiers with separate key sets —
/// ID tokens (CIBA) with `jwks_uri`, signed permissions ("grants") with
/// `jwks_uri_grants` — so that neither kind of token can stand in for the
/// other.
pub(crate) struct Bib {
    discovery: Arc<Discovered<BibMetadata>>,
    pub(crate) id_tokens: IdTokenVerifier,
    pub(crate) grants: JwsVerifier,
}

impl Bib {
    /// BIB's last accepted metadata, without touching the network.
    pub(crate) fn metadata(&self) -> Arc<BibMetadata> {
        self.discovery.now()
    }

    /// BIB's metadata within its max age, refetched first when older (the
    /// last accepted one if that fails).
    pub(crate) async fn fresh_metadata(&self) -> Arc<BibMetadata> {
        self.discovery.fresh().await
    }
}

impl RelyingParty {
    /// Discovers both providers and loads their keys (see
    /// `BankIdLayer::discover` for retries and the degraded start).
    pub(crate) async fn load(config: BankIdConfig) -> Result<Arc<RelyingParty>, StartupError> {
        let client = http::client(config.http_timeout).map_err(|e| StartupError::Discovery(Cause::from_error(e)))?;
        config.key_chain.log_at_start();
        if config.start_degraded {
            return Ok(start_degraded(client, config).await);
        }
        let loaded = load_with_retries(&client, &config).await?;
        let core = Arc::new(RelyingParty::unloaded(client, config));
        core.install(loaded);
        Ok(core)
    }

    /// The configuration; while degraded, with PAR required (see
    /// `RelyingParty::degraded_config`).
    pub(crate) fn config(&self) -> &BankIdConfig {
        if self.is_ready() { &self.config } else { &self.degraded_config }
    }

    /// How this client authenticates at `oidc`'s back-channel endpoints.
    pub(crate) fn credentials<'a>(&'a self, oidc: &'a Oidc) -> ClientCredentials<'a> {
        let config = &self.config;
        ClientCredentials {
            client_id: &config.client_id,
            auth: &config.client_auth,
            audience: oidc.metadata.issuer.as_str(),
        }
    }

    /// BIB, or the start-up style error naming the missing setting, or
    /// `provider_unavailable` while degraded.
    pub(crate) fn bib(&self) -> Result<&Bib, Error> {
        if self.config.bib_issuer.is_none() {
            return Err(Error::MissingCapability { capability: "bib_issuer" });
        }
        self.loaded_bib().ok_or(Error::ProviderUnavailable)
    }

    /// A client-credentials access token for `scope` from BankID OIDC, for
    /// calls to BIB (cached; see [`ClientTokens`]).
    pub(crate) async fn client_token(&self, scope: &str) -> Result<String, EndpointError> {
        let oidc = self.fresh_oidc().await;
        let source = TokenSource {
            http: &self.http,
            token_endpoint: &oidc.metadata.token_endpoint,
            credentials: self.credentials(&oidc),
        };
        self.client_tokens.get(scope, source).await
    }
}

/// The longest wait between discovery attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Doubles a wait, up to [`MAX_BACKOFF`].
fn next_backoff(wait: Duration) -> Duration {
    wait.saturating_mul(2).min(MAX_BACKOFF)
}

/// Loads every provider part, retrying as configured; the last error if no
/// attempt succeeds.
async fn load_with_retries(client: &reqwest::Client, config: &BankIdConfig) -> Result<Loaded, StartupError> {
    let mut wait = config.discovery_backoff;
    let mut attempt = 0;
    loop {
        match load_providers(client, config).await {
            Ok(loaded) => return Ok(loaded),
            Err(err) if attempt < config.discovery_retries => {
                attempt += 1;
                tracing::warn!(error = %err, attempt, wait_ms = wait.as_millis() as u64, "BankID discovery failed; retrying");
                tokio::time::sleep(wait).await;
                wait = next_backoff(wait);
            }
            Err(err) => return Err(err),
        }
    }
}

/// One attempt at everything `discover` needs: BankID OIDC's metadata and
/// keys, the capabilities the configuration needs, and BIB's parts.
async fn load_providers(client: &reqwest::Client, config: &BankIdConfig) -> Result<Loaded, StartupError> {
    let (metadata, headers) = metadata::discover(client, &config.issuer).await.map_err(StartupError::Discovery)?;
    let keys = Arc::new(load_keys(client, &metadata.jwks_uri, key_cache_settings(config)).await?);
    let issuer = metadata.issuer.clone();
    check_capabilities(config, &metadata)?;
    let refresh = refresh_oidc(client.clone(), Arc::new(config.clone()), Arc::clone(&keys));
    let oidc = Oidc::new(metadata, config);
    let discovery = Arc::new(Discovered::new(refresh, alg_refresh_settings(config), oidc, &headers));
    let algs = SigningAlgs::of(Arc::clone(&discovery));
    let verifier = new_verifier(&issuer, Arc::new(algs), config, keys);
    tracing::info!(issuer = %issuer, "BankID OIDC discovered");
    let bib = match &config.bib_issuer {
        Some(issuer) => Some(discover_bib(client, issuer, config).await?),
        None => None,
    };
    Ok(Loaded { discovery, verifier, bib })
}

/// Refreshes BankID OIDC's document with the start-up checks (issuer,
/// endpoints, the configuration's PAR needs) and points `keys` at its
/// `jwks_uri`.
fn refresh_oidc(client: reqwest::Client, config: Arc<BankIdConfig>, keys: Arc<KeyCache>) -> FetchDoc<Oidc> {
    Box::new(move || {
        let (client, config, keys) = (client.clone(), Arc::clone(&config), Arc::clone(&keys));
        Box::pin(async move {
            let (metadata, headers) = metadata::discover(&client, &config.issuer).await?;
            check_capabilities(&config, &metadata).map_err(|e| Cause::new(e.to_string()))?;
            keys.follow(&metadata.jwks_uri);
            Ok((Oidc::new(metadata, &config), headers))
        })
    })
}

/// A `RelyingParty` whose providers a background task loads. Waits for the first
/// attempt at most one `http_timeout`, so that a provider that is up gives a
/// ready layer and one that hangs does not hold start-up; the attempt goes
/// on in the background either way.
async fn start_degraded(client: reqwest::Client, config: BankIdConfig) -> Arc<RelyingParty> {
    let first_attempt_timeout = config.http_timeout;
    let core = Arc::new(RelyingParty::unloaded(client, config));
    let (first_done, first_attempt) = tokio::sync::oneshot::channel();
    tokio::spawn(keep_loading(Arc::downgrade(&core), first_done));
    if tokio::time::timeout(first_attempt_timeout, first_attempt).await.is_err() {
        tracing::error!("BankID provider slow to answer at start-up; starting degraded");
    }
    core
}

/// The background loader of a degraded start: tries at once, then with
/// backoff, until the providers load or every layer using `core` is
/// dropped. Signals `first_done` after the first attempt.
async fn keep_loading(core: Weak<RelyingParty>, first_done: tokio::sync::oneshot::Sender<()>) {
    let mut first_done = Some(first_done);
    let mut wait = Duration::ZERO;
    loop {
        tokio::time::sleep(wait).await;
        let Some(core) = core.upgrade() else { return };
        let outcome = load_providers(&core.http, &core.config).await;
        let first = first_done.is_some();
        match outcome {
            Ok(loaded) => {
                core.install(loaded);
                tracing::info!("BankID provider loaded");
            }
            Err(err) => {
                wait = if first { core.config.discovery_backoff } else { next_backoff(wait) };
                core.retry_after_secs.store(retry_after(wait), Ordering::Relaxed);
                let wait_ms = wait.as_millis() as u64;
                if first {
                    tracing::error!(error = %err, wait_ms, "BankID provider unavailable at start-up; running degraded");
                } else {
                    tracing::warn!(error = %err, wait_ms, "BankID provider still unavailable");
                }
            }
        }
        if let Some(done) = first_done.take() {
            let _ = done.send(());
        }
        if core.is_ready() {
            return;
        }
    }
}

/// Whole seconds for `Retry-After`, at least 1.
fn retry_after(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

impl RelyingParty {
    /// A `RelyingParty` with stand-ins for every provider part.
    fn unloaded(http: reqwest::Client, config: BankIdConfig) -> RelyingParty {
        let metadata = stand_in_metadata(&config);
        let keys = Arc::new(KeyCache::unloaded(http.clone(), key_cache_settings(&config)));
        let verifier = new_verifier(&metadata.issuer, Arc::new(SigningAlgs::fixed(Vec::new())), &config, keys);
        let stand_in = Arc::new(Discovered::fixed(Oidc::new(metadata, &config)));
        let mut degraded_config = config.clone();
        degraded_config.par = crate::config::ParMode::Required;
        RelyingParty {
            record_key: config.record_key(),
            config,
            discovery: Deferred::stand_in(stand_in),
            http,
            verifier: Deferred::stand_in(verifier),
            bib: OnceLock::new(),
            client_tokens: Default::default(),
            spent_ids: Default::default(),
            loaded_at: OnceLock::new(),
            degraded_config,
            retry_after_secs: AtomicU64::new(1),
            backchannel_refusals: RefusalSummary::new("back-channel logout"),
        }
    }

    /// Puts the loaded parts in place, readiness last: whoever sees
    /// `is_ready` sees every part. Called once per `RelyingParty` (one loader).
    fn install(&self, loaded: Loaded) {
        let _ = self.bib.set(loaded.bib);
        let _ = self.verifier.loaded.set(loaded.verifier);
        let _ = self.discovery.loaded.set(loaded.discovery);
        let _ = self.loaded_at.set(Instant::now());
    }

    /// Seconds a client should wait before retrying a degraded route.
    pub(crate) fn retry_after_secs(&self) -> u64 {
        self.retry_after_secs.load(Ordering::Relaxed)
    }
}

/// Metadata that names no algorithm (so no token verifies against it) and no
/// PAR, logout or CIBA endpoint; its URLs are the configured issuer.
fn stand_in_metadata(config: &BankIdConfig) -> ProviderMetadata {
    let issuer = config.issuer.clone();
    ProviderMetadata {
        issuer: issuer.to_string(),
        authorization_endpoint: issuer.clone(),
        token_endpoint: issuer.clone(),
        userinfo_endpoint: None,
        jwks_uri: issuer,
        end_session_endpoint: None,
        pushed_authorization_request_endpoint: None,
        require_pushed_authorization_requests: false,
        backchannel_authentication_endpoint: None,
        id_token_signing_algs: Vec::new(),
        authorization_response_iss_parameter_supported: true,
        backchannel_logout_supported: false,
        backchannel_logout_session_supported: false,
    }
}

async fn load_keys(
    client: &reqwest::Client,
    jwks_uri: &url::Url,
    settings: KeyCacheSettings,
) -> Result<KeyCache, StartupError> {
    KeyCache::load(client.clone(), jwks_uri.clone(), settings).await.map_err(StartupError::Discovery)
}

fn new_verifier(
    issuer: &str,
    algorithms: Arc<SigningAlgs>,
    config: &BankIdConfig,
    keys: Arc<KeyCache>,
) -> IdTokenVerifier {
    IdTokenVerifier {
        issuer: issuer.to_owned(),
        client_id: config.client_id.clone(),
        jws: new_jws_verifier(algorithms, config, keys),
    }
}

fn new_jws_verifier(algorithms: Arc<SigningAlgs>, config: &BankIdConfig, keys: Arc<KeyCache>) -> JwsVerifier {
    JwsVerifier { algorithms, clock_skew_secs: config.clock_skew.as_secs() as i64, keys }
}

/// BIB's metadata and both of its key sets.
#[tracing::instrument(name = "bankid.discover_bib", skip_all, fields(issuer = %issuer), err)]
async fn discover_bib(client: &reqwest::Client, issuer: &url::Url, config: &BankIdConfig) -> Result<Bib, StartupError> {
    let (metadata, headers) = bib::discover(client, issuer).await.map_err(StartupError::Discovery)?;
    let id_token_keys = Arc::new(load_keys(client, &metadata.jwks_uri, bib_key_cache_settings(config)).await?);
    let grant_keys = Arc::new(load_keys(client, &metadata.jwks_uri_grants, bib_key_cache_settings(config)).await?);
    let bib_issuer = metadata.issuer.clone();
    let refresh = refresh_bib(client.clone(), issuer.clone(), Arc::clone(&id_token_keys), Arc::clone(&grant_keys));
    let discovery = Arc::new(Discovered::new(refresh, alg_refresh_settings(config), metadata, &headers));
    let algs = Arc::new(SigningAlgs::of(Arc::clone(&discovery)));
    let id_tokens = new_verifier(&bib_issuer, Arc::clone(&algs), config, id_token_keys);
    let grants = new_jws_verifier(algs, config, grant_keys);
    tracing::info!(issuer = %bib_issuer, "BIB discovered");
    Ok(Bib { discovery, id_tokens, grants })
}

/// Refreshes BIB's document with the start-up checks and points its two key
/// caches at its `jwks_uri` and `jwks_uri_grants`.
fn refresh_bib(
    client: reqwest::Client,
    issuer: url::Url,
    id_token_keys: Arc<KeyCache>,
    grant_keys: Arc<KeyCache>,
) -> FetchDoc<BibMetadata> {
    Box::new(move || {
        let (client, issuer) = (client.clone(), issuer.clone());
        let (id_token_keys, grant_keys) = (Arc::clone(&id_token_keys), Arc::clone(&grant_keys));
        Box::pin(async move {
            let (metadata, headers) = bib::discover(&client, &issuer).await?;
            id_token_keys.follow(&metadata.jwks_uri);
            grant_keys.follow(&metadata.jwks_uri_grants);
            Ok((metadata, headers))
        })
    })
}

/// Fails start-up when the configuration needs something the provider lacks.
fn check_capabilities(config: &BankIdConfig, metadata: &ProviderMetadata) -> Result<(), StartupError> {
    use crate::config::{ConfigError, ParMode};
    let provider_requires_par = metadata.require_pushed_authorization_requests;
    if provider_requires_par && config.par == ParMode::Disabled {
        return Err(StartupError::Config(ConfigError::invalid(
            "par",
            "the provider requires pushed authorization requests (require_pushed_authorization_requests): \
             ParMode::Disabled cannot log anyone in",
        )));
    }
    let needs_par = config.par == ParMode::Required || !config.upfront_permissions.is_empty() || provider_requires_par;
    if needs_par && metadata.pushed_authorization_request_endpoint.is_none() {
        return Err(StartupError::MissingCapability { capability: "pushed_authorization_request_endpoint" });
    }
    Ok(())
}

/// How BankID OIDC's key cache refreshes and which keys it trusts, from the
/// configuration: with root certificates, every key must chain to them.
fn key_cache_settings(config: &BankIdConfig) -> KeyCacheSettings {
    let trust = match &config.key_chain.roots {
        Some(roots) => KeyTrust::Chain { roots: roots.clone(), skew: config.clock_skew },
        None => KeyTrust::TlsOnly,
    };
    KeyCacheSettings {
        max_age: MaxAgePolicy { floor: config.jwks_max_age_floor, ceiling: config.jwks_max_age_ceiling },
        cooldown: config.jwks_refresh_cooldown,
        trust,
    }
}

/// The discovery documents refresh on the key cache's schedule (see
/// `provider::discovered`).
fn alg_refresh_settings(config: &BankIdConfig) -> RefreshSettings {
    let keys = key_cache_settings(config);
    RefreshSettings { max_age: keys.max_age, cooldown: keys.cooldown }
}

/// BIB's key caches (`jwks_uri`, `jwks_uri_grants`): the same roots, checked
/// on the keys that carry `x5c`. BankID documents the chain requirement for
/// BankID OIDC; for BIB it has published neither that its keys carry `x5c`
/// nor under which roots. Our guess, named in docs/production.md: when a BIB key
/// carries a chain, it must lead to the same BankID roots; a BIB key without
/// one is trusted by TLS.
fn bib_key_cache_settings(config: &BankIdConfig) -> KeyCacheSettings {
    let mut settings = key_cache_settings(config);
    if let KeyTrust::Chain { roots, skew } = settings.trust {
        settings.trust = KeyTrust::ChainWhenPresent { roots, skew };
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key requests name records with is the configuration's, hashed
    /// once when the relying party is made.
    #[test]
    fn the_record_key_is_the_configurations_hashed_once() {
        let config = BankIdConfig::builder()
            .issuer("http://127.0.0.1:1")
            .client_id("client")
            .client_secret("secret")
            .redirect_uri("http://127.0.0.1:3000/auth/bankid/callback")
            .key_chain_check(false)
            .build()
            .unwrap();
        let expected = config.record_key();
        let core = RelyingParty::unloaded(reqwest::Client::new(), config);
        assert_eq!(core.record_key, expected);
    }
}
