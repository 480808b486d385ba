//! Log a test user in from an app's own tests (feature `testing`; never
//! in a production build).
//!
//! [`TestLogin`] takes the path a browser takes, over HTTP, against the
//! embedded [simulator](axum_bankid_simulator): the app's own login route
//! (or any route that starts a login, e.g. one asking for a permission),
//! the simulator's login step — read as its documented JSON, not scraped —
//! the user's decision posted back as the simulator's form, and the app's
//! callback, which verifies the ID token like any other. There is no back
//! door: nothing is written into the session, so what logs a test user in
//! is exactly what logs a real one in. What comes back is what a request
//! needs: the `Cookie` header value (for `tower::ServiceExt::oneshot` on
//! the app's `Router`) or a `reqwest::Client` holding it in its jar (for
//! the served app).
//!
//! - **LOA**: [`TestLogin::loa`] asks the login route for LOA 3 or 4, as a
//!   step-up does (LOA 4 logs in with BankID High).
//! - **Recency**: [`TestLogin::auth_age`] makes the simulator issue an
//!   `auth_time` that long ago, to test `LoggedInWithin` routes.
//! - **Permissions**: [`TestLogin::start_at`] begins at the app's route that
//!   asks for one; the approval grants it, and [`LoggedIn::landing`] is the
//!   `Granted<P>` route to call. [`TestLogin::permission`] checks that the
//!   login asked for that type.
//! - **CIBA**: [`TestLogin::log_in_by_ciba`] starts at the app's public CIBA
//!   start route, approves on the simulated phone the request whose binding
//!   message the app shows, and reads the status route until it is logged
//!   in.
//! - **Failures** are [`TestLoginError`]s with a stable
//!   [`kind`](TestLoginError::kind); [`TestLogin::callback`] answers the
//!   app's response to the callback whatever it is, for tests of a refused
//!   or cancelled login. Lower down, [`AuthorizeStep`] and [`Decision`]
//!   drive the simulator's login step for an authorization URL you hold.
//!
//! The app must be served (the simulator sends the browser to its
//! callback) with the simulator's issuers, client and root certificate in
//! its configuration, and its callback allowed at the simulator
//! (`Simulator::allow_redirect_uri`). A `Router` served on a loopback
//! port and the same `Router` called with `oneshot` share their session
//! store, so either way of calling it sees the login. The manual's
//! [testing page](crate::docs::testing#testing-your-app) has a complete test
//! of a protected handler both ways.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use axum_bankid::step_up::{Loa4, LoggedInWithin, StepUp};
//! use axum_bankid::testing::TestLogin;
//! use axum_bankid::{BankIdConfig, BankIdLayer, Loa};
//! use axum_bankid_simulator::Simulator;
//! use tower_sessions::MemoryStore;
//!
//! async fn transfer(_user: StepUp<(Loa4, LoggedInWithin<300>)>) -> &'static str { "sent" }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::start().await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let base = format!("http://{}", listener.local_addr()?);
//! sim.allow_redirect_uri(&format!("{base}/auth/bankid/callback"));
//! let config = BankIdConfig::builder()
//!     .issuer(sim.issuer())
//!     .bib_issuer(sim.bib_issuer())
//!     .client_id(sim.client_id())
//!     .client_secret(sim.client_secret())
//!     .redirect_uri(format!("{base}/auth/bankid/callback"))
//!     .root_certificates_pem(sim.root_certificates_pem())
//!     .build()?;
//! let bankid = BankIdLayer::discover(config).await?.with_session_store(MemoryStore::default());
//! let app = Router::new().route("/transfer", get(transfer)).layer(bankid);
//! tokio::spawn(async move { axum::serve(listener, app).await });
//!
//! // Ola at LOA 4, just now: the route answers.
//! let fresh = TestLogin::new(&base, &sim).user("ola").loa(Loa::HIGH).client().await?;
//! let answer = fresh.get(format!("{base}/transfer")).send().await?;
//! assert_eq!(answer.text().await?, "sent");
//!
//! // The same login an hour ago is too old for LoggedInWithin<300>.
//! let stale = TestLogin::new(&base, &sim).user("ola").loa(Loa::HIGH).auth_age(Duration::from_secs(3600));
//! let stale = stale.client().await?;
//! let answer = stale.get(format!("{base}/transfer")).header("accept", "application/json").send().await?;
//! assert_eq!(answer.status(), 401);
//! # Ok(()) }
//! ```

mod authorize_step;
mod browser;
mod ciba;
mod error;
mod login;

pub use authorize_step::{AskedPermission, AuthorizeStep, Decision, OfferedUser};
pub use browser::Browser;
pub use error::{Step, TestLoginError};
pub use login::{CallbackVisit, LoggedIn, TestLogin};
