//! The public start route's calls to BIB, made after the route answered.
//!
//! The route must not tell a caller who has BankID with biometrics. If it
//! waited for BIB, the answer and its *time* would: "not enrolled" is one
//! call (`user-exists`), "app unavailable" three. So the route records a
//! pending request under a handle of its own ([`Ciba::reserve`]), answers
//! `202` with it, and only then one task asks BIB
//! ([`Ciba::start_in_background`]). Status reads see `pending` (without a
//! binding message) until BIB has answered, then the request as any other;
//! a start that failed is a recorded outcome like a denial, and the public
//! routes give the three "cannot reach this user" kinds one public kind.
//!
//! The task is bounded: it ends at the reserved record's expiry (recorded
//! `expired` then), and the route runs at most a fixed number at once (a
//! permit, see `PublicCibaStart::max_starts_in_flight`). While it runs it
//! holds the request's in-process poll claim, so a cancel on this instance
//! (logout, another login) waits for it and is not undone by its write.

use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;

use super::client::{Ciba, MAX_EXPIRES_IN_SECS};
use super::error::CibaError;
use super::request::{CibaHandle, CibaRequest};
use super::store::PendingCiba;
use crate::clock::unix_now_ms;

/// A pending request recorded before BIB is asked.
pub(crate) struct Reserved {
    pub(crate) handle: CibaHandle,
    starting: PendingCiba,
    /// The longest the request can live: the start's budget plus the
    /// registration's lifetime (BIB's `expires_in` is bounded by it).
    pub(crate) lifetime_secs: u64,
}

impl Ciba {
    /// Records a request whose calls to BIB are still to be made (nothing
    /// is sent). Refuses only what is the same for every identity number:
    /// CIBA not offered, BIB not loaded, the store failing.
    pub(crate) async fn reserve(&self, request: &CibaRequest) -> Result<Reserved, CibaError> {
        self.check_startable(request)?;
        let budget = self.start_budget().as_secs();
        let registration = self.core.config().permission_api.registration_lifetime.as_secs();
        let starting = PendingCiba::starting(budget);
        let handle = self.store.create(starting.clone()).await?;
        let lifetime_secs = budget + registration.clamp(1, MAX_EXPIRES_IN_SECS);
        Ok(Reserved { handle, starting, lifetime_secs })
    }

    /// How long the calls of one start may take: the client-credentials
    /// token (fetched again once after a `401`), `user-exists`, the
    /// registration and the backchannel request, each bounded by the HTTP
    /// timeout, and the store writes.
    fn start_budget(&self) -> Duration {
        self.core.config().http_timeout * 6 + Duration::from_secs(10)
    }

    /// Asks BIB for `reserved` on a task of its own, which holds `permit`
    /// until it ends (at the reserved record's expiry at the latest).
    pub(crate) fn start_in_background(&self, reserved: Reserved, request: CibaRequest, permit: OwnedSemaphorePermit) {
        let ciba = self.clone();
        tokio::spawn(async move {
            let _permit = permit;
            ciba.run_start(&reserved.handle, &reserved.starting, &request).await;
        });
    }

    async fn run_start(&self, handle: &CibaHandle, starting: &PendingCiba, request: &CibaRequest) {
        // Held while BIB is asked (see the module docs). Only a cancel can
        // hold it now (nothing polls a starting record), and then the
        // request is gone.
        let Some(_claim) = self.store.claim(handle) else { return };
        // Cancelled before this task ran (a logout right after the start):
        // no push for it.
        if !self.still_wanted(handle).await {
            return;
        }
        let left = Duration::from_millis((starting.expires_at_ms - unix_now_ms()).max(0) as u64);
        let result = match tokio::time::timeout(left, self.ask_bib(request)).await {
            Ok(result) => result,
            Err(_) => Err(CibaError::Expired),
        };
        if !self.still_wanted(handle).await {
            return;
        }
        match result {
            Ok(pending) => self.record_started(handle, pending.continues(starting)).await,
            Err(err) => self.record_start_failure(handle, starting, err).await,
        }
    }

    /// Whether the request is still recorded: a cancel before BIB is asked
    /// sends no push, and one while BIB was being asked must not be undone
    /// by the write that follows.
    async fn still_wanted(&self, handle: &CibaHandle) -> bool {
        match self.store.load(handle).await {
            Err(CibaError::UnknownHandle) => {
                tracing::info!("a public CIBA start was cancelled before BIB took it; not recorded");
                false
            }
            // A store that cannot say now may take the write: try it.
            Ok(_) | Err(_) => true,
        }
    }

    async fn record_started(&self, handle: &CibaHandle, pending: PendingCiba) {
        let (first_poll_at_ms, interval) = (pending.next_poll_at_ms, pending.interval_secs);
        if let Err(err) = self.store.save(handle, &pending).await {
            // Status reads see `pending` until the reserved record expires.
            tracing::error!(error = %err, "could not record a CIBA request BIB has started");
            return;
        }
        if self.callback.is_some() {
            self.schedule_background_poll(handle, first_poll_at_ms);
        }
        tracing::info!(expires_in = pending.expires_in_secs(), interval, "CIBA request started in the background");
    }

    /// Logs the cause and records the failure as the request's outcome:
    /// the user's own reasons by their kind, every other cause as
    /// [`CibaError::StartFailed`] (its details stay in this log line).
    async fn record_start_failure(&self, handle: &CibaHandle, starting: &PendingCiba, err: CibaError) {
        // The provider's words in `err` were made safe for logs where they
        // were read (`log_value::untrusted`, `sanitize`).
        tracing::info!(kind = err.kind(), error = %err, "a public CIBA start failed at BIB");
        let recorded = match err {
            CibaError::UserCheckFailed(_)
            | CibaError::RegistrationFailed(_)
            | CibaError::ProviderUnavailable(_)
            | CibaError::Store(_) => CibaError::StartFailed { error: err.kind().to_owned() },
            other => other,
        };
        let _ = self.finish(handle, starting, Err(recorded)).await;
    }
}

/// The kind the public routes show for a failed request: the reasons that
/// say the number's owner cannot be reached by CIBA here — not enrolled,
/// unknown to BankID, no app, a refusal of the backchannel request — are
/// one kind, `ciba_unavailable`, so the routes tell nobody who has BankID
/// with biometrics.
pub(crate) fn public_kind(kind: &str) -> &str {
    const UNREACHABLE: [&str; 4] = ["user_not_enrolled", "unknown_user", "app_unavailable", "initiation_rejected"];
    if UNREACHABLE.contains(&kind) { "ciba_unavailable" } else { kind }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_users_share_one_public_kind() {
        for kind in ["user_not_enrolled", "unknown_user", "app_unavailable", "initiation_rejected"] {
            assert_eq!(public_kind(kind), "ciba_unavailable");
        }
        assert_eq!(public_kind("denied"), "denied");
        assert_eq!(public_kind("start_failed"), "start_failed");
    }
}
