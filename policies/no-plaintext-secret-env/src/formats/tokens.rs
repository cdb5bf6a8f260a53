//! Credential formats that are not Azure's: PEM private keys, passwords in URLs, JWTs, and
//! AWS, GitHub, Slack and Google keys.

use super::{Format, is_b64, is_b64url, run, starts_word};
use crate::shape::{entropy, is_placeholder_secret, is_uniform};

/// `-----BEGIN [LABEL ]PRIVATE KEY[ BLOCK]-----` followed by a key body (at least 32 base64
/// characters within the next 200 bytes, so `-----BEGIN PRIVATE KEY-----\n...` is not flagged).
pub(super) fn private_key(v: &str) -> Option<Format> {
    let b = v.as_bytes();
    v.match_indices("-----BEGIN ").find_map(|(i, m)| {
        let start = i + m.len();
        let label_len = run(b, start, 48, |c| {
            c.is_ascii_uppercase() || c.is_ascii_digit() || c == b' '
        });
        let label = &b[start..start + label_len];
        let after = b.get(start + label_len..)?;
        let is_private = label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK");
        let body = after.strip_prefix(b"-----")?;
        let body_chars = body
            .iter()
            .take(200)
            .filter(|&&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
            .count();
        (is_private && body_chars >= 32).then_some(Format::PrivateKey)
    })
}

/// `scheme://user:password@host` with a literal password (not a placeholder or reference
/// such as `$(DB_PASSWORD)`); `scheme://user@host` carries no secret and passes.
pub(super) fn url_credentials(v: &str) -> Option<Format> {
    let b = v.as_bytes();
    v.match_indices("://").find_map(|(i, _)| {
        let scheme_len = b[..i]
            .iter()
            .rev()
            .take(32)
            .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-'))
            .count();
        if scheme_len == 0 || !b[i - scheme_len].is_ascii_alphabetic() {
            return None;
        }
        let rest = &v[i + 3..];
        // `?` and `#` do not end the authority here: unencoded passwords often contain them.
        let authority_end = rest
            .find(|c: char| matches!(c, '/' | '"' | '\'' | '<' | '>') || c.is_whitespace())
            .unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let (userinfo, host) = authority.rsplit_once('@')?;
        let (_, password) = userinfo.split_once(':')?;
        (!host.is_empty() && !password.is_empty() && !is_placeholder_secret(password))
            .then_some(Format::UrlCredentials)
    })
}

/// `eyJ<header>.eyJ<payload>.<signature>`: base64url JSON header and payload of at least
/// 10 characters each and a signature of at least 10.
pub(super) fn jwt(v: &str) -> Option<Format> {
    let b = v.as_bytes();
    let mut from = 0;
    while let Some(offset) = v.get(from..)?.find("eyJ") {
        let start = from + offset;
        let header = run(b, start, usize::MAX, is_b64url);
        let end = start + header;
        let payload_start = end + 1;
        if header >= 10 && b.get(end) == Some(&b'.') && b.get(payload_start..)?.starts_with(b"eyJ")
        {
            let payload = run(b, payload_start, usize::MAX, is_b64url);
            let sig_start = payload_start + payload;
            if payload >= 10
                && b.get(sig_start) == Some(&b'.')
                && run(b, sig_start + 1, 10, is_b64url) >= 10
            {
                return Some(Format::Jwt);
            }
        }
        // Any later `eyJ` inside this run would end at the same place and fail the same way.
        from = end.max(start + 3);
    }
    None
}

/// `AKIA`/`ASIA` + 16 uppercase letters or digits, as a whole word (case-sensitive), with at
/// least one digit, so upper-case words such as `ASIAPACIFICSOUTHEAST` are not keys.
pub(super) fn aws_access_key_id(v: &str) -> Option<Format> {
    let b = v.as_bytes();
    ["AKIA", "ASIA"].iter().find_map(|prefix| {
        v.match_indices(prefix).find_map(|(i, _)| {
            let upper_alnum = |c: u8| c.is_ascii_uppercase() || c.is_ascii_digit();
            let len = run(b, i + 4, 17, upper_alnum);
            let body = &b[i + 4..i + 4 + len];
            (len == 16
                && starts_word(b, i, |c| c.is_ascii_alphanumeric())
                && b.get(i + 20).is_none_or(|c| !c.is_ascii_alphanumeric())
                && body.iter().any(u8::is_ascii_digit)
                && !is_uniform(body))
            .then_some(Format::AwsAccessKeyId)
        })
    })
}

/// An AWS secret access key: 40 base64 characters, not uniform, entropy ≥ 3.5. The shape is
/// too generic to look for everywhere, so it is only tried on variables named like one
/// (see [`crate::names::is_aws_secret_key_name`]).
pub(crate) fn aws_secret_access_key(v: &str) -> Option<Format> {
    let b = v.trim().as_bytes();
    (b.len() == 40 && b.iter().all(|&c| is_b64(c)) && entropy(b) >= 3.5)
        .then_some(Format::AwsSecretAccessKey)
}

/// `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` + 36 alphanumerics, or `github_pat_` + 82 word characters.
pub(super) fn github_token(v: &str) -> Option<Format> {
    let b = v.as_bytes();
    let classic = v.match_indices("gh").any(|(i, _)| {
        matches!(b.get(i + 2), Some(b'p' | b'o' | b'u' | b's' | b'r'))
            && b.get(i + 3) == Some(&b'_')
            && run(b, i + 4, 36, |c| c.is_ascii_alphanumeric()) == 36
            && !is_uniform(&b[i + 4..i + 40])
    });
    let fine_grained = v.match_indices("github_pat_").any(|(i, m)| {
        run(b, i + m.len(), 82, |c| {
            c.is_ascii_alphanumeric() || c == b'_'
        }) == 82
    });
    (classic || fine_grained).then_some(Format::GitHubToken)
}

/// Slack tokens `xox[baprs]-<digits>…`: at least 20 characters after the prefix, starting
/// with a numeric ID.
pub(super) fn slack_token(v: &str) -> Option<Format> {
    let b = v.as_bytes();
    v.match_indices("xox")
        .any(|(i, _)| {
            matches!(b.get(i + 3), Some(b'b' | b'a' | b'p' | b'r' | b's'))
                && b.get(i + 4) == Some(&b'-')
                && run(b, i + 5, 20, |c| c.is_ascii_alphanumeric() || c == b'-') == 20
                && run(b, i + 5, 8, |c| c.is_ascii_digit()) == 8
        })
        .then_some(Format::SlackToken)
}

/// Slack incoming-webhook URLs `hooks.slack.com/{services,workflows,triggers}/…` with a
/// non-trivial secret path.
pub(super) fn slack_webhook(v: &str) -> Option<Format> {
    v.match_indices("hooks.slack.com/").find_map(|(i, m)| {
        let rest = &v[i + m.len()..];
        let path = ["services/", "workflows/", "triggers/"]
            .iter()
            .find_map(|p| rest.strip_prefix(p))?;
        let len = run(path.as_bytes(), 0, 128, |c| {
            c.is_ascii_alphanumeric() || matches!(c, b'/' | b'_' | b'-')
        });
        let last_segment = path[..len].rsplit('/').next().unwrap_or("");
        (len >= 24
            && path[..len].contains('/')
            && last_segment.len() >= 16
            && !is_uniform(last_segment.as_bytes()))
        .then_some(Format::SlackWebhook)
    })
}

/// `AIza` + 35 base64url characters.
pub(super) fn google_api_key(v: &str) -> Option<Format> {
    let b = v.as_bytes();
    v.match_indices("AIza")
        .any(|(i, _)| run(b, i + 4, 35, is_b64url) == 35)
        .then_some(Format::GoogleApiKey)
}
