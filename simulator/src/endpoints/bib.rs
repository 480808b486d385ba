//! What every BIB ("aletheia") endpoint shares: its discovery document, its
//! two JWKS, and the access check of all other endpoints — a Bearer
//! client-credentials token issued by BankID OIDC, never client
//! authentication (BankID's CIBA example sends exactly that to the
//! Permission API, `user-exists`, the grant, `bc-authorize` and the token
//! endpoint).

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Json;
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};

use super::wire::{
    BACKCHANNEL_PATH, CIBA_GRANT_TYPE, GRANT_JWKS_PATH, JWKS_PATH, OAuthError, PERMISSIONS_PATH, Params, TOKEN_PATH,
    authorization, respond_slowly,
};
use crate::capture::Endpoint;
use crate::faults::Fault;
use crate::keys::{self, SigningAlgorithm};
use crate::state::Shared;

/// The scope the Permission API (register, `user-exists`, grant) requires.
pub(super) const PERMISSIONS_CLIENT_SCOPE: &str = "permissions/client";
/// The scope the backchannel request and the CIBA token poll require.
pub(super) const PERMISSIONS_CIBA_SCOPE: &str = "permissions/ciba";
/// BankID's product scope for `text.v1` permissions: registering one needs it.
pub(super) const PERMISSIONS_TEXT_SCOPE: &str = "permissions/text";

/// Form parameters that are client authentication (RFC 6749 §2.3.1,
/// RFC 7523 §2.2): refused at BIB.
const CLIENT_AUTH_PARAMS: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

/// What BIB says to a client that authenticates instead of bringing a token.
const NO_CLIENT_AUTH: &str =
    "BIB endpoints take a Bearer client-credentials token from BankID OIDC, not client authentication";

/// `GET {bib}/.well-known/openid-configuration`.
pub(super) async fn discovery(State(shared): State<Arc<Shared>>) -> axum::response::Response {
    respond_slowly(&shared).await;
    if let Some(outage) = super::wire::discovery_outage(&shared) {
        return outage;
    }
    tracing::debug!("simulator: BIB discovery document requested");
    axum::response::IntoResponse::into_response(Json(document(&shared.bib_issuer, shared.signing_alg())))
}

/// The fields BankID's CIBA example reads, plus what generic OpenID
/// Provider metadata parsers require.
fn document(bib: &str, alg: SigningAlgorithm) -> Value {
    json!({
        "issuer": bib,
        "permissions_endpoint": format!("{bib}{PERMISSIONS_PATH}"),
        "jwks_uri": format!("{bib}{JWKS_PATH}"),
        "jwks_uri_grants": format!("{bib}{GRANT_JWKS_PATH}"),
        "backchannel_authentication_endpoint": format!("{bib}{BACKCHANNEL_PATH}"),
        "token_endpoint": format!("{bib}{TOKEN_PATH}"),
        "id_token_signing_alg_values_supported": [alg.name()],
        "grant_types_supported": [CIBA_GRANT_TYPE],
        "backchannel_token_delivery_modes_supported": ["poll"],
        "backchannel_user_code_parameter_supported": false,
        "scopes_supported": ["openid", PERMISSIONS_CLIENT_SCOPE, PERMISSIONS_CIBA_SCOPE],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
    })
}

/// `GET {bib}/jwks`: the key CIBA ID tokens are signed with.
pub(super) async fn jwks(State(shared): State<Arc<Shared>>) -> Json<JwkSet> {
    shared.request_counts.add(Endpoint::Jwks);
    respond_slowly(&shared).await;
    tracing::debug!("simulator: BIB JWKS requested");
    Json(keys::bib_jwks(shared.publication()))
}

/// `GET {bib}/jwks/grants`: the key grants are signed with.
pub(super) async fn grant_jwks(State(shared): State<Arc<Shared>>) -> Json<JwkSet> {
    shared.request_counts.add(Endpoint::Jwks);
    respond_slowly(&shared).await;
    tracing::debug!("simulator: BIB grant JWKS requested");
    Json(keys::grant_jwks(shared.publication()))
}

/// The access check of a BIB endpoint, in this order: no client
/// authentication (`400 invalid_request`), a live Bearer token issued to
/// this client by BankID OIDC (`401 invalid_token`), with `scope`
/// (`403 insufficient_scope`). `form` is the request's form body, if it has
/// one.
pub(super) fn check_access(
    shared: &Shared,
    headers: &HeaderMap,
    form: Option<&Params>,
    scope: &'static str,
) -> Result<(), OAuthError> {
    if authorization(headers, "Basic").is_some() {
        return Err(OAuthError::invalid_request(format!("{NO_CLIENT_AUTH} (a Basic Authorization header was sent)")));
    }
    if let Some(name) = form.and_then(|form| CLIENT_AUTH_PARAMS.iter().find(|name| form.values.contains_key(**name))) {
        return Err(OAuthError::invalid_request(format!("{NO_CLIENT_AUTH} ({name} was sent)")));
    }
    let Some(token) = authorization(headers, "Bearer") else {
        return Err(OAuthError::InvalidToken(
            "a Bearer client-credentials token from BankID OIDC is required in the Authorization header",
        ));
    };
    if shared.lock().faults.has(&Fault::BearerRefused) {
        return Err(OAuthError::InvalidToken("the access token is unknown or expired"));
    }
    let grant = shared.lock().client_tokens.get_mut(token).cloned();
    let Some(grant) = grant.filter(|grant| grant.client_id == shared.client_id) else {
        tracing::debug!("simulator: BIB call with an unknown or expired token");
        return Err(OAuthError::InvalidToken("the access token is unknown or expired"));
    };
    if !grant.scopes.contains(scope) {
        return Err(OAuthError::InsufficientScope(match scope {
            PERMISSIONS_CIBA_SCOPE => "the access token lacks the permissions/ciba scope",
            PERMISSIONS_TEXT_SCOPE => "the access token lacks the permissions/text scope (text.v1)",
            _ => "the access token lacks the permissions/client scope",
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bib_discovery_names_bankids_fields() {
        let doc = document("http://127.0.0.1:2", SigningAlgorithm::Es256);
        assert_eq!(doc["issuer"], "http://127.0.0.1:2");
        assert_eq!(doc["permissions_endpoint"], "http://127.0.0.1:2/permissions/");
        assert_eq!(doc["jwks_uri"], "http://127.0.0.1:2/jwks");
        assert_eq!(doc["jwks_uri_grants"], "http://127.0.0.1:2/jwks/grants");
        assert_eq!(doc["backchannel_authentication_endpoint"], "http://127.0.0.1:2/bc-authorize");
        assert_eq!(doc["token_endpoint"], "http://127.0.0.1:2/token");
        assert_eq!(doc["grant_types_supported"], json!(["urn:openid:params:grant-type:ciba"]));
    }
}
