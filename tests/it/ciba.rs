//! CIBA end to end against the simulator's backchannel endpoint and phone.

use crate::common;
use crate::common::logs;

use std::str::FromStr;
use std::time::Duration;

use axum_bankid::error::{CibaError, IdTokenError, LoginCheckError};
use axum_bankid::{
    BankIdLayer, Loa,
    ciba::{Ciba, CibaFinished, CibaHandle, CibaRequest, CibaStatus},
    permission::{BibAcr, LoginHint},
};
use axum_bankid_simulator::{CibaBehavior, Endpoint, Fault, SigningAlgorithm, Simulator};
use common::{TestApp, TroubleStore};
use reqwest::StatusCode;
use tower_sessions::MemoryStore;

fn nnin(user: &str) -> String {
    Simulator::default_users().iter().find(|u| u.id() == user).unwrap().nnin().to_owned()
}

fn request(user: &str) -> CibaRequest {
    CibaRequest::new(LoginHint::Nnin(nnin(user)))
}

fn ciba(app: &TestApp) -> Ciba {
    app.ciba.clone().expect("CIBA enabled")
}

/// Registrations (and so CIBA requests) that expire after 4 s.
fn short_registrations(builder: axum_bankid::BankIdConfigBuilder) -> axum_bankid::BankIdConfigBuilder {
    let mut api = axum_bankid::permission::PermissionApiConfig::default();
    api.registration_lifetime = Duration::from_secs(4);
    builder.permission_api(api)
}

#[tokio::test]
async fn approved_on_the_phone() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(1));
    let started = ciba(&app).start(request("kari")).await.unwrap();
    let user = ciba(&app).wait(&started.handle).await.unwrap();
    assert_eq!(user.loa, Loa::SUBSTANTIAL);
    assert_eq!(user.name.as_deref(), Some("Kari Nordmann"));
    assert_eq!(user.nnin_altsub.as_deref(), Some(nnin("kari").as_str()), "sub_nnin is surfaced");
    assert_eq!(app.sim.request_count(Endpoint::UserExists), 1);
    let sent = &app.sim.ciba_requests()[0];
    assert_eq!(sent.binding_message.as_deref(), Some(started.binding_message.as_str()), "BankID made it");
    assert_ne!(sent.auth_req_id, started.handle.as_str(), "the handle is not the auth_req_id");
}

/// BIB's discovery is refreshed like BankID OIDC's: when BIB moves from
/// RS256 to ES256, CIBA logins go on without restarting the layer.
#[tokio::test]
async fn bib_moving_from_rs256_to_es256_is_followed_without_a_restart() {
    let sim = Simulator::builder().ciba_interval(Duration::from_secs(1)).signing_algorithm(SigningAlgorithm::Rs256);
    let with_ciba =
        |layer: BankIdLayer, store: MemoryStore| layer.with_ciba(axum_bankid::ciba::CibaOptions::new(store)).unwrap();
    let app = TestApp::builder().simulator(sim).layer(with_ciba).start().await;
    for alg in [SigningAlgorithm::Rs256, SigningAlgorithm::Es256] {
        app.sim.set_signing_algorithm(alg);
        app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
        let started = ciba(&app).start(request("kari")).await.unwrap();
        let user = ciba(&app).wait(&started.handle).await.unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(user.name.as_deref(), Some("Kari Nordmann"), "{alg:?}");
    }
}

/// The `acr_values` of the last registration BIB received, if it had any.
fn registered_acr_values(app: &TestApp) -> Option<serde_json::Value> {
    let register = app.sim.requests().into_iter().rfind(|r| r.method == "POST" && r.path.ends_with("/permissions/"))?;
    let body: serde_json::Value = serde_json::from_str(&register.body).unwrap();
    body.get("acr_values").cloned()
}

#[tokio::test]
async fn a_forced_step_up_to_bankid_high_reaches_loa_4() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let started = ciba(&app).start(request("kari").acr_value(BibAcr::High)).await.unwrap();
    let user = ciba(&app).wait(&started.handle).await.unwrap();
    assert_eq!(registered_acr_values(&app), Some(serde_json::json!(["urn:bankid:bih"])), "a JSON array");
    assert_eq!((user.loa, user.acr.as_str()), (Loa::HIGH, "urn:bankid:bih"), "the named guess, from BIB");
}

#[tokio::test]
async fn a_layer_that_needs_loa_4_forces_bankid_high_over_ciba() {
    let app = TestApp::builder().ciba().configure(|b| b.minimum_loa(Loa::HIGH)).start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let started = ciba(&app).start(request("kari")).await.unwrap();
    assert_eq!(ciba(&app).wait(&started.handle).await.unwrap().loa, Loa::HIGH);
    assert_eq!(registered_acr_values(&app), Some(serde_json::json!(["urn:bankid:bih"])));
}

#[tokio::test]
async fn biometrics_is_not_enough_where_loa_4_is_required() {
    let app = TestApp::builder().ciba().configure(|b| b.minimum_loa(Loa::HIGH)).start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    // Allowing biometrics lets BIB end at LOA 3, which the policy refuses.
    let both = request("kari").acr_value(BibAcr::High).acr_value(BibAcr::Biometrics);
    let started = ciba(&app).start(both).await.unwrap();
    assert_eq!(registered_acr_values(&app), Some(serde_json::json!(["urn:bankid:bih", "urn:bankid:bis"])));
    let err = ciba(&app).wait(&started.handle).await.unwrap_err();
    assert_eq!(err.kind(), "insufficient_loa");
    assert_eq!(
        err,
        CibaError::Check(LoginCheckError::InsufficientLoa { required: Loa::HIGH, found: Some(Loa::SUBSTANTIAL) })
    );
}

#[tokio::test]
async fn a_plain_ciba_login_sends_no_acr_values() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let started = ciba(&app).start(request("kari")).await.unwrap();
    assert_eq!(ciba(&app).wait(&started.handle).await.unwrap().acr, "urn:bankid:bis");
    assert_eq!(registered_acr_values(&app), None, "BIB's default");
}

/// Logs the test browser's session in through the CIBA routes as `user`.
async fn log_in_by_ciba(app: &TestApp, user: &str) {
    app.sim.set_ciba_behavior(user, CibaBehavior::ApproveAfterPolls(0));
    let response = app
        .client
        .post(app.url("/auth/bankid/ciba"))
        .json(&serde_json::json!({"nnin": nnin(user)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let handle = response.json::<serde_json::Value>().await.unwrap()["handle"].as_str().unwrap().to_owned();
    for _ in 0..40 {
        let (_, status) = app.get_json(&format!("/auth/bankid/ciba/{handle}")).await;
        if status["status"] == "approved" {
            return;
        }
        assert_eq!(status["status"], "pending", "{status}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the CIBA login never finished");
}

/// Identity is (`iss`, `sub`): a CIBA login is BIB's, a code-flow step-up
/// BankID OIDC's, and their `sub`s are not comparable — so the step-up is
/// refused rather than guessed, and the CIBA login stays.
#[tokio::test]
async fn a_code_flow_step_up_after_a_ciba_login_is_a_subject_mismatch() {
    let app = TestApp::builder().ciba().start().await;
    log_in_by_ciba(&app, "kari").await;
    let (_, before) = app.get_json("/me").await;
    assert_eq!(before["iss"], app.sim.bib_issuer());
    let authorize_url = app.begin_at("/auth/bankid/login?return_to=%2Fme&acr=4").await;
    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    let (status, body) = common::error_body(app.client.get(callback_url).send().await.unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("subject_mismatch")), "{body}");
    assert_eq!(app.get_json("/me").await.1, before, "the CIBA login is kept as it was");
}

/// The same person by another issuer is another identity: a CIBA login after
/// a code-flow login starts from an empty session, as any other person would.
#[tokio::test]
async fn a_ciba_login_after_a_code_flow_login_starts_from_an_empty_session() {
    let app = TestApp::builder().ciba().start().await;
    app.login_as("kari").await;
    assert_eq!(app.get_json("/me").await.1["iss"], app.sim.issuer());
    app.client.get(app.url("/note?set=basket")).send().await.unwrap();
    log_in_by_ciba(&app, "kari").await;
    let (_, me) = app.get_json("/me").await;
    assert_eq!(me["iss"], app.sim.bib_issuer());
    let note = app.client.get(app.url("/note")).send().await.unwrap().text().await.unwrap();
    assert_eq!(note, "", "the code-flow identity's data is gone");
}

/// A `text.v1` statement: BankID's text-approval product.
#[derive(serde::Serialize, serde::Deserialize)]
struct TextApproval {
    text: String,
}

impl axum_bankid::permission::Permission for TextApproval {
    const TYPE: &'static str = "text.v1";
}

/// The scopes of the client-credentials token requests BankID OIDC received.
fn client_credentials_scopes(app: &TestApp) -> Vec<String> {
    app.sim
        .requests()
        .into_iter()
        .filter(|r| r.issuer == axum_bankid_simulator::Issuer::Oidc && r.body.contains("client_credentials"))
        .filter_map(|r| {
            url::form_urlencoded::parse(r.body.as_bytes()).find(|(k, _)| k == "scope").map(|(_, v)| v.into_owned())
        })
        .collect()
}

/// BankID needs `permissions/text` for `text.v1`: the token of such a CIBA
/// request asks for it (the simulator refuses the registration otherwise),
/// and a plain login's token does not.
#[tokio::test]
async fn a_text_permission_gets_its_product_scope() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let text = TextApproval { text: "Log in on the TV in the living room?".into() };
    let started = ciba(&app).start(request("kari").permission(&text)).await.unwrap();
    assert_eq!(ciba(&app).wait(&started.handle).await.unwrap().loa, Loa::SUBSTANTIAL);
    assert_eq!(client_credentials_scopes(&app), ["openid permissions/client permissions/ciba permissions/text"]);

    app.sim.clear_requests();
    let started = ciba(&app).start(request("kari")).await.unwrap();
    ciba(&app).wait(&started.handle).await.unwrap();
    let scopes = client_credentials_scopes(&app);
    assert!(scopes.iter().all(|s| s == "openid permissions/client permissions/ciba"), "{scopes:?}");
}

#[tokio::test]
async fn without_its_product_scope_a_text_permission_is_refused_by_bib() {
    let no_text_scope = |b: axum_bankid::BankIdConfigBuilder| b.permission_type_scopes("text.v1", Vec::<String>::new());
    let app = TestApp::builder().ciba().configure(no_text_scope).start().await;
    let text = TextApproval { text: "Approve?".into() };
    let err = ciba(&app).start(request("kari").permission(&text)).await.unwrap_err();
    assert_eq!(err.kind(), "registration_failed", "{err:?}");
}

#[tokio::test]
async fn denied_on_the_phone() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::Deny);
    let started = ciba(&app).start(request("kari")).await.unwrap();
    assert_eq!(ciba(&app).wait(&started.handle).await.unwrap_err(), CibaError::Denied);
    // The outcome stays readable.
    assert_eq!(ciba(&app).wait(&started.handle).await.unwrap_err(), CibaError::Denied);
}

#[tokio::test]
async fn never_answered_expires() {
    let app = TestApp::builder().ciba().configure(short_registrations).start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::NeverAnswer);
    let started = ciba(&app).start(request("kari")).await.unwrap();
    assert!(started.expires_in <= 4, "the registration's exp bounds the request: {}", started.expires_in);
    assert_eq!(ciba(&app).wait(&started.handle).await.unwrap_err(), CibaError::Expired);
}

#[tokio::test]
async fn slow_down_raises_the_interval() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::SlowDownStorm(1));
    let started = ciba(&app).start(request("kari")).await.unwrap();
    ciba(&app).wait(&started.handle).await.unwrap();
    let polls = app.sim.ciba_requests()[0].poll_offsets.clone();
    assert_eq!(polls.len(), 2, "one slow_down, then approval: {polls:?}");
    assert!(polls[0] >= Duration::from_millis(950), "first poll waits one interval: {polls:?}");
    let gap = polls[1] - polls[0];
    assert!(gap >= Duration::from_millis(5950), "after slow_down the client waits interval + 5 s: {polls:?}");
}

#[tokio::test]
async fn user_without_biometrics_gets_no_push() {
    let app = TestApp::builder().ciba().start().await;
    let err = ciba(&app).start(request("nina")).await.unwrap_err();
    assert_eq!(err, CibaError::UserNotEnrolled);
    assert_eq!(app.sim.request_count(Endpoint::UserExists), 1);
    assert_eq!(
        app.sim.request_count(Endpoint::BackchannelAuthentication),
        0,
        "no backchannel request after a negative pre-check"
    );
}

#[tokio::test]
async fn app_uninstalled_fails_at_initiation() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::AppUninstalled);
    assert_eq!(ciba(&app).start(request("kari")).await.unwrap_err(), CibaError::AppUnavailable);
}

#[tokio::test]
async fn lost_authenticator_fails_at_authentication() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::AuthenticatorLost);
    let started = ciba(&app).start(request("kari")).await.unwrap();
    let err = ciba(&app).wait(&started.handle).await.unwrap_err();
    assert_eq!(err, CibaError::AuthenticationFailed { error: "transaction_failed".into() });
}

#[tokio::test]
async fn low_loa_and_wrong_audience_are_rejected() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    // BIB only issues BankID with biometrics (LOA 3); a lower level can only
    // come from a misbehaving provider.
    app.sim.add_fault(Fault::LowAcr);
    let started = ciba(&app).start(request("kari")).await.unwrap();
    assert_eq!(
        ciba(&app).wait(&started.handle).await.unwrap_err(),
        CibaError::Check(LoginCheckError::InsufficientLoa { required: Loa::SUBSTANTIAL, found: Some(Loa::TWO) })
    );

    app.sim.clear_faults();
    app.sim.add_fault(Fault::WrongAudience);
    let started = ciba(&app).start(request("kari")).await.unwrap();
    let err = ciba(&app).wait(&started.handle).await.unwrap_err();
    assert_eq!(err, CibaError::Check(LoginCheckError::InvalidIdToken(IdTokenError::AudienceMismatch)));
    app.sim.clear_faults();
    app.sim.add_fault(Fault::MissingAcr);
    let started = ciba(&app).start(request("kari")).await.unwrap();
    assert_eq!(
        ciba(&app).wait(&started.handle).await.unwrap_err(),
        CibaError::Check(LoginCheckError::InsufficientLoa { required: Loa::SUBSTANTIAL, found: None })
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_sending() {
    let app = TestApp::builder().ciba().start().await;
    let err = ciba(&app).start(CibaRequest::new(LoginHint::Nnin("123".into()))).await.unwrap_err();
    assert_eq!(err, CibaError::InvalidLoginHint);
    assert_eq!(app.sim.request_count(Endpoint::BackchannelAuthentication), 0);
    assert_eq!(app.sim.request_count(Endpoint::UserExists), 0);
}

#[tokio::test]
async fn cancellation_stops_polling() {
    let app = TestApp::builder().ciba().start().await;
    let client = ciba(&app);
    let started = client.start(request("kari")).await.unwrap(); // Manual: stays pending
    let handle = started.handle.clone();
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.wait(&handle).await }
    });
    tokio::time::sleep(Duration::from_millis(2500)).await;
    waiting.abort();
    let _ = waiting.await;
    let polled = app.sim.ciba_requests()[0].poll_offsets.len();
    assert!(polled >= 1, "it did poll while waiting");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.sim.ciba_requests()[0].poll_offsets.len(), polled, "no poll after the future was dropped");

    client.cancel(&started.handle).await.unwrap();
    assert_eq!(client.status(&started.handle).await.unwrap_err(), CibaError::UnknownHandle);
}

#[tokio::test]
async fn a_handle_is_not_a_session_id() {
    let app = TestApp::builder().ciba().start().await;
    let started = ciba(&app).start(request("kari")).await.unwrap();
    let handle = started.handle.as_str();
    assert_eq!(handle.len(), 32, "128 bits, hex");
    assert!(tower_sessions::session::Id::from_str(handle).is_err(), "not in the session-id format");
    // Sent as the session cookie to logout, it names no session: the pending
    // request is untouched and nothing polls it on the sender's behalf.
    let response = reqwest::Client::new()
        .post(app.url("/auth/bankid/logout"))
        .header("cookie", format!("bankid-session={handle}"))
        .header("origin", app.base.clone())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection() || response.status().is_success(), "{}", response.status());
    assert!(matches!(ciba(&app).status(&started.handle).await.unwrap(), CibaStatus::Pending { .. }));
}

#[tokio::test]
async fn routes_log_the_starting_session_in() {
    let app = TestApp::builder().ciba().start().await;
    let response = app
        .client
        .post(app.url("/auth/bankid/ciba"))
        .json(&serde_json::json!({"nnin": nnin("kari")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let started: serde_json::Value = response.json().await.unwrap();
    let handle = started["handle"].as_str().unwrap().to_owned();
    assert_eq!(started["binding_message"], serde_json::Value::Null, "BankID makes it after the answer");
    let binding_message = binding_message_of(&app, &handle).await;
    assert_eq!(
        Some(binding_message),
        app.sim.ciba_requests()[0].binding_message.clone(),
        "BankID's, on the status route"
    );

    // The phone approves through the simulator's page.
    let auth_req_id = app.sim.ciba_requests()[0].auth_req_id.clone();
    let phone = app
        .client
        .post(format!("{}/phone/decide", app.sim.issuer()))
        .form(&[("auth_req_id", auth_req_id.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert!(phone.status().is_success() || phone.status().is_redirection());

    let mut status = serde_json::Value::Null;
    for _ in 0..40 {
        let (code, body) = app.get_json(&format!("/auth/bankid/ciba/{handle}")).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        status = body;
        if status["status"] != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status["status"], "approved", "{status}");
    assert!(status.get("user").is_none(), "the status route never carries identity data: {status}");
    // Another client holding the handle learns the outcome, nothing more, and is not logged in.
    let stranger = reqwest::Client::new();
    let other: serde_json::Value =
        stranger.get(app.url(&format!("/auth/bankid/ciba/{handle}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(other, serde_json::json!({"status": "approved"}));
    let (code, me) = app.get_json("/me").await;
    assert_eq!(code, StatusCode::OK, "the TV's session is logged in: {me}");
    assert_eq!(me["loa"], 3);

    let (code, body) = app.get_json("/auth/bankid/ciba/not-a-handle").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "unknown_handle");
}

#[tokio::test]
async fn events_stream_ends_with_the_outcome() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::Deny);
    let started = ciba(&app).start(request("kari")).await.unwrap();
    let body = app
        .client
        .get(app.url(&format!("/auth/bankid/ciba/{}/events", started.handle.as_str())))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("event: status"), "{body}");
    assert!(body.contains(r#""error":"denied""#), "{body}");
}

#[tokio::test]
async fn a_thousand_concurrent_requests_each_get_their_outcome() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(1));
    app.sim.set_ciba_behavior("ola", CibaBehavior::Deny);
    app.sim.set_ciba_behavior("per", CibaBehavior::ApproveAfterPolls(0));
    let client = ciba(&app);
    let users = ["kari", "ola", "per", "nina"];
    let runs = (0..1000).map(|i| {
        let client = client.clone();
        let user = users[i % users.len()];
        async move {
            let outcome = match client.start(request(user)).await {
                Ok(started) => client.wait(&started.handle).await.map(|u| u.loa),
                Err(err) => Err(err),
            };
            (user, outcome)
        }
    });
    let results = futures_util::future::join_all(runs).await;
    for (user, outcome) in results {
        match user {
            "kari" => assert_eq!(outcome, Ok(Loa::SUBSTANTIAL)),
            "ola" => assert_eq!(outcome, Err(CibaError::Denied)),
            "per" => assert_eq!(outcome, Ok(Loa::SUBSTANTIAL), "approved on the first poll"),
            _ => assert_eq!(outcome, Err(CibaError::UserNotEnrolled)),
        }
    }
    assert_eq!(app.sim.request_count(Endpoint::BackchannelAuthentication), 750);
}

#[tokio::test]
async fn failing_user_check_sends_no_push() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.add_fault(Fault::UserExistsError);
    let err = ciba(&app).start(request("kari")).await.unwrap_err();
    assert!(matches!(err, CibaError::UserCheckFailed(_)), "{err:?}");
    assert_eq!(err.kind(), "user_check_failed");
    assert_eq!(app.sim.request_count(Endpoint::BackchannelAuthentication), 0);
}

#[tokio::test]
async fn pre_check_can_be_skipped() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let started = ciba(&app).start(request("kari").skip_user_exists_check()).await.unwrap();
    assert_eq!(app.sim.request_count(Endpoint::UserExists), 0);
    assert_eq!(ciba(&app).wait(&started.handle).await.unwrap().loa, Loa::SUBSTANTIAL);
}

#[tokio::test]
async fn start_route_is_opt_in_and_ignores_caller_text() {
    let app = TestApp::builder().ciba().start().await;
    let response = app
        .client
        .post(app.url("/auth/bankid/ciba"))
        .json(&serde_json::json!({"nnin": nnin("kari"), "binding_message": "Bekreft betaling"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let started: serde_json::Value = response.json().await.unwrap();
    let shown = binding_message_of(&app, started["handle"].as_str().unwrap()).await;
    let bankids = app.sim.ciba_requests()[0].binding_message.clone().unwrap();
    assert_eq!(shown, bankids, "BankID's binding message, never the caller's");
    assert_ne!(bankids, "Bekreft betaling");

    // Without CibaOptions::public_start the route does not exist.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = common::builder_for(&app.sim, &format!("{base}/auth/bankid/callback")).build().unwrap();
    let store = tower_sessions::MemoryStore::default();
    let options = axum_bankid::ciba::CibaOptions::new(store.clone());
    let bankid = axum_bankid::BankIdLayer::discover(config).await.unwrap().with_ciba(options).unwrap();
    let (bankid, sessions) = bankid.with_session_store(store).into_parts();
    let router = axum::Router::new().layer(bankid).layer(sessions);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let closed = reqwest::Client::new()
        .post(format!("{base}/auth/bankid/ciba"))
        .json(&serde_json::json!({"nnin": nnin("kari")}))
        .send()
        .await
        .unwrap();
    assert!(closed.status() == StatusCode::NOT_FOUND || closed.status() == StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(app.sim.request_count(Endpoint::BackchannelAuthentication), 1, "only the first app started one");
}

#[tokio::test]
async fn works_with_private_key_jwt() {
    let pem = Simulator::client_private_key_pem();
    let key = axum_bankid::ClientAssertionKey::rsa_pem(pem.as_bytes(), None).unwrap();
    let app = TestApp::builder()
        .ciba()
        .configure(|b| b.client_auth(axum_bankid::ClientAuth::private_key_jwt(key)))
        .start()
        .await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let started = ciba(&app).start(request("kari")).await.unwrap();
    assert_eq!(ciba(&app).wait(&started.handle).await.unwrap().loa, Loa::SUBSTANTIAL);
}

/// An app whose CIBA outcomes go to a callback, collected on a channel.
async fn start_with_callback() -> (TestApp, tokio::sync::mpsc::UnboundedReceiver<CibaFinished>) {
    start_with_callback_on(MemoryStore::default()).await
}

async fn start_with_callback_on<S: tower_sessions::SessionStore + Clone>(
    store: S,
) -> (TestApp, tokio::sync::mpsc::UnboundedReceiver<CibaFinished>) {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let app = TestApp::builder().store(store).ciba_options(common::ciba_callback_into(sender)).start().await;
    (app, receiver)
}

/// Like [`start_with_callback`], with registrations that expire after 4 s.
async fn start_with_callback_and_short_registrations() -> (TestApp, tokio::sync::mpsc::UnboundedReceiver<CibaFinished>)
{
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let app = TestApp::builder()
        .configure(short_registrations)
        .ciba_options(common::ciba_callback_into(sender))
        .start()
        .await;
    (app, receiver)
}

/// The next callback, with a generous guard against a hang (not a timing assertion).
async fn next_finished(receiver: &mut tokio::sync::mpsc::UnboundedReceiver<CibaFinished>) -> CibaFinished {
    tokio::time::timeout(Duration::from_secs(30), receiver.recv()).await.expect("a callback").expect("open channel")
}

#[tokio::test]
async fn callback_gets_each_outcome_without_anyone_asking() {
    let (app, mut finished) = start_with_callback_and_short_registrations().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(1));
    app.sim.set_ciba_behavior("ola", CibaBehavior::Deny);
    app.sim.set_ciba_behavior("per", CibaBehavior::NeverAnswer);
    let client = ciba(&app);
    let approved = client.start(request("kari")).await.unwrap().handle;
    let denied = client.start(request("ola")).await.unwrap().handle;
    let expired = client.start(request("per")).await.unwrap().handle;

    let mut outcomes = std::collections::HashMap::new();
    for _ in 0..3 {
        let done = next_finished(&mut finished).await;
        assert!(outcomes.insert(done.handle.clone(), done.result).is_none(), "one callback per request");
    }
    let user = outcomes.remove(&approved).unwrap().expect("approved");
    assert_eq!((user.loa, user.name.as_deref()), (Loa::SUBSTANTIAL, Some("Kari Nordmann")));
    assert_eq!(outcomes.remove(&denied).unwrap().unwrap_err(), CibaError::Denied);
    assert_eq!(outcomes.remove(&expired).unwrap().unwrap_err(), CibaError::Expired);

    // The background poller kept to the interval (recorded by the provider).
    for sent in app.sim.ciba_requests() {
        let polls = &sent.poll_offsets;
        assert!(polls.first().is_none_or(|first| *first >= Duration::from_millis(950)), "{polls:?}");
        assert!(polls.windows(2).all(|w| w[1] - w[0] >= Duration::from_millis(950)), "{polls:?}");
    }
    // Reading an outcome later does not call the app again.
    assert!(matches!(client.status(&approved).await.unwrap(), CibaStatus::Approved { .. }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(finished.try_recv().is_err(), "no second callback");
}

/// 60 readers, taking turns among `clients`, arriving every 5 ms around the
/// moment the first poll is due; each reads the status, then waits.
async fn staggered_readers(clients: &[Ciba], handle: &CibaHandle) -> Vec<Result<Loa, CibaError>> {
    let readers = (0..60u64).map(|i| {
        let client = clients[i as usize % clients.len()].clone();
        let handle = handle.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(900 + 5 * i)).await;
            let _ = client.status(&handle).await;
            client.wait(&handle).await.map(|user| user.loa)
        }
    });
    futures_util::future::join_all(readers).await
}

#[tokio::test]
async fn concurrent_readers_poll_once_and_call_back_once() {
    let (app, mut finished) = start_with_callback_on(TroubleStore::lagging(MemoryStore::default())).await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let client = ciba(&app);
    let handle = client.start(request("kari")).await.unwrap().handle;
    for outcome in staggered_readers(&[client], &handle).await {
        assert_eq!(outcome, Ok(Loa::SUBSTANTIAL), "no reader saw a second poll's invalid_grant");
    }
    assert_eq!(next_finished(&mut finished).await.handle, handle);
    assert_eq!(app.sim.ciba_requests()[0].poll_offsets.len(), 1, "the provider was polled once");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(finished.try_recv().is_err(), "no second callback");
}

/// Polls the status route until the request is no longer pending.
async fn status_until_done(app: &TestApp, handle: &str) -> serde_json::Value {
    let path = format!("/auth/bankid/ciba/{handle}");
    let mut status = serde_json::Value::Null;
    for _ in 0..40 {
        status = app.get_json(&path).await.1;
        if status["status"] != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    status
}

/// Reads the status of `handle` (as a stranger: no login) until BankID's
/// binding message shows, i.e. BIB has started the request; answers it.
async fn binding_message_of(app: &TestApp, handle: &str) -> String {
    let url = app.url(&format!("/auth/bankid/ciba/{handle}"));
    for _ in 0..200 {
        let status: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        assert_eq!(status["status"], "pending", "{status}");
        if let Some(binding_message) = status["binding_message"].as_str() {
            return binding_message.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("BIB never started the request");
}

/// Waits (a generous guard against a hang, not a timing assertion) until `done`.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..400 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never: {what}");
}

async fn post_start(app: &TestApp, nnin: &str) -> reqwest::Response {
    app.client.post(app.url("/auth/bankid/ciba")).json(&serde_json::json!({"nnin": nnin})).send().await.unwrap()
}

#[tokio::test]
async fn logout_cancels_the_sessions_pending_requests() {
    let app = TestApp::builder().ciba().start().await;
    let started: serde_json::Value = post_start(&app, &nnin("kari")).await.json().await.unwrap();
    let handle = started["handle"].as_str().unwrap().to_owned();
    binding_message_of(&app, &handle).await;
    let logout = app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    assert!(logout.status().is_redirection(), "{}", logout.status());
    // The user approves on the phone after the TV logged out.
    let auth_req_id = app.sim.ciba_requests()[0].auth_req_id.clone();
    assert!(app.sim.ciba_decide(&auth_req_id, true));
    let (code, body) = app.get_json(&format!("/auth/bankid/ciba/{handle}")).await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_handle")), "{body}");
    let (code, me) = app.get_json("/me").await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "a late approval logs nobody in again: {me}");
}

#[tokio::test]
async fn a_public_start_logs_nobody_in_by_default() {
    let public = axum_bankid::ciba::PublicCibaStart::new();
    let app = TestApp::builder().public_ciba_start(public).start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let started: serde_json::Value = post_start(&app, &nnin("kari")).await.json().await.unwrap();
    let status = status_until_done(&app, started["handle"].as_str().unwrap()).await;
    assert_eq!(status["status"], "approved", "{status}");
    let (code, body) = app.get_json("/me").await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "whoever posted the number is not logged in as its owner: {body}");
}

/// The start route's answer with the handle (checked: 128 bits in hex)
/// replaced, so that answers for different numbers compare whole.
fn without_handle(mut body: serde_json::Value) -> serde_json::Value {
    let handle = body["handle"].as_str().unwrap_or_default();
    assert!(CibaHandle::parse(handle).is_some(), "{body}");
    body["handle"] = "<handle>".into();
    body
}

/// Enrolled (Kari), not enrolled (Nina), unknown to BankID (a well-formed
/// number nobody has) and app uninstalled (Ola, set up by the caller).
fn four_kinds_of_number() -> [String; 4] {
    [nnin("kari"), nnin("nina"), "01010100050".to_owned(), nnin("ola")]
}

/// Issue 20 item 9: every well-formed, admitted number gets the same `202`
/// (status, keys, values but the handle) before BIB is asked — shown with
/// BIB's `user-exists` held: each answer is read while no backchannel
/// request has reached BIB, so its time cannot depend on BIB's answers.
/// While BIB is held every status read is the same too; afterwards not
/// enrolled, unknown and app unavailable read one `failed` kind, and the
/// enrolled number's request shows BankID's binding message.
#[tokio::test]
async fn the_public_start_route_is_no_enrolment_oracle() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("ola", CibaBehavior::AppUninstalled);
    app.sim.add_fault(Fault::HoldUserExists);
    let (mut handles, mut answers) = (Vec::new(), Vec::new());
    for number in four_kinds_of_number() {
        let response = post_start(&app, &number).await;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(app.sim.request_count(Endpoint::BackchannelAuthentication), 0, "answered while BIB is still held");
        handles.push(body["handle"].as_str().unwrap().to_owned());
        answers.push((status, without_handle(body)));
    }
    assert_eq!(answers[0].0, StatusCode::ACCEPTED, "{answers:?}");
    assert_eq!(answers[0].1["binding_message"], serde_json::Value::Null, "{answers:?}");
    assert!(answers.iter().all(|a| *a == answers[0]), "four numbers, one answer: {answers:?}");
    let mut held = Vec::new();
    for handle in &handles {
        held.push(app.get_json(&format!("/auth/bankid/ciba/{handle}")).await);
    }
    assert_eq!(held[0].1["status"], "pending", "{held:?}");
    assert!(held.iter().all(|h| *h == held[0]), "one status while BIB is asked: {held:?}");
    assert_eq!(app.sim.request_count(Endpoint::BackchannelAuthentication), 0, "BIB was held throughout");

    app.sim.clear_faults();
    let shown = binding_message_of(&app, &handles[0]).await;
    assert_eq!(Some(shown), app.sim.ciba_requests()[0].binding_message.clone(), "BankID's binding message");
    for handle in &handles[1..] {
        let status = status_until_done(&app, handle).await;
        assert_eq!(status, serde_json::json!({"status": "failed", "error": "ciba_unavailable"}), "one kind");
    }
    assert_eq!(app.sim.ciba_requests().len(), 1, "a push only for the enrolled number");
}

/// Issue 20 item 9: the app keeps the typed reason of a public start that
/// failed at BIB — its callback gets `UserNotEnrolled`, `Ciba::status` says
/// `user_not_enrolled` — while the public status and event routes say
/// `ciba_unavailable`.
#[tokio::test]
async fn a_failed_public_start_is_typed_for_the_app_and_one_kind_for_the_routes() {
    let (app, mut finished) = start_with_callback().await;
    let started: serde_json::Value = post_start(&app, &nnin("nina")).await.json().await.unwrap();
    let handle = started["handle"].as_str().unwrap();
    let done = next_finished(&mut finished).await;
    assert_eq!((done.handle.as_str(), done.result.unwrap_err()), (handle, CibaError::UserNotEnrolled));
    let status = ciba(&app).status(&CibaHandle::parse(handle).unwrap()).await.unwrap();
    assert!(matches!(&status, CibaStatus::Failed { error } if error == "user_not_enrolled"), "{status:?}");
    let events = app.client.get(app.url(&format!("/auth/bankid/ciba/{handle}/events"))).send().await.unwrap();
    let events = events.text().await.unwrap();
    assert!(events.contains(r#""error":"ciba_unavailable""#) && !events.contains("enrolled"), "{events}");
    assert_eq!(
        status_until_done(&app, handle).await,
        serde_json::json!({"status": "failed", "error": "ciba_unavailable"})
    );
}

/// Issue 20 item 9: a logout while BIB is still being asked for the
/// browser's start (the background task holds the request) ends it all the
/// same: the task's write does not bring it back, and its approval logs
/// nobody in.
#[tokio::test]
async fn a_logout_during_a_background_start_ends_the_request() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.add_fault(Fault::HoldUserExists);
    let started: serde_json::Value = post_start(&app, &nnin("kari")).await.json().await.unwrap();
    let handle = started["handle"].as_str().unwrap().to_owned();
    until("the start reaches BIB", || app.sim.request_count(Endpoint::UserExists) == 1).await;
    let logout = tokio::spawn({
        let (client, url) = (app.client.clone(), app.url("/auth/bankid/logout"));
        async move { client.post(url).send().await.unwrap().status() }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.sim.clear_faults();
    assert!(logout.await.unwrap().is_redirection());
    let (code, body) = app.get_json(&format!("/auth/bankid/ciba/{handle}")).await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_handle")), "{body}");
    for request in app.sim.ciba_requests() {
        app.sim.ciba_decide(&request.auth_req_id, true);
    }
    let (code, body) = app.get_json(&format!("/auth/bankid/ciba/{handle}")).await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_handle")), "{body}");
    assert_eq!(app.get_json("/me").await.0, StatusCode::UNAUTHORIZED, "nobody logged in");
}

/// Issue 20 item 9: at most `max_starts_in_flight` starts wait for BIB at
/// once; past it every number gets the same `503 busy`, and nothing more
/// reaches BIB. The place is free again once the start is through.
#[tokio::test]
async fn over_the_in_flight_cap_every_number_gets_the_same_refusal() {
    let public = common::tv_start().max_starts_in_flight(1);
    let app = TestApp::builder().public_ciba_start(public).start().await;
    app.sim.set_ciba_behavior("ola", CibaBehavior::AppUninstalled);
    app.sim.add_fault(Fault::HoldUserExists);
    let first = post_start(&app, &nnin("kari")).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: serde_json::Value = first.json().await.unwrap();
    until("the first start reaches BIB", || app.sim.request_count(Endpoint::UserExists) == 1).await;
    let mut refusals = Vec::new();
    for number in four_kinds_of_number() {
        let response = post_start(&app, &number).await;
        let retry_after = response.headers().get("retry-after").cloned();
        refusals.push((response.status(), retry_after, response.text().await.unwrap()));
    }
    assert_eq!(refusals[0].0, StatusCode::SERVICE_UNAVAILABLE, "{refusals:?}");
    assert!(refusals[0].1.is_some() && refusals[0].2.contains(r#""error":"busy""#), "{refusals:?}");
    assert!(refusals.iter().all(|r| *r == refusals[0]), "one refusal for every number: {refusals:?}");
    assert_eq!(
        (app.sim.request_count(Endpoint::UserExists), app.sim.request_count(Endpoint::BackchannelAuthentication)),
        (1, 0),
        "nothing more reached BIB"
    );

    app.sim.clear_faults();
    binding_message_of(&app, first["handle"].as_str().unwrap()).await;
    let mut answer = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..40 {
        answer = post_start(&app, &nnin("nina")).await.status();
        if answer != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(answer, StatusCode::ACCEPTED, "the place was given back");
}

/// Issue 20 item 9: the pending record is in the store before the `202`,
/// so another instance sharing the store reads `pending` at once, then the
/// outcome of the starting instance's background task (and polls BIB for it).
#[tokio::test]
async fn a_public_start_on_one_instance_is_read_on_another() {
    let store = MemoryStore::default();
    let app = TestApp::builder().store(store.clone()).public_ciba_start(common::tv_start()).start().await;
    let with_ciba = |layer: BankIdLayer, store| layer.with_ciba(axum_bankid::ciba::CibaOptions::new(store)).unwrap();
    let other = common::second_server(&app.sim, store, with_ciba).await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    app.sim.set_ciba_behavior("ola", CibaBehavior::AppUninstalled);
    app.sim.add_fault(Fault::HoldUserExists);
    let mut handles = Vec::new();
    for user in ["kari", "ola"] {
        let started: serde_json::Value = post_start(&app, &nnin(user)).await.json().await.unwrap();
        handles.push(started["handle"].as_str().unwrap().to_owned());
    }
    // A client of its own: the test browser's cookies would follow it to the other port.
    let read = |handle: &str| {
        let url = format!("{other}/auth/bankid/ciba/{handle}");
        async move { reqwest::get(url).await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    for handle in &handles {
        let status = read(handle).await;
        assert_eq!(status["status"], "pending", "recorded before the 202: {status}");
    }
    app.sim.clear_faults();
    let mut outcomes = Vec::new();
    for handle in &handles {
        let mut status = read(handle).await;
        for _ in 0..40 {
            if status["status"] != "pending" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            status = read(handle).await;
        }
        outcomes.push(status);
    }
    assert_eq!(outcomes[0], serde_json::json!({"status": "approved"}));
    assert_eq!(outcomes[1], serde_json::json!({"status": "failed", "error": "ciba_unavailable"}));
}

#[tokio::test]
async fn the_public_start_route_is_rate_limited_per_identity_and_per_client() {
    let minute = Duration::from_secs(60);
    let public = axum_bankid::ciba::PublicCibaStart::new().per_identity_limit(2, minute).per_client_limit(4, minute);
    let app = TestApp::builder().public_ciba_start(public).start().await;
    for _ in 0..2 {
        assert_eq!(post_start(&app, &nnin("kari")).await.status(), StatusCode::ACCEPTED);
    }
    let limited = post_start(&app, &nnin("kari")).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS, "the number's budget is spent");
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(limited.json::<serde_json::Value>().await.unwrap()["error"], "rate_limited");
    // A refused attempt still counts against the client that made it.
    assert_eq!(post_start(&app, &nnin("ola")).await.status(), StatusCode::ACCEPTED, "another number still works");
    assert_eq!(post_start(&app, &nnin("per")).await.status(), StatusCode::TOO_MANY_REQUESTS, "the client's is spent");
    until("the admitted starts reach BIB", || app.sim.request_count(Endpoint::BackchannelAuthentication) >= 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sim.request_count(Endpoint::BackchannelAuthentication), 3, "no push for a refused start");
}

#[tokio::test]
async fn an_approval_read_over_events_is_completed_by_a_normal_request() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let started: serde_json::Value = post_start(&app, &nnin("kari")).await.json().await.unwrap();
    let handle = started["handle"].as_str().unwrap().to_owned();
    let cookie_before = app.session_cookie();
    let events = app.client.get(app.url(&format!("/auth/bankid/ciba/{handle}/events"))).send().await.unwrap();
    let body = events.text().await.unwrap();
    assert!(body.contains(r#""status":"approved""#), "{body}");
    assert_eq!(app.session_cookie(), cookie_before, "the stream neither logs in nor rotates the session");
    assert_eq!(app.get_json("/me").await.0, StatusCode::UNAUTHORIZED, "not logged in from inside the stream");
    // The page's next, normal request completes the login.
    assert_eq!(status_until_done(&app, &handle).await["status"], "approved");
    assert_ne!(app.session_cookie(), cookie_before, "the id rotated with the login");
    let (code, me) = app.get_json("/me").await;
    assert_eq!(code, StatusCode::OK, "{me}");
    assert_eq!(me["loa"], 3);
}

#[tokio::test]
async fn public_start_limits_out_of_range_fail_with_ciba_as_a_startup_config_error() {
    let app = TestApp::builder().start().await;
    let layer = BankIdLayer::discover(common::config_for(&app.sim)).await.unwrap();
    let start = axum_bankid::ciba::PublicCibaStart::new().per_client_limit(0, std::time::Duration::from_secs(60));
    let err =
        layer.with_ciba(axum_bankid::ciba::CibaOptions::new(MemoryStore::default()).public_start(start)).unwrap_err();
    assert_eq!(err.kind(), "config");
    assert!(
        matches!(&err, axum_bankid::error::StartupError::Config(config) if config.field() == "public_ciba_start"),
        "{err}"
    );
}

#[tokio::test]
async fn callback_needs_ciba() {
    // A callback is a CIBA option now, so it cannot be set without CIBA;
    // CIBA itself still needs BIB.
    let app = TestApp::builder().start().await;
    let config = axum_bankid::BankIdConfig::builder()
        .issuer(app.sim.issuer())
        .client_id(app.sim.client_id())
        .client_secret(app.sim.client_secret())
        .redirect_uri(common::NOWHERE_CALLBACK)
        .build()
        .unwrap();
    let layer = BankIdLayer::discover(config).await.unwrap();
    let options =
        axum_bankid::ciba::CibaOptions::new(MemoryStore::default()).callback(|_finished: CibaFinished| async {});
    let err = layer.with_ciba(options).unwrap_err();
    assert!(matches!(err, axum_bankid::error::StartupError::MissingCapability { capability: "bib_issuer" }), "{err}");
}

#[tokio::test]
async fn two_instances_reading_at_once_keep_the_approval() {
    let store = TroubleStore::lagging(MemoryStore::default());
    let app = TestApp::builder().store(store.clone()).ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let here = ciba(&app);
    let there = common::other_instance(&app.sim, store).await;
    let handle = here.start(request("kari")).await.unwrap().handle;
    // The provider answers a second poll of an approved request with
    // `invalid_grant`: only one instance may poll.
    for outcome in staggered_readers(&[here.clone(), there], &handle).await {
        assert_eq!(outcome, Ok(Loa::SUBSTANTIAL), "a late invalid_grant never replaces the approval");
    }
    assert!(matches!(here.status(&handle).await.unwrap(), CibaStatus::Approved { .. }));
    let sent = &app.sim.ciba_requests()[0];
    assert_eq!(sent.poll_offsets.len(), 1, "the poll slot went to one instance: {:?}", sent.poll_offsets);
    assert_eq!(sent.interval, Duration::from_secs(1), "no slow_down was provoked");
}

#[tokio::test]
async fn a_real_invalid_grant_is_still_reported() {
    let (app, mut finished) = start_with_callback().await;
    let client = ciba(&app);
    let handle = client.start(request("kari")).await.unwrap().handle;
    app.sim.add_fault(Fault::TokenEndpointError);
    assert_eq!(next_finished(&mut finished).await.result.unwrap_err(), CibaError::InvalidGrant);
    assert_eq!(client.wait(&handle).await.unwrap_err(), CibaError::InvalidGrant);
}

#[tokio::test]
async fn cancel_stops_background_polling() {
    let (app, mut finished) = start_with_callback().await;
    let client = ciba(&app);
    let handle = client.start(request("kari")).await.unwrap().handle; // Manual: stays pending
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let polled = app.sim.ciba_requests()[0].poll_offsets.len();
    assert!(polled >= 1, "the background task polled");
    client.cancel(&handle).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(app.sim.ciba_requests()[0].poll_offsets.len() <= polled + 1, "at most a poll already under way");
    let settled = app.sim.ciba_requests()[0].poll_offsets.len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.sim.ciba_requests()[0].poll_offsets.len(), settled, "no poll after cancel");
    assert!(finished.try_recv().is_err(), "a cancelled request has no outcome to report");
}

#[tokio::test]
async fn cancel_during_a_poll_is_not_undone_by_it() {
    let app = TestApp::builder().ciba().start().await;
    let client = ciba(&app);
    let handle = client.start(request("kari")).await.unwrap().handle; // Manual: stays pending
    app.sim.add_fault(Fault::Slow(Duration::from_millis(1500)));
    let waiting = tokio::spawn({
        let (client, handle) = (client.clone(), handle.clone());
        async move { client.wait(&handle).await }
    });
    // The first poll goes out after the 1 s interval and takes 1.5 s.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(app.sim.ciba_requests()[0].poll_offsets.len(), 0, "the poll is still under way");
    client.cancel(&handle).await.unwrap();
    app.sim.clear_faults();
    assert_eq!(client.status(&handle).await.unwrap_err(), CibaError::UnknownHandle);
    let waited = tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("wait ends after cancel");
    assert_eq!(waited.unwrap().unwrap_err(), CibaError::UnknownHandle);
}

#[tokio::test]
async fn a_slow_poll_keeps_other_instances_out() {
    let store = MemoryStore::default();
    let app = TestApp::builder().store(store.clone()).ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let here = ciba(&app);
    let there = common::other_instance(&app.sim, store).await;
    let handle = here.start(request("kari")).await.unwrap().handle;
    // The provider takes 2.5 s to answer, longer than the 1 s interval: while
    // the first poll is out, the other instance must not send a second one
    // (which would be answered `invalid_grant`).
    app.sim.add_fault(Fault::Slow(Duration::from_millis(2500)));
    let first = tokio::spawn({
        let (here, handle) = (here.clone(), handle.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(1000)).await;
            here.wait(&handle).await.map(|user| user.loa)
        }
    });
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert!(matches!(there.status(&handle).await.unwrap(), CibaStatus::Pending { .. }));
    assert_eq!(there.wait(&handle).await.map(|user| user.loa), Ok(Loa::SUBSTANTIAL));
    assert_eq!(first.await.unwrap(), Ok(Loa::SUBSTANTIAL));
    assert_eq!(app.sim.ciba_requests()[0].poll_offsets.len(), 1, "one poll reached the provider");
}

#[tokio::test]
async fn a_caller_that_goes_away_does_not_lose_the_answer() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let client = ciba(&app);
    let handle = client.start(request("kari")).await.unwrap().handle;
    app.sim.add_fault(Fault::SlowTokenAnswer(Duration::from_millis(1500)));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The status request gives up while its poll is out; the provider has
    // handed out the tokens (it does so once) regardless.
    let gave_up = tokio::time::timeout(Duration::from_millis(300), client.status(&handle)).await;
    assert!(gave_up.is_err(), "the poll was still under way");
    app.sim.clear_faults();
    let user = tokio::time::timeout(Duration::from_secs(10), client.wait(&handle)).await.expect("no stall");
    assert_eq!(user.map(|u| u.loa), Ok(Loa::SUBSTANTIAL));
    assert_eq!(app.sim.ciba_requests()[0].poll_offsets.len(), 1, "the answer was kept, not asked for again");
}

#[tokio::test]
async fn a_store_blip_after_the_tokens_does_not_lose_the_approval() {
    let store = TroubleStore::<MemoryStore>::default();
    store.failing_outcome_creates.store(2, std::sync::atomic::Ordering::SeqCst);
    let app = TestApp::builder().store(store.clone()).ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let client = ciba(&app);
    let handle = client.start(request("kari")).await.unwrap().handle;
    assert_eq!(client.wait(&handle).await.map(|u| u.loa), Ok(Loa::SUBSTANTIAL));
    // Recorded after the retries: another instance reads it from the store.
    let other = common::other_instance(&app.sim, store).await;
    assert!(matches!(other.status(&handle).await.unwrap(), CibaStatus::Approved { .. }));
    assert_eq!(app.sim.ciba_requests()[0].poll_offsets.len(), 1);
}

#[tokio::test]
async fn a_store_outage_keeps_the_approval_until_the_store_is_back() {
    let store = TroubleStore::<MemoryStore>::default();
    store.failing_outcome_creates.store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    let app = TestApp::builder().store(store.clone()).ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let client = ciba(&app);
    let handle = client.start(request("kari")).await.unwrap().handle;
    assert_eq!(client.wait(&handle).await.map(|u| u.loa), Ok(Loa::SUBSTANTIAL));
    // Still unsaved: this instance answers from memory and does not poll again
    // (the provider would say invalid_grant).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(matches!(client.status(&handle).await.unwrap(), CibaStatus::Approved { .. }));
    assert_eq!(app.sim.ciba_requests()[0].poll_offsets.len(), 1, "not polled again");
    // The store is back: the next read stores it for every instance.
    store.failing_outcome_creates.store(0, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(client.status(&handle).await.unwrap(), CibaStatus::Approved { .. }));
    let other = common::other_instance(&app.sim, store).await;
    assert!(matches!(other.status(&handle).await.unwrap(), CibaStatus::Approved { .. }));
}

#[tokio::test]
async fn the_background_poller_delivers_many_requests_once_each() {
    let (app, mut finished) = start_with_callback().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(1));
    app.sim.set_ciba_behavior("ola", CibaBehavior::Deny);
    let client = ciba(&app);
    // More requests than the poller runs at once (32), so places are refilled.
    let starts = (0..150).map(|i| {
        let client = client.clone();
        async move { client.start(request(if i % 3 == 0 { "ola" } else { "kari" })).await.unwrap().handle }
    });
    let handles: std::collections::HashSet<CibaHandle> =
        futures_util::future::join_all(starts).await.into_iter().collect();
    let mut delivered = std::collections::HashMap::new();
    for _ in 0..handles.len() {
        let done = next_finished(&mut finished).await;
        assert!(handles.contains(&done.handle));
        assert!(delivered.insert(done.handle, done.result.map(|u| u.loa)).is_none(), "one callback per request");
    }
    assert_eq!(delivered.values().filter(|r| **r == Ok(Loa::SUBSTANTIAL)).count(), 100);
    assert_eq!(delivered.values().filter(|r| **r == Err(CibaError::Denied)).count(), 50);
    for sent in app.sim.ciba_requests() {
        let expected = if sent.status == axum_bankid_simulator::CibaStatus::TokensIssued { 2 } else { 1 };
        assert_eq!(sent.poll_offsets.len(), expected, "{:?}", sent.poll_offsets);
    }
}

#[tokio::test]
async fn one_slow_poll_holds_up_no_other() {
    let store = TroubleStore::<MemoryStore>::default();
    let (app, mut finished) = start_with_callback_on(store.clone()).await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let client = ciba(&app);
    let slow = client.start(request("kari")).await.unwrap().handle;
    *store.slow_record.lock().unwrap() = store.last_ciba_record.lock().unwrap().clone();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let quick = client.start(request("kari")).await.unwrap().handle;
    // `slow` falls due first and its poll then takes 4 s; `quick` falls due
    // half a second later and must not wait for it.
    assert_eq!(next_finished(&mut finished).await.handle, quick);
    *store.slow_record.lock().unwrap() = None;
    assert_eq!(next_finished(&mut finished).await.handle, slow);
}

/// A double click or two tabs: two starts from one browser at once, on a
/// store that answers late (so the requests overlap). Each request is bound
/// to the browser on its own (no shared list to lose one from), so an
/// approval of either logs the browser in, and logout cancels the other.
/// Several rounds, each a fresh browser.
#[tokio::test]
async fn two_starts_at_once_from_one_browser_are_both_its_own() {
    let store = TroubleStore::lagging(MemoryStore::default());
    let app = TestApp::builder().store(store).public_ciba_start(common::tv_start()).start().await;
    for round in 0..4 {
        let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let start = || async {
            let response =
                browser.post(app.url("/auth/bankid/ciba")).json(&serde_json::json!({"nnin": nnin("kari")})).send();
            let response = response.await.unwrap();
            assert_eq!(response.status(), StatusCode::ACCEPTED, "round {round}");
            let started: serde_json::Value = response.json().await.unwrap();
            started["handle"].as_str().unwrap().to_owned()
        };
        let (first, second) = tokio::join!(start(), start());
        binding_message_of(&app, &first).await;
        binding_message_of(&app, &second).await;
        for request in app.sim.ciba_requests() {
            app.sim.ciba_decide(&request.auth_req_id, true);
        }
        // The second one's approval logs this browser in...
        let status = |handle: String| {
            let browser = &browser;
            let url = app.url(&format!("/auth/bankid/ciba/{handle}"));
            async move {
                for _ in 0..40 {
                    let body: serde_json::Value = browser.get(&url).send().await.unwrap().json().await.unwrap();
                    if body["status"] != "pending" {
                        return body;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                panic!("still pending");
            }
        };
        assert_eq!(status(second.clone()).await["status"], "approved", "round {round}");
        let me = browser.get(app.url("/me")).header("accept", "application/json").send().await.unwrap();
        assert_eq!(me.status(), StatusCode::OK, "round {round}: the second start's approval logged the browser in");
        // ...and logout knows the first one too: it is cancelled.
        let logout = browser.post(app.url("/auth/bankid/logout")).send().await.unwrap();
        assert!(logout.status().is_redirection() || logout.status().is_success(), "{}", logout.status());
        let after = browser.get(app.url(&format!("/auth/bankid/ciba/{first}"))).send().await.unwrap();
        let (code, body): (_, serde_json::Value) = (after.status(), after.json().await.unwrap());
        assert_eq!((code, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_handle")), "round {round}");
        let me = browser.get(app.url("/me")).header("accept", "application/json").send().await.unwrap();
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "round {round}: logged out and staying so");
    }
}

/// The `name=value` of the owner cookie a start answer set.
fn owner_cookie(response: &reqwest::Response) -> String {
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("bankid-ciba-"))
        .expect("the start binds the request to the browser");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

/// A public start by a fresh browser; answers it, its handle and owner cookie.
async fn tv_starts(app: &TestApp, user: &str) -> (reqwest::Client, String, String) {
    let tv = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let response = tv.post(app.url("/auth/bankid/ciba")).json(&serde_json::json!({"nnin": nnin(user)})).send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let cookie = owner_cookie(&response);
    let started: serde_json::Value = response.json().await.unwrap();
    let handle = started["handle"].as_str().unwrap().to_owned();
    binding_message_of(app, &handle).await;
    (tv, handle, cookie)
}

/// Reads the status of `handle` as a browser sending `cookie` (and its own
/// jar), until it is not pending; answers whether that browser is then
/// logged in.
async fn logged_in_after_reading(app: &TestApp, browser: &reqwest::Client, handle: &str, cookie: &str) -> bool {
    for _ in 0..40 {
        let mut read = browser.get(app.url(&format!("/auth/bankid/ciba/{handle}")));
        if !cookie.is_empty() {
            read = read.header("cookie", cookie);
        }
        let body: serde_json::Value = read.send().await.unwrap().json().await.unwrap();
        if body["status"] != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let me = browser.get(app.url("/me")).header("accept", "application/json").send().await.unwrap();
    me.status() == StatusCode::OK
}

/// Only the cookie proves ownership: a stranger who knows the handle (it is
/// on the TV's screen) and reads the approved status first is not logged
/// in; nor is one who puts another request's owner cookie value under this
/// request's cookie name, or a random binding. The owner still is.
#[tokio::test]
async fn a_handle_or_another_requests_cookie_logs_nobody_in() {
    let app = TestApp::builder().ciba().start().await;
    let (tv, handle, cookie) = tv_starts(&app, "kari").await;
    let (_, _, other_cookie) = tv_starts(&app, "ola").await;
    for request in app.sim.ciba_requests() {
        app.sim.ciba_decide(&request.auth_req_id, true);
    }
    let name = cookie.split('=').next().unwrap();
    let other_value = other_cookie.split_once('=').unwrap().1;
    let forged_binding = format!("{}.{}", cookie.split_once('=').unwrap().1.split('.').next().unwrap(), "0".repeat(32));
    for (who, sent) in [
        ("a stranger with the handle", String::new()),
        ("another request's binding under this name", format!("{name}={other_value}")),
        ("a random binding", format!("{name}={forged_binding}")),
    ] {
        let stranger = reqwest::Client::builder().cookie_store(true).build().unwrap();
        assert!(!logged_in_after_reading(&app, &stranger, &handle, &sent).await, "{who} must not be logged in");
    }
    assert!(logged_in_after_reading(&app, &tv, &handle, "").await, "the TV that started it is");
}

/// After a CIBA login and logout, the old owner cookie (kept by whoever
/// copied it) logs nobody in: the login kept its request's handle and
/// logout cancelled the request.
#[tokio::test]
async fn an_old_owner_cookie_logs_nobody_in_after_logout() {
    let app = TestApp::builder().ciba().start().await;
    let (tv, handle, cookie) = tv_starts(&app, "kari").await;
    app.sim.ciba_decide(&app.sim.ciba_requests()[0].auth_req_id, true);
    assert!(logged_in_after_reading(&app, &tv, &handle, "").await);
    let logout = tv.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    assert!(logout.status().is_redirection() || logout.status().is_success(), "{}", logout.status());
    let copier = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let read = copier.get(app.url(&format!("/auth/bankid/ciba/{handle}"))).header("cookie", &cookie).send().await;
    let (code, body): (_, serde_json::Value) = {
        let read = read.unwrap();
        (read.status(), read.json().await.unwrap())
    };
    assert_eq!((code, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_handle")), "{body}");
    let me = copier.get(app.url("/me")).header("accept", "application/json").send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

/// Issue 20 item 18: a CIBA login's ID token is BIB's. Logout never sends it
/// to BankID OIDC's end-session endpoint (that provider holds no session for
/// it): the browser goes home.
#[tokio::test]
async fn logout_of_a_ciba_login_never_sends_bibs_token_to_bankid_oidc() {
    let app = TestApp::builder().ciba().start().await;
    let tv = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let started = tv.post(app.url("/auth/bankid/ciba")).json(&serde_json::json!({"nnin": nnin("kari")})).send().await;
    let started: serde_json::Value = started.unwrap().json().await.unwrap();
    let handle = started["handle"].as_str().unwrap().to_owned();
    binding_message_of(&app, &handle).await;
    app.sim.ciba_decide(&app.sim.ciba_requests()[0].auth_req_id, true);
    assert!(logged_in_after_reading(&app, &tv, &handle, "").await);
    let logout = tv.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(logout.headers()["location"], "/", "no trip to BankID OIDC with BIB's ID token");
    let me = tv.get(app.url("/me")).header("accept", "application/json").send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

/// Issue 20 item 11: the CIBA routes answer anonymous callers with the kind
/// and a fixed sentence, never the cause's own text (the provider's error
/// description, a store's message); the cause goes to the log.
///
/// Issue 20 item 9: BIB's refusal comes after the `202`; the status route
/// reads `failed` with `start_failed`, and the cause is in the log.
#[tokio::test]
async fn ciba_route_errors_carry_no_internal_text() {
    logs::logs();
    let app = TestApp::builder().ciba().start().await;
    app.sim.add_fault(Fault::RegisterRefused);
    let response = post_start(&app, &nnin("kari")).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let started: serde_json::Value = response.json().await.unwrap();
    let status = status_until_done(&app, started["handle"].as_str().unwrap()).await;
    assert_eq!(status, serde_json::json!({"status": "failed", "error": "start_failed"}));
    assert!(logs::logged("registration_failed") && logs::logged("simulated refusal"), "the cause is logged");
}

/// An app with the public start route (policy `public`) served by `serve`
/// on a fresh port; answers its base URL.
async fn public_route_app(sim: &Simulator, public: axum_bankid::ciba::PublicCibaStart, with_peers: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = common::builder_for(sim, &format!("{base}/auth/bankid/callback")).build().unwrap();
    let store = tower_sessions::MemoryStore::default();
    let options = axum_bankid::ciba::CibaOptions::new(store.clone()).public_start(public);
    let bankid = axum_bankid::BankIdLayer::discover(config).await.unwrap().with_ciba(options).unwrap();
    let router = axum::Router::new().layer(bankid.with_session_store(store));
    match with_peers {
        true => tokio::spawn(async move { axum::serve(listener, common::with_peers(router)).await.unwrap() }),
        false => tokio::spawn(async move { axum::serve(listener, router).await.unwrap() }),
    };
    base
}

async fn post_number(base: &str, nnin: &str, headers: &[(&str, &str)]) -> (StatusCode, serde_json::Value) {
    let mut request = reqwest::Client::new().post(format!("{base}/auth/bankid/ciba"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.json(&serde_json::json!({"nnin": nnin})).send().await.unwrap();
    (response.status(), response.json().await.unwrap_or_default())
}

/// Issue 20 item 10: without the client address its policy names (here:
/// connect info, and the app serves without it) the route does not fall
/// back to one budget for everybody — it starts nothing and says why.
#[tokio::test]
async fn the_public_start_route_needs_its_client_address_source() {
    let sim = Simulator::builder().start().await.unwrap();
    let base = public_route_app(&sim, axum_bankid::ciba::PublicCibaStart::new(), false).await;
    let (status, body) = post_number(&base, &nnin("kari"), &[]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("client_address_unknown")));
    assert_eq!(
        (sim.request_count(Endpoint::UserExists), sim.request_count(Endpoint::BackchannelAuthentication)),
        (0, 0),
        "nothing reached BIB"
    );
}

/// Issue 20 item 10: behind a proxy the app names the header the proxy sets;
/// each client (the header's last entry, an IPv6 client by its /64) has its
/// own budget, so one client cannot spend another's.
#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget() {
    use axum_bankid::ciba::{ClientAddress, PublicCibaStart};
    let sim = Simulator::builder().start().await.unwrap();
    let header = reqwest::header::HeaderName::from_static("x-forwarded-for");
    let minute = Duration::from_secs(60);
    let public =
        PublicCibaStart::new().client_address(ClientAddress::TrustedProxyHeader(header)).per_client_limit(1, minute);
    let base = public_route_app(&sim, public, false).await;
    let a = [("x-forwarded-for", "6.6.6.6, 2001:db8:0:1::1")];
    let a_again = [("x-forwarded-for", "2001:db8:0:1:ffff::2")];
    let b = [("x-forwarded-for", "2001:db8:0:2::1")];
    assert_eq!(post_number(&base, &nnin("kari"), &a).await.0, StatusCode::ACCEPTED);
    assert_eq!(post_number(&base, &nnin("ola"), &a_again).await.0, StatusCode::TOO_MANY_REQUESTS, "the same /64");
    assert_eq!(post_number(&base, &nnin("ola"), &b).await.0, StatusCode::ACCEPTED, "another client");
    let (status, body) = post_number(&base, &nnin("ola"), &[]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("client_address_unknown")));
}

/// Issue 20 item 10: a number whose mod-11 control digits are wrong is
/// refused before any budget is spent or BIB is called; a cross-origin
/// `Origin` is refused as on logout.
#[tokio::test]
async fn the_public_start_route_checks_the_number_and_the_origin_first() {
    let sim = Simulator::builder().start().await.unwrap();
    let minute = Duration::from_secs(60);
    let public = axum_bankid::ciba::PublicCibaStart::new().per_client_limit(1, minute);
    let base = public_route_app(&sim, public, true).await;
    let mut typo = nnin("kari");
    typo.replace_range(10..11, if typo.ends_with('0') { "1" } else { "0" });
    let (status, body) = post_number(&base, &typo, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_login_hint")),
        "{body}"
    );
    let (status, body) = post_number(&base, &nnin("kari"), &[("origin", "https://evil.example")]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("cross_site_request")), "{body}");
    assert_eq!(
        (sim.request_count(Endpoint::UserExists), sim.request_count(Endpoint::BackchannelAuthentication)),
        (0, 0),
        "nothing reached BIB"
    );
    assert_eq!(post_number(&base, &nnin("kari"), &[("origin", &base)]).await.0, StatusCode::ACCEPTED, "budget unspent");
}

/// Issue 20 item 3: a browser waits for two CIBA requests (Kari's and Ola's);
/// Ola approves first and is logged in, which ends the browser's other
/// request. Kari's late approval must not switch the browser to Kari: the
/// session stays Ola's.
#[tokio::test]
async fn a_late_ciba_approval_never_switches_a_logged_in_browser_to_another_person() {
    let app = TestApp::builder().ciba().start().await;
    let karis: serde_json::Value = post_start(&app, &nnin("kari")).await.json().await.unwrap();
    let olas: serde_json::Value = post_start(&app, &nnin("ola")).await.json().await.unwrap();
    binding_message_of(&app, karis["handle"].as_str().unwrap()).await;
    binding_message_of(&app, olas["handle"].as_str().unwrap()).await;
    let requests = app.sim.ciba_requests();
    assert_eq!(requests.len(), 2);
    app.sim.ciba_decide(&requests[1].auth_req_id, true);
    assert!(logged_in_after_reading(&app, &app.client, olas["handle"].as_str().unwrap(), "").await);
    assert_eq!(app.get_json("/me").await.1["given_name"], "Ola");
    app.sim.ciba_decide(&requests[0].auth_req_id, true);
    let (code, body) = app.get_json(&format!("/auth/bankid/ciba/{}", karis["handle"].as_str().unwrap())).await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_handle")), "ended: {body}");
    let (status, me) = app.get_json("/me").await;
    assert_eq!((status, me["given_name"].as_str()), (StatusCode::OK, Some("Ola")), "still Ola: {me}");
}

/// Issue 20 item 3: a code-flow login ends the CIBA requests the browser
/// started, as logout does; their late approval logs nobody in.
#[tokio::test]
async fn a_code_flow_login_ends_the_browsers_pending_ciba_requests() {
    let app = TestApp::builder().ciba().start().await;
    let started: serde_json::Value = post_start(&app, &nnin("kari")).await.json().await.unwrap();
    let handle = started["handle"].as_str().unwrap().to_owned();
    binding_message_of(&app, &handle).await;
    assert_eq!(app.login_as("ola").await.response.status(), StatusCode::SEE_OTHER);
    assert!(app.sim.ciba_decide(&app.sim.ciba_requests()[0].auth_req_id, true));
    let (code, body) = app.get_json(&format!("/auth/bankid/ciba/{handle}")).await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_handle")), "cancelled: {body}");
    let (status, me) = app.get_json("/me").await;
    assert_eq!((status, me["given_name"].as_str()), (StatusCode::OK, Some("Ola")), "{me}");
}
