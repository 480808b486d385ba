//! [`BankIdConfig::from_env`]: the configuration from environment variables.

use std::time::Duration;

use super::builder::BankIdConfigBuilder;
use super::client_auth::{ClientAssertionKey, ClientAuth};
use super::environment::BankIdEnvironment;
use super::error::ConfigError;
use super::par::ParMode;
use super::settings::BankIdConfig;
use crate::loa::Loa;

impl BankIdConfig {
    /// Reads the configuration from the environment; an empty variable
    /// counts as unset (except `BANKID_LOGIN_HINT` and `BANKID_ACR_VALUES`,
    /// where empty means "send none").
    ///
    #[doc = include_str!("../../docs/env.md")]
    ///
    /// Every other setting is builder-only. Errors name the variable.
    pub fn from_env() -> Result<BankIdConfig, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env) but reads variables through
    /// `lookup`, which keeps tests free of process-global state.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<BankIdConfig, ConfigError> {
        let lookup = |name: &str| {
            debug_assert!(ENV_VARS.iter().any(|(known, ..)| *known == name), "{name} is missing from ENV_VARS");
            lookup(name)
        };
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let b = read_providers(BankIdConfig::builder(), &get)?;
        let b = read_client(b, &get);
        let b = read_selectors(b, &lookup, &get);
        let b = read_routes(b, &get);
        let b = read_limits(b, &get)?;
        let b = read_client_auth(b, &get)?;
        let b = read_key_chain(b, &get)?;
        let b = read_par(b, &get)?;
        b.build().map_err(named_for_env)
    }
}

/// `set` applied to a variable's value, if the variable is set.
fn with(
    b: BankIdConfigBuilder,
    value: Option<String>,
    set: fn(BankIdConfigBuilder, String) -> BankIdConfigBuilder,
) -> BankIdConfigBuilder {
    match value {
        Some(v) => set(b, v),
        None => b,
    }
}

/// `BANKID_ENV`, `BANKID_ISSUER`, `BANKID_BIB_ISSUER`: which providers.
fn read_providers(
    mut b: BankIdConfigBuilder,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<BankIdConfigBuilder, ConfigError> {
    if let Some(v) = get("BANKID_ENV") {
        let env = BankIdEnvironment::parse(&v)
            .ok_or_else(|| ConfigError::invalid("BANKID_ENV", "must be current or production"))?;
        b = b.environment(env);
    }
    let b = with(b, get("BANKID_ISSUER"), |b, v| b.issuer(v));
    Ok(with(b, get("BANKID_BIB_ISSUER"), |b, v| b.bib_issuer(v)))
}

/// `BANKID_CLIENT_ID`, `BANKID_REDIRECT_URI`, `BANKID_SCOPES`: who this client is.
fn read_client(b: BankIdConfigBuilder, get: &impl Fn(&str) -> Option<String>) -> BankIdConfigBuilder {
    let b = with(b, get("BANKID_CLIENT_ID"), |b, v| b.client_id(v));
    let b = with(b, get("BANKID_REDIRECT_URI"), |b, v| b.redirect_uri(v));
    with(b, get("BANKID_SCOPES"), |b, v| b.scopes(v.split_whitespace()))
}

/// `BANKID_LOGIN_HINT`, `BANKID_ACR_VALUES` (empty: send none) and
/// `BANKID_UI_LOCALES`: what every login asks for.
fn read_selectors(
    b: BankIdConfigBuilder,
    lookup: &impl Fn(&str) -> Option<String>,
    get: &impl Fn(&str) -> Option<String>,
) -> BankIdConfigBuilder {
    let b = with(b, lookup("BANKID_LOGIN_HINT"), |b, v| b.login_hint((!v.is_empty()).then_some(v)));
    let b = with(b, lookup("BANKID_ACR_VALUES"), |b, v| b.acr_values((!v.is_empty()).then_some(v)));
    with(b, get("BANKID_UI_LOCALES"), |b, v| b.ui_locales(v))
}

/// `BANKID_LOGIN_PATH`, `BANKID_LOGOUT_PATH`, `BANKID_POST_LOGOUT_REDIRECT_URI`.
fn read_routes(b: BankIdConfigBuilder, get: &impl Fn(&str) -> Option<String>) -> BankIdConfigBuilder {
    let b = with(b, get("BANKID_LOGIN_PATH"), |b, v| b.login_path(v));
    let b = with(b, get("BANKID_LOGOUT_PATH"), |b, v| b.logout_path(v));
    with(b, get("BANKID_POST_LOGOUT_REDIRECT_URI"), |b, v| b.post_logout_redirect_uri(v))
}

/// `BANKID_MIN_LOA`, `BANKID_CLOCK_SKEW_SECS`, `BANKID_HTTP_TIMEOUT_SECS`,
/// `BANKID_LOGIN_CACHE_TTL_MS`.
fn read_limits(
    mut b: BankIdConfigBuilder,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<BankIdConfigBuilder, ConfigError> {
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
    if let Some(v) = get("BANKID_LOGIN_CACHE_TTL_MS") {
        let ms =
            v.parse().map_err(|_| ConfigError::invalid("BANKID_LOGIN_CACHE_TTL_MS", "must be whole milliseconds"))?;
        b = b.login_cache_ttl(Duration::from_millis(ms));
    }
    Ok(b)
}

/// `BANKID_CLIENT_AUTH` with `BANKID_CLIENT_SECRET` or the key variables.
fn read_client_auth(
    b: BankIdConfigBuilder,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<BankIdConfigBuilder, ConfigError> {
    let method = get("BANKID_CLIENT_AUTH");
    let secret = get("BANKID_CLIENT_SECRET");
    let auth = match (method.as_deref(), secret) {
        (Some("private_key_jwt"), _) => Some(ClientAuth::private_key_jwt(key_from_env(get)?)),
        (Some("client_secret_post"), Some(secret)) => Some(ClientAuth::client_secret_post(secret)),
        (None | Some("client_secret_basic"), Some(secret)) => Some(ClientAuth::client_secret_basic(secret)),
        (None | Some("client_secret_basic" | "client_secret_post"), None) => None,
        (Some(_), _) => {
            return Err(ConfigError::invalid(
                "BANKID_CLIENT_AUTH",
                "must be client_secret_basic, client_secret_post or private_key_jwt",
            ));
        }
    };
    Ok(match auth {
        Some(auth) => b.client_auth(auth),
        None => b,
    })
}

/// `BANKID_ROOT_CERTS_FILE` and `BANKID_KEY_CHAIN_CHECK` (`on` / `off`).
fn read_key_chain(
    b: BankIdConfigBuilder,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<BankIdConfigBuilder, ConfigError> {
    let b = with(b, get("BANKID_ROOT_CERTS_FILE"), |b, v| b.root_certificates_file(v));
    let Some(v) = get("BANKID_KEY_CHAIN_CHECK") else { return Ok(b) };
    Ok(b.key_chain_check(match v.as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(ConfigError::invalid("BANKID_KEY_CHAIN_CHECK", "must be on or off")),
    }))
}

/// `BANKID_PAR`: `when_advertised`, `required` or `disabled`.
fn read_par(b: BankIdConfigBuilder, get: &impl Fn(&str) -> Option<String>) -> Result<BankIdConfigBuilder, ConfigError> {
    let Some(v) = get("BANKID_PAR") else { return Ok(b) };
    Ok(b.par(match v.as_str() {
        "when_advertised" => ParMode::WhenAdvertised,
        "required" => ParMode::Required,
        "disabled" => ParMode::Disabled,
        _ => return Err(ConfigError::invalid("BANKID_PAR", "must be when_advertised, required or disabled")),
    }))
}

/// A builder error names the environment variable rather than the setting.
fn named_for_env(err: ConfigError) -> ConfigError {
    match ENV_NAMES.iter().find(|(field, _)| *field == err.field()) {
        Some((_, env)) => err.renamed(env),
        None => err,
    }
}

/// The `private_key_jwt` key named by `BANKID_CLIENT_KEY_FILE` (RSA or EC PEM).
fn key_from_env(get: &impl Fn(&str) -> Option<String>) -> Result<ClientAssertionKey, ConfigError> {
    let kid = get("BANKID_CLIENT_KEY_ID");
    let path = get("BANKID_CLIENT_KEY_FILE").ok_or(ConfigError::Missing { field: "BANKID_CLIENT_KEY_FILE" })?;
    let pem = std::fs::read(&path)
        .map_err(|e| ConfigError::invalid("BANKID_CLIENT_KEY_FILE", format!("cannot be read ({})", e.kind())))?;
    ClientAssertionKey::rsa_pem(&pem, kid.clone())
        .or_else(|_| ClientAssertionKey::ec_pem(&pem, kid))
        .map_err(|_| ConfigError::invalid("BANKID_CLIENT_KEY_FILE", "not an RSA or EC private key in PEM"))
}

/// Every variable [`BankIdConfig::from_lookup`] reads: (name, meaning,
/// default), in the order of the table. The one source of `docs/env.md`,
/// which the rustdoc of `from_env` and `docs/configuration.md` include; the tests below
/// fail when they drift apart.
const ENV_VARS: &[(&str, &str, &str)] = &[
    ("BANKID_ENV", "`current` (BankID's test environment) or `production`: sets both issuers below", "unset"),
    (
        "BANKID_ISSUER",
        "BankID OIDC issuer; discovery is `{issuer}/.well-known/openid-configuration`",
        "required unless `BANKID_ENV`",
    ),
    ("BANKID_BIB_ISSUER", "BIB issuer (CIBA, Permission API, grants)", "from `BANKID_ENV`, else unset"),
    ("BANKID_CLIENT_ID", "OIDC client id", "required"),
    (
        "BANKID_CLIENT_AUTH",
        "token endpoint authentication (OIDC Core §9): `client_secret_basic`, `client_secret_post` or `private_key_jwt`",
        "`client_secret_basic`",
    ),
    (
        "BANKID_CLIENT_SECRET",
        "OIDC client secret, for `client_secret_basic` and `client_secret_post`",
        "required unless `private_key_jwt`",
    ),
    (
        "BANKID_CLIENT_KEY_FILE",
        "path of the PEM private key (RSA or EC), for `private_key_jwt`",
        "required with `private_key_jwt`",
    ),
    ("BANKID_CLIENT_KEY_ID", "the key's `kid` in the client assertion header, for `private_key_jwt`", "unset"),
    ("BANKID_REDIRECT_URI", "absolute callback URL registered at BankID; its path is the callback route", "required"),
    ("BANKID_SCOPES", "extra scopes, space-separated (`openid` is always sent)", "`profile`"),
    ("BANKID_LOGIN_HINT", "legacy `login_hint` code sent beside `acr_values`: `BIS` or `BID` (empty: none)", "none"),
    (
        "BANKID_ACR_VALUES",
        "identity providers asked on every login: `urn:bankid:bis` and/or `urn:bankid:bid` (empty: none)",
        "by `BANKID_MIN_LOA`: `urn:bankid:bid` for 4, else `urn:bankid:bis`",
    ),
    (
        "BANKID_UI_LOCALES",
        "`ui_locales` of logins that name none: BCP 47 tags, space-separated, e.g. `nb` or `en` (at most 4)",
        "none",
    ),
    ("BANKID_LOGIN_PATH", "path of the login route", "`/auth/bankid/login`"),
    ("BANKID_LOGOUT_PATH", "path of the (`POST`) logout route", "`/auth/bankid/logout`"),
    (
        "BANKID_POST_LOGOUT_REDIRECT_URI",
        "where the provider returns after logout; without it logout ends the login here only and redirects to `/`",
        "none",
    ),
    ("BANKID_MIN_LOA", "minimum level of assurance, 1–4", "`3`"),
    ("BANKID_CLOCK_SKEW_SECS", "allowed clock skew for `exp`/`iat`/`nbf`, in seconds (≤ 300)", "`60`"),
    ("BANKID_HTTP_TIMEOUT_SECS", "timeout of every call to the provider, in seconds (≤ 300)", "`10`"),
    (
        "BANKID_LOGIN_CACHE_TTL_MS",
        "how long an instance answers from its own copy of a verified login, in milliseconds (≤ 60000; `0`: no cache); a logout on another instance is seen within it",
        "`2000`",
    ),
    ("BANKID_PAR", "`when_advertised`, `required` or `disabled`", "`when_advertised`"),
    (
        "BANKID_ROOT_CERTS_FILE",
        "PEM file of BankID's root certificates: every signing key's `x5c` chain must lead to one of them",
        "unset (required with `BANKID_ENV=production` unless the check is `off`)",
    ),
    (
        "BANKID_KEY_CHAIN_CHECK",
        "`on` or `off`: `off` trusts signing keys by TLS alone, also in production (logged at `warn`)",
        "`on`",
    ),
];

/// Builder setting → environment variable, so `from_env` errors name the variable.
const ENV_NAMES: [(&str, &str); 17] = [
    ("issuer", "BANKID_ISSUER"),
    ("bib_issuer", "BANKID_BIB_ISSUER"),
    ("client_id", "BANKID_CLIENT_ID"),
    ("client_secret", "BANKID_CLIENT_SECRET"),
    ("redirect_uri", "BANKID_REDIRECT_URI"),
    ("scopes", "BANKID_SCOPES"),
    ("login_hint", "BANKID_LOGIN_HINT"),
    ("acr_values", "BANKID_ACR_VALUES"),
    ("ui_locales", "BANKID_UI_LOCALES"),
    ("login_path", "BANKID_LOGIN_PATH"),
    ("logout_path", "BANKID_LOGOUT_PATH"),
    ("post_logout_redirect_uri", "BANKID_POST_LOGOUT_REDIRECT_URI"),
    ("clock_skew", "BANKID_CLOCK_SKEW_SECS"),
    ("http_timeout", "BANKID_HTTP_TIMEOUT_SECS"),
    ("par", "BANKID_PAR"),
    ("root_certificates", "BANKID_ROOT_CERTS_FILE"),
    ("key_chain_check", "BANKID_KEY_CHAIN_CHECK"),
];

fn parse_secs(field: &'static str, value: &str) -> Result<u64, ConfigError> {
    value.parse().map_err(|_| ConfigError::invalid(field, "must be a whole number of seconds"))
}

/// `ENV_VARS` as the Markdown table in `docs/env.md`.
#[cfg(test)]
fn env_table() -> String {
    let mut table = String::from("| variable | meaning | default |\n|---|---|---|\n");
    for (name, meaning, default) in ENV_VARS {
        table.push_str(&format!("| `{name}` | {meaning} | {default} |\n"));
    }
    table
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    use super::*;

    const DOC: &str = include_str!("../../docs/env.md");

    #[test]
    fn docs_env_md_is_the_table_in_code() {
        assert_eq!(DOC, env_table(), "regenerate docs/env.md from ENV_VARS");
    }

    #[test]
    fn the_configuration_page_carries_docs_env_md() {
        let page = include_str!("../../docs/configuration.md");
        let start = page.find("<!-- env-table:start").expect("start marker");
        let body = &page[start..];
        let body = &body[body.find('\n').expect("marker line") + 1..];
        let end = body.find("<!-- env-table:end -->").expect("end marker");
        assert_eq!(&body[..end], DOC, "paste docs/env.md into docs/configuration.md between the env-table markers");
    }

    #[test]
    fn from_lookup_reads_exactly_the_table() {
        let asked = RefCell::new(BTreeSet::new());
        let values = |auth: &'static str| {
            move |name: &str| -> Option<String> {
                let value = match name {
                    "BANKID_ENV" => "current",
                    "BANKID_CLIENT_AUTH" => auth,
                    "BANKID_CLIENT_KEY_FILE" => "/nonexistent/key.pem",
                    "BANKID_REDIRECT_URI" => "https://a.example/cb",
                    "BANKID_POST_LOGOUT_REDIRECT_URI" => "https://a.example/",
                    "BANKID_ISSUER" | "BANKID_BIB_ISSUER" => "https://i.example",
                    "BANKID_SCOPES" | "BANKID_LOGIN_HINT" => "BIS",
                    "BANKID_ACR_VALUES" => "urn:bankid:bis",
                    "BANKID_UI_LOCALES" => "nb en",
                    "BANKID_LOGIN_PATH" => "/in",
                    "BANKID_LOGOUT_PATH" => "/out",
                    "BANKID_MIN_LOA" => "3",
                    "BANKID_CLOCK_SKEW_SECS" | "BANKID_HTTP_TIMEOUT_SECS" => "10",
                    "BANKID_LOGIN_CACHE_TTL_MS" => "500",
                    "BANKID_PAR" => "required",
                    "BANKID_ROOT_CERTS_FILE" => "/nonexistent/roots.pem",
                    "BANKID_KEY_CHAIN_CHECK" => "on",
                    _ => "x",
                };
                Some(value.to_owned())
            }
        };
        for auth in ["client_secret_post", "private_key_jwt"] {
            let lookup = values(auth);
            let _ = BankIdConfig::from_lookup(|name| {
                asked.borrow_mut().insert(name.to_owned());
                lookup(name)
            });
        }
        let table: BTreeSet<String> = ENV_VARS.iter().map(|(name, ..)| (*name).to_owned()).collect();
        assert_eq!(asked.into_inner(), table);
    }
}
