//! `GET /healthz` at both issuers: `200 {"status":"ok"}` once the listener
//! serves, for a compose file's health check or a script waiting for the
//! simulator to come up. Not part of BankID's protocol, so not in discovery.

use axum::Json;
use serde_json::{Value, json};

/// `GET /healthz`.
pub(super) async fn handle() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
