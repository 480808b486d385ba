//! [`Granted<P>`](Granted): a permission the logged-in user approved, found
//! for a request and spent once (how it is extracted from a request, like
//! every extractor of the crate, is in `extract/granted.rs`).
//!
//! Finding a grant reads only: it must come from the flow the request names
//! (`bankid_flow`, see [`requested_flow`]), belong to the same (`iss`,
//! `sub`) that is logged in, be younger than
//! [`grant_ttl`](crate::BankIdConfigBuilder::grant_ttl) and, with single-use
//! grants, not be used yet. [`Granted::redeem`] is the one place a grant is
//! spent (see `grants.rs` for the records). A refusal is an
//! [`AuthRejection`](crate::AuthRejection), so a browser without a login is sent to log in as with
//! [`AuthenticatedUser`].

use std::sync::Arc;

use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::PermissionError;
use super::grants;
use super::statement::{Permission, permission_digest, same_digest};
use crate::clock::unix_now;
use crate::error::Error;
use crate::records::single_use::SingleUseRecords;
use crate::relying_party::RelyingParty;
use crate::user::AuthenticatedUser;

/// Proof that the logged-in user approved a statement of type `P` in
/// BankID: its `permission_digest` matched what was sent.
///
/// The grant is the one of *this* flow: the permission login's landing URL
/// carries `bankid_flow=<id>` (added to
/// [`return_to`](super::PermissionRequest::return_to) by the callback), and only a
/// request naming that flow gets its grant — keep the parameter on the
/// requests that act on it (e.g. in a form's `action`). A grant older than
/// [`grant_ttl`](crate::BankIdConfigBuilder::grant_ttl) is ignored.
///
/// Extracting spends nothing: a link prefetch, a reload or a handler that
/// rejects the request body leave the approval intact. Call
/// [`redeem`](Self::redeem) right before acting on it; with
/// [`single_use_grants`](crate::BankIdConfigBuilder::single_use_grants) (the
/// default) it succeeds once.
///
/// ```
/// use axum::Json;
/// use axum_bankid::error::Error;
/// use axum_bankid::permission::{Granted, Permission};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Payment { amount: String }
/// impl Permission for Payment { const TYPE: &'static str = "payment.v1"; }
///
/// #[derive(Deserialize)]
/// struct Order { amount: String }
///
/// async fn pay(granted: Granted<Payment>, Json(order): Json<Order>) -> Result<&'static str, Error> {
///     granted.require(&Payment { amount: order.amount })?;
///     granted.redeem().await?; // spent here, and only here
///     Ok("paid")
/// }
/// ```
///
/// Rejected with `403 {"error":"permission_not_granted"}` when this browser
/// holds no unused grant of type `P` from the named flow for the current
/// user, `401` when nobody is logged in.
pub struct Granted<P> {
    statement: P,
    statement_bytes: Vec<u8>,
    id: String,
    digest: String,
    signed_permission: Option<String>,
    use_secret: String,
    /// Where the grant is spent, and the settings that say whether it is.
    uses: SingleUseRecords,
    core: Arc<RelyingParty>,
}

impl<P> std::fmt::Debug for Granted<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Granted").field("digest", &self.digest).finish_non_exhaustive()
    }
}

impl<P: Permission> Granted<P> {
    /// The approved statement.
    pub fn statement(&self) -> &P {
        &self.statement
    }

    /// The approved statement, owned.
    pub fn into_statement(self) -> P {
        self.statement
    }

    /// A random id of this grant: use it as the idempotency key of the
    /// action it authorises.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The verified `permission_digest`.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The provider-signed permission (Permission API flow only).
    pub fn signed_permission(&self) -> Option<&str> {
        self.signed_permission.as_deref()
    }

    /// Fails unless the approved statement is exactly `expected` (same
    /// serialisation), e.g. the payment this page is about to execute.
    pub fn require(&self, expected: &P) -> Result<(), PermissionError> {
        let expected = serde_json::to_vec(expected).map_err(|_| PermissionError::Serialization)?;
        if same_digest(&permission_digest(&expected), &permission_digest(&self.statement_bytes)) {
            Ok(())
        } else {
            Err(PermissionError::StatementMismatch)
        }
    }

    /// Uses the grant up: call it right before acting on the approval.
    ///
    /// With single-use grants (the default) only the first call for a grant
    /// succeeds — per instance, and across instances when
    /// [`with_single_use_store`](crate::BankIdLayer::with_single_use_store)
    /// is configured; later ones fail with
    /// [`PermissionError::AlreadyRedeemed`] (`403`, detail
    /// `already_redeemed`), and so do later extractions of it (a reload of
    /// the page that redeemed it is told what happened). The use is
    /// recorded in the store at once, so a handler that fails afterwards
    /// with a 5xx cannot revive it. A store failure fails closed with
    /// [`Error::Session`]. With reusable grants this always succeeds.
    #[tracing::instrument(name = "bankid.redeem", skip_all, fields(r#type = P::TYPE), err(Display))]
    pub async fn redeem(&self) -> Result<(), Error> {
        if !self.core.config().single_use_grants {
            return Ok(());
        }
        let first_use = grants::mark_used(&self.uses, &self.core, &self.id, &self.use_secret).await?;
        crate::metrics::permission_redeemed(first_use);
        if !first_use {
            return Err(PermissionError::AlreadyRedeemed.into());
        }
        tracing::info!("permission grant redeemed");
        Ok(())
    }
}

/// The flow the request names with `bankid_flow`, if it names exactly one:
/// a repeated parameter names none (which one counts would be a guess).
fn requested_flow(parts: &Parts) -> Option<String> {
    let query = parts.uri.query()?;
    let mut named = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key == crate::return_to::FLOW_PARAM)
        .map(|(_, value)| value.into_owned());
    let flow = named.next().filter(|flow| !flow.is_empty())?;
    named.next().is_none().then_some(flow)
}

/// Where a layer keeps its grants and marks them used (built by the
/// layer's state for each lookup).
pub(crate) struct GrantRecords {
    /// The grants of permission logins, with the layer's other records.
    pub(crate) grants: SingleUseRecords,
    /// Where single use is marked: `with_single_use_store`'s store if
    /// configured, else the same as `grants`.
    pub(crate) uses: SingleUseRecords,
    pub(crate) core: Arc<RelyingParty>,
}

/// The grant of type `P` for `user` — the same (`iss`, `sub`) that logged in
/// with it — from the flow this request names. Reads only: nothing is spent
/// until [`Granted::redeem`]. A grant that is found but already spent is
/// `already_redeemed` (say, a reload of the page that redeemed it); any
/// other miss is `not_granted`.
pub(crate) async fn find<P: Permission>(
    records: GrantRecords,
    parts: &Parts,
    user: &AuthenticatedUser,
) -> Result<Granted<P>, Error> {
    let flow = requested_flow(parts).ok_or(PermissionError::NotGranted)?;
    let now = unix_now();
    let config = records.core.config();
    let ttl = config.grant_ttl.as_secs() as i64;
    let grant = grants::of_flow(&records.grants, &records.core, &parts.headers, &flow)
        .await?
        .into_iter()
        .find(|g| {
            g.flow == flow && g.r#type == P::TYPE && g.iss == user.iss && g.sub == user.sub && now - g.granted_at <= ttl
        })
        .ok_or(PermissionError::NotGranted)?;
    if config.single_use_grants && grants::is_used(&records.uses, &grant.use_secret).await? {
        return Err(PermissionError::AlreadyRedeemed.into());
    }
    let statement_bytes = URL_SAFE_NO_PAD.decode(&grant.encoded).map_err(|_| PermissionError::StatementMismatch)?;
    let statement: P = serde_json::from_slice(&statement_bytes).map_err(|_| PermissionError::StatementMismatch)?;
    Ok(Granted {
        statement,
        statement_bytes,
        id: grant.id,
        digest: grant.digest,
        signed_permission: grant.signed_permission,
        use_secret: grant.use_secret,
        uses: records.uses,
        core: records.core,
    })
}
