//! No token, code, verifier or secret reaches a log line, at any level.

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum_bankid_simulator::Fault;
use common::{TestApp, param, with_param};
use reqwest::StatusCode;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_hold_no_secrets_at_trace_level() {
    let captured = Captured::default();
    let writer = captured.clone();
    // Scoped to this test's thread (its current-thread runtime runs the app
    // and the simulator): the binary's global subscriber is `common::logs`.
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("axum_bankid=trace,tower_sessions=trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _scope = tracing::subscriber::set_default(subscriber);

    let app = TestApp::builder().start().await;
    let ok = app.login_as("kari").await;
    assert_eq!(ok.response.status(), StatusCode::SEE_OTHER);
    let code = param(&ok.url, "code").unwrap();
    let cookie = app.session_cookie().unwrap();
    let session_id = cookie.split_once('=').unwrap().1.to_owned();
    let (_, me) = app.get_json("/me").await;
    assert_eq!(me["loa"], 3);
    // Failures log too; they must not log what they refused.
    app.sim.add_fault(Fault::BadSignature);
    app.login_as("kari").await;
    app.sim.clear_faults();
    app.sim.add_fault(Fault::TokenEndpointError);
    let failed = app.login_as("kari").await;
    let failed_code = param(&failed.url, "code").unwrap();
    app.sim.clear_faults();
    app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("BankID login verified"), "logging was captured:\n{logs}");
    for secret in [app.sim.client_secret(), code.as_str(), failed_code.as_str(), session_id.as_str(), "eyJ"] {
        assert!(!logs.contains(secret), "log contains {secret:?}:\n{logs}");
    }
}

/// A provider error whose `error` and `error_description` are long and full
/// of newlines (a forged callback URL) is logged as bounded single lines.
#[tokio::test]
async fn an_attacker_sized_provider_error_is_logged_as_bounded_lines() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("axum_bankid=trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _scope = tracing::subscriber::set_default(subscriber);
    let app = TestApp::builder().start().await;
    let authorize_url = app.begin_login("/me").await;
    let denied = app.authorize(&authorize_url, "kari", "deny").await;
    let forged = with_param(&denied, "error", Some(&"eeeeeee\n".repeat(512)));
    let forged = with_param(&forged, "error_description", Some(&"ddddddd\n".repeat(512)));
    let (status, body) = common::error_body(app.client.get(&forged).send().await.unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("provider_error")), "{body}");
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = logs.lines().find(|l| l.contains("provider returned an error")).expect("the error is logged");
    assert!(line.contains(&format!("error={}…", "e".repeat(64))), "{line}");
    assert!(line.contains(&format!("description={}…", "d".repeat(64))), "{line}");
    for letter in ["e", "d"] {
        assert!(!logs.contains(&letter.repeat(201)), "no line carries more than the cap of {letter}s:\n{logs}");
    }
}
