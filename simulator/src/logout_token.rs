//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): logout
//! tokens minted and posted to a relying party, honest or broken on purpose.
//!
//! BankID OIDC's discovery advertises back-channel logout only when the
//! simulator was built with
//! [`SimulatorBuilder::backchannel_logout`](super::SimulatorBuilder::backchannel_logout);
//! nothing published says whether BankID sends logout tokens (a GUESS that
//! it may), so the default is off.

use std::time::Duration;

use jsonwebtoken::Header;
use serde_json::{Map, Value, json};

use super::faults::{EVIL_ISSUER, SOMEONE_ELSE};
use super::id_token::tamper_signature;
use super::keys::SigningKey;
use super::state::Shared;
use crate::clock::unix_now;

/// The event member of a logout token (§2.4).
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Lifetime of an honest logout token, in seconds.
const LIFETIME_SECS: u64 = 120;
/// How far `Expired` and `IssuedInFuture` move the clock.
const TEN_MINUTES: u64 = 600;

/// Whose sessions a logout token ends: a user (`sub`), one provider
/// session (`sid`), or both claims.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogoutSubject {
    /// Every session of this user (`sub` only).
    Sub(String),
    /// The provider session with this `sid` (`sid` only).
    Sid(String),
    /// `sub` and `sid` both.
    Both {
        /// The user's `sub`.
        sub: String,
        /// The provider session's `sid`.
        sid: String,
    },
}

/// One deliberate defect of a logout token, each one a check of
/// Back-Channel Logout 1.0 §2.6 that a relying party must make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogoutTokenFault {
    /// `iss` is another issuer.
    WrongIssuer,
    /// `aud` is another client.
    WrongAudience,
    /// `iat` and `exp` lie ten minutes in the past (expired).
    Expired,
    /// `iat` lies ten minutes in the future.
    IssuedInFuture,
    /// No `exp`.
    MissingExp,
    /// No `jti`.
    MissingJti,
    /// No `events` claim.
    MissingEvents,
    /// `events` names another event instead of back-channel logout.
    WrongEvent,
    /// The back-channel logout event's value is a string, not an object.
    EventNotObject,
    /// A `nonce` claim is present (forbidden in logout tokens).
    NoncePresent,
    /// Neither `sub` nor `sid`.
    NoSubject,
    /// One bit of the signature flipped.
    BadSignature,
    /// Signed with a key the provider never published.
    UnknownKey,
}

/// The relying party's answer to a posted logout token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LogoutDelivery {
    /// The HTTP status (`200` accepted, `400` refused).
    pub status: u16,
    /// The response's `Cache-Control` header, if any.
    pub cache_control: Option<String>,
    /// The response body (JSON with `error` when refused).
    pub body: String,
}

/// Mints a logout token for `subject` signed with the provider's current
/// key (or broken by `fault`).
pub(crate) fn mint(shared: &Shared, subject: &LogoutSubject, fault: Option<LogoutTokenFault>) -> String {
    let claims = faulty(honest_claims(shared, subject), fault);
    let rotated = shared.lock().rotated;
    let key = match fault {
        Some(LogoutTokenFault::UnknownKey) => SigningKey::Unpublished,
        _ if rotated => SigningKey::Rotated,
        _ => SigningKey::Primary,
    };
    let mut header = Header::new(shared.signing_alg().jwt());
    header.kid = Some(key.kid().to_owned());
    header.typ = Some("logout+jwt".to_owned());
    let token = jsonwebtoken::encode(&header, &Value::Object(claims), key.encoding_key(shared.signing_alg()))
        .expect("the bundled keys sign any JSON claims");
    if fault == Some(LogoutTokenFault::BadSignature) { tamper_signature(&token) } else { token }
}

/// The claims of an honest logout token (§2.4).
fn honest_claims(shared: &Shared, subject: &LogoutSubject) -> Map<String, Value> {
    let now = unix_now();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(shared.issuer));
    claims.insert("aud".into(), json!(shared.client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + LIFETIME_SECS));
    claims.insert("jti".into(), json!(format!("{:032x}", rand::random::<u128>())));
    claims.insert("events".into(), json!({ EVENT: {} }));
    let (sub, sid) = match subject {
        LogoutSubject::Sub(sub) => (Some(sub), None),
        LogoutSubject::Sid(sid) => (None, Some(sid)),
        LogoutSubject::Both { sub, sid } => (Some(sub), Some(sid)),
    };
    if let Some(sub) = sub {
        claims.insert("sub".into(), json!(sub));
    }
    if let Some(sid) = sid {
        claims.insert("sid".into(), json!(sid));
    }
    claims
}

fn faulty(mut claims: Map<String, Value>, fault: Option<LogoutTokenFault>) -> Map<String, Value> {
    let now = unix_now();
    match fault {
        Some(LogoutTokenFault::WrongIssuer) => {
            claims.insert("iss".into(), json!(EVIL_ISSUER));
        }
        Some(LogoutTokenFault::WrongAudience) => {
            claims.insert("aud".into(), json!(SOMEONE_ELSE));
        }
        Some(LogoutTokenFault::Expired) => {
            claims.insert("iat".into(), json!(now - 2 * TEN_MINUTES));
            claims.insert("exp".into(), json!(now - TEN_MINUTES));
        }
        Some(LogoutTokenFault::IssuedInFuture) => {
            claims.insert("iat".into(), json!(now + TEN_MINUTES));
            claims.insert("exp".into(), json!(now + TEN_MINUTES + LIFETIME_SECS));
        }
        Some(LogoutTokenFault::MissingExp) => {
            claims.remove("exp");
        }
        Some(LogoutTokenFault::MissingJti) => {
            claims.remove("jti");
        }
        Some(LogoutTokenFault::MissingEvents) => {
            claims.remove("events");
        }
        Some(LogoutTokenFault::WrongEvent) => {
            claims.insert("events".into(), json!({ "http://schemas.openid.net/event/other": {} }));
        }
        Some(LogoutTokenFault::EventNotObject) => {
            claims.insert("events".into(), json!({ EVENT: "logout" }));
        }
        Some(LogoutTokenFault::NoncePresent) => {
            claims.insert("nonce".into(), json!("a-nonce"));
        }
        Some(LogoutTokenFault::NoSubject) => {
            claims.remove("sub");
            claims.remove("sid");
        }
        Some(LogoutTokenFault::BadSignature | LogoutTokenFault::UnknownKey) | None => {}
    }
    claims
}

/// Posts `logout_token=<token>` to `target_url` as §2.5 describes.
pub(crate) async fn deliver(target_url: &str, token: &str) -> Result<LogoutDelivery, reqwest::Error> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let response = client.post(target_url).form(&[("logout_token", token)]).send().await?;
    let status = response.status().as_u16();
    let cache_control =
        response.headers().get(reqwest::header::CACHE_CONTROL).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.text().await?;
    Ok(LogoutDelivery { status, cache_control, body })
}
