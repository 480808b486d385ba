//! The one table of error codes, `docs/error-kinds.md` — included in the
//! crate docs and pasted into docs/troubleshooting.md — against the code, both ways: a
//! `kind()` match arm of `Error`, `LoginCheckError`, `CibaError` or `KeyChainError` without a
//! row, or a row left for a removed code, fails here, as does a status that
//! disagrees with `Error::status()` or a pasted copy that drifted.

use std::collections::BTreeSet;

const TABLE: &str = include_str!("../docs/error-kinds.md");
const TROUBLESHOOTING: &str = include_str!("../docs/troubleshooting.md");

/// `(kind, HTTP)` of the rows of the table introduced by `**{label}**`.
fn rows(label: &str) -> Vec<(String, String)> {
    let start = TABLE.find(&format!("**{label}**")).unwrap_or_else(|| panic!("no table {label}"));
    let table = TABLE[start..].lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|'));
    table
        .filter_map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let kind = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((kind.to_owned(), cells.get(2)?.to_string()))
        })
        .collect()
}

fn table_codes(label: &str) -> BTreeSet<String> {
    rows(label).into_iter().map(|(kind, _)| kind).collect()
}

/// The string literals returned by the arms of `pub fn kind(&self)` of `ty` in `source`.
fn kind_arms(source: &str, ty: &str) -> BTreeSet<String> {
    let impl_start = source.find(&format!("impl {ty} {{")).unwrap_or_else(|| panic!("no impl {ty}"));
    let body = &source[impl_start..];
    let kind = body.find("pub fn kind(&self)").expect("kind()");
    let body = &body[kind..];
    let end = body.find("\n    }\n").expect("end of kind()");
    body[..end]
        .lines()
        .filter_map(|line| line.split("=> \"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

fn assert_same(label: &str, source: &str, ty: &str) {
    let documented = table_codes(label);
    let coded = kind_arms(source, ty);
    assert!(!coded.is_empty(), "{ty}: no kind arms found");
    let undocumented: Vec<_> = coded.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&coded).collect();
    assert!(undocumented.is_empty(), "{ty}::kind() codes missing from docs/error-kinds.md: {undocumented:?}");
    assert!(stale.is_empty(), "docs/error-kinds.md lists {ty} codes the code does not have: {stale:?}");
}

#[test]
fn error_kinds_match_the_table() {
    assert_same("`Error::kind()`", include_str!("error/mod.rs"), "Error");
}

#[test]
fn startup_kinds_match_the_table() {
    assert_same("`StartupError::kind()`", include_str!("error/startup.rs"), "StartupError");
}

#[test]
fn login_check_kinds_match_the_table() {
    assert_same("`LoginCheckError::kind()`", include_str!("login_check.rs"), "LoginCheckError");
}

#[test]
fn ciba_kinds_match_the_table() {
    assert_same("`CibaError::kind()`", include_str!("ciba/error.rs"), "CibaError");
}

#[test]
fn key_chain_kinds_match_the_table() {
    assert_same("`KeyChainError::kind()`", include_str!("key_chain.rs"), "KeyChainError");
}

#[test]
fn the_public_ciba_start_code_is_the_one_the_route_answers() {
    let codes = ["busy", "ciba_unavailable", "client_address_unknown"];
    assert_eq!(table_codes("The public CIBA start route"), codes.iter().map(|c| c.to_string()).collect());
    let routes = [include_str!("ciba/routes.rs"), include_str!("ciba/background.rs")].concat();
    for code in codes {
        assert!(routes.contains(&format!("\"{code}\"")), "the routes still answer {code}");
    }
}

/// The HTTP column of the `Error` table, for the variants without data.
#[test]
fn error_statuses_match_the_table() {
    use crate::error::Error;
    let documented = rows("`Error::kind()`");
    for error in [
        Error::MalformedCallback,
        Error::MissingState,
        Error::UnknownState,
        Error::NoLoginCookie,
        Error::LoginExpired,
        Error::CallbackIssuerMismatch,
        Error::MissingCallbackIssuer,
        Error::MissingCode,
        Error::InvalidStepUp,
        Error::LevelBelowMinimum { asked: crate::Loa::SUBSTANTIAL, minimum: crate::Loa::HIGH },
        Error::InvalidLoginOption { option: "prompt" },
        Error::IdentityHintNeedsPar,
        Error::CrossSiteRequest,
        Error::Unauthenticated,
        Error::LoginRefused { reason: "not a customer".into() },
        Error::ProviderUnavailable,
    ] {
        let row = documented.iter().find(|(kind, _)| kind == error.kind()).expect("documented");
        assert_eq!(row.1, error.status().as_u16().to_string(), "{}", error.kind());
    }
}

#[test]
fn the_troubleshooting_page_carries_docs_error_kinds_md() {
    let start = TROUBLESHOOTING.find("<!-- error-kinds:start").expect("error-kinds marker");
    let body = &TROUBLESHOOTING[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    let end = body.find("<!-- error-kinds:end -->").expect("error-kinds end marker");
    assert_eq!(&body[..end], TABLE, "paste docs/error-kinds.md into docs/troubleshooting.md between the markers");
}
