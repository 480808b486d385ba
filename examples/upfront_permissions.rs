//! A small shop that asks the buyer to approve a payment in BankID
//! (an upfront `payment.v1` permission, sent with PAR + RAR).
//!
//! ```sh
//! cargo run --example upfront_permissions     # then open http://127.0.0.1:3000
//! ```
//!
//! "Pay 123.45 NOK" starts the approval; `/paid` only runs when BankID
//! returned a `permission_digest` matching exactly this statement, and shows
//! it with the level of assurance. The approval is single-use.

mod support;

use axum::Router;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum_bankid::{AuthRejection, AuthenticatedUser, BankId, BankIdLayer, Error, Granted, Permission};
use serde::{Deserialize, Serialize};
use support::{escape, page, private_page};
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
    let bankid = BankIdLayer::discover(config).await?.with_error_handler(support::error_page(APP));
    let app = Router::new()
        .route("/", get(shop))
        .route("/pay", get(pay))
        .route("/paid", get(paid))
        .merge(support::assets())
        .layer(bankid)
        .layer(sessions);

    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("shop listening on {base}");
    axum::serve(listener, app).await?;
    Ok(())
}

/// The app's name in the page header.
const APP: &str = "Nordmann Sko";

async fn shop() -> Html<String> {
    let order = basket();
    Html(page(
        APP,
        "Your basket",
        &format!(
            "<p class=\"lead\">One pair of winter boots.</p>\
             <dl class=\"account\"><dt>Order</dt><dd>{}</dd><dt>Seller</dt><dd>{}</dd>\
             <dt>Total</dt><dd>{} {}</dd></dl>\
             <div class=\"actions\"><a class=\"button bankid\" href=\"/pay\">Pay {} {}</a>\
             <span class=\"muted\">You approve the payment with BankID.</span></div>",
            escape(&order.reference),
            escape(&order.creditor),
            escape(&order.amount),
            escape(&order.currency),
            escape(&order.amount),
            escape(&order.currency)
        ),
    ))
}

/// Sends the buyer to BankID to approve exactly this payment.
async fn pay(bankid: BankId) -> Result<Response, Error> {
    bankid.request(basket()).return_to("/paid").start().await
}

/// Runs only with a verified, unused approval of a `payment.v1` statement.
async fn paid(user: AuthenticatedUser, granted: Result<Granted<ApprovePayment>, AuthRejection>) -> Response {
    let granted = match granted {
        Ok(granted) => granted,
        // No approval, or one already used (each pays once): the shop's page.
        // Anything else (a store failure) keeps the crate's answer.
        Err(rejection) if matches!(rejection.error(), Error::Permission(_)) => {
            return support::app_error(
                APP,
                rejection.error().status(),
                "No approved payment",
                "There is no unused BankID approval of this payment; each approval pays once. \
                 Start the payment again from the shop.",
                Some(rejection.error().kind()),
            );
        }
        Err(rejection) => return rejection.into_response(),
    };
    if granted.require(&basket()).is_err() {
        return support::app_error(
            APP,
            axum::http::StatusCode::CONFLICT,
            "Payment not approved",
            "The payment you approved is not this basket.",
            None,
        );
    }
    let payment = granted.statement();
    let json = serde_json::to_string_pretty(payment).unwrap_or_default();
    private_page(
        APP,
        "Payment approved",
        &format!(
            "<p class=\"notice ok\">{} approved with BankID at {}.</p>\
             <h2>The statement you approved</h2><pre>{}</pre>\
             <p class=\"muted\">permission_digest: <code>{}</code></p>\
             <div class=\"actions\"><a class=\"button secondary\" href=\"/\">Back to the shop</a></div>",
            escape(user.name.as_deref().unwrap_or("The buyer")),
            user.loa,
            escape(&json),
            escape(granted.digest()),
        ),
    )
}
