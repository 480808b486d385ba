//! The checks `build` runs on each setting.

use std::time::Duration;

use url::Url;

use super::error::ConfigError;
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

pub(super) fn validate_permission_api(api: &PermissionApiConfig) -> Result<(), ConfigError> {
    let token = |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_graphic() && !"&=?#\\\"".contains(c));
    if !token(&api.reference_parameter) {
        return Err(ConfigError::invalid("permission_api", "reference_parameter must be a plain parameter name"));
    }
    if AUTHORIZE_PARAMETERS.contains(&api.reference_parameter.as_str()) {
        return Err(ConfigError::invalid(
            "permission_api",
            "reference_parameter must not be a parameter the authorization request already sends",
        ));
    }
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

pub(super) fn validate_login_hint(hint: Option<String>) -> Result<Option<String>, ConfigError> {
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

pub(super) fn validate_path(field: &'static str, value: Option<String>, default: &str) -> Result<String, ConfigError> {
    let path = value.unwrap_or_else(|| default.to_owned());
    let valid = path.starts_with('/')
        && !path.starts_with("//")
        && path.chars().all(|c| c.is_ascii_graphic() && c != '?' && c != '#' && c != '\\');
    if valid { Ok(path) } else { Err(ConfigError::invalid(field, "must be an absolute path like /auth/bankid/login")) }
}
