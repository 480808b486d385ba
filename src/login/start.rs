//! Starting a login ([`begin`]), for the login route, permission requests
//! and step-ups alike: an Authorization Code flow with PKCE S256, `state`
//! and `nonce` — pushed to the provider first (RFC 9126) when it offers PAR,
//! which keeps the parameters (and any permission statement) out of the
//! browser's URL. The attempt is stored (see [`crate::records::attempt`])
//! before the browser is sent on.

use axum::response::Response;
use openidconnect::{CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier};
use serde::Deserialize;
use tower_sessions::Session;
use url::Url;

use super::options::{add_identity_hint, add_params};
use crate::clock::unix_now;
use crate::config::{BankIdConfig, ParMode};
use crate::error::Error;
use crate::http::{redirect, with_cookies};
use crate::live_login::LiveLogins;
use crate::login_hint::LoginHint;
use crate::permission::error::PermissionError;
use crate::permission::statement::{PermissionItem, Transport, authorization_details};
use crate::permission::upfront::upfront_items;
use crate::provider::token::post_form;
use crate::records::activity::Touch;
use crate::records::attempt::Attempts;
use crate::records::attempt::Started;
use crate::relying_party::{Oidc, RelyingParty};
use crate::return_to::sanitize_return_to;
use crate::session::PendingLogin;
use crate::step_up::policy::{StepUpPolicy, add_authorize_params, add_selectors, select_identity_provider};
use crate::user::Subject;

/// What starting a login needs of the layer (made by `LayerState::login_start`):
/// the relying party, where attempts go and the live-login policy.
pub(crate) struct LoginStart<'a> {
    pub(crate) core: &'a RelyingParty,
    pub(crate) attempts: Attempts<'a>,
    pub(crate) live_logins: LiveLogins<'a>,
}

/// What a login asks for beyond the configured defaults.
#[derive(Default)]
pub(crate) struct LoginOptions {
    pub(crate) return_to: Option<String>,
    pub(crate) permissions: Vec<PermissionItem>,
    pub(crate) app_callback_uri: Option<String>,
    /// A permission the logged-in user (if any) must approve themselves:
    /// the callback then refuses anyone else (`subject_mismatch`).
    pub(crate) for_current_user: bool,
    /// A step-up (`acr`/`max_age` on the login route, see
    /// [`crate::step_up`]): asked for here, checked at the callback, and
    /// bound to the logged-in user (if any) like `for_current_user`.
    pub(crate) step_up: Option<StepUpPolicy>,
    /// The pages' language(s), validated; else the configured default.
    pub(crate) ui_locales: Option<String>,
    /// `prompt=login`: a fresh authentication at BankID.
    pub(crate) prompt_login: bool,
    /// A prefilled identity number, validated; sent only through PAR.
    pub(crate) identity_hint: Option<LoginHint>,
}

/// Where to send the browser, and the cookies that bind the attempt to it.
pub(crate) struct Redirect {
    /// The authorization URL, for the `Location` header.
    pub(crate) url: String,
    pub(crate) started: Started,
}

impl Redirect {
    /// The `303` response with the attempt's cookies.
    pub(crate) fn into_response(self) -> Response {
        with_cookies(redirect(&self.url), self.started.cookies)
    }
}

/// A login's own secrets: `state` (CSRF) and `nonce` (16 random bytes each,
/// base64url) and the PKCE S256 pair (RFC 7636 §4.1–4.2: a verifier of 32
/// random bytes, base64url, and the base64url SHA-256 challenge).
pub(crate) struct LoginSecrets {
    pub(crate) state: CsrfToken,
    pub(crate) nonce: Nonce,
    pub(crate) challenge: PkceCodeChallenge,
    pub(crate) verifier: PkceCodeVerifier,
}

impl LoginSecrets {
    pub(crate) fn new() -> Self {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        LoginSecrets { state: CsrfToken::new_random(), nonce: Nonce::new_random(), challenge, verifier }
    }

    /// The login's own authorize parameters so far: `state`, `nonce`,
    /// `code_challenge`, with room for the optional ones.
    pub(crate) fn params<'a>(&self) -> Vec<(&'a str, String)> {
        let mut params = Vec::with_capacity(8);
        params.push(("state", self.state.secret().clone()));
        params.push(("nonce", self.nonce.secret().clone()));
        params.push(("code_challenge", self.challenge.as_str().to_owned()));
        params
    }
}

/// Stores the login attempt (see [`crate::records::attempt`]) and returns where to send the
/// browser: the authorize endpoint, with either the full request or (after
/// PAR) just `client_id` and `request_uri`. The session is only read.
#[tracing::instrument(name = "bankid.login", skip_all, fields(permissions = options.permissions.len()), err(Display))]
pub(crate) async fn begin(
    start: &LoginStart<'_>,
    session: &Session,
    headers: &http::HeaderMap,
    mut options: LoginOptions,
) -> Result<Redirect, Error> {
    // A degraded layer has no provider to send anyone to: say so, whoever
    // started the login (the login route, or a handler's permission request).
    if !start.core.is_ready() {
        return Err(Error::ProviderUnavailable);
    }
    let config = start.core.config();
    // Not fatal (a proxy may rewrite `Host`), but the login will come back
    // without its cookie if the browser really is on another host.
    if let Some(wrong) = crate::wiring::host_mismatch(headers, &config.redirect_uri) {
        wrong.report();
    }
    let mut permissions = upfront_items(config);
    permissions.extend(std::mem::take(&mut options.permissions));
    if options.ui_locales.is_none() && config.ui_locales_from_accept_language {
        options.ui_locales = crate::language::bankid_ui_locales(headers);
    }
    let secrets = LoginSecrets::new();
    let has_permissions = !permissions.is_empty();
    let params = authorize_params(config, &secrets, &options, &permissions)?;

    let oidc = start.core.fresh_oidc().await;
    let url = match par_endpoint(start, &oidc, has_permissions)? {
        Some(endpoint) => push_request(start, &oidc, endpoint, &params).await?,
        // An identity number never goes into the browser's URL.
        None if options.identity_hint.is_some() => return Err(Error::IdentityHintNeedsPar),
        None => oidc.authorize.url(&params),
    };
    let expected_subject = match options.for_current_user || options.step_up.is_some() {
        // Only a login that still counts binds the new one to its person: an
        // expired or logged-out login is nobody's, so this proceeds as a
        // fresh login (whose result the callback stores as usual).
        true => start.live_logins.load(session, Touch::Keep).await?.into_user().as_ref().and_then(Subject::of_user),
        false => None,
    };
    let pending = PendingLogin {
        state: secrets.state.secret().clone(),
        nonce: secrets.nonce.secret().clone(),
        pkce_verifier: secrets.verifier.secret().clone(),
        return_to: sanitize_return_to(options.return_to.as_deref()),
        started_at: unix_now(),
        permissions,
        flow: crate::records::single_use::new_secret(),
        expected_subject,
        asked_loa: options.step_up.and_then(|s| s.loa()),
        max_age: options.step_up.and_then(|s| s.max_age()),
    };
    let started = start.attempts.store(headers, &pending.state, &pending).await?;
    crate::metrics::login_started(crate::metrics::Flow::Code, options.step_up.is_some());
    tracing::debug!("redirecting to the authorization endpoint");
    Ok(Redirect { url, started })
}

/// This login's own authorize parameters, in the order they are sent; the
/// fixed ones (client, redirect URI, scope, configured selectors) are in
/// `Oidc::authorize`, encoded once per discovery document. A login that selects its own
/// identity provider (a level, a permission flow) or prefills an identity
/// number carries the selectors itself, replacing the configured ones.
fn authorize_params<'a>(
    config: &'a BankIdConfig,
    secrets: &LoginSecrets,
    options: &LoginOptions,
    permissions: &[PermissionItem],
) -> Result<Vec<(&'a str, String)>, Error> {
    let mut params = secrets.params();
    let has_permissions = !permissions.is_empty();
    let asked_loa = options.step_up.and_then(|s| s.loa());
    if let Some(idp) = select_identity_provider(asked_loa, has_permissions, config.minimum_loa)? {
        add_selectors(idp, config, has_permissions, &mut params);
    }
    if let Some(step_up) = &options.step_up {
        add_authorize_params(step_up, &mut params);
    }
    add_params(options.ui_locales.clone(), options.prompt_login, config, &mut params);
    if let Some(hint) = &options.identity_hint {
        add_identity_hint(hint, config, &mut params);
    }
    if let Some(details) = authorization_details(permissions) {
        params.push(("authorization_details", details));
    }
    if let Some(id) = permission_reference(permissions)? {
        params.push((config.permission_api.reference_parameter.as_str(), id));
    }
    if let Some(uri) = &options.app_callback_uri {
        params.push(("app_callback_uri", uri.clone()));
    }
    Ok(params)
}

/// The one Permission API reference this login carries, if any.
/// The permission token of a registered permission, for the (guessed, see
/// [`PermissionApiConfig::reference_parameter`](crate::permission::PermissionApiConfig::reference_parameter))
/// authorize parameter.
fn permission_reference(permissions: &[PermissionItem]) -> Result<Option<String>, Error> {
    let mut tokens = permissions.iter().filter_map(|p| match &p.transport {
        Transport::PermissionApi { token, .. } => Some(token.clone()),
        Transport::Rar => None,
    });
    let first = tokens.next();
    if tokens.next().is_some() {
        return Err(PermissionError::TooManyReferences.into());
    }
    Ok(first)
}

/// Decides whether to push: always when required or advertised (unless
/// disabled); logins with permissions, and every login at a provider that
/// says `require_pushed_authorization_requests`, cannot go without it (a
/// disabled PAR with such a provider already failed start-up).
fn par_endpoint<'a>(start: &LoginStart<'_>, oidc: &'a Oidc, has_permissions: bool) -> Result<Option<&'a Url>, Error> {
    let metadata = &oidc.metadata;
    let endpoint = metadata.pushed_authorization_request_endpoint.as_ref();
    let must_push = has_permissions || metadata.require_pushed_authorization_requests;
    let missing = Error::MissingCapability { capability: "pushed_authorization_request_endpoint" };
    match start.core.config().par {
        ParMode::Disabled if must_push => Err(missing),
        ParMode::Disabled => Ok(None),
        ParMode::Required => endpoint.map(Some).ok_or(missing),
        ParMode::WhenAdvertised if must_push => endpoint.map(Some).ok_or(missing),
        ParMode::WhenAdvertised => Ok(endpoint),
    }
}

#[derive(Deserialize)]
struct ParResponse {
    request_uri: String,
}

/// Pushes the whole request ([`AuthorizeRequest::params`](crate::provider::authorize_url::AuthorizeRequest::params):
/// the same list the URL without PAR carries) and returns the authorization
/// URL naming it.
#[tracing::instrument(name = "bankid.par", skip_all, err(Display))]
async fn push_request(
    start: &LoginStart<'_>,
    oidc: &Oidc,
    endpoint: &Url,
    params: &[(&str, String)],
) -> Result<String, Error> {
    let credentials = start.core.credentials(oidc);
    let form: Vec<(&str, &str)> = oidc.authorize.params(params).collect();
    let push = post_form::<ParResponse>(&start.core.http, endpoint, &credentials, &form);
    let (_, pushed) =
        crate::metrics::timed(crate::metrics::Endpoint::Par, push).await.map_err(Error::PushedAuthorization)?;
    Ok(oidc.authorize.pushed_url(&pushed.request_uri))
}
