//! Every text of the examples' pages, one table per language: Norwegian
//! Bokmål ([`NB`]), Nynorsk ([`NN`]) and English ([`EN`]).
//!
//! A text is trusted markup written here (some hold `<strong>` or a link),
//! never user data; `{name}`-style placeholders are filled by
//! [`fill`](super::fill), which escapes the values. The session warning
//! script and the TV page's script take their texts from `data-` attributes
//! the pages write from this table, so no text lives in JavaScript.

// Each example compiles this module on its own and reads only the texts of
// its own pages.
#![allow(dead_code)]

/// The texts of one language.
#[derive(Debug)]
pub struct Texts {
    /// Shared by every page: layout, error pages, the idle warning.
    pub common: Common,
    /// The `login` example (Nordmann Bank).
    pub login: Login,
    /// The `upfront_permissions` example (Nordmann Sko).
    pub shop: Shop,
    /// The `ciba` example (NordTV).
    pub tv: Tv,
}

/// Layout, error pages and the idle warning.
#[derive(Debug)]
pub struct Common {
    /// The language's own name, in the language switch.
    pub language_name: &'static str,
    /// The accessible name of the language switch.
    pub language_switch: &'static str,
    pub badge: &'static str,
    pub footer: &'static str,
    /// Stands in for a user without a name in the ID token.
    pub unknown_name: &'static str,
    pub name: &'static str,
    pub level_of_assurance: &'static str,
    pub log_out: &'static str,
    pub home: &'static str,
    pub error_code: &'static str,
    pub back_to_start: &'static str,
    pub login_failed: &'static str,
    pub login_cancelled: &'static str,
    /// What the user can make of the crate's error `kind()`s.
    pub explain_cancelled: &'static str,
    pub explain_stale: &'static str,
    pub explain_loa: &'static str,
    pub explain_cross_site: &'static str,
    pub explain_permission: &'static str,
    pub explain_other: &'static str,
    /// The idle warning (`{time}` is the countdown, m:ss).
    pub idle_warning: &'static str,
    pub stay_logged_in: &'static str,
    pub idle_logged_out: &'static str,
    pub log_in_again: &'static str,
}

/// The `login` example's pages.
#[derive(Debug)]
pub struct Login {
    pub welcome: &'static str,
    /// `{name}`, `{loa}`.
    pub logged_in_as: &'static str,
    pub your_details: &'static str,
    pub payout_link: &'static str,
    pub transfer_link: &'static str,
    pub not_logged_in: &'static str,
    pub log_in: &'static str,
    pub me_title: &'static str,
    pub me_lead: &'static str,
    pub subject: &'static str,
    pub payout_title: &'static str,
    pub payout_lead: &'static str,
    /// `{name}`, `{loa}` (inside `<span id="loa">`).
    pub logged_in_at: &'static str,
    pub transfer_title: &'static str,
    pub transfer_lead: &'static str,
    /// `{name}`, `{time}` (Unix seconds).
    pub authenticated_at: &'static str,
}

/// The `upfront_permissions` example's pages.
#[derive(Debug)]
pub struct Shop {
    pub basket_title: &'static str,
    pub basket_lead: &'static str,
    pub order: &'static str,
    pub seller: &'static str,
    pub total: &'static str,
    /// `{amount}`, `{currency}`.
    pub pay: &'static str,
    pub pay_hint: &'static str,
    pub me_title: &'static str,
    pub approved_title: &'static str,
    /// `{name}`, `{loa}`.
    pub approved_by: &'static str,
    pub the_buyer: &'static str,
    pub statement_heading: &'static str,
    pub confirm: &'static str,
    pub back_to_shop: &'static str,
    pub sent_title: &'static str,
    /// `{amount}`, `{currency}`, `{creditor}`.
    pub paid: &'static str,
    pub not_this_basket_title: &'static str,
    pub not_this_basket: &'static str,
    pub no_approval_title: &'static str,
    pub no_approval: &'static str,
}

/// The `ciba` example's pages.
#[derive(Debug)]
pub struct Tv {
    pub title: &'static str,
    pub lead: &'static str,
    pub nnin_label: &'static str,
    pub start: &'static str,
    pub simulator_phone: &'static str,
    pub test_users: &'static str,
    /// The script's texts (`{error}` is the crate's error code).
    pub backup_link: &'static str,
    pub could_not_start: &'static str,
    pub asking: &'static str,
    pub check_binding: &'static str,
    pub not_logged_in: &'static str,
    pub welcome: &'static str,
    /// `{name}`, `{loa}`.
    pub logged_in_on_tv: &'static str,
}

/// Norwegian Bokmål.
pub static NB: Texts = Texts {
    common: Common {
        language_name: "Bokmål",
        language_switch: "Språk",
        badge: "BankID-demo",
        footer: "Et eksempel på axum-bankid. Bare testbrukere – ikke en ekte tjeneste.",
        unknown_name: "ukjent",
        name: "Navn",
        level_of_assurance: "Sikkerhetsnivå",
        log_out: "Logg ut",
        home: "Hjem",
        error_code: "Feilkode:",
        back_to_start: "Tilbake til startsiden",
        login_failed: "Innloggingen med BankID mislyktes",
        login_cancelled: "Innloggingen ble avbrutt",
        explain_cancelled: "Du avbrøt innloggingen i BankID. Du er ikke logget inn, og ingenting ble endret.",
        explain_stale: "Denne innloggingen ble startet for lenge siden, i en annen nettleser, eller er allerede brukt. \
                        Start på nytt.",
        explain_loa: "Denne tjenesten krever et høyere sikkerhetsnivå enn denne innloggingen ga.",
        explain_cross_site: "Forespørselen kom ikke fra dette nettstedet, så den ble avvist.",
        explain_permission: "Godkjenningen du ga, stemmer ikke med det denne tjenesten ba om.",
        explain_other: "Innloggingen med BankID kunne ikke fullføres. Prøv igjen om litt.",
        idle_warning: "Du blir logget ut om {time} fordi du har vært inaktiv.",
        stay_logged_in: "Forbli innlogget",
        idle_logged_out: "Du er logget ut fordi du var inaktiv.",
        log_in_again: "Logg inn igjen",
    },
    login: Login {
        welcome: "Velkommen",
        logged_in_as: "Logget inn som <strong>{name}</strong> ({loa}).",
        your_details: "Dine BankID-opplysninger",
        payout_link: "Utbetalingskonto (LOA 4)",
        transfer_link: "Overføring (nylig innlogging)",
        not_logged_in: "Du er ikke logget inn. Logg inn med BankID for å se kontoen din.",
        log_in: "Logg inn med BankID",
        me_title: "Din BankID-innlogging",
        me_lead: "Du er logget inn med BankID.",
        subject: "Identifikator (sub)",
        payout_title: "Utbetalingskonto",
        payout_lead: "Å endre hvor utbetalinger går, krever BankID Høy (LOA 4): den som bare har en biometrisk \
                      innlogging, skal ikke kunne sende pengene dine et annet sted.",
        logged_in_at: "Logget inn som <strong>{name}</strong> på <span class=\"loa\" id=\"loa\">{loa}</span>.",
        transfer_title: "Overføring",
        transfer_lead: "En overføring krever en innlogging fra de siste fem minuttene, slik at en økt som er \
                        latt åpen på en delt datamaskin, ikke kan flytte penger.",
        authenticated_at: "Logget inn som <strong>{name}</strong>, autentisert <code>{time}</code> (Unix-tid).",
    },
    shop: Shop {
        basket_title: "Handlekurven din",
        basket_lead: "Ett par vinterstøvler.",
        order: "Ordre",
        seller: "Selger",
        total: "Totalt",
        pay: "Betal {amount} {currency}",
        pay_hint: "Du godkjenner betalingen med BankID.",
        me_title: "Din BankID-innlogging",
        approved_title: "Betalingen er godkjent",
        approved_by: "{name} godkjente med BankID på {loa}.",
        the_buyer: "Kjøperen",
        statement_heading: "Det du godkjente",
        confirm: "Bekreft betalingen",
        back_to_shop: "Tilbake til butikken",
        sent_title: "Betalingen er sendt",
        paid: "Betalte {amount} {currency} til {creditor}.",
        not_this_basket_title: "Betalingen er ikke godkjent",
        not_this_basket: "Betalingen du godkjente, gjelder ikke denne handlekurven.",
        no_approval_title: "Ingen godkjent betaling",
        no_approval: "Det finnes ingen ubrukt BankID-godkjenning av denne betalingen; hver godkjenning betaler \
                      én gang. Start betalingen på nytt fra butikken.",
    },
    tv: Tv {
        title: "Logg inn på TV-en med BankID",
        lead: "Skriv inn fødselsnummeret ditt, så ber BankID på telefonen deg om å godkjenne.",
        nnin_label: "Fødselsnummer",
        start: "Logg inn med BankID på telefonen",
        simulator_phone: "Simulert telefon:",
        test_users: "Testbrukere",
        backup_link: "Logg inn med BankID på denne enheten i stedet",
        could_not_start: "Kunne ikke starte ({error}).",
        asking: "Spør BankID …",
        check_binding: "Åpne BankID på telefonen og sjekk at den viser",
        not_logged_in: "Ikke logget inn ({error}).",
        welcome: "Velkommen",
        logged_in_on_tv: "Logget inn på TV-en som {name} ({loa}).",
    },
};

/// Norwegian Nynorsk.
pub static NN: Texts = Texts {
    common: Common {
        language_name: "Nynorsk",
        language_switch: "Språk",
        badge: "BankID-demo",
        footer: "Eit døme på axum-bankid. Berre testbrukarar – ikkje ei ekte teneste.",
        unknown_name: "ukjend",
        name: "Namn",
        level_of_assurance: "Tryggleiksnivå",
        log_out: "Logg ut",
        home: "Heim",
        error_code: "Feilkode:",
        back_to_start: "Tilbake til startsida",
        login_failed: "Innlogginga med BankID gjekk ikkje",
        login_cancelled: "Innlogginga vart avbroten",
        explain_cancelled: "Du avbraut innlogginga i BankID. Du er ikkje logga inn, og ingenting vart endra.",
        explain_stale: "Denne innlogginga vart starta for lenge sidan, i ein annan nettlesar, eller er alt brukt. \
                        Start på nytt.",
        explain_loa: "Denne tenesta krev eit høgare tryggleiksnivå enn denne innlogginga gav.",
        explain_cross_site: "Førespurnaden kom ikkje frå denne nettstaden, så han vart avvist.",
        explain_permission: "Godkjenninga du gav, stemmer ikkje med det denne tenesta bad om.",
        explain_other: "Innlogginga med BankID kunne ikkje fullførast. Prøv igjen om litt.",
        idle_warning: "Du blir logga ut om {time} fordi du har vore inaktiv.",
        stay_logged_in: "Hald fram innlogga",
        idle_logged_out: "Du er logga ut fordi du var inaktiv.",
        log_in_again: "Logg inn igjen",
    },
    login: Login {
        welcome: "Velkomen",
        logged_in_as: "Logga inn som <strong>{name}</strong> ({loa}).",
        your_details: "BankID-opplysningane dine",
        payout_link: "Utbetalingskonto (LOA 4)",
        transfer_link: "Overføring (nyleg innlogging)",
        not_logged_in: "Du er ikkje logga inn. Logg inn med BankID for å sjå kontoen din.",
        log_in: "Logg inn med BankID",
        me_title: "BankID-innlogginga di",
        me_lead: "Du er logga inn med BankID.",
        subject: "Identifikator (sub)",
        payout_title: "Utbetalingskonto",
        payout_lead: "Å endre kvar utbetalingar går, krev BankID Høg (LOA 4): den som berre har ei biometrisk \
                      innlogging, skal ikkje kunne sende pengane dine ein annan stad.",
        logged_in_at: "Logga inn som <strong>{name}</strong> på <span class=\"loa\" id=\"loa\">{loa}</span>.",
        transfer_title: "Overføring",
        transfer_lead: "Ei overføring krev ei innlogging frå dei siste fem minutta, slik at ei økt som er \
                        late open på ei delt datamaskin, ikkje kan flytte pengar.",
        authenticated_at: "Logga inn som <strong>{name}</strong>, autentisert <code>{time}</code> (Unix-tid).",
    },
    shop: Shop {
        basket_title: "Handlekorga di",
        basket_lead: "Eitt par vinterstøvlar.",
        order: "Ordre",
        seller: "Seljar",
        total: "Totalt",
        pay: "Betal {amount} {currency}",
        pay_hint: "Du godkjenner betalinga med BankID.",
        me_title: "BankID-innlogginga di",
        approved_title: "Betalinga er godkjend",
        approved_by: "{name} godkjende med BankID på {loa}.",
        the_buyer: "Kjøparen",
        statement_heading: "Det du godkjende",
        confirm: "Stadfest betalinga",
        back_to_shop: "Tilbake til butikken",
        sent_title: "Betalinga er send",
        paid: "Betalte {amount} {currency} til {creditor}.",
        not_this_basket_title: "Betalinga er ikkje godkjend",
        not_this_basket: "Betalinga du godkjende, gjeld ikkje denne handlekorga.",
        no_approval_title: "Inga godkjend betaling",
        no_approval: "Det finst inga ubrukt BankID-godkjenning av denne betalinga; kvar godkjenning betaler \
                      éin gong. Start betalinga på nytt frå butikken.",
    },
    tv: Tv {
        title: "Logg inn på TV-en med BankID",
        lead: "Skriv inn fødselsnummeret ditt, så bed BankID på telefonen deg om å godkjenne.",
        nnin_label: "Fødselsnummer",
        start: "Logg inn med BankID på telefonen",
        simulator_phone: "Simulert telefon:",
        test_users: "Testbrukarar",
        backup_link: "Logg inn med BankID på denne eininga i staden",
        could_not_start: "Kunne ikkje starte ({error}).",
        asking: "Spør BankID …",
        check_binding: "Opne BankID på telefonen og sjekk at han viser",
        not_logged_in: "Ikkje logga inn ({error}).",
        welcome: "Velkomen",
        logged_in_on_tv: "Logga inn på TV-en som {name} ({loa}).",
    },
};

/// English.
pub static EN: Texts = Texts {
    common: Common {
        language_name: "English",
        language_switch: "Language",
        badge: "BankID demo",
        footer: "An axum-bankid example. Test users only — not a real service.",
        unknown_name: "unknown",
        name: "Name",
        level_of_assurance: "Level of assurance",
        log_out: "Log out",
        home: "Home",
        error_code: "Error code:",
        back_to_start: "Back to the start page",
        login_failed: "BankID login failed",
        login_cancelled: "Login cancelled",
        explain_cancelled: "You cancelled the login in BankID. You are not logged in; nothing was changed.",
        explain_stale: "This login was started too long ago, in another browser, or was already used. \
                        Please start again.",
        explain_loa: "This service needs a higher level of assurance than this login gave.",
        explain_cross_site: "The request did not come from this site, so it was refused.",
        explain_permission: "The approval you gave does not match what this service asked for.",
        explain_other: "The BankID login could not be completed. Please try again in a moment.",
        idle_warning: "You will be logged out in {time} because you have been inactive.",
        stay_logged_in: "Stay logged in",
        idle_logged_out: "You have been logged out because you were inactive.",
        log_in_again: "Log in again",
    },
    login: Login {
        welcome: "Welcome",
        logged_in_as: "Logged in as <strong>{name}</strong> ({loa}).",
        your_details: "Your BankID details",
        payout_link: "Payout account (LOA 4)",
        transfer_link: "Transfer (recent login)",
        not_logged_in: "You are not logged in. Log in with BankID to see your account.",
        log_in: "Log in with BankID",
        me_title: "Your BankID login",
        me_lead: "You are logged in with BankID.",
        subject: "Subject (sub)",
        payout_title: "Payout account",
        payout_lead: "Changing where payouts go needs BankID High (LOA 4): whoever holds a biometric login \
                      alone must not be able to redirect your money.",
        logged_in_at: "Logged in as <strong>{name}</strong> at <span class=\"loa\" id=\"loa\">{loa}</span>.",
        transfer_title: "Transfer",
        transfer_lead: "A transfer needs a login from the last five minutes, so that a session left open on a \
                        shared computer cannot move money.",
        authenticated_at: "Logged in as <strong>{name}</strong>, authenticated at <code>{time}</code> (Unix time).",
    },
    shop: Shop {
        basket_title: "Your basket",
        basket_lead: "One pair of winter boots.",
        order: "Order",
        seller: "Seller",
        total: "Total",
        pay: "Pay {amount} {currency}",
        pay_hint: "You approve the payment with BankID.",
        me_title: "Your BankID login",
        approved_title: "Payment approved",
        approved_by: "{name} approved with BankID at {loa}.",
        the_buyer: "The buyer",
        statement_heading: "The statement you approved",
        confirm: "Confirm payment",
        back_to_shop: "Back to the shop",
        sent_title: "Payment sent",
        paid: "Paid {amount} {currency} to {creditor}.",
        not_this_basket_title: "Payment not approved",
        not_this_basket: "The payment you approved is not this basket.",
        no_approval_title: "No approved payment",
        no_approval: "There is no unused BankID approval of this payment; each approval pays once. \
                      Start the payment again from the shop.",
    },
    tv: Tv {
        title: "Log in on your TV with BankID",
        lead: "Enter your national identity number; BankID on your phone asks you to approve.",
        nnin_label: "National identity number",
        start: "Log in with BankID on my phone",
        simulator_phone: "Simulator phone:",
        test_users: "Test users",
        backup_link: "Log in with BankID on this device instead",
        could_not_start: "Could not start ({error}).",
        asking: "Asking BankID…",
        check_binding: "Open BankID on your phone and check that it shows",
        not_logged_in: "Not logged in ({error}).",
        welcome: "Welcome",
        logged_in_on_tv: "Logged in on the TV as {name} ({loa}).",
    },
};
