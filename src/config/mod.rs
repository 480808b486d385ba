//! Relying-party configuration: a builder and [`BankIdConfig::from_env`].
//!
//! Everything is validated when the configuration is built, so a typo in a
//! URL or a missing secret stops the service at start-up with an error that
//! names the field, instead of failing the first user who tries to log in.
//!
//! One file per concept; this file only declares them and re-exports what
//! the rest of the crate names (no item here is imported by a child, so the
//! children never depend on this file):
//!
//! - `settings`: [`BankIdConfig`], the validated settings, and its accessors;
//! - `builder`: [`BankIdConfigBuilder`] and [`BankIdConfig::builder`];
//! - `validate`: the checks `build` runs;
//! - `env`: [`BankIdConfig::from_env`] and its variable table;
//! - `client_auth`: [`ClientAuth`] with its credential;
//! - `environment`, `par`, `permission_api`: the option types;
//! - `key_chain`: BankID's root certificates for the signing keys' chains;
//! - `idp`: BankID's identity providers and their selectors (`acr_values`,
//!   the legacy `login_hint` code);
//! - `error`: [`ConfigError`].

mod builder;
mod client_auth;
mod env;
mod environment;
mod error;
mod idp;
mod key_chain;
mod login_cache;
mod par;
mod permission_api;
mod session_status;
mod settings;
mod validate;

#[cfg(test)]
mod tests;

pub use builder::BankIdConfigBuilder;
pub use client_auth::{ClientAssertionKey, ClientAuth};
pub(crate) use client_auth::{ClientSecret, Credential};
pub use environment::BankIdEnvironment;
pub use error::ConfigError;
pub(crate) use idp::IdentityProvider;
pub(crate) use login_cache::LoginCacheSettings;
pub use par::ParMode;
// Public through `permission::` only (this module is private and the crate
// root does not re-export them): the permission settings' one path.
pub(crate) use permission_api::UpfrontStatement;
pub use permission_api::{DigestInput, PermissionApiConfig};
pub use settings::BankIdConfig;
pub(crate) use validate::{is_loopback, is_valid_ui_locales};
