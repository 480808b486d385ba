//! The one JWS verifier: every token BankID signs — ID tokens, grants (the
//! Permission API's signed permissions) and back-channel logout tokens —
//! passes [`JwsVerifier::verify`] before its own claims are checked.
//!
//! The compact serialization and its protected header are parsed here
//! ([`CompactJws::parse`]: RFC 7515 §5.2, a size bound, unregistered header
//! members of any JSON type ignored, `crit` enforced per §4.1.11); the `alg`
//! must be one the provider advertises and asymmetric (the allow-list in
//! `provider::signing_algs`); the key is selected by `kid` and `alg` from
//! the provider's cached JWKS (one rate-limited refetch for a re-keyed
//! `kid`); the signature is checked by `jsonwebtoken::crypto::verify`; and
//! `nbf` (RFC 7519 §4.1.5) is enforced. Key-carrying header members (`jku`,
//! `jwk`, `x5u`, `x5c`) are never used. Claim checks belong to each token's
//! own module (`id_token`, the back-channel logout route, the grant check).
//!
//! A failure is a [`JwsError`], defined here beside the checks that raise
//! it; each token's module turns it into its own error (`IdTokenError`,
//! `LogoutTokenError`, the grant's `PermissionError`) with the same codes,
//! so this verifier depends on no token family.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use jsonwebtoken::errors::ErrorKind;
use serde_json::{Map, Value};

use crate::clock::unix_now;
use crate::log_value::untrusted;
use crate::provider::jwks::{KeyCache, KeyLookupError, VerificationKey};
use crate::provider::signing_algs::SigningAlgs;

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

/// Why a provider-signed JWS failed [`JwsVerifier::verify`], or a
/// NumericDate claim could not be read ([`numeric_date`]). Never shown as
/// such: each token family converts it into its public error, keeping
/// [`kind`](Self::kind), the code every one of them reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JwsError {
    /// Not a compact JWS (or above the size bound), or its header or
    /// payload is not a base64url JSON object.
    Malformed,
    /// The `alg` is not one the provider advertises, or not an asymmetric
    /// signature algorithm; made safe to show.
    UnsupportedAlgorithm(String),
    /// No key may verify the token (see [`KeyLookupError`]).
    Key(KeyLookupError),
    /// The signature does not verify.
    BadSignature,
    /// `nbf` is in the future (beyond the allowed skew; RFC 7519 §4.1.5).
    NotYetValid,
    /// A NumericDate claim is missing or not a number.
    MissingClaim(&'static str),
    /// `crit` names an extension this crate does not process (RFC 7515
    /// §4.1.11).
    UnsupportedCriticalHeader,
    /// `crit` is not a non-empty array of names of present, unregistered
    /// header members (RFC 7515 §4.1.11).
    InvalidCriticalHeader,
}

impl JwsError {
    /// The stable code of the failure, as the token families report it.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            JwsError::Malformed => "malformed",
            JwsError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            JwsError::Key(key) => key.kind(),
            JwsError::BadSignature => "bad_signature",
            JwsError::NotYetValid => "not_yet_valid",
            JwsError::MissingClaim(_) => "missing_claim",
            JwsError::UnsupportedCriticalHeader => "unsupported_critical_header",
            JwsError::InvalidCriticalHeader => "invalid_critical_header",
        }
    }
}

impl From<KeyLookupError> for JwsError {
    fn from(err: KeyLookupError) -> Self {
        JwsError::Key(err)
    }
}

/// Verifies BankID JWSs against one provider's keys and algorithms.
pub(crate) struct JwsVerifier {
    /// What the provider's discovery names, kept current
    /// ([`SigningAlgs`](crate::provider::signing_algs::SigningAlgs)).
    pub(crate) algorithms: Arc<SigningAlgs>,
    pub(crate) clock_skew_secs: i64,
    pub(crate) keys: Arc<KeyCache>,
}

impl JwsVerifier {
    /// Verifies a provider-signed JWT (an ID token, a grant, a logout token):
    /// its protected header, its signature and `nbf` — what every JWS from
    /// the provider must pass. The caller checks the other claims.
    pub(crate) async fn verify(&self, token: &str) -> Result<Map<String, Value>, JwsError> {
        let jws = CompactJws::parse(token)?;
        // The header's `alg` as sent is attacker-sized; the error (logged,
        // shown) carries it made safe.
        let unsupported = || JwsError::UnsupportedAlgorithm(untrusted(&jws.alg).to_string());
        let alg = jws.alg.parse::<Algorithm>().map_err(|_| unsupported())?;
        if !self.algorithms.allow(alg).await {
            return Err(unsupported());
        }
        let kid = jws.kid.as_deref();
        let found = self.keys.key_for(kid, alg).await?;
        if let Err(err) = jws.check_signature(&found.key, alg) {
            if err != JwsError::BadSignature {
                return Err(err);
            }
            // The provider may have re-keyed under the same kid: one refetch
            // (rate-limited) and one more try with what it publishes now.
            let newer = self.keys.replacement_for(&found, kid, alg).await.ok_or(JwsError::BadSignature)?;
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
    pub(crate) fn parse(token: &'t str) -> Result<CompactJws<'t>, JwsError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwsError::Malformed);
        }
        let (signing_input, signature) = token.rsplit_once('.').ok_or(JwsError::Malformed)?;
        let (header, payload) = signing_input.split_once('.').ok_or(JwsError::Malformed)?;
        if payload.contains('.') {
            return Err(JwsError::Malformed);
        }
        let header = decode_object(header)?;
        let alg = header.get("alg").and_then(Value::as_str).ok_or(JwsError::Malformed)?;
        let alg = alg.to_owned();
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(JwsError::Malformed),
        };
        check_critical(&header)?;
        Ok(CompactJws { signing_input, payload, signature, alg, kid })
    }

    /// Checks the signature with the crypto library (never a comparison of
    /// our own).
    fn check_signature(&self, key: &VerificationKey, alg: Algorithm) -> Result<(), JwsError> {
        match jsonwebtoken::crypto::verify(self.signature, self.signing_input.as_bytes(), &key.key, alg) {
            Ok(true) => Ok(()),
            Ok(false) => Err(JwsError::BadSignature),
            Err(err) if matches!(err.kind(), ErrorKind::Base64(_)) => Err(JwsError::Malformed),
            Err(_) => Err(JwsError::BadSignature),
        }
    }

    /// The payload as a JSON object (only read once the signature holds).
    fn claims(&self) -> Result<Map<String, Value>, JwsError> {
        decode_object(self.payload)
    }
}

fn decode_object(part: &str) -> Result<Map<String, Value>, JwsError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| JwsError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwsError::Malformed),
    }
}

/// RFC 7515 §4.1.11: `crit`, if present, is a non-empty array of names of
/// header members that are present and not registered; a recipient that
/// does not process one of them must reject the JWS.
fn check_critical(header: &Map<String, Value>) -> Result<(), JwsError> {
    let Some(crit) = header.get("crit") else {
        return Ok(());
    };
    let names = crit.as_array().filter(|names| !names.is_empty()).ok_or(JwsError::InvalidCriticalHeader)?;
    let mut unprocessed = false;
    for name in names {
        let name = name.as_str().ok_or(JwsError::InvalidCriticalHeader)?;
        if REGISTERED_HEADER_NAMES.contains(&name) || !header.contains_key(name) {
            return Err(JwsError::InvalidCriticalHeader);
        }
        unprocessed |= !PROCESSED_CRITICAL_EXTENSIONS.contains(&name);
    }
    if unprocessed {
        tracing::debug!("JWS names a critical header extension this crate does not process");
        return Err(JwsError::UnsupportedCriticalHeader);
    }
    Ok(())
}

/// RFC 7519 §4.1.5: a JWT with `nbf` must not be accepted before that time
/// (less the allowed clock skew). `nbf` is optional; present, it must be a
/// NumericDate.
fn check_not_before(claims: &Map<String, Value>, clock_skew_secs: i64, now: i64) -> Result<(), JwsError> {
    if !claims.contains_key("nbf") {
        return Ok(());
    }
    let nbf = numeric_date(claims, "nbf")?;
    if nbf > now.saturating_add(clock_skew_secs) {
        return Err(JwsError::NotYetValid);
    }
    Ok(())
}

/// A NumericDate claim (RFC 7519 §2), as whole seconds.
pub(crate) fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<i64, JwsError> {
    claims
        .get(name)
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)))
        .ok_or(JwsError::MissingClaim(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nbf_is_enforced_with_skew() {
        let nbf = |value: Value| check_not_before(json!({"nbf": value}).as_object().unwrap(), 60, 1_000_000);
        assert_eq!(nbf(json!(1_000_060)), Ok(()), "within the skew");
        assert_eq!(nbf(json!(1_000_061)), Err(JwsError::NotYetValid));
        assert_eq!(nbf(json!(999_000)), Ok(()));
        assert_eq!(nbf(json!("soon")), Err(JwsError::MissingClaim("nbf")));
        assert_eq!(check_not_before(&Map::new(), 60, 1_000_000), Ok(()), "nbf is optional");
    }

    fn encode(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn parse_header(header: Value) -> Result<(String, Option<String>), JwsError> {
        let token = format!("{}.e30.AAAA", encode(&header));
        CompactJws::parse(&token).map(|jws| (jws.alg, jws.kid))
    }

    #[test]
    fn compact_serialization_has_exactly_three_parts() {
        let header = encode(&json!({"alg": "RS256"}));
        assert!(CompactJws::parse(&format!("{header}.e30.AAAA")).is_ok());
        assert_eq!(CompactJws::parse(&format!("{header}.e30")).err(), Some(JwsError::Malformed));
        assert_eq!(CompactJws::parse(&format!("{header}.e30.AAAA.AAAA")).err(), Some(JwsError::Malformed));
        assert_eq!(CompactJws::parse("!!!.e30.").err(), Some(JwsError::Malformed));
        assert_eq!(CompactJws::parse(&format!("{}.e30.", encode(&json!(["alg"])))).err(), Some(JwsError::Malformed));
        let huge = format!("{header}.{}.AAAA", "A".repeat(MAX_TOKEN_LEN));
        assert_eq!(CompactJws::parse(&huge).err(), Some(JwsError::Malformed));
    }

    #[test]
    fn header_members_are_read_or_ignored() {
        assert_eq!(parse_header(json!({"alg": "none"})), Ok(("none".into(), None)));
        assert_eq!(
            parse_header(json!({"alg": "RS256", "kid": "k1", "x-n": 1, "x-o": {"a": [null]}, "x-b": false})),
            Ok(("RS256".into(), Some("k1".into())))
        );
        assert_eq!(parse_header(json!({"alg": "RS256", "kid": 7})), Err(JwsError::Malformed));
        assert_eq!(parse_header(json!({"alg": 256})), Err(JwsError::Malformed));
        assert_eq!(parse_header(json!({"kid": "k1"})), Err(JwsError::Malformed));
    }

    #[test]
    fn an_alg_is_kept_as_sent_and_shown_only_through_the_untrusted_rule() {
        // No clean-up before the algorithm is compared: "RS\0256" must not
        // become RS256. Only what an error shows of it is made safe.
        let (alg, _) = parse_header(json!({"alg": "RS\u{0}256"})).unwrap();
        assert_eq!(alg, "RS\u{0}256");
        assert!(alg.parse::<Algorithm>().is_err());
        let hostile = format!("{}\n\u{1b}[31m", "A".repeat(5_000));
        let (alg, _) = parse_header(json!({ "alg": hostile })).unwrap();
        let shown = untrusted(&alg).to_string();
        assert!(shown.chars().count() <= 65 && !shown.chars().any(char::is_control), "{shown:?}");
    }

    #[test]
    fn crit_is_enforced() {
        let crit = |extra: Value| {
            let mut header = json!({"alg": "RS256"});
            header.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            parse_header(header).err()
        };
        let invalid = Some(JwsError::InvalidCriticalHeader);
        assert_eq!(crit(json!({"crit": ["urn:x"], "urn:x": 1})), Some(JwsError::UnsupportedCriticalHeader));
        assert_eq!(crit(json!({"crit": ["b64"], "b64": false})), Some(JwsError::UnsupportedCriticalHeader));
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

        const PEM: &str = include_str!("../simulator/src/keys/sim-1.pem");

        fn verifier() -> JwsVerifier {
            let key = EncodingKey::from_rsa_pem(PEM.as_bytes()).unwrap();
            let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
            jwk.common.key_id = Some("k1".into());
            JwsVerifier {
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
            let claims = verifier.verify(&sign(header(members), json!({"sub": "u"}))).await.unwrap();
            assert_eq!(claims["sub"], "u");
        }

        #[tokio::test]
        async fn critical_extensions_are_refused_even_when_signed() {
            let token =
                sign(header(json!({"crit": ["urn:example:policy"], "urn:example:policy": "strict"})), json!({}));
            assert_eq!(verifier().verify(&token).await, Err(JwsError::UnsupportedCriticalHeader));
        }

        #[tokio::test]
        async fn nbf_applies_to_every_signed_jwt() {
            // A grant is verified by `JwsVerifier::verify` alone.
            let verifier = verifier();
            let ahead = unix_now() + 300;
            let token = sign(header(json!({})), json!({"permission_id": "p1", "nbf": ahead}));
            assert_eq!(verifier.verify(&token).await, Err(JwsError::NotYetValid));
            let token = sign(header(json!({})), json!({"permission_id": "p1", "nbf": unix_now() + 30}));
            assert!(verifier.verify(&token).await.is_ok(), "within the clock skew");
        }

        #[tokio::test]
        async fn signature_and_payload_are_checked() {
            let verifier = verifier();
            let token = sign(header(json!({})), json!({"sub": "u"}));
            let (message, _) = token.rsplit_once('.').unwrap();
            let other = sign(header(json!({})), json!({"sub": "v"}));
            let (_, other_signature) = other.rsplit_once('.').unwrap();
            let swapped = format!("{message}.{other_signature}");
            assert_eq!(verifier.verify(&swapped).await, Err(JwsError::BadSignature));
            assert_eq!(verifier.verify(&format!("{message}.%%%")).await, Err(JwsError::Malformed));
            let array_payload = sign(header(json!({})), json!(["not", "an", "object"]));
            assert_eq!(verifier.verify(&array_payload).await, Err(JwsError::Malformed));
        }
    }
}
