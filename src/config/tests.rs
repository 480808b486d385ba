//! The configuration's unit tests.

use std::time::Duration;

use super::builder::BankIdConfigBuilder;
use super::client_auth::{ClientAssertionKey, ClientAuth};
use super::environment::BankIdEnvironment;
use super::error::ConfigError;
use super::permission_api::PermissionApiConfig;
use super::settings::BankIdConfig;
use crate::loa::Loa;

fn valid() -> BankIdConfigBuilder {
    BankIdConfig::builder()
        .issuer("https://auth.current.bankid.no/auth/realms/current")
        .client_id("client")
        .client_secret("s3cret")
        .redirect_uri("https://app.example/auth/bankid/callback")
}

#[test]
fn builds_with_secure_defaults() {
    let config = valid().build().unwrap();
    assert_eq!(config.scopes, ["openid", "profile"]);
    assert_eq!(config.login_hint, None, "v4: acr_values is the selector; the legacy hint is opt-in");
    assert_eq!(config.acr_values.as_deref(), Some("urn:bankid:bis"));
    assert_eq!(config.minimum_loa, Loa::SUBSTANTIAL);
    assert_eq!(config.callback_path, "/auth/bankid/callback");
    assert_eq!(config.login_path, "/auth/bankid/login");
    assert_eq!(config.client_auth.method(), "client_secret_basic");
}

#[test]
fn missing_fields_are_named() {
    let cases = [
        (BankIdConfig::builder().client_id("c").client_secret("s").redirect_uri("https://a.example/cb"), "issuer"),
        (valid().client_secret(""), "client_secret"),
        (
            BankIdConfig::builder().issuer("https://i.example").client_secret("s").redirect_uri("https://a.example/cb"),
            "client_id",
        ),
        (BankIdConfig::builder().issuer("https://i.example").client_id("c").client_secret("s"), "redirect_uri"),
    ];
    for (builder, field) in cases {
        assert_eq!(builder.build().unwrap_err(), ConfigError::Missing { field });
    }
}

#[test]
fn invalid_values_are_named() {
    let cases = [
        (valid().issuer("not a url"), "issuer"),
        (valid().issuer("http://auth.bankid.example"), "issuer"),
        (valid().issuer("ftp://auth.bankid.example"), "issuer"),
        (valid().redirect_uri("/auth/bankid/callback"), "redirect_uri"),
        (valid().redirect_uri("http://app.example/cb"), "redirect_uri"),
        (valid().redirect_uri("https://app.example/cb#x"), "redirect_uri"),
        (valid().redirect_uri("https://user:pw@app.example/cb"), "redirect_uri"),
        (valid().post_logout_redirect_uri("relative"), "post_logout_redirect_uri"),
        (valid().scopes(["profile", "bad scope"]), "scopes"),
        (valid().login_hint(Some("BID:01010112345")), "login_hint"),
        (valid().login_hint(Some(":01010112345")), "login_hint"),
        (valid().login_hint(Some("BIM")), "login_hint"),
        (valid().login_hint(Some("bis")), "login_hint"),
        (valid().login_hint(Some("")), "login_hint"),
        (valid().acr_values(Some("urn:bankid:bis;LOA=3")), "acr_values"),
        (valid().acr_values(Some("urn:bankid:bim")), "acr_values"),
        (valid().acr_values(Some("urn:bankid:bis urn:bankid:bis")), "acr_values"),
        (valid().acr_values(Some("urn:bankid:bis  urn:bankid:bid")), "acr_values"),
        (valid().acr_values(Some("")), "acr_values"),
        (valid().ui_locales(""), "ui_locales"),
        (valid().ui_locales("nb  en"), "ui_locales"),
        (valid().ui_locales("nb en nn se fr"), "ui_locales"),
        (valid().ui_locales("n"), "ui_locales"),
        (valid().ui_locales("nb_NO"), "ui_locales"),
        (valid().ui_locales("nb-"), "ui_locales"),
        (valid().ui_locales("nb-toolongsubtag"), "ui_locales"),
        (valid().ui_locales("nb&x=y"), "ui_locales"),
        (valid().login_path("auth/login"), "login_path"),
        (valid().logout_path("//evil.example"), "logout_path"),
        (valid().login_path("/auth/bankid/callback"), "login_path"),
        (valid().http_timeout(Duration::ZERO), "http_timeout"),
        (valid().http_timeout(Duration::MAX), "http_timeout"),
        (valid().grant_ttl(Duration::ZERO), "grant_ttl"),
        (valid().grant_ttl(Duration::from_secs(u64::MAX)), "grant_ttl"),
        (valid().login_attempt_ttl(Duration::ZERO), "login_attempt_ttl"),
        (valid().login_attempt_ttl(Duration::from_secs(u64::MAX)), "login_attempt_ttl"),
        (valid().max_login_age(Duration::from_millis(999)), "max_login_age"),
        (valid().max_login_age(Duration::from_secs(u64::MAX)), "max_login_age"),
        (valid().max_login_age(Duration::from_secs(30 * 86_400 + 1)), "max_login_age"),
        (valid().jwks_refresh_cooldown(Duration::ZERO), "jwks_refresh_cooldown"),
        (valid().jwks_refresh_cooldown(Duration::from_secs(u64::MAX)), "jwks_refresh_cooldown"),
        (valid().jwks_max_age_floor(Duration::ZERO), "jwks_max_age_floor"),
        (valid().jwks_max_age_floor(Duration::from_secs(u64::MAX)), "jwks_max_age_floor"),
        (valid().jwks_max_age_ceiling(Duration::ZERO), "jwks_max_age_ceiling"),
        (valid().jwks_max_age_ceiling(Duration::from_secs(u64::MAX)), "jwks_max_age_ceiling"),
        (
            valid().jwks_max_age_floor(Duration::from_secs(600)).jwks_max_age_ceiling(Duration::from_secs(60)),
            "jwks_max_age_floor",
        ),
        (valid().clock_skew(Duration::from_secs(3600)), "clock_skew"),
        (valid().max_pending_logins(0), "max_pending_logins"),
    ];
    for (builder, field) in cases {
        let err = builder.build().unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { .. }), "{err:?}");
        assert_eq!(err.field(), field, "{err}");
    }
}

#[test]
fn of_two_bad_settings_the_first_checked_is_named() {
    let bib = || valid().bib_issuer("https://bib.example");
    let bad_api = || PermissionApiConfig { grant_attempts: 0, ..Default::default() };
    let cases = [
        (valid().issuer("not a url").max_pending_logins(0), "issuer"),
        (valid().scopes(["bad scope"]).acr_values(Some("urn:bankid:bim")), "scopes"),
        (valid().ui_locales("nb_NO").login_path("no-slash"), "ui_locales"),
        (valid().backchannel_logout_path("no-slash").clock_skew(Duration::from_secs(3600)), "backchannel_logout_path"),
        (
            valid().max_pending_logins(0).upfront_permission(&Card { card: "1".into() }).par(super::ParMode::Disabled),
            "max_pending_logins",
        ),
        (bib().ciba_path("no-slash").permission_api(bad_api()), "ciba_path"),
        (bib().permission_api(bad_api()).root_certificates_pem("no PEM"), "permission_api"),
        (valid().root_certificates_pem("no PEM").discovery_retries(21), "root_certificates"),
    ];
    for (builder, field) in cases {
        assert_eq!(builder.build().unwrap_err().field(), field);
    }
}

#[test]
fn private_key_jwt_needs_a_key_not_a_secret() {
    // `private_key_jwt` without a key can no longer be written: the key is
    // the method's argument. Without any client authentication, the error
    // names the common case.
    let err = BankIdConfig::builder()
        .issuer("https://i.example")
        .client_id("c")
        .redirect_uri("https://a.example/cb")
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::Missing { field: "client_secret" });
    assert_eq!(ClientAssertionKey::rsa_pem(b"not a key", None).unwrap_err().field(), "private_key_jwt");
    let err = BankIdConfig::from_lookup(|k| match k {
        "BANKID_CLIENT_AUTH" => Some("private_key_jwt".into()),
        "BANKID_CLIENT_KEY_FILE" => Some("/nonexistent/key.pem".into()),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(err.field(), "BANKID_CLIENT_KEY_FILE");
    let err = BankIdConfig::from_lookup(|k| (k == "BANKID_CLIENT_AUTH").then(|| "private_key_jwt".into())).unwrap_err();
    assert_eq!(err, ConfigError::Missing { field: "BANKID_CLIENT_KEY_FILE" });
}

#[test]
fn client_auth_methods_carry_their_credential() {
    let post = valid().client_auth(ClientAuth::client_secret_post("p0st")).build().unwrap();
    assert_eq!(post.client_auth.method(), "client_secret_post");
    // The later of `client_secret` and `client_auth` wins.
    let basic = valid().client_auth(ClientAuth::client_secret_post("p0st")).client_secret("b4sic").build().unwrap();
    assert_eq!(basic.client_auth.method(), "client_secret_basic");
    let err = valid().client_auth(ClientAuth::client_secret_post("")).build().unwrap_err();
    assert_eq!(err, ConfigError::Missing { field: "client_secret" });
}

#[test]
fn http_is_allowed_on_loopback_only() {
    let config = valid().issuer("http://127.0.0.1:8080").redirect_uri("http://localhost:3000/cb").build().unwrap();
    assert_eq!(config.callback_path, "/cb");
}

#[test]
fn from_env_names_variables() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    };
    let err = BankIdConfig::from_lookup(env(&[
        ("BANKID_ISSUER", "https://i.example"),
        ("BANKID_CLIENT_ID", "c"),
        ("BANKID_REDIRECT_URI", "https://a.example/cb"),
    ]))
    .unwrap_err();
    assert_eq!(err, ConfigError::Missing { field: "BANKID_CLIENT_SECRET" });

    let err = BankIdConfig::from_lookup(env(&[
        ("BANKID_ISSUER", "https://i.example"),
        ("BANKID_CLIENT_ID", "c"),
        ("BANKID_CLIENT_SECRET", "s"),
        ("BANKID_REDIRECT_URI", "cb"),
    ]))
    .unwrap_err();
    assert_eq!(err.field(), "BANKID_REDIRECT_URI");

    let err = BankIdConfig::from_lookup(env(&[("BANKID_MIN_LOA", "5")])).unwrap_err();
    assert_eq!(err.field(), "BANKID_MIN_LOA");

    let config = BankIdConfig::from_lookup(env(&[
        ("BANKID_ISSUER", "https://i.example"),
        ("BANKID_CLIENT_ID", "c"),
        ("BANKID_CLIENT_SECRET", "s"),
        ("BANKID_REDIRECT_URI", "https://a.example/cb"),
        ("BANKID_LOGIN_HINT", ""),
        ("BANKID_MIN_LOA", "4"),
        ("BANKID_SCOPES", "profile nnin_altsub"),
        ("BANKID_CLIENT_AUTH", "client_secret_post"),
    ]))
    .unwrap();
    assert_eq!(config.login_hint, None);
    assert_eq!(config.minimum_loa, Loa::HIGH);
    assert_eq!(config.acr_values.as_deref(), Some("urn:bankid:bid"), "the default follows BANKID_MIN_LOA");
    assert_eq!(config.scopes, ["openid", "profile", "nnin_altsub"]);
    assert_eq!(config.client_auth.method(), "client_secret_post");
}

#[test]
fn an_environment_sets_both_issuers_and_explicit_ones_win() {
    let base = || BankIdConfig::builder().client_id("c").client_secret("s").redirect_uri("https://a.example/cb");
    let config = base().environment(BankIdEnvironment::Current).build().unwrap();
    assert_eq!(config.issuer.as_str(), "https://auth.current.bankid.no/auth/realms/current");
    assert_eq!(config.bib_issuer.as_ref().unwrap().as_str(), "https://current.aletheia-test.idtech.no/");
    // Production without root certificates needs the chain check off (see
    // `production_needs_root_certificates_or_an_explicit_off`).
    let production = || base().environment(BankIdEnvironment::Production).key_chain_check(false);
    let config = production().bib_issuer("https://bib.example").build().unwrap();
    assert_eq!(config.issuer.as_str(), "https://auth.bankid.no/auth/realms/prod");
    assert_eq!(config.bib_issuer.as_ref().unwrap().as_str(), "https://bib.example/");
    assert_eq!(base().build().unwrap_err(), ConfigError::Missing { field: "issuer" });
    assert_eq!(valid().build().unwrap().bib_issuer, None);
    assert_eq!(valid().bib_issuer("http://bib.example").build().unwrap_err().field(), "bib_issuer");

    let env = |k: &str| match k {
        "BANKID_ENV" => Some("production".to_owned()),
        "BANKID_KEY_CHAIN_CHECK" => Some("off".to_owned()),
        "BANKID_CLIENT_ID" => Some("c".into()),
        "BANKID_CLIENT_SECRET" => Some("s".into()),
        "BANKID_REDIRECT_URI" => Some("https://a.example/cb".into()),
        _ => None,
    };
    let config = BankIdConfig::from_lookup(env).unwrap();
    assert_eq!(config.bib_issuer.unwrap().as_str(), "https://app.bankid.no/");
    let err = BankIdConfig::from_lookup(|k| (k == "BANKID_ENV").then(|| "preprod".to_owned())).unwrap_err();
    assert_eq!(err.field(), "BANKID_ENV");
    let err = BankIdConfig::from_lookup(|k| match k {
        "BANKID_BIB_ISSUER" => Some("nope".to_owned()),
        _ => env(k),
    })
    .unwrap_err();
    assert_eq!(err.field(), "BANKID_BIB_ISSUER");
}

#[test]
fn permission_api_settings_need_bib() {
    let err = valid().permission_api(PermissionApiConfig::default()).build().unwrap_err();
    assert_eq!(err, ConfigError::Missing { field: "bib_issuer" });
}

#[test]
fn permission_api_settings_are_bounded() {
    for api in [
        PermissionApiConfig { reference_parameter: "a&b".into(), ..Default::default() },
        PermissionApiConfig { reference_parameter: "login_hint".into(), ..Default::default() },
        PermissionApiConfig { reference_parameter: "state".into(), ..Default::default() },
        PermissionApiConfig { scope: "bad\"scope".into(), ..Default::default() },
        PermissionApiConfig { grant_attempts: 0, ..Default::default() },
        PermissionApiConfig { grant_retry_delay: Duration::MAX, ..Default::default() },
        PermissionApiConfig { registration_lifetime: Duration::from_secs(86_400), ..Default::default() },
    ] {
        let builder = valid().bib_issuer("https://bib.example").permission_api(api);
        assert_eq!(builder.build().unwrap_err().field(), "permission_api");
    }
}

#[test]
fn permission_type_scopes_extend_the_table_and_are_checked() {
    let bib = || valid().bib_issuer("https://bib.example");
    let config = bib().permission_type_scopes("card.v1", ["permissions/card"]).build().unwrap();
    let api = &config.permission_api;
    assert_eq!(api.scope_for("openid", "card.v1"), "openid permissions/card");
    assert_eq!(api.scope_for("openid", "text.v1"), "openid permissions/text", "BankID's entry stays");
    for (kind, scope) in [("text.v1", "bad\"scope"), ("", "permissions/x"), ("two words", "permissions/x")] {
        let err = bib().permission_type_scopes(kind, [scope]).build().unwrap_err();
        assert_eq!(err.field(), "permission_type_scopes", "{kind:?} {scope:?}");
    }
}

/// A statement whose serialisation fails, as a map with non-string keys would.
#[derive(serde::Deserialize)]
struct Unserialisable;

impl serde::Serialize for Unserialisable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("no JSON for this"))
    }
}

impl crate::permission::Permission for Unserialisable {
    const TYPE: &'static str = "unserialisable.v1";
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Card {
    card: String,
}

impl crate::permission::Permission for Card {
    const TYPE: &'static str = "card.v1";
}

#[test]
fn upfront_permissions_are_checked_at_build() {
    let card = Card { card: "4925".into() };
    let config = valid().upfront_permission(&card).upfront_permission(&card).build().unwrap();
    assert_eq!(config.upfront_permissions.len(), 2, "kept in the order given");
    let err = valid().upfront_permission(&card).par(super::ParMode::Disabled).build().unwrap_err();
    assert_eq!(err, ConfigError::invalid("par", "upfront permissions need PAR"));
    let err = valid().upfront_permission(&Unserialisable).par(super::ParMode::Disabled).build().unwrap_err();
    assert_eq!(err, ConfigError::invalid("upfront_permission", "statement cannot be serialised"), "named first");
}

#[test]
fn debug_never_prints_the_secret() {
    let config = valid().client_secret("super-secret-value").build().unwrap();
    assert!(!format!("{config:?}").contains("super-secret-value"));
    for auth in
        [ClientAuth::client_secret_basic("super-secret-value"), ClientAuth::client_secret_post("super-secret-value")]
    {
        let debug = format!("{auth:?}");
        assert!(!debug.contains("super-secret-value"), "{debug}");
        assert!(debug.contains(auth.method()), "{debug}");
        let config = valid().client_auth(auth).build().unwrap();
        assert!(!format!("{config:?}").contains("super-secret-value"));
    }
}

#[cfg(feature = "simulator")]
#[test]
fn debug_never_prints_the_private_key() {
    let pem = crate::simulator::Simulator::client_private_key_pem();
    let key = ClientAssertionKey::rsa_pem(pem.as_bytes(), Some("client-1".into())).unwrap();
    let config = valid().client_auth(ClientAuth::private_key_jwt(key)).build().unwrap();
    let debug = format!("{config:?}");
    assert!(debug.contains("private_key_jwt") && debug.contains("client-1"), "{debug}");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    for chunk in body.as_bytes().chunks(16) {
        assert!(!debug.contains(std::str::from_utf8(chunk).unwrap()), "{debug}");
    }
}

#[test]
fn acr_values_default_to_the_provider_of_the_minimum_level() {
    let acr = |b: BankIdConfigBuilder| b.build().unwrap().acr_values;
    assert_eq!(acr(valid()).as_deref(), Some("urn:bankid:bis"));
    assert_eq!(acr(valid().minimum_loa(Loa::TWO)).as_deref(), Some("urn:bankid:bis"));
    assert_eq!(acr(valid().minimum_loa(Loa::HIGH)).as_deref(), Some("urn:bankid:bid"));
    assert_eq!(acr(valid().acr_values(None::<String>)), None, "switched off");
    let both = "urn:bankid:bid urn:bankid:bis";
    assert_eq!(acr(valid().acr_values(Some(both))).as_deref(), Some(both));
}

/// A selector that invites a level the app would refuse is a start-up error.
#[test]
fn no_selector_may_ask_below_the_minimum_level() {
    let high = || valid().minimum_loa(Loa::HIGH);
    for (builder, field) in [
        (high().acr_values(Some("urn:bankid:bis")), "acr_values"),
        (high().acr_values(Some("urn:bankid:bid urn:bankid:bis")), "acr_values"),
        (high().login_hint(Some("BIS")), "login_hint"),
        // The two selectors must name the same provider.
        (valid().login_hint(Some("BID")), "login_hint"),
    ] {
        let err = builder.build().unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { .. }), "{err}");
        assert_eq!(err.field(), field, "{err}");
    }
    let legacy = |b: BankIdConfigBuilder| b.build().unwrap().login_hint;
    assert_eq!(legacy(valid().login_hint(Some("BIS"))).as_deref(), Some("BIS"));
    assert_eq!(legacy(high().login_hint(Some("BID"))).as_deref(), Some("BID"));
    assert_eq!(legacy(valid().acr_values(None::<String>).login_hint(Some("BID"))).as_deref(), Some("BID"));
}

#[test]
fn the_selectors_switch_on_and_off_through_the_environment() {
    let base = [
        ("BANKID_ISSUER", "https://i.example"),
        ("BANKID_CLIENT_ID", "c"),
        ("BANKID_CLIENT_SECRET", "s"),
        ("BANKID_REDIRECT_URI", "https://a.example/cb"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let vars: Vec<_> = base.iter().chain(extra).copied().collect();
        BankIdConfig::from_lookup(move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    };
    let config = with(&[]).unwrap();
    assert_eq!((config.acr_values.as_deref(), config.login_hint.as_deref()), (Some("urn:bankid:bis"), None));
    let config = with(&[("BANKID_LOGIN_HINT", "BIS")]).unwrap();
    assert_eq!(config.login_hint.as_deref(), Some("BIS"), "opt in to the legacy hint");
    let config = with(&[("BANKID_ACR_VALUES", "")]).unwrap();
    assert_eq!(config.acr_values, None, "empty switches acr_values off");
    let err = with(&[("BANKID_ACR_VALUES", "urn:bankid:bis"), ("BANKID_MIN_LOA", "4")]).unwrap_err();
    assert_eq!(err.field(), "BANKID_ACR_VALUES");
    let err = with(&[("BANKID_LOGIN_HINT", "BID:01010112345")]).unwrap_err();
    assert_eq!(err.field(), "BANKID_LOGIN_HINT");
    assert!(!err.to_string().contains("01010112345"), "no identity number in the error: {err}");
}

#[test]
fn ui_locales_take_bcp47_tags() {
    for ok in ["nb", "en", "nb en", "nb-NO", "zh-Hant-TW", "no nb nn en"] {
        assert_eq!(valid().ui_locales(ok).build().unwrap().ui_locales.as_deref(), Some(ok), "{ok}");
    }
    assert_eq!(valid().build().unwrap().ui_locales, None);
    let env = |name: &str| match name {
        "BANKID_ISSUER" => Some("https://i.example".to_owned()),
        "BANKID_CLIENT_ID" | "BANKID_CLIENT_SECRET" => Some("c".to_owned()),
        "BANKID_REDIRECT_URI" => Some("https://a.example/cb".to_owned()),
        "BANKID_UI_LOCALES" => Some("nb en".to_owned()),
        _ => None,
    };
    assert_eq!(BankIdConfig::from_lookup(env).unwrap().ui_locales.as_deref(), Some("nb en"));
    let bad = |name: &str| if name == "BANKID_UI_LOCALES" { Some("nb;en".to_owned()) } else { env(name) };
    assert_eq!(BankIdConfig::from_lookup(bad).unwrap_err().field(), "BANKID_UI_LOCALES");
}

mod key_chain {
    use super::*;
    use crate::provider::test_pki::Authority;

    fn production() -> BankIdConfigBuilder {
        BankIdConfig::builder()
            .environment(BankIdEnvironment::Production)
            .client_id("c")
            .client_secret("s")
            .redirect_uri("https://a.example/cb")
    }

    #[test]
    fn production_needs_root_certificates_or_an_explicit_off() {
        assert_eq!(production().build().unwrap_err(), ConfigError::Missing { field: "root_certificates" });
        // Naming production's issuer counts as production too.
        let by_issuer = valid().issuer(BankIdEnvironment::Production.issuer());
        assert_eq!(by_issuer.build().unwrap_err(), ConfigError::Missing { field: "root_certificates" });
        let by_bib = valid().bib_issuer(BankIdEnvironment::Production.bib_issuer());
        assert_eq!(by_bib.build().unwrap_err(), ConfigError::Missing { field: "root_certificates" });
        let off = production().key_chain_check(false).build().unwrap();
        assert!(!off.key_chain.enabled && off.key_chain.roots.is_none());
        let root = Authority::root("root");
        let checked = production().root_certificates_pem(root.pem()).build().unwrap();
        assert_eq!(checked.key_chain.roots.map(|r| r.len()), Some(1));
    }

    #[test]
    fn other_environments_may_run_without_roots() {
        let config = valid().build().unwrap();
        assert!(config.key_chain.enabled && config.key_chain.roots.is_none());
    }

    #[test]
    fn bad_root_certificates_are_a_config_error() {
        let invalid = |builder: BankIdConfigBuilder| builder.build().unwrap_err();
        let no_cert = invalid(valid().root_certificates_pem("no certificate here"));
        assert_eq!(no_cert, ConfigError::invalid("root_certificates", "holds no PEM certificate"));
        let not_ca = invalid(valid().root_certificates_pem(Authority::not_a_ca("leaf").pem()));
        assert_eq!(not_ca.field(), "root_certificates");
        assert!(not_ca.to_string().contains("is not a CA certificate"), "{not_ca}");
        let missing = invalid(valid().root_certificates_file("/nonexistent/roots.pem"));
        assert_eq!(missing, ConfigError::invalid("root_certificates", "cannot be read (entity not found)"));
    }

    #[test]
    fn roots_with_the_check_off_is_a_contradiction() {
        let root = Authority::root("root");
        let err = valid().root_certificates_pem(root.pem()).key_chain_check(false).build().unwrap_err();
        assert_eq!(err.field(), "key_chain_check");
    }

    #[test]
    fn roots_come_from_a_file_or_the_environment() {
        let root = Authority::root("root");
        let path = std::env::temp_dir().join(format!("axum-bankid-roots-{}.pem", std::process::id()));
        std::fs::write(&path, root.pem()).unwrap();
        let config = valid().root_certificates_file(&path).build().unwrap();
        assert_eq!(config.key_chain.roots.map(|r| r.len()), Some(1));
        let file = path.to_str().unwrap().to_owned();
        let env = |check: &'static str| {
            let file = file.clone();
            move |k: &str| match k {
                "BANKID_ENV" => Some("production".to_owned()),
                "BANKID_ROOT_CERTS_FILE" => Some(file.clone()),
                "BANKID_KEY_CHAIN_CHECK" => Some(check.to_owned()),
                "BANKID_CLIENT_ID" | "BANKID_CLIENT_SECRET" => Some("c".to_owned()),
                "BANKID_REDIRECT_URI" => Some("https://a.example/cb".to_owned()),
                _ => None,
            }
        };
        let config = BankIdConfig::from_lookup(env("")).unwrap();
        assert_eq!(config.key_chain.roots.map(|r| r.len()), Some(1));
        assert_eq!(BankIdConfig::from_lookup(env("off")).unwrap_err().field(), "BANKID_KEY_CHAIN_CHECK");
        assert_eq!(BankIdConfig::from_lookup(env("maybe")).unwrap_err().field(), "BANKID_KEY_CHAIN_CHECK");
        std::fs::remove_file(&path).unwrap();
        let err = BankIdConfig::from_lookup(env("on")).unwrap_err();
        assert_eq!(err, ConfigError::invalid("BANKID_ROOT_CERTS_FILE", "cannot be read (entity not found)"));
    }

    #[test]
    fn debug_shows_no_certificate_bytes() {
        let root = Authority::root("root");
        let builder = valid().root_certificates_pem(root.pem());
        assert!(format!("{builder:?}").contains(&format!("Pem({} bytes)", root.pem().len())));
        let config = builder.build().unwrap();
        assert!(format!("{config:?}").contains("TrustedRoots(1 certificates)"));
    }
}
