//! The authorization URL built from a prefix encoded once (issue 12): it is
//! exactly the URL the endpoint with every pair appended by
//! `Url::query_pairs_mut` gives, for arbitrary values; the PAR form carries
//! the same list; and through the layer the prefix follows the metadata a
//! degraded start loads later, and a step-up's `login_hint`/`acr_values`
//! replace the configured ones instead of repeating them.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use axum_bankid::fuzzing::{AuthorizeUrl, LoginSecrets};
use axum_bankid::{AuthenticatedUser, BankIdLayer, ParMode};
use axum_bankid_simulator::{Fault, Simulator};
use common::{TestApp, hidden_field, location};
use proptest::prelude::*;
use proptest::test_runner::Config;
use reqwest::StatusCode;
use reqwest::cookie::Jar;
use tower_sessions::MemoryStore;
use url::Url;

fn config() -> Config {
    Config { cases: 512, failure_persistence: None, ..Config::default() }
}

/// Values that need escaping in a query (`&`, `=`, `+`, `%`, `#`, `?`,
/// space, non-ASCII), plain ones, and arbitrary Unicode.
fn value() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9&=+%# ?/~._\\-éø漢😀\u{0}\u{7f}]{0,16}", "[A-Za-z0-9_\\-]{0,43}", any::<String>(),]
}

/// Parameter names a login adds (and arbitrary ones, as the configurable
/// permission reference parameter is).
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("login_hint".to_owned()),
        Just("acr_values".to_owned()),
        Just("max_age".to_owned()),
        Just("authorization_details".to_owned()),
        Just("app_callback_uri".to_owned()),
        value(),
    ]
}

/// Authorization endpoints: plain, with a query already (`?foo=bar`, an
/// empty `?`, arbitrary pairs) and with a fragment.
fn endpoint() -> impl Strategy<Value = Url> {
    let base = "https://auth.bankid.example/auth/realms/prod/protocol/openid-connect/auth";
    let query = prop_oneof![
        Just(None),
        Just(Some("foo=bar".to_owned())),
        Just(Some(String::new())),
        prop::collection::vec((value(), value()), 1..3)
            .prop_map(|pairs| Some(url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish())),
    ];
    let fragment = prop_oneof![3 => Just(None), 1 => value().prop_map(Some)];
    (query, fragment).prop_map(move |(query, fragment)| {
        let mut url = Url::parse(base).unwrap();
        url.set_query(query.as_deref());
        url.set_fragment(fragment.as_deref());
        url
    })
}

/// The configured values and a login's own parameters.
#[derive(Debug, Clone)]
struct Case {
    endpoint: Url,
    client_id: String,
    redirect_uri: String,
    scope: String,
    login_hint: Option<String>,
    acr_values: Option<String>,
    secrets: [String; 3],
    extra: Vec<(String, String)>,
}

fn case() -> impl Strategy<Value = Case> {
    let configured = (endpoint(), value(), value(), value(), prop::option::of(value()), prop::option::of(value()));
    let login = ([value(), value(), value()], prop::collection::vec((name(), value()), 0..5));
    (configured, login).prop_map(
        |((endpoint, client_id, redirect_uri, scope, login_hint, acr_values), (secrets, extra))| Case {
            endpoint,
            client_id,
            redirect_uri,
            scope,
            login_hint,
            acr_values,
            secrets,
            extra,
        },
    )
}

impl Case {
    fn request(&self) -> AuthorizeUrl {
        AuthorizeUrl::new(
            &self.endpoint,
            &self.client_id,
            &self.redirect_uri,
            &self.scope,
            self.login_hint.as_deref(),
            self.acr_values.as_deref(),
        )
    }

    /// The login's own parameters, as `begin` lists them.
    fn login(&self) -> Vec<(&str, String)> {
        let [state, nonce, challenge] = &self.secrets;
        let mut login = vec![("state", state.clone()), ("nonce", nonce.clone()), ("code_challenge", challenge.clone())];
        login.extend(self.extra.iter().map(|(k, v)| (k.as_str(), v.clone())));
        login
    }

    /// The whole request as the login route used to list it: fixed values,
    /// the configured `login_hint`/`acr_values` unless the login sets
    /// either, then the login's own.
    fn expected_params(&self) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), self.client_id.clone()),
            ("redirect_uri".into(), self.redirect_uri.clone()),
            ("scope".into(), self.scope.clone()),
            ("code_challenge_method".into(), "S256".into()),
        ];
        let overridden = self.extra.iter().any(|(k, _)| k == "login_hint" || k == "acr_values");
        if !overridden {
            params.extend(self.login_hint.clone().map(|v| ("login_hint".to_owned(), v)));
            params.extend(self.acr_values.clone().map(|v| ("acr_values".to_owned(), v)));
        }
        params.extend(self.login().into_iter().map(|(k, v)| (k.to_owned(), v)));
        params
    }
}

/// The construction the fast path replaces: the endpoint `Url` with every
/// pair appended through `query_pairs_mut`.
fn reference_url(endpoint: &Url, params: &[(String, String)]) -> Url {
    let mut url = endpoint.clone();
    url.query_pairs_mut().extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    url
}

proptest! {
    #![proptest_config(config())]

    /// Same bytes, hence the same decoded pairs in the same order (the
    /// endpoint's own query first) and the same fragment, as the reference.
    #[test]
    fn fast_url_equals_query_pairs_mut(case in case()) {
        let request = case.request();
        let login = case.login();
        let params = request.params(&login);
        prop_assert_eq!(&params, &case.expected_params());
        let fast = request.url(&login);
        let reference = reference_url(&case.endpoint, &params);
        prop_assert_eq!(fast.as_str(), reference.as_str());

        let parsed = Url::parse(&fast).unwrap();
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        let mut expected: Vec<(String, String)> = case.endpoint.query_pairs().into_owned().collect();
        expected.extend(params);
        prop_assert_eq!(pairs, expected);
        prop_assert_eq!(parsed.fragment(), case.endpoint.fragment());
    }

    /// The URL after PAR: the endpoint (its query kept) with `client_id` and
    /// `request_uri`, as `query_pairs_mut` writes them.
    #[test]
    fn pushed_url_equals_query_pairs_mut(case in case(), request_uri in value()) {
        let pairs = [("client_id".to_owned(), case.client_id.clone()), ("request_uri".to_owned(), request_uri.clone())];
        let reference = reference_url(&case.endpoint, &pairs);
        prop_assert_eq!(case.request().pushed_url(&request_uri), reference.as_str());
    }
}

/// The login route's own secrets through the fast path: what the bench
/// measures is a URL carrying them, with a base64url S256 challenge.
#[test]
fn login_url_carries_fresh_secrets() {
    let endpoint = Url::parse("https://auth.bankid.example/auth?foo=bar").unwrap();
    let request = AuthorizeUrl::new(&endpoint, "client", "https://app.example/cb", "openid profile", Some("BIS"), None);
    let secrets = LoginSecrets::new();
    let url = Url::parse(&request.login_url(&secrets)).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "foo",
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "code_challenge_method",
            "login_hint",
            "state",
            "nonce",
            "code_challenge"
        ]
    );
    let challenge = &pairs.iter().find(|(k, _)| k == "code_challenge").unwrap().1;
    assert_eq!(challenge, secrets.code_challenge());
    assert_eq!(challenge.len(), 43);
    assert!(challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let other = Url::parse(&request.login_url(&LoginSecrets::new())).unwrap();
    let state = |url: &Url| url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    assert_ne!(state(&url), state(&other), "each login draws its own state");
}

/// Counts of `name` in the query of `url`.
fn occurrences(url: &str, name: &str) -> Vec<String> {
    Url::parse(url).unwrap().query_pairs().filter(|(k, _)| k == name).map(|(_, v)| v.into_owned()).collect()
}

/// Without PAR, a step-up's `acr_values`/`login_hint` replace the
/// configured ones (`acr_values`, here with the legacy `login_hint=BIS`
/// opted in): each is sent once, with the step-up's value; a plain login
/// sends the configured ones.
#[tokio::test]
async fn step_up_replaces_the_configured_hint_and_acr_in_the_url() {
    let app = TestApp::builder().configure(|b| b.par(ParMode::Disabled).login_hint(Some("BIS"))).start().await;
    let plain = app.begin_login("/me").await;
    assert_eq!(occurrences(&plain, "login_hint"), ["BIS"]);
    assert_eq!(occurrences(&plain, "acr_values"), ["urn:bankid:bis"]);

    let stepped = app.begin_at("/auth/bankid/login?return_to=%2Fme&acr=4").await;
    assert_eq!(occurrences(&stepped, "login_hint"), ["BID"]);
    assert_eq!(occurrences(&stepped, "acr_values"), ["urn:bankid:bid"]);
    // The simulator accepts it and shows its login form.
    let page = app.client.get(&stepped).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let sent = app.sim.last_authorize_params().expect("an authorize request");
    assert_eq!(sent["acr_values"], "urn:bankid:bid");
    assert_eq!(sent["login_hint"], "BID");
}

/// A degraded start encodes the prefix for the stand-in metadata; once the
/// provider answers, logins without PAR go to the discovered authorization
/// endpoint (not the stand-in's issuer URL) and complete.
#[tokio::test]
async fn prefix_follows_the_metadata_loaded_after_a_degraded_start() {
    let sim = Simulator::start().await.unwrap();
    sim.add_fault(Fault::DiscoveryUnavailable);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let redirect_uri = format!("{base}/auth/bankid/callback");
    sim.allow_redirect_uri(&redirect_uri);
    let config = common::builder_for(&sim, &redirect_uri)
        .par(ParMode::Disabled)
        .start_degraded(true)
        .discovery_backoff(Duration::from_millis(5))
        .build()
        .unwrap();
    let (layer, sessions) =
        BankIdLayer::discover(config).await.unwrap().with_session_store(MemoryStore::default()).into_parts();
    assert!(!layer.health().ready, "discovery is failing");
    let app = Router::new()
        .route("/me", get(|user: AuthenticatedUser| async move { Json(user.sub.clone()) }))
        .layer(layer.clone())
        .layer(sessions);
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(Arc::new(Jar::default()))
        .build()
        .unwrap();

    sim.clear_faults();
    // A bounded poll for the background loader, not a timing assertion.
    for _ in 0..1000 {
        if layer.health().ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(layer.health().ready, "the provider came back");

    let response = client.get(format!("{base}/auth/bankid/login")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let authorize = location(&response);
    assert!(authorize.starts_with(&format!("{}/authorize?", sim.issuer())), "{authorize}");
    assert!(occurrences(&authorize, "request_uri").is_empty(), "no PAR: the whole request is in the URL");
    let page = client.get(&authorize).send().await.unwrap().text().await.unwrap();
    let form = [("request", hidden_field(&page, "request")), ("user", "kari".into()), ("decision", "approve".into())];
    let response = client.post(format!("{}/authorize", sim.issuer())).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = client.get(location(&response)).send().await.unwrap();
    assert_eq!(callback.status(), StatusCode::SEE_OTHER, "the callback logs in");
    let me = client.get(format!("{base}/me")).header("accept", "application/json").send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    server.abort();
}
