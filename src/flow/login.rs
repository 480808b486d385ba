//! `GET /auth/bankid/login?return_to=/path`: starts an Authorization Code
//! flow with PKCE S256, `state` and `nonce`.

use axum::extract::{RawQuery, Request, State};
use axum::response::Response;
use openidconnect::{CsrfToken, Nonce, PkceCodeChallenge};
use url::Url;

use super::{redirect, session_of};
use crate::error::Error;
use crate::id_token::unix_now;
use crate::layer::Ctx;
use crate::return_to::sanitize_return_to;
use crate::session::{PendingLogin, push_pending};

pub(crate) async fn start_login(State(ctx): State<Ctx>, RawQuery(query): RawQuery, req: Request) -> Response {
    let return_to = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(key, _)| key == "return_to")
            .map(|(_, value)| value.into_owned())
    });
    match begin(&ctx, return_to.as_deref(), req.extensions()).await {
        Ok(location) => redirect(location.as_str()),
        Err(err) => ctx.error_response(&err, req.headers()),
    }
}

#[tracing::instrument(name = "bankid.login", skip_all, err)]
async fn begin(ctx: &Ctx, return_to: Option<&str>, extensions: &http::Extensions) -> Result<Url, Error> {
    let session = session_of(extensions)?;
    let config = ctx.config();
    let state = CsrfToken::new_random();
    let nonce = Nonce::new_random();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let pending = PendingLogin {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        return_to: sanitize_return_to(return_to),
        started_at: unix_now(),
    };
    push_pending(&session, pending, config.max_pending_logins, config.login_attempt_ttl.as_secs() as i64, unix_now())
        .await?;

    let mut url = ctx.shared.metadata.authorization_endpoint.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &config.client_id)
            .append_pair("redirect_uri", config.redirect_uri.as_str())
            .append_pair("scope", &config.scopes.join(" "))
            .append_pair("state", state.secret())
            .append_pair("nonce", nonce.secret())
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256");
        if let Some(hint) = &config.login_hint {
            query.append_pair("login_hint", hint);
        }
        if let Some(acr) = &config.acr_values {
            query.append_pair("acr_values", acr);
        }
    }
    tracing::debug!("redirecting to the authorization endpoint");
    Ok(url)
}
