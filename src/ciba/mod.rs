//! CIBA (OpenID Client-Initiated Backchannel Authentication, poll mode):
//! the server starts a BankID authentication and the user approves a push
//! on their phone — for smart TVs, consoles, 3-D Secure iframes, call centres.
//!
//! CIBA runs at BIB, BankID with biometrics' second provider, in the sequence
//! of BankID Norway's own CIBA example client: a client-credentials token
//! from BankID OIDC (`openid permissions/client permissions/ciba`, plus the
//! permission type's product scopes, e.g. `permissions/text`) →
//! `user-exists` → register a permission with `intents: ["ciba"]` (a plain
//! login registers `authentication.v1`) → the backchannel request with
//! `login_hint_token=<permissionToken>`, the **binding message made by
//! BankID** and `scope=openid permissions/ciba` → polls of BIB's token
//! endpoint → the ID token verified with BIB's keys and issuer → the LOA
//! policy → for a permission, the signed grant fetched and verified. Every
//! call to BIB carries the Bearer token.
//!
//! LOA 4 is reached only by a forced step-up at BIB: the registration's
//! `acr_values: ["urn:bankid:bih"]` ([`CibaRequest::acr_value`] with
//! [`BibAcr::High`](crate::permission::BibAcr::High), or automatically when
//! the layer's minimum is LOA 4). A CIBA login's `iss` is BIB's, so it is
//! another identity (`iss`, `sub`) than a code-flow login of the same person.
//!
//! **There is no fallback in CIBA**: no push can reach a user without BankID
//! with biometrics, so [`Ciba::start`] first asks `user-exists` (switch off
//! with [`CibaRequest::skip_user_exists_check`]), and every way it can fail
//! is its own [`CibaError`] variant, so the app can route the user to its
//! backup path (e.g. the code flow on their phone). The public start route
//! is the exception by design: it answers before BIB is asked, and its
//! callers read those reasons as one (see `background`).
//!
//! A pending authentication lives in the session *store* under an opaque
//! handle (never the `auth_req_id`), so any instance sharing the store can
//! continue it. The provider is polled on demand, when the app asks for the
//! status, and never before the interval the provider set (plus 5 s per
//! `slow_down`) has passed. Only when the app wants outcomes pushed to it
//! ([`CibaOptions::callback`](crate::ciba::CibaOptions::callback))
//! does one background task per layer poll the requests this instance started.

mod background;
mod client;
mod deliver;
pub(crate) mod error;
mod options;
pub(crate) mod owner;
pub(crate) mod poll;
mod public_start;
mod request;
pub(crate) mod routes;
mod store;

pub use client::Ciba;
pub(crate) use deliver::CibaCallback;
pub use deliver::CibaFinished;
pub(crate) use error::CibaError;
#[cfg(feature = "fuzzing")]
pub(crate) use error::initiation_error;
pub use options::CibaOptions;
pub(crate) use public_start::PublicStartPolicy;
pub use public_start::{ClientAddress, PublicCibaStart};
pub use request::{CibaHandle, CibaRequest, CibaStarted, CibaStatus};
pub(crate) use store::CibaStore;
