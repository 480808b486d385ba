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
use axum_bankid::error::Error;
use axum_bankid::{
    AuthRejection, AuthenticatedUser, BankIdLayer, BankIdSession,
    permission::{Granted, Permission},
};
use serde::{Deserialize, Serialize};
use support::{Locale, escape, fill, page, private_page};

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

    // Memory, or Redis with REDIS_URL so that several instances share logins.
    let store = support::session_store().await?;
    // Grant uses are recorded in the same store, so that a payment approval
    // is used once across all instances.
    let bankid = BankIdLayer::discover(config)
        .await?
        .with_single_use_store(store.clone())
        .with_error_handler(support::error_page(APP))
        .with_session_store(store);
    let app = Router::new()
        .route("/", get(shop))
        .route("/pay", get(pay))
        .route("/paid", get(review).post(execute))
        .route("/me", get(me))
        .merge(support::assets())
        .layer(axum::middleware::from_fn(support::lang::remember_lang))
        .layer(bankid);

    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("shop listening on {base}");
    axum::serve(listener, app).await?;
    Ok(())
}

/// The app's name in the page header.
const APP: &str = "Nordmann Sko";

async fn shop(locale: Locale) -> Html<String> {
    let (order, t) = (basket(), &locale.t().shop);
    let amount = [("amount", order.amount.as_str()), ("currency", order.currency.as_str())];
    Html(page(
        APP,
        &locale,
        t.basket_title,
        &format!(
            "<p class=\"lead\">{}</p>\
             <dl class=\"account\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>\
             <dt>{}</dt><dd>{} {}</dd></dl>\
             <div class=\"actions\"><a class=\"button bankid\" href=\"/pay\">{}</a>\
             <span class=\"muted\">{}</span></div>",
            t.basket_lead,
            t.order,
            escape(&order.reference),
            t.seller,
            escape(&order.creditor),
            t.total,
            escape(&order.amount),
            escape(&order.currency),
            fill(t.pay, &amount),
            t.pay_hint,
        ),
    ))
}

/// Sends the buyer to BankID to approve exactly this payment.
async fn pay(bankid: BankIdSession) -> Result<Response, Error> {
    bankid.request(basket()).return_to("/paid").start().await
}

/// The buyer's verified identity (JSON to `Accept: application/json`).
async fn me(user: AuthenticatedUser, headers: axum::http::HeaderMap, locale: Locale) -> Response {
    if let Some(json) = support::user_json(&user, &headers) {
        return json;
    }
    let t = &locale.t().common;
    private_page(
        APP,
        &locale,
        locale.t().shop.me_title,
        &format!(
            "<dl class=\"account\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>",
            t.name,
            escape(user.name.as_deref().unwrap_or(t.unknown_name)),
            t.level_of_assurance,
            user.loa,
        ),
    )
}

/// Shows the approved statement. Extracting `Granted` reads the grant of
/// this flow (named by `bankid_flow` in the URL) and spends nothing.
async fn review(
    user: AuthenticatedUser,
    granted: Result<Granted<ApprovePayment>, AuthRejection>,
    OriginalUri(uri): OriginalUri,
    locale: Locale,
) -> Response {
    let granted = match approved_basket(granted, &locale) {
        Ok(granted) => granted,
        Err(page) => return *page,
    };
    let t = &locale.t().shop;
    let json = serde_json::to_string_pretty(granted.statement()).unwrap_or_default();
    // The form posts back to this URL, so the flow reference travels along.
    let action = uri.path_and_query().map_or("/paid", |pq| pq.as_str()).to_owned();
    let name = user.name.as_deref().unwrap_or(t.the_buyer);
    private_page(
        APP,
        &locale,
        t.approved_title,
        &format!(
            "<p class=\"notice ok\">{}</p>\
             <h2>{}</h2><pre>{}</pre>\
             <p class=\"muted\">permission_digest: <code>{}</code></p>\
             <form method=\"post\" action=\"{}\" class=\"actions\"><button class=\"button\">{}</button>\
             <a class=\"button secondary\" href=\"/\">{}</a></form>",
            fill(t.approved_by, &[("name", name), ("loa", &user.loa.to_string())]),
            t.statement_heading,
            escape(&json),
            escape(granted.digest()),
            escape(&action),
            t.confirm,
            t.back_to_shop,
        ),
    )
}

/// Executes the payment: redeems the approval first, so it pays once.
async fn execute(granted: Result<Granted<ApprovePayment>, AuthRejection>, locale: Locale) -> Response {
    let granted = match approved_basket(granted, &locale) {
        Ok(granted) => granted,
        Err(page) => return *page,
    };
    if let Err(err) = granted.redeem().await {
        return match err {
            Error::Permission(_) => used_approval(&err, &locale),
            other => other.into_response(),
        };
    }
    // ... hand the payment to the bank here, with `granted.id()` as idempotency key ...
    let (payment, t) = (granted.statement(), &locale.t().shop);
    let paid = [("amount", payment.amount.as_str()), ("currency", &payment.currency), ("creditor", &payment.creditor)];
    private_page(
        APP,
        &locale,
        t.sent_title,
        &format!(
            "<p class=\"notice ok\">{}</p>\
             <div class=\"actions\"><a class=\"button secondary\" href=\"/\">{}</a></div>",
            fill(t.paid, &paid),
            t.back_to_shop,
        ),
    )
}

/// The grant, if there is one and it approves exactly this basket; else the
/// shop's error page.
fn approved_basket(
    granted: Result<Granted<ApprovePayment>, AuthRejection>,
    locale: &Locale,
) -> Result<Granted<ApprovePayment>, Box<Response>> {
    let granted = granted.map_err(|rejection| Box::new(no_approval(rejection, locale)))?;
    if granted.require(&basket()).is_err() {
        let t = &locale.t().shop;
        return Err(Box::new(support::app_error(
            APP,
            locale,
            axum::http::StatusCode::CONFLICT,
            t.not_this_basket_title,
            t.not_this_basket,
            None,
        )));
    }
    Ok(granted)
}

/// No approval, or one already used (each pays once): the shop's page.
/// Anything else (a store failure) keeps the crate's answer.
fn no_approval(rejection: AuthRejection, locale: &Locale) -> Response {
    match rejection.error() {
        err @ Error::Permission(_) => used_approval(err, locale),
        _ => rejection.into_response(),
    }
}

fn used_approval(err: &Error, locale: &Locale) -> Response {
    let t = &locale.t().shop;
    support::app_error(APP, locale, err.status(), t.no_approval_title, t.no_approval, Some(err.kind()))
}
