//! Wiring mistakes the type system cannot rule out, named and explained.
//!
//! Each of these starts cleanly and shows only at request time, where a
//! generic "temporarily unavailable" page (or a login that never completes)
//! would leave the developer guessing. So the first request that meets one
//! logs what to change — once per process, at `error` — and, in debug
//! builds, the error page says it too;
//! release builds show users the generic text and keep the advice in the log.

use crate::language::Language;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// A way the app's router or environment is wired wrongly for BankID login.
/// Carried by [`Error::Misconfigured`](crate::error::Error::Misconfigured).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misconfiguration {
    /// A request reached `BankIdLayer` without a tower-sessions `Session`:
    /// no session layer, or one added *inside* `BankIdLayer` (axum runs the
    /// last-added layer first, so the session layer must be added after it).
    NoSessionLayer,
    /// An extractor of this crate ran on a route that `BankIdLayer` does
    /// not wrap (the route was added after `.layer(bankid)`, or on another
    /// router).
    NoBankIdLayer,
    /// Right after a completed login, a request came back without the
    /// session cookie (but with the crate's own `SameSite=Lax` landing
    /// marker): the session layer's cookie is `SameSite=Strict`
    /// (tower-sessions' default), which browsers hold back on the redirect
    /// chain that started at the provider. Every local test passes (all of
    /// 127.0.0.1 is one site); every production login loops.
    SessionCookieNotReturned,
    /// The login started on another host than the redirect URI's (say
    /// `localhost` and `127.0.0.1`): the browser keeps cookies per host, so
    /// the callback would come back without the login cookie.
    HostMismatch {
        /// The `Host` the browser used to start the login.
        request_host: String,
        /// The host and port of the configured redirect URI.
        redirect_host: String,
    },
    /// A browser sent to the login route came back without `BankIdLayer`
    /// having seen the login request: the layer was added with
    /// `route_layer` (which wraps only the routes that match, so its own
    /// paths answer 404), or to a router nested under a prefix. Detected by
    /// the crate's "sent to login" marker cookie, which the login route
    /// removes and which came back at least a second later.
    LoginRouteNotReached {
        /// The configured login path the browser was sent to.
        login_path: String,
    },
}

impl Misconfiguration {
    /// A stable code for logs and the `detail` field of error bodies:
    /// `no_session_layer`, `no_bankid_layer`, `session_cookie_not_returned`,
    /// `host_mismatch` or `login_route_not_reached`.
    pub fn kind(&self) -> &'static str {
        match self {
            Misconfiguration::NoSessionLayer => "no_session_layer",
            Misconfiguration::NoBankIdLayer => "no_bankid_layer",
            Misconfiguration::HostMismatch { .. } => "host_mismatch",
            Misconfiguration::SessionCookieNotReturned => "session_cookie_not_returned",
            Misconfiguration::LoginRouteNotReached { .. } => "login_route_not_reached",
        }
    }

    /// What to change, in one or two sentences.
    pub fn fix(&self) -> String {
        match self {
            Misconfiguration::NoSessionLayer => "No tower-sessions Session reached BankIdLayer. Use \
                 BankIdLayer::with_session_store (the layer then brings its own session layer), or add the \
                 session layer of `with_session_store(store).into_parts()` AFTER `.layer(bankid)`: axum runs \
                 the last-added layer first, and the session layer must run before BankIdLayer."
                .to_owned(),
            Misconfiguration::NoBankIdLayer => "This route is not wrapped by BankIdLayer. Add the route \
                 before `.layer(bankid)` (layers wrap only the routes added before them), and use \
                 `.layer`, not `.route_layer`, so the login and callback routes are mounted too."
                .to_owned(),
            Misconfiguration::SessionCookieNotReturned => "The session cookie did not come back right after \
                 the login: your session layer's cookie is SameSite=Strict (tower-sessions' default), which \
                 browsers hold back on the redirect from BankID. Use BankIdLayer::with_session_store (its \
                 `into_parts()` gives the session layer to place yourself), or set .with_same_site(SameSite::Lax)."
                .to_owned(),
            Misconfiguration::HostMismatch { request_host, redirect_host } => format!(
                "The login started on host {request_host}, but the redirect URI is on {redirect_host}. \
                 Browsers keep cookies per host, so the callback would arrive without the login cookie. \
                 Open the app on {redirect_host} (or register a redirect URI on {request_host})."
            ),
            Misconfiguration::LoginRouteNotReached { login_path } => format!(
                "This browser was sent to the login route {login_path}, but BankIdLayer never saw that \
                 request. Add the layer with `.layer(bankid)`, not `.route_layer(bankid)` (which wraps only \
                 the routes that match, so the login, callback and logout paths answer 404), and on the \
                 outermost router, not one nested under a prefix."
            ),
        }
    }

    /// [`fix`](Self::fix) in `language`, for the debug build's error page
    /// (the log keeps English). Code names stay as they are.
    pub(crate) fn fix_in(&self, language: Language) -> String {
        let nynorsk = match language {
            Language::En => return self.fix(),
            Language::Nb => false,
            Language::Nn => true,
        };
        let pick = |nb: String, nn: String| if nynorsk { nn } else { nb };
        match self {
            Misconfiguration::NoSessionLayer => pick(
                "Ingen tower-sessions-Session nådde BankIdLayer. Bruk BankIdLayer::with_session_store, eller legg \
                 sesjonslaget fra `with_session_store(store).into_parts()` ETTER `.layer(bankid)`: sesjonslaget \
                 må kjøre før BankIdLayer."
                    .into(),
                "Ingen tower-sessions-Session nådde BankIdLayer. Bruk BankIdLayer::with_session_store, eller legg \
                 sesjonslaget frå `with_session_store(store).into_parts()` ETTER `.layer(bankid)`: sesjonslaget \
                 må køyre før BankIdLayer."
                    .into(),
            ),
            Misconfiguration::NoBankIdLayer => pick(
                "Denne ruten er ikke pakket inn av BankIdLayer. Legg ruten til før `.layer(bankid)`, og bruk \
                 `.layer`, ikke `.route_layer`, så innloggings- og callback-rutene også monteres."
                    .into(),
                "Denne ruta er ikkje pakka inn av BankIdLayer. Legg ruta til før `.layer(bankid)`, og bruk \
                 `.layer`, ikkje `.route_layer`, så innloggings- og callback-rutene òg vert monterte."
                    .into(),
            ),
            Misconfiguration::SessionCookieNotReturned => pick(
                "Sesjonskaken kom ikke tilbake rett etter innloggingen: den er SameSite=Strict, som nettlesere \
                 holder tilbake på omdirigeringen fra BankID. Bruk BankIdLayer::with_session_store eller \
                 .with_same_site(SameSite::Lax)."
                    .into(),
                "Sesjonskaka kom ikkje tilbake rett etter innlogginga: ho er SameSite=Strict, som nettlesarar \
                 held tilbake på omdirigeringa frå BankID. Bruk BankIdLayer::with_session_store eller \
                 .with_same_site(SameSite::Lax)."
                    .into(),
            ),
            Misconfiguration::HostMismatch { request_host, redirect_host } => pick(
                format!(
                    "Innloggingen startet på {request_host}, men redirect-URI-en er på {redirect_host}, så \
                         callbacken ville komme uten innloggingskaken. Åpne appen på {redirect_host}."
                ),
                format!(
                    "Innlogginga starta på {request_host}, men redirect-URI-en er på {redirect_host}, så \
                         callbacken ville komme utan innloggingskaka. Opne appen på {redirect_host}."
                ),
            ),
            Misconfiguration::LoginRouteNotReached { login_path } => pick(
                format!(
                    "Nettleseren ble sendt til innloggingsruten {login_path}, men BankIdLayer så aldri den \
                         forespørselen. Legg til laget med `.layer(bankid)`, ikke `.route_layer(bankid)`, på den \
                         ytterste routeren."
                ),
                format!(
                    "Nettlesaren vart send til innloggingsruta {login_path}, men BankIdLayer såg aldri den \
                         førespurnaden. Legg til laget med `.layer(bankid)`, ikkje `.route_layer(bankid)`, på den \
                         ytste routeren."
                ),
            ),
        }
    }

    /// Logs the advice at `error`, once per kind per process.
    pub(crate) fn report(&self) {
        static REPORTED: [AtomicBool; 5] = [const { AtomicBool::new(false) }; 5];
        let slot = match self {
            Misconfiguration::NoSessionLayer => 0,
            Misconfiguration::NoBankIdLayer => 1,
            Misconfiguration::HostMismatch { .. } => 2,
            Misconfiguration::SessionCookieNotReturned => 3,
            Misconfiguration::LoginRouteNotReached { .. } => 4,
        };
        if !REPORTED[slot].swap(true, Ordering::Relaxed) {
            tracing::error!(misconfiguration = self.kind(), "axum-bankid is wired wrongly: {}", self.fix());
        }
    }
}

impl std::fmt::Display for Misconfiguration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.fix())
    }
}

/// How long after sending a browser to the login route a layer that has
/// never seen that route waits before it names the mistake: a browser
/// follows a redirect in milliseconds.
const LOGIN_ROUTE_WAIT: Duration = Duration::from_secs(3);

/// Whether an app's layer has seen its own login route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoginRoute {
    /// A browser was sent there; the check is waiting.
    Awaited,
    /// A request to it reached the layer: the route is mounted.
    Seen,
    /// It never came; the mistake was logged.
    Reported,
}

/// Per app, keyed by its redirect URI (one entry per configuration, not
/// per request): what its layer knows of its login route.
fn login_routes() -> &'static Mutex<HashMap<String, LoginRoute>> {
    static ROUTES: OnceLock<Mutex<HashMap<String, LoginRoute>>> = OnceLock::new();
    ROUTES.get_or_init(Mutex::default)
}

/// The layer of the app with `redirect_uri` saw a request to its login
/// route: it is mounted, nothing to watch.
pub(crate) fn login_route_reached(redirect_uri: &str) {
    let mut routes = login_routes().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if routes.get(redirect_uri) != Some(&LoginRoute::Seen) {
        routes.insert(redirect_uri.to_owned(), LoginRoute::Seen);
    }
}

/// The layer of the app with `redirect_uri` sends a browser to
/// `login_path`. If it has never seen that route, it checks
/// [`LOGIN_ROUTE_WAIT`] later whether the request came, and if not names
/// the mistake at once: `route_layer` or a nested router leave the login
/// route unmounted, and the browser's only sign is an empty 404 there
/// (a later navigation finds the marker, [`Misconfiguration::LoginRouteNotReached`];
/// this is for the first one). Checked once per app and process: after
/// the route is seen, this costs one map lookup.
pub(crate) fn watch_login_route(redirect_uri: &str, login_path: &str) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    {
        let mut routes = login_routes().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if routes.contains_key(redirect_uri) {
            return;
        }
        routes.insert(redirect_uri.to_owned(), LoginRoute::Awaited);
    }
    let (redirect_uri, login_path) = (redirect_uri.to_owned(), login_path.to_owned());
    runtime.spawn(async move {
        tokio::time::sleep(LOGIN_ROUTE_WAIT).await;
        let unseen = {
            let mut routes = login_routes().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let entry = routes.get_mut(&redirect_uri);
            entry.filter(|state| **state == LoginRoute::Awaited).map(|state| *state = LoginRoute::Reported).is_some()
        };
        if unseen {
            report_login_route_unseen(&redirect_uri, login_path);
        }
    });
}

/// Logs, at `error`, that the login route a browser was sent to never
/// reached the layer, with the fix.
fn report_login_route_unseen(redirect_uri: &str, login_path: String) {
    let wait = LOGIN_ROUTE_WAIT.as_secs();
    let wrong = Misconfiguration::LoginRouteNotReached { login_path };
    tracing::error!(
        misconfiguration = wrong.kind(),
        redirect_uri,
        "axum-bankid is wired wrongly: BankIdLayer sent a browser to its login route {wait} s ago and has not \
         seen a request there since the process started (if another instance served it, ignore this). {}",
        wrong.fix()
    );
}

/// Compares the `Host` a login started on with the redirect URI's
/// authority (host and port, ASCII case-insensitively). `None` when they
/// agree or the request names no host. A `X-Forwarded-Host` set by a
/// reverse proxy wins over `Host`, since it is what the browser used.
pub(crate) fn host_mismatch(headers: &http::HeaderMap, redirect_uri: &url::Url) -> Option<Misconfiguration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let request_host = header("x-forwarded-host").and_then(|v| v.split(',').next()).or_else(|| header("host"))?;
    let request_host = request_host.trim();
    let host = redirect_uri.host_str()?;
    let redirect_host = match redirect_uri.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let default_port = redirect_uri.port_or_known_default().map(|p| format!("{host}:{p}"));
    let same = request_host.eq_ignore_ascii_case(&redirect_host)
        || default_port.is_some_and(|with_port| request_host.eq_ignore_ascii_case(&with_port));
    (!same).then(|| Misconfiguration::HostMismatch { request_host: request_host.to_owned(), redirect_host })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), http::HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn localhost_and_127_0_0_1_are_different_hosts() {
        let uri = url::Url::parse("http://127.0.0.1:3000/auth/bankid/callback").unwrap();
        let found = host_mismatch(&headers(&[("host", "localhost:3000")]), &uri);
        assert_eq!(
            found,
            Some(Misconfiguration::HostMismatch {
                request_host: "localhost:3000".into(),
                redirect_host: "127.0.0.1:3000".into()
            })
        );
        assert!(found.unwrap().fix().contains("Open the app on 127.0.0.1:3000"));
    }

    #[test]
    fn same_host_any_case_or_default_port_agrees() {
        let uri = url::Url::parse("https://shop.example/auth/bankid/callback").unwrap();
        assert_eq!(host_mismatch(&headers(&[("host", "Shop.Example")]), &uri), None);
        assert_eq!(host_mismatch(&headers(&[("host", "shop.example:443")]), &uri), None);
        assert_eq!(host_mismatch(&headers(&[]), &uri), None, "no Host: nothing to compare");
    }

    #[test]
    fn a_proxy_forwarded_host_is_what_the_browser_used() {
        let uri = url::Url::parse("https://shop.example/cb").unwrap();
        let behind_proxy = headers(&[("host", "10.0.0.5:8080"), ("x-forwarded-host", "shop.example")]);
        assert_eq!(host_mismatch(&behind_proxy, &uri), None);
        let wrong = headers(&[("host", "shop.example"), ("x-forwarded-host", "www.shop.example")]);
        assert_eq!(host_mismatch(&wrong, &uri).map(|m| m.kind()), Some("host_mismatch"));
    }
}
