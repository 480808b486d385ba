//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0).
//!
//! Advertises only what the simulator implements, the way BankID's own
//! document does: code flow, PKCE with S256, ES256 (or RS256) ID tokens, pushed
//! authorization requests with `authorization_details`, client credentials.
//! CIBA and the Permission API are BIB's, in BIB's own discovery document.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use super::wire::{
    AUTHORIZE_PATH, JWKS_PATH, LOGOUT_PATH, PAR_PATH, TOKEN_PATH, USERINFO_PATH, discovery_outage, respond_slowly,
};
use crate::keys::SigningAlgorithm;
use crate::state::Shared;

/// The permission types discovery names; requests may use any type.
const AUTHORIZATION_DETAILS_TYPES: [&str; 3] = ["payment.v1", "card.v1", "account.v1"];

pub(super) async fn handle(State(shared): State<Arc<Shared>>) -> Response {
    respond_slowly(&shared).await;
    if let Some(outage) = discovery_outage(&shared) {
        return outage;
    }
    tracing::debug!("simulator: discovery document requested");
    let mut document = document(&shared.issuer, shared.advertise_par, shared.signing_alg());
    if shared.backchannel_logout {
        // OpenID Connect Back-Channel Logout 1.0 §2.1.
        document["backchannel_logout_supported"] = json!(true);
        document["backchannel_logout_session_supported"] = json!(true);
    }
    shared.apply_discovery_overrides(crate::Issuer::Oidc, &mut document);
    Json(document).into_response()
}

fn document(issuer: &str, advertise_par: bool, alg: SigningAlgorithm) -> Value {
    let mut document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
        "userinfo_endpoint": format!("{issuer}{USERINFO_PATH}"),
        "jwks_uri": format!("{issuer}{JWKS_PATH}"),
        "end_session_endpoint": format!("{issuer}{LOGOUT_PATH}"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [alg.name()],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "nnin_altsub"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
            "name", "given_name", "family_name", "birthdate", "bankid_altsub", "nnin_altsub"
        ],
        "acr_values_supported": ["urn:bankid:bis", "urn:bankid:bid"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "require_pushed_authorization_requests": false,
        "authorization_details_types_supported": AUTHORIZATION_DETAILS_TYPES,
    });
    if advertise_par {
        document["pushed_authorization_request_endpoint"] = json!(format!("{issuer}{PAR_PATH}"));
    }
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_hang_off_the_issuer() {
        let doc = document("http://127.0.0.1:1", true, SigningAlgorithm::Es256);
        assert_eq!(doc["issuer"], "http://127.0.0.1:1");
        assert_eq!(doc["jwks_uri"], "http://127.0.0.1:1/jwks");
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(doc["pushed_authorization_request_endpoint"], "http://127.0.0.1:1/par");
        assert!(doc.get("backchannel_authentication_endpoint").is_none(), "CIBA is BIB's");
    }

    #[test]
    fn par_endpoint_can_be_left_out() {
        let doc = document("http://127.0.0.1:1", false, SigningAlgorithm::Es256);
        assert!(doc.get("pushed_authorization_request_endpoint").is_none());
        assert_eq!(doc["require_pushed_authorization_requests"], false);
    }
}
