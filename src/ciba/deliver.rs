//! Handing CIBA outcomes to the application, for flows where no device asks
//! for the status (a call centre, a 3-D Secure check done by the server).
//!
//! With [`BankIdLayer::with_ciba_callback`](crate::BankIdLayer::with_ciba_callback)
//! the app gets a [`CibaFinished`] for every request this layer finishes,
//! and one background task per layer — not one per request — polls the
//! requests this instance started, each when its interval allows.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;

use super::{Ciba, CibaError, CibaHandle};
use crate::claims::AuthenticatedUser;
use crate::id_token::unix_now_ms;

/// How many requests the scheduler polls at the same time.
const POLL_CONCURRENCY: usize = 32;
/// Retry delay after a transient failure (store or provider unavailable).
const TRANSIENT_RETRY_MS: i64 = 5_000;

/// The outcome of a CIBA request, handed to the
/// [callback](crate::BankIdLayer::with_ciba_callback) once it is known.
#[non_exhaustive]
pub struct CibaFinished {
    /// The request, as returned by [`Ciba::start`].
    pub handle: CibaHandle,
    /// The verified user, or why there is none.
    pub result: Result<AuthenticatedUser, CibaError>,
}

impl fmt::Debug for CibaFinished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match &self.result {
            Ok(_) => "approved",
            Err(err) => err.kind(),
        };
        f.debug_struct("CibaFinished").field("handle", &self.handle).field("outcome", &outcome).finish()
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The application's handler for finished requests.
#[derive(Clone)]
pub(crate) struct CibaCallback(Arc<dyn Fn(CibaFinished) -> BoxFuture + Send + Sync>);

impl CibaCallback {
    pub(crate) fn new<F, Fut>(handler: F) -> Self
    where
        F: Fn(CibaFinished) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        CibaCallback(Arc::new(move |finished| Box::pin(handler(finished))))
    }

    /// Runs the handler on its own task, so a slow handler never delays
    /// the poll (or the status request) that found the outcome.
    pub(crate) fn deliver(&self, handle: &CibaHandle, result: Result<AuthenticatedUser, CibaError>) {
        let future = (self.0)(CibaFinished { handle: handle.clone(), result });
        tokio::spawn(future);
    }
}

/// Requests this instance polls in the background, soonest first.
#[derive(Default)]
pub(crate) struct Scheduler {
    state: Mutex<SchedulerState>,
    wake: tokio::sync::Notify,
}

#[derive(Default)]
struct SchedulerState {
    due: BinaryHeap<Reverse<(i64, String)>>,
    /// The polling task; a finished one (its runtime shut down) is replaced.
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Scheduler {
    /// Polls `handle` at `at_ms` (unix ms). Starts the task if it is idle.
    pub(crate) fn schedule(&self, ciba: &Ciba, handle: &CibaHandle, at_ms: i64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.due.push(Reverse((at_ms, handle.0.clone())));
        if state.task.as_ref().is_some_and(|task| !task.is_finished()) {
            self.wake.notify_one();
        } else {
            state.task = Some(tokio::spawn(run(ciba.clone())));
        }
    }

    /// The handles due now, or how long to sleep; `None` when nothing is
    /// left (the task then ends, and the next `schedule` starts a new one).
    fn next(&self) -> Option<Result<Vec<CibaHandle>, Duration>> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = unix_now_ms();
        let Some(Reverse((first, _))) = state.due.peek() else {
            state.task = None;
            return None;
        };
        if *first > now {
            return Some(Err(Duration::from_millis((*first - now) as u64)));
        }
        let mut ready = Vec::new();
        while let Some(Reverse((at, _))) = state.due.peek()
            && *at <= now
        {
            let Reverse((_, handle)) = state.due.pop().expect("peeked");
            ready.push(CibaHandle(handle));
        }
        Some(Ok(ready))
    }
}

async fn run(ciba: Ciba) {
    let scheduler = &ciba.store.scheduler;
    while let Some(next) = scheduler.next() {
        match next {
            Err(sleep) => {
                tokio::select! {
                    _ = tokio::time::sleep(sleep) => {}
                    _ = scheduler.wake.notified() => {}
                }
            }
            Ok(ready) => {
                futures_util::stream::iter(ready)
                    .for_each_concurrent(POLL_CONCURRENCY, |handle| poll_once(&ciba, handle))
                    .await;
            }
        }
    }
}

/// One poll; re-schedules the request unless it is over. The callback is
/// called by `finish` when this poll records the outcome.
async fn poll_once(ciba: &Ciba, handle: CibaHandle) {
    let retry_in_ms = match ciba.status(&handle).await {
        Ok(super::CibaStatus::Pending { retry_after_ms }) => retry_after_ms as i64,
        Ok(_) | Err(CibaError::UnknownHandle) => return,
        Err(err) if err.is_final() => return,
        Err(err) => {
            tracing::warn!(error = %err, "background CIBA poll failed; retrying");
            TRANSIENT_RETRY_MS
        }
    };
    ciba.store.scheduler.schedule(ciba, &handle, unix_now_ms() + retry_in_ms.max(50));
}
