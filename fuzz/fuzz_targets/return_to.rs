//! `return_to`: whatever comes in, what goes out is the input itself or `/`,
//! and always a path that stays on the application's origin.
#![no_main]

use axum_bankid::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let candidate = String::from_utf8_lossy(data);
    let out = fuzzing::return_to(Some(&candidate));
    assert!(out == "/" || out == candidate, "{candidate:?}");
    assert!(out.starts_with('/') && !out.starts_with("//") && !out.contains('\\'), "{out:?}");
    assert!(!out.chars().any(|c| c.is_control() || c.is_whitespace()), "{out:?}");
    assert!(out.len() <= 2048);
    let base = url::Url::parse("https://app.example/").expect("a valid base");
    let resolved = base.join(&out).expect("a safe path resolves");
    assert_eq!(resolved.origin(), base.origin(), "{out:?}");
});
