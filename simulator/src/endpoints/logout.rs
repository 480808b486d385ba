//! `GET`/`POST /logout`: RP-initiated logout (OpenID Connect RP-Initiated
//! Logout 1.0).
//!
//! The simulator keeps no login session (every authorization shows the login
//! page), so logging out only decides where the browser goes next. It only
//! goes back to an origin the client registered a redirect URI on; anything
//! else gets a plain page, so `/logout` cannot serve as an open redirector.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use url::Url;

use crate::pages;
use crate::state::Shared;

/// The parameters the simulator honours; `id_token_hint` is accepted but not
/// needed, as there is no session to pick.
#[derive(Debug, Default, Deserialize)]
pub(super) struct LogoutParams {
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

pub(super) async fn via_query(State(shared): State<Arc<Shared>>, Query(params): Query<LogoutParams>) -> Response {
    end_session(&shared, params)
}

pub(super) async fn via_form(State(shared): State<Arc<Shared>>, Form(params): Form<LogoutParams>) -> Response {
    end_session(&shared, params)
}

fn end_session(shared: &Shared, params: LogoutParams) -> Response {
    let target = params
        .post_logout_redirect_uri
        .as_deref()
        .and_then(|uri| Url::parse(uri).ok())
        .filter(|uri| is_registered_origin(shared, uri));
    let Some(mut target) = target else {
        tracing::debug!("simulator: logged out, no usable post_logout_redirect_uri");
        return pages::logged_out();
    };
    if let Some(state) = params.state.as_deref() {
        target.query_pairs_mut().append_pair("state", state);
    }
    tracing::debug!(origin = %target.origin().ascii_serialization(), "simulator: logged out, redirecting");
    Redirect::to(target.as_str()).into_response()
}

/// Whether `uri` shares scheme, host and port with a registered redirect URI.
fn is_registered_origin(shared: &Shared, uri: &Url) -> bool {
    let origin = uri.origin();
    // Opaque origins (`data:`, `javascript:`, ...) never equal one another.
    origin.is_tuple()
        && shared
            .lock()
            .redirect_uris
            .iter()
            .filter_map(|registered| Url::parse(registered).ok())
            .any(|registered| registered.origin() == origin)
}
