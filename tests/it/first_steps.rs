//! What a new user tripped over, starting from `cargo new` with only the
//! README, the docs and the compiler (issue #22 item 8): pointing an app at
//! the simulator, a `route_layer`'d layer, provider refusals that said only
//! "try again", a LOA 4 minimum, a step-up at the simulator, and logout
//! without a post-logout redirect URI. Each over real HTTP against the
//! simulator.

use crate::common::{self, NOWHERE_CALLBACK, TestApp, location, logs};

use axum::Router;
use axum::routing::get;
use axum_bankid::step_up::{Loa4, StepUp};
use axum_bankid::{BankIdConfig, BankIdLayer, Loa};
use axum_bankid_simulator::Simulator;
use reqwest::StatusCode;

/// The values of `env` as `BankIdConfig::from_lookup` reads them.
fn lookup<'a>(env: &'a [(&'static str, String)]) -> impl Fn(&str) -> Option<String> + 'a {
    |name| env.iter().find(|(known, _)| *known == name).map(|(_, value)| value.clone())
}

/// The `BANKID_*` lines the simulator program prints (from
/// `Simulator::relying_party_env`) are a whole configuration for
/// `from_env`, and each variable `from_env` requires is among them: a
/// user who exports them and calls `BankIdConfig::from_env()` logs in.
#[tokio::test]
async fn the_simulators_printed_variables_are_everything_from_env_needs() {
    let sim = Simulator::start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("first-steps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root_file = dir.join("root.pem");
    std::fs::write(&root_file, sim.root_certificates_pem()).unwrap();
    let env = sim.relying_party_env(NOWHERE_CALLBACK, &root_file);

    let config = BankIdConfig::from_lookup(lookup(&env)).expect("the printed lines are a whole configuration");
    assert_eq!(config.redirect_uri().as_str(), NOWHERE_CALLBACK);
    BankIdLayer::discover(config).await.expect("discovery and the key chain check pass with the printed root file");

    for required in ["BANKID_ISSUER", "BANKID_CLIENT_ID", "BANKID_CLIENT_SECRET", "BANKID_REDIRECT_URI"] {
        let without: Vec<_> = env.iter().filter(|(name, _)| *name != required).cloned().collect();
        let refused = BankIdConfig::from_lookup(lookup(&without));
        assert!(refused.is_err(), "from_env requires {required}, and the simulator prints it");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `route_layer(bankid)`: the browser's first trip to the login route is
/// an empty 404 the layer never sees. The layer names the mistake from the
/// redirect alone, without waiting for a second navigation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_layered_layer_is_named_after_the_first_redirect_to_login() {
    let logs = logs::logs();
    let app = TestApp::builder().route_layered().start().await;
    let redirect_uri = app.url("/auth/bankid/callback");
    let line = |logs: &[u8]| {
        String::from_utf8_lossy(logs).lines().any(|line| {
            line.contains("ERROR")
                && line.contains("login_route_not_reached")
                && line.contains(&redirect_uri)
                && line.contains("not `.route_layer(bankid)`")
        })
    };

    let to_login = app.client.get(app.url("/me")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(to_login.status(), StatusCode::SEE_OTHER);
    let login = app.client.get(app.url(&location(&to_login))).header("accept", "text/html").send().await.unwrap();
    assert_eq!(login.status(), StatusCode::NOT_FOUND, "route_layer leaves the login route unmounted");

    for _ in 0..50 {
        if line(&logs.lock().unwrap()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no error naming the route_layer mistake after the first redirect");
}

/// Wired right, the same first redirect logs nothing of the kind: the
/// login request reaches the layer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_that_sees_its_login_route_reports_nothing() {
    let logs = logs::logs();
    let app = TestApp::builder().start().await;
    let redirect_uri = app.url("/auth/bankid/callback");
    let to_login = app.client.get(app.url("/me")).header("accept", "text/html").send().await.unwrap();
    let login = app.client.get(app.url(&location(&to_login))).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER, "to BankID");
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(!logged.lines().any(|line| line.contains("login_route_not_reached") && line.contains(&redirect_uri)));
}

/// A wrong client secret: the provider answers `invalid_client`. The debug
/// page names the code and what to check, the JSON body and the log carry
/// the code, and the secret is nowhere.
#[tokio::test]
async fn a_wrong_client_secret_is_named_by_its_oauth_code_but_never_shown() {
    const WRONG: &str = "not-the-secret-4711";
    let logs = logs::logs();
    let app = TestApp::builder().configure(|b| b.client_secret(WRONG)).start().await;

    let page = app.client.get(app.url("/auth/bankid/login")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_GATEWAY);
    let html = page.text().await.unwrap();
    assert!(html.contains("`invalid_client`") && html.contains("BANKID_CLIENT_SECRET"), "{html}");

    let json = app.client.get(app.url("/auth/bankid/login")).send().await.unwrap();
    let (_, body) = common::error_body(json).await;
    assert_eq!(body["detail"], "invalid_client", "{body}");

    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(logged.contains("invalid_client"), "the log carries the code");
    for text in [html.as_str(), &body.to_string(), &logged] {
        assert!(!text.contains(WRONG), "the secret leaked");
    }
}

/// `minimum_loa(4)` alone: a plain login asks for BankID High and
/// completes at LOA 4 (it used to ask for LOA 3 and fail `insufficient_loa`).
#[tokio::test]
async fn a_loa_4_minimum_alone_logs_in_at_loa_4() {
    let app = TestApp::builder().configure(|b| b.minimum_loa(Loa::HIGH)).start().await;
    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER, "{}", callback.url);
    let (status, me) = app.get_json("/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!((me["loa"].as_u64(), me["acr"].as_str()), (Some(4), Some("urn:bankid:bid;LOA=4")));
}

/// At the simulator, a step-up's login page starts with the person already
/// logged in in this browser (as BankID's own session would), so "Log in"
/// does not end in `subject_mismatch`.
#[tokio::test]
async fn the_simulator_preselects_the_logged_in_person_on_a_step_up() {
    let payout = Router::new().route("/payout", get(|_: StepUp<Loa4>| async { "paid out" }));
    let app = TestApp::builder().routes(payout).start().await;
    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);

    let to_login = app.client.get(app.url("/payout")).header("accept", "text/html").send().await.unwrap();
    let authorize_url = app.begin_at(&location(&to_login)).await;
    let html = app.client.get(&authorize_url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"value="kari" checked"#), "Kari, not the first BankID High user: {html}");
    let request = common::hidden_field(&html, "request");
    let form = [("request", request.as_str()), ("user", "kari"), ("decision", "approve")];
    let approved = app.client.post(format!("{}/authorize", app.sim.issuer())).form(&form).send().await.unwrap();
    let landed = app.client.get(location(&approved)).send().await.unwrap();
    assert_eq!(location(&landed), "/payout");
    assert_eq!(app.client.get(app.url("/payout")).send().await.unwrap().status(), StatusCode::OK);
}

/// Without a post-logout redirect URI, logout ends the login here and
/// sends the browser to `/`, not to the provider's page with no way back.
#[tokio::test]
async fn logout_without_a_post_logout_redirect_uri_stays_in_the_app() {
    let app = TestApp::builder().without_post_logout_redirect().start().await;
    app.login_as("kari").await;
    assert_eq!(app.get_json("/me").await.0, StatusCode::OK);
    let logout = app.client.post(app.url("/auth/bankid/logout")).header("origin", &app.base).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&logout), "/", "no provider round trip");
    app.assert_logged_out().await;
}
