//! The authorization request (OIDC Core §3.1.2.1, RFC 7636 for PKCE): one
//! parameter list, sent either in the browser's URL or pushed as a form
//! (RFC 9126), with the parts that are the same for every login encoded once.
//!
//! Everything fixed by the configuration and the provider's metadata — the
//! authorization endpoint, `response_type=code`, `client_id`,
//! `redirect_uri`, `scope`, `code_challenge_method=S256` and the configured
//! `login_hint`/`acr_values` — is form-encoded once per layer, at the
//! first login after the provider's metadata is loaded
//! ([`AuthorizeRequest::new`], through `LayerState::authorize`, which refuses
//! while a degraded layer has only stand-in metadata), so the prefix always
//! follows the metadata in use. A login then appends only its own values (`state`, `nonce`,
//! `code_challenge`, step-up, permissions, `app_callback_uri`) through the
//! same `application/x-www-form-urlencoded` serializer that
//! `Url::query_pairs_mut` uses, so the result is byte for byte what the
//! endpoint URL with all pairs appended would be (`tests/it/authorize_url.rs`
//! checks this for arbitrary values), without a second URL parse.

use url::Url;
use url::form_urlencoded::Serializer;

use crate::config::BankIdConfig;

/// The parameters a login may set itself, replacing the configured
/// defaults: a step-up asks for its own `acr_values` and `login_hint`
/// (`crate::step_up::add_authorize_params`), and then neither configured
/// value may go along with them (a repeated parameter is an error at the
/// provider, RFC 6749 §3.1).
const LOGIN_OVERRIDES: [&str; 2] = ["login_hint", "acr_values"];

/// The configured values of the authorization request (all decoded).
pub(crate) struct FixedParams<'a> {
    pub(crate) client_id: &'a str,
    /// The callback URL, as registered at the provider.
    pub(crate) redirect_uri: &'a str,
    /// Space-separated scopes.
    pub(crate) scope: String,
    pub(crate) login_hint: Option<&'a str>,
    pub(crate) acr_values: Option<&'a str>,
}

impl<'a> FixedParams<'a> {
    pub(crate) fn of(config: &'a BankIdConfig) -> Self {
        FixedParams {
            client_id: &config.client_id,
            redirect_uri: config.redirect_uri.as_str(),
            scope: config.scopes.join(" "),
            login_hint: config.login_hint.as_deref(),
            acr_values: config.acr_values.as_deref(),
        }
    }
}

/// The authorization request of one provider and configuration: the fixed
/// parameters (decoded, for the PAR form) and the URL prefixes they encode to.
pub(crate) struct AuthorizeRequest {
    /// The fixed parameters in the order they are sent; the overridable
    /// defaults ([`LOGIN_OVERRIDES`]) last, `defaults` of them.
    fixed: Vec<(&'static str, String)>,
    defaults: usize,
    /// The endpoint with every fixed parameter.
    with_defaults: Prefix,
    /// The endpoint with the fixed parameters but the overridable defaults.
    without_defaults: Prefix,
    /// The endpoint with `client_id`, for the URL after PAR.
    pushed: Prefix,
    /// The endpoint's fragment with its `#` (empty if none), which stays
    /// last as with `Url::query_pairs_mut`. RFC 6749 §3.1 forbids one; it is
    /// kept rather than dropped so the URL is exactly the endpoint's.
    fragment: String,
}

/// A URL up to and including some query pairs, ready for more.
struct Prefix {
    text: String,
    /// Where the query starts (just after `?`): the serializer adds a `&`
    /// before a pair only when the query is not empty.
    query_start: usize,
}

impl Prefix {
    /// `endpoint` (without its fragment) with `pairs` appended to its query,
    /// an existing query (`?foo=bar`) kept in front.
    fn new<'p>(endpoint: &Url, pairs: impl IntoIterator<Item = (&'p str, &'p str)>) -> Self {
        let mut text = match endpoint.fragment() {
            Some(fragment) => endpoint.as_str()[..endpoint.as_str().len() - fragment.len() - 1].to_owned(),
            None => endpoint.as_str().to_owned(),
        };
        let query_start = match endpoint.query() {
            Some(query) => text.len() - query.len(),
            None => {
                text.push('?');
                text.len()
            }
        };
        Serializer::for_suffix(&mut text, query_start).extend_pairs(pairs).finish();
        Prefix { text, query_start }
    }

    /// The prefix with `pairs` appended and then `fragment`.
    fn extend<V: AsRef<str>>(&self, pairs: &[(&str, V)], fragment: &str) -> String {
        // Room for the pairs unescaped (the usual case: base64url secrets),
        // so one allocation suffices.
        let room: usize = pairs.iter().map(|(k, v)| k.len() + v.as_ref().len() + 2).sum();
        let mut url = String::with_capacity(self.text.len() + room + fragment.len());
        url.push_str(&self.text);
        Serializer::for_suffix(&mut url, self.query_start)
            .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_ref())))
            .finish();
        url.push_str(fragment);
        url
    }
}

impl AuthorizeRequest {
    /// Encodes the fixed parameters for `endpoint` (the provider's
    /// `authorization_endpoint`).
    pub(crate) fn new(endpoint: &Url, fixed: FixedParams<'_>) -> Self {
        let mut params: Vec<(&'static str, String)> = vec![
            ("response_type", "code".to_owned()),
            ("client_id", fixed.client_id.to_owned()),
            ("redirect_uri", fixed.redirect_uri.to_owned()),
            ("scope", fixed.scope),
            ("code_challenge_method", "S256".to_owned()),
        ];
        let required = params.len();
        params.extend(fixed.login_hint.map(|hint| ("login_hint", hint.to_owned())));
        params.extend(fixed.acr_values.map(|acr| ("acr_values", acr.to_owned())));
        AuthorizeRequest {
            with_defaults: Prefix::new(endpoint, borrowed(&params)),
            without_defaults: Prefix::new(endpoint, borrowed(&params[..required])),
            pushed: Prefix::new(endpoint, [("client_id", fixed.client_id)]),
            fragment: endpoint.fragment().map(|f| format!("#{f}")).unwrap_or_default(),
            defaults: params.len() - required,
            fixed: params,
        }
    }

    /// For the configuration and the provider's authorization endpoint.
    pub(crate) fn for_config(endpoint: &Url, config: &BankIdConfig) -> Self {
        AuthorizeRequest::new(endpoint, FixedParams::of(config))
    }

    /// The fixed parameters that go with `login`'s: all of them, or without
    /// the configured `login_hint`/`acr_values` when the login sets either.
    fn fixed_for(&self, login: &[(&str, String)]) -> &[(&'static str, String)] {
        let overrides = login.iter().any(|(name, _)| LOGIN_OVERRIDES.contains(name));
        match overrides {
            true => &self.fixed[..self.fixed.len() - self.defaults],
            false => &self.fixed,
        }
    }

    /// The whole request, in the order it is sent: the fixed parameters,
    /// then `login`'s (decoded; the PAR form and the URL carry the same).
    pub(crate) fn params<'s>(&'s self, login: &'s [(&'s str, String)]) -> impl Iterator<Item = (&'s str, &'s str)> {
        let fixed = self.fixed_for(login).iter().map(|(k, v)| (*k, v.as_str()));
        fixed.chain(login.iter().map(|(k, v)| (*k, v.as_str())))
    }

    /// The authorization URL carrying the whole request ([`Self::params`]),
    /// every value form-urlencoded.
    pub(crate) fn url(&self, login: &[(&str, String)]) -> String {
        let prefix = match self.fixed_for(login).len() == self.fixed.len() {
            true => &self.with_defaults,
            false => &self.without_defaults,
        };
        prefix.extend(login, &self.fragment)
    }

    /// The authorization URL after PAR (RFC 9126 §4): `client_id` and the
    /// pushed request's `request_uri`.
    pub(crate) fn pushed_url(&self, request_uri: &str) -> String {
        self.pushed.extend(&[("request_uri", request_uri)], &self.fragment)
    }
}

/// `pairs` with borrowed values, as the serializer takes them.
fn borrowed<'p>(pairs: &'p [(&'static str, String)]) -> impl Iterator<Item = (&'p str, &'p str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str()))
}
