//! [`Browser`]: an HTTP client with a cookie jar that follows no redirects,
//! so a test login takes each hop itself (the app → the simulator → the
//! app) and can check where each one goes.

use std::fmt;
use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};
use url::Url;

/// A test browser: a [`reqwest::Client`] with its own cookie [`Jar`],
/// following no redirects.
///
/// [`TestLogin`](super::TestLogin) makes a fresh one per login unless
/// given one with [`TestLogin::browser`](super::TestLogin::browser), e.g. to
/// log in a browser that already holds a session.
#[derive(Clone)]
pub struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
}

impl Browser {
    /// A browser with an empty jar.
    ///
    /// # Panics
    ///
    /// When the TLS backend cannot be initialised (reqwest's
    /// `Client::new` panics alike).
    pub fn new() -> Browser {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(Arc::clone(&jar))
            .build()
            .unwrap_or_else(|err| panic!("a reqwest client for tests: {err}"));
        Browser { client, jar }
    }

    /// The client: send the app requests with it and the jar's cookies go
    /// along. It follows no redirects.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The cookie jar the client reads and fills.
    pub fn jar(&self) -> &Arc<Jar> {
        &self.jar
    }

    /// The `Cookie` header value this browser sends to `url`, if it holds
    /// any cookie for it.
    pub fn cookie_header(&self, url: &Url) -> Option<String> {
        let value = self.jar.cookies(url)?;
        value.to_str().ok().map(str::to_owned)
    }
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

/// Cookies are session credentials: never printed.
impl fmt::Debug for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Browser").finish_non_exhaustive()
    }
}
