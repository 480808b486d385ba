//! A provider's discovery document, kept current.
//!
//! BankID OIDC's and BIB's metadata — every endpoint, the signing
//! algorithms, the back-channel capabilities — is read at start-up and then
//! refreshed on the key cache's schedule ([`super::max_age`]): reused within
//! the discovery response's `Cache-Control: max-age`, clamped by
//! [`jwks_max_age_floor`](crate::BankIdConfigBuilder::jwks_max_age_floor) and
//! [`jwks_max_age_ceiling`](crate::BankIdConfigBuilder::jwks_max_age_ceiling),
//! and refetched, one fetch at a time, when older. A provider that moves an
//! endpoint, its JWKS or its signing algorithm (RS256 to ES256) is followed
//! without a restart.
//!
//! - **Readers never wait on the network**: [`Discovered::now`] hands out
//!   an `Arc` snapshot of the last accepted document (a session read, a
//!   route decision, logout's redirect). Only the flows that talk to the
//!   provider anyway (a login's start and callback, client-credentials
//!   tokens, CIBA, the Permission API, token verification) call
//!   [`Discovered::fresh`], which refetches a document past its max age.
//! - **Validated as at start-up**: a refreshed document passes the same
//!   checks (the issuer equals the configured one, required endpoints are
//!   present, HTTPS unless on loopback, at least one asymmetric algorithm;
//!   for BankID OIDC the configuration's PAR needs), or the refresh counts
//!   as failed. A document naming another issuer is refused and logged.
//! - **Served stale on failure**: unlike the keys, a failed or refused
//!   refresh keeps the last accepted document in use (logged at `warn`, and
//!   retried at most once per
//!   [`jwks_refresh_cooldown`](crate::BankIdConfigBuilder::jwks_refresh_cooldown)),
//!   so an outage of discovery never breaks logins the cached document
//!   serves; the keys, which fail closed, still decide what verifies.
//! - **Unknown algorithm**: a token signed with an asymmetric algorithm the
//!   document does not name forces one refetch per cooldown
//!   ([`Discovered::allows`]), so a flood of such tokens cannot hammer
//!   discovery.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use jsonwebtoken::Algorithm;

use super::bib::BibMetadata;
use super::max_age::{Fetched, MaxAgeCache, MaxAgePolicy};
use super::metadata::is_asymmetric;

/// A document that names the algorithms its provider signs tokens with.
pub(crate) trait NamesSigningAlgs {
    fn signing_algs(&self) -> &[Algorithm];
}

impl NamesSigningAlgs for Vec<Algorithm> {
    fn signing_algs(&self) -> &[Algorithm] {
        self
    }
}

impl NamesSigningAlgs for BibMetadata {
    fn signing_algs(&self) -> &[Algorithm] {
        &self.signing_algs
    }
}

/// Fetches and validates the document once more (the start-up checks).
pub(crate) type FetchDoc<T> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Fetched<T>> + Send>> + Send + Sync>;

/// How a document refreshes: the key cache's max-age bounds and cooldown.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefreshSettings {
    pub(crate) max_age: MaxAgePolicy,
    pub(crate) cooldown: Duration,
}

/// One provider's discovery document; see the module docs.
pub(crate) struct Discovered<T> {
    /// `None` for a document that never changes (a degraded start's
    /// stand-in, unit tests).
    fetch: Option<FetchDoc<T>>,
    doc: MaxAgeCache<T>,
}

impl<T> Discovered<T> {
    /// A document that never changes.
    pub(crate) fn fixed(doc: T) -> Self {
        let forever = MaxAgePolicy { floor: Duration::MAX, ceiling: Duration::MAX };
        Discovered { fetch: None, doc: MaxAgeCache::new(forever, Duration::MAX, doc, &HeaderMap::new()) }
    }

    /// The document accepted at start-up (`headers` are its response's),
    /// refreshed with `fetch`.
    pub(crate) fn new(fetch: FetchDoc<T>, settings: RefreshSettings, doc: T, headers: &HeaderMap) -> Self {
        let doc = MaxAgeCache::new(settings.max_age, settings.cooldown, doc, headers);
        Discovered { fetch: Some(fetch), doc }
    }

    /// The last accepted document, without touching the network.
    pub(crate) fn now(&self) -> Arc<T> {
        Arc::clone(self.doc.latest().value())
    }

    /// The document within its max age: refetched (one fetch shared by
    /// concurrent callers) when older, the last accepted one if that fails
    /// or is refused.
    pub(crate) async fn fresh(&self) -> Arc<T> {
        let Some(fetch) = &self.fetch else { return self.now() };
        match self.doc.get(fetch).await {
            Ok(doc) => Arc::clone(doc.value()),
            Err(_) => self.now(),
        }
    }
}

impl<T: NamesSigningAlgs> Discovered<T> {
    /// Whether a token signed with `alg` may be verified: the document
    /// within its max age names it, or — for an asymmetric `alg` it does
    /// not name — a forced refetch (one per cooldown) does.
    pub(crate) async fn allows(&self, alg: Algorithm) -> bool {
        let seen = match &self.fetch {
            Some(fetch) => self.doc.get(fetch).await.unwrap_or_else(|_| self.doc.latest()),
            None => self.doc.latest(),
        };
        if seen.value().signing_algs().contains(&alg) {
            return true;
        }
        let Some(fetch) = self.fetch.as_ref().filter(|_| is_asymmetric(alg)) else { return false };
        // `alg` is a parsed enum, bounded whatever the token said.
        tracing::info!(alg = ?alg, "token signed with an algorithm the provider's metadata does not name; refreshing discovery");
        match self.doc.refetch(&seen, fetch).await {
            Ok(Some(newer)) => newer.value().signing_algs().contains(&alg),
            Ok(None) => {
                tracing::debug!(alg = ?alg, "unknown token algorithm; discovery refresh is cooling down");
                false
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::error::Cause;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const STALE: RefreshSettings = RefreshSettings {
        max_age: MaxAgePolicy { floor: Duration::ZERO, ceiling: Duration::ZERO },
        cooldown: Duration::from_secs(3600),
    };

    fn failing(count: Arc<AtomicUsize>) -> FetchDoc<Vec<Algorithm>> {
        Box::new(move || {
            count.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Err(Cause::new("issuer changed")) })
        })
    }

    #[tokio::test]
    async fn a_failed_refresh_serves_the_last_accepted_document_and_waits_for_the_cooldown() {
        let fetches = Arc::new(AtomicUsize::new(0));
        let doc = Discovered::new(failing(Arc::clone(&fetches)), STALE, vec![Algorithm::RS256], &HeaderMap::new());
        assert_eq!(*doc.fresh().await, [Algorithm::RS256]);
        assert_eq!(*doc.fresh().await, [Algorithm::RS256]);
        assert!(doc.allows(Algorithm::RS256).await, "stale but served");
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "one attempt per cooldown");
    }

    #[tokio::test]
    async fn an_unknown_algorithm_refetches_once_per_cooldown() {
        let fetches = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&fetches);
        let fetch: FetchDoc<Vec<Algorithm>> = Box::new(move || {
            count.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok((vec![Algorithm::ES256], HeaderMap::new())) })
        });
        let fresh_for_an_hour = RefreshSettings {
            max_age: MaxAgePolicy { floor: Duration::from_secs(3600), ceiling: Duration::from_secs(3600) },
            cooldown: Duration::from_secs(3600),
        };
        let doc = Discovered::new(fetch, fresh_for_an_hour, vec![Algorithm::RS256], &HeaderMap::new());
        assert!(doc.allows(Algorithm::ES256).await, "refetched");
        assert!(!doc.allows(Algorithm::PS256).await, "cooling down");
        assert!(!doc.allows(Algorithm::HS256).await, "never for a symmetric algorithm");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }
}
