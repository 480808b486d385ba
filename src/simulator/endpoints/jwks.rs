//! `GET /jwks`: the public keys relying parties verify ID tokens with.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::Json;
use jsonwebtoken::jwk::JwkSet;

use super::respond_slowly;
use crate::simulator::keys;
use crate::simulator::state::Shared;

pub(super) async fn handle(State(shared): State<Arc<Shared>>) -> Json<JwkSet> {
    // Counted on arrival, so a fetch the client gave up on still counts.
    let count = shared.jwks_requests.fetch_add(1, Ordering::SeqCst) + 1;
    respond_slowly(&shared).await;
    let rotated = shared.lock().rotated;
    tracing::debug!(count, rotated, "simulator: JWKS requested");
    Json(keys::published_jwks(rotated))
}
