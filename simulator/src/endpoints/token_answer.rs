//! What both token endpoints (BankID OIDC's `/token` and BIB's CIBA
//! `/token`) share, so that neither endpoint module imports the other.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::wire::{OAuthError, respond_slowly};
use crate::capture::Endpoint;
use crate::faults::{Fault, Faults};
use crate::state::Shared;

/// What both token endpoints (BankID OIDC's and BIB's) do around their own
/// work: count the request, apply the slow and token-endpoint faults, render
/// a rejection, and hold the answer back under `Fault::SlowTokenAnswer`.
pub(crate) async fn answer(shared: &Shared, work: impl FnOnce(&Faults) -> Result<Response, OAuthError>) -> Response {
    shared.request_counts.add(Endpoint::Token);
    respond_slowly(shared).await;
    let faults = shared.lock().faults.clone();
    if faults.has(&Fault::TokenEndpointServerError) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "simulated internal server error\n").into_response();
    }
    if faults.has(&Fault::TokenEndpointError) {
        return OAuthError::bad("invalid_grant", "simulated failure").into_response();
    }
    let response = work(&faults).unwrap_or_else(|error| {
        tracing::debug!(?error, "simulator: token request rejected");
        error.into_response()
    });
    if let Some(delay) = faults.answer_delay() {
        tokio::time::sleep(delay).await;
    }
    response
}
