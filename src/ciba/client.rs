//! [`Ciba`]: starts a CIBA authentication at BIB in BankID's sequence (see
//! the module docs of `ciba`) and follows it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::deliver::{CibaCallback, PollOnce};
use super::error::{CibaError, initiation_error};
use super::request::{CibaHandle, CibaRequest, CibaStarted, CibaStatus};
use super::store::{self, CibaStore};
use crate::clock::unix_now_ms;
use crate::error::{Cause, EndpointError, LoginCheckError};
use crate::events::EventSink;
use crate::loa::Loa;
use crate::login_hint::LoginHint;
use crate::metrics::Endpoint;
use crate::permission::api::{AcrValues, BibAcr, PermissionApi, RegisteredPermission, Registration, bearer_send};
use crate::permission::statement::{AUTHENTICATION_TYPE, PermissionItem};
use crate::provider::token::parse_json_response;
use crate::relying_party::RelyingParty;

/// Scope of the client-credentials token for every CIBA call to BIB
/// (BankID's CIBA example, `BANKID_SCOPE`); a permission type's product
/// scopes are added to it (see [`ciba_token_scope`]).
const CIBA_TOKEN_SCOPE: &str = "openid permissions/client permissions/ciba";

/// The client-credentials scope of every call of one CIBA request about a
/// permission of `kind` (`authentication.v1` for a plain login): BankID's
/// CIBA scope plus the type's product scopes, e.g. `permissions/text` for
/// `text.v1`.
pub(crate) fn ciba_token_scope(core: &RelyingParty, kind: &str) -> String {
    core.config().permission_api.scope_for(CIBA_TOKEN_SCOPE, kind)
}
/// `scope` of the backchannel request (BankID's example, `BANKID_BIOMETRICS_SCOPE`).
const BACKCHANNEL_SCOPE: &str = "openid permissions/ciba";
/// BankID's example registers CIBA permissions at level `sub` (substantial).
const REGISTRATION_LOA: &str = "sub";
/// Retry delay of a background poll after a transient failure (store or
/// provider unavailable).
const TRANSIENT_RETRY_MS: i64 = 5_000;

/// Starts and follows CIBA authentications; get it from
/// [`BankIdLayer::ciba`](crate::BankIdLayer::ciba) or [`BankIdSession::ciba`](crate::BankIdSession::ciba).
#[derive(Clone)]
pub struct Ciba {
    pub(crate) core: Arc<RelyingParty>,
    pub(crate) store: Arc<CibaStore>,
    /// Whether outcomes are handed to the app's callback (see
    /// `CibaOptions::callback`): then this instance polls the
    /// requests it started in the background.
    pub(crate) callback: Option<CibaCallback>,
    /// Where failed outcomes are reported as login events (see `events`).
    pub(crate) events: Option<EventSink>,
}

impl fmt::Debug for Ciba {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ciba").finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct BackchannelResponse {
    auth_req_id: String,
    expires_in: u64,
    interval: Option<u64>,
}

/// CIBA Core §7.3: poll no more often than every 5 s unless told otherwise.
const DEFAULT_INTERVAL_SECS: u64 = 5;
/// Upper bounds on what a provider can ask for.
pub(crate) const MAX_INTERVAL_SECS: u64 = 300;
pub(crate) const MAX_EXPIRES_IN_SECS: u64 = 3600;

impl Ciba {
    /// The CIBA client of a layer that has CIBA enabled.
    pub(crate) fn new(core: Arc<RelyingParty>, store: Arc<CibaStore>, callback: Option<CibaCallback>) -> Ciba {
        Ciba { core, store, callback, events: None }
    }

    /// This client, reporting failed outcomes as login events to `events`.
    pub(crate) fn with_events(self, events: Option<EventSink>) -> Ciba {
        Ciba { events, ..self }
    }

    /// Checks the user can be reached, registers the permission and sends
    /// the backchannel authentication request (module docs give the
    /// sequence), then answers. Nothing is polled yet.
    ///
    /// For servers that start CIBA themselves: every way the start can fail
    /// is its own [`CibaError`]. (The public start route does not call this:
    /// it answers before BIB is asked, see [`CibaOptions::public_start`](crate::ciba::CibaOptions::public_start).)
    #[tracing::instrument(name = "bankid.ciba.start", skip_all, err(Display))]
    pub async fn start(&self, request: CibaRequest) -> Result<CibaStarted, CibaError> {
        self.check_startable(&request)?;
        let pending =
            self.ask_bib(&request).await.inspect_err(|e| crate::metrics::ciba_finished(Some(e.kind()), false))?;
        let expires_in = pending.expires_in_secs();
        let (first_poll_at_ms, interval) = (pending.next_poll_at_ms, pending.interval_secs);
        let binding_message = pending.binding_message.clone().unwrap_or_default();
        let handle = self.store.create(pending).await?;
        if self.callback.is_some() {
            self.schedule_background_poll(&handle, first_poll_at_ms);
        }
        tracing::info!(expires_in, interval, "CIBA request started");
        Ok(CibaStarted { handle, binding_message, expires_in })
    }

    /// What can be refused without asking BIB: CIBA not offered, BIB's
    /// metadata not loaded yet, a malformed hint or permission.
    pub(crate) fn check_startable(&self, request: &CibaRequest) -> Result<(), CibaError> {
        self.backchannel_endpoint()?;
        if !request.hint.is_valid() {
            return Err(CibaError::InvalidLoginHint);
        }
        if let Some(err) = request.permission_error.clone() {
            return Err(LoginCheckError::Permission(err).into());
        }
        Ok(())
    }

    fn backchannel_endpoint(&self) -> Result<url::Url, CibaError> {
        self.loaded_bib()?.metadata().backchannel_authentication_endpoint.clone().ok_or(CibaError::NotSupported)
    }

    /// The endpoint as BIB's discovery document names it now (refreshed
    /// when the held copy is past its max age).
    async fn fresh_backchannel_endpoint(&self) -> Result<url::Url, CibaError> {
        let metadata = self.loaded_bib()?.fresh_metadata().await;
        metadata.backchannel_authentication_endpoint.clone().ok_or(CibaError::NotSupported)
    }

    fn loaded_bib(&self) -> Result<&crate::relying_party::Bib, CibaError> {
        self.core.bib().map_err(|err| match err {
            crate::error::Error::ProviderUnavailable => {
                CibaError::ProviderUnavailable(Cause::new("BIB is not loaded yet"))
            }
            _ => CibaError::NotSupported,
        })
    }

    /// BankID's sequence at BIB (`user-exists`, registration, backchannel
    /// request): the state of the started request, to be stored.
    pub(crate) async fn ask_bib(&self, request: &CibaRequest) -> Result<store::PendingCiba, CibaError> {
        let endpoint = self.fresh_backchannel_endpoint().await?;
        let kind = request.permission.as_ref().map_or(AUTHENTICATION_TYPE, |(kind, _)| kind);
        let scope = ciba_token_scope(&self.core, kind);
        if request.check_user_exists {
            self.ensure_user_exists(&request.hint, &scope).await?;
        }
        let registered = self.register(request, &scope).await?;
        let answer = self.send_backchannel(&endpoint, &registered, &scope).await?;
        // Bounded, so hostile numbers can neither overflow the arithmetic
        // nor keep a request alive for ever.
        let interval = answer.interval.unwrap_or(DEFAULT_INTERVAL_SECS).clamp(1, MAX_INTERVAL_SECS);
        let expires_in = answer.expires_in.clamp(1, MAX_EXPIRES_IN_SECS);
        let permission = request.permission.is_some().then(|| registered.item.clone());
        let mut pending = store::PendingCiba::new(answer.auth_req_id, interval, expires_in, permission);
        let minimum = self.core.config().minimum_loa;
        pending.minimum_loa = Some(required_loa(&forced_acr(&request.acr_values, minimum), minimum));
        pending.binding_message = Some(registered.binding_message);
        crate::metrics::login_started(crate::metrics::Flow::Ciba, false);
        Ok(pending)
    }

    async fn ensure_user_exists(&self, hint: &LoginHint, scope: &str) -> Result<(), CibaError> {
        let api = PermissionApi::new(self.core.clone());
        match api.user_exists_with_scope(hint, scope).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(CibaError::UserNotEnrolled),
            Err(e) => Err(CibaError::UserCheckFailed(e)),
        }
    }

    /// Registers the permission (or `authentication.v1` for a plain login)
    /// for this user with intent `ciba`.
    async fn register(&self, request: &CibaRequest, scope: &str) -> Result<RegisteredPermission, CibaError> {
        let digest_input = self.core.config().digest_input;
        let item = match &request.permission {
            Some((kind, statement)) => PermissionItem::from_statement(kind, statement, digest_input),
            None => PermissionItem::from_statement(AUTHENTICATION_TYPE, &authentication_statement(), digest_input),
        };
        let mut registration =
            Registration::new().login_hint(request.hint.clone()).intent("ciba").loa(REGISTRATION_LOA);
        registration.acr_values = forced_acr(&request.acr_values, self.core.config().minimum_loa);
        if let Some(signals) = &request.signals {
            registration = registration.signals(signals.clone());
        }
        let api = PermissionApi::new(self.core.clone());
        match api.register_item(item, &registration, scope).await {
            Ok(registered) => Ok(registered),
            Err(EndpointError::Rejected { error, .. }) if error == "unknown_user_id" => Err(CibaError::UnknownUser),
            Err(err) => Err(CibaError::RegistrationFailed(err)),
        }
    }

    /// `POST {backchannel_authentication_endpoint}` with exactly BankID's
    /// three parameters and the Bearer token.
    async fn send_backchannel(
        &self,
        endpoint: &url::Url,
        registered: &RegisteredPermission,
        scope: &str,
    ) -> Result<BackchannelResponse, CibaError> {
        let params = [
            ("login_hint_token", registered.permission_token.as_str()),
            ("scope", BACKCHANNEL_SCOPE),
            ("binding_message", registered.binding_message.as_str()),
        ];
        let build = |http: &reqwest::Client| http.post(endpoint.clone()).form(&params);
        let answer = match bearer_send(&self.core, Endpoint::CibaBackchannelAuthentication, scope, build).await {
            Ok(response) => parse_json_response::<BackchannelResponse>(response).await,
            Err(err) => Err(err),
        };
        match answer {
            Ok((_, answer)) => Ok(answer),
            Err(EndpointError::Rejected { error, .. }) => Err(initiation_error(&error)),
            Err(other) => Err(CibaError::ProviderUnavailable(Cause::from_error(other))),
        }
    }

    /// Forgets a pending authentication: later status calls say
    /// [`CibaError::UnknownHandle`] and nothing is polled again.
    ///
    /// A poll this instance has under way is waited for first, so it cannot
    /// write the request back after the delete. (A poll under way on another
    /// instance at that very moment can still record an outcome and call the
    /// callback; whether its write brings the request back depends on the
    /// store — Redis saves only existing keys, so it does not.)
    pub async fn cancel(&self, handle: &CibaHandle) -> Result<(), CibaError> {
        let _no_poll_under_way = loop {
            if let Some(claim) = self.store.claim(handle) {
                break claim;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        self.store.delete(handle).await
    }

    /// Has this instance poll `handle` at `at_ms` (Unix ms) in the
    /// background, and again after each poll until the request is over.
    pub(crate) fn schedule_background_poll(&self, handle: &CibaHandle, at_ms: i64) {
        let ciba = self.clone();
        let poll: PollOnce = Arc::new(move |handle| {
            let ciba = ciba.clone();
            Box::pin(async move { ciba.background_poll(&handle).await })
        });
        self.store.scheduler.schedule(poll, handle, at_ms);
    }

    /// One background poll: when to poll again (Unix ms), `None` once the
    /// request is over. The callback is called by `finish` when this poll
    /// records the outcome.
    async fn background_poll(&self, handle: &CibaHandle) -> Option<i64> {
        let retry_in_ms = match self.status(handle).await {
            Ok(CibaStatus::Pending { retry_after_ms, .. }) => retry_after_ms as i64,
            Ok(_) | Err(CibaError::UnknownHandle) => return None,
            Err(err) if err.is_final() => return None,
            Err(err) => {
                tracing::warn!(error = %err, "background CIBA poll failed; retrying");
                TRANSIENT_RETRY_MS
            }
        };
        Some(unix_now_ms() + retry_in_ms.max(50))
    }
}

/// The `acr_values` a CIBA registration sends: the request's own, else
/// BankID High when the layer requires LOA 4 — BankID High has no CIBA flow
/// of its own, so this forced step-up at BIB is the only way there.
fn forced_acr(asked: &AcrValues, minimum: Loa) -> AcrValues {
    let mut acr = asked.clone();
    if acr.is_empty() && minimum >= Loa::HIGH {
        acr.add(BibAcr::High);
    }
    acr
}

/// The level a CIBA login must reach: the layer's minimum, raised to LOA 4
/// when BankID High is the only acceptable end.
fn required_loa(acr: &AcrValues, minimum: Loa) -> Loa {
    if acr.only_high() { minimum.max(Loa::HIGH) } else { minimum }
}

/// The statement of a plain CIBA login (`authentication.v1`). **A guess**:
/// BankID has not published it; this is the `{"nonce", "id"}` base that every
/// statement in BankID's CIBA example carries, both random.
fn authentication_statement() -> Vec<u8> {
    use base64::Engine;
    let random = || base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    serde_json::json!({ "nonce": random(), "id": random() }).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loa_4_forces_bankid_high_and_only_high_raises_the_level() {
        let none = AcrValues::default();
        assert!(forced_acr(&none, Loa::SUBSTANTIAL).is_empty(), "BIB's default below LOA 4");
        assert!(forced_acr(&none, Loa::HIGH).only_high(), "LOA 4 needs the step-up");
        let mut high = AcrValues::default();
        high.add(BibAcr::High);
        assert_eq!(required_loa(&high, Loa::SUBSTANTIAL), Loa::HIGH);
        let mut both = high.clone();
        both.add(BibAcr::Biometrics);
        assert_eq!(forced_acr(&both, Loa::HIGH), both, "the app's own choice is sent as is");
        assert_eq!(required_loa(&both, Loa::SUBSTANTIAL), Loa::SUBSTANTIAL);
        assert_eq!(required_loa(&both, Loa::HIGH), Loa::HIGH, "never below the layer's minimum");
    }

    #[test]
    fn a_plain_login_registers_a_random_nonce_and_id() {
        let first: serde_json::Value = serde_json::from_slice(&authentication_statement()).unwrap();
        let second: serde_json::Value = serde_json::from_slice(&authentication_statement()).unwrap();
        assert_eq!(first["nonce"].as_str().unwrap().len(), 43);
        assert_ne!(first["nonce"], second["nonce"]);
        assert_ne!(first["id"], second["id"]);
    }
}
