//! Permission statements, digests and the provider's answer about them:
//! the digest always verifies its own statement, digest comparison is
//! symmetric, and arbitrary JSON answers never panic.
#![no_main]

use axum_bankid::fuzzing;
use axum_bankid::permission::{DigestInput, permission_digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let statement = fuzzing::permission_statement("payment.v1", data, DigestInput::StatementBytes);
    assert_eq!(URL_SAFE_NO_PAD.decode(&statement.encoded).ok().as_deref(), Some(data));
    assert_eq!(statement.digest, permission_digest(data));
    let sent: [(&str, &[u8]); 1] = [("payment.v1", data)];
    let digest = serde_json::Value::String(statement.digest.clone());
    assert_eq!(fuzzing::verify_granted(&sent, DigestInput::StatementBytes, Some(&digest), None), Ok(()));

    let text = String::from_utf8_lossy(data);
    let (a, b) = text.split_once('\u{0}').unwrap_or((&text, &statement.digest));
    assert_eq!(fuzzing::same_digest(a, b), fuzzing::same_digest(b, a));
    if let Ok(uri) = fuzzing::app_callback_uri(&text) {
        let parsed = url::Url::parse(&uri).expect("an accepted URI parses");
        // A universal link only: https with a host, no fragment.
        assert_eq!(parsed.scheme(), "https");
        assert!(parsed.host().is_some());
        assert!(parsed.fragment().is_none());
    }
    if let Ok(answer) = serde_json::from_slice::<serde_json::Value>(data) {
        let sent: [(&str, &[u8]); 1] = [("payment.v1", b"{}")];
        let _ = fuzzing::verify_granted(&sent, DigestInput::StatementBytes, Some(&answer), Some(&answer));
        let details = serde_json::json!([{"type": "payment.v1", "permission_digest": permission_digest(b"{}")}]);
        let _ = fuzzing::verify_granted(&sent, DigestInput::StatementBytes, Some(&answer), Some(&details));
    }
});
