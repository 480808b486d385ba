//! The crate's integration tests, one module per area, linked into one test
//! binary (one link step instead of one per file).

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
mod interop;
mod key_chain;
mod login_completion;
mod no_leaks;
mod outages;
mod permissions;
#[cfg(feature = "fuzzing")]
mod properties;
mod redis_instances;
mod round_trips;
mod session;
mod step_up;
mod stores;
mod wiring;
