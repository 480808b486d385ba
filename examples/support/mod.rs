//! Set-up shared by the examples: the embedded simulator unless
//! `BANKID_ENV` (or `BANKID_ISSUER`) points at real BankID, logging, and the
//! page layout (one stylesheet, a header with the app's name and a language
//! switch, styled error pages) in Bokmål, Nynorsk or English.

pub mod lang;
mod texts;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum_bankid::error::Error;
use axum_bankid::{AuthenticatedUser, BankIdConfig};
use axum_bankid_simulator::Simulator;
use tower_sessions::MemoryStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{
    ClientLike, Config, ConnectionConfig, PerformanceConfig, Pool, ReconnectPolicy,
};
use tracing_subscriber::EnvFilter;

pub use lang::{Lang, Locale};

/// Logging at `info`, with the crate's flow steps at `debug`.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,axum_bankid=debug".into()))
        .init();
}

/// `127.0.0.1:$PORT` (default 3000).
pub fn listen_addr() -> SocketAddr {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The configuration from `BANKID_*` variables when `BANKID_ENV` (e.g.
/// `current`, BankID's test environment) or `BANKID_ISSUER` is set,
/// otherwise a freshly started simulator (returned so it lives as long as
/// the app) with both of its issuers, BankID OIDC and BIB.
pub async fn config(base: &str) -> Result<(BankIdConfig, Option<Simulator>), Box<dyn std::error::Error>> {
    if std::env::var_os("BANKID_ENV").is_some() || std::env::var_os("BANKID_ISSUER").is_some() {
        return Ok((BankIdConfig::from_env()?, None));
    }
    let simulator = Simulator::start().await?;
    let redirect_uri = format!("{base}/auth/bankid/callback");
    simulator.allow_redirect_uri(&redirect_uri);
    let config = BankIdConfig::builder()
        .issuer(simulator.issuer())
        .bib_issuer(simulator.bib_issuer())
        .client_id(simulator.client_id())
        .client_secret(simulator.client_secret())
        .redirect_uri(redirect_uri)
        .post_logout_redirect_uri(format!("{base}/"))
        // Logged out after 10 minutes without a request (`IDLE_TIMEOUT_SECS`
        // to try it sooner); every page warns two minutes before.
        .idle_timeout(idle_timeout())
        // `BANKID_LOGIN_CACHE_TTL_MS` as with real BankID (0: no cache).
        .login_cache_ttl(login_cache_ttl())
        // Keys are used only when their x5c chain leads to this root, as
        // BankID's must lead to BankID's (`BANKID_ROOT_CERTS_FILE`).
        .root_certificates_pem(simulator.root_certificates_pem())
        .build()?;
    tracing::info!(issuer = %simulator.issuer(), "using the embedded BankID simulator");
    Ok((config, Some(simulator)))
}

/// `BANKID_LOGIN_CACHE_TTL_MS`, else the crate's default (2 s).
fn login_cache_ttl() -> std::time::Duration {
    let ms = std::env::var("BANKID_LOGIN_CACHE_TTL_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    std::time::Duration::from_millis(ms)
}

/// The examples' idle timeout: `IDLE_TIMEOUT_SECS`, else 10 minutes.
fn idle_timeout() -> std::time::Duration {
    let secs = std::env::var("IDLE_TIMEOUT_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(600);
    std::time::Duration::from_secs(secs)
}

/// Where an example keeps everything that must be shared between its
/// instances: sessions, the layer's login attempts (`with_session_store`), single-use
/// grant records (`with_single_use_store`) and pending CIBA requests
/// (`CibaOptions::new`). One store type, so each example's `main` reads the same
/// with or without Redis.
#[derive(Debug, Clone)]
pub enum Store {
    /// In this process only (no `REDIS_URL`): one instance, lost at exit.
    Memory(MemoryStore),
    /// In Redis (`REDIS_URL`): shared by every instance started with the
    /// same URL, and as durable as that server's persistence.
    Redis(RedisStore<Pool>),
}

/// The store named by `REDIS_URL` (e.g. `redis://127.0.0.1:6379`), or memory
/// without it. Fails at start-up when Redis is not reachable then, so a
/// misconfigured instance never starts with sessions of its own.
///
/// While running, a Redis outage makes each store call fail after at most
/// [`REDIS_COMMAND_TIMEOUT`] (the crate answers `503 session_error`) instead
/// of hanging the request, and the pool reconnects by itself every
/// [`REDIS_RECONNECT_DELAY_MS`] ms, for ever.
pub async fn session_store() -> Result<Store, Box<dyn std::error::Error>> {
    let Ok(url) = std::env::var("REDIS_URL") else {
        return Ok(Store::Memory(MemoryStore::default()));
    };
    let config = Config::from_url(&url)?;
    let performance = PerformanceConfig { default_command_timeout: REDIS_COMMAND_TIMEOUT, ..Default::default() };
    let connection = ConnectionConfig { connection_timeout: REDIS_COMMAND_TIMEOUT, ..Default::default() };
    // max_attempts 0: keep trying until Redis is back.
    let reconnect = ReconnectPolicy::new_constant(0, REDIS_RECONNECT_DELAY_MS);
    let pool = Pool::new(config, Some(performance), Some(connection), Some(reconnect), 4)?;
    pool.init().await?;
    // Only host and port: the URL may carry a password.
    let server =
        url::Url::parse(&url).ok().map(|u| format!("{}:{}", u.host_str().unwrap_or("?"), u.port().unwrap_or(6379)));
    tracing::info!(server = server.as_deref().unwrap_or("?"), "sessions, logins, grants and CIBA requests in Redis");
    Ok(Store::Redis(RedisStore::new(pool)))
}

/// How long one Redis command (or connection attempt) may take before the
/// request that needed it fails.
pub const REDIS_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// The pause between reconnection attempts to Redis, in milliseconds.
pub const REDIS_RECONNECT_DELAY_MS: u32 = 500;

#[async_trait::async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Store::Memory(store) => store.create(record).await,
            Store::Redis(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Store::Memory(store) => store.save(record).await,
            Store::Redis(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Store::Memory(store) => store.load(id).await,
            Store::Redis(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Store::Memory(store) => store.delete(id).await,
            Store::Redis(store) => store.delete(id).await,
        }
    }
}

/// Where [`assets`] serves the examples' one stylesheet.
pub const STYLESHEET: &str = "/assets/app.css";

/// The stylesheet itself, compiled in so an example is a single binary that
/// needs nothing from the network (no web fonts, no CDN).
const APP_CSS: &str = include_str!("app.css");

/// Where [`assets`] serves the script that warns before an idle logout.
pub const SESSION_WARNING: &str = "/assets/session-warning.js";

/// The warning itself: it reads the layer's session status route (see
/// `idle_timeout` in [`config`]).
const SESSION_WARNING_JS: &str = include_str!("session-warning.js");

/// The routes serving [`STYLESHEET`] and [`SESSION_WARNING`]; merge them into
/// the example's router.
pub fn assets() -> Router {
    Router::new()
        .route(STYLESHEET, get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS) }))
        .route(
            SESSION_WARNING,
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], SESSION_WARNING_JS) }),
        )
}

/// An HTML page of the app called `app` in `locale`'s language: header, a
/// card with `title` as its heading, then `body` (trusted markup; escape what
/// you interpolate).
pub fn page(app: &str, locale: &Locale, title: &str, body: &str) -> String {
    layout(app, locale, title, "card", &format!("<h1>{}</h1>{body}", escape(title)))
}

/// A page that shows the logged-in user's data: the same markup as [`page`],
/// marked `Cache-Control: private, no-store` so that neither a shared cache
/// nor the browser's back button shows it again after logout.
pub fn private_page(app: &str, locale: &Locale, title: &str, body: &str) -> Response {
    ([(header::CACHE_CONTROL, "private, no-store")], Html(page(app, locale, title, body))).into_response()
}

/// The verified user as JSON (`sub`, `loa`, `acr`, `amr`, `name`,
/// `birthdate`, `auth_time`), private and not stored, when the client asks
/// for JSON (`Accept: application/json`); `None` for browsers. Every example's
/// `/me` answers this way, so scripts can read any of them alike.
pub fn user_json(user: &AuthenticatedUser, headers: &HeaderMap) -> Option<Response> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !accept.contains("application/json") {
        return None;
    }
    let body = Me {
        acr: &user.acr,
        amr: &user.amr,
        auth_time: user.auth_time,
        birthdate: user.birthdate.as_deref(),
        loa: user.loa,
        name: user.name.as_deref(),
        sub: &user.sub,
    };
    Some(([(header::CACHE_CONTROL, "private, no-store")], axum::Json(body)).into_response())
}

/// What `/me` answers an API client: fields of the user, borrowed (the
/// shared user is not copied to answer it), in alphabetical order.
#[derive(serde::Serialize)]
struct Me<'a> {
    acr: &'a str,
    amr: &'a [String],
    auth_time: Option<i64>,
    birthdate: Option<&'a str>,
    loa: axum_bankid::Loa,
    name: Option<&'a str>,
    sub: &'a str,
}

/// The document around a page's card: `<head>` with the stylesheet, the
/// header with the app's name and the language switch, the idle warning's
/// box (its texts in `data-` attributes for the script), and a footer saying
/// these are test users.
fn layout(app: &str, locale: &Locale, title: &str, card_class: &str, card: &str) -> String {
    let t = &locale.t().common;
    format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · {app}</title><link rel=\"stylesheet\" href=\"{STYLESHEET}\">\
         <script src=\"{SESSION_WARNING}\" defer></script></head><body>\
         <header class=\"topbar\"><div class=\"inner\"><a class=\"brand\" href=\"/\">{app}</a>\
         <span class=\"badge\">{badge}</span>{switch}</div></header>\
         <div id=\"session-warning\" class=\"notice\" role=\"alert\" hidden data-warning=\"{warning}\" \
         data-stay=\"{stay}\" data-logged-out=\"{logged_out}\" data-log-in-again=\"{again}\"></div>\
         <main><div class=\"{card_class}\">{card}</div></main>\
         <footer>{footer}</footer></body></html>",
        lang = locale.lang.code(),
        title = escape(title),
        app = escape(app),
        badge = t.badge,
        switch = language_switch(locale),
        warning = escape(t.idle_warning),
        stay = escape(t.stay_logged_in),
        logged_out = escape(t.idle_logged_out),
        again = escape(t.log_in_again),
        footer = t.footer,
    )
}

/// Links to this page in each language, each named in its own language
/// (`lang`, `hreflang`); the current one marked `aria-current`.
fn language_switch(locale: &Locale) -> String {
    let links: String = Lang::ALL
        .into_iter()
        .filter_map(|lang| {
            let href = locale.switch_to(lang)?;
            let current = if lang == locale.lang { " aria-current=\"true\"" } else { "" };
            Some(format!(
                "<li><a href=\"{}\" lang=\"{code}\" hreflang=\"{code}\"{current}>{}</a></li>",
                escape(&href),
                lang.texts().common.language_name,
                code = lang.code(),
            ))
        })
        .collect();
    if links.is_empty() {
        return String::new();
    }
    format!(
        "<nav class=\"languages\" aria-label=\"{}\"><ul>{links}</ul></nav>",
        escape(locale.t().common.language_switch)
    )
}

/// The error page of the app called `app`, for
/// [`BankIdLayer::with_error_handler`](axum_bankid::BankIdLayer::with_error_handler):
/// browsers get a styled page with a short, safe explanation and the error's
/// stable `kind()` code, in the request's language; API clients keep the
/// crate's JSON. Nothing from the error's own text is shown (it may name
/// internals); the full error goes to the log instead.
pub fn error_page(app: &'static str) -> impl Fn(&Error, &HeaderMap) -> Response + Send + Sync + 'static {
    move |error, headers| {
        tracing::warn!(kind = error.kind(), error = %error, "BankID login failed");
        if !accepts_html(headers) {
            return error.to_response(headers);
        }
        let locale = Locale::from_headers(headers);
        let t = &locale.t().common;
        let (title, explanation) = error_text(error, &locale);
        let body = format!(
            "<h1>{title}</h1><p class=\"lead\">{explanation}</p>\
             <p class=\"error-code\">{} <code>{}</code></p>\
             <div class=\"actions\"><a class=\"button\" href=\"/\">{}</a></div>",
            t.error_code,
            escape(error.kind()),
            t.back_to_start,
        );
        let html = layout(app, &locale, t.login_failed, "card error", &body);
        (error.status(), [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
    }
}

/// The heading of the error page for `error`, and what the user can make of
/// it, without internals.
fn error_text(error: &Error, locale: &Locale) -> (&'static str, &'static str) {
    let t = &locale.t().common;
    let explanation = match error.kind() {
        "access_denied" => return (t.login_cancelled, t.explain_cancelled),
        "login_expired" | "unknown_state" | "missing_state" => t.explain_stale,
        "insufficient_loa" => t.explain_loa,
        "cross_site_request" => t.explain_cross_site,
        "permission_not_granted" => t.explain_permission,
        _ => t.explain_other,
    };
    (t.login_failed, explanation)
}

/// Whether the client takes HTML (a browser navigation), not only JSON.
fn accepts_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
}

/// A styled page for errors the app itself answers with, e.g. a `409`:
/// `title` (text), `text` (trusted markup from [`texts`]) and the crate's
/// stable error `code` (`Error::kind()`) when there is one.
// Each example compiles this module on its own; not every one has such errors.
#[allow(dead_code)]
pub fn app_error(
    app: &str,
    locale: &Locale,
    status: StatusCode,
    title: &str,
    text: &str,
    code: Option<&str>,
) -> Response {
    let t = &locale.t().common;
    let code = code
        .map(|code| format!("<p class=\"error-code\">{} <code>{}</code></p>", t.error_code, escape(code)))
        .unwrap_or_default();
    let body = format!(
        "<h1>{}</h1><p class=\"lead\">{text}</p>{code}\
         <div class=\"actions\"><a class=\"button\" href=\"/\">{}</a></div>",
        escape(title),
        t.back_to_start,
    );
    let page = layout(app, locale, title, "card error", &body);
    (status, [(header::CACHE_CONTROL, "no-store")], Html(page)).into_response()
}

/// `template` (trusted markup from [`texts`]) with each `{key}` replaced by
/// its value, escaped. One pass, so a value that itself reads `{key}` stays
/// as it is.
#[allow(dead_code)] // the metrics example's pages are English only
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let key = &after[..close];
            values.iter().find(|(k, _)| *k == key).map(|(_, v)| (close, *v))
        });
        match value {
            Some((close, value)) => {
                out.push_str(&escape(value));
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}
