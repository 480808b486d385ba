//! The one HTTP client used for the provider.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Client, Response, redirect};
use serde::de::DeserializeOwned;
use url::Url;

use super::error::{TransportError, TransportErrorKind};
use crate::log_value::untrusted_text;

/// Largest provider response we read; discovery documents and JWKS are a few
/// kilobytes, so anything bigger is a misbehaving or hostile endpoint.
const MAX_BODY: usize = 256 * 1024;

pub(crate) fn client(timeout: Duration) -> Result<Client, reqwest::Error> {
    Client::builder()
        .redirect(redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("axum-bankid/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Why a provider document could not be fetched. Holds no response body.
#[derive(Debug)]
pub(crate) enum FetchError {
    Transport(TransportError),
    Status(u16),
    TooLarge,
    Json(serde_json::Error),
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FetchError::Transport(e) => Some(e),
            FetchError::Json(e) => Some(e),
            FetchError::Status(_) | FetchError::TooLarge => None,
        }
    }
}

impl From<FetchError> for TransportError {
    /// For a body read after the status was checked: only a transport
    /// failure or an oversized body can happen then.
    fn from(err: FetchError) -> TransportError {
        match err {
            FetchError::Transport(e) => e,
            FetchError::TooLarge => TransportError::new(TransportErrorKind::TooLarge, err.to_string()),
            other => TransportError::new(TransportErrorKind::Other, other.to_string()),
        }
    }
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Transport(e) => write!(f, "request failed: {e}"),
            FetchError::Status(s) => write!(f, "unexpected HTTP status {s}"),
            FetchError::TooLarge => write!(f, "response larger than {MAX_BODY} bytes"),
            // serde_json quotes the offending value (an attacker-sized string).
            FetchError::Json(e) => write!(f, "invalid JSON: {}", untrusted_text(&e.to_string())),
        }
    }
}

/// GETs a JSON document with its response headers (for `Cache-Control`);
/// only 200 is accepted (redirects are not followed).
pub(crate) async fn get_json_with_headers<T: DeserializeOwned>(
    client: &Client,
    url: &Url,
) -> Result<(T, HeaderMap), FetchError> {
    let response = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| FetchError::Transport(TransportError::from_reqwest(e)))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    let headers = response.headers().clone();
    let body = read_limited(response).await?;
    let value = serde_json::from_slice(&body).map_err(FetchError::Json)?;
    Ok((value, headers))
}

/// Reads a body up to [`MAX_BODY`] bytes.
pub(crate) async fn read_limited(mut response: Response) -> Result<Vec<u8>, FetchError> {
    if response.content_length().is_some_and(|len| len > MAX_BODY as u64) {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| FetchError::Transport(TransportError::from_reqwest(e)))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl TransportError {
    /// A failure of the HTTP client, described without its URL (see
    /// [`classify`]); the source keeps no URL either.
    pub(crate) fn from_reqwest(err: reqwest::Error) -> TransportError {
        let (kind, message) = classify(&err);
        TransportError::http(kind, message, err)
    }
}

/// Describes a reqwest error without its URL: URLs of the token endpoint are
/// harmless, but ones we build may carry query parameters.
#[cfg(test)]
pub(crate) fn describe(err: &reqwest::Error) -> String {
    classify(err).1
}

/// What kind of failure a reqwest error is, and its description without
/// its URL (see [`describe`]).
pub(crate) fn classify(err: &reqwest::Error) -> (TransportErrorKind, String) {
    if err.is_timeout() {
        (TransportErrorKind::Timeout, "timed out".to_owned())
    } else if err.is_connect() {
        describe_connect(err)
    } else if err.is_redirect() {
        (TransportErrorKind::Redirect, "redirects are not followed".to_owned())
    } else {
        let text = err.to_string();
        let text = match err.url() {
            Some(url) => text.replace(url.as_str(), "<provider>"),
            None => text,
        };
        (TransportErrorKind::Other, text)
    }
}

/// Why a connection failed, in the words an operator searches for: a DNS
/// failure says so and names the host (a host name is not a secret; the
/// path and query, which may be, are left out).
fn describe_connect(err: &reqwest::Error) -> (TransportErrorKind, String) {
    let host = err.url().and_then(|url| url.host_str().map(|h| (h.to_owned(), url.port_or_known_default())));
    let at = match &host {
        Some((host, Some(port))) => format!(" to {host}:{port}"),
        Some((host, None)) => format!(" to {host}"),
        None => String::new(),
    };
    let chain = source_chain(err).to_ascii_lowercase();
    if chain.contains("dns error")
        || chain.contains("failed to lookup address")
        || chain.contains("name or service not known")
    {
        let name = host.map(|(h, _)| h).unwrap_or_default();
        (TransportErrorKind::Dns, format!("DNS lookup of {name} failed"))
    } else if chain.contains("connection refused") {
        (TransportErrorKind::Refused, format!("connection{at} refused"))
    } else if chain.contains("certificate") || chain.contains("tls") {
        (TransportErrorKind::Tls, format!("TLS handshake{at} failed"))
    } else {
        (TransportErrorKind::Connect, format!("connection{at} failed"))
    }
}

/// Every message in an error's source chain, for matching on causes that
/// reqwest does not expose as types.
fn source_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut next = err.source();
    while let Some(cause) = next {
        text.push_str(&cause.to_string());
        text.push('\n');
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde_json quotes the value it could not read; a hostile document's
    /// mebibyte string must not reach the log through that message.
    #[test]
    fn a_json_error_quoting_an_attacker_sized_value_is_bounded() {
        use crate::log_value::MAX_TEXT_CHARS;
        use crate::log_value::tests::{hostile_mebibyte, is_bounded_line};
        let err = serde_json::from_value::<u32>(serde_json::Value::String(hostile_mebibyte())).unwrap_err();
        let shown = FetchError::Json(err).to_string();
        let quoted = shown.strip_prefix("invalid JSON: ").expect("the kind of failure first");
        assert!(quoted.starts_with("invalid type: string"), "{shown}");
        assert!(is_bounded_line(quoted, MAX_TEXT_CHARS), "{shown}");
    }

    #[tokio::test]
    async fn a_dns_failure_is_reported_as_one() {
        let http = client(Duration::from_secs(5)).unwrap();
        // `.invalid` never resolves (RFC 6761 §6.4).
        let err = http.get("http://bankid-provider.invalid/.well-known/openid-configuration").send().await.unwrap_err();
        assert_eq!(describe(&err), "DNS lookup of bankid-provider.invalid failed");
    }

    #[tokio::test]
    async fn a_refused_connection_names_the_address() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let http = client(Duration::from_secs(5)).unwrap();
        let err = http.get(format!("http://127.0.0.1:{port}/x?secret=1")).send().await.unwrap_err();
        assert_eq!(describe(&err), format!("connection to 127.0.0.1:{port} refused"));
    }
}
