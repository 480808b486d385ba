//! The manual: one page per topic, beyond the crate tour on the front page.
//!
//! Each page is a Markdown file in the repository's `docs/` folder, included
//! here so that docs.rs shows it and its code blocks run as doctests. The
//! same files read as plain Markdown on GitHub, where README.md links to
//! them.
//!
//! - [`login`]: the layer, `AuthenticatedUser`, logout, session status and idle timeout, identity, back-channel logout
//! - [`login_hook`]: the app's last word on a login (refuse, keep app data, archive the evidence) and login events
//! - [`step_up`]: a route that asks for more than the global minimum (RFC 9470)
//! - [`permissions`]: upfront permissions and the Permission API at BIB
//! - [`ciba`]: a push to the user's phone instead of a browser redirect
//! - [`configuration`]: every environment variable and builder setting
//! - [`security_checks`]: every check, and what it answers when it fails
//! - [`troubleshooting`]: wiring, logging, and every error code
//! - [`production`]: several instances on Redis, root certificates, key rotation, performance
//! - [`metrics`]: counters and provider latencies (feature `metrics`), traces to OpenTelemetry
//! - [`pointing_at_bankid`]: BankID's test and production environments, and what BankID has not published
//! - [`testing`]: logging a test user in from your app's tests, the simulator, property tests, fuzzing and the browser test

// Links between the pages: the files link each other as `x.md` (for
// GitHub), and these definitions, placed first, win in rustdoc.
macro_rules! page_links {
    () => {
        "[login]: crate::docs::login\n\
         [identity]: crate::docs::login#identity-iss-sub\n\
         [permissions]: crate::docs::permissions\n\
         [configuration]: crate::docs::configuration\n\
         [error-kinds]: crate::docs::troubleshooting#error-kinds\n\
         [root-certificates]: crate::docs::production#signing-keys-and-bankids-root-certificates\n\
         [pointing-at-bankid]: crate::docs::pointing_at_bankid\n\
         [authorization-request]: crate::docs::pointing_at_bankid#the-authorization-request-bankid-oidc-api-v4\n"
    };
}

#[doc = page_links!()]
#[doc = include_str!("../docs/login.md")]
pub mod login {}

#[doc = page_links!()]
#[doc = include_str!("../docs/login-hook.md")]
pub mod login_hook {}

#[doc = page_links!()]
#[doc = include_str!("../docs/step-up.md")]
pub mod step_up {}

#[doc = page_links!()]
#[doc = include_str!("../docs/permissions.md")]
pub mod permissions {}

#[doc = page_links!()]
#[doc = include_str!("../docs/ciba.md")]
pub mod ciba {}

#[doc = page_links!()]
#[doc = include_str!("../docs/configuration.md")]
pub mod configuration {}

#[doc = page_links!()]
#[doc = include_str!("../docs/security-checks.md")]
pub mod security_checks {}

#[doc = page_links!()]
#[doc = include_str!("../docs/troubleshooting.md")]
pub mod troubleshooting {}

#[doc = page_links!()]
#[doc = include_str!("../docs/production.md")]
pub mod production {}

#[doc = page_links!()]
#[doc = include_str!("../docs/metrics.md")]
pub mod metrics {}

#[doc = page_links!()]
#[doc = include_str!("../docs/pointing-at-bankid.md")]
pub mod pointing_at_bankid {}

#[doc = page_links!()]
#[doc = include_str!("../docs/testing.md")]
pub mod testing {}

/// README's module map against the tree: every `src/` path it names exists,
/// and every file and folder directly under `src/` has a row, so a move that
/// forgets the map fails here.
#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    const README: &str = include_str!("../README.md");

    /// The backticked `src/` paths in the first column of the map, without a
    /// trailing `/`.
    fn mapped() -> BTreeSet<&'static str> {
        let start = README.find("## Module map").expect("README has a module map");
        let rows = README[start..].lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|'));
        let first_columns = rows.skip(2).map(|row| row.split('|').nth(1).unwrap_or_default());
        let paths = first_columns.flat_map(|cell| cell.split('`').skip(1).step_by(2));
        paths.filter(|p| p.starts_with("src/")).map(|p| p.trim_end_matches('/')).collect()
    }

    #[test]
    fn every_src_path_in_the_readme_module_map_exists() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let missing: Vec<_> = mapped().into_iter().filter(|path| !root.join(path).exists()).collect();
        assert!(missing.is_empty(), "README's module map names paths that are gone: {missing:?}");
    }

    #[test]
    fn the_readme_module_map_has_a_row_for_everything_under_src() {
        let mapped = mapped();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let entries = std::fs::read_dir(src).expect("src/ is readable").filter_map(Result::ok);
        let names = entries.map(|entry| format!("src/{}", entry.file_name().to_string_lossy()));
        let unmapped: Vec<_> = names.filter(|name| !mapped.contains(name.as_str())).collect();
        assert!(unmapped.is_empty(), "add these to README's module map: {unmapped:?}");
    }
}
