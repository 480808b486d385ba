#![doc = include_str!("../docs/crate.md")]
#![doc = include_str!("../docs/error-kinds.md")]
#![doc = include_str!("../docs/crate-permissions-ciba-features.md")]
#![deny(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used, clippy::todo, clippy::dbg_macro)]
#![cfg_attr(test, allow(clippy::unwrap_used))]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod ciba;
mod clock;
mod config;
pub mod docs;
#[cfg(test)]
mod docs_tests;
pub mod error;
pub mod events;
mod expiry_queue;
mod extract;
mod health;
mod http;
mod relying_party;
// Unstable entry points into the parsers of outside input, for property
// tests, fuzz targets and benches only (feature `fuzzing`, never in a
// production build); no stability promise.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod id_token;
mod jws;
mod key_chain;
mod language;
mod layer;
mod live_login;
mod loa;
mod log_value;
mod login;
mod login_cache;
mod login_check;
mod login_hint;
pub mod login_hook;
mod logout_token;
// Counters and latency histograms through the `metrics` facade; public only
// with the feature (for `describe`), and a set of empty functions without it.
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
#[cfg(not(feature = "metrics"))]
mod metrics;
mod nnin;
pub mod permission;
mod private_responses;
mod provider;
mod records;
mod return_to;
mod routes;
mod session;
mod state;
pub mod step_up;
// Test logins against the simulator from an app's own tests (feature
// `testing`, never in a production build).
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod user;
mod wiring;

/// The embedded BankID simulator: the [`axum_bankid_simulator`] crate, re-exported.
#[cfg(feature = "simulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "simulator")))]
pub use axum_bankid_simulator as simulator;

pub use config::{BankIdConfig, BankIdConfigBuilder, BankIdEnvironment, ClientAssertionKey, ClientAuth, ParMode};
pub use extract::{AuthRejection, BankIdSession, LoginData, LoginRequest, require_authenticated};
pub use health::{Health, KeysHealth, ProviderHealth};
pub use layer::{BankIdLayer, BankIdService, BankIdSessionLayer};
pub use loa::Loa;

pub use login_cache::LoginCacheStats;
pub use provider::ProviderMetadata;
pub use records::rotation::RotationSafeStore;
pub use user::{AuthenticatedUser, Claims, User};

/// Re-exported so the session types you name match the ones this crate uses.
pub use tower_sessions;

// The README's code blocks, compiled with the doctests so their paths stay right.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
