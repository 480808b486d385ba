//! The error-code tables in `docs/crate.md` against the `kind()` match arms
//! of `Error`, `LoginCheckError` and `CibaError`, both ways: a code added in
//! the code without a row, or a row left for a removed code, fails here.

use std::collections::BTreeSet;

const CRATE_DOCS: &str = include_str!("../docs/crate.md");

/// The codes in the first column of the table under `## {heading}`.
fn table_codes(heading: &str) -> BTreeSet<String> {
    let start = CRATE_DOCS.find(&format!("## {heading}\n")).unwrap_or_else(|| panic!("no section {heading}"));
    let section = &CRATE_DOCS[start..];
    let table = section.lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|'));
    table
        .filter_map(|row| row.split('|').nth(1))
        .map(str::trim)
        .filter_map(|cell| cell.strip_prefix('`')?.strip_suffix('`'))
        .map(str::to_owned)
        .collect()
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

fn assert_same(heading: &str, source: &str, ty: &str) {
    let documented = table_codes(heading);
    let coded = kind_arms(source, ty);
    assert!(!coded.is_empty(), "{ty}: no kind arms found");
    let undocumented: Vec<_> = coded.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&coded).collect();
    assert!(undocumented.is_empty(), "{ty}::kind() codes missing from docs/crate.md: {undocumented:?}");
    assert!(stale.is_empty(), "docs/crate.md lists {ty} codes the code does not have: {stale:?}");
}

#[test]
fn error_kinds_match_the_table() {
    assert_same("`Error::kind()`", include_str!("error.rs"), "Error");
}

#[test]
fn login_check_kinds_match_the_table() {
    assert_same("`LoginCheckError::kind()`", include_str!("error.rs"), "LoginCheckError");
}

#[test]
fn ciba_kinds_match_the_table() {
    assert_same("`CibaError::kind()`", include_str!("ciba/error.rs"), "CibaError");
}

/// The HTTP column of the `Error` table, for the variants without data.
#[test]
fn error_statuses_match_the_table() {
    use crate::error::Error;
    let documented: Vec<(String, String)> = {
        let start = CRATE_DOCS.find("## `Error::kind()`\n").unwrap();
        CRATE_DOCS[start..]
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .filter_map(|row| {
                let cells: Vec<&str> = row.split('|').map(str::trim).collect();
                Some((cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?.to_owned(), cells.get(2)?.to_string()))
            })
            .collect()
    };
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
        Error::CrossSiteRequest,
        Error::Unauthenticated,
        Error::ProviderUnavailable,
    ] {
        let row = documented.iter().find(|(kind, _)| kind == error.kind()).expect("documented");
        assert_eq!(row.1, error.status().as_u16().to_string(), "{}", error.kind());
    }
}
