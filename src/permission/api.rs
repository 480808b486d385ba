//! Client of the Permission API at BIB (BankID with biometrics): ask whether a
//! user can be reached (`user-exists`), register a permission, and fetch the
//! signed permission ("grant") once the user approved it.
//!
//! Every request and answer has the shape BankID Norway's own CIBA example
//! client uses (`BisOidcService` in `BankIDNorge/oidc-integration-examples`):
//!
//! | call | request | answer |
//! |---|---|---|
//! | user-exists | `POST {permissions_endpoint}user-exists`, `{"loginHint": [{"scheme": "nnin", "value": "<11 digits>"}]}` | `{"exists": bool}` |
//! | register | `POST {permissions_endpoint}`, `{"type", "iat", "exp", "permission", "loa"?, "intents", "loginHint"?, "signals"?}` | `{"id", "permissionToken", "bindingMessage"}` |
//! | grant | `GET {permissions_endpoint}{id}/grant` | the compact JWS as text; non-2xx until ready |
//!
//! All of them carry `Authorization: Bearer <client-credentials token>` from
//! BankID OIDC (scope `openid permissions/client`, plus `permissions/ciba`
//! for CIBA). A grant is verified with BIB's **`jwks_uri_grants`** keys (not
//! its ID-token keys) and BIB's issuer. BankID has not published the grant's
//! claim names; this crate checks what it can and hands the rest to the app
//! (see [`Grant`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::clock::unix_now;
use crate::error::{EndpointError, Error};
use crate::error::{TransportError, TransportErrorKind};
use crate::login_hint::LoginHint;
use crate::metrics::Endpoint;
use crate::permission::error::PermissionError;
use crate::permission::statement::{Permission, PermissionItem, Transport, same_digest};
use crate::provider::http::read_limited;
use crate::provider::token::parse_json_response;
use crate::relying_party::RelyingParty;

/// A [`LoginHint`] as BankID's `loginHint` array item:
/// `{"scheme": "nnin", "value": "<11 digits>"}`.
#[derive(Serialize)]
struct WireLoginHint<'a> {
    scheme: &'static str,
    value: &'a str,
}

impl<'a> From<&'a LoginHint> for WireLoginHint<'a> {
    fn from(hint: &'a LoginHint) -> Self {
        match hint {
            LoginHint::Nnin(value) => WireLoginHint { scheme: "nnin", value },
        }
    }
}

/// Browser signals sent with a registration (BankID's `signals` object; the
/// field names on the wire are BankID's, e.g. `browserUserAgent`). Every
/// field is optional; unset ones are not sent. What BankID does with them
/// is its own risk assessment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
#[allow(missing_docs)]
pub struct ClientSignals {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_java_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_javascript_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_color_depth: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_screen_height: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_screen_width: Option<String>,
    #[serde(rename = "browserTZ", skip_serializing_if = "Option::is_none")]
    pub browser_tz: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_tz_iana: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_user_agent: Option<String>,
    #[serde(rename = "browserWebAuthnSupported", skip_serializing_if = "Option::is_none")]
    pub browser_webauthn_supported: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_platform_authenticator_available: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_max_touch_points: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_webdriver: Option<bool>,
}

/// Where BIB must end an approval: one value of a registration's
/// `acr_values` (BankID, "Forcing step-up at BIB"). BIB always shows the
/// biometrics prompt first.
///
/// | value | wire | meaning |
/// |---|---|---|
/// | [`High`](Self::High) | `urn:bankid:bih` | must end in BankID High (LOA 4), or fail |
/// | [`Biometrics`](Self::Biometrics) | `urn:bankid:bis` | biometrics, falling back to High (BIB's default) |
///
/// Both may be sent. This is the only way to reach BankID-High assurance
/// through CIBA. What `acr` BIB puts in the token after a `High` step-up is
/// not published: this crate expects the bare `urn:bankid:bih` from BIB
/// and counts it as LOA 4 (a named guess: [`crate::docs::pointing_at_bankid`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BibAcr {
    /// `urn:bankid:bih`: the approval must end in BankID High.
    High,
    /// `urn:bankid:bis`: BankID with biometrics, falling back to High.
    Biometrics,
}

impl BibAcr {
    /// The URN sent in `acr_values`.
    pub const fn urn(self) -> &'static str {
        match self {
            BibAcr::High => "urn:bankid:bih",
            BibAcr::Biometrics => "urn:bankid:bis",
        }
    }
}

/// The `acr_values` of a registration: each value once, in the order first
/// asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AcrValues(Vec<BibAcr>);

impl AcrValues {
    pub(crate) fn add(&mut self, acr: BibAcr) {
        if !self.0.contains(&acr) {
            self.0.push(acr);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Only BankID High is acceptable: the login must then reach LOA 4.
    pub(crate) fn only_high(&self) -> bool {
        self.0 == [BibAcr::High]
    }

    fn wire(&self) -> Vec<&'static str> {
        self.0.iter().map(|acr| acr.urn()).collect()
    }
}

/// The optional parts of a registration: who should approve, for which
/// flow (`intents`), at which level, where BIB must end (`acr_values`), and
/// browser signals.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Registration {
    login_hint: Option<LoginHint>,
    intents: Vec<String>,
    loa: Option<String>,
    pub(crate) acr_values: AcrValues,
    signals: Option<ClientSignals>,
}

impl Registration {
    /// An empty registration: no login hint, no intents, no signals.
    pub fn new() -> Self {
        Registration::default()
    }

    /// The user who must approve (`loginHint`). Default: none.
    pub fn login_hint(mut self, hint: LoginHint) -> Self {
        self.login_hint = Some(hint);
        self
    }

    /// Adds an intent, e.g. `"ciba"` (what CIBA registers). Default: none.
    pub fn intent(mut self, intent: impl Into<String>) -> Self {
        self.intents.push(intent.into());
        self
    }

    /// The `loa` field; BankID's example sends `"sub"` (substantial).
    /// Default: not sent.
    pub fn loa(mut self, loa: impl Into<String>) -> Self {
        self.loa = Some(loa.into());
        self
    }

    /// Forces where BIB ends the approval (`acr_values`, a JSON array; see
    /// [`BibAcr`]). Call again to allow both. Default: not sent (BIB's
    /// default, biometrics falling back to High).
    pub fn acr_value(mut self, acr: BibAcr) -> Self {
        self.acr_values.add(acr);
        self
    }

    /// Browser signals. Default: not sent.
    pub fn signals(mut self, signals: ClientSignals) -> Self {
        self.signals = Some(signals);
        self
    }
}

/// The register request body, field for field as BankID's example sends it.
#[derive(Serialize)]
struct RegisterBody<'a> {
    r#type: &'a str,
    iat: i64,
    exp: i64,
    permission: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    loa: Option<&'a str>,
    intents: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    acr_values: Vec<&'static str>,
    #[serde(rename = "loginHint", skip_serializing_if = "Vec::is_empty")]
    login_hint: Vec<WireLoginHint<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signals: Option<&'a ClientSignals>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterAnswer {
    id: String,
    permission_token: String,
    binding_message: String,
}

#[derive(Deserialize)]
struct UserExistsAnswer {
    exists: bool,
}

/// A permission registered at BIB. `Debug` never shows the permission token.
#[derive(Clone)]
pub struct RegisteredPermission {
    /// BankID's id of the registration (its grant is fetched by it).
    pub id: String,
    /// The binding message **made by BankID**: show it to the user, whose
    /// app shows the same.
    pub binding_message: String,
    /// When the registration expires (unix seconds; its `exp`).
    pub expires_at: i64,
    pub(crate) permission_token: String,
    pub(crate) item: PermissionItem,
}

impl fmt::Debug for RegisteredPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredPermission")
            .field("id", &self.id)
            .field("binding_message", &self.binding_message)
            .field("expires_at", &self.expires_at)
            .field("permission_token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl RegisteredPermission {
    /// The statement's digest as this crate computed it (standard base64 of
    /// SHA-256, see [`DigestInput`](crate::permission::DigestInput)).
    pub fn digest(&self) -> &str {
        &self.item.digest
    }
}

/// A signed permission ("grant") from BIB whose signature (with BIB's
/// `jwks_uri_grants` keys), issuer, time limits and binding to this
/// permission were verified.
///
/// What is checked: the signature with BIB's `jwks_uri_grants` keys; `iss` =
/// BIB's issuer; `exp`/`nbf` when present (with the configured clock skew);
/// and, wherever the grant names them, that `permissionId` (or
/// `permission_id`) is this registration's id, that `digest` (or
/// `permission_digest`) equals the statement's digest and that `type` is the
/// permission type. Its `sub` is compared only with another `sub` from BIB
/// (a CIBA ID token): `sub` is unique per issuer only, so a code-flow login's
/// BankID OIDC `sub` is never compared with it.
/// **These claim names are a guess** (BankAxept's published grant uses them;
/// BankID has not published its own): [`claims`](Self::claims) gives the app
/// the whole verified claim set. `Debug` never shows the JWS.
#[derive(Clone, PartialEq)]
pub struct Grant {
    jws: String,
    claims: Map<String, Value>,
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant").field("jws", &"<redacted>").field("sub", &self.subject()).finish_non_exhaustive()
    }
}

impl Grant {
    /// The compact JWS as received, to keep as evidence.
    pub fn jws(&self) -> &str {
        &self.jws
    }

    /// Every verified claim.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The grant's `sub`, if it names one.
    pub fn subject(&self) -> Option<&str> {
        self.claims.get("sub").and_then(Value::as_str)
    }
}

/// What a grant must belong to.
pub(crate) struct GrantExpectation<'a> {
    pub(crate) id: &'a str,
    pub(crate) item: &'a PermissionItem,
    /// A `sub` **issued by BIB** (a CIBA ID token's) that the grant, when it
    /// names one, must name too. Never a BankID OIDC `sub`: those are
    /// another issuer's, not comparable.
    pub(crate) bib_sub: Option<&'a str>,
}

/// A handle on the Permission API; get one from
/// [`BankIdSession::permission_api`](crate::BankIdSession::permission_api).
#[derive(Clone)]
pub struct PermissionApi {
    core: Arc<RelyingParty>,
}

impl fmt::Debug for PermissionApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PermissionApi").finish_non_exhaustive()
    }
}

/// The longest wait between two requests for a grant.
const MAX_GRANT_DELAY: Duration = Duration::from_secs(2);

impl PermissionApi {
    pub(crate) fn new(core: Arc<RelyingParty>) -> Self {
        PermissionApi { core }
    }

    /// Whether `hint` names a user of BankID with biometrics, so that a CIBA
    /// push can reach them. Errors: [`Error::MissingCapability`] without a
    /// BIB issuer, [`Error::PermissionApi`] when the call fails.
    #[tracing::instrument(name = "bankid.permission_api.user_exists", skip_all, err(Display))]
    pub async fn user_exists(&self, hint: &LoginHint) -> Result<bool, Error> {
        self.core.bib()?;
        let scope = self.core.config().permission_api.scope.clone();
        self.user_exists_with_scope(hint, &scope).await.map_err(Error::PermissionApi)
    }

    /// Registers `permission` at BIB (`iat` now, `exp` after the configured
    /// [`registration_lifetime`](crate::permission::PermissionApiConfig::registration_lifetime)).
    #[tracing::instrument(name = "bankid.permission_api.register", skip_all, fields(r#type = P::TYPE), err(Display))]
    pub async fn register<P: Permission>(
        &self,
        permission: &P,
        registration: Registration,
    ) -> Result<RegisteredPermission, Error> {
        self.core.bib()?;
        let item = PermissionItem::new(permission, self.core.config().digest_input)?;
        let scope = self.scope_for(&item.r#type);
        self.register_item(item, &registration, &scope).await.map_err(Error::PermissionApi)
    }

    /// Fetches and verifies the grant of `registered`, asking again (with a
    /// growing wait) while BankID answers non-2xx, up to
    /// [`grant_attempts`](crate::permission::PermissionApiConfig::grant_attempts).
    /// Errors: [`PermissionError::GrantNotReady`] when it never became
    /// ready, [`PermissionError::InvalidSignedPermission`] or
    /// [`PermissionError::DigestMismatch`] when it fails a check.
    #[tracing::instrument(name = "bankid.permission_api.grant", skip_all, err(Display))]
    pub async fn grant(&self, registered: &RegisteredPermission) -> Result<Grant, Error> {
        self.core.bib()?;
        let scope = self.scope_for(&registered.item.r#type);
        let expected = GrantExpectation { id: &registered.id, item: &registered.item, bib_sub: None };
        self.grant_for(&expected, &scope).await
    }

    /// The client-credentials scope of Permission API calls about a
    /// permission of `kind`: the configured scope plus the type's product
    /// scopes (e.g. `permissions/text` for `text.v1`).
    pub(crate) fn scope_for(&self, kind: &str) -> String {
        let api = &self.core.config().permission_api;
        api.scope_for(&api.scope, kind)
    }

    pub(crate) async fn user_exists_with_scope(&self, hint: &LoginHint, scope: &str) -> Result<bool, EndpointError> {
        let url = self.permissions_url("user-exists").await?;
        let body = serde_json::json!({ "loginHint": [WireLoginHint::from(hint)] });
        let answer: UserExistsAnswer =
            self.send_json(Endpoint::PermissionUserExists, scope, |http| http.post(url.clone()).json(&body)).await?;
        Ok(answer.exists)
    }

    pub(crate) async fn register_item(
        &self,
        mut item: PermissionItem,
        registration: &Registration,
        scope: &str,
    ) -> Result<RegisteredPermission, EndpointError> {
        let url = self.permissions_url("").await?;
        let iat = unix_now();
        let exp = iat + self.core.config().permission_api.registration_lifetime.as_secs() as i64;
        let body = RegisterBody {
            r#type: &item.r#type,
            iat,
            exp,
            permission: &item.encoded,
            loa: registration.loa.as_deref(),
            intents: &registration.intents,
            acr_values: registration.acr_values.wire(),
            login_hint: registration.login_hint.iter().map(WireLoginHint::from).collect(),
            signals: registration.signals.as_ref(),
        };
        let answer: RegisterAnswer =
            self.send_json(Endpoint::PermissionRegister, scope, |http| http.post(url.clone()).json(&body)).await?;
        item.transport = Transport::PermissionApi { id: answer.id.clone(), token: answer.permission_token.clone() };
        Ok(RegisteredPermission {
            id: answer.id,
            binding_message: answer.binding_message,
            expires_at: exp,
            permission_token: answer.permission_token,
            item,
        })
    }

    pub(crate) async fn grant_for(&self, expected: &GrantExpectation<'_>, scope: &str) -> Result<Grant, Error> {
        let config = &self.core.config().permission_api;
        let encoded_id: String = url::form_urlencoded::byte_serialize(expected.id.as_bytes()).collect();
        let url = self.permissions_url(&format!("{encoded_id}/grant")).await.map_err(Error::PermissionApi)?;
        let mut delay = config.grant_retry_delay;
        for attempt in 1..=config.grant_attempts {
            if let Some(jws) = self.fetch_grant(&url, scope).await.map_err(Error::PermissionApi)? {
                return self.verify_grant(jws, expected).await;
            }
            tracing::debug!(attempt, "grant not ready yet");
            if attempt < config.grant_attempts {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_GRANT_DELAY);
            }
        }
        Err(PermissionError::GrantNotReady.into())
    }

    /// One request for a grant: `Some(jws)` when BankID has it, `None` for
    /// any other answer (BankID answers non-2xx until it is ready).
    async fn fetch_grant(&self, url: &Url, scope: &str) -> Result<Option<String>, EndpointError> {
        let response = self
            .send(Endpoint::PermissionGrant, scope, |http| http.get(url.clone()).header(reqwest::header::ACCEPT, "*/*"))
            .await?;
        if !response.status().is_success() {
            return Ok(None);
        }
        let body = read_limited(response).await.map_err(|e| EndpointError::Unreachable(e.into()))?;
        let text = String::from_utf8(body).map_err(|_| EndpointError::UnexpectedResponse { status: 200 })?;
        Ok(Some(text.trim().to_owned()))
    }

    async fn verify_grant(&self, jws: String, expected: &GrantExpectation<'_>) -> Result<Grant, Error> {
        let bib = self.core.bib()?;
        let invalid = |why| Error::Permission(PermissionError::InvalidSignedPermission(why));
        let claims = bib.grants.verify(&jws).await.map_err(|e| invalid(e.kind()))?;
        if claims.get("iss").and_then(Value::as_str) != Some(bib.metadata().issuer.as_str()) {
            return Err(invalid("issuer"));
        }
        check_time_limits(&claims, self.core.config().clock_skew.as_secs() as i64).map_err(invalid)?;
        check_binding(&claims, expected)?;
        Ok(Grant { jws, claims })
    }

    /// Sends a request with the client-credentials Bearer token and parses
    /// a JSON answer.
    async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        scope: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<T, EndpointError> {
        let response =
            self.send(endpoint, scope, |http| build(http).header(reqwest::header::ACCEPT, "application/json")).await?;
        Ok(parse_json_response(response).await?.1)
    }

    /// Sends with the Bearer token; a `401` (a token revoked or expired
    /// early) drops the cached token and tries once more with a fresh one.
    pub(crate) async fn send(
        &self,
        endpoint: Endpoint,
        scope: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, EndpointError> {
        bearer_send(&self.core, endpoint, scope, build).await
    }

    /// `{permissions_endpoint}{rest}`: BankID's endpoint ends in `/`, and
    /// sub-resources are appended to it. From BIB's metadata within its max
    /// age (refreshed first when older).
    async fn permissions_url(&self, rest: &str) -> Result<Url, EndpointError> {
        let bib = self.core.bib().map_err(|_| {
            EndpointError::Unreachable(TransportError::new(TransportErrorKind::NotSent, "no BIB issuer is configured"))
        })?;
        bib.fresh_metadata().await.permissions_endpoint.join(rest).map_err(|e| {
            EndpointError::Unreachable(TransportError::not_sent("the permissions endpoint cannot be joined", e))
        })
    }
}

/// A call to BIB with the client-credentials Bearer token for `scope`,
/// retried once with a fresh token after a `401`.
pub(crate) async fn bearer_send(
    core: &RelyingParty,
    endpoint: Endpoint,
    scope: &str,
    build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, EndpointError> {
    let mut retried = false;
    loop {
        let token = core.client_token(scope).await?;
        let response = crate::metrics::timed(endpoint, build(&core.http).bearer_auth(&token).send())
            .await
            .map_err(|e| EndpointError::Unreachable(TransportError::from_reqwest(e)))?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED || retried {
            return Ok(response);
        }
        tracing::info!("BIB refused the access token; fetching a new one");
        core.client_tokens.invalidate(scope, &token).await;
        retried = true;
    }
}

/// `exp` and `nbf`, when present, with the allowed clock skew.
pub(crate) fn check_time_limits(claims: &Map<String, Value>, skew: i64) -> Result<(), &'static str> {
    let now = unix_now();
    let number = |name| claims.get(name).map(|v: &Value| v.as_i64().ok_or("malformed time claim")).transpose();
    if number("exp")?.is_some_and(|exp| exp.saturating_add(skew) < now) {
        return Err("expired");
    }
    if number("nbf")?.is_some_and(|nbf| nbf.saturating_sub(skew) > now) {
        return Err("not yet valid");
    }
    Ok(())
}

/// The grant must be for this permission and user wherever it names them.
pub(crate) fn check_binding(claims: &Map<String, Value>, expected: &GrantExpectation<'_>) -> Result<(), Error> {
    let invalid = |why| Error::Permission(PermissionError::InvalidSignedPermission(why));
    // Every name present must match: checking only the first one found
    // would let a second, contradicting spelling through.
    let named = |names: &'static [&'static str]| names.iter().filter_map(move |name| claims.get(*name));
    if named(&["permissionId", "permission_id"]).any(|id| id.as_str() != Some(expected.id)) {
        return Err(invalid("permission_id"));
    }
    if let Some(kind) = claims.get("type")
        && kind.as_str() != Some(expected.item.r#type.as_str())
    {
        return Err(PermissionError::TypeMismatch.into());
    }
    if named(&["digest", "permission_digest"])
        .any(|d| !d.as_str().is_some_and(|d| same_digest(d, &expected.item.digest)))
    {
        return Err(PermissionError::DigestMismatch.into());
    }
    if let (Some(sub), Some(named_sub)) = (expected.bib_sub, claims.get("sub"))
        && named_sub.as_str() != Some(sub)
    {
        return Err(invalid("sub"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permission::statement::DigestInput;
    use serde_json::json;

    #[test]
    fn register_body_has_bankids_field_names() {
        let signals = ClientSignals {
            browser_user_agent: Some("UA".into()),
            browser_tz: Some("-60".into()),
            browser_webauthn_supported: Some(true),
            ..Default::default()
        };
        let hint = LoginHint::Nnin("01018012345".into());
        let intents = vec!["ciba".to_owned()];
        let body = RegisterBody {
            r#type: "payment.v1",
            iat: 1,
            exp: 601,
            permission: "e30",
            loa: Some("sub"),
            intents: &intents,
            acr_values: AcrValues(vec![BibAcr::High, BibAcr::Biometrics]).wire(),
            login_hint: vec![WireLoginHint::from(&hint)],
            signals: Some(&signals),
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"type": "payment.v1", "iat": 1, "exp": 601, "permission": "e30", "loa": "sub",
                   "intents": ["ciba"], "acr_values": ["urn:bankid:bih", "urn:bankid:bis"],
                   "loginHint": [{"scheme": "nnin", "value": "01018012345"}],
                   "signals": {"browserUserAgent": "UA", "browserTZ": "-60", "browserWebAuthnSupported": true}})
        );
    }

    #[test]
    fn acr_values_are_typed_sent_once_each_and_absent_by_default() {
        let registration = Registration::new().acr_value(BibAcr::High).acr_value(BibAcr::High);
        assert_eq!(registration.acr_values.wire(), ["urn:bankid:bih"]);
        assert!(registration.acr_values.only_high());
        let both = registration.acr_value(BibAcr::Biometrics);
        assert_eq!(both.acr_values.wire(), ["urn:bankid:bih", "urn:bankid:bis"]);
        assert!(!both.acr_values.only_high(), "with biometrics allowed, LOA 3 is a valid end");
        assert!(Registration::new().acr_values.is_empty());
    }

    #[test]
    fn grant_binding() {
        let item = PermissionItem::from_statement("payment.v1", b"{}", DigestInput::StatementBytes);
        let expected = GrantExpectation { id: "p1", item: &item, bib_sub: Some("user-1") };
        let claims = |v: Value| v.as_object().unwrap().clone();
        let ok = claims(json!({"permissionId": "p1", "type": "payment.v1", "digest": item.digest, "sub": "user-1"}));
        assert!(check_binding(&ok, &expected).is_ok());
        assert!(check_binding(&claims(json!({})), &expected).is_ok(), "nothing named, nothing to compare");
        let cases = [
            (json!({"permissionId": "p2"}), "invalid_signed_permission"),
            (json!({"permission_id": 7}), "invalid_signed_permission"),
            (json!({"type": "other.v1"}), "type_mismatch"),
            (json!({"digest": "AAAA"}), "digest_mismatch"),
            (json!({"sub": "user-2"}), "invalid_signed_permission"),
        ];
        for (bad, reason) in cases {
            let Err(Error::Permission(err)) = check_binding(&claims(bad.clone()), &expected) else { panic!("{bad}") };
            assert_eq!(err.kind(), reason, "{bad}");
        }
    }

    #[test]
    fn time_limits() {
        let now = unix_now();
        let claims = |v: Value| v.as_object().unwrap().clone();
        assert!(check_time_limits(&claims(json!({"exp": now + 60, "nbf": now - 1})), 0).is_ok());
        assert_eq!(check_time_limits(&claims(json!({"exp": now - 120})), 60), Err("expired"));
        assert_eq!(check_time_limits(&claims(json!({"nbf": now + 300})), 60), Err("not yet valid"));
        assert_eq!(check_time_limits(&claims(json!({"exp": "soon"})), 60), Err("malformed time claim"));
    }
}
