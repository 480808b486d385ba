//! A test login through CIBA, as a TV and its user's phone take it: the
//! app's public start route, the phone approving the request whose binding
//! message the app shows, the app's status route until it says `approved`
//! (which logs the starting session in).

use std::time::Duration;

use axum_bankid_simulator::{CibaStatus, Simulator};
use http::{StatusCode, header};
use serde::Deserialize;
use tokio::time::Instant;
use url::Url;

use super::browser::Browser;
use super::error::{Step, TestLoginError};

/// How often the status route is read.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// One CIBA login's set-up.
pub(super) struct CibaLogin<'a> {
    pub(super) browser: &'a Browser,
    pub(super) simulator: &'a Simulator,
    /// `{app}{ciba_path}`.
    pub(super) routes: Url,
    pub(super) timeout: Duration,
}

#[derive(Deserialize)]
struct Started {
    handle: String,
}

#[derive(Deserialize)]
struct Status {
    status: String,
    binding_message: Option<String>,
    error: Option<String>,
}

impl CibaLogin<'_> {
    /// Logs `user` in; the browser's session is logged in afterwards.
    pub(super) async fn run(&self, user: &str) -> Result<(), TestLoginError> {
        let nnin = self.nnin_of(user)?;
        let handle = self.start(&nnin).await?;
        let deadline = Instant::now() + self.timeout;
        let mut approved_on_phone = false;
        while Instant::now() < deadline {
            let status = self.status(&handle).await?;
            match (status.status.as_str(), status.binding_message) {
                ("approved", _) => return Ok(()),
                ("failed", _) => return Err(TestLoginError::CibaFailed { error: status.error }),
                ("pending", Some(message)) if !approved_on_phone => {
                    approved_on_phone = self.approve_on_phone(&nnin, &message).await?;
                }
                _ => {}
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        Err(TestLoginError::TimedOut { step: Step::CibaStatus })
    }

    fn nnin_of(&self, user: &str) -> Result<String, TestLoginError> {
        let users = self.simulator.users();
        let found = users.iter().find(|candidate| candidate.id() == user);
        found.map(|user| user.nnin().to_owned()).ok_or_else(|| TestLoginError::UnknownUser { user: user.to_owned() })
    }

    /// `POST {ciba_path}` with the identity number: the handle.
    async fn start(&self, nnin: &str) -> Result<String, TestLoginError> {
        let step = Step::CibaStart;
        let response = self
            .browser
            .client()
            .post(self.routes.clone())
            .header(header::ACCEPT, "application/json")
            .json(&serde_json::json!({ "nnin": nnin }))
            .send()
            .await
            .map_err(TestLoginError::transport(step))?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(TestLoginError::UnexpectedAnswer { step, status: response.status() });
        }
        let started: Started = response.json().await.map_err(TestLoginError::transport(step))?;
        Ok(started.handle)
    }

    /// `GET {ciba_path}/{handle}`, as the TV's page reads it.
    async fn status(&self, handle: &str) -> Result<Status, TestLoginError> {
        let step = Step::CibaStatus;
        let url = format!("{}/{handle}", self.routes.as_str().trim_end_matches('/'));
        let response = self
            .browser
            .client()
            .get(url)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(TestLoginError::transport(step))?;
        if response.status() != StatusCode::OK {
            return Err(TestLoginError::UnexpectedAnswer { step, status: response.status() });
        }
        response.json().await.map_err(TestLoginError::transport(step))
    }

    /// The user compares the code on the TV with the one on the phone and
    /// approves that request on the simulated phone (`POST /phone/decide`).
    /// `false` while the phone has no such request yet.
    async fn approve_on_phone(&self, nnin: &str, binding_message: &str) -> Result<bool, TestLoginError> {
        let requests = self.simulator.ciba_requests();
        let on_phone = requests.iter().find(|request| {
            request.login_hint == nnin
                && request.binding_message.as_deref() == Some(binding_message)
                && matches!(request.status, CibaStatus::Pending)
        });
        let Some(request) = on_phone else { return Ok(false) };
        let step = Step::Phone;
        let response = self
            .browser
            .client()
            .post(format!("{}/phone/decide", self.simulator.issuer()))
            .form(&[("auth_req_id", request.auth_req_id.as_str()), ("decision", "approve")])
            .send()
            .await
            .map_err(TestLoginError::transport(step))?;
        if !response.status().is_success() {
            return Err(TestLoginError::UnexpectedAnswer { step, status: response.status() });
        }
        Ok(true)
    }
}
