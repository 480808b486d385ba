//! The whole login on a real `redis-server` session store.
//!
//! The test starts its own `redis-server` on a free loopback port. Without
//! the binary it is skipped, unless `AXUM_BANKID_REQUIRE_REDIS=1` (CI sets it)
//! turns the absence into a failure.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{TroubleStore, location, start_with_store};
use reqwest::StatusCode;
use tower_sessions_redis_store::RedisStore;

fn dbsize(port: u16) -> Option<u64> {
    let out = Command::new("redis-cli").args(["-p", &port.to_string(), "dbsize"]).output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

#[tokio::test]
async fn login_session_lives_in_redis() {
    let Some(redis) = common::redis::start_redis() else { return };
    let pool = common::redis::connect(redis.port).await;
    let app = start_with_store(RedisStore::new(pool), |b| b).await;

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
    if let Some(keys) = dbsize(redis.port) {
        assert!(keys >= 1, "the session is stored in redis");
    }

    let logout = app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    app.assert_logged_out().await;
}

#[tokio::test]
async fn failed_callback_leaves_no_login_in_redis() {
    let Some(redis) = common::redis::start_redis() else { return };
    let pool = common::redis::connect(redis.port).await;
    let app = start_with_store(RedisStore::new(pool), |b| b).await;
    let callback = app.login_as("per").await;
    assert_eq!(callback.response.status(), StatusCode::FORBIDDEN);
    app.assert_logged_out().await;
    let replay = app.client.get(&callback.url).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST, "state consumed even on failure");
}

#[tokio::test]
async fn ciba_request_continues_on_another_instance_via_redis() {
    use axum_bankid::{Loa, ciba::CibaRequest, permission::LoginHint};
    use axum_bankid_simulator::{CibaBehavior, Simulator};

    let Some(redis) = common::redis::start_redis() else { return };
    let store = RedisStore::new(common::redis::connect(redis.port).await);
    let app = common::start_ciba_with_store(store.clone()).await;
    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(1));
    let nnin = Simulator::users().iter().find(|u| u.id == "kari").unwrap().nnin.to_owned();
    let started = app.ciba.clone().unwrap().start(CibaRequest::new(LoginHint::Nnin(nnin))).await.unwrap();
    // A second instance with its own connection pool to the same Redis.
    let other = common::other_instance(&app.sim, RedisStore::new(common::redis::connect(redis.port).await)).await;
    assert_eq!(other.wait(&started.handle).await.unwrap().loa, Loa::SUBSTANTIAL);
    if let Some(keys) = dbsize(redis.port) {
        assert!(keys >= 1, "the pending request lived in redis");
    }
}

#[tokio::test]
async fn ciba_callback_and_a_second_instance_agree_via_redis() {
    use axum_bankid::{BankIdLayer, Loa, ciba::CibaRequest, permission::LoginHint};
    use axum_bankid_simulator::{CibaBehavior, Simulator};

    let Some(redis) = common::redis::start_redis() else { return };
    let (sender, mut finished) = tokio::sync::mpsc::unbounded_channel();
    // Both instances are deployed with the same callback; whichever records
    // the outcome calls it.
    let with_callback = common::ciba_callback_into(sender);
    let store = TroubleStore::lagging(RedisStore::new(common::redis::connect(redis.port).await));
    let app = common::start_ciba_layer(store, |b| b, with_callback.clone()).await;
    let other_layer = BankIdLayer::discover(common::config_for(&app.sim)).await.unwrap();
    let other_store = TroubleStore::lagging(RedisStore::new(common::redis::connect(redis.port).await));
    let other =
        other_layer.with_ciba(with_callback(axum_bankid::ciba::CibaOptions::new(other_store))).unwrap().ciba().unwrap();

    app.sim.set_ciba_behavior("kari", CibaBehavior::ApproveAfterPolls(1));
    let nnin = Simulator::users().iter().find(|u| u.id == "kari").unwrap().nnin.to_owned();
    let started = app.ciba.clone().unwrap().start(CibaRequest::new(LoginHint::Nnin(nnin))).await.unwrap();
    // The starting instance polls in the background while the other waits.
    assert_eq!(other.wait(&started.handle).await.unwrap().loa, Loa::SUBSTANTIAL);
    let done = tokio::time::timeout(Duration::from_secs(30), finished.recv()).await.unwrap().unwrap();
    assert_eq!(done.handle, started.handle);
    assert_eq!(done.result.unwrap().loa, Loa::SUBSTANTIAL);
    assert!(matches!(
        app.ciba.clone().unwrap().status(&started.handle).await.unwrap(),
        axum_bankid::ciba::CibaStatus::Approved { .. }
    ));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(finished.try_recv().is_err(), "one callback in all");
    let sent = &app.sim.ciba_requests()[0];
    assert_eq!(sent.poll_offsets.len(), 2, "one pending answer, then the tokens: {:?}", sent.poll_offsets);
    assert_eq!(sent.interval, Duration::from_secs(1), "the instances never polled in the same slot");
}

#[tokio::test]
async fn single_use_grant_holds_across_instances_via_redis() {
    use axum_bankid::BankIdLayer;
    use axum_bankid_simulator::Simulator;

    let Some(redis) = common::redis::start_redis() else { return };
    let single_use = |layer: BankIdLayer, store| layer.with_single_use_store(store);
    // Each instance has its own pool; reads lag so that both instances load
    // the session while it still holds the grant.
    let store = TroubleStore::lagging(RedisStore::new(common::redis::connect(redis.port).await));
    let app = common::start_full(Simulator::builder(), store, |b| b, single_use).await;
    let other_store = TroubleStore::lagging(RedisStore::new(common::redis::connect(redis.port).await));
    let other = common::second_server(&app.sim, other_store, single_use).await;

    let authorize_url = app.begin_at("/pay").await;
    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    let landed = app.client.get(callback_url).send().await.unwrap();
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    let statuses = common::use_grant_on_both(&app, &other, &location(&landed)).await;
    assert_eq!(statuses, [StatusCode::OK, StatusCode::FORBIDDEN], "exactly one instance accepts the grant");
}
