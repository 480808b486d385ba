//! A login from start to finish: starting one (`start`: the login's secrets,
//! PAR and the redirect; `options`: what one login may ask for), and what
//! every login does once the provider has answered, whichever way the user logged in
//! (the code flow's callback or CIBA): see [`complete`].

pub(crate) mod complete;
pub(crate) mod options;
pub(crate) mod repeated_callback;
pub(crate) mod start;
