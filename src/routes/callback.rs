//! `GET <redirect_uri path>`: the provider's answer. Checks it in the order
//! that stops an attacker earliest, exchanges the code, verifies the ID token
//! and the LOA policy, asks the app's login hook, and only then logs the
//! user in. Each outcome is a login event ([`crate::events`]).
//!
//! Every failure ends on an error page (never a new login, which could loop)
//! and leaves the session as it was. The login attempt is spent by the
//! first callback that names it, successful or not, 5xx included (see
//! [`crate::records::attempt`]); a repeat of a completed one in the session it
//! logged in lands where it went (see [`crate::login::repeated_callback`]).
//!
//! Each step is a function of its own, in the order [`complete`] runs them;
//! what follows the ID token's signature check is the path every login
//! shares ([`crate::login::complete`]).

use std::collections::HashMap;

use axum::extract::{RawQuery, Request, State};
use axum::response::Response;
use serde_json::Value;

use crate::clock::unix_now;
use crate::error::{EndpointError, Error};
use crate::events::{self, LoginEvent, LoginFlow};
use crate::http::{redirect, session_of, with_cookies};
use crate::loa::AcrIssuer;
use crate::log_value::{untrusted, untrusted_text};
use crate::login::complete::{self, CheckedLogin, Policy, VerifiedLogin};
use crate::login::repeated_callback;
use crate::login_hook;
use crate::metrics::Flow;
use crate::permission::api::GrantExpectation;
use crate::permission::grants;
use crate::permission::grants::StoredGrant;
use crate::permission::statement::{PermissionItem, Transport};
use crate::provider::token::{TokenResponse, request_tokens};
use crate::records::attempt;
use crate::session::PendingLogin;
use crate::state::LayerState;

/// The authorization response parameters we look at.
#[derive(Default)]
pub(crate) struct CallbackParams {
    pub(crate) code: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
    pub(crate) iss: Option<String>,
}

pub(crate) async fn finish_login(State(ctx): State<LayerState>, RawQuery(query): RawQuery, req: Request) -> Response {
    let params = parse_params(query.as_deref().unwrap_or_default());
    // The attempt cookie goes whatever the outcome: the attempt is spent.
    let spent_cookie = params
        .as_ref()
        .ok()
        .and_then(|p| p.state.as_deref())
        .and_then(|state| attempt::clear_cookie(ctx.core.config(), req.headers(), state));
    let mut flow = None;
    let result = match params {
        Ok(params) => complete(&ctx, params, req.headers(), req.extensions(), &mut flow).await,
        Err(err) => Err(err),
    };
    crate::metrics::login_failed(Flow::Code, result.as_ref().err().map(Error::kind));
    let response = match result {
        Ok(landing) => {
            let marker = crate::records::binding::landed(ctx.core.config());
            with_cookies(redirect(&landing.location), landing.cookies.into_iter().chain(marker))
        }
        Err(err) => {
            events::emit(ctx.events.as_ref(), LoginEvent::LoginFailed { flow, kind: err.kind() });
            ctx.error_response(&err, req.headers())
        }
    };
    with_cookies(response, spent_cookie)
}

/// Where a completed login sends the browser, and the cookies binding its
/// grants (if any) to the browser.
struct Landing {
    location: String,
    cookies: Vec<http::HeaderValue>,
}

/// Parses the query, refusing repeated parameters: which copy a server
/// reads differs between implementations, a classic parameter-pollution trick.
pub(crate) fn parse_params(query: &str) -> Result<CallbackParams, Error> {
    let mut seen: HashMap<String, String> = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if seen.insert(key.into_owned(), value.into_owned()).is_some() {
            return Err(Error::MalformedCallback);
        }
    }
    let mut take = |name: &str| seen.remove(name).filter(|v| !v.is_empty());
    Ok(CallbackParams {
        code: take("code"),
        state: take("state"),
        error: take("error"),
        error_description: take("error_description"),
        iss: take("iss"),
    })
}

#[tracing::instrument(name = "bankid.callback", skip_all, err(Display))]
async fn complete(
    ctx: &LayerState,
    params: CallbackParams,
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
    flow: &mut Option<LoginFlow>,
) -> Result<Landing, Error> {
    let session = session_of(extensions)?;
    let pending = match spend_attempt(ctx, headers, &params).await {
        // Spent or never this browser's: unless it is this session's own
        // completed login repeated (see [`repeated_callback`]), refused as it is.
        Err(refused @ (Error::UnknownState | Error::NoLoginCookie)) => {
            let state = params.state.as_deref().unwrap_or_default();
            let landing =
                repeated_callback::landing_of_repeat(&ctx.live_logins(), &session, state).await?.ok_or(refused)?;
            return Ok(Landing { location: landing, cookies: Vec::new() });
        }
        other => other?,
    };
    let login_flow = flow_of(&pending);
    *flow = Some(login_flow);
    check_response_issuer(ctx, params.iss.as_deref())?;
    if let Some(error) = params.error.as_deref() {
        return Err(provider_error(error, params.error_description.as_deref()));
    }
    let code = params.code.as_deref().ok_or(Error::MissingCode)?;

    let tokens = exchange_code(ctx, code, &pending).await?;
    let id_token = tokens.id_token.ok_or(EndpointError::MissingIdToken)?;
    let verified = ctx.core.verifier.verify(&id_token, Some(&pending.nonce)).await?;
    let config = ctx.core.config();
    let policy = Policy {
        minimum_loa: config.minimum_loa,
        acr_issuer: AcrIssuer::BankIdOidc,
        expected_subject: pending.expected_subject.as_ref(),
    };
    crate::step_up::policy::check_completed(
        &pending,
        verified.claims(),
        unix_now(),
        config.clock_skew.as_secs() as i64,
    )?;
    let checked = complete::check(verified, id_token, &policy)?;
    let grants = verify_permissions(ctx, &pending, &checked, tokens.authorization_details.as_ref()).await?;
    tracing::info!(loa = checked.loa().get(), grants = grants.len(), "BankID login verified");
    let login = checked.into_login();
    let data = ask_hook(ctx, login_flow, &login, &grants).await?;
    // The grants' record first: a store failure there must fail the login
    // before the session is touched, so the session keeps the login it had.
    let mut cookies = keep_grants(ctx, headers, &pending, &grants).await?;
    let lifetime = config.max_login_age.as_secs() as i64;
    let via = complete::Via::Callback { lifetime_secs: lifetime };
    let user = complete::establish(&session, login, via, data).await?;
    crate::metrics::login_succeeded(Flow::Code, pending.asked_loa.is_some() || pending.max_age.is_some());
    crate::metrics::permissions_granted(Flow::Code, grants.len());
    let succeeded = LoginEvent::LoginSucceeded { flow: login_flow, loa: user.loa, sub: user.sub.clone() };
    events::emit(ctx.events.as_ref(), succeeded);
    cookies.extend(end_ciba_ownerships(ctx, headers).await);
    let location = landing(&pending, !grants.is_empty());
    let attempt_ends = pending.started_at + config.login_attempt_ttl.as_secs() as i64;
    repeated_callback::remember(&session, &pending.state, &location, attempt_ends).await;
    Ok(Landing { location, cookies })
}

/// A code-flow login ends the CIBA requests this browser was waiting for,
/// as logout does: a late approval must not replace the login just made. A
/// store failure here is logged, not the login's failure: the login stands,
/// and the requests' own lifetimes bound what is left.
async fn end_ciba_ownerships(ctx: &LayerState, headers: &http::HeaderMap) -> Vec<http::HeaderValue> {
    crate::ciba::owner::end_all(&ctx.ciba_owners(), headers, None, None).await.unwrap_or_else(|err| {
        tracing::warn!(error = %err, "could not end this browser's CIBA requests after a code-flow login");
        Vec::new()
    })
}

/// The app's login hook on this login (see [`login_hook`]), shown its
/// signed grants: the data to keep with it, or why it fails. It runs after
/// every check and before anything is written (grants record, session).
async fn ask_hook(
    ctx: &LayerState,
    flow: LoginFlow,
    login: &VerifiedLogin,
    grants: &[StoredGrant],
) -> Result<Option<Value>, Error> {
    let signed_grants = grants.iter().filter_map(|grant| grant.signed_permission.clone()).collect();
    login_hook::decide(ctx.on_login.as_ref(), login.hook_context(flow, signed_grants)).await
}

/// Which way this attempt logs in: with permissions, as a step-up (it
/// asked for a level or a `max_age`), or plainly.
fn flow_of(pending: &PendingLogin) -> LoginFlow {
    if !pending.permissions.is_empty() {
        LoginFlow::Permission
    } else if pending.asked_loa.is_some() || pending.max_age.is_some() {
        LoginFlow::StepUp
    } else {
        LoginFlow::CodeFlow
    }
}

/// Spends the attempt this callback names, then checks its age. Spending
/// comes first so that a replay fails whatever happened to the first try.
async fn spend_attempt(
    ctx: &LayerState,
    headers: &http::HeaderMap,
    params: &CallbackParams,
) -> Result<PendingLogin, Error> {
    let state = params.state.as_deref().ok_or(Error::MissingState)?;
    let pending: PendingLogin = ctx.attempts().spend(headers, state).await?;
    if unix_now() - pending.started_at > ctx.core.config().login_attempt_ttl.as_secs() as i64 {
        return Err(Error::LoginExpired);
    }
    Ok(pending)
}

/// Stores this flow's grants outside the session (see [`grants`]).
async fn keep_grants(
    ctx: &LayerState,
    headers: &http::HeaderMap,
    pending: &PendingLogin,
    granted: &[StoredGrant],
) -> Result<Vec<http::HeaderValue>, Error> {
    if granted.is_empty() {
        return Ok(Vec::new());
    }
    grants::keep(&crate::state::records(ctx), &ctx.core, headers, &pending.flow, granted).await
}

/// The return path; with grants, it names this login's flow
/// (`bankid_flow=...`) so that [`Granted`](crate::permission::Granted) finds them.
fn landing(pending: &PendingLogin, has_grants: bool) -> String {
    if !has_grants {
        return pending.return_to.clone();
    }
    let (path, fragment) = match pending.return_to.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (pending.return_to.as_str(), None),
    };
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut landing = format!("{path}{separator}{}={}", crate::return_to::FLOW_PARAM, pending.flow);
    if let Some(fragment) = fragment {
        landing.push('#');
        landing.push_str(fragment);
    }
    landing
}

/// RFC 9207: a response naming another issuer is a mix-up attack; a missing
/// `iss` is refused when the provider promised to send it. The comparison is
/// a plain string comparison with the issuer from discovery, as §2.4 asks.
fn check_response_issuer(ctx: &LayerState, iss: Option<&str>) -> Result<(), Error> {
    let metadata = &ctx.core.oidc().metadata;
    match iss {
        Some(iss) if iss == metadata.issuer => Ok(()),
        Some(_) => Err(Error::CallbackIssuerMismatch),
        None if metadata.authorization_response_iss_parameter_supported => Err(Error::MissingCallbackIssuer),
        None => Ok(()),
    }
}

fn provider_error(error: &str, description: Option<&str>) -> Error {
    let logged_description = untrusted(description.unwrap_or(""));
    tracing::info!(error = %untrusted(error), description = %logged_description, "provider returned an error");
    let description = description.map(|d| untrusted_text(d).to_string());
    match error {
        "access_denied" => Error::AccessDenied { description },
        other => Error::Provider { error: untrusted(other).to_string(), description },
    }
}

/// Checks the permissions this login asked for and turns them into grants.
async fn verify_permissions(
    ctx: &LayerState,
    pending: &PendingLogin,
    checked: &CheckedLogin,
    token_details: Option<&Value>,
) -> Result<Vec<StoredGrant>, Error> {
    if pending.permissions.is_empty() {
        return Ok(Vec::new());
    }
    complete::check_digests(&pending.permissions, checked.claims().get("permission_digest"), token_details)?;
    let mut grants = Vec::with_capacity(pending.permissions.len());
    for item in &pending.permissions {
        let signed_permission = match &item.transport {
            Transport::Rar => None,
            Transport::PermissionApi { id, .. } => Some(fetch_grant(ctx, id, item).await?),
        };
        grants.push(StoredGrant {
            id: random_id(),
            flow: pending.flow.clone(),
            r#type: item.r#type.clone(),
            encoded: item.encoded.clone(),
            digest: item.digest.clone(),
            iss: checked.text("iss").to_owned(),
            sub: checked.text("sub").to_owned(),
            granted_at: unix_now(),
            signed_permission,
            use_secret: crate::records::single_use::new_secret(),
        });
    }
    Ok(grants)
}

/// The grant of a permission registered through the Permission API: fetched
/// from BIB after the login and verified (see [`Grant`](crate::permission::Grant)).
///
/// Its `sub` is BIB's and the ID token's is BankID OIDC's: unique per issuer
/// only, so they are never compared. The grant is bound to this login by
/// what BankID documents instead: it is fetched by the id this login
/// registered (kept server-side in the attempt), signed with BIB's
/// `jwks_uri_grants` keys, issued by BIB, and names — wherever it names
/// them — this permission id, type and digest.
#[tracing::instrument(name = "bankid.fetch_grant", skip_all, err(Display))]
async fn fetch_grant(ctx: &LayerState, id: &str, item: &PermissionItem) -> Result<String, Error> {
    let expected = GrantExpectation { id, item, bib_sub: None };
    let api = ctx.permission_api();
    let grant = complete::fetch_grant(&api, &expected, &api.scope_for(&item.r#type)).await?;
    Ok(grant.jws().to_owned())
}

fn random_id() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

#[tracing::instrument(name = "bankid.token_exchange", skip_all, err(Display))]
async fn exchange_code(ctx: &LayerState, code: &str, pending: &PendingLogin) -> Result<TokenResponse, Error> {
    let config = ctx.core.config();
    let oidc = ctx.core.fresh_oidc().await;
    let credentials = ctx.core.credentials(&oidc);
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", config.redirect_uri.as_str()),
        ("code_verifier", pending.pkce_verifier.as_str()),
    ];
    let call = request_tokens(&ctx.core.http, &oidc.metadata.token_endpoint, &credentials, &params);
    Ok(crate::metrics::timed(crate::metrics::Endpoint::Token, call).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(matches!(parse_params("state=a&state=b&code=c"), Err(Error::MalformedCallback)));
        let params = parse_params("state=a&code=c&iss=https%3A%2F%2Fop").unwrap();
        assert_eq!(params.iss.as_deref(), Some("https://op"));
    }
}
