//! The crate's own cookies read back from a `Cookie` header: never a panic
//! (forged times once overflowed), never more than the cap.
#![no_main]

use axum_bankid::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let read = fuzzing::own_cookies(data);
    assert!(read.newest_logins.len() <= 8);
    assert!(read.expired_at_next_login <= 8 + data.len());
});
