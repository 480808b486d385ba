//! `POST /par`: Pushed Authorization Requests (RFC 9126), the only way
//! BankID accepts `authorization_details` (RFC 9396).
//!
//! The client pushes what it would otherwise put in the authorization URL,
//! authenticated like at the token endpoint, and gets a one-time
//! `request_uri` that the browser then brings to `/authorize`. Validation is
//! the same as for a plain authorization request; errors are JSON, as no
//! browser is involved yet.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;
use url::Url;

use super::authorize::validate;
use super::client_auth;
use super::permissions;
use super::wire::{OAuthError, Params, REQUEST_URI_PREFIX, no_store, respond_slowly};
use crate::state::{PushedRequest, REQUEST_URI_GRACE, REQUEST_URI_LIFETIME, Shared};

/// Parameters never recorded for [`Simulator::last_par_params`](crate::Simulator::last_par_params).
const SECRET_PARAMS: [&str; 2] = ["client_secret", "client_assertion"];

pub(super) async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    respond_slowly(&shared).await;
    match push(&shared, &headers, &body) {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(?error, "simulator: pushed authorization request rejected");
            error.into_response()
        }
    }
}

fn push(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let recorded =
        Params::parse(body).values.into_iter().filter(|(name, _)| !SECRET_PARAMS.contains(&name.as_str())).collect();
    shared.lock().last_par_params = Some(recorded);

    let params = client_auth::form_params(headers, body)?;
    client_auth::authenticate(shared, headers, &params)?;
    if params.values.contains_key("request_uri") {
        return Err(OAuthError::invalid_request("request_uri must not be pushed"));
    }
    let redirect_uri = registered_redirect_uri(shared, &params)?;
    let state = params.get("state").map(str::to_owned);
    let mut request = validate(&params, redirect_uri, state).map_err(|(error, why)| OAuthError::bad(error, why))?;
    request.permissions =
        permissions::requested(shared, &params, true).map_err(|(error, why)| OAuthError::bad(error, why))?;
    let pushed = PushedRequest {
        request,
        login_hint: params.get("login_hint").map(str::to_owned),
        acr_values: params.get("acr_values").map(str::to_owned),
        expires_at: Instant::now() + REQUEST_URI_LIFETIME,
        used: false,
    };
    let permissions = pushed.request.permissions.len();
    let handle = shared.lock().pushed.insert(pushed, REQUEST_URI_LIFETIME + REQUEST_URI_GRACE);
    tracing::debug!(permissions, "simulator: authorization request pushed");
    let body = json!({
        "request_uri": format!("{REQUEST_URI_PREFIX}{handle}"),
        "expires_in": REQUEST_URI_LIFETIME.as_secs(),
    });
    Ok(no_store((StatusCode::CREATED, Json(body)).into_response()))
}

/// The pushed `redirect_uri`, which must be registered for the client.
fn registered_redirect_uri(shared: &Shared, params: &Params) -> Result<String, OAuthError> {
    let redirect_uri = params.get("redirect_uri").ok_or(OAuthError::invalid_request("redirect_uri is missing"))?;
    if !shared.lock().redirect_uris.contains(redirect_uri) {
        return Err(OAuthError::invalid_request("the redirect_uri is not registered for this client"));
    }
    if Url::parse(redirect_uri).is_err() {
        return Err(OAuthError::invalid_request("the registered redirect_uri is not an absolute URL"));
    }
    Ok(redirect_uri.to_owned())
}
