//! The login hook (`BankIdLayer::on_login`) end to end, for every way a user
//! logs in — code flow, step-up, permission login, CIBA: what it is shown
//! (the verified login and BankID's signed evidence), what an allow with
//! app data writes, and what a refusal does not.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum_bankid::LoginData;
use axum_bankid::events::LoginFlow;
use axum_bankid::login_hook::{LoginContext, LoginDecision};
use axum_bankid_simulator::{CibaBehavior, Simulator};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{TestApp, error_body, location, param, visit};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What one call of the hook was shown.
#[derive(Debug, Clone)]
struct Shown {
    flow: LoginFlow,
    sub: String,
    loa: u8,
    sid: Option<String>,
    auth_time: Option<i64>,
    nnin: Option<String>,
    id_token: String,
    grants: Vec<String>,
    debug: String,
}

type Seen = Arc<Mutex<Vec<Shown>>>;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Customer {
    id: u64,
}

fn nnin(user: &str) -> String {
    Simulator::default_users().iter().find(|u| u.id() == user).unwrap().nnin().to_owned()
}

/// An app whose hook records what it is shown and answers `decide`.
async fn app_with_hook(
    ciba: bool,
    decide: impl Fn(&LoginContext) -> LoginDecision + Send + Sync + 'static,
) -> (TestApp, Seen) {
    let seen: Seen = Arc::default();
    let recorder = Arc::clone(&seen);
    let decide = Arc::new(decide);
    let builder = TestApp::builder()
        .configure(|builder| builder.scopes(["profile", "nnin_altsub"]))
        .routes(customer_route())
        .layer(move |layer, _| {
            layer.on_login(move |login: LoginContext| {
                recorder.lock().unwrap().push(shown(&login));
                let decision = decide(&login);
                async move { decision }
            })
        });
    let builder = if ciba { builder.ciba() } else { builder };
    (builder.start().await, seen)
}

fn shown(login: &LoginContext) -> Shown {
    Shown {
        flow: login.flow(),
        sub: login.user().sub.clone(),
        loa: login.loa().get(),
        sid: login.sid().map(str::to_owned),
        auth_time: login.auth_time(),
        nnin: login.nnin().map(str::to_owned),
        id_token: login.signed_id_token().to_owned(),
        grants: login.signed_grants().to_vec(),
        debug: format!("{login:?}"),
    }
}

/// `/customer`: the customer id the hook kept with the login.
fn customer_route() -> Router {
    Router::new().route(
        "/customer",
        get(|LoginData(customer): LoginData<Customer>| async move {
            customer.map_or_else(|| "none".to_owned(), |c| c.id.to_string())
        }),
    )
}

/// The payload of a compact JWS (the crate verified its signature).
fn payload(jws: &str) -> Value {
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS: {} parts", parts.len());
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

fn only(seen: &Seen) -> Shown {
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "the hook ran once: {seen:?}");
    seen[0].clone()
}

async fn me(app: &TestApp) -> Value {
    let (status, me) = app.get_json("/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    me
}

async fn text(app: &TestApp, path: &str) -> String {
    app.client.get(app.url(path)).send().await.unwrap().text().await.unwrap()
}

/// The hook gets the ID token exactly as the simulator issued it for this
/// login: a 3-part JWS whose payload names the user logged in and carries
/// this login's nonce, and which is the token the session keeps (the one
/// logout sends back to BankID as `id_token_hint`).
#[tokio::test]
async fn a_code_flow_login_shows_the_hook_the_signed_id_token_it_issued() {
    let (app, seen) = app_with_hook(false, |_| LoginDecision::allow()).await;
    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    let me = me(&app).await;
    let shown = only(&seen);
    assert_eq!((shown.flow, shown.loa, shown.sub.as_str()), (LoginFlow::CodeFlow, 3, me["sub"].as_str().unwrap()));
    assert_eq!(shown.sid.as_deref(), me["sid"].as_str());
    assert!(shown.auth_time.is_some() && shown.grants.is_empty());
    assert_eq!(shown.nnin.as_deref(), Some(nnin("kari").as_str()));

    let claims = payload(&shown.id_token);
    assert_eq!((&claims["sub"], &claims["iss"]), (&me["sub"], &Value::from(app.sim.issuer())));
    let sent = app.sim.last_par_params().expect("a pushed authorization request");
    assert_eq!(claims["nonce"].as_str(), Some(sent["nonce"].as_str()), "this login's token");
    let logout = app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    assert_eq!(param(&location(&logout), "id_token_hint").as_deref(), Some(shown.id_token.as_str()));

    assert!(!shown.debug.contains("eyJ"), "Debug shows no evidence: {}", shown.debug);
    assert!(!shown.debug.contains(&nnin("kari")), "nor the identity number: {}", shown.debug);
}

/// The hook's data is written with the login and read back, typed, by a
/// handler; it goes with the login at logout.
#[tokio::test]
async fn allowed_data_is_kept_with_the_login_and_read_by_a_handler() {
    let kari = nnin("kari");
    let (app, _) = app_with_hook(false, move |login| match login.nnin() {
        Some(n) if n == kari => LoginDecision::allow_with(&Customer { id: 42 }),
        _ => LoginDecision::allow(),
    })
    .await;
    app.assert_logged_out().await;
    let anonymous = app.client.get(app.url("/customer")).header("accept", "application/json").send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "no login, no data");

    app.login_as("kari").await;
    assert_eq!(text(&app, "/customer").await, "42");
    // Another person's login through the same browser: no data of kari's.
    app.login_as("ola").await;
    assert_eq!(text(&app, "/customer").await, "none");
    app.login_as("kari").await;
    assert_eq!(text(&app, "/customer").await, "42");
    app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    let after = app.client.get(app.url("/customer")).header("accept", "application/json").send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

/// A refusal reaches the error page as `login_refused`, writes nothing (the
/// previous login and the app's session data stay, the session id is not
/// rotated) and spends the attempt: the callback cannot be replayed.
#[tokio::test]
async fn a_refused_login_writes_nothing_and_spends_the_attempt() {
    let ola = nnin("ola");
    let (app, seen) = app_with_hook(false, move |login| match login.nnin() {
        Some(n) if n == ola => LoginDecision::refuse("not_a_customer"),
        _ => LoginDecision::allow_with(&Customer { id: 7 }),
    })
    .await;
    app.login_as("kari").await;
    app.client.get(app.url("/note?set=basket")).send().await.unwrap();
    let before = (me(&app).await, app.cookie("bankid-session"));

    let refused = app.login_with("ola", "approve", "/me").await;
    let (status, body) = error_body(refused.response).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("login_refused")), "{body}");
    assert!(!body.to_string().contains("not_a_customer"), "the app's reason is for its handler: {body}");
    assert_eq!((me(&app).await, app.cookie("bankid-session")), before, "kari is still logged in, same session");
    assert_eq!(text(&app, "/note").await, "basket");
    assert_eq!(text(&app, "/customer").await, "7");

    let (replayed, kind) = visit(&app, &refused.url).await;
    assert_eq!((replayed, kind.as_str()), (StatusCode::BAD_REQUEST, "unknown_state"), "the attempt is spent");
    assert_eq!(seen.lock().unwrap().len(), 2, "the replay never reached the hook");
    assert_eq!(me(&app).await, before.0);
}

/// A first login refused leaves the browser logged out.
#[tokio::test]
async fn a_refused_first_login_leaves_nobody_logged_in() {
    let (app, _) = app_with_hook(false, |_| LoginDecision::refuse("closed")).await;
    let refused = app.login_as("kari").await;
    assert_eq!(refused.response.status(), StatusCode::FORBIDDEN);
    app.assert_logged_out().await;
}

/// The app's error handler gets the typed refusal with the hook's reason.
#[tokio::test]
async fn the_error_handler_gets_the_reason() {
    use axum::response::IntoResponse;
    let app = TestApp::builder()
        .layer(|layer, _| {
            layer.on_login(|_| async { LoginDecision::refuse("not_a_customer") }).with_error_handler(|err, headers| {
                match err {
                    axum_bankid::error::Error::LoginRefused { reason, .. } => {
                        (StatusCode::FORBIDDEN, format!("refused: {reason}")).into_response()
                    }
                    other => other.to_response(headers),
                }
            })
        })
        .start()
        .await;
    let refused = app.login_as("kari").await;
    assert_eq!(refused.response.status(), StatusCode::FORBIDDEN);
    assert_eq!(refused.response.text().await.unwrap(), "refused: not_a_customer");
}

/// A step-up runs the hook with its flow; refusing it keeps the login the
/// session had (at its level).
#[tokio::test]
async fn a_step_up_runs_the_hook_and_a_refusal_keeps_the_login_below() {
    let (app, seen) = app_with_hook(false, |login| match login.flow() {
        LoginFlow::StepUp => LoginDecision::refuse("no_step_up_today"),
        _ => LoginDecision::allow(),
    })
    .await;
    app.login_as("kari").await;
    let before = me(&app).await;
    let authorize_url = app.begin_at("/auth/bankid/login?return_to=%2Fme&acr=4").await;
    let callback = app.authorize(&authorize_url, "kari", "approve").await;
    let (status, body) = error_body(app.client.get(callback).send().await.unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("login_refused")));
    let step_up = seen.lock().unwrap()[1].clone();
    assert_eq!((step_up.flow, step_up.loa), (LoginFlow::StepUp, 4));
    assert_eq!(me(&app).await, before, "still the LOA 3 login");
}

/// A permission login shows the hook the signed grant it fetched from BIB;
/// allowed, the grant lands as usual.
#[tokio::test]
async fn a_permission_login_shows_the_hook_its_signed_grant() {
    let (app, seen) = app_with_hook(false, |_| LoginDecision::allow()).await;
    let authorize_url = app.begin_at("/pay-api").await;
    let callback = app.authorize(&authorize_url, "kari", "approve").await;
    let landed = app.client.get(callback).send().await.unwrap();
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    let shown = only(&seen);
    assert_eq!(shown.flow, LoginFlow::Permission);
    let (status, paid) = app.get_json(&location(&landed)).await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(shown.grants, [paid["signed_permission"].as_str().unwrap().to_owned()]);
    assert_eq!(payload(&shown.grants[0])["iss"].as_str(), Some(app.sim.bib_issuer().as_str()));
}

/// A refused permission login keeps no grant: its landing finds none.
#[tokio::test]
async fn a_refused_permission_login_keeps_no_grant() {
    let (app, _) = app_with_hook(false, |login| match login.flow() {
        LoginFlow::Permission => LoginDecision::refuse("no_payments"),
        _ => LoginDecision::allow(),
    })
    .await;
    let authorize_url = app.begin_at("/pay").await;
    let callback = app.authorize(&authorize_url, "kari", "approve").await;
    let (status, body) = error_body(app.client.get(&callback).send().await.unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("login_refused")));
    app.assert_logged_out().await;
    let cookies = app.session_cookie().unwrap_or_default();
    assert!(!cookies.contains("bankid-grant-"), "no grant cookie: {cookies}");
}

/// Starts a CIBA login of this browser as `user` and reads the status route
/// until a read is no longer pending (that read logs the session in, or
/// is refused); answers its status and body, and the status URL.
async fn ciba_login(app: &TestApp, user: &str) -> (StatusCode, Value, String) {
    app.sim.set_ciba_behavior(user, CibaBehavior::ApproveAfterPolls(0));
    let started = app.client.post(app.url("/auth/bankid/ciba")).json(&serde_json::json!({"nnin": nnin(user)}));
    let started = started.send().await.unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let handle = started.json::<Value>().await.unwrap()["handle"].as_str().unwrap().to_owned();
    let status_url = app.url(&format!("/auth/bankid/ciba/{handle}"));
    for _ in 0..40 {
        let response = app.client.get(&status_url).header("accept", "application/json").send().await.unwrap();
        let (status, body) = error_body(response).await;
        if status != StatusCode::OK || body["status"] != "pending" {
            return (status, body, status_url);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the CIBA login never finished");
}

/// A CIBA login runs the hook with BIB's signed ID token; its data is kept.
#[tokio::test]
async fn a_ciba_login_runs_the_hook_and_keeps_its_data() {
    let (app, seen) = app_with_hook(true, |_| LoginDecision::allow_with(&Customer { id: 9 })).await;
    let (status, body, _) = ciba_login(&app, "kari").await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("approved")), "{body}");
    let me = me(&app).await;
    assert_eq!(me["iss"].as_str(), Some(app.sim.bib_issuer().as_str()));
    let shown = only(&seen);
    assert_eq!(shown.flow, LoginFlow::Ciba);
    let claims = payload(&shown.id_token);
    assert_eq!((&claims["sub"], &claims["iss"]), (&me["sub"], &me["iss"]));
    assert_eq!(text(&app, "/customer").await, "9");
}

/// A refused CIBA login answers the status read that would have logged the
/// session in with `login_refused`, logs nobody in, and is spent: later
/// reads say `approved` and still log nobody in.
#[tokio::test]
async fn a_refused_ciba_login_logs_nobody_in() {
    let (app, seen) = app_with_hook(true, |_| LoginDecision::refuse("not_a_customer")).await;
    let (status, body, status_url) = ciba_login(&app, "kari").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("login_refused")), "{body}");
    app.assert_logged_out().await;
    let later: Value = app.client.get(&status_url).send().await.unwrap().json().await.unwrap();
    assert_eq!(later["status"], "approved");
    app.assert_logged_out().await;
    assert_eq!(seen.lock().unwrap().len(), 1, "the spent approval was not offered again");
}
