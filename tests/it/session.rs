//! Session handling, extractors, logout and start-up failures.

use crate::common;

use std::time::Duration;

use axum_bankid::error::StartupError;
use axum_bankid::{BankIdConfig, BankIdLayer};
use common::{TestApp, location};
use reqwest::StatusCode;

#[tokio::test]
async fn session_cookie_works_on_the_cross_site_redirect() {
    let app = TestApp::builder().start().await;
    let response = app.client.get(app.url("/auth/bankid/login?return_to=/me")).send().await.unwrap();
    // The login start binds the attempt to the browser with a cookie of its own.
    let set_cookie = response.headers().get("set-cookie").expect("login start sets the attempt cookie");
    let set_cookie = set_cookie.to_str().unwrap();
    assert!(set_cookie.starts_with("bankid-login-"), "{set_cookie}");
    // Strict would drop the cookie on the provider's redirect back to us.
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("Path=/"), "{set_cookie}");
    assert_eq!(response.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn https_deployments_get_secure_host_prefixed_cookies() {
    use tower::{Layer, ServiceExt};
    let sim = axum_bankid_simulator::Simulator::start().await.unwrap();
    let config = BankIdConfig::builder()
        .issuer(sim.issuer())
        .client_id(sim.client_id())
        .client_secret(sim.client_secret())
        .redirect_uri("https://app.example/auth/bankid/callback")
        .build()
        .unwrap();
    let bankid = BankIdLayer::discover(config).await.unwrap();
    let (_, sessions) = bankid.with_session_store(tower_sessions::MemoryStore::default()).into_parts();
    // The layer is opaque; check it through a response instead.
    let service = sessions.layer(tower::service_fn(|req: http::Request<axum::body::Body>| async move {
        let session = req.extensions().get::<tower_sessions::Session>().unwrap().clone();
        session.insert("k", 1).await.unwrap();
        Ok::<_, std::convert::Infallible>(http::Response::new(axum::body::Body::empty()))
    }));
    let response = service.oneshot(http::Request::new(axum::body::Body::empty())).await.unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("__Host-bankid-session="), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("SameSite=Lax") && cookie.contains("HttpOnly"), "{cookie}");
}

#[tokio::test]
async fn session_id_rotates_at_login() {
    let app = TestApp::builder().start().await;
    // Application data gives the browser a session before the login.
    app.client.get(app.url("/note?set=x")).send().await.unwrap();
    let authorize_url = app.begin_login("/me").await;
    let before = app.cookie("bankid-session").expect("session before login");
    let callback_url = app.authorize(&authorize_url, "kari", "approve").await;
    let response = app.client.get(callback_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let after = app.cookie("bankid-session").unwrap();
    assert_ne!(before, after, "session id must change at login (fixation)");

    // The pre-login id is worthless now.
    let fixed = reqwest::Client::new();
    let cookie = format!("bankid-session={before}");
    let me =
        fixed.get(app.url("/me")).header("cookie", cookie).header("accept", "application/json").send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn browsers_are_sent_to_login_and_apis_get_401() {
    let app = TestApp::builder().start().await;
    let browser =
        app.client.get(app.url("/me?tab=2")).header("accept", "text/html,application/xhtml+xml").send().await.unwrap();
    assert_eq!(browser.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&browser), "/auth/bankid/login?return_to=%2Fme%3Ftab%3D2");

    let api = app.client.get(app.url("/me")).header("accept", "application/json").send().await.unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    assert!(api.headers().contains_key("www-authenticate"));
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"], "unauthenticated");
    assert_eq!(body["login_url"], "/auth/bankid/login");

    // A browser POST is not a navigation we can replay: 401, not a redirect.
    let post = app.client.post(app.url("/me")).header("accept", "text/html").send().await.unwrap();
    assert_ne!(post.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn optional_user_and_guard() {
    let app = TestApp::builder().start().await;
    assert_eq!(app.client.get(app.url("/maybe")).send().await.unwrap().text().await.unwrap(), "anonymous");
    let guarded = app.client.get(app.url("/guarded")).send().await.unwrap();
    assert_eq!(guarded.status(), StatusCode::UNAUTHORIZED);

    app.login_as("kari").await;
    assert_eq!(app.client.get(app.url("/maybe")).send().await.unwrap().text().await.unwrap(), "Kari Nordmann");
    let guarded = app.client.get(app.url("/guarded")).send().await.unwrap();
    assert_eq!(guarded.status(), StatusCode::OK);
    assert_eq!(guarded.text().await.unwrap(), "members only");
}

#[tokio::test]
async fn login_expires_after_max_age() {
    let app = TestApp::builder().configure(|b| b.max_login_age(Duration::from_secs(1))).start().await;
    app.login_as("kari").await;
    assert_eq!(app.get_json("/me").await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    app.assert_logged_out().await;
}

#[tokio::test]
async fn logout_is_post_only_and_ends_the_provider_session() {
    let app = TestApp::builder().start().await;
    app.login_as("kari").await;

    let get = app.client.get(app.url("/auth/bankid/logout")).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(app.get_json("/me").await.0, StatusCode::OK, "a GET must not log out");

    let cross_site =
        app.client.post(app.url("/auth/bankid/logout")).header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get_json("/me").await.0, StatusCode::OK, "a cross-site POST must not log out");

    let logout = app.client.post(app.url("/auth/bankid/logout")).header("origin", &app.base).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    let target = url::Url::parse(&location(&logout)).unwrap();
    assert!(target.as_str().starts_with(&format!("{}/logout", app.sim.issuer())), "{target}");
    let params: std::collections::HashMap<_, _> = target.query_pairs().into_owned().collect();
    assert!(params["id_token_hint"].starts_with("eyJ"));
    assert_eq!(params["post_logout_redirect_uri"], app.url("/"));
    app.assert_logged_out().await;

    // The provider sends the browser back to us.
    let back = app.client.get(target).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&back), app.url("/"));
}

#[tokio::test]
async fn logout_without_login_goes_home() {
    let app = TestApp::builder().start().await;
    let logout = app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&logout), "/");
}

#[tokio::test]
async fn discovery_failures_stop_start_up() {
    let sim = axum_bankid_simulator::Simulator::start().await.unwrap();
    // Same server, but named differently: the document's issuer does not match.
    let alias = sim.issuer().replace("127.0.0.1", "localhost");
    let config = BankIdConfig::builder()
        .issuer(alias)
        .client_id(sim.client_id())
        .client_secret(sim.client_secret())
        .redirect_uri("http://127.0.0.1:1/cb")
        .build()
        .unwrap();
    let err = BankIdLayer::discover(config).await.unwrap_err();
    assert!(matches!(err, StartupError::Discovery(_)), "{err:?}");
    assert_eq!(err.kind(), "discovery_failed");

    // Nothing listening.
    let config = common::config_for_dead_issuer();
    assert!(matches!(BankIdLayer::discover(config).await.unwrap_err(), StartupError::Discovery(_)));
}

#[tokio::test]
async fn error_handler_can_be_replaced() {
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sim = axum_bankid_simulator::Simulator::start().await.unwrap();
    let config = BankIdConfig::builder()
        .issuer(sim.issuer())
        .client_id(sim.client_id())
        .client_secret(sim.client_secret())
        .redirect_uri(format!("{base}/auth/bankid/callback"))
        .build()
        .unwrap();
    let bankid = BankIdLayer::discover(config).await.unwrap().with_error_handler(|err, _headers| {
        (StatusCode::IM_A_TEAPOT, format!("custom: {}", err.kind())).into_response()
    });
    let (bankid, sessions) = bankid.with_session_store(tower_sessions::MemoryStore::default()).into_parts();
    let app = axum::Router::new().layer(bankid).layer(sessions);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let response = reqwest::get(format!("{base}/auth/bankid/callback?code=x")).await.unwrap();
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(response.text().await.unwrap(), "custom: missing_state");
}

/// Issue 20 item 1: logout ends the whole session by default. The app's own
/// data (a basket) is gone for the anonymous visitor after Kari, and Ola,
/// logging in next, does not inherit it.
#[tokio::test]
async fn logout_ends_the_whole_session_with_the_apps_data() {
    let app = TestApp::builder().start().await;
    app.login_as("kari").await;
    app.client.get(app.url("/note?set=karis-basket")).send().await.unwrap();
    let logout = app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    app.assert_logged_out().await;
    assert_eq!(note(&app).await, "", "the anonymous visitor after Kari has none of her data");
    app.client.get(app.url("/note?set=anonymous-basket")).send().await.unwrap();
    app.login_as("ola").await;
    assert_eq!(note(&app).await, "anonymous-basket", "a first login keeps the anonymous session's data");
}

/// With `keep_session_data_at_logout` the anonymous visitor keeps the data
/// (the app asked for it), but another person logging in next still starts
/// from an empty session; the same person logging in again keeps it.
#[tokio::test]
async fn kept_session_data_still_never_reaches_another_person() {
    let app = TestApp::builder().configure(|b| b.keep_session_data_at_logout(true)).start().await;
    app.login_as("kari").await;
    app.client.get(app.url("/note?set=karis-basket")).send().await.unwrap();
    app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    app.assert_logged_out().await;
    assert_eq!(note(&app).await, "karis-basket", "kept on purpose");
    app.login_as("kari").await;
    assert_eq!(note(&app).await, "karis-basket", "the same person gets it back");
    app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    app.login_as("ola").await;
    assert_eq!(app.get_json("/me").await.1["given_name"], "Ola", "Ola is logged in");
    assert_eq!(note(&app).await, "", "another person never inherits it");
}

async fn note(app: &common::TestApp) -> String {
    app.client.get(app.url("/note")).send().await.unwrap().text().await.unwrap()
}

/// Issue 20 item 18: the logout URL carries the ID token only while it is
/// small enough for a URL; a larger one is replaced by `client_id` alone
/// (RP-Initiated Logout 1.0 §2), so the browser is never sent a URL that
/// proxies or servers cut or refuse.
#[tokio::test]
async fn a_large_id_token_is_not_sent_as_the_logout_hint() {
    let app = TestApp::builder().start().await;
    let padding = serde_json::json!({ "x-padding": "p".repeat(6 * 1024) });
    app.sim.add_fault(axum_bankid_simulator::Fault::HeaderMembers(padding.as_object().unwrap().clone()));
    app.login_as("kari").await;
    let logout = app.client.post(app.url("/auth/bankid/logout")).send().await.unwrap();
    let target = url::Url::parse(&location(&logout)).unwrap();
    assert!(target.as_str().starts_with(&format!("{}/logout", app.sim.issuer())), "{target}");
    let params: std::collections::HashMap<_, _> = target.query_pairs().into_owned().collect();
    assert!(!params.contains_key("id_token_hint"), "no 6 KiB token in a URL");
    assert_eq!(params["client_id"], "sim-client");
    assert!(target.as_str().len() < 1024, "{} bytes", target.as_str().len());
    app.assert_logged_out().await;
}

/// Issue 20 item 7: every response to a request whose handler was handed a
/// login is `Cache-Control: private, no-store` — also behind the extractor
/// alone, with no guard middleware (the README's first example) — so Back
/// after logout cannot show the previous user's page from the cache.
/// Responses that showed no login are left as the app made them.
#[tokio::test]
async fn responses_that_show_a_login_are_private_whatever_the_handler_does() {
    let app = TestApp::builder().start().await;
    let cache_control = |path: &'static str| {
        let app = &app;
        async move {
            let response = app.client.get(app.url(path)).header("accept", "application/json").send().await.unwrap();
            let value = response.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned());
            (response.status(), value)
        }
    };
    assert_eq!(cache_control("/maybe").await, (StatusCode::OK, None), "anonymous: nothing to hide");
    assert_eq!(cache_control("/").await, (StatusCode::OK, None));
    app.login_as("kari").await;
    let private = Some("private, no-store".to_owned());
    assert_eq!(cache_control("/me").await, (StatusCode::OK, private.clone()), "AuthenticatedUser alone");
    assert_eq!(cache_control("/maybe").await, (StatusCode::OK, private.clone()), "Option<AuthenticatedUser>");
    assert_eq!(cache_control("/guarded").await, (StatusCode::OK, private), "require_authenticated");
    assert_eq!(cache_control("/").await, (StatusCode::OK, None), "a route that read no login");
}

/// A configuration is data (issue #21 item 3): one `BankIdConfig`, cloned
/// into two layers on two stores, shares nothing between them. A login
/// started on the first layer is unknown to the second (its attempt is in
/// the first layer's store only), and still completes on the first.
#[tokio::test]
async fn one_config_used_by_two_layers_shares_no_state() {
    use axum::{Router, routing::get};
    use reqwest::cookie::CookieStore;
    let sim = axum_bankid_simulator::Simulator::start().await.unwrap();
    let (first_listener, second_listener) = (bind().await, bind().await);
    let first_base = format!("http://{}", first_listener.local_addr().unwrap());
    let second_base = format!("http://{}", second_listener.local_addr().unwrap());
    let redirect_uri = format!("{first_base}/auth/bankid/callback");
    sim.allow_redirect_uri(&redirect_uri);
    let config = common::builder_for(&sim, &redirect_uri).build().unwrap();
    let me = get(|user: axum_bankid::AuthenticatedUser| async move { user.sub.clone() });
    for (config, listener) in [(config.clone(), first_listener), (config, second_listener)] {
        let bankid = BankIdLayer::discover(config).await.unwrap();
        let app = Router::new()
            .route("/me", me.clone())
            .layer(bankid.with_session_store(tower_sessions::MemoryStore::default()));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .build()
        .unwrap();

    let login = browser.get(format!("{first_base}/auth/bankid/login?return_to=/me")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let page = browser.get(location(&login)).send().await.unwrap().text().await.unwrap();
    let request_id = common::hidden_field(&page, "request");
    let form = [("request", request_id.as_str()), ("user", "kari"), ("decision", "approve")];
    let approved = browser.post(format!("{}/authorize", sim.issuer())).form(&form).send().await.unwrap();
    let callback_url = location(&approved);

    // The same browser (its cookies, sent by hand so the jar stays as it
    // was) at the second layer's callback: no such attempt there.
    let cookies = jar.cookies(&first_base.parse().unwrap()).expect("the login's binding cookie");
    let elsewhere = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let replay = elsewhere
        .get(callback_url.replace(&first_base, &second_base))
        .header("cookie", cookies)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let (status, body) = common::error_body(replay).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unknown_state")), "{body}");

    let callback = browser.get(&callback_url).send().await.unwrap();
    assert_eq!((callback.status(), location(&callback)), (StatusCode::SEE_OTHER, "/me".to_owned()));
    let user = browser.get(format!("{first_base}/me")).send().await.unwrap();
    assert_eq!(user.status(), StatusCode::OK);
}

async fn bind() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}
