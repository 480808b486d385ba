//! [`ConfigError`]: what is wrong with a setting, naming it.

/// A configuration value that is missing or invalid. `field` names the
/// builder method (or, from [`BankIdConfig::from_env`](crate::BankIdConfig::from_env), the variable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required value was not given.
    #[error("missing required setting `{field}`")]
    Missing {
        /// The setting.
        field: &'static str,
    },
    /// A value was given but cannot be used.
    #[error("invalid setting `{field}`: {reason}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// Why it was rejected (never contains a secret).
        reason: String,
    },
}

impl ConfigError {
    /// The setting this error is about.
    pub fn field(&self) -> &'static str {
        match self {
            ConfigError::Missing { field } | ConfigError::Invalid { field, .. } => field,
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid { field, reason: reason.into() }
    }

    pub(super) fn renamed(self, env: &'static str) -> Self {
        match self {
            ConfigError::Missing { .. } => ConfigError::Missing { field: env },
            ConfigError::Invalid { reason, .. } => ConfigError::Invalid { field: env, reason },
        }
    }
}
