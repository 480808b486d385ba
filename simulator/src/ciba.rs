//! Client-Initiated Backchannel Authentication (OpenID CIBA Core 1.0), poll
//! mode: the types a test uses to script and observe the user's phone, and
//! the state machine each request runs through.
//!
//! All requests live in one bounded map (see `state.rs`); nothing runs in the
//! background. Time only matters when a request is looked at — polled,
//! decided, listed — so a thousand pending requests cost a thousand map
//! entries and no tasks.

use std::time::{Duration, Instant};

use super::permission::Permission;
use std::sync::Arc;

use super::users::TestUser;

/// How much a `slow_down` adds to a request's polling interval (CIBA Core
/// §11, RFC 8628 §3.5).
pub(crate) const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// A poll this much earlier than the interval allows still counts as on
/// time, so that a client measuring from when it *sent* its previous poll is
/// not punished for network jitter.
pub(crate) const POLL_TOLERANCE: Duration = Duration::from_millis(50);
/// At most this many poll times are recorded per request.
const MAX_RECORDED_POLLS: usize = 1000;
/// The longest binding message, in characters.
#[cfg(test)]
const MAX_BINDING_MESSAGE_CHARS: usize = 20;

/// How a test user's phone answers CIBA requests; set per user with
/// [`Simulator::set_ciba_behavior`](super::Simulator::set_ciba_behavior).
///
/// The behaviour is read when a request is created, so changing it does not
/// affect requests already pending.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CibaBehavior {
    /// The request stays pending until someone decides it on the phone page
    /// (`GET /phone?login_hint=<nnin>`) or with
    /// [`Simulator::ciba_decide`](super::Simulator::ciba_decide). The default.
    #[default]
    Manual,
    /// The first `n` polls get `authorization_pending`, the next one tokens.
    ApproveAfterPolls(u32),
    /// The first poll gets `access_denied`: the user refused.
    Deny,
    /// The user never answers: `authorization_pending` until the request
    /// expires, then `expired_token`.
    NeverAnswer,
    /// The first `n` polls get `slow_down` (each adding 5 s to the interval,
    /// however late they come), the next one tokens.
    SlowDownStorm(u32),
    /// The user uninstalled the BankID app: the backchannel authentication
    /// request itself fails with `400 {"error":"app_unavailable"}`.
    AppUninstalled,
    /// The user removed the phone's screen lock, which deleted the
    /// authenticator's key: the first poll gets
    /// `400 {"error":"transaction_failed"}`.
    AuthenticatorLost,
}

/// Where a CIBA request stands, as reported by
/// [`Simulator::ciba_requests`](super::Simulator::ciba_requests).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CibaStatus {
    /// Waiting for the user.
    Pending,
    /// The user approved; the next poll gets the tokens.
    Approved,
    /// The user refused; polls get `access_denied`.
    Denied,
    /// Nobody answered in time; polls get `expired_token`.
    Expired,
    /// A poll got the tokens; later polls get `invalid_grant`.
    TokensIssued,
    /// Authentication failed on the phone; polls get `transaction_failed`.
    Failed,
}

/// A snapshot of one CIBA request, for assertions in tests.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibaRequestInfo {
    /// The handle the client polls with.
    pub auth_req_id: String,
    /// The user's national identity number: the `loginHint` of the
    /// registered permission the request was made for.
    pub login_hint: String,
    /// The binding message shown on the phone: the `bindingMessage` the
    /// simulator made when the permission was registered (always `Some` for
    /// BankID's protocol).
    pub binding_message: Option<String>,
    /// The current minimum polling interval (grown by each `slow_down`).
    pub interval: Duration,
    /// When each poll arrived, measured from the creation of the request.
    pub poll_offsets: Vec<Duration>,
    /// Where the request stands now.
    pub status: CibaStatus,
}

/// What a backchannel authentication request asks of whom.
#[derive(Debug, Clone)]
pub(crate) struct CibaLogin {
    pub(crate) user: Arc<TestUser>,
    pub(crate) login_hint: String,
    pub(crate) binding_message: Option<String>,
    pub(crate) scope: String,
    pub(crate) permissions: Vec<Permission>,
}

/// One backchannel authentication request.
#[derive(Debug, Clone)]
pub(crate) struct CibaRequest {
    pub(crate) login: CibaLogin,
    pub(crate) behavior: CibaBehavior,
    pub(crate) created: Instant,
    pub(crate) expires_at: Instant,
    pub(crate) interval: Duration,
    last_poll: Option<Instant>,
    poll_offsets: Vec<Duration>,
    /// Polls that were on time and reached the behaviour.
    answered_polls: u32,
    status: CibaStatus,
    /// Unix time of the approval (`auth_time`).
    auth_time: u64,
}

/// What a poll of the token endpoint gets.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PollOutcome {
    /// `authorization_pending`.
    Pending,
    /// `slow_down`; the interval has grown.
    SlowDown,
    /// `access_denied`.
    Denied,
    /// `expired_token`.
    Expired,
    /// `transaction_failed`.
    Failed,
    /// `invalid_grant`: the tokens were issued already.
    AlreadyIssued,
    /// Tokens, for this login.
    Approved(ApprovedCiba),
}

/// What the tokens of an approved CIBA request are made of.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApprovedCiba {
    pub(crate) user: Arc<TestUser>,
    pub(crate) scope: String,
    pub(crate) permissions: Vec<Permission>,
    pub(crate) auth_time: u64,
}

impl CibaRequest {
    /// A new pending request.
    pub(crate) fn new(
        login: CibaLogin,
        behavior: CibaBehavior,
        expires_in: Duration,
        interval: Duration,
        now: Instant,
    ) -> Self {
        CibaRequest {
            login,
            behavior,
            created: now,
            expires_at: now + expires_in,
            interval,
            last_poll: None,
            poll_offsets: Vec::new(),
            answered_polls: 0,
            status: CibaStatus::Pending,
            auth_time: 0,
        }
    }

    /// The status as of `now`: a pending request past its expiry is expired.
    pub(crate) fn status(&self, now: Instant) -> CibaStatus {
        if self.status == CibaStatus::Pending && now >= self.expires_at { CibaStatus::Expired } else { self.status }
    }

    /// Whether the user can still decide: pending and not expired.
    pub(crate) fn is_open(&self, now: Instant) -> bool {
        self.status(now) == CibaStatus::Pending
    }

    /// The user's decision (phone page or `Simulator::ciba_decide`). Only an
    /// open request can be decided; returns whether this one was.
    pub(crate) fn decide(&mut self, approve: bool, now: Instant, unix_now: u64) -> bool {
        if !self.is_open(now) {
            return false;
        }
        if approve {
            self.approve(unix_now);
        } else {
            self.status = CibaStatus::Denied;
        }
        true
    }

    fn approve(&mut self, unix_now: u64) {
        self.status = CibaStatus::Approved;
        self.auth_time = unix_now;
    }

    /// One poll of the token endpoint at `now`. An approved request turns
    /// into [`CibaStatus::TokensIssued`] here, so that tokens are handed out
    /// at most once even to concurrent polls.
    pub(crate) fn poll(&mut self, now: Instant, unix_now: u64) -> PollOutcome {
        if self.poll_offsets.len() < MAX_RECORDED_POLLS {
            self.poll_offsets.push(now.saturating_duration_since(self.created));
        }
        let previous = self.last_poll.replace(now);
        self.status = self.status(now);
        match self.status {
            CibaStatus::TokensIssued => return PollOutcome::AlreadyIssued,
            CibaStatus::Expired => return PollOutcome::Expired,
            _ => {}
        }
        if let Some(previous) = previous
            && now + POLL_TOLERANCE < previous + self.interval
        {
            self.interval += SLOW_DOWN_STEP;
            return PollOutcome::SlowDown;
        }
        if self.status == CibaStatus::Pending {
            self.answered_polls = self.answered_polls.saturating_add(1);
            match self.behavior {
                CibaBehavior::Manual | CibaBehavior::NeverAnswer => {}
                CibaBehavior::ApproveAfterPolls(n) => {
                    if self.answered_polls > n {
                        self.approve(unix_now);
                    }
                }
                CibaBehavior::Deny => self.status = CibaStatus::Denied,
                CibaBehavior::SlowDownStorm(n) => {
                    if self.answered_polls <= n {
                        self.interval += SLOW_DOWN_STEP;
                        return PollOutcome::SlowDown;
                    }
                    self.approve(unix_now);
                }
                // Refused at initiation; should one exist, it cannot succeed.
                CibaBehavior::AuthenticatorLost | CibaBehavior::AppUninstalled => self.status = CibaStatus::Failed,
            }
        }
        match self.status {
            CibaStatus::Pending => PollOutcome::Pending,
            CibaStatus::Denied => PollOutcome::Denied,
            CibaStatus::Failed => PollOutcome::Failed,
            CibaStatus::Expired => PollOutcome::Expired,
            CibaStatus::TokensIssued => PollOutcome::AlreadyIssued,
            CibaStatus::Approved => {
                self.status = CibaStatus::TokensIssued;
                PollOutcome::Approved(ApprovedCiba {
                    user: Arc::clone(&self.login.user),
                    scope: self.login.scope.clone(),
                    permissions: self.login.permissions.clone(),
                    auth_time: self.auth_time,
                })
            }
        }
    }

    /// A snapshot for tests.
    pub(crate) fn info(&self, auth_req_id: &str, now: Instant) -> CibaRequestInfo {
        CibaRequestInfo {
            auth_req_id: auth_req_id.to_owned(),
            login_hint: self.login.login_hint.clone(),
            binding_message: self.login.binding_message.clone(),
            interval: self.interval,
            poll_offsets: self.poll_offsets.clone(),
            status: self.status(now),
        }
    }
}

/// BankID's rule for binding messages: at most 20 characters from letters
/// (including `ÆØÅæøå`), digits, space and `.,:+-`. The simulator makes the
/// binding messages now; its tests check them against this rule.
#[cfg(test)]
pub(crate) fn is_valid_binding_message(message: &str) -> bool {
    message.chars().count() <= MAX_BINDING_MESSAGE_CHARS
        && message.chars().all(|c| c.is_ascii_alphanumeric() || " ÆØÅæøå.,:+-".contains(c))
}

/// The interval announced to clients: whole seconds, rounded up, at least 1.
pub(crate) fn whole_seconds(interval: Duration) -> Duration {
    let secs = interval.as_secs() + u64::from(interval.subsec_nanos() > 0);
    Duration::from_secs(secs.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::DEFAULT_USERS;

    const SECOND: Duration = Duration::from_secs(1);

    fn request(behavior: CibaBehavior, now: Instant) -> CibaRequest {
        let login = CibaLogin {
            user: Arc::new(DEFAULT_USERS[0].clone()),
            login_hint: "n".into(),
            binding_message: None,
            scope: "openid".into(),
            permissions: Vec::new(),
        };
        CibaRequest::new(login, behavior, 60 * SECOND, SECOND, now)
    }

    fn is_approved(outcome: &PollOutcome) -> bool {
        matches!(outcome, PollOutcome::Approved(_))
    }

    #[test]
    fn approve_after_polls_then_tokens_once() {
        let t0 = Instant::now();
        let mut request = request(CibaBehavior::ApproveAfterPolls(2), t0);
        assert_eq!(request.poll(t0, 1), PollOutcome::Pending);
        assert_eq!(request.poll(t0 + SECOND, 1), PollOutcome::Pending);
        assert!(is_approved(&request.poll(t0 + 2 * SECOND, 1)));
        assert_eq!(request.status(t0), CibaStatus::TokensIssued);
        assert_eq!(request.poll(t0 + 3 * SECOND, 1), PollOutcome::AlreadyIssued);
        assert_eq!(request.info("id", t0).poll_offsets, [Duration::ZERO, SECOND, 2 * SECOND, 3 * SECOND]);
    }

    #[test]
    fn polling_too_fast_slows_down_and_grows_the_interval() {
        let t0 = Instant::now();
        let mut request = request(CibaBehavior::Manual, t0);
        assert_eq!(request.poll(t0, 1), PollOutcome::Pending, "the first poll is never too early");
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(request.poll(t1, 1), PollOutcome::SlowDown);
        assert_eq!(request.interval, 6 * SECOND);
        // Measured from the previous poll, however early that one was, with
        // a little tolerance for jitter.
        let t2 = t1 + 6 * SECOND - POLL_TOLERANCE;
        assert_eq!(request.poll(t2, 1), PollOutcome::Pending);
        assert_eq!(request.poll(t2 + SECOND, 1), PollOutcome::SlowDown);
        assert_eq!(request.interval, 11 * SECOND);
    }

    #[test]
    fn storm_deny_lost_and_expiry() {
        let t0 = Instant::now();
        let mut storm = request(CibaBehavior::SlowDownStorm(2), t0);
        assert_eq!(storm.poll(t0, 1), PollOutcome::SlowDown);
        assert_eq!(storm.poll(t0 + 6 * SECOND, 1), PollOutcome::SlowDown);
        assert_eq!(storm.interval, 11 * SECOND);
        assert!(is_approved(&storm.poll(t0 + 17 * SECOND, 1)));

        let mut deny = request(CibaBehavior::Deny, t0);
        assert_eq!(deny.poll(t0, 1), PollOutcome::Denied);
        assert_eq!(deny.poll(t0 + 2 * SECOND, 1), PollOutcome::Denied);
        assert!(!deny.decide(true, t0, 1));

        let mut lost = request(CibaBehavior::AuthenticatorLost, t0);
        assert_eq!(lost.poll(t0, 1), PollOutcome::Failed);
        assert_eq!(lost.status(t0), CibaStatus::Failed);

        let mut never = request(CibaBehavior::NeverAnswer, t0);
        assert_eq!(never.poll(t0, 1), PollOutcome::Pending);
        assert_eq!(never.status(t0 + 60 * SECOND), CibaStatus::Expired);
        assert_eq!(never.poll(t0 + 60 * SECOND, 1), PollOutcome::Expired);
        assert_eq!(never.poll(t0 + 70 * SECOND, 1), PollOutcome::Expired, "and stays so");
    }

    #[test]
    fn manual_decisions_apply_to_open_requests_only() {
        let t0 = Instant::now();
        let mut request = request(CibaBehavior::Manual, t0);
        assert!(!request.decide(true, t0 + 60 * SECOND, 1), "expired");
        assert!(request.decide(true, t0, 42));
        assert!(!request.decide(false, t0, 1), "decided already");
        match request.poll(t0, 1) {
            PollOutcome::Approved(approved) => assert_eq!(approved.auth_time, 42),
            other => panic!("expected tokens, got {other:?}"),
        }
    }

    #[test]
    fn binding_messages_expiry_and_interval() {
        assert!(is_valid_binding_message("Betal 123,45 kr: ÆØÅ"));
        assert!(!is_valid_binding_message("123456789012345678901"));
        assert!(!is_valid_binding_message("<script>"));
        assert!(!is_valid_binding_message("a_b"));
        assert_eq!(whole_seconds(Duration::from_millis(10)), SECOND);
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2 * SECOND);
        assert_eq!(whole_seconds(5 * SECOND), 5 * SECOND);
        assert_eq!(whole_seconds(Duration::ZERO), SECOND);
    }
}
