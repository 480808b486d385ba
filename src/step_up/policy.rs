//! [`StepUpPolicy`]: what a login must reach (a level, a recent login or
//! both) as a value, and how a login asks for it and is checked against it.
//!
//! A route that is not satisfied sends the browser to the login route with
//! the requirement in the query (`?return_to=..&acr=4&max_age=300`). The
//! login route validates those strictly ([`asked_in_query`]), turns them into
//! OIDC `acr_values` (plus the legacy `login_hint` code when configured,
//! [`select_identity_provider`], [`add_selectors`]) and `max_age`
//! ([`add_authorize_params`]),
//! records them in the login attempt, and the callback checks the new ID
//! token against them ([`check_completed`]): `acr` at least the asked level,
//! `auth_time` present and within `max_age` (plus the clock skew, OpenID
//! Connect Core §3.1.3.7 item 13), and — via the attempt's `expected_subject` —
//! the same identity (`iss`, `sub`) as the current login. Asking for more than a route needs
//! is harmless: the route checks again.

use serde_json::{Map, Value};

use crate::config::{BankIdConfig, IdentityProvider};
use crate::error::{Error, LoginCheckError};
use crate::loa::{AcrIssuer, Loa, check_loa};
use crate::session::PendingLogin;

/// The longest `max_age` a login may ask for, in seconds (one day).
pub const MAX_STEP_UP_MAX_AGE: u32 = 86_400;

/// The login route's query parameter naming the level to ask for (`3` or `4`).
pub(crate) const ACR_PARAM: &str = "acr";
/// The login route's query parameter naming the `max_age` to ask for.
pub(crate) const MAX_AGE_PARAM: &str = "max_age";

/// What a route needs of the current login, beyond the global
/// [`minimum_loa`](crate::BankIdConfigBuilder::minimum_loa) (which always
/// applies): a level of assurance and/or a login within the last `max_age`
/// seconds (judged by the ID token's `auth_time`).
///
/// Usually built through a [`Requirement`](super::Requirement) type; combine two with
/// [`and`](Self::and) (the higher level and the shorter age win).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepUpPolicy {
    loa: Option<Loa>,
    max_age: Option<u32>,
}

impl StepUpPolicy {
    /// No requirement beyond the global floor.
    pub const NONE: StepUpPolicy = StepUpPolicy { loa: None, max_age: None };

    /// At least `loa` (the token's `acr`).
    pub const fn at_least(loa: Loa) -> Self {
        StepUpPolicy { loa: Some(loa), max_age: None }
    }

    /// A login (`auth_time`) at most `secs` seconds ago (OIDC `max_age`).
    pub const fn logged_in_within(secs: u32) -> Self {
        StepUpPolicy { loa: None, max_age: Some(secs) }
    }

    /// Both requirements: the higher level and the shorter age.
    pub const fn and(self, other: StepUpPolicy) -> Self {
        let loa = match (self.loa, other.loa) {
            (Some(a), Some(b)) => Some(if a.get() >= b.get() { a } else { b }),
            (Some(a), None) | (None, Some(a)) => Some(a),
            (None, None) => None,
        };
        let max_age = match (self.max_age, other.max_age) {
            (Some(a), Some(b)) => Some(if a <= b { a } else { b }),
            (Some(a), None) | (None, Some(a)) => Some(a),
            (None, None) => None,
        };
        StepUpPolicy { loa, max_age }
    }

    /// The level needed, if any.
    pub const fn loa(&self) -> Option<Loa> {
        self.loa
    }

    /// The largest accepted age of the login in seconds, if any.
    pub const fn max_age(&self) -> Option<u32> {
        self.max_age
    }

    /// Whether `loa`, authenticated at `auth_time`, satisfies this policy
    /// at `now`, allowing `clock_skew` seconds on the age (as the callback
    /// does, so a login the callback accepted is not sent round again).
    /// A login without `auth_time` is never recent enough.
    pub(crate) fn satisfied_by(&self, loa: Loa, auth_time: Option<i64>, now: i64, clock_skew: i64) -> bool {
        let level_ok = self.loa.is_none_or(|needed| loa >= needed);
        let age_ok = self.max_age.is_none_or(|max_age| {
            auth_time.is_some_and(|at| now.saturating_sub(at) <= i64::from(max_age).saturating_add(clock_skew))
        });
        level_ok && age_ok
    }

    /// What a new login should ask for so that the current one (at
    /// `current`, if any) is replaced without losing its level: a recency
    /// step-up by a LOA 4 user asks for LOA 4 again. Levels below 3 have no
    /// BankID selector and are left to the global floor.
    pub(crate) fn to_ask(self, current: Option<Loa>) -> StepUpPolicy {
        let keep = match (self.max_age, current) {
            (Some(_), Some(loa)) => StepUpPolicy::at_least(loa),
            _ => StepUpPolicy::NONE,
        };
        let asked = self.and(keep);
        StepUpPolicy { loa: asked.loa.filter(|loa| *loa >= Loa::SUBSTANTIAL), max_age: asked.max_age }
    }

    /// The login route's query parameters for this policy
    /// (`acr=4&max_age=300`), each preceded by `&`.
    pub(crate) fn query_suffix(&self) -> String {
        let mut query = String::new();
        if let Some(loa) = self.loa {
            query.push_str(&format!("&{ACR_PARAM}={}", loa.get()));
        }
        if let Some(max_age) = self.max_age {
            query.push_str(&format!("&{MAX_AGE_PARAM}={max_age}"));
        }
        query
    }

    /// The `acr_values` that select the asked level at BankID, if any
    /// (levels below 3 have no BankID selector).
    pub fn acr_values(&self) -> Option<&'static str> {
        self.loa.filter(|loa| *loa >= Loa::SUBSTANTIAL).map(|loa| IdentityProvider::for_level(loa).acr_value)
    }
}

/// The step-up asked for in the login route's query, if any: `acr` must be
/// `3` or `4` and `max_age` a number of seconds up to
/// [`MAX_STEP_UP_MAX_AGE`], each at most once; anything else is
/// [`Error::InvalidStepUp`].
pub(crate) fn asked_in_query(query: Option<&str>) -> Result<Option<StepUpPolicy>, Error> {
    let Some(query) = query else { return Ok(None) };
    let mut asked = StepUpPolicy::NONE;
    let (mut seen_acr, mut seen_max_age) = (false, false);
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key == ACR_PARAM {
            if std::mem::replace(&mut seen_acr, true) {
                return Err(Error::InvalidStepUp);
            }
            asked.loa = Some(match value.as_ref() {
                "3" => Loa::SUBSTANTIAL,
                "4" => Loa::HIGH,
                _ => return Err(Error::InvalidStepUp),
            });
        } else if key == MAX_AGE_PARAM {
            if std::mem::replace(&mut seen_max_age, true) {
                return Err(Error::InvalidStepUp);
            }
            asked.max_age = Some(parse_max_age(&value).ok_or(Error::InvalidStepUp)?);
        }
    }
    Ok((asked != StepUpPolicy::NONE).then_some(asked))
}

/// Plain ASCII digits (no sign, no spaces), at most [`MAX_STEP_UP_MAX_AGE`].
fn parse_max_age(value: &str) -> Option<u32> {
    if value.is_empty() || value.len() > 6 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<u32>().ok().filter(|secs| *secs <= MAX_STEP_UP_MAX_AGE)
}

/// Puts the asked `max_age` on an authorization request; the asked level
/// is selected by [`select_identity_provider`].
pub(crate) fn add_authorize_params(asked: &StepUpPolicy, params: &mut Vec<(&str, String)>) {
    if let Some(max_age) = asked.max_age {
        params.push(("max_age", max_age.to_string()));
    }
}

/// The identity provider a login selects itself, replacing the configured
/// selectors — `None` keeps them. A flow with upfront permissions always
/// selects BankID with biometrics: that is what routes it to the provider
/// serving the Permission API (BankID's `forcing-step-up` page; a higher
/// level is reached there by BIB's own step-up, and the token's `acr` is
/// checked against the asked level as always). Otherwise a login that asks
/// for a level selects the provider that reaches it. A level below the
/// configured minimum is refused (`level_below_minimum`): the login it
/// would start could never be accepted.
pub(crate) fn select_identity_provider(
    asked: Option<Loa>,
    has_permissions: bool,
    minimum: Loa,
) -> Result<Option<IdentityProvider>, Error> {
    if let Some(asked) = asked.filter(|asked| *asked < minimum) {
        return Err(Error::LevelBelowMinimum { asked, minimum });
    }
    Ok(match (has_permissions, asked) {
        (true, _) => Some(IdentityProvider::for_level(Loa::SUBSTANTIAL)),
        (false, Some(asked)) => Some(IdentityProvider::for_level(asked)),
        (false, None) => None,
    })
}

/// Puts `idp`'s selectors on an authorization request, in place of the
/// configured ones (each sent once, RFC 6749 §3.1): `acr_values`, unless the
/// app switched it off and sends only the legacy hint; and the legacy
/// `login_hint` code when the app opted in to it.
pub(crate) fn add_selectors(
    idp: IdentityProvider,
    config: &BankIdConfig,
    has_permissions: bool,
    params: &mut Vec<(&str, String)>,
) {
    let legacy = config.login_hint.is_some();
    params.retain(|(name, _)| *name != "acr_values" && *name != "login_hint");
    // A permission flow must say `urn:bankid:bis` (see above); otherwise a
    // configuration without `acr_values` but with the legacy hint keeps to it.
    if has_permissions || config.acr_values.is_some() || !legacy {
        params.push(("acr_values", idp.acr_value.to_owned()));
    }
    if legacy {
        params.push(("login_hint", idp.legacy_hint.to_owned()));
    }
}

/// Checks a completed login against the step-up its attempt asked for: the
/// `acr` reaches the asked level, and when `max_age` was sent, `auth_time`
/// is present and `now - auth_time <= max_age + clock_skew`. (The same
/// (`iss`, `sub`) as the attempt's `expected_subject` is checked by the
/// shared login path, `login::complete`.)
pub(crate) fn check_completed(
    pending: &PendingLogin,
    claims: &Map<String, Value>,
    now: i64,
    clock_skew: i64,
) -> Result<(), LoginCheckError> {
    if let Some(asked) = pending.asked_loa {
        check_loa(claims.get("acr"), asked, AcrIssuer::BankIdOidc)
            .map_err(|found| LoginCheckError::InsufficientLoa { required: asked, found })?;
    }
    if let Some(max_age) = pending.max_age {
        let auth_time = claims.get("auth_time").and_then(Value::as_i64).ok_or(LoginCheckError::MissingAuthTime)?;
        if now.saturating_sub(auth_time) > i64::from(max_age).saturating_add(clock_skew) {
            tracing::info!(max_age, "the step-up login's auth_time is older than max_age");
            return Err(LoginCheckError::AuthTimeTooOld { max_age });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_strict() {
        assert_eq!(asked_in_query(None).unwrap(), None);
        assert_eq!(asked_in_query(Some("return_to=/x")).unwrap(), None);
        let asked = asked_in_query(Some("acr=4&max_age=300")).unwrap().unwrap();
        assert_eq!((asked.loa(), asked.max_age()), (Some(Loa::HIGH), Some(300)));
        assert_eq!(asked_in_query(Some("max_age=0")).unwrap().unwrap().max_age(), Some(0));
        for bad in [
            "acr=2",
            "acr=5",
            "acr=",
            "acr=04",
            "acr=4&acr=4",
            "max_age=",
            "max_age=-1",
            "max_age=+5",
            "max_age=86401",
            "max_age=1e3",
            "max_age=%205",
            "max_age=5&max_age=5",
            "acr=urn:bankid:bid",
        ] {
            assert!(matches!(asked_in_query(Some(bad)), Err(Error::InvalidStepUp)), "{bad}");
        }
    }

    #[test]
    fn a_login_selects_the_provider_of_its_level_never_below_the_minimum() {
        let select = select_identity_provider;
        let ids = |idp: Option<IdentityProvider>| idp.map(|idp| idp.acr_value);
        assert_eq!(ids(select(None, false, Loa::SUBSTANTIAL).unwrap()), None, "the configured selectors stay");
        assert_eq!(ids(select(Some(Loa::HIGH), false, Loa::SUBSTANTIAL).unwrap()), Some("urn:bankid:bid"));
        assert_eq!(ids(select(Some(Loa::SUBSTANTIAL), false, Loa::TWO).unwrap()), Some("urn:bankid:bis"));
        // A permission flow goes to BankID with biometrics, whatever it asks.
        assert_eq!(ids(select(Some(Loa::HIGH), true, Loa::SUBSTANTIAL).unwrap()), Some("urn:bankid:bis"));
        assert_eq!(ids(select(None, true, Loa::HIGH).unwrap()), Some("urn:bankid:bis"));
        let below = select(Some(Loa::SUBSTANTIAL), false, Loa::HIGH).unwrap_err();
        assert_eq!(below.kind(), "level_below_minimum");
    }

    #[test]
    fn max_age_goes_on_the_request() {
        let mut params = vec![("state", "s".to_owned())];
        add_authorize_params(&StepUpPolicy::at_least(Loa::HIGH).and(StepUpPolicy::logged_in_within(60)), &mut params);
        assert_eq!(params, [("state", "s".to_owned()), ("max_age", "60".to_owned())]);
    }

    #[test]
    fn recency_allows_the_skew_and_needs_auth_time() {
        let policy = StepUpPolicy::logged_in_within(300);
        assert!(policy.satisfied_by(Loa::SUBSTANTIAL, Some(1_000), 1_360, 60));
        assert!(!policy.satisfied_by(Loa::SUBSTANTIAL, Some(1_000), 1_361, 60));
        assert!(!policy.satisfied_by(Loa::HIGH, None, 1_000, 60));
        assert!(!StepUpPolicy::at_least(Loa::HIGH).satisfied_by(Loa::SUBSTANTIAL, Some(0), 0, 60));
    }

    #[test]
    fn a_recency_step_up_keeps_the_current_level() {
        let asked = StepUpPolicy::logged_in_within(300).to_ask(Some(Loa::HIGH));
        assert_eq!((asked.loa(), asked.max_age()), (Some(Loa::HIGH), Some(300)));
        assert_eq!(StepUpPolicy::logged_in_within(300).to_ask(Some(Loa::TWO)).loa(), None);
        assert_eq!(StepUpPolicy::at_least(Loa::HIGH).to_ask(Some(Loa::SUBSTANTIAL)).loa(), Some(Loa::HIGH));
    }
}
