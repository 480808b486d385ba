//! The login hook: the app's last word on a login, registered with
//! [`BankIdLayer::on_login`](crate::BankIdLayer::on_login).
//!
//! It runs once per login — the code flow, a step-up, a permission login
//! and a CIBA login alike — after every check the crate makes (ID token,
//! level, subject, permissions and their grants) and before anything is
//! written: the session, the grants' records and the landing are untouched
//! until it answers. It gets a [`LoginContext`]: the verified user (claims,
//! level, `auth_time`, `sid`), the ID token exactly as BankID signed it, and
//! the signed grant of each permission. It answers a [`LoginDecision`]:
//!
//! - [`LoginDecision::allow`] logs the user in;
//! - [`LoginDecision::allow_with`] logs the user in and keeps the app's
//!   data (a customer id, say) with the login, written in the same session
//!   save; handlers read it with [`LoginData`](crate::LoginData). The hook
//!   never writes the session itself, so there is no moment at which the
//!   session holds the login without the app's data, or the data without
//!   the login;
//! - [`LoginDecision::refuse`] fails the login with
//!   [`Error::LoginRefused`] (`login_refused`), which reaches the layer's
//!   error handler with the app's reason. Nothing is written, the login
//!   attempt is spent (its callback cannot be replayed), and whoever was
//!   logged in in that session before stays logged in.
//!
//! # The evidence
//!
//! BankID has retired its separate proof service: the signed ID token is
//! the evidence of a login, and a permission's signed grant the evidence of
//! what the user approved. An app that must archive them (audit, anti-money
//! laundering) takes them here: [`LoginContext::signed_id_token`] and
//! [`LoginContext::signed_grants`] are the compact JWS strings as the
//! provider issued them, verifiable later against its published keys. They
//! never reach a log: the context's `Debug` shows their length only, and the
//! crate logs neither.
//!
//! The hook holds the request that completes the login while it runs: keep
//! it to what the login needs (a lookup, an insert). A hook that panics
//! fails that request with nothing written.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Cause, Error};
use crate::events::LoginFlow;
use crate::loa::Loa;
use crate::user::AuthenticatedUser;

/// What the [login hook](self) is shown: a login that passed every check.
pub struct LoginContext {
    flow: LoginFlow,
    user: AuthenticatedUser,
    signed_id_token: String,
    signed_grants: Vec<String>,
}

impl LoginContext {
    pub(crate) fn new(
        flow: LoginFlow,
        user: AuthenticatedUser,
        signed_id_token: String,
        signed_grants: Vec<String>,
    ) -> Self {
        LoginContext { flow, user, signed_id_token, signed_grants }
    }

    /// How the user logged in.
    pub fn flow(&self) -> LoginFlow {
        self.flow
    }

    /// The verified user, as the session will hold it.
    pub fn user(&self) -> &AuthenticatedUser {
        &self.user
    }

    /// The level of assurance of the login.
    pub fn loa(&self) -> Loa {
        self.user.loa
    }

    /// When the user authenticated (`auth_time`, seconds since the epoch), if sent.
    pub fn auth_time(&self) -> Option<i64> {
        self.user.auth_time
    }

    /// The provider's session id (`sid`), if sent.
    pub fn sid(&self) -> Option<&str> {
        self.user.sid.as_deref()
    }

    /// Every claim of the verified ID token.
    pub fn claims(&self) -> &Map<String, Value> {
        self.user.claims.as_map()
    }

    /// The Norwegian national identity number, when the login carries one
    /// (`nnin_altsub` from BankID OIDC with scope `nnin_altsub`, `sub_nnin`
    /// from BIB). Personal data: never log it.
    pub fn nnin(&self) -> Option<&str> {
        self.user.nnin_altsub.as_deref()
    }

    /// The ID token exactly as the provider signed it (compact JWS): the
    /// evidence of this login, to archive. Never log it.
    pub fn signed_id_token(&self) -> &str {
        &self.signed_id_token
    }

    /// The signed grant (compact JWS) of each permission of this login
    /// fetched from the Permission API, in the order asked for; empty for
    /// a login without one. Never log them.
    pub fn signed_grants(&self) -> &[String] {
        &self.signed_grants
    }
}

impl fmt::Debug for LoginContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginContext")
            .field("flow", &self.flow)
            .field("user", &self.user)
            .field("signed_id_token", &format_args!("<{} bytes redacted>", self.signed_id_token.len()))
            .field("signed_grants", &format_args!("<{} redacted>", self.signed_grants.len()))
            .finish()
    }
}

/// The [login hook](self)'s answer.
#[derive(Debug)]
pub struct LoginDecision(Decision);

#[derive(Debug)]
enum Decision {
    Allow(Option<Value>),
    Refuse(String),
    Unencodable(serde_json::Error),
}

impl LoginDecision {
    /// Log the user in. Data a previous login of this session kept with
    /// [`allow_with`](Self::allow_with) goes: the app's data belongs to one login.
    pub fn allow() -> Self {
        LoginDecision(Decision::Allow(None))
    }

    /// Log the user in and keep `data` with the login, in the same session
    /// save; handlers read it with [`LoginData<T>`](crate::LoginData). It
    /// lives and ends with the login (logout, a login by someone else, the
    /// next login's own decision). Data that does not serialise to JSON
    /// fails the login with `session_error`, nothing written.
    pub fn allow_with<T: Serialize>(data: &T) -> Self {
        match serde_json::to_value(data) {
            Ok(value) => LoginDecision(Decision::Allow(Some(value))),
            Err(err) => LoginDecision(Decision::Unencodable(err)),
        }
    }

    /// Refuse the login: it fails with [`Error::LoginRefused`] carrying
    /// `reason`, for the app's error handler. The reason is the app's: the
    /// default error page does not show it, and the crate does not log it.
    pub fn refuse(reason: impl Into<String>) -> Self {
        LoginDecision(Decision::Refuse(reason.into()))
    }
}

/// The hook as the layer keeps it.
pub(crate) type LoginHook = Arc<dyn Fn(LoginContext) -> BoxFuture<'static, LoginDecision> + Send + Sync>;

/// `hook` boxed as the layer keeps it.
pub(crate) fn boxed<F, Fut>(hook: F) -> LoginHook
where
    F: Fn(LoginContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = LoginDecision> + Send + 'static,
{
    Arc::new(move |context| Box::pin(hook(context)))
}

/// Asks the hook, if there is one: the data to keep with the login, or why
/// it fails. Without a hook every checked login is allowed, without data.
pub(crate) async fn decide(hook: Option<&LoginHook>, context: LoginContext) -> Result<Option<Value>, Error> {
    let Some(hook) = hook else { return Ok(None) };
    let flow = context.flow;
    match hook(context).await.0 {
        Decision::Allow(data) => Ok(data),
        Decision::Refuse(reason) => {
            tracing::info!(flow = flow.as_str(), "the app's login hook refused the login");
            Err(Error::LoginRefused { reason })
        }
        Decision::Unencodable(err) => {
            Err(Error::Session(Cause::caused_by("the login hook's data does not serialise to JSON", err)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context() -> LoginContext {
        let claims = json!({"iss": "https://op", "sub": "s1", "acr": "urn:bankid:bis;LOA=3", "sid": "sid-1",
            "auth_time": 1_700_000_000, "nnin_altsub": "01010112345"});
        let user = AuthenticatedUser::from_claims(claims.as_object().unwrap().clone(), Loa::SUBSTANTIAL);
        LoginContext::new(
            LoginFlow::CodeFlow,
            user,
            "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzMSJ9.c2ln".into(),
            vec!["eyJncmFudCI6MX0.eyJncmFudCI6MX0.c2ln".into()],
        )
    }

    #[test]
    fn debug_redacts_the_evidence_and_the_identity_number() {
        let shown = format!("{:?}", context());
        assert!(!shown.contains("eyJ"), "{shown}");
        assert!(!shown.contains("01010112345"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn the_context_reads_the_verified_login() {
        let context = context();
        assert_eq!(
            (context.sid(), context.auth_time(), context.nnin()),
            (Some("sid-1"), Some(1_700_000_000), Some("01010112345"))
        );
        assert_eq!(context.claims()["sub"], "s1");
    }

    #[tokio::test]
    async fn refusal_and_unencodable_data_fail_the_login_typed() {
        let refuse = boxed(|_| async { LoginDecision::refuse("not a customer") });
        let err = decide(Some(&refuse), context()).await.unwrap_err();
        assert!(matches!(&err, Error::LoginRefused { reason } if reason == "not a customer"));
        assert_eq!(err.kind(), "login_refused");
        let map: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let unencodable = boxed(move |_| {
            let decision = LoginDecision::allow_with(&map);
            async move { decision }
        });
        assert_eq!(decide(Some(&unencodable), context()).await.unwrap_err().kind(), "session_error");
        assert_eq!(decide(None, context()).await.unwrap(), None);
    }
}
