//! Which browser started a CIBA request: the one the status route logs in
//! on approval, and whose pending requests logout cancels.
//!
//! # Why not in the session
//!
//! A list of handles inside the session record would lose handles:
//! tower-sessions loads and saves the whole record per request without a
//! lock, so two starts from one browser at once (a double click, two tabs)
//! would each save their own copy of the list and the later save would drop
//! the other's handle: that approval would then log nobody in, and logout
//! could not cancel it.
//!
//! # The design
//!
//! Like login attempts ([`crate::records::attempt`]): each started request gets
//! its own cookie, `bankid-ciba-<tag>` (`<tag>` a hash of the handle), holding
//! a random 128-bit binding, and its own record in the login store, named by
//! the binding and holding the handle. One cookie and one record per request
//! means no two requests write the same thing. Only the browser holding the
//! cookie can name the record; a handle alone (shown on a TV, posted to a
//! status URL) proves nothing. The record lives as long as the request can be
//! approved; logging in with it removes the cookie (the login keeps the
//! handle, and logout cancels that request), logging out removes both.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use serde_json::Value;
use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};
use tower_sessions::session::Id;

use crate::error::{Cause, Error};
use crate::records::attempt::store_error;
use crate::records::binding::{self, Kind};
use crate::records::single_use::{SingleUseRecords, record_id};
use crate::relying_party::RelyingParty;

use super::Ciba;

/// The record's one key: the handle it was started under.
const HANDLE_KEY: &str = "axum_bankid.ciba_handle";
/// At most this many requests per browser are remembered; beyond it the
/// oldest cookie goes (its request can no longer log this browser in).
const MAX_PER_BROWSER: usize = 8;

/// What the owner records need of a layer (built by the layer's state):
/// its configuration, where its records go, and its CIBA client, if CIBA
/// is on (logout and logins end a browser's requests either way).
#[derive(Clone)]
pub(crate) struct Owners {
    pub(crate) core: Arc<RelyingParty>,
    pub(crate) records: SingleUseRecords,
    pub(crate) ciba: Option<Ciba>,
}

/// Records that this browser started `handle`, for `lifetime_secs` (the
/// request's own lifetime). Answers the `Set-Cookie` values to send.
pub(crate) async fn claim(
    owners: &Owners,
    headers: &HeaderMap,
    handle: &str,
    lifetime_secs: i64,
) -> Result<Vec<HeaderValue>, Error> {
    let config = owners.core.config();
    let (binding, cookies) = binding::issue(config, headers, Kind::Ciba, handle, lifetime_secs, MAX_PER_BROWSER);
    let expiry = OffsetDateTime::now_utc() + TimeDuration::seconds(lifetime_secs);
    let created = owners
        .records
        .create_first(owner_id(&binding), HANDLE_KEY, Value::String(handle.to_owned()), expiry)
        .await
        .map_err(store_error)?;
    if !created {
        // 2^-128: a fresh random binding already taken.
        return Err(Error::Session(Cause::new("CIBA owner id collision")));
    }
    Ok(cookies)
}

/// Whether this browser started `handle` (and has not logged in with it or
/// logged out since).
pub(crate) async fn owns(owners: &Owners, headers: &HeaderMap, handle: &str) -> Result<bool, Error> {
    let Some(binding) = binding::find(owners.core.config(), headers, Kind::Ciba, handle) else { return Ok(false) };
    Ok(handle_of(owners, &binding).await?.as_deref() == Some(handle))
}

/// The `Set-Cookie` that ends this browser's ownership of `handle` once it
/// has logged in with it.
///
/// Only the cookie goes; the record stays until it expires (useless without
/// the binding the cookie held). The session layer saves the new login
/// after this route has answered, and when that save fails it replaces the
/// whole answer with a bare `500` — dropping this `Set-Cookie` too, so the
/// browser still owns the request and its next status read logs it in.
/// Deleting the record here would lose the approval in that case.
pub(crate) fn release(owners: &Owners, headers: &HeaderMap, handle: &str) -> Option<HeaderValue> {
    binding::clear(owners.core.config(), headers, Kind::Ciba, handle)
}

/// Takes every request this browser started but `except` (at logout, or
/// when the browser logs in; the caller expires their cookies): answers
/// their handles. The records go before any cancel, so whatever happens to
/// the cancels, no approval of them logs this browser in.
async fn take_all(owners: &Owners, headers: &HeaderMap, except: Option<&str>) -> Result<Vec<String>, Error> {
    let config = owners.core.config();
    let store = &owners.records;
    let mut handles = Vec::new();
    // No more than a browser can hold (older cookies were expired at start).
    for binding in binding::newest(config, headers, Kind::Ciba, MAX_PER_BROWSER) {
        let handle = handle_of(owners, &binding).await?;
        if except.is_some() && handle.as_deref() == except {
            continue;
        }
        handles.extend(handle);
        store.remove(owner_id(&binding)).await.map_err(store_error)?;
    }
    Ok(handles)
}

/// Ends every request this browser started — but `except`, the one whose
/// approval is logging it in now — and `logged_in_by` (the CIBA request a
/// login came from, if any): their records go first ([`take_all`]), then
/// each is cancelled, so no approval of them can log this browser in. At
/// logout, and whenever the browser logs in (by the code flow or by one of
/// its CIBA requests): a late approval must not replace the login just made.
/// Answers the `Set-Cookie` values that expire their owner cookies. A failed
/// cancel is logged; the ownership is gone either way.
pub(crate) async fn end_all(
    owners: &Owners,
    headers: &HeaderMap,
    logged_in_by: Option<String>,
    except: Option<&str>,
) -> Result<Vec<HeaderValue>, Error> {
    let mut handles = take_all(owners, headers, except).await?;
    handles.extend(logged_in_by);
    handles.sort_unstable();
    handles.dedup();
    if let Some(ciba) = &owners.ciba {
        for handle in handles.iter().filter_map(|h| super::CibaHandle::parse(h)) {
            match ciba.cancel(&handle).await {
                Ok(()) | Err(super::CibaError::UnknownHandle) => {}
                Err(err) => tracing::warn!(error = %err, "could not cancel a CIBA request this browser started"),
            }
        }
    }
    if !handles.is_empty() {
        tracing::info!(cancelled = handles.len(), "CIBA requests of this browser ended");
    }
    let config = owners.core.config();
    let kept = except.and_then(|handle| binding::clear(config, headers, Kind::Ciba, handle));
    let mut expired = binding::clear_all(config, headers, Kind::Ciba);
    expired.retain(|cookie| Some(cookie) != kept.as_ref());
    Ok(expired)
}

/// How long the right to log in with one ownership is held: far beyond one
/// status read; a read that failed gives it back at once ([`LoginTurn::give_back`]).
const LOGIN_TURN_SECS: i64 = 15 * 60;

/// The one status read that logs this browser in with `handle`: two reads
/// at once (two tabs, a page polling twice) both see the ownership, and each
/// would write its own logged-in session record, one of them orphaned (no
/// browser holds its cookie, no logout reaches it). A create-once record per
/// ownership lets one through, on every instance sharing the store; `None`
/// for the others (and for a browser that does not own `handle`).
pub(crate) async fn take_login_turn(
    owners: &Owners,
    headers: &HeaderMap,
    handle: &str,
) -> Result<Option<LoginTurn>, Error> {
    let Some(binding) = binding::find(owners.core.config(), headers, Kind::Ciba, handle) else { return Ok(None) };
    let id = record_id(&binding, "ciba-login-turn");
    let expiry = OffsetDateTime::now_utc() + TimeDuration::seconds(LOGIN_TURN_SECS);
    let taken = owners.records.create_first(id, HANDLE_KEY, Value::String(handle.to_owned()), expiry).await;
    Ok(taken.map_err(store_error)?.then_some(LoginTurn { id }))
}

/// The right to log this browser in with one ownership (see [`take_login_turn`]).
pub(crate) struct LoginTurn {
    id: Id,
}

impl LoginTurn {
    /// After a failed login: the browser's next status read may try again.
    pub(crate) async fn give_back(self, owners: &Owners) {
        if let Err(err) = owners.records.remove(self.id).await {
            tracing::warn!(error = %err, "could not give back a CIBA login turn; the ownership is spent");
        }
    }
}

async fn handle_of(owners: &Owners, binding: &str) -> Result<Option<String>, Error> {
    let record = owners.records.read(owner_id(binding)).await.map_err(store_error)?;
    Ok(record.and_then(|r| r.data.get(HANDLE_KEY).and_then(Value::as_str).map(str::to_owned)))
}

fn owner_id(binding: &str) -> Id {
    record_id(binding, "ciba-owner")
}
