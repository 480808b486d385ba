//! Errors keep their causes: walking `std::error::Error::source()` from a
//! store failure or an unreachable provider reaches the typed error behind
//! it (issue 11, item 3), and the messages on the way hold no URL query.

use crate::common;

use std::error::Error as StdError;

use axum_bankid::TransportErrorKind;
use axum_bankid::ciba::{CibaError, CibaHandle, CibaOptions};
use axum_bankid::tower_sessions::SessionStore;
use axum_bankid::tower_sessions::session::{Id, Record};
use axum_bankid::tower_sessions::session_store;
use axum_bankid::{BankIdConfig, BankIdLayer, Error, TransportError};
use axum_bankid_simulator::Simulator;

/// A store that is down: every call fails.
#[derive(Debug, Clone)]
struct DownStore;

fn down() -> session_store::Error {
    session_store::Error::Backend("store unavailable".into())
}

#[async_trait::async_trait]
impl SessionStore for DownStore {
    async fn create(&self, _: &mut Record) -> session_store::Result<()> {
        Err(down())
    }
    async fn save(&self, _: &Record) -> session_store::Result<()> {
        Err(down())
    }
    async fn load(&self, _: &Id) -> session_store::Result<Option<Record>> {
        Err(down())
    }
    async fn delete(&self, _: &Id) -> session_store::Result<()> {
        Err(down())
    }
}

/// Every error in the chain below `err`, outermost first.
fn chain<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = err.source();
    while let Some(cause) = next {
        out.push(cause);
        next = cause.source();
    }
    out
}

#[tokio::test]
async fn a_ciba_store_failure_keeps_the_stores_error() {
    let sim = Simulator::start().await.unwrap();
    let config = BankIdConfig::builder()
        .issuer(sim.issuer())
        .bib_issuer(sim.bib_issuer())
        .client_id(sim.client_id())
        .client_secret(sim.client_secret())
        .redirect_uri("http://127.0.0.1:9/auth/bankid/callback")
        .build()
        .unwrap();
    let layer = BankIdLayer::discover(config).await.unwrap().with_ciba(CibaOptions::new(DownStore)).unwrap();
    let ciba = layer.ciba().unwrap();
    let handle = CibaHandle::parse(&"a".repeat(32)).unwrap();

    let err = ciba.cancel(&handle).await.unwrap_err();
    assert!(matches!(err, CibaError::Store(_)), "{err:?}");
    assert_eq!(err.kind(), "store_error");
    let causes = chain(&err);
    let store = causes
        .iter()
        .find_map(|e| e.downcast_ref::<session_store::Error>())
        .unwrap_or_else(|| panic!("no session_store::Error in {causes:?}"));
    assert!(matches!(store, session_store::Error::Backend(text) if text == "store unavailable"));
    // Clone and PartialEq still hold, comparing the message.
    assert_eq!(err.clone(), err);
    assert_eq!(err.to_string(), "the CIBA store failed: store unavailable");
}

#[tokio::test]
async fn an_unreachable_provider_keeps_the_http_clients_error() {
    let config = common::config_for_dead_issuer();

    let err = BankIdLayer::discover(config).await.unwrap_err();
    assert!(matches!(err, Error::Discovery(_)), "{err:?}");
    assert_eq!(err.kind(), "discovery_failed");
    let causes = chain(&err);
    let transport = causes
        .iter()
        .find_map(|e| e.downcast_ref::<TransportError>())
        .unwrap_or_else(|| panic!("no TransportError in {causes:?}"));
    assert_eq!(transport.kind(), TransportErrorKind::Refused, "{transport}");
    let http = causes
        .iter()
        .find_map(|e| e.downcast_ref::<reqwest::Error>())
        .unwrap_or_else(|| panic!("no reqwest::Error in {causes:?}"));
    assert!(http.is_connect());
    assert!(http.url().is_none(), "the kept error carries no URL: {http:?}");
}
