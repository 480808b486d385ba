//! The languages of the crate's own pages (Norwegian Bokmål, Nynorsk and
//! English) and of BankID's, chosen from the browser's `Accept-Language`.

use axum::http::{HeaderMap, header};

/// A language the crate's pages are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Language {
    /// Norwegian Bokmål (`nb`; also what `no` asks for).
    Nb,
    /// Norwegian Nynorsk (`nn`).
    Nn,
    /// English (`en`).
    En,
}

impl Language {
    /// The BCP 47 tag, for `<html lang>`.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Language::Nb => "nb",
            Language::Nn => "nn",
            Language::En => "en",
        }
    }

    /// The first of these languages the request prefers (by quality, then
    /// order), if it names any.
    pub(crate) fn preferred(headers: &HeaderMap) -> Option<Language> {
        let accepted = headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
        // Sorted by quality, stable for equal ones; `q=0` means "not this" (RFC 9110 §12.4.2).
        let tags = accept_language::parse_with_quality(accepted);
        tags.iter().filter(|(_, quality)| *quality > 0.0).find_map(|(tag, _)| Language::of_tag(tag))
    }

    fn of_tag(tag: &str) -> Option<Language> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "nb" | "no" => Some(Language::Nb),
            "nn" => Some(Language::Nn),
            "en" => Some(Language::En),
            _ => None,
        }
    }
}

/// `ui_locales` for BankID's pages in the language the browser prefers.
/// BankID documents `nb` (or `no`) and `en`; it has no Nynorsk, so a
/// Nynorsk reader gets Bokmål, the nearer of the two.
pub(crate) fn bankid_ui_locales(headers: &HeaderMap) -> Option<String> {
    let tag = match Language::preferred(headers)? {
        Language::Nb | Language::Nn => "nb",
        Language::En => "en",
    };
    Some(tag.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_first_of_ours_by_quality_wins() {
        let cases = [
            ("nb-NO,nb;q=0.9,en;q=0.8", Some(Language::Nb)),
            ("nn-NO, en;q=0.5", Some(Language::Nn)),
            ("no", Some(Language::Nb)),
            ("de-DE, en-GB;q=0.7, nb;q=0.3", Some(Language::En)),
            ("en;q=0.2, nn;q=0.9", Some(Language::Nn)),
            ("nb;q=0, en;q=0.5", Some(Language::En)),
            ("nn;q=0", None),
            ("de, fr", None),
            ("", None),
        ];
        for (header, expected) in cases {
            assert_eq!(Language::preferred(&accepting(header)), expected, "{header}");
        }
        assert_eq!(Language::preferred(&HeaderMap::new()), None);
    }

    #[test]
    fn bankid_gets_bokmal_for_nynorsk_and_nothing_it_does_not_document() {
        assert_eq!(bankid_ui_locales(&accepting("nn-NO")).as_deref(), Some("nb"));
        assert_eq!(bankid_ui_locales(&accepting("en-US,en")).as_deref(), Some("en"));
        assert_eq!(bankid_ui_locales(&accepting("sv-SE")), None);
    }
}
