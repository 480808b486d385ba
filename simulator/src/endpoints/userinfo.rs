//! `GET`/`POST /userinfo`: the logged-in user's claims for a Bearer access
//! token (OpenID Connect Core §5.3, RFC 6750 §2.1).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use super::wire::{authorization, no_store, respond_slowly};
use crate::id_token::profile_claims;
use crate::state::Shared;

pub(super) async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    respond_slowly(&shared).await;
    let Some(token) = authorization(&headers, "Bearer") else {
        // RFC 6750 §3.1: no error code when no credentials were sent.
        return unauthorized(r#"Bearer realm="bankid-simulator""#);
    };
    let grant = shared.lock().tokens.get_mut(token).cloned();
    let Some(grant) = grant else {
        tracing::debug!("simulator: userinfo with an unknown or expired access token");
        return unauthorized(r#"Bearer realm="bankid-simulator", error="invalid_token""#);
    };
    tracing::debug!(user = grant.user.id, "simulator: userinfo served");
    let mut claims = profile_claims(&grant.user, &grant.scope);
    claims.insert("sub".into(), json!(grant.user.sub));
    no_store(Json(Value::Object(claims)).into_response())
}

fn unauthorized(challenge: &'static str) -> Response {
    let mut response = StatusCode::UNAUTHORIZED.into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    response
}
