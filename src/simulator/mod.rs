//! An embedded BankID OpenID Provider for tests, examples and local
//! development.
//!
//! The real BankID cannot be reached from CI, and its test environment needs
//! a registered client and a phone. The simulator speaks the same OpenID
//! Connect dialect instead — Authorization Code flow with PKCE (S256 only),
//! `acr` values such as `urn:bankid:bis;LOA=3`, `login_hint=BIS`/`BID`, the
//! RFC 9207 `iss` response parameter — on `127.0.0.1`, with a handful of
//! [synthetic users](TestUser). Point a relying party at
//! [`Simulator::issuer`] exactly as it would point at BankID's discovery
//! document.
//!
//! It is a *strict* provider: exact redirect URIs, single-use codes,
//! mandatory `state` and PKCE, one client authentication method per request.
//! A relying party that works against it has no slack that BankID would
//! catch later. To prove that a relying party also *rejects* what it must,
//! inject a [`Fault`]: a wrong audience, an expired token, a rotated key, a
//! mix-up `iss`, a slow or failing token endpoint, and more.
//!
//! The signing keys are committed, public test keys. **Never** enable the
//! `simulator` feature in a production build.
//!
//! # Example
//!
//! ```
//! use axum_bankid::simulator::{Fault, Simulator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let sim = Simulator::builder()
//!     .redirect_uri("http://127.0.0.1:3000/auth/callback")
//!     .start()
//!     .await?;
//! // Configure the relying party with these three values.
//! let (issuer, client_id, client_secret) = (sim.issuer(), sim.client_id(), sim.client_secret());
//! assert!(issuer.starts_with("http://127.0.0.1:"));
//! # let _ = (client_id, client_secret);
//!
//! // Every ID token from now on claims only LOA 2, whoever logs in.
//! sim.set_fault(Fault::LowAcr);
//!
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Endpoints
//!
//! | path | purpose |
//! |---|---|
//! | `/.well-known/openid-configuration` | discovery |
//! | `/authorize` | login page (`GET`) and the user's decision (`POST`) |
//! | `/token` | code exchange, `client_secret_basic` or `client_secret_post` |
//! | `/userinfo` | the user's claims for a Bearer access token |
//! | `/jwks` | public signing keys |
//! | `/logout` | RP-initiated logout |
//!
//! The login page is a plain HTML form without JavaScript, so tests can log
//! in with any HTTP client: `GET` the authorization URL, read the hidden
//! `request` field and `POST` it back to `/authorize` with `user=kari` (see
//! [`Simulator::users`]) and `decision=approve` or `decision=deny`.

mod endpoints;
mod faults;
mod id_token;
mod keys;
mod pages;
mod state;
mod users;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::Fault;
pub use users::TestUser;

use state::Shared;

/// The client id a simulator accepts unless [`SimulatorBuilder::client`]
/// says otherwise.
pub const DEFAULT_CLIENT_ID: &str = "sim-client";

/// The client secret a simulator accepts unless [`SimulatorBuilder::client`]
/// says otherwise. Public, for tests only.
pub const DEFAULT_CLIENT_SECRET: &str = "sim-secret";

/// How long [`Simulator::shutdown`] lets requests in flight finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running simulated BankID provider.
///
/// The server runs on the Tokio runtime that started it and stops when this
/// handle is dropped or [`shut down`](Simulator::shutdown).
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
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

    /// The issuer identifier, `http://127.0.0.1:<port>`, without a trailing
    /// slash. The discovery document is at
    /// `{issuer}/.well-known/openid-configuration`.
    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// The URL of the discovery document.
    pub fn discovery_url(&self) -> String {
        format!("{}{}", self.shared.issuer, endpoints::DISCOVERY_PATH)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
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

    /// Registers one more redirect URI, compared by exact string match.
    ///
    /// For applications that learn their own port only after the simulator
    /// is running.
    pub fn allow_redirect_uri(&self, uri: &str) {
        self.shared.lock().redirect_uris.insert(uri.to_owned());
    }

    /// Activates `fault`, in addition to those already active.
    pub fn set_fault(&self, fault: Fault) {
        tracing::debug!(?fault, "simulator: fault activated");
        let mut inner = self.shared.lock();
        if fault == Fault::RotatedKeys {
            inner.rotated = true;
        }
        inner.faults.add(fault);
    }

    /// Deactivates all faults. A key rotation stays published (see
    /// [`Fault::RotatedKeys`]).
    pub fn clear_faults(&self) {
        tracing::debug!("simulator: faults cleared");
        self.shared.lock().faults.clear();
    }

    /// How many times `/jwks` has been requested.
    pub fn jwks_requests(&self) -> usize {
        self.shared.jwks_requests.load(Ordering::SeqCst)
    }

    /// How many times `/token` has been requested, successful or not.
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// The query parameters of the last `GET /authorize`, valid or not, so a
    /// test can assert what the relying party asked for (`login_hint`,
    /// `code_challenge_method`, `scope`, `nonce`, ...). A parameter given
    /// twice is recorded with its first value.
    pub fn last_authorize_params(&self) -> Option<BTreeMap<String, String>> {
        self.shared.lock().last_authorize_params.clone()
    }

    /// The users who can log in; the login form offers all of them.
    pub fn users() -> &'static [TestUser] {
        &users::USERS
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
            // The server may already be gone; then there is nothing to stop.
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
}

impl Default for SimulatorBuilder {
    fn default() -> Self {
        SimulatorBuilder {
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            redirect_uris: BTreeSet::new(),
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
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

    /// The address to listen on. Default: `127.0.0.1:0`, a free port on the
    /// loopback interface.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Binds the socket and serves in a background task of the current Tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// When the socket cannot be bound.
    pub async fn start(self) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind(self.bind).await?;
        let addr = listener.local_addr()?;
        let issuer = issuer_for(addr);
        let shared = Arc::new(Shared::new(issuer, self.client_id, self.client_secret, self.redirect_uris));
        let app = endpoints::router(Arc::clone(&shared));
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            // A dropped sender also ends the wait, so a leaked handle cannot
            // keep the server alive.
            let stop = async {
                let _ = stopped.await;
            };
            if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
                tracing::warn!(%error, "simulator: server failed");
            }
        });
        tracing::debug!(issuer = %shared.issuer, "simulator: started");
        Ok(Simulator { shared, addr, shutdown: Some(shutdown), server: Some(server) })
    }
}

impl fmt::Debug for SimulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorBuilder")
            .field("client_id", &self.client_id)
            .field("redirect_uris", &self.redirect_uris)
            .field("bind", &self.bind)
            .finish_non_exhaustive()
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

#[cfg(test)]
mod tests {
    use super::*;

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
