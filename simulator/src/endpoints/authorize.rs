//! `GET /authorize` shows the login page; `POST /authorize` takes the
//! user's decision and sends the browser back to the relying party.
//!
//! A request arrives either in the query string or, pushed beforehand to
//! `/par`, as `client_id` plus a one-time `request_uri` (RFC 9126 §4). Only a
//! pushed request may carry `authorization_details`, as at BankID.
//!
//! With `SimulatorBuilder::auto_approve` there is no page: a valid request
//! is approved at once as that user and answered with the redirect.
//!
//! Errors follow RFC 6749 §4.1.2.1: while the client or the redirect URI is in
//! doubt the user sees an error page, because redirecting to an unverified URI
//! would make the simulator an open redirector. Once both are known good,
//! errors travel back to the client on the redirect.

use std::sync::Arc;
use std::time::Instant;

use axum::Form;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use url::Url;

use super::authorize_json;
use super::permissions;
use super::wire::{Params, REQUEST_URI_PREFIX};
use crate::clock::unix_now;
use crate::faults::{EVIL_ISSUER, Fault};
use crate::pages;
use crate::state::{CODE_LIFETIME, IssuedCode, PENDING_LIFETIME, PendingRequest, PushedRequest, Shared, random_token};
use crate::{step_up, users};

/// How the login step answers: the HTML page for browsers, JSON for a
/// client that sends `Accept: application/json` (see `authorize_json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Html,
    Json,
}

impl Format {
    fn of(headers: &HeaderMap) -> Format {
        if authorize_json::wants_json(headers) { Format::Json } else { Format::Html }
    }

    /// A `400` the user (or test) sees instead of a redirect.
    fn bad_request(self, message: &str) -> Response {
        match self {
            Format::Html => pages::bad_request(message),
            Format::Json => authorize_json::bad_request(message),
        }
    }
}

/// `GET /authorize`: validates the request and renders the login form.
pub(super) async fn show(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let format = Format::of(&headers);
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    shared.lock().last_authorize_params = Some(params.values.clone());
    let signed_in = signed_in_person(&headers);
    if params.values.contains_key("request_uri") {
        return show_pushed(&shared, &params, signed_in.as_deref(), format);
    }

    let redirect_uri = match trusted_redirect_uri(&shared, &params) {
        Ok(uri) => uri,
        Err(message) => {
            tracing::debug!(reason = message, "simulator: authorization request refused");
            return format.bad_request(message);
        }
    };
    let state = params.get("state").map(str::to_owned);
    let request = front_channel_only(&params)
        .and_then(|()| validate(&params, redirect_uri.clone(), state.clone()))
        .and_then(|mut request| {
            request.permissions = permissions::requested(&shared, &params, false)?;
            Ok(request)
        });
    let request = match request {
        Ok(request) => request,
        Err((error, description)) => {
            tracing::debug!(error, description, "simulator: authorization request rejected");
            let error = [("error", error), ("error_description", description)];
            return authorization_response(&shared, &redirect_uri, state.as_deref(), &error);
        }
    };
    let selectors = Selectors { login_hint: params.get("login_hint"), acr_values: params.get("acr_values") };
    login_page(&shared, request, selectors, signed_in.as_deref(), format)
}

/// The browser cookie naming who last logged in here: a real provider
/// keeps a session per browser, so a second login there (a step-up) starts
/// with that person, not with whoever the request's selectors would pick.
/// Scoped to `/authorize`, so the relying party on another port of the
/// same host never receives it.
const PERSON_COOKIE: &str = "bankid-sim-person";

/// The person of this browser's earlier login here, if any.
fn signed_in_person(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get_all(header::COOKIE).into_iter().filter_map(|v| v.to_str().ok());
    let value = cookies.flat_map(|line| line.split(';')).find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == PERSON_COOKIE).then_some(value)
    })?;
    url::form_urlencoded::parse(format!("id={value}").as_bytes()).next().map(|(_, id)| id.into_owned())
}

/// The `Set-Cookie` that remembers `user_id` as this browser's person.
fn person_cookie(user_id: &str) -> Option<HeaderValue> {
    let value: String = url::form_urlencoded::byte_serialize(user_id.as_bytes()).collect();
    HeaderValue::from_str(&format!("{PERSON_COOKIE}={value}; Path=/authorize; HttpOnly; SameSite=Lax")).ok()
}

/// What the authorization request asked for to pick the identity provider.
#[derive(Clone, Copy, Default)]
struct Selectors<'a> {
    login_hint: Option<&'a str>,
    acr_values: Option<&'a str>,
}

/// Stores the validated request and shows the login form for it.
/// The person who logged in before in this browser is preselected when
/// still a test user; otherwise the request's selectors choose.
fn login_page(
    shared: &Shared,
    request: PendingRequest,
    selectors: Selectors<'_>,
    signed_in: Option<&str>,
    format: Format,
) -> Response {
    if let Some(user) = &shared.auto_approve {
        return auto_approve(shared, request, Arc::clone(user));
    }
    let preselected = signed_in
        .and_then(|id| shared.users.find(id))
        .unwrap_or_else(|| shared.users.preselected(selectors.login_hint, selectors.acr_values));
    let permissions = request.permissions.clone();
    let asked_method = request.step_up.asked_method;
    let request_id = shared.lock().pending.insert(request, PENDING_LIFETIME);
    tracing::debug!(preselected = %preselected.id, permissions = permissions.len(), "simulator: showing login page");
    let render = match format {
        Format::Html => pages::login,
        Format::Json => authorize_json::login,
    };
    render(&request_id, &shared.client_id, &shared.users, preselected, &permissions, asked_method)
}

/// What became of a `request_uri` brought to `/authorize`.
enum Pushed {
    /// Never pushed, or forgotten long ago: nothing to redirect to.
    Unknown,
    /// Used before or expired: refused, but the redirect URI is known.
    Refused(PushedRequest),
    /// Good, and now used.
    Usable(PushedRequest),
}

/// `GET /authorize?client_id=..&request_uri=..`: the pushed request decides;
/// other parameters in the query are ignored (RFC 9126 §4).
fn show_pushed(shared: &Shared, params: &Params, signed_in: Option<&str>, format: Format) -> Response {
    if params.is_repeated("client_id") || params.get("client_id") != Some(shared.client_id.as_str()) {
        tracing::debug!("simulator: pushed authorization request with an unknown client_id");
        return format.bad_request("Unknown client_id.");
    }
    let handle = params
        .get("request_uri")
        .filter(|_| !params.is_repeated("request_uri"))
        .and_then(|uri| uri.strip_prefix(REQUEST_URI_PREFIX));
    let pushed = handle.map_or(Pushed::Unknown, |handle| take_pushed(shared, handle));
    match pushed {
        Pushed::Unknown => {
            tracing::debug!("simulator: unknown request_uri");
            format.bad_request("This request_uri is unknown.")
        }
        Pushed::Refused(pushed) => {
            tracing::debug!("simulator: request_uri used before or expired");
            let error = [("error", "invalid_request_uri"), ("error_description", "the request_uri is used or expired")];
            let request = &pushed.request;
            authorization_response(shared, &request.redirect_uri, Some(&request.state), &error)
        }
        Pushed::Usable(pushed) => {
            let selectors =
                Selectors { login_hint: pushed.login_hint.as_deref(), acr_values: pushed.acr_values.as_deref() };
            login_page(shared, pushed.request, selectors, signed_in, format)
        }
    }
}

/// Looks a pushed request up and marks it used, unless it may not be used.
fn take_pushed(shared: &Shared, handle: &str) -> Pushed {
    let mut guard = shared.lock();
    let inner = &mut *guard;
    let Some(pushed) = inner.pushed.get_mut(handle) else {
        return Pushed::Unknown;
    };
    let expired = Instant::now() >= pushed.expires_at || inner.faults.has(&Fault::ExpiredRequestUri);
    let reused = pushed.used && !inner.faults.has(&Fault::ReusableRequestUri);
    if expired || reused {
        return Pushed::Refused(pushed.clone());
    }
    pushed.used = true;
    Pushed::Usable(pushed.clone())
}

/// Checks the parameters that decide whether redirecting is safe at all.
fn trusted_redirect_uri(shared: &Shared, params: &Params) -> Result<String, &'static str> {
    if params.is_repeated("client_id") || params.get("client_id") != Some(shared.client_id.as_str()) {
        return Err("Unknown client_id.");
    }
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return Err("The redirect_uri parameter is missing.");
    };
    let registered = shared.lock().redirect_uris.contains(redirect_uri);
    if params.is_repeated("redirect_uri") || !registered {
        return Err("The redirect_uri is not registered for this client.");
    }
    if Url::parse(redirect_uri).is_err() {
        return Err("The registered redirect_uri is not an absolute URL.");
    }
    Ok(redirect_uri.to_owned())
}

/// What API v4 refuses in a front-channel (query string) request only: an
/// identity number in `login_hint` (`:<nnin>`, `BID:<nnin>`, `BIS:<nnin>`).
/// BankID: "Specifying NNIN in query param login_hint is no longer
/// supported. Use PAR or encrypted request object instead"
/// (`bankid-oidc-provider/api-versions`, version 4). Inside PAR it is fine.
fn front_channel_only(params: &Params) -> Result<(), (&'static str, &'static str)> {
    if params.get("login_hint").is_some_and(names_an_identity_number) {
        return Err((
            "invalid_request",
            "an identity number in login_hint is only accepted in a pushed authorization request (PAR)",
        ));
    }
    Ok(())
}

/// Whether a `login_hint` carries an identity number: anything after a `:`
/// (BankID's `[BID|BIS]:<nnin>` and `:<nnin>` forms) that is all digits.
fn names_an_identity_number(hint: &str) -> bool {
    hint.split_once(':').is_some_and(|(_, number)| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks the rest of the request: BankID's code flow as API v4 requires it
/// — `response_type=code`, `state`, `nonce` and PKCE (S256) on every
/// request, front channel or PAR. Permissions are left empty; the caller
/// resolves them.
pub(super) fn validate(
    params: &Params,
    redirect_uri: String,
    state: Option<String>,
) -> Result<PendingRequest, (&'static str, &'static str)> {
    if !params.repeated.is_empty() {
        return Err(("invalid_request", "a parameter was given more than once"));
    }
    if params.get("response_type") != Some("code") {
        return Err(("unsupported_response_type", "only response_type=code is supported"));
    }
    let scope = params.get("scope").unwrap_or_default();
    if !scope.split_ascii_whitespace().any(|s| s == "openid") {
        return Err(("invalid_scope", "scope must contain openid"));
    }
    let Some(state) = state else {
        return Err(("invalid_request", "state is required"));
    };
    let Some(nonce) = params.get("nonce").filter(|nonce| !nonce.is_empty()) else {
        return Err(("invalid_request", "nonce is required (BankID OIDC API v4)"));
    };
    let Some(code_challenge) = params.get("code_challenge") else {
        return Err(("invalid_request", "code_challenge is required (PKCE)"));
    };
    if params.get("code_challenge_method") != Some("S256") {
        return Err(("invalid_request", "code_challenge_method must be S256"));
    }
    if !is_s256_challenge(code_challenge) {
        return Err(("invalid_request", "code_challenge is not a base64url SHA-256 digest"));
    }
    let step_up = step_up::requested(params.get("login_hint"), params.get("acr_values"), params.get("max_age"))?;
    routed_for_permissions(params, &step_up)?;
    Ok(PendingRequest {
        step_up,
        redirect_uri,
        state,
        nonce: Some(nonce.to_owned()),
        code_challenge: code_challenge.to_owned(),
        scope: scope.to_owned(),
        permissions: Vec::new(),
    })
}

/// A flow with upfront permissions — `authorization_details` (PAR) or a
/// registered permission's `permission_token` — must ask BankID OIDC for
/// BankID with biometrics with `acr_values=urn:bankid:bis` (as its first,
/// preferred value): only that identity provider supports the Permission
/// API (BankID, `bankid-with-biometrics/advanced-topics/forcing-step-up`).
/// Checked before the permission is looked up, so a refused request does
/// not use up a `permission_token`.
fn routed_for_permissions(
    params: &Params,
    step_up: &step_up::StepUpRequest,
) -> Result<(), (&'static str, &'static str)> {
    let upfront = ["authorization_details", "permission_token"].iter().any(|name| params.values.contains_key(*name));
    let to_biometrics = step_up.routed && step_up.asked_method == Some(step_up::BIS);
    if upfront && !to_biometrics {
        return Err(("invalid_request", "a flow with upfront permissions must send acr_values=urn:bankid:bis"));
    }
    Ok(())
}

/// An S256 challenge is 32 bytes in unpadded base64url: 43 characters.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The login form as posted back.
#[derive(Debug, Deserialize)]
pub(super) struct Decision {
    request: Option<String>,
    user: Option<String>,
    decision: Option<String>,
    /// The method picked on the page (`BIS`/`BID`), offered when the
    /// request asked for one.
    method: Option<String>,
    /// How many seconds before now the user authenticated (`auth_time`);
    /// not on the HTML page, for tests (see `authorize_json`).
    auth_age: Option<String>,
}

/// `POST /authorize`: turns the user's choice into a code or an error.
pub(super) async fn decide(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<Decision>,
) -> Response {
    let format = Format::of(&headers);
    let approve = match form.decision.as_deref() {
        Some("approve") => true,
        Some("deny") => false,
        _ => return format.bad_request("Choose to log in or to cancel."),
    };
    let user = form.user.as_deref().and_then(|id| shared.users.find(id)).cloned();
    if approve && user.is_none() {
        return format.bad_request("Choose one of the test users.");
    }
    // Checked before the request is taken, so a bad value costs no login.
    let auth_age = match authorize_json::auth_age(form.auth_age.as_deref()) {
        Ok(seconds) => seconds,
        Err(message) => return format.bad_request(message),
    };
    // Taking the request out makes each login page usable exactly once.
    let request = form.request.as_deref().and_then(|id| shared.lock().pending.take(id));
    let Some(request) = request else {
        return format.bad_request("This login request is unknown, expired or already used.");
    };
    match user.filter(|_| approve) {
        Some(user) => {
            let mut request = request;
            match step_up::choose(form.method.as_deref(), &request.step_up, &user) {
                Ok(method) => request.step_up.chosen_method = method,
                Err(message) => return format.bad_request(message),
            }
            let chosen = user.id.clone();
            let user = step_up::completing_person(&shared.users, user, &shared.lock().faults);
            let mut response = approve_login(&shared, request, user, auth_age);
            if let Some(cookie) = person_cookie(&chosen) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        None => deny_login(&shared, &request),
    }
}

/// `--auto-approve`: the login the page would have led to, as if the
/// user had picked no method and approved. A method the user lacks is
/// refused as on the page.
fn auto_approve(shared: &Shared, mut request: PendingRequest, user: Arc<users::TestUser>) -> Response {
    match step_up::choose(None, &request.step_up, &user) {
        Ok(method) => request.step_up.chosen_method = method,
        Err(message) => return pages::bad_request(message),
    }
    tracing::debug!(user = %user.id, "simulator: login auto-approved");
    let user = step_up::completing_person(&shared.users, user, &shared.lock().faults);
    approve_login(shared, request, user, 0)
}

/// Issues the code of an approved login, the user having authenticated
/// `auth_age` seconds ago.
fn approve_login(shared: &Shared, request: PendingRequest, user: Arc<users::TestUser>, auth_age: u64) -> Response {
    let (redirect_uri, state) = (request.redirect_uri.clone(), request.state.clone());
    let permissions = request.permissions.clone();
    let user_id = user.id.clone();
    let issued = IssuedCode {
        request,
        user: Arc::clone(&user),
        auth_time: unix_now().saturating_sub(auth_age),
        sid: random_token(),
        redeemed: false,
        access_token: None,
    };
    let code = {
        let mut inner = shared.lock();
        inner.decide_permissions(&permissions, Some(user));
        inner.codes.insert(issued, CODE_LIFETIME)
    };
    tracing::debug!(user = %user_id, "simulator: login approved, code issued");
    authorization_response(shared, &redirect_uri, Some(&state), &[("code", &code)])
}

fn deny_login(shared: &Shared, request: &PendingRequest) -> Response {
    tracing::debug!("simulator: login denied by the user");
    shared.lock().decide_permissions(&request.permissions, None);
    let error = [("error", "access_denied"), ("error_description", "the user cancelled the login")];
    authorization_response(shared, &request.redirect_uri, Some(&request.state), &error)
}

/// A `303` back to the client with `params`, `state` and the RFC 9207 `iss`.
fn authorization_response(
    shared: &Shared,
    redirect_uri: &str,
    state: Option<&str>,
    params: &[(&str, &str)],
) -> Response {
    // The URI was parsed when it was accepted; failing now is a bug, but one
    // that must not turn into a redirect somewhere else.
    let Ok(mut target) = Url::parse(redirect_uri) else {
        return pages::bad_request("The registered redirect_uri is not an absolute URL.");
    };
    let iss =
        if shared.lock().faults.has(&Fault::WrongCallbackIss) { EVIL_ISSUER.to_owned() } else { shared.issuer.clone() };
    {
        let mut query = target.query_pairs_mut();
        query.extend_pairs(params);
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", &iss);
    }
    Redirect::to(target.as_str()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Params {
        Params::parse(query.as_bytes())
    }

    const OK: &str = "response_type=code&scope=openid%20profile&code_challenge=\
E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&nonce=n";

    #[test]
    fn accepts_a_pkce_code_request() {
        let request = validate(&params(OK), "http://rp/cb".into(), Some("s".into()));
        let request = request.map_err(|e| e.1).expect("valid request");
        assert_eq!(request.nonce.as_deref(), Some("n"));
        assert_eq!(request.scope, "openid profile");
    }

    #[test]
    fn rejects_plain_pkce_missing_state_and_repeats() {
        let plain = OK.replace("S256", "plain");
        assert!(validate(&params(&plain), "x".into(), Some("s".into())).is_err());
        assert!(validate(&params(OK), "x".into(), None).is_err());
        let repeated = format!("{OK}&nonce=again");
        assert!(validate(&params(&repeated), "x".into(), Some("s".into())).is_err());
        let no_openid = OK.replace("openid%20", "");
        assert_eq!(
            validate(&params(&no_openid), "x".into(), Some("s".into())).map_err(|e| e.0).err(),
            Some("invalid_scope")
        );
    }
}
