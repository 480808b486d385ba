//! `GET <redirect_uri path>`: the provider's answer. Checks it in the order
//! that stops an attacker earliest, exchanges the code, verifies the ID token
//! and the LOA policy, and only then logs the user in.
//!
//! Every failure ends on an error page (never a new login, which could loop)
//! and leaves the session without a login. The pending login is consumed by
//! the first callback that names it, successful or not.

use std::collections::HashMap;

use axum::extract::{RawQuery, Request, State};
use axum::response::Response;
use serde_json::Value;

use super::{redirect, session_of};
use crate::claims::AuthenticatedUser;
use crate::error::{Error, TokenEndpointError, sanitize};
use crate::id_token::unix_now;
use crate::layer::Ctx;
use crate::loa::Loa;
use crate::provider::token::{ClientCredentials, request_tokens};
use crate::session::{PendingLogin, StoredLogin, store_login, take_pending};

/// The authorization response parameters we look at.
#[derive(Default)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

pub(crate) async fn finish_login(State(ctx): State<Ctx>, RawQuery(query): RawQuery, req: Request) -> Response {
    let result = match parse_params(query.as_deref().unwrap_or_default()) {
        Ok(params) => complete(&ctx, params, req.extensions()).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(return_to) => redirect(&return_to),
        Err(err) => ctx.error_response(&err, req.headers()),
    }
}

/// Parses the query, refusing repeated parameters: which copy a server
/// reads differs between implementations, a classic parameter-pollution trick.
fn parse_params(query: &str) -> Result<CallbackParams, Error> {
    let mut seen: HashMap<String, String> = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if seen.insert(key.into_owned(), value.into_owned()).is_some() {
            return Err(Error::MalformedCallback);
        }
    }
    let mut take = |name: &str| seen.remove(name).filter(|v| !v.is_empty());
    Ok(CallbackParams {
        code: take("code"),
        state: take("state"),
        error: take("error"),
        error_description: take("error_description"),
        iss: take("iss"),
    })
}

#[tracing::instrument(name = "bankid.callback", skip_all, err(Display))]
async fn complete(ctx: &Ctx, params: CallbackParams, extensions: &http::Extensions) -> Result<String, Error> {
    let session = session_of(extensions)?;
    let config = ctx.config();
    let state = params.state.as_deref().ok_or(Error::MissingState)?;
    let pending = take_pending(&session, state).await?.ok_or(Error::UnknownState)?;
    if unix_now() - pending.started_at > config.login_attempt_ttl.as_secs() as i64 {
        return Err(Error::LoginExpired);
    }
    check_response_issuer(ctx, params.iss.as_deref())?;
    if let Some(error) = params.error.as_deref() {
        return Err(provider_error(error, params.error_description.as_deref()));
    }
    let code = params.code.as_deref().ok_or(Error::MissingCode)?;

    let id_token = exchange_code(ctx, code, &pending).await?;
    let verified = ctx.shared.verifier.verify(&id_token, Some(&pending.nonce)).await?;
    let loa = check_loa(verified.claims().get("acr"), config.minimum_loa)?;
    let user = AuthenticatedUser::from_claims(verified.into_claims(), loa);
    tracing::info!(loa = loa.get(), "BankID login verified");
    store_login(&session, StoredLogin { identity: user, id_token, logged_in_at: unix_now() }).await?;
    Ok(pending.return_to)
}

/// RFC 9207: a response naming another issuer is a mix-up attack; a missing
/// `iss` is refused when the provider promised to send it. The comparison is
/// a plain string comparison with the issuer from discovery, as §2.4 asks.
fn check_response_issuer(ctx: &Ctx, iss: Option<&str>) -> Result<(), Error> {
    let metadata = &ctx.shared.metadata;
    match iss {
        Some(iss) if iss == metadata.issuer => Ok(()),
        Some(_) => Err(Error::CallbackIssuerMismatch),
        None if metadata.authorization_response_iss_parameter_supported => Err(Error::MissingCallbackIssuer),
        None => Ok(()),
    }
}

fn provider_error(error: &str, description: Option<&str>) -> Error {
    let description = description.map(sanitize);
    tracing::info!(error = %sanitize(error), description = ?description, "provider returned an error");
    match error {
        "access_denied" => Error::AccessDenied { description },
        other => Error::Provider { error: sanitize(other), description },
    }
}

#[tracing::instrument(name = "bankid.token_exchange", skip_all, err(Display))]
async fn exchange_code(ctx: &Ctx, code: &str, pending: &PendingLogin) -> Result<String, Error> {
    let config = ctx.config();
    let credentials =
        ClientCredentials { client_id: &config.client_id, secret: &config.client_secret, method: config.client_auth };
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", config.redirect_uri.as_str()),
        ("code_verifier", pending.pkce_verifier.as_str()),
    ];
    let tokens = request_tokens(&ctx.shared.http, &ctx.shared.metadata.token_endpoint, &credentials, &params).await?;
    Ok(tokens.id_token.ok_or(TokenEndpointError::MissingIdToken)?)
}

/// The LOA policy: `acr` must parse strictly and reach the minimum.
pub(crate) fn check_loa(acr: Option<&Value>, minimum: Loa) -> Result<Loa, Error> {
    let found = acr.and_then(Value::as_str).and_then(Loa::from_acr);
    match found {
        Some(loa) if loa >= minimum => Ok(loa),
        _ => Err(Error::InsufficientLoa { required: minimum, found }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(matches!(parse_params("state=a&state=b&code=c"), Err(Error::MalformedCallback)));
        let params = parse_params("state=a&code=c&iss=https%3A%2F%2Fop").unwrap();
        assert_eq!(params.iss.as_deref(), Some("https://op"));
    }

    #[test]
    fn loa_policy() {
        assert_eq!(check_loa(Some(&json!("urn:bankid:bis;LOA=3")), Loa::SUBSTANTIAL).unwrap(), Loa::SUBSTANTIAL);
        assert_eq!(check_loa(Some(&json!("urn:bankid:bid;LOA=4")), Loa::SUBSTANTIAL).unwrap(), Loa::HIGH);
        let err = check_loa(Some(&json!("urn:bankid:bis;LOA=2")), Loa::SUBSTANTIAL).unwrap_err();
        assert!(matches!(err, Error::InsufficientLoa { found: Some(Loa::TWO), .. }));
        let err = check_loa(None, Loa::SUBSTANTIAL).unwrap_err();
        assert!(matches!(err, Error::InsufficientLoa { found: None, .. }));
        let err = check_loa(Some(&json!(3)), Loa::LOW).unwrap_err();
        assert!(matches!(err, Error::InsufficientLoa { found: None, .. }));
    }
}
