//! ID token verification (OpenID Connect Core §3.1.3.7), shared by every
//! flow: the token's JWS is verified by the crate's one JWS verifier
//! ([`JwsVerifier`], `jws.rs`: header, key, signature, `nbf`), then its
//! claims are checked here, explicitly (`iss`, `aud`/`azp`, `sub`, `exp`,
//! `iat`, `auth_time`, `nonce`), so each failure has its own
//! [`IdTokenError`] and none depends on a library default. This runs once
//! per login (at the callback or when a CIBA request completes); the
//! per-request path only reads the already verified claims from the session.
//!
//! `error.rs` holds [`IdTokenError`], re-exported from [`crate::error`].

use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use self::error::IdTokenError;
use crate::clock::unix_now;
use crate::jws::{JwsVerifier, numeric_date};

pub(crate) mod error;

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

/// Verifies ID tokens: the JWS, then the claims, for one issuer and client.
pub(crate) struct IdTokenVerifier {
    pub(crate) issuer: String,
    pub(crate) client_id: String,
    pub(crate) jws: JwsVerifier,
}

impl IdTokenVerifier {
    /// Verifies signature and claims. `expected_nonce` is the nonce sent with
    /// the authorization request (`None` only for flows without one, CIBA).
    pub(crate) async fn verify(
        &self,
        token: &str,
        expected_nonce: Option<&str>,
    ) -> Result<VerifiedIdToken, IdTokenError> {
        let claims = self.jws.verify(token).await?;
        check_claims(&self.issuer, &self.client_id, self.jws.clock_skew_secs, &claims, expected_nonce, unix_now())?;
        Ok(VerifiedIdToken { claims })
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

    /// Keys over real HTTP from a loopback JWKS server, checked against a
    /// generated BankID-shaped PKI: ES256 first, RS256 alongside, and the
    /// reason of every refused key reaching the token that names it.
    mod keys_over_http {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::Duration;

        use super::*;
        use crate::key_chain::{KeyChainError, TrustedRoots};
        use crate::provider::jwks::{KeyCache, KeyCacheSettings, KeyTrust};
        use crate::provider::max_age::MaxAgePolicy;
        use crate::provider::signing_algs::SigningAlgs;
        use crate::provider::test_pki::{Authority, Validity, ec_jwk, ec_key, sign_es256};
        use jsonwebtoken::Algorithm;
        use jsonwebtoken::EncodingKey;
        use std::sync::Arc;

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
                jws: JwsVerifier {
                    algorithms: Arc::new(SigningAlgs::fixed(vec![Algorithm::ES256, Algorithm::RS256])),
                    clock_skew_secs: 60,
                    keys: Arc::new(keys),
                },
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
