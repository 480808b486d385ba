//! Login attempts in flight: each one is its own store record, bound to the
//! browser by its own cookie.
//!
//! # Why not in the session
//!
//! `tower-sessions` loads the whole session record at the start of a request
//! and saves the whole record at the end, with no per-session lock. A list
//! of pending logins inside the session is therefore a read-modify-write
//! that two concurrent requests of one browser (two tabs starting a login, a
//! callback overlapping a new login) race on: the later save drops what the
//! earlier one added, and that login ends in `unknown_state`. It also skips
//! the save on a 5xx answer, so a callback that failed at the token endpoint
//! left its `state` usable for a replay.
//!
//! # The design
//!
//! Like ASP.NET Core's correlation cookies, each attempt gets a cookie of
//! its own, `bankid-login-<tag>` (`__Host-` prefixed on https), where
//! `<tag>` is a hash of the attempt's `state`. It holds only the start time
//! and a random 128-bit *binding* secret; nothing in it is worth stealing
//! without the browser's other cookies. The attempt itself (nonce, PKCE
//! verifier, return path, requested permissions) is a record in the session
//! store whose id is derived from binding and `state` together, so:
//!
//! - attempts never share a record: no lost updates, however requests interleave;
//! - a `state` replayed in another browser finds no record (no binding
//!   cookie there) — login CSRF fails with `unknown_state`;
//! - only that browser could compute the record id (it sees both halves), so
//!   no one else can present it as a session id;
//! - the callback spends the `state` first, with a create-once record in the
//!   store (see [`super::single_use`]) plus an in-process guard, before anything
//!   else, so the first callback naming it wins whatever its outcome — also
//!   across instances sharing the store;
//! - an anonymous visitor who starts a login gets no session at all: the
//!   attempt's record and cookie live for the attempt's TTL only.
//!
//! The cap on attempts per browser counts that browser's attempt cookies;
//! beyond the cap the oldest cookie is expired, which orphans its record
//! (it expires unread). Two logins started at the same instant may both
//! pass the cap once; the cap exists to bound cookie size, not for security.
//!
//! The store is the one the layer was given
//! ([`BankIdLayer::with_session_store`](crate::BankIdLayer::with_session_store)
//! or [`BankIdLayer::with_login_store`](crate::BankIdLayer::with_login_store));
//! without either, attempts are kept in this process only.

use axum::http::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};
use tower_sessions::session::Id;

use super::binding::{self, Kind};
use crate::config::BankIdConfig;
use crate::error::{Cause, Error};
use crate::expiry_queue::SpentIds;
use crate::records::single_use::{SingleUseRecords, record_id};
use tower_sessions::session_store;

const ATTEMPT_KEY: &str = "axum_bankid.login_attempt";
const SPENT_KEY: &str = "axum_bankid.state_spent";
/// Records outlive the attempt by this much, so a late callback is told
/// `login_expired` rather than `unknown_state`.
const GRACE_SECS: i64 = 60;

/// A layer's login attempts: the store they are kept in (what
/// `with_session_store` or `with_login_store` gave the layer, or this
/// process's own), the configuration that names their cookies and
/// lifetimes, and this process's guard that spends a `state` once before
/// the store is asked.
pub(crate) struct Attempts<'a> {
    pub(crate) records: SingleUseRecords,
    pub(crate) config: &'a BankIdConfig,
    pub(crate) spent_ids: &'a SpentIds,
}

/// What the browser must be sent for a started attempt.
pub(crate) struct Started {
    /// `Set-Cookie` values: the new attempt's cookie, and expired ones for
    /// attempts beyond the cap.
    pub(crate) cookies: Vec<HeaderValue>,
}

impl Attempts<'_> {
    /// Stores `attempt` (what the callback will need of the login started
    /// with `state`) under a fresh binding and returns the cookies to set.
    #[tracing::instrument(name = "bankid.attempt.store", skip_all, err(Display))]
    pub(crate) async fn store(
        &self,
        headers: &HeaderMap,
        state: &str,
        attempt: &impl Serialize,
    ) -> Result<Started, Error> {
        let config = self.config;
        // Cookie and record outlive the attempt by the grace period, so that a
        // late callback is told `login_expired`.
        let lifetime = config.login_attempt_ttl.as_secs() as i64 + GRACE_SECS;
        let (binding, cookies) =
            binding::issue(config, headers, Kind::Login, state, lifetime, config.max_pending_logins);
        let value = serde_json::to_value(attempt).map_err(|e| Error::Session(Cause::from_error(e)))?;
        let expiry = OffsetDateTime::now_utc() + TimeDuration::seconds(lifetime);
        let created = self
            .records
            .create_first(attempt_id(&binding, state), ATTEMPT_KEY, value, expiry)
            .await
            .map_err(store_error)?;
        if !created {
            // 2^-128: a fresh random id already taken.
            return Err(Error::Session(Cause::new("login attempt id collision")));
        }
        Ok(Started { cookies })
    }

    /// Finds, spends and removes the attempt this browser started with `state`.
    /// `UnknownState` when this browser has no such attempt or it was spent.
    #[tracing::instrument(name = "bankid.attempt.spend", skip_all, err(Display))]
    pub(crate) async fn spend<T: DeserializeOwned>(&self, headers: &HeaderMap, state: &str) -> Result<T, Error> {
        let config = self.config;
        let Some(binding) = binding::find(config, headers, Kind::Login, state) else {
            if binding::any(config, headers, Kind::Login) {
                return Err(Error::UnknownState);
            }
            // Logged: the usual cause is the app opened on another host than
            // the redirect URI's, which the login start has reported already.
            tracing::warn!(redirect_host = config.redirect_uri().host_str(), "callback without any login cookie");
            return Err(Error::NoLoginCookie);
        };
        let records = &self.records;
        let id = attempt_id(&binding, state);
        let record = records.read(id).await.map_err(store_error)?.ok_or(Error::UnknownState)?;
        self.mark_spent(spent_id(&binding, state), record.expiry_date).await?;
        if let Err(err) = records.remove(id).await {
            // Spent already; the record expires on its own.
            tracing::debug!(error = %err, "could not remove a spent login attempt");
        }
        let pending = record.data.get(ATTEMPT_KEY).cloned().ok_or(Error::UnknownState)?;
        serde_json::from_value(pending).map_err(|_| Error::UnknownState)
    }

    /// First wins: in this process, then in the shared store.
    async fn mark_spent(&self, spent: Id, until: OffsetDateTime) -> Result<(), Error> {
        let now = crate::clock::unix_now();
        if !self.spent_ids.spend(&format!("login-state:{spent}"), until.unix_timestamp(), now) {
            return Err(Error::UnknownState);
        }
        match self.records.create_first(spent, SPENT_KEY, Value::Bool(true), until).await.map_err(store_error)? {
            true => Ok(()),
            false => Err(Error::UnknownState),
        }
    }
}

/// The `Set-Cookie` that removes the attempt cookie for `state`, if the
/// request carried one.
pub(crate) fn clear_cookie(config: &BankIdConfig, headers: &HeaderMap, state: &str) -> Option<HeaderValue> {
    binding::clear(config, headers, Kind::Login, state)
}

pub(crate) fn store_error(err: session_store::Error) -> Error {
    tracing::error!(error = %err, "session store failed");
    Error::Session(Cause::from_error(err))
}

fn attempt_id(binding: &str, state: &str) -> Id {
    record_id(&format!("{binding}:{state}"), "login-attempt")
}

fn spent_id(binding: &str, state: &str) -> Id {
    record_id(&format!("{binding}:{state}"), "login-attempt-spent")
}
