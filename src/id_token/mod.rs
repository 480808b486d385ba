//! ID token verification (OpenID Connect Core §3.1.3.7), shared by every flow.
//!
//! Every JWS the crate verifies — ID tokens, signed permissions, and any
//! later provider-signed token — goes through one path,
//! [`IdTokenVerifier::verify_signed_jwt`]: the compact serialization and its
//! protected header are parsed here ([`CompactJws::parse`]: RFC 7515 §5.2,
//! unregistered header members of any JSON type ignored, `crit` enforced),
//! the signature is checked by `jsonwebtoken::crypto::verify` against the
//! provider's cached keys, and `nbf` is enforced. ID token claims are then
//! checked here, explicitly, so each failure has its own [`IdTokenError`]
//! and none depends on a library default. This runs once per login (at the
//! callback or when a CIBA request completes); the per-request path only
//! reads the already verified claims from the session.

use crate::clock::unix_now;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use jsonwebtoken::errors::ErrorKind;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use self::error::IdTokenError;
use crate::log_value::untrusted;
use crate::provider::jwks::{KeyCache, VerificationKey};
use crate::provider::signing_algs::SigningAlgs;

pub(crate) mod error;

/// Tokens above this size are refused before any parsing.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Header parameter names registered for JWS and JWE (RFC 7515 §4.1,
/// RFC 7516 §4.1, RFC 7518 §4.6–4.8). RFC 7515 §4.1.11 forbids `crit` to
/// name them.
const REGISTERED_HEADER_NAMES: &[&str] = &[
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "enc", "zip", "epk", "apu",
    "apv", "iv", "tag", "p2s", "p2c",
];

/// Header extensions this crate understands and processes, so `crit` may
/// name them. None: not even `b64` (RFC 7797), as BankID never uses it.
const PROCESSED_CRITICAL_EXTENSIONS: &[&str] = &[];

/// Claims of an ID token that passed every check. Only
/// [`IdTokenVerifier::verify`] can construct one.
#[derive(Clone)]
pub(crate) struct VerifiedIdToken {
    claims: Map<String, Value>,
}

impl VerifiedIdToken {
    pub(crate) fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    pub(crate) fn into_claims(self) -> Map<String, Value> {
        self.claims
    }
}

pub(crate) struct IdTokenVerifier {
    pub(crate) issuer: String,
    pub(crate) client_id: String,
    /// What the provider's discovery names, kept current
    /// ([`SigningAlgs`](crate::provider::signing_algs::SigningAlgs)).
    pub(crate) algorithms: Arc<SigningAlgs>,
    pub(crate) clock_skew_secs: i64,
    pub(crate) keys: Arc<KeyCache>,
}

impl IdTokenVerifier {
    /// Verifies signature and claims. `expected_nonce` is the nonce sent with
    /// the authorization request (`None` only for flows without one, CIBA).
    pub(crate) async fn verify(
        &self,
        token: &str,
        expected_nonce: Option<&str>,
    ) -> Result<VerifiedIdToken, IdTokenError> {
        let claims = self.verify_signed_jwt(token).await?;
        check_claims(&self.issuer, &self.client_id, self.clock_skew_secs, &claims, expected_nonce, unix_now())?;
        Ok(VerifiedIdToken { claims })
    }

    /// Verifies a provider-signed JWT (an ID token, a signed permission):
    /// its protected header, its signature and `nbf` — what every JWS from
    /// the provider must pass. The caller checks the other claims.
    pub(crate) async fn verify_signed_jwt(&self, token: &str) -> Result<Map<String, Value>, IdTokenError> {
        let jws = CompactJws::parse(token)?;
        // The header's `alg` as sent is attacker-sized; the error (logged,
        // shown) carries it made safe.
        let unsupported = || IdTokenError::UnsupportedAlgorithm(untrusted(&jws.alg).to_string());
        let alg = jws.alg.parse::<Algorithm>().map_err(|_| unsupported())?;
        if !self.algorithms.allow(alg).await {
            return Err(unsupported());
        }
        let kid = jws.kid.as_deref();
        let found = self.keys.key_for(kid, alg).await?;
        if let Err(err) = jws.check_signature(&found.key, alg) {
            if err != IdTokenError::BadSignature {
                return Err(err);
            }
            // The provider may have re-keyed under the same kid: one refetch
            // (rate-limited) and one more try with what it publishes now.
            let newer = self.keys.replacement_for(&found, kid, alg).await.ok_or(IdTokenError::BadSignature)?;
            jws.check_signature(&newer, alg)?;
        }
        let claims = jws.claims()?;
        check_not_before(&claims, self.clock_skew_secs, unix_now())?;
        Ok(claims)
    }
}

/// A JWS in compact serialization (RFC 7515 §7.1) whose protected header
/// passed the checks of RFC 7515 §5.2; the signature is not yet checked.
pub(crate) struct CompactJws<'t> {
    /// `BASE64URL(header) '.' BASE64URL(payload)`: what the signature covers.
    signing_input: &'t str,
    payload: &'t str,
    signature: &'t str,
    /// The header's `alg`, control characters removed and shortened, so it
    /// can be named in an error.
    pub(crate) alg: String,
    pub(crate) kid: Option<String>,
}

impl<'t> CompactJws<'t> {
    /// Splits the token and checks its protected header. Unregistered header
    /// members are ignored whatever their JSON type (RFC 7515 §4: "MUST be
    /// ignored" when not understood); `crit` is enforced. Key-carrying
    /// members (`jku`, `jwk`, `x5u`, `x5c`) are never used: keys come from
    /// the provider's JWKS only.
    pub(crate) fn parse(token: &'t str) -> Result<CompactJws<'t>, IdTokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(IdTokenError::Malformed);
        }
        let (signing_input, signature) = token.rsplit_once('.').ok_or(IdTokenError::Malformed)?;
        let (header, payload) = signing_input.split_once('.').ok_or(IdTokenError::Malformed)?;
        if payload.contains('.') {
            return Err(IdTokenError::Malformed);
        }
        let header = decode_object(header)?;
        let alg = header.get("alg").and_then(Value::as_str).ok_or(IdTokenError::Malformed)?;
        let alg = alg.chars().filter(|c| !c.is_control()).take(16).collect();
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(IdTokenError::Malformed),
        };
        check_critical(&header)?;
        Ok(CompactJws { signing_input, payload, signature, alg, kid })
    }

    /// Checks the signature with the crypto library (never a comparison of
    /// our own).
    fn check_signature(&self, key: &VerificationKey, alg: Algorithm) -> Result<(), IdTokenError> {
        match jsonwebtoken::crypto::verify(self.signature, self.signing_input.as_bytes(), &key.key, alg) {
            Ok(true) => Ok(()),
            Ok(false) => Err(IdTokenError::BadSignature),
            Err(err) if matches!(err.kind(), ErrorKind::Base64(_)) => Err(IdTokenError::Malformed),
            Err(_) => Err(IdTokenError::BadSignature),
        }
    }

    /// The payload as a JSON object (only read once the signature holds).
    fn claims(&self) -> Result<Map<String, Value>, IdTokenError> {
        decode_object(self.payload)
    }
}

fn decode_object(part: &str) -> Result<Map<String, Value>, IdTokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| IdTokenError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(IdTokenError::Malformed),
    }
}

/// RFC 7515 §4.1.11: `crit`, if present, is a non-empty array of names of
/// header members that are present and not registered; a recipient that
/// does not process one of them must reject the JWS.
fn check_critical(header: &Map<String, Value>) -> Result<(), IdTokenError> {
    let Some(crit) = header.get("crit") else {
        return Ok(());
    };
    let names = crit.as_array().filter(|names| !names.is_empty()).ok_or(IdTokenError::InvalidCriticalHeader)?;
    let mut unprocessed = false;
    for name in names {
        let name = name.as_str().ok_or(IdTokenError::InvalidCriticalHeader)?;
        if REGISTERED_HEADER_NAMES.contains(&name) || !header.contains_key(name) {
            return Err(IdTokenError::InvalidCriticalHeader);
        }
        unprocessed |= !PROCESSED_CRITICAL_EXTENSIONS.contains(&name);
    }
    if unprocessed {
        tracing::debug!("JWS names a critical header extension this crate does not process");
        return Err(IdTokenError::UnsupportedCriticalHeader);
    }
    Ok(())
}

/// RFC 7519 §4.1.5: a JWT with `nbf` must not be accepted before that time
/// (less the allowed clock skew). `nbf` is optional; present, it must be a
/// NumericDate.
fn check_not_before(claims: &Map<String, Value>, clock_skew_secs: i64, now: i64) -> Result<(), IdTokenError> {
    if !claims.contains_key("nbf") {
        return Ok(());
    }
    let nbf = numeric_date(claims, "nbf")?;
    if nbf > now.saturating_add(clock_skew_secs) {
        return Err(IdTokenError::NotYetValid);
    }
    Ok(())
}

/// The claim checks of OIDC Core §3.1.3.7, steps 2–4 and 9–11.
fn check_claims(
    issuer: &str,
    client_id: &str,
    clock_skew_secs: i64,
    claims: &Map<String, Value>,
    expected_nonce: Option<&str>,
    now: i64,
) -> Result<(), IdTokenError> {
    let iss = claims.get("iss").and_then(Value::as_str).ok_or(IdTokenError::MissingClaim("iss"))?;
    if iss != issuer {
        return Err(IdTokenError::IssuerMismatch);
    }
    check_audience(client_id, claims)?;
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
    if sub.is_empty() {
        return Err(IdTokenError::MissingClaim("sub"));
    }
    let exp = numeric_date(claims, "exp")?;
    if now > exp.saturating_add(clock_skew_secs) {
        return Err(IdTokenError::Expired);
    }
    let iat = numeric_date(claims, "iat")?;
    if iat > now.saturating_add(clock_skew_secs) {
        return Err(IdTokenError::IssuedInFuture);
    }
    check_auth_time(claims, clock_skew_secs, now)?;
    if let Some(expected) = expected_nonce {
        let nonce = claims.get("nonce").ok_or(IdTokenError::MissingNonce)?;
        let nonce = nonce.as_str().ok_or(IdTokenError::NonceMismatch)?;
        if !bool::from(nonce.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(IdTokenError::NonceMismatch);
        }
    }
    Ok(())
}

/// `auth_time` is optional (OIDC Core §2; step-up requires it where it
/// sends `max_age`); present, it is a NumericDate no later than now plus the
/// skew, like `iat`. Every recent-login check compares it with now, so a
/// time ahead would make an old login pass as recent.
fn check_auth_time(claims: &Map<String, Value>, clock_skew_secs: i64, now: i64) -> Result<(), IdTokenError> {
    if !claims.contains_key("auth_time") {
        return Ok(());
    }
    if numeric_date(claims, "auth_time")? > now.saturating_add(clock_skew_secs) {
        return Err(IdTokenError::AuthTimeInFuture);
    }
    Ok(())
}

/// `aud` must contain our client id and nothing else (we trust no other
/// audience); `azp`, if present, must be our client id.
pub(crate) fn check_audience(client_id: &str, claims: &Map<String, Value>) -> Result<(), IdTokenError> {
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(list)) => {
            list.iter().map(|v| v.as_str().ok_or(IdTokenError::MissingClaim("aud"))).collect::<Result<_, _>>()?
        }
        _ => return Err(IdTokenError::MissingClaim("aud")),
    };
    if !audiences.contains(&client_id) {
        return Err(IdTokenError::AudienceMismatch);
    }
    let azp = claims.get("azp");
    if audiences.len() > 1 {
        // OIDC Core: with several audiences an `azp` must be present.
        if azp.is_none() {
            return Err(IdTokenError::AuthorizedPartyMismatch);
        }
        return Err(IdTokenError::UntrustedAudience);
    }
    match azp {
        None => Ok(()),
        Some(Value::String(azp)) if azp == client_id => Ok(()),
        Some(_) => Err(IdTokenError::AuthorizedPartyMismatch),
    }
}

pub(crate) fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<i64, IdTokenError> {
    claims
        .get(name)
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)))
        .ok_or(IdTokenError::MissingClaim(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(claims: Value, nonce: Option<&str>) -> Result<(), IdTokenError> {
        check_claims("https://op.example", "client", 60, claims.as_object().unwrap(), nonce, 1_000_000)
    }

    fn good() -> Value {
        json!({"iss": "https://op.example", "aud": "client", "sub": "u1", "exp": 1_000_300, "iat": 1_000_000, "nonce": "n1"})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut v = good();
        v[key] = value;
        v
    }

    fn without(key: &str) -> Value {
        let mut v = good();
        v.as_object_mut().unwrap().remove(key);
        v
    }

    #[test]
    fn accepts_a_good_token() {
        assert_eq!(check(good(), Some("n1")), Ok(()));
        assert_eq!(check(with("aud", json!(["client"])), Some("n1")), Ok(()));
        assert_eq!(check(with("azp", json!("client")), Some("n1")), Ok(()));
    }

    #[test]
    fn each_claim_failure_has_its_error() {
        assert_eq!(check(with("iss", json!("https://evil.example")), Some("n1")), Err(IdTokenError::IssuerMismatch));
        assert_eq!(check(without("iss"), Some("n1")), Err(IdTokenError::MissingClaim("iss")));
        assert_eq!(check(with("aud", json!("other")), Some("n1")), Err(IdTokenError::AudienceMismatch));
        assert_eq!(
            check(with("aud", json!(["client", "other"])), Some("n1")),
            Err(IdTokenError::AuthorizedPartyMismatch)
        );
        let mut multi = with("aud", json!(["client", "other"]));
        multi["azp"] = json!("client");
        assert_eq!(check(multi, Some("n1")), Err(IdTokenError::UntrustedAudience));
        assert_eq!(check(with("azp", json!("other")), Some("n1")), Err(IdTokenError::AuthorizedPartyMismatch));
        assert_eq!(check(without("aud"), Some("n1")), Err(IdTokenError::MissingClaim("aud")));
        assert_eq!(check(without("sub"), Some("n1")), Err(IdTokenError::MissingClaim("sub")));
        assert_eq!(check(with("exp", json!(999_900)), Some("n1")), Err(IdTokenError::Expired));
        assert_eq!(check(with("auth_time", json!(1_000_061)), Some("n1")), Err(IdTokenError::AuthTimeInFuture));
        assert_eq!(
            check(with("auth_time", json!(1_000_000_000)), Some("n1")),
            Err(IdTokenError::AuthTimeInFuture),
            "milliseconds"
        );
        assert_eq!(check(with("auth_time", json!(1_000_060)), Some("n1")), Ok(()), "within the skew");
        assert_eq!(check(with("auth_time", json!("1")), Some("n1")), Err(IdTokenError::MissingClaim("auth_time")));
        assert_eq!(check(without("exp"), Some("n1")), Err(IdTokenError::MissingClaim("exp")));
        assert_eq!(check(with("iat", json!(1_000_100)), Some("n1")), Err(IdTokenError::IssuedInFuture));
        assert_eq!(check(without("nonce"), Some("n1")), Err(IdTokenError::MissingNonce));
        assert_eq!(check(with("nonce", json!("n2")), Some("n1")), Err(IdTokenError::NonceMismatch));
        assert_eq!(check(with("nonce", json!(5)), Some("n1")), Err(IdTokenError::NonceMismatch));
    }

    #[test]
    fn skew_is_honoured() {
        assert_eq!(check(with("exp", json!(999_950)), Some("n1")), Ok(()));
        assert_eq!(check(with("iat", json!(1_000_050)), Some("n1")), Ok(()));
    }

    #[test]
    fn nbf_is_enforced_with_skew() {
        let nbf = |value: Value| check_not_before(json!({"nbf": value}).as_object().unwrap(), 60, 1_000_000);
        assert_eq!(nbf(json!(1_000_060)), Ok(()), "within the skew");
        assert_eq!(nbf(json!(1_000_061)), Err(IdTokenError::NotYetValid));
        assert_eq!(nbf(json!(999_000)), Ok(()));
        assert_eq!(nbf(json!("soon")), Err(IdTokenError::MissingClaim("nbf")));
        assert_eq!(check_not_before(&Map::new(), 60, 1_000_000), Ok(()), "nbf is optional");
    }

    fn encode(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn parse_header(header: Value) -> Result<(String, Option<String>), IdTokenError> {
        let token = format!("{}.e30.AAAA", encode(&header));
        CompactJws::parse(&token).map(|jws| (jws.alg, jws.kid))
    }

    #[test]
    fn compact_serialization_has_exactly_three_parts() {
        let header = encode(&json!({"alg": "RS256"}));
        assert!(CompactJws::parse(&format!("{header}.e30.AAAA")).is_ok());
        assert_eq!(CompactJws::parse(&format!("{header}.e30")).err(), Some(IdTokenError::Malformed));
        assert_eq!(CompactJws::parse(&format!("{header}.e30.AAAA.AAAA")).err(), Some(IdTokenError::Malformed));
        assert_eq!(CompactJws::parse("!!!.e30.").err(), Some(IdTokenError::Malformed));
        assert_eq!(
            CompactJws::parse(&format!("{}.e30.", encode(&json!(["alg"])))).err(),
            Some(IdTokenError::Malformed)
        );
        let huge = format!("{header}.{}.AAAA", "A".repeat(MAX_TOKEN_LEN));
        assert_eq!(CompactJws::parse(&huge).err(), Some(IdTokenError::Malformed));
    }

    #[test]
    fn header_members_are_read_or_ignored() {
        assert_eq!(parse_header(json!({"alg": "none"})), Ok(("none".into(), None)));
        assert_eq!(
            parse_header(json!({"alg": "RS256", "kid": "k1", "x-n": 1, "x-o": {"a": [null]}, "x-b": false})),
            Ok(("RS256".into(), Some("k1".into())))
        );
        assert_eq!(parse_header(json!({"alg": "RS256", "kid": 7})), Err(IdTokenError::Malformed));
        assert_eq!(parse_header(json!({"alg": 256})), Err(IdTokenError::Malformed));
        assert_eq!(parse_header(json!({"kid": "k1"})), Err(IdTokenError::Malformed));
    }

    #[test]
    fn crit_is_enforced() {
        let crit = |extra: Value| {
            let mut header = json!({"alg": "RS256"});
            header.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            parse_header(header).err()
        };
        let invalid = Some(IdTokenError::InvalidCriticalHeader);
        assert_eq!(crit(json!({"crit": ["urn:x"], "urn:x": 1})), Some(IdTokenError::UnsupportedCriticalHeader));
        assert_eq!(crit(json!({"crit": ["b64"], "b64": false})), Some(IdTokenError::UnsupportedCriticalHeader));
        assert_eq!(crit(json!({"crit": []})), invalid);
        assert_eq!(crit(json!({"crit": {}})), invalid);
        assert_eq!(crit(json!({"crit": null})), invalid);
        assert_eq!(crit(json!({"crit": [1]})), invalid);
        assert_eq!(crit(json!({"crit": ["alg"]})), invalid);
        assert_eq!(crit(json!({"crit": ["x5t#S256"], "x5t#S256": "x"})), invalid);
        assert_eq!(crit(json!({"crit": ["urn:x", "urn:absent"], "urn:x": 1})), invalid);
        assert_eq!(crit(json!({"x-crit": ["urn:x"]})), None, "only `crit` itself is critical");
    }

    /// The JWS path every provider-signed token takes, against one known key
    /// (the simulator's public test key `sim-1`, here under kid `k1`).
    mod signed {
        use super::*;
        use jsonwebtoken::EncodingKey;
        use jsonwebtoken::jwk::Jwk;

        const PEM: &str = include_str!("../../simulator/src/keys/sim-1.pem");

        fn verifier() -> IdTokenVerifier {
            let key = EncodingKey::from_rsa_pem(PEM.as_bytes()).unwrap();
            let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
            jwk.common.key_id = Some("k1".into());
            IdTokenVerifier {
                issuer: "https://op.example".into(),
                client_id: "client".into(),
                algorithms: Arc::new(SigningAlgs::fixed(vec![Algorithm::RS256])),
                clock_skew_secs: 60,
                keys: Arc::new(KeyCache::from_jwks(json!({"keys": [jwk]}))),
            }
        }

        fn sign(header: Value, claims: Value) -> String {
            let key = EncodingKey::from_rsa_pem(PEM.as_bytes()).unwrap();
            let message = format!("{}.{}", encode(&header), encode(&claims));
            let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::RS256).unwrap();
            format!("{message}.{signature}")
        }

        fn header(extra: Value) -> Value {
            let mut header = json!({"alg": "RS256", "kid": "k1"});
            header.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            header
        }

        #[tokio::test]
        async fn unregistered_members_of_any_type_verify() {
            let verifier = verifier();
            let members = json!({"x-issued": 1_700_000_000, "x-o": {"n": [1, null]}, "x-f": 1.5, "x-b": true});
            let claims = verifier.verify_signed_jwt(&sign(header(members), json!({"sub": "u"}))).await.unwrap();
            assert_eq!(claims["sub"], "u");
        }

        #[tokio::test]
        async fn critical_extensions_are_refused_even_when_signed() {
            let token =
                sign(header(json!({"crit": ["urn:example:policy"], "urn:example:policy": "strict"})), json!({}));
            assert_eq!(verifier().verify_signed_jwt(&token).await, Err(IdTokenError::UnsupportedCriticalHeader));
        }

        #[tokio::test]
        async fn nbf_applies_to_every_signed_jwt() {
            // A signed permission is verified by `verify_signed_jwt` alone.
            let verifier = verifier();
            let ahead = unix_now() + 300;
            let token = sign(header(json!({})), json!({"permission_id": "p1", "nbf": ahead}));
            assert_eq!(verifier.verify_signed_jwt(&token).await, Err(IdTokenError::NotYetValid));
            let token = sign(header(json!({})), json!({"permission_id": "p1", "nbf": unix_now() + 30}));
            assert!(verifier.verify_signed_jwt(&token).await.is_ok(), "within the clock skew");
        }

        #[tokio::test]
        async fn signature_and_payload_are_checked() {
            let verifier = verifier();
            let token = sign(header(json!({})), json!({"sub": "u"}));
            let (message, _) = token.rsplit_once('.').unwrap();
            let other = sign(header(json!({})), json!({"sub": "v"}));
            let (_, other_signature) = other.rsplit_once('.').unwrap();
            let swapped = format!("{message}.{other_signature}");
            assert_eq!(verifier.verify_signed_jwt(&swapped).await, Err(IdTokenError::BadSignature));
            assert_eq!(verifier.verify_signed_jwt(&format!("{message}.%%%")).await, Err(IdTokenError::Malformed));
            let array_payload = sign(header(json!({})), json!(["not", "an", "object"]));
            assert_eq!(verifier.verify_signed_jwt(&array_payload).await, Err(IdTokenError::Malformed));
        }
    }

    /// Keys over real HTTP from a loopback JWKS server, checked against a
    /// generated BankID-shaped PKI: ES256 first, RS256 alongside, and the
    /// reason of every refused key reaching the token that names it.
    mod keys_over_http {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::Duration;

        use super::*;
        use crate::provider::jwks::{KeyCacheSettings, KeyTrust};
        use crate::provider::key_chain::{KeyChainError, TrustedRoots};
        use crate::provider::max_age::MaxAgePolicy;
        use crate::provider::test_pki::{Authority, Validity, ec_jwk, ec_key, sign_es256};
        use jsonwebtoken::EncodingKey;

        /// The RSA leaf's key (`test_pki`'s `rsa_leaf` uses the same one).
        const PEM: &str = include_str!("../../simulator/src/keys/sim-1.pem");

        /// Serves `jwks` at `/jwks` on loopback; counts the requests.
        async fn serve(jwks: Value) -> (url::Url, Arc<AtomicUsize>) {
            let hits = Arc::new(AtomicUsize::new(0));
            let counter = hits.clone();
            let handler = move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let jwks = jwks.clone();
                async move { axum::Json(jwks) }
            };
            let app = axum::Router::new().route("/jwks", axum::routing::get(handler));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let uri = format!("http://{}/jwks", listener.local_addr().unwrap()).parse().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            (uri, hits)
        }

        async fn verifier_for(uri: url::Url, root: Option<&Authority>) -> IdTokenVerifier {
            let trust = match root {
                Some(root) => {
                    let roots = TrustedRoots::from_pem(root.pem().as_bytes(), unix_now() as u64).unwrap();
                    KeyTrust::Chain { roots, skew: Duration::from_secs(60) }
                }
                None => KeyTrust::TlsOnly,
            };
            let hour = Duration::from_secs(3600);
            let settings = KeyCacheSettings {
                max_age: MaxAgePolicy { floor: hour, ceiling: hour },
                cooldown: Duration::from_secs(60),
                trust,
            };
            let keys = KeyCache::load(reqwest::Client::new(), uri, settings).await.expect("the JWKS loads");
            IdTokenVerifier {
                issuer: "https://op.example".into(),
                client_id: "client".into(),
                algorithms: Arc::new(SigningAlgs::fixed(vec![Algorithm::ES256, Algorithm::RS256])),
                clock_skew_secs: 60,
                keys: Arc::new(keys),
            }
        }

        fn claims() -> Value {
            json!({"iss": "https://op.example", "aud": "client", "sub": "u1", "exp": unix_now() + 300, "iat": unix_now()})
        }

        #[tokio::test]
        async fn es256_verifies_with_a_chained_key_and_each_refused_key_says_why() {
            let root = Authority::root("test BankID root");
            let ca = root.rsa_intermediate("test utility CA");
            let foreign = Authority::root("someone else's root");
            let good = ca.leaf(Validity::current());
            let expired = ca.leaf(Validity::expired_since(86_400));
            let stranger = foreign.leaf(Validity::current());
            let impostor = ec_key();
            let mut mismatch = ec_jwk(&impostor, "mismatch");
            mismatch["x5c"] = good.jwk("good", &[&ca])["x5c"].clone();
            let jwks = json!({"keys": [
                good.jwk("good", &[&ca]),
                expired.jwk("old", &[&ca]),
                stranger.jwk("foreign", &[&foreign]),
                mismatch,
                ec_jwk(&good.key, "bare"),
            ]});
            let (uri, _) = serve(jwks).await;
            let verifier = verifier_for(uri, Some(&root)).await;

            let verified = verifier.verify(&sign_es256(&good.key, "good", &claims()), None).await;
            assert_eq!(verified.map(|t| t.claims()["sub"].clone()), Ok(json!("u1")));
            let refused = [
                (sign_es256(&expired.key, "old", &claims()), KeyChainError::KeyCertificateExpired),
                (sign_es256(&stranger.key, "foreign", &claims()), KeyChainError::UntrustedKeyChain),
                (sign_es256(&impostor, "mismatch", &claims()), KeyChainError::KeyCertificateMismatch),
                (sign_es256(&good.key, "bare", &claims()), KeyChainError::MissingKeyChain),
            ];
            for (token, reason) in refused {
                let err = verifier.verify(&token, None).await.err();
                assert_eq!(err, Some(IdTokenError::UntrustedKey(reason)), "{}", reason.kind());
                assert_eq!(err.unwrap().kind(), reason.kind());
            }
        }

        #[tokio::test]
        async fn one_kid_with_an_es256_and_an_rs256_key_verifies_both_in_either_order() {
            let root = Authority::root("test BankID root");
            let ca = root.rsa_intermediate("test utility CA");
            let ec = ca.leaf(Validity::current());
            let rsa = ca.rsa_leaf(Validity::current());
            let rs256 = {
                let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
                header.kid = Some("k1".into());
                jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_rsa_pem(PEM.as_bytes()).unwrap()).unwrap()
            };
            let es256 = sign_es256(&ec.key, "k1", &claims());
            for order in
                [[ec.jwk("k1", &[&ca]), rsa.rsa_jwk("k1", &[&ca])], [rsa.rsa_jwk("k1", &[&ca]), ec.jwk("k1", &[&ca])]]
            {
                let (uri, _) = serve(json!({"keys": order})).await;
                let verifier = verifier_for(uri, Some(&root)).await;
                assert!(verifier.verify(&es256, None).await.is_ok(), "ES256");
                assert!(verifier.verify(&rs256, None).await.is_ok(), "RS256");
            }
        }

        #[tokio::test]
        async fn keys_are_checked_once_per_load_not_per_token() {
            let root = Authority::root("test BankID root");
            let ca = root.rsa_intermediate("test utility CA");
            let leaf = ca.leaf(Validity::current());
            let (uri, hits) = serve(json!({"keys": [leaf.jwk("k1", &[&ca])]})).await;
            let verifier = verifier_for(uri, Some(&root)).await;
            for _ in 0..5 {
                assert!(verifier.verify(&sign_es256(&leaf.key, "k1", &claims()), None).await.is_ok());
            }
            // One fetch at load; the chain verdict is cached with the set.
            assert_eq!(hits.load(Ordering::SeqCst), 1);
        }

        #[tokio::test]
        async fn without_roots_an_es256_key_is_trusted_by_tls() {
            let leaf = Authority::root("any").leaf(Validity::current());
            let (uri, _) = serve(json!({"keys": [ec_jwk(&leaf.key, "k1")]})).await;
            let verifier = verifier_for(uri, None).await;
            assert!(verifier.verify(&sign_es256(&leaf.key, "k1", &claims()), None).await.is_ok());
        }
    }
}
