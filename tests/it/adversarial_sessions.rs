//! Several tabs, replays and identity switches in one browser, over real
//! HTTP against the simulator (issue 10, items 6–9 and 14; issue 20, items 4
//! and 8).

use crate::common;

use std::time::Duration;

use axum_bankid_simulator::{Endpoint, Fault};
use common::{ExpiryStore, TestApp, error_body, param, visit};
use reqwest::StatusCode;
use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};

const ITERATIONS: usize = 50;

/// The callback URL of a login started at `authorize_url` and approved by `user`.
async fn approved(app: &TestApp, authorize_url: &str, user: &str) -> String {
    app.authorize(authorize_url, user, "approve").await
}

fn landed(path: &str) -> (StatusCode, String) {
    (StatusCode::SEE_OTHER, path.to_owned())
}

/// The path part of a landing location (any flow reference stripped).
fn path_of(location: &str) -> String {
    location.split('?').next().unwrap_or_default().to_owned()
}

/// An app whose store answers reads late, like a busy remote Redis: wide
/// enough a window for concurrent requests on one session to overlap.
async fn lagging() -> TestApp {
    TestApp::builder().store(common::TroubleStore::lagging(tower_sessions::MemoryStore::default())).start().await
}

/// Two logins started at the same moment, then their callbacks one after
/// the other: both complete, every time.
#[tokio::test]
async fn logins_started_together_both_complete() {
    let app = lagging().await;
    // The browser already has a session: both starts carry the same cookie.
    app.login_as("kari").await;
    for round in 0..ITERATIONS {
        let (a, b) = tokio::join!(app.begin_login("/a"), app.begin_login("/b"));
        let (callback_a, callback_b) = (approved(&app, &a, "kari").await, approved(&app, &b, "kari").await);
        let (done_a, done_b) = (visit(&app, &callback_a).await, visit(&app, &callback_b).await);
        assert_eq!((done_a, done_b), (landed("/a"), landed("/b")), "round {round}");
    }
}

/// Two callbacks arriving at the same moment in one browser: both complete.
#[tokio::test]
async fn callbacks_arriving_together_both_complete() {
    let app = lagging().await;
    for round in 0..ITERATIONS {
        let (a, b) = (app.begin_login("/a").await, app.begin_login("/b").await);
        let (callback_a, callback_b) = (approved(&app, &a, "kari").await, approved(&app, &b, "kari").await);
        let (done_a, done_b) = tokio::join!(visit(&app, &callback_a), visit(&app, &callback_b));
        assert_eq!((done_a, done_b), (landed("/a"), landed("/b")), "round {round}");
        assert_eq!(app.get_json("/me").await.0, StatusCode::OK, "round {round}");
    }
}

/// A callback overlapping a new login's start: the callback completes and
/// so does the new login afterwards.
#[tokio::test]
async fn a_callback_overlapping_a_new_login_loses_neither() {
    let app = lagging().await;
    for round in 0..ITERATIONS {
        let first = app.begin_login("/first").await;
        let callback_first = approved(&app, &first, "kari").await;
        let (done_first, second) = tokio::join!(visit(&app, &callback_first), app.begin_login("/second"));
        assert_eq!(done_first, landed("/first"), "round {round}");
        let callback_second = approved(&app, &second, "kari").await;
        assert_eq!(visit(&app, &callback_second).await, landed("/second"), "round {round}");
    }
}

/// Item 7: a callback that fails with a 5xx still spends its state.
#[tokio::test]
async fn a_callback_ending_in_5xx_spends_its_state() {
    let app = TestApp::builder().start().await;
    let authorize_url = app.begin_login("/me").await;
    let callback_url = approved(&app, &authorize_url, "kari").await;
    app.sim.add_fault(Fault::TokenEndpointServerError);
    assert_eq!(visit(&app, &callback_url).await, (StatusCode::BAD_GATEWAY, "token_exchange_failed".into()));
    app.sim.clear_faults();
    assert_eq!(visit(&app, &callback_url).await, (StatusCode::BAD_REQUEST, "unknown_state".into()));
    app.assert_logged_out().await;
}

/// Item 7: the same callback twice at once: only the first goes further
/// than the state check; the other never reaches the token endpoint.
#[tokio::test]
async fn the_same_callback_twice_at_once_is_spent_once() {
    let app = TestApp::builder().start().await;
    for round in 0..10 {
        let authorize_url = app.begin_login("/me").await;
        let callback_url = approved(&app, &authorize_url, "kari").await;
        let (one, two) = tokio::join!(visit(&app, &callback_url), visit(&app, &callback_url));
        let mut outcomes = [one, two];
        outcomes.sort();
        assert_eq!(outcomes, [landed("/me"), (StatusCode::BAD_REQUEST, "unknown_state".into())], "round {round}");
    }
}

/// Item 8: nothing an anonymous login start writes outlives the attempt;
/// the completed login lives for `max_login_age`.
#[tokio::test]
async fn an_anonymous_login_attempt_lives_only_as_long_as_the_attempt() {
    let store = ExpiryStore::default();
    let ttl = Duration::from_secs(120);
    let app = TestApp::builder().store(store.clone()).configure(|b| b.login_attempt_ttl(ttl)).start().await;
    let authorize_url = app.begin_login("/me").await;
    // The attempt's TTL plus the minute of grace that tells "expired" from "unknown".
    let attempt_bound = OffsetDateTime::now_utc() + TimeDuration::seconds(120 + 60 + 5);
    let expiries = store.expiries();
    assert!(!expiries.is_empty(), "the attempt is kept in the store");
    assert!(expiries.iter().all(|e| *e <= attempt_bound), "{expiries:?} outlive the attempt ({attempt_bound})");

    let callback_url = approved(&app, &authorize_url, "kari").await;
    assert_eq!(visit(&app, &callback_url).await, landed("/me"));
    let session = app.cookie("bankid-session").expect("a session after login");
    let expiry = store.expiry_of(&session).expect("the session record");
    let full = OffsetDateTime::now_utc() + TimeDuration::hours(8) - TimeDuration::minutes(5);
    assert!(expiry >= full, "the login gets the full lifetime, got {expiry}");
}

/// Item 9: a permission login approved by someone else fails with
/// `subject_mismatch` and leaves the session as it was.
#[tokio::test]
async fn a_permission_approved_by_someone_else_changes_nothing() {
    let app = TestApp::builder().start().await;
    app.login_as("kari").await;
    app.client.get(app.url("/note?set=basket-42")).send().await.unwrap();
    let before = app.session_cookie();
    let authorize_url = app.begin_at("/pay").await;
    let callback_url = approved(&app, &authorize_url, "ola").await;
    let response = app.client.get(&callback_url).send().await.unwrap();
    let (status, body) = error_body(response).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("subject_mismatch")));
    let (_, me) = app.get_json("/me").await;
    assert_eq!(me["name"], "Kari Nordmann", "still Kari");
    assert_eq!(app.client.get(app.url("/note")).send().await.unwrap().text().await.unwrap(), "basket-42");
    assert_eq!(app.session_cookie(), before, "the session id did not change");
    let (status, _) = app.get_json("/review").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no grant for anyone");
}

/// Item 9: a plain login as someone else starts from an empty session.
#[tokio::test]
async fn a_login_as_someone_else_starts_an_empty_session() {
    let app = TestApp::builder().start().await;
    app.login_as("kari").await;
    app.client.get(app.url("/note?set=karis-basket")).send().await.unwrap();
    let karis = app.cookie("bankid-session").unwrap();
    assert_eq!(app.login_with("ola", "approve", "/me").await.response.status(), StatusCode::SEE_OTHER);
    let olas = app.cookie("bankid-session").unwrap();
    assert_ne!(karis, olas, "session id rotated");
    assert_eq!(app.get_json("/me").await.1["name"], "Ola Nordmann", "Ola is logged in");
    assert_eq!(app.client.get(app.url("/note")).send().await.unwrap().text().await.unwrap(), "", "Kari's data is gone");

    // The same person logging in again keeps the session's data.
    app.client.get(app.url("/note?set=olas-basket")).send().await.unwrap();
    app.login_as("ola").await;
    assert_eq!(app.client.get(app.url("/note")).send().await.unwrap().text().await.unwrap(), "olas-basket");
}

/// Runs `/pay?amount=...` through approval; answers the landing location.
async fn approve_payment(app: &TestApp, amount: &str) -> String {
    let authorize_url = app.begin_at(&format!("/pay?amount={amount}")).await;
    let callback_url = approved(app, &authorize_url, "kari").await;
    let (status, landing) = visit(app, &callback_url).await;
    assert_eq!((status, path_of(&landing).as_str()), (StatusCode::SEE_OTHER, "/paid"));
    landing
}

/// The landing location with `path` in place of `/paid`, keeping the flow reference.
fn on(landing: &str, path: &str) -> String {
    landing.replacen("/paid", path, 1)
}

/// Item 14: a handler refusing the request body does not cost the approval.
#[tokio::test]
async fn a_bad_body_does_not_spend_the_approval() {
    let app = TestApp::builder().start().await;
    let landing = approve_payment(&app, "123.45").await;
    let order = app.url(&on(&landing, "/pay-order"));
    let bad = app.client.post(&order).header("content-type", "application/json").body("{").send().await.unwrap();
    assert!(bad.status().is_client_error(), "{}", bad.status());
    let good = app.client.post(&order).json(&serde_json::json!({"amount": "123.45"})).send().await.unwrap();
    assert_eq!(good.status(), StatusCode::OK);
    // Redeemed: the grant is spent, and a repeat says so.
    let again = app.client.post(&order).json(&serde_json::json!({"amount": "123.45"})).send().await.unwrap();
    let (status, body) = error_body(again).await;
    assert_eq!((status, body["detail"].as_str()), (StatusCode::FORBIDDEN, Some("already_redeemed")));
}

/// #22: reloading the landing page after the approval was redeemed answers
/// `already_redeemed` (what happened), not `not_granted` (which reads as if
/// the user never approved); a flow never approved stays `not_granted`.
#[tokio::test]
async fn a_reload_after_redeeming_says_already_redeemed() {
    let app = TestApp::builder().start().await;
    let landing = approve_payment(&app, "123.45").await;
    let order = app.url(&on(&landing, "/pay-order"));
    let paid = app.client.post(&order).json(&serde_json::json!({"amount": "123.45"})).send().await.unwrap();
    assert_eq!(paid.status(), StatusCode::OK);
    let (status, body) = app.get_json(&on(&landing, "/review")).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("permission_not_granted")));
    assert_eq!(body["detail"], "already_redeemed");
    let never = format!("/review?bankid_flow={}", "0".repeat(32));
    assert_eq!(app.get_json(&never).await.1["detail"], "not_granted");
}

/// Item 14: a second `redeem()` of one grant fails with `already_redeemed`.
#[tokio::test]
async fn redeeming_twice_is_a_typed_error() {
    let app = TestApp::builder().start().await;
    let landing = approve_payment(&app, "123.45").await;
    let response = app.client.get(app.url(&on(&landing, "/redeem-twice"))).send().await.unwrap();
    let (status, body) = error_body(response).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("permission_not_granted")));
    assert_eq!(body["detail"], "already_redeemed");
}

/// Item 14: a landing request that names no flow, or another flow, gets no grant.
#[tokio::test]
async fn a_grant_needs_its_flow() {
    let app = TestApp::builder().start().await;
    let landing = approve_payment(&app, "123.45").await;
    let forged = format!("/review?bankid_flow={}", "0".repeat(32));
    for path in ["/review".to_owned(), forged] {
        let (status, body) = app.get_json(&path).await;
        assert_eq!((status, body["detail"].as_str()), (StatusCode::FORBIDDEN, Some("not_granted")), "{path}");
    }
    assert_eq!(app.get_json(&on(&landing, "/review")).await.0, StatusCode::OK);
}

/// Item 14: prefetching the landing page spends nothing.
#[tokio::test]
async fn a_prefetched_landing_page_spends_nothing() {
    let app = TestApp::builder().start().await;
    let landing = approve_payment(&app, "123.45").await;
    for _ in 0..2 {
        let review = app.client.get(app.url(&on(&landing, "/review"))).send().await.unwrap();
        assert_eq!(review.status(), StatusCode::OK);
    }
    let paid = app.client.get(app.url(&landing)).header("accept", "application/json").send().await.unwrap();
    assert_eq!(paid.status(), StatusCode::OK);
}

/// Item 14: each landing request gets the grant of its own flow, not the
/// newest grant of that type.
#[tokio::test]
async fn each_flow_gets_its_own_grant() {
    let app = TestApp::builder().start().await;
    let first = approve_payment(&app, "100.00").await;
    let second = approve_payment(&app, "200.00").await;
    let review = |landing: String| {
        let url = app.url(&on(&landing, "/review"));
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    assert_eq!(review(first.clone()).await["amount"], "100.00");
    assert_eq!(review(second.clone()).await["amount"], "200.00");
    assert!(param(&app.url(&first), "bankid_flow").is_some(), "the landing names its flow: {first}");
}

/// Two permission logins whose callbacks arrive at the same moment: each
/// flow's landing page finds its own grant.
#[tokio::test]
async fn permission_callbacks_arriving_together_keep_both_grants() {
    let app = lagging().await;
    app.login_as("kari").await;
    for round in 0..20 {
        let first = app.begin_at("/pay?amount=100.00").await;
        let second = app.begin_at("/pay?amount=200.00").await;
        let (first, second) = (approved(&app, &first, "kari").await, approved(&app, &second, "kari").await);
        let (first, second) = tokio::join!(visit(&app, &first), visit(&app, &second));
        assert_eq!((first.0, second.0), (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER), "{first:?} {second:?}");
        for (landing, amount) in [(first.1, "100.00"), (second.1, "200.00")] {
            let (status, review) = app.get_json(&on(&landing, "/review")).await;
            assert_eq!((status, review["amount"].as_str()), (StatusCode::OK, Some(amount)), "round {round}: {review}");
        }
    }
}

/// Logging out ends unredeemed grants: logging in again does not bring them back.
#[tokio::test]
async fn logout_ends_unredeemed_grants() {
    let app = TestApp::builder().start().await;
    app.login_as("kari").await;
    let landing = approve_payment(&app, "123.45").await;
    assert_eq!(app.get_json(&on(&landing, "/review")).await.0, StatusCode::OK);
    let logout = app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    app.login_as("kari").await;
    let (status, body) = app.get_json(&on(&landing, "/review")).await;
    assert_eq!((status, body["detail"].as_str()), (StatusCode::FORBIDDEN, Some("not_granted")));
}

/// The binding cookies carry no secret of the flow: not the state, nonce or
/// PKCE challenge, only a timestamp and a random id.
#[tokio::test]
async fn binding_cookies_carry_only_random_ids() {
    let app = TestApp::builder().configure(|b| b.par(axum_bankid::ParMode::Disabled)).start().await;
    let authorize_url = app.begin_login("/me").await;
    let cookies = app.session_cookie().unwrap();
    for name in ["state", "nonce", "code_challenge"] {
        let value = param(&authorize_url, name).unwrap();
        assert!(!cookies.contains(&value), "{name} in cookies {cookies}");
    }
    let (name, value) = cookies.split_once('=').unwrap();
    assert!(name.starts_with("bankid-login-"), "{cookies}");
    let (millis, id) = value.split_once('.').unwrap();
    assert!(millis.parse::<u64>().is_ok() && id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()), "{value}");
}

/// With a session layer of the application's own, attempts are kept in this
/// process (or in the store given to `with_login_store`) and logins, replays
/// and concurrent tabs behave the same.
#[tokio::test]
async fn a_session_layer_built_by_hand_keeps_every_guarantee() {
    for login_store in [None, Some(tower_sessions::MemoryStore::default())] {
        let app = TestApp::builder().without_roots().session_layer_by_hand(login_store).start().await;
        let (a, b) = tokio::join!(app.begin_login("/a"), app.begin_login("/b"));
        let (callback_a, callback_b) = (approved(&app, &a, "kari").await, approved(&app, &b, "kari").await);
        assert_eq!(visit(&app, &callback_a).await, landed("/a"));
        assert_eq!(visit(&app, &callback_b).await, landed("/b"));
        assert_eq!(visit(&app, &callback_a).await, (StatusCode::BAD_REQUEST, "unknown_state".into()));
        assert_eq!(app.get_json("/me").await.0, StatusCode::OK);
    }
}

/// Issue 20 item 17: binding cookies are the client's to forge. Times no
/// instance could have written (`i64::MIN` once overflowed a subtraction and
/// panicked the anonymous login route in debug builds) make a cookie count
/// as absent: the login starts as usual, and the forged cookies are neither
/// read nor expired.
#[tokio::test]
async fn forged_binding_cookie_times_are_ignored_by_the_login_route() {
    let app = TestApp::builder().start().await;
    let forged = [i64::MIN.to_string(), i64::MAX.to_string(), "99999999999999999999".into(), "-1".into()];
    let mut cookie: Vec<String> = forged.iter().enumerate().map(|(i, t)| format!("bankid-login-f{i}={t}.x")).collect();
    cookie.push(format!("bankid-to-login={}", i64::MIN));
    for (round, crowd) in [1, 40].into_iter().enumerate() {
        let mut pairs = cookie.clone();
        pairs.extend((0..crowd).map(|i| format!("bankid-login-n{i}={}.y{i}", i64::MIN + i)));
        let response = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(app.url("/auth/bankid/login?return_to=/me"))
            .header(reqwest::header::COOKIE, pairs.join("; "))
            .send()
            .await
            .expect("the route answers instead of panicking");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "round {round}");
        let expired: Vec<&str> = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter(|v| v.contains("Max-Age=0"))
            .collect();
        assert!(
            expired.iter().all(|v| !v.starts_with("bankid-login-")),
            "forged cookies are not ours to expire: {expired:?}"
        );
    }
}

/// The callback's answer to a permission login started at `/pay` and
/// approved by `user`: its status and where it lands (or its error kind).
async fn pay_as(app: &TestApp, user: &str) -> (StatusCode, String) {
    let authorize_url = app.begin_at("/pay").await;
    let callback_url = approved(app, &authorize_url, user).await;
    let (status, outcome) = visit(app, &callback_url).await;
    (status, if status == StatusCode::SEE_OTHER { path_of(&outcome) } else { outcome })
}

/// Keeps the session of `app` in use (the app writes to it, which renews
/// its inactivity expiry) until its login is older than `age`, and checks
/// that the session itself lived on: only the login expired.
async fn outlive_the_login(app: &TestApp, age: Duration) {
    let started = std::time::Instant::now();
    let mut writes = 0;
    // Login ages are whole seconds: one more makes "older than" certain.
    while started.elapsed() <= age + Duration::from_secs(1) {
        // A changed value: only a modified session is saved (and renewed).
        writes += 1;
        app.client.get(app.url(&format!("/note?set=basket-{writes}"))).send().await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let note = app.client.get(app.url("/note")).send().await.unwrap().text().await.unwrap();
    assert_eq!(note, format!("basket-{writes}"), "the session lived on");
    app.assert_logged_out().await;
}

/// Issue 20 item 4: an expired login binds nobody. Kari's login is older
/// than `max_login_age` in a session the app kept in use; Ola's permission
/// login and Ola's step-up then proceed as fresh logins instead of failing
/// with `subject_mismatch`.
#[tokio::test]
async fn an_expired_login_does_not_lock_the_next_login_to_its_person() {
    let age = Duration::from_secs(2);
    let app = TestApp::builder().configure(|b| b.max_login_age(age)).start().await;
    app.login_as("kari").await;
    assert_eq!(pay_as(&app, "ola").await, (StatusCode::FORBIDDEN, "subject_mismatch".into()), "a live login locks");
    outlive_the_login(&app, age).await;
    assert_eq!(pay_as(&app, "ola").await, landed("/paid"));

    let app = TestApp::builder().configure(|b| b.max_login_age(age)).start().await;
    app.login_as("kari").await;
    outlive_the_login(&app, age).await;
    let authorize_url = app.begin_at("/auth/bankid/login?return_to=%2Fme&acr=4").await;
    let callback_url = approved(&app, &authorize_url, "ola").await;
    assert_eq!(visit(&app, &callback_url).await, landed("/me"), "a step-up over an expired login is a fresh login");
}

/// Issue 20 item 4: a login ended by back-channel logout binds nobody;
/// before the logout, the same permission login by Ola is refused.
#[tokio::test]
async fn a_login_ended_by_backchannel_logout_does_not_lock_the_next_login() {
    use axum_bankid_simulator::{LogoutSubject, Simulator};
    let sim = Simulator::builder().backchannel_logout(true);
    let app = TestApp::builder().simulator(sim).start().await;
    app.login_as("kari").await;
    let (_, kari) = app.get_json("/me").await;
    let sub = kari["sub"].as_str().expect("Kari's sub").to_owned();
    assert_eq!(pay_as(&app, "ola").await, (StatusCode::FORBIDDEN, "subject_mismatch".into()), "a live login locks");

    let logout_url = app.url("/auth/bankid/backchannel-logout");
    let delivery = app.sim.send_backchannel_logout(LogoutSubject::Sub(sub), &logout_url).await.unwrap();
    assert_eq!(delivery.status, 200, "{}", delivery.body);
    app.assert_logged_out().await;
    assert_eq!(pay_as(&app, "ola").await, landed("/paid"));
    assert_eq!(app.get_json("/me").await.1["name"], "Ola Nordmann");
}

/// Issue 20 item 8: the same callback URL again after the login completed
/// (Back to the provider, a reload, a double submit) lands where the login
/// went: no second exchange, no new login, the session untouched.
#[tokio::test]
async fn a_repeated_callback_lands_where_the_completed_login_went() {
    let app = TestApp::builder().start().await;
    let callback = app.login_with("kari", "approve", "/note").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    app.client.get(app.url("/note?set=basket-42")).send().await.unwrap();
    let session = app.cookie("bankid-session").expect("a session after login");
    let exchanges = app.sim.request_count(Endpoint::Token);

    assert_eq!(visit(&app, &callback.url).await, landed("/note"));
    assert_eq!(visit(&app, &callback.url).await, landed("/note"), "every repeat, not just one");
    assert_eq!(app.sim.request_count(Endpoint::Token), exchanges, "no second token request");
    assert_eq!(app.cookie("bankid-session"), Some(session), "the session id did not change");
    assert_eq!(app.client.get(app.url("/note")).send().await.unwrap().text().await.unwrap(), "basket-42");
    assert_eq!(app.get_json("/me").await.1["name"], "Kari Nordmann");
}

/// Issue 20 item 8, a permission login: the repeat lands on the same
/// landing, flow reference included, and that landing finds its grant.
#[tokio::test]
async fn a_repeated_permission_callback_lands_on_the_same_flow() {
    let app = TestApp::builder().start().await;
    let authorize_url = app.begin_at("/pay").await;
    let callback_url = approved(&app, &authorize_url, "kari").await;
    let (status, first) = visit(&app, &callback_url).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(param(&format!("http://x{first}"), "bankid_flow").is_some(), "{first}");
    let exchanges = app.sim.request_count(Endpoint::Token);
    assert_eq!(visit(&app, &callback_url).await, (StatusCode::SEE_OTHER, first.clone()));
    assert_eq!(app.sim.request_count(Endpoint::Token), exchanges, "no second token request");
    let paid = app.client.get(app.url(&first)).send().await.unwrap();
    assert_eq!(paid.status(), StatusCode::OK, "the landing finds its grant");
}

/// Issue 20 item 8: only the browser that this very attempt logged in is
/// sent on. The URL in another browser (with or without an attempt of its
/// own), or in this browser once that login ended, is `unknown_state` and
/// logs nobody in.
#[tokio::test]
async fn a_repeated_callback_logs_in_nobody_else() {
    let app = TestApp::builder().start().await;
    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);

    for started_own_login in [false, true] {
        let other = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build();
        let other = other.unwrap();
        if started_own_login {
            let started = other.get(app.url("/auth/bankid/login?return_to=%2Fme")).send().await.unwrap();
            assert_eq!(started.status(), StatusCode::SEE_OTHER);
        }
        let (status, body) = error_body(other.get(&callback.url).send().await.unwrap()).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unknown_state")));
        let me = other.get(app.url("/me")).header("accept", "application/json").send().await.unwrap();
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "the other browser is nobody");
    }

    // The same browser after logout: that login is over.
    let logout = app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(visit(&app, &callback.url).await, (StatusCode::BAD_REQUEST, "unknown_state".into()));
    app.assert_logged_out().await;

    // ... also when logout keeps the session's data.
    let keeps = TestApp::builder().configure(|b| b.keep_session_data_at_logout(true)).start().await;
    let kept = keeps.login_as("kari").await;
    let logout = keeps.client.post(keeps.url("/auth/bankid/logout")).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(visit(&keeps, &kept.url).await, (StatusCode::BAD_REQUEST, "unknown_state".into()));
    keeps.assert_logged_out().await;

    // ... and after a later login by someone else in it.
    app.login_as("kari").await;
    let olas = app.login_as("ola").await;
    assert_eq!(olas.response.status(), StatusCode::SEE_OTHER);
    assert_eq!(visit(&app, &callback.url).await, (StatusCode::BAD_REQUEST, "unknown_state".into()));
    assert_eq!(app.get_json("/me").await.1["name"], "Ola Nordmann");
}

/// Issue 20 item 19: a landing URL naming two flows (`bankid_flow` twice —
/// say, one smuggled in through a return path) grants nothing, as the
/// callback refuses repeated parameters; a return path that already names a
/// flow is not used at all.
#[tokio::test]
async fn a_landing_url_naming_two_flows_grants_nothing() {
    let app = TestApp::builder().start().await;
    let landing = approve_payment(&app, "123.45").await;
    let twice = format!("{landing}&bankid_flow=other");
    let (status, body) = error_body(app.client.get(app.url(&twice)).send().await.unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("permission_not_granted")), "{body}");
    let response = app.client.get(app.url(&landing)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the real landing still works");
    let smuggled =
        app.client.get(app.url("/auth/bankid/login?return_to=%2Fpaid%3Fbankid_flow%3Dx")).send().await.unwrap();
    let authorize_url = common::location(&smuggled);
    let callback_url = approved(&app, &authorize_url, "kari").await;
    assert_eq!(visit(&app, &callback_url).await, landed("/"), "the return path that named a flow is not used");
}

/// A second app on `app`'s simulator and session `store` whose policy
/// `configure` changes (a raised minimum LOA): the same browser (`app`'s
/// cookie jar, which ignores ports) and the same stored logins, judged by
/// the new policy. Returns its base URL; the server stops with the test.
async fn same_sessions_under(
    app: &TestApp,
    store: tower_sessions::MemoryStore,
    configure: impl FnOnce(axum_bankid::BankIdConfigBuilder) -> axum_bankid::BankIdConfigBuilder,
) -> String {
    use axum::routing::get;
    use axum_bankid::{AuthenticatedUser, BankIdLayer};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let redirect_uri = format!("{base}/auth/bankid/callback");
    app.sim.allow_redirect_uri(&redirect_uri);
    let config = configure(common::builder_for(&app.sim, &redirect_uri)).build().unwrap();
    let bankid = BankIdLayer::discover(config).await.unwrap();
    let routes = axum::Router::new().route("/me", get(|user: AuthenticatedUser| async move { axum::Json(user) }));
    let served = routes.layer(bankid.with_session_store(store));
    tokio::spawn(async move { axum::serve(listener, served).await.unwrap() });
    base
}

/// The callback's answer to a login started at `base{path}` and approved
/// by `user` in `app`'s browser: its status and landing path or error kind.
async fn login_at(app: &TestApp, base: &str, path: &str, user: &str) -> (StatusCode, String) {
    let started = app.client.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER, "{path} should redirect to BankID");
    let callback_url = approved(app, &common::location(&started), user).await;
    let (status, outcome) = visit(app, &callback_url).await;
    (status, if status == StatusCode::SEE_OTHER { path_of(&outcome) } else { outcome })
}

/// Issue 20 item 4: a login below the current minimum LOA binds nobody.
/// Kari logs in at LOA 3; the same sessions are then served by an app whose
/// minimum is LOA 4, where her login does not count: Ola's step-up proceeds
/// as a fresh login instead of failing with `subject_mismatch`, while a
/// login that counts there (Ola's, at LOA 4) still locks. (A permission
/// login is BIB's, at LOA 3, so an app requiring LOA 4 refuses it with
/// `insufficient_loa` whoever is logged in: the step-up is the case.)
#[tokio::test]
async fn a_login_below_the_current_minimum_loa_does_not_lock_the_next_login() {
    const STEP_UP: &str = "/auth/bankid/login?return_to=%2Fme&acr=4";
    let store = tower_sessions::MemoryStore::default();
    let app = TestApp::builder().store(store.clone()).start().await;
    app.login_as("kari").await;
    assert_eq!(app.get_json("/me").await.1["loa"], 3);
    let raised = same_sessions_under(&app, store, |b| b.minimum_loa(axum_bankid::Loa::HIGH)).await;
    let me = |base: &str| app.client.get(format!("{base}/me")).send();
    assert_eq!(me(&raised).await.unwrap().status(), StatusCode::UNAUTHORIZED, "LOA 3 no longer counts");

    assert_eq!(login_at(&app, &raised, STEP_UP, "ola").await, landed("/me"), "not locked to Kari");
    let ola: serde_json::Value = me(&raised).await.unwrap().json().await.unwrap();
    assert_eq!((ola["name"].as_str(), ola["loa"].as_u64()), (Some("Ola Nordmann"), Some(4)));
    // Ola's LOA 4 login counts on the raised app, and locks.
    assert_eq!(login_at(&app, &raised, STEP_UP, "kari").await, (StatusCode::FORBIDDEN, "subject_mismatch".into()));
}
