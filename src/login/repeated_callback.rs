//! A callback URL repeated after its login completed: the Back button to
//! the provider's page that redirects again, a reload, a double submit.
//! The attempt is spent (see [`crate::records::attempt`]), so without this the user,
//! logged in, would see an error page.
//!
//! The completing callback remembers, in the session it logged in, which
//! attempt it was (a hash of its `state`), where it landed, until when (the
//! attempt's lifetime) and which login it made. A repeat of that URL is
//! sent to the same landing only while all of that still holds: the same
//! session, its login still the very one this attempt made and still live
//! (see [`crate::live_login`]). Nothing is exchanged, stored or rotated.
//! Any other browser — one that never had the state, or one where it
//! belongs to another attempt — has no such record and keeps getting
//! `unknown_state`, so a replayed URL logs nobody in anywhere.

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::clock::unix_now;
use crate::error::Error;
use crate::live_login::{LiveLogins, Stored};
use crate::records::activity::Touch;
use crate::records::single_use::record_id;
use crate::session::load_current_login;

const COMPLETED_KEY: &str = "axum_bankid.completed_callback";

/// What the session that a callback logged in remembers of it.
#[derive(Serialize, Deserialize)]
struct Completed {
    /// A hash of the attempt's `state` (the state itself is not kept).
    state_tag: String,
    /// Where the completed login sent the browser (with its flow, if any).
    landing: String,
    /// Unix seconds: the end of the attempt's lifetime.
    until: i64,
    /// The login this callback made (Unix milliseconds), as stored.
    logged_in_ms: i64,
}

/// Remembers that `state` logged this session in and landed at `landing`.
/// Call after the login is stored. A session that cannot take the note is
/// no failure of the login: a repeat then gets `unknown_state`, like any callback whose attempt is spent.
pub(crate) async fn remember(session: &Session, state: &str, landing: &str, until: i64) {
    let logged_in_ms = match load_current_login(session).await {
        Ok(Some(login)) => login.keys().logged_in_ms,
        Ok(None) | Err(_) => return,
    };
    let completed = Completed { state_tag: state_tag(state), landing: landing.to_owned(), until, logged_in_ms };
    let Ok(value) = serde_json::to_value(completed) else { return };
    if let Err(err) = session.insert_value(COMPLETED_KEY, value).await {
        tracing::debug!(error = %err, "could not remember the completed callback");
    }
}

/// Where a repeat of the completed callback for `state` goes, if this
/// session is the one that callback logged in and still holds that login.
pub(crate) async fn landing_of_repeat(
    live_logins: &LiveLogins<'_>,
    session: &Session,
    state: &str,
) -> Result<Option<String>, Error> {
    let Some(completed) = read(session).await? else { return Ok(None) };
    if completed.state_tag != state_tag(state) || completed.until < unix_now() {
        return Ok(None);
    }
    match live_logins.load(session, Touch::Keep).await? {
        Stored::Live { logged_in_ms, .. } if logged_in_ms == completed.logged_in_ms => {
            tracing::debug!("a completed callback repeated: landing again, nothing exchanged");
            Ok(Some(completed.landing))
        }
        Stored::Live { .. } | Stored::Dead | Stored::Absent => Ok(None),
    }
}

async fn read(session: &Session) -> Result<Option<Completed>, Error> {
    let value = session.get_value(COMPLETED_KEY).await.map_err(|err| {
        tracing::error!(error = %err, "session store failed");
        Error::Session(crate::error::Cause::from_error(err))
    })?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}

/// A hash of `state`, in the same domain-separated form as record ids.
fn state_tag(state: &str) -> String {
    record_id(state, "completed-callback").to_string()
}
