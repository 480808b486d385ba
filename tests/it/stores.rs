//! Flows that must hold on every session store, each run once per store by
//! `for_each_store!` (see `common/stores.rs`): a memory store, one whose
//! reads lag like a busy remote store, and a real `redis-server` (plain or
//! lagging). Flows that need requests on two instances to interleave run on
//! the lagging stores only.
//!
//! Each Redis test starts its own `redis-server` on a free loopback port.
//! Without the binary the Redis tests are skipped, unless
//! `AXUM_BANKID_REQUIRE_REDIS=1` (CI sets it) turns the absence into a failure.

use crate::common;
use crate::for_each_store;

use std::time::Duration;

use axum_bankid::ciba::{CibaRequest, CibaStatus};
use axum_bankid::permission::LoginHint;
use axum_bankid::{BankIdLayer, Loa};
use axum_bankid_simulator::{CibaBehavior, Endpoint, Fault, Simulator};
use common::stores::Stores;
use common::{TestApp, error_body, location, visit};
use reqwest::StatusCode;
use tower_sessions::SessionStore;

fn kari_nnin() -> String {
    Simulator::default_users().iter().find(|u| u.id() == "kari").unwrap().nnin().to_owned()
}

fn kari() -> CibaRequest {
    CibaRequest::new(LoginHint::Nnin(kari_nnin()))
}

/// The login is in the store (under the rotated session id), and logout ends it.
async fn login_lives_in_the_store_and_logout_ends_it(stores: &Stores) {
    let app = TestApp::builder().store(stores.store()).start().await;

    let authorize_url = app.begin_login("/me").await;
    let before = app.session_cookie().expect("cookie after login start");
    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    let response = app.client.get(callback_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/me");
    assert_ne!(app.session_cookie().unwrap(), before, "id rotated at login");

    let (status, me) = app.get_json("/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["loa"], 3);
    let id = app.cookie("bankid-session").expect("a session").parse().unwrap();
    let record = stores.another_handle().await.load(&id).await.unwrap();
    assert!(record.is_some(), "the session is stored in the store");
    if let Some(keys) = stores.redis_keys() {
        assert!(keys >= 1, "the session is stored in redis");
    }

    let logout = app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    app.assert_logged_out().await;
}
for_each_store!(login_lives_in_the_store_and_logout_ends_it);

/// A login refused at the callback (LOA 2) stores no login and spends its state.
async fn a_failed_callback_leaves_no_login(stores: &Stores) {
    let app = TestApp::builder().store(stores.store()).start().await;
    let callback = app.login_as("per").await;
    let (status, body) = error_body(callback.response).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "insufficient_loa");
    app.assert_logged_out().await;
    let replay = app.client.get(&callback.url).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST, "state consumed even on failure");
}
for_each_store!(a_failed_callback_leaves_no_login);

/// Issue 20 item 8 on every store: a completed callback repeated in its
/// browser lands again without a token request; after logout it is
/// `unknown_state`.
async fn a_repeated_callback_lands_again_until_logout(stores: &Stores) {
    let app = TestApp::builder().store(stores.store()).start().await;
    let callback = app.login_as("kari").await;
    assert_eq!(callback.response.status(), StatusCode::SEE_OTHER);
    let session = app.cookie("bankid-session");
    let exchanges = app.sim.request_count(Endpoint::Token);
    assert_eq!(visit(&app, &callback.url).await, (StatusCode::SEE_OTHER, "/me".into()));
    assert_eq!(app.sim.request_count(Endpoint::Token), exchanges, "no second token request");
    assert_eq!(app.cookie("bankid-session"), session, "the session id did not change");
    let logout = app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(visit(&app, &callback.url).await, (StatusCode::BAD_REQUEST, "unknown_state".into()));
    app.assert_logged_out().await;
}
for_each_store!(a_repeated_callback_lands_again_until_logout);

/// A CIBA request started on one instance is collected by another sharing
/// the store, and the first sees the outcome.
async fn a_ciba_request_continues_on_another_instance(stores: &Stores) {
    let store = stores.store();
    let app = TestApp::builder().store(store.clone()).ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(1));
    let started = app.ciba.clone().unwrap().start(kari()).await.unwrap();
    assert!(store.last_ciba_record.lock().unwrap().is_some(), "the pending request lives in the store");
    // A second instance with its own handle (for Redis: its own pool).
    let other = common::other_instance(&app.sim, stores.another_handle().await).await;
    assert_eq!(other.wait(&started.handle).await.unwrap().loa, Loa::SUBSTANTIAL);
    // The first instance sees the outcome the other one collected.
    assert!(matches!(app.ciba.clone().unwrap().status(&started.handle).await.unwrap(), CibaStatus::Approved { .. }));
    if let Some(keys) = stores.redis_keys() {
        assert!(keys >= 1, "the pending request lived in redis");
    }
}
for_each_store!(a_ciba_request_continues_on_another_instance);

/// Two instances deployed with the same CIBA callback: one poll per slot,
/// one callback in all, and both agree on the outcome.
async fn the_ciba_callback_and_a_second_instance_agree(stores: &Stores) {
    let (sender, mut finished) = tokio::sync::mpsc::unbounded_channel();
    // Both instances are deployed with the same callback; whichever records
    // the outcome calls it.
    let with_callback = common::ciba_callback_into(sender);
    let app = TestApp::builder().store(stores.store()).ciba_options(with_callback.clone()).start().await;
    let other_layer = BankIdLayer::discover(common::config_for(&app.sim)).await.unwrap();
    let other_options = with_callback(axum_bankid::ciba::CibaOptions::new(stores.another_handle().await));
    let other = other_layer.with_ciba(other_options).unwrap().ciba().unwrap();

    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(1));
    let started = app.ciba.clone().unwrap().start(kari()).await.unwrap();
    // The starting instance polls in the background while the other waits.
    assert_eq!(other.wait(&started.handle).await.unwrap().loa, Loa::SUBSTANTIAL);
    let done = tokio::time::timeout(Duration::from_secs(30), finished.recv()).await.unwrap().unwrap();
    assert_eq!(done.handle, started.handle);
    assert_eq!(done.result.unwrap().loa, Loa::SUBSTANTIAL);
    assert!(matches!(app.ciba.clone().unwrap().status(&started.handle).await.unwrap(), CibaStatus::Approved { .. }));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(finished.try_recv().is_err(), "one callback in all");
    let sent = &app.sim.ciba_requests()[0];
    assert_eq!(sent.poll_offsets.len(), 2, "one pending answer, then the tokens: {:?}", sent.poll_offsets);
    assert_eq!(sent.interval, Duration::from_secs(1), "the instances never polled in the same slot");
}
for_each_store!(the_ciba_callback_and_a_second_instance_agree: lagging, lagging_redis);

/// A single-use grant used on two instances at once: exactly one accepts it.
async fn a_grant_is_used_once_across_instances(stores: &Stores) {
    let single_use = |layer: BankIdLayer, store| layer.with_single_use_store(store);
    // Each instance has its own handle; reads lag so that both instances
    // load the session while it still holds the grant.
    let app = TestApp::builder().store(stores.store()).layer(single_use).start().await;
    let other = common::second_server(&app.sim, stores.another_handle().await, single_use).await;

    let authorize_url = app.begin_at("/pay").await;
    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    let landed = app.client.get(callback_url).send().await.unwrap();
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    let statuses = common::use_grant_on_both(&app, &other, &location(&landed)).await;
    assert_eq!(statuses, [StatusCode::OK, StatusCode::FORBIDDEN], "exactly one instance accepts the grant");
}
for_each_store!(a_grant_is_used_once_across_instances: lagging, lagging_redis);

/// Issue 10 item 7, across instances: a 5xx on one instance, the replay on
/// another sharing the store is refused.
async fn a_state_spent_on_one_instance_is_spent_on_all(stores: &Stores) {
    let app = TestApp::builder().store(stores.store()).start().await;
    let other = common::second_server(&app.sim, stores.another_handle().await, |layer: BankIdLayer, _| layer).await;
    let authorize_url = app.begin_login("/me").await;
    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    app.sim.add_fault(Fault::TokenEndpointServerError);
    assert_eq!(visit(&app, &callback_url).await.0, StatusCode::BAD_GATEWAY);
    app.sim.clear_faults();
    let replay = callback_url.replace(&app.base, &other);
    assert_eq!(visit(&app, &replay).await, (StatusCode::BAD_REQUEST, "unknown_state".into()));
}
for_each_store!(a_state_spent_on_one_instance_is_spent_on_all);

/// Issue 10 item 7, across instances at the same moment: both instances
/// read the attempt before either removes it; the create-once record lets
/// one through.
async fn the_same_callback_on_two_instances_at_once_is_spent_once(stores: &Stores) {
    let app = TestApp::builder().store(stores.store()).start().await;
    let other = common::second_server(&app.sim, stores.another_handle().await, |layer: BankIdLayer, _| layer).await;
    for round in 0..10 {
        let authorize_url = app.begin_login("/me").await;
        let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
        let there = callback_url.replace(&app.base, &other);
        let (here, there) = tokio::join!(visit(&app, &callback_url), visit(&app, &there));
        let refused = [&here, &there].iter().filter(|o| o.1 == "unknown_state").count();
        assert_eq!(refused, 1, "round {round}: {here:?} {there:?}");
    }
}
for_each_store!(the_same_callback_on_two_instances_at_once_is_spent_once: lagging, lagging_redis);

/// Issue 20 item 2: a login whose session write fails (here the session
/// layer's final save) leaves the login the session had: Kari, logged in,
/// logs in again (as herself, then as Ola) while the store refuses the new
/// record, and is still Kari under her old cookie afterwards.
async fn a_login_whose_session_save_fails_keeps_the_login_it_replaces(stores: &Stores) {
    let store = stores.store();
    let app = TestApp::builder().store(store.clone()).start().await;
    assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER);
    let kari_cookie = app.cookie("bankid-session").expect("Kari's session");
    for second in ["kari", "ola"] {
        let authorize_url = app.begin_login("/me").await;
        let callback_url = app.authorize(&authorize_url, second, "approve").await;
        store.refuse_logins.store(true, std::sync::atomic::Ordering::SeqCst);
        let failed = app.client.get(&callback_url).send().await.unwrap();
        store.refuse_logins.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR, "second login as {second}");
        assert_eq!(app.cookie("bankid-session").as_deref(), Some(kari_cookie.as_str()), "no new session cookie");
        let (status, me) = app.get_json("/me").await;
        assert_eq!((status, me["name"].as_str()), (StatusCode::OK, Some("Kari Nordmann")), "after {second}: {me}");
    }
}
for_each_store!(a_login_whose_session_save_fails_keeps_the_login_it_replaces);

/// Issue 20 item 2, the grants write: a permission login by a logged-in
/// Kari whose grants record cannot be written fails (`session_error`)
/// and leaves her logged in as before, under the same cookie.
async fn a_permission_login_whose_grants_write_fails_keeps_the_login(stores: &Stores) {
    let store = stores.store();
    let app = TestApp::builder().store(store.clone()).start().await;
    assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER);
    let kari_cookie = app.cookie("bankid-session").expect("Kari's session");
    let authorize_url = app.begin_at("/pay").await;
    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    store.refuse_grants.store(true, std::sync::atomic::Ordering::SeqCst);
    let outcome = visit(&app, &callback_url).await;
    store.refuse_grants.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(outcome, (StatusCode::SERVICE_UNAVAILABLE, "session_error".to_owned()));
    assert_eq!(app.cookie("bankid-session"), Some(kari_cookie), "no new session cookie");
    let (status, me) = app.get_json("/me").await;
    assert_eq!((status, me["name"].as_str()), (StatusCode::OK, Some("Kari Nordmann")), "{me}");
}
for_each_store!(a_permission_login_whose_grants_write_fails_keeps_the_login);

/// Issue 20 item 6: two status reads of one approved CIBA request from the
/// browser that started it, at once: one logs the browser in (one session
/// cookie set), the other answers `approved` without writing a second,
/// orphaned logged-in record.
async fn two_status_reads_after_a_ciba_approval_log_in_once(stores: &Stores) {
    let app = TestApp::builder().store(stores.store()).ciba().start().await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(0));
    let nnin = kari_nnin();
    let started = app.client.post(app.url("/auth/bankid/ciba")).json(&serde_json::json!({"nnin": nnin})).send().await;
    let started: serde_json::Value = started.unwrap().json().await.unwrap();
    let handle = axum_bankid::ciba::CibaHandle::parse(started["handle"].as_str().unwrap()).unwrap();
    app.ciba.clone().unwrap().wait(&handle).await.expect("approved");

    let path = app.url(&format!("/auth/bankid/ciba/{}", handle.as_str()));
    let read = || app.client.get(&path).header("accept", "application/json").send();
    let (first, second) = tokio::join!(read(), read());
    let (first, second) = (first.unwrap(), second.unwrap());
    let sets_session = |r: &reqwest::Response| {
        r.headers().get_all("set-cookie").iter().any(|v| v.to_str().unwrap().starts_with("bankid-session="))
    };
    let logged_in = [sets_session(&first), sets_session(&second)];
    assert_eq!(logged_in.iter().filter(|l| **l).count(), 1, "exactly one read logs in: {logged_in:?}");
    for response in [first, second] {
        assert_eq!(response.json::<serde_json::Value>().await.unwrap()["status"], "approved");
    }
    let (status, me) = app.get_json("/me").await;
    assert_eq!((status, me["name"].as_str()), (StatusCode::OK, Some("Kari Nordmann")), "{me}");
}
for_each_store!(two_status_reads_after_a_ciba_approval_log_in_once);

/// A route that loads the session, says so on `loaded`, waits for `go_on`,
/// then writes a value: a slow request whose save comes late.
fn slow_note(loaded: std::sync::Arc<tokio::sync::Notify>, go_on: std::sync::Arc<tokio::sync::Notify>) -> axum::Router {
    let slow = axum::routing::post(move |session: tower_sessions::Session| async move {
        let _ = session.get_value("note").await.unwrap();
        loaded.notify_one();
        go_on.notified().await;
        session.insert_value("note", "written late".into()).await.unwrap();
        "noted"
    });
    axum::Router::new().route("/slow-note", slow)
}

/// Kari logged in; a slow request loads her session, `end` runs while it
/// waits, then the slow request saves. Answers the app and Kari's session id.
async fn late_save_around(
    stores: &Stores,
    end: impl AsyncFnOnce(&common::TestApp),
) -> (common::TestApp, tower_sessions::session::Id) {
    let (loaded, go_on) =
        (std::sync::Arc::new(tokio::sync::Notify::new()), std::sync::Arc::new(tokio::sync::Notify::new()));
    let routes = slow_note(loaded.clone(), go_on.clone());
    let app = TestApp::builder().store(stores.store()).routes(routes).start().await;
    assert_eq!(app.login_as("kari").await.response.status(), StatusCode::SEE_OTHER);
    let kari_session = app.cookie("bankid-session").unwrap().parse().unwrap();
    let late = app.client.post(app.url("/slow-note")).send();
    let end_after_load = async {
        loaded.notified().await;
        end(&app).await;
        go_on.notify_one();
    };
    let (late, ()) = tokio::join!(late, end_after_load);
    let late = late.unwrap();
    // Its save is refused (the session layer's bare 500), so it sends no cookie.
    assert_eq!(late.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(late.headers().get("set-cookie").is_none(), "{:?}", late.headers());
    (app, kari_session)
}

/// Issue 20 item 6: a request that loaded Kari's session before her logout
/// and saves it (modified) after the logout must not bring the login back:
/// neither its whole-record save nor its `Set-Cookie` of the old id (the
/// late request answers `500`: what it wrote belonged to an ended session).
async fn a_request_from_before_logout_does_not_bring_the_login_back(stores: &Stores) {
    let (app, kari_session) = late_save_around(stores, async |app| {
        let logout = app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
        assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    })
    .await;
    app.assert_logged_out().await;
    let record = stores.another_handle().await.load(&kari_session).await.unwrap();
    assert!(record.is_none(), "the ended record stays deleted");
}
for_each_store!(a_request_from_before_logout_does_not_bring_the_login_back);

/// The same kind when a login replaces the record: Ola logs in at Kari's
/// browser while a request of Kari's is slow; its late save neither revives
/// her record nor switches the browser back to her.
async fn a_request_from_before_another_login_does_not_bring_the_old_one_back(stores: &Stores) {
    let (app, kari_session) = late_save_around(stores, async |app| {
        assert_eq!(app.login_as("ola").await.response.status(), StatusCode::SEE_OTHER);
    })
    .await;
    let (status, me) = app.get_json("/me").await;
    assert_eq!((status, me["name"].as_str()), (StatusCode::OK, Some("Ola Nordmann")), "{me}");
    let record = stores.another_handle().await.load(&kari_session).await.unwrap();
    assert!(record.is_none(), "the replaced record stays deleted");
}
for_each_store!(a_request_from_before_another_login_does_not_bring_the_old_one_back);
