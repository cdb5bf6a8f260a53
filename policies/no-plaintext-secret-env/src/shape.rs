//! Value shapes: what a literal looks like, without knowing what it is.
//!
//! The name rule ([`crate::names`]) only says a variable is *meant* to hold a secret; this
//! module decides whether its literal value looks like one. The heuristic, in order:
//!
//! | value                                                              | verdict        |
//! |--------------------------------------------------------------------|----------------|
//! | shorter than `minLength` (default 8) after trimming                | not a secret   |
//! | a reference or placeholder: `$(VAR)`, `${VAR}`, `$VAR`, `{{ … }}`, `<…>`, `changeme`, `your_…`, `****` | not a secret |
//! | a boolean (`true`, `off`, …) or a number (`8000`, `-1.5`)           | not a secret   |
//! | a path (`/…`, `./…`, `~/…`, `C:\…`) or a URL (`scheme://…`)          | not a secret   |
//! | a GUID (client, tenant and object IDs are not secrets)             | not a secret   |
//! | prose (contains whitespace, after an optional `Bearer `/`Basic ` scheme) | not a secret |
//! | an identifier: lowercase or uppercase words (each optionally ending in digits) joined by `-` `_` `.` `/` `:` (`my-app-secret`, `PLACEHOLDER_KEY`, `kv/prod/db`) | not a secret |
//! | two or more character classes (lower, upper, digit, symbol) and Shannon entropy ≥ 2.5 bits/char | **secret** |
//! | one character class, at least 16 characters and entropy ≥ 3.7 bits/char | **secret** |
//! | anything else (`abcdefgh`, `aaaaaaa1`)                             | not a secret   |
//!
//! Credentials *inside* URLs are the job of the URL detector in [`crate::formats`].
//!
//! Password names need no such guess: [`is_not_a_password`] only sets apart the literals that
//! cannot be a password (references, placeholders, paths, URLs, numbers, durations, booleans).

use aksid_policy_common::ids;

/// Placeholder words that carry no secret (matched case-insensitively anywhere in the value).
const PLACEHOLDER_WORDS: [&str; 14] = [
    "changeme",
    "change-me",
    "change_me",
    "changeit",
    "replaceme",
    "replace-me",
    "replace_me",
    "placeholder",
    "your-",
    "your_",
    "yourpassword",
    "example",
    "redacted",
    "dummy",
];

/// Whole values that are a word standing in for a secret, not a secret.
const STAND_IN_VALUES: [&str; 10] = [
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "token",
    "null",
    "none",
    "nil",
    "undefined",
];

/// True for a value that is a reference, template placeholder, masked value or stand-in word:
/// it holds no secret even where a secret is expected.
pub(crate) fn is_placeholder_secret(value: &str) -> bool {
    let v = value.trim();
    ids::is_placeholder(v)
        || v.contains("$(")
        || v.contains("${")
        || is_masked(v.as_bytes())
        || STAND_IN_VALUES.iter().any(|w| v.eq_ignore_ascii_case(w))
        || PLACEHOLDER_WORDS
            .iter()
            .any(|w| contains_ignore_ascii_case(v.as_bytes(), w.as_bytes()))
}

/// True when every byte is the same, or the value is made only of masking characters.
fn is_masked(b: &[u8]) -> bool {
    is_uniform(b)
        || b.iter()
            .all(|c| matches!(c, b'*' | b'x' | b'X' | b'#' | b'.'))
}

/// True when all bytes are equal (including the empty slice).
pub(crate) fn is_uniform(b: &[u8]) -> bool {
    b.first().is_none_or(|first| b.iter().all(|c| c == first))
}

/// Case-insensitive (ASCII) substring test.
pub(crate) fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Shannon entropy of the bytes, in bits per byte.
pub(crate) fn entropy(b: &[u8]) -> f64 {
    if b.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &c in b {
        counts[usize::from(c)] += 1;
    }
    let len = b.len() as f64;
    counts
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = f64::from(n) / len;
            -p * p.log2()
        })
        .sum()
}

/// How many of the classes lowercase, uppercase, digit and other occur.
fn character_classes(b: &[u8]) -> usize {
    let (mut lower, mut upper, mut digit, mut other) = (false, false, false, false);
    for &c in b {
        match c {
            b'a'..=b'z' => lower = true,
            b'A'..=b'Z' => upper = true,
            b'0'..=b'9' => digit = true,
            _ => other = true,
        }
    }
    [lower, upper, digit, other]
        .into_iter()
        .filter(|&x| x)
        .count()
}

fn is_boolean(v: &str) -> bool {
    [
        "true", "false", "yes", "no", "on", "off", "enabled", "disabled",
    ]
    .iter()
    .any(|w| v.eq_ignore_ascii_case(w))
}

fn is_number(v: &str) -> bool {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

fn is_path(v: &str) -> bool {
    let b = v.as_bytes();
    v.starts_with('/')
        || v.starts_with("./")
        || v.starts_with("../")
        || v.starts_with("~/")
        || (b.len() > 2
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'\\' | b'/'))
}

/// Words in one case (optionally ending in digits) joined by separators: names of things,
/// not secrets. At least one separator is required, so `password123` is not an identifier.
fn is_identifier(v: &str) -> bool {
    let separators = |c: char| matches!(c, '-' | '_' | '.' | '/' | ':');
    if !v.contains(separators) {
        return false;
    }
    v.split(separators).all(|segment| {
        let letters = segment.trim_end_matches(|c: char| c.is_ascii_digit());
        letters.bytes().all(|b| b.is_ascii_lowercase())
            || letters.bytes().all(|b| b.is_ascii_uppercase())
    })
}

/// Strips an HTTP authorization scheme (`Bearer `, `Basic `, `Token `) so the credential
/// after it is judged, not the prose-looking pair.
fn strip_auth_scheme(v: &str) -> &str {
    for scheme in ["bearer ", "basic ", "token "] {
        if v.len() > scheme.len()
            && v.as_bytes()[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
        {
            return v[scheme.len()..].trim_start();
        }
    }
    v
}

/// Go-style durations (`30s`, `1h30m`, `500ms`, `7d`) and ISO 8601 ones (`PT5M`, `P1D`).
fn is_duration(v: &str) -> bool {
    if let Some(iso) = v.strip_prefix('P') {
        return is_iso_duration(iso);
    }
    let mut rest = v.trim_start_matches(['+', '-']).as_bytes();
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let number = rest
            .iter()
            .take_while(|b| b.is_ascii_digit() || **b == b'.')
            .count();
        let unit = rest[number..]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic() || **b == 0xC2 || **b == 0xB5)
            .count();
        let known = matches!(
            &rest[number..number + unit],
            b"ns" | b"us" | b"\xC2\xB5s" | b"ms" | b"s" | b"m" | b"h" | b"d" | b"w"
        );
        if number == 0 || !known {
            return false;
        }
        rest = &rest[number + unit..];
    }
    true
}

/// The part after `P` of an ISO 8601 duration: `1DT12H`, `T5M`, `0.5Y`.
fn is_iso_duration(rest: &str) -> bool {
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let components = |part: &str, designators: &[u8]| -> Option<usize> {
        let mut count = 0;
        let mut number = false;
        for b in part.bytes() {
            if b.is_ascii_digit() || b == b'.' {
                number = true;
            } else if number && designators.contains(&b) {
                (number, count) = (false, count + 1);
            } else {
                return None;
            }
        }
        (!number).then_some(count)
    };
    let in_time = rest.contains('T');
    match (components(date, b"YMWD"), components(time, b"HMS")) {
        (Some(d), Some(t)) => d + t > 0 && (!in_time || t > 0),
        _ => false,
    }
}

/// `scheme://…`: a URL. Credentials in it are [`crate::formats`]' job, which runs first.
fn is_url(v: &str) -> bool {
    v.split_once("://").is_some_and(|(scheme, _)| {
        scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
    })
}

/// True when a literal under a password-like name holds no password: empty, a reference
/// (`$(VAR)`, `${VAR}`, `$VAR`), a template or `<…>` placeholder, a path, a URL (without
/// credentials: those are found first), a number, a duration or a boolean. Everything else is
/// the password, however short or common: `password`, `admin`, `hunter2` and `changeme` too.
pub(crate) fn is_not_a_password(value: &str) -> bool {
    let v = value.trim();
    v.is_empty()
        || ids::is_placeholder(v)
        || is_path(v)
        || is_url(v)
        || is_number(v)
        || is_duration(v)
        || is_boolean(v)
}

/// True when a literal value of a variable named like a secret looks like a real secret
/// (see the module table). `min_length` counts characters.
pub(crate) fn looks_like_secret(value: &str, min_length: usize) -> bool {
    let v = strip_auth_scheme(value.trim());
    if v.chars().count() < min_length
        || is_placeholder_secret(v)
        || is_boolean(v)
        || is_number(v)
        || is_path(v)
        || v.contains("://")
        || ids::is_guid(v)
        || v.bytes().any(|b| b.is_ascii_whitespace())
        || is_identifier(v)
    {
        return false;
    }
    let b = v.as_bytes();
    if character_classes(b) >= 2 {
        entropy(b) >= 2.5
    } else {
        v.len() >= 16 && entropy(b) >= 3.7
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::mixed_password("S3cr3tP@ssw0rd!2024xyz", true)]
    #[case::weak_but_real_password("password123", true)]
    #[case::eight_chars_mixed("Passw0rd", true)]
    #[case::hex_api_key("9f86d081884c7d659a2feaa0c55ad015", true)]
    #[case::bearer_token("Bearer Zm9vYmFyYmF6cXV4cXV1eA", true)]
    #[case::long_random_lowercase("qzkvhwpxjmtrbnlfydgs", true)]
    #[case::short("s3cr3t!", false)]
    #[case::empty("", false)]
    #[case::port("8000", false)]
    #[case::negative_float("-12.5", false)]
    #[case::boolean("Disabled", false)]
    #[case::dollar_paren_reference("$(GITLAB_PRIVATE_TOKEN)", false)]
    #[case::dollar_brace_reference("${KEYVAULT_SECRET_NAME}", false)]
    #[case::angle_placeholder("<IDENTITY_CLIENT_ID>", false)]
    #[case::helm_template("{{ .Values.password }}", false)]
    #[case::changeme("ChangeMe123!", false)]
    #[case::your_prefix("your_api_key_here", false)]
    #[case::masked("**********", false)]
    #[case::stand_in_word("PASSWORD", false)]
    #[case::absolute_path("/mnt/secrets-store/db-password", false)]
    #[case::windows_path("C:\\secrets\\db.txt", false)]
    #[case::url_without_credentials("https://myvault.vault.azure.net/", false)]
    #[case::guid("b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b", false)]
    #[case::prose("Enter the password:", false)]
    #[case::kebab_identifier("my-app-secret-v2", false)]
    #[case::upper_snake_identifier("PLACEHOLDER_STORAGE_KEY", false)]
    #[case::secret_manager_path("kv/prod/db-password", false)]
    #[case::single_word("supersecret", false)]
    #[case::low_entropy("aaaaaaa1", false)]
    fn judges_whether_a_value_looks_like_a_secret(#[case] value: &str, #[case] secret: bool) {
        assert_eq!(looks_like_secret(value, 8), secret, "{value}");
    }

    #[rstest]
    #[case::the_word_password("password", false)]
    #[case::admin("admin", false)]
    #[case::short("hunter2", false)]
    #[case::changeme_is_a_password("changeme", false)]
    #[case::masked_is_still_a_literal("********", false)]
    #[case::stand_in_word("secret", false)]
    #[case::passphrase_with_spaces("correct horse battery staple", false)]
    #[case::unit_lookalike("5mins", false)]
    #[case::empty("", true)]
    #[case::blank("  ", true)]
    #[case::dollar_paren("$(DB_PASSWORD_FROM_SECRET)", true)]
    #[case::dollar_brace("${DB_PASSWORD}", true)]
    #[case::dollar_name("$DB_PASSWORD", true)]
    #[case::angle_placeholder("<admin-password>", true)]
    #[case::helm("{{ .Values.password }}", true)]
    #[case::path("/mnt/secrets-store/db-password", true)]
    #[case::url("https://kv-shop.vault.azure.net/secrets/db-password", true)]
    #[case::number("0", true)]
    #[case::go_duration("1h30m", true)]
    #[case::milliseconds("500ms", true)]
    #[case::days("90d", true)]
    #[case::iso_duration("PT5M", true)]
    #[case::iso_date_and_time("P1DT12H", true)]
    #[case::iso_lookalike("Pwd5d", false)]
    #[case::iso_without_components("PT", false)]
    #[case::boolean("false", true)]
    fn tells_passwords_from_other_literals(#[case] value: &str, #[case] not_a_password: bool) {
        assert_eq!(is_not_a_password(value), not_a_password, "{value}");
    }

    #[test]
    fn min_length_is_a_character_count() {
        assert!(!looks_like_secret("Pässw0rd", 9));
        assert!(looks_like_secret("Pässw0rd!", 9));
        assert!(looks_like_secret("a1B2c3", 6));
    }

    #[test]
    fn entropy_and_uniformity() {
        assert_eq!(entropy(b""), 0.0);
        assert_eq!(entropy(b"aaaa"), 0.0);
        assert!((entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!(is_uniform(b"") && is_uniform(b"xxx") && !is_uniform(b"xxy"));
        assert!(contains_ignore_ascii_case(b"xxChangeMExx", b"changeme"));
        assert!(!contains_ignore_ascii_case(b"abc", b""));
    }
}
