//! What handlers take from a request: [`AuthenticatedUser`](crate::AuthenticatedUser)
//! (and the [`require_authenticated`] guard), [`StepUp`](crate::step_up::StepUp),
//! [`Granted`](crate::permission::Granted), [`LoginData`] (what the login
//! hook kept with the login), and the [`BankIdSession`] handle
//! with the logins it starts ([`LoginRequest`],
//! [`PermissionRequest`](crate::permission::PermissionRequest)) — each with
//! [`AuthRejection`]'s one way of refusing.
//!
//! One folder for every extractor, as in axum's own `extract/`: they are the
//! layer's entry points, read the per-layer state, and sit above the
//! families whose types they hand out (`permission/`, `step_up/`), so those
//! families never import the layer's state.

pub(crate) mod bankid_session;
mod granted;
mod login_data;
pub(crate) mod permission_request;
pub(crate) mod rejection;
pub(crate) mod step_up;
mod user;

pub use bankid_session::{BankIdSession, LoginRequest};
pub use login_data::LoginData;
pub use rejection::AuthRejection;
pub use user::require_authenticated;
