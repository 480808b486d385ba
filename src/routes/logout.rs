//! `POST /auth/bankid/logout`: ends the login here and, when the provider
//! supports it and a `post_logout_redirect_uri` is configured, at the
//! provider (OpenID Connect RP-Initiated Logout 1.0).
//!
//! Without a `post_logout_redirect_uri` the browser goes to `/` and the
//! provider is not visited: RP-Initiated Logout §3 lets a provider keep a
//! browser that brings no (registered) `post_logout_redirect_uri` on its own
//! page, which strands the user outside the app. The provider's session is
//! then left to expire on its own; an app that must end it (a shared
//! computer) registers and configures the URI.
//!
//! POST only, so an `<img src>` or link on another site cannot log users
//! out; a cross-origin `Origin` header is refused as well. Unredeemed
//! permission grants end with the login: their cookies are expired. CIBA
//! requests this browser started are cancelled and their owner cookies
//! expired, so a late approval cannot log it in again.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use url::Url;

use crate::ciba::owner;
use crate::error::Error;
use crate::events::{self, LoginEvent};
use crate::http::{redirect, same_origin_or_absent, session_of, with_cookies};
use crate::records::binding::{self, Kind};
use crate::session::{StoredLogin, end_login};
use crate::state::LayerState;

pub(crate) async fn logout(State(ctx): State<LayerState>, req: Request) -> Response {
    match end(&ctx, req.headers(), req.extensions()).await {
        Ok((location, ciba_cookies)) => {
            let config = ctx.core.config();
            let mut cookies = binding::clear_all(config, req.headers(), Kind::Grant);
            cookies.extend(ciba_cookies);
            cookies.push(binding::clear_landed(config));
            with_cookies(redirect(&location), cookies)
        }
        Err(err) => ctx.error_response(&err, req.headers()),
    }
}

#[tracing::instrument(name = "bankid.logout", skip_all, err(Display))]
/// Ends the login and this browser's CIBA requests; answers where to send
/// the browser and the `Set-Cookie` values expiring the CIBA owner cookies.
async fn end(
    ctx: &LayerState,
    headers: &HeaderMap,
    extensions: &http::Extensions,
) -> Result<(String, Vec<http::HeaderValue>), Error> {
    if !same_origin_or_absent(headers, ctx.core.config().redirect_uri()) {
        return Err(Error::CrossSiteRequest);
    }
    let session = session_of(extensions)?;
    let login = end_login(&session, ctx.core.config().keep_session_data_at_logout).await?;
    let logged_in_by = login.as_ref().and_then(|login| login.ciba_handle.clone());
    let ciba_cookies = owner::end_all(&ctx.ciba_owners(), headers, logged_in_by, None).await?;
    let Some(login) = login else { return Ok(("/".to_owned(), ciba_cookies)) };
    tracing::info!("BankID login ended");
    let sub = login.claim("sub").unwrap_or_default().to_owned();
    events::emit(ctx.events.as_ref(), LoginEvent::LoggedOut { sub });
    // The snapshot: a logout never waits on the provider's discovery.
    let oidc = ctx.core.oidc();
    let post_logout = ctx.core.config().post_logout_redirect_uri.as_ref();
    let location = match (&oidc.metadata.end_session_endpoint, post_logout) {
        (Some(endpoint), Some(back)) if is_bankid_oidc_login(&oidc.metadata.issuer, &login) => {
            end_session_url(ctx, endpoint, &login.id_token, back).into()
        }
        (Some(_), None) => {
            tracing::debug!("no post_logout_redirect_uri: the login ended here only, not at the provider");
            "/".to_owned()
        }
        _ => "/".to_owned(),
    };
    Ok((location, ciba_cookies))
}

/// Whether BankID OIDC issued this login's ID token. Its end-session
/// endpoint knows only its own sessions: a CIBA login (BIB's ID token) has
/// none there, and BIB's token must not travel to another provider.
fn is_bankid_oidc_login(issuer: &str, login: &StoredLogin) -> bool {
    login.claim("iss") == Some(issuer)
}

/// The largest ID token sent as `id_token_hint` in the logout URL. The
/// hint travels in a URL the browser follows, and URLs much beyond 8 KiB
/// are cut or refused by browsers, proxies and servers; above this size the
/// request names the client alone (`client_id`, which RP-Initiated Logout
/// 1.0 §2 allows in place of the hint).
const MAX_ID_TOKEN_HINT_LEN: usize = 4 * 1024;

fn end_session_url(ctx: &LayerState, endpoint: &Url, id_token: &str, post_logout_redirect_uri: &Url) -> Url {
    let config = ctx.core.config();
    let mut url = endpoint.clone();
    {
        let mut query = url.query_pairs_mut();
        if id_token.len() <= MAX_ID_TOKEN_HINT_LEN {
            query.append_pair("id_token_hint", id_token);
        }
        query.append_pair("client_id", &config.client_id);
        query.append_pair("post_logout_redirect_uri", post_logout_redirect_uri.as_str());
    }
    url
}
