//! The simulator's tests, one module per area, linked into one test binary.

mod sim_support;

#[cfg(feature = "cli")]
mod cli;
mod conformance;
mod simulator;
mod simulator_ciba;
mod simulator_keys;
mod simulator_permissions;
mod simulator_users;
mod simulator_v4;
