//! The permission statement: the `Permission` trait, its digest and the
//! check of what the provider granted.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::PermissionError;
// A setting (`BankIdConfigBuilder::permission_digest_input`), so it lives in
// `config/`; named here too because `PermissionItem::from_statement` takes
// it, and the code that builds items imports both from this file.
pub(crate) use crate::config::DigestInput;

/// The permission type BankID uses for a plain login; never an upfront permission.
pub(crate) const AUTHENTICATION_TYPE: &str = "authentication.v1";

/// A permission the user approves in BankID, declared as a type.
///
/// The statement sent to BankID is the type's JSON serialisation.
///
/// ```
/// use axum_bankid::permission::Permission;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct ApprovePayment { amount: String, currency: String, creditor: String }
///
/// impl Permission for ApprovePayment {
///     const TYPE: &'static str = axum_bankid::permission_type!("payment.v1");
/// }
/// ```
///
/// `TYPE` must not be empty or `authentication.v1` (BankID's type of a
/// plain login). Written with [`permission_type!`](crate::permission_type),
/// a wrong type fails `cargo check`, pointing at this `impl`:
///
/// ```compile_fail,E0080
/// # use axum_bankid::permission::Permission;
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Login;
/// impl Permission for Login {
///     const TYPE: &'static str = axum_bankid::permission_type!("authentication.v1");
/// }
/// ```
///
/// A plain string literal is checked too, but only where the crate uses
/// the type, so only by `cargo build`, with the error inside this crate
/// and a note naming the type: Rust evaluates an associated constant only
/// when something uses it, and the crate uses it in generic code.
///
/// ```compile_fail,E0080
/// # use axum_bankid::{BankIdSession, permission::Permission};
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Login;
/// impl Permission for Login { const TYPE: &'static str = "authentication.v1"; }
///
/// fn approve(bankid: BankIdSession) { let _ = bankid.request(Login); }
/// # fn main() { let _ = approve as fn(BankIdSession); }
/// ```
pub trait Permission: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The permission type, e.g. `payment.v1`. Must not be empty or
    /// `authentication.v1`; see [`permission_type!`](crate::permission_type).
    const TYPE: &'static str;
}

/// A checked [`Permission::TYPE`]: `"payment.v1"` as written, but an empty
/// type or `authentication.v1` is a compile error at the `impl` (in `cargo
/// check` already), since the check runs in a constant of the user's own.
///
/// ```
/// # use axum_bankid::permission::Permission;
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Payment;
/// impl Permission for Payment { const TYPE: &'static str = axum_bankid::permission_type!("payment.v1"); }
/// ```
///
/// ```compile_fail,E0080
/// # use axum_bankid::permission::Permission;
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Payment;
/// impl Permission for Payment { const TYPE: &'static str = axum_bankid::permission_type!(""); }
/// ```
#[macro_export]
macro_rules! permission_type {
    ($type:expr) => {{
        // A constant item, not generic: Rust evaluates it when the user's
        // crate is checked, where an associated constant would wait for use.
        const CHECKED_PERMISSION_TYPE: &str = $crate::permission::upfront_type($type);
        CHECKED_PERMISSION_TYPE
    }};
}

/// `permission_type`, or a compile error (in a constant) when it cannot be
/// an upfront permission's type: empty, or `authentication.v1`. Used by
/// [`permission_type!`](crate::permission_type).
pub const fn upfront_type(permission_type: &'static str) -> &'static str {
    assert!(
        !permission_type.is_empty(),
        "Permission::TYPE must not be empty: name the statement's type, e.g. \"payment.v1\""
    );
    assert!(
        !same_str(permission_type, AUTHENTICATION_TYPE),
        "Permission::TYPE must not be \"authentication.v1\": that is BankID's type of a plain login, not of an upfront permission"
    );
    permission_type
}

/// Standard base64 (with padding) of SHA-256 over `data`: the encoding of
/// BankID's `permission_digest`.
///
/// ```
/// assert_eq!(
///     axum_bankid::permission::permission_digest(b"{\"amount\":\"123.45\",\"currency\":\"NOK\"}"),
///     "QFS9dO/Vg7oeuve4I0Owc8etOmyLVNuj3JbyUiVswi8="
/// );
/// ```
pub fn permission_digest(data: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(data))
}

const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Rejects, at compile time, a permission type that is empty or the plain
/// authentication type. Evaluated when this generic function is
/// instantiated, i.e. by `cargo build`; rustc's note "the above error was
/// encountered while instantiating `assert_upfront_type::<T>`" names the
/// user's type. [`permission_type!`](crate::permission_type) moves the
/// check into the user's `impl`, where `cargo check` finds it.
pub(crate) const fn assert_upfront_type<P: Permission>() {
    const {
        upfront_type(P::TYPE);
    }
}

/// How a permission reaches the provider. `Debug` never shows the
/// permission token (it authorises the login it rides on).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Transport {
    /// RFC 9396 `authorization_details` in a pushed authorization request.
    Rar,
    /// Registered through the Permission API; the authorize request carries
    /// its permission token, and the grant is fetched by `id` afterwards.
    PermissionApi {
        id: String,
        /// Needed only to start the login; never written to the session.
        #[serde(skip)]
        token: String,
    },
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Rar => f.write_str("Rar"),
            Transport::PermissionApi { id, .. } => {
                f.debug_struct("PermissionApi").field("id", id).field("token", &"<redacted>").finish()
            }
        }
    }
}

/// A permission prepared for one login: what was sent and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PermissionItem {
    pub(crate) r#type: String,
    /// base64url (no padding) of the statement bytes.
    pub(crate) encoded: String,
    pub(crate) digest: String,
    pub(crate) transport: Transport,
}

impl PermissionItem {
    pub(crate) fn new<P: Permission>(permission: &P, input: DigestInput) -> Result<Self, PermissionError> {
        assert_upfront_type::<P>();
        let statement = serde_json::to_vec(permission).map_err(|_| PermissionError::Serialization)?;
        Ok(Self::from_statement(P::TYPE, &statement, input))
    }

    pub(crate) fn from_statement(r#type: &str, statement: &[u8], input: DigestInput) -> Self {
        let encoded = URL_SAFE_NO_PAD.encode(statement);
        let digest = match input {
            DigestInput::StatementBytes => permission_digest(statement),
            DigestInput::EncodedPermission => permission_digest(encoded.as_bytes()),
        };
        PermissionItem { r#type: r#type.to_owned(), encoded, digest, transport: Transport::Rar }
    }
}

/// The RFC 9396 `authorization_details` parameter for the RAR items.
pub(crate) fn authorization_details(items: &[PermissionItem]) -> Option<String> {
    let details: Vec<Value> = items
        .iter()
        .filter(|i| i.transport == Transport::Rar)
        .map(|i| serde_json::json!({"type": i.r#type, "permission": i.encoded}))
        .collect();
    (!details.is_empty()).then(|| Value::Array(details).to_string())
}

/// Checks the provider's answer against what this login sent: the ID token's
/// `permission_digest` (one string, or a list in the order sent) and, for RAR
/// items, the `authorization_details` the provider echoed, **when it echoed
/// them** (BankID documents them inside the access token; whether the token
/// response body repeats them is not published, so they are not required,
/// but a present list must name the same types and digests). Every digest
/// comparison is constant-time.
///
/// BankID documents the ID-token `permission_digest` for RAR items only, so
/// it is **required** for those; a Permission-API item is proven by its
/// grant instead, and its digest is **checked when present** (see
/// [`match_digests`]).
pub(crate) fn verify_granted(
    sent: &[PermissionItem],
    id_token_digest: Option<&Value>,
    token_details: Option<&Value>,
) -> Result<(), PermissionError> {
    match id_token_digest {
        Some(value) => match_digests(sent, &digests_of(value)?)?,
        None if sent.iter().any(|i| i.transport == Transport::Rar) => return Err(PermissionError::MissingDigest),
        None => {}
    }
    let rar: Vec<&PermissionItem> = sent.iter().filter(|i| i.transport == Transport::Rar).collect();
    match token_details {
        Some(details) if !rar.is_empty() => verify_details(&rar, details),
        _ => Ok(()),
    }
}

/// An echoed `authorization_details` list must match the RAR items sent.
fn verify_details(rar: &[&PermissionItem], details: &Value) -> Result<(), PermissionError> {
    let details = details.as_array().ok_or(PermissionError::MissingAuthorizationDetails)?;
    if details.len() != rar.len() {
        return Err(PermissionError::MissingAuthorizationDetails);
    }
    for (item, granted) in rar.iter().zip(details) {
        if granted.get("type").and_then(Value::as_str) != Some(item.r#type.as_str()) {
            return Err(PermissionError::TypeMismatch);
        }
        match granted.get("permission_digest").and_then(Value::as_str) {
            Some(d) if same_digest(&item.digest, d) => {}
            Some(_) => return Err(PermissionError::DigestMismatch),
            None => return Err(PermissionError::MissingDigest),
        }
    }
    Ok(())
}

/// The ID token's digests must be the sent items' digests in the order
/// sent, where a Permission-API item's may be left out (its grant is the
/// proof): every RAR item must be listed, and nothing else may be.
fn match_digests(sent: &[PermissionItem], digests: &[&str]) -> Result<(), PermissionError> {
    let mut listed = digests.iter().peekable();
    for item in sent {
        match listed.peek() {
            Some(digest) if same_digest(&item.digest, digest) => {
                listed.next();
            }
            _ if item.transport == Transport::Rar => return Err(PermissionError::DigestMismatch),
            _ => {}
        }
    }
    match listed.next() {
        None => Ok(()),
        Some(_) => Err(PermissionError::DigestMismatch),
    }
}

fn digests_of(value: &Value) -> Result<Vec<&str>, PermissionError> {
    match value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) => items.iter().map(|v| v.as_str().ok_or(PermissionError::DigestMismatch)).collect(),
        _ => Err(PermissionError::DigestMismatch),
    }
}

/// Whether two digests are the same SHA-256 value, compared as decoded
/// 32-byte values in constant time: padded or unpadded, standard or
/// URL-safe base64 all name the same bytes, so an alphabet difference is not
/// a false mismatch. Anything that does not decode to 32 bytes never matches.
pub(crate) fn same_digest(a: &str, b: &str) -> bool {
    match (decode_digest(a), decode_digest(b)) {
        (Some(a), Some(b)) => bool::from(a.ct_eq(&b)),
        _ => false,
    }
}

fn decode_digest(text: &str) -> Option<[u8; 32]> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().find_map(|e| e.decode(text).ok())?;
    bytes.try_into().ok()
}

/// Validates a preview `app_callback_uri`: BankID's native-apps page asks
/// for a **universal link** — an absolute `https` URL with a host, whose
/// two-way association the app sets up — and not a custom scheme
/// (`myapp://…`), which any app can claim. No credentials, no fragment, no
/// whitespace.
pub(crate) fn validate_app_callback_uri(uri: &str) -> Result<String, PermissionError> {
    let parsed = url::Url::parse(uri).map_err(|_| PermissionError::InvalidAppCallbackUri)?;
    let universal_link = parsed.scheme() == "https"
        && parsed.host().is_some()
        && parsed.username().is_empty()
        && parsed.password().is_none();
    if universal_link && parsed.fragment().is_none() && !uri.chars().any(char::is_whitespace) {
        Ok(parsed.to_string())
    } else {
        Err(PermissionError::InvalidAppCallbackUri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_permission_token() {
        let transport = Transport::PermissionApi { id: "reg-1".into(), token: "secret-permission-token".into() };
        let debug = format!("{transport:?}");
        assert!(debug.contains("reg-1") && !debug.contains("secret-permission-token"), "{debug}");
    }
    use serde_json::json;

    #[derive(Serialize, Deserialize)]
    struct Pay {
        amount: String,
        currency: String,
    }
    impl Permission for Pay {
        const TYPE: &'static str = "payment.v1";
    }

    /// Known answer, computed independently:
    /// `printf '%s' '{"amount":"123.45","currency":"NOK"}' | openssl dgst -sha256 -binary | base64`
    #[test]
    fn digest_known_answer() {
        let item =
            PermissionItem::new(&Pay { amount: "123.45".into(), currency: "NOK".into() }, DigestInput::StatementBytes)
                .unwrap();
        assert_eq!(item.digest, "QFS9dO/Vg7oeuve4I0Owc8etOmyLVNuj3JbyUiVswi8=");
        assert_eq!(item.digest.len(), 44);
        assert_eq!(item.encoded, "eyJhbW91bnQiOiIxMjMuNDUiLCJjdXJyZW5jeSI6Ik5PSyJ9");
        let over_encoded = PermissionItem::new(
            &Pay { amount: "123.45".into(), currency: "NOK".into() },
            DigestInput::EncodedPermission,
        )
        .unwrap();
        assert_eq!(over_encoded.digest, permission_digest(item.encoded.as_bytes()));
        assert_ne!(over_encoded.digest, item.digest);
    }

    #[test]
    fn authorization_details_shape() {
        let item = PermissionItem::from_statement("payment.v1", b"{}", DigestInput::StatementBytes);
        let details: Value = serde_json::from_str(&authorization_details(&[item]).unwrap()).unwrap();
        assert_eq!(details, json!([{"type": "payment.v1", "permission": "e30"}]));
    }

    fn sent() -> Vec<PermissionItem> {
        vec![PermissionItem::from_statement("payment.v1", b"{\"a\":1}", DigestInput::StatementBytes)]
    }

    #[test]
    fn verification_outcomes() {
        let items = sent();
        let digest = json!(items[0].digest);
        let details = json!([{"type": "payment.v1", "permission_digest": items[0].digest}]);
        assert_eq!(verify_granted(&items, Some(&digest), Some(&details)), Ok(()));
        assert_eq!(verify_granted(&items, None, Some(&details)), Err(PermissionError::MissingDigest));
        assert_eq!(verify_granted(&items, Some(&json!("x4Fz")), Some(&details)), Err(PermissionError::DigestMismatch));
        assert_eq!(
            verify_granted(&items, Some(&json!([items[0].digest, "b"])), Some(&details)),
            Err(PermissionError::DigestMismatch)
        );
        let other_type = json!([{"type": "other.v1", "permission_digest": items[0].digest}]);
        assert_eq!(verify_granted(&items, Some(&digest), Some(&other_type)), Err(PermissionError::TypeMismatch));
        assert_eq!(verify_granted(&items, Some(&digest), None), Ok(()), "the token response need not echo them");
        assert_eq!(
            verify_granted(&items, Some(&digest), Some(&json!({}))),
            Err(PermissionError::MissingAuthorizationDetails)
        );
    }

    fn registered(statement: &[u8]) -> PermissionItem {
        let mut item = PermissionItem::from_statement("payment.v1", statement, DigestInput::StatementBytes);
        item.transport = Transport::PermissionApi { id: "p1".into(), token: "t".into() };
        item
    }

    #[test]
    fn a_permission_api_digest_is_checked_only_when_present() {
        let api = vec![registered(b"{\"a\":1}")];
        assert_eq!(verify_granted(&api, None, None), Ok(()), "the grant is the proof");
        assert_eq!(verify_granted(&api, Some(&json!(api[0].digest)), None), Ok(()));
        let other = permission_digest(b"{\"a\":2}");
        assert_eq!(verify_granted(&api, Some(&json!(other)), None), Err(PermissionError::DigestMismatch));
        assert_eq!(verify_granted(&api, Some(&json!([])), None), Ok(()), "an empty list names nothing");
    }

    #[test]
    fn a_rar_digest_is_required_beside_a_permission_api_item() {
        let rar = PermissionItem::from_statement("card.v1", b"{\"c\":1}", DigestInput::StatementBytes);
        let api = registered(b"{\"a\":1}");
        let both = vec![rar.clone(), api.clone()];
        assert_eq!(verify_granted(&both, None, None), Err(PermissionError::MissingDigest));
        assert_eq!(verify_granted(&both, Some(&json!(rar.digest)), None), Ok(()), "the API item may be left out");
        assert_eq!(verify_granted(&both, Some(&json!([rar.digest, api.digest])), None), Ok(()));
        assert_eq!(verify_granted(&both, Some(&json!(api.digest)), None), Err(PermissionError::DigestMismatch));
        assert_eq!(
            verify_granted(&both, Some(&json!([api.digest, rar.digest])), None),
            Err(PermissionError::DigestMismatch),
            "in the order sent"
        );
        assert_eq!(
            verify_granted(&both, Some(&json!([rar.digest, api.digest, rar.digest])), None),
            Err(PermissionError::DigestMismatch),
            "nothing beyond what was sent"
        );
    }

    #[test]
    fn digests_compare_as_bytes_whatever_the_alphabet() {
        let digest = permission_digest(b"{\"a\":1}");
        let bytes = STANDARD.decode(&digest).unwrap();
        let url_safe = URL_SAFE_NO_PAD.encode(&bytes);
        let unpadded = digest.trim_end_matches('=').to_owned();
        for same in [&digest, &url_safe, &unpadded] {
            assert!(same_digest(&digest, same), "{same}");
        }
        let other = permission_digest(b"{\"a\":2}");
        assert!(!same_digest(&digest, &other));
        assert!(!same_digest(&digest, "not base64!"));
        assert!(!same_digest("AAAA", "AAAA"), "only 32-byte values are digests");
    }

    #[test]
    fn app_callback_uri_validation() {
        assert!(validate_app_callback_uri("https://shop.example/app").is_ok());
        for bad in [
            "myshop://bankid/return",
            "com.example.app:/done",
            "https://user:pw@shop.example/app",
            "https://shop.example/app#frag",
            "/relative",
            "http://shop.example",
            "javascript:alert(1)",
            "data:text/html,x",
            "myshop://x#frag",
            "file:///etc/passwd",
        ] {
            assert!(validate_app_callback_uri(bad).is_err(), "{bad}");
        }
    }
}
