//! The signing-key chain settings: BankID's root certificates and whether
//! the check may be switched off (see `crate::key_chain`).
//!
//! BankID asks every relying party to check that a token's signing key was
//! issued under its published roots. The roots are downloaded from BankID
//! (not reachable from here), so they are configuration: a PEM file or PEM
//! bytes, parsed when the configuration is built. Production without roots
//! is refused unless the check is switched off explicitly; elsewhere the
//! keys are trusted by TLS alone, with a warning at start-up.

use std::fmt;
use std::path::PathBuf;

use url::Url;

use super::environment::BankIdEnvironment;
use super::error::ConfigError;
use crate::clock::unix_now;
use crate::key_chain::TrustedRoots;

/// Where the builder was told to read the root certificates from.
#[derive(Clone)]
pub(super) enum RootSource {
    Pem(Vec<u8>),
    File(PathBuf),
}

impl fmt::Debug for RootSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootSource::Pem(pem) => write!(f, "Pem({} bytes)", pem.len()),
            RootSource::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// The validated chain settings of a [`BankIdConfig`](super::BankIdConfig).
#[derive(Debug, Clone)]
pub(crate) struct KeyChainSettings {
    /// The roots every BankID OIDC signing key must chain to; `None`: keys
    /// are trusted by TLS alone.
    pub(crate) roots: Option<TrustedRoots>,
    /// `false` when the app switched the check off explicitly.
    pub(crate) enabled: bool,
}

/// The field named in errors about the roots.
const ROOTS: &str = "root_certificates";

/// Parses the roots and checks them against the switch and the issuers:
/// roots with the check off is a contradiction; production without roots
/// needs the check off explicitly.
pub(super) fn key_chain_settings(
    source: Option<RootSource>,
    enabled: Option<bool>,
    issuers: [Option<&Url>; 2],
    preset: Option<BankIdEnvironment>,
) -> Result<KeyChainSettings, ConfigError> {
    let roots = source.map(load_roots).transpose()?;
    let enabled = enabled.unwrap_or(true);
    if !enabled && roots.is_some() {
        return Err(ConfigError::invalid("key_chain_check", "is off, but root_certificates are configured"));
    }
    if enabled && roots.is_none() && is_production(issuers, preset) {
        return Err(ConfigError::Missing { field: ROOTS });
    }
    Ok(KeyChainSettings { roots, enabled })
}

fn load_roots(source: RootSource) -> Result<TrustedRoots, ConfigError> {
    let pem = match source {
        RootSource::Pem(pem) => pem,
        RootSource::File(path) => {
            std::fs::read(&path).map_err(|e| ConfigError::invalid(ROOTS, format!("cannot be read ({})", e.kind())))?
        }
    };
    let now = u64::try_from(unix_now()).unwrap_or_default();
    TrustedRoots::from_pem(&pem, now).map_err(|why| ConfigError::invalid(ROOTS, why))
}

/// Whether this configuration talks to BankID's production environment:
/// chosen as such, or either issuer is production's.
fn is_production(issuers: [Option<&Url>; 2], preset: Option<BankIdEnvironment>) -> bool {
    let production = BankIdEnvironment::Production;
    let is = |url: &Url, expected: &str| url.as_str().trim_end_matches('/') == expected;
    preset == Some(production)
        || issuers[0].is_some_and(|url| is(url, production.issuer()))
        || issuers[1].is_some_and(|url| is(url, production.bib_issuer()))
}

impl KeyChainSettings {
    /// Says at start-up how signing keys are trusted: `warn` whenever a
    /// certificate check is missing.
    pub(crate) fn log_at_start(&self) {
        match (&self.roots, self.enabled) {
            (Some(roots), _) => tracing::info!(
                roots = roots.len(),
                "BankID signing keys must chain to the configured root certificates"
            ),
            (None, false) => tracing::warn!(
                "the BankID signing-key certificate check is switched off (key_chain_check): \
                 signing keys are trusted by TLS alone"
            ),
            (None, true) => tracing::warn!(
                "no BankID root certificates configured (root_certificates_file, BANKID_ROOT_CERTS_FILE): \
                 signing keys are trusted by TLS alone"
            ),
        }
    }
}
