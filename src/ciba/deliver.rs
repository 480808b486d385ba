//! Handing CIBA outcomes to the application, for flows where no device asks
//! for the status (a call centre, a 3-D Secure check done by the server).
//!
//! With [`CibaOptions::callback`](crate::ciba::CibaOptions::callback)
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
use futures_util::stream::FuturesUnordered;

use super::error::CibaError;
use super::request::CibaHandle;
use crate::clock::unix_now_ms;
use crate::user::AuthenticatedUser;

/// How many requests the scheduler polls at the same time.
const POLL_CONCURRENCY: usize = 32;

/// The outcome of a CIBA request, handed to the
/// [callback](crate::ciba::CibaOptions::callback) once it is known.
#[non_exhaustive]
pub struct CibaFinished {
    /// The request, as returned by [`Ciba::start`](crate::ciba::Ciba::start).
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

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The application's handler for finished requests.
#[derive(Clone)]
pub(crate) struct CibaCallback(Arc<dyn Fn(CibaFinished) -> BoxFuture<()> + Send + Sync>);

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

/// One poll of a pending request by the background task: when to poll it
/// again (Unix ms), or `None` once it is over. Given by the `Ciba` client,
/// so the scheduler knows only handles and times.
pub(crate) type PollOnce = Arc<dyn Fn(CibaHandle) -> BoxFuture<Option<i64>> + Send + Sync>;

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
    pub(crate) fn schedule(self: &Arc<Self>, poll: PollOnce, handle: &CibaHandle, at_ms: i64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.due.push(Reverse((at_ms, handle.0.clone())));
        if state.task.as_ref().is_some_and(|task| !task.is_finished()) {
            self.wake.notify_one();
        } else {
            state.task = Some(tokio::spawn(run(self.clone(), poll)));
        }
    }

    /// Puts `handle` back in the queue, from inside the running task.
    fn requeue(&self, handle: &CibaHandle, at_ms: i64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.due.push(Reverse((at_ms, handle.0.clone())));
    }

    /// The next due handle, if one is due now.
    fn pop_due(&self) -> Option<CibaHandle> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match state.due.peek() {
            Some(Reverse((at, _))) if *at <= unix_now_ms() => state.due.pop().map(|Reverse((_, h))| CibaHandle(h)),
            _ => None,
        }
    }

    /// How long until the next handle is due; `None` if there is none.
    fn until_next(&self) -> Option<Duration> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let Reverse((at, _)) = state.due.peek()?;
        Some(Duration::from_millis((*at - unix_now_ms()).max(0) as u64))
    }

    /// Ends the task if nothing is queued (checked under the lock, so a
    /// concurrent `schedule` either sees the task running or starts a new one).
    fn stop_if_idle(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.due.is_empty() {
            state.task = None;
            return true;
        }
        false
    }
}

/// Keeps up to [`POLL_CONCURRENCY`] polls running, starting each due
/// request as soon as a place is free, so one slow poll holds up no other.
/// A poll that says when to poll again puts its request back in the queue.
async fn run(scheduler: Arc<Scheduler>, poll: PollOnce) {
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < POLL_CONCURRENCY {
            let Some(handle) = scheduler.pop_due() else { break };
            let poll = poll.clone();
            running.push(async move { (poll(handle.clone()).await, handle) });
        }
        if running.is_empty() && scheduler.stop_if_idle() {
            return;
        }
        // With every place taken, only a finished poll can make progress.
        let has_room = running.len() < POLL_CONCURRENCY;
        let sleep = scheduler.until_next().unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            Some((again_at, handle)) = running.next(), if !running.is_empty() => {
                if let Some(at_ms) = again_at {
                    scheduler.requeue(&handle, at_ms);
                }
            }
            _ = tokio::time::sleep(sleep), if has_room => {}
            _ = scheduler.wake.notified(), if has_room => {}
        }
    }
}
