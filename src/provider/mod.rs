//! Everything that talks to the OpenID Provider: discovery metadata, the
//! signing keys (JWKS) and the token endpoint.
//!
//! All outbound calls go through one HTTP client that has a timeout and never
//! follows redirects (a redirect from a provider endpoint is treated as an
//! error, which closes an SSRF path).

pub(crate) mod http;
pub(crate) mod jwks;
pub(crate) mod max_age;
pub(crate) mod metadata;
pub(crate) mod token;

pub use metadata::ProviderMetadata;
