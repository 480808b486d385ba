//! A BankID login against the simulator driven over real HTTP, the way a
//! browser would, step by step — shared by the benches that need a logged-in
//! session (`extractor`) or time each step of a login (`memory`).

use axum_bankid_simulator::Simulator;

/// `GET {base}/auth/bankid/login` with `client`: the authorize URL the app
/// redirects to.
pub async fn start_login(client: &reqwest::Client, base: &str) -> String {
    location(client.get(format!("{base}/auth/bankid/login")).send().await.unwrap())
}

/// Opens the simulator's login page and returns its `request` form value.
pub async fn login_page(client: &reqwest::Client, authorize: &str) -> String {
    let form = client.get(authorize).send().await.unwrap().text().await.unwrap();
    hidden_value(&form, "request")
}

/// Approves `request` as the test user `kari`; returns the callback URL.
pub async fn approve(client: &reqwest::Client, sim: &Simulator, request: &str) -> String {
    let form = [("request", request), ("user", "kari"), ("decision", "approve")];
    location(client.post(format!("{}/authorize", sim.issuer())).form(&form).send().await.unwrap())
}

/// A whole login; `client` must keep cookies. Panics unless the callback
/// redirects (303).
pub async fn log_in(client: &reqwest::Client, base: &str, sim: &Simulator) {
    let authorize = start_login(client, base).await;
    let request = login_page(client, &authorize).await;
    let callback = approve(client, sim, &request).await;
    assert_eq!(client.get(callback).send().await.unwrap().status(), 303, "login failed");
}

/// The `Location` of a redirect.
pub fn location(response: reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn hidden_value(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\"")).unwrap();
    let tag = &html[html[..at].rfind('<').unwrap()..at + html[at..].find('>').unwrap()];
    let start = tag.find("value=\"").unwrap() + 7;
    tag[start..start + tag[start..].find('"').unwrap()].to_owned()
}
