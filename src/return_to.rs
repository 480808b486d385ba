//! Where to send the user after login: same-origin relative paths only.
//!
//! `return_to` comes from the query string, so it is attacker-controlled. A
//! value that a browser could resolve to another origin (`//evil.example`,
//! `/\evil.example`, `https://…`, control characters that browsers strip) is
//! replaced by `/`, which closes the open-redirect hole.

const MAX_LEN: usize = 2048;
const FALLBACK: &str = "/";

/// Returns `candidate` if it is a safe local path, `/` otherwise.
pub(crate) fn sanitize_return_to(candidate: Option<&str>) -> String {
    match candidate {
        Some(path) if is_safe_local_path(path) => path.to_owned(),
        _ => FALLBACK.to_owned(),
    }
}

pub(crate) fn is_safe_local_path(path: &str) -> bool {
    let mut chars = path.chars();
    let starts_with_single_slash = chars.next() == Some('/') && !matches!(chars.next(), Some('/') | Some('\\'));
    starts_with_single_slash
        && path.len() <= MAX_LEN
        && !path.contains('\\')
        && !path.chars().any(|c| c.is_control() || c.is_whitespace())
        && !names_the_flow(path)
        && resolves_same_origin(path)
}

/// The query parameter that names a permission login's flow on its landing
/// page; the callback adds it to the return path.
pub(crate) const FLOW_PARAM: &str = "bankid_flow";

/// Whether the path's query already has [`FLOW_PARAM`]: the landing URL
/// would then name two flows, one of them chosen by whoever wrote the
/// return path (the callback refuses repeated parameters for the same
/// reason).
fn names_the_flow(path: &str) -> bool {
    let before_fragment = path.split('#').next().unwrap_or_default();
    let Some((_, query)) = before_fragment.split_once('?') else { return false };
    url::form_urlencoded::parse(query.as_bytes()).any(|(key, _)| key == FLOW_PARAM)
}

const BASE_HOST: &str = "app.invalid";

/// The dummy origin, parsed once, not on every call.
static BASE: std::sync::LazyLock<Option<url::Url>> =
    std::sync::LazyLock::new(|| url::Url::parse(&format!("https://{BASE_HOST}/")).ok());

/// Belt and braces: resolve against a dummy origin and check it stays there
/// (same scheme, host and port: the origin, compared without building it).
fn resolves_same_origin(path: &str) -> bool {
    let Some(base) = BASE.as_ref() else { return false };
    base.join(path).is_ok_and(|u| {
        u.scheme() == base.scheme()
            && u.host_str() == Some(BASE_HOST)
            && u.port_or_known_default() == base.port_or_known_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_return_path_naming_a_flow_of_its_own_goes_home() {
        for bad in ["/paid?bankid_flow=x", "/paid?a=1&bankid_flow=", "/paid?bankid%5Fflow=x#f"] {
            assert_eq!(sanitize_return_to(Some(bad)), "/", "{bad}");
        }
        assert_eq!(sanitize_return_to(Some("/paid#bankid_flow=x")), "/paid#bankid_flow=x", "a fragment is no query");
        assert_eq!(sanitize_return_to(Some("/paid?flow=x")), "/paid?flow=x");
    }

    #[test]
    fn keeps_local_paths() {
        for ok in ["/", "/me", "/a/b?c=d&e=f", "/x#frag", "/%2F%2Fevil"] {
            assert_eq!(sanitize_return_to(Some(ok)), ok);
        }
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "me",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "http:evil.example",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/\n/evil.example",
            " /me",
            "/me\r\nSet-Cookie: x=y",
            "data:text/html,hi",
        ] {
            assert_eq!(sanitize_return_to(Some(bad)), "/", "{bad:?} must be refused");
        }
        assert_eq!(sanitize_return_to(None), "/");
        for other_origin in ["https://app.invalid:444/", "http://app.invalid/", "https://other.invalid/"] {
            let joined = BASE.as_ref().unwrap().join(other_origin).unwrap();
            assert_ne!(joined.origin(), BASE.as_ref().unwrap().origin());
            assert!(!resolves_same_origin(other_origin), "{other_origin}");
        }
        assert!(resolves_same_origin("/me?x=1"));
        assert_eq!(sanitize_return_to(Some(&format!("/{}", "a".repeat(3000)))), "/");
    }
}
