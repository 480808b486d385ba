//! `POST /auth/bankid/backchannel-logout`: the provider tells us that a
//! user's session ended there (OpenID Connect Back-Channel Logout 1.0).
//!
//! The request is `application/x-www-form-urlencoded` with one
//! `logout_token`, a JWT signed by the provider (§2.5). It is validated as
//! §2.6 asks, each failure a [`LogoutTokenError`]:
//!
//! 1. signature with the provider's published keys, protected header and
//!    `nbf` — the crate's one JWS path, `JwsVerifier::verify` (`jws.rs`);
//! 2. `iss` exactly the provider's issuer; `aud` this client and no one
//!    else, `azp` (if any) this client — the ID token rules;
//! 3. `iat` not in the future and `exp` not past (both with the configured
//!    clock skew). `exp` is **required**: §2.4 of the final 1.0 text lists
//!    it as required, and without it a `jti` would have to be remembered
//!    forever. A token may live at most one day from now, so
//!    its `jti` record is bounded too;
//! 4. `events` an object with the member
//!    `http://schemas.openid.net/event/backchannel-logout` whose value is an
//!    object; no `nonce` (§2.4: so that an ID token can never pass as a
//!    logout token); `sub` and/or `sid`, non-empty strings;
//! 5. `jti` present and never seen before on any instance: a create-once
//!    record in the session store until the token's `exp` (plus skew).
//!
//! Then every login the token names ends on every instance (see
//! `records::logout_markers`) and the answer is `200`. Any rejection answers `400`
//! `{"error":"invalid_request","error_description":...}` with one fixed
//! description, so the response is no oracle for which check failed; the
//! reason is logged (`reason = <kind>`) at `warn`. Both carry
//! `Cache-Control: no-store` (§2.8). The token itself is never logged.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::clock::unix_now;
use crate::events::{self, LoginEvent};
use crate::http::no_store_json;
use crate::id_token::check_audience;
use crate::jws::numeric_date;
use crate::logout_token::LogoutTokenError;
use crate::records::logout_markers::LogoutSubject;
use crate::state::LayerState;

/// The event member a logout token must carry (Back-Channel Logout 1.0 §2.4).
pub(crate) const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The longest a logout token may stay valid from now (`exp - now`), in
/// seconds. Longer-lived tokens are refused, so that no `jti` record has to
/// outlive a day.
pub(crate) const MAX_LIFETIME_SECS: i64 = 86_400;

/// The largest request body read (a logout token is a few hundred bytes;
/// the JWS parser refuses anything above 16 KiB anyway).
const MAX_BODY_BYTES: usize = 32 * 1024;

/// The claims of a logout token that passed every check but replay.
#[derive(Debug)]
struct ValidLogoutToken {
    jti: String,
    exp: i64,
    sub: Option<String>,
    sid: Option<String>,
}

/// The route handler. Anyone can post to it, so each refusal is logged at
/// `debug` with its reason, and `warn` gets a summary at most once a minute
/// (`RelyingParty::backchannel_refusals`): a flood of bad tokens cannot flood the
/// warning log.
pub(crate) async fn receive(State(ctx): State<LayerState>, req: Request) -> Response {
    match handle(&ctx, req).await {
        Ok(()) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response(),
        Err(err) => {
            tracing::debug!(reason = %err.kind(), detail = %err, "back-channel logout refused");
            ctx.core.backchannel_refusals.refused(err.kind());
            crate::metrics::backchannel_logout(Some(err.kind()));
            rejection()
        }
    }
}

/// `400 invalid_request`, the same for every reason.
fn rejection() -> Response {
    let body = serde_json::json!({
        "error": "invalid_request",
        "error_description": "The logout request is not valid.",
    });
    no_store_json(StatusCode::BAD_REQUEST, body)
}

#[tracing::instrument(name = "bankid.backchannel_logout", skip_all)]
async fn handle(ctx: &LayerState, req: Request) -> Result<(), LogoutTokenError> {
    let token = logout_token_of(req).await?;
    let oidc = ctx.core.oidc();
    let issuer = oidc.metadata.issuer.as_str();
    let claims = ctx.core.verifier.jws.verify(&token).await?;
    let clock_skew = ctx.core.config().clock_skew.as_secs() as i64;
    let valid = check_claims(issuer, &ctx.core.config().client_id, clock_skew, &claims, unix_now())?;
    let registry = ctx.logout_markers();
    let consumed = registry.consume_jti(issuer, &valid.jti, valid.exp.saturating_add(clock_skew)).await;
    match consumed {
        Ok(true) => {}
        Ok(false) => return Err(LogoutTokenError::Replayed),
        Err(_) => return Err(LogoutTokenError::NotRecorded),
    }
    let subject = LogoutSubject { issuer, sub: valid.sub.as_deref(), sid: valid.sid.as_deref() };
    if registry.record_logout(subject).await.is_err() {
        registry.release_jti(issuer, &valid.jti).await;
        return Err(LogoutTokenError::NotRecorded);
    }
    crate::login_cache::LoginCache::end_logins_everywhere(&subject);
    tracing::info!(by_sub = valid.sub.is_some(), by_sid = valid.sid.is_some(), "back-channel logout recorded");
    crate::metrics::backchannel_logout(None);
    events::emit(ctx.events.as_ref(), LoginEvent::BackchannelLogout { sub: valid.sub, sid: valid.sid });
    Ok(())
}

/// The one `logout_token` of a form body (§2.5).
async fn logout_token_of(req: Request) -> Result<String, LogoutTokenError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(LogoutTokenError::MissingToken);
    }
    let body: Body = req.into_body();
    let bytes = to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| LogoutTokenError::MissingToken)?;
    let mut tokens = url::form_urlencoded::parse(&bytes).filter(|(name, _)| name == "logout_token");
    match (tokens.next(), tokens.next()) {
        (Some((_, token)), None) if !token.is_empty() => Ok(token.into_owned()),
        _ => Err(LogoutTokenError::MissingToken),
    }
}

/// The claim checks of Back-Channel Logout 1.0 §2.6 steps 3–7 (the
/// signature, step 2, is already checked).
fn check_claims(
    issuer: &str,
    client_id: &str,
    clock_skew: i64,
    claims: &Map<String, Value>,
    now: i64,
) -> Result<ValidLogoutToken, LogoutTokenError> {
    let iss = claims.get("iss").and_then(Value::as_str).ok_or(LogoutTokenError::MissingClaim("iss"))?;
    if iss != issuer {
        return Err(LogoutTokenError::WrongIssuer);
    }
    check_audience(client_id, claims)?;
    check_times(clock_skew, claims, now)?;
    let jti = non_empty_string(claims, "jti")?.ok_or(LogoutTokenError::MissingClaim("jti"))?;
    check_event(claims)?;
    if claims.contains_key("nonce") {
        return Err(LogoutTokenError::NoncePresent);
    }
    let (sub, sid) = (non_empty_string(claims, "sub")?, non_empty_string(claims, "sid")?);
    if sub.is_none() && sid.is_none() {
        return Err(LogoutTokenError::NoSubject);
    }
    let exp = numeric_date(claims, "exp")?;
    Ok(ValidLogoutToken { jti, exp, sub, sid })
}

/// `iat` not in the future, `exp` required, not past and not too far ahead.
fn check_times(clock_skew: i64, claims: &Map<String, Value>, now: i64) -> Result<(), LogoutTokenError> {
    let iat = numeric_date(claims, "iat")?;
    if iat > now.saturating_add(clock_skew) {
        return Err(LogoutTokenError::IssuedInFuture);
    }
    let exp = numeric_date(claims, "exp")?;
    if now > exp.saturating_add(clock_skew) {
        return Err(LogoutTokenError::Expired);
    }
    if exp.saturating_sub(now) > MAX_LIFETIME_SECS {
        return Err(LogoutTokenError::LifetimeTooLong);
    }
    Ok(())
}

/// `events` holds the back-channel logout member, whose value is an object.
fn check_event(claims: &Map<String, Value>) -> Result<(), LogoutTokenError> {
    let event = claims.get("events").and_then(Value::as_object).and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT));
    match event {
        Some(Value::Object(_)) => Ok(()),
        _ => Err(LogoutTokenError::MissingEvent),
    }
}

/// An optional claim that, when present, must be a non-empty string.
fn non_empty_string(claims: &Map<String, Value>, name: &'static str) -> Result<Option<String>, LogoutTokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(value)) if !value.is_empty() => Ok(Some(value.clone())),
        Some(_) => Err(LogoutTokenError::MissingClaim(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_000_000;

    fn good() -> Value {
        json!({
            "iss": "https://op.example", "aud": "client", "iat": NOW, "exp": NOW + 120, "jti": "j1",
            "sub": "u1", "sid": "s1", "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        })
    }

    fn check(claims: Value) -> Result<ValidLogoutToken, LogoutTokenError> {
        check_claims("https://op.example", "client", 60, claims.as_object().unwrap(), NOW)
    }

    fn with(key: &str, value: Value) -> Value {
        let mut claims = good();
        claims[key] = value;
        claims
    }

    fn without(keys: &[&str]) -> Value {
        let mut claims = good();
        for key in keys {
            claims.as_object_mut().unwrap().remove(*key);
        }
        claims
    }

    #[test]
    fn accepts_a_good_token_by_sub_sid_or_both() {
        let valid = check(good()).unwrap();
        assert_eq!((valid.jti.as_str(), valid.exp), ("j1", NOW + 120));
        assert_eq!((valid.sub.as_deref(), valid.sid.as_deref()), (Some("u1"), Some("s1")));
        assert!(check(without(&["sid"])).unwrap().sid.is_none());
        assert!(check(without(&["sub"])).unwrap().sub.is_none());
    }

    #[test]
    fn each_claim_failure_has_its_reason() {
        let cases = [
            (with("iss", json!("https://evil.example")), "logout_token_wrong_issuer"),
            (without(&["iss"]), "logout_token_missing_claim"),
            (with("aud", json!("other")), "logout_token_wrong_audience"),
            (with("aud", json!(["client", "other"])), "logout_token_wrong_audience"),
            (with("azp", json!("other")), "logout_token_wrong_audience"),
            (with("iat", json!(NOW + 61)), "logout_token_issued_in_future"),
            (without(&["iat"]), "logout_token_missing_claim"),
            (with("exp", json!(NOW - 61)), "logout_token_expired"),
            (without(&["exp"]), "logout_token_missing_claim"),
            (with("exp", json!(NOW + MAX_LIFETIME_SECS + 1)), "logout_token_lifetime_too_long"),
            (without(&["jti"]), "logout_token_missing_claim"),
            (with("jti", json!(7)), "logout_token_missing_claim"),
            (without(&["events"]), "logout_token_missing_event"),
            (with("events", json!({"http://schemas.openid.net/event/other": {}})), "logout_token_missing_event"),
            (with("events", json!({BACKCHANNEL_LOGOUT_EVENT: "yes"})), "logout_token_missing_event"),
            (with("events", json!([BACKCHANNEL_LOGOUT_EVENT])), "logout_token_missing_event"),
            (with("nonce", json!("n")), "logout_token_nonce_present"),
            (without(&["sub", "sid"]), "logout_token_no_subject"),
            (with("sub", json!("")), "logout_token_missing_claim"),
            (with("sid", json!(1)), "logout_token_missing_claim"),
        ];
        for (claims, kind) in cases {
            let err = check(claims.clone()).expect_err(&claims.to_string());
            assert_eq!(err.kind(), kind, "{claims}");
        }
    }

    #[test]
    fn skew_is_allowed_at_both_ends() {
        assert!(check(with("iat", json!(NOW + 60))).is_ok());
        assert!(check(with("exp", json!(NOW - 60))).is_ok());
    }

    #[test]
    fn signature_level_errors_map_to_reasons() {
        use crate::id_token::error::IdTokenError;
        let kind = |e: IdTokenError| LogoutTokenError::from(e).kind();
        assert_eq!(kind(IdTokenError::BadSignature), "logout_token_bad_signature");
        assert_eq!(kind(IdTokenError::UnknownKey), "logout_token_bad_signature");
        assert_eq!(kind(IdTokenError::UnsupportedAlgorithm("none".into())), "logout_token_bad_signature");
        assert_eq!(kind(IdTokenError::Malformed), "logout_token_malformed");
        assert_eq!(kind(IdTokenError::NotYetValid), "logout_token_not_yet_valid");
        assert_eq!(kind(IdTokenError::KeysUnavailable), "logout_token_keys_unavailable");
        let untrusted = IdTokenError::UntrustedKey(crate::key_chain::KeyChainError::UntrustedKeyChain);
        assert_eq!(kind(untrusted), "logout_token_untrusted_key");
    }
}
