//! An embedded BankID for tests, examples and local development: BankID
//! OIDC and BankID with biometrics (BIB, "aletheia") as two OpenID
//! Providers on two ports of 127.0.0.1, speaking BankID's wire protocol.
//!
//! The real BankID cannot be reached from CI, and its test environment needs
//! a registered client and a phone. The simulator speaks the same protocol
//! instead, taken from BankID's developer documentation and BankID Norway's
//! own integration examples (`BankIDNorge/oidc-integration-examples`, the
//! ASP.NET CIBA backend above all) — and it *refuses* every other shape with
//! a `400`/`401`/`403`/`404` whose `error_description` names the problem, so
//! a relying party that works against it has no slack that BankID would
//! catch later.
//!
//! - [`Simulator::issuer`] is **BankID OIDC** (like `auth.bankid.no`), API
//!   version 4: the Authorization Code flow with PKCE (S256 only), `state`
//!   and `nonce` required, `acr_values` routing to BankID with biometrics
//!   (`urn:bankid:bis;LOA=3`) or BankID High (`urn:bankid:bid;LOA=4`), the
//!   legacy `login_hint=BIS`/`BID`, an identity number in `login_hint` only
//!   inside PAR, `amr` arrays and `api_ver` in its tokens, the RFC 9207 `iss`
//!   response parameter, pushed authorization requests (RFC 9126) with
//!   `authorization_details` (RFC 9396), and client-credentials access
//!   tokens for BIB. Four built-in [synthetic users](TestUser) log in,
//!   and any added with [`SimulatorBuilder::user`].
//! - [`Simulator::bib_issuer`] is **BIB** (like `app.bankid.no`): the
//!   Permission API (register, `user-exists`, grants) and CIBA (OpenID CIBA
//!   Core 1.0, poll mode) with a scriptable phone per user
//!   ([`CibaBehavior`]). Every BIB call but discovery and the JWKS takes
//!   `Authorization: Bearer <client-credentials token from BankID OIDC>`.
//!
//! It is *strict*: exact redirect URIs, single-use codes, `request_uri`s and
//! `permissionToken`s, mandatory `state` and PKCE, one client authentication
//! method per request at BankID OIDC and none at BIB, no parameter or JSON
//! member it does not know. To prove that a relying party also *rejects*
//! what it must, inject a [`Fault`]: a wrong audience, an expired token, a
//! rotated key, a mix-up `iss`, a grant signed with the wrong key, a slow or
//! failing token endpoint, and more. [`Simulator::requests`] shows every
//! request both issuers received, for conformance tests of the wire shape;
//! [`Simulator::request_count`] counts those to the endpoints a relying
//! party must call sparingly (keys, tokens, `user-exists`, CIBA).
//!
//! Three key sets, each published only in its own JWKS: BankID OIDC's
//! (`sim-1`, later `sim-2`), BIB's ID-token key (`bib-1`) and BIB's grant
//! key (`bib-grant-1`). Tokens are signed with ES256 as BankID's are
//! ([`SimulatorBuilder::signing_algorithm`] switches to RS256), and every
//! published key carries an `x5c` chain from the simulator's own test PKI
//! to [`Simulator::root_certificates_pem`]; four faults break that chain
//! ([`Fault::ChainToForeignRoot`], [`Fault::ExpiredCertificate`],
//! [`Fault::CertificateForOtherKey`], [`Fault::NoCertificateChain`]). The
//! keys are committed, public test keys. **Never** use this crate (or
//! `axum-bankid`'s `simulator` feature) in a production build.
//!
//! # Example
//!
//! ```
//! use axum_bankid_simulator::{Fault, Simulator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let sim = Simulator::builder()
//!     .redirect_uri("http://127.0.0.1:3000/auth/callback")
//!     .start()
//!     .await?;
//! // Configure the relying party with these values.
//! let (issuer, bib_issuer) = (sim.issuer(), sim.bib_issuer());
//! let (client_id, client_secret) = (sim.client_id(), sim.client_secret());
//! assert!(issuer.starts_with("http://127.0.0.1:"));
//! assert_ne!(issuer, bib_issuer, "two issuers, two ports");
//! # let _ = (client_id, client_secret);
//!
//! // Every ID token from now on claims only LOA 2, whoever logs in.
//! sim.add_fault(Fault::LowAcr);
//!
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Endpoints of BankID OIDC (`{issuer}`)
//!
//! | path | purpose |
//! |---|---|
//! | `/.well-known/openid-configuration` | discovery (no CIBA, no Permission API: those are BIB's) |
//! | `/authorize` | login page (`GET`) and the user's decision (`POST`) |
//! | `/token` | code exchange and `client_credentials`; `client_secret_basic`, `client_secret_post` or `private_key_jwt` |
//! | `/userinfo` | the user's claims for a Bearer access token |
//! | `/jwks` | BankID OIDC's public signing keys |
//! | `/logout` | RP-initiated logout |
//! | `/par` | pushed authorization requests, the only place for `authorization_details` |
//! | `/phone` | the user's BankID app: pending CIBA requests (`GET ?login_hint=<nnin>`), decisions (`POST /phone/decide`) |
//! | `/healthz` | `200 {"status":"ok"}` (not BankID's; not in discovery, not in [`Simulator::requests`]) |
//!
//! # Endpoints of BIB (`{bib_issuer}`)
//!
//! | path | purpose | Bearer scope |
//! |---|---|---|
//! | `/.well-known/openid-configuration` | discovery: `issuer`, `permissions_endpoint`, `jwks_uri`, `jwks_uri_grants`, `backchannel_authentication_endpoint`, `token_endpoint`, ... | — |
//! | `/jwks` | the CIBA ID-token key | — |
//! | `/jwks/grants` | the grant key | — |
//! | `/permissions/` | `permissions_endpoint` (trailing slash): register a permission (`POST`, JSON) | `permissions/client` (+ `permissions/text` for `text.v1`) |
//! | `/permissions/user-exists` | does this `loginHint` have BankID with biometrics? (`POST`, JSON) | `permissions/client` |
//! | `/permissions/{id}/grant` | the approved permission as a compact JWS, `text/plain` (`GET`) | `permissions/client` |
//! | `/bc-authorize` | CIBA backchannel authentication request (`POST`, form) | `permissions/ciba` |
//! | `/token` | CIBA polls (`POST`, form) | `permissions/ciba` |
//! | `/healthz` | `200 {"status":"ok"}`, as at BankID OIDC | — |
//!
//! A BIB call without a live token from BankID OIDC's `client_credentials`
//! grant gets `401 invalid_token` with `WWW-Authenticate: Bearer
//! error="invalid_token"`; one without the scope `403 insufficient_scope`;
//! one that authenticates the client instead (a Basic header,
//! `client_secret` or `client_assertion`) `400 invalid_request`.
//! Unknown paths at either issuer answer `404 {"error":"not_found"}`, naming
//! where the Permission API and CIBA live.
//!
//! The login page is a plain HTML form without JavaScript. Tests need not
//! read it: `GET` the authorization URL with `Accept: application/json` and
//! the same step answers JSON (`no-store`) —
//!
//! ```json
//! {"request": "<one-time id>", "client_id": "sim-client",
//!  "users": [{"id": "kari", "name": "Kari Nordmann", "method": "BIS", "loa": 3,
//!             "methods": [{"method": "BIS", "loa": 3}, {"method": "BID", "loa": 4}]}],
//!  "preselected_user": "kari", "asked_method": "BID" | null,
//!  "permissions": [{"type": "payment.v1", "statement": "<as shown on the page>"}],
//!  "form": {"method": "POST", "action": "/authorize",
//!           "content_type": "application/x-www-form-urlencoded",
//!           "fields": ["request", "decision", "user", "method", "auth_age"],
//!           "max_auth_age": 31622400}}
//! ```
//!
//! — and the decision is the page's form, posted to `/authorize`:
//! `request` (that id, usable once), `decision=approve` or `deny`, `user`
//! (an `id` of [`Simulator::users`]), optionally `method` (`BIS`/`BID`, as
//! on a step-up page) and `auth_age` (whole seconds: the ID token's
//! `auth_time` is that long ago, for tests of a relying party's recency
//! checks; a simulator field, not BankID's). It answers `303` to the
//! relying party's redirect URI with `code` (or `error`), `state` and
//! `iss`; a refused post (unknown or used `request`, unknown user, a
//! method the user lacks, a bad `auth_age`) answers `400`, as
//! `{"error": "invalid_request", "error_description"}` to a client that
//! accepts JSON. `axum-bankid`'s `testing` feature drives exactly this.
//!
//! # The protocol, step by step
//!
//! 1. **Client credentials** at BankID OIDC: `POST {issuer}/token`,
//!    `grant_type=client_credentials&scope=openid permissions/client
//!    permissions/ciba` (any of these, and `permissions/text`; another
//!    scope is `invalid_scope`) → `{"access_token", "token_type": "Bearer",
//!    "expires_in", "scope"}`; lifetime
//!    [`SimulatorBuilder::client_token_lifetime`].
//! 2. **user-exists**: `POST {bib}/permissions/user-exists` with exactly
//!    `{"loginHint": [{"scheme": "nnin", "value": "<11 digits>"}]}` →
//!    `{"exists": true|false}` ([`TestUser::bib_enabled`]).
//! 3. **Register**: `POST {bib}/permissions/` with `type`, `iat`, `exp`
//!    (unix seconds; `iat` within 300 s of now, `exp - iat` at most
//!    3600 s), `permission` (base64url of a JSON statement; standard base64
//!    is accepted too) and optionally `loa`, `intents` (`["ciba"]`),
//!    `acr_values` (distinct `urn:bankid:bih` / `urn:bankid:bis`; `bih`
//!    alone ends a CIBA approval at BankID High, `acr` `urn:bankid:bih` — a
//!    guess), `loginHint` and `signals` (BankID's `ClientSignals` names) →
//!    `{"id", "permissionToken", "bindingMessage"}`. A `text.v1`
//!    registration needs `permissions/text`. The binding message is made by
//!    the simulator, as by BankID, e.g. `BLÅ HUND 42`.
//! 4. **CIBA**: `POST {bib}/bc-authorize` with exactly
//!    `login_hint_token=<permissionToken>` (registered with `intents`
//!    `["ciba"]` and a `loginHint`, unused, not expired),
//!    `scope=openid permissions/ciba` and `binding_message=<bindingMessage>`
//!    → `{"auth_req_id", "expires_in" (the registration's `exp` - now),
//!    "interval"}`. `login_hint`, `id_token_hint`, `requested_expiry` and any
//!    other parameter are refused by name. Then poll `POST {bib}/token` with
//!    exactly `grant_type=urn:openid:params:grant-type:ciba&auth_req_id=...`
//!    → `authorization_pending`, `slow_down`, `access_denied`,
//!    `expired_token`, `invalid_grant` (CIBA Core §11), or `{"access_token",
//!    "token_type", "expires_in", "id_token"}`.
//! 5. **Grant**: `GET {bib}/permissions/{id}/grant` → `404` until the user
//!    approved (and for an unknown id or an `authentication.v1`
//!    permission), `403 {"error":"access_denied"}` after a refusal, else the
//!    compact JWS as `text/plain`, signed with the grant key. Its `sub`,
//!    like a CIBA ID token's, is BIB's ([`TestUser::bib_sub`]), not the
//!    code flow's: another issuer.
//!
//! What the user does is up to the test: [`Simulator::set_ciba_behavior`]
//! scripts it, [`Simulator::ciba_decide`] or the phone page decides by hand,
//! and [`Simulator::ciba_requests`] shows every request with its polls and
//! binding message.
//!
//! # Upfront permissions in the code flow
//!
//! A relying party pushes `authorization_details` — a JSON array of
//! `{"type": "payment.v1", "permission": "<base64url statement>"}` — to
//! `/par` and sends the browser to `/authorize?client_id=..&request_uri=..`.
//! The login page shows each statement; on approval the ID token carries
//! `permission_digest` (`base64(SHA-256(statement bytes))`, standard
//! alphabet with padding, over the *decoded* statement: a string for one
//! item, an array for several). The token response body does not repeat
//! `authorization_details` (unless
//! [`SimulatorBuilder::echo_authorization_details`] asks it to): as BankID
//! documents, they are in the access token, a JWT signed with BankID
//! OIDC's key whose `authorization_details` claim lists each item with its
//! `permission_digest`.
//!
//! Alternatively a permission registered at BIB rides on the authorization
//! request or PAR body as `permission_token=<permissionToken>`; on approval
//! its grant becomes available and the ID token carries `permission_digest`.
//!
//! Either way the request must send `acr_values=urn:bankid:bis` (first), as
//! BankID routes only that to the identity provider with the Permission
//! API; without it the request is refused with `invalid_request` before a
//! `permission_token` is used up.
//!
//! # Guesses
//!
//! Where BankID has published nothing, the simulator makes a choice and
//! names it here, so that no test silently depends on an invention:
//!
//! - **`permission_token`**: how a registered permission is attached to a
//!   code flow is unpublished; the parameter name is the simulator's.
//! - **Grant claims**: `iss` (BIB), `sub`, `iat`, `exp` (the registration's),
//!   `nonce`, `type`, `permissionId`, `digest` — named after BankAxept's
//!   analogous grant; header `{"alg": "ES256", "kid": "bib-grant-1",
//!   "typ": "JWT"}`; no `aud`.
//! - **Grant status codes**: `404` before approval, `403` after a refusal.
//! - **CIBA ID token**: `acr` is the bare `urn:bankid:bis` (no `;LOA=`) and
//!   `amr` `["bis-mfa", "bis-hwk"]`, as in the only public sample (a third
//!   party's); identity numbers as `sub_nnin` / `sub_bankid`; `sub` is the
//!   same value as in the user's code-flow ID token (nothing published says
//!   otherwise). It carries no `permission_digest`: the grant proves the
//!   permission.
//! - **Error bodies** of the Permission API: RFC 6749 §5.2 style
//!   `{"error", "error_description"}`.
//! - **Binding messages**: a colour, an animal and two digits.
//! - **`api_ver`**: the integer `4` in BankID OIDC's ID and access tokens
//!   (BankID: "an integer returned in all tokens"); BIB's CIBA ID tokens
//!   carry none (unpublished).
//! - **`amr`**: `["bis-mfa", "bis-hwk"]` for a BankID with biometrics
//!   login, `["bis-mfa", "bis-bid"]` when it fell back to BankID (a user
//!   without biometrics), `["bid"]` for BankID High — BankID's examples;
//!   which one a login gets is the simulator's choice.
//! - **Unknown `acr_values`**: refused with `invalid_request` (whether
//!   BankID refuses or ignores them is unpublished).
//! - **Legacy `login_hint=BIS`** keeps a BankID High user's own level;
//!   `acr_values=urn:bankid:bis` routes everyone to BankID with biometrics.
//! - **Test PKI**: names, extensions and validity of the certificates are
//!   the simulator's, shaped like BankID's preprod sample (RSA CAs, EC
//!   leaves, key usage `digitalSignature` on leaves, `keyCertSign` and
//!   `cRLSign` on CAs).
//!
//! ```
//! use std::time::Duration;
//! use axum_bankid_simulator::{CibaBehavior, Simulator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let sim = Simulator::builder()
//!     .ciba_interval(Duration::from_secs(1))
//!     .client_token_lifetime(Duration::from_secs(60))
//!     .start()
//!     .await?;
//! // Ola's phone approves on the third poll.
//! sim.set_ciba_behavior("ola", CibaBehavior::ApproveAfterPolls(2));
//! assert!(sim.ciba_requests().is_empty());
//! assert!(sim.requests().is_empty(), "nothing was sent yet");
//! # Ok(())
//! # }
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used, clippy::todo, clippy::dbg_macro)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod capture;
mod ciba;
mod clock;
mod endpoints;
mod faults;
mod id_token;
mod keys;
mod logout_token;
mod pages;
mod permission;
mod pki;
mod registration;
mod state;
mod step_up;
mod users;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use capture::{CapturedRequest, Endpoint, Issuer};
pub use ciba::{CibaBehavior, CibaRequestInfo, CibaStatus};
pub use faults::Fault;
pub use keys::{SigningAlgorithm, SigningKey};
pub use logout_token::{LogoutDelivery, LogoutSubject, LogoutTokenFault};
pub use users::{TestUser, TestUserBuilder, UserError};

use state::{Settings, Shared};

/// The client id a simulator accepts unless [`SimulatorBuilder::client`]
/// says otherwise.
pub const DEFAULT_CLIENT_ID: &str = "sim-client";

/// The client secret a simulator accepts unless [`SimulatorBuilder::client`]
/// says otherwise. Public, for tests only.
pub const DEFAULT_CLIENT_SECRET: &str = "sim-secret";

/// The CIBA polling interval unless [`SimulatorBuilder::ciba_interval`] says
/// otherwise (the default of CIBA Core §7.3).
pub const DEFAULT_CIBA_INTERVAL: Duration = Duration::from_secs(5);

/// The lifetime of client-credentials access tokens unless
/// [`SimulatorBuilder::client_token_lifetime`] says otherwise.
pub const DEFAULT_CLIENT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// How long [`Simulator::shutdown`] lets requests in flight finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running simulated BankID provider.
///
/// The server runs on the Tokio runtime that started it and stops when this
/// handle is dropped or [`shut down`](Simulator::shutdown).
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    bib_addr: SocketAddr,
    shutdown: Option<watch::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Starts a simulator with the defaults of [`Simulator::builder`]: on a
    /// free port of 127.0.0.1, client [`DEFAULT_CLIENT_ID`], no redirect URI
    /// registered yet (add them with [`allow_redirect_uri`](Self::allow_redirect_uri)).
    ///
    /// # Errors
    ///
    /// When the listening socket cannot be bound.
    pub async fn start() -> std::io::Result<Simulator> {
        Simulator::builder().start().await
    }

    /// A builder to choose the client credentials, redirect URIs and address.
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::default()
    }

    /// The issuer identifier, `http://127.0.0.1:<port>` (or the
    /// [`public_url`](SimulatorBuilder::public_url)), without a trailing
    /// slash. The discovery document is at
    /// `{issuer}/.well-known/openid-configuration`.
    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// The URL of BankID OIDC's discovery document.
    pub fn discovery_url(&self) -> String {
        format!("{}{}", self.shared.issuer, endpoints::wire::DISCOVERY_PATH)
    }

    /// BIB's ("aletheia") issuer identifier, `http://127.0.0.1:<port>` on a
    /// port of its own (or the
    /// [`bib_public_url`](SimulatorBuilder::bib_public_url)), without a trailing slash — like `app.bankid.no`
    /// next to `auth.bankid.no`. Its discovery document is at
    /// `{bib_issuer}/.well-known/openid-configuration`.
    pub fn bib_issuer(&self) -> String {
        self.shared.bib_issuer.clone()
    }

    /// The algorithm this simulator signs every token with (see
    /// [`SimulatorBuilder::signing_algorithm`]).
    pub fn signing_algorithm(&self) -> SigningAlgorithm {
        self.shared.signing_alg()
    }

    /// Switches the algorithm at run time, as a provider migrating from
    /// RS256 to ES256 does: from now on every token is signed with `alg`,
    /// both discovery documents (BankID OIDC's and BIB's) advertise only
    /// `alg`, and the JWKS publish the keys for `alg`.
    pub fn set_signing_algorithm(&self, alg: SigningAlgorithm) {
        self.shared.set_signing_alg(alg);
    }

    /// The root certificate of the simulator's test PKI, as PEM: every
    /// signing key it publishes (BankID OIDC's and BIB's) carries an `x5c`
    /// chain from a leaf through a test intermediate CA to this root, the
    /// way BankID's keys chain to BankID's published roots. Configure a
    /// relying party with it as its BankID root certificate (for
    /// `axum-bankid`: `BANKID_ROOT_CERTS_FILE`). The same in every
    /// simulator of a process; a test PKI, public on purpose.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let sim = axum_bankid_simulator::Simulator::start().await?;
    /// let pem = sim.root_certificates_pem();
    /// assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn root_certificates_pem(&self) -> String {
        pki::root_pem()
    }

    /// The URL of BIB's discovery document.
    pub fn bib_discovery_url(&self) -> String {
        format!("{}{}", self.shared.bib_issuer, endpoints::wire::DISCOVERY_PATH)
    }

    /// The address BankID OIDC listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address BIB listens on.
    pub fn bib_addr(&self) -> SocketAddr {
        self.bib_addr
    }

    /// Every request both issuers received, in arrival order (the newest
    /// 20 000), with headers and body exactly as sent — for conformance
    /// tests that assert the wire shape of a relying party's calls.
    pub fn requests(&self) -> Vec<CapturedRequest> {
        self.shared.captured.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter().cloned().collect()
    }

    /// Forgets the captured requests.
    pub fn clear_requests(&self) {
        self.shared.captured.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }

    /// How many requests `endpoint` has received since start-up, successful
    /// or not, counted on arrival (a request the client gave up on counts).
    /// Unlike [`requests`](Self::requests) the count has no bound and
    /// [`clear_requests`](Self::clear_requests) leaves it alone, so a test
    /// can compare it before and after any amount of load.
    pub fn request_count(&self, endpoint: Endpoint) -> usize {
        self.shared.request_counts.get(endpoint)
    }

    /// The only client id the simulator accepts.
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// The secret of [`client_id`](Self::client_id). A test value: the
    /// simulator is not meant to protect anything.
    pub fn client_secret(&self) -> &str {
        &self.shared.client_secret
    }

    /// The `BANKID_*` environment variables an app's
    /// `BankIdConfig::from_env` needs to log in here, in the order the
    /// program prints them: both issuers, the client's id and secret,
    /// `redirect_uri` (which must be registered, see
    /// [`allow_redirect_uri`](Self::allow_redirect_uri)) and
    /// `root_certs_file`, where the caller writes
    /// [`root_certificates_pem`](Self::root_certificates_pem) (the signing
    /// keys' chains lead there, as BankID's lead to BankID's roots).
    ///
    /// The secret is a public test value, so printing it is harmless.
    pub fn relying_party_env(
        &self,
        redirect_uri: &str,
        root_certs_file: &std::path::Path,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("BANKID_ISSUER", self.issuer()),
            ("BANKID_BIB_ISSUER", self.bib_issuer()),
            ("BANKID_CLIENT_ID", self.client_id().to_owned()),
            ("BANKID_CLIENT_SECRET", self.client_secret().to_owned()),
            ("BANKID_REDIRECT_URI", redirect_uri.to_owned()),
            ("BANKID_ROOT_CERTS_FILE", root_certs_file.display().to_string()),
        ]
    }

    /// The test client's private key (PKCS#8 PEM, RSA) for `private_key_jwt`
    /// client authentication (RFC 7523); the simulator accepts assertions
    /// signed with it for [`client_id`](Self::client_id). A public test key.
    pub fn client_private_key_pem() -> &'static str {
        keys::CLIENT_KEY_PEM
    }

    /// Registers an exact redirect URI at runtime (apps often bind their
    /// port after starting the simulator).
    pub fn allow_redirect_uri(&self, uri: &str) {
        self.shared.lock().redirect_uris.insert(uri.to_owned());
    }

    /// Activates `fault`, in addition to those already active.
    pub fn add_fault(&self, fault: Fault) {
        tracing::debug!(?fault, "simulator: fault activated");
        let mut inner = self.shared.lock();
        if fault == Fault::RotatedKeys {
            inner.rotated = true;
        }
        if let Fault::GrantNotReady(n) = fault {
            inner.grants_not_ready = n;
        }
        inner.faults.add(fault);
    }

    /// Deactivates all faults. A key rotation stays published (see
    /// [`Fault::RotatedKeys`]).
    pub fn clear_faults(&self) {
        tracing::debug!("simulator: faults cleared");
        let mut inner = self.shared.lock();
        inner.faults.clear();
        inner.grants_not_ready = 0;
    }

    /// From now on BankID OIDC's JWKS publishes exactly `keys`: the public half of
    /// each bundled key under the given `kid`. This replaces the default set
    /// (`sim-1`, plus `sim-2` after [`Fault::RotatedKeys`]) and survives
    /// [`clear_faults`](Self::clear_faults). Which key *signs* is a separate
    /// choice ([`Fault::SignWith`]), so a test can remove a key that tokens
    /// are still signed with, or re-key under an old `kid`.
    pub fn publish_keys(&self, keys: &[(SigningKey, &str)]) {
        tracing::debug!(?keys, "simulator: published keys replaced");
        let keys = keys.iter().map(|(key, kid)| (*key, (*kid).to_owned())).collect();
        self.shared.lock().published_keys = Some(keys);
    }

    /// The `Cache-Control` header of JWKS responses from now on (e.g.
    /// `"max-age=300"`); `None` sends none (the default). A value that is not
    /// a valid header value is not sent.
    pub fn set_jwks_cache_control(&self, value: Option<&str>) {
        self.shared.lock().jwks_cache_control = value.map(str::to_owned);
    }

    /// From now on the discovery document of `which` issuer has `field` set
    /// to `value` (`null` included), as a provider that moves an endpoint,
    /// or a hostile document naming another `issuer`, does. Overrides
    /// accumulate (a later one for the same field wins) and survive
    /// [`clear_faults`](Self::clear_faults); the signing algorithm set with
    /// [`set_signing_algorithm`](Self::set_signing_algorithm) is overridden
    /// too when `field` is `id_token_signing_alg_values_supported`.
    pub fn override_discovery(&self, which: Issuer, field: &str, value: serde_json::Value) {
        let mut inner = self.shared.lock();
        inner.discovery_overrides.retain(|(w, f, _)| !(*w == which && f == field));
        inner.discovery_overrides.push((which, field.to_owned(), value));
    }

    /// Forgets every client-credentials access token issued so far (as if
    /// revoked, or expired early): BIB answers `401 invalid_token` to a
    /// relying party still holding one.
    pub fn revoke_client_tokens(&self) {
        self.shared.lock().client_tokens.clear();
    }

    /// The query parameters of the last `GET /authorize`, valid or not, so a
    /// test can assert what the relying party asked for (`login_hint`,
    /// `code_challenge_method`, `scope`, `nonce`, ...). A parameter given
    /// twice is recorded with its first value.
    pub fn last_authorize_params(&self) -> Option<BTreeMap<String, String>> {
        self.shared.lock().last_authorize_params.clone()
    }

    /// The form parameters of the last `POST /par`, valid or not, so a test
    /// can assert what the relying party pushed (`authorization_details`,
    /// `login_hint`, ...). `client_secret` and `client_assertion` are never
    /// recorded. A parameter given twice is recorded with its first value.
    pub fn last_par_params(&self) -> Option<BTreeMap<String, String>> {
        self.shared.lock().last_par_params.clone()
    }

    /// Decides how the phone of the user with [`TestUser::id`] `user_id`
    /// answers CIBA requests from now on. Requests already started keep the
    /// behaviour they started with. Default: [`CibaBehavior::Manual`].
    pub fn set_ciba_behavior(&self, user_id: &str, behavior: CibaBehavior) {
        tracing::debug!(user = user_id, ?behavior, "simulator: CIBA behaviour set");
        self.shared.lock().ciba_behaviors.insert(user_id.to_owned(), behavior);
    }

    /// Every CIBA request the simulator still remembers (expired ones for
    /// ten minutes), oldest first.
    pub fn ciba_requests(&self) -> Vec<CibaRequestInfo> {
        let now = Instant::now();
        let inner = self.shared.lock();
        let mut requests: Vec<_> = inner.ciba.iter().collect();
        requests.sort_by_key(|(_, request)| request.created);
        requests.into_iter().map(|(id, request)| request.info(id, now)).collect()
    }

    /// The user approves (`true`) or denies (`false`) the CIBA request
    /// `auth_req_id`, as on the phone page. Returns whether the request was
    /// pending; expired, decided and unknown requests are left as they are.
    pub fn ciba_decide(&self, auth_req_id: &str, approve: bool) -> bool {
        self.shared.lock().decide_ciba(auth_req_id, approve)
    }

    /// A logout token (OpenID Connect Back-Channel Logout 1.0 §2.4) for
    /// `subject`, signed with BankID OIDC's current key, audience this
    /// simulator's client, a fresh `jti` and a 120 s lifetime; with `fault`,
    /// broken in that one way. Post it with
    /// [`post_logout_token`](Self::post_logout_token) (twice, to replay it).
    pub fn logout_token(&self, subject: &LogoutSubject, fault: Option<LogoutTokenFault>) -> String {
        logout_token::mint(&self.shared, subject, fault)
    }

    /// Sends an honest back-channel logout for `subject` to `target_url`
    /// (the relying party's `backchannel_logout_uri`): `POST`,
    /// `application/x-www-form-urlencoded`, `logout_token=<JWT>` (§2.5).
    ///
    /// # Errors
    ///
    /// When the relying party cannot be reached (10 s timeout).
    pub async fn send_backchannel_logout(
        &self,
        subject: LogoutSubject,
        target_url: &str,
    ) -> Result<LogoutDelivery, reqwest::Error> {
        self.post_logout_token(target_url, &self.logout_token(&subject, None)).await
    }

    /// Like [`send_backchannel_logout`](Self::send_backchannel_logout) with
    /// a token broken by `fault`.
    ///
    /// # Errors
    ///
    /// When the relying party cannot be reached (10 s timeout).
    pub async fn send_faulty_backchannel_logout(
        &self,
        subject: LogoutSubject,
        fault: LogoutTokenFault,
        target_url: &str,
    ) -> Result<LogoutDelivery, reqwest::Error> {
        self.post_logout_token(target_url, &self.logout_token(&subject, Some(fault))).await
    }

    /// Posts `token` as a back-channel logout request to `target_url`.
    ///
    /// # Errors
    ///
    /// When the relying party cannot be reached (10 s timeout).
    pub async fn post_logout_token(&self, target_url: &str, token: &str) -> Result<LogoutDelivery, reqwest::Error> {
        logout_token::deliver(target_url, token).await
    }

    /// The users who can log in at this simulator, in the login form's
    /// order: the four built-in ones ([`Simulator::default_users`]), then
    /// those added with [`SimulatorBuilder::user`], in the order added. The
    /// list is fixed when the simulator starts.
    pub fn users(&self) -> Vec<TestUser> {
        self.shared.users.iter().map(|user| TestUser::clone(user)).collect()
    }

    /// The four built-in users every simulator starts with: Kari (BIS,
    /// LOA 3), Ola (BID, LOA 4), Per (BIS, only LOA 2: for testing that a
    /// relying party refuses a low LOA) and Nina (BID, LOA 4, no BankID with
    /// biometrics, so CIBA and `user-exists` cannot reach her). The first is
    /// the login page's default choice.
    pub fn default_users() -> &'static [TestUser] {
        &users::DEFAULT_USERS
    }

    /// Stops the server and waits (briefly) for requests in flight.
    pub async fn shutdown(mut self) {
        self.signal_shutdown();
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await.is_err()
        {
            server.abort();
        }
    }

    fn signal_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The servers may already be gone; then there is nothing to stop.
            let _ = shutdown.send(());
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.signal_shutdown();
    }
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("issuer", &self.shared.issuer)
            .field("bib_issuer", &self.shared.bib_issuer)
            .field("client_id", &self.shared.client_id)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Simulator`] before it starts.
#[derive(Clone)]
pub struct SimulatorBuilder {
    client_id: String,
    client_secret: String,
    redirect_uris: BTreeSet<String>,
    bind: SocketAddr,
    bib_bind: Option<SocketAddr>,
    advertise_par: bool,
    backchannel_logout: bool,
    echo_authorization_details: bool,
    ciba_interval: Duration,
    client_token_lifetime: Duration,
    jwks_cache_control: Option<String>,
    users: users::Users,
    signing_alg: SigningAlgorithm,
    faults: Vec<Fault>,
    public_url: Option<String>,
    bib_public_url: Option<String>,
    auto_approve: Option<String>,
}

impl Default for SimulatorBuilder {
    fn default() -> Self {
        SimulatorBuilder {
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            redirect_uris: BTreeSet::new(),
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            bib_bind: None,
            advertise_par: true,
            backchannel_logout: false,
            echo_authorization_details: false,
            ciba_interval: DEFAULT_CIBA_INTERVAL,
            client_token_lifetime: DEFAULT_CLIENT_TOKEN_LIFETIME,
            jwks_cache_control: None,
            users: users::Users::default(),
            signing_alg: SigningAlgorithm::default(),
            faults: Vec::new(),
            public_url: None,
            bib_public_url: None,
            auto_approve: None,
        }
    }
}

impl SimulatorBuilder {
    /// The client credentials the simulator accepts. Default:
    /// [`DEFAULT_CLIENT_ID`] / [`DEFAULT_CLIENT_SECRET`].
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client_id = id.into();
        self.client_secret = secret.into();
        self
    }

    /// Registers a redirect URI (exact match); call once per URI. Default:
    /// none, so every authorization request is refused until one is
    /// registered here or with [`Simulator::allow_redirect_uri`].
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.insert(uri.into());
        self
    }

    /// The address BankID OIDC listens on. Default: `127.0.0.1:0`, a free
    /// port on the loopback interface. BIB listens on a free port of the
    /// same IP address.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// The address of BIB's listener. Default: a free port on the address of
    /// [`bind`](Self::bind). Set it to run the simulator for a relying party
    /// configured by URL (e.g. `BANKID_BIB_ISSUER`).
    pub fn bib_bind(mut self, addr: SocketAddr) -> Self {
        self.bib_bind = Some(addr);
        self
    }

    /// Whether discovery names the PAR endpoint
    /// (`pushed_authorization_request_endpoint`). Default: `true`. With
    /// `false`, `/par` still works but a relying party reading discovery
    /// cannot find it — for testing "PAR required but not advertised".
    pub fn advertise_par(mut self, advertise: bool) -> Self {
        self.advertise_par = advertise;
        self
    }

    /// Whether BankID OIDC's discovery advertises back-channel logout
    /// (`backchannel_logout_supported` and
    /// `backchannel_logout_session_supported`, OpenID Connect Back-Channel
    /// Logout 1.0 §2.1), so that a relying party mounts its route. Default:
    /// `false`. Logout tokens are sent with
    /// [`Simulator::send_backchannel_logout`] either way.
    pub fn backchannel_logout(mut self, advertise: bool) -> Self {
        self.backchannel_logout = advertise;
        self
    }

    /// Whether the code-flow token response body also repeats the approved
    /// `authorization_details` (RFC 9396 §7), each item with its
    /// `permission_digest`. Default: `false`. BankID documents them inside
    /// the access token, where the simulator always puts them; whether its
    /// response body repeats them is unknown, so a relying party must not
    /// depend on it — turn this on to test one that reads them when present.
    pub fn echo_authorization_details(mut self, echo: bool) -> Self {
        self.echo_authorization_details = echo;
        self
    }

    /// The minimum interval between two polls of one CIBA request, announced
    /// as `interval` and enforced with `slow_down` (a poll up to 50 ms early
    /// still counts as on time, for network jitter). Rounded up to whole
    /// seconds, at least one. Default: [`DEFAULT_CIBA_INTERVAL`] (5 s).
    pub fn ciba_interval(mut self, interval: Duration) -> Self {
        self.ciba_interval = interval;
        self
    }

    /// How long client-credentials access tokens (the Bearer tokens of
    /// every BIB call) live; announced as `expires_in`, whole seconds.
    /// Default: [`DEFAULT_CLIENT_TOKEN_LIFETIME`] (300 s).
    pub fn client_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.client_token_lifetime = Duration::from_secs(lifetime.as_secs());
        self
    }

    /// The algorithm every token of both providers (ID tokens, access
    /// tokens, grants, logout tokens) is signed with, and the only one
    /// discovery advertises in `id_token_signing_alg_values_supported`.
    /// Default: [`SigningAlgorithm::Es256`], as BankID OIDC API v4 signs
    /// (BankID announces that RS256 is being replaced by ES256);
    /// [`SigningAlgorithm::Rs256`] for a relying party that still expects
    /// RSA keys. Either way every published key carries an `x5c` chain to
    /// [`Simulator::root_certificates_pem`].
    pub fn signing_algorithm(mut self, alg: SigningAlgorithm) -> Self {
        self.signing_alg = alg;
        self
    }

    /// A fault in effect from the simulator's first answer, as
    /// [`Simulator::add_fault`] after start would be — but before a relying
    /// party has read discovery or the keys. Faults in what the keys
    /// publish (their certificate chains, say) need that: a relying party
    /// checks keys when it loads them, not per token.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// The `Cache-Control` header of JWKS responses from the start (the
    /// relying party's first fetch included); see
    /// [`Simulator::set_jwks_cache_control`]. Default: none.
    pub fn jwks_cache_control(mut self, value: impl Into<String>) -> Self {
        self.jwks_cache_control = Some(value.into());
        self
    }

    /// BankID OIDC's issuer as the browser and the relying party reach it,
    /// when that is not the address it listens on: behind a compose
    /// network (`http://bankid-sim:4000`), a reverse proxy or a tunnel
    /// (`https://….example`). The issuer in discovery, in every token and in
    /// the callback's `iss`, and every endpoint in discovery, then hang off
    /// this URL (without its trailing slash); the simulator still listens on
    /// [`bind`](Self::bind). Unset, the issuer is `http://<bound address>`.
    ///
    /// [`start`](Self::start) refuses (`InvalidInput`) anything but an
    /// absolute `http`/`https` URL with a host and no user, path, query or
    /// fragment: the login and phone pages post to root paths
    /// (`/authorize`), so a prefix behind a proxy would not reach them.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let sim = axum_bankid_simulator::Simulator::builder().public_url("http://bankid-sim:4000/").start().await?;
    /// assert_eq!(sim.issuer(), "http://bankid-sim:4000");
    /// assert!(sim.addr().ip().is_loopback(), "it listens where it was bound");
    /// # Ok(())
    /// # }
    /// ```
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// BIB's issuer as the relying party reaches it, as
    /// [`public_url`](Self::public_url) is BankID OIDC's. Each is set on its
    /// own: BIB is another issuer on another port (another host name behind
    /// a tunnel), so nothing is derived from the other. Unset, BIB's issuer
    /// is `http://<BIB's bound address>`.
    pub fn bib_public_url(mut self, url: impl Into<String>) -> Self {
        self.bib_public_url = Some(url.into());
        self
    }

    /// Every login completes at once as the test user with this
    /// [`id`](TestUser::id), for headless end-to-end suites: `GET
    /// /authorize` answers with the redirect carrying the `code` (no login
    /// page), and a CIBA request for this user is approved at its first
    /// poll (a [`CibaBehavior::ApproveAfterPolls(0)`](CibaBehavior), until
    /// [`Simulator::set_ciba_behavior`] says otherwise). Only the page is
    /// skipped: a request the simulator refuses (no PKCE, `state` or
    /// `nonce`, an unregistered redirect URI, …) is refused as before, and
    /// a method the user lacks is an error, not a login as someone else.
    /// [`start`](Self::start) refuses (`InvalidInput`) an unknown id.
    pub fn auto_approve(mut self, user_id: impl Into<String>) -> Self {
        self.auto_approve = Some(user_id.into());
        self
    }

    /// Adds a user who can log in, after the built-in ones
    /// ([`Simulator::default_users`]) and those added before. Make it with
    /// [`TestUser::new`] or [`TestUser::builder`], which check its fields.
    ///
    /// ```
    /// use axum_bankid_simulator::{Simulator, TestUser};
    ///
    /// # fn main() -> Result<(), axum_bankid_simulator::UserError> {
    /// let ann = TestUser::builder("ann", "Ann Test", "31819012388", "1990-01-31").method("BID").build()?;
    /// let builder = Simulator::builder().user(ann)?;
    /// # let _ = builder;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`UserError::Duplicate`] when another user of this simulator has the
    /// same `id`, `sub`, `bankid_altsub` or `nnin` (a second user with a
    /// taken nnin could never be found by it). The builder is then dropped.
    pub fn user(mut self, user: TestUser) -> Result<Self, UserError> {
        self.users.add(user)?;
        Ok(self)
    }

    /// Binds both sockets (BankID OIDC's and BIB's) and serves in a
    /// background task of the current Tokio runtime.
    ///
    /// # Errors
    ///
    /// When a socket cannot be bound.
    pub async fn start(self) -> std::io::Result<Simulator> {
        let public_url = self.public_url.as_deref().map(|url| public_issuer("public_url", url)).transpose()?;
        let bib_public_url =
            self.bib_public_url.as_deref().map(|url| public_issuer("bib_public_url", url)).transpose()?;
        let auto_approve = self.auto_approve.as_deref().map(|id| auto_approved(&self.users, id)).transpose()?;
        let listener = TcpListener::bind(self.bind).await?;
        let addr = listener.local_addr()?;
        let bib_listener = TcpListener::bind(self.bib_bind.unwrap_or(SocketAddr::new(self.bind.ip(), 0))).await?;
        let bib_addr = bib_listener.local_addr()?;
        let shared = Arc::new(Shared::new(Settings {
            issuer: public_url.unwrap_or_else(|| issuer_for(addr)),
            bib_issuer: bib_public_url.unwrap_or_else(|| issuer_for(bib_addr)),
            client_token_lifetime: self.client_token_lifetime,
            client_id: self.client_id,
            client_secret: self.client_secret,
            redirect_uris: self.redirect_uris,
            advertise_par: self.advertise_par,
            backchannel_logout: self.backchannel_logout,
            echo_authorization_details: self.echo_authorization_details,
            ciba_interval: ciba::whole_seconds(self.ciba_interval),
            users: self.users,
            auto_approve,
            signing_alg: self.signing_alg,
        }));
        // Health checks are not captured: a compose file's probe every
        // second would crowd the protocol out of `requests()`.
        let oidc =
            endpoints::with_health(capturing(endpoints::oidc_router(Arc::clone(&shared)), &shared, Issuer::Oidc));
        let bib = endpoints::with_health(capturing(endpoints::bib_router(Arc::clone(&shared)), &shared, Issuer::Bib));
        shared.lock().jwks_cache_control = self.jwks_cache_control;
        if let Some(user) = &shared.auto_approve {
            // The phone approves at the first poll, as if the user were quick.
            shared.lock().ciba_behaviors.insert(user.id.clone(), CibaBehavior::ApproveAfterPolls(0));
        }
        let (shutdown, stopped) = watch::channel(());
        let server = tokio::spawn(async move {
            let (oidc, bib) = tokio::join!(
                serve(listener, oidc, stopped.clone(), "BankID OIDC"),
                serve(bib_listener, bib, stopped, "BIB")
            );
            let ((), ()) = (oidc, bib);
        });
        tracing::debug!(issuer = %shared.issuer, bib_issuer = %shared.bib_issuer, "simulator: started");
        let simulator = Simulator { shared, addr, bib_addr, shutdown: Some(shutdown), server: Some(server) };
        for fault in self.faults {
            simulator.add_fault(fault);
        }
        Ok(simulator)
    }
}

impl fmt::Debug for SimulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorBuilder")
            .field("client_id", &self.client_id)
            .field("redirect_uris", &self.redirect_uris)
            .field("bind", &self.bind)
            .field("advertise_par", &self.advertise_par)
            .field("backchannel_logout", &self.backchannel_logout)
            .field("echo_authorization_details", &self.echo_authorization_details)
            .field("ciba_interval", &self.ciba_interval)
            .field("client_token_lifetime", &self.client_token_lifetime)
            .field("signing_alg", &self.signing_alg)
            .field("public_url", &self.public_url)
            .field("bib_public_url", &self.bib_public_url)
            .field("auto_approve", &self.auto_approve)
            .field("users", &self.users.iter().map(|user| user.id()).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Wraps `router` so that every request it receives is captured first.
fn capturing(router: axum::Router, shared: &Arc<Shared>, issuer: Issuer) -> axum::Router {
    let capture = capture::Capture { log: Arc::clone(&shared.captured), issuer };
    router.layer(axum::middleware::from_fn_with_state(capture, capture::record))
}

/// Serves `app` until `stop` fires or its sender is dropped — so a leaked
/// handle cannot keep the server alive.
async fn serve(listener: TcpListener, app: axum::Router, mut stop: watch::Receiver<()>, name: &'static str) {
    let stopped = async move {
        let _ = stop.changed().await;
    };
    if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(stopped).await {
        tracing::warn!(%error, issuer = name, "simulator: server failed");
    }
}

/// `http://<addr>`; a wildcard bind address is named by its loopback
/// counterpart, the one address a local client can certainly reach.
fn issuer_for(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// A public URL as an issuer: an absolute `http` or `https` URL with a
/// host, no credentials, path, query or fragment, without its trailing
/// slash (issuers are compared as strings). `what` names the setting in the
/// error.
fn public_issuer(what: &str, url: &str) -> std::io::Result<String> {
    let invalid = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{what} {url:?}: {why}"));
    let parsed = url::Url::parse(url).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("must be an http or https URL"));
    }
    if !parsed.has_host() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("must name a host and no user"));
    }
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("must have no path, query or fragment"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// The user [`SimulatorBuilder::auto_approve`] names, which must exist.
fn auto_approved(users: &users::Users, id: &str) -> std::io::Result<Arc<TestUser>> {
    users.find(id).cloned().ok_or_else(|| {
        let known: Vec<&str> = users.iter().map(|user| user.id()).collect();
        let why = format!("auto_approve: no test user {id:?} (known: {})", known.join(", "));
        std::io::Error::new(std::io::ErrorKind::InvalidInput, why)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn start_refuses_an_unknown_auto_approve_user_and_a_bad_public_url() {
        let error = Simulator::builder().auto_approve("zed").start().await.expect_err("no such user");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(error.to_string(), r#"auto_approve: no test user "zed" (known: kari, ola, per, nina)"#);
        let error = Simulator::builder().bib_public_url("bib.test").start().await.expect_err("not a URL");
        assert_eq!(error.to_string(), r#"bib_public_url "bib.test": relative URL without a base"#);
    }

    #[test]
    fn a_public_url_is_an_issuer_without_trailing_slash() {
        assert_eq!(public_issuer("public_url", "https://bankid.example/").expect("valid"), "https://bankid.example");
        assert_eq!(public_issuer("public_url", "http://sim:4000").expect("valid"), "http://sim:4000");
        for (bad, why) in [
            ("sim:4000", "must be an http or https URL"),
            ("ftp://sim", "must be an http or https URL"),
            ("http://ann@sim", "must name a host and no user"),
            ("http://sim/oidc", "must have no path, query or fragment"),
            ("http://sim/?a=b", "must have no path, query or fragment"),
            ("http://sim/#top", "must have no path, query or fragment"),
            ("/relative", "relative URL without a base"),
        ] {
            let error = public_issuer("public_url", bad).expect_err(bad).to_string();
            assert_eq!(error, format!("public_url {bad:?}: {why}"), "{bad}");
        }
    }

    #[test]
    fn issuer_names_a_reachable_address() {
        let v4: SocketAddr = "0.0.0.0:8080".parse().expect("address");
        let v6: SocketAddr = "[::]:8080".parse().expect("address");
        let local: SocketAddr = "127.0.0.1:1234".parse().expect("address");
        assert_eq!(issuer_for(v4), "http://127.0.0.1:8080");
        assert_eq!(issuer_for(v6), "http://[::1]:8080");
        assert_eq!(issuer_for(local), "http://127.0.0.1:1234");
    }
}
