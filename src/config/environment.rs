//! [`BankIdEnvironment`]: the two issuers of a BankID environment.

/// A BankID environment: both discovery documents at once.
///
/// BankID with biometrics is two OpenID Providers — **BankID OIDC** (the
/// browser code flow and client-credentials tokens) and **BIB** (the
/// Permission API, signed grants and CIBA) — each with its own issuer,
/// discovery document and keys. An environment names both; an explicit
/// [`issuer`](crate::BankIdConfigBuilder::issuer) or
/// [`bib_issuer`](crate::BankIdConfigBuilder::bib_issuer) overrides its half.
///
/// Source: BankID's developer pages and the `appsettings.example.json` of
/// BankID Norway's CIBA integration example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BankIdEnvironment {
    /// BankID's public test environment ("current"; preprod test users).
    Current,
    /// Production.
    Production,
}

impl BankIdEnvironment {
    /// The BankID OIDC issuer (discovery is `{issuer}/.well-known/openid-configuration`).
    pub fn issuer(self) -> &'static str {
        match self {
            BankIdEnvironment::Current => "https://auth.current.bankid.no/auth/realms/current",
            BankIdEnvironment::Production => "https://auth.bankid.no/auth/realms/prod",
        }
    }

    /// The BIB issuer (discovery is `{bib_issuer}/.well-known/openid-configuration`).
    pub fn bib_issuer(self) -> &'static str {
        match self {
            BankIdEnvironment::Current => "https://current.aletheia-test.idtech.no",
            BankIdEnvironment::Production => "https://app.bankid.no",
        }
    }

    pub(super) fn parse(value: &str) -> Option<Self> {
        match value {
            "current" => Some(BankIdEnvironment::Current),
            "production" => Some(BankIdEnvironment::Production),
            _ => None,
        }
    }
}
