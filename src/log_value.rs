//! What a log line may carry of a value someone else chose.
//!
//! A `kid`, an `alg`, a provider's `error` and `error_description`, a header
//! value, a logout token's claim, a CIBA error code: each comes from a
//! provider or a client, and logged as sent, a 10 KiB `kid` of newlines
//! forges log lines or buries the real ones. [`Untrusted`] is the one
//! definition of "safe" for such a value, whether it reaches `tracing` or an
//! error's `Display` (which is logged and may be shown): control characters
//! (newlines and the ESC of ANSI sequences included) are dropped and the
//! value is cut, by characters, to a cap plus `…` — [`MAX_LOGGED_CHARS`] for
//! a single value ([`untrusted`]: a `kid`, an `alg`, an issuer, an error
//! code), [`MAX_TEXT_CHARS`] for free text ([`untrusted_text`]: an
//! `error_description`, a parser's message that quotes a provider's
//! document). Values are never quoted or escaped otherwise: what is left
//! cannot start a new line or restyle a terminal.
//!
//! [`RefusalSummary`] is for routes anyone can call (back-channel logout):
//! each refusal is logged at `debug`, and `warn` gets at most one summary
//! per [`SUMMARY_INTERVAL`], so a flood of bad requests cannot flood the
//! warning log.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The most characters of an untrusted value a log line carries.
pub(crate) const MAX_LOGGED_CHARS: usize = 64;

/// The most characters of untrusted free text an error or log line carries.
pub(crate) const MAX_TEXT_CHARS: usize = 200;

/// An untrusted value as it may be logged or shown; see the module docs.
pub(crate) struct Untrusted<'a> {
    value: &'a str,
    cap: usize,
}

/// `value` made safe for a log line: `kid = %untrusted(kid)`.
pub(crate) fn untrusted(value: &str) -> Untrusted<'_> {
    Untrusted { value, cap: MAX_LOGGED_CHARS }
}

/// Free text made safe the same way, with the longer [`MAX_TEXT_CHARS`]
/// cap: `untrusted_text(description).to_string()`.
pub(crate) fn untrusted_text(value: &str) -> Untrusted<'_> {
    Untrusted { value, cap: MAX_TEXT_CHARS }
}

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut printable = self.value.chars().filter(|c| !c.is_control());
        for c in printable.by_ref().take(self.cap) {
            fmt::Write::write_char(f, c)?;
        }
        if printable.next().is_some() {
            f.write_str("…")?;
        }
        Ok(())
    }
}

/// The shortest time between two `warn` summaries of one route's refusals.
pub(crate) const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);

/// Counts refusals on one route and logs a `warn` summary at most once per
/// [`SUMMARY_INTERVAL`] (the first refusal is reported at once).
pub(crate) struct RefusalSummary {
    route: &'static str,
    state: Mutex<Tally>,
}

#[derive(Default)]
struct Tally {
    /// Refusals not yet in a summary, and when the first of them came.
    count: u64,
    since: Option<SystemTime>,
    last_warned: Option<Instant>,
}

impl RefusalSummary {
    pub(crate) fn new(route: &'static str) -> RefusalSummary {
        RefusalSummary { route, state: Mutex::new(Tally::default()) }
    }

    /// Counts one refusal for `reason` (a stable kind, never input), and
    /// logs the summary if the last one is old enough.
    pub(crate) fn refused(&self, reason: &'static str) {
        let mut tally = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        tally.count += 1;
        let since = *tally.since.get_or_insert_with(SystemTime::now);
        if tally.last_warned.is_some_and(|at| at.elapsed() < SUMMARY_INTERVAL) {
            return;
        }
        let since_unix = since.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        tracing::warn!(
            route = %self.route,
            refused = tally.count,
            since_unix,
            last_reason = %reason,
            "requests refused on an unauthenticated route since `since_unix` (at most one such summary a minute; each refusal is logged at debug)"
        );
        *tally = Tally { count: 0, since: None, last_warned: Some(Instant::now()) };
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn control_characters_are_dropped_and_long_values_cut() {
        assert_eq!(untrusted("a\r\nb\u{1b}[31m").to_string(), "ab[31m");
        let long = "x\n".repeat(5 * 1024);
        assert_eq!(untrusted(&long).to_string(), format!("{}…", "x".repeat(MAX_LOGGED_CHARS)));
        let exact = "é".repeat(MAX_LOGGED_CHARS);
        assert_eq!(untrusted(&exact).to_string(), exact, "cut by characters, not bytes; no … when nothing is cut");
    }

    /// A mebibyte of lines and ANSI escapes, as a hostile provider or
    /// client would send it.
    pub(crate) fn hostile_mebibyte() -> String {
        "line\n\u{1b}[2J\u{1b}[31mred\r\n\u{7}\t".repeat(1 << 16).chars().take(1 << 20).collect()
    }

    /// Whether `text` is one bounded, printable line: at most `cap`
    /// characters plus `…`, and no control character.
    pub(crate) fn is_bounded_line(text: &str, cap: usize) -> bool {
        text.chars().count() <= cap + 1 && !text.chars().any(char::is_control)
    }

    #[test]
    fn a_hostile_mebibyte_becomes_one_bounded_line_either_way() {
        let hostile = hostile_mebibyte();
        let value = untrusted(&hostile).to_string();
        assert!(is_bounded_line(&value, MAX_LOGGED_CHARS) && value.ends_with('…'), "{value}");
        assert!(value.starts_with("line[2J[31mred"), "escape characters dropped, the rest kept: {value}");
        let text = untrusted_text(&hostile).to_string();
        assert!(is_bounded_line(&text, MAX_TEXT_CHARS) && text.chars().count() == MAX_TEXT_CHARS + 1, "{text}");
    }
}
