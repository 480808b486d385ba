//! Faults the simulator can inject, so relying parties can prove that they
//! reject what a compromised or misbehaving provider would send.

use std::time::Duration;

/// A misbehaviour to inject; activate with
/// [`Simulator::add_fault`](super::Simulator::add_fault).
///
/// Several faults may be active at once; ID-token faults then all apply to the
/// same token. Each one breaks exactly one rule, so a test that expects a
/// login to fail pins down which check the relying party performs.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The ID token's `aud` is `"someone-else"`.
    WrongAudience,
    /// The ID token's `aud` is `[client_id, "someone-else"]`, with no `azp`.
    ExtraAudience,
    /// The ID token's `aud` is the client id but `azp` is `"someone-else"`.
    WrongAzp,
    /// The ID token's `iss` is `https://evil.example`.
    WrongIssuer,
    /// The ID token expired 10 minutes ago (issued 20 minutes ago).
    Expired,
    /// The ID token's `iat` is 10 minutes in the future.
    IssuedInFuture,
    /// The ID token's header and claims are valid but its signature bytes are
    /// altered.
    BadSignature,
    /// The ID token's header says `"alg": "none"` and the signature is empty.
    AlgNone,
    /// The ID token is signed with the rotated key (kid `sim-2`), and from now
    /// on the JWKS publishes both `sim-1` and `sim-2` — even after
    /// [`Simulator::clear_faults`](super::Simulator::clear_faults), as a real
    /// rotation cannot be undone. A relying party that refetches the JWKS when
    /// it meets an unknown `kid` succeeds.
    RotatedKeys,
    /// Both discovery documents (BankID OIDC's and BIB's) answer `503`, like
    /// a provider that is down or not reachable yet. Relying parties that
    /// start meanwhile retry, fail, or start degraded, as configured.
    DiscoveryUnavailable,
    /// BankID OIDC's `/jwks` waits this long before it answers (the request
    /// is counted on arrival); other endpoints answer at once. With a
    /// relying party timeout below it, a key refetch (after an unknown
    /// `kid`, see [`Fault::RotatedKeys`]) times out while the code exchange
    /// still works.
    SlowJwks(Duration),
    /// The ID token is signed with a key whose kid (`sim-unknown`) is never
    /// published: every relying party must reject it.
    UnknownKid,
    /// The ID token's `nonce` differs from the one in the authorization
    /// request.
    WrongNonce,
    /// The ID token has no `nonce` claim.
    MissingNonce,
    /// The ID token has no `acr` claim.
    MissingAcr,
    /// The ID token's `acr` is `urn:bankid:bis;LOA=2`, whoever logged in.
    LowAcr,
    /// The authorization response's RFC 9207 `iss` parameter is
    /// `https://evil.example` (a mix-up attack).
    WrongCallbackIss,
    /// The token endpoint answers `400 {"error":"invalid_grant",
    /// "error_description":"simulated failure"}`, whatever the grant type
    /// (code, client credentials, CIBA poll). It answers before looking at
    /// the request, so the code stays redeemable once the fault is cleared.
    TokenEndpointError,
    /// The token endpoint answers `500` with a body that is not JSON, before
    /// looking at the request (whatever the grant type).
    TokenEndpointServerError,
    /// Back-channel requests — discovery, JWKS, token, userinfo, PAR,
    /// backchannel authentication and the Permission API — wait this long
    /// before they are answered (the login page and the phone page do not).
    Slow(Duration),
    /// The token endpoint does its work — redeems the code, hands out the
    /// CIBA tokens — and only then waits this long before answering, like a
    /// response stuck in a slow network. A client that gives up meanwhile
    /// has still used up the code or the `auth_req_id`.
    SlowTokenAnswer(Duration),
    /// The ID token's `permission_digest` is the digest of other bytes than
    /// the approved permission statement (each entry, if there are several).
    /// The access token's `authorization_details` stay honest, so only a
    /// relying party that checks the ID token notices.
    WrongPermissionDigest,
    /// The ID token has no `permission_digest` claim, and the items of the
    /// access token's `authorization_details` (and of the response body's,
    /// if echoed) have no `permission_digest`.
    MissingPermissionDigest,
    /// The items of the access token's `authorization_details` claim (and
    /// of the response body's, if echoed — see
    /// [`SimulatorBuilder::echo_authorization_details`](super::SimulatorBuilder::echo_authorization_details))
    /// have `"type": "other.v1"` instead of the pushed type.
    DifferentPermissionType,
    /// Every pushed `request_uri` is treated as expired when the browser
    /// brings it to `/authorize`: the user is sent back with
    /// `error=invalid_request_uri`.
    ExpiredRequestUri,
    /// A pushed `request_uri` may be used more than once (the single-use
    /// check is off), so a test can show that a relying party does not
    /// depend on it.
    ReusableRequestUri,
    /// BIB's `user-exists` answers `500` with a body that is not JSON (the
    /// call is still counted).
    UserExistsError,
    /// The first `n` grant requests (`GET {bib}/permissions/{id}/grant`)
    /// after this fault is set answer `404`, even for an approved
    /// permission, as a grant still being produced would. BankID's example
    /// retries them.
    GrantNotReady(u32),
    /// The grant is signed with BIB's ID-token key but its header names the
    /// grant key's `kid`: verification against `jwks_uri_grants` fails.
    GrantWrongKey,
    /// The grant is signed with BIB's ID-token key and names it (`kid`
    /// `bib-1`): a relying party that verifies grants with `jwks_uri`
    /// instead of `jwks_uri_grants` would accept it.
    GrantSignedWithIdTokenKey,
    /// BIB's `user-exists` always answers `{"exists": false}`.
    UserExistsFalse,
    /// Every BIB endpoint that takes a Bearer token answers `401
    /// invalid_token`, even for a fresh one (a token endpoint that issues
    /// tokens BIB does not accept): a relying party must fetch one new token
    /// after a `401`, and then give up rather than loop.
    BearerRefused,
    /// Registering a permission answers `400 {"error":"invalid_request",
    /// "error_description":"simulated refusal"}`.
    RegisterRefused,
    /// A valid backchannel authentication request answers
    /// `400 {"error":"access_denied"}`.
    BackchannelRefused,
    /// The CIBA ID token is signed with BankID OIDC's key and names its kid
    /// (`sim-1`), not BIB's: verification against BIB's `jwks_uri` fails.
    CibaIdTokenSignedByOidcKey,
    /// `/jwks` answers `503` with a body that is not JSON (the request is
    /// still counted), like a provider whose key endpoint is down.
    JwksUnavailable,
    /// The ID token's `nbf` is 5 minutes in the future (everything else is
    /// valid): a relying party must not accept it yet (RFC 7519 §4.1.5).
    NotYetValid,
    /// The ID token's protected header also carries these members, added
    /// after `typ`, `alg` and `kid` (a member of the same name replaces
    /// them). The signature covers them, so only the header checks of the
    /// relying party decide: unregistered members must be ignored
    /// (RFC 7515 §4), `crit` extensions it does not process must be refused
    /// (RFC 7515 §4.1.11).
    HeaderMembers(serde_json::Map<String, serde_json::Value>),
    /// ID tokens are signed with `key` and name `kid` in their header
    /// (`UnknownKid` and `RotatedKeys` still win). With
    /// [`Simulator::publish_keys`](super::Simulator::publish_keys) this
    /// re-keys the provider, e.g. a new key under the old `kid`.
    SignWith {
        /// The private key that signs.
        key: crate::keys::SigningKey,
        /// The `kid` in the header.
        kid: String,
    },
    /// Step-up: a login that asked for a level (`acr_values` or
    /// `login_hint`) comes back as BankID with biometrics
    /// (`urn:bankid:bis;LOA=3`), below an asked LOA 4.
    BelowAskedLevel,
    /// Step-up: the ID token's `auth_time` is 10 minutes older than the
    /// `max_age` the request sent (or than now, without one).
    StaleAuthTime,
    /// Step-up: the ID token has no `auth_time`, even when `max_age` was sent.
    MissingAuthTime,
    /// The ID token's `auth_time` is in milliseconds, as a misbehaving
    /// provider might send it: a time tens of thousands of years ahead.
    AuthTimeInMilliseconds,
    /// Every published signing key (BankID OIDC's and both of BIB's) carries
    /// a certificate chain (`x5c`) that ends at a second, foreign root CA —
    /// not [`Simulator::root_certificates_pem`](super::Simulator::root_certificates_pem).
    /// Tokens are still signed with the published keys, so only a relying
    /// party that checks the chain against its configured roots notices.
    ChainToForeignRoot,
    /// Every published signing key's leaf certificate expired yesterday
    /// (the chain is otherwise the trusted one; tokens still verify with
    /// the JWK).
    ExpiredCertificate,
    /// Every published signing key's `x5c` leaf certifies another public
    /// key (the never-published `sim-unknown`'s) than the JWK's own; the
    /// chain itself is trusted and valid.
    CertificateForOtherKey,
    /// The published signing keys carry no `x5c` (and no `x5t#S256`), so
    /// nothing ties them to a BankID root.
    NoCertificateChain,
    /// Step-up: the code-flow login is completed by another person — the
    /// next test user in [`Simulator::users`](super::Simulator::users) —
    /// whoever was chosen on the login page.
    OtherPerson,
}

/// The issuer used by [`Fault::WrongIssuer`] and [`Fault::WrongCallbackIss`].
pub(crate) const EVIL_ISSUER: &str = "https://evil.example";

/// The foreign party used by the audience faults.
pub(crate) const SOMEONE_ELSE: &str = "someone-else";

/// The active faults, as a snapshot taken when a request is handled.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults(Vec<Fault>);

impl Faults {
    /// Activates `fault`; activating one twice changes nothing.
    pub(crate) fn add(&mut self, fault: Fault) {
        if !self.0.contains(&fault) {
            self.0.push(fault);
        }
    }

    /// Deactivates every fault.
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// Whether `fault` is active.
    pub(crate) fn has(&self, fault: &Fault) -> bool {
        self.0.contains(fault)
    }

    /// The active faults, oldest first (for faults that carry data).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Fault> {
        self.0.iter()
    }

    /// How long the token endpoint holds its answer back: the longest
    /// active [`Fault::SlowTokenAnswer`], if any.
    pub(crate) fn answer_delay(&self) -> Option<Duration> {
        self.longest(|fault| match fault {
            Fault::SlowTokenAnswer(delay) => Some(*delay),
            _ => None,
        })
    }

    /// How long back-channel endpoints wait: the longest active
    /// [`Fault::Slow`], if any.
    pub(crate) fn delay(&self) -> Option<Duration> {
        self.longest(|fault| match fault {
            Fault::Slow(delay) => Some(*delay),
            _ => None,
        })
    }

    /// How long `/jwks` waits: the longest active [`Fault::SlowJwks`].
    pub(crate) fn jwks_delay(&self) -> Option<Duration> {
        self.longest(|fault| match fault {
            Fault::SlowJwks(delay) => Some(*delay),
            _ => None,
        })
    }

    /// The certificate chain published keys carry: the first chain fault
    /// activated, else the trusted chain.
    pub(crate) fn chain(&self) -> crate::pki::Chain {
        use crate::pki::Chain;
        self.0
            .iter()
            .find_map(|fault| match fault {
                Fault::ChainToForeignRoot => Some(Chain::ForeignRoot),
                Fault::ExpiredCertificate => Some(Chain::ExpiredLeaf),
                Fault::CertificateForOtherKey => Some(Chain::OtherKeysLeaf),
                Fault::NoCertificateChain => Some(Chain::Absent),
                _ => None,
            })
            .unwrap_or(Chain::Trusted)
    }

    fn longest(&self, delay_of: impl Fn(&Fault) -> Option<Duration>) -> Option<Duration> {
        self.0.iter().filter_map(delay_of).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_twice_keeps_one_and_the_longest_delay_wins() {
        let mut faults = Faults::default();
        faults.add(Fault::LowAcr);
        faults.add(Fault::LowAcr);
        faults.add(Fault::Slow(Duration::from_millis(10)));
        faults.add(Fault::Slow(Duration::from_millis(30)));
        assert_eq!(faults.0.len(), 3);
        assert!(faults.has(&Fault::LowAcr));
        assert_eq!(faults.delay(), Some(Duration::from_millis(30)));
        faults.clear();
        assert_eq!(faults.delay(), None);
        assert!(!faults.has(&Fault::LowAcr));
    }
}
