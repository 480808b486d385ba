//! What BankID's two providers answer: OAuth bodies of token, PAR, CIBA and
//! Permission API calls, the CIBA error codes in them, BIB's discovery
//! document and the claims of a signed grant. Nothing panics, refusals carry
//! only sanitised text, and an accepted discovery document names only HTTPS.
#![no_main]

use axum_bankid::fuzzing::{self, GrantFor, PollAnswer};
use axum_bankid::error::{CibaError, EndpointError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data {
        [high, low, body @ ..] => (u16::from_be_bytes([*high, *low]) % 1000, body),
        _ => return,
    };
    match fuzzing::oauth_answer(status, body) {
        Ok(_) => assert!((200..300).contains(&status)),
        Err(EndpointError::Rejected { error, description }) => {
            assert!((400..500).contains(&status));
            for text in std::iter::once(&error).chain(description.as_ref()) {
                assert!(text.chars().count() <= 200 && !text.chars().any(char::is_control));
            }
            ciba_codes(&error);
        }
        Err(_) => {}
    }
    let issuer = url::Url::parse("https://bib.example/").expect("a valid issuer");
    if let Ok(bib) = fuzzing::bib_discovery(body, &issuer) {
        assert!(bib.endpoints.iter().all(|u| u.scheme() == "https"));
        assert!(bib.permissions_endpoint.path().ends_with('/'));
        assert!(bib.signing_algs > 0);
    }
    if let Ok(claims) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body) {
        let expected = GrantFor { id: "p1", r#type: "payment.v1", statement: b"{}", sub: Some("u1"), skew_secs: 30 };
        let _ = fuzzing::grant_claims(&claims, expected);
    }
});

fn ciba_codes(error: &str) {
    if let CibaError::InitiationRejected { error: kept } = fuzzing::ciba_initiation_error(error) {
        assert_eq!(kept, error);
    }
    assert_ne!(fuzzing::ciba_poll_error(error), PollAnswer::Unexpected);
}
