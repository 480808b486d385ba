//! Login events (`BankIdLayer::on_event` and the `axum_bankid::event`
//! tracing target) end to end: each kind, from each flow, with its fields,
//! none carrying a token, a code or an identity number; and a slow
//! subscriber holds no request.

use crate::common;

use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum_bankid::Loa;
use axum_bankid::events::{LoginEvent, LoginFlow};
use axum_bankid::login_hook::LoginDecision;
use axum_bankid_simulator::{CibaBehavior, LogoutSubject, Simulator};
use common::logs::subscriber_into;
use common::{TestApp, location, param};
use reqwest::StatusCode;
use serde_json::Value;

/// The app's subscriber: every event, in order.
fn subscriber() -> (impl Fn(&LoginEvent) + Send + 'static, Receiver<LoginEvent>) {
    let (sender, events) = channel();
    let sender = Mutex::new(sender);
    (move |event: &LoginEvent| drop(sender.lock().unwrap().send(event.clone())), events)
}

/// The next event delivered (the subscriber's thread is not this one).
fn next(events: &Receiver<LoginEvent>) -> LoginEvent {
    events.recv_timeout(Duration::from_secs(10)).expect("an event")
}

/// The event lines (target `axum_bankid::event`) captured so far.
fn event_lines(buffer: &Arc<Mutex<Vec<u8>>>) -> Vec<String> {
    let text = String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned();
    text.lines().filter(|line| line.contains("axum_bankid::event")).map(str::to_owned).collect()
}

/// Whether one event line carries every `field=value` in `fields`.
fn has_line(lines: &[String], fields: &[&str]) -> bool {
    lines.iter().any(|line| fields.iter().all(|field| line.contains(field)))
}

/// An event's fields: name, flow, kind, level, `sub`.
type Fields<'a> = (&'static str, Option<LoginFlow>, Option<&'static str>, Option<Loa>, Option<&'a str>);

fn fields(event: &LoginEvent) -> Fields<'_> {
    (event.name(), event.flow(), event.kind(), event.loa(), event.sub())
}

fn nnin(user: &str) -> String {
    Simulator::default_users().iter().find(|u| u.id() == user).unwrap().nnin().to_owned()
}

async fn sub_of(app: &TestApp) -> String {
    let (status, me) = app.get_json("/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    me["sub"].as_str().unwrap().to_owned()
}

/// Code flow, a failed login, a step-up, a permission login, a refusal
/// and logout: each one event, to the subscriber and as a tracing event
/// with the stable fields — and no token, code or identity number in any.
#[tokio::test]
async fn every_code_flow_outcome_is_an_event_with_its_fields() {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let _scope = tracing::subscriber::set_default(subscriber_into(&buffer));
    let (on_event, events) = subscriber();
    let app = TestApp::builder()
        .configure(|builder| builder.scopes(["profile", "nnin_altsub"]))
        .layer(move |layer, _| {
            layer
                .on_login(|login| {
                    let refuse = login.flow() == LoginFlow::Permission;
                    async move { if refuse { LoginDecision::refuse("no_payments") } else { LoginDecision::allow() } }
                })
                .on_event(on_event)
                .unwrap()
        })
        .start()
        .await;

    let ok = app.login_as("kari").await;
    let sub = sub_of(&app).await;
    let succeeded = next(&events);
    let code_flow = ("login_succeeded", Some(LoginFlow::CodeFlow), None, Some(Loa::SUBSTANTIAL), Some(sub.as_str()));
    assert_eq!(fields(&succeeded), code_flow);

    let denied = app.login_with("kari", "deny", "/me").await;
    assert_eq!(denied.response.status(), StatusCode::FORBIDDEN);
    let failed = next(&events);
    assert_eq!(fields(&failed), ("login_failed", Some(LoginFlow::CodeFlow), Some("access_denied"), None, None));

    let authorize_url = app.begin_at("/auth/bankid/login?return_to=%2Fme&acr=4").await;
    let callback = app.authorize(&authorize_url, "kari", "approve").await;
    app.client.get(callback).send().await.unwrap();
    let step_up = next(&events);
    assert_eq!(
        fields(&step_up),
        ("login_succeeded", Some(LoginFlow::StepUp), None, Some(Loa::HIGH), Some(sub.as_str()))
    );

    let authorize_url = app.begin_at("/pay").await;
    let callback = app.authorize(&authorize_url, "kari", "approve").await;
    app.client.get(callback).send().await.unwrap();
    let refused = next(&events);
    assert_eq!(fields(&refused), ("login_failed", Some(LoginFlow::Permission), Some("login_refused"), None, None));

    let logout = app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    let logged_out = next(&events);
    assert_eq!(fields(&logged_out), ("logged_out", None, None, None, Some(sub.as_str())));

    let lines = event_lines(&buffer);
    let sub_field = format!("sub=\"{sub}\"");
    assert!(has_line(&lines, &["login_succeeded", "flow=\"code_flow\"", "loa=3", &sub_field]), "{lines:#?}");
    assert!(has_line(&lines, &["login_failed", "flow=\"code_flow\"", "kind=\"access_denied\""]), "{lines:#?}");
    assert!(has_line(&lines, &["login_succeeded", "flow=\"step_up\"", "loa=4"]), "{lines:#?}");
    assert!(has_line(&lines, &["login_failed", "flow=\"permission\"", "kind=\"login_refused\""]), "{lines:#?}");
    assert!(has_line(&lines, &["logged_out", &sub_field]), "{lines:#?}");
    let code = param(&ok.url, "code").unwrap();
    let hint = param(&location(&logout), "id_token_hint").unwrap();
    for secret in [code.as_str(), hint.as_str(), "eyJ", &nnin("kari"), app.sim.client_secret()] {
        assert!(!lines.iter().any(|line| line.contains(secret)), "an event line holds {secret:?}: {lines:#?}");
    }
    assert!(events.try_recv().is_err(), "one event each");
}

/// A back-channel logout is an event naming the `sub` it ended.
#[tokio::test]
async fn a_backchannel_logout_is_an_event() {
    let (on_event, events) = subscriber();
    let app = TestApp::builder()
        .simulator(Simulator::builder().backchannel_logout(true))
        .layer(move |layer, _| layer.on_event(on_event).unwrap())
        .start()
        .await;
    app.login_as("kari").await;
    let sub = sub_of(&app).await;
    assert_eq!(next(&events).name(), "login_succeeded");
    let url = app.url("/auth/bankid/backchannel-logout");
    let delivery = app.sim.send_backchannel_logout(LogoutSubject::Sub(sub.clone()), &url).await.unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.body);
    let ended = next(&events);
    assert_eq!(fields(&ended), ("backchannel_logout", None, None, None, Some(sub.as_str())));
    app.assert_logged_out().await;
}

/// A CIBA login that logs the session in is `login_succeeded` with flow
/// `ciba`; one denied on the phone is `login_failed` with CIBA's kind.
#[tokio::test]
async fn ciba_outcomes_are_events() {
    let (on_event, events) = subscriber();
    let app = TestApp::builder().ciba().layer(move |layer, _| layer.on_event(on_event).unwrap()).start().await;
    for (behavior, expected) in [(CibaBehavior::ApproveAfterPolls(0), "approved"), (CibaBehavior::Deny, "failed")] {
        app.sim.set_ciba_behavior("kari", behavior);
        let started = app.client.post(app.url("/auth/bankid/ciba")).json(&serde_json::json!({"nnin": nnin("kari")}));
        let handle =
            started.send().await.unwrap().json::<Value>().await.unwrap()["handle"].as_str().unwrap().to_owned();
        let mut status = Value::Null;
        for _ in 0..40 {
            status = app.get_json(&format!("/auth/bankid/ciba/{handle}")).await.1;
            if status["status"] != "pending" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(status["status"], expected, "{status}");
    }
    let sub = sub_of(&app).await;
    let succeeded = next(&events);
    assert_eq!(
        fields(&succeeded),
        ("login_succeeded", Some(LoginFlow::Ciba), None, Some(Loa::SUBSTANTIAL), Some(sub.as_str()))
    );
    let failed = next(&events);
    assert_eq!(fields(&failed), ("login_failed", Some(LoginFlow::Ciba), Some("denied"), None, None));
}

/// The subscriber runs on its own thread: one that takes seconds per event
/// does not slow a login down, and still gets every event.
#[tokio::test]
async fn a_slow_subscriber_holds_no_request() {
    let (sender, events) = channel();
    let sender = Mutex::new(sender);
    let app = TestApp::builder()
        .layer(move |layer, _| {
            layer
                .on_event(move |event: &LoginEvent| {
                    std::thread::sleep(Duration::from_secs(3));
                    let _ = sender.lock().unwrap().send(event.name());
                })
                .unwrap()
        })
        .start()
        .await;
    let started = Instant::now();
    app.login_as("kari").await;
    app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    app.login_as("ola").await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the logins waited for the subscriber: {:?}",
        started.elapsed()
    );
    let delivered: Vec<_> = (0..3).map(|_| events.recv_timeout(Duration::from_secs(15)).unwrap()).collect();
    assert_eq!(delivered, ["login_succeeded", "logged_out", "login_succeeded"]);
}
