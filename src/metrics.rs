//! Counters and latency histograms, through the [`metrics`](https://docs.rs/metrics)
//! facade (cargo feature `metrics`): the crate records, the application
//! chooses the exporter (Prometheus, StatsD, OpenTelemetry…) by installing a
//! recorder. Every name, label and value is listed in
//! [`docs::metrics`](crate::docs::metrics); call [`describe`] once after
//! installing the recorder to give them their help texts and units.
//!
//! Label values are fixed strings only — a flow, an error's stable `kind()`,
//! an endpoint's name — never a user, an identity number, a token, a URL or
//! any other value from outside, so the number of series stays bounded and
//! a metrics backend never holds personal data.

// The one room for metrics: every call site calls a named function here,
// unconditionally; without the feature only `count` and `observe` change,
// to empty functions the compiler removes, and no call site needs a `#[cfg]`.

use std::future::Future;

/// Logins begun (a redirect to BankID, or a CIBA request BIB accepted).
const LOGINS_STARTED: &str = "bankid_logins_started_total";
/// Logins that ended with the user logged in (CIBA: approved and verified).
const LOGINS_SUCCEEDED: &str = "bankid_logins_succeeded_total";
/// Logins refused, by the error's `kind()`.
const LOGINS_FAILED: &str = "bankid_logins_failed_total";
/// Logins that asked for more than the configured minimum.
const STEP_UPS: &str = "bankid_step_ups_total";
/// Permission grants the crate verified and kept for the application.
const PERMISSION_GRANTS: &str = "bankid_permission_grants_total";
/// `Granted::redeem` calls on single-use grants.
const PERMISSION_REDEEMS: &str = "bankid_permission_redeems_total";
/// CIBA requests that reached their final outcome.
const CIBA_OUTCOMES: &str = "bankid_ciba_outcomes_total";
/// Back-channel logout requests received.
const BACKCHANNEL_LOGOUTS: &str = "bankid_backchannel_logouts_total";
/// Time of each call to a provider endpoint.
const PROVIDER_REQUEST_DURATION: &str = "bankid_provider_request_duration_seconds";
/// Fetches of a discovery document (start-up's included).
const DISCOVERY_REFRESHES: &str = "bankid_discovery_refreshes_total";
/// Fetches of a JWKS (start-up's included).
const JWKS_REFRESHES: &str = "bankid_jwks_refreshes_total";
/// Client-credentials access tokens fetched from BIB (not cache hits).
const CLIENT_TOKEN_FETCHES: &str = "bankid_client_credentials_token_fetches_total";

/// How a login is made: the `flow` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    /// The authorization code flow through the browser.
    Code,
    /// Client-Initiated Backchannel Authentication at BIB.
    Ciba,
}

impl Flow {
    fn label(self) -> &'static str {
        match self {
            Flow::Code => "code",
            Flow::Ciba => "ciba",
        }
    }
}

/// A provider endpoint the crate calls: the `endpoint` label of the
/// latency histogram. Named after the endpoint, never its URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// BankID OIDC's discovery document.
    Discovery,
    /// BIB's discovery document.
    BibDiscovery,
    /// A JWKS (BankID OIDC's, BIB's, or BIB's grant keys).
    Jwks,
    /// The pushed authorization request (RFC 9126).
    Par,
    /// BankID OIDC's token endpoint (the authorization code).
    Token,
    /// BIB's token endpoint, client-credentials grant.
    ClientCredentialsToken,
    /// Permission API `user-exists`.
    PermissionUserExists,
    /// Permission API registration.
    PermissionRegister,
    /// Permission API `{id}/grant`.
    PermissionGrant,
    /// CIBA's backchannel authentication endpoint ("bc-authorize").
    CibaBackchannelAuthentication,
    /// BIB's token endpoint, CIBA grant (a poll).
    CibaToken,
}

impl Endpoint {
    fn label(self) -> &'static str {
        match self {
            Endpoint::Discovery => "discovery",
            Endpoint::BibDiscovery => "bib_discovery",
            Endpoint::Jwks => "jwks",
            Endpoint::Par => "par",
            Endpoint::Token => "token",
            Endpoint::ClientCredentialsToken => "client_credentials_token",
            Endpoint::PermissionUserExists => "permission_user_exists",
            Endpoint::PermissionRegister => "permission_register",
            Endpoint::PermissionGrant => "permission_grant",
            Endpoint::CibaBackchannelAuthentication => "ciba_backchannel_authentication",
            Endpoint::CibaToken => "ciba_token",
        }
    }

    /// The counter a call to this endpoint also counts in, if any: a fetch
    /// of a discovery document or JWKS is a refresh, a client-credentials
    /// token call a token fetch.
    fn fetch_counter(self) -> Option<&'static str> {
        match self {
            Endpoint::Discovery | Endpoint::BibDiscovery => Some(DISCOVERY_REFRESHES),
            Endpoint::Jwks => Some(JWKS_REFRESHES),
            Endpoint::ClientCredentialsToken => Some(CLIENT_TOKEN_FETCHES),
            _ => None,
        }
    }
}

/// A login began: the browser is sent to BankID, or BIB accepted a CIBA
/// request. `step_up`: it asks for more than the configured minimum.
pub(crate) fn login_started(flow: Flow, step_up: bool) {
    count(LOGINS_STARTED, &[("flow", flow.label())]);
    if step_up {
        count(STEP_UPS, &[("outcome", "started")]);
    }
}

/// A code-flow login ended with the user logged in.
pub(crate) fn login_succeeded(flow: Flow, step_up: bool) {
    count(LOGINS_SUCCEEDED, &[("flow", flow.label())]);
    if step_up {
        count(STEP_UPS, &[("outcome", "succeeded")]);
    }
}

/// A login was refused with the error of this `kind()`, if it was.
pub(crate) fn login_failed(flow: Flow, kind: Option<&'static str>) {
    if let Some(kind) = kind {
        count(LOGINS_FAILED, &[("flow", flow.label()), ("kind", kind)]);
    }
}

/// `granted` permission grants were verified and kept for the application.
pub(crate) fn permissions_granted(flow: Flow, granted: usize) {
    add(PERMISSION_GRANTS, &[("flow", flow.label())], granted as u64);
}

/// A single-use grant was redeemed (`Ok`), or refused as already redeemed.
pub(crate) fn permission_redeemed(first_use: bool) {
    let outcome = if first_use { "redeemed" } else { "already_redeemed" };
    count(PERMISSION_REDEEMS, &[("outcome", outcome)]);
}

/// A CIBA request reached its outcome: approved (`None`) or failed with the
/// `CibaError` of this `kind()`. An approval is a CIBA login that
/// succeeded, and with a permission also a grant.
pub(crate) fn ciba_finished(failure: Option<&'static str>, with_permission: bool) {
    count(CIBA_OUTCOMES, &[("outcome", failure.unwrap_or("approved"))]);
    match failure {
        None => {
            login_succeeded(Flow::Ciba, false);
            permissions_granted(Flow::Ciba, usize::from(with_permission));
        }
        Some(kind) => login_failed(Flow::Ciba, Some(kind)),
    }
}

/// A back-channel logout was accepted (`None`) or refused with the
/// `LogoutTokenError` of this `kind()`.
pub(crate) fn backchannel_logout(refused: Option<&'static str>) {
    count(BACKCHANNEL_LOGOUTS, &[("outcome", refused.unwrap_or("accepted"))]);
}

/// Runs one call to a provider endpoint and records how long it took, with
/// `outcome` `ok` or `error` (the call's own `Result`).
pub(crate) async fn timed<T, E>(endpoint: Endpoint, call: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    let started = stopwatch();
    let result = call.await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    observe(PROVIDER_REQUEST_DURATION, &[("endpoint", endpoint.label()), ("outcome", outcome)], started);
    if let Some(counter) = endpoint.fetch_counter() {
        count(counter, &[("endpoint", endpoint.label()), ("outcome", outcome)]);
    }
    result
}

/// Gives every metric its help text and unit, for exporters that show them
/// (Prometheus' `# HELP`). Call it once, after installing the recorder;
/// recording works without it.
#[cfg(feature = "metrics")]
pub fn describe() {
    use ::metrics::{Unit, describe_counter, describe_histogram};
    for (name, help) in [
        (LOGINS_STARTED, "BankID logins begun, by flow (code, ciba)."),
        (LOGINS_SUCCEEDED, "BankID logins that logged the user in, by flow."),
        (LOGINS_FAILED, "BankID logins refused, by flow and the error's kind()."),
        (STEP_UPS, "Logins asking for more than the configured minimum, by outcome (started, succeeded)."),
        (PERMISSION_GRANTS, "Permission grants verified and kept for the application, by flow."),
        (PERMISSION_REDEEMS, "Redeems of single-use grants, by outcome (redeemed, already_redeemed)."),
        (CIBA_OUTCOMES, "CIBA requests finished, by outcome (approved or the CibaError kind())."),
        (BACKCHANNEL_LOGOUTS, "Back-channel logouts received, by outcome (accepted or the refusal's kind())."),
        (DISCOVERY_REFRESHES, "Discovery document fetches, by endpoint (discovery, bib_discovery) and outcome."),
        (JWKS_REFRESHES, "JWKS fetches (start-up's included), by outcome."),
        (CLIENT_TOKEN_FETCHES, "Client-credentials access tokens fetched from BIB (not cache hits), by outcome."),
    ] {
        describe_counter!(name, Unit::Count, help);
    }
    describe_histogram!(
        PROVIDER_REQUEST_DURATION,
        Unit::Seconds,
        "Duration of calls to BankID's endpoints, by endpoint and outcome (ok, error)."
    );
}

/// Adds one to the counter `name` with these labels.
fn count(name: &'static str, labels: &[(&'static str, &'static str)]) {
    add(name, labels, 1);
}

/// Adds `n` to the counter `name` with these labels.
#[cfg(feature = "metrics")]
fn add(name: &'static str, labels: &[(&'static str, &'static str)], n: u64) {
    if n > 0 {
        ::metrics::counter!(name, labels).increment(n);
    }
}

/// Records the seconds since `started` in the histogram `name`.
#[cfg(feature = "metrics")]
fn observe(name: &'static str, labels: &[(&'static str, &'static str)], started: Stopwatch) {
    ::metrics::histogram!(name, labels).record(started.elapsed().as_secs_f64());
}

/// When a call began: an `Instant` with the feature, nothing without.
#[cfg(feature = "metrics")]
type Stopwatch = std::time::Instant;
#[cfg(not(feature = "metrics"))]
struct Stopwatch;

#[cfg(feature = "metrics")]
fn stopwatch() -> Stopwatch {
    std::time::Instant::now()
}

#[cfg(not(feature = "metrics"))]
fn add(_name: &'static str, _labels: &[(&'static str, &'static str)], _n: u64) {}

#[cfg(not(feature = "metrics"))]
fn observe(_name: &'static str, _labels: &[(&'static str, &'static str)], _started: Stopwatch) {}

#[cfg(not(feature = "metrics"))]
fn stopwatch() -> Stopwatch {
    Stopwatch
}
