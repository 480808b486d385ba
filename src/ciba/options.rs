//! [`CibaOptions`]: everything CIBA needs, given to the layer in one call,
//! so that no option can be set before CIBA is enabled.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tower_sessions::SessionStore;

use super::deliver::{CibaCallback, CibaFinished};
use super::public_start::PublicCibaStart;

/// CIBA's settings for [`BankIdLayer::with_ciba`](crate::BankIdLayer::with_ciba):
/// the store for pending requests, and optionally the public start route
/// and a callback for every outcome.
///
/// ```
/// # use axum_bankid::{BankIdConfig, BankIdLayer};
/// # use axum_bankid::ciba::{CibaFinished, CibaOptions, PublicCibaStart};
/// # use axum_bankid_simulator::Simulator;
/// # use tower_sessions::MemoryStore;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sim = Simulator::start().await?;
/// # let config = BankIdConfig::builder().issuer(sim.issuer()).bib_issuer(sim.bib_issuer())
/// #     .client_id(sim.client_id()).client_secret(sim.client_secret())
/// #     .redirect_uri("http://127.0.0.1:3000/auth/bankid/callback").build()?;
/// # let layer = BankIdLayer::discover(config).await?;
/// let layer = layer.with_ciba(
///     CibaOptions::new(MemoryStore::default())
///         .public_start(PublicCibaStart::new())
///         .callback(|finished: CibaFinished| async move {
///             match finished.result {
///                 Ok(user) => tracing::info!(loa = user.loa.get(), "approved"),
///                 Err(err) => tracing::info!(reason = err.kind(), "use the backup path"),
///             }
///         }),
/// )?;
/// # assert!(layer.ciba().is_some());
/// # Ok(()) }
/// ```
#[must_use]
pub struct CibaOptions {
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) public_start: Option<PublicCibaStart>,
    pub(crate) callback: Option<CibaCallback>,
}

impl fmt::Debug for CibaOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CibaOptions")
            .field("public_start", &self.public_start)
            .field("callback", &self.callback.is_some())
            .finish_non_exhaustive()
    }
}

impl CibaOptions {
    /// CIBA with pending requests kept in `store` — use the same store as
    /// the sessions (Redis when several instances share the work). Only the
    /// status routes are mounted (`GET {ciba_path}/{handle}` and
    /// `.../events`), and outcomes are read through them or
    /// [`Ciba::wait`](crate::ciba::Ciba::wait).
    pub fn new<S: SessionStore>(store: S) -> Self {
        CibaOptions { store: Arc::new(store), public_start: None, callback: None }
    }

    /// Also mounts `POST {ciba_path}` (`{"nnin": "..."}` → `202` with
    /// `handle`, `binding_message: null` and `expires_in`, the longest the
    /// request can live), for devices that start CIBA themselves, like the
    /// TV page of the `ciba` example. The route answers *before* BIB is
    /// asked, the same for every well-formed, admitted number; the status
    /// routes then say `pending` with BankID's `binding_message` once BIB
    /// has made it (show it on the device), or `failed`.
    ///
    /// **This sends a push to whoever the number names, for anyone who can
    /// reach the route.** So, by default, the device that started a request
    /// is *not* logged in when it is approved — it learns only that it was
    /// (opt in with [`PublicCibaStart::log_in_starting_session`] for devices
    /// that belong to the approving user); "not enrolled", "unknown user" and
    /// "app unavailable" all read `{"status":"failed","error":"ciba_unavailable"}`;
    /// starts are rate-limited per identity number and per client address
    /// (`429` with `Retry-After`), and at most
    /// [`max_starts_in_flight`](PublicCibaStart::max_starts_in_flight) wait
    /// for BIB at once (`503 busy`). See [`PublicCibaStart`] for the limits;
    /// limits out of range make [`with_ciba`](crate::BankIdLayer::with_ciba)
    /// fail with `config_error`.
    pub fn public_start(mut self, start: PublicCibaStart) -> Self {
        self.public_start = Some(start);
        self
    }

    /// Hands every CIBA outcome to `handler` — the verified user, or the
    /// [`CibaError`](crate::error::CibaError) to route to your backup path — for
    /// flows where no device waits on the status routes (a call centre, a
    /// 3-D Secure check done by the server).
    ///
    /// One background task per layer then polls the requests this instance
    /// started, each no sooner than the provider allows; status reads and
    /// [`Ciba::wait`](crate::ciba::Ciba::wait) keep working alongside. The handler
    /// runs on its own task, once per request, on the instance that records
    /// the outcome (deploy every instance with the same callback). Treat
    /// [`CibaFinished::handle`] as an idempotency key all the same: the store
    /// is not transactional. A request whose instance stopped is finished by
    /// the next status read on any instance.
    pub fn callback<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(CibaFinished) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.callback = Some(CibaCallback::new(handler));
        self
    }
}
