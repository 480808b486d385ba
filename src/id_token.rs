//! ID token verification (OpenID Connect Core §3.1.3.7), shared by every flow.
//!
//! The signature is checked with `jsonwebtoken` against the provider's cached
//! keys; every claim check is then done here, explicitly, so each failure has
//! its own [`IdTokenError`] and none depends on a library default. This runs
//! once per login (at the callback or when a CIBA request completes); the
//! per-request path only reads the already verified claims from the session.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::error::IdTokenError;
use crate::provider::jwks::KeyCache;

/// Tokens above this size are refused before any parsing.
const MAX_TOKEN_LEN: usize = 16 * 1024;

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
    pub(crate) algorithms: Vec<Algorithm>,
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
        let claims = self.verify_signature(token).await?;
        check_claims(&self.issuer, &self.client_id, self.clock_skew_secs, &claims, expected_nonce, unix_now())?;
        Ok(VerifiedIdToken { claims })
    }

    /// Verifies only the signature of a provider-signed JWT (e.g. a signed
    /// permission); the caller checks its claims.
    pub(crate) async fn verify_signed_jwt(&self, token: &str) -> Result<Map<String, Value>, IdTokenError> {
        self.verify_signature(token).await
    }

    async fn verify_signature(&self, token: &str) -> Result<Map<String, Value>, IdTokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(IdTokenError::Malformed);
        }
        // Read `alg` ourselves first: jsonwebtoken cannot even parse `none`,
        // and we want to name the refused algorithm.
        let alg_name = header_alg(token)?;
        let alg = alg_name
            .parse::<Algorithm>()
            .ok()
            .filter(|alg| self.algorithms.contains(alg))
            .ok_or(IdTokenError::UnsupportedAlgorithm(alg_name))?;
        let header = jsonwebtoken::decode_header(token).map_err(|_| IdTokenError::Malformed)?;
        let key = self.keys.key_for(header.kid.as_deref(), alg).await?;

        let mut validation = Validation::new(alg);
        // Claims are checked below, explicitly; here only the signature.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation).map_err(|err| match err
            .kind()
        {
            ErrorKind::InvalidSignature => IdTokenError::BadSignature,
            ErrorKind::InvalidAlgorithm => IdTokenError::UnsupportedAlgorithm(alg_name_of(alg)),
            _ => IdTokenError::Malformed,
        })?;
        Ok(data.claims)
    }
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
    if let Some(expected) = expected_nonce {
        let nonce = claims.get("nonce").ok_or(IdTokenError::MissingNonce)?;
        let nonce = nonce.as_str().ok_or(IdTokenError::NonceMismatch)?;
        if !bool::from(nonce.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(IdTokenError::NonceMismatch);
        }
    }
    Ok(())
}

/// `aud` must contain our client id and nothing else (we trust no other
/// audience); `azp`, if present, must be our client id.
fn check_audience(client_id: &str, claims: &Map<String, Value>) -> Result<(), IdTokenError> {
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

fn header_alg(token: &str) -> Result<String, IdTokenError> {
    let header = token.split('.').next().ok_or(IdTokenError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| IdTokenError::Malformed)?;
    let json: Value = serde_json::from_slice(&bytes).map_err(|_| IdTokenError::Malformed)?;
    let alg = json.get("alg").and_then(Value::as_str).ok_or(IdTokenError::Malformed)?;
    Ok(alg.chars().filter(|c| !c.is_control()).take(16).collect())
}

fn alg_name_of(alg: Algorithm) -> String {
    format!("{alg:?}")
}

fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<i64, IdTokenError> {
    claims
        .get(name)
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)))
        .ok_or(IdTokenError::MissingClaim(name))
}

pub(crate) fn unix_now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
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
    fn reads_alg_of_none_tokens() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        assert_eq!(header_alg(&format!("{header}.e30.")).unwrap(), "none");
        assert_eq!(header_alg("!!!.e30."), Err(IdTokenError::Malformed));
    }
}
