//! Grants of permission logins: one store record per flow, bound to the
//! browser by a `bankid-grant-<tag>` cookie (see [`crate::records::binding`]).
//!
//! Not in the session, for the reason login attempts are not (see
//! [`crate::records::attempt`]): two permission logins finishing at the same moment
//! in one browser would each save a session with only their own grant, and
//! one grant would be lost. Here each flow writes its own record once, and
//! nothing ever rewrites it.
//!
//! The landing request names its flow (`bankid_flow=<id>`, added by the
//! callback); the record id is derived from that id and the cookie's random
//! binding together, so only this browser reaches the record. Grants also
//! carry the approving user's `sub`, which [`Granted`](crate::permission::Granted)
//! compares with the logged-in user. Use is marked by a create-once record
//! ([`crate::records::single_use`]) plus an in-process guard; the grant record itself is
//! never modified, so a lapse cannot revive a used grant.

use axum::http::{HeaderMap, HeaderValue};
use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};
use tower_sessions::session::Id;

use crate::error::{Error, Failure};
use crate::records::attempt::store_error;
use crate::records::binding::{self, Kind};
use crate::records::single_use::{SingleUseRecords, record_id};
use crate::session::StoredGrant;
use crate::state::Ctx;
use crate::state::records;
use crate::statement::PermissionError;

const GRANTS_KEY: &str = "axum_bankid.grants";
const USED_KEY: &str = "axum_bankid.grant_used";
/// Flows with grants kept per browser; beyond this the oldest cookie goes.
const MAX_FLOWS: usize = 16;

/// Stores the grants of `flow` and returns the cookies binding them to this browser.
#[tracing::instrument(name = "bankid.grants.keep", skip_all, fields(grants = grants.len()), err(Display))]
pub(crate) async fn keep(
    ctx: &Ctx,
    headers: &HeaderMap,
    flow: &str,
    grants: &[StoredGrant],
) -> Result<Vec<HeaderValue>, Error> {
    let config = ctx.core.config();
    let ttl = config.grant_ttl.as_secs() as i64;
    let (binding, cookies) = binding::issue(config, headers, Kind::Grant, flow, ttl, MAX_FLOWS);
    let value = serde_json::to_value(grants).map_err(|e| Error::Session(Failure::from_error(e)))?;
    let expiry = OffsetDateTime::now_utc() + TimeDuration::seconds(ttl);
    let created =
        records(ctx).create_first(grants_id(&binding, flow), GRANTS_KEY, value, expiry).await.map_err(store_error)?;
    if !created {
        // 2^-128: a fresh random id already taken.
        return Err(Error::Session(Failure::new("grant record id collision")));
    }
    Ok(cookies)
}

/// The grants of `flow` this browser holds (none: `NotGranted`).
pub(crate) async fn of_flow(ctx: &Ctx, headers: &HeaderMap, flow: &str) -> Result<Vec<StoredGrant>, Error> {
    let binding = binding::find(ctx.core.config(), headers, Kind::Grant, flow).ok_or(PermissionError::NotGranted)?;
    let record = records(ctx).read(grants_id(&binding, flow)).await.map_err(store_error)?;
    let grants = record.and_then(|r| r.data.get(GRANTS_KEY).cloned()).ok_or(PermissionError::NotGranted)?;
    Ok(serde_json::from_value(grants).unwrap_or_default())
}

/// Whether the grant was redeemed already (on any instance sharing the store).
pub(crate) async fn is_used(ctx: &Ctx, grant_use_secret: &str) -> Result<bool, Error> {
    let used = use_records(ctx).read(use_id(grant_use_secret)).await.map_err(store_error)?;
    Ok(used.is_some())
}

/// Marks the grant used; `false` if it already was, here or elsewhere.
pub(crate) async fn mark_used(ctx: &Ctx, grant_id: &str, grant_use_secret: &str) -> Result<bool, Error> {
    let until = OffsetDateTime::now_utc() + TimeDuration::seconds(ctx.core.config().grant_ttl.as_secs() as i64 + 60);
    if !ctx.core.spent_ids.spend(grant_id, until.unix_timestamp(), crate::clock::unix_now()) {
        return Ok(false);
    }
    use_records(ctx)
        .create_first(use_id(grant_use_secret), USED_KEY, serde_json::Value::Bool(true), until)
        .await
        .map_err(store_error)
}

/// `with_single_use_store`'s store if configured, else the login store.
fn use_records(ctx: &Ctx) -> SingleUseRecords {
    ctx.grant_uses.clone().unwrap_or_else(|| records(ctx))
}

fn grants_id(binding: &str, flow: &str) -> Id {
    record_id(&format!("{binding}:{flow}"), "flow-grants")
}

fn use_id(grant_use_secret: &str) -> Id {
    record_id(grant_use_secret, "grant-use")
}
