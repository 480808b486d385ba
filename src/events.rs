//! Login events for audit and monitoring: every login that succeeds or
//! fails, every logout and every back-channel logout, as a [`LoginEvent`].
//!
//! Each event goes two ways:
//!
//! - a `tracing` event at `info` with target `axum_bankid::event` and the
//!   stable fields `event`, `flow`, `kind`, `loa`, `sub` (and `sid` for a
//!   back-channel logout), each present only where the event has it;
//! - to the app's subscriber, when one is registered with
//!   [`BankIdLayer::on_event`](crate::BankIdLayer::on_event).
//!
//! # Why the subscriber runs on a thread of its own
//!
//! An audit sink writes to a database, a queue or a file; none of that may
//! hold the request that logs a user in. Events are therefore handed to a
//! bounded queue (capacity [`EVENT_QUEUE_CAPACITY`]) and the subscriber is
//! called, in order, on one dedicated thread (`axum-bankid-events`). Handing
//! an event over never waits: when the queue is full (a subscriber slower
//! than the logins), the event is dropped for the subscriber and a `warn`
//! says so — the `tracing` event above was emitted all the same, so a log
//! pipeline keeps the full record. A subscriber that panics loses that one
//! event (logged at `error`); the next one is delivered.
//!
//! # What an event never holds
//!
//! No token (ID token, logout token, grant), no authorization code, no
//! secret and no identity number: the user is named by `sub` (the issuer's
//! pairwise identifier), which is what BankID provides for this purpose.
//! An app that needs the identity number in its audit trail takes it in its
//! [login hook](crate::login_hook), where it has the verified claims.

use std::fmt;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

use crate::loa::Loa;

/// How many events may wait for a slow subscriber before new ones are
/// dropped for it (see the [module docs](self)).
pub const EVENT_QUEUE_CAPACITY: usize = 1024;

/// The `tracing` target of login events.
pub const EVENT_TARGET: &str = "axum_bankid::event";

/// Which way a user logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoginFlow {
    /// A plain login through the authorization code flow.
    CodeFlow,
    /// A login through the code flow that asked for more than the session
    /// had: a level (`acr`) or a recent authentication (`max_age`), RFC 9470.
    StepUp,
    /// A login through the code flow that carried permissions (upfront or
    /// through the Permission API).
    Permission,
    /// A CIBA login at BIB (with or without a permission).
    Ciba,
}

impl LoginFlow {
    /// A stable name: `code_flow`, `step_up`, `permission` or `ciba`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginFlow::CodeFlow => "code_flow",
            LoginFlow::StepUp => "step_up",
            LoginFlow::Permission => "permission",
            LoginFlow::Ciba => "ciba",
        }
    }
}

impl fmt::Display for LoginFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happened to a login, for audit and monitoring (see the
/// [module docs](self)). A step-up is a [`LoginSucceeded`](Self::LoginSucceeded)
/// with [`LoginFlow::StepUp`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginEvent {
    /// A user was logged in: every check passed, the
    /// [login hook](crate::login_hook) allowed it and the session holds it.
    /// For the code flow the session layer persists the session when the
    /// callback's response leaves; should that last save fail, the browser
    /// gets a `500` and is not logged in although this event was emitted
    /// (a CIBA login is saved before its event).
    #[non_exhaustive]
    LoginSucceeded {
        /// How the user logged in.
        flow: LoginFlow,
        /// The level of assurance of the login.
        loa: Loa,
        /// The user's `sub` at the issuer of the login.
        sub: String,
    },
    /// A login failed; the session is as it was.
    #[non_exhaustive]
    LoginFailed {
        /// How the user tried to log in, when that was known at the
        /// failure (a callback naming no login attempt has no flow).
        flow: Option<LoginFlow>,
        /// The error's stable code: an [`Error::kind`](crate::error::Error::kind)
        /// for the code flow (`login_refused` when the hook refused), a
        /// [`CibaError::kind`](crate::error::CibaError::kind) for CIBA.
        kind: &'static str,
    },
    /// The user logged out at the logout route.
    #[non_exhaustive]
    LoggedOut {
        /// The `sub` of the login that ended.
        sub: String,
    },
    /// The provider ended a session by back-channel logout: every login it
    /// names ends on every instance.
    #[non_exhaustive]
    BackchannelLogout {
        /// The `sub` the logout token names, if any.
        sub: Option<String>,
        /// The provider's session id (`sid`) the logout token names, if any.
        sid: Option<String>,
    },
}

impl LoginEvent {
    /// The stable name of the event (the `event` field of its `tracing`
    /// event): `login_succeeded`, `login_failed`, `logged_out` or
    /// `backchannel_logout`.
    pub fn name(&self) -> &'static str {
        match self {
            LoginEvent::LoginSucceeded { .. } => "login_succeeded",
            LoginEvent::LoginFailed { .. } => "login_failed",
            LoginEvent::LoggedOut { .. } => "logged_out",
            LoginEvent::BackchannelLogout { .. } => "backchannel_logout",
        }
    }

    /// How the user logged in (or tried to), where the event has it.
    pub fn flow(&self) -> Option<LoginFlow> {
        match self {
            LoginEvent::LoginSucceeded { flow, .. } => Some(*flow),
            LoginEvent::LoginFailed { flow, .. } => *flow,
            _ => None,
        }
    }

    /// The failure's stable code, for [`LoginFailed`](Self::LoginFailed).
    pub fn kind(&self) -> Option<&'static str> {
        match self {
            LoginEvent::LoginFailed { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// The level of a [`LoginSucceeded`](Self::LoginSucceeded).
    pub fn loa(&self) -> Option<Loa> {
        match self {
            LoginEvent::LoginSucceeded { loa, .. } => Some(*loa),
            _ => None,
        }
    }

    /// The user's `sub`, where the event names one.
    pub fn sub(&self) -> Option<&str> {
        match self {
            LoginEvent::LoginSucceeded { sub, .. } | LoginEvent::LoggedOut { sub } => Some(sub),
            LoginEvent::BackchannelLogout { sub, .. } => sub.as_deref(),
            LoginEvent::LoginFailed { .. } => None,
        }
    }

    fn sid(&self) -> Option<&str> {
        match self {
            LoginEvent::BackchannelLogout { sid, .. } => sid.as_deref(),
            _ => None,
        }
    }
}

/// The app's subscriber, behind its queue (see the [module docs](self)).
#[derive(Clone)]
pub(crate) struct EventSink {
    queue: SyncSender<LoginEvent>,
    /// Set once the delivery thread is gone (it only ends if it could not
    /// start), so that the `warn` is logged once.
    gone: Arc<Mutex<bool>>,
}

impl EventSink {
    /// Starts the delivery thread for `subscriber`.
    pub(crate) fn start<F>(subscriber: F) -> std::io::Result<EventSink>
    where
        F: Fn(&LoginEvent) + Send + 'static,
    {
        let (queue, events) = sync_channel::<LoginEvent>(EVENT_QUEUE_CAPACITY);
        std::thread::Builder::new().name("axum-bankid-events".to_owned()).spawn(move || {
            for event in events {
                let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| subscriber(&event)));
                if delivered.is_err() {
                    tracing::error!(event = event.name(), "the login event subscriber panicked; event lost");
                }
            }
        })?;
        Ok(EventSink { queue, gone: Arc::new(Mutex::new(false)) })
    }

    fn hand_over(&self, event: LoginEvent) {
        match self.queue.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(event)) => {
                tracing::warn!(event = event.name(), "login event subscriber is behind; event dropped for it");
            }
            Err(TrySendError::Disconnected(event)) => {
                let mut gone = self.gone.lock().unwrap_or_else(PoisonError::into_inner);
                if !std::mem::replace(&mut *gone, true) {
                    tracing::warn!(event = event.name(), "login event subscriber thread is gone; events not delivered");
                }
            }
        }
    }
}

impl fmt::Debug for EventSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSink").finish_non_exhaustive()
    }
}

/// Emits `event`: the `tracing` event, then the subscriber's copy, if any.
pub(crate) fn emit(sink: Option<&EventSink>, event: LoginEvent) {
    tracing::info!(
        target: EVENT_TARGET,
        event = event.name(),
        flow = event.flow().map(LoginFlow::as_str),
        kind = event.kind(),
        loa = event.loa().map(Loa::get),
        sub = event.sub(),
        sid = event.sid(),
        "login event"
    );
    if let Some(sink) = sink {
        sink.hand_over(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    #[test]
    fn a_slow_subscriber_never_holds_the_emitter() {
        let (seen, delivered) = channel();
        let sink = EventSink::start(move |event: &LoginEvent| {
            std::thread::sleep(Duration::from_millis(200));
            let _ = seen.send(event.name());
        })
        .unwrap();
        let started = std::time::Instant::now();
        for _ in 0..(EVENT_QUEUE_CAPACITY + 10) {
            emit(Some(&sink), LoginEvent::LoggedOut { sub: "s".into() });
        }
        assert!(started.elapsed() < Duration::from_millis(150), "emitting waited for the subscriber");
        assert_eq!(delivered.recv_timeout(Duration::from_secs(5)).unwrap(), "logged_out");
    }

    #[test]
    fn a_panicking_subscriber_loses_only_that_event() {
        let (seen, delivered) = channel();
        let sink = EventSink::start(move |event: &LoginEvent| {
            if event.sub() == Some("boom") {
                panic!("subscriber bug");
            }
            let _ = seen.send(event.sub().map(str::to_owned));
        })
        .unwrap();
        emit(Some(&sink), LoginEvent::LoggedOut { sub: "boom".into() });
        emit(Some(&sink), LoginEvent::LoggedOut { sub: "next".into() });
        assert_eq!(delivered.recv_timeout(Duration::from_secs(5)).unwrap().as_deref(), Some("next"));
    }

    #[test]
    fn names_are_stable() {
        let failed = LoginEvent::LoginFailed { flow: Some(LoginFlow::StepUp), kind: "login_refused" };
        assert_eq!(
            (failed.name(), failed.flow().map(LoginFlow::as_str), failed.kind()),
            ("login_failed", Some("step_up"), Some("login_refused"))
        );
        let flows = [LoginFlow::CodeFlow, LoginFlow::StepUp, LoginFlow::Permission, LoginFlow::Ciba];
        assert_eq!(flows.map(LoginFlow::as_str), ["code_flow", "step_up", "permission", "ciba"]);
    }
}
