//! Grants of permission logins ([`StoredGrant`]): one store record per flow,
//! bound to the browser by a `bankid-grant-<tag>` cookie (see [`crate::records::binding`]).
//!
//! Not in the session, for the reason login attempts are not (see
//! [`crate::flow::attempt`]): two permission logins finishing at the same moment
//! in one browser would each save a session with only their own grant, and
//! one grant would be lost. Here each flow writes its own record once, and
//! nothing ever rewrites it.
//!
//! The landing request names its flow (`bankid_flow=<id>`, added by the
//! callback); the record id is derived from that id and the cookie's random
//! binding together, so only this browser reaches the record. Grants also
//! carry the approving user's `sub`, which [`Granted`](crate::permission::Granted)
//! compares with the logged-in user. Use is marked by a create-once record
//! ([`crate::once`]) plus an in-process guard; the grant record itself is
//! never modified, so a lapse cannot revive a used grant.
//!
//! Each function takes the store it works on and the relying party
//! ([`RelyingParty`]: config and in-process guard), not the layer's state: the
//! grants go to the login store, the marks of use to
//! [`with_single_use_store`](crate::BankIdLayer::with_single_use_store)'s
//! store when there is one (the caller, [`Granted`](crate::permission::Granted), picks it).

use std::fmt;

use axum::http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};
use tower_sessions::session::Id;

use crate::error::Error;
use crate::permission::error::PermissionError;
use crate::provider::error::Cause;
use crate::records::attempt::store_error;
use crate::records::binding::{self, Kind};
use crate::records::single_use::{SingleUseRecords, record_id};
use crate::relying_party::RelyingParty;

const GRANTS_KEY: &str = "axum_bankid.grants";
const USED_KEY: &str = "axum_bankid.grant_used";
/// Flows with grants kept per browser; beyond this the oldest cookie goes.
const MAX_FLOWS: usize = 16;

/// A verified permission grant, waiting for [`Granted`](crate::permission::Granted);
/// kept in the flow's own store record (see [`keep`]).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct StoredGrant {
    pub(crate) id: String,
    /// The login (flow) that produced the grant; see `PendingLogin::flow`.
    #[serde(default)]
    pub(crate) flow: String,
    pub(crate) r#type: String,
    pub(crate) encoded: String,
    pub(crate) digest: String,
    /// Who logged in with the grant: the login's ID-token issuer and `sub`
    /// (BankID OIDC's, not the grant's BIB `sub`). Grants stored by older
    /// versions have no issuer and so match nobody.
    #[serde(default)]
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) granted_at: i64,
    pub(crate) signed_permission: Option<String>,
    /// Names the grant's single-use record in a shared store; unlike `id`
    /// (which apps may show as an idempotency key) it never leaves the server.
    pub(crate) use_secret: String,
}

impl fmt::Debug for StoredGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredGrant")
            .field("type", &self.r#type)
            .field("granted_at", &self.granted_at)
            .finish_non_exhaustive()
    }
}

/// Stores the grants of `flow` in `records` and returns the cookies binding
/// them to this browser.
#[tracing::instrument(name = "bankid.grants.keep", skip_all, fields(grants = grants.len()), err(Display))]
pub(crate) async fn keep(
    records: &SingleUseRecords,
    core: &RelyingParty,
    headers: &HeaderMap,
    flow: &str,
    grants: &[StoredGrant],
) -> Result<Vec<HeaderValue>, Error> {
    let config = core.config();
    let ttl = config.grant_ttl.as_secs() as i64;
    let (binding, cookies) = binding::issue(config, headers, Kind::Grant, flow, ttl, MAX_FLOWS);
    let value = serde_json::to_value(grants).map_err(|e| Error::Session(Cause::from_error(e)))?;
    let expiry = OffsetDateTime::now_utc() + TimeDuration::seconds(ttl);
    let created =
        records.create_first(grants_id(&binding, flow), GRANTS_KEY, value, expiry).await.map_err(store_error)?;
    if !created {
        // 2^-128: a fresh random id already taken.
        return Err(Error::Session(Cause::new("grant record id collision")));
    }
    Ok(cookies)
}

/// The grants of `flow` this browser holds in `records` (none: `NotGranted`).
pub(crate) async fn of_flow(
    records: &SingleUseRecords,
    core: &RelyingParty,
    headers: &HeaderMap,
    flow: &str,
) -> Result<Vec<StoredGrant>, Error> {
    let binding = binding::find(core.config(), headers, Kind::Grant, flow).ok_or(PermissionError::NotGranted)?;
    let record = records.read(grants_id(&binding, flow)).await.map_err(store_error)?;
    let grants = record.and_then(|r| r.data.get(GRANTS_KEY).cloned()).ok_or(PermissionError::NotGranted)?;
    Ok(serde_json::from_value(grants).unwrap_or_default())
}

/// Whether the grant was redeemed already: `uses` holds a mark from any
/// instance sharing that store.
pub(crate) async fn is_used(uses: &SingleUseRecords, grant_use_secret: &str) -> Result<bool, Error> {
    let used = uses.read(use_id(grant_use_secret)).await.map_err(store_error)?;
    Ok(used.is_some())
}

/// Marks the grant used, in this process (`core`'s spent ids) and in
/// `uses`, for a minute longer than a grant lives; `false` if it already
/// was, here or elsewhere.
pub(crate) async fn mark_used(
    uses: &SingleUseRecords,
    core: &RelyingParty,
    grant_id: &str,
    grant_use_secret: &str,
) -> Result<bool, Error> {
    let until = OffsetDateTime::now_utc() + TimeDuration::seconds(core.config().grant_ttl.as_secs() as i64 + 60);
    if !core.spent_ids.spend(grant_id, until.unix_timestamp(), crate::clock::unix_now()) {
        return Ok(false);
    }
    uses.create_first(use_id(grant_use_secret), USED_KEY, serde_json::Value::Bool(true), until)
        .await
        .map_err(store_error)
}

fn grants_id(binding: &str, flow: &str) -> Id {
    record_id(&format!("{binding}:{flow}"), "flow-grants")
}

fn use_id(grant_use_secret: &str) -> Id {
    record_id(grant_use_secret, "grant-use")
}
