//! Client of BankID's Permission API (BankID with biometrics): register a
//! permission before login, fetch the provider-signed permission after it,
//! and ask whether a user can use BankID with biometrics at all
//! (`/user-exists`, the pre-check CIBA needs).
//!
//! Calls are authorised with a client-credentials access token, cached until
//! shortly before it expires. Paths and names come from
//! [`PermissionApiConfig`](crate::PermissionApiConfig).

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use crate::error::{EndpointError, Error};
use crate::id_token::unix_now;
use crate::layer::Ctx;
use crate::permission::{Permission, PermissionError, PermissionItem, Transport, same_digest};
use crate::provider::http::describe;
use crate::provider::token::{parse_json_response, request_tokens};

/// Cached client-credentials tokens, by scope.
#[derive(Default)]
pub(crate) struct ClientTokenCache(tokio::sync::Mutex<HashMap<String, (String, Instant)>>);

/// A handle on the Permission API; get one from [`BankId::permission_api`](crate::BankId::permission_api).
#[derive(Clone)]
pub struct PermissionApi {
    ctx: Ctx,
}

impl fmt::Debug for PermissionApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PermissionApi").finish_non_exhaustive()
    }
}

/// A permission registered with the Permission API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredPermission {
    /// The provider's reference, sent on the authorize request.
    pub id: String,
    /// The digest of the statement, as computed by this crate (and checked
    /// against the provider's answer).
    pub digest: String,
    pub(crate) item: PermissionItem,
}

/// The state of a registered permission at the provider.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SignedPermission {
    /// The user has not decided yet.
    Pending,
    /// The user declined.
    Denied,
    /// Approved; the provider's signature, issuer, audience and digest were verified.
    Approved {
        /// The compact JWS as received, for your records.
        jws: String,
        /// Its verified claims.
        claims: Map<String, Value>,
    },
}

#[derive(Deserialize)]
struct Registered {
    permission_id: String,
    permission_digest: Option<String>,
}

#[derive(Deserialize)]
struct SignedAnswer {
    status: String,
    signed_permission: Option<String>,
}

#[derive(Deserialize)]
struct UserExists {
    exists: bool,
}

/// A token is reused until this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(30);

impl PermissionApi {
    pub(crate) fn new(ctx: Ctx) -> Self {
        PermissionApi { ctx }
    }

    /// Registers `permission`; its id then goes on the authorize request
    /// (see [`PermissionRequest::via_permission_api`](crate::PermissionRequest::via_permission_api)).
    #[tracing::instrument(name = "bankid.permission_api.register", skip_all, fields(r#type = P::TYPE), err(Display))]
    pub async fn register<P: Permission>(&self, permission: &P) -> Result<RegisteredPermission, Error> {
        let mut item = PermissionItem::new(permission, self.ctx.config().digest_input)?;
        let body = serde_json::json!({"type": item.r#type, "permission": item.encoded});
        let url = self.url(&self.ctx.config().permission_api.register_path)?;
        let answer: Registered = self.send(self.ctx.shared.http.post(url).json(&body)).await?;
        if let Some(theirs) = &answer.permission_digest
            && !same_digest(theirs, &item.digest)
        {
            return Err(PermissionError::DigestMismatch.into());
        }
        item.transport = Transport::PermissionApi { id: answer.permission_id.clone() };
        Ok(RegisteredPermission { id: answer.permission_id, digest: item.digest.clone(), item })
    }

    /// Fetches and verifies the provider-signed permission.
    #[tracing::instrument(name = "bankid.permission_api.signed", skip_all, err(Display))]
    pub async fn signed_permission(&self, registered: &RegisteredPermission) -> Result<SignedPermission, Error> {
        self.signed_permission_by_id(&registered.id, &registered.digest, None).await
    }

    /// `expected_sub`: the user who just logged in, when known; the signed
    /// permission must name them.
    pub(crate) async fn signed_permission_by_id(
        &self,
        id: &str,
        digest: &str,
        expected_sub: Option<&str>,
    ) -> Result<SignedPermission, Error> {
        let encoded_id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        let path = self.ctx.config().permission_api.signed_permission_path.replace("{id}", &encoded_id);
        let answer: SignedAnswer = self.send(self.ctx.shared.http.get(self.url(&path)?)).await?;
        match answer.status.as_str() {
            "pending" => Ok(SignedPermission::Pending),
            "denied" => Ok(SignedPermission::Denied),
            "approved" => {
                let jws = answer.signed_permission.ok_or(PermissionError::InvalidSignedPermission("missing"))?;
                let claims = self.verify_signed(&jws, id, digest, expected_sub).await?;
                Ok(SignedPermission::Approved { jws, claims })
            }
            _ => Err(Error::PermissionApi(EndpointError::UnexpectedResponse { status: 200 })),
        }
    }

    /// Whether the user identified by `login_hint` (e.g. a national identity
    /// number) has BankID with biometrics, so a CIBA push can reach them.
    #[tracing::instrument(name = "bankid.permission_api.user_exists", skip_all, err(Display))]
    pub async fn user_exists(&self, login_hint: &str) -> Result<bool, Error> {
        let scope = self.ctx.config().permission_api.scope.clone();
        self.user_exists_with_scope(login_hint, &scope).await
    }

    pub(crate) async fn user_exists_with_scope(&self, login_hint: &str, scope: &str) -> Result<bool, Error> {
        let url = self.url(&self.ctx.config().permission_api.user_exists_path)?;
        let body = serde_json::json!({"login_hint": login_hint});
        let answer: UserExists = self.send_with_scope(self.ctx.shared.http.post(url).json(&body), scope).await?;
        Ok(answer.exists)
    }

    async fn verify_signed(
        &self,
        jws: &str,
        id: &str,
        digest: &str,
        expected_sub: Option<&str>,
    ) -> Result<Map<String, Value>, Error> {
        let invalid = |why| Error::Permission(PermissionError::InvalidSignedPermission(why));
        let claims = self.ctx.shared.verifier.verify_signed_jwt(jws).await.map_err(|_| invalid("signature"))?;
        let shared = &self.ctx.shared;
        if claims.get("iss").and_then(Value::as_str) != Some(shared.metadata.issuer.as_str()) {
            return Err(invalid("issuer"));
        }
        let client_id = shared.config.client_id.as_str();
        let aud_ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == client_id,
            Some(Value::Array(list)) => list.len() == 1 && list[0].as_str() == Some(client_id),
            _ => false,
        };
        if !aud_ok {
            return Err(invalid("audience"));
        }
        match claims.get("permission_digest").and_then(Value::as_str) {
            Some(theirs) if same_digest(theirs, digest) => {}
            _ => return Err(PermissionError::DigestMismatch.into()),
        }
        // Required, so that no other provider-signed JWT (an ID token, say)
        // can stand in for the signed permission.
        if claims.get("permission_id").and_then(Value::as_str) != Some(id) {
            return Err(invalid("permission_id"));
        }
        if let Some(sub) = expected_sub
            && claims.get("sub").and_then(Value::as_str) != Some(sub)
        {
            return Err(invalid("sub"));
        }
        let skew = shared.config.clock_skew.as_secs() as i64;
        if claims.get("exp").and_then(Value::as_i64).is_some_and(|exp| exp.saturating_add(skew) < unix_now()) {
            return Err(invalid("expired"));
        }
        Ok(claims)
    }

    async fn send<T: serde::de::DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, Error> {
        let scope = self.ctx.config().permission_api.scope.clone();
        self.send_with_scope(request, &scope).await
    }

    async fn send_with_scope<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        scope: &str,
    ) -> Result<T, Error> {
        let token = self.access_token(scope).await?;
        let response = request
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| Error::PermissionApi(EndpointError::Unreachable(describe(&e))))?;
        let (_, value) = parse_json_response(response).await.map_err(Error::PermissionApi)?;
        Ok(value)
    }

    /// A client-credentials token for `scope`, from the cache when still valid.
    pub(crate) async fn access_token(&self, scope: &str) -> Result<String, Error> {
        let mut cache = self.ctx.shared.client_tokens.0.lock().await;
        if let Some((token, expires)) = cache.get(scope)
            && Instant::now() + TOKEN_MARGIN < *expires
        {
            return Ok(token.clone());
        }
        let credentials = self.ctx.credentials();
        let params = [("grant_type", "client_credentials"), ("scope", scope)];
        let tokens =
            request_tokens(&self.ctx.shared.http, &self.ctx.shared.metadata.token_endpoint, &credentials, &params)
                .await
                .map_err(Error::PermissionApi)?;
        // Bounded: a hostile `expires_in` must neither overflow nor pin a token forever.
        let lifetime = Duration::from_secs(tokens.expires_in.unwrap_or(60).min(86_400));
        cache.insert(scope.to_owned(), (tokens.access_token.clone(), Instant::now() + lifetime));
        Ok(tokens.access_token)
    }

    fn url(&self, path: &str) -> Result<Url, Error> {
        let config = self.ctx.config();
        let base = config.permission_api.base_url.as_ref().unwrap_or(&config.issuer);
        let mut url = base.clone();
        url.set_path(&format!("{}{}", base.path().trim_end_matches('/'), path));
        Ok(url)
    }
}
