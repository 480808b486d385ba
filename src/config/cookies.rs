//! The session cookie policy: [`BankIdConfig::session_layer`].

use tower_sessions::{SessionManagerLayer, SessionStore, cookie::SameSite};

use super::settings::BankIdConfig;
use crate::RotationSafeStore;

impl BankIdConfig {
    /// A [`SessionManagerLayer`] whose cookie works with the BankID redirect:
    /// `SameSite=Lax` (tower-sessions defaults to `Strict`, and a Strict
    /// cookie is not sent on the provider's cross-site redirect back to the
    /// callback, so the login state would be lost), `HttpOnly`, `Path=/`, and
    /// `Secure` with the `__Host-` name prefix whenever the redirect URI is
    /// HTTPS, and an inactivity expiry of
    /// [`max_login_age`](crate::BankIdConfigBuilder::max_login_age) so sessions do
    /// not live for tower-sessions' default two weeks. Use a store that
    /// deletes expired records (e.g. Redis); `MemoryStore` is for tests and demos.
    ///
    /// It also makes `store` the home of login attempts: each is its own
    /// record there, living for
    /// [`login_attempt_ttl`](crate::BankIdConfigBuilder::login_attempt_ttl), so
    /// starting a login creates no session (see
    /// [`BankIdLayer::with_login_store`](crate::BankIdLayer::with_login_store)
    /// for session layers built otherwise).
    ///
    /// The store is wrapped in a [`RotationSafeStore`], so a login whose
    /// session write fails leaves the login the session had.
    pub fn session_layer<S: SessionStore + Clone>(&self, store: S) -> SessionManagerLayer<RotationSafeStore<S>> {
        let https = self.redirect_uri.scheme() == "https";
        let name = if https { "__Host-bankid-session" } else { "bankid-session" };
        let inactivity = tower_sessions::cookie::time::Duration::seconds(self.max_login_age.as_secs() as i64);
        // Login attempts live in the same store, outside the session record.
        self.login_store.set(std::sync::Arc::new(store.clone()));
        SessionManagerLayer::new(RotationSafeStore::new(store))
            .with_expiry(tower_sessions::Expiry::OnInactivity(inactivity))
            .with_name(name)
            .with_same_site(SameSite::Lax)
            .with_http_only(true)
            .with_path("/")
            .with_secure(https)
    }
}
