//! Relying-party configuration: a builder and [`BankIdConfig::from_env`].
//!
//! Everything is validated when the configuration is built, so a typo in a
//! URL or a missing secret stops the service at start-up with an error that
//! names the field, instead of failing the first user who tries to log in.

use std::fmt;
use std::time::Duration;

use tower_sessions::{SessionManagerLayer, SessionStore, cookie::SameSite};
use url::Url;

use crate::loa::Loa;
use crate::permission::{DigestInput, Permission, PermissionItem};

const DEFAULT_LOGIN_PATH: &str = "/auth/bankid/login";
const DEFAULT_LOGOUT_PATH: &str = "/auth/bankid/logout";
const DEFAULT_BACKCHANNEL_LOGOUT_PATH: &str = "/auth/bankid/backchannel-logout";

/// How the client authenticates itself at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1). Default.
    #[default]
    SecretBasic,
    /// `client_id` and `client_secret` in the request body.
    SecretPost,
    /// A JWT signed with the client's private key (RFC 7523, OIDC Core §9);
    /// set with [`BankIdConfigBuilder::private_key_jwt`]. No secret travels.
    PrivateKeyJwt,
}

/// The private key for [`ClientAuth::PrivateKeyJwt`]. `Debug` never shows it.
#[derive(Clone)]
pub struct ClientAssertionKey {
    pub(crate) key: jsonwebtoken::EncodingKey,
    pub(crate) kid: Option<String>,
    pub(crate) alg: jsonwebtoken::Algorithm,
    /// SHA-256 of the PEM: key material for [`BankIdConfig::record_key`],
    /// which must be the same on every instance and unknown to clients.
    pub(crate) fingerprint: [u8; 32],
}

impl ClientAssertionKey {
    /// An RSA key (PKCS#1 or PKCS#8 PEM), signing with RS256. `kid` is put in
    /// the JWT header when given (it must match the key registered at BankID).
    pub fn rsa_pem(pem: &[u8], kid: Option<String>) -> Result<Self, ConfigError> {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem)
            .map_err(|_| ConfigError::invalid("private_key_jwt", "not an RSA private key in PEM"))?;
        Ok(ClientAssertionKey { key, kid, alg: jsonwebtoken::Algorithm::RS256, fingerprint: sha256(pem) })
    }

    /// An EC P-256 key (PKCS#8 PEM), signing with ES256.
    pub fn ec_pem(pem: &[u8], kid: Option<String>) -> Result<Self, ConfigError> {
        let key = jsonwebtoken::EncodingKey::from_ec_pem(pem)
            .map_err(|_| ConfigError::invalid("private_key_jwt", "not an EC private key in PEM"))?;
        Ok(ClientAssertionKey { key, kid, alg: jsonwebtoken::Algorithm::ES256, fingerprint: sha256(pem) })
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

impl fmt::Debug for ClientAssertionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAssertionKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

/// When logins use a Pushed Authorization Request (RFC 9126).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ParMode {
    /// Push whenever the provider advertises a PAR endpoint. Default.
    #[default]
    WhenAdvertised,
    /// Always push; start-up fails if the provider has no PAR endpoint.
    Required,
    /// Never push (logins with permissions then fail: BankID accepts
    /// `authorization_details` only in PAR).
    Disabled,
}

/// A BankID environment: both discovery documents at once.
///
/// BankID with biometrics is two OpenID Providers — **BankID OIDC** (the
/// browser code flow and client-credentials tokens) and **BIB** (the
/// Permission API, signed grants and CIBA) — each with its own issuer,
/// discovery document and keys. An environment names both; an explicit
/// [`issuer`](BankIdConfigBuilder::issuer) or
/// [`bib_issuer`](BankIdConfigBuilder::bib_issuer) overrides its half.
///
/// Source: BankID's developer pages and the `appsettings.example.json` of
/// BankID Norway's CIBA integration example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BankIdEnvironment {
    /// BankID's public test environment ("current"; preprod test users).
    Current,
    /// Production.
    Production,
}

impl BankIdEnvironment {
    /// The BankID OIDC issuer (discovery is `{issuer}/.well-known/openid-configuration`).
    pub fn issuer(self) -> &'static str {
        match self {
            BankIdEnvironment::Current => "https://auth.current.bankid.no/auth/realms/current",
            BankIdEnvironment::Production => "https://auth.bankid.no/auth/realms/prod",
        }
    }

    /// The BIB issuer (discovery is `{bib_issuer}/.well-known/openid-configuration`).
    pub fn bib_issuer(self) -> &'static str {
        match self {
            BankIdEnvironment::Current => "https://current.aletheia-test.idtech.no",
            BankIdEnvironment::Production => "https://app.bankid.no",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "current" => Some(BankIdEnvironment::Current),
            "production" => Some(BankIdEnvironment::Production),
            _ => None,
        }
    }
}

/// How the Permission API at BIB is used. Paths are not configurable: they
/// come from BIB's discovery document (`permissions_endpoint`, which ends in
/// `/`; `user-exists` and `{id}/grant` are appended to it, as in BankID's own
/// example client).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PermissionApiConfig {
    /// **A guess.** How a registered permission rides on a code-flow
    /// authorize (or PAR) request is not published by BankID. This crate
    /// sends the registration's `permissionToken` under this parameter name.
    /// Default: `permission_token`. Settle it against BankID "current".
    pub reference_parameter: String,
    /// Scope of the client-credentials token for Permission API calls
    /// (BankID: `openid permissions/client`). Default: that.
    pub scope: String,
    /// How often a grant is asked for before giving up; BankID answers
    /// non-2xx until it is ready (its example client asks 10 times).
    /// Default: 10.
    pub grant_attempts: u32,
    /// Wait before the second request for a grant; doubles after each
    /// further attempt, capped at 2 s. Default: 250 ms.
    pub grant_retry_delay: Duration,
    /// Lifetime of a registered permission (`exp` − `iat` in the register
    /// request; BankID's example uses 600 s). Default: 10 min; 1 s to 1 h.
    pub registration_lifetime: Duration,
}

impl Default for PermissionApiConfig {
    fn default() -> Self {
        PermissionApiConfig {
            reference_parameter: "permission_token".into(),
            scope: "openid permissions/client".into(),
            grant_attempts: 10,
            grant_retry_delay: Duration::from_millis(250),
            registration_lifetime: Duration::from_secs(600),
        }
    }
}

/// A client secret. Its `Debug` output never shows the value.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        ClientSecret(secret.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// A configuration value that is missing or invalid. `field` names the
/// builder method (or, from [`BankIdConfig::from_env`], the variable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required value was not given.
    #[error("missing required setting `{field}`")]
    Missing {
        /// The setting.
        field: &'static str,
    },
    /// A value was given but cannot be used.
    #[error("invalid setting `{field}`: {reason}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// Why it was rejected (never contains a secret).
        reason: String,
    },
}

impl ConfigError {
    /// The setting this error is about.
    pub fn field(&self) -> &'static str {
        match self {
            ConfigError::Missing { field } | ConfigError::Invalid { field, .. } => field,
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid { field, reason: reason.into() }
    }

    fn renamed(self, env: &'static str) -> Self {
        match self {
            ConfigError::Missing { .. } => ConfigError::Missing { field: env },
            ConfigError::Invalid { reason, .. } => ConfigError::Invalid { field: env, reason },
        }
    }
}

/// Validated settings of a BankID relying party. Build it with
/// [`BankIdConfig::builder`] or [`BankIdConfig::from_env`].
#[derive(Debug, Clone)]
pub struct BankIdConfig {
    pub(crate) issuer: Url,
    /// BIB's issuer, when configured (needed by CIBA and the Permission API).
    pub(crate) bib_issuer: Option<Url>,
    pub(crate) client_id: String,
    pub(crate) client_secret: ClientSecret,
    pub(crate) client_auth: ClientAuth,
    pub(crate) client_assertion_key: Option<ClientAssertionKey>,
    pub(crate) redirect_uri: Url,
    pub(crate) scopes: Vec<String>,
    pub(crate) login_hint: Option<String>,
    pub(crate) acr_values: Option<String>,
    pub(crate) login_path: String,
    pub(crate) callback_path: String,
    pub(crate) logout_path: String,
    pub(crate) backchannel_logout_path: String,
    pub(crate) post_logout_redirect_uri: Option<Url>,
    pub(crate) minimum_loa: Loa,
    pub(crate) clock_skew: Duration,
    pub(crate) http_timeout: Duration,
    pub(crate) login_attempt_ttl: Duration,
    pub(crate) max_pending_logins: usize,
    pub(crate) max_login_age: Duration,
    pub(crate) jwks_refresh_cooldown: Duration,
    pub(crate) jwks_max_age_floor: Duration,
    pub(crate) jwks_max_age_ceiling: Duration,
    pub(crate) par: ParMode,
    pub(crate) digest_input: DigestInput,
    pub(crate) upfront_permissions: Vec<PermissionItem>,
    pub(crate) single_use_grants: bool,
    pub(crate) permission_api: PermissionApiConfig,
    pub(crate) ciba_path: String,
    pub(crate) grant_ttl: Duration,
    /// Where login attempts are kept (see `flow::attempt`).
    pub(crate) login_store: crate::store_slot::StoreSlot,
    pub(crate) discovery_retries: u32,
    pub(crate) discovery_backoff: Duration,
    pub(crate) start_degraded: bool,
}

impl BankIdConfig {
    /// Starts a builder. `issuer` (or `environment`), `client_id`,
    /// `client_secret` and `redirect_uri` are required; everything else has a
    /// stated default.
    pub fn builder() -> BankIdConfigBuilder {
        BankIdConfigBuilder::default()
    }

    /// Reads the configuration from the environment:
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `BANKID_ENV` | `current` or `production`: sets both issuers below | unset |
    /// | `BANKID_ISSUER` | BankID OIDC issuer (discovery is `{issuer}/.well-known/openid-configuration`) | required unless `BANKID_ENV` |
    /// | `BANKID_BIB_ISSUER` | BIB issuer, for CIBA and the Permission API | from `BANKID_ENV`, else unset |
    /// | `BANKID_CLIENT_ID` | OIDC client id | required |
    /// | `BANKID_CLIENT_SECRET` | OIDC client secret | required |
    /// | `BANKID_REDIRECT_URI` | absolute callback URL registered at BankID | required |
    /// | `BANKID_SCOPES` | extra scopes, space-separated (`openid` is always sent) | `profile` |
    /// | `BANKID_LOGIN_HINT` | `login_hint` on every login; empty disables | `BIS` |
    /// | `BANKID_ACR_VALUES` | `acr_values` on every login | unset |
    /// | `BANKID_LOGIN_PATH` / `BANKID_LOGOUT_PATH` | route paths | `/auth/bankid/login`, `/auth/bankid/logout` |
    /// | `BANKID_POST_LOGOUT_REDIRECT_URI` | where the provider returns after logout | unset |
    /// | `BANKID_MIN_LOA` | minimum level, 1–4 | `3` |
    /// | `BANKID_CLOCK_SKEW_SECS` | allowed clock skew for `exp`/`iat`/`nbf` | `60` |
    /// | `BANKID_HTTP_TIMEOUT_SECS` | timeout of every call to the provider | `10` |
    /// | `BANKID_CLIENT_AUTH` | `client_secret_basic`, `client_secret_post` or `private_key_jwt` | `client_secret_basic` |
    /// | `BANKID_CLIENT_KEY_FILE`, `BANKID_CLIENT_KEY_ID` | PEM private key and its `kid`, for `private_key_jwt` | unset |
    /// | `BANKID_PAR` | `when_advertised`, `required` or `disabled` | `when_advertised` |
    ///
    /// Errors name the variable.
    pub fn from_env() -> Result<BankIdConfig, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env) but reads variables through
    /// `lookup`, which keeps tests free of process-global state.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<BankIdConfig, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let mut b = BankIdConfig::builder();
        if let Some(v) = get("BANKID_ENV") {
            let env = BankIdEnvironment::parse(&v)
                .ok_or_else(|| ConfigError::invalid("BANKID_ENV", "must be current or production"))?;
            b = b.environment(env);
        }
        if let Some(v) = get("BANKID_ISSUER") {
            b = b.issuer(v);
        }
        if let Some(v) = get("BANKID_BIB_ISSUER") {
            b = b.bib_issuer(v);
        }
        if let Some(v) = get("BANKID_CLIENT_ID") {
            b = b.client_id(v);
        }
        if let Some(v) = get("BANKID_CLIENT_SECRET") {
            b = b.client_secret(v);
        }
        if let Some(v) = get("BANKID_REDIRECT_URI") {
            b = b.redirect_uri(v);
        }
        if let Some(v) = get("BANKID_SCOPES") {
            b = b.scopes(v.split_whitespace());
        }
        if let Some(v) = lookup("BANKID_LOGIN_HINT") {
            b = b.login_hint((!v.is_empty()).then_some(v));
        }
        if let Some(v) = get("BANKID_ACR_VALUES") {
            b = b.acr_values(v);
        }
        if let Some(v) = get("BANKID_LOGIN_PATH") {
            b = b.login_path(v);
        }
        if let Some(v) = get("BANKID_LOGOUT_PATH") {
            b = b.logout_path(v);
        }
        if let Some(v) = get("BANKID_POST_LOGOUT_REDIRECT_URI") {
            b = b.post_logout_redirect_uri(v);
        }
        if let Some(v) = get("BANKID_MIN_LOA") {
            let loa = v.parse::<u8>().ok().and_then(Loa::new);
            b = b.minimum_loa(loa.ok_or_else(|| ConfigError::invalid("BANKID_MIN_LOA", "must be 1, 2, 3 or 4"))?);
        }
        if let Some(v) = get("BANKID_CLOCK_SKEW_SECS") {
            b = b.clock_skew(Duration::from_secs(parse_secs("BANKID_CLOCK_SKEW_SECS", &v)?));
        }
        if let Some(v) = get("BANKID_HTTP_TIMEOUT_SECS") {
            b = b.http_timeout(Duration::from_secs(parse_secs("BANKID_HTTP_TIMEOUT_SECS", &v)?));
        }
        if let Some(v) = get("BANKID_CLIENT_AUTH") {
            b = match v.as_str() {
                "client_secret_basic" => b.client_auth(ClientAuth::SecretBasic),
                "client_secret_post" => b.client_auth(ClientAuth::SecretPost),
                "private_key_jwt" => b.private_key_jwt(key_from_env(&get)?),
                _ => {
                    return Err(ConfigError::invalid(
                        "BANKID_CLIENT_AUTH",
                        "must be client_secret_basic, client_secret_post or private_key_jwt",
                    ));
                }
            };
        }
        if let Some(v) = get("BANKID_PAR") {
            b = b.par(match v.as_str() {
                "when_advertised" => ParMode::WhenAdvertised,
                "required" => ParMode::Required,
                "disabled" => ParMode::Disabled,
                _ => return Err(ConfigError::invalid("BANKID_PAR", "must be when_advertised, required or disabled")),
            });
        }
        b.build().map_err(|err| match ENV_NAMES.iter().find(|(field, _)| *field == err.field()) {
            Some((_, env)) => err.renamed(env),
            None => err,
        })
    }

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
        hash.update(self.client_secret.expose().as_bytes());
        if let Some(key) = &self.client_assertion_key {
            hash.update(b"\0");
            hash.update(key.fingerprint);
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

    /// A [`SessionManagerLayer`] whose cookie works with the BankID redirect:
    /// `SameSite=Lax` (tower-sessions defaults to `Strict`, and a Strict
    /// cookie is not sent on the provider's cross-site redirect back to the
    /// callback, so the login state would be lost), `HttpOnly`, `Path=/`, and
    /// `Secure` with the `__Host-` name prefix whenever the redirect URI is
    /// HTTPS, and an inactivity expiry of
    /// [`max_login_age`](BankIdConfigBuilder::max_login_age) so sessions do
    /// not live for tower-sessions' default two weeks. Use a store that
    /// deletes expired records (e.g. Redis); `MemoryStore` is for tests and demos.
    ///
    /// It also makes `store` the home of login attempts: each is its own
    /// record there, living for
    /// [`login_attempt_ttl`](BankIdConfigBuilder::login_attempt_ttl), so
    /// starting a login creates no session (see
    /// [`BankIdLayer::with_login_store`](crate::BankIdLayer::with_login_store)
    /// for session layers built otherwise).
    pub fn session_layer<S: SessionStore + Clone>(&self, store: S) -> SessionManagerLayer<S> {
        let https = self.redirect_uri.scheme() == "https";
        let name = if https { "__Host-bankid-session" } else { "bankid-session" };
        let inactivity = tower_sessions::cookie::time::Duration::seconds(self.max_login_age.as_secs() as i64);
        // Login attempts live in the same store, outside the session record.
        self.login_store.set(std::sync::Arc::new(store.clone()));
        SessionManagerLayer::new(store)
            .with_expiry(tower_sessions::Expiry::OnInactivity(inactivity))
            .with_name(name)
            .with_same_site(SameSite::Lax)
            .with_http_only(true)
            .with_path("/")
            .with_secure(https)
    }
}

/// The `private_key_jwt` key named by `BANKID_CLIENT_KEY_FILE` (RSA or EC PEM).
fn key_from_env(get: &impl Fn(&str) -> Option<String>) -> Result<ClientAssertionKey, ConfigError> {
    let path = get("BANKID_CLIENT_KEY_FILE").ok_or(ConfigError::Missing { field: "BANKID_CLIENT_KEY_FILE" })?;
    let pem = std::fs::read(&path)
        .map_err(|e| ConfigError::invalid("BANKID_CLIENT_KEY_FILE", format!("cannot be read ({})", e.kind())))?;
    let kid = get("BANKID_CLIENT_KEY_ID");
    ClientAssertionKey::rsa_pem(&pem, kid.clone())
        .or_else(|_| ClientAssertionKey::ec_pem(&pem, kid))
        .map_err(|_| ConfigError::invalid("BANKID_CLIENT_KEY_FILE", "not an RSA or EC private key in PEM"))
}

/// Builder setting → environment variable, so `from_env` errors name the variable.
const ENV_NAMES: [(&str, &str); 14] = [
    ("issuer", "BANKID_ISSUER"),
    ("bib_issuer", "BANKID_BIB_ISSUER"),
    ("client_id", "BANKID_CLIENT_ID"),
    ("client_secret", "BANKID_CLIENT_SECRET"),
    ("private_key_jwt", "BANKID_CLIENT_KEY_FILE"),
    ("redirect_uri", "BANKID_REDIRECT_URI"),
    ("scopes", "BANKID_SCOPES"),
    ("login_hint", "BANKID_LOGIN_HINT"),
    ("login_path", "BANKID_LOGIN_PATH"),
    ("logout_path", "BANKID_LOGOUT_PATH"),
    ("post_logout_redirect_uri", "BANKID_POST_LOGOUT_REDIRECT_URI"),
    ("clock_skew", "BANKID_CLOCK_SKEW_SECS"),
    ("http_timeout", "BANKID_HTTP_TIMEOUT_SECS"),
    ("par", "BANKID_PAR"),
];

fn parse_secs(field: &'static str, value: &str) -> Result<u64, ConfigError> {
    value.parse().map_err(|_| ConfigError::invalid(field, "must be a whole number of seconds"))
}

/// Builder for [`BankIdConfig`]; see each method for its default.
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct BankIdConfigBuilder {
    environment: Option<BankIdEnvironment>,
    issuer: Option<String>,
    bib_issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
    client_auth: ClientAuth,
    client_assertion_key: Option<ClientAssertionKey>,
    redirect_uri: Option<String>,
    scopes: Option<Vec<String>>,
    login_hint: Option<Option<String>>,
    acr_values: Option<String>,
    login_path: Option<String>,
    logout_path: Option<String>,
    backchannel_logout_path: Option<String>,
    post_logout_redirect_uri: Option<String>,
    minimum_loa: Option<Loa>,
    clock_skew: Option<Duration>,
    http_timeout: Option<Duration>,
    login_attempt_ttl: Option<Duration>,
    max_pending_logins: Option<usize>,
    max_login_age: Option<Duration>,
    jwks_refresh_cooldown: Option<Duration>,
    jwks_max_age_floor: Option<Duration>,
    jwks_max_age_ceiling: Option<Duration>,
    par: ParMode,
    digest_input: DigestInput,
    upfront_permissions: Vec<Result<(String, Vec<u8>), ()>>,
    single_use_grants: Option<bool>,
    permission_api: Option<PermissionApiConfig>,
    ciba_path: Option<String>,
    grant_ttl: Option<Duration>,
    discovery_retries: Option<u32>,
    discovery_backoff: Option<Duration>,
    start_degraded: bool,
}

impl BankIdConfigBuilder {
    /// Sets both issuers (BankID OIDC and BIB) to those of a BankID
    /// environment. Explicit [`issuer`](Self::issuer) and
    /// [`bib_issuer`](Self::bib_issuer) override it. Default: none.
    pub fn environment(mut self, environment: BankIdEnvironment) -> Self {
        self.environment = Some(environment);
        self
    }

    /// BankID OIDC's issuer URL, e.g. `https://auth.current.bankid.no/auth/realms/current`.
    /// Required unless [`environment`](Self::environment) is set.
    /// Must be HTTPS, except on a loopback address (the simulator).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// BIB's issuer URL (BankID with biometrics: Permission API, grants,
    /// CIBA), e.g. `https://current.aletheia-test.idtech.no`. Needed only for
    /// CIBA and the Permission API; [`environment`](Self::environment) sets
    /// it. Default: none.
    pub fn bib_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.bib_issuer = Some(issuer.into());
        self
    }

    /// OIDC client id. Required.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// OIDC client secret. Required.
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(ClientSecret::new(secret));
        self
    }

    /// Token endpoint authentication. Default: [`ClientAuth::SecretBasic`].
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = auth;
        self
    }

    /// Authenticates with `private_key_jwt` (RFC 7523) using `key` instead
    /// of a client secret; sets [`ClientAuth::PrivateKeyJwt`].
    pub fn private_key_jwt(mut self, key: ClientAssertionKey) -> Self {
        self.client_assertion_key = Some(key);
        self.client_auth = ClientAuth::PrivateKeyJwt;
        self
    }

    /// Absolute redirect URI registered at the provider. Required. Its path
    /// is the callback route's path.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// Scopes in addition to `openid` (always sent). Default: `profile`.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// `login_hint` sent on every login. Default: `Some("BIS")`, which BankID
    /// asks for on every login with BankID with biometrics. `None` sends none.
    /// A hint carrying personal data (`BID:<nnin>`) is refused, because it
    /// would travel in a plain URL.
    pub fn login_hint(mut self, hint: Option<impl Into<String>>) -> Self {
        self.login_hint = Some(hint.map(Into::into));
        self
    }

    /// `acr_values` sent on every login. Default: none. The token's `acr` is
    /// what is checked, whatever was requested.
    pub fn acr_values(mut self, acr_values: impl Into<String>) -> Self {
        self.acr_values = Some(acr_values.into());
        self
    }

    /// Path of the login route. Default: `/auth/bankid/login`.
    pub fn login_path(mut self, path: impl Into<String>) -> Self {
        self.login_path = Some(path.into());
        self
    }

    /// Path of the (POST) logout route. Default: `/auth/bankid/logout`.
    pub fn logout_path(mut self, path: impl Into<String>) -> Self {
        self.logout_path = Some(path.into());
        self
    }

    /// Path of the back-channel logout route, where the provider posts
    /// logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.5; register
    /// `{your origin}{path}` as the client's `backchannel_logout_uri`).
    /// Mounted only when discovery says `backchannel_logout_supported`.
    /// Default: `/auth/bankid/backchannel-logout`.
    pub fn backchannel_logout_path(mut self, path: impl Into<String>) -> Self {
        self.backchannel_logout_path = Some(path.into());
        self
    }

    /// Absolute URI the provider returns to after logout. Default: none
    /// (the provider's end-session endpoint is then not used).
    pub fn post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uri = Some(uri.into());
        self
    }

    /// Minimum LOA a login must reach, checked at the callback and on every
    /// request. Default: [`Loa::SUBSTANTIAL`] (3).
    pub fn minimum_loa(mut self, loa: Loa) -> Self {
        self.minimum_loa = Some(loa);
        self
    }

    /// Allowed clock difference for `exp`, `iat` and `nbf` (of ID tokens and signed permissions). Default: 60 s; at most 5 min.
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = Some(skew);
        self
    }

    /// Timeout of every HTTP call to the provider (at most 300 s). Default: 10 s.
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = Some(timeout);
        self
    }

    /// How long a started login may take before its callback is refused
    /// (1 s to 1 day; `login_expired`). The attempt's store record and
    /// cookie are kept a minute longer, so that a late callback gets that
    /// answer; nothing else a login start writes outlives it. Default: 10 min.
    pub fn login_attempt_ttl(mut self, ttl: Duration) -> Self {
        self.login_attempt_ttl = Some(ttl);
        self
    }

    /// How many logins one browser may have in flight (several tabs), counted
    /// by its attempt cookies. The oldest is dropped beyond this (its
    /// callback then fails with `unknown_state`). Default: 8.
    pub fn max_pending_logins(mut self, max: usize) -> Self {
        self.max_pending_logins = Some(max);
        self
    }

    /// How long a login stays valid in the session (1 s to 30 days).
    /// Default: 8 h.
    pub fn max_login_age(mut self, age: Duration) -> Self {
        self.max_login_age = Some(age);
        self
    }

    /// Minimum time between two JWKS refetches triggered by tokens — an
    /// unknown `kid`, or a signature that fails with a known `kid` (the
    /// provider may have re-keyed) — so a flood of forged tokens cannot
    /// hammer the provider. Also the wait before retrying a failed refetch of
    /// expired keys. 1 s to 1 h. Default: 60 s.
    pub fn jwks_refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks_refresh_cooldown = Some(cooldown);
        self
    }

    /// The shortest time the provider's keys are trusted before they are
    /// fetched again, whatever the JWKS response's `Cache-Control` says
    /// (`max-age=0`, `no-cache` and `no-store` get this). 1 s to 1 day, at
    /// most [`jwks_max_age_ceiling`](Self::jwks_max_age_ceiling). Default: 60 s.
    pub fn jwks_max_age_floor(mut self, floor: Duration) -> Self {
        self.jwks_max_age_floor = Some(floor);
        self
    }

    /// The longest time the provider's keys are trusted before they are
    /// fetched again: the JWKS response's `Cache-Control: max-age` is
    /// honoured up to this, and a response without one gets this. A key the
    /// provider removes stops verifying within this time. Once the keys are
    /// older, the next login waits for one refetch (shared by concurrent
    /// logins); if the provider cannot be reached, logins fail with
    /// `keys_unavailable` rather than trust the old keys. 1 s to 1 day.
    /// Default: 1 h.
    pub fn jwks_max_age_ceiling(mut self, ceiling: Duration) -> Self {
        self.jwks_max_age_ceiling = Some(ceiling);
        self
    }

    /// Whether logins use PAR. Default: [`ParMode::WhenAdvertised`].
    pub fn par(mut self, mode: ParMode) -> Self {
        self.par = mode;
        self
    }

    /// What `permission_digest` is computed over. Default:
    /// [`DigestInput::StatementBytes`] (see [`crate::permission`] for why this
    /// is configurable).
    pub fn permission_digest_input(mut self, input: DigestInput) -> Self {
        self.digest_input = input;
        self
    }

    /// A permission requested on every login (e.g. read access to accounts).
    /// Repeatable. Default: none. Requires PAR.
    pub fn upfront_permission<P: Permission>(mut self, permission: &P) -> Self {
        crate::permission::assert_upfront_type::<P>();
        self.upfront_permissions.push(serde_json::to_vec(permission).map(|s| (P::TYPE.to_owned(), s)).map_err(|_| ()));
        self
    }

    /// Whether a grant can be used by [`Granted`](crate::Granted) only once
    /// (a payment approval must not be replayed). Default: `true`.
    pub fn single_use_grants(mut self, single_use: bool) -> Self {
        self.single_use_grants = Some(single_use);
        self
    }

    /// How long an approved permission can be used (at most a day). Default: 10 min.
    pub fn grant_ttl(mut self, ttl: Duration) -> Self {
        self.grant_ttl = Some(ttl);
        self
    }

    /// Permission API paths and names. Default: [`PermissionApiConfig::default`].
    pub fn permission_api(mut self, api: PermissionApiConfig) -> Self {
        self.permission_api = Some(api);
        self
    }

    /// Base path of the CIBA routes (only mounted with
    /// [`BankIdLayer::with_ciba`](crate::BankIdLayer::with_ciba)). Default: `/auth/bankid/ciba`.
    pub fn ciba_path(mut self, path: impl Into<String>) -> Self {
        self.ciba_path = Some(path.into());
        self
    }

    /// How many times start-up discovery (metadata and keys, of BankID OIDC
    /// and of BIB) is retried after a failed attempt, at most 20.
    /// Default: 3. `0` fails at the first error, as before this setting
    /// existed. The waits between attempts start at
    /// [`discovery_backoff`](Self::discovery_backoff) and double each time.
    ///
    /// Every error is retried, including a document that is wrong rather
    /// than missing (an issuer mismatch): during a deployment a provider or
    /// proxy can briefly serve a stale or wrong document, and a permanent
    /// misconfiguration still fails after the last attempt.
    pub fn discovery_retries(mut self, retries: u32) -> Self {
        self.discovery_retries = Some(retries);
        self
    }

    /// The first wait between discovery attempts (1 ms to 60 s); each later
    /// wait doubles, up to 60 s. Default: 500 ms.
    pub fn discovery_backoff(mut self, backoff: Duration) -> Self {
        self.discovery_backoff = Some(backoff);
        self
    }

    /// Starts degraded instead of failing when a provider is down at
    /// start-up. Off by default.
    ///
    /// [`BankIdLayer::discover`](crate::BankIdLayer::discover) then returns
    /// after the first attempt, or after one
    /// [`http_timeout`](Self::http_timeout) if that attempt hangs, and a
    /// background task keeps trying,
    /// with the [backoff](Self::discovery_backoff), until every provider is
    /// loaded. Until then the login, callback and CIBA routes answer `503`
    /// with a `Retry-After` header (error kind `provider_unavailable`);
    /// logout and [`AuthenticatedUser`](crate::AuthenticatedUser) on
    /// existing logins keep working, and
    /// [`BankIdLayer::health`](crate::BankIdLayer::health) reports
    /// `ready: false`. Settings the provider must support (PAR for upfront
    /// permissions) are checked when it loads: a provider that lacks them
    /// keeps the layer degraded, with the reason in the log.
    pub fn start_degraded(mut self, degraded: bool) -> Self {
        self.start_degraded = degraded;
        self
    }

    /// Validates every setting.
    pub fn build(self) -> Result<BankIdConfig, ConfigError> {
        let preset = self.environment;
        let issuer = self.issuer.or_else(|| preset.map(|env| env.issuer().to_owned()));
        let issuer = parse_issuer("issuer", issuer.as_deref())?;
        let bib_issuer = self.bib_issuer.or_else(|| preset.map(|env| env.bib_issuer().to_owned()));
        let bib_issuer = bib_issuer.map(|bib| parse_issuer("bib_issuer", Some(&bib))).transpose()?;
        let client_id = required("client_id", self.client_id)?;
        let client_secret = match self.client_auth {
            ClientAuth::PrivateKeyJwt => {
                if self.client_assertion_key.is_none() {
                    return Err(ConfigError::Missing { field: "private_key_jwt" });
                }
                self.client_secret.unwrap_or_else(|| ClientSecret::new(""))
            }
            ClientAuth::SecretBasic | ClientAuth::SecretPost => {
                self.client_secret
                    .filter(|s| !s.expose().is_empty())
                    .ok_or(ConfigError::Missing { field: "client_secret" })?
            }
        };
        let redirect_uri = parse_endpoint("redirect_uri", self.redirect_uri.as_deref())?;
        if redirect_uri.fragment().is_some() {
            return Err(ConfigError::invalid("redirect_uri", "must not have a fragment"));
        }
        let post_logout_redirect_uri = match self.post_logout_redirect_uri.as_deref() {
            Some(uri) => Some(parse_endpoint("post_logout_redirect_uri", Some(uri))?),
            None => None,
        };
        let scopes = validate_scopes(self.scopes.unwrap_or_else(|| vec!["profile".into()]))?;
        let login_hint = validate_login_hint(self.login_hint.unwrap_or(Some("BIS".into())))?;
        let callback_path = redirect_uri.path().to_owned();
        let login_path = validate_path("login_path", self.login_path, DEFAULT_LOGIN_PATH)?;
        let logout_path = validate_path("logout_path", self.logout_path, DEFAULT_LOGOUT_PATH)?;
        if login_path == callback_path || logout_path == callback_path || login_path == logout_path {
            return Err(ConfigError::invalid(
                "login_path",
                "login, logout and callback (redirect_uri) paths must differ",
            ));
        }
        let backchannel_logout_path =
            validate_path("backchannel_logout_path", self.backchannel_logout_path, DEFAULT_BACKCHANNEL_LOGOUT_PATH)?;
        if [&login_path, &callback_path, &logout_path].contains(&&backchannel_logout_path) {
            return Err(ConfigError::invalid(
                "backchannel_logout_path",
                "must differ from the login, logout and callback (redirect_uri) paths",
            ));
        }
        let clock_skew = self.clock_skew.unwrap_or(Duration::from_secs(60));
        if clock_skew > Duration::from_secs(300) {
            return Err(ConfigError::invalid("clock_skew", "must be at most 300 seconds"));
        }
        let http_timeout = self.http_timeout.unwrap_or(Duration::from_secs(10));
        // Bounded so that time arithmetic on it (leases, retries) cannot overflow.
        if http_timeout.is_zero() || http_timeout > Duration::from_secs(300) {
            return Err(ConfigError::invalid("http_timeout", "must be between 1 ms and 300 seconds"));
        }
        let grant_ttl = self.grant_ttl.unwrap_or(Duration::from_secs(600));
        if grant_ttl.is_zero() || grant_ttl > Duration::from_secs(86_400) {
            return Err(ConfigError::invalid("grant_ttl", "must be between 1 second and 1 day"));
        }
        // Bounded so that casts to seconds and time arithmetic cannot wrap.
        let login_attempt_ttl = bounded("login_attempt_ttl", self.login_attempt_ttl, 600, DAY)?;
        let max_login_age = bounded("max_login_age", self.max_login_age, 8 * 3600, 30 * DAY)?;
        let jwks_refresh_cooldown = bounded("jwks_refresh_cooldown", self.jwks_refresh_cooldown, 60, 3600)?;
        let jwks_max_age_floor = bounded("jwks_max_age_floor", self.jwks_max_age_floor, 60, DAY)?;
        let jwks_max_age_ceiling = bounded("jwks_max_age_ceiling", self.jwks_max_age_ceiling, 3600, DAY)?;
        if jwks_max_age_floor > jwks_max_age_ceiling {
            return Err(ConfigError::invalid("jwks_max_age_floor", "must not exceed jwks_max_age_ceiling"));
        }
        let max_pending_logins = self.max_pending_logins.unwrap_or(8);
        if max_pending_logins == 0 {
            return Err(ConfigError::invalid("max_pending_logins", "must be at least 1"));
        }
        let mut upfront_permissions = Vec::new();
        for permission in self.upfront_permissions {
            let (kind, statement) = permission
                .map_err(|()| ConfigError::invalid("upfront_permission", "statement cannot be serialised"))?;
            upfront_permissions.push(PermissionItem::from_statement(&kind, &statement, self.digest_input));
        }
        if !upfront_permissions.is_empty() && self.par == ParMode::Disabled {
            return Err(ConfigError::invalid("par", "upfront permissions need PAR"));
        }
        // The Permission API lives at BIB: asking for it without BIB is a
        // start-up error, not a failure at the first request.
        if self.permission_api.is_some() && bib_issuer.is_none() {
            return Err(ConfigError::Missing { field: "bib_issuer" });
        }
        let permission_api = self.permission_api.unwrap_or_default();
        let ciba_path = validate_path("ciba_path", self.ciba_path, "/auth/bankid/ciba")?;
        validate_permission_api(&permission_api)?;
        let discovery_retries = self.discovery_retries.unwrap_or(3);
        if discovery_retries > 20 {
            return Err(ConfigError::invalid("discovery_retries", "must be at most 20"));
        }
        let discovery_backoff = self.discovery_backoff.unwrap_or(Duration::from_millis(500));
        if discovery_backoff.is_zero() || discovery_backoff > Duration::from_secs(60) {
            return Err(ConfigError::invalid("discovery_backoff", "must be between 1 ms and 60 seconds"));
        }
        Ok(BankIdConfig {
            issuer,
            bib_issuer,
            client_id,
            client_secret,
            client_auth: self.client_auth,
            client_assertion_key: self.client_assertion_key,
            redirect_uri,
            scopes,
            login_hint,
            acr_values: self.acr_values.filter(|v| !v.is_empty()),
            login_path,
            callback_path,
            logout_path,
            backchannel_logout_path,
            post_logout_redirect_uri,
            minimum_loa: self.minimum_loa.unwrap_or(Loa::SUBSTANTIAL),
            clock_skew,
            http_timeout,
            login_attempt_ttl,
            max_pending_logins,
            max_login_age,
            jwks_refresh_cooldown,
            jwks_max_age_floor,
            jwks_max_age_ceiling,
            par: self.par,
            digest_input: self.digest_input,
            upfront_permissions,
            single_use_grants: self.single_use_grants.unwrap_or(true),
            permission_api,
            ciba_path,
            grant_ttl,
            login_store: Default::default(),
            discovery_retries,
            discovery_backoff,
            start_degraded: self.start_degraded,
        })
    }
}

/// Seconds in a day, for the bounds below.
const DAY: u64 = 86_400;

/// A duration setting (default `default_secs`) that must lie between 1 s and
/// `max_secs`; the error names `field`.
fn bounded(
    field: &'static str,
    value: Option<Duration>,
    default_secs: u64,
    max_secs: u64,
) -> Result<Duration, ConfigError> {
    let value = value.unwrap_or(Duration::from_secs(default_secs));
    if value < Duration::from_secs(1) || value > Duration::from_secs(max_secs) {
        return Err(ConfigError::invalid(field, format!("must be between 1 second and {max_secs} seconds")));
    }
    Ok(value)
}

fn validate_permission_api(api: &PermissionApiConfig) -> Result<(), ConfigError> {
    let token = |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_graphic() && !"&=?#\\\"".contains(c));
    if !token(&api.reference_parameter) {
        return Err(ConfigError::invalid("permission_api", "reference_parameter must be a plain parameter name"));
    }
    if validate_scopes(api.scope.split_whitespace().map(str::to_owned).collect()).is_err() {
        return Err(ConfigError::invalid("permission_api", "scope must be space-separated scope tokens"));
    }
    if !(1..=60).contains(&api.grant_attempts) {
        return Err(ConfigError::invalid("permission_api", "grant_attempts must be between 1 and 60"));
    }
    if api.grant_retry_delay > Duration::from_secs(10) {
        return Err(ConfigError::invalid("permission_api", "grant_retry_delay must be at most 10 seconds"));
    }
    let lifetime = api.registration_lifetime;
    if lifetime < Duration::from_secs(1) || lifetime > Duration::from_secs(3600) {
        return Err(ConfigError::invalid("permission_api", "registration_lifetime must be between 1 s and 1 h"));
    }
    Ok(())
}

/// An issuer: an endpoint URL without query or fragment.
fn parse_issuer(field: &'static str, value: Option<&str>) -> Result<Url, ConfigError> {
    let issuer = parse_endpoint(field, value)?;
    if issuer.query().is_some() || issuer.fragment().is_some() {
        return Err(ConfigError::invalid(field, "must not have a query or fragment"));
    }
    Ok(issuer)
}

fn required(field: &'static str, value: Option<String>) -> Result<String, ConfigError> {
    value.filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing { field })
}

/// Parses an absolute http(s) URL; plain HTTP only on loopback hosts, so a
/// misconfigured production deployment cannot talk to BankID in clear text.
fn parse_endpoint(field: &'static str, value: Option<&str>) -> Result<Url, ConfigError> {
    let value = value.filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing { field })?;
    let url = Url::parse(value).map_err(|err| ConfigError::invalid(field, format!("not an absolute URL ({err})")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(ConfigError::invalid(field, "must use https (http is only allowed on loopback)")),
        other => return Err(ConfigError::invalid(field, format!("unsupported scheme `{other}`"))),
    }
    if url.host().is_none() {
        return Err(ConfigError::invalid(field, "must have a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::invalid(field, "must not contain credentials"));
    }
    Ok(url)
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn validate_scopes(scopes: Vec<String>) -> Result<Vec<String>, ConfigError> {
    let mut out = vec!["openid".to_owned()];
    for scope in scopes {
        let valid = !scope.is_empty() && scope.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
        if !valid {
            return Err(ConfigError::invalid(
                "scopes",
                format!("`{}` is not a valid scope token", scope.escape_debug()),
            ));
        }
        if !out.contains(&scope) {
            out.push(scope);
        }
    }
    Ok(out)
}

fn validate_login_hint(hint: Option<String>) -> Result<Option<String>, ConfigError> {
    match hint {
        Some(h) if h.contains(':') => {
            Err(ConfigError::invalid("login_hint", "a hint with a user id must not travel in a plain URL; use PAR"))
        }
        Some(h) if h.is_empty() || !h.chars().all(|c| c.is_ascii_alphanumeric()) => {
            Err(ConfigError::invalid("login_hint", "must be an IDP code such as BIS or BID"))
        }
        other => Ok(other),
    }
}

fn validate_path(field: &'static str, value: Option<String>, default: &str) -> Result<String, ConfigError> {
    let path = value.unwrap_or_else(|| default.to_owned());
    let valid = path.starts_with('/')
        && !path.starts_with("//")
        && path.chars().all(|c| c.is_ascii_graphic() && c != '?' && c != '#' && c != '\\');
    if valid { Ok(path) } else { Err(ConfigError::invalid(field, "must be an absolute path like /auth/bankid/login")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> BankIdConfigBuilder {
        BankIdConfig::builder()
            .issuer("https://auth.current.bankid.no/auth/realms/current")
            .client_id("client")
            .client_secret("s3cret")
            .redirect_uri("https://app.example/auth/bankid/callback")
    }

    #[test]
    fn builds_with_secure_defaults() {
        let config = valid().build().unwrap();
        assert_eq!(config.scopes, ["openid", "profile"]);
        assert_eq!(config.login_hint.as_deref(), Some("BIS"));
        assert_eq!(config.minimum_loa, Loa::SUBSTANTIAL);
        assert_eq!(config.callback_path, "/auth/bankid/callback");
        assert_eq!(config.login_path, "/auth/bankid/login");
        assert_eq!(config.client_auth, ClientAuth::SecretBasic);
    }

    #[test]
    fn missing_fields_are_named() {
        let cases = [
            (BankIdConfig::builder().client_id("c").client_secret("s").redirect_uri("https://a.example/cb"), "issuer"),
            (valid().client_secret(""), "client_secret"),
            (
                BankIdConfig::builder()
                    .issuer("https://i.example")
                    .client_secret("s")
                    .redirect_uri("https://a.example/cb"),
                "client_id",
            ),
            (BankIdConfig::builder().issuer("https://i.example").client_id("c").client_secret("s"), "redirect_uri"),
        ];
        for (builder, field) in cases {
            assert_eq!(builder.build().unwrap_err(), ConfigError::Missing { field });
        }
    }

    #[test]
    fn invalid_values_are_named() {
        let cases = [
            (valid().issuer("not a url"), "issuer"),
            (valid().issuer("http://auth.bankid.example"), "issuer"),
            (valid().issuer("ftp://auth.bankid.example"), "issuer"),
            (valid().redirect_uri("/auth/bankid/callback"), "redirect_uri"),
            (valid().redirect_uri("http://app.example/cb"), "redirect_uri"),
            (valid().redirect_uri("https://app.example/cb#x"), "redirect_uri"),
            (valid().redirect_uri("https://user:pw@app.example/cb"), "redirect_uri"),
            (valid().post_logout_redirect_uri("relative"), "post_logout_redirect_uri"),
            (valid().scopes(["profile", "bad scope"]), "scopes"),
            (valid().login_hint(Some("BID:01010112345")), "login_hint"),
            (valid().login_path("auth/login"), "login_path"),
            (valid().logout_path("//evil.example"), "logout_path"),
            (valid().login_path("/auth/bankid/callback"), "login_path"),
            (valid().http_timeout(Duration::ZERO), "http_timeout"),
            (valid().http_timeout(Duration::MAX), "http_timeout"),
            (valid().grant_ttl(Duration::ZERO), "grant_ttl"),
            (valid().grant_ttl(Duration::from_secs(u64::MAX)), "grant_ttl"),
            (valid().login_attempt_ttl(Duration::ZERO), "login_attempt_ttl"),
            (valid().login_attempt_ttl(Duration::from_secs(u64::MAX)), "login_attempt_ttl"),
            (valid().max_login_age(Duration::from_millis(999)), "max_login_age"),
            (valid().max_login_age(Duration::from_secs(u64::MAX)), "max_login_age"),
            (valid().max_login_age(Duration::from_secs(30 * 86_400 + 1)), "max_login_age"),
            (valid().jwks_refresh_cooldown(Duration::ZERO), "jwks_refresh_cooldown"),
            (valid().jwks_refresh_cooldown(Duration::from_secs(u64::MAX)), "jwks_refresh_cooldown"),
            (valid().jwks_max_age_floor(Duration::ZERO), "jwks_max_age_floor"),
            (valid().jwks_max_age_floor(Duration::from_secs(u64::MAX)), "jwks_max_age_floor"),
            (valid().jwks_max_age_ceiling(Duration::ZERO), "jwks_max_age_ceiling"),
            (valid().jwks_max_age_ceiling(Duration::from_secs(u64::MAX)), "jwks_max_age_ceiling"),
            (
                valid().jwks_max_age_floor(Duration::from_secs(600)).jwks_max_age_ceiling(Duration::from_secs(60)),
                "jwks_max_age_floor",
            ),
            (valid().clock_skew(Duration::from_secs(3600)), "clock_skew"),
            (valid().max_pending_logins(0), "max_pending_logins"),
        ];
        for (builder, field) in cases {
            let err = builder.build().unwrap_err();
            assert!(matches!(err, ConfigError::Invalid { .. }), "{err:?}");
            assert_eq!(err.field(), field, "{err}");
        }
    }

    #[test]
    fn private_key_jwt_needs_a_key_not_a_secret() {
        let err = BankIdConfig::builder()
            .issuer("https://i.example")
            .client_id("c")
            .redirect_uri("https://a.example/cb")
            .client_auth(ClientAuth::PrivateKeyJwt)
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::Missing { field: "private_key_jwt" });
        assert_eq!(ClientAssertionKey::rsa_pem(b"not a key", None).unwrap_err().field(), "private_key_jwt");
        let err = BankIdConfig::from_lookup(|k| match k {
            "BANKID_CLIENT_AUTH" => Some("private_key_jwt".into()),
            "BANKID_CLIENT_KEY_FILE" => Some("/nonexistent/key.pem".into()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(err.field(), "BANKID_CLIENT_KEY_FILE");
    }

    #[test]
    fn http_is_allowed_on_loopback_only() {
        let config = valid().issuer("http://127.0.0.1:8080").redirect_uri("http://localhost:3000/cb").build().unwrap();
        assert_eq!(config.callback_path, "/cb");
    }

    #[test]
    fn from_env_names_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let err = BankIdConfig::from_lookup(env(&[
            ("BANKID_ISSUER", "https://i.example"),
            ("BANKID_CLIENT_ID", "c"),
            ("BANKID_REDIRECT_URI", "https://a.example/cb"),
        ]))
        .unwrap_err();
        assert_eq!(err, ConfigError::Missing { field: "BANKID_CLIENT_SECRET" });

        let err = BankIdConfig::from_lookup(env(&[
            ("BANKID_ISSUER", "https://i.example"),
            ("BANKID_CLIENT_ID", "c"),
            ("BANKID_CLIENT_SECRET", "s"),
            ("BANKID_REDIRECT_URI", "cb"),
        ]))
        .unwrap_err();
        assert_eq!(err.field(), "BANKID_REDIRECT_URI");

        let err = BankIdConfig::from_lookup(env(&[("BANKID_MIN_LOA", "5")])).unwrap_err();
        assert_eq!(err.field(), "BANKID_MIN_LOA");

        let config = BankIdConfig::from_lookup(env(&[
            ("BANKID_ISSUER", "https://i.example"),
            ("BANKID_CLIENT_ID", "c"),
            ("BANKID_CLIENT_SECRET", "s"),
            ("BANKID_REDIRECT_URI", "https://a.example/cb"),
            ("BANKID_LOGIN_HINT", ""),
            ("BANKID_MIN_LOA", "4"),
            ("BANKID_SCOPES", "profile nnin_altsub"),
            ("BANKID_CLIENT_AUTH", "client_secret_post"),
        ]))
        .unwrap();
        assert_eq!(config.login_hint, None);
        assert_eq!(config.minimum_loa, Loa::HIGH);
        assert_eq!(config.scopes, ["openid", "profile", "nnin_altsub"]);
        assert_eq!(config.client_auth, ClientAuth::SecretPost);
    }

    #[test]
    fn an_environment_sets_both_issuers_and_explicit_ones_win() {
        let base = || BankIdConfig::builder().client_id("c").client_secret("s").redirect_uri("https://a.example/cb");
        let config = base().environment(BankIdEnvironment::Current).build().unwrap();
        assert_eq!(config.issuer.as_str(), "https://auth.current.bankid.no/auth/realms/current");
        assert_eq!(config.bib_issuer.as_ref().unwrap().as_str(), "https://current.aletheia-test.idtech.no/");
        let config =
            base().environment(BankIdEnvironment::Production).bib_issuer("https://bib.example").build().unwrap();
        assert_eq!(config.issuer.as_str(), "https://auth.bankid.no/auth/realms/prod");
        assert_eq!(config.bib_issuer.as_ref().unwrap().as_str(), "https://bib.example/");
        assert_eq!(base().build().unwrap_err(), ConfigError::Missing { field: "issuer" });
        assert_eq!(valid().build().unwrap().bib_issuer, None);
        assert_eq!(valid().bib_issuer("http://bib.example").build().unwrap_err().field(), "bib_issuer");

        let env = |k: &str| match k {
            "BANKID_ENV" => Some("production".to_owned()),
            "BANKID_CLIENT_ID" => Some("c".into()),
            "BANKID_CLIENT_SECRET" => Some("s".into()),
            "BANKID_REDIRECT_URI" => Some("https://a.example/cb".into()),
            _ => None,
        };
        let config = BankIdConfig::from_lookup(env).unwrap();
        assert_eq!(config.bib_issuer.unwrap().as_str(), "https://app.bankid.no/");
        let err = BankIdConfig::from_lookup(|k| (k == "BANKID_ENV").then(|| "preprod".to_owned())).unwrap_err();
        assert_eq!(err.field(), "BANKID_ENV");
        let err = BankIdConfig::from_lookup(|k| match k {
            "BANKID_BIB_ISSUER" => Some("nope".to_owned()),
            _ => env(k),
        })
        .unwrap_err();
        assert_eq!(err.field(), "BANKID_BIB_ISSUER");
    }

    #[test]
    fn permission_api_settings_need_bib() {
        let err = valid().permission_api(PermissionApiConfig::default()).build().unwrap_err();
        assert_eq!(err, ConfigError::Missing { field: "bib_issuer" });
    }

    #[test]
    fn permission_api_settings_are_bounded() {
        for api in [
            PermissionApiConfig { reference_parameter: "a&b".into(), ..Default::default() },
            PermissionApiConfig { scope: "bad\"scope".into(), ..Default::default() },
            PermissionApiConfig { grant_attempts: 0, ..Default::default() },
            PermissionApiConfig { grant_retry_delay: Duration::MAX, ..Default::default() },
            PermissionApiConfig { registration_lifetime: Duration::from_secs(86_400), ..Default::default() },
        ] {
            let builder = valid().bib_issuer("https://bib.example").permission_api(api);
            assert_eq!(builder.build().unwrap_err().field(), "permission_api");
        }
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let config = valid().client_secret("super-secret-value").build().unwrap();
        assert!(!format!("{config:?}").contains("super-secret-value"));
    }
}
