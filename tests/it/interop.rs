//! Interoperability with a certified third-party OpenID Provider: panva's
//! `oidc-provider` (npm), run locally by `interop/op.mjs`, logs a user in
//! through the real layer over real HTTP — PAR, PKCE S256, state, nonce, the
//! RFC 9207 `iss` check, RS256 ID-token verification against the JWKS, the
//! LOA policy and RP-initiated logout. Nothing here uses the simulator.
//!
//! Needs `node` on `PATH` and `npm ci` in `interop/`. Without them every test
//! prints a notice and passes, unless `AXUM_BANKID_REQUIRE_INTEROP=1` (CI),
//! which turns the missing prerequisite into a failure.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use axum_bankid::{AuthenticatedUser, BankIdConfig, BankIdConfigBuilder, BankIdLayer, ParMode};
use base64::Engine;
use reqwest::{Response, StatusCode, redirect};
use serde_json::Value;
use url::Url;

const REQUIRE_ENV: &str = "AXUM_BANKID_REQUIRE_INTEROP";
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const CLIENT_ID: &str = "interop-client";
const CLIENT_SECRET: &str = "interop-secret";
const LOA3: &str = "urn:bankid:bis;LOA=3";

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

fn find_node() -> Option<PathBuf> {
    let names: &[&str] = if cfg!(windows) { &["node.exe", "node"] } else { &["node"] };
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|dir| names.iter().map(move |n| dir.join(n))).find(|p| p.is_file())
}

/// `node`, if it and `interop/node_modules` are there. Otherwise skips the
/// test (returns `None`) or, when CI requires the test, panics.
fn node_or_skip(test: &str) -> Option<PathBuf> {
    let node = find_node();
    let modules = interop_dir().join("node_modules").join("oidc-provider").join("package.json");
    let mut missing = Vec::new();
    if node.is_none() {
        missing.push("`node` is not on PATH".to_owned());
    }
    if !modules.is_file() {
        missing.push(format!("{} is missing (run `npm ci` in interop/)", modules.display()));
    }
    if missing.is_empty() {
        return node;
    }
    let why = missing.join("; ");
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!("interop test `{test}` cannot run: {why} ({REQUIRE_ENV}=1 requires it)");
    }
    eprintln!("skipping interop test `{test}`: {why}; set {REQUIRE_ENV}=1 to make this a failure");
    None
}

/// The `oidc-provider` child process; killed when dropped.
struct OpenIdProvider {
    child: Child,
    issuer: String,
}

impl Drop for OpenIdProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OpenIdProvider {
    /// Runs `node interop/op.mjs 0` (the OS picks a free port, so there is
    /// no window for another process to take it) and waits for its READY line.
    fn start(node: &Path, redirect_uri: &str, post_logout_redirect_uri: &str, acr: Option<&str>) -> Self {
        let mut command = Command::new(node);
        command
            .arg("op.mjs")
            .arg("0")
            .current_dir(interop_dir())
            .env("REDIRECT_URIS", redirect_uri)
            .env("POST_LOGOUT_REDIRECT_URIS", post_logout_redirect_uri)
            .env_remove("PORT")
            .env_remove("ACR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(acr) = acr {
            command.env("ACR", acr);
        }
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", node.display()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        // Forward the provider's output into the test's (captured) output,
        // and keep draining both pipes so the child never blocks on them.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match line.strip_prefix("READY ") {
                    Some(issuer) => {
                        let _ = ready_tx.send(issuer.trim().to_owned());
                    }
                    None => eprintln!("[oidc-provider] {line}"),
                }
            }
        });
        std::thread::spawn(move || forward_lines(stderr));
        let mut op = OpenIdProvider { child, issuer: String::new() };
        match ready_rx.recv_timeout(READY_TIMEOUT) {
            Ok(issuer) => op.issuer = issuer,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("oidc-provider printed no READY line within {READY_TIMEOUT:?}")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = op.child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                panic!("oidc-provider exited before it was ready ({status}); its output is above")
            }
        }
        op
    }
}

fn forward_lines(stream: impl Read) {
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { break };
        eprintln!("[oidc-provider] {line}");
    }
}

/// The axum app (BankID layer + `/me`) on loopback, wired to a fresh provider.
struct Interop {
    op: OpenIdProvider,
    base: String,
    redirect_uri: String,
    client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Interop {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The outcome of driving one login to the app's callback.
struct Login {
    /// Every URL the browser was sent to, from the authorize request to the callback.
    hops: Vec<Url>,
    /// The app's answer to the callback.
    callback: Response,
}

impl Interop {
    async fn start(
        node: &Path,
        acr: Option<&str>,
        configure: impl FnOnce(BankIdConfigBuilder) -> BankIdConfigBuilder,
    ) -> Self {
        // Bind the app first: the provider must know the redirect URI.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the app");
        let base = format!("http://{}", listener.local_addr().expect("app address"));
        let redirect_uri = format!("{base}/auth/bankid/callback");
        let post_logout = format!("{base}/");
        let op = OpenIdProvider::start(node, &redirect_uri, &post_logout, acr);

        let builder = BankIdConfig::builder()
            .issuer(&op.issuer)
            .client_id(CLIENT_ID)
            .client_secret(CLIENT_SECRET)
            .redirect_uri(&redirect_uri)
            .post_logout_redirect_uri(&post_logout);
        let config = configure(builder).build().expect("valid configuration");
        let bankid = BankIdLayer::discover(config).await.expect("discovery against oidc-provider");
        let (bankid, sessions) = bankid.with_session_store(tower_sessions::MemoryStore::default()).into_parts();
        let app = Router::new()
            .route("/", get(|| async { "home" }))
            .route("/me", get(|user: AuthenticatedUser| async move { Json(user) }))
            .layer(bankid)
            .layer(sessions);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve the app");
        });
        let client = reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            .cookie_store(true)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client");
        Interop { op, base, redirect_uri, client, server }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn discovery(&self) -> Value {
        let url = format!("{}/.well-known/openid-configuration", self.op.issuer);
        self.client.get(url).send().await.expect("discovery").json().await.expect("discovery JSON")
    }

    /// Starts a login at the app and follows the 3xx chain through the
    /// provider (authorize → interaction → resume) like a browser without
    /// JavaScript would, up to and including the app's callback.
    async fn login(&self) -> Login {
        let start = self.client.get(self.url("/auth/bankid/login?return_to=%2Fme")).send().await.expect("login route");
        assert_eq!(start.status(), StatusCode::SEE_OTHER, "login route: {}", describe(start).await);
        let mut next = resolve(&Url::parse(&self.url("/")).expect("base URL"), &location(&start));
        let mut hops = Vec::new();
        loop {
            hops.push(next.clone());
            if next.as_str().starts_with(&format!("{}?", self.redirect_uri)) {
                break;
            }
            assert!(hops.len() <= 10, "redirect loop through the provider: {hops:#?}");
            assert!(next.as_str().starts_with(&self.op.issuer), "left the provider for {next} before the callback");
            let response = self.client.get(next.clone()).send().await.expect("provider request");
            assert!(response.status().is_redirection(), "provider at {next}: {}", describe(response).await);
            next = resolve(&next, &location(&response));
        }
        let callback_url = hops.last().expect("the callback").clone();
        let callback =
            self.client.get(callback_url).header("accept", "application/json").send().await.expect("callback");
        Login { hops, callback }
    }

    async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let response = self.client.get(self.url(path)).header("accept", "application/json").send().await.expect("GET");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Asserts the login ended on `/me` as Kari at LOA 3; answers `/me`.
    async fn assert_logged_in_as_kari(&self, login: Login) -> Value {
        assert_eq!(login.callback.status(), StatusCode::SEE_OTHER, "callback: {}", describe(login.callback).await);
        assert_eq!(location(&login.callback), "/me");
        let (status, me) = self.get_json("/me").await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["loa"], 3);
        assert_eq!(me["acr"], LOA3);
        assert_eq!(me["name"], "Kari Nordmann");
        me
    }
}

fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location header from {}", response.url()))
        .to_str()
        .expect("ASCII Location")
        .to_owned()
}

fn resolve(base: &Url, location: &str) -> Url {
    base.join(location).unwrap_or_else(|e| panic!("bad Location `{location}`: {e}"))
}

async fn describe(response: Response) -> String {
    let status = response.status();
    format!("{status} {}", response.text().await.unwrap_or_default())
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn jwt_payload(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON payload")
}

/// The value of `attr` in the HTML tag that contains `marker`.
fn html_attr_after(html: &str, marker: &str, attr: &str) -> String {
    let at = html.find(marker).unwrap_or_else(|| panic!("no `{marker}` in {html}"));
    let tag_start = html[..at].rfind('<').expect("tag start");
    let tag_end = at + html[at..].find('>').expect("tag end");
    let tag = &html[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let value_at = tag.find(&key).unwrap_or_else(|| panic!("no {attr} in {tag}")) + key.len();
    let value_end = value_at + tag[value_at..].find('"').expect("closing quote");
    tag[value_at..value_end].to_owned()
}

#[tokio::test]
async fn login_with_par_against_oidc_provider() {
    let Some(node) = node_or_skip("login_with_par_against_oidc_provider") else { return };
    let it = Interop::start(&node, None, |b| b).await;
    let discovery = it.discovery().await;
    assert!(discovery["pushed_authorization_request_endpoint"].is_string(), "{discovery}");

    let login = it.login().await;
    // The crate pushed the request (RFC 9126): the browser carries only the reference.
    let authorize = &login.hops[0];
    assert_eq!(authorize.as_str().split('?').next(), discovery["authorization_endpoint"].as_str());
    assert!(param(authorize, "request_uri").is_some_and(|u| u.starts_with("urn:ietf:params:oauth:request_uri:")));
    assert_eq!(param(authorize, "code_challenge"), None, "PKCE travels in the pushed request");
    // RFC 9207: oidc-provider names itself in the authorization response.
    let callback_url = login.hops.last().expect("callback");
    assert_eq!(param(callback_url, "iss").as_deref(), Some(it.op.issuer.as_str()));

    let me = it.assert_logged_in_as_kari(login).await;
    assert_eq!(me["amr"], serde_json::json!(["bis"]));
    assert_eq!(me["sub"], "kari");
    assert_eq!(me["claims"]["iss"], it.op.issuer.as_str());
    assert_eq!(me["claims"]["aud"], CLIENT_ID);
    assert!(me["auth_time"].is_i64(), "{me}");
}

#[tokio::test]
async fn login_without_par_against_oidc_provider() {
    let Some(node) = node_or_skip("login_without_par_against_oidc_provider") else { return };
    let it = Interop::start(&node, None, |b| b.par(ParMode::Disabled)).await;

    let login = it.login().await;
    // Front-channel request: every parameter is in the URL, including the
    // default `acr_values=urn:bankid:bis` (no legacy `login_hint`), which
    // oidc-provider accepts and ignores.
    let authorize = &login.hops[0];
    assert_eq!(param(authorize, "request_uri"), None);
    assert_eq!(param(authorize, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(authorize, "acr_values").as_deref(), Some("urn:bankid:bis"));
    assert_eq!(param(authorize, "login_hint"), None);
    assert!(param(authorize, "state").is_some() && param(authorize, "nonce").is_some());

    it.assert_logged_in_as_kari(login).await;
}

#[tokio::test]
async fn loa_2_from_oidc_provider_is_refused() {
    let Some(node) = node_or_skip("loa_2_from_oidc_provider_is_refused") else { return };
    let it = Interop::start(&node, Some("urn:bankid:bis;LOA=2"), |b| b).await;

    let login = it.login().await;
    let status = login.callback.status();
    let text = login.callback.text().await.expect("callback body");
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON error body, got {text}"));
    assert_eq!(body["error"], "insufficient_loa", "{body}");
    assert!(!text.contains("eyJ"), "error body must not contain a JWT: {text}");

    let (status, me) = it.get_json("/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{me}");
    assert_eq!(me["error"], "unauthenticated");
}

#[tokio::test]
async fn logout_ends_the_session_at_oidc_provider() {
    let Some(node) = node_or_skip("logout_ends_the_session_at_oidc_provider") else { return };
    let it = Interop::start(&node, None, |b| b).await;
    let discovery = it.discovery().await;
    let end_session = discovery["end_session_endpoint"].as_str().expect("end_session_endpoint advertised").to_owned();

    let login = it.login().await;
    assert_eq!(login.callback.status(), StatusCode::SEE_OTHER, "callback: {}", describe(login.callback).await);
    assert_eq!(it.get_json("/me").await.0, StatusCode::OK);

    let logout = it.client.post(it.url("/auth/bankid/logout")).send().await.expect("logout route");
    assert_eq!(logout.status(), StatusCode::SEE_OTHER, "logout: {}", describe(logout).await);
    let to_op = Url::parse(&location(&logout)).expect("absolute end-session URL");
    assert_eq!(to_op.as_str().split('?').next(), Some(end_session.as_str()));
    let hint = param(&to_op, "id_token_hint").expect("id_token_hint");
    let claims = jwt_payload(&hint);
    assert_eq!(claims["iss"], it.op.issuer.as_str());
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["sub"], "kari");
    assert_eq!(param(&to_op, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(param(&to_op, "post_logout_redirect_uri"), Some(it.url("/")));
    // Logged out here already.
    let (status, me) = it.get_json("/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{me}");

    // oidc-provider accepts the hint and the post-logout URI: it asks for
    // confirmation, then sends the browser back to the app.
    let page = it.client.get(to_op.clone()).send().await.expect("end_session");
    assert_eq!(page.status(), StatusCode::OK, "end_session rejected the request");
    let html = page.text().await.expect("logout page");
    let action = html_attr_after(&html, "id=\"op.logoutForm\"", "action");
    let xsrf = html_attr_after(&html, "name=\"xsrf\"", "value");
    let confirm = it
        .client
        .post(resolve(&to_op, &action))
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .expect("end_session confirm");
    assert!(confirm.status().is_redirection(), "confirm: {}", describe(confirm).await);
    let back = resolve(&to_op, &location(&confirm));
    assert_eq!(back.as_str().split('?').next(), Some(it.url("/").as_str()), "{back}");
}
