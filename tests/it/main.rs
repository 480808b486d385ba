//! The crate's integration tests: one module per area, linked into one test
//! binary, so a change to `src/` costs one link instead of one per file, and
//! every harness helper in `common` is used (no `allow(dead_code)`).
//!
//! Run them all with `cargo test --all-features --test it`, one area with
//! `cargo test --all-features --test it ciba::`.
//!
//! What sharing one process asks of a test:
//! - One global `tracing` subscriber per process: `common::logs` installs it
//!   (every `warn`, axum-bankid from `debug`) for the tests that assert on
//!   what was logged across threads. A test that captures its own logs
//!   scopes its subscriber to its thread (`tracing::subscriber::set_default`
//!   under the current-thread runtime of `#[tokio::test]`), as `no_leaks`
//!   does. A test that needs a process-wide subscriber of its own, or sets
//!   environment variables for the whole process, needs a binary of its own
//!   (none does today).
//! - `properties` and `authorize_url` call the unstable
//!   `axum_bankid::fuzzing` entry points, so they are compiled only with the
//!   `fuzzing` feature (`--all-features`); without it the rest still runs.
//!   `metrics` likewise needs the `metrics` feature.

mod common;

mod adversarial_sessions;
mod adversarial_tokens;
#[cfg(feature = "fuzzing")]
mod authorize_url;
mod backchannel_logout;
mod bankid_wire;
mod ciba;
mod code_flow;
mod error_sources;
mod faults;
mod first_steps;
mod interop;
mod key_chain;
mod login_cache;
mod login_completion;
mod login_events;
mod login_hook;
#[cfg(feature = "metrics")]
mod metrics;
mod no_leaks;
mod outages;
mod permissions;
#[cfg(feature = "fuzzing")]
mod properties;
mod redis_instances;
mod round_trips;
mod session;
mod session_status;
mod step_up;
mod stores;
mod testing_helpers;
mod wiring;
