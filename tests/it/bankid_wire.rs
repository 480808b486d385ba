//! Conformance: what the crate sends to BankID, captured at the simulator
//! and compared field by field with BankID Norway's own CIBA example client
//! (`BisOidcService` / `OidcService` in `BankIDNorge/oidc-integration-examples`,
//! restated in `shared/docs/bankid.md`), and the typed outcome of every way
//! BIB can refuse or misbehave.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum_bankid::error::{CibaError, Error, IdTokenError, LoginCheckError, PermissionError, StartupError};
use axum_bankid::{
    BankIdConfig, BankIdLayer, Loa,
    ciba::CibaRequest,
    permission::{ClientSignals, LoginHint, PermissionApiConfig, Registration},
};
use axum_bankid_simulator::{CapturedRequest, CibaBehavior, Fault, Issuer, Simulator};
use base64::Engine;
use common::{TestApp, payment};
use serde_json::{Value, json};
use tower_sessions::MemoryStore;

fn nnin(user: &str) -> String {
    Simulator::default_users().iter().find(|u| u.id() == user).unwrap().nnin().to_owned()
}

fn request(user: &str) -> CibaRequest {
    CibaRequest::new(LoginHint::Nnin(nnin(user)))
}

fn ciba(app: &TestApp) -> axum_bankid::ciba::Ciba {
    app.ciba.clone().expect("CIBA enabled")
}

fn header<'a>(request: &'a CapturedRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn form(request: &CapturedRequest) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(request.body.as_bytes()).into_owned().collect()
}

fn json_body(request: &CapturedRequest) -> Value {
    serde_json::from_str(&request.body)
        .unwrap_or_else(|e| panic!("{} {}: {e}: {}", request.method, request.path, request.body))
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value.as_object().expect("a JSON object").keys().map(String::as_str).collect()
}

/// The requests one of the two providers received at `path` (and method).
fn sent(app: &TestApp, which: Issuer, method: &str, path: &str) -> Vec<CapturedRequest> {
    app.sim.requests().into_iter().filter(|r| r.issuer == which && r.method == method && r.path == path).collect()
}

/// Client-credentials token requests at BankID OIDC.
fn client_credentials_requests(app: &TestApp) -> Vec<CapturedRequest> {
    sent(app, Issuer::Oidc, "POST", "/token")
        .into_iter()
        .filter(|r| form(r).get("grant_type").map(String::as_str) == Some("client_credentials"))
        .collect()
}

/// Every BIB call carries `Authorization: Bearer …` and no client
/// authentication of its own (BankID's ApiClient sends only the Bearer token).
fn assert_bearer_only(request: &CapturedRequest) {
    let auth = header(request, "authorization").unwrap_or_default();
    assert!(auth.starts_with("Bearer ") && auth.len() > 7, "{} {}: {auth:?}", request.method, request.path);
    for secret in ["client_secret", "client_assertion"] {
        assert!(!request.body.contains(secret), "{} {} carries {secret}", request.method, request.path);
    }
}

#[tokio::test]
async fn a_ciba_login_sends_exactly_bankids_requests() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(1));
    let started = ciba(&app).start(request("kari")).await.unwrap();
    let user = ciba(&app).wait(&started.handle).await.unwrap();
    assert_eq!((user.loa, user.acr.as_str()), (Loa::SUBSTANTIAL, "urn:bankid:bis"), "bare BIS URN → LOA 3");

    // 1. One client-credentials token from BankID OIDC, with BankID's scopes.
    let tokens = client_credentials_requests(&app);
    assert_eq!(tokens.len(), 1, "the token is cached for the whole flow");
    let token_form = form(&tokens[0]);
    assert_eq!(token_form.keys().map(String::as_str).collect::<Vec<_>>(), ["grant_type", "scope"]);
    let scopes: BTreeSet<&str> = token_form["scope"].split(' ').collect();
    assert_eq!(scopes, BTreeSet::from(["openid", "permissions/client", "permissions/ciba"]));
    assert!(header(&tokens[0], "authorization").unwrap().starts_with("Basic "), "client_secret_basic");

    // 2. user-exists with the loginHint array.
    let exists = sent(&app, Issuer::Bib, "POST", "/permissions/user-exists");
    assert_eq!(exists.len(), 1);
    assert_bearer_only(&exists[0]);
    assert!(header(&exists[0], "content-type").unwrap().starts_with("application/json"));
    assert_eq!(json_body(&exists[0]), json!({"loginHint": [{"scheme": "nnin", "value": nnin("kari")}]}));

    // 3. The registration: BankID's field names, authentication.v1 for a plain login.
    let register = sent(&app, Issuer::Bib, "POST", "/permissions/");
    assert_eq!(register.len(), 1);
    assert_bearer_only(&register[0]);
    let body = json_body(&register[0]);
    assert_eq!(keys(&body), BTreeSet::from(["type", "iat", "exp", "permission", "loa", "intents", "loginHint"]));
    assert_eq!(body["type"], "authentication.v1");
    assert_eq!(body["intents"], json!(["ciba"]));
    assert_eq!(body["loa"], "sub");
    assert_eq!(body["loginHint"], json!([{"scheme": "nnin", "value": nnin("kari")}]));
    assert_eq!(body["exp"].as_i64().unwrap() - body["iat"].as_i64().unwrap(), 600);
    let statement =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body["permission"].as_str().unwrap()).unwrap();
    let statement: Value = serde_json::from_slice(&statement).unwrap();
    assert_eq!(keys(&statement), BTreeSet::from(["nonce", "id"]));

    // 4. The backchannel request: exactly three form fields, BankID's binding message.
    let backchannel = sent(&app, Issuer::Bib, "POST", "/bc-authorize");
    assert_eq!(backchannel.len(), 1);
    assert_bearer_only(&backchannel[0]);
    let bc = form(&backchannel[0]);
    assert_eq!(bc.keys().map(String::as_str).collect::<Vec<_>>(), ["binding_message", "login_hint_token", "scope"]);
    assert_eq!(bc["scope"], "openid permissions/ciba");
    assert_eq!(bc["binding_message"], started.binding_message);
    assert_ne!(bc["login_hint_token"], nnin("kari"), "the permission token, never the national identity number");

    // 5. Polls at BIB's token endpoint, with the Bearer token.
    let polls = sent(&app, Issuer::Bib, "POST", "/token");
    assert!(!polls.is_empty());
    for poll in &polls {
        assert_bearer_only(poll);
        let fields = form(poll);
        assert_eq!(fields.keys().map(String::as_str).collect::<Vec<_>>(), ["auth_req_id", "grant_type"]);
        assert_eq!(fields["grant_type"], "urn:openid:params:grant-type:ciba");
    }
    // A plain login fetches no grant, and nothing CIBA-related went to BankID OIDC.
    assert!(app.sim.requests().iter().all(|r| !r.path.ends_with("/grant")));
    assert!(sent(&app, Issuer::Oidc, "POST", "/bc-authorize").is_empty());
}

#[tokio::test]
async fn a_ciba_permission_registers_the_statement_and_verifies_its_grant() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let started = ciba(&app).start(request("kari").permission(&payment())).await.unwrap();
    ciba(&app).wait(&started.handle).await.unwrap();

    let register = sent(&app, Issuer::Bib, "POST", "/permissions/");
    let body = json_body(&register[0]);
    assert_eq!(body["type"], "payment.v1");
    let statement =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body["permission"].as_str().unwrap()).unwrap();
    assert_eq!(serde_json::from_slice::<common::Payment>(&statement).unwrap(), payment());

    let grants: Vec<_> =
        app.sim.requests().into_iter().filter(|r| r.issuer == Issuer::Bib && r.path.ends_with("/grant")).collect();
    assert!(!grants.is_empty(), "the grant is fetched");
    for grant in &grants {
        assert_eq!(grant.method, "GET");
        assert!(grant.path.starts_with("/permissions/"), "{}", grant.path);
        assert_bearer_only(grant);
    }
}

#[tokio::test]
async fn a_burst_of_ciba_starts_makes_one_token_request() {
    let app = TestApp::builder().ciba().start().await;
    let client = ciba(&app);
    let starts = (0..20).map(|_| {
        let client = client.clone();
        async move { client.start(request("kari")).await }
    });
    for started in futures_util::future::join_all(starts).await {
        started.unwrap();
    }
    assert_eq!(client_credentials_requests(&app).len(), 1, "single-flight, then cached");
}

/// A token BIB no longer accepts (revoked, or expired early) costs one new
/// client-credentials token and one repeat of the refused call: the start
/// still succeeds, and later calls use the new token.
#[tokio::test]
async fn a_refused_client_token_is_replaced_once() {
    let app = TestApp::builder().ciba().start().await;
    let client = ciba(&app);
    client.start(request("kari")).await.unwrap();
    assert_eq!(client_credentials_requests(&app).len(), 1);
    app.sim.revoke_client_tokens();
    let user_checks = sent(&app, Issuer::Bib, "POST", "/permissions/user-exists").len();
    client.start(request("kari")).await.expect("started with a fresh token");
    assert_eq!(client_credentials_requests(&app).len(), 2, "one new token");
    let user_checks = sent(&app, Issuer::Bib, "POST", "/permissions/user-exists").len() - user_checks;
    assert_eq!(user_checks, 2, "the refused call once more, with the new token");
    client.start(request("kari")).await.unwrap();
    assert_eq!(client_credentials_requests(&app).len(), 2, "the new token is cached");
}

/// When BIB refuses the fresh token too, the call fails with its typed
/// error after that one retry: no loop of token requests.
#[tokio::test]
async fn a_client_token_refused_twice_is_a_typed_error_not_a_loop() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.add_fault(Fault::BearerRefused);
    let err = ciba(&app).start(request("kari")).await.unwrap_err();
    assert_eq!(err.kind(), "user_check_failed", "{err:?}");
    assert_eq!(client_credentials_requests(&app).len(), 2, "the first token and one fresh one");
    assert_eq!(sent(&app, Issuer::Bib, "POST", "/permissions/user-exists").len(), 2, "one retry");
    assert!(sent(&app, Issuer::Bib, "POST", "/bc-authorize").is_empty(), "no push");
}

#[tokio::test]
async fn not_enrolled_means_no_registration_and_no_push() {
    let app = TestApp::builder().ciba().start().await;
    assert_eq!(ciba(&app).start(request("nina")).await.unwrap_err(), CibaError::UserNotEnrolled);
    app.sim.add_fault(Fault::UserExistsFalse);
    assert_eq!(ciba(&app).start(request("kari")).await.unwrap_err(), CibaError::UserNotEnrolled);
    assert_eq!(sent(&app, Issuer::Bib, "POST", "/permissions/user-exists").len(), 2);
    assert!(sent(&app, Issuer::Bib, "POST", "/permissions/").is_empty(), "no registration");
    assert!(sent(&app, Issuer::Bib, "POST", "/bc-authorize").is_empty(), "no push");
}

#[tokio::test]
async fn a_refused_registration_sends_no_push() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.add_fault(Fault::RegisterRefused);
    let err = ciba(&app).start(request("kari")).await.unwrap_err();
    assert_eq!(err.kind(), "registration_failed", "{err:?}");
    assert!(sent(&app, Issuer::Bib, "POST", "/bc-authorize").is_empty());
}

#[tokio::test]
async fn a_refused_backchannel_request_is_a_typed_outcome() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.add_fault(Fault::BackchannelRefused);
    assert_eq!(ciba(&app).start(request("kari")).await.unwrap_err(), CibaError::Denied);
}

/// An app whose grants are asked for at most three times, quickly.
async fn start_with_few_grant_attempts() -> TestApp {
    TestApp::builder()
        .ciba()
        .configure(|b| {
            let mut api = PermissionApiConfig::default();
            api.grant_attempts = 3;
            api.grant_retry_delay = Duration::from_millis(10);
            b.permission_api(api)
        })
        .start()
        .await
}

async fn approve_payment(app: &TestApp) -> Result<axum_bankid::AuthenticatedUser, CibaError> {
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let started = ciba(app).start(request("kari").permission(&payment())).await.unwrap();
    ciba(app).wait(&started.handle).await
}

#[tokio::test]
async fn a_grant_that_is_late_is_asked_for_again() {
    let app = start_with_few_grant_attempts().await;
    app.sim.add_fault(Fault::GrantNotReady(2));
    assert_eq!(approve_payment(&app).await.unwrap().loa, Loa::SUBSTANTIAL);
}

#[tokio::test]
async fn a_grant_that_never_comes_is_a_typed_failure() {
    let app = start_with_few_grant_attempts().await;
    app.sim.add_fault(Fault::GrantNotReady(1000));
    assert_eq!(
        approve_payment(&app).await.unwrap_err(),
        CibaError::Check(LoginCheckError::Permission(PermissionError::GrantNotReady))
    );
    let grants = app.sim.requests().into_iter().filter(|r| r.path.ends_with("/grant")).count();
    assert_eq!(grants, 3, "bounded: grant_attempts");
}

#[tokio::test]
async fn a_grant_not_signed_with_the_grant_keys_is_refused() {
    let app = start_with_few_grant_attempts().await;
    app.sim.add_fault(Fault::GrantWrongKey);
    let err = approve_payment(&app).await.unwrap_err();
    assert_eq!(
        err,
        CibaError::Check(LoginCheckError::Permission(PermissionError::InvalidSignedPermission("bad_signature")))
    );
}

#[tokio::test]
async fn a_ciba_id_token_signed_by_bankid_oidc_is_refused() {
    let app = TestApp::builder().ciba().start().await;
    app.sim.add_fault(Fault::CibaIdTokenSignedByOidcKey);
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let started = ciba(&app).start(request("kari")).await.unwrap();
    let err = ciba(&app).wait(&started.handle).await.unwrap_err();
    assert!(
        matches!(
            err,
            CibaError::Check(LoginCheckError::InvalidIdToken(IdTokenError::UnknownKey | IdTokenError::BadSignature))
        ),
        "BIB's keys only: {err:?}"
    );
}

#[tokio::test]
async fn ciba_without_a_bib_issuer_fails_at_start_up_naming_it() {
    let sim = Simulator::start().await.unwrap();
    let config = BankIdConfig::builder()
        .issuer(sim.issuer())
        .client_id(sim.client_id())
        .client_secret(sim.client_secret())
        .redirect_uri("http://127.0.0.1:9/auth/bankid/callback")
        .build()
        .unwrap();
    let layer = BankIdLayer::discover(config).await.unwrap();
    let err = layer.with_ciba(axum_bankid::ciba::CibaOptions::new(MemoryStore::default())).unwrap_err();
    assert!(matches!(err, StartupError::MissingCapability { capability: "bib_issuer" }), "{err:?}");
}

#[tokio::test]
async fn a_bib_issuer_without_bib_metadata_fails_discovery() {
    let sim = Simulator::start().await.unwrap();
    let config = BankIdConfig::builder()
        .issuer(sim.issuer())
        .bib_issuer(sim.issuer()) // BankID OIDC's document: it has no BIB fields
        .client_id(sim.client_id())
        .client_secret(sim.client_secret())
        .redirect_uri("http://127.0.0.1:9/auth/bankid/callback")
        .build()
        .unwrap();
    let err = BankIdLayer::discover(config).await.unwrap_err();
    assert_eq!(err.kind(), "discovery_failed", "{err:?}");
}

#[tokio::test]
async fn browser_signals_travel_under_bankids_names() {
    let app = TestApp::builder().ciba().start().await;
    let mut signals = ClientSignals::default();
    signals.browser_user_agent = Some("SmartTV/1.0".into());
    signals.browser_tz_iana = Some("Europe/Oslo".into());
    signals.browser_webauthn_supported = Some(false);
    ciba(&app).start(request("kari").signals(signals)).await.unwrap();
    let body = json_body(&sent(&app, Issuer::Bib, "POST", "/permissions/")[0]);
    assert_eq!(
        body["signals"],
        json!({"browserUserAgent": "SmartTV/1.0", "browserTzIana": "Europe/Oslo", "browserWebAuthnSupported": false})
    );
}

#[tokio::test]
async fn client_credentials_tokens_are_renewed_before_they_expire() {
    let app = TestApp::builder()
        .simulator(
            Simulator::builder().ciba_interval(Duration::from_secs(1)).client_token_lifetime(Duration::from_secs(2)),
        )
        .layer(|layer, store| layer.with_ciba(axum_bankid::ciba::CibaOptions::new(store)).unwrap())
        .start()
        .await;
    ciba(&app).start(request("kari")).await.unwrap();
    ciba(&app).start(request("kari")).await.unwrap();
    assert_eq!(client_credentials_requests(&app).len(), 1, "reused while valid");
    // A 2 s token is handed out for at most half its life, so after 1.5 s it is renewed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ciba(&app).start(request("kari")).await.unwrap();
    assert_eq!(client_credentials_requests(&app).len(), 2, "renewed before it could expire in flight");
}

/// The Permission API on its own, as a server would use it.
async fn permission_api(app: &TestApp) -> axum_bankid::permission::PermissionApi {
    permission_api_with(app, |_| {}).await
}

async fn permission_api_with(
    app: &TestApp,
    tune: impl FnOnce(&mut PermissionApiConfig),
) -> axum_bankid::permission::PermissionApi {
    let mut api = PermissionApiConfig::default();
    tune(&mut api);
    let config = common::builder_for(&app.sim, common::NOWHERE_CALLBACK).permission_api(api).build().unwrap();
    BankIdLayer::discover(config).await.unwrap().permission_api()
}

#[tokio::test]
async fn the_permission_api_on_its_own() {
    let app = TestApp::builder().ciba().start().await;
    let api = permission_api(&app).await;
    assert!(api.user_exists(&LoginHint::Nnin(nnin("kari"))).await.unwrap());
    assert!(!api.user_exists(&LoginHint::Nnin(nnin("nina"))).await.unwrap());

    let registration = Registration::new().login_hint(LoginHint::Nnin(nnin("kari"))).loa("sub");
    let registered = api.register(&payment(), registration).await.unwrap();
    assert!(!registered.binding_message.is_empty(), "BankID makes the binding message");
    assert!(format!("{registered:?}").contains(r#"permission_token: "<redacted>""#), "{registered:?}");
    let body = json_body(&sent(&app, Issuer::Bib, "POST", "/permissions/")[0]);
    assert_eq!(keys(&body), BTreeSet::from(["type", "iat", "exp", "permission", "loa", "intents", "loginHint"]));
    assert_eq!(body["intents"], json!([]));
}

#[tokio::test]
async fn a_grant_nobody_approved_is_not_ready() {
    let app = start_with_few_grant_attempts().await;
    let api = permission_api_with(&app, |api| {
        api.grant_attempts = 2;
        api.grant_retry_delay = Duration::from_millis(10);
    })
    .await;
    let registered = api.register(&payment(), Registration::new()).await.unwrap();
    let err = api.grant(&registered).await.unwrap_err();
    assert!(matches!(err, Error::Permission(PermissionError::GrantNotReady)), "{err:?}");
    assert_eq!(app.sim.requests().iter().filter(|r| r.path.ends_with("/grant")).count(), 2);
}

// ---- The authorization request (API v4): what each kind of login pushes ----

/// The pairs of the last pushed authorization request, in order, a repeated
/// parameter kept twice (as the simulator's capture received them).
fn pushed(app: &TestApp) -> Vec<(String, String)> {
    let par = sent(app, Issuer::Oidc, "POST", "/par");
    let last = par.last().expect("a pushed authorization request");
    url::form_urlencoded::parse(last.body.as_bytes()).into_owned().collect()
}

/// Every value of `name` among `pairs`.
fn all<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
}

#[tokio::test]
async fn a_plain_login_selects_bankid_with_biometrics_by_acr_values_alone() {
    let app = TestApp::builder().start().await;
    app.begin_login("/me").await;
    let pairs = pushed(&app);
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "code_challenge_method",
            "acr_values",
            "state",
            "nonce",
            "code_challenge"
        ],
        "the whole request, in order, nothing twice"
    );
    assert_eq!(all(&pairs, "acr_values"), ["urn:bankid:bis"]);
    assert_eq!(all(&pairs, "login_hint"), Vec::<&str>::new(), "the legacy hint is opt-in");
    assert_eq!(all(&pairs, "code_challenge_method"), ["S256"]);
    for required in ["state", "nonce", "code_challenge"] {
        assert_eq!(all(&pairs, required).len(), 1, "{required}");
    }
}

#[tokio::test]
async fn a_loa_4_minimum_selects_bankid_high() {
    let app = TestApp::builder().configure(|b| b.minimum_loa(Loa::HIGH)).start().await;
    app.begin_login("/me").await;
    assert_eq!(all(&pushed(&app), "acr_values"), ["urn:bankid:bid"]);
}

#[tokio::test]
async fn a_step_up_to_loa_4_selects_bankid_high_once() {
    let app = TestApp::builder().start().await;
    app.begin_at("/auth/bankid/login?return_to=%2Fme&acr=4").await;
    let pairs = pushed(&app);
    assert_eq!(all(&pairs, "acr_values"), ["urn:bankid:bid"]);
    assert_eq!(all(&pairs, "login_hint"), Vec::<&str>::new());
}

/// The legacy `login_hint` code goes along only when configured, and then
/// names the provider the login selects.
#[tokio::test]
async fn the_legacy_login_hint_is_sent_only_when_opted_in_and_follows_the_level() {
    let app = TestApp::builder().configure(|b| b.login_hint(Some("BIS"))).start().await;
    app.begin_login("/me").await;
    let pairs = pushed(&app);
    assert_eq!((all(&pairs, "acr_values"), all(&pairs, "login_hint")), (vec!["urn:bankid:bis"], vec!["BIS"]));
    app.begin_at("/auth/bankid/login?return_to=%2Fme&acr=4").await;
    let pairs = pushed(&app);
    assert_eq!((all(&pairs, "acr_values"), all(&pairs, "login_hint")), (vec!["urn:bankid:bid"], vec!["BID"]));
}

#[tokio::test]
async fn a_permission_flow_always_selects_bankid_with_biometrics() {
    // Even with the configured selector switched off.
    let app = TestApp::builder().configure(|b| b.acr_values(None::<String>)).start().await;
    app.begin_login("/me").await;
    assert_eq!(all(&pushed(&app), "acr_values"), Vec::<&str>::new(), "switched off for plain logins");
    app.begin_at("/pay").await;
    let pairs = pushed(&app);
    assert_eq!(all(&pairs, "acr_values"), ["urn:bankid:bis"], "routes the flow to the Permission API's provider");
    assert_eq!(all(&pairs, "authorization_details").len(), 1);
}

#[tokio::test]
async fn a_login_asking_below_the_minimum_level_is_refused_before_bankid() {
    let app = TestApp::builder().configure(|b| b.minimum_loa(Loa::HIGH)).start().await;
    let response = app.client.get(app.url("/auth/bankid/login?acr=3")).send().await.unwrap();
    let (status, body) = common::error_body(response).await;
    assert_eq!((status.as_u16(), body["error"].as_str()), (400, Some("level_below_minimum")));
    assert!(sent(&app, Issuer::Oidc, "POST", "/par").is_empty(), "nothing was pushed");
}

// ---- Per-login options: ui_locales, prompt, max_age, level, identity prefill ----

/// Routes that start logins through `BankIdSession::login`, one per case.
fn login_routes() -> axum::Router {
    use axum::extract::Path;
    use axum::routing::get;
    use axum_bankid::BankIdSession;
    axum::Router::new()
        .route(
            "/login-options",
            get(|bankid: BankIdSession| async move {
                bankid
                    .login()
                    .return_to("/me")
                    .acr(Loa::HIGH)
                    .max_age(Duration::from_secs(300))
                    .prompt_login()
                    .ui_locales("en")
                    .start()
                    .await
            }),
        )
        .route(
            "/login-nnin",
            get(|bankid: BankIdSession| async move {
                bankid.login().return_to("/me").login_hint(LoginHint::Nnin(nnin("kari"))).start().await
            }),
        )
        .route(
            "/login-bad/{case}",
            get(|bankid: BankIdSession, Path(case): Path<String>| async move {
                let login = bankid.login();
                let login = match case.as_str() {
                    "ui_locales" => login.ui_locales("nb;en"),
                    "max_age" => login.max_age(Duration::from_secs(86_401)),
                    "login_hint" => login.login_hint(LoginHint::Nnin("0101011234".into())),
                    "acr" => login.acr(Loa::TWO),
                    _ => login,
                };
                login.start().await
            }),
        )
}

async fn start_login_app(
    configure: impl FnOnce(axum_bankid::BankIdConfigBuilder) -> axum_bankid::BankIdConfigBuilder,
) -> TestApp {
    TestApp::builder().routes(login_routes()).configure(configure).start().await
}

/// The status, `error` and `detail` of an app's answer to `path`.
async fn refusal(app: &TestApp, path: &str) -> (u16, String, Value) {
    let response = app.client.get(app.url(path)).header("accept", "application/json").send().await.unwrap();
    let (status, body) = common::error_body(response).await;
    assert!(!body.to_string().contains(&nnin("kari")), "no identity number in an error body: {body}");
    (status.as_u16(), body["error"].as_str().unwrap_or_default().to_owned(), body["detail"].clone())
}

#[tokio::test]
async fn the_login_route_passes_ui_locales_prompt_and_max_age() {
    let app = TestApp::builder().configure(|b| b.ui_locales("nb")).start().await;
    app.begin_login("/me").await;
    let pairs = pushed(&app);
    assert_eq!(all(&pairs, "ui_locales"), ["nb"], "the configured default");
    assert_eq!(all(&pairs, "prompt"), Vec::<&str>::new());
    app.begin_at("/auth/bankid/login?return_to=%2Fme&ui_locales=en%20nb&prompt=login&max_age=300").await;
    let pairs = pushed(&app);
    assert_eq!(all(&pairs, "ui_locales"), ["en nb"], "the login's own replaces the default");
    assert_eq!(all(&pairs, "prompt"), ["login"]);
    assert_eq!(all(&pairs, "max_age"), ["300"]);
    assert_eq!(all(&pairs, "acr_values"), ["urn:bankid:bis"]);
}

/// #22 item 5: with `ui_locales_from_accept_language`, BankID's pages follow
/// the browser (Nynorsk readers get Bokmål: BankID documents `nb` and `en`
/// only); a language of ours it does not name falls back to the configured
/// default, and a login's own `ui_locales` still wins. Off by default.
#[tokio::test]
async fn ui_locales_follow_accept_language_when_the_app_opts_in() {
    let app = TestApp::builder().configure(|b| b.ui_locales("nb").ui_locales_from_accept_language(true)).start().await;
    let login_with = |language: &'static str, path: &'static str| {
        let request = app.client.get(app.url(path)).header("accept-language", language);
        async move { assert_eq!(request.send().await.unwrap().status(), reqwest::StatusCode::SEE_OTHER) }
    };
    for (language, expected) in [("en-GB,en;q=0.9", "en"), ("nn-NO", "nb"), ("de-DE", "nb")] {
        login_with(language, "/auth/bankid/login?return_to=%2Fme").await;
        assert_eq!(all(&pushed(&app), "ui_locales"), [expected], "{language}");
    }
    login_with("en", "/auth/bankid/login?return_to=%2Fme&ui_locales=nb").await;
    assert_eq!(all(&pushed(&app), "ui_locales"), ["nb"], "the login's own wins");

    let default = TestApp::builder().start().await;
    let request = default.client.get(default.url("/auth/bankid/login?return_to=%2Fme")).header("accept-language", "en");
    assert_eq!(request.send().await.unwrap().status(), reqwest::StatusCode::SEE_OTHER);
    assert_eq!(all(&pushed(&default), "ui_locales"), Vec::<&str>::new(), "off by default");
}

#[tokio::test]
async fn a_handler_starts_a_login_with_its_own_options() {
    let app = start_login_app(|b| b).await;
    let authorize_url = app.begin_at("/login-options").await;
    let pairs = pushed(&app);
    assert_eq!(all(&pairs, "acr_values"), ["urn:bankid:bid"]);
    assert_eq!(all(&pairs, "max_age"), ["300"]);
    assert_eq!(all(&pairs, "prompt"), ["login"]);
    assert_eq!(all(&pairs, "ui_locales"), ["en"]);
    // The simulator steps Kari up to BankID High; the callback checks the
    // level and auth_time it asked for.
    let callback = app.authorize(&authorize_url, "kari", "approve").await;
    let (status, landed) = common::visit(&app, &callback).await;
    assert_eq!((status.as_u16(), landed.as_str()), (303, "/me"));
    assert_eq!(app.get_json("/me").await.1["loa"], 4);
}

/// The identity number travels only in the pushed form: the browser's URL
/// carries `client_id` and `request_uri`, and no request the simulator saw
/// outside the PAR body names the number.
#[tokio::test]
async fn an_identity_number_is_prefilled_only_through_par() {
    let app = start_login_app(|b| b).await;
    let authorize_url = app.begin_at("/login-nnin").await;
    let keys: Vec<String> =
        url::Url::parse(&authorize_url).unwrap().query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(keys, ["client_id", "request_uri"]);
    assert!(!authorize_url.contains(&nnin("kari")));
    let pairs = pushed(&app);
    assert_eq!(all(&pairs, "login_hint"), [format!(":{}", nnin("kari"))], "BankID's form: a leading colon");
    assert_eq!(all(&pairs, "acr_values"), ["urn:bankid:bis"], "the configured selector still goes along");
    app.client.get(&authorize_url).send().await.unwrap();
    for request in app.sim.requests().iter().filter(|r| r.path != "/par") {
        let seen = format!("{} {:?}", request.path, request.query);
        assert!(!seen.contains(&nnin("kari")), "{seen}");
    }

    // With the legacy code opted in, it prefixes the number.
    let app = start_login_app(|b| b.login_hint(Some("BIS"))).await;
    app.begin_at("/login-nnin").await;
    assert_eq!(all(&pushed(&app), "login_hint"), [format!("BIS:{}", nnin("kari"))]);
}

#[tokio::test]
async fn without_par_an_identity_number_is_refused_and_never_sent() {
    let app = start_login_app(|b| b.par(axum_bankid::ParMode::Disabled)).await;
    assert_eq!(refusal(&app, "/login-nnin").await, (500, "identity_hint_needs_par".to_owned(), Value::Null));
    let seen: Vec<String> = app.sim.requests().iter().map(|r| format!("{} {:?} {}", r.path, r.query, r.body)).collect();
    assert!(seen.iter().all(|s| !s.contains(&nnin("kari"))), "{seen:?}");
    assert!(app.sim.requests().iter().all(|r| r.path != "/par" && r.path != "/authorize"), "nothing started");
}

/// Every bad option, on the login route or through `BankIdSession::login`, is a
/// typed error naming the option, and nothing is sent to BankID.
#[tokio::test]
async fn every_bad_login_option_is_a_typed_error_before_bankid() {
    let app = start_login_app(|b| b).await;
    let option = |name: &str| json!(name);
    let cases = [
        ("/auth/bankid/login?ui_locales=nb%3Ben", 400, "invalid_login_option", option("ui_locales")),
        ("/auth/bankid/login?ui_locales=nb%20en%20nn%20se%20fr", 400, "invalid_login_option", option("ui_locales")),
        ("/auth/bankid/login?prompt=none", 400, "invalid_login_option", option("prompt")),
        ("/auth/bankid/login?prompt=login&prompt=login", 400, "invalid_login_option", option("prompt")),
        ("/auth/bankid/login?max_age=86401", 400, "invalid_step_up", Value::Null),
        ("/auth/bankid/login?login_hint=%3A01010112345", 400, "invalid_login_option", option("login_hint")),
        ("/login-bad/ui_locales", 400, "invalid_login_option", option("ui_locales")),
        ("/login-bad/max_age", 400, "invalid_login_option", option("max_age")),
        ("/login-bad/login_hint", 400, "invalid_login_option", option("login_hint")),
    ];
    for (path, status, error, detail) in cases {
        assert_eq!(refusal(&app, path).await, (status, error.to_owned(), detail), "{path}");
    }
    assert!(app.sim.requests().iter().all(|r| r.path != "/par" && r.path != "/authorize"), "nothing was sent");

    let app = start_login_app(|b| b.minimum_loa(Loa::SUBSTANTIAL)).await;
    assert_eq!(refusal(&app, "/login-bad/acr").await, (400, "level_below_minimum".to_owned(), Value::Null));
}

// ---- A provider that requires PAR (RFC 9126 §5) ----

/// Serves `sim`'s BankID OIDC discovery document under its own loopback
/// issuer with `require_pushed_authorization_requests: true` (and without a
/// PAR endpoint when `with_par` is false); every endpoint stays the
/// simulator's. Returns the issuer.
async fn issuer_requiring_par(sim: &Simulator, with_par: bool) -> String {
    let mut document: Value = reqwest::get(sim.discovery_url()).await.unwrap().json().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    document["issuer"] = json!(issuer);
    document["require_pushed_authorization_requests"] = json!(true);
    if !with_par {
        document.as_object_mut().unwrap().remove("pushed_authorization_request_endpoint");
    }
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", axum::routing::get(move || async move { axum::Json(document) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    issuer
}

fn config_at(sim: &Simulator, issuer: &str) -> axum_bankid::BankIdConfigBuilder {
    BankIdConfig::builder()
        .issuer(issuer)
        .client_id(sim.client_id())
        .client_secret(sim.client_secret())
        .redirect_uri(common::NOWHERE_CALLBACK)
        .discovery_retries(0)
}

#[tokio::test]
async fn a_provider_requiring_par_forces_it_and_refuses_disabled_par_at_start_up() {
    let sim = Simulator::builder().start().await.unwrap();
    let issuer = issuer_requiring_par(&sim, true).await;

    let config = config_at(&sim, &issuer).par(axum_bankid::ParMode::Disabled).build().unwrap();
    let err = BankIdLayer::discover(config).await.expect_err("PAR disabled against a provider that requires it");
    assert_eq!(err.kind(), "config");
    assert!(matches!(&err, StartupError::Config(config) if config.field() == "par"), "{err}");

    let layer = BankIdLayer::discover(config_at(&sim, &issuer).build().unwrap()).await.unwrap();
    assert!(layer.metadata().require_pushed_authorization_requests);

    // Required but not offered: the provider is broken, and says so at start-up.
    let broken = issuer_requiring_par(&sim, false).await;
    let err = BankIdLayer::discover(config_at(&sim, &broken).build().unwrap()).await.expect_err("no PAR endpoint");
    assert_eq!((err.kind(), err.detail()), ("missing_capability", Some("pushed_authorization_request_endpoint")));
}
