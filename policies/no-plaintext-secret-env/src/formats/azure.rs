//! Azure credential formats: connection strings with keys or passwords, SAS signatures and
//! Microsoft Entra client secrets.

use super::{Format, is_b64, run, starts_word};
use crate::shape::{entropy, is_placeholder_secret, is_uniform};

/// A key that looks generated: base64, at least 20 characters, not uniform, entropy ≥ 3.
fn is_key_like(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() >= 20 && b.iter().all(|&c| is_b64(c)) && !is_uniform(b) && entropy(b) >= 3.0
}

/// `key=value;key=value` (or `,`-separated) connection strings (Azure Storage, Cosmos DB,
/// Service Bus, Event Hubs, Azure Cache for Redis, SQL/ADO.NET/ODBC/JDBC): an `AccountKey` or
/// `SharedAccessKey` that looks generated, or a literal `Password`/`Pwd` next to at least one
/// other setting.
pub(super) fn connection_string(v: &str) -> Option<Format> {
    if !v.contains('=') {
        return None;
    }
    let pairs = || {
        v.split([';', ','])
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, val)| (k.trim(), val.trim()))
    };
    let has = |key: &str| pairs().any(|(k, _)| k.eq_ignore_ascii_case(key));
    pairs().find_map(|(key, value)| {
        if key.eq_ignore_ascii_case("AccountKey") && is_key_like(value) {
            Some(if has("AccountEndpoint") {
                Format::CosmosConnectionString
            } else {
                Format::StorageConnectionString
            })
        } else if key.eq_ignore_ascii_case("SharedAccessKey") && is_key_like(value) {
            Some(Format::SharedAccessKeyConnectionString)
        } else if (key.eq_ignore_ascii_case("Password") || key.eq_ignore_ascii_case("Pwd"))
            && !value.is_empty()
            && !is_placeholder_secret(value)
            && pairs().count() >= 2
        {
            Some(Format::PasswordConnectionString)
        } else {
            None
        }
    })
}

/// A SAS query parameter `sig=` (at the start or after `?`, `&`, `;` or a space) carrying a
/// signature: at least 20 URL-safe/percent-encoded base64 characters with entropy ≥ 3.
pub(super) fn sas_token(v: &str) -> Option<Format> {
    let b = v.as_bytes();
    v.match_indices("sig=").find_map(|(i, _)| {
        let boundary = i == 0 || matches!(b[i - 1], b'?' | b'&' | b';' | b' ' | b'"' | b'\'');
        let len = run(b, i + 4, 256, |c| {
            is_b64(c) || matches!(c, b'%' | b'-' | b'_')
        });
        let sig = &b[i + 4..i + 4 + len];
        (boundary && len >= 20 && !is_uniform(sig) && entropy(sig) >= 3.0)
            .then_some(Format::SasToken)
    })
}

fn is_entra_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'~' | b'.')
}

/// The Entra client secret shape (as gitleaks' `azure-ad-client-secret`):
/// `[a-zA-Z0-9_~.]{3}[0-9]Q~[a-zA-Z0-9_~.-]{31,34}`, not inside a longer run of such
/// characters, with entropy ≥ 3 (so `bP88Q~xxxx…` is not flagged).
pub(super) fn entra_client_secret(v: &str) -> Option<Format> {
    let b = v.as_bytes();
    v.match_indices("Q~").find_map(|(i, _)| {
        let start = i.checked_sub(4)?;
        let prefix_ok =
            b[start..i - 1].iter().all(|&c| is_entra_char(c)) && b[i - 1].is_ascii_digit();
        let left_ok = starts_word(b, start, |c| {
            is_entra_char(c) || matches!(c, b'-' | b'+' | b'/')
        });
        let tail = run(b, i + 2, 35, |c| is_entra_char(c) || c == b'-');
        let right_ok = b
            .get(i + 2 + tail)
            .is_none_or(|c| !matches!(c, b'+' | b'/' | b'='));
        let candidate = &b[start..i + 2 + tail];
        (prefix_ok && left_ok && right_ok && (31..=34).contains(&tail) && entropy(candidate) >= 3.0)
            .then_some(Format::EntraClientSecret)
    })
}
