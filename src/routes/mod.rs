//! The routes `BankIdLayer` mounts, one module each: login, callback,
//! logout, back-channel logout and the session status (CIBA's routes are in
//! `ciba::routes`).
//! Handlers only: what they do is in `login/` and `records/`.

pub(crate) mod backchannel_logout;
pub(crate) mod callback;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod session_status;
