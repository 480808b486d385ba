//! BankID login for an axum app, against the embedded simulator.
//!
//! ```sh
//! cargo run --example login            # then open http://127.0.0.1:3000
//! ```
//!
//! With `BANKID_ISSUER` (and the other `BANKID_*` variables, see the README)
//! set, the same binary talks to that provider instead — e.g. BankID preprod.
//! `PORT` changes the port (default 3000).

mod support;

use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use axum_bankid::{AuthenticatedUser, BankIdLayer};
use support::{escape, page};
use tower_sessions::MemoryStore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::init_tracing();
    let addr = support::listen_addr();
    let base = format!("http://{addr}");
    let (config, _simulator) = support::config(&base).await?;

    let sessions = config.session_layer(MemoryStore::default());
    let bankid = BankIdLayer::discover(config).await?;
    let app = Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .route("/healthz", get(|| async { "ok" }))
        .layer(bankid)
        .layer(sessions);

    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on {base}");
    axum::serve(listener, app).await?;
    Ok(())
}

/// Public page: shows who is logged in, if anyone.
async fn home(user: Option<AuthenticatedUser>) -> Html<String> {
    let body = match user {
        Some(user) => format!(
            "<p>Logged in as {} ({}).</p><p><a href=\"/me\">Your BankID details</a></p>\
             <form method=\"post\" action=\"/auth/bankid/logout\"><button>Log out</button></form>",
            escape(user.name.as_deref().unwrap_or("unknown")),
            user.loa
        ),
        None => "<p>You are not logged in.</p>\
                 <p><a href=\"/auth/bankid/login?return_to=/me\">Log in with BankID</a></p>"
            .to_owned(),
    };
    Html(page("axum-bankid example", &body))
}

/// Protected page: JSON for API clients, HTML for browsers.
async fn me(user: AuthenticatedUser, headers: HeaderMap) -> Response {
    let wants_json =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return Json(serde_json::json!({
            "sub": user.sub,
            "loa": user.loa,
            "acr": user.acr,
            "amr": user.amr,
            "name": user.name,
            "birthdate": user.birthdate,
            "auth_time": user.auth_time,
        }))
        .into_response();
    }
    let body = format!(
        "<dl><dt>Name</dt><dd>{}</dd><dt>Level</dt><dd>{}</dd><dt>acr</dt><dd>{}</dd><dt>sub</dt><dd>{}</dd></dl>\
         <form method=\"post\" action=\"/auth/bankid/logout\"><button>Log out</button></form><p><a href=\"/\">Home</a></p>",
        escape(user.name.as_deref().unwrap_or("unknown")),
        user.loa,
        escape(&user.acr),
        escape(&user.sub),
    );
    Html(page("Your BankID login", &body)).into_response()
}
