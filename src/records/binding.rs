//! Browser-binding cookies: one per login attempt (`bankid-login-<tag>`) and
//! one per permission flow with grants (`bankid-grant-<tag>`), `__Host-`
//! prefixed on https.
//!
//! `<tag>` is 64 bits of a hash of the object's public key (the `state`, the
//! flow id), so the server finds the cookie from what the request names
//! without the key itself appearing in a cookie name. The value is
//! `<unix ms>.<binding>`: a start time (to evict the oldest beyond a cap) and
//! 128 random bits that, combined with the key, name the object's record in
//! the store. Nothing else is in it. One cookie per object means no two
//! requests ever write the same cookie, which is what makes them race-free.

use axum::http::{HeaderMap, HeaderValue, header};
use sha2::{Digest, Sha256};
use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};
use tower_sessions::cookie::{Cookie, SameSite};

use crate::config::BankIdConfig;
use crate::records::single_use::new_secret;

/// What a binding cookie binds.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// A login attempt, keyed by its `state`.
    Login,
    /// The grants of a permission login, keyed by its flow id.
    Grant,
    /// A CIBA request started by this browser, keyed by its handle.
    Ciba,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Login => "login",
            Kind::Grant => "grant",
            Kind::Ciba => "ciba",
        }
    }
}

/// A fresh binding for the object `key`: the binding secret, and the
/// `Set-Cookie` values (the new cookie, plus expired ones for the oldest
/// live cookies of this kind beyond `cap`).
pub(crate) fn issue(
    config: &BankIdConfig,
    headers: &HeaderMap,
    kind: Kind,
    key: &str,
    max_age_secs: i64,
    cap: usize,
) -> (String, Vec<HeaderValue>) {
    let binding = new_secret();
    let now_ms = unix_millis();
    let mut cookies = evict_beyond_cap(config, headers, kind, now_ms, max_age_secs, cap);
    let name = cookie_name(config, kind, key);
    cookies.push(set_cookie(config, &name, &format!("{now_ms}.{binding}"), max_age_secs));
    (binding, cookies)
}

/// The binding the browser holds for object `key`, if any.
pub(crate) fn find(config: &BankIdConfig, headers: &HeaderMap, kind: Kind, key: &str) -> Option<String> {
    let name = cookie_name(config, kind, key);
    cookies(config, headers, kind).find(|c| c.name == name).map(|c| c.binding)
}

/// The bindings of the newest `max` distinct cookies of `kind` the request
/// carries: a request stuffed with cookies costs no more than `max`.
pub(crate) fn newest(config: &BankIdConfig, headers: &HeaderMap, kind: Kind, max: usize) -> Vec<String> {
    let mut found: Vec<BindingCookie> = cookies(config, headers, kind).collect();
    found.sort_by_key(|c| std::cmp::Reverse(c.created_ms));
    let mut bindings: Vec<String> = Vec::with_capacity(max);
    for cookie in found {
        if bindings.len() == max {
            break;
        }
        if !bindings.contains(&cookie.binding) {
            bindings.push(cookie.binding);
        }
    }
    bindings
}

/// Whether the request carries any binding cookie of `kind`.
pub(crate) fn any(config: &BankIdConfig, headers: &HeaderMap, kind: Kind) -> bool {
    cookies(config, headers, kind).next().is_some()
}

/// The `Set-Cookie` that removes the cookie for `key`, if the request carried it.
pub(crate) fn clear(config: &BankIdConfig, headers: &HeaderMap, kind: Kind, key: &str) -> Option<HeaderValue> {
    let name = cookie_name(config, kind, key);
    cookies(config, headers, kind).any(|c| c.name == name).then(|| set_cookie(config, &name, "", 0))
}

/// `Set-Cookie` values removing every cookie of `kind` the request carried.
pub(crate) fn clear_all(config: &BankIdConfig, headers: &HeaderMap, kind: Kind) -> Vec<HeaderValue> {
    cookies(config, headers, kind).map(|c| set_cookie(config, &c.name, "", 0)).collect()
}

/// How long after a completed callback a request without a login counts
/// as "the session cookie did not come back" rather than "logged out";
/// never as long as the login itself (see [`landed`]).
const LANDED_SECS: i64 = 30;

/// The name of the landing marker (see [`landed`]).
fn landed_name(config: &BankIdConfig) -> String {
    format!("{}bankid-landed", host_prefix(config))
}

/// Set with a completed callback's redirect: a `Lax` marker, valued `1`,
/// for [`LANDED_SECS`]. A request that carries it but no login lost its
/// session cookie on the way back from the provider — a session layer with
/// `SameSite=Strict` (tower-sessions' default), which browsers hold back
/// on the cross-site redirect chain while they send this `Lax` one.
///
/// `None` for logins shorter than two seconds: the marker must expire
/// before the login (and the session cookie with it) can, or an expired
/// login would read as a held-back cookie.
pub(crate) fn landed(config: &BankIdConfig) -> Option<HeaderValue> {
    let lifetime = i64::try_from(config.max_login_age.as_secs()).unwrap_or(i64::MAX);
    let max_age = LANDED_SECS.min(lifetime.saturating_sub(1));
    (max_age > 0).then(|| set_cookie(config, &landed_name(config), "1", max_age))
}

/// Removes the landing marker (at logout, so that a logged-out request in
/// the next seconds is not taken for a lost cookie).
pub(crate) fn clear_landed(config: &BankIdConfig) -> HeaderValue {
    set_cookie(config, &landed_name(config), "", 0)
}

/// Whether the request carries the landing marker.
pub(crate) fn has_landed(config: &BankIdConfig, headers: &HeaderMap) -> bool {
    let name = landed_name(config);
    cookie_pairs(headers).any(|(n, v)| n == name && v == "1")
}

/// How long the "sent to login" marker lives: long enough to outlast a
/// developer looking at a 404 and going back, short enough to be gone long
/// before anyone forgets they were sent.
const SENT_TO_LOGIN_SECS: i64 = 120;

/// A request must come back this long after being sent to login (with the
/// marker still set) before it counts as "the login route was never
/// reached": a second tab's request in the milliseconds between a redirect
/// and the login request it causes is not that.
pub(crate) const SENT_TO_LOGIN_GRACE_MS: i64 = 1_000;

fn sent_to_login_name(config: &BankIdConfig) -> String {
    format!("{}bankid-to-login", host_prefix(config))
}

/// Set with every redirect of a browser to the login route: a `Lax`
/// marker valued with the time (unix ms). The login route removes it, so a
/// browser that comes back still carrying it was sent to a login route
/// that `BankIdLayer` never saw — added with `route_layer`, or on a router
/// nested under a prefix (see [`Misconfiguration::LoginRouteNotReached`]).
///
/// [`Misconfiguration::LoginRouteNotReached`]: crate::error::Misconfiguration::LoginRouteNotReached
pub(crate) fn sent_to_login(config: &BankIdConfig) -> HeaderValue {
    crate::wiring::watch_login_route(config.redirect_uri.as_str(), &config.login_path);
    set_cookie(config, &sent_to_login_name(config), &unix_millis().to_string(), SENT_TO_LOGIN_SECS)
}

/// The `Set-Cookie` that removes the "sent to login" marker, if the request
/// carried it.
pub(crate) fn clear_sent_to_login(config: &BankIdConfig, headers: &HeaderMap) -> Option<HeaderValue> {
    crate::wiring::login_route_reached(config.redirect_uri.as_str());
    let name = sent_to_login_name(config);
    cookie_value(headers, &name).is_some().then(|| set_cookie(config, &name, "", 0))
}

/// How long ago (ms) the request's browser was sent to the login route,
/// by its "sent to login" marker; `None` without a (well-formed) marker.
pub(crate) fn sent_to_login_ago_ms(config: &BankIdConfig, headers: &HeaderMap) -> Option<i64> {
    let now_ms = unix_millis();
    let sent_at = plausible_time_ms(cookie_value(headers, &sent_to_login_name(config))?, now_ms)?;
    Some(now_ms.saturating_sub(sent_at))
}

/// How far ahead of this instance's clock a time this crate wrote into a
/// cookie may be: another instance's clock may run a little ahead.
const CLOCK_AHEAD_MS: i64 = 5 * 60 * 1000;

/// A unix-ms time read back from a cookie, if it is one this crate could
/// have written: digits only, not before 1970, not after now plus
/// [`CLOCK_AHEAD_MS`]. The cookie is the client's to forge, so an
/// impossible time makes the cookie count as absent rather than feed
/// arithmetic (`i64::MIN` would overflow a subtraction).
fn plausible_time_ms(text: &str, now_ms: i64) -> Option<i64> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let time: i64 = text.parse().ok()?;
    (time <= now_ms.saturating_add(CLOCK_AHEAD_MS)).then_some(time)
}

fn is_https(config: &BankIdConfig) -> bool {
    config.redirect_uri.scheme() == "https"
}

/// `__Host-` on https (the cookie is then bound to this exact host, `Secure`
/// and `Path=/`), nothing on plain http where browsers refuse the prefix.
fn host_prefix(config: &BankIdConfig) -> &'static str {
    if is_https(config) { "__Host-" } else { "" }
}

fn prefix(config: &BankIdConfig, kind: Kind) -> String {
    format!("{}bankid-{}-", host_prefix(config), kind.label())
}

fn cookie_name(config: &BankIdConfig, kind: Kind, key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"axum-bankid binding cookie\0")
        .chain_update(kind.label())
        .chain_update(b"\0")
        .chain_update(key)
        .finalize();
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}{tag}", prefix(config, kind))
}

fn set_cookie(config: &BankIdConfig, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let cookie = Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .max_age(TimeDuration::seconds(max_age_secs))
        .http_only(true)
        // Lax, not Strict: the provider's redirect back is a cross-site navigation.
        .same_site(SameSite::Lax)
        .secure(is_https(config))
        .build();
    // Names are ours and values hex and digits: always a valid header.
    HeaderValue::try_from(cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Milliseconds since the epoch: orders objects created within one second.
fn unix_millis() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// One binding cookie as the browser sent it.
struct BindingCookie {
    name: String,
    /// Unix milliseconds.
    created_ms: i64,
    binding: String,
}

fn cookies<'a>(config: &BankIdConfig, headers: &'a HeaderMap, kind: Kind) -> impl Iterator<Item = BindingCookie> + 'a {
    let prefix = prefix(config, kind);
    let now_ms = unix_millis();
    cookie_pairs(headers)
        .filter(move |(name, _)| name.starts_with(&prefix))
        .filter_map(move |(name, value)| binding_cookie(name, value, now_ms))
}

/// One binding cookie, if its value is `<unix ms>.<binding>` with a
/// plausible time and a non-empty binding; anything else is not ours.
fn binding_cookie(name: &str, value: &str, now_ms: i64) -> Option<BindingCookie> {
    let (created_ms, binding) = value.split_once('.')?;
    let created_ms = plausible_time_ms(created_ms, now_ms)?;
    (!binding.is_empty()).then(|| BindingCookie { name: name.to_owned(), created_ms, binding: binding.to_owned() })
}

/// The value of the request's first cookie called `name`.
fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie_pairs(headers).find(|(n, _)| *n == name).map(|(_, value)| value)
}

/// Every `name=value` pair in the request's `Cookie` headers.
fn cookie_pairs(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// Expires the oldest live cookies of `kind` so that, with a new one, at
/// most `cap` remain.
pub(crate) fn evict_beyond_cap(
    config: &BankIdConfig,
    headers: &HeaderMap,
    kind: Kind,
    now_ms: i64,
    max_age_secs: i64,
    cap: usize,
) -> Vec<HeaderValue> {
    let max_age_ms = max_age_secs.saturating_mul(1000);
    let mut live: Vec<BindingCookie> =
        cookies(config, headers, kind).filter(|c| now_ms.saturating_sub(c.created_ms) <= max_age_ms).collect();
    let keep = cap.saturating_sub(1);
    if live.len() <= keep {
        return Vec::new();
    }
    live.sort_by_key(|c| c.created_ms);
    let excess = live.len() - keep;
    live.iter().take(excess).map(|c| set_cookie(config, &c.name, "", 0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(redirect: &str) -> BankIdConfig {
        BankIdConfig::builder()
            .issuer("https://op.example")
            .client_id("c")
            .client_secret("s")
            .redirect_uri(redirect)
            .build()
            .unwrap()
    }

    #[test]
    fn cookie_names_depend_on_key_kind_and_scheme() {
        let plain = config("http://127.0.0.1:1/cb");
        assert_eq!(cookie_name(&plain, Kind::Login, "s1"), cookie_name(&plain, Kind::Login, "s1"));
        assert_ne!(cookie_name(&plain, Kind::Login, "s1"), cookie_name(&plain, Kind::Login, "s2"));
        assert!(cookie_name(&plain, Kind::Grant, "s1").starts_with("bankid-grant-"));
        assert!(!cookie_name(&plain, Kind::Login, "s1").contains("s1"));
        let https = config("https://app.example/cb");
        assert!(cookie_name(&https, Kind::Login, "s1").starts_with("__Host-bankid-login-"));
        let set = set_cookie(&https, "__Host-x", "v", 60);
        let set = set.to_str().unwrap();
        assert!(set.contains("Secure") && set.contains("HttpOnly") && set.contains("Path=/"), "{set}");
    }

    #[test]
    fn the_oldest_beyond_the_cap_are_expired() {
        let config = config("http://127.0.0.1:1/cb");
        let mut headers = HeaderMap::new();
        let cookie =
            "bankid-login-aa=100000.x; other=1; bankid-login-bb=200000.y; bankid-login-cc=bad; bankid-grant-dd=1.z";
        headers.insert(header::COOKIE, HeaderValue::from_static(cookie));
        let expired = evict_beyond_cap(&config, &headers, Kind::Login, 300_000, 600, 2);
        assert_eq!(expired.len(), 1, "one slot left for the new cookie");
        assert!(expired[0].to_str().unwrap().starts_with("bankid-login-aa=;"));
        let (binding, set) = issue(&config, &headers, Kind::Login, "state", 600, 8);
        assert_eq!(set.len(), 1);
        assert!(set[0].to_str().unwrap().contains(&binding));
    }

    #[test]
    fn the_sent_to_login_marker_carries_its_time_and_the_cookie_policy() {
        let https = config("https://app.example/cb");
        let set = sent_to_login(&https);
        let set = set.to_str().unwrap();
        assert!(set.starts_with("__Host-bankid-to-login="), "{set}");
        assert!(set.contains("Secure") && set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
        assert!(set.contains("Max-Age=120") && set.contains("Path=/"), "{set}");
        let pair = set.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(pair).unwrap());
        let ago = sent_to_login_ago_ms(&https, &headers).expect("readable");
        assert!((0..SENT_TO_LOGIN_GRACE_MS).contains(&ago), "just set: {ago} ms");
        let cleared = clear_sent_to_login(&https, &headers).expect("carried, so cleared");
        assert!(cleared.to_str().unwrap().starts_with("__Host-bankid-to-login=;"));
        // The plain-http name is another cookie: not read, not cleared.
        let plain = config("http://127.0.0.1:1/cb");
        assert_eq!(sent_to_login_ago_ms(&plain, &headers), None);
        assert_eq!(clear_sent_to_login(&plain, &headers), None);
    }

    #[test]
    fn cookies_with_impossible_times_are_ignored_not_computed_with() {
        let config = config("http://127.0.0.1:1/cb");
        let now = unix_millis();
        let future = (now + CLOCK_AHEAD_MS + 1_000).to_string();
        let soon = (now + 1_000).to_string();
        let forged = [
            "-9223372036854775808",
            "9223372036854775807",
            "99999999999999999999",
            "-1",
            "+5",
            "1e3",
            "",
            future.as_str(),
        ];
        let mut pairs: Vec<String> =
            forged.iter().enumerate().map(|(i, t)| format!("bankid-login-f{i}={t}.x{i}")).collect();
        pairs.push(format!("bankid-login-ok={soon}.fine"));
        pairs.push("bankid-login-nobinding=5.".to_owned());
        pairs.push(format!("bankid-to-login={}", i64::MIN));
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&pairs.join("; ")).unwrap());
        assert_eq!(newest(&config, &headers, Kind::Login, 8), ["fine"], "only the plausible cookie is read");
        assert!(
            evict_beyond_cap(&config, &headers, Kind::Login, now, 600, 1)[0]
                .to_str()
                .unwrap()
                .starts_with("bankid-login-ok=;")
        );
        assert_eq!(sent_to_login_ago_ms(&config, &headers), None);
        let mut marker = HeaderMap::new();
        marker.insert(header::COOKIE, HeaderValue::from_str(&format!("bankid-to-login={}", i64::MAX)).unwrap());
        assert_eq!(sent_to_login_ago_ms(&config, &marker), None, "a marker from the far future is no marker");
    }

    #[test]
    fn a_request_stuffed_with_cookies_yields_only_the_newest_distinct_ones() {
        let config = config("http://127.0.0.1:1/cb");
        let mut pairs: Vec<String> = (0..50).map(|i| format!("bankid-ciba-{i:02}={i}.b{i}")).collect();
        pairs.extend((0..50).map(|i| format!("bankid-ciba-x{i:02}=99.same")));
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&pairs.join("; ")).unwrap());
        let newest = newest(&config, &headers, Kind::Ciba, 8);
        assert_eq!(newest.len(), 8);
        assert_eq!(newest[0], "same", "the newest, once");
        assert_eq!(newest[1..], ["b49", "b48", "b47", "b46", "b45", "b44", "b43"]);
    }
}
