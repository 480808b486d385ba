//! The code flow's callback and CIBA complete a login through one path:
//! the same check failure has the same `kind()` in both, and in both a
//! login whose session write failed does not report success.

use crate::common;

use std::time::Duration;

use axum_bankid::{LoginCheckError, ciba::CibaRequest, permission::LoginHint};
use axum_bankid_simulator::{CibaBehavior, Fault, Simulator};
use common::{TestApp, TroubleStore, error_body};
use reqwest::StatusCode;

fn nnin(user: &str) -> String {
    Simulator::default_users().iter().find(|u| u.id() == user).unwrap().nnin().to_owned()
}

/// The CIBA outcome of one approved request under the simulator's faults.
async fn ciba_failure(app: &TestApp) -> axum_bankid::ciba::CibaError {
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let ciba = app.ciba.clone().unwrap();
    let started = ciba.start(CibaRequest::new(LoginHint::Nnin(nnin("kari")))).await.unwrap();
    ciba.wait(&started.handle).await.unwrap_err()
}

/// The callback's JSON error under the simulator's faults.
async fn callback_failure(app: &TestApp) -> (StatusCode, serde_json::Value) {
    let result = error_body(app.login_as("kari").await.response).await;
    app.assert_logged_out().await;
    result
}

#[tokio::test]
async fn a_failed_check_has_one_kind_in_both_flows() {
    let app = TestApp::builder().ciba().start().await;
    for fault in [Fault::LowAcr, Fault::MissingAcr, Fault::WrongAudience] {
        app.sim.clear_faults();
        app.sim.add_fault(fault.clone());
        let (status, body) = callback_failure(&app).await;
        let ciba = ciba_failure(&app).await;
        let axum_bankid::ciba::CibaError::Check(check) = &ciba else {
            panic!("{fault:?}: not a check failure: {ciba:?}")
        };
        assert_eq!(body["error"], ciba.kind(), "{fault:?}: {body}");
        assert_eq!(check.kind(), ciba.kind(), "{fault:?}");
        assert_eq!(body["detail"].as_str(), check.detail(), "{fault:?}: {body}");
        let expected = if matches!(check, LoginCheckError::InvalidIdToken(_)) {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(status, expected, "{fault:?}: {body}");
    }
    app.sim.clear_faults();
    app.sim.add_fault(Fault::LowAcr);
    let (_, body) = callback_failure(&app).await;
    assert_eq!(body["error"], "insufficient_loa");
    assert!(matches!(
        ciba_failure(&app).await,
        axum_bankid::ciba::CibaError::Check(LoginCheckError::InsufficientLoa { found: Some(_), .. })
    ));
}

/// A store failure at the callback's session write is `503 session_error`,
/// and the session keeps the login it had.
#[tokio::test]
async fn a_callback_whose_session_write_fails_does_not_log_in() {
    let store: TroubleStore = TroubleStore::default();
    let app = TestApp::builder().store(store.clone()).ciba().start().await;
    assert!(app.login_as("kari").await.response.status().is_redirection());
    let session = app.cookie("bankid-session").expect("a session after login");
    *store.failing_record.lock().unwrap() = Some(session.clone());
    let (status, body) = error_body(app.login_as("ola").await.response).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("session_error")), "{body}");
    *store.failing_record.lock().unwrap() = None;
    let (status, me) = app.get_json("/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(app.cookie("bankid-session").as_deref(), Some(session.as_str()), "the session was not replaced");
}

/// Starts a CIBA request for Kari from `app`'s browser (approved at the
/// first poll); answers its status path.
async fn start_kari(app: &TestApp) -> String {
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let response =
        app.client.post(app.url("/auth/bankid/ciba")).json(&serde_json::json!({"nnin": nnin("kari")})).send().await;
    let started: serde_json::Value = response.unwrap().json().await.unwrap();
    format!("/auth/bankid/ciba/{}", started["handle"].as_str().unwrap())
}

/// Reads `path` until it is no longer pending; answers status and body
/// (`Null` for a body that is not JSON).
async fn read_until_done(app: &TestApp, path: &str) -> (StatusCode, serde_json::Value) {
    let mut answer = (StatusCode::OK, serde_json::Value::Null);
    for _ in 0..40 {
        let response = app.client.get(app.url(path)).header("accept", "application/json").send().await.unwrap();
        let status = response.status();
        answer = (status, response.json().await.unwrap_or(serde_json::Value::Null));
        if answer.1["status"] != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    answer
}

/// After a failed read, the store is back: the next read logs Kari in.
async fn assert_logged_in_once_the_store_is_back(app: &TestApp, path: &str) {
    let (code, body) = app.get_json(path).await;
    assert_eq!((code, body["status"].as_str()), (StatusCode::OK, Some("approved")), "{body}");
    let (code, me) = app.get_json("/me").await;
    assert_eq!(code, StatusCode::OK, "logged in once the store is back: {me}");
    assert_eq!(me["name"], "Kari Nordmann", "{me}");
}

/// CIBA's status read used to answer `approved` and log a warning when the
/// login could not be written; now it answers the store error, the session
/// keeps what it had, and a read after the store is back logs Kari in.
/// (The browser has a session already — Ola's login — so logging Kari in
/// must load it, and that load fails.)
#[tokio::test]
async fn a_ciba_login_whose_session_write_fails_is_not_approved() {
    let store: TroubleStore = TroubleStore::default();
    let app = TestApp::builder().store(store.clone()).ciba().start().await;
    assert!(app.login_as("ola").await.response.status().is_redirection());
    let session = app.cookie("bankid-session").expect("Ola's session");
    let path = start_kari(&app).await;
    *store.failing_record.lock().unwrap() = Some(session.clone());

    let (code, body) = read_until_done(&app, &path).await;
    assert_ne!(body["status"], "approved", "no success without the session write: {body}");
    assert_eq!((code, body["error"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("store_error")), "{body}");

    *store.failing_record.lock().unwrap() = None;
    let (_, me) = app.get_json("/me").await;
    assert_eq!(me["name"], "Ola Nordmann", "the session kept what it had: {me}");
    assert_logged_in_once_the_store_is_back(&app, &path).await;
}

/// The same when the session save itself fails: the status route saves the
/// login before answering (so it can give its login turn back, issue #20
/// item 6), answers `store_error`, and the browser still owns the request,
/// so the next read logs it in.
#[tokio::test]
async fn a_ciba_login_whose_session_save_fails_is_logged_in_by_the_next_read() {
    let store: TroubleStore = TroubleStore::default();
    let app = TestApp::builder().store(store.clone()).ciba().start().await;
    let path = start_kari(&app).await;
    store.refuse_logins.store(true, std::sync::atomic::Ordering::SeqCst);

    let (code, body) = read_until_done(&app, &path).await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("store_error")), "{body}");
    store.refuse_logins.store(false, std::sync::atomic::Ordering::SeqCst);
    app.assert_logged_out().await;
    assert_logged_in_once_the_store_is_back(&app, &path).await;
    let (code, body) = app.get_json(&path).await;
    assert_eq!((code, body["status"].as_str()), (StatusCode::OK, Some("approved")), "{body}");
}
