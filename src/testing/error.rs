//! [`TestLoginError`]: why a test login did not end logged in, naming the
//! step that failed. Never carries a URL, a code or a cookie: the callback
//! URL holds an authorization code, and a test's failure output is a log
//! too.

use std::fmt;

use http::StatusCode;

/// The step of a test login that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// The app's login route (or the route given to
    /// [`TestLogin::start_at`](super::TestLogin::start_at)), which must
    /// redirect to the simulator.
    LoginRoute,
    /// The simulator's authorize step, asked for as JSON.
    AuthorizeStep,
    /// The user's decision, posted to the simulator.
    Decision,
    /// The app's callback.
    Callback,
    /// The app's CIBA start route.
    CibaStart,
    /// The app's CIBA status route.
    CibaStatus,
    /// The simulated phone's decision on a CIBA request.
    Phone,
}

impl Step {
    /// A stable name, e.g. `"authorize_step"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::LoginRoute => "login_route",
            Step::AuthorizeStep => "authorize_step",
            Step::Decision => "decision",
            Step::Callback => "callback",
            Step::CibaStart => "ciba_start",
            Step::CibaStatus => "ciba_status",
            Step::Phone => "phone",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a test login failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestLoginError {
    /// A URL given to the builder (the app's base URL, a path) is not usable.
    #[error("invalid URL: {what}")]
    InvalidUrl {
        /// Which URL: `"app base URL"`, `"start path"`, ...
        what: &'static str,
    },
    /// The request of `step` failed before an answer came (connection,
    /// timeout). The request URL is not repeated.
    #[error("{step}: request failed")]
    Transport {
        /// The step whose request failed.
        step: Step,
        /// reqwest's error, without its URL.
        #[source]
        source: reqwest::Error,
    },
    /// `step` answered something else than the protocol says (e.g. the
    /// login route did not redirect).
    #[error("{step}: unexpected answer {status}")]
    UnexpectedAnswer {
        /// The step that answered.
        step: Step,
        /// Its status.
        status: StatusCode,
    },
    /// The app redirected somewhere other than this simulator's authorize
    /// endpoint: a test user's decision is posted to the simulator only.
    #[error("{step}: the app did not redirect to the simulator's authorize endpoint")]
    NotTheSimulator {
        /// The step whose redirect went elsewhere.
        step: Step,
    },
    /// The simulator has no user with this id.
    #[error("the simulator has no user {user:?}")]
    UnknownUser {
        /// The id asked for.
        user: String,
    },
    /// [`TestLogin::permission`](super::TestLogin::permission) named a type
    /// the authorize step does not ask the user to approve.
    #[error("the login does not ask to approve a permission of type {permission_type:?}")]
    PermissionNotAsked {
        /// The type expected, e.g. `payment.v1`.
        permission_type: String,
    },
    /// The simulator refused the request or the decision (`400`), e.g. a
    /// method the user lacks.
    #[error("{step}: the simulator refused: {description}")]
    SimulatorRefused {
        /// The step it refused.
        step: Step,
        /// The simulator's `error_description`.
        description: String,
    },
    /// The app's callback did not log in: it answered `status` (not a
    /// redirect), with this error `kind` when its body named one.
    #[error("the app refused the login: {status} {}", error.as_deref().unwrap_or("(no error kind)"))]
    LoginRefused {
        /// The callback's status.
        status: StatusCode,
        /// The `error` of its JSON body (the crate's error kind).
        error: Option<String>,
    },
    /// The app's CIBA status route reported the request failed.
    #[error("the CIBA login failed: {}", error.as_deref().unwrap_or("(no error kind)"))]
    CibaFailed {
        /// The status route's `error`.
        error: Option<String>,
    },
    /// `step` did not finish within [`TestLogin::timeout`](super::TestLogin::timeout).
    #[error("{step}: timed out")]
    TimedOut {
        /// The step that was waited for.
        step: Step,
    },
    /// The login finished, yet the browser holds no cookie for the app.
    #[error("the login finished without a session cookie")]
    NoSessionCookie,
}

impl TestLoginError {
    /// A stable, machine-readable name of the error, e.g. `"unknown_user"`.
    pub fn kind(&self) -> &'static str {
        match self {
            TestLoginError::InvalidUrl { .. } => "invalid_url",
            TestLoginError::Transport { .. } => "transport",
            TestLoginError::UnexpectedAnswer { .. } => "unexpected_answer",
            TestLoginError::NotTheSimulator { .. } => "not_the_simulator",
            TestLoginError::UnknownUser { .. } => "unknown_user",
            TestLoginError::PermissionNotAsked { .. } => "permission_not_asked",
            TestLoginError::SimulatorRefused { .. } => "simulator_refused",
            TestLoginError::LoginRefused { .. } => "login_refused",
            TestLoginError::CibaFailed { .. } => "ciba_failed",
            TestLoginError::TimedOut { .. } => "timed_out",
            TestLoginError::NoSessionCookie => "no_session_cookie",
        }
    }

    /// A transport error of `step`, its URL (which may hold a code) removed.
    pub(crate) fn transport(step: Step) -> impl FnOnce(reqwest::Error) -> TestLoginError {
        move |source| TestLoginError::Transport { step, source: source.without_url() }
    }
}
