//! What one login may ask of BankID beyond the configured defaults — the
//! pages' language (`ui_locales`), a fresh authentication (`prompt=login`)
//! and a prefilled identity number (`login_hint`, through PAR only) — each
//! validated before anything is sent, and how they go on the authorization
//! request. The level and `max_age` are a step-up's ([`crate::step_up`]).

use crate::config::{BankIdConfig, is_valid_ui_locales};
use crate::error::Error;
use crate::login_hint::LoginHint;

/// The login route's query parameter for the pages' language(s).
const UI_LOCALES_PARAM: &str = "ui_locales";
/// The login route's query parameter asking for a fresh authentication.
const PROMPT_PARAM: &str = "prompt";
/// The one `prompt` value the crate sends. OIDC Core also defines `none`,
/// `consent` and `select_account`; BankID documents `prompt` without
/// listing values it honours beyond forcing a login, and `none` cannot work
/// with a provider that always shows its own pages, so only `login` is
/// accepted.
const PROMPT_LOGIN: &str = "login";

/// The per-login options of the login route's query: `ui_locales` and
/// `prompt=login`, each at most once. A `login_hint` there is refused: an
/// identity number must never travel in a URL (BankID API v4 accepts it
/// only inside a pushed request); use [`crate::BankIdSession::login`] instead.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct QueryOptions {
    pub(crate) ui_locales: Option<String>,
    pub(crate) prompt_login: bool,
}

/// Reads [`QueryOptions`] from the login route's query; anything invalid is
/// [`Error::InvalidLoginOption`] naming the parameter (never its value).
pub(crate) fn from_query(query: Option<&str>) -> Result<QueryOptions, Error> {
    let mut options = QueryOptions::default();
    let Some(query) = query else { return Ok(options) };
    let (mut seen_locales, mut seen_prompt) = (false, false);
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            UI_LOCALES_PARAM => {
                if std::mem::replace(&mut seen_locales, true) {
                    return Err(invalid(UI_LOCALES_PARAM));
                }
                options.ui_locales = Some(checked_ui_locales(value.into_owned())?);
            }
            PROMPT_PARAM => {
                if std::mem::replace(&mut seen_prompt, true) || value != PROMPT_LOGIN {
                    return Err(invalid(PROMPT_PARAM));
                }
                options.prompt_login = true;
            }
            "login_hint" => return Err(invalid("login_hint")),
            _ => {}
        }
    }
    Ok(options)
}

/// `value` if it is a valid `ui_locales` (see
/// [`crate::BankIdConfigBuilder::ui_locales`]), else `invalid_login_option`.
pub(crate) fn checked_ui_locales(value: String) -> Result<String, Error> {
    if is_valid_ui_locales(&value) { Ok(value) } else { Err(invalid(UI_LOCALES_PARAM)) }
}

/// A per-login identity hint, checked (`invalid_login_option` naming
/// `login_hint` otherwise; the value is never repeated).
pub(crate) fn checked_identity_hint(hint: LoginHint) -> Result<LoginHint, Error> {
    if hint.is_valid() { Ok(hint) } else { Err(invalid("login_hint")) }
}

fn invalid(option: &'static str) -> Error {
    Error::InvalidLoginOption { option }
}

/// Puts `ui_locales` (the login's, else the configured default) and
/// `prompt=login` on an authorization request.
pub(crate) fn add_params(
    ui_locales: Option<String>,
    prompt_login: bool,
    config: &BankIdConfig,
    params: &mut Vec<(&str, String)>,
) {
    if let Some(locales) = ui_locales.or_else(|| config.ui_locales.clone()) {
        params.push((UI_LOCALES_PARAM, locales));
    }
    if prompt_login {
        params.push((PROMPT_PARAM, PROMPT_LOGIN.to_owned()));
    }
}

/// Puts the identity hint on a request that will be pushed (the caller
/// makes sure of that): `login_hint=:<nnin>` — BankID's form, the leading
/// colon standing for "no identity provider named here" since `acr_values`
/// names it — or `<code>:<nnin>` when the legacy code is sent
/// (`BIS:<nnin>`). A login-set `login_hint` replaces the configured
/// selectors on the request, so they are carried over explicitly first.
pub(crate) fn add_identity_hint(hint: &LoginHint, config: &BankIdConfig, params: &mut Vec<(&str, String)>) {
    let LoginHint::Nnin(nnin) = hint;
    if !params.iter().any(|(name, _)| *name == "acr_values" || *name == "login_hint") {
        params.extend(config.acr_values.clone().map(|acr| ("acr_values", acr)));
        params.extend(config.login_hint.clone().map(|code| ("login_hint", code)));
    }
    match params.iter_mut().find(|(name, _)| *name == "login_hint") {
        Some((_, code)) => *code = format!("{code}:{nnin}"),
        None => params.push(("login_hint", format!(":{nnin}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_takes_ui_locales_and_prompt_login_once_and_never_a_login_hint() {
        assert_eq!(from_query(None).unwrap(), QueryOptions::default());
        let options = from_query(Some("return_to=/x&ui_locales=nb%20en&prompt=login")).unwrap();
        assert_eq!(options, QueryOptions { ui_locales: Some("nb en".into()), prompt_login: true });
        for (bad, option) in [
            ("ui_locales=nb&ui_locales=en", "ui_locales"),
            ("ui_locales=", "ui_locales"),
            ("ui_locales=nb%26prompt%3Dnone", "ui_locales"),
            ("prompt=none", "prompt"),
            ("prompt=consent", "prompt"),
            ("prompt=login%20consent", "prompt"),
            ("prompt=login&prompt=login", "prompt"),
            ("login_hint=%3A01010112345", "login_hint"),
        ] {
            let err = from_query(Some(bad)).unwrap_err();
            assert_eq!((err.kind(), err.detail()), ("invalid_login_option", Some(option)), "{bad}");
            assert!(!err.to_string().contains("01010112345"), "{err}");
        }
    }
}
