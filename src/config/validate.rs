//! The checks `build` runs on each setting.

use std::time::Duration;

use url::Url;

use crate::loa::Loa;

use super::error::ConfigError;
use super::idp::IdentityProvider;
use super::permission_api::PermissionApiConfig;

/// Seconds in a day, for the bounds below.
pub(super) const DAY: u64 = 86_400;

/// A duration setting (default `default_secs`) that must lie between 1 s and
/// `max_secs`; the error names `field`.
pub(super) fn bounded(
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

/// The parameters of the authorization request (OIDC Core §3.1.2.1, RFC
/// 7636, RFC 9126, RFC 9396, BankID's `app_callback_uri`): a permission
/// reference under one of these names would be sent twice or replace one.
const AUTHORIZE_PARAMETERS: [&str; 16] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "login_hint",
    "acr_values",
    "max_age",
    "prompt",
    "request_uri",
    "request",
    "authorization_details",
    "app_callback_uri",
];

/// The Permission API's settings: its reference parameter, its scopes and
/// its bounds on retries and lifetimes.
pub(super) fn validate_permission_api(api: &PermissionApiConfig) -> Result<(), ConfigError> {
    validate_reference_parameter(&api.reference_parameter)?;
    validate_permission_scopes(api)?;
    validate_permission_bounds(api)
}

/// A plain parameter name that the authorization request does not already send.
fn validate_reference_parameter(name: &str) -> Result<(), ConfigError> {
    let token = !name.is_empty() && name.chars().all(|c| c.is_ascii_graphic() && !"&=?#\\\"".contains(c));
    if !token {
        return Err(ConfigError::invalid("permission_api", "reference_parameter must be a plain parameter name"));
    }
    if AUTHORIZE_PARAMETERS.contains(&name) {
        return Err(ConfigError::invalid(
            "permission_api",
            "reference_parameter must not be a parameter the authorization request already sends",
        ));
    }
    Ok(())
}

/// The client-credentials scope and each permission type's product scopes.
fn validate_permission_scopes(api: &PermissionApiConfig) -> Result<(), ConfigError> {
    if validate_scopes(api.scope.split_whitespace().map(str::to_owned).collect()).is_err() {
        return Err(ConfigError::invalid("permission_api", "scope must be space-separated scope tokens"));
    }
    for (kind, scopes) in &api.type_scopes {
        if kind.is_empty() || kind.chars().any(char::is_whitespace) || validate_scopes(scopes.clone()).is_err() {
            return Err(ConfigError::invalid(
                "permission_type_scopes",
                "a permission type must be one word and its scopes valid scope tokens",
            ));
        }
    }
    Ok(())
}

/// How often and how long grants are asked for, and how long a
/// registration lives.
fn validate_permission_bounds(api: &PermissionApiConfig) -> Result<(), ConfigError> {
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
pub(super) fn parse_issuer(field: &'static str, value: Option<&str>) -> Result<Url, ConfigError> {
    let issuer = parse_endpoint(field, value)?;
    if issuer.query().is_some() || issuer.fragment().is_some() {
        return Err(ConfigError::invalid(field, "must not have a query or fragment"));
    }
    Ok(issuer)
}

pub(super) fn required(field: &'static str, value: Option<String>) -> Result<String, ConfigError> {
    value.filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing { field })
}

/// Parses an absolute http(s) URL; plain HTTP only on loopback hosts, so a
/// misconfigured production deployment cannot talk to BankID in clear text.
pub(super) fn parse_endpoint(field: &'static str, value: Option<&str>) -> Result<Url, ConfigError> {
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

pub(super) fn validate_scopes(scopes: Vec<String>) -> Result<Vec<String>, ConfigError> {
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

/// The configured `acr_values`: space-separated identity-provider URNs
/// BankID documents for the code flow (`urn:bankid:bis`, `urn:bankid:bid`),
/// each once, none of them below `minimum` (a request that invites a level
/// the app would then refuse only produces failed logins).
pub(super) fn validate_acr_values(value: Option<String>, minimum: Loa) -> Result<Option<String>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    let mut seen: Vec<IdentityProvider> = Vec::new();
    for entry in value.split(' ') {
        let idp = IdentityProvider::by_acr_value(entry).ok_or_else(|| {
            ConfigError::invalid(
                "acr_values",
                "must be space-separated BankID identity providers: urn:bankid:bis and/or urn:bankid:bid",
            )
        })?;
        if seen.contains(&idp) {
            return Err(ConfigError::invalid("acr_values", "names an identity provider twice"));
        }
        if idp.loa < minimum {
            return Err(ConfigError::invalid(
                "acr_values",
                format!("{} yields LOA {}, below minimum_loa {}", idp.acr_value, idp.loa.get(), minimum.get()),
            ));
        }
        seen.push(idp);
    }
    Ok(Some(value))
}

/// The legacy `login_hint` code (`BIS` or `BID`), sent beside `acr_values`
/// when the app opts in. Never a user id (that would travel in a plain
/// URL), never below `minimum`, and naming the same provider as the
/// preferred (first) `acr_values` entry, so the two selectors cannot
/// contradict each other.
pub(super) fn validate_login_hint(
    hint: Option<String>,
    minimum: Loa,
    acr_values: Option<&str>,
) -> Result<Option<String>, ConfigError> {
    let Some(hint) = hint else { return Ok(None) };
    if hint.contains(':') {
        return Err(ConfigError::invalid(
            "login_hint",
            "a hint with a user id must not travel in a plain URL; BankID accepts it only through PAR",
        ));
    }
    let idp = IdentityProvider::by_legacy_hint(&hint)
        .ok_or_else(|| ConfigError::invalid("login_hint", "must be BankID's legacy code BIS or BID"))?;
    if idp.loa < minimum {
        return Err(ConfigError::invalid(
            "login_hint",
            format!("{} yields LOA {}, below minimum_loa {}", idp.legacy_hint, idp.loa.get(), minimum.get()),
        ));
    }
    let preferred = acr_values.and_then(|v| v.split(' ').next()).and_then(IdentityProvider::by_acr_value);
    if preferred.is_some_and(|acr| acr != idp) {
        return Err(ConfigError::invalid("login_hint", "names another identity provider than acr_values"));
    }
    Ok(Some(hint))
}

/// The most language tags a `ui_locales` value may list.
const MAX_UI_LOCALES: usize = 4;

/// Whether `value` is a `ui_locales` value the crate sends (OIDC Core
/// §3.1.2.1): one to [`MAX_UI_LOCALES`] BCP 47 language tags separated by
/// single spaces, each a 2–8 letter language subtag and up to seven
/// further 1–8 character alphanumeric subtags after `-` (e.g. `nb`, `en`,
/// `nb-NO`, `zh-Hant-TW`), at most 35 characters. BankID documents `no`/`nb`
/// and `en`; other tags are passed on and the provider falls back as it
/// sees fit. Bounded so a request cannot grow without limit.
pub(crate) fn is_valid_ui_locales(value: &str) -> bool {
    let tags: Vec<&str> = value.split(' ').collect();
    (1..=MAX_UI_LOCALES).contains(&tags.len()) && tags.iter().all(|tag| is_language_tag(tag))
}

fn is_language_tag(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let language = subtags.next().unwrap_or_default();
    let language_ok = (2..=8).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_alphabetic());
    let rest: Vec<&str> = subtags.collect();
    language_ok
        && tag.len() <= 35
        && rest.len() <= 7
        && rest.iter().all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The configured default `ui_locales`, if any (see [`is_valid_ui_locales`]).
pub(super) fn validate_ui_locales(value: Option<String>) -> Result<Option<String>, ConfigError> {
    match value {
        Some(v) if !is_valid_ui_locales(&v) => Err(ConfigError::invalid(
            "ui_locales",
            "must be 1 to 4 BCP 47 language tags separated by single spaces, e.g. `nb` or `nb en`",
        )),
        other => Ok(other),
    }
}

pub(super) fn validate_path(field: &'static str, value: Option<String>, default: &str) -> Result<String, ConfigError> {
    let path = value.unwrap_or_else(|| default.to_owned());
    let valid = path.starts_with('/')
        && !path.starts_with("//")
        && path.chars().all(|c| c.is_ascii_graphic() && c != '?' && c != '#' && c != '\\');
    if valid { Ok(path) } else { Err(ConfigError::invalid(field, "must be an absolute path like /auth/bankid/login")) }
}
