//! The session status route and idle expiry (issue #22 item 4): what a page
//! needs to warn before an idle logout (WCAG 2.2.1), over real HTTP.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{TestApp, error_body};

const STATUS: &str = "/auth/bankid/session";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn status(app: &TestApp) -> Value {
    let response = app.client.get(app.url(STATUS)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn touch(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client.post(app.url(STATUS)).header("origin", origin).send().await.unwrap()
}

async fn idle_app(idle_secs: u64) -> TestApp {
    TestApp::builder().configure(move |b| b.idle_timeout(Duration::from_secs(idle_secs))).start().await
}

#[tokio::test]
async fn without_a_login_the_status_says_so_and_nothing_else() {
    let app = TestApp::builder().start().await;
    assert_eq!(status(&app).await, serde_json::json!({"logged_in": false}));
}

#[tokio::test]
async fn a_login_shows_its_level_and_ends_but_no_identity_unless_asked() {
    let app = TestApp::builder().start().await;
    app.login_as("kari").await;
    let body = status(&app).await;
    assert_eq!((body["logged_in"].as_bool(), body["loa"].as_u64()), (Some(true), Some(3)), "{body}");
    assert!(body["auth_time"].as_i64().is_some_and(|t| (now() - t).abs() < 60), "{body}");
    // The default max_login_age: 8 hours from the login.
    let ends = body["expires_at"].as_i64().unwrap();
    assert!((ends - (now() + 8 * 3600)).abs() < 60, "{body}");
    assert_eq!((&body["idle_expires_at"], &body["idle_timeout"]), (&Value::Null, &Value::Null));
    assert!(body.get("sub").is_none(), "no identity data by default: {body}");

    let app = TestApp::builder().configure(|b| b.session_status_identity(true)).start().await;
    app.login_as("kari").await;
    let (_, me) = app.get_json("/me").await;
    assert_eq!(status(&app).await["sub"], me["sub"]);
}

/// Reading the status never extends the login: a page that polls it does
/// not keep an idle user logged in.
#[tokio::test]
async fn an_idle_login_ends_even_while_its_status_is_read() {
    let app = idle_app(3).await;
    app.login_as("kari").await;
    let first = status(&app).await;
    assert_eq!(first["idle_timeout"], 3);
    let deadline = first["idle_expires_at"].as_i64().unwrap();
    assert!((deadline - (now() + 3)).abs() <= 2, "{first}");
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(status(&app).await["idle_expires_at"], deadline, "a read does not move the deadline");
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(status(&app).await, serde_json::json!({"logged_in": false}));
    app.assert_logged_out().await;
}

/// An authenticated request extends the deadline; without one the login
/// ends, and a later request does not bring it back.
#[tokio::test]
async fn activity_extends_an_idle_login_and_idleness_ends_it() {
    let app = idle_app(4).await;
    app.login_as("kari").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.get_json("/me").await.0, StatusCode::OK);
    // Past the first deadline (4 s after the login), alive thanks to /me.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let body = status(&app).await;
    assert_eq!(body["logged_in"], true, "extended by the request at 2.5 s: {body}");
    tokio::time::sleep(Duration::from_millis(3000)).await;
    app.assert_logged_out().await;
    assert_eq!(status(&app).await["logged_in"], false);
}

/// `POST` is the "stay logged in" button: it extends, from this origin only.
#[tokio::test]
async fn a_post_extends_the_deadline_and_a_cross_site_post_changes_nothing() {
    let app = idle_app(4).await;
    app.login_as("kari").await;
    let before = status(&app).await["idle_expires_at"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let refused = touch(&app, "https://evil.example").await;
    let (code, body) = error_body(refused).await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("cross_site_request")), "{body}");
    assert_eq!(status(&app).await["idle_expires_at"], before, "the refused POST moved nothing");
    let touched = touch(&app, &app.base).await;
    assert_eq!(touched.status(), StatusCode::OK);
    let after: Value = touched.json().await.unwrap();
    assert!(after["idle_expires_at"].as_i64().unwrap() > before, "{after}");
    // Past the first deadline, alive thanks to the POST.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(app.get_json("/me").await.0, StatusCode::OK);
}

/// Extending writes only the login's activity record, never the session: a
/// burst of authenticated requests racing a logout cannot write the login
/// back.
#[tokio::test]
async fn requests_extending_the_deadline_never_undo_a_concurrent_logout() {
    let app = idle_app(4).await;
    app.login_as("kari").await;
    // Past the first step, so that every request below writes the record.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let requests = (0..16).map(|_| app.client.get(app.url("/me")).header("accept", "application/json").send());
    let logout = app.client.post(app.url("/auth/bankid/logout")).send();
    let (answers, logout) = tokio::join!(futures_util::future::join_all(requests), logout);
    assert_eq!(logout.unwrap().status(), StatusCode::SEE_OTHER);
    assert!(answers.iter().all(|r| r.as_ref().is_ok_and(|r| r.status().as_u16() < 500)));
    app.assert_logged_out().await;
    assert_eq!(status(&app).await["logged_in"], false);
}
