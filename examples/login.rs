//! BankID login for an axum app, against the embedded simulator.
//!
//! ```sh
//! cargo run --example login            # then open http://127.0.0.1:3000
//! ```
//!
//! With `BANKID_ISSUER` (and the other `BANKID_*` variables, see docs/configuration.md)
//! set, the same binary talks to that provider instead — e.g. BankID preprod.
//! `PORT` changes the port (default 3000).

mod support;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::{Html, Response};
use axum::routing::get;
use axum_bankid::step_up::{Loa4, LoggedInWithin, StepUp};
use axum_bankid::{AuthenticatedUser, BankIdLayer};
use support::{Locale, escape, fill, page, private_page};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::init_tracing();
    let addr = support::listen_addr();
    let base = format!("http://{addr}");
    let (config, _simulator) = support::config(&base).await?;

    // Memory, or Redis with REDIS_URL so that several instances share logins.
    // One layer: BankID inside its session layer, with the crate's cookie policy.
    let bankid = BankIdLayer::discover(config)
        .await?
        .with_error_handler(support::error_page(APP))
        .with_session_store(support::session_store().await?);
    let app = Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .route("/payout-account", get(payout_account))
        .route("/transfer", get(transfer))
        .route("/healthz", get(|| async { "ok" }))
        .merge(support::assets())
        .layer(axum::middleware::from_fn(support::lang::remember_lang))
        .layer(bankid);

    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on {base}");
    axum::serve(listener, app).await?;
    Ok(())
}

/// The app's name in the page header.
const APP: &str = "Nordmann Bank";

/// The logout button (a `POST` form: logging out changes state).
fn logout(locale: &Locale) -> String {
    format!(
        "<form method=\"post\" action=\"/auth/bankid/logout\"><button class=\"secondary\">{}</button></form>",
        locale.t().common.log_out
    )
}

/// The user's name from the ID token, or the page's word for "unknown".
fn name_of<'a>(user: &'a AuthenticatedUser, locale: &Locale) -> &'a str {
    user.name.as_deref().unwrap_or(locale.t().common.unknown_name)
}

/// Public page: shows who is logged in, if anyone.
async fn home(user: Option<AuthenticatedUser>, locale: Locale) -> Html<String> {
    let t = &locale.t().login;
    let body = match user {
        Some(user) => format!(
            "<p class=\"lead\">{}</p>\
             <div class=\"actions\"><a class=\"button\" href=\"/me\">{}</a>\
             <a class=\"button secondary\" href=\"/payout-account\">{}</a>\
             <a class=\"button secondary\" href=\"/transfer\">{}</a>{}</div>",
            fill(t.logged_in_as, &[("name", name_of(&user, &locale)), ("loa", &user.loa.to_string())]),
            t.your_details,
            t.payout_link,
            t.transfer_link,
            logout(&locale),
        ),
        None => format!(
            "<p class=\"lead\">{}</p><div class=\"actions\">\
             <a class=\"button bankid\" href=\"/auth/bankid/login?return_to=/me\">{}</a></div>",
            t.not_logged_in, t.log_in
        ),
    };
    Html(page(APP, &locale, t.welcome, &body))
}

/// Protected page: JSON for API clients, HTML for browsers.
async fn me(user: AuthenticatedUser, headers: HeaderMap, locale: Locale) -> Response {
    if let Some(json) = support::user_json(&user, &headers) {
        return json;
    }
    let (common, t) = (&locale.t().common, &locale.t().login);
    let body = format!(
        "<p class=\"lead\">{}</p>\
         <dl class=\"account\" id=\"account\"><dt>{}</dt><dd id=\"name\">{}</dd>\
         <dt>{}</dt><dd><span class=\"loa\" id=\"loa\">{}</span></dd>\
         <dt>acr</dt><dd><code>{}</code></dd><dt>{}</dt><dd><code>{}</code></dd></dl>\
         <div class=\"actions\"><a class=\"button secondary\" href=\"/\">{}</a>{}</div>",
        t.me_lead,
        common.name,
        escape(name_of(&user, &locale)),
        common.level_of_assurance,
        user.loa,
        escape(&user.acr),
        t.subject,
        escape(&user.sub),
        common.home,
        logout(&locale),
    );
    private_page(APP, &locale, t.me_title, &body)
}

/// Needs LOA 4 (BankID High): a LOA 3 login (BankID with biometrics) is sent
/// through a new login that asks for `urn:bankid:bid`, and lands back here.
async fn payout_account(user: StepUp<Loa4>, headers: HeaderMap, locale: Locale) -> Response {
    if let Some(json) = support::user_json(&user, &headers) {
        return json;
    }
    let t = &locale.t().login;
    let body = format!(
        "<p class=\"lead\">{}</p><p>{}</p>\
         <div class=\"actions\"><a class=\"button secondary\" href=\"/\">{}</a>{}</div>",
        t.payout_lead,
        fill(t.logged_in_at, &[("name", name_of(&user, &locale)), ("loa", &user.loa.to_string())]),
        locale.t().common.home,
        logout(&locale),
    );
    private_page(APP, &locale, t.payout_title, &body)
}

/// Needs a login from the last five minutes (OIDC `max_age=300`, judged by
/// `auth_time`): an older login is sent through a fresh one first.
async fn transfer(user: StepUp<LoggedInWithin<300>>, headers: HeaderMap, locale: Locale) -> Response {
    if let Some(json) = support::user_json(&user, &headers) {
        return json;
    }
    let t = &locale.t().login;
    let time = user.auth_time.unwrap_or_default().to_string();
    let body = format!(
        "<p class=\"lead\">{}</p><p>{}</p>\
         <div class=\"actions\"><a class=\"button secondary\" href=\"/\">{}</a>{}</div>",
        t.transfer_lead,
        fill(t.authenticated_at, &[("name", name_of(&user, &locale)), ("time", &time)]),
        locale.t().common.home,
        logout(&locale),
    );
    private_page(APP, &locale, t.transfer_title, &body)
}
