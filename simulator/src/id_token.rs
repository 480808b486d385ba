//! Minting ID tokens, honest or deliberately broken.
//!
//! Claims are built as a JSON map rather than a struct because most faults
//! remove or retype a claim (`aud` as an array, no `nonce`, ...), which a
//! fixed struct could not express.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use serde_json::{Map, Value, json};

use super::faults::{EVIL_ISSUER, Fault, Faults, SOMEONE_ELSE};
use super::keys::{SigningAlgorithm, SigningKey};
use super::permission::{Permission, digest};
use super::state::IssuedCode;
use std::sync::Arc;

use super::users::TestUser;
use crate::clock::unix_now;

/// Lifetime of an ID token, in seconds.
const ID_TOKEN_LIFETIME_SECS: u64 = 300;
/// How far `Fault::Expired` / `Fault::IssuedInFuture` move the clock.
const TEN_MINUTES: u64 = 10 * 60;
/// How far ahead `Fault::NotYetValid` puts `nbf`: beyond any sane clock skew.
const NOT_YET_VALID_SECS: u64 = 5 * 60;

/// The BankID OIDC API version the simulator speaks, carried as the
/// integer claim `api_ver` in every BankID OIDC token (ID and access
/// tokens). BankID: "the version is an integer that is returned in all
/// tokens as `api_ver`" (`bankid-oidc-provider/api-versions`); version 4 is
/// the only one since 28 October 2025. Whether BIB's CIBA ID tokens carry it
/// is not published: the simulator leaves it out there (a GUESS).
pub(crate) const API_VERSION: u64 = 4;

/// The claim naming the CIBA request a token answers (CIBA Core §7.4).
pub(crate) const AUTH_REQ_ID_CLAIM: &str = "urn:openid:params:jwt:claim:auth_req_id";

/// Everything an ID token is made of, apart from the faults.
pub(crate) struct IdTokenInput<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) user: &'a Arc<TestUser>,
    /// Unix time of the user's approval.
    pub(crate) auth_time: u64,
    /// Session id of the login.
    pub(crate) sid: &'a str,
    pub(crate) nonce: Option<&'a str>,
    pub(crate) scope: &'a str,
    /// Approved permissions: each yields a `permission_digest`.
    pub(crate) permissions: &'a [Permission],
    /// Set for CIBA logins.
    pub(crate) auth_req_id: Option<&'a str>,
    /// The step-up asked for and chosen (code flow only).
    pub(crate) step_up: Option<&'a super::step_up::StepUpRequest>,
    /// The algorithm the simulator signs with.
    pub(crate) alg: SigningAlgorithm,
}

impl<'a> IdTokenInput<'a> {
    /// The input for a login by authorization code.
    pub(crate) fn for_code(issuer: &'a str, client_id: &'a str, code: &'a IssuedCode, alg: SigningAlgorithm) -> Self {
        IdTokenInput {
            issuer,
            client_id,
            user: &code.user,
            auth_time: code.auth_time,
            sid: &code.sid,
            nonce: code.request.nonce.as_deref(),
            scope: &code.request.scope,
            permissions: &code.request.permissions,
            auth_req_id: None,
            step_up: Some(&code.request.step_up),
            alg,
        }
    }
}

/// Builds, faults and signs an ID token.
///
/// A CIBA login (`auth_req_id` set) gets BIB's claim set and BIB's key (see
/// [`ciba_claims`]); a code-flow login BankID OIDC's.
pub(crate) fn mint(input: &IdTokenInput<'_>, faults: &Faults) -> Result<String, jsonwebtoken::errors::Error> {
    let now = unix_now();
    let (mut claims, (key, kid)) = match input.auth_req_id {
        Some(auth_req_id) => {
            let key = ciba_signing_key(faults);
            (ciba_claims(input, auth_req_id, now), (key, key.kid().to_owned()))
        }
        None => (honest_claims(input, now), signing_key(faults)),
    };
    apply_claim_faults(&mut claims, input, faults, now);
    if faults.has(&Fault::AlgNone) {
        return Ok(unsigned(&claims));
    }
    let token = sign_with_header(&header_for(&kid, input.alg, faults), &claims, key, input.alg)?;
    Ok(if faults.has(&Fault::BadSignature) { tamper_signature(&token) } else { token })
}

/// The claims of a BIB CIBA ID token. BankID has not published them; the
/// only public sample (a third party's) shows a bare `acr` of
/// `urn:bankid:bis` with no `;LOA=`, `amr` `["bis-mfa", "bis-hwk"]` and the
/// identity numbers as `sub_nnin` / `sub_bankid`, so the simulator issues
/// exactly that. `sub` is BIB's own ([`TestUser::bib_sub`]), not the
/// code-flow one: BIB is another issuer. No `sid`, no
/// `nonce` (CIBA has none) and no `permission_digest`: the approved
/// permission is proven by its grant.
fn ciba_claims(input: &IdTokenInput<'_>, auth_req_id: &str, now: u64) -> Map<String, Value> {
    let user = input.user;
    let mut claims = core_claims(input, now);
    claims.insert("sub".into(), json!(user.bib_sub()));
    claims.insert("acr".into(), json!(ciba_acr(input.permissions)));
    claims.insert("amr".into(), json!(BIB_CIBA_AMR));
    claims.insert("sub_nnin".into(), json!(user.nnin));
    claims.insert("sub_bankid".into(), json!(user.bankid_altsub));
    claims.insert("name".into(), json!(user.name));
    claims.insert("given_name".into(), json!(user.given_name));
    claims.insert("family_name".into(), json!(user.family_name));
    claims.insert("birthdate".into(), json!(user.birthdate));
    claims.insert(AUTH_REQ_ID_CLAIM.into(), json!(auth_req_id));
    claims
}

/// The `acr` of a BIB CIBA ID token: bare, without `;LOA=` (see
/// [`ciba_claims`]).
pub(crate) const BIB_CIBA_ACR: &str = "urn:bankid:bis";
/// The `acr` after a forced step-up to BankID High (`acr_values:
/// ["urn:bankid:bih"]` at registration). BankID has not published it: a
/// GUESS that BIB echoes the URN it was asked for, bare like
/// [`BIB_CIBA_ACR`]. The crate maps exactly this value, from BIB only, to LOA 4.
pub(crate) const BIB_HIGH_ACR: &str = "urn:bankid:bih";

/// BankID High when a permission of the request forced it, else BIB's
/// usual biometrics `acr`.
fn ciba_acr(permissions: &[Permission]) -> &'static str {
    if permissions.iter().any(|p| p.forces_high) { BIB_HIGH_ACR } else { BIB_CIBA_ACR }
}

/// The `amr` of a BIB CIBA ID token.
pub(crate) const BIB_CIBA_AMR: [&str; 2] = ["bis-mfa", "bis-hwk"];

/// BIB's ID-token key, unless a fault asks for another.
fn ciba_signing_key(faults: &Faults) -> SigningKey {
    if faults.has(&Fault::UnknownKid) {
        SigningKey::Unpublished
    } else if faults.has(&Fault::CibaIdTokenSignedByOidcKey) {
        SigningKey::Primary
    } else {
        SigningKey::BibIdToken
    }
}

/// The protected header of an ID token: `typ`, `alg`, `kid`, then the
/// members of any [`Fault::HeaderMembers`].
fn header_for(kid: &str, alg: SigningAlgorithm, faults: &Faults) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("typ".into(), json!("JWT"));
    header.insert("alg".into(), json!(alg.name()));
    header.insert("kid".into(), json!(kid));
    for fault in faults.iter() {
        if let Fault::HeaderMembers(members) = fault {
            header.extend(members.clone());
        }
    }
    header
}

/// Signs `claims` with `alg` under an arbitrary protected header
/// (`jsonwebtoken::Header` only carries string-valued extra members).
fn sign_with_header(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    key: SigningKey,
    alg: SigningAlgorithm,
) -> Result<String, jsonwebtoken::errors::Error> {
    let encode = |part: &Map<String, Value>| URL_SAFE_NO_PAD.encode(Value::Object(part.clone()).to_string());
    let message = format!("{}.{}", encode(header), encode(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key.encoding_key(alg), alg.jwt())?;
    Ok(format!("{message}.{signature}"))
}

/// Signs `claims` as a JWS with `key` and `alg`, naming the key in `kid`.
pub(crate) fn sign(
    claims: &Map<String, Value>,
    key: SigningKey,
    alg: SigningAlgorithm,
) -> Result<String, jsonwebtoken::errors::Error> {
    sign_as(claims, key, key.kid(), alg)
}

/// Signs `claims` as a JWS (`typ` `JWT`) with `key` and `alg` but names
/// `kid` in the header — another key's, for faults.
pub(crate) fn sign_as(
    claims: &Map<String, Value>,
    key: SigningKey,
    kid: &str,
    alg: SigningAlgorithm,
) -> Result<String, jsonwebtoken::errors::Error> {
    let mut header = Header::new(alg.jwt());
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key.encoding_key(alg))
}

/// What every ID token of either provider carries: `iss`, `sub`, `aud`,
/// `exp`, `iat`, `auth_time`.
fn core_claims(input: &IdTokenInput<'_>, now: u64) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(input.issuer));
    claims.insert("sub".into(), json!(input.user.sub));
    claims.insert("aud".into(), json!(input.client_id));
    claims.insert("exp".into(), json!(now + ID_TOKEN_LIFETIME_SECS));
    claims.insert("iat".into(), json!(now));
    claims.insert("auth_time".into(), json!(input.auth_time));
    claims
}

/// The claims BankID would issue for this login.
fn honest_claims(input: &IdTokenInput<'_>, now: u64) -> Map<String, Value> {
    let user = input.user;
    let mut claims = core_claims(input, now);
    if let Some(nonce) = input.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    claims.insert("acr".into(), json!(user.acr));
    claims.insert("amr".into(), json!(user.amr()));
    super::step_up::apply_method(&mut claims, input.step_up, user);
    claims.insert("sid".into(), json!(input.sid));
    claims.insert("api_ver".into(), json!(API_VERSION));
    if let Some(auth_req_id) = input.auth_req_id {
        claims.insert(AUTH_REQ_ID_CLAIM.into(), json!(auth_req_id));
    }
    let digests: Vec<&str> = input.permissions.iter().map(|permission| permission.digest.as_str()).collect();
    if let Some(claim) = permission_digest_claim(&digests) {
        claims.insert("permission_digest".into(), claim);
    }
    claims.extend(profile_claims(user, input.scope));
    claims
}

/// `permission_digest`: a string for one permission, an array (in request
/// order) for several, absent for none.
fn permission_digest_claim<S: AsRef<str>>(digests: &[S]) -> Option<Value> {
    match digests {
        [] => None,
        [one] => Some(json!(one.as_ref())),
        many => Some(json!(many.iter().map(AsRef::as_ref).collect::<Vec<_>>())),
    }
}

/// The person claims shared by the ID token and the userinfo response;
/// `nnin_altsub` is personal data and only released for its own scope.
pub(crate) fn profile_claims(user: &TestUser, scope: &str) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("name".into(), json!(user.name));
    claims.insert("given_name".into(), json!(user.given_name));
    claims.insert("family_name".into(), json!(user.family_name));
    claims.insert("birthdate".into(), json!(user.birthdate));
    claims.insert("bankid_altsub".into(), json!(user.bankid_altsub));
    if scope.split_ascii_whitespace().any(|s| s == "nnin_altsub") {
        claims.insert("nnin_altsub".into(), json!(user.nnin));
    }
    claims
}

fn apply_claim_faults(claims: &mut Map<String, Value>, input: &IdTokenInput<'_>, faults: &Faults, now: u64) {
    if faults.has(&Fault::WrongAudience) {
        claims.insert("aud".into(), json!(SOMEONE_ELSE));
    }
    if faults.has(&Fault::ExtraAudience) {
        claims.insert("aud".into(), json!([input.client_id, SOMEONE_ELSE]));
    }
    if faults.has(&Fault::WrongAzp) {
        claims.insert("azp".into(), json!(SOMEONE_ELSE));
    }
    if faults.has(&Fault::WrongIssuer) {
        claims.insert("iss".into(), json!(EVIL_ISSUER));
    }
    if faults.has(&Fault::Expired) {
        set_times(claims, now.saturating_sub(2 * TEN_MINUTES), now.saturating_sub(TEN_MINUTES));
    }
    if faults.has(&Fault::IssuedInFuture) {
        // Keep exp after iat so that only the iat check can catch it.
        set_times(claims, now + TEN_MINUTES, now + TEN_MINUTES + ID_TOKEN_LIFETIME_SECS);
    }
    if faults.has(&Fault::WrongNonce) {
        let nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("no-nonce");
        claims.insert("nonce".into(), json!(format!("{nonce}-tampered")));
    }
    if faults.has(&Fault::MissingNonce) {
        claims.remove("nonce");
    }
    if faults.has(&Fault::LowAcr) {
        claims.insert("acr".into(), json!("urn:bankid:bis;LOA=2"));
    }
    if faults.has(&Fault::MissingAcr) {
        claims.remove("acr");
    }
    if faults.has(&Fault::WrongPermissionDigest) {
        let wrong: Vec<String> = input
            .permissions
            .iter()
            .map(|permission| digest(&[permission.statement.as_slice(), b" (tampered)"].concat()))
            .collect();
        if let Some(claim) = permission_digest_claim(&wrong) {
            claims.insert("permission_digest".into(), claim);
        }
    }
    if faults.has(&Fault::MissingPermissionDigest) {
        claims.remove("permission_digest");
    }
    if faults.has(&Fault::NotYetValid) {
        claims.insert("nbf".into(), json!(now + NOT_YET_VALID_SECS));
    }
    super::step_up::apply_faults(claims, input.step_up, faults, now);
}

/// Moves `iat`, `exp` and `auth_time` together, as a stale token would have.
fn set_times(claims: &mut Map<String, Value>, iat: u64, exp: u64) {
    claims.insert("iat".into(), json!(iat));
    claims.insert("auth_time".into(), json!(iat));
    claims.insert("exp".into(), json!(exp));
}

/// The key that signs and the `kid` named. `UnknownKid` wins over
/// `RotatedKeys`, which wins over `SignWith`: the token must stay
/// unverifiable.
fn signing_key(faults: &Faults) -> (SigningKey, String) {
    let chosen = faults.iter().find_map(|fault| match fault {
        Fault::SignWith { key, kid } => Some((*key, kid.clone())),
        _ => None,
    });
    let bundled = |key: SigningKey| (key, key.kid().to_owned());
    if faults.has(&Fault::UnknownKid) {
        bundled(SigningKey::Unpublished)
    } else if faults.has(&Fault::RotatedKeys) {
        bundled(SigningKey::Rotated)
    } else {
        chosen.unwrap_or_else(|| bundled(SigningKey::Primary))
    }
}

/// An unsecured JWT (RFC 7519 §6): `alg` `none` and an empty signature.
fn unsigned(claims: &Map<String, Value>) -> String {
    let header = json!({ "alg": "none", "typ": "JWT" });
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string()),
    )
}

/// Flips one bit of the signature, keeping it valid base64url of the right
/// length, so only the cryptographic check can notice.
pub(crate) fn tamper_signature(token: &str) -> String {
    let Some((message, signature)) = token.rsplit_once('.') else {
        return token.to_owned();
    };
    let Ok(mut bytes) = URL_SAFE_NO_PAD.decode(signature) else {
        return token.to_owned();
    };
    if let Some(first) = bytes.first_mut() {
        *first ^= 0x01;
    }
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::PendingRequest;
    use crate::users::DEFAULT_USERS;

    fn code(nonce: Option<&str>, scope: &str) -> IssuedCode {
        code_with(nonce, scope, Vec::new())
    }

    fn code_with(nonce: Option<&str>, scope: &str, permissions: Vec<Permission>) -> IssuedCode {
        IssuedCode {
            request: PendingRequest {
                redirect_uri: "http://127.0.0.1:1/cb".into(),
                state: "s".into(),
                nonce: nonce.map(str::to_owned),
                code_challenge: "c".into(),
                scope: scope.into(),
                permissions,
                step_up: Default::default(),
            },
            user: std::sync::Arc::new(DEFAULT_USERS[0].clone()),
            auth_time: 1_700_000_000,
            sid: "sid".into(),
            redeemed: false,
            access_token: None,
        }
    }

    fn claims_with(faults: &[Fault], nonce: Option<&str>) -> Map<String, Value> {
        claims_for(&code(nonce, "openid profile"), faults)
    }

    fn claims_for(code: &IssuedCode, faults: &[Fault]) -> Map<String, Value> {
        let input = IdTokenInput::for_code("http://sim", "rp", code, SigningAlgorithm::Es256);
        let mut set = Faults::default();
        faults.iter().cloned().for_each(|fault| set.add(fault));
        let now = unix_now();
        let mut claims = honest_claims(&input, now);
        apply_claim_faults(&mut claims, &input, &set, now);
        claims
    }

    #[test]
    fn honest_claims_carry_the_login() {
        let claims = claims_with(&[], Some("n-1"));
        assert_eq!(claims["iss"], "http://sim");
        assert_eq!(claims["aud"], "rp");
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(claims["acr"], "urn:bankid:bis;LOA=3");
        assert_eq!(claims["amr"], json!(["bis-mfa", "bis-hwk"]), "an array, as API v4 issues it");
        assert_eq!(claims["api_ver"], json!(4), "an integer");
        assert!(claims["sid"].is_string());
        assert!(!claims.contains_key("azp"));
        assert!(!claims.contains_key("nnin_altsub"));
    }

    #[test]
    fn nnin_needs_its_scope() {
        let code = code(None, "openid nnin_altsub");
        assert_eq!(profile_claims(&code.user, &code.request.scope)["nnin_altsub"], "17858642043");
    }

    #[test]
    fn faults_break_one_claim_each() {
        assert_eq!(claims_with(&[Fault::ExtraAudience], None)["aud"], json!(["rp", "someone-else"]));
        assert_eq!(claims_with(&[Fault::WrongNonce], Some("n"))["nonce"], "n-tampered");
        assert!(!claims_with(&[Fault::MissingNonce], Some("n")).contains_key("nonce"));
        assert!(!claims_with(&[Fault::MissingAcr], None).contains_key("acr"));
        let expired = claims_with(&[Fault::Expired], None);
        assert!(expired["exp"].as_u64() < Some(unix_now()));
    }

    #[test]
    fn permission_digest_is_a_string_or_an_array() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let one = Permission::new("payment.v1", &URL_SAFE_NO_PAD.encode("one")).expect("valid");
        let two = Permission::new("card.v1", &URL_SAFE_NO_PAD.encode("two")).expect("valid");
        assert!(!claims_with(&[], None).contains_key("permission_digest"));
        let single = claims_for(&code_with(None, "openid", vec![one.clone()]), &[]);
        assert_eq!(single["permission_digest"], json!(one.digest));
        let both = code_with(None, "openid", vec![one.clone(), two.clone()]);
        assert_eq!(claims_for(&both, &[])["permission_digest"], json!([one.digest, two.digest]));
        let wrong = claims_for(&both, &[Fault::WrongPermissionDigest]);
        let wrong = wrong["permission_digest"].as_array().expect("array");
        assert_eq!(wrong.len(), 2);
        assert_ne!(wrong[0], json!(one.digest));
        assert_ne!(wrong[1], json!(two.digest));
        assert!(!claims_for(&both, &[Fault::MissingPermissionDigest]).contains_key("permission_digest"));
    }

    #[test]
    fn a_forced_step_up_ends_ciba_at_bankid_high() {
        let mut high = Permission::new("payment.v1", "e30").expect("valid");
        high.forces_high = true;
        let code = code_with(None, "openid", vec![high]);
        let mut input = IdTokenInput::for_code("http://bib", "rp", &code, SigningAlgorithm::Es256);
        input.auth_req_id = Some("req-1");
        assert_eq!(ciba_claims(&input, "req-1", unix_now())["acr"], BIB_HIGH_ACR);
    }

    #[test]
    fn ciba_claims_are_bibs() {
        let code = code(None, "openid");
        let mut input = IdTokenInput::for_code("http://bib", "rp", &code, SigningAlgorithm::Es256);
        input.auth_req_id = Some("req-1");
        let claims = ciba_claims(&input, "req-1", unix_now());
        assert_eq!(claims["iss"], "http://bib");
        assert_eq!(claims["acr"], "urn:bankid:bis");
        assert_eq!(claims["amr"], json!(["bis-mfa", "bis-hwk"]));
        assert_eq!(claims["sub"], json!(DEFAULT_USERS[0].bib_sub()), "BIB's own subject");
        assert_eq!(claims["sub_nnin"], json!(DEFAULT_USERS[0].nnin));
        assert_eq!(claims[AUTH_REQ_ID_CLAIM], "req-1");
        assert!(!claims.contains_key("sid") && !claims.contains_key("nonce"));
        let mut faults = Faults::default();
        assert_eq!(ciba_signing_key(&faults), SigningKey::BibIdToken);
        faults.add(Fault::CibaIdTokenSignedByOidcKey);
        assert_eq!(ciba_signing_key(&faults), SigningKey::Primary);
    }

    #[test]
    fn header_members_and_chosen_keys_reach_the_header() {
        let mut set = Faults::default();
        let members = json!({"x-issued": 1_700_000_000, "kid": "replaced"}).as_object().unwrap().clone();
        set.add(Fault::HeaderMembers(members));
        set.add(Fault::SignWith { key: SigningKey::Rotated, kid: "sim-1".into() });
        let (key, kid) = signing_key(&set);
        assert_eq!((key, kid.as_str()), (SigningKey::Rotated, "sim-1"));
        let header = header_for(&kid, SigningAlgorithm::Es256, &set);
        assert_eq!(
            Value::Object(header),
            json!({"typ": "JWT", "alg": "ES256", "kid": "replaced", "x-issued": 1_700_000_000})
        );
        set.add(Fault::UnknownKid);
        assert_eq!(signing_key(&set).0, SigningKey::Unpublished);
    }

    #[test]
    fn not_yet_valid_sets_nbf_ahead() {
        let claims = claims_with(&[Fault::NotYetValid], None);
        assert!(claims["nbf"].as_u64() >= Some(unix_now() + NOT_YET_VALID_SECS));
        assert!(!claims_with(&[], None).contains_key("nbf"));
    }

    #[test]
    fn tampered_signature_keeps_its_shape() {
        let tampered = tamper_signature("a.b.AAAA");
        assert_eq!(tampered, "a.b.AQAA");
    }
}
