//! The values the program takes, parsed one way whether they come from a
//! flag (`--user`, `--fault`, `--signing-alg`, `--bind`) or from the
//! `--config` file, so that both are equally strict. Each error says what is
//! wrong with the value; the caller adds where it came from (the flag, or
//! the file and key).

use std::net::IpAddr;
use std::time::Duration;

use axum_bankid_simulator::{Fault, SigningAlgorithm, TestUser};
use serde::Deserialize;

/// The faults without a value, by their kebab-case names.
pub(crate) const UNIT_FAULTS: &[(&str, Fault)] = &[
    ("wrong-audience", Fault::WrongAudience),
    ("extra-audience", Fault::ExtraAudience),
    ("wrong-azp", Fault::WrongAzp),
    ("wrong-issuer", Fault::WrongIssuer),
    ("expired", Fault::Expired),
    ("issued-in-future", Fault::IssuedInFuture),
    ("bad-signature", Fault::BadSignature),
    ("alg-none", Fault::AlgNone),
    ("rotated-keys", Fault::RotatedKeys),
    ("discovery-unavailable", Fault::DiscoveryUnavailable),
    ("unknown-kid", Fault::UnknownKid),
    ("wrong-nonce", Fault::WrongNonce),
    ("missing-nonce", Fault::MissingNonce),
    ("missing-acr", Fault::MissingAcr),
    ("low-acr", Fault::LowAcr),
    ("wrong-callback-iss", Fault::WrongCallbackIss),
    ("token-endpoint-error", Fault::TokenEndpointError),
    ("token-endpoint-server-error", Fault::TokenEndpointServerError),
    ("wrong-permission-digest", Fault::WrongPermissionDigest),
    ("missing-permission-digest", Fault::MissingPermissionDigest),
    ("different-permission-type", Fault::DifferentPermissionType),
    ("expired-request-uri", Fault::ExpiredRequestUri),
    ("reusable-request-uri", Fault::ReusableRequestUri),
    ("user-exists-error", Fault::UserExistsError),
    ("grant-wrong-key", Fault::GrantWrongKey),
    ("grant-signed-with-id-token-key", Fault::GrantSignedWithIdTokenKey),
    ("user-exists-false", Fault::UserExistsFalse),
    ("bearer-refused", Fault::BearerRefused),
    ("register-refused", Fault::RegisterRefused),
    ("backchannel-refused", Fault::BackchannelRefused),
    ("ciba-id-token-signed-by-oidc-key", Fault::CibaIdTokenSignedByOidcKey),
    ("jwks-unavailable", Fault::JwksUnavailable),
    ("not-yet-valid", Fault::NotYetValid),
    ("chain-to-foreign-root", Fault::ChainToForeignRoot),
    ("expired-certificate", Fault::ExpiredCertificate),
    ("certificate-for-other-key", Fault::CertificateForOtherKey),
    ("no-certificate-chain", Fault::NoCertificateChain),
];

/// The faults that take a value, `name=<value>`.
pub(crate) const VALUE_FAULTS: &[&str] =
    &["slow=<ms>", "slow-jwks=<ms>", "slow-token-answer=<ms>", "grant-not-ready=<n>"];

/// A fault by name (`low-acr`, `Wrong_Audience`) or `name=<value>`.
pub(crate) fn parse_fault(spec: &str) -> Result<Fault, String> {
    let name = spec.trim().to_ascii_lowercase().replace('_', "-");
    if let Some((_, fault)) = UNIT_FAULTS.iter().find(|(n, _)| *n == name) {
        return Ok(fault.clone());
    }
    let number = |value: &str| value.parse::<u64>().map_err(|_| format!("{spec}: {value:?} is not a number"));
    match name.split_once('=') {
        Some(("slow", ms)) => Ok(Fault::Slow(Duration::from_millis(number(ms)?))),
        Some(("slow-jwks", ms)) => Ok(Fault::SlowJwks(Duration::from_millis(number(ms)?))),
        Some(("slow-token-answer", ms)) => Ok(Fault::SlowTokenAnswer(Duration::from_millis(number(ms)?))),
        Some(("grant-not-ready", n)) => {
            let n = number(n)?;
            Ok(Fault::GrantNotReady(u32::try_from(n).map_err(|_| format!("{spec}: too large"))?))
        }
        _ => Err(format!("unknown fault {spec:?} (see --list-faults)")),
    }
}

/// `ES256` or `RS256`, in any case.
pub(crate) fn parse_signing_alg(name: &str) -> Result<SigningAlgorithm, String> {
    SigningAlgorithm::from_name(name).ok_or_else(|| format!("{name:?} is not ES256 or RS256"))
}

/// The address both providers listen on: an IP address, no port (the
/// ports have their own settings).
pub(crate) fn parse_bind(ip: &str) -> Result<IpAddr, String> {
    ip.parse().map_err(|_| format!("{ip:?} is not an IP address (e.g. 127.0.0.1 or 0.0.0.0)"))
}

/// The keys of a user, in `--user` and in the config file's `[[users]]`;
/// the first four are required.
pub(crate) const USER_KEYS: [&str; 7] = ["id", "name", "nnin", "birthdate", "method", "loa", "bib"];

/// A test user as given, before [`TestUser::builder`]'s rules: a `--user`
/// spec or a `[[users]]` table of the config file (same keys).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserSpec {
    id: String,
    name: String,
    nnin: String,
    birthdate: String,
    method: Option<String>,
    loa: Option<u8>,
    bib: Option<bool>,
}

impl UserSpec {
    /// Parses `key=value` pairs separated by commas (see `--help`),
    /// strictly: every key known and given once, the four required ones
    /// present, `loa` a number, `bib` `true` or `false`.
    pub(crate) fn parse(spec: &str) -> Result<Self, String> {
        let mut values: [Option<&str>; USER_KEYS.len()] = [None; USER_KEYS.len()];
        for pair in spec.split(',') {
            let (key, value) = pair.split_once('=').ok_or_else(|| format!("{pair:?} is not key=value"))?;
            let slot = USER_KEYS
                .iter()
                .position(|known| *known == key)
                .ok_or_else(|| format!("unknown key {key:?} (known: {})", USER_KEYS.join(", ")))?;
            if values[slot].replace(value).is_some() {
                return Err(format!("key {key:?} is given twice"));
            }
        }
        let required = |slot: usize| {
            values[slot].map(str::to_owned).ok_or_else(|| format!("key {:?} is missing", USER_KEYS[slot]))
        };
        let loa = values[5].map(|loa| loa.parse().map_err(|_| format!("loa {loa:?} is not 3 or 4"))).transpose()?;
        let bib = match values[6] {
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => return Err(format!("bib {other:?} is not true or false")),
            None => None,
        };
        Ok(UserSpec {
            id: required(0)?,
            name: required(1)?,
            nnin: required(2)?,
            birthdate: required(3)?,
            method: values[4].map(str::to_owned),
            loa,
            bib,
        })
    }

    /// The user, by the rules of [`TestUser::builder`]. The error names the
    /// key and, except for the nnin, the value.
    pub(crate) fn build(self) -> Result<TestUser, String> {
        let mut builder = TestUser::builder(self.id, self.name, self.nnin, self.birthdate);
        if let Some(method) = self.method {
            builder = builder.method(method);
        }
        if let Some(loa) = self.loa {
            builder = builder.loa(loa);
        }
        if let Some(bib) = self.bib {
            builder = builder.bib_enabled(bib);
        }
        builder.build().map_err(|error| error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_by_name_and_value() {
        assert_eq!(parse_fault("rotated-keys"), Ok(Fault::RotatedKeys));
        assert_eq!(parse_fault("Wrong_Audience"), Ok(Fault::WrongAudience));
        assert_eq!(parse_fault("slow=250"), Ok(Fault::Slow(Duration::from_millis(250))));
        assert_eq!(parse_fault("grant-not-ready=2"), Ok(Fault::GrantNotReady(2)));
        assert_eq!(parse_fault("slow=soon"), Err(r#"slow=soon: "soon" is not a number"#.to_owned()));
        assert_eq!(
            parse_fault("no-such-fault"),
            Err(r#"unknown fault "no-such-fault" (see --list-faults)"#.to_owned())
        );
    }

    #[test]
    fn the_certificate_faults_have_names() {
        assert_eq!(parse_fault("chain-to-foreign-root"), Ok(Fault::ChainToForeignRoot));
        assert_eq!(parse_fault("expired-certificate"), Ok(Fault::ExpiredCertificate));
        assert_eq!(parse_fault("certificate-for-other-key"), Ok(Fault::CertificateForOtherKey));
        assert_eq!(parse_fault("no-certificate-chain"), Ok(Fault::NoCertificateChain));
    }

    #[test]
    fn a_bind_address_is_an_ip_without_port() {
        assert_eq!(parse_bind("0.0.0.0").map(|ip| ip.is_unspecified()), Ok(true));
        assert_eq!(parse_bind("::1").map(|ip| ip.is_loopback()), Ok(true));
        assert_eq!(
            parse_bind("127.0.0.1:4000"),
            Err(r#""127.0.0.1:4000" is not an IP address (e.g. 127.0.0.1 or 0.0.0.0)"#.to_owned())
        );
    }
}
