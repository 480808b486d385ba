//! The one login-completion path, shared by the code flow's callback and
//! CIBA: a verified ID token → the LOA policy and the subject → the
//! permissions → the verified login → the app's login hook
//! ([`crate::login_hook`], shown [`VerifiedLogin::hook_context`]) → the
//! session write, with the hook's data.
//!
//! Each caller keeps only its transport: the callback checks state, PKCE,
//! RFC 9207 `iss` and exchanges the code; CIBA polls. Neither maps a check
//! failure itself: every one is a [`LoginCheckError`], so it has one
//! [`kind`](LoginCheckError::kind) in both flows.
//!
//! A login whose session write fails does not succeed: the caller reports
//! the store error, never "logged in" (see [`establish`]).

use serde_json::{Map, Value};
use tower_sessions::Session;

use crate::clock::unix_now;
use crate::error::{Error, LoginCheckError};
use crate::events::LoginFlow;
use crate::id_token::VerifiedIdToken;
use crate::loa::{AcrIssuer, Loa, check_loa};
use crate::login_hook::LoginContext;
use crate::permission::api::{Grant, GrantExpectation, PermissionApi};
use crate::permission::statement::{PermissionItem, verify_granted};
use crate::session::{StoredLogin, give_login_lifetime, store_login, store_login_data};
use crate::user::{AuthenticatedUser, Subject};

/// What a login must meet besides a valid ID token.
pub(crate) struct Policy<'a> {
    /// The configured minimum level.
    pub(crate) minimum_loa: Loa,
    /// Whose bare `acr` URNs apply (see [`crate::loa`]).
    pub(crate) acr_issuer: AcrIssuer,
    /// For a permission or step-up requested by a logged-in user: that
    /// user's (`iss`, `sub`), which the new ID token must carry.
    pub(crate) expected_subject: Option<&'a Subject>,
}

/// An ID token that passed verification, the LOA policy and the subject
/// check; its permissions are checked next, then [`into_login`](Self::into_login).
pub(crate) struct CheckedLogin {
    claims: Map<String, Value>,
    loa: Loa,
    id_token: String,
}

/// A login that passed every check: the user and the ID token the session
/// keeps (for `id_token_hint` at logout).
#[derive(Clone)]
pub(crate) struct VerifiedLogin {
    user: AuthenticatedUser,
    id_token: String,
}

/// The LOA policy and the subject check on a verified ID token.
pub(crate) fn check(
    verified: VerifiedIdToken,
    id_token: String,
    policy: &Policy<'_>,
) -> Result<CheckedLogin, LoginCheckError> {
    let required = policy.minimum_loa;
    let loa = check_loa(verified.claims().get("acr"), required, policy.acr_issuer)
        .map_err(|found| LoginCheckError::InsufficientLoa { required, found })?;
    check_subject(policy.expected_subject, verified.claims())?;
    Ok(CheckedLogin { claims: verified.into_claims(), loa, id_token })
}

/// A permission or step-up requested by a logged-in user must be completed
/// by that user: otherwise someone else's BankID would be attached to this
/// session. Identity is (`iss`, `sub`) (see [`Subject`]); when the issuers
/// differ (a CIBA login at BIB, then a code-flow step-up at BankID OIDC) the
/// two `sub`s are not comparable and the answer is `subject_mismatch`.
fn check_subject(expected: Option<&Subject>, claims: &Map<String, Value>) -> Result<(), LoginCheckError> {
    let Some(expected) = expected else { return Ok(()) };
    match Subject::of_claims(claims) {
        Some(found) if &found == expected => Ok(()),
        _ => Err(LoginCheckError::SubjectMismatch),
    }
}

impl CheckedLogin {
    pub(crate) fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// A string claim (empty if absent; the verifier requires `iss` and `sub`).
    pub(crate) fn text(&self, name: &str) -> &str {
        self.claims.get(name).and_then(Value::as_str).unwrap_or_default()
    }

    /// The level the policy accepted.
    pub(crate) fn loa(&self) -> Loa {
        self.loa
    }

    /// Once the permissions are checked: the verified login.
    pub(crate) fn into_login(self) -> VerifiedLogin {
        VerifiedLogin { user: AuthenticatedUser::from_claims(self.claims, self.loa), id_token: self.id_token }
    }
}

/// The ID token's `permission_digest` (and RAR `authorization_details`,
/// when the token response echoes them) against the permissions sent.
pub(crate) fn check_digests(
    items: &[PermissionItem],
    digest: Option<&Value>,
    token_details: Option<&Value>,
) -> Result<(), LoginCheckError> {
    verify_granted(items, digest, token_details).map_err(LoginCheckError::Permission)
}

/// The signed grant of a permission registered through the Permission API,
/// fetched from BIB and verified against what was sent and who approved it.
/// A grant that does not verify is a [`LoginCheckError::Permission`]; other
/// failures (BIB unreachable) stay what they are.
pub(crate) async fn fetch_grant(
    api: &PermissionApi,
    expected: &GrantExpectation<'_>,
    scope: &str,
) -> Result<Grant, Error> {
    api.grant_for(expected, scope).await.map_err(|err| match err {
        Error::Permission(err) => Error::Check(LoginCheckError::Permission(err)),
        other => other,
    })
}

impl VerifiedLogin {
    /// A login verified earlier and kept (a CIBA outcome in the store).
    pub(crate) fn from_parts(user: AuthenticatedUser, id_token: String) -> Self {
        VerifiedLogin { user, id_token }
    }

    pub(crate) fn into_parts(self) -> (AuthenticatedUser, String) {
        (self.user, self.id_token)
    }

    /// What the app's login hook is shown of this login (see
    /// [`crate::login_hook`]): the user, this ID token and `signed_grants`.
    pub(crate) fn hook_context(&self, flow: LoginFlow, signed_grants: Vec<String>) -> LoginContext {
        LoginContext::new(flow, self.user.clone(), self.id_token.clone(), signed_grants)
    }
}

/// How a login arrived, for what [`establish`] keeps beside it.
pub(crate) enum Via<'a> {
    /// The code flow's callback: the session gets the login's inactivity
    /// lifetime (seconds).
    Callback { lifetime_secs: i64 },
    /// The approval of the CIBA request `handle`. It is kept with the login
    /// so that logout cancels the request: its approval can then log no
    /// session in again (see `ciba::owner`).
    Ciba { handle: &'a str },
}

/// Logs `session` in: writes the login (rotating the session id; emptying
/// the session when another person was logged in) with what [`Via`] keeps,
/// and the app's `data` from its login hook (or none), in the same save.
///
/// The write is part of the login: when it fails the login has failed, and
/// the caller must say so ([`Error::Session`]) instead of reporting success —
/// the user would land on a page that finds nobody logged in, and an app
/// that trusted the "approved" answer would act for a session that is not
/// one. Reporting the failure also leaves the attempt retryable where the
/// transport allows it (a CIBA status read).
pub(crate) async fn establish(
    session: &Session,
    login: VerifiedLogin,
    via: Via<'_>,
    data: Option<Value>,
) -> Result<AuthenticatedUser, Error> {
    let user = login.user.clone();
    let mut stored = StoredLogin::new(login.user, login.id_token, unix_now());
    if let Via::Ciba { handle } = via {
        stored.ciba_handle = Some(handle.to_owned());
    }
    store_login(session, stored).await?;
    store_login_data(session, data).await?;
    if let Via::Callback { lifetime_secs } = via {
        give_login_lifetime(session, lifetime_secs);
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_subject_lock_compares_issuer_and_sub() {
        let expected = Subject { iss: "https://auth".into(), sub: "u1".into() };
        let claims = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(check_subject(Some(&expected), &claims(json!({"iss": "https://auth", "sub": "u1"}))), Ok(()));
        assert_eq!(check_subject(None, &claims(json!({"iss": "https://bib", "sub": "u2"}))), Ok(()));
        for other in [
            json!({"iss": "https://bib", "sub": "u1"}),
            json!({"iss": "https://auth", "sub": "u2"}),
            json!({"sub": "u1"}),
        ] {
            let err = check_subject(Some(&expected), &claims(other.clone())).unwrap_err();
            assert_eq!(err.kind(), "subject_mismatch", "{other}");
        }
    }
}
