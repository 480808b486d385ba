//! Polling the token endpoint (CIBA Core §7.3, §11), on demand.
//!
//! One poll of a request runs at a time across every instance sharing the
//! store: an in-process claim, then a lease record in the store. Under the
//! lease the state is read again, the next allowed poll time is moved
//! forward *before* the provider is called, and the outcome is recorded
//! once, in a record of its own. So neither retries, nor concurrent status
//! requests, nor a slow instance can poll faster than the provider allows
//! or replace an outcome.

use std::time::Duration;

use super::client::{CIBA_TOKEN_SCOPE, Ciba, MAX_INTERVAL_SECS};
use super::error::CibaError;
use super::request::{CibaHandle, CibaStatus};
use super::store::{Outcome, PendingCiba};
use crate::claims::AuthenticatedUser;
use crate::clock::unix_now_ms;
use crate::error::{EndpointError, IdTokenError};
use crate::loa::{AcrIssuer, Loa, check_loa};
use crate::permission::{PermissionError, Transport, verify_granted};
use crate::permission_api::{GrantExpectation, PermissionApi, bearer_send};
use crate::provider::token::parse_json_response;

const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";
/// CIBA Core §11: every `slow_down` adds at least 5 seconds.
const SLOW_DOWN_SECS: u64 = 5;

enum Polled {
    Pending { retry_after_ms: u64 },
    Approved(Box<AuthenticatedUser>),
}

impl Ciba {
    /// The current status, polling the provider only if the interval allows.
    #[tracing::instrument(name = "bankid.ciba.status", skip_all)]
    pub async fn status(&self, handle: &CibaHandle) -> Result<CibaStatus, CibaError> {
        match self.poll(handle).await {
            Ok(Polled::Pending { retry_after_ms }) => Ok(CibaStatus::Pending { retry_after_ms }),
            Ok(Polled::Approved(user)) => Ok(CibaStatus::Approved { user }),
            Err(err) if err.is_final() && !matches!(err, CibaError::UnknownHandle) => {
                Ok(CibaStatus::Failed { error: err.kind().to_owned() })
            }
            Err(err) => Err(err),
        }
    }

    /// Waits for the outcome, polling as often as the provider allows.
    /// Dropping the future stops polling at once (a poll already sent is
    /// still answered and recorded).
    pub async fn wait(&self, handle: &CibaHandle) -> Result<AuthenticatedUser, CibaError> {
        // Transient failures are retried until the request would have expired.
        let mut expires_at_ms = None;
        loop {
            match self.poll(handle).await {
                Ok(Polled::Approved(user)) => return Ok(*user),
                Ok(Polled::Pending { retry_after_ms }) => {
                    tokio::time::sleep(Duration::from_millis(retry_after_ms.max(50))).await;
                }
                Err(err) if !err.is_final() => {
                    let retry_ms = match self.store.load(handle).await {
                        Ok(pending) => {
                            expires_at_ms = Some(pending.expires_at_ms);
                            retry_after(&pending).max(50)
                        }
                        Err(CibaError::UnknownHandle) => return Err(CibaError::UnknownHandle),
                        Err(_) => 1000,
                    };
                    if expires_at_ms.is_none_or(|at| unix_now_ms() > at) {
                        return Err(err);
                    }
                    tracing::warn!(error = %err, "CIBA poll failed; retrying after the interval");
                    tokio::time::sleep(Duration::from_millis(retry_ms)).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// The verified user and ID token of an approved request (for logging
    /// the requesting session in).
    pub(crate) async fn approved_login(&self, handle: &CibaHandle) -> Option<(AuthenticatedUser, String)> {
        let outcome = match self.store.unsaved(handle) {
            Some(outcome) => outcome,
            None => self.store.outcome(&self.store.load(handle).await.ok()?).await.ok()??,
        };
        match outcome {
            Outcome::Approved { user, id_token } => Some((*user, id_token)),
            Outcome::Failed { .. } => None,
        }
    }

    async fn poll(&self, handle: &CibaHandle) -> Result<Polled, CibaError> {
        let pending = self.store.load(handle).await?;
        if let Some(outcome) = self.store.unsaved(handle) {
            return self.retry_unsaved(handle, &pending, outcome).await;
        }
        if let Some(outcome) = self.store.outcome(&pending).await? {
            return outcome_result(&outcome);
        }
        let now = unix_now_ms();
        if now < pending.next_poll_at_ms && now < pending.expires_at_ms {
            return Ok(Polled::Pending { retry_after_ms: retry_after(&pending) });
        }
        // The poll runs on a task of its own: a caller that goes away (a
        // client disconnects, a timeout around `wait`) must not cut it off
        // after the provider handed out the tokens — it does so only once.
        let (ciba, owned) = (self.clone(), handle.clone());
        match tokio::spawn(async move { ciba.poll_due(&owned, &pending).await }).await {
            Ok(result) => result,
            Err(_) => Err(CibaError::ProviderUnavailable("the poll task did not finish".to_owned())),
        }
    }

    /// Polls the provider if this caller gets the request to itself and the
    /// interval has passed.
    async fn poll_due(&self, handle: &CibaHandle, pending: &PendingCiba) -> Result<Polled, CibaError> {
        let busy = Polled::Pending { retry_after_ms: pending.interval_secs * 1000 };
        let Some(_in_flight) = self.store.claim(handle) else { return Ok(busy) };
        let Some(lease) = self.store.lease(pending, self.lease_ttl()).await? else { return Ok(busy) };
        let result = self.poll_leased(handle).await;
        lease.release().await;
        result
    }

    /// Long enough for a token request, a wait for another key refresh and
    /// a key refresh, each bounded by the HTTP timeout (itself at most
    /// 300 s), plus the store writes; after that a dead holder's lease lapses.
    fn lease_ttl(&self) -> Duration {
        self.core.config().http_timeout * 3 + Duration::from_secs(30)
    }

    async fn poll_leased(&self, handle: &CibaHandle) -> Result<Polled, CibaError> {
        // Read again under the lease: the previous holder may have finished.
        let mut pending = self.store.load(handle).await?;
        if let Some(outcome) = self.store.outcome(&pending).await? {
            return outcome_result(&outcome);
        }
        let now = unix_now_ms();
        if now >= pending.expires_at_ms {
            return self.finish(handle, &pending, Err(CibaError::Expired)).await;
        }
        if now < pending.next_poll_at_ms {
            return Ok(Polled::Pending { retry_after_ms: retry_after(&pending) });
        }
        // Move the slot before calling out: a crash, retry or concurrent
        // reader now waits a full interval.
        pending.wait_one_interval_from(now);
        self.store.save(handle, &pending).await?;

        match self.request_tokens(&pending).await {
            Ok(result) => self.finish(handle, &pending, result.map(Box::new)).await,
            Err(PollError::Pending) => {
                // Count the interval from the answer, not from the request:
                // then the provider sees at least `interval` between two polls
                // however long the network took for the first.
                pending.wait_one_interval_from(unix_now_ms());
                self.store.save(handle, &pending).await?;
                Ok(Polled::Pending { retry_after_ms: retry_after(&pending) })
            }
            Err(PollError::SlowDown) => {
                pending.interval_secs = (pending.interval_secs + SLOW_DOWN_SECS).min(MAX_INTERVAL_SECS);
                pending.wait_one_interval_from(unix_now_ms());
                self.store.save(handle, &pending).await?;
                tracing::debug!(interval = pending.interval_secs, "CIBA slow_down: interval raised");
                Ok(Polled::Pending { retry_after_ms: retry_after(&pending) })
            }
            Err(PollError::Transient(why)) => Err(CibaError::ProviderUnavailable(why)),
        }
    }

    /// Records the outcome (see [`CibaStore::record_outcome`] for which one
    /// stands); only the recorder calls the app.
    async fn finish(
        &self,
        handle: &CibaHandle,
        pending: &PendingCiba,
        result: Result<Box<(AuthenticatedUser, String)>, CibaError>,
    ) -> Result<Polled, CibaError> {
        let outcome = match &result {
            Ok(approved) => Outcome::Approved { user: Box::new(approved.0.clone()), id_token: approved.1.clone() },
            Err(err) => Outcome::Failed { kind: err.kind().to_owned(), detail: failure_detail(err) },
        };
        match self.record_with_retries(pending, &outcome).await {
            Ok(None) => {}
            Ok(Some(recorded)) => return outcome_result(&recorded),
            Err(CibaError::UnknownHandle) => return Err(CibaError::UnknownHandle),
            Err(err) => {
                // The provider will not hand these tokens out again: keep
                // the outcome here and store it on a later read.
                tracing::error!(error = %err, "could not store the CIBA outcome; kept in memory for now");
                self.store.keep_unsaved(handle, outcome.clone());
            }
        }
        tracing::info!(
            outcome = match &outcome {
                Outcome::Approved { .. } => "approved",
                Outcome::Failed { kind, .. } => kind.as_str(),
            },
            "CIBA request finished"
        );
        if let Some(callback) = &self.callback {
            callback.deliver(handle, result.as_ref().map(|approved| approved.0.clone()).map_err(Clone::clone));
        }
        result.map(|approved| Polled::Approved(Box::new(approved.0)))
    }

    /// A store blip must not cost the answer: a few quick retries.
    async fn record_with_retries(
        &self,
        pending: &PendingCiba,
        outcome: &Outcome,
    ) -> Result<Option<Outcome>, CibaError> {
        let mut delay = Duration::from_millis(50);
        for _ in 0..4 {
            match self.store.record_outcome(pending, outcome).await {
                Err(CibaError::Store(_)) => tokio::time::sleep(delay).await,
                other => return other,
            }
            delay *= 3;
        }
        self.store.record_outcome(pending, outcome).await
    }

    /// Answers from an outcome the store did not take, and offers it again.
    async fn retry_unsaved(
        &self,
        handle: &CibaHandle,
        pending: &PendingCiba,
        outcome: Outcome,
    ) -> Result<Polled, CibaError> {
        match self.store.record_outcome(pending, &outcome).await {
            Err(CibaError::Store(_)) => return outcome_result(&outcome),
            Ok(Some(recorded)) => {
                self.store.forget_unsaved(handle);
                return outcome_result(&recorded);
            }
            Ok(None) | Err(_) => self.store.forget_unsaved(handle),
        }
        outcome_result(&outcome)
    }

    /// One poll of BIB's token endpoint, with the Bearer token.
    /// `Ok(Ok(..))` approved and verified, `Ok(Err(..))` a final failure,
    /// `Err(..)` keep waiting.
    async fn request_tokens(
        &self,
        pending: &PendingCiba,
    ) -> Result<Result<(AuthenticatedUser, String), CibaError>, PollError> {
        let bib = self.core.bib().map_err(|e| PollError::Transient(e.to_string()))?;
        let params = [("grant_type", CIBA_GRANT), ("auth_req_id", pending.auth_req_id.as_str())];
        let endpoint = &bib.metadata.token_endpoint;
        let build = |http: &reqwest::Client| http.post(endpoint.clone()).form(&params);
        let answer = match bearer_send(&self.core, CIBA_TOKEN_SCOPE, build).await {
            Ok(response) => parse_json_response::<CibaTokenResponse>(response).await,
            Err(err) => Err(err),
        };
        let tokens = match answer {
            Ok((_, tokens)) => tokens,
            Err(EndpointError::Rejected { error, .. }) => return poll_error(&error),
            Err(other) => return Err(PollError::Transient(other.to_string())),
        };
        Ok(self.verify(pending, tokens).await)
    }

    /// The ID token checks of the code flow (no nonce in CIBA) with BIB's
    /// keys and issuer, the LOA policy (with BIB's bare-URN table), and for a
    /// permission its digest, when the token names one, and its signed grant.
    async fn verify(
        &self,
        pending: &PendingCiba,
        tokens: CibaTokenResponse,
    ) -> Result<(AuthenticatedUser, String), CibaError> {
        let id_token = tokens.id_token.ok_or(CibaError::InvalidIdToken(IdTokenError::MissingClaim("id_token")))?;
        let bib = self.core.bib().map_err(|e| CibaError::ProviderUnavailable(e.to_string()))?;
        let verified = bib.id_tokens.verify(&id_token, None).await.map_err(CibaError::InvalidIdToken)?;
        let claims = verified.claims();
        if let Some(echoed) = claims.get("urn:openid:params:jwt:claim:auth_req_id")
            && echoed.as_str() != Some(pending.auth_req_id.as_str())
        {
            return Err(CibaError::InvalidIdToken(IdTokenError::MissingClaim("auth_req_id")));
        }
        let minimum = self.core.config().minimum_loa;
        let loa = check_loa(claims.get("acr"), minimum, AcrIssuer::Bib)
            .map_err(|found| CibaError::InsufficientLoa { found })?;
        if let Some(permission) = &pending.permission {
            self.verify_permission(permission, claims).await?;
        }
        Ok((AuthenticatedUser::from_claims(verified.into_claims(), loa), id_token))
    }

    /// A permission approved over CIBA: the ID token's `permission_digest`
    /// must match when present (BankID has not published whether a CIBA ID
    /// token carries one), and the grant must verify and name this user.
    async fn verify_permission(
        &self,
        permission: &crate::permission::PermissionItem,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), CibaError> {
        if let Some(digest) = claims.get("permission_digest") {
            verify_granted(std::slice::from_ref(permission), Some(digest), None).map_err(CibaError::Permission)?;
        }
        let Transport::PermissionApi { id, .. } = &permission.transport else {
            return Err(CibaError::Permission(PermissionError::NotGranted));
        };
        let sub = claims.get("sub").and_then(serde_json::Value::as_str);
        let expected = GrantExpectation { id, item: permission, sub };
        match PermissionApi::new(self.core.clone()).grant_for(&expected, CIBA_TOKEN_SCOPE).await {
            Ok(_) => Ok(()),
            Err(crate::Error::Permission(err)) => Err(CibaError::Permission(err)),
            Err(other) => Err(CibaError::ProviderUnavailable(other.to_string())),
        }
    }
}

/// BIB's CIBA token answer; BankID's example reads only `id_token`.
#[derive(serde::Deserialize)]
struct CibaTokenResponse {
    id_token: Option<String>,
}

pub(crate) enum PollError {
    Pending,
    SlowDown,
    Transient(String),
}

pub(crate) fn poll_error(error: &str) -> Result<Result<(AuthenticatedUser, String), CibaError>, PollError> {
    Ok(Err(match error {
        "authorization_pending" => return Err(PollError::Pending),
        "slow_down" => return Err(PollError::SlowDown),
        "access_denied" => CibaError::Denied,
        "expired_token" => CibaError::Expired,
        "invalid_grant" => CibaError::InvalidGrant,
        other => CibaError::AuthenticationFailed { error: other.to_owned() },
    }))
}

fn retry_after(pending: &PendingCiba) -> u64 {
    (pending.next_poll_at_ms - unix_now_ms()).max(0) as u64
}

fn failure_detail(err: &CibaError) -> Option<String> {
    match err {
        CibaError::AuthenticationFailed { error } => Some(error.clone()),
        CibaError::InvalidIdToken(e) => Some(e.reason().to_owned()),
        CibaError::Permission(e) => Some(e.reason().to_owned()),
        CibaError::InsufficientLoa { found } => found.map(|l| l.get().to_string()),
        _ => None,
    }
}

/// Rebuilds the typed error of a stored final outcome.
fn outcome_result(outcome: &Outcome) -> Result<Polled, CibaError> {
    match outcome {
        Outcome::Approved { user, .. } => Ok(Polled::Approved(user.clone())),
        Outcome::Failed { kind, detail } => Err(stored_failure(kind, detail.as_deref())),
    }
}

fn stored_failure(kind: &str, detail: Option<&str>) -> CibaError {
    match kind {
        "denied" => CibaError::Denied,
        "expired" => CibaError::Expired,
        "invalid_grant" => CibaError::InvalidGrant,
        "insufficient_loa" => {
            CibaError::InsufficientLoa { found: detail.and_then(|d| d.parse().ok()).and_then(Loa::new) }
        }
        "invalid_id_token" => CibaError::InvalidIdToken(IdTokenError::from_reason(detail.unwrap_or_default())),
        "permission_not_granted" => CibaError::Permission(PermissionError::from_reason(detail.unwrap_or_default())),
        _ => CibaError::AuthenticationFailed { error: detail.unwrap_or(kind).to_owned() },
    }
}
