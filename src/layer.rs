//! [`BankIdLayer`]: mounts the login, callback and logout routes and makes the
//! login state available to the extractors.
//!
//! Why a layer rather than handlers you mount yourself: the callback must sit
//! at exactly the registered redirect URI, next to a login route that wrote
//! the matching state, inside the session layer. Shipping them as one layer
//! means there is no order to get wrong. The layer answers its own paths and
//! passes every other request through untouched, adding only a cheap handle
//! (one `Arc`) that the extractors read.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use futures_util::future::{BoxFuture, Either};
use tower_layer::Layer;
use tower_service::Service;

use tower_sessions::{SessionManagerLayer, SessionStore, cookie::SameSite};

use crate::RotationSafeStore;
use crate::ciba::{self, Ciba, CibaOptions, CibaStore};
use crate::config::BankIdConfig;
use crate::error::render::ErrorPages;
use crate::error::{Error, StartupError};
use crate::events::{EventSink, LoginEvent};
use crate::health::Health;
use crate::http::with_cookies;
use crate::login_cache::{self, LoginCache, LoginCacheStats, TicketScope};
use crate::login_hook::{LoginContext, LoginDecision};
use crate::permission::api::PermissionApi;
use crate::private_responses::{LoginShown, MarkPrivate};
use crate::provider::ProviderMetadata;
use crate::records::binding;
use crate::relying_party::RelyingParty;
use crate::routes;
use crate::state::LayerState;

/// A Tower layer that adds BankID login to an axum [`Router`].
///
/// It serves `GET` login, `GET` callback (the path of the redirect URI) and
/// `POST` logout — plus `POST` back-channel logout while the provider
/// advertises `backchannel_logout_supported` — and lets [`AuthenticatedUser`](crate::AuthenticatedUser)
/// work in every route it wraps. Add it with [`Router::layer`], not
/// `route_layer`, so that its own paths reach it.
///
/// It needs a session layer around it. The one way to get that right is
/// [`with_session_store`](Self::with_session_store), which makes one layer
/// of both, with the crate's cookie policy, in the right order:
///
/// ```
/// use axum::{Json, Router, routing::get};
/// use axum_bankid::{AuthenticatedUser, BankIdConfig, BankIdLayer};
/// use tower_sessions::MemoryStore;
/// # use axum_bankid_simulator::Simulator;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sim = Simulator::start().await?;
/// let config = BankIdConfig::builder() // or BankIdConfig::from_env()?
///     .issuer(sim.issuer())
///     .client_id(sim.client_id())
///     .client_secret(sim.client_secret())
///     .redirect_uri("http://127.0.0.1:3000/auth/bankid/callback")
///     .build()?;
/// let bankid = BankIdLayer::discover(config).await?.with_session_store(MemoryStore::default());
/// let app: Router = Router::new()
///     .route("/me", get(|user: AuthenticatedUser| async move { Json(user) }))
///     .layer(bankid);
/// # let _ = app; Ok(()) }
/// ```
///
/// To place the session layer yourself (say, further out, around other
/// layers), take both parts from one call,
/// [`with_session_store(store).into_parts()`](BankIdSessionLayer::into_parts):
/// the session layer has the cookie policy (a `SameSite=Strict` cookie is
/// lost on the provider's redirect back) and the BankID layer keeps its
/// records in the same store. For a session layer built otherwise, pass its
/// store to [`with_login_store`](Self::with_login_store). Without a session
/// layer around it, requests fail with `misconfigured` (`no_session_layer`).
///
/// ```
/// # use axum::Router;
/// # use axum_bankid::{BankIdConfig, BankIdLayer};
/// # use axum_bankid_simulator::Simulator;
/// # use tower_sessions::MemoryStore;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sim = Simulator::start().await?;
/// # let config = BankIdConfig::builder().issuer(sim.issuer()).client_id(sim.client_id())
/// #     .client_secret(sim.client_secret()).redirect_uri("http://127.0.0.1:3000/auth/bankid/callback").build()?;
/// # let routes = Router::new();
/// let (bankid, sessions) =
///     BankIdLayer::discover(config).await?.with_session_store(MemoryStore::default()).into_parts();
/// let app: Router = routes.layer(bankid).layer(sessions); // BankID inside the sessions
/// # let _ = app; Ok(()) }
/// ```
#[derive(Clone)]
pub struct BankIdLayer {
    ctx: LayerState,
    routes: Router,
}

impl fmt::Debug for BankIdLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BankIdLayer")
            .field("issuer", &self.ctx.core.oidc().metadata.issuer)
            .field("client_id", &self.ctx.core.config.client_id)
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
    /// fails (at start-up, not at the first login, with a [`StartupError`]) with `discovery_failed`
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
    pub async fn discover(config: BankIdConfig) -> Result<BankIdLayer, StartupError> {
        Ok(BankIdLayer::from_ctx(LayerState::new(RelyingParty::load(config).await?)))
    }

    /// Replaces the default error page/JSON for login failures (callback,
    /// login and logout routes). The handler receives the typed error and the
    /// request headers; log details there, show the user something safe.
    pub fn with_error_handler<F>(self, handler: F) -> Self
    where
        F: Fn(&Error, &HeaderMap) -> Response + Send + Sync + 'static,
    {
        BankIdLayer::from_ctx(self.ctx.with(|ctx| ctx.error_pages = ErrorPages::custom(Arc::new(handler))))
    }

    /// Registers the app's login hook: the app's last word on every login
    /// (code flow, step-up, permission login, CIBA), after every check and
    /// before anything is written. It can allow the login, allow it and
    /// keep app data with it (read back with [`LoginData`](crate::LoginData)),
    /// or refuse it (`login_refused`, which reaches the
    /// [error handler](Self::with_error_handler)); it also gets the signed ID
    /// token and grants to archive as evidence. One per layer: a second call
    /// replaces the first. See [`login_hook`](crate::login_hook) and the
    /// [manual page](crate::docs::login_hook) for worked examples.
    ///
    /// ```
    /// # use axum_bankid::{BankIdConfig, BankIdLayer};
    /// use axum_bankid::Loa;
    /// use axum_bankid::events::LoginFlow;
    /// use axum_bankid::login_hook::{LoginContext, LoginDecision};
    /// # use axum_bankid_simulator::Simulator;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = Simulator::start().await?;
    /// # let config = BankIdConfig::builder().issuer(sim.issuer()).client_id(sim.client_id())
    /// #     .client_secret(sim.client_secret()).redirect_uri("http://127.0.0.1:3000/auth/bankid/callback").build()?;
    /// let bankid = BankIdLayer::discover(config).await?.on_login(|login: LoginContext| async move {
    ///     if login.flow() == LoginFlow::Permission && login.loa() < Loa::HIGH {
    ///         return LoginDecision::refuse("payments_need_bankid_high");
    ///     }
    ///     LoginDecision::allow()
    /// });
    /// # let _ = bankid; Ok(()) }
    /// ```
    pub fn on_login<F, Fut>(self, hook: F) -> Self
    where
        F: Fn(LoginContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = LoginDecision> + Send + 'static,
    {
        let hook = crate::login_hook::boxed(hook);
        BankIdLayer::from_ctx(self.ctx.with(|ctx| ctx.on_login = Some(hook)))
    }

    /// Registers the app's subscriber of [login events](crate::events)
    /// (succeeded, failed, logged out, ended by back-channel logout), for
    /// audit and monitoring. It is called in order on a thread of its own
    /// (`axum-bankid-events`) through a bounded queue, so a slow subscriber
    /// never holds a request: when it falls [`EVENT_QUEUE_CAPACITY`](crate::events::EVENT_QUEUE_CAPACITY)
    /// events behind, new ones are dropped for it (logged at `warn`). The
    /// same events are always emitted as `tracing` events (target
    /// `axum_bankid::event`), with or without a subscriber. One per layer:
    /// a second call replaces the first.
    ///
    /// # Errors
    ///
    /// When the operating system cannot start the subscriber's thread.
    ///
    /// ```
    /// # use axum_bankid::{BankIdConfig, BankIdLayer};
    /// use axum_bankid::events::LoginEvent;
    /// # use axum_bankid_simulator::Simulator;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = Simulator::start().await?;
    /// # let config = BankIdConfig::builder().issuer(sim.issuer()).client_id(sim.client_id())
    /// #     .client_secret(sim.client_secret()).redirect_uri("http://127.0.0.1:3000/auth/bankid/callback").build()?;
    /// let bankid = BankIdLayer::discover(config).await?.on_event(|event: &LoginEvent| {
    ///     // e.g. count it, or append it to an audit table
    ///     println!("{} {:?} {:?}", event.name(), event.flow(), event.kind());
    /// })?;
    /// # let _ = bankid; Ok(()) }
    /// ```
    pub fn on_event<F>(self, subscriber: F) -> std::io::Result<Self>
    where
        F: Fn(&LoginEvent) + Send + 'static,
    {
        let sink = EventSink::start(subscriber)?;
        Ok(BankIdLayer::from_ctx(self.ctx.with(|ctx| ctx.events = Some(sink))))
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
        let grant_uses = Some(crate::records::single_use::SingleUseRecords::new(Arc::new(store)));
        BankIdLayer::from_ctx(self.ctx.with(|ctx| ctx.grant_uses = grant_uses))
    }

    /// Keeps login attempts (and back-channel logout markers) in `store` —
    /// pass the session store. Only needed when the session layer is not
    /// made by [`with_session_store`](Self::with_session_store), which does
    /// this itself. Without a shared store, a callback must reach the
    /// instance the login started on.
    ///
    /// Use a store whose `create` never overwrites (the memory store,
    /// `tower-sessions-redis-store`) so a `state` is spent once across instances.
    pub fn with_login_store<S: SessionStore>(self, store: S) -> Self {
        let store: Arc<dyn SessionStore> = Arc::new(store);
        BankIdLayer::from_ctx(self.ctx.with(|ctx| ctx.login_store = store))
    }

    /// Enables CIBA with `options` ([`CibaOptions`]): pending
    /// authentications are kept in its store and the status routes are
    /// mounted under [`ciba_path`](crate::BankIdConfigBuilder::ciba_path);
    /// [`CibaOptions::public_start`] adds the start route and
    /// [`CibaOptions::callback`] a handler for every outcome.
    ///
    /// Errors ([`StartupError`]): `missing_capability` (`backchannel_authentication_endpoint`)
    /// at start-up if the provider has no backchannel authentication
    /// endpoint — or, for a layer that
    /// [started degraded](crate::BankIdConfigBuilder::start_degraded) before
    /// BIB loaded, later: each CIBA start then fails with `not_supported`;
    /// `missing_capability` (`bib_issuer`) without a BIB issuer;
    /// `config` for public start limits out of range.
    ///
    /// [`CibaOptions`]: crate::ciba::CibaOptions
    /// [`CibaOptions::public_start`]: crate::ciba::CibaOptions::public_start
    /// [`CibaOptions::callback`]: crate::ciba::CibaOptions::callback
    pub fn with_ciba(self, options: CibaOptions) -> Result<Self, StartupError> {
        if self.ctx.core.config().bib_issuer.is_none() {
            return Err(StartupError::MissingCapability { capability: "bib_issuer" });
        }
        // Otherwise `bib()` fails only while degraded: checked once BIB loads.
        if let Ok(bib) = self.ctx.core.bib()
            && bib.metadata().backchannel_authentication_endpoint.is_none()
        {
            return Err(StartupError::MissingCapability { capability: "backchannel_authentication_endpoint" });
        }
        let CibaOptions { store, public_start, callback } = options;
        let ciba_public_start = match public_start {
            Some(start) => Some(Arc::new(start.build()?)),
            None => None,
        };
        let ciba_store = Some(Arc::new(CibaStore::new(store, self.ctx.core.record_key)));
        Ok(BankIdLayer::from_ctx(self.ctx.with(|ctx| {
            ctx.ciba_store = ciba_store;
            ctx.ciba_public_start = ciba_public_start;
            ctx.ciba_callback = callback;
        })))
    }

    /// This layer inside a [`SessionManagerLayer`] on `store`, as one layer:
    /// the session cookie works with the BankID redirect — `SameSite=Lax`
    /// (tower-sessions defaults to `Strict`, and a Strict cookie is not sent
    /// on the provider's cross-site redirect back to the callback, so the
    /// login state would be lost), `HttpOnly`, `Path=/`, and `Secure` with
    /// the `__Host-` name prefix whenever the redirect URI is HTTPS — with an
    /// inactivity expiry of
    /// [`max_login_age`](crate::BankIdConfigBuilder::max_login_age) so
    /// sessions do not live for tower-sessions' default two weeks. Login
    /// attempts are kept in `store` too, each its own record living for
    /// [`login_attempt_ttl`](crate::BankIdConfigBuilder::login_attempt_ttl),
    /// so starting a login creates no session. The session layer's store is
    /// wrapped in a [`RotationSafeStore`], so a login whose session write
    /// fails leaves the login the session had.
    ///
    /// Call it last, after every other `with_*`; [`BankIdSessionLayer::bankid`]
    /// still reaches this layer (for [`ciba`](Self::ciba),
    /// [`health`](Self::health), ...), and
    /// [`into_parts`](BankIdSessionLayer::into_parts) gives both layers to
    /// place yourself.
    ///
    /// Use a store that deletes expired records (e.g. Redis) and whose
    /// `create` never overwrites; `MemoryStore` is for tests and demos.
    ///
    /// [`SessionManagerLayer`]: tower_sessions::SessionManagerLayer
    pub fn with_session_store<S: SessionStore + Clone>(self, store: S) -> BankIdSessionLayer<S> {
        let login_cache = LoginCache::new(self.config().login_cache, crate::session::LOGIN_KEY);
        let mut session_store = RotationSafeStore::new(store.clone());
        if let Some(cache) = &login_cache {
            session_store = session_store.watched_by(cache.clone());
        }
        let sessions = session_layer(self.config(), session_store);
        let bankid = self.with_login_store(store);
        let bankid = BankIdLayer::from_ctx(bankid.ctx.with(|ctx| ctx.login_cache = login_cache));
        BankIdSessionLayer { bankid, sessions }
    }

    /// The verified-login cache's size and use (see
    /// [`login_cache_ttl`](crate::BankIdConfigBuilder::login_cache_ttl));
    /// `None` without a cache: a TTL of zero, or a layer not made by
    /// [`with_session_store`](Self::with_session_store).
    pub fn login_cache_stats(&self) -> Option<LoginCacheStats> {
        self.ctx.login_cache.as_ref().map(|cache| cache.stats())
    }

    /// The CIBA client, if [`with_ciba`](Self::with_ciba) enabled it.
    pub fn ciba(&self) -> Option<Ciba> {
        self.ctx.ciba()
    }

    /// The Permission API client at BIB, for server-side use outside a
    /// request (in a handler, [`BankIdSession::permission_api`](crate::BankIdSession::permission_api)
    /// gives the same). Its calls fail with `missing_capability`
    /// (`bib_issuer`) when no BIB issuer is configured.
    pub fn permission_api(&self) -> PermissionApi {
        self.ctx.permission_api()
    }

    /// The provider metadata from the latest accepted discovery document
    /// (refreshed on the key cache's schedule; a snapshot, no network).
    /// While the layer is degraded ([`health`](Self::health) says
    /// `ready: false`) this is a stand-in that points at the configured
    /// issuer and names no endpoint beyond it and no algorithm.
    pub fn metadata(&self) -> Arc<ProviderMetadata> {
        Arc::clone(&self.ctx.core.oidc().metadata)
    }

    /// Whether the providers' metadata and keys are loaded and how fresh the
    /// keys are; cheap (no network), for a `/healthz` route. See [`Health`].
    ///
    /// ```
    /// # use axum::{Json, Router, body::Body, routing::get, http::{Request, StatusCode}};
    /// # use axum_bankid::{BankIdConfig, BankIdLayer};
    /// # use axum_bankid_simulator::Simulator;
    /// # use tower::ServiceExt;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = Simulator::start().await?;
    /// # let config = BankIdConfig::builder().issuer(sim.issuer()).client_id(sim.client_id())
    /// #     .client_secret(sim.client_secret()).redirect_uri("http://127.0.0.1:3000/auth/bankid/callback").build()?;
    /// # let bankid = BankIdLayer::discover(config).await?;
    /// let probe = bankid.clone();
    /// let app: Router = Router::new().route("/healthz", get(move || {
    ///     let health = probe.health();
    ///     let status = if health.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    ///     async move { (status, Json(health)) }
    /// }))
    /// # .layer(bankid.with_session_store(tower_sessions::MemoryStore::default()));
    /// # let response = app.oneshot(Request::get("/healthz").body(Body::empty())?).await?;
    /// # assert_eq!(response.status(), StatusCode::OK);
    /// # Ok(()) }
    /// ```
    pub fn health(&self) -> Health {
        crate::health::of(&self.ctx.core)
    }

    /// The configuration in use.
    pub fn config(&self) -> &BankIdConfig {
        &self.ctx.core.config
    }

    fn from_ctx(ctx: LayerState) -> BankIdLayer {
        let config = &ctx.core.config;
        let mut routes = Router::new()
            .route(&config.login_path, get(routes::login::start_login))
            .route(&config.callback_path, get(routes::callback::finish_login))
            .route(&config.logout_path, post(routes::logout::logout))
            .route(&config.backchannel_logout_path, post(routes::backchannel_logout::receive))
            .route(
                &config.session_status.path,
                get(routes::session_status::session_status).post(routes::session_status::session_status),
            );
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
        let config = &self.ctx.core.config;
        path == config.login_path
            || path == config.callback_path
            || path == config.logout_path
            || path == config.session_status.path
            || (path == config.backchannel_logout_path && self.ctx.core.oidc().metadata.backchannel_logout_supported)
            || (self.ctx.ciba_store.is_some() && is_under(path, &config.ciba_path))
    }
}

impl BankIdLayer {
    /// Own routes that talk to the provider: all but logout, which ends a
    /// local login without it (the provider's logout endpoint is skipped
    /// while it is not loaded), and the session status, which reads only
    /// the session.
    fn needs_provider(&self, path: &str) -> bool {
        path != self.ctx.core.config.logout_path && path != self.ctx.core.config.session_status.path
    }

    /// `503 provider_unavailable` with `Retry-After`, rendered like any
    /// other login error (the app's error handler, if any, sees it too). The
    /// wait is the loader's next one, unless the app's handler chose its own.
    fn provider_unavailable(&self, headers: &HeaderMap) -> Response {
        let mut response = self.ctx.error_response(&Error::ProviderUnavailable, headers);
        let secs = HeaderValue::from(self.ctx.core.retry_after_secs());
        let retry_after = response.headers_mut().entry(header::RETRY_AFTER);
        match (retry_after, self.ctx.error_pages.is_custom()) {
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

impl BankIdLayer {
    /// For a request to the login route, the `Set-Cookie` that removes the
    /// "sent to login" marker (whatever the route answers: it was reached);
    /// see [`Misconfiguration::LoginRouteNotReached`](crate::error::Misconfiguration::LoginRouteNotReached).
    fn sent_to_login_reached(&self, req: &Request) -> Option<HeaderValue> {
        let config = &self.ctx.core.config;
        (req.uri().path() == config.login_path).then(|| binding::clear_sent_to_login(config, req.headers())).flatten()
    }
}

/// The session layer of [`BankIdLayer::with_session_store`]: the cookie
/// policy the BankID redirect needs, on `store` wrapped in a [`RotationSafeStore`].
fn session_layer<S: SessionStore + Clone>(
    config: &BankIdConfig,
    store: RotationSafeStore<S>,
) -> SessionManagerLayer<RotationSafeStore<S>> {
    let https = config.redirect_uri.scheme() == "https";
    let name = if https { "__Host-bankid-session" } else { "bankid-session" };
    let inactivity = tower_sessions::cookie::time::Duration::seconds(config.max_login_age.as_secs() as i64);
    SessionManagerLayer::new(store)
        .with_expiry(tower_sessions::Expiry::OnInactivity(inactivity))
        .with_name(name)
        .with_same_site(SameSite::Lax)
        .with_http_only(true)
        .with_path("/")
        .with_secure(https)
}

fn is_under(path: &str, base: &str) -> bool {
    path.strip_prefix(base).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
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
    /// Requests for other paths (the app's routes) get the inner service's
    /// own future, not boxed again, only wrapped to mark responses that show
    /// a login private (see `private_responses`); the layer's own routes are
    /// boxed.
    type Future = Either<MarkPrivate<TicketScope<S::Future>>, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        if self.layer.is_own_path(req.uri().path()) {
            let marker = self.layer.sent_to_login_reached(&req);
            if self.layer.needs_provider(req.uri().path()) && !self.layer.ctx.core.is_ready() {
                let response = with_cookies(self.layer.provider_unavailable(req.headers()), marker);
                return Either::Right(Box::pin(std::future::ready(Ok(response))));
            }
            let mut routes = self.layer.routes.clone();
            return Either::Right(Box::pin(async move {
                let response = routes.call(req).await;
                response.map(|response| with_cookies(response, marker))
            }));
        }
        req.extensions_mut().insert(self.layer.ctx.clone());
        let shown = LoginShown::default();
        req.extensions_mut().insert(shown.clone());
        // The inner service was driven to readiness; use that instance and
        // leave a fresh clone behind (the usual tower pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        // The scope in which a read of the session takes the login cache's ticket.
        Either::Left(MarkPrivate::new(login_cache::with_ticket_scope(inner.call(req)), shown))
    }
}

/// [`BankIdLayer`] inside its session layer, as one layer: made by
/// [`BankIdLayer::with_session_store`]. Add it with [`Router::layer`].
#[derive(Clone)]
pub struct BankIdSessionLayer<S: SessionStore> {
    bankid: BankIdLayer,
    sessions: SessionManagerLayer<RotationSafeStore<S>>,
}

impl<S: SessionStore> BankIdSessionLayer<S> {
    /// The BankID layer inside (for [`BankIdLayer::ciba`],
    /// [`BankIdLayer::health`], [`BankIdLayer::permission_api`], ...).
    pub fn bankid(&self) -> &BankIdLayer {
        &self.bankid
    }

    /// The two layers, to place yourself: the BankID layer (which keeps its
    /// records in the session store) and the session layer, made together
    /// so they cannot name different stores. Add the BankID layer first
    /// (inside), the session layer after it:
    /// `routes.layer(bankid).layer(sessions)`. A session read between them
    /// (before `BankIdLayer` sees the request) is never kept in the
    /// verified-login cache (see
    /// [`login_cache_ttl`](crate::BankIdConfigBuilder::login_cache_ttl)).
    pub fn into_parts(self) -> (BankIdLayer, SessionManagerLayer<RotationSafeStore<S>>) {
        (self.bankid, self.sessions)
    }
}

impl<S: SessionStore> fmt::Debug for BankIdSessionLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BankIdSessionLayer").field("bankid", &self.bankid).finish_non_exhaustive()
    }
}

impl<S: SessionStore + Clone, I> Layer<I> for BankIdSessionLayer<S> {
    type Service = <SessionManagerLayer<RotationSafeStore<S>> as Layer<BankIdService<I>>>::Service;

    fn layer(&self, inner: I) -> Self::Service {
        // The session layer outside, so BankID's routes and extractors see the session.
        self.sessions.layer(self.bankid.layer(inner))
    }
}
