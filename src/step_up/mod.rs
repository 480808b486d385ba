//! Step-up (RFC 9470): what a route needs beyond the global floor, and the
//! extractor and guard that enforce it.

mod extract;
mod policy;

pub use extract::*;
pub use policy::*;
