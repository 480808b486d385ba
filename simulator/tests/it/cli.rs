//! The `axum-bankid-simulator` binary itself, run as a developer would:
//! `--user` adds to what `--list-users` prints, and a bad `--user` is a
//! usage error (exit code 2) that names the key. Neither starts a server.
#![cfg(feature = "cli")]

use std::process::{Command, Output, Stdio};

const ANN: &str = "id=ann,name=Ann Test,nnin=31819012388,birthdate=1990-01-31";

fn run(args: &[&str]) -> Output {
    let binary = env!("CARGO_BIN_EXE_axum-bankid-simulator");
    // No SIM_* variables from the surrounding shell.
    let mut command = Command::new(binary);
    command.args(args).env_remove("SIM_PORT").env_remove("SIM_BIB_PORT").env_remove("SIM_REDIRECT_URIS");
    command.output().expect("the binary runs")
}

#[test]
fn list_users_shows_the_added_users_after_the_built_in_ones() {
    let bo = "id=bo,name=Bo Høyt,nnin=15868510045,birthdate=1985-06-15,method=BID,bib=false";
    let output = run(&["--user", ANN, "--user", bo, "--list-users"]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let ids: Vec<&str> = stdout.lines().map(|line| line.split(',').next().unwrap_or_default()).collect();
    assert_eq!(ids, ["id=kari", "id=ola", "id=per", "id=nina", "id=ann", "id=bo"], "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[4].starts_with(&format!("{ANN},method=BIS,loa=3,bib=true  (sub ")), "{stdout}");
    assert!(
        lines[5].starts_with("id=bo,name=Bo Høyt,nnin=15868510045,birthdate=1985-06-15,method=BID,loa=4,bib=false")
    );
    assert!(lines[5].ends_with("acr urn:bankid:bid;LOA=4)"), "{stdout}");
}

#[test]
fn a_bad_user_is_a_usage_error_naming_the_key() {
    for (spec, message) in [
        (format!("{ANN},loa=2"), "--user: loa 2: must be 3 or 4"),
        (format!("{ANN},color=blue"), r#"--user: unknown key "color""#),
        (
            "id=kari2,name=Kari Kopi,nnin=17858642043,birthdate=1986-05-17".to_owned(),
            r#"nnin: already taken by user "kari""#,
        ),
    ] {
        let output = run(&["--user", &spec, "--list-users"]);
        assert_eq!(output.status.code(), Some(2), "{spec}");
        let stderr = String::from_utf8(output.stderr).expect("UTF-8");
        assert!(stderr.starts_with("axum-bankid-simulator: "), "{stderr}");
        assert!(stderr.contains(message), "{spec}: {stderr}");
        assert!(output.stdout.is_empty(), "nothing is listed after a bad --user");
    }
}

/// Starts the binary on free ports and reads what it prints up to the root
/// certificate's line; the child is then killed by its own handle.
fn started_lines(args: &[&str]) -> Vec<String> {
    let binary = env!("CARGO_BIN_EXE_axum-bankid-simulator");
    let mut child = Command::new(binary)
        .args(["--port", "0", "--bib-port", "0"])
        .args(args)
        .env_remove("SIM_REDIRECT_URIS")
        .env_remove("SIM_ROOT_CERT_FILE")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let lines = crate::sim_support::lines_until_serving(&mut child);
    child.kill().expect("the child is still running");
    child.wait().expect("the child exits");
    lines
}

#[test]
fn the_program_writes_the_root_certificate_and_prints_every_bankid_value() {
    let dir = std::env::temp_dir().join(format!("sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let root = dir.join("root.pem");
    let lines = started_lines(&[
        "--redirect-uri",
        "http://127.0.0.1:3000/auth/bankid/callback",
        "--root-cert-file",
        root.to_str().expect("UTF-8 path"),
    ]);
    let value = |name: &str| lines.iter().find_map(|line| line.strip_prefix(&format!("{name}="))).map(str::to_owned);
    assert!(value("BANKID_ISSUER").is_some_and(|issuer| issuer.starts_with("http://127.0.0.1:")), "{lines:?}");
    assert_eq!(value("BANKID_REDIRECT_URI").as_deref(), Some("http://127.0.0.1:3000/auth/bankid/callback"));
    assert_eq!(value("BANKID_ROOT_CERTS_FILE").as_deref(), root.to_str(), "{lines:?}");
    // Every variable `BankIdConfig::from_env` needs, and only these (the
    // relying party's test, `first_steps`, feeds the same set to `from_env`).
    let printed: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.split_once('='))
        .map(|(name, _)| name)
        .filter(|n| n.starts_with("BANKID_"))
        .collect();
    let needed = ["ISSUER", "BIB_ISSUER", "CLIENT_ID", "CLIENT_SECRET", "REDIRECT_URI", "ROOT_CERTS_FILE"];
    assert_eq!(printed, needed.map(|name| format!("BANKID_{name}")), "{lines:?}");
    let pem = std::fs::read_to_string(&root).expect("the root certificate was written");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n") && pem.ends_with("-----END CERTIFICATE-----\n"));
    assert_eq!(lines.last().map(String::as_str), Some("signing algorithm: ES256"));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn signing_alg_rs256_is_selectable_and_another_is_a_usage_error() {
    let dir = std::env::temp_dir().join(format!("sim-cli-rs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let root = dir.join("root.pem");
    let lines = started_lines(&["--signing-alg", "RS256", "--root-cert-file", root.to_str().expect("UTF-8 path")]);
    assert_eq!(lines.last().map(String::as_str), Some("signing algorithm: RS256"), "{lines:?}");
    assert!(!lines.iter().any(|line| line.starts_with("BANKID_REDIRECT_URI=")), "none registered: {lines:?}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
    let refused = run(&["--signing-alg", "PS256"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains(r#"--signing-alg: "PS256" is not ES256 or RS256"#));
}
