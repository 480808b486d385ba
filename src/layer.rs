//! [`BankIdLayer`]: mounts the login, callback and logout routes and makes the
//! login state available to the extractors.
//!
//! Why a layer rather than handlers you mount yourself: the callback must sit
//! at exactly the registered redirect URI, next to a login route that wrote
//! the matching state, inside the session layer. Shipping them as one layer
//! means there is no order to get wrong. The layer answers its own paths and
//! passes every other request through untouched, adding only a cheap handle
//! (two `Arc`s) that the extractors read.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use tower_layer::Layer;
use tower_service::Service;

use tower_sessions::SessionStore;

use crate::ciba::{self, Ciba, CibaCallback, CibaFinished, CibaStore, PublicStartPolicy};
use crate::config::BankIdConfig;
use crate::error::{EndpointError, Error};
use crate::flow;
use crate::health::Health;
use crate::id_token::IdTokenVerifier;
use crate::provider::bib::BibMetadata;
use crate::provider::client_token::{ClientTokens, TokenSource};
use crate::provider::jwks::KeyCache;
use crate::provider::token::ClientCredentials;
use crate::provider::{ProviderMetadata, bib, http, metadata};

type ErrorHandler = Arc<dyn Fn(&Error, &HeaderMap) -> Response + Send + Sync>;

/// Everything that is fixed once the providers are loaded. A layer that
/// [started degraded](crate::BankIdConfigBuilder::start_degraded) shares one
/// `Shared` from the start, so the single-use grant records, the token cache
/// and every `Ciba`/`PermissionApi` handed out stay the same when the
/// provider arrives; only the provider parts fill in.
pub(crate) struct Shared {
    pub(crate) config: BankIdConfig,
    /// BankID OIDC: the code flow and client-credentials tokens.
    pub(crate) metadata: Live<ProviderMetadata>,
    pub(crate) http: reqwest::Client,
    /// Verifies BankID OIDC's ID tokens (code flow).
    pub(crate) verifier: Live<IdTokenVerifier>,
    /// BIB: `Some(None)` when no BIB issuer is configured, unset until loaded.
    bib: OnceLock<Option<Bib>>,
    pub(crate) client_tokens: ClientTokens,
    pub(crate) consumed_grants: crate::session::ConsumedGrants,
    /// When every provider part was in place; unset while degraded.
    loaded_at: OnceLock<Instant>,
    /// `config` with PAR required, handed out while degraded: PAR needs an
    /// endpoint the stand-in metadata lacks, so a login started from a
    /// handler fails closed instead of redirecting to a stand-in URL.
    degraded_config: BankIdConfig,
    /// Seconds until the background loader's next attempt (`Retry-After`).
    retry_after_secs: AtomicU64,
}

impl Shared {
    /// Whether the providers are loaded (always, unless started degraded).
    pub(crate) fn is_ready(&self) -> bool {
        self.loaded_at.get().is_some()
    }

    /// BIB's parts: `None` while degraded, `Some(None)` without a BIB issuer.
    pub(crate) fn bib_parts(&self) -> Option<Option<&Bib>> {
        self.bib.get().map(Option::as_ref)
    }
}

/// A provider part that a degraded start fills in later. Until then it reads
/// as a stand-in that can do nothing: metadata naming no algorithm, PAR or
/// logout endpoint and pointing at the issuer, a verifier without keys. The
/// layer answers `503` on the routes that would use it and [`Ctx::bib`]
/// refuses; code that still reaches it (a login started by an app's handler
/// asks for PAR, see `Shared::degraded_config`) finds nothing to send a user
/// or a token to, and fails closed.
pub(crate) struct Live<T> {
    loaded: OnceLock<T>,
    stand_in: T,
}

impl<T> Live<T> {
    fn stand_in(stand_in: T) -> Self {
        Live { loaded: OnceLock::new(), stand_in }
    }

    pub(crate) fn is_loaded(&self) -> bool {
        self.loaded.get().is_some()
    }
}

impl<T> Deref for Live<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.loaded.get().unwrap_or(&self.stand_in)
    }
}

/// The providers' parts, as one discovery attempt loads them.
struct Loaded {
    metadata: ProviderMetadata,
    verifier: IdTokenVerifier,
    bib: Option<Bib>,
}

/// BIB, the second provider of BankID with biometrics: its metadata and two
/// verifiers with separate key sets — ID tokens (CIBA) with `jwks_uri`,
/// signed permissions ("grants") with `jwks_uri_grants` — so that neither
/// kind of token can stand in for the other.
pub(crate) struct Bib {
    pub(crate) metadata: BibMetadata,
    pub(crate) id_tokens: IdTokenVerifier,
    pub(crate) grants: IdTokenVerifier,
}

/// The handle routes and extractors work with.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) shared: Arc<Shared>,
    on_error: Option<ErrorHandler>,
    pub(crate) ciba_store: Option<Arc<CibaStore>>,
    /// The public start route's policy, when it is mounted.
    pub(crate) ciba_public_start: Option<Arc<PublicStartPolicy>>,
    pub(crate) ciba_callback: Option<CibaCallback>,
    /// Where single-use grants are marked used for every instance.
    pub(crate) grant_uses: Option<crate::once::OnceRecords>,
}

impl Ctx {
    /// Renders an error: the app's handler if set, else the default page/JSON.
    pub(crate) fn error_response(&self, err: &Error, headers: &HeaderMap) -> Response {
        match &self.on_error {
            Some(handler) => handler(err, headers),
            None => err.to_response(headers),
        }
    }

    /// The configuration; while degraded, with PAR required (see
    /// `Shared::degraded_config`).
    pub(crate) fn config(&self) -> &BankIdConfig {
        if self.shared.is_ready() { &self.shared.config } else { &self.shared.degraded_config }
    }

    /// How this client authenticates at the provider's back-channel endpoints.
    pub(crate) fn credentials(&self) -> ClientCredentials<'_> {
        let config = &self.shared.config;
        ClientCredentials {
            client_id: &config.client_id,
            secret: &config.client_secret,
            method: config.client_auth,
            assertion: config.client_assertion_key.as_ref().map(|key| (key, self.shared.metadata.issuer.as_str())),
        }
    }

    /// BIB, or the start-up style error naming the missing setting, or
    /// `provider_unavailable` while degraded.
    pub(crate) fn bib(&self) -> Result<&Bib, Error> {
        let missing = Error::MissingCapability { capability: "bib_issuer" };
        match self.shared.bib_parts() {
            Some(bib) => bib.ok_or(missing),
            None if self.shared.config.bib_issuer.is_none() => Err(missing),
            None => Err(Error::ProviderUnavailable),
        }
    }

    /// A client-credentials access token for `scope` from BankID OIDC, for
    /// calls to BIB (cached; see [`ClientTokens`]).
    pub(crate) async fn client_token(&self, scope: &str) -> Result<String, EndpointError> {
        let source = TokenSource {
            http: &self.shared.http,
            token_endpoint: &self.shared.metadata.token_endpoint,
            credentials: self.credentials(),
        };
        self.shared.client_tokens.get(scope, source).await
    }
}

/// A Tower layer that adds BankID login to an axum [`Router`].
///
/// It serves `GET` login, `GET` callback (the path of the redirect URI) and
/// `POST` logout — plus `POST` back-channel logout while the provider
/// advertises `backchannel_logout_supported` — and lets [`AuthenticatedUser`](crate::AuthenticatedUser)
/// work in every route it wraps. It must sit inside a
/// [`SessionManagerLayer`](tower_sessions::SessionManagerLayer) — use
/// [`BankIdConfig::session_layer`] for a cookie that survives the provider's
/// redirect — and must be added with [`Router::layer`], not `route_layer`, so
/// that its own paths reach it.
///
/// ```no_run
/// use axum::{Json, Router, routing::get};
/// use axum_bankid::{AuthenticatedUser, BankIdConfig, BankIdLayer};
/// use tower_sessions::MemoryStore;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = BankIdConfig::from_env()?;
/// let sessions = config.session_layer(MemoryStore::default());
/// let bankid = BankIdLayer::discover(config).await?;
/// let app: Router = Router::new()
///     .route("/me", get(|user: AuthenticatedUser| async move { Json(user) }))
///     .layer(bankid)
///     .layer(sessions);
/// # let _ = app; Ok(()) }
/// ```
#[derive(Clone)]
pub struct BankIdLayer {
    ctx: Ctx,
    routes: Router,
}

impl fmt::Debug for BankIdLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BankIdLayer")
            .field("issuer", &self.ctx.shared.metadata.issuer)
            .field("client_id", &self.ctx.shared.config.client_id)
            .finish_non_exhaustive()
    }
}

impl BankIdLayer {
    /// Runs OIDC discovery and loads the provider's keys — BankID OIDC's,
    /// and BIB's too when a [BIB issuer](crate::BankIdConfigBuilder::bib_issuer)
    /// is configured.
    ///
    /// A failed attempt is retried
    /// [`discovery_retries`](crate::BankIdConfigBuilder::discovery_retries)
    /// times (default 3) with a doubling
    /// [backoff](crate::BankIdConfigBuilder::discovery_backoff) (default
    /// 500 ms first): a provider that is briefly unreachable while the app
    /// rolls out does not stop the rollout, one that stays down does. Then it
    /// fails (at start-up, not at the first login) with `discovery_failed`
    /// if a provider cannot be reached, its metadata names another issuer,
    /// or it offers no usable algorithm, and with `missing_capability` if the
    /// configuration needs something the provider lacks (PAR). Each HTTP
    /// call is bounded by [`http_timeout`](crate::BankIdConfigBuilder::http_timeout).
    ///
    /// With [`start_degraded`](crate::BankIdConfigBuilder::start_degraded)
    /// it never fails for an unreachable provider: it returns once the first
    /// attempt is over or one `http_timeout` has passed, whichever is first,
    /// with a degraded layer if the providers are not loaded yet, and keeps
    /// loading in the background; see [`health`](Self::health).
    #[tracing::instrument(name = "bankid.discover", skip_all, fields(issuer = %config.issuer), err)]
    pub async fn discover(config: BankIdConfig) -> Result<BankIdLayer, Error> {
        let client = http::client(config.http_timeout).map_err(|e| Error::Discovery(e.to_string()))?;
        let shared = if config.start_degraded {
            start_degraded(client, config).await
        } else {
            let loaded = load_with_retries(&client, &config).await?;
            let shared = Arc::new(Shared::unloaded(client, config));
            shared.install(loaded);
            shared
        };
        Ok(BankIdLayer::from_ctx(Ctx {
            shared,
            on_error: None,
            ciba_store: None,
            ciba_public_start: None,
            ciba_callback: None,
            grant_uses: None,
        }))
    }

    /// Replaces the default error page/JSON for login failures (callback,
    /// login and logout routes). The handler receives the typed error and the
    /// request headers; log details there, show the user something safe.
    pub fn with_error_handler<F>(self, handler: F) -> Self
    where
        F: Fn(&Error, &HeaderMap) -> Response + Send + Sync + 'static,
    {
        BankIdLayer::from_ctx(Ctx { on_error: Some(Arc::new(handler)), ..self.ctx })
    }

    /// Makes single-use grants single-use across every instance that shares
    /// `store` — pass the session store. Without it, a grant is used once per
    /// session and per instance: two instances answering the same session at
    /// the same moment could each accept it. With it, each use of a grant
    /// first creates a record in the store that only one caller can create;
    /// a store failure refuses the grant.
    ///
    /// This needs a store whose `create` never overwrites: `MemoryStore`
    /// (one process only, where it adds nothing) and
    /// `tower-sessions-redis-store` qualify; stores that check-then-upsert
    /// (`tower-sessions-sqlx-store`) do not.
    pub fn with_single_use_store<S: SessionStore>(self, store: S) -> Self {
        let grant_uses = Some(crate::once::OnceRecords::new(Arc::new(store)));
        BankIdLayer::from_ctx(Ctx { grant_uses, ..self.ctx })
    }

    /// Enables CIBA: pending authentications are kept in `store` (use the
    /// same store as the sessions — Redis when several instances share the
    /// work) and the status routes are mounted under
    /// [`ciba_path`](crate::BankIdConfigBuilder::ciba_path) (see
    /// [`with_public_ciba_start`](Self::with_public_ciba_start) for the start route). Fails at start-up
    /// if the provider has no backchannel authentication endpoint — or, for
    /// a layer that [started degraded](crate::BankIdConfigBuilder::start_degraded)
    /// before BIB loaded, later: each CIBA start then fails with
    /// `not_supported`.
    pub fn with_ciba<S: SessionStore>(self, store: S) -> Result<Self, Error> {
        match self.ctx.bib() {
            Ok(bib) if bib.metadata.backchannel_authentication_endpoint.is_none() => {
                return Err(Error::MissingCapability { capability: "backchannel_authentication_endpoint" });
            }
            Ok(_) | Err(Error::ProviderUnavailable) => {}
            Err(err) => return Err(err),
        }
        let ciba_store = Some(Ciba::new_store(Arc::new(store), self.ctx.config().record_key()));
        Ok(BankIdLayer::from_ctx(Ctx { ciba_store, ..self.ctx }))
    }

    /// Also mounts `POST {ciba_path}` (`{"nnin": "..."}` → `202` with the
    /// handle, BankID's binding message and `expires_in`), for devices that
    /// start CIBA themselves, like the TV page of the `ciba` example.
    ///
    /// **This sends a push to whoever the number names, for anyone who can
    /// reach the route.** So, by default, the device that started a request
    /// is *not* logged in when it is approved — it learns only that it was
    /// (opt in with [`PublicCibaStart::log_in_starting_session`] for devices
    /// that belong to the approving user); "not enrolled", "unknown user" and
    /// "app unavailable" all answer `422 {"error":"ciba_unavailable"}`; and
    /// starts are rate-limited per identity number and per client address
    /// (`429` with `Retry-After`). See [`PublicCibaStart`] for the limits.
    /// Errors: `missing_capability` (`with_ciba`) unless CIBA is enabled,
    /// `config_error` for limits out of range.
    ///
    /// [`PublicCibaStart`]: crate::ciba::PublicCibaStart
    /// [`PublicCibaStart::log_in_starting_session`]: crate::ciba::PublicCibaStart::log_in_starting_session
    pub fn with_public_ciba_start(self, options: crate::ciba::PublicCibaStart) -> Result<Self, Error> {
        if self.ctx.ciba_store.is_none() {
            return Err(Error::MissingCapability { capability: "with_ciba" });
        }
        let policy = Some(Arc::new(options.build()?));
        Ok(BankIdLayer::from_ctx(Ctx { ciba_public_start: policy, ..self.ctx }))
    }

    /// Hands every CIBA outcome to `handler` — the verified user, or the
    /// [`CibaError`](crate::CibaError) to route to your backup path — for
    /// flows where no device waits on the status routes (a call centre, a
    /// 3-D Secure check done by the server).
    ///
    /// One background task per layer then polls the requests this instance
    /// started, each no sooner than the provider allows; status reads and
    /// [`Ciba::wait`] keep working alongside. The handler runs on its own
    /// task, once per request, on the instance that records the outcome
    /// (deploy every instance with the same callback). Treat
    /// [`CibaFinished::handle`] as an idempotency key all the same: the store
    /// is not transactional. A request whose instance stopped is finished by
    /// the next status read on any instance.
    ///
    /// ```no_run
    /// # use axum_bankid::{BankIdLayer, CibaFinished};
    /// # use tower_sessions::MemoryStore;
    /// # fn wire(layer: BankIdLayer) -> Result<BankIdLayer, axum_bankid::Error> {
    /// let layer = layer
    ///     .with_ciba(MemoryStore::default())?
    ///     .with_ciba_callback(|finished: CibaFinished| async move {
    ///         match finished.result {
    ///             Ok(user) => tracing::info!(loa = user.loa.get(), "approved"),
    ///             Err(err) => tracing::info!(reason = err.kind(), "use the backup path"),
    ///         }
    ///     })?;
    /// # Ok(layer) }
    /// ```
    pub fn with_ciba_callback<F, Fut>(self, handler: F) -> Result<Self, Error>
    where
        F: Fn(CibaFinished) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        if self.ctx.ciba_store.is_none() {
            return Err(Error::MissingCapability { capability: "with_ciba" });
        }
        Ok(BankIdLayer::from_ctx(Ctx { ciba_callback: Some(CibaCallback::new(handler)), ..self.ctx }))
    }

    /// The CIBA client, if [`with_ciba`](Self::with_ciba) enabled it.
    pub fn ciba(&self) -> Option<Ciba> {
        Ciba::from_ctx(&self.ctx)
    }

    /// The Permission API client at BIB, for server-side use outside a
    /// request (in a handler, [`BankId::permission_api`](crate::BankId::permission_api)
    /// gives the same). Its calls fail with `missing_capability`
    /// (`bib_issuer`) when no BIB issuer is configured.
    pub fn permission_api(&self) -> crate::PermissionApi {
        crate::PermissionApi::new(self.ctx.clone())
    }

    /// The provider metadata found by discovery. While the layer is
    /// degraded ([`health`](Self::health) says `ready: false`) this is a
    /// stand-in that points at the configured issuer and names no endpoint
    /// beyond it and no algorithm.
    pub fn metadata(&self) -> &ProviderMetadata {
        &self.ctx.shared.metadata
    }

    /// Whether the providers' metadata and keys are loaded and how fresh the
    /// keys are; cheap (no network), for a `/healthz` route. See [`Health`].
    ///
    /// ```no_run
    /// # use axum::{Json, Router, routing::get, http::StatusCode};
    /// # use axum_bankid::BankIdLayer;
    /// # fn wire(bankid: BankIdLayer) -> Router {
    /// let probe = bankid.clone();
    /// Router::new().route("/healthz", get(move || {
    ///     let health = probe.health();
    ///     let status = if health.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    ///     async move { (status, Json(health)) }
    /// }))
    /// # .layer(bankid) }
    /// ```
    pub fn health(&self) -> Health {
        crate::health::of(&self.ctx.shared)
    }

    /// The configuration in use.
    pub fn config(&self) -> &BankIdConfig {
        &self.ctx.shared.config
    }

    fn from_ctx(ctx: Ctx) -> BankIdLayer {
        let config = &ctx.shared.config;
        let mut routes = Router::new()
            .route(&config.login_path, get(flow::login::start_login))
            .route(&config.callback_path, get(flow::callback::finish_login))
            .route(&config.logout_path, post(flow::logout::logout))
            .route(&config.backchannel_logout_path, post(flow::backchannel_logout::receive));
        if ctx.ciba_store.is_some() {
            let base = &config.ciba_path;
            if ctx.ciba_public_start.is_some() {
                routes = routes.route(base, post(ciba::routes::start));
            }
            routes = routes
                .route(&format!("{base}/{{handle}}"), get(ciba::routes::status))
                .route(&format!("{base}/{{handle}}/events"), get(ciba::routes::events));
        }
        let routes = routes.with_state(ctx.clone());
        BankIdLayer { ctx, routes }
    }

    fn is_own_path(&self, path: &str) -> bool {
        let config = &self.ctx.shared.config;
        path == config.login_path
            || path == config.callback_path
            || path == config.logout_path
            || (path == config.backchannel_logout_path && self.ctx.shared.metadata.backchannel_logout_supported)
            || (self.ctx.ciba_store.is_some() && is_under(path, &config.ciba_path))
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
async fn load_with_retries(client: &reqwest::Client, config: &BankIdConfig) -> Result<Loaded, Error> {
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
async fn load_providers(client: &reqwest::Client, config: &BankIdConfig) -> Result<Loaded, Error> {
    let metadata = metadata::discover(client, &config.issuer).await.map_err(Error::Discovery)?;
    let keys = load_keys(client, &metadata.jwks_uri, config).await?;
    let verifier = new_verifier(&metadata.issuer, &metadata.id_token_signing_algs, config, keys);
    tracing::info!(issuer = %metadata.issuer, "BankID OIDC discovered");
    check_capabilities(config, &metadata)?;
    let bib = match &config.bib_issuer {
        Some(issuer) => Some(discover_bib(client, issuer, config).await?),
        None => None,
    };
    Ok(Loaded { metadata, verifier, bib })
}

/// A `Shared` whose providers a background task loads. Waits for the first
/// attempt at most one `http_timeout`, so that a provider that is up gives a
/// ready layer and one that hangs does not hold start-up; the attempt goes
/// on in the background either way.
async fn start_degraded(client: reqwest::Client, config: BankIdConfig) -> Arc<Shared> {
    let first_attempt_timeout = config.http_timeout;
    let shared = Arc::new(Shared::unloaded(client, config));
    let (first_done, first_attempt) = tokio::sync::oneshot::channel();
    tokio::spawn(keep_loading(Arc::downgrade(&shared), first_done));
    if tokio::time::timeout(first_attempt_timeout, first_attempt).await.is_err() {
        tracing::error!("BankID provider slow to answer at start-up; starting degraded");
    }
    shared
}

/// The background loader of a degraded start: tries at once, then with
/// backoff, until the providers load or every layer using `shared` is
/// dropped. Signals `first_done` after the first attempt.
async fn keep_loading(shared: Weak<Shared>, first_done: tokio::sync::oneshot::Sender<()>) {
    let mut first_done = Some(first_done);
    let mut wait = Duration::ZERO;
    loop {
        tokio::time::sleep(wait).await;
        let Some(shared) = shared.upgrade() else { return };
        let outcome = load_providers(&shared.http, &shared.config).await;
        let first = first_done.is_some();
        match outcome {
            Ok(loaded) => {
                shared.install(loaded);
                tracing::info!("BankID provider loaded");
            }
            Err(err) => {
                wait = if first { shared.config.discovery_backoff } else { next_backoff(wait) };
                shared.retry_after_secs.store(retry_after(wait), Ordering::Relaxed);
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
        if shared.is_ready() {
            return;
        }
    }
}

/// Whole seconds for `Retry-After`, at least 1.
fn retry_after(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

impl Shared {
    /// A `Shared` with stand-ins for every provider part.
    fn unloaded(http: reqwest::Client, config: BankIdConfig) -> Shared {
        let metadata = stand_in_metadata(&config);
        let keys = KeyCache::unloaded(http.clone(), config.key_cache_settings());
        let verifier = new_verifier(&metadata.issuer, &[], &config, keys);
        let mut degraded_config = config.clone();
        degraded_config.par = crate::config::ParMode::Required;
        Shared {
            config,
            metadata: Live::stand_in(metadata),
            http,
            verifier: Live::stand_in(verifier),
            bib: OnceLock::new(),
            client_tokens: Default::default(),
            consumed_grants: Default::default(),
            loaded_at: OnceLock::new(),
            degraded_config,
            retry_after_secs: AtomicU64::new(1),
        }
    }

    /// Puts the loaded parts in place, readiness last: whoever sees
    /// `is_ready` sees every part. Called once per `Shared` (one loader).
    fn install(&self, loaded: Loaded) {
        let _ = self.bib.set(loaded.bib);
        let _ = self.verifier.loaded.set(loaded.verifier);
        let _ = self.metadata.loaded.set(loaded.metadata);
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
        backchannel_authentication_endpoint: None,
        id_token_signing_algs: Vec::new(),
        authorization_response_iss_parameter_supported: true,
        backchannel_logout_supported: false,
        backchannel_logout_session_supported: false,
    }
}

impl BankIdLayer {
    /// Own routes that talk to the provider: all but logout, which ends a
    /// local login without it (the provider's logout endpoint is skipped
    /// while it is not loaded).
    fn needs_provider(&self, path: &str) -> bool {
        path != self.ctx.shared.config.logout_path
    }

    /// `503 provider_unavailable` with `Retry-After`, rendered like any
    /// other login error (the app's error handler, if any, sees it too). The
    /// wait is the loader's next one, unless the app's handler chose its own.
    fn provider_unavailable(&self, headers: &HeaderMap) -> Response {
        let mut response = self.ctx.error_response(&Error::ProviderUnavailable, headers);
        let secs = HeaderValue::from(self.ctx.shared.retry_after_secs());
        let retry_after = response.headers_mut().entry(header::RETRY_AFTER);
        match (retry_after, self.ctx.on_error.is_some()) {
            (header::Entry::Occupied(mut default), false) => {
                default.insert(secs);
            }
            (header::Entry::Vacant(none), _) => {
                none.insert(secs);
            }
            (header::Entry::Occupied(_), true) => {}
        }
        response
    }
}

fn is_under(path: &str, base: &str) -> bool {
    path.strip_prefix(base).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

async fn load_keys(client: &reqwest::Client, jwks_uri: &url::Url, config: &BankIdConfig) -> Result<KeyCache, Error> {
    KeyCache::load(client.clone(), jwks_uri.clone(), config.key_cache_settings()).await.map_err(Error::Discovery)
}

fn new_verifier(
    issuer: &str,
    algorithms: &[jsonwebtoken::Algorithm],
    config: &BankIdConfig,
    keys: KeyCache,
) -> IdTokenVerifier {
    IdTokenVerifier {
        issuer: issuer.to_owned(),
        client_id: config.client_id.clone(),
        algorithms: algorithms.to_vec(),
        clock_skew_secs: config.clock_skew.as_secs() as i64,
        keys: Arc::new(keys),
    }
}

/// BIB's metadata and both of its key sets.
#[tracing::instrument(name = "bankid.discover_bib", skip_all, fields(issuer = %issuer), err)]
async fn discover_bib(client: &reqwest::Client, issuer: &url::Url, config: &BankIdConfig) -> Result<Bib, Error> {
    let metadata = bib::discover(client, issuer).await.map_err(Error::Discovery)?;
    let id_token_keys = load_keys(client, &metadata.jwks_uri, config).await?;
    let grant_keys = load_keys(client, &metadata.jwks_uri_grants, config).await?;
    let id_tokens = new_verifier(&metadata.issuer, &metadata.signing_algs, config, id_token_keys);
    let grants = new_verifier(&metadata.issuer, &metadata.signing_algs, config, grant_keys);
    tracing::info!(issuer = %metadata.issuer, "BIB discovered");
    Ok(Bib { metadata, id_tokens, grants })
}

/// Fails start-up when the configuration needs something the provider lacks.
fn check_capabilities(config: &BankIdConfig, metadata: &ProviderMetadata) -> Result<(), Error> {
    let needs_par = config.par == crate::config::ParMode::Required || !config.upfront_permissions.is_empty();
    if needs_par && metadata.pushed_authorization_request_endpoint.is_none() {
        return Err(Error::MissingCapability { capability: "pushed_authorization_request_endpoint" });
    }
    Ok(())
}

impl<S> Layer<S> for BankIdLayer {
    type Service = BankIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BankIdService { layer: self.clone(), inner }
    }
}

/// The service produced by [`BankIdLayer`].
#[derive(Clone)]
pub struct BankIdService<S> {
    layer: BankIdLayer,
    inner: S,
}

impl<S> fmt::Debug for BankIdService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BankIdService").field("layer", &self.layer).finish_non_exhaustive()
    }
}

impl<S> Service<Request> for BankIdService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        if self.layer.is_own_path(req.uri().path()) {
            if self.layer.needs_provider(req.uri().path()) && !self.layer.ctx.shared.is_ready() {
                let response = self.layer.provider_unavailable(req.headers());
                return Box::pin(async move { Ok(response) });
            }
            let mut routes = self.layer.routes.clone();
            return Box::pin(async move { routes.call(req).await });
        }
        req.extensions_mut().insert(self.layer.ctx.clone());
        // The inner service was driven to readiness; use that instance and
        // leave a fresh clone behind (the usual tower pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(inner.call(req))
    }
}
