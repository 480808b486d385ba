//! Mistakes a newcomer makes when wiring the crate, each one caught at the
//! first request and explained (issue #11 item 6). Tests run in debug
//! builds, where the error body carries the fix as well as the log.

use crate::common;

use axum::Router;
use axum::routing::get;
use axum_bankid::{AuthenticatedUser, BankIdLayer};
use axum_bankid_simulator::Simulator;
use common::TestApp;
use reqwest::StatusCode;
use serde_json::Value;
use tower_sessions::MemoryStore;

/// How the app under test puts the layers together.
enum Wiring {
    /// No session layer at all.
    NoSessionLayer,
    /// `.layer(sessions).layer(bankid)`: BankIdLayer ends up outside.
    SessionLayerInside,
    /// `/late` is added after `.layer(bankid)`, so the layer does not wrap it.
    RouteAddedAfterTheLayer,
    /// `.route_layer(bankid)`: the layer wraps `/me` but not the fallback,
    /// so its own paths (login, callback, logout) are never mounted.
    RouteLayer,
    /// The layered router is nested under `/app`: the layer wraps
    /// `/app/me`, while browsers are sent to `/auth/bankid/login`, outside.
    NestedUnderPrefix,
    /// Wired right (`.layer(bankid).layer(sessions)`).
    Right,
}

struct App {
    base: String,
    _sim: Simulator,
    client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(wiring: Wiring) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let redirect_uri = format!("{base}/auth/bankid/callback");
    let sim = Simulator::start().await.unwrap();
    sim.allow_redirect_uri(&redirect_uri);
    let config = common::builder_for(&sim, &redirect_uri).build().unwrap();
    let (bankid, sessions) =
        BankIdLayer::discover(config).await.unwrap().with_session_store(MemoryStore::default()).into_parts();
    let me = get(|user: AuthenticatedUser| async move { user.sub.clone() });
    let app = match wiring {
        Wiring::NoSessionLayer => Router::new().route("/me", me).layer(bankid),
        Wiring::SessionLayerInside => Router::new().route("/me", me).layer(sessions).layer(bankid),
        Wiring::RouteAddedAfterTheLayer => {
            Router::new().route("/me", me.clone()).layer(bankid).route("/late", me).layer(sessions)
        }
        Wiring::RouteLayer => Router::new().route("/me", me).route_layer(bankid).layer(sessions),
        Wiring::NestedUnderPrefix => {
            Router::new().nest("/app", Router::new().route("/me", me).layer(bankid)).layer(sessions)
        }
        Wiring::Right => Router::new().route("/me", me).layer(bankid).layer(sessions),
    };
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    App { base, _sim: sim, client, server }
}

async fn json(client: &reqwest::Client, url: &str) -> (StatusCode, Value) {
    let response = client.get(url).header("accept", "application/json").send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

fn assert_misconfigured(answer: &(StatusCode, Value), detail: &str, advice: &str) {
    let (status, body) = answer;
    assert_eq!(*status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"], "misconfigured", "{body}");
    assert_eq!(body["detail"], detail, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(advice), "the body says what to change: {message}");
}

#[tokio::test]
async fn no_session_layer_is_named_with_the_fix() {
    let app = serve(Wiring::NoSessionLayer).await;
    let login = json(&app.client, &format!("{}/auth/bankid/login", app.base)).await;
    assert_misconfigured(&login, "no_session_layer", "with_session_store");
    let me = json(&app.client, &format!("{}/me", app.base)).await;
    assert_misconfigured(&me, "no_session_layer", "AFTER `.layer(bankid)`");
}

#[tokio::test]
async fn a_session_layer_inside_bankid_layer_is_named_with_the_fix() {
    let app = serve(Wiring::SessionLayerInside).await;
    let login = json(&app.client, &format!("{}/auth/bankid/login", app.base)).await;
    assert_misconfigured(&login, "no_session_layer", "last-added");
}

#[tokio::test]
async fn a_route_outside_bankid_layer_is_named_with_the_fix() {
    let app = serve(Wiring::RouteAddedAfterTheLayer).await;
    let late = json(&app.client, &format!("{}/late", app.base)).await;
    assert_misconfigured(&late, "no_bankid_layer", "before `.layer(bankid)`");
    // The wrapped route is unaffected: an ordinary 401.
    let (status, body) = json(&app.client, &format!("{}/me", app.base)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
}

#[tokio::test]
async fn a_login_started_on_localhost_for_a_127_0_0_1_redirect_uri_says_so() {
    let app = TestApp::builder().start().await;
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    // The browser opened the app as `localhost`; the redirect URI says 127.0.0.1.
    let browser =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap();
    let start = browser.get(format!("http://localhost:{port}/auth/bankid/login?return_to=/me")).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER, "the login itself starts");
    let authorize_url = start.headers()["location"].to_str().unwrap().to_owned();
    let page = browser.get(&authorize_url).send().await.unwrap().text().await.unwrap();
    let request = common::hidden_field(&page, "request");
    let approved = browser
        .post(format!("{}/authorize", app.sim.issuer()))
        .form(&[("request", request.as_str()), ("user", "kari"), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    let callback = approved.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&format!("http://127.0.0.1:{port}/")), "{callback}");

    let response = browser.get(&callback).header("accept", "application/json").send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unknown_state", "refused like any unknown state");
    assert_eq!(body["detail"], "no_login_cookie", "but told apart from one");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("same host as the redirect URI"), "{message}");
}

#[tokio::test]
async fn a_forged_state_with_the_login_cookie_is_still_unknown_state() {
    let app = TestApp::builder().start().await;
    let authorize_url = app.begin_login("/me").await;
    let callback = app.authorize(&authorize_url, "kari", "approve").await;
    let forged = common::with_param(&callback, "state", Some("forged-state-value-0000000"));
    let (status, body) = common::error_body(app.client.get(forged).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unknown_state");
    assert_eq!(body["detail"], Value::Null, "a cookie came back: no setup hint");
}

#[test]
fn the_providers_error_description_reaches_the_log_line() {
    // E.g. PAR refusing an unregistered redirect URI: the log line (the
    // error's Display) carries the provider's own explanation.
    let refused = axum_bankid::error::EndpointError::Rejected {
        error: "invalid_request".into(),
        description: Some("redirect_uri is not registered for this client".into()),
    };
    let logged = axum_bankid::error::Error::PushedAuthorization(refused).to_string();
    assert_eq!(
        logged,
        "pushed authorization request failed: the provider refused the request: invalid_request \
         (redirect_uri is not registered for this client)"
    );
}

/// What a browser does with a `SameSite=Strict` session cookie on the
/// redirect chain that started at BankID: it holds it back, while the
/// crate's `Lax` landing marker goes along. (reqwest ignores `SameSite`, so
/// the test sends what the browser would.)
#[tokio::test]
async fn a_session_cookie_held_back_after_login_is_named_with_the_fix() {
    let app = TestApp::builder().start().await;
    let callback = app.login_as("kari").await;
    let set_cookies: Vec<_> =
        callback.response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let marker = set_cookies.iter().find(|c| c.starts_with("bankid-landed=1")).expect("landing marker set");
    assert!(
        marker.contains("SameSite=Lax") && marker.contains("HttpOnly") && marker.contains("Max-Age=30"),
        "{marker}"
    );

    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // A browser navigation (what loops through login) is told why.
    let page = plain
        .get(app.url("/me"))
        .header("accept", "text/html")
        .header("cookie", "bankid-landed=1")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let html = page.text().await.unwrap();
    assert!(html.contains("SameSite=Strict") && html.contains("misconfigured"), "{html}");
    // An API client with the same cookies is just not logged in.
    let (status, body) = json_with_cookie(&plain, &app.url("/me"), "bankid-landed=1").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")), "{body}");

    // With the session cookie the login is there, marker or not.
    let (status, _) = app.get_json("/me").await;
    assert_eq!(status, StatusCode::OK);
    // Logging out clears the marker: a logged-out request is just that.
    let logout = app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    let cleared = logout.headers().get_all("set-cookie").iter().any(|v| {
        let v = v.to_str().unwrap();
        v.starts_with("bankid-landed=;") && v.contains("Max-Age=0")
    });
    assert!(cleared, "logout clears the landing marker");
    let (status, body) = json_with_cookie(&plain, &app.url("/me"), "").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
}

async fn json_with_cookie(client: &reqwest::Client, url: &str, cookie: &str) -> (StatusCode, Value) {
    let mut request = client.get(url).header("accept", "application/json");
    if !cookie.is_empty() {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

/// A browser navigation: `GET` with `Accept: text/html` and the given cookies.
async fn navigate(app: &App, path: &str, cookie: &str) -> reqwest::Response {
    let mut request = app.client.get(format!("{}{path}", app.base)).header("accept", "text/html");
    if !cookie.is_empty() {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

/// Whether `response` expires the "sent to login" marker.
fn removes_the_marker(response: &reqwest::Response) -> bool {
    set_cookies(response).iter().any(|c| c.starts_with("bankid-to-login=;") && c.contains("Max-Age=0"))
}

/// The "sent to login" marker a redirect to login set, as `name=value`.
fn sent_to_login_marker(response: &reqwest::Response) -> String {
    let cookies = set_cookies(response);
    let marker = cookies.iter().find(|c| c.starts_with("bankid-to-login=")).expect("the redirect sets the marker");
    assert!(marker.contains("SameSite=Lax") && marker.contains("HttpOnly") && marker.contains("Path=/"), "{marker}");
    marker.split(';').next().unwrap().to_owned()
}

/// Sends a browser to `/me`, follows it to the login route it is sent to,
/// and returns the login route's response and the marker the browser holds.
async fn sent_to_login(app: &App, protected: &str) -> (reqwest::Response, String) {
    let to_login = navigate(app, protected, "").await;
    assert_eq!(to_login.status(), StatusCode::SEE_OTHER);
    let location = to_login.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/auth/bankid/login?return_to="), "{location}");
    let marker = sent_to_login_marker(&to_login);
    (navigate(app, &location, &marker).await, marker)
}

/// `route_layer` (or a prefix) leaves the login route unmounted: the browser
/// sent there gets axum's plain 404 and nothing of the crate runs. It comes
/// back still carrying the marker the login route would have removed, and
/// is told why instead of being sent round the 404 again.
async fn assert_login_route_not_reached(wiring: Wiring, protected: &str) {
    let app = serve(wiring).await;
    let (login, marker) = sent_to_login(&app, protected).await;
    assert_eq!(login.status(), StatusCode::NOT_FOUND, "the login route is not mounted");
    // The browser comes back (a second later: within it, a second tab's
    // request could still be racing its own login request).
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let back = navigate(&app, protected, &marker).await;
    let answer = (back.status(), back.json().await.unwrap());
    assert_misconfigured(&answer, "login_route_not_reached", "not `.route_layer(bankid)`");
    assert!(answer.1["message"].as_str().unwrap().contains("/auth/bankid/login"), "names the login path");
    // An API client with the same cookie is just not logged in.
    let (status, body) = json_with_cookie(&app.client, &format!("{}{protected}", app.base), &marker).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")), "{body}");
}

#[tokio::test]
async fn route_layer_instead_of_layer_is_named_with_the_fix() {
    assert_login_route_not_reached(Wiring::RouteLayer, "/me").await;
}

#[tokio::test]
async fn a_bankid_layer_nested_under_a_prefix_is_named_with_the_fix() {
    assert_login_route_not_reached(Wiring::NestedUnderPrefix, "/app/me").await;
}

#[tokio::test]
async fn a_second_tab_racing_its_login_request_is_just_sent_to_login() {
    let app = serve(Wiring::RouteLayer).await;
    let to_login = navigate(&app, "/me", "").await;
    let marker = sent_to_login_marker(&to_login);
    // Straight back, before a second has passed: not (yet) a wiring mistake.
    let again = navigate(&app, "/me", &marker).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    // A marker the crate did not write (no time in it) is ignored too.
    let forged = navigate(&app, "/me", "bankid-to-login=yesterday").await;
    assert_eq!(forged.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_login_route_removes_the_marker_when_wired_right() {
    let app = serve(Wiring::Right).await;
    let (login, marker) = sent_to_login(&app, "/me").await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER, "on to the provider");
    assert!(removes_the_marker(&login), "the login route removes the marker: {:?}", set_cookies(&login));
    assert!(marker.starts_with("bankid-to-login="));
}

/// A degraded layer answers its login route with 503; that still counts as
/// reached, so the marker goes and the next visit is not called miswired.
#[tokio::test]
async fn a_login_route_answering_503_still_removes_the_marker() {
    let sim = Simulator::start().await.unwrap();
    sim.add_fault(axum_bankid_simulator::Fault::DiscoveryUnavailable);
    let config = common::builder_for(&sim, "http://127.0.0.1:1/auth/bankid/callback")
        .start_degraded(true)
        .discovery_backoff(std::time::Duration::from_millis(5))
        .build()
        .unwrap();
    let bankid = BankIdLayer::discover(config).await.unwrap();
    assert!(!bankid.health().ready, "degraded");
    let app = Router::new()
        .route("/me", get(|user: AuthenticatedUser| async move { user.sub.clone() }))
        .layer(bankid.with_session_store(MemoryStore::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = client
        .get(format!("{base}/auth/bankid/login"))
        .header("accept", "text/html")
        .header("cookie", "bankid-to-login=1")
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(removes_the_marker(&login), "a 503 from the login route removes the marker too");
    server.abort();
}
