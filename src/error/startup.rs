//! [`StartupError`]: why the layer could not start. Everything that is
//! checked once, when the app starts ([`BankIdLayer::discover`],
//! [`BankIdLayer::with_ciba`]), fails with this one type, so `main` has one
//! error to report and a login never meets a start-up problem.
//!
//! [`BankIdLayer::discover`]: crate::BankIdLayer::discover
//! [`BankIdLayer::with_ciba`]: crate::BankIdLayer::with_ciba

use crate::config::ConfigError;
use crate::provider::error::Cause;

/// Why [`BankIdLayer::discover`](crate::BankIdLayer::discover) or
/// [`with_ciba`](crate::BankIdLayer::with_ciba) failed. Each variant has a
/// stable [`kind`](Self::kind) code, the same as the request-time
/// [`Error`](super::Error) uses for the same cause. A [`ConfigError`]
/// converts into it, so `?` works on
/// [`BankIdConfig::from_env`](crate::BankIdConfig::from_env) and
/// [`build`](crate::BankIdConfigBuilder::build) in the same function.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The configuration is invalid, or contradicts what the provider
    /// requires (e.g. `ParMode::Disabled` with a provider that requires
    /// pushed authorization requests; [`ConfigError::field`] says which).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A provider's discovery document or keys could not be loaded. The
    /// [`Cause`]'s source is the cause where there is one: the HTTP client's
    /// error (through a [`TransportError`](super::TransportError)), the JSON
    /// parser's, or none for a document whose content is unusable.
    #[error("provider discovery failed: {0}")]
    Discovery(#[source] Cause),
    /// The provider lacks something this configuration needs (e.g. a PAR
    /// endpoint when PAR is required or permissions are requested, a
    /// backchannel authentication endpoint for CIBA), or a setting the
    /// feature needs is missing (`bib_issuer`).
    #[error("the provider does not advertise `{capability}`, which this configuration needs")]
    MissingCapability {
        /// The discovery metadata field (or setting) that is missing.
        capability: &'static str,
    },
}

impl StartupError {
    /// A stable, machine-readable code: `config`, `discovery_failed` or
    /// `missing_capability`.
    pub fn kind(&self) -> &'static str {
        match self {
            StartupError::Config(_) => "config",
            StartupError::Discovery(_) => "discovery_failed",
            StartupError::MissingCapability { .. } => "missing_capability",
        }
    }

    /// The missing field or setting for `missing_capability`, as
    /// [`Error::detail`](super::Error::detail) gives it.
    pub fn detail(&self) -> Option<&str> {
        match self {
            StartupError::MissingCapability { capability } => Some(capability),
            StartupError::Config(_) | StartupError::Discovery(_) => None,
        }
    }
}
