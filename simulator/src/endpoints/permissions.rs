//! BankID's Permission API, at BIB: registering a permission
//! (`POST {bib}/permissions/`), asking whether a user has BankID with
//! biometrics (`POST {bib}/permissions/user-exists`) and fetching the grant,
//! the signed permission, once the user approved it
//! (`GET {bib}/permissions/{id}/grant`) — plus the client-credentials grant
//! at BankID OIDC's token endpoint whose tokens all BIB calls carry.
//!
//! Shapes from BankID's CIBA example. Error bodies and status codes are not
//! published; the simulator's are RFC 6749 §5.2 style JSON.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Map, Value, json};

use super::bib::{PERMISSIONS_CLIENT_SCOPE, PERMISSIONS_TEXT_SCOPE, check_access};
use super::wire::{OAuthError, Params, no_store, respond_slowly};
use crate::capture::Endpoint;
use crate::clock::unix_now;
use crate::faults::{Fault, Faults};
use crate::id_token;
use crate::keys::SigningKey;
use crate::permission::{Permission, PermissionStatus, RegisteredPermission};
use crate::registration;
use crate::state::{ClientGrant, PERMISSION_LIFETIME, Shared, random_token};

/// The scopes a client-credentials token may carry.
const CLIENT_SCOPES: [&str; 4] = ["openid", "permissions/client", "permissions/ciba", PERMISSIONS_TEXT_SCOPE];
/// Permission types whose registration needs a product scope of its own
/// (BankID: `text.v1` needs `permissions/text`).
const TYPE_SCOPES: [(&str, &str); 1] = [("text.v1", PERMISSIONS_TEXT_SCOPE)];
/// The permission type of a plain login, which yields no grant.
const AUTHENTICATION_TYPE: &str = "authentication.v1";

/// `grant_type=client_credentials` at BankID OIDC: an opaque Bearer token
/// for BIB. Every requested scope must be one of [`CLIENT_SCOPES`].
pub(super) fn client_credentials(shared: &Shared, params: &Params) -> Result<Map<String, Value>, OAuthError> {
    let requested = params.get("scope").ok_or(OAuthError::bad("invalid_scope", "scope is required"))?;
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split_ascii_whitespace() {
        if !CLIENT_SCOPES.contains(&scope) {
            return Err(OAuthError::bad(
                "invalid_scope",
                format!("unknown scope {scope}; allowed: {}", CLIENT_SCOPES.join(", ")),
            ));
        }
        if !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    let scopes: BTreeSet<String> = granted.iter().map(|scope| (*scope).to_owned()).collect();
    let grant = ClientGrant { client_id: shared.client_id.clone(), scopes };
    let lifetime = shared.client_token_lifetime;
    let access_token = shared.lock().client_tokens.insert(grant, lifetime);
    tracing::debug!(scope = %granted.join(" "), "simulator: client-credentials token issued");
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(lifetime.as_secs()));
    body.insert("scope".into(), json!(granted.join(" ")));
    Ok(body)
}

/// The permissions an authorization request or PAR body carries:
/// `authorization_details` (only where `rar_allowed`, i.e. in PAR) or one
/// registered permission's `permission_token`, never both.
///
/// `permission_token` is the simulator's GUESS: BankID has not published
/// how a registered permission is attached to a code flow.
pub(super) fn requested(
    shared: &Shared,
    params: &Params,
    rar_allowed: bool,
) -> Result<Vec<Permission>, (&'static str, &'static str)> {
    if params.values.contains_key("permission_id") {
        return Err((
            "invalid_request",
            "permission_id is not accepted; attach a registered permission with permission_token",
        ));
    }
    match (params.get("authorization_details"), params.get("permission_token")) {
        (Some(_), Some(_)) => Err(("invalid_request", "use authorization_details or permission_token, not both")),
        (Some(_), None) if !rar_allowed => {
            Err(("invalid_request", "authorization_details is only accepted in a pushed authorization request"))
        }
        (Some(details), None) => crate::permission::parse_authorization_details(details)
            .map_err(|why| ("invalid_authorization_details", why)),
        (None, Some(token)) => {
            let registered =
                use_permission_token(shared, token).map_err(|problem| ("invalid_request", problem.describe()))?;
            Ok(vec![registered.permission])
        }
        (None, None) => Ok(Vec::new()),
    }
}

/// Why a `permissionToken` cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenProblem {
    Unknown,
    Used,
    Expired,
}

impl TokenProblem {
    fn describe(self) -> &'static str {
        match self {
            TokenProblem::Unknown => "permission_token is not a known permissionToken",
            TokenProblem::Used => "permission_token was already used",
            TokenProblem::Expired => "the registered permission behind permission_token has expired",
        }
    }
}

/// The registration behind a `permissionToken` and its `id`, if the token
/// is still usable: not used, before the registration's `exp`. Does not use
/// it up; [`mark_permission_token_used`] does.
pub(super) fn find_permission_token(
    shared: &Shared,
    token: &str,
) -> Result<(String, RegisteredPermission), TokenProblem> {
    let mut guard = shared.lock();
    let inner = &mut *guard;
    let id = inner.permission_tokens.get_mut(token).cloned().ok_or(TokenProblem::Unknown)?;
    let registered = inner.permissions.get_mut(&id).ok_or(TokenProblem::Unknown)?;
    if registered.used {
        return Err(TokenProblem::Used);
    }
    if registered.exp <= unix_now() {
        return Err(TokenProblem::Expired);
    }
    Ok((id, registered.clone()))
}

/// Uses up the `permissionToken` of registration `id`: it is good for one
/// login or CIBA request. Fails if a concurrent request was first.
pub(super) fn mark_permission_token_used(shared: &Shared, id: &str) -> Result<(), TokenProblem> {
    let mut inner = shared.lock();
    let registered = inner.permissions.get_mut(id).ok_or(TokenProblem::Unknown)?;
    if std::mem::replace(&mut registered.used, true) { Err(TokenProblem::Used) } else { Ok(()) }
}

/// [`find_permission_token`] and [`mark_permission_token_used`] at once.
fn use_permission_token(shared: &Shared, token: &str) -> Result<RegisteredPermission, TokenProblem> {
    let (id, registered) = find_permission_token(shared, token)?;
    mark_permission_token_used(shared, &id)?;
    Ok(registered)
}

/// `POST {bib}/permissions/`: registers a permission; answers `id`,
/// `permissionToken` and the `bindingMessage` the simulator made.
pub(super) async fn register(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    respond_slowly(&shared).await;
    match try_register(&shared, &headers, &body) {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(?error, "simulator: permission registration rejected");
            error.into_response()
        }
    }
}

fn try_register(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    check_access(shared, headers, None, PERMISSIONS_CLIENT_SCOPE)?;
    if shared.lock().faults.has(&Fault::RegisterRefused) {
        return Err(OAuthError::invalid_request("simulated refusal"));
    }
    let now = unix_now();
    let registration = registration::parse(body, now).map_err(OAuthError::invalid_request)?;
    if let Some((_, scope)) = TYPE_SCOPES.iter().find(|(kind, _)| *kind == registration.permission.kind) {
        check_access(shared, headers, None, scope)?;
    }
    let binding_message = registration::binding_message();
    // Kept a while past `exp`, so a late grant request still finds it.
    let lifetime = Duration::from_secs(registration.exp.saturating_sub(now)) + PERMISSION_LIFETIME;
    let (id, permission_token) = {
        let mut inner = shared.lock();
        let id = random_token();
        let mut permission = registration.permission;
        permission.permission_id = Some(id.clone());
        let registered = RegisteredPermission {
            permission,
            status: PermissionStatus::Pending,
            exp: registration.exp,
            intents: registration.intents,
            nnin: registration.nnin,
            binding_message: binding_message.clone(),
            used: false,
        };
        inner.permissions.insert_as(id.clone(), registered, lifetime);
        let permission_token = inner.permission_tokens.insert(id.clone(), lifetime);
        (id, permission_token)
    };
    tracing::debug!("simulator: permission registered");
    let body = json!({ "id": id, "permissionToken": permission_token, "bindingMessage": binding_message });
    Ok(no_store(Json(body).into_response()))
}

/// `POST {bib}/permissions/user-exists`: whether the `loginHint` names a
/// user with BankID with biometrics ([`TestUser::bib_enabled`](crate::users::TestUser::bib_enabled)).
pub(super) async fn user_exists(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    // Counted on arrival, so a call the client gave up on still counts.
    shared.request_counts.add(Endpoint::UserExists);
    respond_slowly(&shared).await;
    let faults = shared.lock().faults.clone();
    if faults.has(&Fault::UserExistsError) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "simulated internal server error\n").into_response();
    }
    let answer = check_access(&shared, &headers, None, PERMISSIONS_CLIENT_SCOPE)
        .and_then(|()| registration::parse_user_exists(&body).map_err(OAuthError::invalid_request));
    match answer {
        Ok(nnin) => {
            let exists = !faults.has(&Fault::UserExistsFalse)
                && shared.users.find_by_nnin(&nnin).is_some_and(|user| user.bib_enabled);
            tracing::debug!(exists, "simulator: user-exists answered");
            no_store(Json(json!({ "exists": exists })).into_response())
        }
        Err(error) => {
            tracing::debug!(?error, "simulator: user-exists rejected");
            error.into_response()
        }
    }
}

/// `GET {bib}/permissions/{id}/grant`: the grant as a compact JWS in a
/// `text/plain` body once the user approved; `404` before that (or for an
/// unknown id), `403 access_denied` after a refusal.
pub(super) async fn grant(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    respond_slowly(&shared).await;
    match try_grant(&shared, &id, &headers) {
        Ok(jws) => {
            tracing::debug!("simulator: grant served");
            let mut response = no_store(jws.into_response());
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
            response
        }
        Err(error) => {
            tracing::debug!(?error, "simulator: grant request answered with an error");
            error.into_response()
        }
    }
}

fn try_grant(shared: &Shared, id: &str, headers: &HeaderMap) -> Result<String, OAuthError> {
    check_access(shared, headers, None, PERMISSIONS_CLIENT_SCOPE)?;
    let not_found = |why: &'static str| OAuthError::status(StatusCode::NOT_FOUND, "not_found", why);
    let (registered, faults) = {
        let mut inner = shared.lock();
        if inner.grants_not_ready > 0 {
            inner.grants_not_ready = inner.grants_not_ready.saturating_sub(1);
            return Err(not_found("the grant is not ready yet"));
        }
        (inner.permissions.get_mut(id).cloned(), inner.faults.clone())
    };
    let registered = registered.ok_or_else(|| not_found("no permission is registered with this id"))?;
    let (user, at) = match &registered.status {
        PermissionStatus::Pending => return Err(not_found("the user has not approved the permission yet")),
        PermissionStatus::Denied => {
            return Err(OAuthError::status(StatusCode::FORBIDDEN, "access_denied", "the user refused the permission"));
        }
        PermissionStatus::Approved { user, at } => (Arc::clone(user), *at),
    };
    if registered.permission.kind == AUTHENTICATION_TYPE {
        return Err(not_found("an authentication.v1 permission yields no grant"));
    }
    let claims = grant_claims(shared, id, &registered, &user, at);
    let (key, kid) = grant_signing_key(&faults);
    id_token::sign_as(&claims, key, kid, shared.signing_alg()).map_err(|error| {
        tracing::error!(%error, "simulator: signing a grant failed");
        OAuthError::Internal("the simulator could not sign the grant")
    })
}

/// The key a grant is signed with and the `kid` its header names: the
/// grant key, unless a fault swaps in BIB's ID-token key.
fn grant_signing_key(faults: &Faults) -> (SigningKey, &'static str) {
    if faults.has(&Fault::GrantSignedWithIdTokenKey) {
        (SigningKey::BibIdToken, SigningKey::BibIdToken.kid())
    } else if faults.has(&Fault::GrantWrongKey) {
        (SigningKey::BibIdToken, SigningKey::BibGrant.kid())
    } else {
        (SigningKey::BibGrant, SigningKey::BibGrant.kid())
    }
}

/// The grant's claims. BankID has not published them: the names are a
/// GUESS after BankAxept's analogous grant (`type`, `iat`, `iss`, `nonce`,
/// `sub`, `permissionId`, `digest`), plus `exp` = the registration's `exp`.
/// No `aud`: BankID's example does not check one.
fn grant_claims(
    shared: &Shared,
    id: &str,
    registered: &RegisteredPermission,
    user: &crate::users::TestUser,
    approved_at: u64,
) -> Map<String, Value> {
    let permission = &registered.permission;
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(shared.bib_issuer));
    claims.insert("sub".into(), json!(user.bib_sub()));
    claims.insert("iat".into(), json!(approved_at));
    claims.insert("exp".into(), json!(registered.exp));
    claims.insert("nonce".into(), json!(random_token()));
    claims.insert("type".into(), json!(permission.kind));
    claims.insert("permissionId".into(), json!(id));
    claims.insert("digest".into(), json!(permission.digest));
    claims
}
