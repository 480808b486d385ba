//! The simulator's black-box tests, linked into one test binary: they drive
//! a started simulator over real HTTP on loopback as a bare relying party
//! would, with no code of the crate's relying party (helpers in `sim_support`).
//! `conformance` sends exactly the requests BankID's own CIBA example sends
//! and the shapes BankID does not take; the `simulator*` modules keep the
//! behaviours per area; `cli` runs the binary itself (feature `cli`), `program` as a relying
//! party on another stack does (`--config`, `--public-url`, `--auto-approve`).

mod sim_support;

#[cfg(feature = "cli")]
mod cli;
mod conformance;
#[cfg(feature = "cli")]
mod program;
mod simulator;
mod simulator_ciba;
mod simulator_keys;
mod simulator_permissions;
mod simulator_users;
mod simulator_v4;
