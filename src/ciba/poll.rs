//! Polling the token endpoint (CIBA Core §7.3, §11), on demand.
//!
//! The next allowed poll time is stored with the request and moved forward
//! *before* the provider is called, so neither retries nor concurrent status
//! requests (on any instance) can poll faster than the provider allows.

use std::time::Duration;

use super::store::{Outcome, PendingCiba};
use super::{Ciba, CibaError, CibaHandle, CibaStatus};
use crate::claims::AuthenticatedUser;
use crate::error::{EndpointError, IdTokenError};
use crate::flow::callback::check_loa;
use crate::id_token::unix_now_ms;
use crate::loa::Loa;
use crate::permission::{PermissionError, verify_granted};
use crate::provider::token::request_tokens;

const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";
/// CIBA Core §11: every `slow_down` adds at least 5 seconds.
const SLOW_DOWN_SECS: u64 = 5;
/// How long an `invalid_grant` waits for another instance's outcome.
const INVALID_GRANT_GRACE: Duration = Duration::from_secs(1);

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
    /// Dropping the future stops polling at once.
    pub async fn wait(&self, handle: &CibaHandle) -> Result<AuthenticatedUser, CibaError> {
        loop {
            match self.poll(handle).await {
                Ok(Polled::Approved(user)) => return Ok(*user),
                Ok(Polled::Pending { retry_after_ms }) => {
                    tokio::time::sleep(Duration::from_millis(retry_after_ms.max(50))).await;
                }
                Err(CibaError::ProviderUnavailable(why)) => {
                    tracing::warn!(error = %why, "CIBA poll failed; retrying after the interval");
                    let pending = self.store.load(handle).await?;
                    tokio::time::sleep(Duration::from_millis(retry_after(&pending).max(50))).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// The verified user and ID token of an approved request (for logging
    /// the requesting session in).
    pub(crate) async fn approved_login(&self, handle: &CibaHandle) -> Option<(AuthenticatedUser, String)> {
        match self.store.load(handle).await.ok()?.outcome? {
            Outcome::Approved { user, id_token } => Some((*user, id_token)),
            Outcome::Failed { .. } => None,
        }
    }

    async fn poll(&self, handle: &CibaHandle) -> Result<Polled, CibaError> {
        let pending = self.store.load(handle).await?;
        if let Some(outcome) = &pending.outcome {
            return outcome_result(outcome);
        }
        let now = unix_now_ms();
        if now < pending.next_poll_at_ms && now < pending.expires_at_ms {
            return Ok(Polled::Pending { retry_after_ms: retry_after(&pending) });
        }
        let Some(_in_flight) = self.store.claim(handle) else {
            return Ok(Polled::Pending { retry_after_ms: pending.interval_secs * 1000 });
        };
        // Read again under the claim: another task may have recorded the
        // outcome since, and polling a finished `auth_req_id` once more would
        // overwrite an approval with the provider's `invalid_grant` (and call
        // the app's callback twice).
        let mut pending = self.store.load(handle).await?;
        if let Some(outcome) = &pending.outcome {
            return outcome_result(outcome);
        }
        let now = unix_now_ms();
        if now >= pending.expires_at_ms {
            return self.finish(handle, &mut pending, Err(CibaError::Expired)).await;
        }
        if now < pending.next_poll_at_ms {
            return Ok(Polled::Pending { retry_after_ms: retry_after(&pending) });
        }
        // Another instance may have read the same state: the poll slot goes
        // to whoever marks it first in the shared store.
        let slot = format!("ciba-poll:{}:{}", handle.as_str(), pending.next_poll_at_ms);
        let slot_ttl = Duration::from_secs(pending.interval_secs + 60);
        if !self.store.poll_marks.set(&slot, slot_ttl).await.unwrap_or(false) {
            return Ok(Polled::Pending { retry_after_ms: pending.interval_secs * 1000 });
        }
        // Claim the slot before calling out: a crash, retry or concurrent
        // reader now waits a full interval.
        pending.next_poll_at_ms = now + (pending.interval_secs as i64) * 1000;
        self.store.save(handle, &pending).await?;

        match self.request_tokens(&pending).await {
            Ok(result) => self.finish(handle, &mut pending, result.map(Box::new)).await,
            Err(PollError::Pending) => {
                // Count the interval from the answer, not from the request:
                // then the provider sees at least `interval` between two polls
                // however long the network took for the first.
                pending.next_poll_at_ms = unix_now_ms() + (pending.interval_secs as i64) * 1000;
                self.store.save(handle, &pending).await?;
                Ok(Polled::Pending { retry_after_ms: retry_after(&pending) })
            }
            Err(PollError::SlowDown) => {
                pending.interval_secs = (pending.interval_secs + SLOW_DOWN_SECS).min(super::MAX_INTERVAL_SECS);
                pending.next_poll_at_ms = unix_now_ms() + (pending.interval_secs as i64) * 1000;
                self.store.save(handle, &pending).await?;
                tracing::debug!(interval = pending.interval_secs, "CIBA slow_down: interval raised");
                Ok(Polled::Pending { retry_after_ms: retry_after(&pending) })
            }
            Err(PollError::Transient(why)) => Err(CibaError::ProviderUnavailable(why)),
        }
    }

    /// Records the outcome — unless one is recorded already: the first wins,
    /// so a late failure on one instance cannot replace another instance's
    /// approval, and the app's callback runs for the first only.
    async fn finish(
        &self,
        handle: &CibaHandle,
        pending: &mut PendingCiba,
        result: Result<Box<(AuthenticatedUser, String)>, CibaError>,
    ) -> Result<Polled, CibaError> {
        if matches!(result, Err(CibaError::InvalidGrant)) {
            // The provider answers a second poll of a request it already
            // answered with `invalid_grant`: give the instance that got the
            // tokens time to record them before calling this a failure.
            tokio::time::sleep(INVALID_GRANT_GRACE).await;
        }
        if let Some(recorded) = self.store.load(handle).await?.outcome {
            return outcome_result(&recorded);
        }
        let outcome = match &result {
            Ok(approved) => Outcome::Approved { user: Box::new(approved.0.clone()), id_token: approved.1.clone() },
            Err(err) => Outcome::Failed { kind: err.kind().to_owned(), detail: failure_detail(err) },
        };
        tracing::info!(
            outcome = match &outcome {
                Outcome::Approved { .. } => "approved",
                Outcome::Failed { kind, .. } => kind.as_str(),
            },
            "CIBA request finished"
        );
        pending.outcome = Some(outcome);
        self.store.save(handle, pending).await?;
        if let Some(callback) = &self.ctx.ciba_callback {
            callback.deliver(handle, result.as_ref().map(|approved| approved.0.clone()).map_err(Clone::clone));
        }
        result.map(|approved| Polled::Approved(Box::new(approved.0)))
    }

    /// One token request. `Ok(Ok(..))` approved and verified, `Ok(Err(..))`
    /// a final failure, `Err(..)` keep waiting.
    async fn request_tokens(
        &self,
        pending: &PendingCiba,
    ) -> Result<Result<(AuthenticatedUser, String), CibaError>, PollError> {
        let credentials = self.ctx.credentials();
        let params = [("grant_type", CIBA_GRANT), ("auth_req_id", pending.auth_req_id.as_str())];
        let tokens = match request_tokens(
            &self.ctx.shared.http,
            &self.ctx.shared.metadata.token_endpoint,
            &credentials,
            &params,
        )
        .await
        {
            Ok(tokens) => tokens,
            Err(EndpointError::Rejected { error, .. }) => return poll_error(&error),
            Err(other) => return Err(PollError::Transient(other.to_string())),
        };
        Ok(self.verify(pending, tokens).await)
    }

    /// The same ID token checks as the code flow (no nonce in CIBA), the LOA
    /// policy, and the permission digest if one was sent.
    async fn verify(
        &self,
        pending: &PendingCiba,
        tokens: crate::provider::token::TokenResponse,
    ) -> Result<(AuthenticatedUser, String), CibaError> {
        let id_token = tokens.id_token.ok_or(CibaError::InvalidIdToken(IdTokenError::MissingClaim("id_token")))?;
        let verified = self.ctx.shared.verifier.verify(&id_token, None).await.map_err(CibaError::InvalidIdToken)?;
        if let Some(echoed) = verified.claims().get("urn:openid:params:jwt:claim:auth_req_id")
            && echoed.as_str() != Some(pending.auth_req_id.as_str())
        {
            return Err(CibaError::InvalidIdToken(IdTokenError::MissingClaim("auth_req_id")));
        }
        let loa = check_loa(verified.claims().get("acr"), self.ctx.config().minimum_loa).map_err(|err| match err {
            crate::Error::InsufficientLoa { found, .. } => CibaError::InsufficientLoa { found },
            _ => CibaError::InsufficientLoa { found: None },
        })?;
        if let Some(permission) = &pending.permission {
            verify_granted(
                std::slice::from_ref(permission),
                verified.claims().get("permission_digest"),
                tokens.authorization_details.as_ref(),
            )
            .map_err(CibaError::Permission)?;
        }
        Ok((AuthenticatedUser::from_claims(verified.into_claims(), loa), id_token))
    }
}

enum PollError {
    Pending,
    SlowDown,
    Transient(String),
}

fn poll_error(error: &str) -> Result<Result<(AuthenticatedUser, String), CibaError>, PollError> {
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
