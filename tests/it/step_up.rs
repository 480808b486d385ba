//! Step-up (RFC 9470) end to end: per-route LOA and recency requirements,
//! the new login that asks for them, the callback's checks and the API
//! challenge — app + simulator over loopback HTTP.

use crate::common;

use axum::routing::get;
use axum::{Json, Router, middleware};
use axum_bankid::{AuthenticatedUser, Loa4, LoggedInWithin, StepUp, require_step_up};
use axum_bankid_simulator::Fault;
use common::{TestApp, error_body, location};
use reqwest::StatusCode;

fn step_up_routes() -> Router {
    let guarded = Router::new()
        .route("/guarded-payout", get(|user: AuthenticatedUser| async move { Json(user) }))
        .route_layer(middleware::from_fn(require_step_up::<Loa4>));
    Router::new()
        .route("/payout", get(|user: StepUp<Loa4>| async move { Json(user.into_user()) }))
        .route("/recent", get(|user: StepUp<LoggedInWithin<300>>| async move { Json(user.into_user()) }))
        .route("/transfer", get(|user: StepUp<(Loa4, LoggedInWithin<300>)>| async move { Json(user.into_user()) }))
        .route(
            "/payout-maybe",
            get(|user: Option<StepUp<Loa4>>| async move { if user.is_some() { "high" } else { "below" } }),
        )
        .merge(guarded)
}

async fn start() -> TestApp {
    TestApp::builder().routes(step_up_routes()).start().await
}

/// A browser navigation to `path`; answers the response.
async fn navigate(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).header("accept", "text/html").send().await.unwrap()
}

/// Logs `user` in plainly (LOA of their own method) and checks it worked.
async fn log_in(app: &TestApp, user: &str) {
    let callback = app.login_as(user).await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER, "{}", callback.url);
}

/// Visits `path` as a browser, expects the step-up redirect to
/// `expected_login`, and completes that login as `user` at the simulator;
/// answers the app's response to the callback.
async fn step_up(app: &TestApp, path: &str, expected_login: &str, user: &str) -> reqwest::Response {
    let response = navigate(app, path).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path} should ask for a step-up");
    assert_eq!(location(&response), expected_login);
    let marks =
        response.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("bankid-to-login="));
    assert!(marks, "a step-up redirect sets the \"sent to login\" marker");
    assert!(app.cookie("bankid-to-login").is_some(), "the browser holds it");
    let authorize_url = app.begin_at(expected_login).await;
    assert_eq!(app.cookie("bankid-to-login"), None, "the login route removed the marker");
    let callback = app.authorize(&authorize_url, user, "approve").await;
    app.client.get(&callback).send().await.unwrap()
}

async fn me(app: &TestApp) -> serde_json::Value {
    let (status, me) = app.get_json("/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    me
}

#[tokio::test]
async fn loa3_user_steps_up_to_a_loa4_route_and_reaches_it() {
    let app = start().await;
    log_in(&app, "kari").await;
    assert_eq!(me(&app).await["loa"], 3);

    let landed = step_up(&app, "/payout", "/auth/bankid/login?return_to=%2Fpayout&acr=4", "kari").await;
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&landed), "/payout");
    let sent = app.sim.last_par_params().expect("pushed authorization request");
    assert_eq!(sent["acr_values"], "urn:bankid:bid");
    assert!(!sent.contains_key("login_hint"), "no legacy hint unless configured");
    assert!(!sent.contains_key("max_age"));

    let (status, user) = app.get_json("/payout").await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["loa"], 4);
    assert_eq!(user["acr"], "urn:bankid:bid;LOA=4");
    assert_eq!(user["name"], "Kari Nordmann");
}

#[tokio::test]
async fn an_anonymous_visitor_logs_in_at_the_routes_level_directly() {
    let app = start().await;
    let landed = step_up(&app, "/payout", "/auth/bankid/login?return_to=%2Fpayout&acr=4", "kari").await;
    assert_eq!(location(&landed), "/payout");
    assert_eq!(app.get_json("/payout").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_step_up_that_comes_back_at_loa3_is_refused_and_the_session_is_kept() {
    let app = start().await;
    log_in(&app, "kari").await;
    let before = me(&app).await;
    app.sim.add_fault(Fault::BelowAskedLevel);
    let refused = step_up(&app, "/payout", "/auth/bankid/login?return_to=%2Fpayout&acr=4", "kari").await;
    let (status, body) = error_body(refused).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "insufficient_loa");
    assert_eq!(me(&app).await, before, "the original login stays");
    assert_eq!(app.get_json("/payout").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn picking_bis_on_a_loa4_step_up_is_refused() {
    let app = start().await;
    log_in(&app, "kari").await;
    let authorize_url = app.begin_at("/auth/bankid/login?return_to=%2Fpayout&acr=4").await;
    let page = app.client.get(&authorize_url).send().await.unwrap().text().await.unwrap();
    let request_id = common::hidden_field(&page, "request");
    let form = [("request", request_id.as_str()), ("user", "kari"), ("method", "BIS"), ("decision", "approve")];
    let posted = app.client.post(format!("{}/authorize", app.sim.issuer())).form(&form).send().await.unwrap();
    let callback = location(&posted);
    let (status, body) = error_body(app.client.get(&callback).send().await.unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("insufficient_loa")));
    assert_eq!(me(&app).await["loa"], 3);
}

#[tokio::test]
async fn a_stale_login_on_a_recent_login_route_logs_in_again_with_max_age() {
    let app = start().await;
    // A login whose authentication happened ten minutes ago.
    app.sim.add_fault(Fault::StaleAuthTime);
    log_in(&app, "kari").await;
    app.sim.clear_faults();
    assert_eq!(app.get_json("/me").await.0, StatusCode::OK);

    let landed = step_up(&app, "/recent", "/auth/bankid/login?return_to=%2Frecent&acr=3&max_age=300", "kari").await;
    assert_eq!(location(&landed), "/recent");
    let sent = app.sim.last_par_params().unwrap();
    assert_eq!(sent["max_age"], "300");
    let (status, user) = app.get_json("/recent").await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["loa"], 3, "a recency step-up keeps the level");
}

async fn refused_after_max_age(fault: Fault, kind: &str) {
    let app = start().await;
    app.sim.add_fault(Fault::StaleAuthTime);
    log_in(&app, "kari").await;
    app.sim.clear_faults();
    let before = me(&app).await;
    app.sim.add_fault(fault);
    let refused = step_up(&app, "/recent", "/auth/bankid/login?return_to=%2Frecent&acr=3&max_age=300", "kari").await;
    let (status, body) = error_body(refused).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], kind);
    assert_eq!(me(&app).await, before, "the original login stays");
}

#[tokio::test]
async fn a_step_up_without_auth_time_after_max_age_is_refused() {
    refused_after_max_age(Fault::MissingAuthTime, "missing_auth_time").await;
}

#[tokio::test]
async fn a_step_up_whose_auth_time_is_older_than_max_age_is_refused() {
    refused_after_max_age(Fault::StaleAuthTime, "auth_time_too_old").await;
}

#[tokio::test]
async fn a_step_up_by_another_person_is_refused_and_the_original_login_kept() {
    let app = start().await;
    log_in(&app, "kari").await;
    let before = me(&app).await;
    let refused = step_up(&app, "/payout", "/auth/bankid/login?return_to=%2Fpayout&acr=4", "ola").await;
    let (status, body) = error_body(refused).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("subject_mismatch")));
    assert_eq!(me(&app).await, before);

    // The same, when the provider itself swaps the person.
    app.sim.add_fault(Fault::OtherPerson);
    let refused = step_up(&app, "/payout", "/auth/bankid/login?return_to=%2Fpayout&acr=4", "kari").await;
    assert_eq!(error_body(refused).await.1["error"], "subject_mismatch");
    assert_eq!(me(&app).await, before);
}

#[tokio::test]
async fn an_api_client_gets_the_rfc_9470_challenge() {
    let app = start().await;
    log_in(&app, "kari").await;
    let response = app.client.get(app.url("/payout")).header("accept", "application/json").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"insufficient_user_authentication\", \
         error_description=\"A different authentication level is required\", acr_values=\"urn:bankid:bid\""
    );
    let (_, body) = error_body(response).await;
    assert_eq!(body["error"], "insufficient_user_authentication");
    assert_eq!(body["acr_values"], "urn:bankid:bid");
    assert_eq!(body["login_url"], "/auth/bankid/login?return_to=%2Fpayout&acr=4");

    app.sim.add_fault(Fault::StaleAuthTime);
    log_in(&app, "kari").await;
    let response = app.client.get(app.url("/transfer")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"insufficient_user_authentication\", error_description=\"A different authentication level \
         and a more recent authentication are required\", acr_values=\"urn:bankid:bid\", max_age=\"300\""
    );
    assert_eq!(error_body(response).await.1["login_url"], "/auth/bankid/login?return_to=%2Ftransfer&acr=4&max_age=300");
}

#[tokio::test]
async fn an_optional_step_up_is_none_below_the_level() {
    // No selector: each user logs in with their own method (Ola: BankID
    // High), since `urn:bankid:bis` routes everyone to biometrics (LOA 3).
    let app = TestApp::builder().routes(step_up_routes()).configure(|b| b.acr_values(None::<String>)).start().await;
    let text = |r: reqwest::Response| async move { r.text().await.unwrap() };
    assert_eq!(text(app.client.get(app.url("/payout-maybe")).send().await.unwrap()).await, "below");
    log_in(&app, "kari").await;
    assert_eq!(text(app.client.get(app.url("/payout-maybe")).send().await.unwrap()).await, "below");
    log_in(&app, "ola").await;
    assert_eq!(text(app.client.get(app.url("/payout-maybe")).send().await.unwrap()).await, "high");
}

#[tokio::test]
async fn the_guard_middleware_steps_up_and_then_lets_through() {
    let app = start().await;
    log_in(&app, "kari").await;
    let (status, body) = app.get_json("/guarded-payout").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("insufficient_user_authentication")));
    let landed = step_up(&app, "/guarded-payout", "/auth/bankid/login?return_to=%2Fguarded-payout&acr=4", "kari").await;
    assert_eq!(location(&landed), "/guarded-payout");
    let response = app.client.get(app.url("/guarded-payout")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "private, no-store");
}

#[tokio::test]
async fn the_login_route_refuses_unknown_step_up_parameters() {
    let app = start().await;
    for query in ["acr=2", "acr=5", "acr=urn:bankid:bid", "max_age=-1", "max_age=86401", "acr=4&acr=3", "max_age=1e2"] {
        let response = app.client.get(app.url(&format!("/auth/bankid/login?{query}"))).send().await.unwrap();
        let (status, body) = error_body(response).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_step_up")), "{query}");
    }
}
