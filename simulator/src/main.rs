//! `axum-bankid-simulator`: the BankID simulator on its own, BankID OIDC and
//! BIB on two fixed loopback ports, for a relying party on any stack
//! configured by URL (for `axum-bankid`: the `BANKID_*` variables).
//!
//! ```sh
//! cargo run -p axum-bankid-simulator -- --redirect-uri http://127.0.0.1:3000/auth/bankid/callback
//! # then, elsewhere:
//! BANKID_ISSUER=http://127.0.0.1:4000 BANKID_BIB_ISSUER=http://127.0.0.1:4001 \
//! BANKID_CLIENT_ID=sim-client BANKID_CLIENT_SECRET=sim-secret \
//! BANKID_REDIRECT_URI=http://127.0.0.1:3000/auth/bankid/callback \
//! BANKID_ROOT_CERTS_FILE=/tmp/axum-bankid-simulator-root.pem cargo run --example ciba
//! ```
//!
//! It writes the root certificate of its test PKI (the root every published
//! key's `x5c` chain ends at) to a file and prints its path as
//! `BANKID_ROOT_CERTS_FILE=...`, next to the other `BANKID_*` values.
//!
//! Run with `--help` for the options (`--user` adds a test user,
//! `--list-users` lists them all); `SIM_PORT`, `SIM_BIB_PORT` and
//! `SIM_REDIRECT_URIS` (comma-separated) set the same things, flags win.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use axum_bankid_simulator::{Fault, SigningAlgorithm, Simulator, TestUser};

const USAGE: &str = "\
axum-bankid-simulator: a local BankID (BankID OIDC + BIB) for development and tests.
Public test keys and test users: never use it in production.

USAGE:
    axum-bankid-simulator [OPTIONS]

OPTIONS:
    --port <PORT>            BankID OIDC's port on 127.0.0.1 [env SIM_PORT, default 4000]
    --bib-port <PORT>        BIB's port on 127.0.0.1 [env SIM_BIB_PORT, default 4001]
    --redirect-uri <URI>     accept this redirect URI (exact match); repeatable
                             [env SIM_REDIRECT_URIS, comma-separated; both are used]
    --client-id <ID>         the client id to accept [default sim-client]
    --client-secret <SECRET> the client secret to accept [default sim-secret]
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
    --list-users             print the test users (built-in and --user) and exit
    -h, --help               print this help and exit

The users' phone page (for CIBA) is at http://127.0.0.1:<port>/phone.
Stop with Ctrl-C.";

/// The faults without a value, by their kebab-case names.
const UNIT_FAULTS: &[(&str, Fault)] = &[
    ("wrong-audience", Fault::WrongAudience),
    ("extra-audience", Fault::ExtraAudience),
    ("wrong-azp", Fault::WrongAzp),
    ("wrong-issuer", Fault::WrongIssuer),
    ("expired", Fault::Expired),
    ("issued-in-future", Fault::IssuedInFuture),
    ("bad-signature", Fault::BadSignature),
    ("alg-none", Fault::AlgNone),
    ("rotated-keys", Fault::RotatedKeys),
    ("discovery-unavailable", Fault::DiscoveryUnavailable),
    ("unknown-kid", Fault::UnknownKid),
    ("wrong-nonce", Fault::WrongNonce),
    ("missing-nonce", Fault::MissingNonce),
    ("missing-acr", Fault::MissingAcr),
    ("low-acr", Fault::LowAcr),
    ("wrong-callback-iss", Fault::WrongCallbackIss),
    ("token-endpoint-error", Fault::TokenEndpointError),
    ("token-endpoint-server-error", Fault::TokenEndpointServerError),
    ("wrong-permission-digest", Fault::WrongPermissionDigest),
    ("missing-permission-digest", Fault::MissingPermissionDigest),
    ("different-permission-type", Fault::DifferentPermissionType),
    ("expired-request-uri", Fault::ExpiredRequestUri),
    ("reusable-request-uri", Fault::ReusableRequestUri),
    ("user-exists-error", Fault::UserExistsError),
    ("grant-wrong-key", Fault::GrantWrongKey),
    ("grant-signed-with-id-token-key", Fault::GrantSignedWithIdTokenKey),
    ("user-exists-false", Fault::UserExistsFalse),
    ("bearer-refused", Fault::BearerRefused),
    ("register-refused", Fault::RegisterRefused),
    ("backchannel-refused", Fault::BackchannelRefused),
    ("ciba-id-token-signed-by-oidc-key", Fault::CibaIdTokenSignedByOidcKey),
    ("jwks-unavailable", Fault::JwksUnavailable),
    ("not-yet-valid", Fault::NotYetValid),
    ("chain-to-foreign-root", Fault::ChainToForeignRoot),
    ("expired-certificate", Fault::ExpiredCertificate),
    ("certificate-for-other-key", Fault::CertificateForOtherKey),
    ("no-certificate-chain", Fault::NoCertificateChain),
];

/// The root certificate's file name in the temporary directory, unless
/// `--root-cert-file` names another path.
const ROOT_CERT_FILE_NAME: &str = "axum-bankid-simulator-root.pem";

/// The faults that take a value, `name=<value>`.
const VALUE_FAULTS: &[&str] = &["slow=<ms>", "slow-jwks=<ms>", "slow-token-answer=<ms>", "grant-not-ready=<n>"];

/// What the command line asks for.
#[derive(Debug, Default)]
struct Options {
    port: Option<u16>,
    bib_port: Option<u16>,
    redirect_uris: Vec<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    ciba_interval: Option<Duration>,
    backchannel_logout: bool,
    signing_alg: Option<SigningAlgorithm>,
    root_cert_file: Option<PathBuf>,
    faults: Vec<Fault>,
    /// The `--user`s, in order, checked against each other and the built-in users.
    users: Vec<TestUser>,
}

/// What to do instead of serving.
#[derive(Debug)]
enum Exit {
    Help,
    ListFaults,
    /// Print the built-in users and these added ones.
    ListUsers(Vec<TestUser>),
}

/// The keys of a `--user` spec; the first four are required.
const USER_KEYS: [&str; 7] = ["id", "name", "nnin", "birthdate", "method", "loa", "bib"];

/// Parses one `--user` value, `key=value` pairs separated by commas (see
/// `--help`), strictly: every key known and given once, the four required
/// ones present, `loa` a number, `bib` `true` or `false`; then the rules of
/// [`TestUser::builder`]. The error names the key and, except for the nnin,
/// the value.
fn parse_user(spec: &str) -> Result<TestUser, String> {
    let mut values: [Option<&str>; USER_KEYS.len()] = [None; USER_KEYS.len()];
    for pair in spec.split(',') {
        let (key, value) = pair.split_once('=').ok_or_else(|| format!("--user: {pair:?} is not key=value"))?;
        let slot = USER_KEYS
            .iter()
            .position(|known| *known == key)
            .ok_or_else(|| format!("--user: unknown key {key:?} (known: {})", USER_KEYS.join(", ")))?;
        if values[slot].replace(value).is_some() {
            return Err(format!("--user: key {key:?} is given twice"));
        }
    }
    let required = |slot: usize| values[slot].ok_or_else(|| format!("--user: key {:?} is missing", USER_KEYS[slot]));
    let mut builder = TestUser::builder(required(0)?, required(1)?, required(2)?, required(3)?);
    if let Some(method) = values[4] {
        builder = builder.method(method);
    }
    if let Some(loa) = values[5] {
        builder = builder.loa(loa.parse().map_err(|_| format!("--user: loa {loa:?} is not 3 or 4"))?);
    }
    match values[6] {
        Some("true") => builder = builder.bib_enabled(true),
        Some("false") => builder = builder.bib_enabled(false),
        Some(other) => return Err(format!("--user: bib {other:?} is not true or false")),
        None => {}
    }
    builder.build().map_err(|error| format!("--user: {error}"))
}

/// Refuses a `--user` whose id, nnin or sub another user has, the way the
/// simulator would when started.
fn check_unique(users: &[TestUser]) -> Result<(), String> {
    users
        .iter()
        .try_fold(Simulator::builder(), |builder, user| builder.user(user.clone()))
        .map(drop)
        .map_err(|error| format!("--user id={}: {error}", users.last().map_or("", TestUser::id)))
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

fn parse_fault(spec: &str) -> Result<Fault, String> {
    let name = spec.trim().to_ascii_lowercase().replace('_', "-");
    if let Some((_, fault)) = UNIT_FAULTS.iter().find(|(n, _)| *n == name) {
        return Ok(fault.clone());
    }
    let number = |value: &str| value.parse::<u64>().map_err(|_| format!("--fault {spec}: {value:?} is not a number"));
    match name.split_once('=') {
        Some(("slow", ms)) => Ok(Fault::Slow(Duration::from_millis(number(ms)?))),
        Some(("slow-jwks", ms)) => Ok(Fault::SlowJwks(Duration::from_millis(number(ms)?))),
        Some(("slow-token-answer", ms)) => Ok(Fault::SlowTokenAnswer(Duration::from_millis(number(ms)?))),
        Some(("grant-not-ready", n)) => {
            let n = number(n)?;
            Ok(Fault::GrantNotReady(u32::try_from(n).map_err(|_| format!("--fault {spec}: too large"))?))
        }
        _ => Err(format!("unknown fault {spec:?} (see --list-faults)")),
    }
}

fn parse_port(flag: &str, value: &str) -> Result<u16, String> {
    value.parse().map_err(|_| format!("{flag}: {value:?} is not a port number"))
}

/// Parses the arguments after the program name; `env` reads the `SIM_*`
/// variables (flags win over them, redirect URIs add up).
fn parse(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Result<Options, Exit>, String> {
    let mut options = Options::default();
    if let Some(port) = env("SIM_PORT") {
        options.port = Some(parse_port("SIM_PORT", &port)?);
    }
    if let Some(port) = env("SIM_BIB_PORT") {
        options.bib_port = Some(parse_port("SIM_BIB_PORT", &port)?);
    }
    options.root_cert_file = env("SIM_ROOT_CERT_FILE").map(PathBuf::from);
    let uris = env("SIM_REDIRECT_URIS").unwrap_or_default();
    options.redirect_uris.extend(uris.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned));

    let mut list_users = false;
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
            "--port" => options.port = Some(parse_port("--port", &value()?)?),
            "--bib-port" => options.bib_port = Some(parse_port("--bib-port", &value()?)?),
            "--redirect-uri" => options.redirect_uris.push(value()?),
            "--client-id" => options.client_id = Some(value()?),
            "--client-secret" => options.client_secret = Some(value()?),
            "--ciba-interval" => {
                let secs = value()?;
                let secs = secs.parse().map_err(|_| format!("--ciba-interval: {secs:?} is not a number"))?;
                options.ciba_interval = Some(Duration::from_secs(secs));
            }
            "--backchannel-logout" => options.backchannel_logout = true,
            "--signing-alg" => {
                let name = value()?;
                let alg = SigningAlgorithm::from_name(&name)
                    .ok_or_else(|| format!("--signing-alg: {name:?} is not ES256 or RS256"))?;
                options.signing_alg = Some(alg);
            }
            "--root-cert-file" => options.root_cert_file = Some(PathBuf::from(value()?)),
            "--fault" => options.faults.push(parse_fault(&value()?)?),
            "--user" => {
                options.users.push(parse_user(&value()?)?);
                check_unique(&options.users)?;
            }
            _ => return Err(format!("unknown argument {arg:?} (see --help)")),
        }
    }
    if list_users {
        return Ok(Err(Exit::ListUsers(options.users)));
    }
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

async fn run(options: Options) -> std::io::Result<()> {
    let mut builder = Simulator::builder()
        .bind(SocketAddr::from(([127, 0, 0, 1], options.port.unwrap_or(4000))))
        .bib_bind(SocketAddr::from(([127, 0, 0, 1], options.bib_port.unwrap_or(4001))))
        .backchannel_logout(options.backchannel_logout)
        .signing_algorithm(options.signing_alg.unwrap_or_default());
    for uri in &options.redirect_uris {
        builder = builder.redirect_uri(uri.clone());
    }
    if options.client_id.is_some() || options.client_secret.is_some() {
        builder = builder.client(
            options.client_id.unwrap_or_else(|| axum_bankid_simulator::DEFAULT_CLIENT_ID.to_owned()),
            options.client_secret.unwrap_or_else(|| axum_bankid_simulator::DEFAULT_CLIENT_SECRET.to_owned()),
        );
    }
    if let Some(interval) = options.ciba_interval {
        builder = builder.ciba_interval(interval);
    }
    for user in options.users {
        println!("user: {}", user_line(&user).trim_end());
        // Checked while parsing; a failure here would be a bug, reported as one.
        builder = builder.user(user).map_err(std::io::Error::other)?;
    }
    let sim = builder.start().await?;
    for fault in options.faults {
        println!("fault: {fault:?}");
        sim.add_fault(fault);
    }
    println!("BANKID_ISSUER={}", sim.issuer());
    println!("BANKID_BIB_ISSUER={}", sim.bib_issuer());
    println!("BANKID_CLIENT_ID={} BANKID_CLIENT_SECRET={}", sim.client_id(), sim.client_secret());
    // The first one: a relying party registers one callback.
    if let Some(uri) = options.redirect_uris.first() {
        println!("BANKID_REDIRECT_URI={uri}");
    }
    let root_file = options.root_cert_file.unwrap_or_else(|| std::env::temp_dir().join(ROOT_CERT_FILE_NAME));
    std::fs::write(&root_file, sim.root_certificates_pem())
        .map_err(|error| std::io::Error::new(error.kind(), format!("writing {}: {error}", root_file.display())))?;
    println!("BANKID_ROOT_CERTS_FILE={}", root_file.display());
    println!("signing algorithm: {}", sim.signing_algorithm().name());
    println!("phone page: {}/phone", sim.issuer());
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
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
    fn the_certificate_faults_have_names() {
        assert_eq!(parse_fault("chain-to-foreign-root"), Ok(Fault::ChainToForeignRoot));
        assert_eq!(parse_fault("expired-certificate"), Ok(Fault::ExpiredCertificate));
        assert_eq!(parse_fault("certificate-for-other-key"), Ok(Fault::CertificateForOtherKey));
        assert_eq!(parse_fault("no-certificate-chain"), Ok(Fault::NoCertificateChain));
    }

    #[test]
    fn faults_parse_by_name_and_value() {
        assert_eq!(parse_fault("rotated-keys"), Ok(Fault::RotatedKeys));
        assert_eq!(parse_fault("Wrong_Audience"), Ok(Fault::WrongAudience));
        assert_eq!(parse_fault("slow=250"), Ok(Fault::Slow(Duration::from_millis(250))));
        assert_eq!(parse_fault("grant-not-ready=2"), Ok(Fault::GrantNotReady(2)));
        assert!(parse_fault("slow=soon").is_err());
        assert!(parse_fault("no-such-fault").is_err());
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
