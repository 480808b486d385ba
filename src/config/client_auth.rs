//! How the client authenticates at the token endpoint, with its credential.

use std::fmt;

use super::error::ConfigError;

/// How the client authenticates itself at the token endpoint, together with
/// the credential it uses — so a method without its secret or key cannot be
/// built.
///
/// The methods are OpenID Connect Core 1.0 §9's `token_endpoint_auth_method`
/// values; [`method`](Self::method) answers that name. `Debug` shows the
/// method and, for a key, its `kid` and algorithm — never a secret or key.
///
/// ```
/// use axum_bankid::ClientAuth;
/// let auth = ClientAuth::client_secret_post("s3cret");
/// assert_eq!(auth.method(), "client_secret_post");
/// assert!(!format!("{auth:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct ClientAuth(pub(crate) Credential);

/// The credential behind a [`ClientAuth`].
#[derive(Clone)]
pub(crate) enum Credential {
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1).
    SecretBasic(ClientSecret),
    /// `client_id` and `client_secret` in the request body (RFC 6749 §2.3.1).
    SecretPost(ClientSecret),
    /// A JWT signed with the client's private key (RFC 7523, OIDC Core §9).
    PrivateKeyJwt(ClientAssertionKey),
}

impl ClientAuth {
    /// `client_secret_basic`: the client id and `secret` in an HTTP Basic
    /// `Authorization` header, each form-urlencoded first (RFC 6749 §2.3.1).
    /// The default method; [`BankIdConfigBuilder::client_secret`](crate::BankIdConfigBuilder::client_secret) is short
    /// for this. An empty secret fails `build` with `Missing { field: "client_secret" }`.
    pub fn client_secret_basic(secret: impl Into<String>) -> Self {
        ClientAuth(Credential::SecretBasic(ClientSecret::new(secret)))
    }

    /// `client_secret_post`: `client_id` and `client_secret` in the form
    /// body (RFC 6749 §2.3.1). An empty secret fails `build` with
    /// `Missing { field: "client_secret" }`.
    pub fn client_secret_post(secret: impl Into<String>) -> Self {
        ClientAuth(Credential::SecretPost(ClientSecret::new(secret)))
    }

    /// `private_key_jwt`: a short-lived JWT signed with `key` (RFC 7523 §2.2,
    /// OIDC Core §9); no secret travels. The assertion's `aud` is the
    /// provider's issuer.
    pub fn private_key_jwt(key: ClientAssertionKey) -> Self {
        ClientAuth(Credential::PrivateKeyJwt(key))
    }

    /// The OIDC Core §9 `token_endpoint_auth_method` name:
    /// `client_secret_basic`, `client_secret_post` or `private_key_jwt`.
    pub fn method(&self) -> &'static str {
        match self.0 {
            Credential::SecretBasic(_) => "client_secret_basic",
            Credential::SecretPost(_) => "client_secret_post",
            Credential::PrivateKeyJwt(_) => "private_key_jwt",
        }
    }

    /// The secret, for the secret methods.
    pub(crate) fn secret(&self) -> Option<&ClientSecret> {
        match &self.0 {
            Credential::SecretBasic(secret) | Credential::SecretPost(secret) => Some(secret),
            Credential::PrivateKeyJwt(_) => None,
        }
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Credential::SecretBasic(secret) | Credential::SecretPost(secret) => {
                f.debug_tuple("ClientAuth").field(&self.method()).field(secret).finish()
            }
            Credential::PrivateKeyJwt(key) => f.debug_tuple("ClientAuth").field(&self.method()).field(key).finish(),
        }
    }
}

/// The private key for [`ClientAuth::private_key_jwt`]. `Debug` shows its
/// `kid` and algorithm, never the key.
#[derive(Clone)]
pub struct ClientAssertionKey {
    pub(crate) key: jsonwebtoken::EncodingKey,
    pub(crate) kid: Option<String>,
    pub(crate) alg: jsonwebtoken::Algorithm,
    /// SHA-256 of the PEM: key material for `BankIdConfig::record_key`,
    /// which must be the same on every instance and unknown to clients.
    pub(crate) fingerprint: [u8; 32],
}

impl ClientAssertionKey {
    /// An RSA key (PKCS#1 or PKCS#8 PEM), signing with RS256. `kid` is put in
    /// the JWT header when given (it must match the key registered at BankID).
    pub fn rsa_pem(pem: &[u8], kid: Option<String>) -> Result<Self, ConfigError> {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem)
            .map_err(|_| ConfigError::invalid("private_key_jwt", "not an RSA private key in PEM"))?;
        Ok(ClientAssertionKey { key, kid, alg: jsonwebtoken::Algorithm::RS256, fingerprint: sha256(pem) })
    }

    /// An EC P-256 key (PKCS#8 PEM), signing with ES256.
    pub fn ec_pem(pem: &[u8], kid: Option<String>) -> Result<Self, ConfigError> {
        let key = jsonwebtoken::EncodingKey::from_ec_pem(pem)
            .map_err(|_| ConfigError::invalid("private_key_jwt", "not an EC private key in PEM"))?;
        Ok(ClientAssertionKey { key, kid, alg: jsonwebtoken::Algorithm::ES256, fingerprint: sha256(pem) })
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

impl fmt::Debug for ClientAssertionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAssertionKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

/// A client secret. Its `Debug` output never shows the value.
#[derive(Clone)]
pub(crate) struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret.
    pub(crate) fn new(secret: impl Into<String>) -> Self {
        ClientSecret(secret.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}
