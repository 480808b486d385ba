//! Entry points into this crate's parsers of outside input, for property
//! tests (`tests/it/properties.rs`) and the cargo-fuzz targets (`fuzz/`).
//!
//! **Unstable, not for applications.** This module is hidden from the docs
//! and carries no stability promise: any item may change or vanish in any
//! release, patch releases included. Each function is a thin wrapper that
//! calls the very parser the layer uses, so what is tested here is what runs
//! in production; none adds checks of its own.
//!
//! The parsers covered: `acr` values (`acr`, `loa_of`), the `return_to`
//! query parameter (`return_to`), the authorization callback's query
//! (`callback_query`), the protected header of every JWS (`jose_header`),
//! permission statements and digests (`permission_statement`,
//! `same_digest`, `verify_granted`, `app_callback_uri`), BIB's
//! discovery document (`bib_discovery`), the claims of a signed grant
//! (`grant_claims`), and the provider's OAuth answers and CIBA error codes
//! (`oauth_answer`, `ciba_initiation_error`, `ciba_poll_error`), and the
//! crate's own cookies read back from a `Cookie` header (`own_cookies`).

use serde_json::{Map, Value};
use url::Url;

use crate::ciba::poll::PollError;
use crate::error::CibaError;
use crate::error::{EndpointError, Error, IdTokenError, TransportError};
use crate::jws::CompactJws;
use crate::loa::{AcrIssuer, Loa};
use crate::permission::api::GrantExpectation;
use crate::permission::error::PermissionError;
use crate::permission::statement::{DigestInput, PermissionItem};

/// [`Loa::from_acr`]: the strict `URN(;key=value)*` parser with exactly one
/// `LOA=[1-4]`.
pub fn acr(acr: &str) -> Option<Loa> {
    Loa::from_acr(acr)
}

/// The level the LOA policy reads from an `acr`: the strict `LOA=`
/// parameter, else one of BankID's bare URNs, but only from the provider that
/// issues it (`from_bib`: a BIB CIBA token; otherwise a BankID OIDC token).
pub fn loa_of(acr: &str, from_bib: bool) -> Option<Loa> {
    let issuer = if from_bib { AcrIssuer::Bib } else { AcrIssuer::BankIdOidc };
    crate::loa::loa_of(acr, issuer)
}

/// Where the layer sends the user after login for a `return_to` query
/// parameter: the candidate itself when it is a safe same-origin path, `/`
/// otherwise.
pub fn return_to(candidate: Option<&str>) -> String {
    crate::return_to::sanitize_return_to(candidate)
}

/// The callback parameters the layer reads; an empty value counts as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackQuery {
    /// `code`.
    pub code: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `error`.
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
    /// `iss` (RFC 9207).
    pub iss: Option<String>,
}

/// Parses the raw query of the authorization callback (without `?`).
///
/// Errors: [`Error::MalformedCallback`] when any parameter repeats.
pub fn callback_query(query: &str) -> Result<CallbackQuery, Error> {
    let params = crate::routes::callback::parse_params(query)?;
    Ok(CallbackQuery {
        code: params.code,
        state: params.state,
        error: params.error,
        error_description: params.error_description,
        iss: params.iss,
    })
}

/// What the JWS parser reads from a protected header it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoseHeader {
    /// `alg`, exactly as the header has it.
    pub alg: String,
    /// `kid`, if present.
    pub kid: Option<String>,
}

/// Splits a compact JWS and checks its protected header (RFC 7515 §5.2,
/// `crit` per §4.1.11), as every provider-signed token is checked before
/// its signature. The signature is not checked here.
///
/// Errors: [`IdTokenError::Malformed`], [`IdTokenError::InvalidCriticalHeader`],
/// [`IdTokenError::UnsupportedCriticalHeader`].
pub fn jose_header(token: &str) -> Result<JoseHeader, IdTokenError> {
    let jws = CompactJws::parse(token)?;
    Ok(JoseHeader { alg: jws.alg, kid: jws.kid })
}

/// A permission statement as it is sent to BankID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// base64url (no padding) of the statement bytes: the `permission` sent.
    pub encoded: String,
    /// The expected `permission_digest` (standard base64 with padding of SHA-256).
    pub digest: String,
}

/// Encodes a statement and computes its digest over `input`.
pub fn permission_statement(r#type: &str, statement: &[u8], input: DigestInput) -> Statement {
    let item = PermissionItem::from_statement(r#type, statement, input);
    Statement { encoded: item.encoded, digest: item.digest }
}

/// Whether two base64 texts (any of the standard/URL-safe, padded/unpadded
/// alphabets) name the same 32-byte digest; compared in constant time.
pub fn same_digest(a: &str, b: &str) -> bool {
    crate::permission::statement::same_digest(a, b)
}

/// Checks the provider's answer for the RAR permissions `sent` (type and
/// statement bytes each): the ID token's `permission_digest` claim and the
/// token response's echoed `authorization_details`, as at the callback.
///
/// Errors: the [`PermissionError`] the callback would report.
pub fn verify_granted(
    sent: &[(&str, &[u8])],
    input: DigestInput,
    id_token_digest: Option<&Value>,
    token_details: Option<&Value>,
) -> Result<(), PermissionError> {
    let items: Vec<PermissionItem> =
        sent.iter().map(|(kind, statement)| PermissionItem::from_statement(kind, statement, input)).collect();
    crate::permission::statement::verify_granted(&items, id_token_digest, token_details)
}

/// Validates a preview `app_callback_uri`; returns it normalised.
///
/// Errors: [`PermissionError::InvalidAppCallbackUri`].
pub fn app_callback_uri(uri: &str) -> Result<String, PermissionError> {
    crate::permission::statement::validate_app_callback_uri(uri)
}

/// What is kept of a BIB discovery document that passed validation.
#[derive(Debug, Clone)]
pub struct BibEndpoints {
    /// BIB's issuer as the document names it.
    pub issuer: String,
    /// The Permission API base; always ends in `/`.
    pub permissions_endpoint: Url,
    /// Every endpoint the crate will call or fetch keys from.
    pub endpoints: Vec<Url>,
    /// How many asymmetric signing algorithms were accepted (at least one).
    pub signing_algs: usize,
}

/// Parses and validates BIB's discovery document (JSON bytes) for the
/// configured `issuer`.
///
/// Errors: a message naming the field at fault (not JSON, wrong shape,
/// another issuer, a non-HTTPS endpoint, no asymmetric algorithm).
pub fn bib_discovery(document: &[u8], issuer: &Url) -> Result<BibEndpoints, String> {
    let raw: crate::provider::bib::RawBibMetadata =
        serde_json::from_slice(document).map_err(|e| format!("not a BIB discovery document: {e}"))?;
    let metadata = crate::provider::bib::from_document(raw, issuer)?;
    let mut endpoints = vec![
        metadata.permissions_endpoint.clone(),
        metadata.token_endpoint,
        metadata.jwks_uri,
        metadata.jwks_uri_grants,
    ];
    endpoints.extend(metadata.backchannel_authentication_endpoint);
    Ok(BibEndpoints {
        issuer: metadata.issuer,
        permissions_endpoint: metadata.permissions_endpoint,
        endpoints,
        signing_algs: metadata.signing_algs.len(),
    })
}

/// What a signed grant must belong to.
#[derive(Debug, Clone, Copy)]
pub struct GrantFor<'a> {
    /// The permission id BIB gave at registration.
    pub id: &'a str,
    /// The permission type.
    pub r#type: &'a str,
    /// The statement bytes that were registered.
    pub statement: &'a [u8],
    /// The user the grant must name, if known: a `sub` issued by BIB (the
    /// grant's own issuer, as in a CIBA ID token), never BankID OIDC's.
    pub sub: Option<&'a str>,
    /// Allowed clock skew, seconds.
    pub skew_secs: i64,
}

/// The claim checks of a signed grant after its signature and issuer held:
/// `exp`/`nbf` against the current time, then permission id, type, digest
/// and subject wherever the grant names them.
///
/// Errors: [`Error::Permission`] with the reason.
pub fn grant_claims(claims: &Map<String, Value>, expected: GrantFor<'_>) -> Result<(), Error> {
    let invalid = |why| Error::Permission(PermissionError::InvalidSignedPermission(why));
    crate::permission::api::check_time_limits(claims, expected.skew_secs).map_err(invalid)?;
    let item = PermissionItem::from_statement(expected.r#type, expected.statement, DigestInput::StatementBytes);
    let expectation = GrantExpectation { id: expected.id, item: &item, bib_sub: expected.sub };
    crate::permission::api::check_binding(claims, &expectation)
}

/// Parses a provider's answer to a token, PAR, CIBA or Permission API call:
/// a 2xx JSON body, or an OAuth error body (RFC 6749 §5.2) on a 4xx.
///
/// Errors: [`EndpointError::Rejected`] (error and description sanitised),
/// [`EndpointError::UnexpectedResponse`] for anything else.
pub fn oauth_answer(status: u16, body: &[u8]) -> Result<Value, EndpointError> {
    let status = http::StatusCode::from_u16(status).map_err(|_| EndpointError::UnexpectedResponse { status })?;
    let mut response = http::Response::new(body.to_vec());
    *response.status_mut() = status;
    let response = reqwest::Response::from(response);
    // The body is already in memory, so a current-thread runtime without
    // I/O or timers is enough to drive the async reader.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| EndpointError::Unreachable(TransportError::not_sent(e.to_string(), e)))?;
    runtime.block_on(crate::provider::token::parse_json_response(response)).map(|(_, value)| value)
}

/// The [`CibaError`] for an OAuth error code that refused a CIBA request.
pub fn ciba_initiation_error(error: &str) -> CibaError {
    crate::ciba::initiation_error(error)
}

/// What one CIBA poll makes of an OAuth error code from BIB's token endpoint.
#[derive(Debug, PartialEq)]
#[non_exhaustive]
pub enum PollAnswer {
    /// `authorization_pending`: poll again.
    Pending,
    /// `slow_down`: poll again, later.
    SlowDown,
    /// A final failure.
    Failed(CibaError),
    /// Anything else (a transient fault or an approval): never produced for
    /// an error code, which the property tests assert.
    Unexpected,
}

/// Maps an OAuth error code from a CIBA poll.
pub fn ciba_poll_error(error: &str) -> PollAnswer {
    match crate::ciba::poll::poll_error(error) {
        Err(PollError::Pending) => PollAnswer::Pending,
        Err(PollError::SlowDown) => PollAnswer::SlowDown,
        Ok(Err(failure)) => PollAnswer::Failed(failure),
        Err(PollError::Transient(_)) | Ok(Ok(_)) => PollAnswer::Unexpected,
    }
}

/// Bench hook (`benches/parsers.rs`): the ID-token check a login runs — the
/// protected header, the key lookup in the provider's JWKS, the signature,
/// `nbf`, then issuer, audience, `sub`, `exp`, `iat` and nonce — through the
/// layer's own verifier, with keys loaded once from `jwks_uri`.
pub struct IdTokenCheck(crate::id_token::IdTokenVerifier);

impl IdTokenCheck {
    /// Loads the keys at `jwks_uri` (kept for an hour) for tokens from
    /// `issuer` to `client_id` signed with one of `algorithms`.
    pub async fn load(
        jwks_uri: &str,
        issuer: &str,
        client_id: &str,
        algorithms: &[jsonwebtoken::Algorithm],
    ) -> Result<IdTokenCheck, String> {
        use std::time::Duration;
        let hour = Duration::from_secs(3600);
        let settings = crate::provider::jwks::KeyCacheSettings {
            max_age: crate::provider::max_age::MaxAgePolicy { floor: hour, ceiling: hour },
            cooldown: Duration::from_secs(60),
            trust: crate::provider::jwks::KeyTrust::TlsOnly,
        };
        let uri = jwks_uri.parse().map_err(|e: url::ParseError| e.to_string())?;
        let keys = crate::provider::jwks::KeyCache::load(reqwest::Client::new(), uri, settings)
            .await
            .map_err(|e| e.to_string())?;
        Ok(IdTokenCheck(crate::id_token::IdTokenVerifier {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            jws: crate::jws::JwsVerifier {
                algorithms: std::sync::Arc::new(crate::provider::signing_algs::SigningAlgs::fixed(algorithms.to_vec())),
                clock_skew_secs: 60,
                keys: std::sync::Arc::new(keys),
            },
        }))
    }

    /// Verifies `token` as the callback does; returns its claims.
    pub async fn verify(&self, token: &str, nonce: Option<&str>) -> Result<Map<String, Value>, IdTokenError> {
        self.0.verify(token, nonce).await.map(crate::id_token::VerifiedIdToken::into_claims)
    }
}

/// Bench and property hook (`benches/parsers.rs`, `tests/it/authorize_url.rs`):
/// the authorization request as the layer builds it — the fixed parameters
/// encoded once for the endpoint, a login's own appended per login — through
/// the layer's own `AuthorizeRequest`.
pub struct AuthorizeUrl(crate::provider::authorize_url::AuthorizeRequest);

impl AuthorizeUrl {
    /// The request for `endpoint` (the provider's `authorization_endpoint`,
    /// any query it has kept in front) and the configured values
    /// (`scope` space-separated, as sent).
    pub fn new(
        endpoint: &Url,
        client_id: &str,
        redirect_uri: &str,
        scope: &str,
        login_hint: Option<&str>,
        acr_values: Option<&str>,
    ) -> Self {
        let fixed = crate::provider::authorize_url::FixedParams {
            client_id,
            redirect_uri,
            scope: scope.to_owned(),
            login_hint,
            acr_values,
        };
        AuthorizeUrl(crate::provider::authorize_url::AuthorizeRequest::new(endpoint, fixed))
    }

    /// The URL of a login with `secrets` and no further parameter, as the
    /// login route builds it without PAR.
    pub fn login_url(&self, secrets: &LoginSecrets) -> String {
        self.0.url(&secrets.0.params())
    }

    /// The URL of a login whose own parameters (decoded, in order) are
    /// `login`; a `login_hint` or `acr_values` among them replaces both
    /// configured ones (as a step-up does).
    pub fn url(&self, login: &[(&str, String)]) -> String {
        self.0.url(login)
    }

    /// The whole request (decoded, in the order sent) for `login`: what the
    /// PAR form carries and what [`url`](Self::url) encodes.
    pub fn params(&self, login: &[(&str, String)]) -> Vec<(String, String)> {
        self.0.params(login).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    }

    /// The URL after PAR: `client_id` and `request_uri`.
    pub fn pushed_url(&self, request_uri: &str) -> String {
        self.0.pushed_url(request_uri)
    }
}

/// Bench hook: a login's secrets (`state`, `nonce`, the PKCE S256 verifier
/// and challenge), drawn as the login route draws them.
pub struct LoginSecrets(crate::login::start::LoginSecrets);

impl LoginSecrets {
    /// Fresh secrets.
    pub fn new() -> Self {
        LoginSecrets(crate::login::start::LoginSecrets::new())
    }

    /// The PKCE `code_challenge` (base64url SHA-256 of the verifier).
    pub fn code_challenge(&self) -> &str {
        self.0.challenge.as_str()
    }
}

impl Default for LoginSecrets {
    fn default() -> Self {
        Self::new()
    }
}

/// What the layer reads back of its own cookies from a request's `Cookie`
/// header (a client's to forge): see [`own_cookies`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnCookies {
    /// The bindings of the newest distinct login-attempt cookies, at most 8.
    pub newest_logins: Vec<String>,
    /// How many login-attempt cookies a new login would expire (cap 8).
    pub expired_at_next_login: usize,
    /// The "sent to login" marker's age in milliseconds, if it is one.
    pub sent_to_login_ago_ms: Option<i64>,
}

/// Reads a `Cookie` header the way the login, callback and extractor paths
/// do (plain-http cookie names): cookies whose shape or time is impossible
/// count as absent.
pub fn own_cookies(cookie_header: &[u8]) -> OwnCookies {
    use crate::records::binding::{self, Kind};
    static CONFIG: std::sync::LazyLock<crate::BankIdConfig> = std::sync::LazyLock::new(|| {
        crate::BankIdConfig::builder()
            .issuer("https://op.example")
            .client_id("fuzz")
            .client_secret("fuzz")
            .redirect_uri("http://127.0.0.1:1/auth/bankid/callback")
            .build()
            .expect("a valid constant configuration")
    });
    let mut headers = http::HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_bytes(cookie_header) {
        headers.insert(http::header::COOKIE, value);
    }
    let now_ms = crate::clock::unix_now().saturating_mul(1000);
    OwnCookies {
        newest_logins: binding::newest(&CONFIG, &headers, Kind::Login, 8),
        expired_at_next_login: binding::evict_beyond_cap(&CONFIG, &headers, Kind::Login, now_ms, 600, 8).len(),
        sent_to_login_ago_ms: binding::sent_to_login_ago_ms(&CONFIG, &headers),
    }
}
