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
use axum_bankid::{AuthenticatedUser, BankIdLayer, Loa4, LoggedInWithin, StepUp};
use support::{escape, page, private_page};

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
        .layer(bankid);

    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on {base}");
    axum::serve(listener, app).await?;
    Ok(())
}

/// The app's name in the page header.
const APP: &str = "Nordmann Bank";

/// The logout button (a `POST` form: logging out changes state).
const LOGOUT: &str = "<form method=\"post\" action=\"/auth/bankid/logout\">\
                      <button class=\"secondary\">Log out</button></form>";

/// Public page: shows who is logged in, if anyone.
async fn home(user: Option<AuthenticatedUser>) -> Html<String> {
    let body = match user {
        Some(user) => format!(
            "<p class=\"lead\">Logged in as <strong>{}</strong> ({}).</p>\
             <div class=\"actions\"><a class=\"button\" href=\"/me\">Your BankID details</a>\
             <a class=\"button secondary\" href=\"/payout-account\">Payout account (LOA 4)</a>\
             <a class=\"button secondary\" href=\"/transfer\">Transfer (recent login)</a>{LOGOUT}</div>",
            escape(user.name.as_deref().unwrap_or("unknown")),
            user.loa
        ),
        None => "<p class=\"lead\">You are not logged in. Log in with BankID to see your account.</p>\
                 <div class=\"actions\"><a class=\"button bankid\" href=\"/auth/bankid/login?return_to=/me\">\
                 Log in with BankID</a></div>"
            .to_owned(),
    };
    Html(page(APP, "Welcome", &body))
}

/// Protected page: JSON for API clients, HTML for browsers.
async fn me(user: AuthenticatedUser, headers: HeaderMap) -> Response {
    if let Some(json) = support::user_json(&user, &headers) {
        return json;
    }
    let body = format!(
        "<p class=\"lead\">You are logged in with BankID.</p>\
         <dl class=\"account\" id=\"account\"><dt>Name</dt><dd id=\"name\">{}</dd>\
         <dt>Level of assurance</dt><dd><span class=\"loa\" id=\"loa\">{}</span></dd>\
         <dt>acr</dt><dd><code>{}</code></dd><dt>Subject (sub)</dt><dd><code>{}</code></dd></dl>\
         <div class=\"actions\"><a class=\"button secondary\" href=\"/\">Home</a>{LOGOUT}</div>",
        escape(user.name.as_deref().unwrap_or("unknown")),
        user.loa,
        escape(&user.acr),
        escape(&user.sub),
    );
    private_page(APP, "Your BankID login", &body)
}

/// Needs LOA 4 (BankID High): a LOA 3 login (BankID with biometrics) is sent
/// through a new login that asks for `urn:bankid:bid`, and lands back here.
async fn payout_account(user: StepUp<Loa4>, headers: HeaderMap) -> Response {
    if let Some(json) = support::user_json(&user, &headers) {
        return json;
    }
    let body = format!(
        "<p class=\"lead\">Changing where payouts go needs BankID High (LOA 4): whoever holds a \
         biometric login alone must not be able to redirect your money.</p>\
         <p>Logged in as <strong>{}</strong> at <span class=\"loa\" id=\"loa\">{}</span>.</p>\
         <div class=\"actions\"><a class=\"button secondary\" href=\"/\">Home</a>{LOGOUT}</div>",
        escape(user.name.as_deref().unwrap_or("unknown")),
        user.loa,
    );
    private_page(APP, "Payout account", &body)
}

/// Needs a login from the last five minutes (OIDC `max_age=300`, judged by
/// `auth_time`): an older login is sent through a fresh one first.
async fn transfer(user: StepUp<LoggedInWithin<300>>, headers: HeaderMap) -> Response {
    if let Some(json) = support::user_json(&user, &headers) {
        return json;
    }
    let body = format!(
        "<p class=\"lead\">A transfer needs a login from the last five minutes, so that a session \
         left open on a shared computer cannot move money.</p>\
         <p>Logged in as <strong>{}</strong>, authenticated at <code>{}</code> (Unix time).</p>\
         <div class=\"actions\"><a class=\"button secondary\" href=\"/\">Home</a>{LOGOUT}</div>",
        escape(user.name.as_deref().unwrap_or("unknown")),
        user.auth_time.unwrap_or_default(),
    );
    private_page(APP, "Transfer", &body)
}
