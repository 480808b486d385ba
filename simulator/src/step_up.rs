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

use super::users::{TestUser, Users, amr_of};

/// BankID with biometrics.
pub(crate) const BIS: &str = "BIS";
/// BankID High.
pub(crate) const BID: &str = "BID";

/// What an authorization request asked for, and what the user chose.
#[derive(Debug, Clone, Default)]
pub(crate) struct StepUpRequest {
    /// The method selected by `login_hint` or `acr_values`, if any.
    pub(crate) asked_method: Option<&'static str>,
    /// Whether `acr_values` selected it (BankID's standard parameter, which
    /// routes the login to that identity provider) rather than the legacy
    /// `login_hint`.
    pub(crate) routed: bool,
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
    Ok(StepUpRequest { asked_method: from_acr.or(from_hint), routed: from_acr.is_some(), max_age, chosen_method: None })
}

/// The method a login ends with: the one picked on the page; else BID when
/// BID (LOA 4) was asked for and the user has BankID High — the user steps
/// up; else the user's own method (`None`), so that the default
/// `login_hint=BIS` does not lower a BID user. A picked method the user
/// does not have is refused.
pub(crate) fn choose(
    picked: Option<&str>,
    request: &StepUpRequest,
    user: &TestUser,
) -> Result<Option<&'static str>, &'static str> {
    let method = match picked.filter(|m| !m.is_empty()) {
        Some(BIS) => Some(BIS),
        Some(BID) => Some(BID),
        Some(_) => return Err("Choose BIS or BID as the method."),
        None => return Ok(routed_method(request, user)),
    };
    match method {
        Some(BIS) if level(user, BIS).is_none() => Err("This user has not enabled BankID with biometrics."),
        Some(BID) if level(user, BID).is_none() => Err("This user has no BankID High."),
        _ => Ok(method),
    }
}

/// Without a pick on the page: `acr_values` routes like BankID — to BankID
/// with biometrics for `urn:bankid:bis` (whoever logs in; a user without
/// biometrics falls back to BankID inside it, see [`apply_method`]), to
/// BankID High for `urn:bankid:bid` when the user has it. The legacy
/// `login_hint` only steps up to BID; `login_hint=BIS` leaves the user's
/// own method, so that it never lowers a BID user (the simulator's lenient
/// reading of a parameter BankID keeps only for compatibility).
fn routed_method(request: &StepUpRequest, user: &TestUser) -> Option<&'static str> {
    match request.asked_method {
        Some(BID) => level(user, BID).map(|_| BID),
        Some(BIS) if request.routed => Some(BIS),
        _ => None,
    }
}

/// The level a login of `user` with `method` reaches, or `None` when the
/// user does not have that method. A method never raises a user above
/// their own level: BIS reaches LOA 3 at most, and only the user's own
/// level when that is lower (Per, LOA 2). BankID High is LOA 4 for every
/// user at LOA 3 or above (BankID with biometrics is activated with
/// BankID, so such a user holds it — a simplification); a BID user keeps
/// their own level.
pub(crate) fn level(user: &TestUser, method: &str) -> Option<u8> {
    match method {
        BIS => user.bib_enabled.then(|| user.loa.min(3)),
        BID if user.method == BID => Some(user.loa),
        BID => (user.loa >= 3).then_some(4),
        _ => None,
    }
}

/// The methods `user` has, each with the level it reaches, BIS first.
pub(crate) fn methods_of(user: &TestUser) -> Vec<(&'static str, u8)> {
    [BIS, BID].into_iter().filter_map(|method| level(user, method).map(|loa| (method, loa))).collect()
}

/// With [`Fault::OtherPerson`], the next test user completes the login.
pub(crate) fn completing_person(users: &Users, user: Arc<TestUser>, faults: &Faults) -> Arc<TestUser> {
    if !faults.has(&Fault::OtherPerson) {
        return user;
    }
    Arc::clone(users.next_after(&user))
}

/// The `acr` of a login with `method` at `loa`: the method's URN with
/// `;LOA=` (BankID API v4, `core-concepts/identity-providers`).
pub(crate) fn acr_of(method: &str, loa: u8) -> String {
    format!("urn:bankid:{};LOA={loa}", method.to_ascii_lowercase())
}

/// The `amr` of a BankID with biometrics login that fell back to BankID
/// (`bis-bid`: "BankID netcentric was involved", still LOA 3).
const BIS_FALLBACK_AMR: [&str; 2] = ["bis-mfa", "bis-bid"];

/// Sets `acr`/`amr` for the chosen method (honest claims), at the level
/// that method reaches for `user`. BIS routed to a user without biometrics
/// is BankID's fallback inside BankID with biometrics: `urn:bankid:bis`,
/// LOA 3 at most, `amr` `["bis-mfa", "bis-bid"]`.
pub(crate) fn apply_method(claims: &mut Map<String, Value>, request: Option<&StepUpRequest>, user: &TestUser) {
    let Some(method) = request.and_then(|r| r.chosen_method) else { return };
    let (loa, amr) = match level(user, method) {
        Some(loa) => (loa, amr_of(method)),
        None if method == BIS => (user.loa.min(3), &BIS_FALLBACK_AMR[..]),
        None => return,
    };
    claims.insert("acr".into(), json!(acr_of(method, loa)));
    claims.insert("amr".into(), json!(amr));
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
        claims.insert("acr".into(), json!(acr_of(BIS, 3)));
        claims.insert("amr".into(), json!(amr_of(BIS)));
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

    #[test]
    fn a_method_never_raises_a_user_above_their_level() {
        let [kari, ola, per, nina] = [0, 1, 2, 3].map(|i| &DEFAULT_USERS[i]);
        assert_eq!(methods_of(kari), [(BIS, 3), (BID, 4)]);
        assert_eq!(methods_of(ola), [(BIS, 3), (BID, 4)]);
        assert_eq!(methods_of(per), [(BIS, 2)], "Per has neither LOA 3 nor BankID High");
        assert_eq!(methods_of(nina), [(BID, 4)]);
        let asked_bid = StepUpRequest { asked_method: Some(BID), ..Default::default() };
        assert_eq!(choose(Some("BID"), &asked_bid, per), Err("This user has no BankID High."));
        assert_eq!(choose(None, &asked_bid, per), Ok(None), "Per stays at his own level");
        let mut claims = Map::new();
        let chosen = StepUpRequest { chosen_method: Some(BIS), ..Default::default() };
        apply_method(&mut claims, Some(&chosen), per);
        assert_eq!(claims["acr"], "urn:bankid:bis;LOA=2");
        assert_eq!(claims["amr"], json!(["bis-mfa", "bis-hwk"]));
    }

    #[test]
    fn acr_values_route_to_the_identity_provider_and_the_legacy_hint_only_steps_up() {
        let [kari, ola, per, nina] = [0, 1, 2, 3].map(|i| &DEFAULT_USERS[i]);
        let by_acr = |acr: &str| requested(None, Some(acr), None).unwrap();
        let by_hint = |hint: &str| requested(Some(hint), None, None).unwrap();
        assert_eq!(choose(None, &by_acr("urn:bankid:bis"), ola), Ok(Some(BIS)), "BIS whoever logs in");
        assert_eq!(choose(None, &by_acr("urn:bankid:bis"), nina), Ok(Some(BIS)), "BankID's fallback");
        assert_eq!(choose(None, &by_acr("urn:bankid:bid"), kari), Ok(Some(BID)));
        assert_eq!(choose(None, &by_acr("urn:bankid:bid"), per), Ok(None), "Per has no BankID High");
        assert_eq!(choose(None, &by_hint("BIS"), ola), Ok(None), "legacy BIS keeps Ola's BID");
        assert_eq!(choose(None, &by_hint("BID"), kari), Ok(Some(BID)));
        let mut claims = Map::new();
        let fallback = StepUpRequest { chosen_method: Some(BIS), ..Default::default() };
        apply_method(&mut claims, Some(&fallback), nina);
        assert_eq!((&claims["acr"], &claims["amr"]), (&json!("urn:bankid:bis;LOA=3"), &json!(["bis-mfa", "bis-bid"])));
    }
}
