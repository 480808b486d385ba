//! [`BankIdConfigBuilder`]: every setting, its default, and `build`.

use std::time::Duration;

use url::Url;

use super::client_auth::ClientAuth;
use super::environment::BankIdEnvironment;
use super::error::ConfigError;
use super::idp::IdentityProvider;
use super::key_chain::{KeyChainSettings, RootSource, key_chain_settings};
use super::login_cache::{LoginCacheSettings, login_cache_settings};
use super::par::ParMode;
use super::permission_api::{DigestInput, PermissionApiConfig, UpfrontStatement};
use super::session_status::{SessionStatusSettings, session_status_settings};
use super::settings::BankIdConfig;
use super::validate::{
    DAY, bounded, parse_endpoint, parse_issuer, required, validate_acr_values, validate_login_hint, validate_path,
    validate_permission_api, validate_scopes, validate_ui_locales,
};
use crate::loa::Loa;

const DEFAULT_LOGIN_PATH: &str = "/auth/bankid/login";
const DEFAULT_LOGOUT_PATH: &str = "/auth/bankid/logout";
const DEFAULT_BACKCHANNEL_LOGOUT_PATH: &str = "/auth/bankid/backchannel-logout";

impl BankIdConfig {
    /// Starts a builder. `issuer` (or `environment`), `client_id`,
    /// `client_secret` and `redirect_uri` are required; everything else has a
    /// stated default.
    pub fn builder() -> BankIdConfigBuilder {
        BankIdConfigBuilder::default()
    }
}

/// What the app said about a selector (`login_hint`, `acr_values`):
/// nothing (the default), "send none", or a value. Three states, named,
/// rather than `Option<Option<_>>`.
#[derive(Debug, Default, Clone)]
enum Choice {
    #[default]
    Default,
    Omit,
    Send(String),
}

impl Choice {
    fn of(value: Option<String>) -> Self {
        match value {
            Some(value) => Choice::Send(value),
            None => Choice::Omit,
        }
    }

    /// The value to validate: `default` for [`Choice::Default`].
    fn resolve(self, default: impl FnOnce() -> Option<String>) -> Option<String> {
        match self {
            Choice::Default => default(),
            Choice::Omit => None,
            Choice::Send(value) => Some(value),
        }
    }
}

/// Builder for [`BankIdConfig`]; see each method for its default.
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct BankIdConfigBuilder {
    environment: Option<BankIdEnvironment>,
    issuer: Option<String>,
    bib_issuer: Option<String>,
    client_id: Option<String>,
    client_auth: Option<ClientAuth>,
    redirect_uri: Option<String>,
    scopes: Option<Vec<String>>,
    login_hint: Choice,
    acr_values: Choice,
    ui_locales: Option<String>,
    ui_locales_from_accept_language: bool,
    login_path: Option<String>,
    logout_path: Option<String>,
    backchannel_logout_path: Option<String>,
    post_logout_redirect_uri: Option<String>,
    keep_session_data_at_logout: bool,
    minimum_loa: Option<Loa>,
    clock_skew: Option<Duration>,
    http_timeout: Option<Duration>,
    login_attempt_ttl: Option<Duration>,
    max_pending_logins: Option<usize>,
    max_login_age: Option<Duration>,
    idle_timeout: Option<Duration>,
    session_status_path: Option<String>,
    session_status_identity: bool,
    login_cache_ttl: Option<Duration>,
    login_cache_max_entries: Option<usize>,
    login_cache_max_bytes: Option<usize>,
    jwks_refresh_cooldown: Option<Duration>,
    jwks_max_age_floor: Option<Duration>,
    jwks_max_age_ceiling: Option<Duration>,
    par: ParMode,
    digest_input: DigestInput,
    upfront_permissions: Vec<Result<UpfrontStatement, ()>>,
    single_use_grants: Option<bool>,
    permission_api: Option<PermissionApiConfig>,
    permission_type_scopes: Vec<(String, Vec<String>)>,
    ciba_path: Option<String>,
    grant_ttl: Option<Duration>,
    discovery_retries: Option<u32>,
    discovery_backoff: Option<Duration>,
    start_degraded: bool,
    // The signing keys' certificate chains (`config::key_chain`).
    root_certificates: Option<RootSource>,
    key_chain_check: Option<bool>,
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

    /// OIDC client secret, sent with `client_secret_basic`: short for
    /// [`client_auth`](Self::client_auth)`(`[`ClientAuth::client_secret_basic`]`(secret))`.
    /// One of the two is required; the later call wins.
    pub fn client_secret(self, secret: impl Into<String>) -> Self {
        self.client_auth(ClientAuth::client_secret_basic(secret))
    }

    /// How the client authenticates at the token endpoint, with its secret
    /// or key: [`ClientAuth::client_secret_basic`],
    /// [`ClientAuth::client_secret_post`] or [`ClientAuth::private_key_jwt`].
    /// Required, unless [`client_secret`](Self::client_secret) is used; the
    /// later call wins. Missing (or an empty secret): `Missing { field: "client_secret" }`.
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = Some(auth);
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

    /// The legacy `login_hint` code sent beside `acr_values`: `Some("BIS")`
    /// or `Some("BID")`. Default: none.
    ///
    /// BankID OIDC API v4 selects the identity provider with `acr_values`
    /// and keeps `login_hint=BIS`/`BID` as a legacy alternative, so the
    /// crate sends only the standard selector unless asked. Opt in when an
    /// integration still expects the hint BIB's getting-started page shows.
    /// A login that picks its own level (a step-up, a permission flow)
    /// sends the code of the provider it selects instead. Refused at
    /// `build`: a hint with a user id (`BID:<nnin>`: BankID accepts one only
    /// through PAR, per login, with
    /// [`BankIdSession::login`](crate::BankIdSession::login)`().login_hint(..)`), any other code, a level below [`minimum_loa`](Self::minimum_loa), and a
    /// provider other than the first `acr_values` entry's.
    pub fn login_hint(mut self, hint: Option<impl Into<String>>) -> Self {
        self.login_hint = Choice::of(hint.map(Into::into));
        self
    }

    /// `acr_values` sent on every login: space-separated BankID identity
    /// providers, `urn:bankid:bis` (BankID with biometrics, LOA 3) and/or
    /// `urn:bankid:bid` (BankID High, LOA 4), the first preferred.
    /// Default: the provider that reaches [`minimum_loa`](Self::minimum_loa)
    /// — `urn:bankid:bid` for LOA 4, else `urn:bankid:bis`. `None` sends
    /// none (the provider then lets the user choose). A provider below
    /// `minimum_loa` or an unknown value is refused at `build`. A login
    /// that picks its own level replaces it; a flow with upfront permissions
    /// always sends `urn:bankid:bis`, which routes it to the provider that
    /// serves the Permission API. The token's `acr` is what is checked,
    /// whatever was requested.
    pub fn acr_values(mut self, acr_values: Option<impl Into<String>>) -> Self {
        self.acr_values = Choice::of(acr_values.map(Into::into));
        self
    }

    /// `ui_locales` sent on every login that names none itself: the
    /// language(s) of BankID's pages, as space-separated BCP 47 tags in
    /// order of preference, e.g. `nb` or `en` (BankID documents `no`/`nb`
    /// and `en`). At most 4 tags. Default: none (BankID's own default).
    pub fn ui_locales(mut self, ui_locales: impl Into<String>) -> Self {
        self.ui_locales = Some(ui_locales.into());
        self
    }

    /// Whether a login that names no `ui_locales` itself asks BankID for the
    /// language the browser prefers (`Accept-Language`: `nb`, or `en`;
    /// Nynorsk readers get `nb`, BankID has no `nn`), before the configured
    /// [`ui_locales`](Self::ui_locales). Default: `false`.
    pub fn ui_locales_from_accept_language(mut self, enabled: bool) -> Self {
        self.ui_locales_from_accept_language = enabled;
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

    /// Whether logout keeps the application's own session data (a basket,
    /// preferences) for the anonymous visitor after the user. Default:
    /// `false` — logout ends the whole session (its record and its cookie),
    /// so nothing the user left behind reaches whoever uses the browser
    /// next. Turn it on only for data meant to outlive a login; a later
    /// login by another person still starts from an empty session.
    pub fn keep_session_data_at_logout(mut self, keep: bool) -> Self {
        self.keep_session_data_at_logout = keep;
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

    /// Ends a login after this long without an authenticated request (1 s
    /// up to `max_login_age`), next to `max_login_age`'s absolute limit.
    /// Every request an extractor lets through extends it, and so does a
    /// `POST` to the [session status route](Self::session_status_path);
    /// reading the status does not. The deadline moves in steps of a tenth
    /// of the timeout (at most a minute), so an active user costs at most
    /// one store write a minute, and each authenticated request one store
    /// read — none while the login is in the verified-login cache and the
    /// deadline needs no move. Default: none (only `max_login_age` ends a
    /// login).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Where the layer answers `GET` with the session's status (JSON,
    /// `no-store`: whether a login exists, its level, `auth_time`, when it
    /// ends and when it ends if idle) and `POST` by extending the idle
    /// deadline, so a page can warn before an idle logout (WCAG 2.2.1).
    /// Default: `/auth/bankid/session`.
    pub fn session_status_path(mut self, path: impl Into<String>) -> Self {
        self.session_status_path = Some(path.into());
        self
    }

    /// Whether the session status route also shows who is logged in (the
    /// `sub`). Default: `false` (no identity data in it).
    pub fn session_status_identity(mut self, shows: bool) -> Self {
        self.session_status_identity = shows;
        self
    }

    /// How long this instance may let a request through on its own copy of
    /// the session's verified login, without reading the session store
    /// (0 to 60 s; zero turns the cache off). Default: 2 s.
    ///
    /// The copy is exact on the instance that holds it: a logout, a new
    /// login, a step-up, a session id rotation or a back-channel logout
    /// received here ends it before the next request, and every request
    /// still checks the minimum LOA, `max_login_age` and the idle timeout.
    /// What another instance sharing the store did (a logout, a
    /// back-channel logout it received) is seen here within this time.
    /// Only a layer made by
    /// [`BankIdLayer::with_session_store`](crate::BankIdLayer::with_session_store)
    /// caches: it sees every read and write its session layer makes, and
    /// every cache of the process hears every layer's writes (two layers on
    /// one store share logouts at once). The session
    /// record's own inactivity expiry (tower-sessions') moves when the
    /// session is saved, with or without the cache; the
    /// [`idle_timeout`](Self::idle_timeout) is kept exactly.
    pub fn login_cache_ttl(mut self, ttl: Duration) -> Self {
        self.login_cache_ttl = Some(ttl);
        self
    }

    /// The most logins the cache keeps (at least 16; the least recently
    /// useful go first). Default: 50,000.
    pub fn login_cache_max_entries(mut self, max: usize) -> Self {
        self.login_cache_max_entries = Some(max);
        self
    }

    /// The most memory, in bytes, the cached logins may take (at least 64
    /// KiB), each charged three times its stored size (4–10 kB). Default:
    /// 64 MiB.
    pub fn login_cache_max_bytes(mut self, max: usize) -> Self {
        self.login_cache_max_bytes = Some(max);
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

    /// Keeps an upfront permission as its type and statement bytes, or
    /// `Err` when its statement could not be serialised (which `build`
    /// reports). The public, typed method, `upfront_permission`, is in
    /// `permission/upfront.rs`, beside the `Permission` trait it takes.
    pub(crate) fn upfront_statement(mut self, statement: Result<UpfrontStatement, ()>) -> Self {
        self.upfront_permissions.push(statement);
        self
    }

    /// Whether a grant can be used by [`Granted`](crate::permission::Granted) only once
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

    /// The product scopes a permission type's client-credentials token
    /// needs (Permission API and CIBA calls about such a permission), added
    /// to the base scope; replaces the type's entry. Default table: `text.v1`
    /// → `permissions/text` (BankID's). E.g.
    /// `.permission_type_scopes("card.v1", ["permissions/card"])` for a
    /// product BankID enabled with its own scope.
    pub fn permission_type_scopes<I, S>(mut self, kind: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.permission_type_scopes.push((kind.into(), scopes.into_iter().map(Into::into).collect()));
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
    /// Default: 3. `0` fails at the first error. The waits between attempts start at
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

    /// BankID's root certificates, in PEM (one or more `CERTIFICATE`
    /// blocks): every signing key of BankID OIDC must then carry an `x5c`
    /// chain that builds to one of them, or it is not used (BankID's
    /// token-validation requirement; see [`docs::production`](crate::docs::production),
    /// "Signing keys and BankID's root certificates"). Download them from BankID for the
    /// environment you use. Parsed by [`build`](Self::build): no
    /// certificate, a certificate that is not a CA, or one outside its
    /// validity period is `Invalid { field: "root_certificates" }`. The
    /// later of this and [`root_certificates_file`](Self::root_certificates_file)
    /// wins. Default: none — required with the production environment
    /// unless [`key_chain_check`](Self::key_chain_check) is `false`.
    pub fn root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates = Some(RootSource::Pem(pem.into()));
        self
    }

    /// Like [`root_certificates_pem`](Self::root_certificates_pem), read
    /// from this file when the configuration is built
    /// (`BANKID_ROOT_CERTS_FILE`).
    pub fn root_certificates_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.root_certificates = Some(RootSource::File(path.into()));
        self
    }

    /// Whether signing keys must chain to BankID's root certificates.
    /// Default: `true`, which checks every key when
    /// [root certificates](Self::root_certificates_pem) are configured and,
    /// without them, refuses to build for BankID's production environment
    /// (`Missing { field: "root_certificates" }`) and elsewhere trusts the
    /// keys by TLS alone, with a `warn` at start-up. `false` switches the
    /// check off, also in production (logged at `warn` on every start);
    /// with root certificates configured as well it is a contradiction
    /// (`Invalid { field: "key_chain_check" }`). `BANKID_KEY_CHAIN_CHECK`
    /// (`on` / `off`).
    pub fn key_chain_check(mut self, enabled: bool) -> Self {
        self.key_chain_check = Some(enabled);
        self
    }

    /// Validates every setting, in the order the checks below are listed:
    /// the first setting that fails is the one the error names.
    pub fn build(mut self) -> Result<BankIdConfig, ConfigError> {
        let client = self.check_client()?;
        let selectors = self.check_selectors()?;
        let routes = self.check_routes(&client.redirect_uri)?;
        let limits = self.check_limits()?;
        let permissions = self.check_permissions(client.bib_issuer.is_some())?;
        let session_status = self.check_session_status(&routes, &limits, &permissions)?;
        let startup = self.check_startup(&client)?;
        Ok(self.assemble(Checked { client, selectors, routes, limits, permissions, session_status, startup }))
    }
}

/// The settings `build` has checked, by concern. Each group is checked by
/// one method below, which takes its raw values out of the builder; the
/// groups run in the order `build` lists them, so the error still names the
/// first setting that fails.
struct Checked {
    client: Client,
    selectors: Selectors,
    routes: Routes,
    limits: Limits,
    permissions: Permissions,
    session_status: SessionStatusSettings,
    startup: Startup,
}

/// Who the client is and where the providers and the app are.
struct Client {
    issuer: Url,
    bib_issuer: Option<Url>,
    client_id: String,
    client_auth: ClientAuth,
    redirect_uri: Url,
    post_logout_redirect_uri: Option<Url>,
    scopes: Vec<String>,
}

/// What every login asks for: the level and the identity-provider selectors.
struct Selectors {
    minimum_loa: Loa,
    acr_values: Option<String>,
    login_hint: Option<String>,
    ui_locales: Option<String>,
}

/// The routes' paths (the callback's is the redirect URI's).
struct Routes {
    login_path: String,
    callback_path: String,
    logout_path: String,
    backchannel_logout_path: String,
}

/// Time limits, cache bounds and the pending-login cap.
struct Limits {
    clock_skew: Duration,
    http_timeout: Duration,
    grant_ttl: Duration,
    login_attempt_ttl: Duration,
    max_login_age: Duration,
    jwks_refresh_cooldown: Duration,
    jwks_max_age_floor: Duration,
    jwks_max_age_ceiling: Duration,
    max_pending_logins: usize,
    login_cache: LoginCacheSettings,
}

/// Upfront permissions, the Permission API and CIBA's route.
struct Permissions {
    upfront_permissions: Vec<UpfrontStatement>,
    permission_api: PermissionApiConfig,
    ciba_path: String,
}

/// How the providers are trusted and loaded at start-up.
struct Startup {
    key_chain: KeyChainSettings,
    discovery_retries: u32,
    discovery_backoff: Duration,
}

impl BankIdConfigBuilder {
    /// The issuers, the client's identity and credential, its URLs, scopes.
    fn check_client(&mut self) -> Result<Client, ConfigError> {
        let (issuer, bib_issuer) = issuers(self.issuer.take(), self.bib_issuer.take(), self.environment)?;
        let client_id = required("client_id", self.client_id.take())?;
        let client_auth = client_auth_with_credential(self.client_auth.take())?;
        let redirect_uri = redirect_uri(self.redirect_uri.as_deref())?;
        let post_logout_redirect_uri = post_logout_redirect_uri(self.post_logout_redirect_uri.as_deref())?;
        let scopes = validate_scopes(self.scopes.take().unwrap_or_else(|| vec!["profile".into()]))?;
        Ok(Client { issuer, bib_issuer, client_id, client_auth, redirect_uri, post_logout_redirect_uri, scopes })
    }

    /// `minimum_loa`, then the selectors, none of which may ask below it.
    fn check_selectors(&mut self) -> Result<Selectors, ConfigError> {
        let minimum_loa = self.minimum_loa.unwrap_or(Loa::SUBSTANTIAL);
        let default_acr = || Some(IdentityProvider::for_level(minimum_loa).acr_value.to_owned());
        let acr_values = validate_acr_values(std::mem::take(&mut self.acr_values).resolve(default_acr), minimum_loa)?;
        let login_hint = std::mem::take(&mut self.login_hint).resolve(|| None);
        let login_hint = validate_login_hint(login_hint, minimum_loa, acr_values.as_deref())?;
        let ui_locales = validate_ui_locales(self.ui_locales.take())?;
        Ok(Selectors { minimum_loa, acr_values, login_hint, ui_locales })
    }

    /// The routes' paths, all different.
    fn check_routes(&mut self, redirect_uri: &Url) -> Result<Routes, ConfigError> {
        let callback_path = redirect_uri.path().to_owned();
        let (login_path, logout_path) =
            login_and_logout_paths(self.login_path.take(), self.logout_path.take(), &callback_path)?;
        let others = [&login_path, &callback_path, &logout_path];
        let backchannel_logout_path = backchannel_logout_path(self.backchannel_logout_path.take(), others)?;
        Ok(Routes { login_path, callback_path, logout_path, backchannel_logout_path })
    }

    /// Every duration, bounded so that casts to seconds and time arithmetic
    /// cannot wrap, and the pending-login cap.
    fn check_limits(&mut self) -> Result<Limits, ConfigError> {
        let (clock_skew, http_timeout, grant_ttl) = time_limits(self.clock_skew, self.http_timeout, self.grant_ttl)?;
        let login_attempt_ttl = bounded("login_attempt_ttl", self.login_attempt_ttl, 600, DAY)?;
        let max_login_age = bounded("max_login_age", self.max_login_age, 8 * 3600, 30 * DAY)?;
        let jwks_refresh_cooldown = bounded("jwks_refresh_cooldown", self.jwks_refresh_cooldown, 60, 3600)?;
        let (jwks_max_age_floor, jwks_max_age_ceiling) =
            jwks_max_age_bounds(self.jwks_max_age_floor, self.jwks_max_age_ceiling)?;
        let max_pending_logins = max_pending_logins(self.max_pending_logins)?;
        let login_cache =
            login_cache_settings(self.login_cache_ttl, self.login_cache_max_entries, self.login_cache_max_bytes)?;
        Ok(Limits {
            clock_skew,
            http_timeout,
            grant_ttl,
            login_attempt_ttl,
            max_login_age,
            jwks_refresh_cooldown,
            jwks_max_age_floor,
            jwks_max_age_ceiling,
            max_pending_logins,
            login_cache,
        })
    }

    /// Upfront permissions (they need PAR), the Permission API's settings
    /// (they need BIB) and CIBA's route.
    fn check_permissions(&mut self, has_bib: bool) -> Result<Permissions, ConfigError> {
        let upfront_permissions = upfront_permissions(std::mem::take(&mut self.upfront_permissions), self.par)?;
        let type_scopes = std::mem::take(&mut self.permission_type_scopes);
        let permission_api = permission_api(self.permission_api.take(), type_scopes, has_bib)?;
        let ciba_path = validate_path("ciba_path", self.ciba_path.take(), "/auth/bankid/ciba")?;
        validate_permission_api(&permission_api)?;
        Ok(Permissions { upfront_permissions, permission_api, ciba_path })
    }

    /// The idle timeout (within `max_login_age`) and the status route's
    /// path (unlike every other route's).
    fn check_session_status(
        &mut self,
        routes: &Routes,
        limits: &Limits,
        permissions: &Permissions,
    ) -> Result<SessionStatusSettings, ConfigError> {
        let own_paths = [
            &routes.login_path,
            &routes.callback_path,
            &routes.logout_path,
            &routes.backchannel_logout_path,
            &permissions.ciba_path,
        ];
        let path = self.session_status_path.take();
        session_status_settings(self.idle_timeout, path, self.session_status_identity, limits.max_login_age, own_paths)
    }

    /// The signing keys' chains (per issuer) and the discovery schedule.
    fn check_startup(&mut self, client: &Client) -> Result<Startup, ConfigError> {
        let issuers = [Some(&client.issuer), client.bib_issuer.as_ref()];
        let roots = self.root_certificates.take();
        let key_chain = key_chain_settings(roots, self.key_chain_check, issuers, self.environment)?;
        let (discovery_retries, discovery_backoff) =
            discovery_schedule(self.discovery_retries, self.discovery_backoff)?;
        Ok(Startup { key_chain, discovery_retries, discovery_backoff })
    }

    /// The checked groups and the settings that need no check, as the flat
    /// [`BankIdConfig`] the crate reads.
    fn assemble(self, checked: Checked) -> BankIdConfig {
        let Checked { client, selectors, routes, limits, permissions, session_status, startup } = checked;
        BankIdConfig {
            issuer: client.issuer,
            bib_issuer: client.bib_issuer,
            client_id: client.client_id,
            client_auth: client.client_auth,
            redirect_uri: client.redirect_uri,
            post_logout_redirect_uri: client.post_logout_redirect_uri,
            scopes: client.scopes,
            minimum_loa: selectors.minimum_loa,
            acr_values: selectors.acr_values,
            login_hint: selectors.login_hint,
            ui_locales: selectors.ui_locales,
            ui_locales_from_accept_language: self.ui_locales_from_accept_language,
            login_path: routes.login_path,
            callback_path: routes.callback_path,
            logout_path: routes.logout_path,
            backchannel_logout_path: routes.backchannel_logout_path,
            keep_session_data_at_logout: self.keep_session_data_at_logout,
            clock_skew: limits.clock_skew,
            http_timeout: limits.http_timeout,
            grant_ttl: limits.grant_ttl,
            login_attempt_ttl: limits.login_attempt_ttl,
            max_login_age: limits.max_login_age,
            session_status,
            login_cache: limits.login_cache,
            jwks_refresh_cooldown: limits.jwks_refresh_cooldown,
            jwks_max_age_floor: limits.jwks_max_age_floor,
            jwks_max_age_ceiling: limits.jwks_max_age_ceiling,
            max_pending_logins: limits.max_pending_logins,
            par: self.par,
            digest_input: self.digest_input,
            upfront_permissions: permissions.upfront_permissions,
            single_use_grants: self.single_use_grants.unwrap_or(true),
            permission_api: permissions.permission_api,
            ciba_path: permissions.ciba_path,
            discovery_retries: startup.discovery_retries,
            discovery_backoff: startup.discovery_backoff,
            start_degraded: self.start_degraded,
            key_chain: startup.key_chain,
        }
    }
}

/// BankID OIDC's issuer and BIB's (if any): each explicit or from the
/// [`BankIdEnvironment`] preset.
fn issuers(
    issuer: Option<String>,
    bib_issuer: Option<String>,
    preset: Option<BankIdEnvironment>,
) -> Result<(Url, Option<Url>), ConfigError> {
    let issuer = issuer.or_else(|| preset.map(|env| env.issuer().to_owned()));
    let issuer = parse_issuer("issuer", issuer.as_deref())?;
    let bib_issuer = bib_issuer.or_else(|| preset.map(|env| env.bib_issuer().to_owned()));
    let bib_issuer = bib_issuer.map(|bib| parse_issuer("bib_issuer", Some(&bib))).transpose()?;
    Ok((issuer, bib_issuer))
}

/// The client authentication, which must carry a non-empty secret when it
/// is a secret method.
fn client_auth_with_credential(client_auth: Option<ClientAuth>) -> Result<ClientAuth, ConfigError> {
    client_auth
        .filter(|auth| auth.secret().is_none_or(|secret| !secret.expose().is_empty()))
        .ok_or(ConfigError::Missing { field: "client_secret" })
}

/// The callback URL: an endpoint without a fragment (RFC 6749 §3.1.2).
fn redirect_uri(value: Option<&str>) -> Result<Url, ConfigError> {
    let redirect_uri = parse_endpoint("redirect_uri", value)?;
    if redirect_uri.fragment().is_some() {
        return Err(ConfigError::invalid("redirect_uri", "must not have a fragment"));
    }
    Ok(redirect_uri)
}

/// Where the provider sends the browser after logout, if anywhere.
fn post_logout_redirect_uri(value: Option<&str>) -> Result<Option<Url>, ConfigError> {
    value.map(|uri| parse_endpoint("post_logout_redirect_uri", Some(uri))).transpose()
}

/// The login and logout routes: valid paths, different from each other and
/// from the callback's.
fn login_and_logout_paths(
    login_path: Option<String>,
    logout_path: Option<String>,
    callback_path: &str,
) -> Result<(String, String), ConfigError> {
    let login_path = validate_path("login_path", login_path, DEFAULT_LOGIN_PATH)?;
    let logout_path = validate_path("logout_path", logout_path, DEFAULT_LOGOUT_PATH)?;
    if login_path == callback_path || logout_path == callback_path || login_path == logout_path {
        return Err(ConfigError::invalid("login_path", "login, logout and callback (redirect_uri) paths must differ"));
    }
    Ok((login_path, logout_path))
}

/// The back-channel logout route: a valid path, none of the `others`.
fn backchannel_logout_path(value: Option<String>, others: [&String; 3]) -> Result<String, ConfigError> {
    let path = validate_path("backchannel_logout_path", value, DEFAULT_BACKCHANNEL_LOGOUT_PATH)?;
    if others.contains(&&path) {
        return Err(ConfigError::invalid(
            "backchannel_logout_path",
            "must differ from the login, logout and callback (redirect_uri) paths",
        ));
    }
    Ok(path)
}

/// `clock_skew` (at most 5 minutes), `http_timeout` (1 ms to 5 minutes, so
/// that time arithmetic on it cannot overflow) and `grant_ttl` (1 s to a day).
fn time_limits(
    clock_skew: Option<Duration>,
    http_timeout: Option<Duration>,
    grant_ttl: Option<Duration>,
) -> Result<(Duration, Duration, Duration), ConfigError> {
    let clock_skew = clock_skew.unwrap_or(Duration::from_secs(60));
    if clock_skew > Duration::from_secs(300) {
        return Err(ConfigError::invalid("clock_skew", "must be at most 300 seconds"));
    }
    let http_timeout = http_timeout.unwrap_or(Duration::from_secs(10));
    if http_timeout.is_zero() || http_timeout > Duration::from_secs(300) {
        return Err(ConfigError::invalid("http_timeout", "must be between 1 ms and 300 seconds"));
    }
    let grant_ttl = grant_ttl.unwrap_or(Duration::from_secs(600));
    if grant_ttl.is_zero() || grant_ttl > Duration::from_secs(86_400) {
        return Err(ConfigError::invalid("grant_ttl", "must be between 1 second and 1 day"));
    }
    Ok((clock_skew, http_timeout, grant_ttl))
}

/// The bounds on how long the provider's keys are cached: each within its
/// range, the floor not above the ceiling.
fn jwks_max_age_bounds(
    floor: Option<Duration>,
    ceiling: Option<Duration>,
) -> Result<(Duration, Duration), ConfigError> {
    let floor = bounded("jwks_max_age_floor", floor, 60, DAY)?;
    let ceiling = bounded("jwks_max_age_ceiling", ceiling, 3600, DAY)?;
    if floor > ceiling {
        return Err(ConfigError::invalid("jwks_max_age_floor", "must not exceed jwks_max_age_ceiling"));
    }
    Ok((floor, ceiling))
}

/// How many logins one browser may have in progress: at least one.
fn max_pending_logins(value: Option<usize>) -> Result<usize, ConfigError> {
    let max_pending_logins = value.unwrap_or(8);
    if max_pending_logins == 0 {
        return Err(ConfigError::invalid("max_pending_logins", "must be at least 1"));
    }
    Ok(max_pending_logins)
}

/// The permissions every login asks for (sent as authorization details,
/// see `permission::upfront`): each serialised; they need PAR.
fn upfront_permissions(
    statements: Vec<Result<UpfrontStatement, ()>>,
    par: ParMode,
) -> Result<Vec<UpfrontStatement>, ConfigError> {
    let upfront_permissions = statements
        .into_iter()
        .collect::<Result<Vec<_>, ()>>()
        .map_err(|()| ConfigError::invalid("upfront_permission", "statement cannot be serialised"))?;
    if !upfront_permissions.is_empty() && par == ParMode::Disabled {
        return Err(ConfigError::invalid("par", "upfront permissions need PAR"));
    }
    Ok(upfront_permissions)
}

/// The Permission API's settings with the extra type scopes. The API lives
/// at BIB: asking for it without BIB is a start-up error, not a failure at
/// the first request.
fn permission_api(
    configured: Option<PermissionApiConfig>,
    type_scopes: Vec<(String, Vec<String>)>,
    has_bib: bool,
) -> Result<PermissionApiConfig, ConfigError> {
    if configured.is_some() && !has_bib {
        return Err(ConfigError::Missing { field: "bib_issuer" });
    }
    let mut permission_api = configured.unwrap_or_default();
    permission_api.type_scopes.extend(type_scopes);
    Ok(permission_api)
}

/// How often and how patiently discovery is retried at start-up: at most
/// 20 retries, a first wait of 1 ms to a minute.
fn discovery_schedule(retries: Option<u32>, backoff: Option<Duration>) -> Result<(u32, Duration), ConfigError> {
    let discovery_retries = retries.unwrap_or(3);
    if discovery_retries > 20 {
        return Err(ConfigError::invalid("discovery_retries", "must be at most 20"));
    }
    let discovery_backoff = backoff.unwrap_or(Duration::from_millis(500));
    if discovery_backoff.is_zero() || discovery_backoff > Duration::from_secs(60) {
        return Err(ConfigError::invalid("discovery_backoff", "must be between 1 ms and 60 seconds"));
    }
    Ok((discovery_retries, discovery_backoff))
}
