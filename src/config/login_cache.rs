//! The verified-login cache's settings: how long an instance may answer
//! from its own copy of a login, and how much it may keep.

use std::time::Duration;

use super::error::ConfigError;

/// Two seconds: long enough that a page and the requests it makes at once
/// (its scripts, its API calls) read the store once, short enough that a
/// logout on another instance sharing the store — or a back-channel logout
/// it received — reaches this one before a person could act on the page
/// they were logged out of. One instance is exact at any value.
const DEFAULT_TTL: Duration = Duration::from_secs(2);
/// The longest copy the builder allows: staleness across instances beyond
/// a minute is no cache but a second session lifetime.
const MAX_TTL: Duration = Duration::from_secs(60);
const DEFAULT_MAX_ENTRIES: usize = 50_000;
/// 64 MiB: each login is charged three times its stored value (the value,
/// the claims a handler may decode, the user's fields), 4–10 kB, so this
/// holds some 7,000–16,000 logins.
const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;
const MIN_MAX_BYTES: usize = 64 * 1024;
/// Fewer logins than the requests of one page is no cache; and each entry
/// must weigh well under the bound for the bound to hold it.
const MIN_MAX_ENTRIES: usize = 16;

/// The cache's bounds (see
/// [`login_cache_ttl`](crate::BankIdConfigBuilder::login_cache_ttl)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoginCacheSettings {
    /// How long a copy answers without the store; zero: no cache.
    pub(crate) ttl: Duration,
    pub(crate) max_entries: usize,
    pub(crate) max_bytes: usize,
}

/// Checks the builder's values: a time to live up to a minute (zero turns
/// the cache off), at least 16 entries and 64 KiB.
pub(super) fn login_cache_settings(
    ttl: Option<Duration>,
    max_entries: Option<usize>,
    max_bytes: Option<usize>,
) -> Result<LoginCacheSettings, ConfigError> {
    let ttl = ttl.unwrap_or(DEFAULT_TTL);
    if ttl > MAX_TTL {
        return Err(ConfigError::invalid("login_cache_ttl", "must be at most 60 seconds (zero turns the cache off)"));
    }
    let max_entries = max_entries.unwrap_or(DEFAULT_MAX_ENTRIES);
    if max_entries < MIN_MAX_ENTRIES {
        return Err(ConfigError::invalid("login_cache_max_entries", "must be at least 16"));
    }
    let max_bytes = max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
    if max_bytes < MIN_MAX_BYTES {
        return Err(ConfigError::invalid("login_cache_max_bytes", "must be at least 64 KiB"));
    }
    Ok(LoginCacheSettings { ttl, max_entries, max_bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_on_for_two_seconds_by_default_and_zero_turns_it_off() {
        let default = login_cache_settings(None, None, None).unwrap();
        assert_eq!(default, LoginCacheSettings { ttl: DEFAULT_TTL, max_entries: 50_000, max_bytes: 64 << 20 });
        assert_eq!(login_cache_settings(Some(Duration::ZERO), None, None).unwrap().ttl, Duration::ZERO);
    }

    #[test]
    fn bounds_out_of_range_are_named() {
        let cases = [
            (Some(Duration::from_secs(61)), None, None, "login_cache_ttl"),
            (None, Some(15), None, "login_cache_max_entries"),
            (None, None, Some(1024), "login_cache_max_bytes"),
        ];
        for (ttl, entries, bytes, name) in cases {
            let err = login_cache_settings(ttl, entries, bytes).unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }
}
