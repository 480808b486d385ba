//! The default error page's words in Norwegian Bokmål, Nynorsk and English
//! (the language the request's `Accept-Language` prefers; English when it
//! names none of them). The JSON body keeps English `message`s: API
//! clients read the stable `error` code, people read the page.
//!
//! Failures are grouped by what the user can do about them, so the page
//! says that in plain words; the stable code under it is what support asks
//! for.

use super::Error;
use crate::language::Language;

/// The page's fixed words.
pub(super) struct PageText {
    pub(super) heading: &'static str,
    pub(super) code_label: &'static str,
    pub(super) back: &'static str,
}

pub(super) fn page_text(language: Language) -> PageText {
    match language {
        Language::Nb => PageText {
            heading: "BankID-innloggingen mislyktes",
            code_label: "Feilkode",
            back: "Tilbake til startsiden",
        },
        Language::Nn => {
            PageText { heading: "BankID-innlogginga mislukkast", code_label: "Feilkode", back: "Tilbake til startsida" }
        }
        Language::En => {
            PageText { heading: "BankID login failed", code_label: "Error code", back: "Back to the start page" }
        }
    }
}

/// What the user is told, in Norwegian (English has the error's own
/// public message, see `render.rs`).
pub(super) fn norwegian_message(err: &Error, nynorsk: bool) -> &'static str {
    let pick = |nb, nn| if nynorsk { nn } else { nb };
    match err {
        Error::AccessDenied { .. } => pick("Innloggingen ble avbrutt.", "Innlogginga vart avbroten."),
        Error::LoginRefused { .. } => {
            pick("Tjenesten godtok ikke denne innloggingen.", "Tenesta godtok ikkje denne innlogginga.")
        }
        Error::LoginExpired => {
            pick("Innloggingen tok for lang tid. Start den på nytt.", "Innlogginga tok for lang tid. Start ho på nytt.")
        }
        Error::MalformedCallback
        | Error::MissingState
        | Error::UnknownState
        | Error::NoLoginCookie
        | Error::CallbackIssuerMismatch
        | Error::MissingCallbackIssuer
        | Error::MissingCode => pick(
            "Innloggingen kunne ikke fullføres i denne nettleseren. Start den på nytt.",
            "Innlogginga kunne ikkje fullførast i denne nettlesaren. Start ho på nytt.",
        ),
        Error::Provider { .. } => {
            pick("BankID svarte med en feil. Prøv igjen.", "BankID svarte med ein feil. Prøv igjen.")
        }
        Error::Check(_) => pick(
            "Innloggingen besto ikke sikkerhetskontrollene. Prøv igjen.",
            "Innlogginga stod ikkje sikkerheitskontrollane. Prøv igjen.",
        ),
        Error::InvalidStepUp
        | Error::LevelBelowMinimum { .. }
        | Error::InvalidLoginOption { .. }
        | Error::IdentityHintNeedsPar => {
            pick("Innloggingen ble startet med ugyldige valg.", "Innlogginga vart starta med ugyldige val.")
        }
        Error::StepUpRequired { .. } | Error::Unauthenticated => {
            pick("Du må logge inn med BankID.", "Du må logge inn med BankID.")
        }
        Error::CrossSiteRequest => pick(
            "Forespørselen kom fra et annet nettsted og ble avvist.",
            "Førespurnaden kom frå ein annan nettstad og vart avvist.",
        ),
        Error::Permission(_) => {
            pick("Godkjenningen finnes ikke eller er allerede brukt.", "Godkjenninga finst ikkje eller er alt brukt.")
        }
        Error::TokenExchange(_) | Error::PushedAuthorization(_) | Error::PermissionApi(_) => pick(
            "BankID-innloggingen kunne ikke fullføres. Prøv igjen.",
            "BankID-innlogginga kunne ikkje fullførast. Prøv igjen.",
        ),
        Error::Session(_) | Error::Misconfigured(_) | Error::ProviderUnavailable | Error::MissingCapability { .. } => {
            pick(
                "BankID-innlogging er midlertidig utilgjengelig. Prøv igjen om litt.",
                "BankID-innlogging er mellombels utilgjengeleg. Prøv igjen om litt.",
            )
        }
    }
}
