//! Known secret formats hidden behind one layer of base64.
//!
//! `echo -n "$KEY" | base64` is a common way to "protect" a value; it protects nothing. A value
//! made only of base64 characters (standard or URL-safe, padding optional, line breaks
//! allowed) is decoded once, and the format detectors run on the result, but only when the
//! decoded bytes are printable UTF-8: random key material decodes to binary and is skipped
//! at once, so this costs little for the values that are not encoded text.

use crate::formats::{self, Format};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);

/// The shortest encoded value worth decoding: base64 of the shortest detectable secret.
const MIN_ENCODED_LEN: usize = 16;
/// The longest value decoded (a base64 PEM key or kubeconfig fits easily).
const MAX_ENCODED_LEN: usize = 256 * 1024;

/// The known secret format found in the base64 decoding of `value`, if any.
pub(crate) fn detect_base64(value: &str) -> Option<Format> {
    let v = value.trim();
    if !(MIN_ENCODED_LEN..=MAX_ENCODED_LEN).contains(&v.len()) {
        return None;
    }
    let (mut standard, mut url_safe, mut line_breaks) = (false, false, false);
    for &c in v.as_bytes() {
        match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'=' => {}
            b'+' | b'/' => standard = true,
            b'-' | b'_' => url_safe = true,
            b'\n' | b'\r' => line_breaks = true,
            _ => return None,
        }
    }
    if standard && url_safe {
        return None;
    }
    let engine = if url_safe { &URL_SAFE } else { &STANDARD };
    let decoded = if line_breaks {
        let joined: Vec<u8> = v.bytes().filter(|c| !matches!(c, b'\n' | b'\r')).collect();
        engine.decode(joined)
    } else {
        engine.decode(v)
    }
    .ok()?;
    let text = std::str::from_utf8(&decoded).ok()?;
    let printable = text
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'));
    if printable {
        formats::detect(text)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::tests::samples;

    fn sample(format: Format) -> String {
        samples()
            .into_iter()
            .find(|(f, _)| *f == format)
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    #[test]
    fn every_format_is_found_after_one_base64_encoding() {
        for (format, value) in samples() {
            assert_eq!(
                detect_base64(&STANDARD.encode(&value)),
                Some(format),
                "{value}"
            );
            assert_eq!(
                detect_base64(&URL_SAFE.encode(&value)),
                Some(format),
                "{value}"
            );
        }
    }

    #[test]
    fn wrapped_base64_is_decoded() {
        let pem = sample(Format::PrivateKey);
        let encoded = STANDARD.encode(&pem);
        let wrapped: Vec<String> = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        assert_eq!(detect_base64(&wrapped.join("\n")), Some(Format::PrivateKey));
    }

    #[test]
    fn only_one_layer_and_only_printable_text() {
        let twice = STANDARD.encode(STANDARD.encode(sample(Format::AwsAccessKeyId)));
        assert_eq!(detect_base64(&twice), None);
        let binary = STANDARD.encode([0u8, 159, 146, 150, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        assert_eq!(detect_base64(&binary), None);
        assert_eq!(detect_base64("not base64 at all!"), None);
        assert_eq!(
            detect_base64(&STANDARD.encode("just some configuration text")),
            None
        );
    }
}
