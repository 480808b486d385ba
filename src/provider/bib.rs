//! Discovery of BIB, the second OpenID Provider of BankID with biometrics.
//!
//! BankID with biometrics is two providers: BankID OIDC (the browser code
//! flow and client-credentials tokens) and BIB ("aletheia": the Permission
//! API, signed grants and CIBA), each with its own issuer, discovery document
//! and keys. BIB's document is not a complete OIDC Discovery document (it has
//! no `authorization_endpoint`), so it is read here with a struct of exactly
//! the fields BankID's own example client reads — `issuer`,
//! `permissions_endpoint`, `backchannel_authentication_endpoint`,
//! `token_endpoint`, `jwks_uri`, `jwks_uri_grants` and
//! `id_token_signing_alg_values_supported` — and validated like BankID
//! OIDC's: the issuer must equal the configured one, endpoints must be HTTPS
//! (plain HTTP only on loopback), and only asymmetric algorithms count.

use std::str::FromStr;

use jsonwebtoken::Algorithm;
use reqwest::Client;
use serde::Deserialize;
use url::Url;

use super::error::Cause;
use super::http::get_json_with_headers;
use super::max_age::Fetched;
use super::metadata::{checked_endpoint, discovery_url, is_asymmetric, same_issuer};
use crate::log_value::untrusted;

/// BIB's endpoints, from its discovery document.
#[derive(Debug, Clone)]
pub(crate) struct BibMetadata {
    /// BIB's issuer identifier: the `iss` of CIBA ID tokens and grants.
    pub(crate) issuer: String,
    /// Base of the Permission API; always ends in `/`.
    pub(crate) permissions_endpoint: Url,
    /// CIBA backchannel authentication endpoint, if BIB offers CIBA.
    pub(crate) backchannel_authentication_endpoint: Option<Url>,
    /// BIB's token endpoint (CIBA polls).
    pub(crate) token_endpoint: Url,
    /// Keys of BIB's ID tokens (CIBA).
    pub(crate) jwks_uri: Url,
    /// Keys of the signed permissions ("grants"); not the ID-token keys.
    pub(crate) jwks_uri_grants: Url,
    /// Asymmetric algorithms BIB signs with.
    pub(crate) signing_algs: Vec<Algorithm>,
}

#[derive(Deserialize)]
pub(crate) struct RawBibMetadata {
    issuer: String,
    permissions_endpoint: String,
    backchannel_authentication_endpoint: Option<String>,
    token_endpoint: String,
    jwks_uri: String,
    jwks_uri_grants: String,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
}

/// Fetches `{bib_issuer}/.well-known/openid-configuration` and validates it;
/// with the response headers, whose
/// `Cache-Control` schedules the next refresh (see `provider::discovered`).
pub(crate) async fn discover(client: &Client, issuer: &Url) -> Fetched<BibMetadata> {
    let url = discovery_url(issuer);
    let (raw, headers): (RawBibMetadata, _) =
        crate::metrics::timed(crate::metrics::Endpoint::BibDiscovery, get_json_with_headers(client, &url))
            .await
            .map_err(|e| Cause::caused_by(format!("{url}: {e}"), e))?;
    Ok((from_document(raw, issuer).map_err(Cause::new)?, headers))
}

pub(crate) fn from_document(raw: RawBibMetadata, issuer: &Url) -> Result<BibMetadata, String> {
    if !same_issuer(&raw.issuer, issuer) {
        let advertised = untrusted(&raw.issuer);
        return Err(format!("BIB discovery document names issuer `{advertised}`, expected `{issuer}`"));
    }
    let secure = issuer.scheme() == "https";
    let endpoint = |name: &str, raw: &str| checked_endpoint(name, raw, secure);
    let signing_algs: Vec<Algorithm> = raw
        .id_token_signing_alg_values_supported
        .iter()
        .filter_map(|alg| Algorithm::from_str(alg).ok())
        .filter(|alg| is_asymmetric(*alg))
        .collect();
    if signing_algs.is_empty() {
        return Err("BIB advertises no asymmetric signing algorithm".to_owned());
    }
    Ok(BibMetadata {
        permissions_endpoint: with_trailing_slash(endpoint("permissions_endpoint", &raw.permissions_endpoint)?),
        backchannel_authentication_endpoint: raw
            .backchannel_authentication_endpoint
            .as_deref()
            .map(|u| endpoint("backchannel_authentication_endpoint", u))
            .transpose()?,
        token_endpoint: endpoint("token_endpoint", &raw.token_endpoint)?,
        jwks_uri: endpoint("jwks_uri", &raw.jwks_uri)?,
        jwks_uri_grants: endpoint("jwks_uri_grants", &raw.jwks_uri_grants)?,
        issuer: raw.issuer,
        signing_algs,
    })
}

/// BankID's `permissions_endpoint` ends in `/` and its example client
/// appends `user-exists` and `{id}/grant` to it. Should a deployment omit the
/// slash, appending would silently name another path; adding it keeps the
/// sub-resources below the endpoint.
fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(issuer: &str) -> RawBibMetadata {
        serde_json::from_value(serde_json::json!({
            "issuer": issuer,
            "permissions_endpoint": format!("{issuer}/permissions/"),
            "backchannel_authentication_endpoint": format!("{issuer}/bc-authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "jwks_uri_grants": format!("{issuer}/jwks/grants"),
            "id_token_signing_alg_values_supported": ["RS256", "HS256"],
        }))
        .unwrap()
    }

    #[test]
    fn reads_the_fields_bankids_example_reads() {
        let issuer = Url::parse("https://app.bankid.no").unwrap();
        let meta = from_document(raw("https://app.bankid.no"), &issuer).unwrap();
        assert_eq!(meta.permissions_endpoint.as_str(), "https://app.bankid.no/permissions/");
        assert_eq!(meta.jwks_uri_grants.as_str(), "https://app.bankid.no/jwks/grants");
        assert_eq!(meta.signing_algs, [Algorithm::RS256]);
        assert!(meta.backchannel_authentication_endpoint.is_some());
    }

    #[test]
    fn refuses_another_issuer_and_plain_http() {
        let issuer = Url::parse("https://app.bankid.no").unwrap();
        assert!(from_document(raw("https://evil.example"), &issuer).unwrap_err().contains("issuer"));
        let mut doc = raw("https://app.bankid.no");
        doc.jwks_uri_grants = "http://app.bankid.no/jwks/grants".into();
        assert!(from_document(doc, &issuer).unwrap_err().contains("jwks_uri_grants"));
    }

    #[test]
    fn another_issuer_is_quoted_bounded() {
        use crate::log_value::tests::{hostile_mebibyte, is_bounded_line};
        let issuer = Url::parse("https://app.bankid.no").unwrap();
        let err = from_document(raw(&hostile_mebibyte()), &issuer).unwrap_err();
        assert!(err.starts_with("BIB discovery document names issuer `line[2J[31mred"), "{err}");
        assert!(is_bounded_line(&err, 200), "{err}");
    }

    #[test]
    fn a_permissions_endpoint_without_slash_keeps_sub_resources_below_it() {
        let issuer = Url::parse("https://app.bankid.no").unwrap();
        let mut doc = raw("https://app.bankid.no");
        doc.permissions_endpoint = "https://app.bankid.no/permissions".into();
        let meta = from_document(doc, &issuer).unwrap();
        assert_eq!(meta.permissions_endpoint.join("user-exists").unwrap().path(), "/permissions/user-exists");
    }
}
