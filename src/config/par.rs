//! [`ParMode`]: when logins use a Pushed Authorization Request.

/// When logins use a Pushed Authorization Request (RFC 9126).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ParMode {
    /// Push whenever the provider advertises a PAR endpoint. Default.
    #[default]
    WhenAdvertised,
    /// Always push; start-up fails if the provider has no PAR endpoint.
    Required,
    /// Never push (logins with permissions then fail: BankID accepts
    /// `authorization_details` only in PAR).
    Disabled,
}
