//! The per-layer state that routes and extractors work with: the shared
//! [`RelyingParty`] plus what one `BankIdLayer` mounts on top of it (the app's
//! error page, CIBA's store, policy and callback, the single-use store,
//! where login attempts are kept).
//!
//! Routes and extractors depend on this module; the login logic, the
//! Permission API and CIBA do not (they take a `RelyingParty`), so that the layer
//! that builds its router from them is not imported back.

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::Response;
use tower_sessions::SessionStore;

use crate::ciba::owner::Owners;
use crate::ciba::routes::CibaRoutes;
use crate::ciba::{Ciba, CibaCallback, CibaStore, PublicStartPolicy};
use crate::error::Error;
use crate::error::render::ErrorPages;
use crate::events::EventSink;
use crate::live_login::LiveLogins;
use crate::login::start::LoginStart;
use crate::login_cache::LoginCache;
use crate::login_hook::LoginHook;
use crate::permission::api::PermissionApi;
use crate::records::attempt::Attempts;
use crate::records::local_store::LocalStore;
use crate::records::logout_markers::LogoutMarkers;
use crate::records::single_use::SingleUseRecords;
use crate::relying_party::RelyingParty;

/// The handle routes and extractors work with: one `Arc`, so the copy that
/// `BankIdLayer` puts into every request's extensions is one refcount bump.
/// Derefs to [`LayerStateInner`].
#[derive(Clone)]
pub(crate) struct LayerState(Arc<LayerStateInner>);

/// What a [`LayerState`] holds.
#[derive(Clone)]
pub(crate) struct LayerStateInner {
    pub(crate) core: Arc<RelyingParty>,
    pub(crate) error_pages: ErrorPages,
    pub(crate) ciba_store: Option<Arc<CibaStore>>,
    /// The public start route's policy, when it is mounted.
    pub(crate) ciba_public_start: Option<Arc<PublicStartPolicy>>,
    pub(crate) ciba_callback: Option<CibaCallback>,
    /// Where single-use grants are marked used for every instance.
    pub(crate) grant_uses: Option<SingleUseRecords>,
    /// Where login attempts and this layer's other records are kept: the
    /// session store once the layer is told it, else this process's own.
    pub(crate) login_store: Arc<dyn SessionStore>,
    /// The app's login hook (`BankIdLayer::on_login`).
    pub(crate) on_login: Option<LoginHook>,
    /// The app's login event subscriber (`BankIdLayer::on_event`).
    pub(crate) events: Option<EventSink>,
    /// The verified-login cache, when the layer sees every session write
    /// (`BankIdLayer::with_session_store`) and the TTL is not zero.
    pub(crate) login_cache: Option<Arc<LoginCache>>,
}

impl std::ops::Deref for LayerState {
    type Target = LayerStateInner;

    fn deref(&self) -> &LayerStateInner {
        &self.0
    }
}

impl LayerState {
    /// A layer's state before any option is added.
    pub(crate) fn new(core: Arc<RelyingParty>) -> LayerState {
        LayerState(Arc::new(LayerStateInner {
            core,
            error_pages: ErrorPages::default(),
            ciba_store: None,
            ciba_public_start: None,
            ciba_callback: None,
            grant_uses: None,
            login_store: Arc::new(LocalStore::default()),
            on_login: None,
            events: None,
            login_cache: None,
        }))
    }

    /// This state with `change` applied (at set-up, by the layer's `with_*`).
    pub(crate) fn with(self, change: impl FnOnce(&mut LayerStateInner)) -> LayerState {
        let mut inner = Arc::unwrap_or_clone(self.0);
        change(&mut inner);
        LayerState(Arc::new(inner))
    }

    /// Renders an error: the app's handler if set, else the default page/JSON.
    pub(crate) fn error_response(&self, err: &Error, headers: &HeaderMap) -> Response {
        self.error_pages.render(err, headers)
    }

    /// The CIBA client, if CIBA is enabled on this layer.
    pub(crate) fn ciba(&self) -> Option<Ciba> {
        let store = self.ciba_store.clone()?;
        Some(Ciba::new(self.core.clone(), store, self.ciba_callback.clone()).with_events(self.events.clone()))
    }

    /// What CIBA's owner records need of this layer.
    pub(crate) fn ciba_owners(&self) -> Owners {
        Owners { core: self.core.clone(), records: records(self), ciba: self.ciba() }
    }

    /// This layer's login attempts (see [`Attempts`]).
    pub(crate) fn attempts(&self) -> Attempts<'_> {
        Attempts { records: records(self), config: self.core.config(), spent_ids: &self.core.spent_ids }
    }

    /// What starting a login needs of this layer (see [`LoginStart`]).
    pub(crate) fn login_start(&self) -> LoginStart<'_> {
        LoginStart { core: &self.core, attempts: self.attempts(), live_logins: self.live_logins() }
    }

    /// The policy this layer judges stored logins by (see [`LiveLogins`]);
    /// building it copies nothing.
    pub(crate) fn live_logins(&self) -> LiveLogins<'_> {
        LiveLogins { core: &self.core, records: &self.login_store, cache: self.login_cache.as_deref() }
    }

    /// This layer's back-channel logout markers.
    pub(crate) fn logout_markers(&self) -> LogoutMarkers {
        self.live_logins().markers()
    }

    /// The Permission API client at BIB.
    pub(crate) fn permission_api(&self) -> PermissionApi {
        PermissionApi::new(self.core.clone())
    }
}

/// The store where this layer's records are kept (login attempts, the
/// grants of permission logins, CIBA owners): the session store once the
/// layer is told it, else this process's own.
pub(crate) fn records(ctx: &LayerState) -> SingleUseRecords {
    SingleUseRecords::new(ctx.login_store.clone())
}

impl axum::extract::FromRef<LayerState> for CibaRoutes {
    fn from_ref(ctx: &LayerState) -> CibaRoutes {
        CibaRoutes {
            owners: ctx.ciba_owners(),
            public_start: ctx.ciba_public_start.clone(),
            error_pages: ctx.error_pages.clone(),
            on_login: ctx.on_login.clone(),
            events: ctx.events.clone(),
        }
    }
}
