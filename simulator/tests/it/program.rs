//! The `axum-bankid-simulator` program as a relying party on another stack
//! meets it: started with `--config`, `--public-url` and `--auto-approve`,
//! logged in against by plain HTTP (no page), its health route, its strict
//! config file, and the README's curl script run for real.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use axum_bankid_simulator::TestUser;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

const BINARY: &str = env!("CARGO_BIN_EXE_axum-bankid-simulator");
const REDIRECT_URI: &str = "http://127.0.0.1:9/shop/callback";

/// A config file with one added user, one client and auto-approval.
const CONFIG: &str = r#"
port = 0
bib_port = 0
auto_approve = "ann"

[client]
id = "shop"
secret = "shop-secret"
redirect_uris = ["http://127.0.0.1:9/shop/callback"]

[[users]]
id = "ann"
name = "Ann Test"
nnin = "31819012388"
birthdate = "1990-01-31"
"#;

/// A directory of its own for one test's files, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("sim-program-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("written");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The discovery document served at `base` (where the program listens).
async fn discovery_at(http: &reqwest::Client, base: &str) -> Value {
    let url = format!("{base}/.well-known/openid-configuration");
    http.get(url).send().await.expect("up").json().await.expect("JSON")
}

/// The running program and what it printed; killed when dropped.
struct Program {
    child: Option<Child>,
    lines: Vec<String>,
}

impl Program {
    /// Starts the program and reads its output up to the last line it
    /// prints before serving.
    fn start(dir: &TempDir, args: &[&str]) -> Program {
        let root = dir.0.join("root.pem");
        let mut child = Command::new(BINARY)
            .args(args)
            .args(["--root-cert-file", root.to_str().expect("UTF-8 path")])
            .env_remove("SIM_PORT")
            .env_remove("SIM_BIB_PORT")
            .env_remove("SIM_REDIRECT_URIS")
            .env_remove("SIM_PUBLIC_URL")
            .env_remove("SIM_BIB_PUBLIC_URL")
            .env_remove("SIM_BIND")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let lines = crate::sim_support::lines_until_serving(&mut child);
        assert!(lines.last().is_some_and(|line| line.starts_with("signing algorithm: ")), "{lines:?}");
        Program { child: Some(child), lines }
    }

    /// The value of a `NAME=value` line.
    fn value(&self, name: &str) -> Option<&str> {
        self.lines.iter().find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
    }

    /// Where BankID OIDC and BIB listen, from the `listening:` line.
    fn listening(&self) -> (String, String) {
        let line = self.lines.iter().find_map(|line| line.strip_prefix("listening: BankID OIDC on ")).expect("printed");
        let (oidc, bib) = line.split_once(", BIB on ").expect("both addresses");
        (format!("http://{oidc}"), format!("http://{bib}"))
    }

    /// Stops the program and returns what it wrote to stderr.
    fn stop(mut self) -> String {
        let mut child = self.child.take().expect("not stopped yet");
        child.kill().expect("still running");
        let output = child.wait_with_output().expect("exits");
        String::from_utf8(output.stderr).expect("UTF-8")
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client")
}

/// The PKCE S256 challenge of a verifier.
fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A query parameter of a URL.
fn param(url: &reqwest::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

/// The claims of a JWT, unverified (the simulator's own tests verify).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

#[tokio::test]
async fn config_public_url_and_auto_approve_log_in_by_plain_http() {
    let dir = TempDir::new("login");
    let config = dir.write("sim.toml", CONFIG);
    let program = Program::start(
        &dir,
        &[
            "--config",
            config.to_str().expect("UTF-8 path"),
            "--public-url",
            "http://bankid.test:8080/",
            "--bib-public-url=http://bib.test:8081",
        ],
    );
    assert_eq!(program.value("BANKID_ISSUER"), Some("http://bankid.test:8080"), "{:?}", program.lines);
    assert_eq!(program.value("BANKID_BIB_ISSUER"), Some("http://bib.test:8081"));
    assert_eq!(program.value("BANKID_CLIENT_ID"), Some("shop"));
    assert_eq!(program.value("BANKID_CLIENT_SECRET"), Some("shop-secret"));
    assert_eq!(program.value("BANKID_REDIRECT_URI"), Some(REDIRECT_URI));
    let (oidc, bib) = program.listening();
    let http = client();

    // Discovery, read where it listens, names the public URL everywhere.
    let discovery = discovery_at(&http, &oidc).await;
    assert_eq!(discovery["issuer"], "http://bankid.test:8080");
    for endpoint in ["authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"] {
        let url = discovery[endpoint].as_str().expect(endpoint);
        assert!(url.starts_with("http://bankid.test:8080/"), "{endpoint}: {url}");
    }
    let bib_discovery = discovery_at(&http, &bib).await;
    assert_eq!(bib_discovery["issuer"], "http://bib.test:8081");
    assert!(
        bib_discovery["backchannel_authentication_endpoint"]
            .as_str()
            .is_some_and(|url| url.starts_with("http://bib.test:8081/"))
    );

    // Authorize: straight back to the redirect URI with a code, no page.
    let verifier = "a-verifier-of-the-shop-that-is-long-enough-for-pkce-0123456789";
    let authorize = |with_pkce: bool| {
        let mut query = vec![
            ("response_type", "code".to_owned()),
            ("client_id", "shop".to_owned()),
            ("redirect_uri", REDIRECT_URI.to_owned()),
            ("scope", "openid".to_owned()),
            ("state", "st-1".to_owned()),
            ("nonce", "nonce-1".to_owned()),
        ];
        if with_pkce {
            query.extend([("code_challenge", challenge(verifier)), ("code_challenge_method", "S256".to_owned())]);
        }
        http.get(format!("{oidc}/authorize")).query(&query).send()
    };
    let answer = authorize(true).await.expect("answered");
    assert!(answer.status().is_redirection(), "{}", answer.status());
    let location = reqwest::Url::parse(answer.headers()["location"].to_str().expect("ASCII")).expect("a URL");
    assert!(location.as_str().starts_with(&format!("{REDIRECT_URI}?")), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some("st-1"));
    assert_eq!(param(&location, "iss").as_deref(), Some("http://bankid.test:8080"));
    let code = param(&location, "code").expect("a code");

    // The token exchange succeeds, and the ID token is Ann's.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier),
    ];
    let tokens = http
        .post(format!("{oidc}/token"))
        .basic_auth("shop", Some("shop-secret"))
        .form(&form)
        .send()
        .await
        .expect("answered");
    assert_eq!(tokens.status(), 200);
    let tokens: Value = tokens.json().await.expect("JSON");
    let id_token = claims(tokens["id_token"].as_str().expect("an ID token"));
    let ann = TestUser::builder("ann", "Ann Test", "31819012388", "1990-01-31").build().expect("valid");
    assert_eq!(id_token["sub"], ann.sub());
    assert_eq!(id_token["iss"], "http://bankid.test:8080", "issuer in tokens == issuer in discovery");
    assert_eq!((id_token["aud"].as_str(), id_token["nonce"].as_str()), (Some("shop"), Some("nonce-1")));

    // Auto-approval skips the page, not the checks: no PKCE, no code.
    let refused = authorize(false).await.expect("answered");
    let location = reqwest::Url::parse(refused.headers()["location"].to_str().expect("ASCII")).expect("a URL");
    assert_eq!(param(&location, "error").as_deref(), Some("invalid_request"), "{location}");
    assert_eq!(param(&location, "code"), None);
    program.stop();
}

#[tokio::test]
async fn both_ports_answer_the_health_route() {
    let dir = TempDir::new("health");
    let program = Program::start(&dir, &["--port", "0", "--bib-port", "0"]);
    let (oidc, bib) = program.listening();
    for base in [oidc, bib] {
        let answer = client().get(format!("{base}/healthz")).send().await.expect("up");
        assert_eq!(answer.status(), 200, "{base}");
        let body: Value = answer.json().await.expect("JSON");
        assert_eq!(body, serde_json::json!({"status": "ok"}));
    }
}

#[test]
fn an_unknown_config_key_is_a_usage_error_naming_the_key_and_the_file() {
    let dir = TempDir::new("strict");
    let config = dir.write("sim.toml", "port = 0\n\n[client]\nid = \"shop\"\nredirect_uri = \"http://x/cb\"\n");
    let output = Command::new(BINARY).args(["--config", config.to_str().expect("UTF-8 path")]).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).expect("UTF-8");
    assert!(stderr.starts_with(&format!("axum-bankid-simulator: --config {}: ", config.display())), "{stderr}");
    assert!(stderr.contains("line 5, column 1"), "{stderr}");
    assert!(
        stderr.contains("unknown field `redirect_uri`, expected one of `id`, `secret`, `redirect_uris`"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());

    let missing = Command::new(BINARY).args(["--config", "/nonexistent/sim.toml"]).output().expect("runs");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--config /nonexistent/sim.toml: "));
}

#[test]
fn flags_win_over_the_config_file_and_users_add_up() {
    let dir = TempDir::new("precedence");
    let config = dir.write("sim.toml", CONFIG);
    let bo = "id=bo,name=Bo Test,nnin=02819010040,birthdate=1990-01-02";
    let output = Command::new(BINARY)
        .args(["--config", config.to_str().expect("UTF-8 path"), "--user", bo, "--list-users"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let ids: Vec<&str> = stdout.lines().map(|line| line.split(',').next().unwrap_or_default()).collect();
    assert_eq!(ids, ["id=kari", "id=ola", "id=per", "id=nina", "id=ann", "id=bo"], "{stdout}");

    let unknown = Command::new(BINARY)
        .args(["--config", config.to_str().expect("UTF-8 path"), "--auto-approve", "zed"])
        .output()
        .expect("runs");
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains(r#"--auto-approve: no test user "zed" (known: kari, ola, per, nina, ann)"#), "{stderr}");
}

#[test]
fn a_non_loopback_bind_warns_that_the_keys_are_public() {
    let dir = TempDir::new("bind");
    let program = Program::start(&dir, &["--bind", "0.0.0.0", "--port", "0", "--bib-port", "0"]);
    assert!(
        program.value("BANKID_ISSUER").is_some_and(|issuer| issuer.starts_with("http://127.0.0.1:")),
        "{:?}",
        program.lines
    );
    let stderr = program.stop();
    assert!(stderr.contains("WARNING: listening on 0.0.0.0 (not loopback)"), "{stderr}");
    assert!(stderr.contains("public test keys"), "{stderr}");
}

/// The README's shell relying party, run against the program.
#[test]
fn the_curl_script_logs_in() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/curl-login.sh");
    let dir = TempDir::new("curl");
    let program = Program::start(
        &dir,
        &["--port", "0", "--bib-port", "0", "--redirect-uri", REDIRECT_URI, "--auto-approve", "kari"],
    );
    let output = Command::new("bash")
        .arg(&script)
        .env("BANKID_ISSUER", program.value("BANKID_ISSUER").expect("printed"))
        .env("BANKID_REDIRECT_URI", REDIRECT_URI)
        .env_remove("BANKID_CLIENT_ID")
        .env_remove("BANKID_CLIENT_SECRET")
        .output()
        .expect("bash runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let claims: Value = serde_json::from_slice(&output.stdout).expect("the claims as JSON");
    let kari = axum_bankid_simulator::Simulator::default_users().iter().find(|user| user.id() == "kari").expect("kari");
    assert_eq!(claims["sub"], kari.sub());
    assert_eq!(claims["acr"], kari.acr());
}
