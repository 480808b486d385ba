//! The simulator's HTTP surface: one module per endpoint, wired up here.

mod authorize;
mod authorize_json;
mod bib;
mod ciba;
mod client_auth;
mod discovery;
mod health;
mod jwks;
mod logout;
mod par;
mod permissions;
mod phone;
mod token;
mod token_answer;
mod userinfo;
pub(crate) mod wire;

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::state::Shared;
use wire::{
    AUTHORIZE_PATH, BACKCHANNEL_PATH, DISCOVERY_PATH, GRANT_JWKS_PATH, GRANT_PATH, HEALTH_PATH, JWKS_PATH, LOGOUT_PATH,
    OAuthError, PAR_PATH, PERMISSIONS_PATH, PHONE_DECIDE_PATH, PHONE_PATH, TOKEN_PATH, USER_EXISTS_PATH, USERINFO_PATH,
};

/// Adds the health route (`GET /healthz`) to an issuer's router.
pub(crate) fn with_health(router: Router) -> Router {
    router.route(HEALTH_PATH, get(health::handle))
}

/// The endpoints of BankID OIDC: the browser code flow, client credentials
/// and the simulated phone.
pub(crate) fn oidc_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(DISCOVERY_PATH, get(discovery::handle))
        .route(AUTHORIZE_PATH, get(authorize::show).post(authorize::decide))
        .route(TOKEN_PATH, post(token::handle))
        .route(USERINFO_PATH, get(userinfo::handle).post(userinfo::handle))
        .route(JWKS_PATH, get(jwks::handle))
        .route(LOGOUT_PATH, get(logout::via_query).post(logout::via_form))
        .route(PAR_PATH, post(par::handle))
        .route(PHONE_PATH, get(phone::show))
        .route(PHONE_DECIDE_PATH, post(phone::decide))
        .fallback(oidc_not_found)
        .with_state(shared)
}

/// The endpoints of BIB ("aletheia"): the Permission API and CIBA.
pub(crate) fn bib_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(DISCOVERY_PATH, get(bib::discovery))
        .route(JWKS_PATH, get(bib::jwks))
        .route(GRANT_JWKS_PATH, get(bib::grant_jwks))
        .route(PERMISSIONS_PATH, post(permissions::register))
        .route(USER_EXISTS_PATH, post(permissions::user_exists))
        .route(GRANT_PATH, get(permissions::grant))
        .route(BACKCHANNEL_PATH, post(ciba::initiate))
        .route(TOKEN_PATH, post(ciba::token))
        .fallback(bib_not_found)
        .with_state(shared)
}

/// An unknown path at BankID OIDC. The Permission API and CIBA once lived
/// here in the simulator; say where they are now, so an old client fails
/// loudly and understandably.
async fn oidc_not_found(uri: Uri) -> Response {
    tracing::debug!(path = uri.path(), "simulator: unknown BankID OIDC path");
    let why = format!(
        "BankID OIDC has no endpoint {}; the Permission API, user-exists and CIBA are at the BIB issuer \
         (read its discovery document)",
        uri.path()
    );
    OAuthError::status(StatusCode::NOT_FOUND, "not_found", why).into_response()
}

/// An unknown path at BIB.
async fn bib_not_found(uri: Uri) -> Response {
    tracing::debug!(path = uri.path(), "simulator: unknown BIB path");
    let why = format!("BIB has no endpoint {}; read its discovery document", uri.path());
    OAuthError::status(StatusCode::NOT_FOUND, "not_found", why).into_response()
}
