//! Grants of permission logins (moving to `permission/`).

pub(crate) mod grants;
