//! The Permission API of BankID with biometrics, as far as BankID documents
//! it: client-credentials tokens (`POST /token`), registering a permission
//! (`POST /permissions`), fetching it signed after the user approved it
//! (`GET /permissions/{id}/signed`) and asking whether a user can be reached
//! at all (`POST /user-exists`).
//!
//! BankID has not published the exact paths and field names; these are the
//! simulator's, and the relying-party side keeps them configurable.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Map, Value, json};

use super::{OAuthError, Params, authorization, no_store, oauth_error, respond_slowly};
use crate::simulator::faults::Fault;
use crate::simulator::id_token;
use crate::simulator::keys::SigningKey;
use crate::simulator::permission::{Permission, PermissionStatus, RegisteredPermission};
use crate::simulator::state::{ACCESS_TOKEN_LIFETIME_SECS, ClientGrant, PERMISSION_LIFETIME, Shared};
use crate::simulator::users;

/// The scopes a client-credentials token may carry.
const CLIENT_SCOPES: [&str; 3] = ["openid", "permissions/client", "permissions/ciba"];
/// The scope the Permission API requires.
const PERMISSIONS_SCOPE: &str = "permissions/client";

/// `grant_type=client_credentials`: an opaque Bearer token for the
/// Permission API. Every requested scope must be one of [`CLIENT_SCOPES`].
pub(super) fn client_credentials(shared: &Shared, params: &Params) -> Result<Map<String, Value>, OAuthError> {
    let requested = params.get("scope").ok_or(OAuthError::bad("invalid_scope", "scope is required"))?;
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split_ascii_whitespace() {
        if !CLIENT_SCOPES.contains(&scope) {
            return Err(OAuthError::bad(
                "invalid_scope",
                "allowed scopes: openid, permissions/client, permissions/ciba",
            ));
        }
        if !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    let scopes: BTreeSet<String> = granted.iter().map(|scope| (*scope).to_owned()).collect();
    let lifetime = std::time::Duration::from_secs(ACCESS_TOKEN_LIFETIME_SECS);
    let access_token = shared.lock().client_tokens.insert(ClientGrant { scopes }, lifetime);
    tracing::debug!(scope = %granted.join(" "), "simulator: client-credentials token issued");
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(ACCESS_TOKEN_LIFETIME_SECS));
    body.insert("scope".into(), json!(granted.join(" ")));
    Ok(body)
}

/// The permissions an authorization or backchannel request carries:
/// `authorization_details` (only where `rar_allowed`, i.e. not in a plain
/// authorization URL) or one registered `permission_id`, never both.
pub(super) fn requested(
    shared: &Shared,
    params: &Params,
    rar_allowed: bool,
) -> Result<Vec<Permission>, (&'static str, &'static str)> {
    match (params.get("authorization_details"), params.get("permission_id")) {
        (Some(_), Some(_)) => Err(("invalid_request", "use authorization_details or permission_id, not both")),
        (Some(_), None) if !rar_allowed => {
            Err(("invalid_request", "authorization_details is only accepted in a pushed authorization request"))
        }
        (Some(details), None) => crate::simulator::permission::parse_authorization_details(details)
            .map_err(|why| ("invalid_authorization_details", why)),
        (None, Some(id)) => {
            let registered = shared.lock().permissions.get_mut(id).map(|registered| registered.permission.clone());
            registered.map(|permission| vec![permission]).ok_or(("invalid_request", "unknown permission_id"))
        }
        (None, None) => Ok(Vec::new()),
    }
}

/// The body of `POST /permissions`.
fn parse_registration(body: &[u8]) -> Option<Permission> {
    let Value::Object(body) = serde_json::from_slice::<Value>(body).ok()? else {
        return None;
    };
    let kind = body.get("type")?.as_str()?;
    let encoded = body.get("permission")?.as_str()?;
    Permission::new(kind, encoded)
}

/// `POST /permissions`: registers a permission for a later login.
pub(super) async fn register(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    respond_slowly(&shared).await;
    if let Err(response) = check_client_token(&shared, &headers) {
        return *response;
    }
    let Some(mut permission) = parse_registration(&body) else {
        tracing::debug!("simulator: permission registration rejected");
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "expected {\"type\": <string>, \"permission\": <unpadded base64url>}",
        );
    };
    let digest = permission.digest.clone();
    let id = {
        let mut inner = shared.lock();
        let registered = RegisteredPermission { permission: permission.clone(), status: PermissionStatus::Pending };
        let id = inner.permissions.insert(registered, PERMISSION_LIFETIME);
        permission.permission_id = Some(id.clone());
        if let Some(registered) = inner.permissions.get_mut(&id) {
            registered.permission = permission;
        }
        id
    };
    tracing::debug!("simulator: permission registered");
    let body = json!({ "permission_id": id, "permission_digest": digest });
    no_store((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /permissions/{id}/signed`: the permission as a JWS once a user
/// approved it, else its status.
pub(super) async fn signed(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    respond_slowly(&shared).await;
    if let Err(response) = check_client_token(&shared, &headers) {
        return *response;
    }
    let (registered, rotated) = {
        let mut inner = shared.lock();
        let rotated = inner.faults.has(&Fault::RotatedKeys);
        (inner.permissions.get_mut(&id).cloned(), rotated)
    };
    let Some(registered) = registered else {
        return no_store((StatusCode::NOT_FOUND, Json(json!({ "error": "not_found" }))).into_response());
    };
    let (user, at) = match registered.status {
        PermissionStatus::Pending => return no_store(Json(json!({ "status": "pending" })).into_response()),
        PermissionStatus::Denied => return no_store(Json(json!({ "status": "denied" })).into_response()),
        PermissionStatus::Approved { user, at } => (user, at),
    };
    let permission = &registered.permission;
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(shared.issuer));
    claims.insert("aud".into(), json!(shared.client_id));
    claims.insert("sub".into(), json!(user.sub));
    claims.insert("iat".into(), json!(at));
    claims.insert("type".into(), json!(permission.kind));
    claims.insert("permission".into(), permission.detail.get("permission").cloned().unwrap_or_default());
    claims.insert("permission_digest".into(), json!(permission.digest));
    claims.insert("permission_id".into(), json!(id));
    // The key ID tokens are signed with now: sim-2 while keys are rotated.
    let key = if rotated { SigningKey::Rotated } else { SigningKey::Primary };
    match id_token::sign(&claims, key) {
        Ok(jws) => {
            tracing::debug!("simulator: signed permission served");
            no_store(Json(json!({ "status": "approved", "signed_permission": jws })).into_response())
        }
        Err(error) => {
            tracing::error!(%error, "simulator: signing a permission failed");
            OAuthError::Internal("the simulator could not sign the permission").into_response()
        }
    }
}

/// `POST /user-exists`: whether `login_hint` names a user who can be reached
/// by CIBA, i.e. has BankID with biometrics enabled.
pub(super) async fn user_exists(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    // Counted on arrival, so a call the client gave up on still counts.
    shared.user_exists_requests.fetch_add(1, Ordering::SeqCst);
    respond_slowly(&shared).await;
    if shared.lock().faults.has(&Fault::UserExistsError) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "simulated internal server error\n").into_response();
    }
    if let Err(response) = check_client_token(&shared, &headers) {
        return *response;
    }
    let login_hint = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|body| body.get("login_hint").and_then(Value::as_str).map(str::to_owned));
    let Some(login_hint) = login_hint else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "expected {\"login_hint\": <nnin>}");
    };
    let exists = users::find_by_nnin(&login_hint).is_some_and(|user| user.bib_enabled);
    tracing::debug!(exists, "simulator: user-exists answered");
    no_store(Json(json!({ "exists": exists })).into_response())
}

/// Requires a live client-credentials Bearer token with the
/// `permissions/client` scope; anything else is a `401`.
fn check_client_token(shared: &Shared, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let Some(token) = authorization(headers, "Bearer") else {
        return Err(unauthorized("invalid_token", "a Bearer token is required"));
    };
    let grant = shared.lock().client_tokens.get_mut(token).cloned();
    match grant {
        Some(grant) if grant.scopes.contains(PERMISSIONS_SCOPE) => Ok(()),
        Some(_) => Err(unauthorized("insufficient_scope", "the token lacks the permissions/client scope")),
        None => {
            tracing::debug!("simulator: Permission API call with an unknown or expired token");
            Err(unauthorized("invalid_token", "the access token is unknown or expired"))
        }
    }
}

/// `401` with an RFC 6750 §3 challenge and a JSON error body.
fn unauthorized(error: &'static str, description: &'static str) -> Box<Response> {
    let mut response = oauth_error(StatusCode::UNAUTHORIZED, error, description);
    let challenge = format!(r#"Bearer realm="bankid-simulator", error="{error}""#);
    if let Ok(challenge) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    }
    Box::new(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_need_a_type_and_a_decodable_statement() {
        let ok = parse_registration(br#"{"type":"payment.v1","permission":"eyJhIjoxfQ"}"#).expect("valid");
        assert_eq!(ok.kind, "payment.v1");
        for bad in [
            &br#"{"type":"payment.v1"}"#[..],
            br#"{"type":"","permission":"eyJhIjoxfQ"}"#,
            br#"{"type":"payment.v1","permission":"***"}"#,
            br#"[]"#,
            b"nope",
        ] {
            assert!(parse_registration(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
