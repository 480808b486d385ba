//! `axum-bankid-simulator`: the BankID simulator on its own, BankID OIDC and
//! BIB on two ports (4000 and 4001 of 127.0.0.1 unless told otherwise), for
//! a relying party on any stack configured by URL (for `axum-bankid`: the
//! `BANKID_*` variables, which it prints).
//!
//! ```sh
//! cargo install axum-bankid-simulator      # or: cargo install --path simulator
//! axum-bankid-simulator --redirect-uri http://127.0.0.1:3000/auth/bankid/callback
//! ```
//!
//! It writes the root certificate of its test PKI (the root every published
//! key's `x5c` chain ends at) to a file and prints its path as
//! `BANKID_ROOT_CERTS_FILE=...`, next to the other `BANKID_*` values, one
//! per line (an env file).
//!
//! Run with `--help` for the options. Settings come from, each overriding
//! the one before: the `--config` TOML file ([`program::config`]), the
//! `SIM_*` variables, the flags; redirect URIs, users and faults add up.
//! `--bind` listens on another address than loopback (with a warning: the
//! keys are public), `--public-url` and `--bib-public-url` name the issuers
//! as the browser reaches them, `--auto-approve` skips the login page and
//! the phone for headless suites; `GET /healthz` answers at both ports.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use axum_bankid_simulator::{Fault, SigningAlgorithm, Simulator, TestUser};

/// The program's own parts (not the library's).
mod program {
    pub(crate) mod config;
    pub(crate) mod values;
}

use program::values::{UNIT_FAULTS, UserSpec, VALUE_FAULTS, parse_bind, parse_fault, parse_signing_alg};

const USAGE: &str = "\
axum-bankid-simulator: a local BankID (BankID OIDC + BIB) for development and tests.
Public test keys and test users: never use it in production.

USAGE:
    axum-bankid-simulator [OPTIONS]

OPTIONS:
    --config <FILE>          read settings from a TOML file (keys: the flags' names
                             with _ for -; [client] id, secret, redirect_uris;
                             [[users]] with --user's keys; faults = [..]); strict:
                             an unknown key is an error. SIM_* and flags override it
    --bind <IP>              the address both providers listen on [env SIM_BIND,
                             default 127.0.0.1]; another than loopback warns
    --port <PORT>            BankID OIDC's port [env SIM_PORT, default 4000]
    --bib-port <PORT>        BIB's port [env SIM_BIB_PORT, default 4001]
    --public-url <URL>       BankID OIDC's issuer as the browser reaches it (compose
                             network, proxy, tunnel): scheme, host and port, no path
                             [env SIM_PUBLIC_URL, default http://<bind>:<port>, with
                             127.0.0.1 for 0.0.0.0]
    --bib-public-url <URL>   BIB's issuer likewise [env SIM_BIB_PUBLIC_URL, default
                             http://<bind>:<bib-port>]
    --redirect-uri <URI>     accept this redirect URI (exact match); repeatable
                             [env SIM_REDIRECT_URIS, comma-separated; both are used]
    --client-id <ID>         the client id to accept [default sim-client]
    --client-secret <SECRET> the client secret to accept [default sim-secret]
    --auto-approve <USER>    log every login in as this user id at once: no login
                             page, CIBA approved at the first poll (requests are
                             still checked as strictly)
    --ciba-interval <SECS>   the CIBA polling interval [default 5]
    --backchannel-logout     advertise back-channel logout in discovery
    --signing-alg <ALG>      sign every token with ES256 or RS256 [default ES256]
    --root-cert-file <PATH>  where to write the test root certificate (PEM)
                             [env SIM_ROOT_CERT_FILE, default
                             <temp dir>/axum-bankid-simulator-root.pem]
    --fault <NAME>           inject a fault from the start; repeatable. NAME is a
                             unit fault in kebab-case (e.g. low-acr, wrong-audience,
                             rotated-keys), or slow=<ms>, slow-jwks=<ms>,
                             slow-token-answer=<ms>, grant-not-ready=<n>
    --list-faults            print the fault names and exit
    --user <SPEC>            add a test user after the four built-in ones; repeatable.
                             SPEC is comma-separated key=value pairs, each key once:
                             id=<1-32 of a-z A-Z 0-9 - _>, name=<given and family name>,
                             nnin=<11 digits, valid mod-11 check digits>,
                             birthdate=<YYYY-MM-DD> (all four required), and optional
                             method=BIS|BID [default BIS], loa=3|4 [default: 3 for BIS,
                             4 for BID], bib=true|false [default true; false needs BID].
                             e.g. --user 'id=ann,name=Ann Test,nnin=31819012388,birthdate=1990-01-31'
                             id, nnin and the derived sub must be unique.
    --list-users             print the test users (built-in, config and --user) and exit
    -h, --help               print this help and exit

GET /healthz on either port answers 200 {\"status\":\"ok\"}.
The users' phone page (for CIBA) is at <public url>/phone.
Stop with Ctrl-C.";

/// The root certificate's file name in the temporary directory, unless
/// `--root-cert-file` names another path.
const ROOT_CERT_FILE_NAME: &str = "axum-bankid-simulator-root.pem";

/// What the command line (and the `--config` file) asks for.
#[derive(Debug, Default)]
struct Options {
    bind: Option<IpAddr>,
    port: Option<u16>,
    bib_port: Option<u16>,
    public_url: Option<String>,
    bib_public_url: Option<String>,
    redirect_uris: Vec<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    auto_approve: Option<String>,
    ciba_interval: Option<Duration>,
    backchannel_logout: bool,
    signing_alg: Option<SigningAlgorithm>,
    root_cert_file: Option<PathBuf>,
    faults: Vec<Fault>,
    /// The `--user`s, in order, checked against each other and the built-in users.
    users: Vec<TestUser>,
}

impl Options {
    /// These options over a config file's: a value set here wins; redirect
    /// URIs, users and faults add up, the file's first.
    fn over(self, file: program::config::Config) -> Options {
        Options {
            bind: self.bind.or(file.bind),
            port: self.port.or(file.port),
            bib_port: self.bib_port.or(file.bib_port),
            public_url: self.public_url.or(file.public_url),
            bib_public_url: self.bib_public_url.or(file.bib_public_url),
            redirect_uris: file.redirect_uris.into_iter().chain(self.redirect_uris).collect(),
            client_id: self.client_id.or(file.client_id),
            client_secret: self.client_secret.or(file.client_secret),
            auto_approve: self.auto_approve.or(file.auto_approve),
            ciba_interval: self.ciba_interval.or(file.ciba_interval),
            backchannel_logout: self.backchannel_logout || file.backchannel_logout,
            signing_alg: self.signing_alg.or(file.signing_alg),
            root_cert_file: self.root_cert_file.or(file.root_cert_file),
            faults: file.faults.into_iter().chain(self.faults).collect(),
            users: file.users.into_iter().chain(self.users).collect(),
        }
    }
}

/// What to do instead of serving.
#[derive(Debug)]
enum Exit {
    Help,
    ListFaults,
    /// Print the built-in users and these added ones.
    ListUsers(Vec<TestUser>),
}

/// Parses one `--user` value (see `--help` and [`UserSpec::parse`]), then
/// the rules of [`TestUser::builder`]. The error names the key and, except
/// for the nnin, the value.
fn parse_user(spec: &str) -> Result<TestUser, String> {
    UserSpec::parse(spec).and_then(UserSpec::build).map_err(|problem| format!("--user: {problem}"))
}

/// Refuses a user whose id, nnin or sub another user has, the way the
/// simulator would when started.
fn check_unique(users: &[TestUser]) -> Result<(), String> {
    let mut builder = Simulator::builder();
    for user in users {
        builder = builder.user(user.clone()).map_err(|error| format!("--user id={}: {error}", user.id()))?;
    }
    Ok(())
}

/// Refuses an `--auto-approve` id that no user has.
fn check_auto_approve(options: &Options) -> Result<(), String> {
    let Some(id) = options.auto_approve.as_deref() else { return Ok(()) };
    let mut users = Simulator::default_users().iter().chain(&options.users);
    if users.any(|user| user.id() == id) {
        return Ok(());
    }
    let known: Vec<&str> = Simulator::default_users().iter().chain(&options.users).map(TestUser::id).collect();
    Err(format!("--auto-approve: no test user {id:?} (known: {})", known.join(", ")))
}

/// One user as a `--user` spec (plus its `sub`), for `--list-users`.
fn user_line(user: &TestUser) -> String {
    format!(
        "id={},name={},nnin={},birthdate={},method={},loa={},bib={}  (sub {}, acr {})\n",
        user.id(),
        user.name(),
        user.nnin(),
        user.birthdate(),
        user.method(),
        user.loa(),
        user.bib_enabled(),
        user.sub(),
        user.acr(),
    )
}

fn parse_port(flag: &str, value: &str) -> Result<u16, String> {
    value.parse().map_err(|_| format!("{flag}: {value:?} is not a port number"))
}

/// Reads the `SIM_*` variables into `options` (the flags then override them).
fn read_env(options: &mut Options, env: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    if let Some(ip) = env("SIM_BIND") {
        options.bind = Some(parse_bind(&ip).map_err(|problem| format!("SIM_BIND: {problem}"))?);
    }
    if let Some(port) = env("SIM_PORT") {
        options.port = Some(parse_port("SIM_PORT", &port)?);
    }
    if let Some(port) = env("SIM_BIB_PORT") {
        options.bib_port = Some(parse_port("SIM_BIB_PORT", &port)?);
    }
    options.public_url = env("SIM_PUBLIC_URL");
    options.bib_public_url = env("SIM_BIB_PUBLIC_URL");
    options.root_cert_file = env("SIM_ROOT_CERT_FILE").map(PathBuf::from);
    let uris = env("SIM_REDIRECT_URIS").unwrap_or_default();
    options.redirect_uris.extend(uris.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned));
    Ok(())
}

/// Parses the arguments after the program name; `env` reads the `SIM_*`
/// variables. Precedence: the `--config` file, then `SIM_*`, then flags;
/// redirect URIs, users and faults add up.
fn parse(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Result<Options, Exit>, String> {
    let mut options = Options::default();
    read_env(&mut options, env)?;
    let mut list_users = false;
    let mut config = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // `--flag=value` and `--flag value` both work.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(Err(Exit::Help)),
            "--list-faults" => return Ok(Err(Exit::ListFaults)),
            // Listed once every --user is read, so that they are listed too.
            "--list-users" => list_users = true,
            "--config" => config = Some(PathBuf::from(value()?)),
            "--bind" => options.bind = Some(parse_bind(&value()?).map_err(|problem| format!("--bind: {problem}"))?),
            "--port" => options.port = Some(parse_port("--port", &value()?)?),
            "--bib-port" => options.bib_port = Some(parse_port("--bib-port", &value()?)?),
            "--public-url" => options.public_url = Some(value()?),
            "--bib-public-url" => options.bib_public_url = Some(value()?),
            "--redirect-uri" => options.redirect_uris.push(value()?),
            "--client-id" => options.client_id = Some(value()?),
            "--client-secret" => options.client_secret = Some(value()?),
            "--auto-approve" => options.auto_approve = Some(value()?),
            "--ciba-interval" => {
                let secs = value()?;
                let secs = secs.parse().map_err(|_| format!("--ciba-interval: {secs:?} is not a number"))?;
                options.ciba_interval = Some(Duration::from_secs(secs));
            }
            "--backchannel-logout" => options.backchannel_logout = true,
            "--signing-alg" => {
                let alg = parse_signing_alg(&value()?).map_err(|problem| format!("--signing-alg: {problem}"))?;
                options.signing_alg = Some(alg);
            }
            "--root-cert-file" => options.root_cert_file = Some(PathBuf::from(value()?)),
            "--fault" => options.faults.push(parse_fault(&value()?).map_err(|problem| format!("--fault: {problem}"))?),
            "--user" => {
                options.users.push(parse_user(&value()?)?);
                check_unique(&options.users)?;
            }
            _ => return Err(format!("unknown argument {arg:?} (see --help)")),
        }
    }
    if let Some(path) = config {
        options = options.over(program::config::load(&path)?);
        check_unique(&options.users)?;
    }
    if list_users {
        return Ok(Err(Exit::ListUsers(options.users)));
    }
    check_auto_approve(&options)?;
    Ok(Ok(options))
}

/// What `--help`, `--list-faults` and `--list-users` print. A closed pipe
/// (`| head`) is not an error worth a panic.
fn exit_text(exit: &Exit) -> String {
    match exit {
        Exit::Help => format!("{USAGE}\n"),
        Exit::ListFaults => UNIT_FAULTS.iter().map(|(name, _)| *name).chain(VALUE_FAULTS.iter().copied()).fold(
            String::new(),
            |mut out, name| {
                out.push_str(name);
                out.push('\n');
                out
            },
        ),
        Exit::ListUsers(added) => Simulator::default_users().iter().chain(added).map(user_line).collect(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1), |name| std::env::var(name).ok()) {
        Ok(Ok(options)) => options,
        Ok(Err(exit)) => {
            let _ = std::io::stdout().lock().write_all(exit_text(&exit).as_bytes());
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("axum-bankid-simulator: {problem}");
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("axum-bankid-simulator: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The builder for these options (users were checked while parsing).
fn builder(options: &Options) -> std::io::Result<axum_bankid_simulator::SimulatorBuilder> {
    let ip = options.bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut builder = Simulator::builder()
        .bind(SocketAddr::new(ip, options.port.unwrap_or(4000)))
        .bib_bind(SocketAddr::new(ip, options.bib_port.unwrap_or(4001)))
        .backchannel_logout(options.backchannel_logout)
        .signing_algorithm(options.signing_alg.unwrap_or_default());
    for uri in &options.redirect_uris {
        builder = builder.redirect_uri(uri.clone());
    }
    if options.client_id.is_some() || options.client_secret.is_some() {
        builder = builder.client(
            options.client_id.clone().unwrap_or_else(|| axum_bankid_simulator::DEFAULT_CLIENT_ID.to_owned()),
            options.client_secret.clone().unwrap_or_else(|| axum_bankid_simulator::DEFAULT_CLIENT_SECRET.to_owned()),
        );
    }
    if let Some(interval) = options.ciba_interval {
        builder = builder.ciba_interval(interval);
    }
    if let Some(url) = &options.public_url {
        builder = builder.public_url(url.clone());
    }
    if let Some(url) = &options.bib_public_url {
        builder = builder.bib_public_url(url.clone());
    }
    if let Some(user) = &options.auto_approve {
        builder = builder.auto_approve(user.clone());
    }
    for user in &options.users {
        println!("user: {}", user_line(user).trim_end());
        // Checked while parsing; a failure here would be a bug, reported as one.
        builder = builder.user(user.clone()).map_err(std::io::Error::other)?;
    }
    for fault in &options.faults {
        println!("fault: {fault:?}");
        builder = builder.fault(fault.clone());
    }
    Ok(builder)
}

async fn run(options: Options) -> std::io::Result<()> {
    if options.bind.is_some_and(|ip| !ip.is_loopback()) {
        eprintln!(
            "axum-bankid-simulator: WARNING: listening on {} (not loopback): anyone who reaches it can log in as a \
             test user, and its signing keys are public test keys. Never trust its tokens outside development.",
            options.bind.map(|ip| ip.to_string()).unwrap_or_default()
        );
    }
    let sim = builder(&options)?.start().await?;
    let root_file = options.root_cert_file.unwrap_or_else(|| std::env::temp_dir().join(ROOT_CERT_FILE_NAME));
    std::fs::write(&root_file, sim.root_certificates_pem())
        .map_err(|error| std::io::Error::new(error.kind(), format!("writing {}: {error}", root_file.display())))?;
    print_settings(&sim, &options.redirect_uris, &root_file);
    if let Some(user) = &options.auto_approve {
        println!("auto-approve: every login completes as {user}");
    }
    println!("listening: BankID OIDC on {}, BIB on {}", sim.addr(), sim.bib_addr());
    println!("health: {}/healthz", sim.issuer());
    println!("phone page: {}/phone", sim.issuer());
    println!("signing algorithm: {}", sim.signing_algorithm().name());
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}

/// Prints what a relying party needs, one `BANKID_*=value` a line (an env
/// file), with the issuers as the browser reaches them: every variable
/// `from_env` needs ([`Simulator::relying_party_env`]), so `export`ing the
/// lines is enough. With no or several redirect URIs registered, the app's
/// own `BANKID_REDIRECT_URI` is the one line left to the user.
fn print_settings(sim: &Simulator, redirect_uris: &[String], root_file: &std::path::Path) {
    let redirect_uri = match redirect_uris {
        [uri] => Some(uri.as_str()),
        [] => {
            println!("no redirect URI registered: add one with --redirect-uri");
            None
        }
        several => {
            println!("redirect URIs: {} (BANKID_REDIRECT_URI is the one your app uses)", several.join(" "));
            None
        }
    };
    for (name, value) in sim.relying_party_env(redirect_uri.unwrap_or_default(), root_file) {
        if name != "BANKID_REDIRECT_URI" || redirect_uri.is_some() {
            println!("{name}={value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn options(list: &[&str], env: &[(&str, &str)]) -> Options {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        match parse(args(list), |name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())) {
            Ok(Ok(options)) => options,
            Ok(Err(_)) => panic!("unexpected exit"),
            Err(problem) => panic!("{problem}"),
        }
    }

    #[test]
    fn flags_win_over_the_environment_and_redirect_uris_add_up() {
        let parsed = options(
            &["--port", "5000", "--redirect-uri=http://a/cb", "--redirect-uri", "http://b/cb", "--fault", "low-acr"],
            &[("SIM_PORT", "4500"), ("SIM_BIB_PORT", "4501"), ("SIM_REDIRECT_URIS", "http://c/cb, http://d/cb")],
        );
        assert_eq!(parsed.port, Some(5000));
        assert_eq!(parsed.bib_port, Some(4501));
        assert_eq!(parsed.redirect_uris, ["http://c/cb", "http://d/cb", "http://a/cb", "http://b/cb"]);
        assert_eq!(parsed.faults, [Fault::LowAcr]);
    }

    #[test]
    fn the_signing_algorithm_and_root_file_are_chosen_by_flag_or_environment() {
        let parsed = options(&["--signing-alg", "rs256"], &[("SIM_ROOT_CERT_FILE", "/tmp/env-root.pem")]);
        assert_eq!(parsed.signing_alg, Some(SigningAlgorithm::Rs256));
        assert_eq!(parsed.root_cert_file, Some(PathBuf::from("/tmp/env-root.pem")));
        let flagged = options(&["--root-cert-file=/tmp/flag-root.pem"], &[("SIM_ROOT_CERT_FILE", "/tmp/env.pem")]);
        assert_eq!(flagged.root_cert_file, Some(PathBuf::from("/tmp/flag-root.pem")));
        assert_eq!(flagged.signing_alg, None, "ES256 unless asked");
        let refused = parse(args(&["--signing-alg", "HS256"]), |_: &str| None).expect_err("HS256");
        assert_eq!(refused, r#"--signing-alg: "HS256" is not ES256 or RS256"#);
    }

    #[test]
    fn bad_arguments_are_refused() {
        let env = |_: &str| None;
        assert!(parse(args(&["--port"]), env).is_err());
        assert!(parse(args(&["--port", "x"]), env).is_err());
        assert!(parse(args(&["--frobnicate"]), env).is_err());
        assert!(matches!(parse(args(&["--help"]), env), Ok(Err(Exit::Help))));
    }

    const ANN: &str = "id=ann,name=Ann Test,nnin=31819012388,birthdate=1990-01-31";

    #[test]
    fn the_file_then_the_environment_then_flags_and_lists_add_up() {
        let path = std::env::temp_dir().join(format!("sim-main-precedence-{}.toml", std::process::id()));
        let file = "public_url = \"http://file:1\"\nsigning_alg = \"RS256\"\nport = 4100\nfaults = [\"low-acr\"]\n\n\
                    [client]\nid = \"file-client\"\nredirect_uris = [\"http://file/cb\"]\n";
        std::fs::write(&path, file).expect("written");
        let config = format!("--config={}", path.display());
        let parsed = options(
            &[&config, "--client-id", "flag-client", "--redirect-uri", "http://flag/cb", "--fault", "expired"],
            &[("SIM_PUBLIC_URL", "http://env:1"), ("SIM_REDIRECT_URIS", "http://env/cb")],
        );
        std::fs::remove_file(&path).expect("cleanup");
        assert_eq!(parsed.client_id.as_deref(), Some("flag-client"), "flags win over the file");
        assert_eq!(parsed.public_url.as_deref(), Some("http://env:1"), "SIM_* wins over the file");
        assert_eq!((parsed.signing_alg, parsed.port), (Some(SigningAlgorithm::Rs256), Some(4100)), "the file's own");
        assert_eq!(parsed.redirect_uris, ["http://file/cb", "http://env/cb", "http://flag/cb"]);
        assert_eq!(parsed.faults, [Fault::LowAcr, Fault::Expired]);
    }

    #[test]
    fn a_user_spec_parses_with_defaults_and_options() {
        let ann = parse_user(ANN).expect("valid");
        assert_eq!(
            (ann.id(), ann.name(), ann.nnin(), ann.birthdate()),
            ("ann", "Ann Test", "31819012388", "1990-01-31")
        );
        assert_eq!((ann.method(), ann.loa(), ann.acr(), ann.bib_enabled()), ("BIS", 3, "urn:bankid:bis;LOA=3", true));
        let bid = parse_user(&format!("{ANN},method=BID,bib=false")).expect("valid");
        assert_eq!((bid.method(), bid.loa(), bid.acr(), bid.bib_enabled()), ("BID", 4, "urn:bankid:bid;LOA=4", false));
        let high = parse_user(&format!("bib=true,loa=4,{ANN}")).expect("keys in any order");
        assert_eq!(high.acr(), "urn:bankid:bis;LOA=4");
    }

    #[test]
    fn a_bad_user_spec_names_the_key() {
        let error = |extra: &str| parse_user(&format!("{ANN}{extra}")).expect_err(extra);
        assert_eq!(
            error(",colour=blue"),
            r#"--user: unknown key "colour" (known: id, name, nnin, birthdate, method, loa, bib)"#
        );
        assert_eq!(error(",id=bob"), r#"--user: key "id" is given twice"#);
        assert_eq!(error(","), r#"--user: "" is not key=value"#);
        assert_eq!(error(",method=BIM"), r#"--user: method "BIM": must be BIS or BID"#);
        assert_eq!(error(",loa=2"), "--user: loa 2: must be 3 or 4");
        assert_eq!(error(",loa=high"), r#"--user: loa "high" is not 3 or 4"#);
        assert_eq!(error(",bib=yes"), r#"--user: bib "yes" is not true or false"#);
        assert_eq!(error(",bib=false"), "--user: bib: a BIS user must have BankID with biometrics enabled");
        assert_eq!(
            parse_user("id=ann,name=Ann Test,nnin=31819012388").unwrap_err(),
            r#"--user: key "birthdate" is missing"#
        );
        let bad_date = parse_user("id=ann,name=Ann Test,nnin=31819012388,birthdate=1990-02-30").unwrap_err();
        assert_eq!(bad_date, r#"--user: birthdate "1990-02-30": must be a real date as YYYY-MM-DD"#);
        let bad_checksum = parse_user("id=ann,name=Ann Test,nnin=31819012389,birthdate=1990-01-31").unwrap_err();
        assert_eq!(bad_checksum, "--user: nnin: the mod-11 check digits are wrong");
        let spaced = parse_user("id=ann, name=Ann Test,nnin=31819012388,birthdate=1990-01-31").unwrap_err();
        assert!(spaced.contains(r#"unknown key " name""#), "{spaced}");
    }

    #[test]
    fn users_are_parsed_in_order_and_a_taken_nnin_or_id_is_refused() {
        let parsed = options(&["--user", ANN, "--user=id=bo,name=Bo Test,nnin=02819010040,birthdate=1990-01-02"], &[]);
        let ids: Vec<&str> = parsed.users.iter().map(TestUser::id).collect();
        assert_eq!(ids, ["ann", "bo"]);
        let env = |_: &str| None;
        let karis = "id=kari2,name=Kari Kopi,nnin=17858642043,birthdate=1986-05-17";
        let taken = parse(args(&["--user", karis]), env).expect_err("kari's nnin");
        assert_eq!(taken, r#"--user id=kari2: nnin: already taken by user "kari""#);
        let twice = parse(args(&["--user", ANN, "--user", ANN]), env).expect_err("ann twice");
        assert_eq!(twice, r#"--user id=ann: id: already taken by user "ann""#);
        assert!(parse(args(&["--user"]), env).is_err(), "a value is needed");
    }

    #[test]
    fn list_users_lists_the_added_users_wherever_the_flag_stands() {
        let env = |_: &str| None;
        for order in [["--list-users", "--user", ANN], ["--user", ANN, "--list-users"]] {
            let Ok(Err(exit)) = parse(args(&order), env) else { panic!("--list-users exits: {order:?}") };
            let text = exit_text(&exit);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 5, "{text}");
            assert!(lines[0].starts_with("id=kari,name=Kari Nordmann,nnin=17858642043,"), "{text}");
            assert!(lines[4].starts_with(&format!("{ANN},method=BIS,loa=3,bib=true  (sub ")), "{text}");
        }
        let bad = parse(args(&["--list-users", "--user", "id=ann"]), env);
        assert!(bad.is_err(), "a bad --user is refused even when listing");
    }
}
