//! A route's step-up requirement as a type: [`Requirement`] and its
//! building blocks [`Loa3`], [`Loa4`], [`LoggedInWithin`] (and tuples of
//! them), so that `StepUp<(Loa4, LoggedInWithin<300>)>` states in the
//! handler's signature what the route needs.

use crate::loa::Loa;

use super::policy::StepUpPolicy;

/// A route's requirement as a type, for [`StepUp`](super::StepUp) and
/// [`require_step_up`](super::require_step_up). Implemented by [`Loa3`],
/// [`Loa4`], [`LoggedInWithin`], `()` and tuples of up to four
/// requirements (which must all hold).
///
/// ```
/// use axum_bankid::step_up::{Loa4, LoggedInWithin, Requirement};
/// // LOA 4, and a login from the last five minutes.
/// type Payout = (Loa4, LoggedInWithin<300>);
/// assert_eq!(Payout::POLICY.max_age(), Some(300));
/// ```
pub trait Requirement: Send + Sync + 'static {
    /// The requirement.
    const POLICY: StepUpPolicy;
}

/// LOA 3 ("substantial", BankID with biometrics) or higher.
#[derive(Debug, Clone, Copy, Default)]
pub struct Loa3;

/// LOA 4 ("high", BankID High: `acr` `urn:bankid:bid;LOA=4`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Loa4;

/// A login at most `SECS` seconds ago, by the ID token's `auth_time` (OIDC
/// `max_age`); e.g. `LoggedInWithin<300>` for "the last five minutes".
#[derive(Debug, Clone, Copy, Default)]
pub struct LoggedInWithin<const SECS: u32>;

impl Requirement for () {
    const POLICY: StepUpPolicy = StepUpPolicy::NONE;
}

impl Requirement for Loa3 {
    const POLICY: StepUpPolicy = StepUpPolicy::at_least(Loa::SUBSTANTIAL);
}

impl Requirement for Loa4 {
    const POLICY: StepUpPolicy = StepUpPolicy::at_least(Loa::HIGH);
}

impl<const SECS: u32> Requirement for LoggedInWithin<SECS> {
    const POLICY: StepUpPolicy = StepUpPolicy::logged_in_within(SECS);
}

impl<A: Requirement> Requirement for (A,) {
    const POLICY: StepUpPolicy = A::POLICY;
}

impl<A: Requirement, B: Requirement> Requirement for (A, B) {
    const POLICY: StepUpPolicy = A::POLICY.and(B::POLICY);
}

impl<A: Requirement, B: Requirement, C: Requirement> Requirement for (A, B, C) {
    const POLICY: StepUpPolicy = A::POLICY.and(B::POLICY).and(C::POLICY);
}

impl<A: Requirement, B: Requirement, C: Requirement, D: Requirement> Requirement for (A, B, C, D) {
    const POLICY: StepUpPolicy = A::POLICY.and(B::POLICY).and(C::POLICY).and(D::POLICY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_take_the_higher_level_and_the_shorter_age() {
        type R = (Loa3, LoggedInWithin<600>, Loa4, LoggedInWithin<300>);
        assert_eq!(R::POLICY.loa(), Some(Loa::HIGH));
        assert_eq!(R::POLICY.max_age(), Some(300));
        assert_eq!(<()>::POLICY, StepUpPolicy::NONE);
    }
}
