//! Whether the login stored in a session still counts: the one policy the
//! extractors apply on every request, shared with everything else that acts
//! on "the logged-in user" — the identity lock of step-up and permission
//! logins, and the repeated-callback landing. A login that is too old, below
//! the current minimum LOA or ended by a back-channel logout is nobody's:
//! it neither logs anyone in nor binds a new login to its person.

use crate::clock::unix_now;
use crate::error::Error;
use crate::records::activity::{Activity, Idle, Touch};
use crate::records::logout_markers::LogoutMarkers;
use crate::relying_party::RelyingParty;
use crate::session::{CurrentLogin, load_current_login};
use crate::user::AuthenticatedUser;
use tower_sessions::Session;

/// What the session holds, judged by [`check`].
pub(crate) enum Stored {
    /// No login at all.
    Absent,
    /// A login that no longer counts (too old, too low, logged out).
    Dead,
    /// A login that counts (boxed: the other variants are empty), when it
    /// was made (Unix milliseconds: which login this is), and when it ends
    /// if idle from now on (Unix milliseconds; with an idle timeout).
    Live { user: Box<AuthenticatedUser>, logged_in_ms: i64, idle_until_ms: Option<i64> },
}

impl Stored {
    /// The live user, if any.
    pub(crate) fn into_user(self) -> Option<AuthenticatedUser> {
        match self {
            Stored::Live { user, .. } => Some(*user),
            Stored::Absent | Stored::Dead => None,
        }
    }
}

/// What a layer judges stored logins by: its configuration and provider,
/// its back-channel logout markers, and its activity records when an idle
/// timeout is set (made by `LayerState::live_logins`).
pub(crate) struct LiveLogins<'a> {
    pub(crate) core: &'a RelyingParty,
    pub(crate) markers: LogoutMarkers,
    pub(crate) activity: Option<Activity>,
}

impl LiveLogins<'_> {
    /// Reads the session's login and judges it; with [`Touch::Extend`] (an
    /// authenticated request) a live login's idle deadline moves on.
    pub(crate) async fn load(&self, session: &Session, touch: Touch) -> Result<Stored, Error> {
        match load_current_login(session).await? {
            None => Ok(Stored::Absent),
            Some(login) => self.check(login, touch).await,
        }
    }

    /// Judges a stored login by the current policy: the minimum LOA (it may
    /// have been raised since), `max_login_age`, back-channel logouts, and
    /// the idle timeout (checked last: only a login that counts otherwise is
    /// extended).
    pub(crate) async fn check(&self, login: CurrentLogin, touch: Touch) -> Result<Stored, Error> {
        let core = self.core;
        let config = core.config();
        if crate::loa::require_minimum(Some(login.user.loa), config.minimum_loa).is_err() {
            tracing::debug!(loa = login.user.loa.get(), "stored login is below the current minimum LOA");
            return Ok(Stored::Dead);
        }
        if unix_now() - login.logged_in_at > config.max_login_age.as_secs() as i64 {
            tracing::debug!("stored login is older than max_login_age");
            return Ok(Stored::Dead);
        }
        // One store read (two concurrent with `sid`), only while the provider
        // sends back-channel logouts, or while this instance runs degraded and
        // cannot know (other instances may have recorded some); see
        // `records::logout_markers`.
        let logouts_possible = core.oidc().metadata.backchannel_logout_supported || !core.is_ready();
        if logouts_possible && self.markers.is_logged_out(login.keys()).await? {
            tracing::info!("stored login was ended by a back-channel logout");
            return Ok(Stored::Dead);
        }
        let idle_until_ms = match &self.activity {
            None => None,
            Some(activity) => {
                let idle = activity.check(&login.keys(), crate::clock::unix_now_ms(), touch).await;
                match idle.map_err(crate::records::attempt::store_error)? {
                    Idle::Until(ms) => Some(ms),
                    Idle::Expired => {
                        tracing::info!("stored login ended after the idle timeout");
                        return Ok(Stored::Dead);
                    }
                }
            }
        };
        let logged_in_ms = login.keys().logged_in_ms;
        Ok(Stored::Live { user: Box::new(login.user), logged_in_ms, idle_until_ms })
    }
}
