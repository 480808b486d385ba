//! Test harness: the embedded simulator and an axum app, both on loopback,
//! driven over real HTTP by a reqwest client with a cookie jar.

mod app_builder;
pub mod logs;
pub mod pki;
pub mod redis;
pub mod stores;

use std::sync::Arc;

use axum::extract::Query;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router, middleware};
use axum_bankid::testing::{AuthorizeStep, Browser, Decision, TestLogin};
use axum_bankid::{
    AuthenticatedUser, BankIdConfig, BankIdConfigBuilder, BankIdLayer, BankIdSession,
    permission::{Granted, Permission},
    require_authenticated,
};
use axum_bankid_simulator::Simulator;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_sessions::session::{Id, Record};
use tower_sessions::{MemoryStore, SessionStore};

pub struct TestApp {
    pub base: String,
    pub sim: Simulator,
    /// The test browser every login helper uses ([`axum_bankid::testing`]);
    /// `client` and `jar` are its parts.
    pub browser: Browser,
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    /// The CIBA client, when started with [`app_builder::TestAppBuilder::ciba`].
    pub ciba: Option<axum_bankid::ciba::Ciba>,
    /// The layer as served, when the app was made with `with_session_store`
    /// (for its login cache's statistics).
    pub bankid: Option<BankIdLayer>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The public start route of a TV that belongs to its user: the starting
/// session is logged in, and the limits are out of the tests' way.
pub fn tv_start() -> axum_bankid::ciba::PublicCibaStart {
    let minute = std::time::Duration::from_secs(60);
    axum_bankid::ciba::PublicCibaStart::new()
        .log_in_starting_session()
        .per_identity_limit(10_000, minute)
        .per_client_limit(10_000, minute)
}

/// Another instance of the service: its own layer (own caches, own
/// in-process state) on the same provider and the same store.
pub async fn other_instance<S: SessionStore + Clone>(sim: &Simulator, store: S) -> axum_bankid::ciba::Ciba {
    let options = axum_bankid::ciba::CibaOptions::new(store);
    BankIdLayer::discover(config_for(sim)).await.unwrap().with_ciba(options).unwrap().ciba().unwrap()
}

/// A second instance of the app (same routes, its own layer and caches) on
/// the same simulator and session store; answers at the returned base URL.
pub async fn second_server<S: SessionStore + Clone>(
    sim: &Simulator,
    store: S,
    customize: impl FnOnce(BankIdLayer, S) -> BankIdLayer,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = config_for(sim);
    let bankid = customize(BankIdLayer::discover(config).await.unwrap(), store.clone()).with_session_store(store);
    let app = app_routes().layer(bankid);
    tokio::spawn(async move { axum::serve(listener, with_peers(app)).await.unwrap() });
    base
}

/// The same browser uses its payment grant (landing at `landing`, e.g.
/// `/paid?bankid_flow=...`) on both instances at once; answers the two
/// statuses, sorted.
pub async fn use_grant_on_both(app: &TestApp, other_base: &str, landing: &str) -> [StatusCode; 2] {
    let (here, there) = tokio::join!(
        app.client.get(app.url(landing)).header("accept", "application/json").send(),
        app.client.get(format!("{other_base}{landing}")).header("accept", "application/json").send(),
    );
    let mut statuses = [here.unwrap().status(), there.unwrap().status()];
    statuses.sort();
    statuses
}

/// A CIBA customisation that sends every CIBA outcome to `sender`.
pub fn ciba_callback_into(
    sender: tokio::sync::mpsc::UnboundedSender<axum_bankid::ciba::CibaFinished>,
) -> impl Fn(axum_bankid::ciba::CibaOptions) -> axum_bankid::ciba::CibaOptions + Clone {
    move |options: axum_bankid::ciba::CibaOptions| {
        let sender = sender.clone();
        options.callback(move |finished: axum_bankid::ciba::CibaFinished| {
            let sender = sender.clone();
            async move {
                let _ = sender.send(finished);
            }
        })
    }
}

/// A session store with trouble switched on per test: reads that lag (like
/// a busy remote Redis: a reader can hold a snapshot taken before another
/// reader's write), one record whose reads take 4 s, and refused creates of
/// CIBA outcome records. Clones share the switches.
#[derive(Debug, Clone, Default)]
pub struct TroubleStore<S = MemoryStore> {
    inner: S,
    lag_reads: bool,
    /// Reads of the record with this id take 4 s.
    pub slow_record: Arc<std::sync::Mutex<Option<String>>>,
    /// The id of the last pending CIBA request created (its handle does not
    /// tell: the record id is keyed with the client credentials).
    pub last_ciba_record: Arc<std::sync::Mutex<Option<String>>>,
    /// This many creates of CIBA outcome records fail.
    pub failing_outcome_creates: Arc<std::sync::atomic::AtomicUsize>,
    /// Loads of the record with this id (a session cookie value) fail.
    pub failing_record: Arc<std::sync::Mutex<Option<String>>>,
    /// While set, writes of a session record holding a BankID login fail.
    pub refuse_logins: Arc<std::sync::atomic::AtomicBool>,
    /// While set, creates of a permission login's grants record fail.
    pub refuse_grants: Arc<std::sync::atomic::AtomicBool>,
}

impl<S> TroubleStore<S> {
    /// Every read answers 30 ms after it took its snapshot.
    pub fn lagging(inner: S) -> Self {
        TroubleStore { lag_reads: true, ..TroubleStore::new(inner) }
    }

    /// No trouble until a test switches some on.
    pub fn new(inner: S) -> Self {
        TroubleStore {
            inner,
            lag_reads: false,
            slow_record: Default::default(),
            last_ciba_record: Default::default(),
            failing_outcome_creates: Default::default(),
            failing_record: Default::default(),
            refuse_logins: Default::default(),
            refuse_grants: Default::default(),
        }
    }

    /// Whether writing `record` must fail now ([`Self::refuse_logins`]).
    fn refuses(&self, record: &Record) -> bool {
        self.refuse_logins.load(std::sync::atomic::Ordering::SeqCst) && record.data.contains_key("axum_bankid.login")
    }
}

#[async_trait::async_trait]
impl<S: SessionStore + Clone> SessionStore for TroubleStore<S> {
    async fn create(&self, record: &mut Record) -> tower_sessions::session_store::Result<()> {
        use std::sync::atomic::Ordering::SeqCst;
        let refuse = record.data.contains_key("axum_bankid.ciba_outcome")
            && self.failing_outcome_creates.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok();
        let refuse_grant = self.refuse_grants.load(SeqCst) && record.data.contains_key("axum_bankid.grants");
        if refuse || refuse_grant || self.refuses(record) {
            return Err(tower_sessions::session_store::Error::Backend("store unavailable".into()));
        }
        self.inner.create(record).await?;
        if record.data.contains_key("axum_bankid.ciba") {
            *self.last_ciba_record.lock().unwrap() = Some(record.id.to_string());
        }
        Ok(())
    }
    async fn save(&self, record: &Record) -> tower_sessions::session_store::Result<()> {
        if self.refuses(record) {
            return Err(tower_sessions::session_store::Error::Backend("store unavailable".into()));
        }
        self.inner.save(record).await
    }
    async fn load(&self, id: &Id) -> tower_sessions::session_store::Result<Option<Record>> {
        if self.failing_record.lock().unwrap().as_deref() == Some(id.to_string().as_str()) {
            return Err(tower_sessions::session_store::Error::Backend("store unavailable".into()));
        }
        let slow = self.slow_record.lock().unwrap().as_deref() == Some(id.to_string().as_str());
        if slow {
            tokio::time::sleep(std::time::Duration::from_secs(4)).await;
        }
        let snapshot = self.inner.load(id).await;
        if self.lag_reads {
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        }
        snapshot
    }
    async fn delete(&self, id: &Id) -> tower_sessions::session_store::Result<()> {
        self.inner.delete(id).await
    }
}

/// A memory store that also remembers each record's expiry, so tests can
/// check how long the store keeps what a request wrote.
#[derive(Debug, Clone, Default)]
pub struct ExpiryStore {
    inner: MemoryStore,
    expiries: Arc<std::sync::Mutex<std::collections::HashMap<Id, tower_sessions::cookie::time::OffsetDateTime>>>,
}

impl ExpiryStore {
    /// The expiry of every record the store holds.
    pub fn expiries(&self) -> Vec<tower_sessions::cookie::time::OffsetDateTime> {
        self.expiries.lock().unwrap().values().copied().collect()
    }

    /// The expiry of record `id` (as a session cookie value), if it exists.
    pub fn expiry_of(&self, cookie_value: &str) -> Option<tower_sessions::cookie::time::OffsetDateTime> {
        let id: Id = cookie_value.parse().ok()?;
        self.expiries.lock().unwrap().get(&id).copied()
    }
}

#[async_trait::async_trait]
impl SessionStore for ExpiryStore {
    async fn create(&self, record: &mut Record) -> tower_sessions::session_store::Result<()> {
        self.inner.create(record).await?;
        self.expiries.lock().unwrap().insert(record.id, record.expiry_date);
        Ok(())
    }
    async fn save(&self, record: &Record) -> tower_sessions::session_store::Result<()> {
        self.inner.save(record).await?;
        self.expiries.lock().unwrap().insert(record.id, record.expiry_date);
        Ok(())
    }
    async fn load(&self, id: &Id) -> tower_sessions::session_store::Result<Option<Record>> {
        self.inner.load(id).await
    }
    async fn delete(&self, id: &Id) -> tower_sessions::session_store::Result<()> {
        self.expiries.lock().unwrap().remove(id);
        self.inner.delete(id).await
    }
}

/// A builder pointed at both of `sim`'s providers with its client, and
/// `redirect_uri`.
/// The signing keys' certificate chains are checked against the
/// simulator's own root, as an app checks BankID's against BankID's roots.
pub fn builder_for(sim: &Simulator, redirect_uri: &str) -> BankIdConfigBuilder {
    builder_without_roots(sim, redirect_uri).root_certificates_pem(sim.root_certificates_pem())
}

/// [`builder_for`] without root certificates: keys trusted by TLS alone.
pub fn builder_without_roots(sim: &Simulator, redirect_uri: &str) -> BankIdConfigBuilder {
    BankIdConfig::builder()
        .issuer(sim.issuer())
        .bib_issuer(sim.bib_issuer())
        .client_id(sim.client_id())
        .client_secret(sim.client_secret())
        .redirect_uri(redirect_uri)
}

/// A redirect URI no app serves, for layers that are used without one.
pub const NOWHERE_CALLBACK: &str = "http://127.0.0.1:9/auth/bankid/callback";

/// A configuration whose issuer is a loopback port nobody listens on
/// (bound, then released), for discovery that must fail to connect.
pub fn config_for_dead_issuer() -> BankIdConfig {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    BankIdConfig::builder()
        .issuer(dead)
        .client_id("c")
        .client_secret("s")
        .redirect_uri("http://127.0.0.1:1/cb")
        .http_timeout(std::time::Duration::from_secs(2))
        .build()
        .unwrap()
}

/// A minimal valid configuration for `sim` (no app serves its redirect URI).
pub fn config_for(sim: &Simulator) -> BankIdConfig {
    builder_for(sim, NOWHERE_CALLBACK).build().unwrap()
}

/// `app` served with each connection's peer address, as the public CIBA
/// start route's default client-address source needs.
pub fn with_peers(
    app: Router,
) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, std::net::SocketAddr> {
    app.into_make_service_with_connect_info::<std::net::SocketAddr>()
}

/// A `payment.v1` statement, as a shop would declare it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub amount: String,
    pub currency: String,
    pub creditor: String,
}

impl Permission for Payment {
    const TYPE: &'static str = "payment.v1";
}

pub fn payment() -> Payment {
    Payment { amount: "123.45".into(), currency: "NOK".into(), creditor: "Nordmann Sko AS".into() }
}

/// Another permission type, for "grant of the wrong type" tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardAccess {
    pub card: String,
}

impl Permission for CardAccess {
    const TYPE: &'static str = "card.v1";
}

#[derive(Deserialize)]
struct PayQuery {
    app_callback_uri: Option<String>,
    /// Pays this amount instead of the default one.
    amount: Option<String>,
}

/// An order posted together with a grant (see `/pay-order`).
#[derive(Deserialize)]
struct Order {
    amount: String,
}

#[derive(Deserialize)]
struct NoteQuery {
    set: Option<String>,
}

/// Application data in the session: `/note?set=x` stores `x`, `/note` reads it.
async fn note(session: tower_sessions::Session, Query(q): Query<NoteQuery>) -> String {
    if let Some(value) = q.set {
        session.insert("app.note", &value).await.unwrap();
        return value;
    }
    session.get::<String>("app.note").await.unwrap().unwrap_or_default()
}

fn permission_routes() -> Router {
    Router::new()
        .route(
            "/pay",
            get(|bankid: BankIdSession, Query(q): Query<PayQuery>| async move {
                let amount = q.amount.unwrap_or_else(|| payment().amount);
                let mut request = bankid.request(Payment { amount, ..payment() }).return_to("/paid");
                if let Some(uri) = q.app_callback_uri {
                    request = request.app_callback_uri(uri);
                }
                request.start().await
            }),
        )
        .route(
            "/pay-api",
            get(|bankid: BankIdSession| async move {
                bankid.request(payment()).return_to("/paid").via_permission_api().start().await
            }),
        )
        // Lands and acts on the grant at once.
        .route(
            "/paid",
            get(|user: AuthenticatedUser, granted: Granted<Payment>| async move {
                granted.redeem().await?;
                Ok::<_, axum_bankid::error::Error>(Json(serde_json::json!({
                    "statement": granted.statement(),
                    "digest": granted.digest(),
                    "signed_permission": granted.signed_permission(),
                    "loa": user.loa,
                    "matches_other": granted.require(&Payment { amount: "999.00".into(), ..payment() }).is_ok(),
                    "matches_own": granted.require(&payment()).is_ok(),
                })))
            }),
        )
        .route("/card", get(|granted: Granted<CardAccess>| async move { granted.into_statement().card }))
        // A landing page that only shows the approved statement (safe to prefetch).
        .route("/review", get(|granted: Granted<Payment>| async move { Json(granted.statement().clone()) }))
        // Executes an order against the grant: a bad body must not cost the approval.
        .route(
            "/pay-order",
            axum::routing::post(|granted: Granted<Payment>, Json(order): Json<Order>| async move {
                if granted.require(&Payment { amount: order.amount, ..payment() }).is_err() {
                    return axum::http::StatusCode::CONFLICT.into_response();
                }
                match granted.redeem().await {
                    Ok(()) => Json(granted.statement().clone()).into_response(),
                    Err(err) => err.into_response(),
                }
            }),
        )
        // Redeems twice: the second call must fail, typed.
        .route(
            "/redeem-twice",
            get(|granted: Granted<Payment>| async move {
                granted.redeem().await.unwrap();
                granted.redeem().await
            }),
        )
        // Acts on the grant, then fails: the grant must still count as used.
        .route(
            "/paid-then-fail",
            get(|granted: Granted<Payment>| async move {
                granted.redeem().await.unwrap();
                axum::http::StatusCode::INTERNAL_SERVER_ERROR
            }),
        )
}

fn app_routes() -> Router {
    let guarded = Router::new()
        .route("/guarded", get(|| async { "members only" }))
        .route_layer(middleware::from_fn(require_authenticated));
    Router::new()
        .route("/", get(|| async { "home" }))
        .route("/me", get(|user: AuthenticatedUser| async move { Json(user) }))
        .route("/note", get(note))
        .route(
            "/maybe",
            get(|user: Option<AuthenticatedUser>| async move {
                user.and_then(|u| u.name.clone()).unwrap_or_else(|| "anonymous".to_owned())
            }),
        )
        .merge(guarded)
        .merge(permission_routes())
}

/// The outcome of driving one login to the app's callback.
pub struct Callback {
    /// The callback URL the simulator redirected to.
    pub url: String,
    /// The app's answer to it.
    pub response: Response,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Starts a login at the app and returns the authorize URL.
    pub async fn begin_login(&self, return_to: &str) -> String {
        let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
        let response =
            self.client.get(self.url(&format!("/auth/bankid/login?return_to={encoded}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        location(&response)
    }

    /// Starts a login at any app route that redirects to the provider.
    pub async fn begin_at(&self, path: &str) -> String {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path} should redirect to BankID");
        location(&response)
    }

    /// Decides the simulator's login step for `user` (`decision` is
    /// `approve` or `deny`) through `axum_bankid::testing`, and returns the
    /// callback URL it redirects to (not yet visited).
    pub async fn authorize(&self, authorize_url: &str, user: &str, decision: &str) -> String {
        let step =
            AuthorizeStep::open(&self.browser, &self.sim, authorize_url).await.expect("the simulator's login step");
        step.submit(&self.browser, decision_of(user, decision)).await.expect("the simulator takes the decision")
    }

    /// A whole login up to and including the app's callback.
    pub async fn login_as(&self, user: &str) -> Callback {
        self.login_with(user, "approve", "/me").await
    }

    /// A login through `axum_bankid::testing`: the login route with
    /// `return_to`, the simulator's step decided for `user`, the callback.
    pub async fn login_with(&self, user: &str, decision: &str, return_to: &str) -> Callback {
        let login = self.test_login().user(user).return_to(return_to);
        let login = match decision {
            "approve" => login,
            "deny" => login.deny(),
            other => panic!("a decision is approve or deny, not {other:?}"),
        };
        let visit = login.callback().await.expect("a login up to the callback");
        let url = visit.url().to_owned();
        let (response, _) = visit.into_parts();
        Callback { url, response }
    }

    /// A [`TestLogin`] at this app in this test's browser.
    pub fn test_login(&self) -> TestLogin<'_> {
        TestLogin::new(&self.base, &self.sim).browser(self.browser.clone())
    }

    /// GET as an API client (JSON).
    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let response = self.client.get(self.url(path)).header("accept", "application/json").send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The value of the cookie `name` the browser holds for the app, if any.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let all = self.session_cookie()?;
        all.split("; ").find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
    }

    /// The session cookie the browser currently holds.
    pub fn session_cookie(&self) -> Option<String> {
        let url = self.base.parse().unwrap();
        self.jar.cookies(&url).map(|v| v.to_str().unwrap().to_owned())
    }

    /// Polls `/me` until it answers `401` and says how long that took;
    /// fails if it takes longer than `limit` (the login cache's TTL plus
    /// slack, for a logout made on another instance).
    pub async fn logged_out_within(&self, limit: std::time::Duration) -> std::time::Duration {
        let start = std::time::Instant::now();
        loop {
            let (status, body) = self.get_json("/me").await;
            if status == StatusCode::UNAUTHORIZED {
                assert_eq!(body["error"], "unauthenticated");
                return start.elapsed();
            }
            assert_eq!(status, StatusCode::OK, "{body}");
            assert!(start.elapsed() <= limit, "still logged in {:?} later", start.elapsed());
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    /// Asserts that no login is in the session.
    pub async fn assert_logged_out(&self) {
        let (status, body) = self.get_json("/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "expected no login, /me said {body}");
        assert_eq!(body["error"], "unauthenticated");
    }
}

/// The simulator form's `decision` value as a [`Decision`].
fn decision_of(user: &str, decision: &str) -> Decision {
    match decision {
        "approve" => Decision::approve(user),
        "deny" => Decision::deny(),
        other => panic!("a decision is approve or deny, not {other:?}"),
    }
}

/// Visits a callback URL and returns (status, Location or error kind).
pub async fn visit(app: &TestApp, callback_url: &str) -> (StatusCode, String) {
    let response = app.client.get(callback_url).send().await.unwrap();
    let status = response.status();
    if status == StatusCode::SEE_OTHER {
        return (status, location(&response));
    }
    let (_, body) = error_body(response).await;
    (status, body["error"].as_str().unwrap_or_default().to_owned())
}

pub fn location(response: &Response) -> String {
    response.headers().get("location").expect("a Location header").to_str().unwrap().to_owned()
}

/// Reads `<input type="hidden" name="NAME" value="...">` without caring about
/// attribute order.
pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no field {name} in {html}"));
    let tag_start = html[..start].rfind('<').unwrap();
    let tag_end = start + html[start..].find('>').unwrap();
    let tag = &html[tag_start..tag_end];
    let value_at = tag.find("value=\"").expect("value attribute") + 7;
    let value_end = value_at + tag[value_at..].find('"').unwrap();
    tag[value_at..value_end].to_owned()
}

/// Reads the JSON error body of an app response and checks it leaks nothing.
pub async fn error_body(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(!text.contains("eyJ"), "error body must not contain a JWT: {text}");
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON error body, got {text}")))
}

/// Replaces (or removes, with `None`) one query parameter of a URL.
pub fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> =
        parsed.query_pairs().filter(|(k, _)| k != name).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    {
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, v);
        }
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    parsed.to_string()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
