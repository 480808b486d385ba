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

use super::client::{Ciba, MAX_INTERVAL_SECS, ciba_token_scope};
use super::error::CibaError;
use super::request::{CibaHandle, CibaStatus};
use super::store::{Outcome, PendingCiba};
use crate::clock::unix_now_ms;
use crate::error::{Cause, EndpointError, IdTokenError, LoginCheckError};
use crate::events::{self, LoginEvent, LoginFlow};
use crate::loa::{AcrIssuer, Loa};
use crate::login::complete::{self, Policy, VerifiedLogin};
use crate::metrics::Endpoint;
use crate::permission::api::{GrantExpectation, PermissionApi, bearer_send};
use crate::permission::error::PermissionError;
use crate::permission::statement::Transport;
use crate::provider::token::parse_json_response;
use crate::user::AuthenticatedUser;

const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";
/// CIBA Core §11: every `slow_down` adds at least 5 seconds.
const SLOW_DOWN_SECS: u64 = 5;
/// How soon to ask again while a public start's calls to BIB are under way.
const STARTING_RETRY_MS: u64 = 500;

pub(super) enum Polled {
    Pending { retry_after_ms: u64, binding_message: Option<String> },
    Approved(Box<AuthenticatedUser>),
}

/// Still waiting: ask again in `retry_after_ms`.
fn waiting(pending: &PendingCiba, retry_after_ms: u64) -> Polled {
    Polled::Pending { retry_after_ms, binding_message: pending.binding_message.clone() }
}

impl Ciba {
    /// The current status, polling the provider only if the interval allows.
    #[tracing::instrument(name = "bankid.ciba.status", skip_all)]
    pub async fn status(&self, handle: &CibaHandle) -> Result<CibaStatus, CibaError> {
        match self.poll(handle).await {
            Ok(Polled::Pending { retry_after_ms, binding_message }) => {
                Ok(CibaStatus::Pending { retry_after_ms, binding_message })
            }
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
                Ok(Polled::Pending { retry_after_ms, .. }) => {
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

    /// The verified login of an approved request (for logging the
    /// requesting session in); `None` if it did not end approved. A store
    /// that cannot say is an error, not "no login".
    pub(crate) async fn approved_login(&self, handle: &CibaHandle) -> Result<Option<VerifiedLogin>, CibaError> {
        let outcome = match self.store.unsaved(handle) {
            Some(outcome) => Some(outcome),
            None => self.store.outcome(&self.store.load(handle).await?).await?,
        };
        Ok(match outcome {
            Some(Outcome::Approved { user, id_token }) => Some(VerifiedLogin::from_parts(*user, id_token)),
            Some(Outcome::Failed { .. }) | None => None,
        })
    }

    async fn poll(&self, handle: &CibaHandle) -> Result<Polled, CibaError> {
        let pending = self.store.load(handle).await?;
        if let Some(outcome) = self.store.unsaved(handle) {
            return self.retry_unsaved(handle, &pending, outcome).await;
        }
        if let Some(outcome) = self.store.outcome(&pending).await? {
            return self.outcome_result(&outcome);
        }
        let now = unix_now_ms();
        if pending.starting && now < pending.expires_at_ms {
            // BIB is being asked (a public start): nothing to poll yet.
            return Ok(waiting(&pending, STARTING_RETRY_MS));
        }
        if now < pending.next_poll_at_ms && now < pending.expires_at_ms {
            return Ok(waiting(&pending, retry_after(&pending)));
        }
        // The poll runs on a task of its own: a caller that goes away (a
        // client disconnects, a timeout around `wait`) must not cut it off
        // after the provider handed out the tokens — it does so only once.
        let (ciba, owned) = (self.clone(), handle.clone());
        match tokio::spawn(async move { ciba.poll_due(&owned, &pending).await }).await {
            Ok(result) => result,
            Err(e) => Err(CibaError::ProviderUnavailable(Cause::caused_by("the poll task did not finish", e))),
        }
    }

    /// Polls the provider if this caller gets the request to itself and the
    /// interval has passed.
    async fn poll_due(&self, handle: &CibaHandle, pending: &PendingCiba) -> Result<Polled, CibaError> {
        let busy = waiting(pending, pending.interval_secs * 1000);
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
            return self.outcome_result(&outcome);
        }
        let now = unix_now_ms();
        if now >= pending.expires_at_ms {
            return self.finish(handle, &pending, Err(CibaError::Expired)).await;
        }
        if pending.starting {
            return Ok(waiting(&pending, STARTING_RETRY_MS));
        }
        if now < pending.next_poll_at_ms {
            return Ok(waiting(&pending, retry_after(&pending)));
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
                Ok(waiting(&pending, retry_after(&pending)))
            }
            Err(PollError::SlowDown) => {
                pending.interval_secs = (pending.interval_secs + SLOW_DOWN_SECS).min(MAX_INTERVAL_SECS);
                pending.wait_one_interval_from(unix_now_ms());
                self.store.save(handle, &pending).await?;
                tracing::debug!(interval = pending.interval_secs, "CIBA slow_down: interval raised");
                Ok(waiting(&pending, retry_after(&pending)))
            }
            Err(PollError::Transient(why)) => Err(CibaError::ProviderUnavailable(why)),
        }
    }

    /// Records the outcome (see [`CibaStore::record_outcome`] for which one
    /// stands); only the recorder calls the app.
    pub(super) async fn finish(
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
            Ok(Some(recorded)) => return self.outcome_result(&recorded),
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
        crate::metrics::ciba_finished(result.as_ref().err().map(CibaError::kind), pending.permission.is_some());
        if let Err(err) = &result {
            // An approval is a login event once it logs a session in (see
            // `routes::login_if_owner`); a failure is one when it is final.
            let failed = LoginEvent::LoginFailed { flow: Some(LoginFlow::Ciba), kind: err.kind() };
            events::emit(self.events.as_ref(), failed);
        }
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
            Err(CibaError::Store(_)) => return self.outcome_result(&outcome),
            Ok(Some(recorded)) => {
                self.store.forget_unsaved(handle);
                return self.outcome_result(&recorded);
            }
            Ok(None) | Err(_) => self.store.forget_unsaved(handle),
        }
        self.outcome_result(&outcome)
    }

    /// One poll of BIB's token endpoint, with the Bearer token.
    /// `Ok(Ok(..))` approved and verified, `Ok(Err(..))` a final failure,
    /// `Err(..)` keep waiting.
    async fn request_tokens(
        &self,
        pending: &PendingCiba,
    ) -> Result<Result<(AuthenticatedUser, String), CibaError>, PollError> {
        let bib = self.core.bib().map_err(|e| PollError::Transient(Cause::from_error(e)))?;
        let params = [("grant_type", CIBA_GRANT), ("auth_req_id", pending.auth_req_id.as_str())];
        let metadata = bib.fresh_metadata().await;
        let endpoint = &metadata.token_endpoint;
        let build = |http: &reqwest::Client| http.post(endpoint.clone()).form(&params);
        let scope = ciba_token_scope(&self.core, pending_type(pending));
        let answer = match bearer_send(&self.core, Endpoint::CibaToken, &scope, build).await {
            Ok(response) => parse_json_response::<CibaTokenResponse>(response).await,
            Err(err) => Err(err),
        };
        let tokens = match answer {
            Ok((_, tokens)) => tokens,
            Err(EndpointError::Rejected { error, .. }) => return poll_error(&error),
            Err(other) => return Err(PollError::Transient(Cause::from_error(other))),
        };
        Ok(self.verify(pending, tokens).await)
    }

    /// The ID token checks of the code flow (no nonce in CIBA) with BIB's
    /// keys and issuer, then the shared login path
    /// ([`crate::login::complete`]): the LOA policy (with BIB's bare-URN
    /// table), and for a permission its digest, when the token names one,
    /// and its signed grant.
    async fn verify(
        &self,
        pending: &PendingCiba,
        tokens: CibaTokenResponse,
    ) -> Result<(AuthenticatedUser, String), CibaError> {
        let invalid = |err| CibaError::Check(LoginCheckError::InvalidIdToken(err));
        let id_token = tokens.id_token.ok_or(invalid(IdTokenError::MissingClaim("id_token")))?;
        let bib = self.core.bib().map_err(|e| CibaError::ProviderUnavailable(Cause::from_error(e)))?;
        let verified = bib.id_tokens.verify(&id_token, None).await.map_err(invalid)?;
        if let Some(echoed) = verified.claims().get("urn:openid:params:jwt:claim:auth_req_id")
            && echoed.as_str() != Some(pending.auth_req_id.as_str())
        {
            return Err(invalid(IdTokenError::MissingClaim("auth_req_id")));
        }
        let configured = self.core.config().minimum_loa;
        let minimum_loa = pending.minimum_loa.map_or(configured, |loa| loa.max(configured));
        let policy = Policy { minimum_loa, acr_issuer: AcrIssuer::Bib, expected_subject: None };
        let checked = complete::check(verified, id_token, &policy)?;
        if let Some(permission) = &pending.permission {
            self.verify_permission(permission, checked.claims()).await?;
        }
        Ok(checked.into_login().into_parts())
    }

    /// A permission approved over CIBA: the ID token's `permission_digest`
    /// must match when present (BankID has not published whether a CIBA ID
    /// token carries one), and the grant must verify and name this user.
    async fn verify_permission(
        &self,
        permission: &crate::permission::statement::PermissionItem,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), CibaError> {
        if let Some(digest) = claims.get("permission_digest") {
            complete::check_digests(std::slice::from_ref(permission), Some(digest), None)?;
        }
        let Transport::PermissionApi { id, .. } = &permission.transport else {
            return Err(LoginCheckError::Permission(PermissionError::NotGranted).into());
        };
        // The CIBA ID token and the grant are both BIB's: their `sub`s are
        // comparable (one issuer), unlike a code-flow login's.
        let bib_sub = claims.get("sub").and_then(serde_json::Value::as_str);
        let expected = GrantExpectation { id, item: permission, bib_sub };
        let scope = ciba_token_scope(&self.core, &permission.r#type);
        match complete::fetch_grant(&PermissionApi::new(self.core.clone()), &expected, &scope).await {
            Ok(_) => Ok(()),
            Err(crate::error::Error::Check(check)) => Err(check.into()),
            Err(other) => Err(CibaError::ProviderUnavailable(Cause::from_error(other))),
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
    Transient(Cause),
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

/// The permission type a pending request is about (`authentication.v1`
/// for a plain login), which decides its token's product scopes.
fn pending_type(pending: &PendingCiba) -> &str {
    pending.permission.as_ref().map_or(crate::permission::statement::AUTHENTICATION_TYPE, |p| p.r#type.as_str())
}

fn retry_after(pending: &PendingCiba) -> u64 {
    (pending.next_poll_at_ms - unix_now_ms()).max(0) as u64
}

/// What a stored failed outcome keeps besides its kind. An insufficient LOA
/// keeps `found/required` (`/3` when nothing was found).
fn failure_detail(err: &CibaError) -> Option<String> {
    match err {
        CibaError::AuthenticationFailed { error }
        | CibaError::InitiationRejected { error }
        | CibaError::StartFailed { error } => Some(error.clone()),
        CibaError::Check(LoginCheckError::InsufficientLoa { required, found }) => {
            Some(format!("{}/{}", found.map(|l| l.get().to_string()).unwrap_or_default(), required.get()))
        }
        CibaError::Check(check) => check.detail().map(str::to_owned),
        _ => None,
    }
}

impl Ciba {
    /// Rebuilds the typed result of a stored final outcome.
    fn outcome_result(&self, outcome: &Outcome) -> Result<Polled, CibaError> {
        match outcome {
            Outcome::Approved { user, .. } => Ok(Polled::Approved(user.clone())),
            Outcome::Failed { kind, detail } => {
                Err(stored_failure(kind, detail.as_deref(), self.core.config().minimum_loa))
            }
        }
    }
}

/// The typed error of a stored failure. `minimum` stands in for the
/// required level of outcomes stored before it was kept.
fn stored_failure(kind: &str, detail: Option<&str>, minimum: Loa) -> CibaError {
    let level = |text: &str| text.parse().ok().and_then(Loa::new);
    let check = match kind {
        "denied" => return CibaError::Denied,
        "user_not_enrolled" => return CibaError::UserNotEnrolled,
        "unknown_user" => return CibaError::UnknownUser,
        "app_unavailable" => return CibaError::AppUnavailable,
        "invalid_binding_message" => return CibaError::InvalidBindingMessage,
        "initiation_rejected" => return CibaError::InitiationRejected { error: detail.unwrap_or_default().to_owned() },
        "start_failed" => return CibaError::StartFailed { error: detail.unwrap_or_default().to_owned() },
        "expired" => return CibaError::Expired,
        "invalid_grant" => return CibaError::InvalidGrant,
        "insufficient_loa" => {
            let (found, required) =
                detail.unwrap_or_default().split_once('/').unwrap_or((detail.unwrap_or_default(), ""));
            LoginCheckError::InsufficientLoa { required: level(required).unwrap_or(minimum), found: level(found) }
        }
        "invalid_id_token" => LoginCheckError::InvalidIdToken(IdTokenError::from_kind(detail.unwrap_or_default())),
        "permission_not_granted" => LoginCheckError::Permission(PermissionError::from_kind(detail.unwrap_or_default())),
        _ => return CibaError::AuthenticationFailed { error: detail.unwrap_or(kind).to_owned() },
    };
    CibaError::Check(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_failures_read_back_typed_from_the_store() {
        for err in [
            CibaError::UserNotEnrolled,
            CibaError::UnknownUser,
            CibaError::AppUnavailable,
            CibaError::InvalidBindingMessage,
            CibaError::InitiationRejected { error: "invalid_request".into() },
            CibaError::StartFailed { error: "registration_failed".into() },
            CibaError::Denied,
            CibaError::Expired,
        ] {
            let detail = failure_detail(&err);
            assert_eq!(stored_failure(err.kind(), detail.as_deref(), Loa::SUBSTANTIAL), err);
        }
    }
}
