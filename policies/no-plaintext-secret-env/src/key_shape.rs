//! The shapes of real service keys, for variables named like keys (`COSMOS_KEY`).
//!
//! A name ending in `KEY` is too common to trust alone (`CACHE_KEY`, `SIGNING_KEY_ID`), so
//! [`crate::env`] rejects it only when the value has the shape Azure and other services give
//! their keys:
//!
//! | shape                 | rule                                                        | examples |
//! |-----------------------|-------------------------------------------------------------|----------|
//! | long base64           | ≥ 32 characters of base64 or base64url (padding aside), with lower, upper and digit, entropy ≥ 3.5 bits/char, not words joined by `-`/`_`/`.` | Cosmos DB and Storage keys (88), Event Hubs / Service Bus keys (44), Functions keys (56), AI Search keys (52) |
//! | long hex              | ≥ 32 hex digits in one case, with a digit and a letter, entropy ≥ 3 | Azure OpenAI, Speech and other Azure AI services keys (32) |
//! | key connection string | `k=v;k=v` with a literal `…Key`, `…Secret`, `Password`, `Pwd`, `SharedAccessSignature` or `Token` value (not a GUID, not a placeholder) | `AccountEndpoint=…;AccountKey=…` |
//!
//! Known token formats (JWTs, Entra client secrets, …) are found before this, whatever the
//! name, by [`crate::formats`].

use crate::shape::{entropy, is_placeholder_secret, is_uniform};
use aksid_policy_common::ids;

/// Shortest key body, in characters: a 128-bit key is 32 hex digits.
const MIN_KEY_LEN: usize = 32;

/// Which key shape a value has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyShape {
    LongBase64,
    LongHex,
    ConnectionString,
}

impl KeyShape {
    /// The shape, as the end of "value has the shape of …".
    pub(crate) fn describe(self) -> &'static str {
        match self {
            KeyShape::LongBase64 => "an access key (long base64)",
            KeyShape::LongHex => "an access key (long hex)",
            KeyShape::ConnectionString => "a connection string with a key",
        }
    }
}

/// The key shape of `value`, if it has one.
pub(crate) fn key_shape(value: &str) -> Option<KeyShape> {
    let v = value.trim();
    if v.len() < MIN_KEY_LEN || is_placeholder_secret(v) {
        return None;
    }
    if is_long_hex(v) {
        Some(KeyShape::LongHex)
    } else if is_long_base64(v) {
        Some(KeyShape::LongBase64)
    } else if is_key_connection_string(v) {
        Some(KeyShape::ConnectionString)
    } else {
        None
    }
}

fn is_long_hex(v: &str) -> bool {
    let b = v.as_bytes();
    let lower = b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    let upper = b.iter().all(|c| matches!(c, b'0'..=b'9' | b'A'..=b'F'));
    (lower || upper)
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().any(u8::is_ascii_alphabetic)
        && !is_uniform(b)
        && entropy(b) >= 3.0
}

fn is_long_base64(v: &str) -> bool {
    let body = v.trim_end_matches('=');
    let b = body.as_bytes();
    let padding = v.len() - body.len();
    b.len() >= MIN_KEY_LEN
        && padding <= 2
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_'))
        && b.iter().any(u8::is_ascii_lowercase)
        && b.iter().any(u8::is_ascii_uppercase)
        && b.iter().any(u8::is_ascii_digit)
        && entropy(b) >= 3.5
        && !is_joined_words(body)
}

/// Words joined by separators (`MyCompany-Orders-Service-Key-2024`): a name, not a key.
/// Random base64url has separators too, but its segments have digits inside and runs of
/// capitals, so they are not words.
fn is_joined_words(v: &str) -> bool {
    let is_word = |segment: &str| {
        let letters = segment
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .as_bytes();
        letters.iter().all(u8::is_ascii_alphabetic)
            && (letters.iter().all(u8::is_ascii_uppercase)
                || !letters
                    .windows(2)
                    .any(|w| w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase()))
    };
    v.split(['-', '_', '.']).count() >= 3 && v.split(['-', '_', '.']).all(is_word)
}

/// Keys of a connection string whose literal value is a credential.
fn is_credential_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    (k.ends_with("key") && k != "instrumentationkey")
        || k.ends_with("secret")
        || matches!(
            k.as_str(),
            "password" | "pwd" | "sharedaccesssignature" | "token"
        )
}

fn is_key_connection_string(v: &str) -> bool {
    let pairs = || {
        v.split(';')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, val)| (k.trim(), val.trim()))
    };
    pairs().count() >= 2
        && pairs().any(|(key, value)| {
            is_credential_key(key)
                && !value.is_empty()
                && !ids::is_guid(value)
                && !is_placeholder_secret(value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::cosmos_key(
        "C2y6yDjf5R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==",
        Some(KeyShape::LongBase64)
    )]
    #[case::event_hubs_key(
        "q8nR4fP2vW9kL3mX7tY1zB6cD0eF5gH8iJ2kL4mN6oP=",
        Some(KeyShape::LongBase64)
    )]
    #[case::functions_key_base64url(
        "u3Kf_9aZ-Qm2Lx7Vb1Nc8Rt4Ys6Wd0Pe5Hg3Jk1Mn7Bv2Cx9Zq4Ar8St6Uy0==",
        Some(KeyShape::LongBase64)
    )]
    #[case::search_admin_key(
        "Xq7Lm2Nb9Vc4Kd8Rf1Tg6Hy3Ju0Ip5Ok7Lz2Wx9Qs4Ea8Dc1Fv6Gb3",
        Some(KeyShape::LongBase64)
    )]
    #[case::openai_key("3f9c2a7b1e8d4f60a5c9b2e7d1f4a8c6", Some(KeyShape::LongHex))]
    #[case::speech_key_upper("B7E24C9A1F3D8E6B0C5A2F9D7E1B4C8A", Some(KeyShape::LongHex))]
    #[case::cosmos_connection_string(
        "AccountEndpoint=https://cosmos-shop.documents.azure.com:443/;AccountKey=shortkey1;",
        Some(KeyShape::ConnectionString)
    )]
    #[case::too_short("3f9c2a7b1e8d4f60a5c9b2e7d1f4a8", None)]
    #[case::uniform_hex("00000000000000000000000000000000", None)]
    #[case::joined_words("MyCompany-Orders-Service-Cache-Key-2024", None)]
    #[case::placeholder("<your-cosmos-db-primary-key-from-the-portal>", None)]
    #[case::reference("$(COSMOS_KEY_FROM_SECRET_STORE_CSI_DRIVER)", None)]
    #[case::path("/mnt/secrets-store/cosmos-primary-key-value", None)]
    #[case::upper_snake_placeholder("PLACEHOLDER_COSMOS_PRIMARY_KEY_VALUE", None)]
    #[case::lowercase_only("thisisalongvaluewithoutanycapitalsornumbers", None)]
    #[case::app_insights_connection_string(
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/",
        None
    )]
    #[case::connection_string_key_reference(
        "AccountEndpoint=https://cosmos-shop.documents.azure.com:443/;AccountKey=${COSMOS_KEY}",
        None
    )]
    #[case::prose("The primary key of the Cosmos DB account, from the portal", None)]
    fn recognises_key_shapes(#[case] value: &str, #[case] shape: Option<KeyShape>) {
        assert_eq!(key_shape(value), shape, "{value}");
    }
}
