//! [`BankIdConfig`]: the validated settings, and their accessors.

use std::time::Duration;

use url::Url;

use super::client_auth::{ClientAuth, Credential};
use super::login_cache::LoginCacheSettings;
use super::par::ParMode;
use super::permission_api::{DigestInput, PermissionApiConfig, UpfrontStatement};
use super::session_status::SessionStatusSettings;
use crate::loa::Loa;

/// Validated settings of a BankID relying party. Build it with
/// [`BankIdConfig::builder`] or [`BankIdConfig::from_env`].
#[derive(Debug, Clone)]
pub struct BankIdConfig {
    pub(crate) issuer: Url,
    /// BIB's issuer, when configured (needed by CIBA and the Permission API).
    pub(crate) bib_issuer: Option<Url>,
    pub(crate) client_id: String,
    /// The token endpoint method with its secret or key.
    pub(crate) client_auth: ClientAuth,
    pub(crate) redirect_uri: Url,
    pub(crate) scopes: Vec<String>,
    pub(crate) login_hint: Option<String>,
    pub(crate) acr_values: Option<String>,
    /// The `ui_locales` sent when a login names none.
    pub(crate) ui_locales: Option<String>,
    /// Whether a login without its own `ui_locales` follows `Accept-Language`.
    pub(crate) ui_locales_from_accept_language: bool,
    pub(crate) login_path: String,
    pub(crate) callback_path: String,
    pub(crate) logout_path: String,
    pub(crate) backchannel_logout_path: String,
    pub(crate) post_logout_redirect_uri: Option<Url>,
    /// See [`BankIdConfigBuilder::keep_session_data_at_logout`](super::BankIdConfigBuilder::keep_session_data_at_logout).
    pub(crate) keep_session_data_at_logout: bool,
    pub(crate) minimum_loa: Loa,
    pub(crate) clock_skew: Duration,
    pub(crate) http_timeout: Duration,
    pub(crate) login_attempt_ttl: Duration,
    pub(crate) max_pending_logins: usize,
    pub(crate) max_login_age: Duration,
    pub(crate) session_status: SessionStatusSettings,
    /// The verified-login cache's bounds.
    pub(crate) login_cache: LoginCacheSettings,
    pub(crate) jwks_refresh_cooldown: Duration,
    pub(crate) jwks_max_age_floor: Duration,
    pub(crate) jwks_max_age_ceiling: Duration,
    pub(crate) par: ParMode,
    pub(crate) digest_input: DigestInput,
    /// The statements every login asks for; `permission::upfront` makes
    /// them into the items a login sends, with `digest_input`.
    pub(crate) upfront_permissions: Vec<UpfrontStatement>,
    pub(crate) single_use_grants: bool,
    pub(crate) permission_api: PermissionApiConfig,
    pub(crate) ciba_path: String,
    pub(crate) grant_ttl: Duration,
    pub(crate) discovery_retries: u32,
    pub(crate) discovery_backoff: Duration,
    pub(crate) start_degraded: bool,
    /// BankID's root certificates for the signing keys' `x5c` chains, and
    /// whether the check is on (see `config::key_chain`).
    pub(crate) key_chain: super::key_chain::KeyChainSettings,
}

impl BankIdConfig {
    /// BankID OIDC's issuer URL as configured.
    pub fn issuer(&self) -> &Url {
        &self.issuer
    }

    /// BIB's issuer URL, if configured.
    pub fn bib_issuer(&self) -> Option<&Url> {
        self.bib_issuer.as_ref()
    }

    /// A key every instance of this client derives alike and no client of
    /// the app can know: from the client credentials (the secret, or the
    /// `private_key_jwt` key), domain-separated. Store records that a
    /// client must not be able to name (pending CIBA requests) take their
    /// ids from it. Rotating the credentials orphans such records, which
    /// live for minutes.
    pub(crate) fn record_key(&self) -> [u8; 32] {
        use sha2::Digest;
        let mut hash = sha2::Sha256::new();
        hash.update(b"axum-bankid record key\0");
        hash.update(self.client_id.as_bytes());
        hash.update(b"\0");
        // The same bytes as when a `private_key_jwt` configuration carried
        // an empty secret beside its key, so record ids survive the upgrade.
        match &self.client_auth.0 {
            Credential::SecretBasic(secret) | Credential::SecretPost(secret) => {
                hash.update(secret.expose().as_bytes());
            }
            Credential::PrivateKeyJwt(key) => {
                hash.update(b"\0");
                hash.update(key.fingerprint);
            }
        }
        hash.finalize().into()
    }

    /// The OIDC client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The redirect (callback) URI.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// The login route's path.
    pub fn login_path(&self) -> &str {
        &self.login_path
    }

    /// The callback route's path (the path of the redirect URI).
    pub fn callback_path(&self) -> &str {
        &self.callback_path
    }

    /// The logout route's path.
    pub fn logout_path(&self) -> &str {
        &self.logout_path
    }

    /// The back-channel logout route's path (mounted only when the
    /// provider advertises `backchannel_logout_supported`).
    pub fn backchannel_logout_path(&self) -> &str {
        &self.backchannel_logout_path
    }

    /// The minimum LOA a login must reach.
    pub fn minimum_loa(&self) -> Loa {
        self.minimum_loa
    }
}
