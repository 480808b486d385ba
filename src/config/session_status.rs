//! The session status route and idle expiry: how long a login lasts without
//! activity, and what the route that reports it shows.

use std::time::Duration;

use super::error::ConfigError;
use super::validate::validate_path;

const DEFAULT_SESSION_STATUS_PATH: &str = "/auth/bankid/session";

/// Idle expiry and the session status route (see
/// [`idle_timeout`](crate::BankIdConfigBuilder::idle_timeout) and
/// [`session_status_path`](crate::BankIdConfigBuilder::session_status_path)).
#[derive(Clone, Debug)]
pub(crate) struct SessionStatusSettings {
    /// Logged out after this long without an authenticated request; `None`:
    /// only `max_login_age` ends a login.
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) path: String,
    /// Whether the route shows who is logged in (`sub`).
    pub(crate) shows_identity: bool,
}

/// Checks the builder's values: an idle timeout from 1 second up to
/// `max_login_age` (a longer one would never apply), and a path of its own.
pub(super) fn session_status_settings(
    idle_timeout: Option<Duration>,
    path: Option<String>,
    shows_identity: bool,
    max_login_age: Duration,
    other_paths: [&String; 5],
) -> Result<SessionStatusSettings, ConfigError> {
    if let Some(idle) = idle_timeout
        && (idle < Duration::from_secs(1) || idle > max_login_age)
    {
        return Err(ConfigError::invalid("idle_timeout", "must be between 1 second and max_login_age"));
    }
    let path = validate_path("session_status_path", path, DEFAULT_SESSION_STATUS_PATH)?;
    if other_paths.contains(&&path) {
        return Err(ConfigError::invalid("session_status_path", "must differ from the layer's other routes"));
    }
    Ok(SessionStatusSettings { idle_timeout, path, shows_identity })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> [String; 5] {
        ["/login", "/callback", "/logout", "/backchannel", "/ciba"].map(str::to_owned)
    }

    fn settings(idle: Option<u64>, path: Option<&str>) -> Result<SessionStatusSettings, ConfigError> {
        let paths = paths();
        let others = [&paths[0], &paths[1], &paths[2], &paths[3], &paths[4]];
        let max_login_age = Duration::from_secs(3600);
        session_status_settings(idle.map(Duration::from_secs), path.map(str::to_owned), false, max_login_age, others)
    }

    #[test]
    fn the_idle_timeout_is_off_by_default_and_bounded_by_max_login_age() {
        let default = settings(None, None).unwrap();
        assert_eq!((default.idle_timeout, default.path.as_str()), (None, DEFAULT_SESSION_STATUS_PATH));
        assert_eq!(settings(Some(900), None).unwrap().idle_timeout, Some(Duration::from_secs(900)));
        for bad in [0, 3601] {
            let err = settings(Some(bad), None).unwrap_err();
            assert!(err.to_string().contains("idle_timeout"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_status_path_is_a_path_of_its_own() {
        for bad in ["/logout", "relative", "//evil.example"] {
            let err = settings(None, Some(bad)).unwrap_err();
            assert!(err.to_string().contains("session_status_path"), "{bad}: {err}");
        }
    }
}
