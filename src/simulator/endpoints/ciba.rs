//! `POST /bc-authorize` starts a CIBA request (CIBA Core §7); polls of
//! `POST /token` with the CIBA grant type answer it (§10–11).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Map, Value, json};

use super::token::issue_login_tokens;
use super::{OAuthError, Params, client_auth, no_store, permissions, respond_slowly};
use crate::simulator::ciba::{
    self, CibaBehavior, CibaLogin, CibaRequest, CibaStatus, DEFAULT_EXPIRY_SECS, PollOutcome,
};
use crate::simulator::faults::Faults;
use crate::simulator::id_token::{IdTokenInput, unix_now};
use crate::simulator::state::{CIBA_GRACE, Shared, random_token};
use crate::simulator::users;

pub(super) async fn initiate(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    // Counted on arrival, so a request the client gave up on still counts.
    shared.backchannel_requests.fetch_add(1, Ordering::SeqCst);
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
    client_auth::authenticate(shared, headers, &params)?;
    let (login, expires_in) = validate(shared, &params)?;
    let behavior = shared.lock().ciba_behaviors.get(login.user.id).copied().unwrap_or_default();
    if behavior == CibaBehavior::AppUninstalled {
        tracing::debug!(user = login.user.id, "simulator: CIBA refused, the user's app is uninstalled");
        return Err(OAuthError::bad("app_unavailable", "the user has no BankID app that can receive the request"));
    }
    // Already whole seconds: the simulator enforces what it announces.
    let interval = shared.ciba_interval;
    let user = login.user.id;
    let request = CibaRequest::new(login, behavior, expires_in, interval, Instant::now());
    let auth_req_id = shared.lock().ciba.insert(request, expires_in + CIBA_GRACE);
    tracing::debug!(user, ?behavior, "simulator: CIBA request started");
    let body = json!({
        "auth_req_id": auth_req_id,
        "expires_in": expires_in.as_secs(),
        "interval": interval.as_secs(),
    });
    Ok(no_store(Json(body).into_response()))
}

/// Checks a backchannel authentication request (CIBA Core §7.1, §13).
fn validate(shared: &Shared, params: &Params) -> Result<(CibaLogin, Duration), OAuthError> {
    let scope = params.get("scope").unwrap_or_default();
    if !scope.split_ascii_whitespace().any(|s| s == "openid") {
        return Err(OAuthError::bad("invalid_scope", "scope must contain openid"));
    }
    let hints = ["login_hint", "login_hint_token", "id_token_hint"];
    if hints.iter().filter(|hint| params.get(hint).is_some()).count() != 1 {
        return Err(OAuthError::invalid_request(
            "exactly one of login_hint, login_hint_token and id_token_hint is required",
        ));
    }
    let Some(login_hint) = params.get("login_hint") else {
        return Err(OAuthError::invalid_request(
            "login_hint_token and id_token_hint are not supported by the simulator",
        ));
    };
    let user = users::find_by_nnin(login_hint)
        .filter(|user| user.bib_enabled)
        .ok_or(OAuthError::bad("unknown_user_id", "no user with BankID with biometrics has this login_hint"))?;
    let binding_message = params.get("binding_message");
    if binding_message.is_some_and(|message| !ciba::is_valid_binding_message(message)) {
        return Err(OAuthError::bad(
            "invalid_binding_message",
            "at most 20 characters of letters, digits, space and .,:+-",
        ));
    }
    let expires_in = match params.get("requested_expiry") {
        Some(value) => ciba::parse_requested_expiry(value)
            .ok_or(OAuthError::invalid_request("requested_expiry must be an integer from 1 to 600"))?,
        None => DEFAULT_EXPIRY_SECS,
    };
    let permissions =
        permissions::requested(shared, params, true).map_err(|(error, why)| OAuthError::bad(error, why))?;
    let login = CibaLogin {
        user,
        login_hint: login_hint.to_owned(),
        binding_message: binding_message.map(str::to_owned),
        scope: scope.to_owned(),
        permissions,
    };
    Ok((login, Duration::from_secs(expires_in)))
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
        let user = request.login.user;
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
    let sid = random_token();
    let input = IdTokenInput {
        issuer: &shared.issuer,
        client_id: &shared.client_id,
        user: approved.user,
        auth_time: approved.auth_time,
        sid: &sid,
        nonce: None,
        scope: &approved.scope,
        permissions: &approved.permissions,
        auth_req_id: Some(auth_req_id),
    };
    let body = issue_login_tokens(shared, &input, faults, None)?;
    tracing::debug!(user = approved.user.id, "simulator: tokens issued for a CIBA request");
    Ok(body)
}
