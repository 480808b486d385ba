//! Why a call to a provider, or a store behind it, failed: [`EndpointError`]
//! (the endpoint answered something unusable, or could not be reached),
//! [`TransportError`] and its [`TransportErrorKind`] (why no answer came),
//! and [`Cause`] (a failure in words with its typed source, for discovery,
//! key-set and store failures).
//!
//! They live beside the code that produces them and are re-exported once
//! from [`crate::error`]. None holds a URL, token or secret: messages are
//! written without them, and a `reqwest::Error` source has its URL removed.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// Why a provider endpoint (token, PAR, Permission API) did not give us
/// what we asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The provider answered with an OAuth error (e.g. `invalid_grant` for a
    /// replayed or expired code).
    #[error("the provider refused the request: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Rejected {
        /// The OAuth `error` code.
        error: String,
        /// The provider's `error_description`, sanitised and shortened.
        description: Option<String>,
    },
    /// The provider answered with something that is not a token response.
    #[error("the provider answered with an unexpected response (HTTP {status})")]
    UnexpectedResponse {
        /// The HTTP status.
        status: u16,
    },
    /// The token response had no `id_token`.
    #[error("the token response has no ID token")]
    MissingIdToken,
    /// The endpoint could not be reached or timed out, or the request
    /// could not be sent at all; the [`TransportError`] says which and keeps
    /// the HTTP client's error as its [`source`](StdError::source).
    #[error("the provider could not be reached: {0}")]
    Unreachable(#[source] TransportError),
}

/// What kind of [`TransportError`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The request or the connection timed out.
    Timeout,
    /// The provider's host name did not resolve.
    Dns,
    /// The connection was refused.
    Refused,
    /// The TLS handshake failed (e.g. an untrusted certificate).
    Tls,
    /// The connection failed for another reason.
    Connect,
    /// The provider answered with a redirect, which is never followed.
    Redirect,
    /// The response body was larger than the crate accepts.
    TooLarge,
    /// No request was sent: something it needs was missing (no BIB issuer,
    /// an endpoint URL that cannot be built, a client assertion that could
    /// not be signed).
    NotSent,
    /// Any other failure of the HTTP client.
    Other,
}

/// Why a request to the provider got no usable answer: the
/// [`kind`](Self::kind), a message without any URL (URLs the crate builds
/// may carry query parameters) and the underlying error as
/// [`source`](StdError::source) — for HTTP failures a `reqwest::Error`,
/// with its URL removed.
///
/// Cloning shares the source. Two `TransportError`s are equal when their
/// kinds and messages are: the source is not compared (`reqwest::Error` is
/// not `PartialEq`).
#[derive(Debug, Clone)]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl TransportError {
    /// A failure of the HTTP client, described by `message`, which must
    /// not hold a URL; the source's URL is removed.
    pub(crate) fn http(kind: TransportErrorKind, message: String, source: reqwest::Error) -> TransportError {
        TransportError { kind, message, source: Some(Arc::new(source.without_url())) }
    }

    /// A failure with no error behind it.
    pub(crate) fn new(kind: TransportErrorKind, message: impl Into<String>) -> TransportError {
        TransportError { kind, message: message.into(), source: None }
    }

    /// A request that was not sent because of `source`.
    pub(crate) fn not_sent(
        message: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> TransportError {
        TransportError { kind: TransportErrorKind::NotSent, message: message.into(), source: Some(Arc::new(source)) }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for TransportError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

impl PartialEq for TransportError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for TransportError {}

/// The cause of a failure, described in words, with its typed error kept as
/// [`source`](StdError::source) (e.g. a
/// `tower_sessions::session_store::Error` for a store failure). Its
/// `Display` is the message alone, which never holds a token or secret.
///
/// Cloning shares the source. Two `Cause`s are equal when their messages
/// are: the source is not compared (most error types are not `PartialEq`).
#[derive(Debug, Clone)]
pub struct Cause {
    message: String,
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl Cause {
    /// A failure with no error behind it.
    pub(crate) fn new(message: impl Into<String>) -> Cause {
        Cause { message: message.into(), source: None }
    }

    /// A failure caused by `source`, described by its `Display`.
    pub(crate) fn from_error(source: impl StdError + Send + Sync + 'static) -> Cause {
        Cause { message: source.to_string(), source: Some(Arc::new(source)) }
    }

    /// A failure caused by `source`, described by `message`.
    pub(crate) fn caused_by(message: impl Into<String>, source: impl StdError + Send + Sync + 'static) -> Cause {
        Cause { message: message.into(), source: Some(Arc::new(source)) }
    }

    /// The message (the same as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Cause {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl Eq for Cause {}
