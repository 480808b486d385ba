//! [`AuthorizeStep`]: the simulator's login step as its documented JSON
//! (`GET /authorize` with `Accept: application/json`), and the user's
//! [`Decision`], posted back as the login page's form. No HTML is read.

use std::fmt;
use std::time::Duration;

use axum_bankid_simulator::Simulator;
use http::{StatusCode, header};
use serde::Deserialize;
use url::Url;

use super::browser::Browser;
use super::error::{Step, TestLoginError};

/// One pending login at the simulator, as its authorize step describes it:
/// who may log in, the method asked for, the permissions to approve.
/// Decide it once with [`submit`](Self::submit).
pub struct AuthorizeStep {
    issuer: String,
    page: Page,
}

#[derive(Deserialize)]
struct Page {
    request: String,
    users: Vec<OfferedUser>,
    asked_method: Option<String>,
    permissions: Vec<AskedPermission>,
}

/// A user the simulator offers on its login step.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct OfferedUser {
    /// The id to log in as (`kari`, `ola`, ...).
    pub id: String,
    /// Full name.
    pub name: String,
    /// The user's own method: `BIS` (BankID with biometrics) or `BID`
    /// (BankID High).
    pub method: String,
    /// The user's own level of assurance.
    pub loa: u8,
}

/// A permission the login asks the user to approve.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AskedPermission {
    /// The permission type, e.g. `payment.v1`.
    #[serde(rename = "type")]
    pub permission_type: String,
    /// The statement as the simulator shows it.
    pub statement: String,
}

#[derive(Deserialize)]
struct Refusal {
    error_description: String,
}

/// What the user does on the simulator's login step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    user: Option<String>,
    auth_age: Option<Duration>,
}

impl Decision {
    /// Log in as the simulator user with this id.
    pub fn approve(user: impl Into<String>) -> Decision {
        Decision { user: Some(user.into()), auth_age: None }
    }

    /// Cancel: the app's callback gets `error=access_denied`.
    pub fn deny() -> Decision {
        Decision { user: None, auth_age: None }
    }

    /// The user authenticated this long ago: the ID token's `auth_time` is
    /// `now - age` (whole seconds, at most a year), so a route's
    /// `LoggedInWithin` can be tested against an old login.
    pub fn auth_age(self, age: Duration) -> Decision {
        Decision { auth_age: Some(age), ..self }
    }
}

impl AuthorizeStep {
    /// Opens `authorize_url` (where the app redirected the browser) at
    /// `simulator`, asking for the JSON form of its login step.
    ///
    /// # Errors
    ///
    /// [`TestLoginError::NotTheSimulator`] when the URL is not this
    /// simulator's authorize endpoint; [`TestLoginError::SimulatorRefused`]
    /// when it refuses the request; `Transport` or `UnexpectedAnswer`
    /// otherwise.
    pub async fn open(browser: &Browser, simulator: &Simulator, authorize_url: &str) -> Result<Self, TestLoginError> {
        let issuer = simulator.issuer();
        if !is_authorize_endpoint(&issuer, authorize_url) {
            return Err(TestLoginError::NotTheSimulator { step: Step::LoginRoute });
        }
        let step = Step::AuthorizeStep;
        let response = browser
            .client()
            .get(authorize_url)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(TestLoginError::transport(step))?;
        match response.status() {
            StatusCode::OK => {
                let page = response.json().await.map_err(TestLoginError::transport(step))?;
                Ok(AuthorizeStep { issuer, page })
            }
            status => Err(refusal(step, status, response).await),
        }
    }

    /// The users who may log in, in the login page's order.
    pub fn users(&self) -> &[OfferedUser] {
        &self.page.users
    }

    /// The method the request asked for (`BIS` or `BID`), if any.
    pub fn asked_method(&self) -> Option<&str> {
        self.page.asked_method.as_deref()
    }

    /// The permissions the login asks the user to approve.
    pub fn permissions(&self) -> &[AskedPermission] {
        &self.page.permissions
    }

    /// Posts `decision` as the login page's form and answers the URL the
    /// simulator sends the browser to: the app's callback, not yet visited.
    ///
    /// # Errors
    ///
    /// [`TestLoginError::UnknownUser`] for a user the step does not offer
    /// (nothing is posted: the login stays pending);
    /// [`TestLoginError::SimulatorRefused`] when the simulator refuses the
    /// decision; `Transport` or `UnexpectedAnswer` otherwise.
    pub async fn submit(self, browser: &Browser, decision: Decision) -> Result<String, TestLoginError> {
        if let Some(user) = &decision.user
            && !self.page.users.iter().any(|offered| &offered.id == user)
        {
            return Err(TestLoginError::UnknownUser { user: user.clone() });
        }
        let step = Step::Decision;
        let response = browser
            .client()
            .post(format!("{}/authorize", self.issuer))
            .header(header::ACCEPT, "application/json")
            .form(&self.form(&decision))
            .send()
            .await
            .map_err(TestLoginError::transport(step))?;
        match response.status() {
            StatusCode::SEE_OTHER => location(step, &response),
            status => Err(refusal(step, status, response).await),
        }
    }

    fn form(&self, decision: &Decision) -> Vec<(&'static str, String)> {
        let mut form = vec![("request", self.page.request.clone())];
        match &decision.user {
            Some(user) => form.extend([("decision", "approve".to_owned()), ("user", user.clone())]),
            None => form.push(("decision", "deny".to_owned())),
        }
        if let Some(age) = decision.auth_age {
            form.push(("auth_age", age.as_secs().to_string()));
        }
        form
    }
}

/// The request id is single use, but still never printed.
impl fmt::Debug for AuthorizeStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeStep")
            .field("users", &self.page.users)
            .field("asked_method", &self.page.asked_method)
            .field("permissions", &self.page.permissions)
            .finish_non_exhaustive()
    }
}

/// Whether `url` is `{issuer}/authorize` (any query).
fn is_authorize_endpoint(issuer: &str, url: &str) -> bool {
    match (Url::parse(issuer), Url::parse(url)) {
        (Ok(issuer), Ok(url)) => url.origin() == issuer.origin() && url.path() == "/authorize",
        _ => false,
    }
}

/// The `Location` of a redirect answered by `step`.
pub(crate) fn location(step: Step, response: &reqwest::Response) -> Result<String, TestLoginError> {
    let value = response.headers().get(header::LOCATION).and_then(|value| value.to_str().ok());
    let unexpected = || TestLoginError::UnexpectedAnswer { step, status: response.status() };
    value.map(str::to_owned).ok_or_else(unexpected)
}

/// A simulator's `400` with its description, or an unexpected answer.
async fn refusal(step: Step, status: StatusCode, response: reqwest::Response) -> TestLoginError {
    if status != StatusCode::BAD_REQUEST {
        return TestLoginError::UnexpectedAnswer { step, status };
    }
    match response.json::<Refusal>().await {
        Ok(refusal) => TestLoginError::SimulatorRefused { step, description: refusal.error_description },
        Err(_) => TestLoginError::UnexpectedAnswer { step, status },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_simulators_authorize_endpoint_is_driven() {
        let issuer = "http://127.0.0.1:4000";
        assert!(is_authorize_endpoint(issuer, "http://127.0.0.1:4000/authorize?client_id=x"));
        assert!(!is_authorize_endpoint(issuer, "http://127.0.0.1:4001/authorize?client_id=x"));
        assert!(!is_authorize_endpoint(issuer, "http://127.0.0.1:4000/token"));
        assert!(!is_authorize_endpoint(issuer, "https://evil.example/authorize"));
        assert!(!is_authorize_endpoint(issuer, "/authorize"));
    }
}
