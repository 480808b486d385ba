//! HTTP routes for CIBA, mounted by [`BankIdLayer::with_ciba`](crate::BankIdLayer::with_ciba):
//!
//! - `GET {ciba_path}/{handle}` answers the status as JSON
//!   (`pending`/`approved`/`failed` and an error code — never identity data);
//! - `GET {ciba_path}/{handle}/events` streams status changes as
//!   server-sent events until the outcome is known;
//! - only with [`CibaOptions::public_start`](crate::ciba::CibaOptions::public_start):
//!   `POST {ciba_path}` with JSON `{"nnin": "..."}` starts an authentication
//!   and answers `202` with the handle at once, the same for every admitted
//!   number; BIB is asked afterwards (see `ciba::background`), and BankID's
//!   binding message shows on the status routes once BIB has made it.
//!
//! Only when the start route's policy opts in
//! ([`PublicCibaStart::log_in_starting_session`](super::PublicCibaStart::log_in_starting_session))
//! does the session that started a request become logged in — when it reads
//! the approved status over the plain status route, a normal request whose
//! response can carry the new session cookie. The event stream never logs
//! in: its headers are sent before the approval arrives, so a rotated
//! session id could not reach the browser (and the rotation would delete
//! the session the stream holds). It says `approved`; the page then reads
//! the status route once. Every other reader of a handle learns only the
//! outcome.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tower_sessions::Session;

use super::background::{self, Reserved};
use super::owner::{self, Owners};
use super::public_start::{ClientAddress, PublicStartPolicy, Refusal};
use super::{Ciba, CibaError, CibaHandle, CibaRequest, CibaStatus};
use crate::error::Cause;
use crate::error::render::ErrorPages;
use crate::events::{self, EventSink, LoginEvent, LoginFlow};
use crate::http::{MaybeSession, no_store_json, with_cookies};
use crate::login::complete;
use crate::login_hint::LoginHint;
use crate::login_hook::{self, LoginHook};

/// What CIBA's routes need of the layer that mounts them, taken from its
/// state (`FromRef`), so that this module does not depend on the layer's.
#[derive(Clone)]
pub(crate) struct CibaRoutes {
    pub(crate) owners: Owners,
    /// The public start route's policy, when it is mounted.
    pub(crate) public_start: Option<Arc<PublicStartPolicy>>,
    pub(crate) error_pages: ErrorPages,
    /// The app's login hook and event subscriber, for the logins these
    /// routes make.
    pub(crate) on_login: Option<LoginHook>,
    pub(crate) events: Option<EventSink>,
}

#[derive(Deserialize)]
pub(crate) struct StartBody {
    nnin: String,
}

/// What the routes reveal: the outcome, never the user's identity (the
/// starting session is logged in instead and reads it from there).
/// A pending request's binding message is `null` until BIB has made it;
/// the reasons a user cannot be reached are one kind (see
/// [`background::public_kind`]).
#[derive(serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum PublicStatus {
    Pending { retry_after_ms: u64, binding_message: Option<String> },
    Approved,
    Failed { error: String },
}

impl From<&CibaStatus> for PublicStatus {
    fn from(status: &CibaStatus) -> Self {
        match status {
            CibaStatus::Pending { retry_after_ms, binding_message } => {
                PublicStatus::Pending { retry_after_ms: *retry_after_ms, binding_message: binding_message.clone() }
            }
            CibaStatus::Approved { .. } => PublicStatus::Approved,
            CibaStatus::Failed { error } => PublicStatus::Failed { error: background::public_kind(error).to_owned() },
        }
    }
}

/// The `202` of the public start route: the same keys and value shapes for
/// every admitted number. `binding_message` is always `null` (BankID makes
/// it after this answer; read it from the status route); `expires_in` is
/// the longest the request can live.
#[derive(serde::Serialize)]
struct PublicStarted {
    handle: CibaHandle,
    binding_message: Option<String>,
    expires_in: u64,
}

impl IntoResponse for CibaError {
    fn into_response(self) -> Response {
        let status = match &self {
            CibaError::UnknownHandle => StatusCode::NOT_FOUND,
            CibaError::NotSupported | CibaError::NotEnabled => StatusCode::NOT_IMPLEMENTED,
            CibaError::ProviderUnavailable(_) | CibaError::UserCheckFailed(_) | CibaError::RegistrationFailed(_) => {
                StatusCode::BAD_GATEWAY
            }
            CibaError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        if status.is_server_error() {
            // The cause (a store's or provider's error text) is for the log;
            // the anonymous caller gets the kind and a fixed sentence.
            tracing::warn!(kind = self.kind(), error = %self, "CIBA route failed");
        }
        let body = serde_json::json!({"error": self.kind(), "message": public_message(&self)});
        no_store_json(status, body)
    }
}

/// A fixed sentence per kind for the routes' JSON bodies: never the error's
/// own text, which can carry a store's or provider's words (hosts, paths,
/// BIB's per-user error descriptions).
fn public_message(error: &CibaError) -> &'static str {
    match error {
        CibaError::NotSupported | CibaError::NotEnabled => "CIBA is not available here",
        CibaError::InvalidLoginHint => "the identity number is not valid",
        CibaError::UserNotEnrolled | CibaError::UnknownUser | CibaError::AppUnavailable => {
            "BankID cannot reach this user here; use another way to log in"
        }
        CibaError::UserCheckFailed(_)
        | CibaError::RegistrationFailed(_)
        | CibaError::ProviderUnavailable(_)
        | CibaError::InitiationRejected { .. }
        | CibaError::InvalidBindingMessage
        | CibaError::StartFailed { .. } => "BankID could not start the authentication; try again later",
        CibaError::Denied => "the user declined",
        CibaError::Expired => "the request expired",
        CibaError::AuthenticationFailed { .. } => "authentication on the phone failed",
        CibaError::InvalidGrant => "BankID no longer accepts this request",
        CibaError::Check(_) => "the login failed a check",
        CibaError::UnknownHandle => "no pending authentication has this handle",
        CibaError::Store(_) => "the request could not be recorded; try again later",
    }
}

fn ciba_of(routes: &CibaRoutes) -> Result<Ciba, CibaError> {
    routes.owners.ciba.clone().ok_or(CibaError::NotEnabled)
}

#[tracing::instrument(name = "bankid.ciba.public_start", skip_all)]
pub(crate) async fn start(
    State(routes): State<CibaRoutes>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Json(body): Json<StartBody>,
) -> Response {
    let (ciba, policy) = match (ciba_of(&routes), routes.public_start.clone()) {
        (Ok(ciba), Some(policy)) => (ciba, policy),
        (Err(err), _) => return err.into_response(),
        (Ok(_), None) => return CibaError::NotEnabled.into_response(),
    };
    if !crate::http::same_origin_or_absent(&headers, routes.owners.core.config().redirect_uri()) {
        return routes.error_pages.render(&crate::error::Error::CrossSiteRequest, &headers);
    }
    let hint = LoginHint::Nnin(body.nnin.clone());
    // Malformed numbers (shape and both mod-11 control digits) are refused
    // before they cost anyone a budget or a call to BIB.
    if !hint.is_valid() || !crate::nnin::is_well_formed(&body.nnin) {
        return CibaError::InvalidLoginHint.into_response();
    }
    // A place for the background calls first: a start refused for want of
    // one spends no budget.
    let Some(permit) = policy.start_permit() else { return busy() };
    let client = policy.client_of(peer.map(|Extension(ConnectInfo(addr))| addr), &headers);
    match policy.admit(&body.nnin, client) {
        Ok(()) => {}
        Err(Refusal::RateLimited(wait)) => {
            tracing::info!(retry_after_secs = wait.as_secs(), "public CIBA start rate-limited");
            return rate_limited(wait);
        }
        Err(Refusal::ClientAddressUnknown) => return client_address_unknown(&policy.options.client_address),
    }
    // The binding message is always BankID's (made at registration): no
    // caller can put words of its own on the user's phone.
    let request = CibaRequest::new(hint);
    // Everything up to the answer is the same for every number: BIB is
    // asked only after it (see `ciba::background`).
    let reserved = match ciba.reserve(&request).await {
        Ok(reserved) => reserved,
        Err(err) => return err.into_response(),
    };
    let cookies = match policy.options.log_in_starting_session {
        true => match claim(&routes.owners, &ciba, &headers, &reserved).await {
            Ok(cookies) => cookies,
            Err(err) => return err.into_response(),
        },
        false => Vec::new(),
    };
    let started =
        PublicStarted { handle: reserved.handle.clone(), binding_message: None, expires_in: reserved.lifetime_secs };
    ciba.start_in_background(reserved, request, permit);
    with_cookies(no_store_json(StatusCode::ACCEPTED, started), cookies)
}

/// Every place for a start's background calls is taken: the same answer
/// for every number, and nothing was sent to BIB.
fn busy() -> Response {
    tracing::info!("public CIBA start refused: too many starts under way");
    let body = serde_json::json!({"error": "busy", "message": "too many CIBA starts are under way; try again shortly"});
    with_retry_after(no_store_json(StatusCode::SERVICE_UNAVAILABLE, body), 1)
}

/// The configured address source gave no client address: a wiring fault of
/// the app, named in the log; the caller gets a 500 and nothing is started.
fn client_address_unknown(source: &ClientAddress) -> Response {
    tracing::error!(
        source = ?source,
        "the public CIBA start route has no client address: serve the app with \
         into_make_service_with_connect_info::<SocketAddr>(), or name the header your proxy sets \
         with PublicCibaStart::client_address(ClientAddress::TrustedProxyHeader(..))"
    );
    let body = serde_json::json!({"error": "client_address_unknown", "message": "the service is misconfigured"});
    no_store_json(StatusCode::INTERNAL_SERVER_ERROR, body)
}

fn rate_limited(wait: Duration) -> Response {
    let body = serde_json::json!({"error": "rate_limited", "message": "too many CIBA starts; try again later"});
    with_retry_after(no_store_json(StatusCode::TOO_MANY_REQUESTS, body), wait.as_secs().max(1))
}

/// `Retry-After` in whole seconds, on one of the start route's refusals.
fn with_retry_after(mut response: Response, secs: u64) -> Response {
    response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
    response
}

pub(crate) async fn status(
    State(routes): State<CibaRoutes>,
    MaybeSession(session): MaybeSession,
    headers: HeaderMap,
    Path(handle): Path<String>,
) -> Response {
    let result = async {
        let ciba = ciba_of(&routes)?;
        let handle = CibaHandle::parse(&handle).ok_or(CibaError::UnknownHandle)?;
        let status = ciba.status(&handle).await?;
        let released = login_if_owner(&routes, &ciba, session.as_ref(), &headers, &handle, &status).await?;
        Ok::<_, CibaError>((status, released))
    }
    .await;
    match result {
        Ok((status, OwnerLogin::Done(released))) => {
            with_cookies(no_store_json(StatusCode::OK, PublicStatus::from(&status)), released)
        }
        Ok((_, OwnerLogin::Refused(refused, released))) => {
            with_cookies(routes.error_pages.render(&refused, &headers), released)
        }
        Err(err) => err.into_response(),
    }
}

/// What a status read did about logging its session in.
enum OwnerLogin {
    /// Nothing to do, or logged in: the `Set-Cookie` values to send.
    Done(Vec<axum::http::HeaderValue>),
    /// The app's login hook refused the approved login (`login_refused`,
    /// for the app's error handler): nothing was written, the ownership is
    /// spent, and its cookie goes.
    Refused(crate::error::Error, Vec<axum::http::HeaderValue>),
}

pub(crate) async fn events(State(routes): State<CibaRoutes>, Path(handle): Path<String>) -> Response {
    let ciba = match ciba_of(&routes) {
        Ok(ciba) => ciba,
        Err(err) => return err.into_response(),
    };
    let Some(handle) = CibaHandle::parse(&handle) else { return CibaError::UnknownHandle.into_response() };
    Sse::new(status_stream(ciba, handle)).keep_alive(KeepAlive::default()).into_response()
}

/// One `status` event per poll, ending after the outcome. It never logs a
/// session in (see the module docs).
fn status_stream(ciba: Ciba, handle: CibaHandle) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(Some((ciba, handle)), |state| async move {
        let (ciba, handle) = state?;
        let (event, done, wait) = match ciba.status(&handle).await {
            Ok(status) => {
                let wait = match &status {
                    CibaStatus::Pending { retry_after_ms, .. } => Some(*retry_after_ms),
                    _ => None,
                };
                (Event::default().event("status").json_data(PublicStatus::from(&status)).ok()?, wait.is_none(), wait)
            }
            Err(CibaError::ProviderUnavailable(_)) => {
                let pending = PublicStatus::Pending { retry_after_ms: 1000, binding_message: None };
                (Event::default().event("status").json_data(pending).ok()?, false, Some(1000))
            }
            Err(err) => {
                let body = serde_json::json!({"status": "failed", "error": err.kind()});
                (Event::default().event("status").json_data(body).ok()?, true, None)
            }
        };
        if let Some(ms) = wait {
            tokio::time::sleep(Duration::from_millis(ms.clamp(200, 30_000))).await;
        }
        let next = (!done).then_some((ciba, handle));
        Some((Ok(event), next))
    })
}

/// Binds a reserved request to this browser (see [`owner`]), so that its
/// approval logs this browser in. If that cannot be recorded, the request
/// is forgotten (BIB was not asked yet) and the start fails: an approval
/// that logs nobody in would leave the user waiting at a screen that never
/// moves on.
async fn claim(
    owners: &Owners,
    ciba: &Ciba,
    headers: &HeaderMap,
    reserved: &Reserved,
) -> Result<Vec<axum::http::HeaderValue>, CibaError> {
    let lifetime = i64::try_from(reserved.lifetime_secs).unwrap_or(i64::MAX).max(1);
    match owner::claim(owners, headers, reserved.handle.as_str(), lifetime).await {
        Ok(cookies) => Ok(cookies),
        Err(err) => {
            if let Err(cancel) = ciba.cancel(&reserved.handle).await {
                tracing::warn!(error = %cancel, "could not forget a CIBA request whose owner was not recorded");
            }
            tracing::error!(error = %err, "could not record which browser started a CIBA request; forgot it");
            Err(CibaError::Store(Cause::from_error(err)))
        }
    }
}

/// Logs the session in once, if this browser started the request (see
/// [`owner`]) and it was approved and the app's login hook allows it;
/// answers the `Set-Cookie` that removes the request's owner cookie once it
/// has (or once the hook refused).
///
/// Through the same path as the code flow's callback
/// ([`complete::establish`]), with the same rule: a login whose session
/// write failed has failed, so the status read answers the store error
/// (`store_error`) instead of `approved`, and the ownership stays, so the
/// page's next read logs the session in once the store is back. Only one
/// read at a time logs in with an ownership (see [`owner::take_login_turn`]);
/// the session is saved before answering, so a failed save gives the turn back.
async fn login_if_owner(
    routes: &CibaRoutes,
    ciba: &Ciba,
    session: Option<&Session>,
    headers: &HeaderMap,
    handle: &CibaHandle,
    status: &CibaStatus,
) -> Result<OwnerLogin, CibaError> {
    let owners = &routes.owners;
    let nothing = || Ok(OwnerLogin::Done(Vec::new()));
    let (Some(session), CibaStatus::Approved { .. }) = (session, status) else { return nothing() };
    // Only requests the start route bound to this browser, which it does
    // only when the policy opted in.
    if !owner::owns(owners, headers, handle.as_str()).await.map_err(session_failed)? {
        return nothing();
    }
    let Some(login) = ciba.approved_login(handle).await? else { return nothing() };
    let Some(turn) = owner::take_login_turn(owners, headers, handle.as_str()).await.map_err(session_failed)? else {
        // Another read of this browser is logging it in with this approval.
        return nothing();
    };
    // The app's word before anything is written; a refusal keeps the turn,
    // so this approval logs no read of this browser in.
    let data = match ask_hook(routes, headers, handle, &login).await {
        Ok(data) => data,
        Err(refused) => return Ok(refused),
    };
    let user = match establish_and_save(session, login, handle, data).await {
        Ok(user) => user,
        Err(err) => {
            turn.give_back(owners).await;
            return Err(session_failed(err));
        }
    };
    events::emit(
        routes.events.as_ref(),
        LoginEvent::LoginSucceeded { flow: LoginFlow::Ciba, loa: user.loa, sub: user.sub.clone() },
    );
    // The browser is logged in now: its other requests end, so a late
    // approval of one of them cannot replace this login. A failure here is
    // logged, not the login's (it stands, saved).
    let mut cookies = owner::end_all(owners, headers, None, Some(handle.as_str())).await.unwrap_or_else(|err| {
        tracing::warn!(error = %err, "could not end this browser's other CIBA requests after a CIBA login");
        Vec::new()
    });
    cookies.extend(owner::release(owners, headers, handle.as_str()));
    Ok(OwnerLogin::Done(cookies))
}

/// The app's login hook on an approved CIBA login (see
/// [`crate::login_hook`]): the data to keep with it, or the refusal to
/// answer — reported as a login event, with the `Set-Cookie` that ends this
/// browser's ownership of `handle`.
async fn ask_hook(
    routes: &CibaRoutes,
    headers: &HeaderMap,
    handle: &CibaHandle,
    login: &complete::VerifiedLogin,
) -> Result<Option<serde_json::Value>, OwnerLogin> {
    let context = login.hook_context(LoginFlow::Ciba, Vec::new());
    login_hook::decide(routes.on_login.as_ref(), context).await.map_err(|refused| {
        let failed = LoginEvent::LoginFailed { flow: Some(LoginFlow::Ciba), kind: refused.kind() };
        events::emit(routes.events.as_ref(), failed);
        OwnerLogin::Refused(refused, owner::release(&routes.owners, headers, handle.as_str()).into_iter().collect())
    })
}

/// The login, saved here rather than by the session layer afterwards, so
/// that a failed save is known while the login turn can still be given back.
async fn establish_and_save(
    session: &Session,
    login: complete::VerifiedLogin,
    handle: &CibaHandle,
    data: Option<serde_json::Value>,
) -> Result<crate::AuthenticatedUser, crate::error::Error> {
    let user = complete::establish(session, login, complete::Via::Ciba { handle: handle.as_str() }, data).await?;
    session.save().await.map_err(|err| crate::error::Error::Session(Cause::from_error(err)))?;
    Ok(user)
}

fn session_failed(err: crate::error::Error) -> CibaError {
    tracing::error!(error = %err, "could not log the session in after CIBA approval");
    CibaError::Store(Cause::from_error(err))
}
