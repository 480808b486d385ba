//! The signature algorithms a provider advertises in discovery
//! (`id_token_signing_alg_values_supported`), kept current.
//!
//! The list is read at start-up and then refreshed like the keys
//! ([`super::max_age`]): reused within the discovery response's
//! `Cache-Control: max-age`, clamped by the key cache's floor and ceiling,
//! and refetched when older — on the login/callback path that verifies a
//! token, never on a request that only reads a session. A token signed with
//! an asymmetric algorithm the list does not name forces one refetch per
//! [`jwks_refresh_cooldown`](crate::BankIdConfigBuilder::jwks_refresh_cooldown),
//! so a provider that moves to another algorithm (RS256 to ES256) is followed
//! without a restart, and a flood of tokens naming an unknown algorithm
//! cannot hammer discovery.
//!
//! Unlike the keys, a failed refresh keeps the last good list in use: the
//! list only narrows which algorithms are tried, the keys (which fail
//! closed) decide what verifies. A refreshed document passes the same checks
//! as at start-up (issuer, endpoints), or the refresh counts as failed.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use reqwest::Client;
use url::Url;

use super::max_age::{Fetched, MaxAgeCache, MaxAgePolicy, Snapshot};
use super::metadata::is_asymmetric;

/// Which provider's discovery document names the algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provider {
    /// BankID OIDC (`metadata::discover`).
    BankIdOidc,
    /// BIB (`bib::discover`).
    Bib,
}

/// Where a refresh comes from; `None` in [`SigningAlgs::fixed`].
struct Source {
    client: Client,
    issuer: Url,
    provider: Provider,
}

/// The algorithms tokens of one provider may be signed with.
pub(crate) struct SigningAlgs {
    source: Option<Source>,
    algs: MaxAgeCache<Vec<Algorithm>>,
}

/// How the list refreshes: the key cache's max-age bounds and cooldown.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefreshSettings {
    pub(crate) max_age: MaxAgePolicy,
    pub(crate) cooldown: Duration,
}

impl SigningAlgs {
    /// A list that never changes (a degraded start's stand-in, unit tests).
    pub(crate) fn fixed(algs: Vec<Algorithm>) -> SigningAlgs {
        let forever = MaxAgePolicy { floor: Duration::MAX, ceiling: Duration::MAX };
        SigningAlgs { source: None, algs: MaxAgeCache::new(forever, Duration::MAX, algs, &Default::default()) }
    }

    /// The list `provider` advertised at discovery, refreshed from `issuer`'s
    /// discovery document; `headers` are the start-up response's.
    pub(crate) fn discovered(
        client: Client,
        issuer: Url,
        provider: Provider,
        settings: RefreshSettings,
        algs: Vec<Algorithm>,
        headers: &http::HeaderMap,
    ) -> SigningAlgs {
        let algs = MaxAgeCache::new(settings.max_age, settings.cooldown, algs, headers);
        SigningAlgs { source: Some(Source { client, issuer, provider }), algs }
    }

    /// Whether a token signed with `alg` may be verified: the list within its
    /// max age (refetched when older; the last good one if that fails), and
    /// for an asymmetric `alg` it does not name, one forced refetch per
    /// cooldown.
    pub(crate) async fn allow(&self, alg: Algorithm) -> bool {
        let Some(source) = &self.source else { return self.algs.latest().value().contains(&alg) };
        let seen = self.algs.get(|| source.fetch()).await.unwrap_or_else(|_| self.algs.latest());
        if seen.value().contains(&alg) {
            return true;
        }
        if !is_asymmetric(alg) {
            return false;
        }
        tracing::info!(alg = ?alg, "token signed with an algorithm the provider's metadata does not name; refreshing discovery");
        self.refetched_allows(&seen, source, alg).await
    }

    async fn refetched_allows(&self, seen: &Snapshot<Vec<Algorithm>>, source: &Source, alg: Algorithm) -> bool {
        match self.algs.refetch(seen, || source.fetch()).await {
            Ok(Some(newer)) => newer.value().contains(&alg),
            Ok(None) => {
                tracing::debug!(alg = ?alg, "unknown token algorithm; discovery refresh is cooling down");
                false
            }
            Err(_) => false,
        }
    }
}

impl Source {
    async fn fetch(&self) -> Fetched<Vec<Algorithm>> {
        match self.provider {
            Provider::BankIdOidc => super::metadata::discover(&self.client, &self.issuer)
                .await
                .map(|(metadata, headers)| (metadata.id_token_signing_algs, headers)),
            Provider::Bib => super::bib::discover(&self.client, &self.issuer)
                .await
                .map(|(metadata, headers)| (metadata.signing_algs, headers)),
        }
    }
}
