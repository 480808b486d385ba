//! No token, code, verifier or secret reaches a log line, at any level.

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum_bankid_simulator::{Fault, SigningKey};
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

/// `len` bytes of lines and ANSI escapes, as a hostile provider or client
/// sends them.
fn hostile(len: usize) -> String {
    "kid\n\u{1b}[2J\u{1b}[31mred\r\n".repeat(len / 16 + 1)[..len].to_owned()
}

/// Runs `test` with this thread's log lines (`warn`, axum-bankid's from
/// `debug`) captured by the shared helper, and returns them.
async fn captured_logs(test: impl std::future::Future<Output = ()>) -> String {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let _scope = tracing::subscriber::set_default(common::logs::subscriber_into(&buffer));
    test.await;
    String::from_utf8(buffer.lock().unwrap().clone()).unwrap()
}

/// Every line of axum-bankid's is short and printable: no escape character
/// reached the log, and no line carries more than a few bounded values.
/// (The simulator's own lines, which echo what the test configured, are
/// not the relying party's.)
fn assert_bounded_lines(logs: &str) {
    let ours = || logs.lines().filter(|l| !l.contains(" axum_bankid_simulator"));
    assert!(ours().all(|l| !l.contains(['\u{1b}', '\r'])), "control characters reached the log");
    let longest = ours().max_by_key(|l| l.len()).unwrap_or_default();
    let start: String = longest.chars().take(300).collect();
    assert!(longest.len() < 2048, "a log line of {} bytes: {start}", longest.len());
}

/// Issue 20 item 16: a JWKS whose `kid` is 100 KiB of `\n`-laden text with
/// ANSI escapes, on a key that fails the certificate chain check (which
/// logs each refused key's `kid`): the `kid` reaches the log as one bounded
/// line. (A token cannot carry such a `kid`: tokens over 16 KiB are
/// refused as malformed before their header is read.)
#[tokio::test]
async fn an_attacker_sized_jwks_kid_is_logged_as_one_bounded_line() {
    let kid = hostile(100 * 1024);
    let logs = captured_logs(async {
        let sim = axum_bankid_simulator::Simulator::builder().fault(Fault::NoCertificateChain);
        let app = TestApp::builder().simulator(sim).start().await;
        app.sim.publish_keys(&[(SigningKey::Primary, &kid)]);
        app.sim.add_fault(Fault::RotatedKeys);
        let (status, body) = common::error_body(app.login_as("kari").await.response).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_id_token")), "{body}");
    })
    .await;
    let line = logs.lines().find(|l| l.contains("failed the certificate chain check") && l.contains("kid=kid"));
    let line = line.expect("the refused key is logged");
    let shown: String = kid.chars().filter(|c| !c.is_control()).take(64).collect();
    assert!(line.contains(&format!("kid={shown}…")), "{line}");
    assert_bounded_lines(&logs);
}

/// Issue 20 item 16: an `error_description` with newlines and ANSI escapes
/// as long as a callback URL can carry (URIs stop at 64 KiB) is logged and
/// shown bounded.
#[tokio::test]
async fn an_attacker_sized_error_description_on_the_callback_is_bounded() {
    let description = hostile(30 * 1024);
    let logs = captured_logs(async {
        let app = TestApp::builder().start().await;
        let authorize_url = app.begin_login("/me").await;
        let denied = app.authorize(&authorize_url, "kari", "deny").await;
        let forged = with_param(&denied, "error_description", Some(&description));
        let (status, body) = common::error_body(app.client.get(&forged).send().await.unwrap()).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("access_denied")), "{body}");
        assert!(body.to_string().len() < 1024, "the error body is bounded: {body}");
    })
    .await;
    let line = logs.lines().find(|l| l.contains("provider returned an error")).expect("the error is logged");
    let shown: String = description.chars().filter(|c| !c.is_control()).take(64).collect();
    assert!(line.contains(&format!("description={shown}…")), "{line}");
    assert_bounded_lines(&logs);
}
