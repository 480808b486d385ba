//! Upfront permissions: a statement the user approves in BankID (a payment,
//! a card, an account) declared as a Rust type.
//!
//! A *permission login* is a BankID login that carries such a statement: a
//! handler starts it ([`BankIdSession::request`](crate::BankIdSession::request) →
//! [`PermissionRequest`]), the user logs in and approves the statement in
//! BankID, the callback verifies that what was approved is what was sent
//! and keeps the grant for the flow, and a later request takes it with
//! [`Granted`] and spends it with [`Granted::redeem`].
//!
//! A permission travels as a Rich Authorization Request item (RFC 9396)
//! inside a Pushed Authorization Request (RFC 9126) — BankID accepts
//! `authorization_details` only there — or as a reference registered through
//! the Permission API. For a RAR item the provider answers with a
//! `permission_digest` in the ID token, which must equal the digest of what we
//! sent; a Permission-API permission is proven by its signed [`Grant`] from
//! BIB (and an ID-token digest, when present, must match too). Only then is
//! the statement granted, and [`Granted`] hands it to a handler.
//!
//! The grant is BIB's and the ID token BankID OIDC's: their `sub`s are never
//! compared (a `sub` is unique per issuer only). [`BibAcr`] forces where BIB
//! ends an approval (BankID High or biometrics).
//!
//! ## Digest
//! BankID's examples show the digest as standard base64 *with padding* of a
//! SHA-256 value. Whether it is computed over the decoded statement bytes or
//! over the base64url string is not documented publicly; this crate computes
//! it over the **statement bytes** ([`DigestInput::StatementBytes`]) and lets
//! [`BankIdConfigBuilder::permission_digest_input`](crate::BankIdConfigBuilder::permission_digest_input)
//! switch, so a test against the real provider can settle it.
//!
//! ## The family
//! - [`Permission`]: the statement type; [`permission_digest`] and
//!   [`DigestInput`] say how its digest is computed.
//! - [`PermissionRequest`] starts a login that asks for one, [`Granted`]
//!   hands an approved one to a handler, [`PermissionError`](crate::error::PermissionError) says why not.
//! - [`PermissionApi`] (from [`BankIdLayer::permission_api`](crate::BankIdLayer::permission_api),
//!   configured with [`PermissionApiConfig`]) registers a permission by reference
//!   ([`Registration`], [`ClientSignals`], [`LoginHint`] → [`RegisteredPermission`])
//!   and fetches the signed [`Grant`]. CIBA names its user with the same
//!   [`LoginHint`].
//!
//! ## Where the code is
//! | file | holds |
//! |---|---|
//! | `statement.rs` | the [`Permission`] trait, the digest, what is sent (RAR item or reference) and the check of what the provider granted |
//! | `request.rs` | [`PermissionRequest`]: starting a permission login |
//! | `granted.rs` | [`Granted`]: the extractor, its lookup of the flow's grant, and `redeem` |
//! | `grants.rs` | the store records of grants (one per flow, bound to the browser) and of their single use |
//! | `api.rs` | the Permission API client at BIB and the checks of a signed [`Grant`] |
//! | `upfront.rs` | upfront permissions: [`BankIdConfigBuilder::upfront_permission`](crate::BankIdConfigBuilder::upfront_permission) and the items every login sends first |
//! | `error.rs` | [`PermissionError`](crate::error::PermissionError) |
//!
//! [`LoginHint`] is in `src/login_hint.rs`: a plain login and CIBA take it too.
//! The settings, [`PermissionApiConfig`] and [`DigestInput`], are plain data in
//! `src/config/permission_api.rs`: the configuration sits below this folder.

pub(crate) mod api;
pub(crate) mod error;
pub(crate) mod granted;
pub(crate) mod grants;
pub(crate) mod statement;
pub(crate) mod upfront;

pub use crate::extract::permission_request::PermissionRequest;
pub use crate::login_hint::LoginHint;
pub use api::{BibAcr, ClientSignals, Grant, PermissionApi, RegisteredPermission, Registration};
pub use granted::Granted;
pub use statement::{Permission, permission_digest, upfront_type};
// Settings, so they live in `config/` (below this folder); this is their
// one public path.
pub use crate::config::{DigestInput, PermissionApiConfig};
