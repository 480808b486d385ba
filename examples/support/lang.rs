//! Which language a page is written in: `?lang=` (the language switch),
//! else the `example-lang` cookie that switch leaves, else the browser's
//! `Accept-Language`, else English.
//!
//! Why English last: a browser set to Norwegian asks for `nb`, `nn` or `no`
//! and gets it; one set to anything else (German, Polish, Swedish, …) —
//! including the many BankID users with a D-number who do not read Norwegian —
//! is more likely to read English than Bokmål. Clients that send no
//! `Accept-Language` at all are scripts (curl in `scripts/headless-*.sh`),
//! which read English too.
//!
//! The header is parsed by the `accept-language` crate, as axum-bankid's own
//! error pages do.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::texts::{EN, NB, NN, Texts};

/// A language the examples' pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Norwegian Bokmål (`nb`; also what `no` gets).
    Nb,
    /// Norwegian Nynorsk (`nn`).
    Nn,
    /// English (`en`).
    En,
}

/// The cookie the language switch leaves, so the next pages keep its choice.
const COOKIE: &str = "example-lang";

/// What a browser that asks for none of [`Lang::ALL`] gets (see the module docs).
const FALLBACK: Lang = Lang::En;

impl Lang {
    /// Every language, in the order the language switch lists them.
    pub const ALL: [Lang; 3] = [Lang::Nb, Lang::Nn, Lang::En];

    /// The BCP 47 tag, for `<html lang>` and `?lang=`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nb => "nb",
            Lang::Nn => "nn",
            Lang::En => "en",
        }
    }

    /// The texts of the pages in this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Nb => &NB,
            Lang::Nn => &NN,
            Lang::En => &EN,
        }
    }

    /// The language a tag names: its primary subtag, so `nb-NO` and `en-GB`
    /// count; `no` (Norwegian, either written form) is Bokmål, the one most
    /// people write.
    fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split('-').next().unwrap_or_default().trim();
        match primary.to_ascii_lowercase().as_str() {
            "nb" | "no" => Some(Lang::Nb),
            "nn" => Some(Lang::Nn),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language of the request: the cookie, else `Accept-Language`, else
    /// English. (The error handler sees headers only, not `?lang=`.)
    pub fn of(headers: &HeaderMap) -> Lang {
        cookie(headers).or_else(|| accepted(headers)).unwrap_or(FALLBACK)
    }
}

/// The best of our languages in `Accept-Language` by q-value (the first
/// on a tie; `q=0` means "not this one"), if it names any.
fn accepted(headers: &HeaderMap) -> Option<Lang> {
    let value = headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
    // By quality, then order; `q=0` means "not this".
    let tags = accept_language::parse_with_quality(value);
    tags.iter().filter(|(_, quality)| *quality > 0.0).find_map(|(tag, _)| Lang::from_tag(tag))
}

/// The language the switch left in [`COOKIE`].
fn cookie(headers: &HeaderMap) -> Option<Lang> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .and_then(query_lang_value)
}

/// `nb`, `nn` or `en` exactly: what the switch and the cookie carry.
fn query_lang_value(value: &str) -> Option<Lang> {
    Lang::ALL.into_iter().find(|lang| lang.code() == value)
}

/// The `lang` query parameter, when it names one of our languages.
fn query_lang(query: Option<&str>) -> Option<Lang> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == "lang")
        .and_then(|(_, value)| query_lang_value(&value))
}

/// A page's language and where it is, for the language switch's links.
#[derive(Debug, Clone)]
pub struct Locale {
    /// The language the page is written in.
    pub lang: Lang,
    /// The page's path and query without `lang`; `None` where asking for the
    /// same URL again would not show the same page (the crate's error pages:
    /// the callback URL is spent).
    here: Option<(String, Vec<(String, String)>)>,
}

impl Locale {
    /// The locale of an answer built from headers alone (the crate's error
    /// handler).
    pub fn from_headers(headers: &HeaderMap) -> Locale {
        Locale { lang: Lang::of(headers), here: None }
    }

    /// English, with no switch: for a page written in English only (the
    /// `metrics` example's, whose subject is the metrics, not the language).
    #[allow(dead_code)] // not every example has such a page
    pub fn english_only() -> Locale {
        Locale { lang: Lang::En, here: None }
    }

    /// The texts of the page.
    pub fn t(&self) -> &'static Texts {
        self.lang.texts()
    }

    /// This page in `lang`, for the language switch; `None` on a page that
    /// cannot be asked for again (then there is no switch).
    pub fn switch_to(&self, lang: Lang) -> Option<String> {
        let (path, query) = self.here.as_ref()?;
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        serializer.extend_pairs(query);
        serializer.append_pair("lang", lang.code());
        Some(format!("{path}?{}", serializer.finish()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Locale {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query();
        let lang = query_lang(query).unwrap_or_else(|| Lang::of(&parts.headers));
        let rest = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .filter(|(key, _)| key != "lang")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Ok(Locale { lang, here: Some((parts.uri.path().to_owned(), rest)) })
    }
}

/// Middleware: remembers a `?lang=` choice in [`COOKIE`] (a preference, not
/// a secret: readable by the page, sent on top-level navigations), and marks
/// HTML answers as varying with the headers that choose their language.
#[allow(dead_code)] // the metrics example's pages are English only
pub async fn remember_lang(request: Request, next: Next) -> Response {
    let chosen = query_lang(request.uri().query());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Some(lang) = chosen {
        let cookie = format!("{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax", lang.code());
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    let html = headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if html {
        headers.append(header::VARY, HeaderValue::from_static("accept-language, cookie"));
    }
    response
}
