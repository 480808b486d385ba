//! `acr` values: only `URN(;key=value)*` with exactly one `LOA=[1-4]` and no
//! whitespace yields a level; bare URNs count only from their own issuer.
#![no_main]

use axum_bankid::fuzzing;
use libfuzzer_sys::fuzz_target;

const BARE_URNS: [&str; 3] = ["urn:bankid:bis", "urn:bankid:bid", "urn:bankid:bim"];

fuzz_target!(|data: &[u8]| {
    let acr = String::from_utf8_lossy(data);
    if let Some(loa) = fuzzing::acr(&acr) {
        assert!(!acr.chars().any(|c| c.is_whitespace() || c.is_control()), "{acr:?}");
        let mut segments = acr.split(';');
        let urn = segments.next().unwrap_or_default();
        assert!(!urn.is_empty() && !urn.contains('='), "{acr:?}");
        let mut levels = Vec::new();
        for segment in segments {
            let (key, value) = segment.split_once('=').expect("every parameter is key=value");
            assert!(!key.is_empty(), "{acr:?}");
            if key == "LOA" {
                levels.push(value);
            }
        }
        assert_eq!(levels, [loa.get().to_string()], "{acr:?}");
    }
    for from_bib in [false, true] {
        let level = fuzzing::loa_of(&acr, from_bib);
        if !BARE_URNS.contains(&&*acr) {
            assert_eq!(level, fuzzing::acr(&acr), "{acr:?}");
        }
    }
});
