//! What a YAML scalar means, exactly as kubectl reads it: kubectl decodes manifests through
//! `sigs.k8s.io/yaml`, that is go-yaml v2's YAML 1.1 resolution (`yes`/`on`/`y` are booleans,
//! `0644` is octal, underscores vanish from numbers) followed by a JSON round trip in which a
//! whole float becomes an integer. Keys become strings as `sigs.k8s.io/yaml` writes them.
//!
//! The rules are go-yaml v2's `resolve` (resolve.go) and Go's `strconv` base-0 integer syntax;
//! `crates/manifests/tests/kubectl.rs` compares them with the installed kubectl.

use serde_json::{Number, Value};

/// A resolved scalar, before it becomes JSON (keys need the distinctions JSON loses).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer above `i64::MAX`: Go keeps it as `uint64`.
    Uint(u64),
    Float(f64),
    Str(String),
}

/// Why a scalar or key has no JSON form; the messages never quote the scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScalarError {
    /// `.inf`, `-.inf`, `.nan`: JSON cannot carry them, and kubectl refuses the file.
    NonFinite,
    /// A value tagged `!!int`, `!!bool`, ... that is not one.
    TagMismatch(&'static str),
    /// `!!binary` that is not base64.
    Binary,
    /// A null key (`~: x`, `? : x`), which kubectl refuses.
    NullKey,
    /// An integer key above `i64::MAX`, which kubectl refuses.
    HugeKey,
}

impl ScalarError {
    pub(crate) fn message(self) -> String {
        match self {
            ScalarError::NonFinite => "a value is .inf, -.inf or .nan, which JSON cannot carry (kubectl refuses the file too); quote it to make it a string".to_owned(),
            ScalarError::TagMismatch(tag) => format!("a value tagged !!{tag} is not a valid {tag}; fix the value or drop the tag"),
            ScalarError::Binary => "a !!binary value is not valid base64".to_owned(),
            ScalarError::NullKey => "a mapping key is null, which a Kubernetes object cannot have (kubectl refuses it too); quote the key".to_owned(),
            ScalarError::HugeKey => "a mapping key is an integer larger than 9223372036854775807, which kubectl refuses; quote the key".to_owned(),
        }
    }
}

/// The tags go-yaml v2 resolves by value; every other tag leaves the scalar a string.
const CORE: &str = "tag:yaml.org,2002:";

/// A scalar event's meaning: `tag` is its YAML-namespace tag suffix (`int`, `str`, ...), `Some("")`
/// for any other tag, `None` for none.
pub(crate) fn scalar(text: &str, plain: bool, tag: Option<&str>) -> Result<Scalar, ScalarError> {
    let Some(tag) = tag else {
        return Ok(if plain {
            resolve_plain(text)
        } else {
            Scalar::Str(text.to_owned())
        });
    };
    let resolved = resolve_plain(text);
    let fits = match (tag, &resolved) {
        ("str" | "timestamp", _) => return Ok(Scalar::Str(text.to_owned())),
        ("binary", _) => return binary(text),
        ("null", Scalar::Null) | ("bool", Scalar::Bool(_)) => true,
        ("int", Scalar::Int(_) | Scalar::Uint(_)) => true,
        ("float", Scalar::Float(_)) => true,
        ("float", Scalar::Int(i)) => return Ok(Scalar::Float(*i as f64)),
        ("float", Scalar::Uint(u)) => return Ok(Scalar::Float(*u as f64)),
        ("null", _) => return Err(ScalarError::TagMismatch("null")),
        ("bool", _) => return Err(ScalarError::TagMismatch("bool")),
        ("int", _) => return Err(ScalarError::TagMismatch("int")),
        ("float", _) => return Err(ScalarError::TagMismatch("float")),
        _ => false,
    };
    Ok(if fits {
        resolved
    } else {
        Scalar::Str(text.to_owned())
    })
}

/// The YAML-namespace suffix of a tag given as handle and suffix (`!!int` → `int`).
pub(crate) fn core_tag(handle: &str, suffix: &str) -> String {
    match CORE.strip_prefix(handle) {
        Some(rest) => suffix.strip_prefix(rest).unwrap_or_default().to_owned(),
        None => String::new(),
    }
}

fn binary(text: &str) -> Result<Scalar, ScalarError> {
    use base64::Engine as _;
    let compact: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| ScalarError::Binary)?;
    // Go's JSON encoder writes invalid UTF-8 as U+FFFD.
    Ok(Scalar::Str(String::from_utf8_lossy(&bytes).into_owned()))
}

/// go-yaml v2's `resolve` for an untagged plain scalar.
pub(crate) fn resolve_plain(text: &str) -> Scalar {
    let Some(&first) = text.as_bytes().first() else {
        return Scalar::Null;
    };
    match first {
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => {
            keyword(text).unwrap_or_else(|| Scalar::Str(text.to_owned()))
        }
        b'.' => keyword(text)
            .or_else(|| go_float(text).map(Scalar::Float))
            .unwrap_or_else(|| Scalar::Str(text.to_owned())),
        b'0'..=b'9' | b'+' | b'-' => keyword(text)
            .or_else(|| number(text))
            .unwrap_or_else(|| Scalar::Str(text.to_owned())),
        _ => Scalar::Str(text.to_owned()),
    }
}

fn keyword(text: &str) -> Option<Scalar> {
    Some(match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Scalar::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Scalar::Bool(false)
        }
        "~" | "null" | "Null" | "NULL" => Scalar::Null,
        ".nan" | ".NaN" | ".NAN" => Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Scalar::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Scalar::Float(f64::NEG_INFINITY),
        _ => return None,
    })
}

/// Digits or a sign first: an integer in Go's base-0 syntax once every `_` is dropped, else a
/// float of YAML's shape.
fn number(text: &str) -> Option<Scalar> {
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    let (negative, unsigned) = match plain.as_bytes().first() {
        Some(b'-') => (true, &plain[1..]),
        Some(b'+') => (false, &plain[1..]),
        _ => (false, plain.as_str()),
    };
    if let Some(magnitude) = go_uint(unsigned) {
        if negative {
            if magnitude <= 1u64 << 63 {
                return Some(Scalar::Int((magnitude as i64).wrapping_neg()));
            }
        } else if let Ok(i) = i64::try_from(magnitude) {
            return Some(Scalar::Int(i));
        } else if !plain.starts_with('+') {
            return Some(Scalar::Uint(magnitude));
        }
    }
    (yaml_style_float(&plain))
        .then(|| go_float(&plain))
        .flatten()
        .map(Scalar::Float)
}

/// Go's `strconv.ParseUint(s, 0, 64)` on an unsigned spelling: `0x`, `0o`, `0b` prefixes
/// (either case), a leading `0` for octal, else decimal.
fn go_uint(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let (digits, radix) = if b.len() >= 2 && b[0] == b'0' {
        match b[1] {
            b'x' | b'X' => (&s[2..], 16),
            b'o' | b'O' => (&s[2..], 8),
            b'b' | b'B' => (&s[2..], 2),
            _ => (&s[1..], 8),
        }
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.bytes().all(|c| (c as char).is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, go-yaml v2's float shape.
fn yaml_style_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)))
}

/// Go's `strconv.ParseFloat` for the spellings that reach it: out of range is an error there,
/// so the scalar stays a string.
fn go_float(s: &str) -> Option<f64> {
    let valid = s
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
    let f: f64 = s.parse().ok().filter(|_| valid)?;
    f.is_finite().then_some(f)
}

/// The JSON value kubectl sends for a scalar: a `uint64` becomes a float, and a whole float an
/// integer (Go's JSON encoder prints `1e3` as `1000`, which the API machinery reads as an int64).
pub(crate) fn to_json(scalar: Scalar) -> Result<Value, ScalarError> {
    Ok(match scalar {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(i) => Value::from(i),
        Scalar::Uint(u) => float(u as f64)?,
        Scalar::Float(f) => float(f)?,
        Scalar::Str(s) => Value::String(s),
    })
}

/// A float as kubectl sends it: an integer when Go prints it without a fraction or exponent
/// and it fits an int64, else a float. Rust's `Display` prints the same shortest digits.
pub(crate) fn float(f: f64) -> Result<Value, ScalarError> {
    if !f.is_finite() {
        return Err(ScalarError::NonFinite);
    }
    if f.fract() == 0.0
        && f.abs() < 1e21
        && let Ok(i) = format!("{f}").parse::<i64>()
    {
        return Ok(Value::from(i));
    }
    Ok(Number::from_f64(f).map_or(Value::Null, Value::Number))
}

/// A mapping key as `sigs.k8s.io/yaml` writes it (`yes` → `"true"`, `1.5` → `"1.5"`).
pub(crate) fn key(scalar: Scalar) -> Result<String, ScalarError> {
    match scalar {
        Scalar::Str(s) => Ok(s),
        Scalar::Bool(b) => Ok(b.to_string()),
        Scalar::Int(i) => Ok(i.to_string()),
        Scalar::Float(f) => Ok(go_float_key(f)),
        Scalar::Null => Err(ScalarError::NullKey),
        Scalar::Uint(_) => Err(ScalarError::HugeKey),
    }
}

/// A key that came from an alias (its value is already JSON).
pub(crate) fn key_from_json(value: &Value) -> Option<Result<String, ScalarError>> {
    Some(match value {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(match n.as_i64() {
            Some(i) => i.to_string(),
            None => go_float_key(n.as_f64().unwrap_or_default()),
        }),
        Value::Null => Err(ScalarError::NullKey),
        Value::Array(_) | Value::Object(_) => return None,
    })
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`, with YAML's spellings of the non-finite values.
fn go_float_key(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_owned();
    }
    let short = format!("{:e}", f as f32);
    let (mantissa, exp) = short.split_once('e').unwrap_or((&short, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    format!("{}", f as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn plain(text: &str) -> Value {
        to_json(resolve_plain(text)).unwrap()
    }

    #[rstest]
    #[case::yes("yes", Value::Bool(true))]
    #[case::on("On", Value::Bool(true))]
    #[case::y("y", Value::Bool(true))]
    #[case::n("N", Value::Bool(false))]
    #[case::off("OFF", Value::Bool(false))]
    #[case::odd_case_is_a_string("tRUE", Value::from("tRUE"))]
    #[case::tilde("~", Value::Null)]
    #[case::empty("", Value::Null)]
    #[case::legacy_octal("0644", Value::from(420))]
    #[case::go_octal("0o17", Value::from(15))]
    #[case::negative_octal("-0o17", Value::from(-15))]
    #[case::hex("0x1f", Value::from(31))]
    #[case::upper_hex("0X1F", Value::from(31))]
    #[case::binary("0b101", Value::from(5))]
    #[case::underscores("1_000", Value::from(1000))]
    #[case::double_underscore("1__0", Value::from(10))]
    #[case::octal_with_underscore("0_1_0", Value::from(8))]
    #[case::nine_is_not_octal_but_a_float("09", Value::from(9))]
    #[case::exponent("1e3", Value::from(1000))]
    #[case::fraction("1.5", serde_json::json!(1.5))]
    #[case::whole_fraction("1.0", Value::from(1))]
    #[case::negative_zero("-0.0", Value::from(0))]
    #[case::u64_becomes_a_float("18446744073709551615", serde_json::json!(18446744073709551615.0))]
    #[case::i64_max("9223372036854775807", Value::from(i64::MAX))]
    #[case::i64_min("-9223372036854775808", Value::from(i64::MIN))]
    #[case::float_out_of_range_is_a_string("1e400", Value::from("1e400"))]
    #[case::hex_overflow_is_a_string("0x1ffffffffffffffff", Value::from("0x1ffffffffffffffff"))]
    #[case::underscored_float("685_230.15", serde_json::json!(685230.15))]
    #[case::dot_e(".e3", Value::from(".e3"))]
    #[case::empty_prefix("0o", Value::from("0o"))]
    #[case::sexagesimal_is_a_string("1:20", Value::from("1:20"))]
    #[case::date_is_a_string("2001-12-14", Value::from("2001-12-14"))]
    #[case::sign_alone("+", Value::from("+"))]
    #[case::bad_binary("0b2", Value::from("0b2"))]
    fn plain_scalars_resolve_as_go_yaml_v2(#[case] text: &str, #[case] expected: Value) {
        assert_eq!(plain(text), expected, "{text}");
    }

    #[test]
    fn non_finite_floats_are_refused() {
        assert_eq!(to_json(resolve_plain(".inf")), Err(ScalarError::NonFinite));
        assert_eq!(to_json(resolve_plain(".nan")), Err(ScalarError::NonFinite));
    }

    #[rstest]
    #[case::str_keeps_text(Some("str"), "0644", Ok(Scalar::Str("0644".into())))]
    #[case::int_from_quoted(Some("int"), "12", Ok(Scalar::Int(12)))]
    #[case::float_from_int(Some("float"), "3", Ok(Scalar::Float(3.0)))]
    #[case::bool_from_yes(Some("bool"), "yes", Ok(Scalar::Bool(true)))]
    #[case::int_mismatch(Some("int"), "abc", Err(ScalarError::TagMismatch("int")))]
    #[case::custom_tag_is_a_string(Some(""), "yes", Ok(Scalar::Str("yes".into())))]
    #[case::binary(Some("binary"), "aGVs\nbG8=", Ok(Scalar::Str("hello".into())))]
    #[case::bad_binary(Some("binary"), "!!!", Err(ScalarError::Binary))]
    fn tags(
        #[case] tag: Option<&str>,
        #[case] text: &str,
        #[case] expected: Result<Scalar, ScalarError>,
    ) {
        assert_eq!(scalar(text, true, tag), expected);
    }

    #[rstest]
    #[case::bool("yes", Ok("true"))]
    #[case::int("1", Ok("1"))]
    #[case::float("1.5", Ok("1.5"))]
    #[case::whole_float("1e3", Ok("1000"))]
    #[case::small_float("0.00001", Ok("1e-05"))]
    #[case::large_float("1234567.0", Ok("1.234567e+06"))]
    #[case::null("~", Err(ScalarError::NullKey))]
    #[case::huge("18446744073709551615", Err(ScalarError::HugeKey))]
    fn keys(#[case] text: &str, #[case] expected: Result<&str, ScalarError>) {
        assert_eq!(key(resolve_plain(text)), expected.map(str::to_owned));
    }

    #[test]
    fn core_tags_are_named_by_suffix() {
        assert_eq!(core_tag("tag:yaml.org,2002:", "int"), "int");
        assert_eq!(core_tag("!", "custom"), "");
    }
}
