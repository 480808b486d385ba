//! Step-up (RFC 9470): what a route needs beyond the global
//! [`minimum_loa`](crate::BankIdConfigBuilder::minimum_loa) — a higher
//! level of assurance, a recent login, or both — and how it is enforced.
//!
//! - [`Requirement`]: the requirement as a type ([`Loa3`],
//!   [`Loa4`], [`LoggedInWithin`], tuples of them), named in a handler's
//!   signature.
//! - [`StepUpPolicy`]: the same requirement as a value; how a login asks
//!   BankID for it (`acr_values`, `max_age`, the identity provider) and how
//!   the callback checks the new ID token against it.
//! - [`StepUp`] and [`require_step_up`]: the extractor and the guard that
//!   compare the stored login with the route's requirement and send a user
//!   below it through a new login ([`StepUpRejection`]).
//!
//! ```
//! use axum::{Router, routing::get};
//! use axum_bankid::step_up::{Loa4, LoggedInWithin, StepUp};
//!
//! async fn transfer(user: StepUp<(Loa4, LoggedInWithin<300>)>) -> String {
//!     format!("{} may transfer", user.sub)
//! }
//! let app: Router = Router::new().route("/transfer", get(transfer));
//! ```

pub(crate) mod policy;
pub(crate) mod requirement;

pub use crate::extract::step_up::{StepUp, StepUpRejection, require_step_up};
pub use policy::{MAX_STEP_UP_MAX_AGE, StepUpPolicy};
pub use requirement::{Loa3, Loa4, LoggedInWithin, Requirement};
