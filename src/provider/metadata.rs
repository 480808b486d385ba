//! OpenID Provider metadata from discovery.
//!
//! The document is parsed with `openidconnect`'s typed metadata (which checks
//! the fields OIDC Discovery requires) plus the extra fields BankID uses, then
//! reduced to what this crate needs. The issuer in the document must equal
//! the configured issuer exactly (OIDC Discovery §4.3), or an attacker who
//! controls a discovery response could make us trust their tokens.

use std::str::FromStr;

use jsonwebtoken::Algorithm;
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{AdditionalProviderMetadata, EndSessionUrl};
use reqwest::Client;
use serde::{Deserialize, Serialize};
use url::Url;

use super::error::Cause;
use super::http::{FetchError, get_json_with_headers};
use super::max_age::Fetched;
use crate::config::is_loopback;
use crate::log_value::untrusted;

/// Discovery fields outside OIDC Discovery 1.0 that BankID publishes.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct BankIdMetadataExtras {
    end_session_endpoint: Option<EndSessionUrl>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    pushed_authorization_request_endpoint: Option<String>,
    #[serde(default)]
    require_pushed_authorization_requests: bool,
    backchannel_authentication_endpoint: Option<String>,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    backchannel_logout_supported: bool,
    #[serde(default)]
    backchannel_logout_session_supported: bool,
}

impl AdditionalProviderMetadata for BankIdMetadataExtras {}

type DiscoveredMetadata = openidconnect::ProviderMetadata<
    BankIdMetadataExtras,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The provider endpoints and capabilities this crate relies on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The issuer identifier (equal to the configured issuer).
    pub issuer: String,
    /// Authorization endpoint.
    pub authorization_endpoint: Url,
    /// Token endpoint.
    pub token_endpoint: Url,
    /// UserInfo endpoint, if any.
    pub userinfo_endpoint: Option<Url>,
    /// JWKS URI.
    pub jwks_uri: Url,
    /// RP-initiated logout endpoint, if any.
    pub end_session_endpoint: Option<Url>,
    /// Pushed authorization request endpoint (RFC 9126), if any.
    pub pushed_authorization_request_endpoint: Option<Url>,
    /// Whether the provider accepts authorization requests only through
    /// PAR (RFC 9126 §5): every login, plain ones too, is then pushed, and
    /// [`ParMode::Disabled`](crate::ParMode::Disabled) is a start-up error.
    pub require_pushed_authorization_requests: bool,
    /// CIBA backchannel authentication endpoint, if any.
    pub backchannel_authentication_endpoint: Option<Url>,
    /// Signature algorithms the provider uses for ID tokens that this crate
    /// accepts (asymmetric only).
    pub id_token_signing_algs: Vec<Algorithm>,
    /// Whether authorization responses carry `iss` (RFC 9207).
    pub authorization_response_iss_parameter_supported: bool,
    /// Whether the provider sends logout tokens to relying parties
    /// (OpenID Connect Back-Channel Logout 1.0 §2.1); the layer mounts its
    /// back-channel logout route only then.
    pub backchannel_logout_supported: bool,
    /// Whether those logout tokens carry `sid` (Back-Channel Logout 1.0 §2.1).
    pub backchannel_logout_session_supported: bool,
}

/// Fetches `{issuer}/.well-known/openid-configuration` and validates it;
/// with the response headers, whose
/// `Cache-Control` schedules the next refresh (see `provider::discovered`).
pub(crate) async fn discover(client: &Client, issuer: &Url) -> Fetched<ProviderMetadata> {
    let url = discovery_url(issuer);
    let (doc, headers): (DiscoveredMetadata, _) =
        crate::metrics::timed(crate::metrics::Endpoint::Discovery, get_json_with_headers(client, &url))
            .await
            .map_err(|e: FetchError| Cause::caused_by(format!("{url}: {e}"), e))?;
    Ok((from_document(doc, issuer).map_err(Cause::new)?, headers))
}

/// The discovery URL: the issuer with the well-known suffix appended to its
/// path (not replacing it), as OIDC Discovery §4 prescribes.
pub(crate) fn discovery_url(issuer: &Url) -> Url {
    let mut url = issuer.clone();
    let path = format!("{}/.well-known/openid-configuration", issuer.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}

fn from_document(doc: DiscoveredMetadata, issuer: &Url) -> Result<ProviderMetadata, String> {
    let advertised = doc.issuer().as_str();
    if !same_issuer(advertised, issuer) {
        let advertised = untrusted(advertised);
        return Err(format!("discovery document names issuer `{advertised}`, expected `{issuer}`"));
    }
    let extras = doc.additional_metadata();
    if !extras.code_challenge_methods_supported.is_empty()
        && !extras.code_challenge_methods_supported.iter().any(|m| m == "S256")
    {
        return Err("provider does not support PKCE S256".to_owned());
    }
    let secure = issuer.scheme() == "https";
    let endpoint = |name: &str, raw: &str| checked_endpoint(name, raw, secure);
    let token_endpoint = doc.token_endpoint().ok_or("discovery document has no token_endpoint")?;
    let algs = accepted_algorithms(doc.id_token_signing_alg_values_supported());
    if algs.is_empty() {
        return Err("provider advertises no asymmetric ID token signing algorithm".to_owned());
    }
    Ok(ProviderMetadata {
        issuer: advertised.to_owned(),
        authorization_endpoint: endpoint("authorization_endpoint", doc.authorization_endpoint().as_str())?,
        token_endpoint: endpoint("token_endpoint", token_endpoint.as_str())?,
        userinfo_endpoint: doc.userinfo_endpoint().map(|u| endpoint("userinfo_endpoint", u.as_str())).transpose()?,
        jwks_uri: endpoint("jwks_uri", doc.jwks_uri().as_str())?,
        end_session_endpoint: extras
            .end_session_endpoint
            .as_ref()
            .map(|u| endpoint("end_session_endpoint", u.as_str()))
            .transpose()?,
        pushed_authorization_request_endpoint: extras
            .pushed_authorization_request_endpoint
            .as_deref()
            .map(|u| endpoint("pushed_authorization_request_endpoint", u))
            .transpose()?,
        require_pushed_authorization_requests: extras.require_pushed_authorization_requests,
        backchannel_authentication_endpoint: extras
            .backchannel_authentication_endpoint
            .as_deref()
            .map(|u| endpoint("backchannel_authentication_endpoint", u))
            .transpose()?,
        id_token_signing_algs: algs,
        authorization_response_iss_parameter_supported: extras.authorization_response_iss_parameter_supported,
        backchannel_logout_supported: extras.backchannel_logout_supported,
        backchannel_logout_session_supported: extras.backchannel_logout_session_supported,
    })
}

/// Issuers compare as strings (OIDC Core §3.1.3.7), but `url` normalises an
/// empty path to `/`, so a configured `https://x` equals an advertised
/// `https://x` and `https://x/`-less forms stay strict otherwise.
pub(crate) fn same_issuer(advertised: &str, configured: &Url) -> bool {
    advertised == configured.as_str()
        || (configured.path() == "/" && advertised == configured.as_str().trim_end_matches('/'))
}

pub(crate) fn checked_endpoint(name: &str, raw: &str, secure: bool) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("{name} is not a URL: {e}"))?;
    let ok = match url.scheme() {
        "https" => true,
        "http" => !secure && is_loopback(&url),
        _ => false,
    };
    if ok { Ok(url) } else { Err(format!("{name} `{}` must use https", untrusted(url.as_str()))) }
}

/// The advertised algorithms we are willing to verify: asymmetric signatures
/// only. `none` and HMAC (whose key would be the client secret) never.
fn accepted_algorithms(advertised: &[openidconnect::core::CoreJwsSigningAlgorithm]) -> Vec<Algorithm> {
    advertised
        .iter()
        .filter_map(|alg| serde_json::to_value(alg).ok())
        .filter_map(|v| v.as_str().and_then(|s| Algorithm::from_str(s).ok()))
        .filter(|alg| is_asymmetric(*alg))
        .collect()
}

pub(crate) fn is_asymmetric(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(issuer: &str, algs: &str) -> DiscoveredMetadata {
        serde_json::from_str(&format!(
            r#"{{"issuer":"{issuer}","authorization_endpoint":"{issuer}/authorize","token_endpoint":"{issuer}/token",
            "jwks_uri":"{issuer}/jwks","response_types_supported":["code"],"subject_types_supported":["public"],
            "id_token_signing_alg_values_supported":{algs},"end_session_endpoint":"{issuer}/logout",
            "authorization_response_iss_parameter_supported":true}}"#
        ))
        .unwrap()
    }

    #[test]
    fn discovery_url_appends_to_the_issuer_path() {
        let issuer = Url::parse("https://auth.current.bankid.no/auth/realms/current").unwrap();
        assert_eq!(
            discovery_url(&issuer).as_str(),
            "https://auth.current.bankid.no/auth/realms/current/.well-known/openid-configuration"
        );
        let issuer = Url::parse("https://app.bankid.no").unwrap();
        assert_eq!(discovery_url(&issuer).as_str(), "https://app.bankid.no/.well-known/openid-configuration");
    }

    #[test]
    fn accepts_matching_issuer_and_filters_algorithms() {
        let issuer = Url::parse("https://op.example/realm").unwrap();
        let meta =
            from_document(doc("https://op.example/realm", r#"["RS256","HS256","none","PS256"]"#), &issuer).unwrap();
        assert_eq!(meta.id_token_signing_algs, [Algorithm::RS256, Algorithm::PS256]);
        assert!(meta.authorization_response_iss_parameter_supported);
        assert!(meta.end_session_endpoint.is_some());
    }

    #[test]
    fn rejects_a_different_issuer() {
        let issuer = Url::parse("https://op.example/realm").unwrap();
        let err = from_document(doc("https://evil.example/realm", r#"["RS256"]"#), &issuer).unwrap_err();
        assert!(err.contains("issuer"), "{err}");
    }

    /// A hostile document's attacker-sized issuer or endpoint reaches the
    /// refusal (logged at every refresh) as one bounded line.
    #[test]
    fn refusals_quote_attacker_sized_values_bounded() {
        use crate::log_value::tests::{hostile_mebibyte, is_bounded_line};
        let issuer = Url::parse("https://op.example").unwrap();
        let hostile = hostile_mebibyte();
        let mut d = doc("https://op.example", r#"["RS256"]"#);
        d = d.set_issuer(openidconnect::IssuerUrl::new(format!("https://evil.example/{hostile}")).unwrap());
        let err = from_document(d, &issuer).unwrap_err();
        assert!(err.contains("names issuer `https://evil.example/"), "{err}");
        assert!(is_bounded_line(&err, 200), "{err}");
        let mut d = doc("https://op.example", r#"["RS256"]"#);
        let endpoint = format!("http://op.example/{}", "x".repeat(1 << 20));
        d = d.set_token_endpoint(Some(openidconnect::TokenUrl::new(endpoint).unwrap()));
        let err = from_document(d, &issuer).unwrap_err();
        assert!(err.starts_with("token_endpoint `http://op.example/xxx") && is_bounded_line(&err, 200), "{err}");
    }

    #[test]
    fn rejects_symmetric_only_providers() {
        let issuer = Url::parse("https://op.example/realm").unwrap();
        assert!(from_document(doc("https://op.example/realm", r#"["HS256","none"]"#), &issuer).is_err());
    }

    #[test]
    fn rejects_plain_http_endpoints_for_an_https_issuer() {
        let issuer = Url::parse("https://op.example").unwrap();
        let mut d = doc("https://op.example", r#"["RS256"]"#);
        d = d.set_token_endpoint(Some(openidconnect::TokenUrl::new("http://op.example/token".into()).unwrap()));
        assert!(from_document(d, &issuer).unwrap_err().contains("token_endpoint"));
    }
}
