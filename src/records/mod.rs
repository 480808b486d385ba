//! The crate's own records in the application's session store, each its own
//! record beside (never inside) the session: create-once records and how
//! their ids are derived (`single_use`), login attempts (`attempt`) and the
//! cookies that bind them to one browser (`binding`), back-channel logout markers (`logout_markers`), the store
//! wrapper that rotates session ids safely (`rotation`), and the in-process
//! store used when the app names none (`local_store`).
//!
//! Records take a store (and the configuration they need); they import no
//! route, so the routes, extractors and CIBA can all use them.

pub(crate) mod activity;
pub(crate) mod attempt;
pub(crate) mod binding;
pub(crate) mod local_store;
pub(crate) mod logout_markers;
pub(crate) mod rotation;
pub(crate) mod single_use;
