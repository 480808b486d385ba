//! [`TestAppBuilder`]: the one way the tests start an app under test — a
//! fresh simulator and an axum app with the BankID layer, both on loopback.
//! Every test says only what differs from the usual app (store, simulator,
//! configuration, CIBA, extra routes, session wiring), so one `start`
//! serves them all.

use std::sync::Arc;

use axum::Router;
use axum_bankid::ciba::{CibaOptions, PublicCibaStart};
use axum_bankid::testing::Browser;
use axum_bankid::{BankIdConfigBuilder, BankIdLayer};
use axum_bankid_simulator::{Simulator, SimulatorBuilder};
use tower_sessions::{MemoryStore, SessionStore};

use super::{TestApp, app_routes, builder_for, builder_without_roots, tv_start, with_peers};

type Configure<'a> = Box<dyn FnOnce(BankIdConfigBuilder) -> BankIdConfigBuilder + 'a>;
type CustomizeLayer<'a, S> = Box<dyn FnOnce(BankIdLayer, S) -> BankIdLayer + 'a>;
type CustomizeCiba<'a> = Box<dyn FnOnce(CibaOptions) -> CibaOptions + 'a>;

/// What the app under test is made of. By default: `Simulator::builder()`,
/// a [`MemoryStore`] handed to the layer with `with_session_store`, the
/// configuration of [`builder_for`] (checked against the simulator's root)
/// with a post-logout redirect to the app's `/`, and the usual routes.
pub struct TestAppBuilder<'a, S = MemoryStore> {
    simulator: SimulatorBuilder,
    store: S,
    with_roots: bool,
    configure: Configure<'a>,
    customize_layer: Option<CustomizeLayer<'a, S>>,
    ciba: Option<CibaSetup<'a>>,
    routes: Router,
    sessions: Sessions,
    post_logout: bool,
}

/// CIBA on the layer: pending requests in the app's store, the simulator
/// asking to be polled every second.
struct CibaSetup<'a> {
    public_start: PublicCibaStart,
    customize: CustomizeCiba<'a>,
}

/// How the session layer is put around the app.
enum Sessions {
    /// `BankIdLayer::with_session_store`, the wiring the README shows.
    WithSessionStore,
    /// A `SessionManagerLayer` built by hand on its own memory store;
    /// axum-bankid is told a login store only if one is given.
    ByHand { login_store: Option<MemoryStore> },
    /// The wiring mistake: `with_session_store` added with `route_layer`,
    /// so the layer's own paths are not mounted.
    RouteLayer,
}

impl TestApp {
    /// The usual app; see [`TestAppBuilder`] for what can differ.
    pub fn builder<'a>() -> TestAppBuilder<'a> {
        TestAppBuilder {
            simulator: Simulator::builder(),
            store: MemoryStore::default(),
            with_roots: true,
            configure: Box::new(|builder| builder),
            customize_layer: None,
            ciba: None,
            routes: Router::new(),
            sessions: Sessions::WithSessionStore,
            post_logout: true,
        }
    }
}

impl<'a, S: SessionStore + Clone> TestAppBuilder<'a, S> {
    /// The simulator to start, set up as the test needs.
    pub fn simulator(self, simulator: SimulatorBuilder) -> Self {
        TestAppBuilder { simulator, ..self }
    }

    /// The session store (before [`Self::layer`], whose hook is handed it).
    pub fn store<T: SessionStore + Clone>(self, store: T) -> TestAppBuilder<'a, T> {
        assert!(self.customize_layer.is_none(), "set the store before the layer hook");
        TestAppBuilder {
            simulator: self.simulator,
            store,
            with_roots: self.with_roots,
            configure: self.configure,
            customize_layer: None,
            ciba: self.ciba,
            routes: self.routes,
            sessions: self.sessions,
            post_logout: self.post_logout,
        }
    }

    /// Changes the configuration before it is built.
    pub fn configure(self, configure: impl FnOnce(BankIdConfigBuilder) -> BankIdConfigBuilder + 'a) -> Self {
        TestAppBuilder { configure: Box::new(configure), ..self }
    }

    /// Changes the discovered layer (handed the store) before it is served.
    pub fn layer(self, customize: impl FnOnce(BankIdLayer, S) -> BankIdLayer + 'a) -> Self {
        TestAppBuilder { customize_layer: Some(Box::new(customize)), ..self }
    }

    /// CIBA on the layer, its public start route as a TV's ([`tv_start`]).
    pub fn ciba(self) -> Self {
        let ciba = self.ciba.unwrap_or_else(|| CibaSetup { public_start: tv_start(), customize: Box::new(|o| o) });
        TestAppBuilder { ciba: Some(ciba), ..self }
    }

    /// CIBA, with `customize` changing its options (callbacks, limits).
    pub fn ciba_options(self, customize: impl FnOnce(CibaOptions) -> CibaOptions + 'a) -> Self {
        let mut builder = self.ciba();
        builder.ciba.as_mut().unwrap().customize = Box::new(customize);
        builder
    }

    /// CIBA, with `public_start` as its public start route.
    pub fn public_ciba_start(self, public_start: PublicCibaStart) -> Self {
        let mut builder = self.ciba();
        builder.ciba.as_mut().unwrap().public_start = public_start;
        builder
    }

    /// `routes` merged into the usual ones (e.g. step-up routes).
    pub fn routes(self, routes: Router) -> Self {
        TestAppBuilder { routes: self.routes.merge(routes), ..self }
    }

    /// A configuration that names no root certificates.
    pub fn without_roots(self) -> Self {
        TestAppBuilder { with_roots: false, ..self }
    }

    /// A session layer built by hand (not `session_layer`), so axum-bankid
    /// is not told the store unless `login_store` is given.
    pub fn session_layer_by_hand(self, login_store: Option<MemoryStore>) -> Self {
        TestAppBuilder { sessions: Sessions::ByHand { login_store }, ..self }
    }

    /// The layer added with `route_layer` instead of `layer` (a wiring
    /// mistake the crate must name).
    pub fn route_layered(self) -> Self {
        TestAppBuilder { sessions: Sessions::RouteLayer, ..self }
    }

    /// A configuration without a post-logout redirect URI.
    pub fn without_post_logout_redirect(self) -> Self {
        TestAppBuilder { post_logout: false, ..self }
    }

    /// Starts the simulator and serves the app on a free loopback port.
    pub async fn start(self) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let redirect_uri = format!("{base}/auth/bankid/callback");
        let sim = start_simulator(self.simulator, self.ciba.is_some(), &redirect_uri).await;
        let base_builder = if self.with_roots { builder_for } else { builder_without_roots };
        let builder = base_builder(&sim, &redirect_uri);
        let builder = if self.post_logout { builder.post_logout_redirect_uri(format!("{base}/")) } else { builder };
        let config = (self.configure)(builder).build().unwrap();
        let layer = discover(config, &self.store, self.ciba, self.customize_layer).await;
        let ciba = layer.ciba();
        let app = app_routes().merge(self.routes);
        let (app, bankid) = match self.sessions {
            Sessions::ByHand { login_store } => (with_hand_built_sessions(app, layer, login_store), None),
            Sessions::WithSessionStore => {
                let layers = layer.with_session_store(self.store);
                let bankid = layers.bankid().clone();
                (app.layer(layers), Some(bankid))
            }
            Sessions::RouteLayer => (app.route_layer(layer.with_session_store(self.store)), None),
        };
        serve(listener, base, sim, app, ciba, bankid)
    }
}

/// The simulator started and told the app's redirect URI; with CIBA it asks
/// to be polled every second.
async fn start_simulator(simulator: SimulatorBuilder, ciba: bool, redirect_uri: &str) -> Simulator {
    let simulator = if ciba { simulator.ciba_interval(std::time::Duration::from_secs(1)) } else { simulator };
    let sim = simulator.start().await.unwrap();
    sim.allow_redirect_uri(redirect_uri);
    sim
}

/// The layer for `config`, with CIBA on `store` if asked, then the test's
/// own changes.
async fn discover<'a, S: SessionStore + Clone>(
    config: axum_bankid::BankIdConfig,
    store: &S,
    ciba: Option<CibaSetup<'a>>,
    customize: Option<CustomizeLayer<'a, S>>,
) -> BankIdLayer {
    let mut layer = BankIdLayer::discover(config).await.unwrap();
    if let Some(ciba) = ciba {
        let options = CibaOptions::new(store.clone()).public_start(ciba.public_start);
        layer = layer.with_ciba((ciba.customize)(options)).unwrap();
    }
    match customize {
        Some(customize) => customize(layer, store.clone()),
        None => layer,
    }
}

/// `app` behind `layer` and a session layer built by hand.
fn with_hand_built_sessions(app: Router, layer: BankIdLayer, login_store: Option<MemoryStore>) -> Router {
    let sessions = tower_sessions::SessionManagerLayer::new(MemoryStore::default())
        .with_name("bankid-session")
        .with_same_site(tower_sessions::cookie::SameSite::Lax)
        .with_secure(false);
    let layer = match login_store {
        Some(store) => layer.with_login_store(store),
        None => layer,
    };
    app.layer(layer).layer(sessions)
}

/// Serves `app` on `listener` and hands back a test browser (a client with a
/// cookie jar, following no redirects).
fn serve(
    listener: tokio::net::TcpListener,
    base: String,
    sim: Simulator,
    app: Router,
    ciba: Option<axum_bankid::ciba::Ciba>,
    bankid: Option<BankIdLayer>,
) -> TestApp {
    let server = tokio::spawn(async move {
        axum::serve(listener, with_peers(app)).await.unwrap();
    });
    let browser = Browser::new();
    let (client, jar) = (browser.client().clone(), Arc::clone(browser.jar()));
    TestApp { base, sim, browser, client, jar, ciba, bankid, server }
}
