//! CIBA at BIB, as BankID's CIBA example drives it: `POST {bib}/bc-authorize`
//! starts a request for a registered permission (CIBA Core §7); polls of
//! `POST {bib}/token` answer it (§10–11). Both take a Bearer
//! client-credentials token with `permissions/ciba`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Map, Value, json};

use super::bib::{PERMISSIONS_CIBA_SCOPE, check_access};
use super::client_auth;
use super::permissions::{self, TokenProblem};
use super::wire::{CIBA_GRANT_TYPE, OAuthError, Params, no_store, respond_slowly};
use crate::capture::Endpoint;
use crate::ciba::{CibaBehavior, CibaLogin, CibaRequest, CibaStatus, PollOutcome};
use crate::clock::unix_now;
use crate::faults::{Fault, Faults};
use crate::id_token::{self, IdTokenInput};
use crate::permission::RegisteredPermission;
use crate::state::{ACCESS_TOKEN_LIFETIME_SECS, AccessGrant, CIBA_GRACE, Shared};
use crate::users::TestUser;

pub(super) async fn initiate(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    // Counted on arrival, so a request the client gave up on still counts.
    shared.request_counts.add(Endpoint::BackchannelAuthentication);
    respond_slowly(&shared).await;
    match start(&shared, &headers, &body) {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(?error, "simulator: backchannel authentication request rejected");
            error.into_response()
        }
    }
}

fn start(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let params = client_auth::form_params(headers, body)?;
    check_access(shared, headers, Some(&params), PERMISSIONS_CIBA_SCOPE)?;
    let (login, expires_in) = validate(shared, &params)?;
    let behavior = shared.lock().ciba_behaviors.get(&login.user.id).copied().unwrap_or_default();
    if behavior == CibaBehavior::AppUninstalled {
        tracing::debug!(user = %login.user.id, "simulator: CIBA refused, the user's app is uninstalled");
        return Err(OAuthError::bad("app_unavailable", "the user has no BankID app that can receive the request"));
    }
    // Already whole seconds: the simulator enforces what it announces.
    let interval = shared.ciba_interval;
    let user = login.user.id.clone();
    let request = CibaRequest::new(login, behavior, expires_in, interval, Instant::now());
    let auth_req_id = shared.lock().ciba.insert(request, expires_in + CIBA_GRACE);
    tracing::debug!(%user, ?behavior, "simulator: CIBA request started");
    let body = json!({
        "auth_req_id": auth_req_id,
        "expires_in": expires_in.as_secs(),
        "interval": interval.as_secs(),
    });
    Ok(no_store(Json(body).into_response()))
}

/// Checks a backchannel authentication request (CIBA Core §7.1, §13) in
/// BankID's shape: exactly `login_hint_token` (a registered permission's
/// `permissionToken`), `scope` and `binding_message` (the registration's
/// `bindingMessage`). The `permissionToken` is used up only by a request
/// that passes every check.
fn validate(shared: &Shared, params: &Params) -> Result<(CibaLogin, Duration), OAuthError> {
    let (scope, token, binding_message) = check_shape(params)?;
    if shared.lock().faults.has(&Fault::BackchannelRefused) {
        return Err(OAuthError::bad("access_denied", "simulated refusal"));
    }
    let (id, registered) = permissions::find_permission_token(shared, token).map_err(token_error)?;
    let user = check_registration(shared, &registered, binding_message)?;
    let expires_in = registered.exp.saturating_sub(unix_now());
    if expires_in == 0 {
        return Err(token_error(TokenProblem::Expired));
    }
    permissions::mark_permission_token_used(shared, &id).map_err(token_error)?;
    let login = CibaLogin {
        login_hint: user.nnin.clone(),
        user,
        binding_message: Some(registered.binding_message),
        scope: scope.to_owned(),
        permissions: vec![registered.permission],
    };
    Ok((login, Duration::from_secs(expires_in)))
}

/// The request's shape: BankID's three parameters and no other, a scope
/// with `openid` and `permissions/ciba`. Answers `(scope, login_hint_token,
/// binding_message)`.
fn check_shape(params: &Params) -> Result<(&str, &str, &str), OAuthError> {
    check_parameter_names(params)?;
    let scope = params.get("scope").unwrap_or_default();
    let scopes: Vec<&str> = scope.split_ascii_whitespace().collect();
    if !scopes.contains(&"openid") || !scopes.contains(&PERMISSIONS_CIBA_SCOPE) {
        return Err(OAuthError::bad("invalid_scope", "scope must contain openid and permissions/ciba"));
    }
    let token = params.get("login_hint_token").ok_or(OAuthError::invalid_request(
        "login_hint_token is required: the permissionToken of a permission registered with intents [\"ciba\"]",
    ))?;
    let binding_message = params.get("binding_message").ok_or(OAuthError::invalid_request(
        "binding_message is required: the bindingMessage BankID returned at registration",
    ))?;
    Ok((scope, token, binding_message))
}

/// What the registration behind the `login_hint_token` must be: for CIBA,
/// with the binding message BankID made for it, for a user who has BankID
/// with biometrics — who is returned.
fn check_registration(
    shared: &Shared,
    registered: &RegisteredPermission,
    binding_message: &str,
) -> Result<Arc<TestUser>, OAuthError> {
    if !registered.intents.iter().any(|intent| intent == CIBA_INTENT) {
        return Err(OAuthError::invalid_request("the permission was not registered with intents [\"ciba\"]"));
    }
    if binding_message != registered.binding_message {
        return Err(OAuthError::bad(
            "invalid_binding_message",
            "binding_message must be the bindingMessage BankID returned when the permission was registered",
        ));
    }
    let nnin = registered
        .nnin
        .as_deref()
        .ok_or(OAuthError::invalid_request("the permission was registered without a loginHint"))?;
    shared
        .users
        .find_by_nnin(nnin)
        .filter(|user| user.bib_enabled)
        .cloned()
        .ok_or(OAuthError::bad("unknown_user_id", "no user with BankID with biometrics has this loginHint"))
}

/// The `intents` value that makes a registration usable for CIBA.
const CIBA_INTENT: &str = "ciba";
/// The parameters of BankID's backchannel request.
const BACKCHANNEL_PARAMS: [&str; 3] = ["login_hint_token", "scope", "binding_message"];

/// Only BankID's three parameters, each named when it is not one of them.
fn check_parameter_names(params: &Params) -> Result<(), OAuthError> {
    for hint in ["login_hint", "id_token_hint"] {
        if params.values.contains_key(hint) {
            return Err(OAuthError::invalid_request(format!(
                "{hint} is not accepted: BankID takes a registered permission's permissionToken as login_hint_token"
            )));
        }
    }
    match params.values.keys().find(|name| !BACKCHANNEL_PARAMS.contains(&name.as_str())) {
        Some(unknown) => Err(OAuthError::invalid_request(format!(
            "unknown parameter {unknown}; BankID's backchannel request has exactly login_hint_token, scope and \
             binding_message"
        ))),
        None => Ok(()),
    }
}

fn token_error(problem: TokenProblem) -> OAuthError {
    match problem {
        TokenProblem::Unknown => OAuthError::invalid_request("login_hint_token is not a known permissionToken"),
        TokenProblem::Used => OAuthError::invalid_request("login_hint_token was already used"),
        TokenProblem::Expired => {
            OAuthError::bad("expired_login_hint_token", "the registered permission behind login_hint_token has expired")
        }
    }
}

/// `POST {bib}/token`: CIBA polls only, Bearer-authorized, with exactly
/// `grant_type` and `auth_req_id`. The token-endpoint faults apply here as
/// at BankID OIDC's token endpoint.
pub(super) async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    super::token_answer::answer(&shared, |faults| {
        poll_request(&shared, &headers, &body, faults).map(|body| no_store(Json(Value::Object(body)).into_response()))
    })
    .await
}

fn poll_request(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    faults: &Faults,
) -> Result<Map<String, Value>, OAuthError> {
    let params = client_auth::form_params(headers, body)?;
    check_access(shared, headers, Some(&params), PERMISSIONS_CIBA_SCOPE)?;
    match params.get("grant_type") {
        Some(CIBA_GRANT_TYPE) => {}
        Some(_) => {
            return Err(OAuthError::bad("unsupported_grant_type", "BIB's token endpoint takes CIBA polls only"));
        }
        None => return Err(OAuthError::invalid_request("grant_type is missing")),
    }
    if let Some(unknown) = params.values.keys().find(|name| !["grant_type", "auth_req_id"].contains(&name.as_str())) {
        return Err(OAuthError::invalid_request(format!(
            "unknown parameter {unknown}; a CIBA poll has exactly grant_type and auth_req_id"
        )));
    }
    poll(shared, &params, faults)
}

/// `grant_type=urn:openid:params:grant-type:ciba`: one poll.
pub(super) fn poll(shared: &Shared, params: &Params, faults: &Faults) -> Result<Map<String, Value>, OAuthError> {
    let auth_req_id = params.get("auth_req_id").ok_or(OAuthError::invalid_request("auth_req_id is missing"))?;
    let outcome = {
        let mut guard = shared.lock();
        let inner = &mut *guard;
        let request =
            inner.ciba.get_mut(auth_req_id).ok_or(OAuthError::bad("invalid_grant", "the auth_req_id is unknown"))?;
        let now = Instant::now();
        let was_open = request.is_open(now);
        let outcome = request.poll(now, unix_now());
        // A behaviour may have decided the request just now.
        let user = Arc::clone(&request.login.user);
        let decided = match request.status(now) {
            CibaStatus::TokensIssued | CibaStatus::Approved if was_open => Some(Some(user)),
            CibaStatus::Denied if was_open => Some(None),
            _ => None,
        };
        if let Some(decision) = decided {
            let permissions = request.login.permissions.clone();
            inner.decide_permissions(&permissions, decision);
        }
        outcome
    };
    let approved = match outcome {
        PollOutcome::Approved(approved) => approved,
        PollOutcome::Pending => return Err(OAuthError::bad("authorization_pending", "the user has not answered yet")),
        PollOutcome::SlowDown => {
            return Err(OAuthError::bad("slow_down", "polling too fast; the interval grew by 5 seconds"));
        }
        PollOutcome::Denied => return Err(OAuthError::bad("access_denied", "the user denied the request")),
        PollOutcome::Expired => return Err(OAuthError::bad("expired_token", "the auth_req_id has expired")),
        PollOutcome::Failed => {
            return Err(OAuthError::bad("transaction_failed", "authentication failed on the user's device"));
        }
        PollOutcome::AlreadyIssued => {
            return Err(OAuthError::bad("invalid_grant", "tokens were already issued for this auth_req_id"));
        }
    };
    let input = IdTokenInput {
        issuer: &shared.bib_issuer,
        client_id: &shared.client_id,
        user: &approved.user,
        auth_time: approved.auth_time,
        sid: "",
        nonce: None,
        scope: &approved.scope,
        permissions: &approved.permissions,
        auth_req_id: Some(auth_req_id),
        step_up: None,
        alg: shared.signing_alg(),
    };
    let id_token = id_token::mint(&input, faults).map_err(|error| {
        tracing::error!(%error, "simulator: signing the CIBA ID token failed");
        OAuthError::Internal("the simulator could not sign the ID token")
    })?;
    let grant = AccessGrant { user: Arc::clone(&approved.user), scope: approved.scope.clone() };
    let access_token = shared.lock().tokens.insert(grant, Duration::from_secs(ACCESS_TOKEN_LIFETIME_SECS));
    tracing::debug!(user = %approved.user.id, "simulator: tokens issued for a CIBA request");
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(ACCESS_TOKEN_LIFETIME_SECS));
    body.insert("id_token".into(), json!(id_token));
    Ok(body)
}
