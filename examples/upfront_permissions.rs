//! A small shop that asks the buyer to approve a payment in BankID
//! (an upfront `payment.v1` permission, sent with PAR + RAR).
//!
//! ```sh
//! cargo run --example upfront_permissions     # then open http://127.0.0.1:3000
//! ```
//!
//! "Pay 123.45 NOK" starts the approval; BankID sends the buyer back to
//! `/paid?bankid_flow=...`, which only shows the approved statement (a link
//! prefetch or a reload spends nothing). The "Confirm" button posts to the
//! same URL, and that handler redeems the single-use approval right before
//! "executing" the payment.

mod support;

use axum::Router;
use axum::extract::OriginalUri;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum_bankid::{AuthenticatedUser, BankId, BankIdLayer, Error, Granted, Permission};
use serde::{Deserialize, Serialize};
use support::{escape, page};
use tower_sessions::MemoryStore;

/// The statement the buyer approves.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ApprovePayment {
    amount: String,
    currency: String,
    creditor: String,
    reference: String,
}

impl Permission for ApprovePayment {
    const TYPE: &'static str = "payment.v1";
}

fn basket() -> ApprovePayment {
    ApprovePayment {
        amount: "123.45".into(),
        currency: "NOK".into(),
        creditor: "Nordmann Sko AS".into(),
        reference: "order-1001".into(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::init_tracing();
    let addr = support::listen_addr();
    let base = format!("http://{addr}");
    let (config, _simulator) = support::config(&base).await?;

    let sessions = config.session_layer(MemoryStore::default());
    // With several instances on one Redis store, add `.with_single_use_store(store)`
    // so that a payment approval is used once across all of them.
    let bankid = BankIdLayer::discover(config).await?;
    let app = Router::new()
        .route("/", get(shop))
        .route("/pay", get(pay))
        .route("/paid", get(review).post(execute))
        .layer(bankid)
        .layer(sessions);

    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("shop listening on {base}");
    axum::serve(listener, app).await?;
    Ok(())
}

async fn shop() -> Html<String> {
    let order = basket();
    Html(page(
        "Nordmann Sko",
        &format!(
            "<p>One pair of boots, order {}.</p><p><a href=\"/pay\">Pay {} {}</a> — approve with BankID</p>",
            escape(&order.reference),
            escape(&order.amount),
            escape(&order.currency)
        ),
    ))
}

/// Sends the buyer to BankID to approve exactly this payment.
async fn pay(bankid: BankId) -> Result<Response, Error> {
    bankid.request(basket()).return_to("/paid").start().await
}

/// Shows the approved statement. Extracting `Granted` reads the grant of
/// this flow (named by `bankid_flow` in the URL) and spends nothing.
async fn review(user: AuthenticatedUser, granted: Granted<ApprovePayment>, OriginalUri(uri): OriginalUri) -> Response {
    if granted.require(&basket()).is_err() {
        return (axum::http::StatusCode::CONFLICT, "the approved payment is not this basket").into_response();
    }
    let json = serde_json::to_string_pretty(granted.statement()).unwrap_or_default();
    // The form posts back to this URL, so the flow reference travels along.
    let action = uri.path_and_query().map_or("/paid", |pq| pq.as_str()).to_owned();
    Html(page(
        "Payment approved",
        &format!(
            "<p>{} approved with BankID at {}.</p><pre>{}</pre><p>permission_digest: <code>{}</code></p>\
             <form method=\"post\" action=\"{}\"><button>Confirm payment</button></form>",
            escape(user.name.as_deref().unwrap_or("The buyer")),
            user.loa,
            escape(&json),
            escape(granted.digest()),
            escape(&action),
        ),
    ))
    .into_response()
}

/// Executes the payment: redeems the approval first, so it is used once.
async fn execute(granted: Granted<ApprovePayment>) -> Result<Html<String>, Error> {
    granted.require(&basket())?;
    granted.redeem().await?;
    // ... hand the payment to the bank here, with `granted.id()` as idempotency key ...
    Ok(Html(page(
        "Payment sent",
        &format!(
            "<p>Paid {} {} to {}.</p><p><a href=\"/\">Back to the shop</a></p>",
            escape(&granted.statement().amount),
            escape(&granted.statement().currency),
            escape(&granted.statement().creditor),
        ),
    )))
}
