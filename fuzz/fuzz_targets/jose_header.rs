//! The protected header of every provider-signed JWS: arbitrary tokens and
//! arbitrary header bytes never panic, and a header with `crit` never passes
//! (this crate processes no critical extension).
#![no_main]

use axum_bankid::error::IdTokenError;
use axum_bankid::fuzzing;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    // Accepted or not, the invariants are asserted inside `check`.
    let _ = check(&token);
    // The same bytes as the decoded header, so the JSON parser sees them.
    let header = URL_SAFE_NO_PAD.encode(data);
    let result = check(&format!("{header}.e30.AAAA"));
    let has_crit = serde_json::from_slice::<serde_json::Value>(data).is_ok_and(|v| v.get("crit").is_some());
    if has_crit {
        assert!(result.is_err(), "a header naming crit passed: {token:?}");
    }
});

fn check(token: &str) -> Result<fuzzing::JoseHeader, IdTokenError> {
    let result = fuzzing::jose_header(token);
    if let Ok(header) = &result {
        assert_eq!(token.matches('.').count(), 2, "{token:?}");
        assert!(header.alg.chars().count() <= 16 && !header.alg.chars().any(char::is_control));
    }
    result
}
