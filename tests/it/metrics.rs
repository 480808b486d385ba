//! The `metrics` feature: exact counts after real logins against the
//! simulator over HTTP, and a latency sample for each provider endpoint
//! called.
//!
//! Each test installs its own `DebuggingRecorder` for its thread only
//! (`metrics::set_default_local_recorder`): `#[tokio::test]` runs the app,
//! the layer's tasks and the test on that one thread, and tests running in
//! parallel on other threads record nothing here. A snapshot drains what
//! was recorded, so each step is checked on its own.

use crate::common;

use axum::routing::get;
use axum::{Json, Router};
use axum_bankid::ciba::CibaRequest;
use axum_bankid::permission::LoginHint;
use axum_bankid::step_up::{Loa4, StepUp};
use axum_bankid_simulator::{CibaBehavior, Fault, LogoutSubject, Simulator};
use common::{TestApp, error_body, location, with_param};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};
use reqwest::StatusCode;

/// What the recorder saw since the last look.
struct Seen(Vec<(CompositeKey, DebugValue)>);

fn take(snapshotter: &Snapshotter) -> Seen {
    Seen(snapshotter.snapshot().into_vec().into_iter().map(|(key, _, _, value)| (key, value)).collect())
}

impl Seen {
    /// The counter `name` with exactly these labels (0 if never counted).
    fn count(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.0
            .iter()
            .filter(|(key, _)| key.kind() == MetricKind::Counter && has(key, name, labels))
            .map(|(_, value)| match value {
                DebugValue::Counter(n) => *n,
                other => panic!("{name} is not a counter: {other:?}"),
            })
            .sum()
    }

    /// Latency samples of calls to `endpoint` with this outcome.
    fn samples(&self, endpoint: &str, outcome: &str) -> usize {
        let labels = [("endpoint", endpoint), ("outcome", outcome)];
        self.0
            .iter()
            .filter(|(key, _)| {
                key.kind() == MetricKind::Histogram && has(key, "bankid_provider_request_duration_seconds", &labels)
            })
            .map(|(_, value)| match value {
                DebugValue::Histogram(seconds) => {
                    assert!(seconds.iter().all(|s| s.0 >= 0.0 && s.0 < 60.0), "{seconds:?}");
                    seconds.len()
                }
                other => panic!("not a histogram: {other:?}"),
            })
            .sum()
    }

    /// Every endpoint that has latency samples, sorted.
    fn endpoints(&self) -> Vec<String> {
        let mut endpoints: Vec<String> = self
            .0
            .iter()
            .filter(|(key, value)| key.kind() == MetricKind::Histogram && !is_empty(value))
            .flat_map(|(key, _)| key.key().labels().filter(|l| l.key() == "endpoint").map(|l| l.value().to_owned()))
            .collect();
        endpoints.sort();
        endpoints.dedup();
        endpoints
    }

    /// Every label value recorded, for checking that none is personal.
    fn label_values(&self) -> Vec<String> {
        self.0.iter().flat_map(|(key, _)| key.key().labels().map(|l| l.value().to_owned())).collect()
    }
}

fn has(key: &CompositeKey, name: &str, labels: &[(&str, &str)]) -> bool {
    let mut own: Vec<(&str, &str)> = key.key().labels().map(|l| (l.key(), l.value())).collect();
    let mut wanted = labels.to_vec();
    own.sort();
    wanted.sort();
    key.key().name() == name && own == wanted
}

fn is_empty(value: &DebugValue) -> bool {
    matches!(value, DebugValue::Histogram(samples) if samples.is_empty())
}

const STARTED: &str = "bankid_logins_started_total";
const SUCCEEDED: &str = "bankid_logins_succeeded_total";
const FAILED: &str = "bankid_logins_failed_total";

#[tokio::test]
async fn start_up_times_discovery_and_key_fetches_and_counts_them_as_refreshes() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let _app = TestApp::builder().start().await;
    let seen = take(&snapshotter);
    assert_eq!(seen.samples("discovery", "ok"), 1);
    assert_eq!(seen.samples("bib_discovery", "ok"), 1);
    let refreshes =
        |endpoint| seen.count("bankid_discovery_refreshes_total", &[("endpoint", endpoint), ("outcome", "ok")]);
    assert_eq!((refreshes("discovery"), refreshes("bib_discovery")), (1, 1));
    let jwks = seen.samples("jwks", "ok");
    assert!(jwks >= 1, "{:?}", seen.endpoints());
    assert_eq!(seen.count("bankid_jwks_refreshes_total", &[("endpoint", "jwks"), ("outcome", "ok")]), jwks as u64);
    assert_eq!(seen.count(STARTED, &[("flow", "code")]), 0, "no login yet");
}

#[tokio::test]
async fn a_code_flow_login_counts_one_start_and_one_success() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = TestApp::builder().start().await;
    take(&snapshotter);

    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    let seen = take(&snapshotter);
    assert_eq!(seen.count(STARTED, &[("flow", "code")]), 1);
    assert_eq!(seen.count(SUCCEEDED, &[("flow", "code")]), 1);
    assert_eq!(seen.count(FAILED, &[("flow", "code"), ("kind", "unknown_state")]), 0);
    assert_eq!(seen.count("bankid_step_ups_total", &[("outcome", "started")]), 0, "not a step-up");
    assert_eq!(seen.samples("token", "ok"), 1, "one code exchange");
    assert_eq!(seen.endpoints(), ["par", "token"], "PAR, then the token endpoint; nothing else is called");
    assert_eq!(seen.samples("par", "ok"), 1);

    // A repeat of the completed callback lands again but is no second login.
    app.client.get(&callback.url).send().await.unwrap();
    let seen = take(&snapshotter);
    assert_eq!(seen.count(SUCCEEDED, &[("flow", "code")]), 0);
}

#[tokio::test]
async fn a_callback_whose_state_this_browser_never_started_counts_as_failed_by_kind() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = TestApp::builder().start().await;
    let authorize_url = app.begin_login("/me").await;
    let callback = app.authorize(&authorize_url, "kari", "approve").await;
    take(&snapshotter);

    let forged = with_param(&callback, "state", Some("not-the-state-this-browser-started"));
    let response = app.client.get(&forged).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let seen = take(&snapshotter);
    assert_eq!(seen.count(FAILED, &[("flow", "code"), ("kind", "unknown_state")]), 1);
    assert_eq!(seen.count(SUCCEEDED, &[("flow", "code")]), 0);
    assert_eq!(seen.samples("token", "ok"), 0, "refused before the code is exchanged");
    assert!(!seen.label_values().iter().any(|v| v.contains("not-the-state")), "{:?}", seen.label_values());
}

#[tokio::test]
async fn a_token_endpoint_failure_is_timed_as_an_error_and_counted_under_the_pages_kind() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = TestApp::builder().start().await;
    app.sim.add_fault(Fault::TokenEndpointServerError);
    take(&snapshotter);

    let callback = app.login_as("kari").await;
    let (status, body) = error_body(callback.response).await;
    assert!(status.is_server_error(), "{status} {body}");
    let kind = body["error"].as_str().unwrap();
    let seen = take(&snapshotter);
    assert_eq!(seen.count(FAILED, &[("flow", "code"), ("kind", kind)]), 1, "the kind the error page shows");
    assert_eq!((seen.samples("token", "error"), seen.samples("token", "ok")), (1, 0));
    assert_eq!(seen.count(SUCCEEDED, &[("flow", "code")]), 0);
}

#[tokio::test]
async fn a_step_up_to_loa_4_counts_as_started_and_succeeded() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let payout = Router::new().route("/payout", get(|user: StepUp<Loa4>| async move { Json(user.into_user()) }));
    let app = TestApp::builder().routes(payout).start().await;
    assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER);
    take(&snapshotter);

    let asked = app.client.get(app.url("/payout")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(asked.status(), StatusCode::SEE_OTHER, "a LOA 3 login is sent to step up");
    let authorize_url = app.begin_at(&location(&asked)).await;
    let callback = app.authorize(&authorize_url, "kari", "approve").await;
    assert_eq!(location(&app.client.get(&callback).send().await.unwrap()), "/payout");
    let seen = take(&snapshotter);
    assert_eq!(seen.count("bankid_step_ups_total", &[("outcome", "started")]), 1);
    assert_eq!(seen.count("bankid_step_ups_total", &[("outcome", "succeeded")]), 1);
    assert_eq!((seen.count(STARTED, &[("flow", "code")]), seen.count(SUCCEEDED, &[("flow", "code")])), (1, 1));
}

#[tokio::test]
async fn a_permission_api_grant_and_its_redeems_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = TestApp::builder().start().await;
    take(&snapshotter);

    let authorize_url = app.begin_at("/pay-api").await;
    let callback = app.authorize(&authorize_url, "kari", "approve").await;
    let landed = app.client.get(&callback).send().await.unwrap();
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    let seen = take(&snapshotter);
    assert_eq!(seen.count("bankid_permission_grants_total", &[("flow", "code")]), 1);
    assert_eq!(seen.count(SUCCEEDED, &[("flow", "code")]), 1);
    for endpoint in ["client_credentials_token", "permission_register", "par", "token", "permission_grant"] {
        assert!(seen.samples(endpoint, "ok") >= 1, "{endpoint}: {:?}", seen.endpoints());
    }
    let fetched = seen.count(
        "bankid_client_credentials_token_fetches_total",
        &[("endpoint", "client_credentials_token"), ("outcome", "ok")],
    );
    assert_eq!(fetched, 1, "one token for the registration and the grant");

    // `/redeem-twice` redeems, then tries again: one use, one refusal.
    let twice = location(&landed).replacen("/paid", "/redeem-twice", 1);
    let (status, _) = app.get_json(&twice).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let seen = take(&snapshotter);
    assert_eq!(seen.count("bankid_permission_redeems_total", &[("outcome", "redeemed")]), 1);
    assert_eq!(seen.count("bankid_permission_redeems_total", &[("outcome", "already_redeemed")]), 1);
}

fn request(user: &str) -> CibaRequest {
    let user = Simulator::default_users().iter().find(|u| u.id() == user).unwrap();
    CibaRequest::new(LoginHint::Nnin(user.nnin().to_owned()))
}

#[tokio::test]
async fn ciba_logins_count_their_outcome_by_kind() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = TestApp::builder().ciba().start().await;
    let ciba = app.ciba.clone().unwrap();
    take(&snapshotter);

    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let started = ciba.start(request("kari")).await.unwrap();
    ciba.wait(&started.handle).await.unwrap();
    let seen = take(&snapshotter);
    assert_eq!(seen.count(STARTED, &[("flow", "ciba")]), 1);
    assert_eq!(seen.count(SUCCEEDED, &[("flow", "ciba")]), 1);
    assert_eq!(seen.count("bankid_ciba_outcomes_total", &[("outcome", "approved")]), 1);
    assert_eq!(seen.count(STARTED, &[("flow", "code")]), 0);
    for endpoint in [
        "client_credentials_token",
        "permission_user_exists",
        "permission_register",
        "ciba_backchannel_authentication",
        "ciba_token",
    ] {
        assert!(seen.samples(endpoint, "ok") >= 1, "{endpoint}: {:?}", seen.endpoints());
    }

    app.sim.set_ciba_behavior("kari", CibaBehavior::Deny);
    let started = ciba.start(request("kari")).await.unwrap();
    assert_eq!(ciba.wait(&started.handle).await.unwrap_err().kind(), "denied");
    let seen = take(&snapshotter);
    assert_eq!(seen.count("bankid_ciba_outcomes_total", &[("outcome", "denied")]), 1);
    assert_eq!(seen.count(FAILED, &[("flow", "ciba"), ("kind", "denied")]), 1);
    assert_eq!(seen.count(SUCCEEDED, &[("flow", "ciba")]), 0);

    // Refused before BIB accepted a request: no start, one outcome.
    assert_eq!(ciba.start(request("nina")).await.unwrap_err().kind(), "user_not_enrolled");
    let seen = take(&snapshotter);
    assert_eq!(seen.count("bankid_ciba_outcomes_total", &[("outcome", "user_not_enrolled")]), 1);
    assert_eq!(seen.count(FAILED, &[("flow", "ciba"), ("kind", "user_not_enrolled")]), 1);
    assert_eq!(seen.count(STARTED, &[("flow", "ciba")]), 0);
    assert_eq!(seen.samples("permission_user_exists", "ok"), 1);
}

#[tokio::test]
async fn back_channel_logouts_count_accepted_and_refused_by_kind() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = TestApp::builder().simulator(Simulator::builder().backchannel_logout(true)).start().await;
    app.login_as("kari").await;
    let (_, me) = app.get_json("/me").await;
    take(&snapshotter);

    let token = app.sim.logout_token(&LogoutSubject::Sub(me["sub"].as_str().unwrap().to_owned()), None);
    let target = app.url("/auth/bankid/backchannel-logout");
    assert_eq!(app.sim.post_logout_token(&target, &token).await.unwrap().status, 200);
    assert_eq!(app.sim.post_logout_token(&target, &token).await.unwrap().status, 400, "a replay");
    let seen = take(&snapshotter);
    assert_eq!(seen.count("bankid_backchannel_logouts_total", &[("outcome", "accepted")]), 1);
    assert_eq!(seen.count("bankid_backchannel_logouts_total", &[("outcome", "logout_token_replayed")]), 1);
    let sub = me["sub"].as_str().unwrap();
    assert!(!seen.label_values().iter().any(|v| v.contains(sub)), "no user in a label");
}
