//! CIBA (OpenID Client-Initiated Backchannel Authentication, poll mode):
//! the server starts a BankID authentication and the user approves a push
//! on their phone — for smart TVs, consoles, 3-D Secure iframes, call centres.
//!
//! **There is no fallback in CIBA**: no push can reach a user without BankID
//! with biometrics, so [`Ciba::start`] first asks the Permission API's
//! `/user-exists` (switch off with [`CibaRequest::skip_user_exists_check`]),
//! and every way it can fail is its own [`CibaError`] variant, so the app can
//! route the user to its backup path (e.g. the code flow on their phone).
//!
//! A pending authentication lives in the session *store* under an opaque
//! handle (never the `auth_req_id`), so any instance sharing the store can
//! continue it. The provider is polled on demand, when the app asks for the
//! status, and never before the interval the provider set (plus 5 s per
//! `slow_down`) has passed. Only when the app wants outcomes pushed to it
//! ([`BankIdLayer::with_ciba_callback`](crate::BankIdLayer::with_ciba_callback))
//! does one background task per layer poll the requests this instance started.

mod deliver;
mod poll;
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
use crate::permission::{Permission, PermissionError, PermissionItem};
use crate::permission_api::PermissionApi;
use crate::provider::token::post_form;

pub(crate) use deliver::CibaCallback;
pub use deliver::CibaFinished;
pub(crate) use store::CibaStore;

/// Scope of the client-credentials token for the CIBA pre-check.
const CIBA_SCOPE: &str = "openid permissions/client permissions/ciba";

/// Who should approve. Exactly one hint goes to the provider.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginHint {
    /// A Norwegian national identity number (11 digits).
    Nnin(String),
    /// A `login_hint_token` issued by the provider.
    LoginHintToken(String),
    /// An ID token previously issued to this client.
    IdTokenHint(String),
}

impl fmt::Debug for LoginHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // All three identify a person; none is printed.
        let kind = match self {
            LoginHint::Nnin(_) => "Nnin",
            LoginHint::LoginHintToken(_) => "LoginHintToken",
            LoginHint::IdTokenHint(_) => "IdTokenHint",
        };
        write!(f, "LoginHint::{kind}(<redacted>)")
    }
}

impl LoginHint {
    fn param(&self) -> (&'static str, &str) {
        match self {
            LoginHint::Nnin(v) => ("login_hint", v),
            LoginHint::LoginHintToken(v) => ("login_hint_token", v),
            LoginHint::IdTokenHint(v) => ("id_token_hint", v),
        }
    }

    fn validate(&self) -> Result<(), CibaError> {
        match self {
            LoginHint::Nnin(n) if n.len() == 11 && n.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
            LoginHint::Nnin(_) => Err(CibaError::InvalidLoginHint),
            LoginHint::LoginHintToken(v) | LoginHint::IdTokenHint(v) if !v.is_empty() && v.len() <= 16 * 1024 => Ok(()),
            _ => Err(CibaError::InvalidLoginHint),
        }
    }
}

/// A backchannel authentication to start.
#[derive(Debug, Clone)]
#[must_use]
pub struct CibaRequest {
    hint: LoginHint,
    binding_message: Option<String>,
    requested_expiry: Option<Duration>,
    acr_values: Option<String>,
    permission: Option<PermissionItem>,
    permission_error: Option<PermissionError>,
    check_user_exists: bool,
}

impl CibaRequest {
    /// A request for the user `hint` names.
    pub fn new(hint: LoginHint) -> Self {
        CibaRequest {
            hint,
            binding_message: None,
            requested_expiry: None,
            acr_values: None,
            permission: None,
            permission_error: None,
            check_user_exists: true,
        }
    }

    /// Text shown on both screens so the user can tell this request from
    /// others: at most 20 characters of letters (incl. ÆØÅ), digits, space
    /// and `.,:+-`. Default: a random `Kode NNNN`.
    pub fn binding_message(mut self, message: impl Into<String>) -> Self {
        self.binding_message = Some(message.into());
        self
    }

    /// How long the user may take. Default: the provider's choice.
    pub fn requested_expiry(mut self, expiry: Duration) -> Self {
        self.requested_expiry = Some(expiry);
        self
    }

    /// `acr_values` to request (the token's `acr` is what is checked).
    pub fn acr_values(mut self, acr: impl Into<String>) -> Self {
        self.acr_values = Some(acr.into());
        self
    }

    /// A permission the user approves with this authentication.
    pub fn permission<P: Permission>(mut self, permission: &P) -> Self {
        crate::permission::assert_upfront_type::<P>();
        match PermissionItem::new(permission, crate::permission::DigestInput::StatementBytes) {
            Ok(item) => self.permission = Some(item),
            Err(err) => self.permission_error = Some(err),
        }
        self
    }

    /// Skips the `/user-exists` pre-check (default: on).
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
    /// Show this on the device; the phone shows the same.
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
    /// The provider has no backchannel authentication endpoint.
    #[error("the provider does not offer CIBA")]
    NotSupported,
    /// The login hint is malformed (checked before sending).
    #[error("the login hint is malformed")]
    InvalidLoginHint,
    /// The binding message is too long or has characters BankID cannot show.
    #[error("the binding message must be at most 20 letters, digits, spaces or .,:+-")]
    InvalidBindingMessage,
    /// `/user-exists` says the user has no BankID with biometrics: no push was attempted.
    #[error("the user cannot use BankID with biometrics")]
    UserNotEnrolled,
    /// The `/user-exists` pre-check itself failed.
    #[error("the user-exists check failed: {0}")]
    UserCheckFailed(EndpointError),
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

    pub(crate) fn new_store(store: Arc<dyn SessionStore>) -> Arc<CibaStore> {
        Arc::new(CibaStore::new(store))
    }

    /// Checks the user can be reached, then sends the backchannel
    /// authentication request. Nothing is polled yet.
    #[tracing::instrument(name = "bankid.ciba.start", skip_all, err(Display))]
    pub async fn start(&self, request: CibaRequest) -> Result<CibaStarted, CibaError> {
        let endpoint =
            self.ctx.shared.metadata.backchannel_authentication_endpoint.clone().ok_or(CibaError::NotSupported)?;
        request.hint.validate()?;
        if let Some(err) = request.permission_error.clone() {
            return Err(CibaError::Permission(err));
        }
        let binding_message = match &request.binding_message {
            Some(message) => validate_binding_message(message)?,
            None => random_binding_message(),
        };
        if request.check_user_exists {
            self.ensure_user_exists(&request.hint).await?;
        }
        let answer = self.send_backchannel(&endpoint, &request, &binding_message).await?;
        // Bounded, so hostile numbers can neither overflow the arithmetic
        // nor keep a request alive for ever.
        let interval = answer.interval.unwrap_or(DEFAULT_INTERVAL_SECS).clamp(1, MAX_INTERVAL_SECS);
        let expires_in = answer.expires_in.clamp(1, MAX_EXPIRES_IN_SECS);
        let pending = store::PendingCiba::new(answer.auth_req_id, interval, expires_in, request.permission);
        let first_poll_at_ms = pending.next_poll_at_ms;
        let handle = self.store.create(pending).await?;
        if self.ctx.ciba_callback.is_some() {
            self.store.scheduler.schedule(self, &handle, first_poll_at_ms);
        }
        tracing::info!(expires_in, interval, "CIBA request started");
        Ok(CibaStarted { handle, binding_message, expires_in })
    }

    async fn ensure_user_exists(&self, hint: &LoginHint) -> Result<(), CibaError> {
        let LoginHint::Nnin(nnin) = hint else { return Ok(()) };
        let api = PermissionApi::new(self.ctx.clone());
        match api.user_exists_with_scope(nnin, CIBA_SCOPE).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(CibaError::UserNotEnrolled),
            Err(crate::Error::PermissionApi(e)) => Err(CibaError::UserCheckFailed(e)),
            Err(other) => Err(CibaError::UserCheckFailed(EndpointError::Unreachable(other.to_string()))),
        }
    }

    async fn send_backchannel(
        &self,
        endpoint: &url::Url,
        request: &CibaRequest,
        binding_message: &str,
    ) -> Result<BackchannelResponse, CibaError> {
        let config = self.ctx.config();
        let credentials = self.ctx.credentials();
        let scope = config.scopes.join(" ");
        let expiry = request.requested_expiry.map(|d| d.as_secs().max(1).to_string());
        let details =
            request.permission.as_ref().and_then(|p| crate::permission::authorization_details(std::slice::from_ref(p)));
        let (hint_name, hint_value) = request.hint.param();
        let mut params: Vec<(&str, &str)> =
            vec![("scope", scope.as_str()), (hint_name, hint_value), ("binding_message", binding_message)];
        if let Some(expiry) = &expiry {
            params.push(("requested_expiry", expiry));
        }
        if let Some(acr) = &request.acr_values {
            params.push(("acr_values", acr));
        }
        if let Some(details) = &details {
            params.push(("authorization_details", details));
        }
        match post_form::<BackchannelResponse>(&self.ctx.shared.http, endpoint, &credentials, &params).await {
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

fn initiation_error(error: &str) -> CibaError {
    match error {
        "unknown_user_id" => CibaError::UnknownUser,
        "app_unavailable" => CibaError::AppUnavailable,
        "invalid_binding_message" => CibaError::InvalidBindingMessage,
        "access_denied" => CibaError::Denied,
        other => CibaError::InitiationRejected { error: other.to_owned() },
    }
}

/// BankID shows the binding message on a phone screen: short, and only
/// characters that render everywhere.
fn validate_binding_message(message: &str) -> Result<String, CibaError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "ÆØÅæøå .,:+-".contains(c);
    let length = message.chars().count();
    if (1..=20).contains(&length) && message.chars().all(allowed) && message.trim() == message {
        Ok(message.to_owned())
    } else {
        Err(CibaError::InvalidBindingMessage)
    }
}

fn random_binding_message() -> String {
    format!("Kode {:04}", rand::random::<u16>() % 10_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_messages() {
        assert!(validate_binding_message("Kode 1234").is_ok());
        assert!(validate_binding_message("Bestilling: Ærlig-5").is_ok());
        for bad in ["", " lead", "this message is far too long", "<script>", "tab\there", "emoji 🎉"] {
            assert_eq!(validate_binding_message(bad), Err(CibaError::InvalidBindingMessage), "{bad:?}");
        }
        assert!(validate_binding_message(&random_binding_message()).is_ok());
    }

    #[test]
    fn login_hints() {
        assert!(LoginHint::Nnin("01018012345".into()).validate().is_ok());
        assert_eq!(LoginHint::Nnin("0101801234".into()).validate(), Err(CibaError::InvalidLoginHint));
        assert_eq!(LoginHint::Nnin("0101801234x".into()).validate(), Err(CibaError::InvalidLoginHint));
        assert!(!format!("{:?}", LoginHint::Nnin("01018012345".into())).contains("0101"));
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
