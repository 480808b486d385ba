//! Everything that talks to the OpenID Providers: discovery metadata of
//! BankID OIDC and of BIB, the signing keys (JWKS), the token endpoint and
//! client-credentials access tokens.
//!
//! All outbound calls go through one HTTP client that has a timeout and never
//! follows redirects (a redirect from a provider endpoint is treated as an
//! error, which closes an SSRF path).

pub(crate) mod authorize_url;
pub(crate) mod bib;
pub(crate) mod client_token;
pub(crate) mod discovered;
pub(crate) mod error;
pub(crate) mod http;
pub(crate) mod jwks;
pub(crate) mod max_age;
pub(crate) mod metadata;
pub(crate) mod signing_algs;
pub(crate) mod token;

pub use metadata::ProviderMetadata;

/// The test PKI shared with the integration tests (`tests/it/common/pki.rs`).
#[cfg(test)]
#[path = "../../tests/it/common/pki.rs"]
pub(crate) mod test_pki;
