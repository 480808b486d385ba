//! Step-up at the simulator: a login that asks for a level (`acr_values`
//! or `login_hint`) lets the user pick the method — BIS (BankID with
//! biometrics, `urn:bankid:bis;LOA=3`) or BID (BankID High,
//! `urn:bankid:bid;LOA=4`) — and `max_age` is honoured with an `auth_time`
//! that is the time of this very authentication (the simulator keeps no
//! single-sign-on session, so every login is a fresh authentication).
//!
//! What is refused, as BankID would: `acr_values` naming anything but the
//! two URNs BankID documents for the code flow (`urn:bankid:bis`,
//! `urn:bankid:bid`, as advertised in `acr_values_supported`; a
//! `;LOA=` suffix is not part of a request value), and a `max_age` that is
//! not a whole number of seconds. Whether BankID rejects or ignores an
//! unknown `acr_values` entry is not published; the simulator is strict so
//! that a relying party never relies on leniency (a documented choice).

use serde_json::{Map, Value, json};

use super::faults::{Fault, Faults};
use std::sync::Arc;

use super::users::{TestUser, Users};

/// BankID with biometrics.
pub(crate) const BIS: &str = "BIS";
/// BankID High.
pub(crate) const BID: &str = "BID";

/// What an authorization request asked for, and what the user chose.
#[derive(Debug, Clone, Default)]
pub(crate) struct StepUpRequest {
    /// The method selected by `login_hint` or `acr_values`, if any.
    pub(crate) asked_method: Option<&'static str>,
    /// The `max_age` sent, in seconds.
    pub(crate) max_age: Option<u64>,
    /// The method the user logged in with, when a method was asked for or
    /// chosen on the login page; decides `acr` and `amr`.
    pub(crate) chosen_method: Option<&'static str>,
}

/// Parses the step-up parameters of an authorization request.
pub(crate) fn requested(
    login_hint: Option<&str>,
    acr_values: Option<&str>,
    max_age: Option<&str>,
) -> Result<StepUpRequest, (&'static str, &'static str)> {
    let mut from_acr = None;
    if let Some(acr_values) = acr_values {
        for value in acr_values.split(' ') {
            let method = match value {
                "urn:bankid:bis" => BIS,
                "urn:bankid:bid" => BID,
                _ => return Err(("invalid_request", "acr_values may only name urn:bankid:bis or urn:bankid:bid")),
            };
            // The first value is the preferred one (OIDC Core §3.1.2.1).
            from_acr.get_or_insert(method);
        }
    }
    let from_hint = login_hint.and_then(|hint| {
        let method = hint.split(':').next().unwrap_or_default();
        [BIS, BID].into_iter().find(|m| m.eq_ignore_ascii_case(method))
    });
    let max_age = match max_age {
        None => None,
        Some(value) if !value.is_empty() && value.len() <= 10 && value.bytes().all(|b| b.is_ascii_digit()) => {
            Some(value.parse().map_err(|_| ("invalid_request", "max_age is out of range"))?)
        }
        Some(_) => return Err(("invalid_request", "max_age must be a non-negative integer")),
    };
    Ok(StepUpRequest { asked_method: from_acr.or(from_hint), max_age, chosen_method: None })
}

/// The method a login ends with: the one picked on the page; else BID when
/// BID (LOA 4) was asked for — the user steps up to BankID High; else the
/// user's own method (`None`), so that the default `login_hint=BIS` does
/// not lower a BID user. BIS needs a user with biometrics enabled.
pub(crate) fn choose(
    picked: Option<&str>,
    request: &StepUpRequest,
    user: &TestUser,
) -> Result<Option<&'static str>, &'static str> {
    let method = match picked.filter(|m| !m.is_empty()) {
        Some(BIS) => Some(BIS),
        Some(BID) => Some(BID),
        Some(_) => return Err("Choose BIS or BID as the method."),
        None => request.asked_method.filter(|m| *m == BID),
    };
    if method == Some(BIS) && !user.bib_enabled {
        return Err("This user has not enabled BankID with biometrics.");
    }
    Ok(method)
}

/// With [`Fault::OtherPerson`], the next test user completes the login.
pub(crate) fn completing_person(users: &Users, user: Arc<TestUser>, faults: &Faults) -> Arc<TestUser> {
    if !faults.has(&Fault::OtherPerson) {
        return user;
    }
    Arc::clone(users.next_after(&user))
}

/// The `acr` and `amr` of a login with `method`.
fn acr_of(method: &str) -> (&'static str, &'static str) {
    match method {
        BID => ("urn:bankid:bid;LOA=4", "bid"),
        _ => ("urn:bankid:bis;LOA=3", "bis"),
    }
}

/// Sets `acr`/`amr` for the chosen method (honest claims).
pub(crate) fn apply_method(claims: &mut Map<String, Value>, request: Option<&StepUpRequest>) {
    if let Some(method) = request.and_then(|r| r.chosen_method) {
        let (acr, amr) = acr_of(method);
        claims.insert("acr".into(), json!(acr));
        claims.insert("amr".into(), json!([amr]));
    }
}

/// The step-up faults: a level below the asked one, an `auth_time` older
/// than `max_age`, no `auth_time`.
pub(crate) fn apply_faults(
    claims: &mut Map<String, Value>,
    request: Option<&StepUpRequest>,
    faults: &Faults,
    now: u64,
) {
    if faults.has(&Fault::BelowAskedLevel) && request.is_some_and(|r| r.asked_method.is_some()) {
        let (acr, amr) = acr_of(BIS);
        claims.insert("acr".into(), json!(acr));
        claims.insert("amr".into(), json!([amr]));
    }
    if faults.has(&Fault::StaleAuthTime) {
        let max_age = request.and_then(|r| r.max_age).unwrap_or_default();
        claims.insert("auth_time".into(), json!(now.saturating_sub(max_age + STALE_BY_SECS)));
    }
    if faults.has(&Fault::MissingAuthTime) {
        claims.remove("auth_time");
    }
    if faults.has(&Fault::AuthTimeInMilliseconds) {
        claims.insert("auth_time".into(), json!(now.saturating_mul(1000)));
    }
}

/// How much older than `max_age` [`Fault::StaleAuthTime`] makes `auth_time`:
/// beyond any sane clock skew.
const STALE_BY_SECS: u64 = 10 * 60;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::DEFAULT_USERS;

    #[test]
    fn parses_known_selectors_and_max_age() {
        let asked = requested(Some("BIS"), Some("urn:bankid:bid"), Some("300")).unwrap();
        assert_eq!(asked.asked_method, Some(BID), "acr_values wins");
        let asked = requested(Some("BID"), Some("urn:bankid:bid"), Some("300")).unwrap();
        assert_eq!((asked.asked_method, asked.max_age), (Some(BID), Some(300)));
        assert_eq!(requested(Some("BIS"), None, None).unwrap().asked_method, Some(BIS));
        for bad in ["urn:bankid:bid;LOA=4", "urn:bankid:bim", "urn:x", "urn:bankid:bid  urn:bankid:bis"] {
            assert!(requested(None, Some(bad), None).is_err(), "{bad}");
        }
        for bad in ["-1", "1.5", " 3", "x", "99999999999"] {
            assert!(requested(None, None, Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_page_choice_wins_and_bis_needs_biometrics() {
        let asked = StepUpRequest { asked_method: Some(BID), ..Default::default() };
        assert_eq!(choose(None, &asked, &DEFAULT_USERS[0]), Ok(Some(BID)));
        assert_eq!(choose(Some("BIS"), &asked, &DEFAULT_USERS[0]), Ok(Some(BIS)));
        assert!(choose(Some("BIS"), &asked, &DEFAULT_USERS[3]).is_err());
        assert!(choose(Some("BIM"), &asked, &DEFAULT_USERS[0]).is_err());
        let bis = StepUpRequest { asked_method: Some(BIS), ..Default::default() };
        assert_eq!(choose(None, &bis, &DEFAULT_USERS[1]), Ok(None), "a BID user keeps BID");
    }
}
