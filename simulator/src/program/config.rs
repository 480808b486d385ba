//! `--config FILE`: the program's settings as a TOML file, for a setup that
//! is checked in next to a compose file instead of a long command line.
//!
//! Strict like the flags: an unknown key is an error that names it with its
//! line and column (`deny_unknown_fields` on every table), and each value
//! is parsed by the same function as its flag ([`super::values`]). The keys
//! are the flags' names with `_` for `-`; the client is one `[client]`
//! table (the simulator serves one client) and each test user a
//! `[[users]]` table with the keys of `--user`. What the file sets, the
//! `SIM_*` variables and then the flags override; redirect URIs, users and
//! faults add up (file first).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::values::{UserSpec, parse_bind, parse_fault, parse_signing_alg};
use axum_bankid_simulator::{Fault, SigningAlgorithm, TestUser};

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    bind: Option<String>,
    port: Option<u16>,
    bib_port: Option<u16>,
    public_url: Option<String>,
    bib_public_url: Option<String>,
    root_cert_file: Option<PathBuf>,
    /// Seconds.
    ciba_interval: Option<u64>,
    signing_alg: Option<String>,
    backchannel_logout: Option<bool>,
    auto_approve: Option<String>,
    #[serde(default)]
    faults: Vec<String>,
    client: Option<ClientTable>,
    #[serde(default)]
    users: Vec<UserSpec>,
}

/// `[client]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientTable {
    id: Option<String>,
    secret: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
}

/// The file's settings, each value parsed and checked.
#[derive(Debug, Default)]
pub(crate) struct Config {
    pub(crate) bind: Option<std::net::IpAddr>,
    pub(crate) port: Option<u16>,
    pub(crate) bib_port: Option<u16>,
    pub(crate) public_url: Option<String>,
    pub(crate) bib_public_url: Option<String>,
    pub(crate) root_cert_file: Option<PathBuf>,
    pub(crate) ciba_interval: Option<Duration>,
    pub(crate) signing_alg: Option<SigningAlgorithm>,
    pub(crate) backchannel_logout: bool,
    pub(crate) auto_approve: Option<String>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<String>,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) users: Vec<TestUser>,
}

/// Reads and checks the file; every error starts with its path.
pub(crate) fn load(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("--config {}: {error}", path.display()))?;
    parse(&text).map_err(|problem| format!("--config {}: {problem}", path.display()))
}

/// Parses the file's text. A syntax error or an unknown key is `toml`'s
/// message (line, column, the key and the keys that are known); a bad value
/// names its key.
fn parse(text: &str) -> Result<Config, String> {
    let file: ConfigFile = toml::from_str(text).map_err(|error| error.to_string().trim_end().to_owned())?;
    let client = file.client.unwrap_or_default();
    let users = file
        .users
        .into_iter()
        .enumerate()
        .map(|(index, user)| user.build().map_err(|problem| format!("users[{index}]: {problem}")))
        .collect::<Result<_, _>>()?;
    let faults = file
        .faults
        .iter()
        .enumerate()
        .map(|(index, fault)| parse_fault(fault).map_err(|problem| format!("faults[{index}]: {problem}")))
        .collect::<Result<_, _>>()?;
    Ok(Config {
        bind: file.bind.as_deref().map(parse_bind).transpose().map_err(|problem| format!("bind: {problem}"))?,
        port: file.port,
        bib_port: file.bib_port,
        public_url: file.public_url,
        bib_public_url: file.bib_public_url,
        root_cert_file: file.root_cert_file,
        ciba_interval: file.ciba_interval.map(Duration::from_secs),
        signing_alg: file
            .signing_alg
            .as_deref()
            .map(parse_signing_alg)
            .transpose()
            .map_err(|problem| format!("signing_alg: {problem}"))?,
        backchannel_logout: file.backchannel_logout.unwrap_or(false),
        auto_approve: file.auto_approve,
        faults,
        client_id: client.id,
        client_secret: client.secret,
        redirect_uris: client.redirect_uris,
        users,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
bind = "0.0.0.0"
port = 4100
bib_port = 4101
public_url = "http://bankid-sim:4100"
bib_public_url = "http://bankid-sim:4101"
ciba_interval = 1
signing_alg = "rs256"
backchannel_logout = true
auto_approve = "ann"
faults = ["low-acr", "slow=20"]

[client]
id = "my-app"
secret = "my-secret"
redirect_uris = ["http://localhost:3000/callback"]

[[users]]
id = "ann"
name = "Ann Test"
nnin = "31819012388"
birthdate = "1990-01-31"
loa = 3
"#;

    #[test]
    fn a_full_file_parses() {
        let config = parse(FULL).expect("valid");
        assert_eq!(config.bind.map(|ip| ip.is_unspecified()), Some(true));
        assert_eq!((config.port, config.bib_port), (Some(4100), Some(4101)));
        assert_eq!(config.signing_alg, Some(SigningAlgorithm::Rs256));
        assert_eq!(config.ciba_interval, Some(Duration::from_secs(1)));
        assert_eq!(config.faults, [Fault::LowAcr, Fault::Slow(Duration::from_millis(20))]);
        assert_eq!((config.client_id.as_deref(), config.client_secret.as_deref()), (Some("my-app"), Some("my-secret")));
        assert_eq!(config.redirect_uris, ["http://localhost:3000/callback"]);
        assert_eq!(config.users.iter().map(TestUser::id).collect::<Vec<_>>(), ["ann"]);
        assert!(config.backchannel_logout);
    }

    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../../README.md");
        let example = readme.split("```toml\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a toml block");
        let config = parse(example).expect("the README's config is valid");
        assert_eq!(config.users.len(), 1);
        assert_eq!(config.public_url.as_deref(), Some("http://bankid-sim:4000"));
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let error = parse("port = 4000\ncolour = \"blue\"\n").expect_err("unknown key");
        assert!(error.contains("line 2, column 1"), "{error}");
        assert!(error.contains("unknown field `colour`"), "{error}");
        let nested = parse("[client]\nid = \"a\"\nredirect_uri = \"http://x/cb\"\n").expect_err("singular");
        assert!(
            nested.contains("unknown field `redirect_uri`, expected one of `id`, `secret`, `redirect_uris`"),
            "{nested}"
        );
        let user = parse("[[users]]\nid = \"a\"\nname = \"A B\"\nnnin = \"1\"\nbirthdate = \"x\"\nemail = \"a@b\"\n")
            .expect_err("unknown user key");
        assert!(user.contains("unknown field `email`"), "{user}");
    }

    #[test]
    fn values_are_checked_as_the_flags_check_them() {
        let cases = [
            ("bind = \"localhost:1\"", r#"bind: "localhost:1" is not an IP address"#),
            ("signing_alg = \"HS256\"", r#"signing_alg: "HS256" is not ES256 or RS256"#),
            ("faults = [\"low-acr\", \"nope\"]", r#"faults[1]: unknown fault "nope""#),
            (
                "[[users]]\nid = \"ann\"\nname = \"Ann Test\"\nnnin = \"31819012388\"\nbirthdate = \"1990-01-31\"\nloa = 2",
                "users[0]: loa 2: must be 3 or 4",
            ),
            ("port = 70000", "port"),
            ("port = \"4000\"", "invalid type: string \"4000\", expected u16"),
        ];
        for (text, message) in cases {
            let error = parse(text).expect_err(text);
            assert!(error.contains(message), "{text}: {error}");
        }
    }
}
