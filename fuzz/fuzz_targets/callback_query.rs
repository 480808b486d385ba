//! The authorization callback's query: a repeated parameter is refused,
//! otherwise each field is exactly its (non-empty) decoded value.
#![no_main]

use std::collections::HashMap;

use axum_bankid::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    let result = fuzzing::callback_query(&query);
    let mut seen = HashMap::new();
    let mut repeated = false;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        repeated |= seen.insert(key.into_owned(), value.into_owned()).is_some();
    }
    match result {
        Err(err) => {
            assert!(repeated, "{query:?}");
            assert_eq!(err.kind(), "malformed_callback");
        }
        Ok(params) => {
            assert!(!repeated, "{query:?}");
            let field = |name: &str| seen.get(name).filter(|v| !v.is_empty()).cloned();
            assert_eq!(params.code, field("code"));
            assert_eq!(params.state, field("state"));
            assert_eq!(params.error, field("error"));
            assert_eq!(params.error_description, field("error_description"));
            assert_eq!(params.iss, field("iss"));
        }
    }
});
