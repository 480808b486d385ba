//! Whether the login stored in a session still counts: the one policy the
//! extractors apply on every request, shared with everything else that acts
//! on "the logged-in user" — the identity lock of step-up and permission
//! logins, and the repeated-callback landing. A login that is too old, below
//! the current minimum LOA or ended by a back-channel logout is nobody's:
//! it neither logs anyone in nor binds a new login to its person.
//!
//! The extractors read through the verified-login cache when the layer has
//! one ([`LiveLogins::current`]): a copy answers without the store, and
//! every other check is made on it as on a login read from the store.

use crate::clock::{unix_now, unix_now_ms};
use crate::error::Error;
use crate::login_cache::{CachedLogin, LoginCache};
use crate::records::activity::{Activity, Idle, Standing, Touch, standing};
use crate::records::logout_markers::LogoutMarkers;
use crate::records::single_use::SingleUseRecords;
use crate::relying_party::RelyingParty;
use crate::session::{CurrentLogin, load_current_login, load_login_value};
use crate::user::AuthenticatedUser;
use std::sync::Arc;
use std::time::Duration;

use tower_sessions::session::Id;
use tower_sessions::{Session, SessionStore};

/// What the session holds, judged by [`LiveLogins::check`].
pub(crate) enum Stored {
    /// No login at all.
    Absent,
    /// A login that no longer counts (too old, too low, logged out).
    Dead,
    /// A login that counts, when it was made (Unix milliseconds: which
    /// login this is), when `max_login_age` ends it (Unix seconds), and when
    /// it ends if idle from now on (Unix milliseconds; with an idle timeout).
    Live { user: AuthenticatedUser, logged_in_ms: i64, ends_at: i64, idle_until_ms: Option<i64> },
}

impl Stored {
    /// The live user, if any.
    pub(crate) fn into_user(self) -> Option<AuthenticatedUser> {
        match self {
            Stored::Live { user, .. } => Some(user),
            Stored::Absent | Stored::Dead => None,
        }
    }
}

/// What a layer judges stored logins by: its configuration and provider,
/// its back-channel logout markers, its activity records when an idle
/// timeout is set, and its verified-login cache when it has one (made by
/// `LayerState::live_logins`).
pub(crate) struct LiveLogins<'a> {
    pub(crate) core: &'a RelyingParty,
    /// Where the markers and activity records are (the layer's login store).
    pub(crate) records: &'a Arc<dyn SessionStore>,
    pub(crate) cache: Option<&'a LoginCache>,
}

impl LiveLogins<'_> {
    /// The layer's back-channel logout markers (made when a check needs
    /// them: a cache hit does not).
    pub(crate) fn markers(&self) -> LogoutMarkers {
        LogoutMarkers::new(Arc::clone(self.records), self.core.config(), self.core.record_key)
    }

    /// The layer's activity records, when an idle timeout is set.
    pub(crate) fn activity(&self) -> Option<Activity> {
        self.idle_timeout().map(|timeout| self.activity_for(timeout))
    }

    fn activity_for(&self, timeout: Duration) -> Activity {
        Activity { records: SingleUseRecords::new(Arc::clone(self.records)), key: self.core.record_key, timeout }
    }

    fn idle_timeout(&self) -> Option<Duration> {
        self.core.config().session_status.idle_timeout
    }

    /// Reads the session's login from the store and judges it; with
    /// [`Touch::Extend`] (an authenticated request) a live login's idle
    /// deadline moves on.
    pub(crate) async fn load(&self, session: &Session, touch: Touch) -> Result<Stored, Error> {
        match load_current_login(session).await? {
            None => Ok(Stored::Absent),
            Some(login) => self.check(&login, touch).await,
        }
    }

    /// The extractors' read: from the cache when it holds a fresh copy of
    /// the session's login, else from the store, then kept in the cache
    /// when the read took its ticket (see `login_cache`). Extends the idle
    /// deadline as [`load`](Self::load) does.
    pub(crate) async fn current(&self, session: &Session) -> Result<Stored, Error> {
        // Degraded, the markers are read on every request (see `check`).
        let cached = self.cache.filter(|_| self.core.is_ready()).zip(session.id());
        let Some((cache, id)) = cached else { return self.load(session, Touch::Extend).await };
        if let Some(entry) = cache.get(&id) {
            return self.check_cached(cache, &id, &entry).await;
        }
        let Some(value) = load_login_value(session).await? else { return Ok(Stored::Absent) };
        // Only a read that took its ticket may be kept: identify its value then.
        let keep = cache.ticket_for(id).map(|ticket| (ticket, cache.login_value(&value)));
        let Some(login) = CurrentLogin::from_value(value) else { return Ok(Stored::Absent) };
        let stored = self.check(&login, Touch::Extend).await?;
        if let (Stored::Live { idle_until_ms, .. }, Some((ticket, stored_value))) = (&stored, keep) {
            let last_active_ms = self.last_active_from(*idle_until_ms);
            cache.insert(ticket, login, stored_value, last_active_ms);
        }
        Ok(stored)
    }

    /// Judges a stored login by the current policy: the minimum LOA (it may
    /// have been raised since), `max_login_age`, back-channel logouts, and
    /// the idle timeout (checked last: only a login that counts otherwise is
    /// extended).
    pub(crate) async fn check(&self, login: &CurrentLogin, touch: Touch) -> Result<Stored, Error> {
        if !self.within_policy(login) {
            return Ok(Stored::Dead);
        }
        // One store read (two concurrent with `sid`), only while the provider
        // sends back-channel logouts, or while this instance runs degraded and
        // cannot know (other instances may have recorded some); see
        // `records::logout_markers`.
        let core = self.core;
        let logouts_possible = core.oidc().metadata.backchannel_logout_supported || !core.is_ready();
        if logouts_possible && self.markers().is_logged_out(login.keys()).await? {
            tracing::info!("stored login was ended by a back-channel logout");
            return Ok(Stored::Dead);
        }
        let idle_until_ms = match self.activity() {
            None => None,
            Some(activity) => match self.idle(&activity, login, touch).await? {
                Idle::Until(ms) => Some(ms),
                Idle::Expired => return Ok(Stored::Dead),
            },
        };
        Ok(self.live(login, idle_until_ms))
    }

    /// A cached login, judged as [`check`](Self::check) judges a stored one
    /// except for the back-channel logout markers: those received here
    /// dropped the copy already, those of other instances are seen when it
    /// goes stale. The idle deadline is taken from the copy while it needs
    /// no write (the same rule as on the store's record, [`standing`]),
    /// else from the store, as without the cache.
    async fn check_cached(&self, cache: &LoginCache, id: &Id, entry: &CachedLogin) -> Result<Stored, Error> {
        let login = &entry.login;
        if !self.within_policy(login) {
            cache.forget(id);
            return Ok(Stored::Dead);
        }
        let idle_until_ms = match self.idle_timeout() {
            None => None,
            Some(timeout) => match standing(timeout, entry.last_active_ms(), unix_now_ms(), Touch::Extend) {
                Standing::Until(ms) => Some(ms),
                // Due a move, or idle as far as this instance knows (another
                // may have seen activity): the store's record decides.
                Standing::Due | Standing::Expired => {
                    match self.idle(&self.activity_for(timeout), login, Touch::Extend).await? {
                        Idle::Until(ms) => {
                            entry.active_at(self.last_active_from(Some(ms)));
                            Some(ms)
                        }
                        Idle::Expired => {
                            cache.forget(id);
                            return Ok(Stored::Dead);
                        }
                    }
                }
            },
        };
        Ok(self.live(login, idle_until_ms))
    }

    fn live(&self, login: &CurrentLogin, idle_until_ms: Option<i64>) -> Stored {
        let (logged_in_ms, ends_at) = (login.keys().logged_in_ms, self.ends_at(login));
        Stored::Live { user: login.user.clone(), logged_in_ms, ends_at, idle_until_ms }
    }

    /// When `max_login_age` ends `login` (Unix seconds): the one rule for
    /// the check below and for what the session status route shows.
    fn ends_at(&self, login: &CurrentLogin) -> i64 {
        let max_age = i64::try_from(self.core.config().max_login_age.as_secs()).unwrap_or(i64::MAX);
        login.logged_in_at.saturating_add(max_age)
    }

    /// The checks that need nothing but the login and the configuration:
    /// the current minimum LOA and `max_login_age`.
    fn within_policy(&self, login: &CurrentLogin) -> bool {
        let config = self.core.config();
        if crate::loa::require_minimum(Some(login.user.loa), config.minimum_loa).is_err() {
            tracing::debug!(loa = login.user.loa.get(), "stored login is below the current minimum LOA");
            return false;
        }
        if unix_now() > self.ends_at(login) {
            tracing::debug!("stored login is older than max_login_age");
            return false;
        }
        true
    }

    /// The login's standing against the idle timeout, from its activity record.
    async fn idle(&self, activity: &Activity, login: &CurrentLogin, touch: Touch) -> Result<Idle, Error> {
        let idle = activity.check(&login.keys(), unix_now_ms(), touch).await;
        let idle = idle.map_err(crate::records::attempt::store_error)?;
        if idle == Idle::Expired {
            tracing::info!("stored login ended after the idle timeout");
        }
        Ok(idle)
    }

    /// The last activity a deadline stands for (0 without an idle timeout).
    fn last_active_from(&self, idle_until_ms: Option<i64>) -> i64 {
        match (self.idle_timeout(), idle_until_ms) {
            (Some(timeout), Some(until)) => until.saturating_sub(timeout.as_millis() as i64),
            _ => 0,
        }
    }
}
