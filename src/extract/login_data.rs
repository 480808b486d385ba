//! [`LoginData<T>`]: the app's data its [login hook](crate::login_hook)
//! kept with the current login ([`LoginDecision::allow_with`](crate::login_hook::LoginDecision::allow_with)),
//! read back by a handler.
//!
//! An extractor rather than a session key the app reads itself: the data
//! is only handed out while the login it was kept with counts (the same
//! checks as [`AuthenticatedUser`]: `max_login_age`, the current minimum
//! level, back-channel logouts), so a handler cannot act on a customer id
//! whose login has ended.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::rejection::{AuthRejection, rejection};
use crate::http::session_of;
use crate::session::load_login_data;
use crate::state::LayerState;
use crate::user::AuthenticatedUser;

/// The data the login hook kept with the current login, as a `T`.
///
/// `None` when the hook kept none for this login (it answered
/// [`allow`](crate::login_hook::LoginDecision::allow), or the login was made
/// before the app had a hook), or when the kept data does not read as a `T`
/// (the app changed the type: a `warn` says so). Rejected like
/// [`AuthenticatedUser`] when there is no valid login: browsers go to the
/// login route, API clients get `401 unauthenticated`.
///
/// ```
/// use axum::{Router, routing::get};
/// use axum_bankid::LoginData;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Customer { id: u64 }
///
/// async fn accounts(LoginData(customer): LoginData<Customer>) -> String {
///     match customer {
///         Some(customer) => format!("accounts of customer {}", customer.id),
///         None => "no customer for this login".to_owned(),
///     }
/// }
/// let app: Router = Router::new().route("/accounts", get(accounts));
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
pub struct LoginData<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for LoginData<T> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // The login must count before its data is handed out.
        AuthenticatedUser::from_request_parts(parts, state).await?;
        let ctx = parts.extensions.get::<LayerState>().cloned();
        let stored = match session_of(&parts.extensions) {
            Ok(session) => load_login_data(&session).await,
            Err(err) => Err(err),
        };
        let stored = stored.map_err(|err| rejection(ctx.as_ref(), parts, err))?;
        Ok(LoginData(stored.and_then(|value| {
            serde_json::from_value(value)
                // The category only: serde's message quotes the value.
                .inspect_err(|err| tracing::warn!(category = ?err.classify(), "the login hook's data does not read as this type"))
                .ok()
        })))
    }
}
