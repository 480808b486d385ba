//! CIBA (OpenID Client-Initiated Backchannel Authentication, poll mode):
//! the server starts a BankID authentication and the user approves a push
//! on their phone — for smart TVs, consoles, 3-D Secure iframes, call centres.
//!
//! CIBA runs at BIB, BankID with biometrics' second provider, in the sequence
//! of BankID Norway's own CIBA example client: a client-credentials token
//! from BankID OIDC (`openid permissions/client permissions/ciba`) →
//! `user-exists` → register a permission with `intents: ["ciba"]` (a plain
//! login registers `authentication.v1`) → the backchannel request with
//! `login_hint_token=<permissionToken>`, the **binding message made by
//! BankID** and `scope=openid permissions/ciba` → polls of BIB's token
//! endpoint → the ID token verified with BIB's keys and issuer → the LOA
//! policy → for a permission, the signed grant fetched and verified. Every
//! call to BIB carries the Bearer token.
//!
//! **There is no fallback in CIBA**: no push can reach a user without BankID
//! with biometrics, so [`Ciba::start`] first asks `user-exists` (switch off
//! with [`CibaRequest::skip_user_exists_check`]), and every way it can fail
//! is its own [`CibaError`] variant, so the app can route the user to its
//! backup path (e.g. the code flow on their phone).
//!
//! A pending authentication lives in the session *store* under an opaque
//! handle (never the `auth_req_id`), so any instance sharing the store can
//! continue it. The provider is polled on demand, when the app asks for the
//! status, and never before the interval the provider set (plus 5 s per
//! `slow_down`) has passed. Only when the app wants outcomes pushed to it
//! ([`BankIdLayer::with_ciba_callback`](crate::BankIdLayer::with_ciba_callback))
//! does one background task per layer poll the requests this instance started.

mod deliver;
pub(crate) mod poll;
mod public_start;
pub(crate) mod routes;
mod store;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tower_sessions::SessionStore;

use crate::claims::AuthenticatedUser;
use crate::error::{EndpointError, IdTokenError};
use crate::layer::Ctx;
use crate::loa::Loa;
use crate::permission::{AUTHENTICATION_TYPE, Permission, PermissionError, PermissionItem};
use crate::permission_api::{ClientSignals, LoginHint, PermissionApi, RegisteredPermission, Registration, bearer_send};
use crate::provider::token::parse_json_response;

pub(crate) use deliver::CibaCallback;
pub use deliver::CibaFinished;
pub use public_start::PublicCibaStart;
pub(crate) use public_start::PublicStartPolicy;
pub(crate) use store::CibaStore;

/// Scope of the client-credentials token for every CIBA call to BIB
/// (BankID's CIBA example, `BANKID_SCOPE`).
pub(crate) const CIBA_TOKEN_SCOPE: &str = "openid permissions/client permissions/ciba";
/// `scope` of the backchannel request (BankID's example, `BANKID_BIOMETRICS_SCOPE`).
const BACKCHANNEL_SCOPE: &str = "openid permissions/ciba";
/// BankID's example registers CIBA permissions at level `sub` (substantial).
const REGISTRATION_LOA: &str = "sub";

/// A backchannel authentication to start.
#[derive(Debug, Clone)]
#[must_use]
pub struct CibaRequest {
    hint: LoginHint,
    /// The permission's type and statement; its digest is computed at
    /// start, with the layer's configured digest input.
    permission: Option<(&'static str, Vec<u8>)>,
    permission_error: Option<PermissionError>,
    check_user_exists: bool,
    signals: Option<ClientSignals>,
}

impl CibaRequest {
    /// A request for the user `hint` names.
    pub fn new(hint: LoginHint) -> Self {
        CibaRequest { hint, permission: None, permission_error: None, check_user_exists: true, signals: None }
    }

    /// A permission the user approves with this authentication (instead of
    /// a plain login, `authentication.v1`). Its digest uses the configured
    /// [`DigestInput`](crate::DigestInput); after approval its signed grant
    /// is fetched from BIB and verified.
    pub fn permission<P: Permission>(mut self, permission: &P) -> Self {
        crate::permission::assert_upfront_type::<P>();
        match serde_json::to_vec(permission) {
            Ok(statement) => self.permission = Some((P::TYPE, statement)),
            Err(_) => self.permission_error = Some(PermissionError::Serialization),
        }
        self
    }

    /// Browser signals of the device that starts the request, sent with the
    /// registration. Default: none.
    pub fn signals(mut self, signals: ClientSignals) -> Self {
        self.signals = Some(signals);
        self
    }

    /// Skips the `user-exists` pre-check (default: on).
    pub fn skip_user_exists_check(mut self) -> Self {
        self.check_user_exists = false;
        self
    }
}

/// An opaque reference to a pending authentication; safe to hand to the
/// device that waits (it is not the provider's `auth_req_id`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CibaHandle(pub(crate) String);

impl CibaHandle {
    /// The handle as a string, for URLs.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses a handle received from a client.
    pub fn parse(text: &str) -> Option<CibaHandle> {
        store::is_valid_handle(text).then(|| CibaHandle(text.to_owned()))
    }
}

impl fmt::Debug for CibaHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CibaHandle(<opaque>)")
    }
}

/// A started authentication.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct CibaStarted {
    /// Where to ask for the outcome.
    pub handle: CibaHandle,
    /// The binding message **made by BankID** (from the registration): show
    /// it on the device; the user's BankID app shows the same.
    pub binding_message: String,
    /// Seconds until the request expires.
    pub expires_in: u64,
}

/// Where a pending authentication stands.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CibaStatus {
    /// Waiting for the user; ask again after `retry_after_ms`.
    Pending {
        /// Milliseconds until the provider may be polled again.
        retry_after_ms: u64,
    },
    /// Approved and verified.
    Approved {
        /// The verified user.
        user: Box<AuthenticatedUser>,
    },
    /// Finished without a login; `error` says why (see [`CibaError::kind`]).
    Failed {
        /// The failure's stable code.
        error: String,
    },
}

/// Every way a CIBA authentication can fail, so the app can pick its backup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CibaError {
    /// No BIB issuer is configured, or BIB has no backchannel
    /// authentication endpoint.
    #[error("the provider does not offer CIBA")]
    NotSupported,
    /// The login hint is malformed (checked before sending).
    #[error("the login hint is malformed")]
    InvalidLoginHint,
    /// BankID refused the binding message.
    #[error("the provider refused the binding message")]
    InvalidBindingMessage,
    /// `user-exists` says the user has no BankID with biometrics: no push was attempted.
    #[error("the user cannot use BankID with biometrics")]
    UserNotEnrolled,
    /// The `user-exists` pre-check itself failed.
    #[error("the user-exists check failed: {0}")]
    UserCheckFailed(EndpointError),
    /// Registering the permission at BIB failed; no push was attempted.
    #[error("registering the permission failed: {0}")]
    RegistrationFailed(EndpointError),
    /// The provider does not know the user.
    #[error("the provider does not know this user")]
    UnknownUser,
    /// The user's BankID app cannot be reached (e.g. uninstalled).
    #[error("the user's BankID app is not available")]
    AppUnavailable,
    /// The provider refused to start the authentication.
    #[error("the provider refused to start the authentication: {error}")]
    InitiationRejected {
        /// The OAuth error code.
        error: String,
    },
    /// The user declined on the phone.
    #[error("the user declined")]
    Denied,
    /// The user did not answer in time.
    #[error("the authentication request expired")]
    Expired,
    /// Authentication on the phone failed (e.g. the passkey was deleted
    /// when the screen lock was removed).
    #[error("authentication on the phone failed: {error}")]
    AuthenticationFailed {
        /// The OAuth error code.
        error: String,
    },
    /// The provider no longer accepts this request.
    #[error("the provider rejected the request as invalid")]
    InvalidGrant,
    /// The provider could not be reached or answered with a server error;
    /// the request stays pending and is polled again after the interval.
    #[error("the provider is unavailable: {0}")]
    ProviderUnavailable(String),
    /// The final ID token failed verification.
    #[error("invalid ID token: {0}")]
    InvalidIdToken(IdTokenError),
    /// The final ID token's `acr` is below the minimum.
    #[error("insufficient level of assurance")]
    InsufficientLoa {
        /// What was found, if anything.
        found: Option<Loa>,
    },
    /// The approved permission does not match what was sent.
    #[error("permission not granted: {0}")]
    Permission(PermissionError),
    /// No pending authentication has this handle (unknown, finished and
    /// collected, or cancelled).
    #[error("no pending authentication has this handle")]
    UnknownHandle,
    /// The store failed.
    #[error("the CIBA store failed: {0}")]
    Store(String),
    /// CIBA is not set up on the layer (see [`BankIdLayer::with_ciba`](crate::BankIdLayer::with_ciba)).
    #[error("CIBA is not enabled on BankIdLayer")]
    NotEnabled,
}

impl CibaError {
    /// A stable, machine-readable code.
    pub fn kind(&self) -> &'static str {
        match self {
            CibaError::NotSupported => "not_supported",
            CibaError::InvalidLoginHint => "invalid_login_hint",
            CibaError::InvalidBindingMessage => "invalid_binding_message",
            CibaError::UserNotEnrolled => "user_not_enrolled",
            CibaError::UserCheckFailed(_) => "user_check_failed",
            CibaError::RegistrationFailed(_) => "registration_failed",
            CibaError::UnknownUser => "unknown_user",
            CibaError::AppUnavailable => "app_unavailable",
            CibaError::InitiationRejected { .. } => "initiation_rejected",
            CibaError::Denied => "denied",
            CibaError::Expired => "expired",
            CibaError::AuthenticationFailed { .. } => "authentication_failed",
            CibaError::InvalidGrant => "invalid_grant",
            CibaError::ProviderUnavailable(_) => "provider_unavailable",
            CibaError::InvalidIdToken(_) => "invalid_id_token",
            CibaError::InsufficientLoa { .. } => "insufficient_loa",
            CibaError::Permission(_) => "permission_not_granted",
            CibaError::UnknownHandle => "unknown_handle",
            CibaError::Store(_) => "store_error",
            CibaError::NotEnabled => "not_enabled",
        }
    }

    /// Whether the authentication is over (as opposed to a transient failure).
    pub fn is_final(&self) -> bool {
        !matches!(self, CibaError::ProviderUnavailable(_) | CibaError::Store(_))
    }
}

/// Starts and follows CIBA authentications; get it from
/// [`BankIdLayer::ciba`](crate::BankIdLayer::ciba) or [`BankId::ciba`](crate::BankId::ciba).
#[derive(Clone)]
pub struct Ciba {
    pub(crate) ctx: Ctx,
    pub(crate) store: Arc<CibaStore>,
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
const MAX_EXPIRES_IN_SECS: u64 = 3600;

impl Ciba {
    /// The CIBA client of a layer that has it enabled.
    pub(crate) fn from_ctx(ctx: &Ctx) -> Option<Ciba> {
        let store = ctx.ciba_store.clone()?;
        Some(Ciba { ctx: ctx.clone(), store })
    }

    pub(crate) fn new_store(store: Arc<dyn SessionStore>, record_key: [u8; 32]) -> Arc<CibaStore> {
        Arc::new(CibaStore::new(store, record_key))
    }

    /// Checks the user can be reached, registers the permission and sends
    /// the backchannel authentication request (module docs give the
    /// sequence). Nothing is polled yet.
    #[tracing::instrument(name = "bankid.ciba.start", skip_all, err(Display))]
    pub async fn start(&self, request: CibaRequest) -> Result<CibaStarted, CibaError> {
        let bib = self.ctx.bib().map_err(|err| match err {
            crate::Error::ProviderUnavailable => CibaError::ProviderUnavailable("BIB is not loaded yet".to_owned()),
            _ => CibaError::NotSupported,
        })?;
        let endpoint = bib.metadata.backchannel_authentication_endpoint.clone().ok_or(CibaError::NotSupported)?;
        if !request.hint.is_valid() {
            return Err(CibaError::InvalidLoginHint);
        }
        if let Some(err) = request.permission_error.clone() {
            return Err(CibaError::Permission(err));
        }
        if request.check_user_exists {
            self.ensure_user_exists(&request.hint).await?;
        }
        let registered = self.register(&request).await?;
        let answer = self.send_backchannel(&endpoint, &registered).await?;
        // Bounded, so hostile numbers can neither overflow the arithmetic
        // nor keep a request alive for ever.
        let interval = answer.interval.unwrap_or(DEFAULT_INTERVAL_SECS).clamp(1, MAX_INTERVAL_SECS);
        let expires_in = answer.expires_in.clamp(1, MAX_EXPIRES_IN_SECS);
        let permission = request.permission.is_some().then(|| registered.item.clone());
        let pending = store::PendingCiba::new(answer.auth_req_id, interval, expires_in, permission);
        let first_poll_at_ms = pending.next_poll_at_ms;
        let handle = self.store.create(pending).await?;
        if self.ctx.ciba_callback.is_some() {
            self.store.scheduler.schedule(self, &handle, first_poll_at_ms);
        }
        tracing::info!(expires_in, interval, "CIBA request started");
        Ok(CibaStarted { handle, binding_message: registered.binding_message, expires_in })
    }

    async fn ensure_user_exists(&self, hint: &LoginHint) -> Result<(), CibaError> {
        let api = PermissionApi::new(self.ctx.clone());
        match api.user_exists_with_scope(hint, CIBA_TOKEN_SCOPE).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(CibaError::UserNotEnrolled),
            Err(e) => Err(CibaError::UserCheckFailed(e)),
        }
    }

    /// Registers the permission (or `authentication.v1` for a plain login)
    /// for this user with intent `ciba`.
    async fn register(&self, request: &CibaRequest) -> Result<RegisteredPermission, CibaError> {
        let digest_input = self.ctx.config().digest_input;
        let item = match &request.permission {
            Some((kind, statement)) => PermissionItem::from_statement(kind, statement, digest_input),
            None => PermissionItem::from_statement(AUTHENTICATION_TYPE, &authentication_statement(), digest_input),
        };
        let mut registration =
            Registration::new().login_hint(request.hint.clone()).intent("ciba").loa(REGISTRATION_LOA);
        if let Some(signals) = &request.signals {
            registration = registration.signals(signals.clone());
        }
        let api = PermissionApi::new(self.ctx.clone());
        match api.register_item(item, &registration, CIBA_TOKEN_SCOPE).await {
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
    ) -> Result<BackchannelResponse, CibaError> {
        let params = [
            ("login_hint_token", registered.permission_token.as_str()),
            ("scope", BACKCHANNEL_SCOPE),
            ("binding_message", registered.binding_message.as_str()),
        ];
        let build = |http: &reqwest::Client| http.post(endpoint.clone()).form(&params);
        let answer = match bearer_send(&self.ctx, CIBA_TOKEN_SCOPE, build).await {
            Ok(response) => parse_json_response::<BackchannelResponse>(response).await,
            Err(err) => Err(err),
        };
        match answer {
            Ok((_, answer)) => Ok(answer),
            Err(EndpointError::Rejected { error, .. }) => Err(initiation_error(&error)),
            Err(other) => Err(CibaError::ProviderUnavailable(other.to_string())),
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
}

pub(crate) fn initiation_error(error: &str) -> CibaError {
    match error {
        "unknown_user_id" => CibaError::UnknownUser,
        "app_unavailable" => CibaError::AppUnavailable,
        "invalid_binding_message" => CibaError::InvalidBindingMessage,
        "access_denied" => CibaError::Denied,
        other => CibaError::InitiationRejected { error: other.to_owned() },
    }
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
    fn a_plain_login_registers_a_random_nonce_and_id() {
        let first: serde_json::Value = serde_json::from_slice(&authentication_statement()).unwrap();
        let second: serde_json::Value = serde_json::from_slice(&authentication_statement()).unwrap();
        assert_eq!(first["nonce"].as_str().unwrap().len(), 43);
        assert_ne!(first["nonce"], second["nonce"]);
        assert_ne!(first["id"], second["id"]);
    }

    #[test]
    fn initiation_errors_are_distinct() {
        assert_eq!(initiation_error("unknown_user_id"), CibaError::UnknownUser);
        assert_eq!(initiation_error("app_unavailable"), CibaError::AppUnavailable);
        assert_eq!(
            initiation_error("invalid_request"),
            CibaError::InitiationRejected { error: "invalid_request".into() }
        );
    }
}
