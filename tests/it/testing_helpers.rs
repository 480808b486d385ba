//! `axum_bankid::testing`: test logins over real HTTP against the
//! simulator, as an app's own tests use them — the cookie for `oneshot` on
//! the app's `Router`, a client for the served app, LOA 4, an old
//! `auth_time`, a granted permission, CIBA — and the typed errors when a
//! login cannot happen.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use axum_bankid::step_up::{LoggedInWithin, StepUp};
use axum_bankid::testing::{Step, TestLogin, TestLoginError};
use axum_bankid::{AuthenticatedUser, BankIdLayer, Loa};
use axum_bankid_simulator::Simulator;
use serde_json::Value;
use tower::ServiceExt;
use tower_sessions::MemoryStore;

use crate::common::{self, TestApp};

/// An app of its own (so the test holds its `Router`), served on loopback
/// and configured for `sim`: `/me` needs a login, `/recent` one from the
/// last five minutes.
async fn served_app(sim: &Simulator) -> (Router, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let callback = format!("{base}/auth/bankid/callback");
    sim.allow_redirect_uri(&callback);
    let config = common::builder_for(sim, &callback).build().unwrap();
    let bankid = BankIdLayer::discover(config).await.unwrap().with_session_store(MemoryStore::default());
    let app = Router::new()
        .route("/me", get(|user: AuthenticatedUser| async move { Json(user) }))
        .route("/recent", get(|user: StepUp<LoggedInWithin<300>>| async move { Json(user.into_user()) }))
        .layer(bankid);
    let served = app.clone();
    tokio::spawn(async move { axum::serve(listener, served).await.unwrap() });
    (app, base)
}

/// `GET path` on the `Router` itself, as an API client with `cookie`.
async fn oneshot(app: &Router, path: &str, cookie: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::get(path).header(header::ACCEPT, "application/json");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The parameters of the last authorization request: pushed (PAR), or in
/// the query.
fn authorization_request(sim: &Simulator) -> std::collections::BTreeMap<String, String> {
    let query = sim.last_authorize_params().unwrap();
    if query.contains_key("request_uri") { sim.last_par_params().unwrap() } else { query }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn the_cookie_logs_a_oneshot_request_on_the_router_in() {
    let sim = Simulator::start().await.unwrap();
    let (app, base) = served_app(&sim).await;
    assert_eq!(oneshot(&app, "/me", None).await.0, StatusCode::UNAUTHORIZED);

    let cookie = TestLogin::new(&base, &sim).user("ola").cookie().await.unwrap();
    let (status, me) = oneshot(&app, "/me", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["name"], "Ola Nordmann");
    let asked = authorization_request(&sim);
    assert_eq!(asked["redirect_uri"], format!("{base}/auth/bankid/callback"), "through the app's own login route");
}

#[tokio::test]
async fn the_client_holds_the_session_for_the_served_app() {
    let app = TestApp::builder().start().await;
    let client = TestLogin::new(&app.base, &app.sim).user("kari").client().await.unwrap();
    let me: Value = client.get(app.url("/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!((&me["name"], &me["loa"]), (&Value::from("Kari Nordmann"), &Value::from(3)));
    app.assert_logged_out().await;
}

#[tokio::test]
async fn loa_4_is_asked_through_the_login_route() {
    let app = TestApp::builder().start().await;
    let logged_in = app.test_login().user("kari").loa(Loa::HIGH).return_to("/me").log_in().await.unwrap();
    assert_eq!(logged_in.landing(), Some("/me"));
    assert_eq!(authorization_request(&app.sim)["acr_values"], "urn:bankid:bid");
    let (status, me) = app.get_json("/me").await;
    assert_eq!(
        (status, &me["loa"], &me["acr"]),
        (StatusCode::OK, &Value::from(4), &Value::from("urn:bankid:bid;LOA=4"))
    );
}

#[tokio::test]
async fn an_old_auth_time_fails_a_recency_step_up_and_a_fresh_one_passes() {
    let sim = Simulator::start().await.unwrap();
    let (app, base) = served_app(&sim).await;
    let hour = Duration::from_secs(3600);
    let stale = TestLogin::new(&base, &sim).auth_age(hour).cookie().await.unwrap();
    let (status, me) = oneshot(&app, "/me", Some(&stale)).await;
    assert_eq!(status, StatusCode::OK, "logged in: {me}");
    let auth_time = me["auth_time"].as_i64().unwrap();
    assert!((unix_now() - 3600 - auth_time).abs() <= 5, "auth_time an hour ago, got {auth_time}");
    let (status, refused) = oneshot(&app, "/recent", Some(&stale)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused["error"], "insufficient_user_authentication");
    assert_eq!(refused["max_age"], 300);

    let fresh = TestLogin::new(&base, &sim).cookie().await.unwrap();
    assert_eq!(oneshot(&app, "/recent", Some(&fresh)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_login_begun_at_a_permission_route_lands_on_its_grant() {
    let app = TestApp::builder().start().await;
    let payment = app.test_login().start_at("/pay").permission("payment.v1").log_in().await.unwrap();
    let landing = payment.landing().unwrap().to_owned();
    assert!(landing.starts_with("/paid?bankid_flow="), "{landing}");
    let (status, paid) = app.get_json(&landing).await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(paid["statement"]["amount"], "123.45");
    assert_eq!(paid["matches_own"], true);
}

#[tokio::test]
async fn a_permission_the_login_does_not_ask_for_stops_before_approval() {
    let app = TestApp::builder().start().await;
    let error = app.test_login().start_at("/pay").permission("card.v1").log_in().await.unwrap_err();
    assert_eq!(error.kind(), "permission_not_asked");
    assert!(app.sim.requests().iter().all(|r| !(r.path == "/authorize" && r.method == "POST")), "nothing approved");
    app.assert_logged_out().await;
}

#[tokio::test]
async fn ciba_logs_the_starting_session_in() {
    let app = TestApp::builder().ciba().start().await;
    let logged_in = app.test_login().user("kari").log_in_by_ciba().await.unwrap();
    assert_eq!(logged_in.landing(), None);
    let (status, me) = app.get_json("/me").await;
    assert_eq!((status, &me["loa"]), (StatusCode::OK, &Value::from(3)), "{me}");
    assert_eq!(app.sim.ciba_requests().len(), 1, "one request, approved on the phone");
}

#[tokio::test]
async fn a_cancelled_login_is_the_apps_refusal_and_logs_nobody_in() {
    let app = TestApp::builder().start().await;
    let error = app.test_login().deny().log_in().await.unwrap_err();
    match &error {
        TestLoginError::LoginRefused { status, error } => {
            assert!(status.is_client_error(), "{status}");
            assert_eq!(error.as_deref(), Some("access_denied"));
        }
        other => panic!("expected the app's refusal, got {other:?}"),
    }
    app.assert_logged_out().await;
}

#[tokio::test]
async fn bad_input_is_a_typed_error_and_changes_nothing() {
    let app = TestApp::builder().start().await;
    let unknown = app.test_login().user("nobody").log_in().await.unwrap_err();
    assert!(matches!(&unknown, TestLoginError::UnknownUser { user } if user == "nobody"), "{unknown:?}");
    let too_old = app.test_login().auth_age(Duration::from_secs(400 * 24 * 3600)).log_in().await.unwrap_err();
    assert!(matches!(&too_old, TestLoginError::SimulatorRefused { step: Step::Decision, .. }), "{too_old:?}");
    let not_a_login = app.test_login().start_at("/").log_in().await.unwrap_err();
    assert!(
        matches!(not_a_login, TestLoginError::UnexpectedAnswer { step: Step::LoginRoute, status } if status == 200)
    );
    let mixed = app.test_login().start_at("/pay").loa(Loa::HIGH).log_in().await.unwrap_err();
    assert_eq!(mixed.kind(), "invalid_url");
    assert_eq!(TestLogin::new("not a url", &app.sim).log_in().await.unwrap_err().kind(), "invalid_url");
    app.assert_logged_out().await;

    // A test user's decision goes to this simulator only.
    let other = Simulator::start().await.unwrap();
    let elsewhere = TestLogin::new(&app.base, &other).log_in().await.unwrap_err();
    assert_eq!(elsewhere.kind(), "not_the_simulator");
    assert!(other.requests().is_empty(), "nothing was sent to the other simulator");
}

#[tokio::test]
async fn no_cookie_or_code_is_printed() {
    let app = TestApp::builder().start().await;
    let logged_in = app.test_login().log_in().await.unwrap();
    let cookie = logged_in.cookie().to_owned();
    let session_id = cookie.split("; ").find_map(|pair| pair.split_once('=')).unwrap().1.to_owned();
    let printed = format!("{logged_in:?} {:?}", logged_in.browser());
    assert!(!printed.contains(&session_id), "{printed}");

    let visit = app.test_login().callback().await.unwrap();
    let code = common::param(visit.url(), "code").unwrap();
    assert!(!format!("{visit:?}").contains(&code));
    app.sim.add_fault(axum_bankid_simulator::Fault::LowAcr);
    let refused = app.test_login().log_in().await.unwrap_err();
    assert_eq!(refused.kind(), "login_refused");
    assert!(!format!("{refused:?} {refused}").contains("code="), "{refused:?}");
}
