//! The table of error `kind()` codes (docs/error-kinds.md, pasted into the
//! README) lists exactly the codes the code can answer with: every code in a
//! `kind()` of `Error`, `LoginCheckError` and `CibaError` (and the public CIBA
//! start's one answer) has a row, and every row is such a code.

use std::collections::BTreeSet;

const TABLE: &str = include_str!("../docs/error-kinds.md");
const README: &str = include_str!("../README.md");

/// The string codes in the `fn kind` bodies of `impl <type>` blocks of `source`.
fn kinds_in(source: &str, types: &[&str]) -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    for ty in types {
        let start = source.find(&format!("impl {ty} {{")).unwrap_or_else(|| panic!("impl {ty} not found"));
        let body = &source[start..];
        let kind = body.find("pub fn kind(&self)").unwrap_or_else(|| panic!("{ty}::kind not found"));
        let body = &body[kind..];
        let end = body.find("\n    }\n").expect("end of kind()");
        for arm in body[..end].split("=> \"").skip(1) {
            codes.insert(arm.split('"').next().unwrap().to_owned());
        }
    }
    codes
}

fn table_codes() -> BTreeSet<String> {
    TABLE
        .lines()
        .skip(2) // the header and its rule
        .filter_map(|line| line.strip_prefix("| `"))
        .map(|rest| rest.split('`').next().unwrap().to_owned())
        .collect()
}

#[test]
fn every_kind_has_a_row_and_every_row_is_a_kind() {
    let mut codes = kinds_in(include_str!("../src/error.rs"), &["Error", "LoginCheckError"]);
    codes.extend(kinds_in(include_str!("../src/ciba/error.rs"), &["CibaError"]));
    let public_start = include_str!("../src/ciba/routes.rs");
    assert!(public_start.contains("\"ciba_unavailable\""), "the public CIBA start still answers ciba_unavailable");
    codes.insert("ciba_unavailable".to_owned());
    assert!(codes.len() > 40, "parsed the kind() bodies: {codes:?}");
    let table = table_codes();
    let undocumented: Vec<_> = codes.difference(&table).collect();
    let stale: Vec<_> = table.difference(&codes).collect();
    assert!(undocumented.is_empty(), "codes without a row in docs/error-kinds.md: {undocumented:?}");
    assert!(stale.is_empty(), "rows for codes the crate no longer has: {stale:?}");
}

#[test]
fn the_readme_carries_docs_error_kinds_md() {
    let start = README.find("<!-- error-kinds:start").expect("README error-kinds marker");
    let body = &README[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    let end = body.find("<!-- error-kinds:end -->").expect("README error-kinds end marker");
    assert_eq!(&body[..end], TABLE, "paste docs/error-kinds.md into README.md between the error-kinds markers");
}
