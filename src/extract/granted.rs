//! [`Granted<P>`](crate::permission::Granted) as an extractor: the user's
//! login first (a browser without one is sent to log in), then the grant
//! the request's flow names (see `permission/granted.rs` for what is checked).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::rejection::{AuthRejection, no_bankid_layer, rejection};
use crate::permission::granted::{GrantRecords, Granted, find};
use crate::permission::statement::Permission;
use crate::state::{LayerState, records};
use crate::user::AuthenticatedUser;

impl<P: Permission, S: Send + Sync> FromRequestParts<S> for Granted<P> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = <AuthenticatedUser as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        let ctx = parts.extensions.get::<LayerState>().cloned();
        let Some(layer) = ctx.as_ref() else { return Err(rejection(None, parts, no_bankid_layer())) };
        find::<P>(grant_records(layer), parts, &user).await.map_err(|error| rejection(ctx.as_ref(), parts, error))
    }
}

fn grant_records(ctx: &LayerState) -> GrantRecords {
    let grants = records(ctx);
    let uses = ctx.grant_uses.clone().unwrap_or_else(|| grants.clone());
    GrantRecords { grants, uses, core: ctx.core.clone() }
}
