//! Upfront permissions: statements every login asks for. The builder method
//! that takes a [`Permission`] lives here, beside the trait, so that the
//! configuration keeps only data (the type and the statement bytes) and
//! never imports this folder; [`upfront_items`] makes that data into the
//! items a login sends.

use super::statement::{Permission, PermissionItem, assert_upfront_type};
use crate::config::{BankIdConfig, BankIdConfigBuilder, UpfrontStatement};

impl BankIdConfigBuilder {
    /// A permission requested on every login (e.g. read access to accounts).
    /// Repeatable. Default: none. Requires PAR: with
    /// [`ParMode::Disabled`](crate::ParMode::Disabled),
    /// [`build`](Self::build) fails (`Invalid { field: "par" }`), and so it
    /// does when the statement cannot be serialised
    /// (`Invalid { field: "upfront_permission" }`).
    pub fn upfront_permission<P: Permission>(self, permission: &P) -> Self {
        assert_upfront_type::<P>();
        let statement = serde_json::to_vec(permission)
            .map(|statement| UpfrontStatement { r#type: P::TYPE.to_owned(), statement })
            .map_err(|_| ());
        self.upfront_statement(statement)
    }
}

/// The configured upfront permissions as the RAR items a login sends first,
/// with their digests over the configured [`DigestInput`](super::DigestInput).
/// Made per login rather than kept: the relying party that could hold them
/// sits below this folder, and an item costs one base64 encoding and one
/// SHA-256 of a short statement beside a login's PAR round trip.
pub(crate) fn upfront_items(config: &BankIdConfig) -> Vec<PermissionItem> {
    let item = |upfront: &UpfrontStatement| {
        PermissionItem::from_statement(&upfront.r#type, &upfront.statement, config.digest_input)
    };
    config.upfront_permissions.iter().map(item).collect()
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::permission::statement::Transport;
    use crate::permission::{DigestInput, permission_digest};

    #[derive(Serialize, Deserialize)]
    struct Card {
        card: String,
    }

    impl Permission for Card {
        const TYPE: &'static str = "card.v1";
    }

    fn config(builder: BankIdConfigBuilder) -> BankIdConfig {
        builder
            .issuer("https://auth.current.bankid.no/auth/realms/current")
            .client_id("client")
            .client_secret("s3cret")
            .redirect_uri("https://app.example/auth/bankid/callback")
            .build()
            .unwrap()
    }

    #[test]
    fn every_login_sends_the_statements_in_the_order_given() {
        let builder = BankIdConfig::builder()
            .upfront_permission(&Card { card: "1".into() })
            .upfront_permission(&Card { card: "2".into() });
        let items = upfront_items(&config(builder));
        let statements: Vec<&str> = items.iter().map(|i| i.encoded.as_str()).collect();
        // base64url of {"card":"1"} and {"card":"2"}
        assert_eq!(statements, ["eyJjYXJkIjoiMSJ9", "eyJjYXJkIjoiMiJ9"]);
        assert!(items.iter().all(|i| i.r#type == "card.v1" && i.transport == Transport::Rar));
        assert_eq!(items[0].digest, permission_digest(br#"{"card":"1"}"#));
    }

    #[test]
    fn the_digest_input_applies_whenever_it_is_set() {
        let builder = BankIdConfig::builder()
            .upfront_permission(&Card { card: "1".into() })
            .permission_digest_input(DigestInput::EncodedPermission);
        let items = upfront_items(&config(builder));
        assert_eq!(items[0].digest, permission_digest(items[0].encoded.as_bytes()), "set after the permission");
    }
}
