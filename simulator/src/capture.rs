//! What the simulator received, for tests: every request either listener
//! receives is recorded, in arrival order, before it is handled, so a test
//! can assert exactly what a relying party sent on the wire; and the
//! requests to the endpoints a relying party must call sparingly are
//! counted, without the log's bound and across `clear_requests`.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// At most this many requests are kept; the oldest make room. A load test
/// can send far more than any conformance test needs to look at.
const MAX_CAPTURED: usize = 20_000;
/// Bodies larger than this are refused with `413` (no BankID request comes
/// near it).
const MAX_BODY_BYTES: usize = 1 << 20;

/// The issuer (one of the simulator's two OpenID Providers) whose listener
/// received a request.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issuer {
    /// BankID OIDC ([`Simulator::issuer`](super::Simulator::issuer)).
    Oidc,
    /// BankID with biometrics, "aletheia"
    /// ([`Simulator::bib_issuer`](super::Simulator::bib_issuer)).
    Bib,
}

/// One HTTP request as the simulator received it; see
/// [`Simulator::requests`](super::Simulator::requests).
///
/// `Debug` shows the method, path, header names and body length only: the
/// values may hold client secrets and access tokens.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub struct CapturedRequest {
    /// The issuer whose listener received it.
    pub issuer: Issuer,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, e.g. `/permissions/user-exists`.
    pub path: String,
    /// The raw query string, without `?`, if there was one.
    pub query: Option<String>,
    /// Every header in arrival order, names in lower case; a value that is
    /// not UTF-8 is recorded lossily.
    pub headers: Vec<(String, String)>,
    /// The body, decoded as UTF-8 lossily.
    pub body: String,
}

impl CapturedRequest {
    /// The first value of header `name` (compared without regard to case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(given, _)| given.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

impl fmt::Debug for CapturedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("CapturedRequest")
            .field("issuer", &self.issuer)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("header_names", &names)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The captured requests of both listeners, newest last.
pub(crate) type CaptureLog = Arc<Mutex<VecDeque<CapturedRequest>>>;

/// The state the capturing middleware of one listener runs with.
#[derive(Clone)]
pub(crate) struct Capture {
    pub(crate) log: CaptureLog,
    pub(crate) issuer: Issuer,
}

/// Records the request, then hands it on with its body intact.
pub(crate) async fn record(State(capture): State<Capture>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response();
    };
    let captured = CapturedRequest {
        issuer: capture.issuer,
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    push(&mut capture.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner()), captured);
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

fn push(log: &mut VecDeque<CapturedRequest>, request: CapturedRequest) {
    if log.len() >= MAX_CAPTURED {
        log.pop_front();
    }
    log.push_back(request);
}

/// An endpoint whose requests the simulator counts; see
/// [`Simulator::request_count`](super::Simulator::request_count).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Every JWKS: BankID OIDC's `/jwks`, BIB's `/jwks` and `/jwks/grants`.
    Jwks,
    /// Both token endpoints, BankID OIDC's and BIB's.
    Token,
    /// BIB's Permission API `user-exists`.
    UserExists,
    /// BIB's backchannel authentication endpoint (CIBA, `/bc-authorize`).
    BackchannelAuthentication,
}

/// The count of requests per [`Endpoint`], from start-up on.
#[derive(Debug, Default)]
pub(crate) struct RequestCounts([AtomicUsize; 4]);

impl RequestCounts {
    /// Counts one request to `endpoint`; answers the count including it.
    pub(crate) fn add(&self, endpoint: Endpoint) -> usize {
        self.0[endpoint as usize].fetch_add(1, Ordering::SeqCst) + 1
    }

    pub(crate) fn get(&self, endpoint: Endpoint) -> usize {
        self.0[endpoint as usize].load(Ordering::SeqCst)
    }
}
