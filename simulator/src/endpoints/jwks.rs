//! `GET /jwks`: the public keys relying parties verify ID tokens with.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};

use super::wire::respond_slowly;
use crate::capture::Endpoint;
use crate::faults::Fault;
use crate::keys::{self, Publication};
use crate::state::Shared;

pub(super) async fn handle(State(shared): State<Arc<Shared>>) -> Response {
    // Counted on arrival, so a fetch the client gave up on still counts.
    let count = shared.request_counts.add(Endpoint::Jwks);
    respond_slowly(&shared).await;
    // The guard is a temporary, dropped before the `.await`.
    let jwks_delay = shared.lock().faults.jwks_delay();
    if let Some(delay) = jwks_delay {
        tokio::time::sleep(delay).await;
    }
    let (jwks, cache_control) = {
        let inner = shared.lock();
        if inner.faults.has(&Fault::JwksUnavailable) {
            return (StatusCode::SERVICE_UNAVAILABLE, "simulated JWKS outage\n").into_response();
        }
        let publication = Publication { alg: shared.signing_alg(), chain: inner.faults.chain() };
        let jwks = match &inner.published_keys {
            Some(published) => keys::jwks_of(publication, published),
            None => keys::published_jwks(publication, inner.rotated),
        };
        (jwks, inner.jwks_cache_control.clone())
    };
    tracing::debug!(count, keys = jwks.keys.len(), "simulator: JWKS requested");
    let mut response = Json(jwks).into_response();
    if let Some(value) = cache_control.and_then(|v| HeaderValue::from_str(&v).ok()) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}
