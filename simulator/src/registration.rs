//! The body of a Permission API registration (`POST {bib}/permissions/`)
//! and of `user-exists`, checked strictly against the shapes BankID's CIBA
//! example sends (`PermissionRequest`, `LoginHint`, `ClientSignals`,
//! `UserExistsRequest`): every member it does not know is refused by name.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

use super::permission::Permission;

/// The members a registration may have.
const MEMBERS: [&str; 9] = ["type", "iat", "exp", "permission", "loa", "intents", "acr_values", "loginHint", "signals"];
/// The values `acr_values` may hold (BankID, "Forcing step-up at BIB"):
/// BankID High, and BankID with biometrics (BIB's default).
const ACR_VALUES: [&str; 2] = [BIH, "urn:bankid:bis"];
/// `acr_values` naming BankID High: the approval must end there.
const BIH: &str = "urn:bankid:bih";
/// How far `iat` may be from the simulator's clock, in seconds.
pub(crate) const MAX_IAT_SKEW_SECS: i64 = 300;
/// The longest `exp - iat`, in seconds.
pub(crate) const MAX_LIFETIME_SECS: i64 = 3600;
/// BankID's `ClientSignals` member names.
const SIGNALS: [&str; 13] = [
    "browserJavaEnabled",
    "browserJavascriptEnabled",
    "browserLanguage",
    "browserColorDepth",
    "browserScreenHeight",
    "browserScreenWidth",
    "browserTZ",
    "browserTzIana",
    "browserUserAgent",
    "browserWebAuthnSupported",
    "browserPlatformAuthenticatorAvailable",
    "browserMaxTouchPoints",
    "browserWebdriver",
];

/// A checked registration.
#[derive(Debug, Clone)]
pub(crate) struct Registration {
    pub(crate) permission: Permission,
    /// Unix seconds.
    pub(crate) exp: u64,
    pub(crate) intents: Vec<String>,
    /// The national identity number of `loginHint`, if given.
    pub(crate) nnin: Option<String>,
}

/// Parses and checks a registration at unix time `now`; the error names
/// the problem.
pub(crate) fn parse(body: &[u8], now: u64) -> Result<Registration, String> {
    let body = json_object(body)?;
    if let Some(unknown) = body.keys().find(|name| !MEMBERS.contains(&name.as_str())) {
        return Err(format!("unknown member {unknown} (BankID's members: {})", MEMBERS.join(", ")));
    }
    let kind = match body.get("type") {
        Some(Value::String(kind)) if !kind.is_empty() => kind,
        Some(_) => return Err("type must be a non-empty string".into()),
        None => return Err("type is required".into()),
    };
    let iat = unix_seconds(&body, "iat")?;
    let exp = unix_seconds(&body, "exp")?;
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    if (iat - now).abs() > MAX_IAT_SKEW_SECS {
        return Err(format!("iat must be within {MAX_IAT_SKEW_SECS} seconds of the current time"));
    }
    if exp <= iat {
        return Err("exp must be after iat".into());
    }
    if exp - iat > MAX_LIFETIME_SECS {
        return Err(format!("exp - iat must be at most {MAX_LIFETIME_SECS} seconds"));
    }
    let permission = statement(kind, body.get("permission"))?;
    if body.get("loa").is_some_and(|loa| !loa.is_string()) {
        return Err("loa must be a string".into());
    }
    let intents = intents(body.get("intents"))?;
    let mut permission = permission;
    permission.forces_high = acr_values(body.get("acr_values"))? == [BIH];
    let nnin = body.get("loginHint").map(login_hint).transpose()?;
    if let Some(signals) = body.get("signals") {
        check_signals(signals)?;
    }
    Ok(Registration { permission, exp: u64::try_from(exp).unwrap_or_default(), intents, nnin })
}

/// The body of `user-exists`: exactly `{"loginHint": [{"scheme": "nnin",
/// "value": "<11 digits>"}]}`; returns the national identity number.
pub(crate) fn parse_user_exists(body: &[u8]) -> Result<String, String> {
    let body = json_object(body)?;
    if let Some(unknown) = body.keys().find(|name| *name != "loginHint") {
        return Err(format!(
            "unknown member {unknown}; expected {{\"loginHint\": [{{\"scheme\": \"nnin\", \"value\": <11 digits>}}]}}"
        ));
    }
    login_hint(body.get("loginHint").ok_or("loginHint is required")?)
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err("the body must be a JSON object".into()),
    }
}

fn unix_seconds(body: &Map<String, Value>, name: &str) -> Result<i64, String> {
    match body.get(name) {
        Some(value) => value.as_i64().ok_or_else(|| format!("{name} must be an integer (unix seconds)")),
        None => Err(format!("{name} is required (unix seconds)")),
    }
}

/// `permission`: base64url without padding (standard base64 accepted too)
/// of a JSON object.
fn statement(kind: &str, value: Option<&Value>) -> Result<Permission, String> {
    let Some(Value::String(encoded)) = value else {
        return Err("permission is required: a base64url string of the statement JSON".into());
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .or_else(|_| STANDARD.decode(encoded))
        .map_err(|_| "permission must be base64url without padding".to_owned())?;
    if !matches!(serde_json::from_slice::<Value>(&bytes), Ok(Value::Object(_))) {
        return Err("permission must decode to a JSON object".into());
    }
    Ok(Permission::from_statement(kind, encoded, bytes))
}

/// `acr_values`: a non-empty JSON array of distinct [`ACR_VALUES`], each
/// named when it is not one of them. Absent: BIB's default.
fn acr_values(value: Option<&Value>) -> Result<Vec<&str>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let shape = || format!("acr_values must be a non-empty array of distinct strings from {}", ACR_VALUES.join(", "));
    let Value::Array(items) = value else {
        return Err(shape());
    };
    let mut values: Vec<&str> = Vec::with_capacity(items.len());
    for item in items {
        let acr = item.as_str().ok_or_else(shape)?;
        if !ACR_VALUES.contains(&acr) {
            return Err(format!("unknown acr_values value {acr:?}; BankID's: {}", ACR_VALUES.join(", ")));
        }
        if values.contains(&acr) {
            return Err(shape());
        }
        values.push(acr);
    }
    if values.is_empty() {
        return Err(shape());
    }
    Ok(values)
}

fn intents(value: Option<&Value>) -> Result<Vec<String>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = value else {
        return Err("intents must be an array of strings".into());
    };
    items
        .iter()
        .map(|item| item.as_str().map(str::to_owned).ok_or_else(|| "intents must be an array of strings".to_owned()))
        .collect()
}

/// `loginHint`: an array of exactly one `{"scheme": "nnin", "value": "<11
/// digits>"}`, the only scheme BankID names.
fn login_hint(value: &Value) -> Result<String, String> {
    let Value::Array(items) = value else {
        return Err("loginHint must be an array of {\"scheme\": \"nnin\", \"value\": <11 digits>}".into());
    };
    let [Value::Object(item)] = items.as_slice() else {
        return Err("loginHint must hold exactly one {\"scheme\", \"value\"} object".into());
    };
    if let Some(unknown) = item.keys().find(|name| !["scheme", "value"].contains(&name.as_str())) {
        return Err(format!("unknown loginHint member {unknown}"));
    }
    if item.get("scheme").and_then(Value::as_str) != Some("nnin") {
        return Err("loginHint scheme must be \"nnin\"".into());
    }
    match item.get("value").and_then(Value::as_str) {
        Some(nnin) if nnin.len() == 11 && nnin.bytes().all(|b| b.is_ascii_digit()) => Ok(nnin.to_owned()),
        _ => Err("loginHint value must be a string of 11 digits".into()),
    }
}

fn check_signals(value: &Value) -> Result<(), String> {
    let Value::Object(signals) = value else {
        return Err("signals must be an object".into());
    };
    match signals.keys().find(|name| !SIGNALS.contains(&name.as_str())) {
        Some(unknown) => Err(format!("unknown signals member {unknown}")),
        None => Ok(()),
    }
}

/// A binding message in BankID's style, made by the simulator: a colour, an
/// animal and two digits, e.g. `BLÅ HUND 42` (at most 20 characters, all
/// allowed in a binding message).
pub(crate) fn binding_message() -> String {
    const COLOURS: [&str; 8] = ["BLÅ", "RØD", "GUL", "GRØNN", "SVART", "HVIT", "GRÅ", "BRUN"];
    const ANIMALS: [&str; 10] = ["HUND", "KATT", "ELG", "REV", "ULV", "BJØRN", "HARE", "ØRN", "LAKS", "HVAL"];
    let [colour, animal, number] = rand::random::<[u8; 3]>();
    format!(
        "{} {} {:02}",
        COLOURS[usize::from(colour) % COLOURS.len()],
        ANIMALS[usize::from(animal) % ANIMALS.len()],
        number % 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ciba::is_valid_binding_message;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    fn valid() -> Value {
        json!({
            "type": "payment.v1",
            "iat": NOW,
            "exp": NOW + 600,
            "permission": URL_SAFE_NO_PAD.encode(r#"{"nonce":"n","id":"1"}"#),
            "loa": "sub",
            "intents": ["ciba"],
            "acr_values": ["urn:bankid:bih", "urn:bankid:bis"],
            "loginHint": [{"scheme": "nnin", "value": "17858642043"}],
            "signals": {"browserLanguage": "nb-NO", "browserTZ": "-60"},
        })
    }

    fn with(change: impl FnOnce(&mut Map<String, Value>)) -> Result<Registration, String> {
        let mut body = valid();
        change(body.as_object_mut().expect("object"));
        parse(body.to_string().as_bytes(), NOW)
    }

    #[test]
    fn bankids_shape_is_accepted() {
        let registration = with(|_| {}).expect("valid");
        assert_eq!(registration.exp, NOW + 600);
        assert_eq!(registration.intents, ["ciba"]);
        assert_eq!(registration.nnin.as_deref(), Some("17858642043"));
        assert_eq!(registration.permission.kind, "payment.v1");
        assert!(!registration.permission.forces_high, "biometrics is still allowed");
        let high = with(|body| {
            body.insert("acr_values".into(), json!(["urn:bankid:bih"]));
        });
        assert!(high.expect("valid").permission.forces_high);
        let default = with(|body| {
            body.remove("acr_values");
        });
        assert!(!default.expect("valid").permission.forces_high);
        let padded = with(|body| {
            body.insert("permission".into(), json!(STANDARD.encode(r#"{"a":1}"#)));
        });
        assert!(padded.is_ok(), "standard base64 is accepted too");
    }

    #[test]
    fn every_wrong_shape_is_refused_by_name() {
        // (member, new value or `None` to remove it, what the error names)
        let cases: Vec<(&str, Option<Value>, &str)> = vec![
            ("login_hint", Some(json!("17858642043")), "unknown member login_hint"),
            ("permission_id", Some(json!("x")), "unknown member permission_id"),
            ("iat", None, "iat is required"),
            ("exp", None, "exp is required"),
            ("type", None, "type is required"),
            ("type", Some(json!("")), "type must be"),
            ("iat", Some(json!(NOW - 301)), "iat must be within"),
            ("iat", Some(json!("1800000000")), "iat must be an integer"),
            ("exp", Some(json!(NOW)), "exp must be after iat"),
            ("exp", Some(json!(NOW + 3601)), "at most 3600"),
            ("permission", None, "permission is required"),
            ("permission", Some(json!("***")), "base64url"),
            ("permission", Some(json!(URL_SAFE_NO_PAD.encode("[1]"))), "JSON object"),
            ("loa", Some(json!(3)), "loa must be a string"),
            ("loginHint", Some(json!([{"scheme": "ssn", "value": "17858642043"}])), "scheme"),
            ("loginHint", Some(json!([{"scheme": "nnin", "value": "1785864204"}])), "11 digits"),
            ("loginHint", Some(json!({"scheme": "nnin", "value": "17858642043"})), "array"),
            ("loginHint", Some(json!([])), "exactly one"),
            ("signals", Some(json!({"userAgent": "x"})), "unknown signals member userAgent"),
            ("signals", Some(json!("x")), "signals must be an object"),
            ("intents", Some(json!("ciba")), "intents must be"),
            ("acr_values", Some(json!("urn:bankid:bih")), "acr_values must be"),
            ("acr_values", Some(json!([])), "acr_values must be"),
            ("acr_values", Some(json!(["urn:bankid:bid"])), "unknown acr_values value"),
            ("acr_values", Some(json!(["urn:bankid:bih;LOA=4"])), "unknown acr_values value"),
            ("acr_values", Some(json!(["urn:bankid:bih", "urn:bankid:bih"])), "distinct"),
            ("acr_values", Some(json!([4])), "acr_values must be"),
            ("acrValues", Some(json!(["urn:bankid:bih"])), "unknown member acrValues"),
        ];
        for (member, value, expected) in cases {
            let error = with(|body| {
                match value {
                    Some(value) => body.insert(member.into(), value),
                    None => body.remove(member),
                };
            })
            .expect_err(expected);
            assert!(error.contains(expected), "{error:?} should name {expected:?}");
        }
    }

    #[test]
    fn user_exists_takes_exactly_bankids_shape() {
        let ok = br#"{"loginHint":[{"scheme":"nnin","value":"17858642043"}]}"#;
        assert_eq!(parse_user_exists(ok).as_deref(), Ok("17858642043"));
        for (bad, expected) in [
            (&br#"{"login_hint":"17858642043"}"#[..], "unknown member login_hint"),
            (br#"{"loginHint":"17858642043"}"#, "array"),
            (br#"{}"#, "loginHint is required"),
            (br#"[]"#, "JSON object"),
        ] {
            let error = parse_user_exists(bad).expect_err(expected);
            assert!(error.contains(expected), "{error:?} should name {expected:?}");
        }
    }

    #[test]
    fn binding_messages_are_short_and_valid() {
        for _ in 0..200 {
            let message = binding_message();
            assert!(is_valid_binding_message(&message), "{message}");
            assert!(message.chars().count() <= 20);
        }
    }
}
