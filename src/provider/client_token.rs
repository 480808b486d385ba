//! Client-credentials access tokens from BankID OIDC, for every call to BIB.
//!
//! Every BIB endpoint — the Permission API, `user-exists`, grants, and CIBA's
//! backchannel request and token poll — takes `Authorization: Bearer <token>`
//! where the token comes from BankID OIDC's token endpoint with
//! `grant_type=client_credentials` and the client's own authentication
//! (BankID's CIBA example: `OidcService.AcquireTokenAsync`). Tokens are cached
//! per scope set until shortly before they expire, and fetching is
//! single-flight per scope set: a burst of CIBA starts makes one token
//! request, the rest wait for it.
//!
//! The per-scope async mutex is held across that request on purpose. The
//! wait is bounded: the request goes through the layer's one HTTP client,
//! whose [`http_timeout`](crate::BankIdConfigBuilder::http_timeout) covers
//! connecting and reading the answer, and an error drops the guard like a
//! success does. Each waiter then tries once itself: while the token
//! endpoint stalls, callers take turns, and the k-th caller in the queue
//! waits up to k timeouts — bounded, never stuck
//! (tests/it/outages.rs, `slow_token_endpoint_times_out_typed_and_releases_everything`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::Client;
use url::Url;

use super::token::{ClientCredentials, request_tokens};
use crate::error::EndpointError;

/// A token is not handed out when it expires within this margin (or within
/// half its lifetime, for short-lived tokens), so a call never starts with a
/// token that dies in flight.
const MARGIN: Duration = Duration::from_secs(30);
/// Upper bound on a provider's `expires_in`: a hostile value must neither
/// overflow `Instant` arithmetic nor pin one token for ever.
const MAX_LIFETIME: Duration = Duration::from_secs(86_400);
/// When the answer has no `expires_in`: RFC 6749 leaves it to the client.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);

/// One cached token. `Debug` never shows it.
#[derive(Clone)]
struct CachedToken {
    value: String,
    usable_until: Instant,
}

impl fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken").field("value", &"<redacted>").finish_non_exhaustive()
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

/// The cache, one slot per scope set.
#[derive(Default)]
pub(crate) struct ClientTokens {
    slots: Mutex<HashMap<String, Slot>>,
}

/// Where and how tokens are fetched.
pub(crate) struct TokenSource<'a> {
    pub(crate) http: &'a Client,
    pub(crate) token_endpoint: &'a Url,
    pub(crate) credentials: ClientCredentials<'a>,
}

impl ClientTokens {
    /// A valid access token for `scope` (space-separated; the order does
    /// not matter), fetched from `source` when none is cached.
    pub(crate) async fn get(&self, scope: &str, source: TokenSource<'_>) -> Result<String, EndpointError> {
        let slot = self.slot(scope);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.usable_until) {
            return Ok(token.value.clone());
        }
        let token = fetch(scope, &source).await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// Forgets `token` if it is still the cached one for `scope` — after a
    /// BIB endpoint answered `401 invalid_token` (revoked or expired early).
    pub(crate) async fn invalidate(&self, scope: &str, token: &str) {
        let slot = self.slot(scope);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == token) {
            *cached = None;
        }
    }

    fn slot(&self, scope: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(scope_key(scope)).or_default().clone()
    }
}

/// Scope sets compare as sets (RFC 6749 §3.3: order does not matter).
fn scope_key(scope: &str) -> String {
    let mut scopes: Vec<&str> = scope.split_whitespace().collect();
    scopes.sort_unstable();
    scopes.dedup();
    scopes.join(" ")
}

#[tracing::instrument(name = "bankid.client_credentials", skip_all, fields(scope), err(Display))]
async fn fetch(scope: &str, source: &TokenSource<'_>) -> Result<CachedToken, EndpointError> {
    let params = [("grant_type", "client_credentials"), ("scope", scope)];
    let call = request_tokens(source.http, source.token_endpoint, &source.credentials, &params);
    let tokens = crate::metrics::timed(crate::metrics::Endpoint::ClientCredentialsToken, call).await?;
    let lifetime = tokens.expires_in.map_or(DEFAULT_LIFETIME, Duration::from_secs).min(MAX_LIFETIME);
    let usable_for = lifetime.saturating_sub(MARGIN.min(lifetime / 2));
    tracing::debug!(lifetime_secs = lifetime.as_secs(), "client-credentials token fetched");
    Ok(CachedToken { value: tokens.access_token, usable_until: Instant::now() + usable_for })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_sets_ignore_order_and_repeats() {
        assert_eq!(
            scope_key("openid permissions/ciba permissions/client"),
            scope_key("permissions/client openid permissions/ciba openid")
        );
        assert_ne!(scope_key("openid permissions/client"), scope_key("openid permissions/client permissions/ciba"));
    }

    #[test]
    fn debug_hides_the_token() {
        let token = CachedToken { value: "secret-token".into(), usable_until: Instant::now() };
        assert!(!format!("{token:?}").contains("secret-token"));
    }
}
