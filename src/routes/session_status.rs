//! `GET /auth/bankid/session`: whether this browser is logged in, at which
//! level, and when the login ends — absolutely (`max_login_age`) and if idle
//! ([`idle_timeout`](crate::BankIdConfigBuilder::idle_timeout)) — so a page
//! can warn before an idle logout (WCAG 2.2.1). `POST` to the same path
//! extends the idle deadline ("stay logged in") and answers the same.
//!
//! Reading does not extend: a page polling the status must not keep an
//! idle user logged in. The answer is `no-store` and carries no identity
//! data unless the app opts in (`session_status_identity`). A `POST` from
//! another origin is refused, like logout.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde::Serialize;

use crate::error::Error;
use crate::http::{MaybeSession, no_store_json, same_origin_or_absent};
use crate::live_login::Stored;
use crate::records::activity::Touch;
use crate::state::LayerState;
use crate::user::AuthenticatedUser;

/// The route's body without a login.
#[derive(Serialize)]
struct LoggedOut {
    logged_in: bool,
}

const LOGGED_OUT: LoggedOut = LoggedOut { logged_in: false };

/// The route's body with a login. Times are Unix seconds.
#[derive(Serialize)]
struct LoggedIn {
    logged_in: bool,
    loa: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    /// When the login ends whatever the user does (`max_login_age`).
    expires_at: i64,
    /// When it ends without activity; `null` without an idle timeout.
    idle_expires_at: Option<i64>,
    /// The idle timeout in seconds; `null` without one.
    idle_timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
}

#[tracing::instrument(name = "bankid.session_status", skip_all)]
pub(crate) async fn session_status(
    State(ctx): State<LayerState>,
    method: Method,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
) -> Response {
    let touch = if method == Method::POST { Touch::Extend } else { Touch::Keep };
    if touch == Touch::Extend && !same_origin_or_absent(&headers, ctx.core.config().redirect_uri()) {
        return ctx.error_response(&Error::CrossSiteRequest, &headers);
    }
    let Some(session) = session else { return no_store_json(StatusCode::OK, LOGGED_OUT) };
    match ctx.live_logins().load(&session, touch).await {
        Ok(Stored::Live { user, ends_at, idle_until_ms, .. }) => {
            no_store_json(StatusCode::OK, status_of(&ctx, &user, ends_at, idle_until_ms))
        }
        Ok(Stored::Absent | Stored::Dead) => no_store_json(StatusCode::OK, LOGGED_OUT),
        Err(err) => ctx.error_response(&err, &headers),
    }
}

fn status_of(ctx: &LayerState, user: &AuthenticatedUser, ends_at: i64, idle_until_ms: Option<i64>) -> LoggedIn {
    let settings = &ctx.core.config().session_status;
    LoggedIn {
        logged_in: true,
        loa: user.loa.get(),
        auth_time: user.auth_time,
        expires_at: ends_at,
        idle_expires_at: idle_until_ms.map(|ms| ms / 1000),
        idle_timeout: settings.idle_timeout.map(|t| t.as_secs()),
        sub: settings.shows_identity.then(|| user.sub.clone()),
    }
}
