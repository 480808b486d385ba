//! The signature algorithms a provider's tokens may use: what its discovery
//! document (`id_token_signing_alg_values_supported`) names, kept current
//! with the whole document ([`super::discovered`]).
//!
//! A verifier holds a [`SigningAlgs`] that reads the same
//! [`Discovered`] document the rest of the crate reads, so the algorithms
//! and the endpoints always come from one accepted document. The list is
//! refreshed on the login/callback path that verifies a token, never on a
//! request that only reads a session; an asymmetric algorithm the document
//! does not name forces one refetch per cooldown.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use jsonwebtoken::Algorithm;

use super::discovered::{Discovered, NamesSigningAlgs};

/// A discovered document, seen only for its algorithms.
trait AlgorithmSource: Send + Sync {
    fn allows(&self, alg: Algorithm) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;
}

impl<T: NamesSigningAlgs + Send + Sync> AlgorithmSource for Discovered<T> {
    fn allows(&self, alg: Algorithm) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(Discovered::allows(self, alg))
    }
}

/// The algorithms tokens of one provider may be signed with.
pub(crate) struct SigningAlgs {
    source: Arc<dyn AlgorithmSource>,
}

impl SigningAlgs {
    /// A list that never changes (a degraded start's stand-in, unit tests).
    pub(crate) fn fixed(algs: Vec<Algorithm>) -> SigningAlgs {
        SigningAlgs { source: Arc::new(Discovered::fixed(algs)) }
    }

    /// The algorithms `document` names, as it is refreshed.
    pub(crate) fn of<T>(document: Arc<Discovered<T>>) -> SigningAlgs
    where
        T: NamesSigningAlgs + Send + Sync + 'static,
    {
        SigningAlgs { source: document }
    }

    /// Whether a token signed with `alg` may be verified (see
    /// [`Discovered::allows`]).
    pub(crate) async fn allow(&self, alg: Algorithm) -> bool {
        self.source.allows(alg).await
    }
}
