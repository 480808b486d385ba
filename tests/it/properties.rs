//! Properties of every parser of outside input (issue 14 §5), through the
//! unstable `axum_bankid::fuzzing` entry points that call the very parsers
//! the layer uses.
//!
//! Two kinds of property each: nothing panics on arbitrary input (strings,
//! bytes, JSON values), and only well-formed input is accepted — generators
//! build valid values and check the exact result, mutations of them must
//! fail with the exact typed error. The same invariants are what the
//! cargo-fuzz targets in `fuzz/` assert (see `scripts/fuzz.sh`).
//!
//! Bounded for CI: 256 cases per property, no failure files written.

use axum_bankid::error::{CibaError, EndpointError, Error, IdTokenError, PermissionError};
use axum_bankid::fuzzing::{self, GrantFor, PollAnswer};
use axum_bankid::{
    Loa,
    permission::{DigestInput, permission_digest},
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value, json};

fn config() -> Config {
    Config { cases: 256, failure_persistence: None, ..Config::default() }
}

/// Arbitrary JSON values, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Characters browsers, URL parsers or our own splitters treat specially.
const TRICKY: &[&str] = &[
    "",
    " ",
    "\t",
    "\n",
    "\r",
    "\0",
    "\u{85}",
    "\u{a0}",
    "\u{2028}",
    "\u{feff}",
    ";",
    "=",
    "/",
    "//",
    "\\",
    "?",
    "#",
    "&",
    "%",
    "%2F",
    "%00",
    "..",
    ".",
    ":",
    "@",
    "LOA",
    "loa",
    "٣",
    "\u{1F600}",
];

/// Strings made of tricky pieces and arbitrary characters.
fn tricky_string() -> impl Strategy<Value = String> {
    prop::collection::vec(prop_oneof![prop::sample::select(TRICKY).prop_map(str::to_owned), ".{0,3}"], 0..10)
        .prop_map(|parts| parts.concat())
}

/// Inserts `piece` at the char boundary nearest to `at` (a fraction of the length).
fn insert_at(text: &str, at: prop::sample::Index, piece: &str) -> String {
    let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    let i = boundaries[at.index(boundaries.len())];
    format!("{}{piece}{}", &text[..i], &text[i..])
}

// ---------------------------------------------------------------- acr / LOA

/// A valid `acr`: a URN, other parameters, and one `LOA=<level>` among them.
fn valid_acr() -> impl Strategy<Value = (String, u8)> {
    let urn = "urn:[a-z]{1,8}(:[a-z0-9._-]{1,8}){0,2}";
    let key = "[A-Za-z_][A-Za-z0-9_.-]{0,6}".prop_filter("not LOA", |k| k != "LOA");
    let param = (key, "[A-Za-z0-9._:=-]{0,6}").prop_map(|(k, v)| format!("{k}={v}"));
    (urn, prop::collection::vec(param, 0..4), 1u8..=4, any::<prop::sample::Index>()).prop_map(
        |(urn, mut params, level, at)| {
            params.insert(at.index(params.len() + 1), format!("LOA={level}"));
            (format!("{urn};{}", params.join(";")), level)
        },
    )
}

/// The grammar of a strict `acr`, written out as a specification: what any
/// accepted value must look like.
fn grammar_level(acr: &str) -> Option<u8> {
    if acr.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let mut segments = acr.split(';');
    let urn = segments.next()?;
    if urn.is_empty() || urn.contains('=') {
        return None;
    }
    let mut levels = Vec::new();
    for segment in segments {
        let (key, value) = segment.split_once('=')?;
        if key.is_empty() {
            return None;
        }
        if key == "LOA" {
            levels.push(value);
        }
    }
    match levels.as_slice() {
        [level] if matches!(*level, "1" | "2" | "3" | "4") => level.parse().ok(),
        _ => None,
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn acr_generated_values_parse_to_their_level((acr, level) in valid_acr()) {
        prop_assert_eq!(fuzzing::acr(&acr), Loa::new(level));
        prop_assert_eq!(fuzzing::loa_of(&acr, true), Loa::new(level), "an explicit level counts from BIB");
        prop_assert_eq!(fuzzing::loa_of(&acr, false), Loa::new(level));
    }

    #[test]
    fn acr_with_whitespace_or_control_anywhere_fails(
        (acr, _) in valid_acr(),
        at in any::<prop::sample::Index>(),
        bad in prop::sample::select(&[" ", "\t", "\n", "\r", "\0", "\u{85}", "\u{a0}", "\u{2028}", "\u{1b}"][..]),
    ) {
        prop_assert_eq!(fuzzing::acr(&insert_at(&acr, at, bad)), None);
    }

    #[test]
    fn acr_with_a_second_loa_fails((acr, _) in valid_acr(), other in "[0-9]{0,2}") {
        prop_assert_eq!(fuzzing::acr(&format!("{acr};LOA={other}")), None);
    }

    #[test]
    fn acr_with_a_bad_level_fails(
        urn in "urn:[a-z]{1,8}",
        level in prop_oneof!["[05-9]", "[0-9]{2,3}", "[+-][1-4]", "[1-4][a-z ]", Just("٣".to_owned()), Just(String::new())],
    ) {
        prop_assert_eq!(fuzzing::acr(&format!("{urn};LOA={level}")), None);
    }

    #[test]
    fn acr_without_urn_or_with_a_broken_parameter_fails(
        (acr, _) in valid_acr(),
        broken in prop::sample::select(&[";", ";=x", ";novalue", ";=", ";;"][..]),
        key in prop::sample::select(&["loa", "Loa", "LOA ", " LOA", "L0A"][..]),
    ) {
        let (_, params) = acr.split_once(';').expect("generated values have parameters");
        prop_assert_eq!(fuzzing::acr(&format!(";{params}")), None, "no URN");
        prop_assert_eq!(fuzzing::acr(&format!("{acr}{broken}")), None, "a parameter without key=value");
        prop_assert_eq!(fuzzing::acr(&acr.replace("LOA=", &format!("{key}="))), None, "the key is exactly LOA");
    }

    #[test]
    fn acr_any_string_is_accepted_only_by_the_grammar(acr in tricky_string()) {
        prop_assert_eq!(fuzzing::acr(&acr).map(Loa::get), grammar_level(&acr));
    }

    #[test]
    fn acr_arbitrary_text_never_panics_and_bare_urns_need_their_issuer(acr in ".{0,64}") {
        let strict = fuzzing::acr(&acr);
        prop_assert_eq!(strict.map(Loa::get), grammar_level(&acr));
        for from_bib in [false, true] {
            if !["urn:bankid:bis", "urn:bankid:bih"].contains(&acr.as_str()) {
                prop_assert_eq!(fuzzing::loa_of(&acr, from_bib), strict);
            }
        }
    }
}

#[test]
fn acr_bare_urns_map_only_from_their_issuer() {
    assert_eq!(fuzzing::loa_of("urn:bankid:bis", true), Some(Loa::SUBSTANTIAL));
    assert_eq!(fuzzing::loa_of("urn:bankid:bis", false), None);
    assert_eq!(fuzzing::loa_of("urn:bankid:bih", true), Some(Loa::HIGH), "the named guess after a forced step-up");
    assert_eq!(fuzzing::loa_of("urn:bankid:bih", false), None);
    // No BankID source shows a bare URN from BankID OIDC.
    assert_eq!(fuzzing::loa_of("urn:bankid:bid", false), None);
    assert_eq!(fuzzing::loa_of("urn:bankid:bim", false), None);
    assert_eq!(fuzzing::loa_of("urn:bankid:bid", true), None);
    assert_eq!(fuzzing::loa_of("urn:bankid:bim", true), None);
}

// ---------------------------------------------------------------- return_to

/// What the layer may send the user to: a path on the application's origin.
fn assert_same_origin_path(out: &str) -> Result<(), TestCaseError> {
    prop_assert!(out.starts_with('/') && !out.starts_with("//") && !out.starts_with("/\\"), "{out:?}");
    prop_assert!(!out.contains('\\'), "{out:?}");
    prop_assert!(!out.chars().any(|c| c.is_control() || c.is_whitespace()), "{out:?}");
    prop_assert!(out.len() <= 2048);
    let base = url::Url::parse("https://app.example/").expect("a valid base");
    let resolved = base.join(out).map_err(|e| TestCaseError::fail(format!("{out:?}: {e}")))?;
    prop_assert_eq!(resolved.origin(), base.origin(), "{:?}", out);
    Ok(())
}

/// A plain local path with an optional query and fragment.
fn local_path() -> impl Strategy<Value = String> {
    (
        prop::collection::vec("[A-Za-z0-9._~-]{1,8}", 0..5),
        prop::option::of("[a-z]{1,4}=[A-Za-z0-9%]{0,6}"),
        prop::option::of("[a-z]{0,5}"),
    )
        .prop_map(|(segments, query, fragment)| {
            let mut path = format!("/{}", segments.join("/"));
            if let Some(query) = query {
                path = format!("{path}?{query}");
            }
            if let Some(fragment) = fragment {
                path = format!("{path}#{fragment}");
            }
            path
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn return_to_output_is_always_the_input_or_slash_and_same_origin(candidate in tricky_string()) {
        let out = fuzzing::return_to(Some(&candidate));
        prop_assert!(out == "/" || out == candidate, "{:?} became {:?}", candidate, out);
        assert_same_origin_path(&out)?;
    }

    #[test]
    fn return_to_arbitrary_text_stays_on_origin(candidate in ".{0,80}") {
        let out = fuzzing::return_to(Some(&candidate));
        prop_assert!(out == "/" || out == candidate);
        assert_same_origin_path(&out)?;
    }

    #[test]
    fn return_to_keeps_local_paths(path in local_path()) {
        prop_assert_eq!(fuzzing::return_to(Some(&path)), path);
    }

    #[test]
    fn return_to_refuses_other_origins_and_smuggled_characters(
        path in local_path(),
        prefix in prop::sample::select(&[
            "//evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example", "http:", "javascript:",
            "data:text/html,", " ", "\t", "evil.example", "/\t/evil.example", "/\n/evil.example", "/\r/evil.example",
        ][..]),
        at in any::<prop::sample::Index>(),
        smuggled in prop::sample::select(&["\\", "\t", "\n", "\r", "\0", " ", "\u{85}", "\u{2028}", "\u{7f}"][..]),
    ) {
        prop_assert_eq!(fuzzing::return_to(Some(&format!("{prefix}{path}"))), "/");
        prop_assert_eq!(fuzzing::return_to(Some(&insert_at(&path, at, smuggled))), "/");
        prop_assert_eq!(fuzzing::return_to(Some(&format!("{path}{}", "a".repeat(2049)))), "/", "too long");
    }
}

// ---------------------------------------------------------------- callback query

const CALLBACK_NAMES: &[&str] = &["code", "state", "error", "error_description", "iss", "other", "code ", "Code"];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn callback_query_distinct_parameters_round_trip(
        values in prop::collection::btree_map(prop::sample::select(CALLBACK_NAMES), ".{0,12}", 0..7),
    ) {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(values.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let params = fuzzing::callback_query(&query).map_err(|e| TestCaseError::fail(format!("{query:?}: {e}")))?;
        let field = |name: &str| values.get(name).filter(|v| !v.is_empty()).cloned();
        prop_assert_eq!(params.code, field("code"));
        prop_assert_eq!(params.state, field("state"));
        prop_assert_eq!(params.error, field("error"));
        prop_assert_eq!(params.error_description, field("error_description"));
        prop_assert_eq!(params.iss, field("iss"));
    }

    #[test]
    fn callback_query_repeated_parameter_is_refused(
        values in prop::collection::vec((prop::sample::select(CALLBACK_NAMES), ".{0,6}"), 0..5),
        repeated in prop::sample::select(CALLBACK_NAMES),
        first in ".{0,6}",
        second in ".{0,6}",
        encode_key in any::<bool>(),
    ) {
        let mut pairs = values;
        pairs.push((repeated, first));
        pairs.push((repeated, second));
        let mut query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        if encode_key {
            // The same key spelled with percent-encoding is still the same key.
            query.push_str(&format!("&{}=x", repeated.bytes().map(|b| format!("%{b:02X}")).collect::<String>()));
        }
        let err = fuzzing::callback_query(&query).err();
        prop_assert!(matches!(err, Some(Error::MalformedCallback)), "{:?}: {:?}", query, err);
        prop_assert_eq!(err.map(|e| e.kind()), Some("malformed_callback"));
    }

    #[test]
    fn callback_query_arbitrary_text_refused_only_for_repeats(query in tricky_string()) {
        let mut keys = std::collections::HashSet::new();
        let repeated = url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| !keys.insert(k.into_owned()));
        match fuzzing::callback_query(&query) {
            Ok(_) => prop_assert!(!repeated),
            Err(err) => {
                prop_assert!(repeated);
                prop_assert_eq!(err.kind(), "malformed_callback");
            }
        }
    }
}

// ---------------------------------------------------------------- JOSE header

const REGISTERED: &[&str] = &[
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "enc", "zip", "epk", "apu",
    "apv", "iv", "tag", "p2s", "p2c",
];

fn token_with_header(header: &Value) -> String {
    format!("{}.e30.AAAA", URL_SAFE_NO_PAD.encode(header.to_string()))
}

/// Header members nobody registered, with any JSON value.
fn extension_members() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("(urn:)?[a-z][a-z0-9-]{0,6}", any_json(), 0..4)
        .prop_map(|m| m.into_iter().filter(|(k, _)| !REGISTERED.contains(&k.as_str())).collect())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn jose_header_arbitrary_tokens_never_panic(token in prop_oneof![tricky_string(), "[A-Za-z0-9_.=+/-]{0,60}"]) {
        if let Ok(header) = fuzzing::jose_header(&token) {
            prop_assert_eq!(token.matches('.').count(), 2);
            prop_assert!(header.alg.chars().count() <= 16 && !header.alg.chars().any(char::is_control));
        }
    }

    #[test]
    fn jose_header_arbitrary_json_headers_never_panic(header in any_json()) {
        let result = fuzzing::jose_header(&token_with_header(&header));
        let alg_is_string = header.get("alg").is_some_and(Value::is_string);
        let kid_ok = header.get("kid").is_none_or(Value::is_string);
        if !header.is_object() || !alg_is_string || !kid_ok {
            prop_assert_eq!(result, Err(IdTokenError::Malformed));
        } else if header.get("crit").is_some() {
            prop_assert!(result.is_err(), "crit was accepted: {}", header);
        } else {
            prop_assert!(result.is_ok(), "{}: {:?}", header, result);
        }
    }

    #[test]
    fn jose_header_reads_alg_and_kid_and_ignores_extensions(
        alg in ".{0,24}",
        kid in prop::option::of(".{0,12}"),
        extra in extension_members(),
    ) {
        let mut header = extra;
        header.insert("alg".into(), json!(alg));
        if let Some(kid) = &kid {
            header.insert("kid".into(), json!(kid));
        }
        let parsed = fuzzing::jose_header(&token_with_header(&Value::Object(header)))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        // Kept exactly as sent: cleaning it up first would let "RS\0256" pass as RS256.
        prop_assert_eq!(parsed.alg, alg);
        prop_assert_eq!(parsed.kid, kid);
    }

    /// RFC 7515 §4.1.11: this crate processes no extension, so any `crit`
    /// naming present unregistered members is unsupported, and a header with
    /// `crit` never passes the parser every signed token goes through first.
    #[test]
    fn jose_header_with_an_unknown_crit_never_passes(
        extra in extension_members().prop_filter("needs a member", |m| !m.is_empty()),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..4),
    ) {
        let names: Vec<&String> = extra.keys().collect();
        let crit: Vec<Value> = picks.iter().map(|i| json!(names[i.index(names.len())])).collect();
        let mut header = extra.clone();
        header.insert("alg".into(), json!("RS256"));
        header.insert("crit".into(), Value::Array(crit));
        prop_assert_eq!(
            fuzzing::jose_header(&token_with_header(&Value::Object(header))),
            Err(IdTokenError::UnsupportedCriticalHeader)
        );
    }

    #[test]
    fn jose_header_crit_naming_registered_or_absent_members_is_invalid(
        registered in prop::sample::select(REGISTERED),
        absent in "zz[a-z]{1,5}",
        shape in prop_oneof![Just(json!([])), Just(json!({})), Just(json!(null)), Just(json!("x")), Just(json!([1]))],
    ) {
        for crit in [json!([registered]), json!([absent]), shape] {
            let header = json!({"alg": "RS256", "jwk": {}, "crit": crit});
            prop_assert_eq!(fuzzing::jose_header(&token_with_header(&header)), Err(IdTokenError::InvalidCriticalHeader));
        }
    }

    #[test]
    fn jose_header_needs_exactly_three_parts(parts in prop::collection::vec("[A-Za-z0-9_-]{0,6}", 0..7)) {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#);
        let mut all = vec![header];
        all.extend(parts);
        let token = all.join(".");
        let result = fuzzing::jose_header(&token);
        if all.len() == 3 {
            prop_assert!(result.is_ok(), "{:?}", token);
        } else {
            prop_assert_eq!(result, Err(IdTokenError::Malformed), "{:?}", token);
        }
    }
}

#[test]
fn jose_header_oversized_token_is_malformed() {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#);
    let token = format!("{header}.{}.AAAA", "A".repeat(16 * 1024));
    assert_eq!(fuzzing::jose_header(&token), Err(IdTokenError::Malformed));
}

// ---------------------------------------------------------------- permissions and digests

/// The four base64 alphabets a `permission_digest` may arrive in.
fn encode_any(bytes: &[u8], alphabet: u8) -> String {
    match alphabet % 4 {
        0 => STANDARD.encode(bytes),
        1 => STANDARD_NO_PAD.encode(bytes),
        2 => URL_SAFE.encode(bytes),
        _ => URL_SAFE_NO_PAD.encode(bytes),
    }
}

/// The specification of digest equality: both decode (in any alphabet) to
/// 32 bytes, and the bytes are equal.
fn decoded_digest(text: &str) -> Option<Vec<u8>> {
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(text).ok())
        .filter(|bytes| bytes.len() == 32)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn same_digest_is_byte_equality_of_decoded_32_byte_values(
        a in any::<[u8; 32]>(),
        b in any::<[u8; 32]>(),
        same in any::<bool>(),
        alphabet_a in any::<u8>(),
        alphabet_b in any::<u8>(),
    ) {
        let b = if same { a } else { b };
        let (ea, eb) = (encode_any(&a, alphabet_a), encode_any(&b, alphabet_b));
        prop_assert_eq!(fuzzing::same_digest(&ea, &eb), a == b);
        prop_assert_eq!(fuzzing::same_digest(&eb, &ea), a == b);
    }

    #[test]
    fn same_digest_never_matches_other_lengths(bytes in prop::collection::vec(any::<u8>(), 0..64), alphabet in any::<u8>()) {
        prop_assume!(bytes.len() != 32);
        let text = encode_any(&bytes, alphabet);
        prop_assert!(!fuzzing::same_digest(&text, &text));
    }

    #[test]
    fn same_digest_on_arbitrary_text_is_symmetric_and_follows_the_spec(
        a in prop_oneof![".{0,48}", "[A-Za-z0-9+/_=-]{40,46}"],
        b in prop_oneof![".{0,48}", "[A-Za-z0-9+/_=-]{40,46}"],
    ) {
        let result = fuzzing::same_digest(&a, &b);
        prop_assert_eq!(result, fuzzing::same_digest(&b, &a));
        let expected = matches!((decoded_digest(&a), decoded_digest(&b)), (Some(x), Some(y)) if x == y);
        prop_assert_eq!(result, expected);
    }

    #[test]
    fn permission_statement_encodes_and_digests_the_statement(
        kind in "[a-z]{1,8}\\.v[0-9]",
        statement in prop::collection::vec(any::<u8>(), 0..200),
        over_encoded in any::<bool>(),
    ) {
        let input = if over_encoded { DigestInput::EncodedPermission } else { DigestInput::StatementBytes };
        let sent = fuzzing::permission_statement(&kind, &statement, input);
        prop_assert_eq!(URL_SAFE_NO_PAD.decode(&sent.encoded).ok(), Some(statement.clone()));
        let expected = if over_encoded { permission_digest(sent.encoded.as_bytes()) } else { permission_digest(&statement) };
        prop_assert_eq!(&sent.digest, &expected);
        prop_assert_eq!(sent.digest.len(), 44);
    }

    #[test]
    fn verify_granted_accepts_exactly_the_digests_sent(
        statements in prop::collection::vec(("[a-z]{1,6}\\.v1", prop::collection::vec(any::<u8>(), 0..40)), 1..4),
        alphabets in prop::collection::vec(any::<u8>(), 4),
        echo in any::<bool>(),
        tamper in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let sent: Vec<(&str, &[u8])> = statements.iter().map(|(k, s)| (k.as_str(), s.as_slice())).collect();
        let digests: Vec<[u8; 32]> = statements
            .iter()
            .map(|(_, s)| STANDARD.decode(permission_digest(s)).expect("base64").try_into().expect("32 bytes"))
            .collect();
        let render = |digests: &[[u8; 32]]| -> (Value, Value) {
            let claim: Vec<Value> = digests.iter().enumerate().map(|(i, d)| json!(encode_any(d, alphabets[i % 4]))).collect();
            let details: Vec<Value> = sent
                .iter()
                .zip(digests)
                .map(|((kind, _), d)| json!({"type": kind, "permission_digest": encode_any(d, alphabets[3])}))
                .collect();
            let claim = if claim.len() == 1 { claim[0].clone() } else { Value::Array(claim) };
            (claim, Value::Array(details))
        };
        let input = DigestInput::StatementBytes;
        let (claim, details) = render(&digests);
        let details = echo.then_some(details);
        prop_assert_eq!(fuzzing::verify_granted(&sent, input, Some(&claim), details.as_ref()), Ok(()));

        let mut tampered = digests.clone();
        let victim = tamper.index(tampered.len());
        tampered[victim][0] ^= flip;
        let (bad_claim, bad_details) = render(&tampered);
        prop_assert_eq!(
            fuzzing::verify_granted(&sent, input, Some(&bad_claim), details.as_ref()),
            Err(PermissionError::DigestMismatch)
        );
        prop_assert_eq!(
            fuzzing::verify_granted(&sent, input, Some(&claim), Some(&bad_details)),
            Err(PermissionError::DigestMismatch)
        );
        prop_assert_eq!(fuzzing::verify_granted(&sent, input, None, details.as_ref()), Err(PermissionError::MissingDigest));
        let short = Value::Array(digests[1..].iter().map(|d| json!(STANDARD.encode(d))).collect());
        prop_assert_eq!(fuzzing::verify_granted(&sent, input, Some(&short), None), Err(PermissionError::DigestMismatch));

        let mut other_type = render(&digests).1;
        other_type[tamper.index(sent.len())]["type"] = json!("other.v9");
        prop_assert_eq!(
            fuzzing::verify_granted(&sent, input, Some(&claim), Some(&other_type)),
            Err(PermissionError::TypeMismatch)
        );
    }

    #[test]
    fn verify_granted_arbitrary_answers_never_panic_nor_pass(claim in any_json(), details in any_json()) {
        let sent: [(&str, &[u8]); 1] = [("payment.v1", b"{\"amount\":\"1\"}")];
        let result = fuzzing::verify_granted(&sent, DigestInput::StatementBytes, Some(&claim), Some(&details));
        prop_assert!(result.is_err(), "a random answer granted a permission: {} {}", claim, details);
    }

    #[test]
    fn app_callback_uri_accepts_only_https_universal_links(
        uri in prop_oneof![
            tricky_string(),
            (
                prop::sample::select(&["https", "HTTPS", "http", "HTTP", "javascript", "JavaScript", "data", "file", "blob",
                    "about", "vbscript", "myapp", "com.example.app", "x-app"][..]),
                prop::sample::select(&["://", ":", ":/", ":///"][..]),
                "[a-z.]{0,10}(/[a-z]{0,5}){0,2}",
                prop::option::of("[a-z]{0,4}"),
            )
                .prop_map(|(scheme, sep, rest, frag)| match frag {
                    Some(frag) => format!("{scheme}{sep}{rest}#{frag}"),
                    None => format!("{scheme}{sep}{rest}"),
                }),
        ],
    ) {
        match fuzzing::app_callback_uri(&uri) {
            Ok(normalised) => {
                let parsed = url::Url::parse(&normalised).expect("an accepted URI parses");
                prop_assert_eq!(parsed.scheme(), "https", "{:?}", uri);
                prop_assert!(parsed.host().is_some(), "{:?}", uri);
                prop_assert!(parsed.fragment().is_none(), "{:?}", uri);
                prop_assert!(!uri.contains('#') && !uri.chars().any(char::is_whitespace), "{:?}", uri);
            }
            Err(err) => prop_assert_eq!(err, PermissionError::InvalidAppCallbackUri),
        }
    }
}

// ---------------------------------------------------------------- BIB discovery

const ENDPOINT_FIELDS: [&str; 5] =
    ["permissions_endpoint", "backchannel_authentication_endpoint", "token_endpoint", "jwks_uri", "jwks_uri_grants"];

fn endpoint_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => "(/[a-z]{1,6}){0,2}/?".prop_map(|p| json!(format!("https://bib.example{p}"))),
        1 => Just(json!("http://bib.example/x")),
        1 => Just(json!("http://127.0.0.1:9/x")),
        1 => Just(json!("ftp://bib.example/x")),
        1 => Just(json!("javascript:alert(1)")),
        1 => Just(json!("/relative")),
        1 => any_json(),
    ]
}

fn bib_document() -> impl Strategy<Value = (Value, bool)> {
    let issuer = prop_oneof![
        4 => Just(json!("https://bib.example/")),
        1 => Just(json!("https://bib.example")),
        1 => Just(json!("https://evil.example/")),
        1 => any_json(),
    ];
    let algs = prop_oneof![
        Just(json!(["RS256"])),
        Just(json!(["ES256", "HS256"])),
        Just(json!(["HS256"])),
        Just(json!(["none"])),
        Just(json!([])),
        any_json(),
    ];
    (issuer, prop::collection::vec(prop::option::of(endpoint_value()), 5), algs, any::<bool>()).prop_map(
        |(issuer, endpoints, algs, with_algs)| {
            let mut doc = Map::new();
            doc.insert("issuer".into(), issuer);
            for (name, value) in ENDPOINT_FIELDS.iter().zip(endpoints) {
                if let Some(value) = value {
                    doc.insert((*name).into(), value);
                }
            }
            if with_algs {
                doc.insert("id_token_signing_alg_values_supported".into(), algs);
            }
            (Value::Object(doc), with_algs)
        },
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn bib_discovery_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let issuer = url::Url::parse("https://bib.example/").expect("valid");
        if fuzzing::bib_discovery(&bytes, &issuer).is_ok() {
            prop_assert!(serde_json::from_slice::<Value>(&bytes).is_ok_and(|v| v.is_object()));
        }
    }

    #[test]
    fn bib_discovery_accepts_only_its_issuer_https_and_asymmetric_keys((doc, _) in bib_document()) {
        let issuer = url::Url::parse("https://bib.example/").expect("valid");
        let result = fuzzing::bib_discovery(doc.to_string().as_bytes(), &issuer);
        let https = |name: &str| {
            doc.get(name).and_then(Value::as_str).and_then(|u| url::Url::parse(u).ok()).is_some_and(|u| u.scheme() == "https")
        };
        let required_ok = ["permissions_endpoint", "token_endpoint", "jwks_uri", "jwks_uri_grants"].iter().all(|n| https(n));
        let ciba_ok = doc
            .get("backchannel_authentication_endpoint")
            .is_none_or(|v| v.is_null() || https("backchannel_authentication_endpoint"));
        let issuer_ok = matches!(doc["issuer"].as_str(), Some("https://bib.example/" | "https://bib.example"));
        let algs_ok = doc
            .get("id_token_signing_alg_values_supported")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| matches!(v.as_str(), Some("RS256" | "ES256"))));
        match result {
            Ok(bib) => {
                prop_assert!(required_ok && ciba_ok && issuer_ok && algs_ok, "{}", doc);
                prop_assert!(bib.endpoints.iter().all(|u| u.scheme() == "https"));
                prop_assert!(bib.permissions_endpoint.path().ends_with('/'));
                prop_assert!(bib.signing_algs >= 1);
                prop_assert_eq!(Some(bib.issuer.as_str()), doc["issuer"].as_str());
            }
            Err(_) => prop_assert!(!(required_ok && ciba_ok && issuer_ok && algs_ok), "a good document was refused: {}", doc),
        }
    }
}

// ---------------------------------------------------------------- grant claims

/// How a grant names one bound value under one of its names.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Named {
    Absent,
    Right,
    Wrong,
}

fn named() -> impl Strategy<Value = Named> {
    prop_oneof![Just(Named::Absent), Just(Named::Right), Just(Named::Wrong)]
}

const STATEMENT: &[u8] = b"{\"amount\":\"100\"}";

fn expectation() -> GrantFor<'static> {
    GrantFor { id: "perm-1", r#type: "payment.v1", statement: STATEMENT, sub: Some("user-1"), skew_secs: 30 }
}

fn put(claims: &mut Map<String, Value>, name: &str, how: Named, right: Value, wrong: Value) {
    match how {
        Named::Absent => {}
        Named::Right => {
            claims.insert(name.into(), right);
        }
        Named::Wrong => {
            claims.insert(name.into(), wrong);
        }
    }
}

fn permission_reason(result: &Result<(), Error>) -> Option<&'static str> {
    match result {
        Err(Error::Permission(err)) => Some(err.kind()),
        _ => None,
    }
}

proptest! {
    #![proptest_config(config())]

    /// Every name a grant uses for its permission id, type, digest and
    /// subject must carry the expected value; any wrong one refuses it.
    #[test]
    fn grant_claims_must_match_wherever_they_name_the_permission(
        ids in (named(), named()),
        kind in named(),
        digests in (named(), named()),
        sub in named(),
        alphabet in any::<u8>(),
        wrong in any_json(),
    ) {
        let digest = STANDARD.decode(permission_digest(STATEMENT)).expect("base64");
        let mut claims = Map::new();
        let wrong_or = |fallback: Value| if wrong.is_string() { wrong.clone() } else { fallback };
        put(&mut claims, "permissionId", ids.0, json!("perm-1"), wrong_or(json!("perm-2")));
        put(&mut claims, "permission_id", ids.1, json!("perm-1"), wrong_or(json!(1)));
        put(&mut claims, "type", kind, json!("payment.v1"), json!("other.v1"));
        put(&mut claims, "digest", digests.0, json!(encode_any(&digest, alphabet)), json!(permission_digest(b"{}")));
        put(&mut claims, "permission_digest", digests.1, json!(encode_any(&digest, alphabet / 2)), wrong_or(json!(null)));
        put(&mut claims, "sub", sub, json!("user-1"), json!("user-2"));
        let result = fuzzing::grant_claims(&claims, expectation());
        let id_wrong = ids.0 == Named::Wrong || ids.1 == Named::Wrong;
        let digest_wrong = digests.0 == Named::Wrong || digests.1 == Named::Wrong;
        let expected = if id_wrong {
            Some("invalid_signed_permission")
        } else if kind == Named::Wrong {
            Some("type_mismatch")
        } else if digest_wrong {
            Some("digest_mismatch")
        } else if sub == Named::Wrong {
            Some("invalid_signed_permission")
        } else {
            None
        };
        match expected {
            None => prop_assert!(result.is_ok(), "{:?}: {:?}", claims, result),
            Some(reason) => prop_assert_eq!(permission_reason(&result), Some(reason), "{:?}", claims),
        }
    }

    #[test]
    fn grant_claims_time_limits(
        exp_offset in prop_oneof![-1_000_000i64..-1_000, 1_000i64..1_000_000],
        nbf_offset in prop_oneof![-1_000_000i64..-1_000, 1_000i64..1_000_000],
        with_exp in any::<bool>(),
        with_nbf in any::<bool>(),
        malformed in prop::option::of(prop_oneof![Just(json!("123")), Just(json!(1.5)), Just(json!(null)), Just(json!([1]))]),
    ) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs() as i64;
        let mut claims = Map::new();
        if with_exp {
            claims.insert("exp".into(), json!(now + exp_offset));
        }
        if with_nbf {
            claims.insert("nbf".into(), json!(now + nbf_offset));
        }
        let result = fuzzing::grant_claims(&claims, expectation());
        let expired = with_exp && exp_offset < 0;
        let early = with_nbf && nbf_offset > 0;
        match (expired, early) {
            (false, false) => prop_assert!(result.is_ok(), "{:?}", result),
            _ => prop_assert!(matches!(result, Err(Error::Permission(PermissionError::InvalidSignedPermission(_))))),
        }
        if let Some(bad) = malformed {
            claims.insert("exp".into(), bad);
            let result = fuzzing::grant_claims(&claims, expectation());
            prop_assert!(matches!(result, Err(Error::Permission(PermissionError::InvalidSignedPermission("malformed time claim")))));
        }
    }

    #[test]
    fn grant_claims_arbitrary_objects_never_panic(claims in prop::collection::btree_map(
        prop::sample::select(&["permissionId", "permission_id", "type", "digest", "permission_digest", "sub", "exp", "nbf", "x"][..]),
        any_json(),
        0..6,
    )) {
        let claims: Map<String, Value> = claims.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        if fuzzing::grant_claims(&claims, expectation()).is_ok() {
            // Whatever passed named nothing wrongly.
            for name in ["permissionId", "permission_id"] {
                prop_assert!(claims.get(name).is_none_or(|v| *v == "perm-1"));
            }
            prop_assert!(claims.get("type").is_none_or(|v| *v == "payment.v1"));
            prop_assert!(claims.get("sub").is_none_or(|v| *v == "user-1"));
        }
    }
}

/// Regression (found by `grant_claims_must_match_wherever_they_name_the_permission`):
/// a grant naming its permission id or digest under both spellings was
/// checked only under the first, so a contradicting second one passed.
#[test]
fn grant_claims_every_spelling_must_match() {
    let right_digest = permission_digest(STATEMENT);
    for (claims, reason) in [
        (json!({"permissionId": "perm-1", "permission_id": "perm-2"}), "invalid_signed_permission"),
        (json!({"permissionId": "perm-1", "permission_id": 1}), "invalid_signed_permission"),
        (json!({"digest": right_digest, "permission_digest": permission_digest(b"{}")}), "digest_mismatch"),
        (json!({"digest": right_digest, "permission_digest": null}), "digest_mismatch"),
    ] {
        let claims = claims.as_object().expect("an object").clone();
        assert_eq!(permission_reason(&fuzzing::grant_claims(&claims, expectation())), Some(reason), "{claims:?}");
    }
    let both_right = json!({"permissionId": "perm-1", "permission_id": "perm-1", "digest": right_digest,
        "permission_digest": right_digest});
    assert!(fuzzing::grant_claims(both_right.as_object().expect("an object"), expectation()).is_ok());
}

// ---------------------------------------------------------------- OAuth answers and CIBA codes

fn is_sanitised(text: &str) -> bool {
    text.chars().count() <= 200 && !text.chars().any(char::is_control)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn oauth_answer_arbitrary_bodies_never_panic(status in 0u16..1000, body in prop::collection::vec(any::<u8>(), 0..120)) {
        match fuzzing::oauth_answer(status, &body) {
            Ok(value) => {
                prop_assert!((200..300).contains(&status));
                prop_assert_eq!(Some(value), serde_json::from_slice::<Value>(&body).ok());
            }
            Err(EndpointError::Rejected { error, description }) => {
                prop_assert!((400..500).contains(&status));
                prop_assert!(is_sanitised(&error) && description.as_deref().is_none_or(is_sanitised));
            }
            Err(EndpointError::UnexpectedResponse { status: reported }) => prop_assert_eq!(reported, status),
            Err(other) => return Err(TestCaseError::fail(format!("unexpected error {other:?}"))),
        }
    }

    #[test]
    fn oauth_answer_error_bodies_are_typed_and_sanitised(
        status in 100u16..600,
        error in tricky_string(),
        description in prop::option::of(prop_oneof![tricky_string(), ".{190,260}"]),
        extra in any_json(),
    ) {
        let body = json!({"error": error, "error_description": description, "extra": extra}).to_string();
        let result = fuzzing::oauth_answer(status, body.as_bytes());
        // Control characters dropped, cut to `cap` characters plus `…`.
        let clean = |text: &str, cap: usize| {
            let printable: Vec<char> = text.chars().filter(|c| !c.is_control()).collect();
            let cut: String = printable.iter().take(cap).collect();
            if printable.len() > cap { format!("{cut}…") } else { cut }
        };
        if (400..500).contains(&status) {
            let description = description.as_deref().map(|d| clean(d, 200));
            prop_assert_eq!(result, Err(EndpointError::Rejected { error: clean(&error, 64), description }));
        } else if (200..300).contains(&status) {
            prop_assert!(result.is_ok());
        } else {
            prop_assert_eq!(result, Err(EndpointError::UnexpectedResponse { status }));
        }
    }

    #[test]
    fn ciba_error_codes_map_to_typed_errors(error in prop_oneof![
        tricky_string(),
        prop::sample::select(&["unknown_user_id", "app_unavailable", "invalid_binding_message", "access_denied",
            "authorization_pending", "slow_down", "expired_token", "invalid_grant", "invalid_request"][..]).prop_map(str::to_owned),
    ]) {
        let initiation = fuzzing::ciba_initiation_error(&error);
        let expected = match error.as_str() {
            "unknown_user_id" => CibaError::UnknownUser,
            "app_unavailable" => CibaError::AppUnavailable,
            "invalid_binding_message" => CibaError::InvalidBindingMessage,
            "access_denied" => CibaError::Denied,
            other => CibaError::InitiationRejected { error: other.to_owned() },
        };
        prop_assert_eq!(initiation, expected);
        let poll = fuzzing::ciba_poll_error(&error);
        let expected = match error.as_str() {
            "authorization_pending" => PollAnswer::Pending,
            "slow_down" => PollAnswer::SlowDown,
            "access_denied" => PollAnswer::Failed(CibaError::Denied),
            "expired_token" => PollAnswer::Failed(CibaError::Expired),
            "invalid_grant" => PollAnswer::Failed(CibaError::InvalidGrant),
            other => PollAnswer::Failed(CibaError::AuthenticationFailed { error: other.to_owned() }),
        };
        prop_assert_eq!(poll, expected);
    }

    /// The chain as it runs: a provider's error body to the CIBA error an
    /// application sees, which carries only sanitised text.
    #[test]
    fn ciba_errors_from_provider_bodies_carry_only_sanitised_text(error in tricky_string(), status in 400u16..500) {
        let body = json!({"error": error}).to_string();
        let Err(EndpointError::Rejected { error: code, .. }) = fuzzing::oauth_answer(status, body.as_bytes()) else {
            return Err(TestCaseError::fail("an OAuth error body on a 4xx is a rejection"));
        };
        if let CibaError::InitiationRejected { error } = fuzzing::ciba_initiation_error(&code) {
            prop_assert!(is_sanitised(&error));
        }
        if let PollAnswer::Failed(CibaError::AuthenticationFailed { error }) = fuzzing::ciba_poll_error(&code) {
            prop_assert!(is_sanitised(&error));
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// The crate's own cookies come back from the client: whatever the
    /// `Cookie` header holds, reading it never panics (a forged time such as
    /// `i64::MIN` once overflowed a subtraction) and never yields more than
    /// the cap.
    #[test]
    fn own_cookies_arbitrary_headers_never_panic(header in prop::collection::vec(any::<u8>(), 0..200)) {
        let read = fuzzing::own_cookies(&header);
        prop_assert!(read.newest_logins.len() <= 8);
        prop_assert!(read.sent_to_login_ago_ms.is_none_or(|ago| ago >= -5 * 60 * 1000));
    }

    /// Login cookies with any signed time: only times this crate could have
    /// written (0 ..= now) are read; the others are skipped, never computed with.
    #[test]
    fn own_cookies_with_forged_times_read_only_plausible_ones(
        times in prop::collection::vec(prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), 0..2_000_000_000_000i64], 1..12),
    ) {
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let header: Vec<String> = times.iter().enumerate().map(|(i, t)| format!("bankid-login-{i:02}={t}.b{i}")).collect();
        let read = fuzzing::own_cookies(header.join("; ").as_bytes());
        let plausible = times.iter().filter(|t| (0..=now_ms).contains(*t)).count();
        prop_assert_eq!(read.newest_logins.len(), plausible.min(8));
        let marker = fuzzing::own_cookies(format!("bankid-to-login={}", times[0]).as_bytes());
        prop_assert_eq!(marker.sent_to_login_ago_ms.is_some(), (0..=now_ms).contains(&times[0]));
    }
}
