//! What every login does once the provider has answered, whichever way the
//! user logged in (the code flow's callback or CIBA): see [`complete`].

pub(crate) mod complete;
