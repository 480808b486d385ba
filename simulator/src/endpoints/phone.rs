//! The simulated BankID app: `GET /phone?login_hint=<nnin>` lists the user's
//! pending CIBA requests, `POST /phone/decide` approves or denies one. Plain
//! forms without JavaScript, like the login page.

use std::sync::Arc;
use std::time::Instant;

use axum::Form;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::pages::{self, PhoneRequest};
use crate::state::Shared;

/// `GET /phone` parameters.
#[derive(Debug, Deserialize)]
pub(super) struct PhoneQuery {
    login_hint: Option<String>,
}

pub(super) async fn show(State(shared): State<Arc<Shared>>, Query(query): Query<PhoneQuery>) -> Response {
    let Some(user) = query.login_hint.as_deref().and_then(|nnin| shared.users.find_by_nnin(nnin)) else {
        return pages::not_found("No test user has this national identity number.");
    };
    let now = Instant::now();
    let inner = shared.lock();
    let mut open: Vec<_> =
        inner.ciba.iter().filter(|(_, request)| request.login.user.id == user.id && request.is_open(now)).collect();
    open.sort_by_key(|(_, request)| request.created);
    let requests: Vec<PhoneRequest<'_>> = open
        .iter()
        .map(|(id, request)| PhoneRequest {
            auth_req_id: id,
            binding_message: request.login.binding_message.as_deref(),
            permissions: &request.login.permissions,
        })
        .collect();
    tracing::debug!(user = %user.id, pending = requests.len(), "simulator: phone page shown");
    pages::phone(&shared.client_id, user, &requests)
}

/// The phone's form as posted back.
#[derive(Debug, Deserialize)]
pub(super) struct PhoneDecision {
    auth_req_id: Option<String>,
    decision: Option<String>,
}

pub(super) async fn decide(State(shared): State<Arc<Shared>>, Form(form): Form<PhoneDecision>) -> Response {
    let approve = match form.decision.as_deref() {
        Some("approve") => true,
        Some("deny") => false,
        _ => return pages::bad_request("Choose to approve or to deny."),
    };
    let decided = form.auth_req_id.as_deref().is_some_and(|id| shared.lock().decide_ciba(id, approve));
    if decided {
        pages::phone_decided(approve)
    } else {
        pages::bad_request("This request is unknown, expired or already answered.")
    }
}
