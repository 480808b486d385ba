//! [`TestLogin`]: one test login, built up and then driven hop by hop as a
//! browser would take it; [`LoggedIn`]: what a request then needs.

use std::fmt;
use std::time::Duration;

use axum_bankid_simulator::Simulator;
use http::{StatusCode, header};
use url::Url;

use super::authorize_step::{self, AuthorizeStep, Decision};
use super::browser::Browser;
use super::ciba;
use super::error::{Step, TestLoginError};
use crate::Loa;

/// The login route's default path (`BankIdConfigBuilder::login_path`).
const DEFAULT_LOGIN_PATH: &str = "/auth/bankid/login";
/// The CIBA routes' default path (`BankIdConfigBuilder::ciba_path`).
const DEFAULT_CIBA_PATH: &str = "/auth/bankid/ciba";
/// How long a login may take unless [`TestLogin::timeout`] says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A test login of a simulator user at a running app, made with a builder
/// and run by [`cookie`](Self::cookie), [`client`](Self::client),
/// [`log_in`](Self::log_in), [`log_in_by_ciba`](Self::log_in_by_ciba) or
/// [`callback`](Self::callback). See the [module docs](super).
#[must_use = "a TestLogin does nothing until it is run"]
pub struct TestLogin<'a> {
    app: String,
    simulator: &'a Simulator,
    user: String,
    loa: Option<Loa>,
    auth_age: Option<Duration>,
    return_to: Option<String>,
    start_at: Option<String>,
    permissions: Vec<String>,
    deny: bool,
    browser: Option<Browser>,
    login_path: String,
    ciba_path: String,
    timeout: Duration,
}

impl<'a> TestLogin<'a> {
    /// A login at the app served at `app_base_url` (e.g.
    /// `http://127.0.0.1:3000`, no trailing slash needed) whose BankID is
    /// `simulator`. Default: user `kari` (LOA 3), a fresh login, landing at
    /// `/`, through the login route at `/auth/bankid/login`, in a new
    /// [`Browser`].
    pub fn new(app_base_url: impl Into<String>, simulator: &'a Simulator) -> Self {
        TestLogin {
            app: app_base_url.into(),
            simulator,
            user: "kari".to_owned(),
            loa: None,
            auth_age: None,
            return_to: None,
            start_at: None,
            permissions: Vec::new(),
            deny: false,
            browser: None,
            login_path: DEFAULT_LOGIN_PATH.to_owned(),
            ciba_path: DEFAULT_CIBA_PATH.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The simulator user to log in as (`kari`, `ola`, `per`, `nina`, or one
    /// added with `SimulatorBuilder::user`).
    pub fn user(mut self, id: impl Into<String>) -> Self {
        self.user = id.into();
        self
    }

    /// Asks the login route for this level (`acr=3` or `acr=4`, as a
    /// step-up does): LOA 4 logs in with BankID High. The user must reach
    /// it (Ola and Nina have BankID High; Kari steps up to it).
    pub fn loa(mut self, loa: Loa) -> Self {
        self.loa = Some(loa);
        self
    }

    /// The user authenticated this long ago: the ID token's `auth_time` is
    /// `now - age` (the simulator's `auth_age` field), for routes with
    /// `LoggedInWithin`. Default: now.
    pub fn auth_age(mut self, age: Duration) -> Self {
        self.auth_age = Some(age);
        self
    }

    /// Where the login route sends the browser afterwards (its
    /// `return_to`). Default `/`.
    pub fn return_to(mut self, path: impl Into<String>) -> Self {
        self.return_to = Some(path.into());
        self
    }

    /// Starts at this app route instead of the login route: any route that
    /// redirects to BankID, e.g. one that asks for a permission with
    /// `BankIdSession::request(..).start()`. The user's approval grants it;
    /// [`LoggedIn::landing`] is where the callback then sends the browser
    /// (the route with `Granted<P>`). [`loa`](Self::loa) and
    /// [`return_to`](Self::return_to) belong to the login route and may
    /// not be combined with it.
    pub fn start_at(mut self, path: impl Into<String>) -> Self {
        self.start_at = Some(path.into());
        self
    }

    /// Requires the simulator's login step to ask the user to approve a
    /// permission of this type (e.g. `Payment::TYPE`), else the login fails
    /// with [`TestLoginError::PermissionNotAsked`] before anything is
    /// approved. May be repeated.
    pub fn permission(mut self, permission_type: impl Into<String>) -> Self {
        self.permissions.push(permission_type.into());
        self
    }

    /// The user cancels at the simulator instead of approving; only
    /// [`callback`](Self::callback) then makes sense, to see how the app
    /// answers.
    pub fn deny(mut self) -> Self {
        self.deny = true;
        self
    }

    /// Logs this browser in (it may already hold a session); default: a
    /// new one.
    pub fn browser(mut self, browser: Browser) -> Self {
        self.browser = Some(browser);
        self
    }

    /// The app's login route, if not `/auth/bankid/login`.
    pub fn login_path(mut self, path: impl Into<String>) -> Self {
        self.login_path = path.into();
        self
    }

    /// The app's CIBA routes, if not at `/auth/bankid/ciba`.
    pub fn ciba_path(mut self, path: impl Into<String>) -> Self {
        self.ciba_path = path.into();
        self
    }

    /// How long a CIBA login may take. Default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Logs in and answers the `Cookie` header value for the app's
    /// requests (e.g. a `tower::ServiceExt::oneshot` on the app's `Router`).
    ///
    /// # Errors
    ///
    /// As [`log_in`](Self::log_in).
    pub async fn cookie(self) -> Result<String, TestLoginError> {
        Ok(self.log_in().await?.cookie)
    }

    /// Logs in and answers a client that holds the session in its cookie
    /// jar (it follows no redirects).
    ///
    /// # Errors
    ///
    /// As [`log_in`](Self::log_in).
    pub async fn client(self) -> Result<reqwest::Client, TestLoginError> {
        Ok(self.log_in().await?.browser.client().clone())
    }

    /// Logs in through the code flow: the app's login route (or
    /// [`start_at`](Self::start_at)), the simulator's login step, the
    /// user's approval, the app's callback.
    ///
    /// # Errors
    ///
    /// [`TestLoginError::LoginRefused`] when the callback does not redirect
    /// (its error kind included), [`TestLoginError::NoSessionCookie`] when
    /// the browser then holds no cookie for the app; the errors of
    /// [`callback`](Self::callback).
    pub async fn log_in(self) -> Result<LoggedIn, TestLoginError> {
        let visit = self.callback().await?;
        let status = visit.response.status();
        if status != StatusCode::SEE_OTHER {
            let error = error_kind(visit.response).await;
            return Err(TestLoginError::LoginRefused { status, error });
        }
        let landing = authorize_step::location(Step::Callback, &visit.response)?;
        LoggedIn::new(visit.browser, &visit.app, Some(landing))
    }

    /// Runs the login up to and including the app's callback, and answers
    /// the app's response to it, whatever it is: for tests of how an app
    /// handles a cancelled or refused login.
    ///
    /// # Errors
    ///
    /// A [`TestLoginError`] for a step before the callback: the app's
    /// route did not redirect to the simulator, the user is unknown, an
    /// expected permission is not asked for, the simulator refused.
    pub async fn callback(self) -> Result<CallbackVisit, TestLoginError> {
        let app = app_url(&self.app)?;
        let start = self.start_url(&app)?;
        let browser = self.browser.clone().unwrap_or_default();
        let authorize_url = redirect_of(&browser, &start).await?;
        let step = AuthorizeStep::open(&browser, self.simulator, &authorize_url).await?;
        self.check_permissions(&step)?;
        let callback_url = step.submit(&browser, self.decision()).await?;
        let response =
            browser.client().get(&callback_url).send().await.map_err(TestLoginError::transport(Step::Callback))?;
        Ok(CallbackVisit { url: callback_url, response, browser, app })
    }

    /// Logs in through CIBA: the app's public CIBA start route
    /// (`POST {ciba_path}` with the user's identity number; the app must
    /// mount it with `PublicCibaStart::log_in_starting_session`), the
    /// user's phone approving the request whose binding message the
    /// status route shows, then the status route until it says
    /// `approved`. [`loa`](Self::loa), [`auth_age`](Self::auth_age),
    /// [`start_at`](Self::start_at) and [`permission`](Self::permission)
    /// belong to the code flow and are not used.
    ///
    /// # Errors
    ///
    /// [`TestLoginError::UnknownUser`], [`TestLoginError::CibaFailed`],
    /// [`TestLoginError::TimedOut`], and `Transport` or `UnexpectedAnswer`
    /// of a step.
    pub async fn log_in_by_ciba(self) -> Result<LoggedIn, TestLoginError> {
        let app = app_url(&self.app)?;
        let browser = self.browser.clone().unwrap_or_default();
        let routes = path_url(&app, &self.ciba_path, "CIBA path")?;
        let login = ciba::CibaLogin { browser: &browser, simulator: self.simulator, routes, timeout: self.timeout };
        login.run(&self.user).await?;
        LoggedIn::new(browser, &app, None)
    }

    /// The app URL the browser starts at.
    fn start_url(&self, app: &Url) -> Result<Url, TestLoginError> {
        if let Some(path) = &self.start_at {
            if self.loa.is_some() || self.return_to.is_some() {
                return Err(TestLoginError::InvalidUrl { what: "start path with loa or return_to" });
            }
            return path_url(app, path, "start path");
        }
        let mut url = path_url(app, &self.login_path, "login path")?;
        url.query_pairs_mut().append_pair("return_to", self.return_to.as_deref().unwrap_or("/"));
        if let Some(loa) = self.loa {
            url.query_pairs_mut().append_pair("acr", &loa.get().to_string());
        }
        Ok(url)
    }

    fn check_permissions(&self, step: &AuthorizeStep) -> Result<(), TestLoginError> {
        let asked = |wanted: &String| step.permissions().iter().any(|p| &p.permission_type == wanted);
        match self.permissions.iter().find(|wanted| !asked(wanted)) {
            Some(missing) => Err(TestLoginError::PermissionNotAsked { permission_type: missing.clone() }),
            None => Ok(()),
        }
    }

    fn decision(&self) -> Decision {
        let decision = if self.deny { Decision::deny() } else { Decision::approve(&self.user) };
        match self.auth_age {
            Some(age) => decision.auth_age(age),
            None => decision,
        }
    }
}

impl fmt::Debug for TestLogin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestLogin")
            .field("app", &self.app)
            .field("user", &self.user)
            .field("loa", &self.loa)
            .field("auth_age", &self.auth_age)
            .field("start_at", &self.start_at)
            .finish_non_exhaustive()
    }
}

/// The app's answer to the callback of a test login
/// ([`TestLogin::callback`]).
pub struct CallbackVisit {
    url: String,
    response: reqwest::Response,
    browser: Browser,
    app: Url,
}

impl CallbackVisit {
    /// The callback URL the simulator sent the browser to. It carries the
    /// (now used) authorization code: assert on it, never log it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The app's response.
    pub fn response(&self) -> &reqwest::Response {
        &self.response
    }

    /// The response and the browser that got it, which holds whatever
    /// cookies the app set.
    pub fn into_parts(self) -> (reqwest::Response, Browser) {
        (self.response, self.browser)
    }
}

/// The callback URL carries a code: not printed.
impl fmt::Debug for CallbackVisit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackVisit").field("status", &self.response.status()).finish_non_exhaustive()
    }
}

/// A logged-in test browser: its `Cookie` header for the app, its client,
/// and where the login sent it.
#[derive(Clone)]
pub struct LoggedIn {
    browser: Browser,
    cookie: String,
    landing: Option<String>,
}

impl LoggedIn {
    fn new(browser: Browser, app: &Url, landing: Option<String>) -> Result<LoggedIn, TestLoginError> {
        let cookie = browser.cookie_header(app).ok_or(TestLoginError::NoSessionCookie)?;
        Ok(LoggedIn { browser, cookie, landing })
    }

    /// The `Cookie` header value for the app's requests.
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    /// A client holding the session in its jar.
    pub fn client(&self) -> &reqwest::Client {
        self.browser.client()
    }

    /// The browser: client and jar.
    pub fn browser(&self) -> &Browser {
        &self.browser
    }

    /// Where the app's callback sent the browser: the `return_to`, or for
    /// a login begun at [`TestLogin::start_at`] the route that lands it
    /// (with its `bankid_flow`). `None` after CIBA, which has no callback.
    pub fn landing(&self) -> Option<&str> {
        self.landing.as_deref()
    }
}

/// The cookie is the session: not printed.
impl fmt::Debug for LoggedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoggedIn").field("landing", &self.landing).finish_non_exhaustive()
    }
}

fn app_url(base: &str) -> Result<Url, TestLoginError> {
    let url = Url::parse(base).map_err(|_| TestLoginError::InvalidUrl { what: "app base URL" })?;
    let plain = matches!(url.scheme(), "http" | "https") && url.query().is_none() && url.path() == "/";
    if plain { Ok(url) } else { Err(TestLoginError::InvalidUrl { what: "app base URL" }) }
}

/// `path` (an absolute path, with any query) on the app.
fn path_url(app: &Url, path: &str, what: &'static str) -> Result<Url, TestLoginError> {
    if !path.starts_with('/') || path.starts_with("//") {
        return Err(TestLoginError::InvalidUrl { what });
    }
    app.join(path).map_err(|_| TestLoginError::InvalidUrl { what })
}

/// Where `url` on the app redirects the browser.
async fn redirect_of(browser: &Browser, url: &Url) -> Result<String, TestLoginError> {
    let step = Step::LoginRoute;
    let response = browser.client().get(url.clone()).send().await.map_err(TestLoginError::transport(step))?;
    if response.status() != StatusCode::SEE_OTHER {
        return Err(TestLoginError::UnexpectedAnswer { step, status: response.status() });
    }
    authorize_step::location(step, &response)
}

/// The `error` of an app's JSON error body.
async fn error_kind(response: reqwest::Response) -> Option<String> {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    let body: serde_json::Value = if is_json { response.json().await.ok()? } else { return None };
    body.get("error")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_url_is_a_plain_origin_and_paths_stay_on_it() {
        assert!(app_url("http://127.0.0.1:3000").is_ok());
        assert!(app_url("http://127.0.0.1:3000/").is_ok());
        for bad in ["127.0.0.1:3000", "ftp://x", "http://x/app", "http://x/?a=b", ""] {
            assert_eq!(app_url(bad).map(|_| ()).unwrap_err().kind(), "invalid_url", "{bad}");
        }
        let app = app_url("http://127.0.0.1:3000").unwrap();
        assert_eq!(path_url(&app, "/pay?amount=1", "p").unwrap().as_str(), "http://127.0.0.1:3000/pay?amount=1");
        for bad in ["pay", "//evil.example/pay", "https://evil.example/"] {
            assert!(path_url(&app, bad, "p").is_err(), "{bad}");
        }
    }
}
