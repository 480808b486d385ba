//! [`PermissionRequest`]: a login that asks the user to approve one
//! permission, started from a handler with
//! [`BankIdSession::request`](crate::BankIdSession::request).
//!
//! The statement travels as a Rich Authorization Request item inside the
//! login (see `statement.rs`) or, with
//! [`via_permission_api`](PermissionRequest::via_permission_api), as a
//! registration at BIB whose permission token rides on the authorize
//! request (see `api.rs`). Either way the login is bound to the user who is
//! logged in now, so the approval must come from that person.

use axum::http::HeaderMap;
use axum::response::Response;
use tower_sessions::Session;

use crate::error::Error;
use crate::login::start::{LoginOptions, begin};
use crate::permission::api::{PermissionApi, Registration};
use crate::permission::statement::{Permission, PermissionItem, assert_upfront_type, validate_app_callback_uri};
use crate::state::LayerState;

/// A login that asks for one permission; finish it with [`start`](Self::start).
#[must_use = "call .start().await to send the user to BankID"]
pub struct PermissionRequest<P> {
    ctx: LayerState,
    session: Session,
    /// The request's headers: the browser's login-attempt cookies count
    /// towards the cap on attempts.
    headers: HeaderMap,
    permission: P,
    return_to: Option<String>,
    app_callback_uri: Option<String>,
    via_api: bool,
}

impl<P> std::fmt::Debug for PermissionRequest<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PermissionRequest").field("return_to", &self.return_to).finish_non_exhaustive()
    }
}

impl<P: Permission> PermissionRequest<P> {
    /// A request for `permission` in the request that `ctx`, `session` and
    /// `headers` describe (see [`BankIdSession::request`](crate::BankIdSession::request)).
    pub(crate) fn new(ctx: LayerState, session: Session, headers: HeaderMap, permission: P) -> Self {
        assert_upfront_type::<P>();
        PermissionRequest { ctx, session, headers, permission, return_to: None, app_callback_uri: None, via_api: false }
    }

    /// Where to go after approval (a same-origin path; anything else becomes `/`).
    pub fn return_to(mut self, path: impl Into<String>) -> Self {
        self.return_to = Some(path.into());
        self
    }

    /// *Preview (BankID public preview, iOS apps)*: where the BankID app
    /// returns the user. Must be absolute with `https` or a custom scheme;
    /// checked when the request starts.
    pub fn app_callback_uri(mut self, uri: impl Into<String>) -> Self {
        self.app_callback_uri = Some(uri.into());
        self
    }

    /// Registers the permission through the Permission API at BIB and sends
    /// its permission token on the authorize request (under
    /// [`reference_parameter`](crate::permission::PermissionApiConfig::reference_parameter),
    /// a guess: BankID has not published how), instead of sending the
    /// statement as `authorization_details`. After the callback the grant is
    /// fetched from BIB and verified. Needs a BIB issuer.
    pub fn via_permission_api(mut self) -> Self {
        self.via_api = true;
        self
    }

    /// Stores the login attempt and redirects (303) the browser to BankID.
    ///
    /// When someone is logged in, the approval must come from that person:
    /// a callback with another BankID user fails with
    /// [`LoginCheckError::SubjectMismatch`](crate::error::LoginCheckError::SubjectMismatch) and changes nothing in the session.
    pub async fn start(self) -> Result<Response, Error> {
        let ctx = &self.ctx;
        let app_callback_uri = self.app_callback_uri.as_deref().map(validate_app_callback_uri).transpose()?;
        let item = if self.via_api {
            PermissionApi::new(ctx.core.clone()).register(&self.permission, Registration::new()).await?.item
        } else {
            PermissionItem::new(&self.permission, ctx.core.config().digest_input)?
        };
        let options = LoginOptions {
            return_to: self.return_to,
            permissions: vec![item],
            app_callback_uri,
            for_current_user: true,
            ..LoginOptions::default()
        };
        let started = begin(&ctx.login_start(), &self.session, &self.headers, options).await?;
        Ok(started.into_response())
    }
}
