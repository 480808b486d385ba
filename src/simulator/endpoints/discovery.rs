//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0).
//!
//! Advertises only what the simulator implements, the way BankID's own
//! document does: code flow, PKCE with S256, RS256 ID tokens.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Json;
use serde_json::{Value, json};

use super::{AUTHORIZE_PATH, JWKS_PATH, LOGOUT_PATH, TOKEN_PATH, USERINFO_PATH, respond_slowly};
use crate::simulator::state::Shared;

pub(super) async fn handle(State(shared): State<Arc<Shared>>) -> Json<Value> {
    respond_slowly(&shared).await;
    tracing::debug!("simulator: discovery document requested");
    Json(document(&shared.issuer))
}

fn document(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
        "userinfo_endpoint": format!("{issuer}{USERINFO_PATH}"),
        "jwks_uri": format!("{issuer}{JWKS_PATH}"),
        "end_session_endpoint": format!("{issuer}{LOGOUT_PATH}"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_hang_off_the_issuer() {
        let doc = document("http://127.0.0.1:1");
        assert_eq!(doc["issuer"], "http://127.0.0.1:1");
        assert_eq!(doc["jwks_uri"], "http://127.0.0.1:1/jwks");
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    }
}
