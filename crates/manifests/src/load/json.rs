//! JSON input: a stream of one or more top-level values (each one a "document"), read as kubectl
//! sends them (a key written twice is an error, as the API server's strict field validation
//! makes it; numbers as Go's JSON round trip leaves them), and the lines of array elements, found
//! by a small scanner since serde_json reports no positions of values.

use super::resolve;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::fmt;

/// One top-level JSON value with its text and 1-based starting line.
pub(crate) struct JsonDocument<'a> {
    pub value: Value,
    pub text: &'a str,
    pub line: usize,
}

/// Why a JSON stream stopped, located in the file.
pub(crate) struct JsonError {
    pub kind: JsonErrorKind,
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// The classes of [`JsonError`] the loader reports differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonErrorKind {
    /// Not JSON (the loader then tries YAML flow style).
    Syntax,
    /// Valid JSON that kubectl would not send: a duplicate key, a number out of range.
    Invalid,
    /// Nested deeper than serde_json's limit.
    TooDeep,
}

/// Counts lines forward from a known position, so a stream of many values stays linear.
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: usize,
}

impl LineCounter<'_> {
    fn line_at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        if offset >= self.offset {
            self.line += self.text[self.offset..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.offset = offset;
        }
        self.line
    }
}

/// serde_json stops at 128 levels before a visitor runs; nesting this deep is reported as such.
const DEEP: usize = 127;

/// What the value visitors saw when they failed: the message to give instead of serde_json's.
#[derive(Default)]
struct Failure {
    invalid: Option<String>,
    deepest: usize,
}

thread_local! {
    /// The failure of the value being parsed on this thread (serde_json's stream iterator takes a
    /// type, not a seed, so the visitors report here).
    static FAILURE: RefCell<Failure> = RefCell::new(Failure::default());
}

/// One top-level value, built by [`Seed`].
struct TopLevel(Value);

impl<'de> de::Deserialize<'de> for TopLevel {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        FAILURE.with(|failure| {
            let seed = Seed {
                path: &Path::Root,
                depth: 1,
                failure,
            };
            seed.deserialize(d).map(TopLevel)
        })
    }
}

/// Parses every top-level value; stops at the first error, keeping the values before it.
pub(crate) fn parse_stream(text: &str) -> (Vec<JsonDocument<'_>>, Option<JsonError>) {
    let mut docs = Vec::new();
    let mut lines = LineCounter {
        text: text.as_bytes(),
        offset: 0,
        line: 1,
    };
    FAILURE.with(|f| f.take());
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<TopLevel>();
    loop {
        let before = stream.byte_offset();
        match stream.next() {
            None => return (docs, None),
            Some(Ok(TopLevel(value))) => {
                let end = stream.byte_offset();
                let start = before + text[before..end].len() - text[before..end].trim_start().len();
                docs.push(JsonDocument {
                    value,
                    text: &text[start..end],
                    line: lines.line_at(start),
                });
            }
            Some(Err(e)) => return (docs, Some(json_error(&e, FAILURE.with(|f| f.take())))),
        }
    }
}

fn json_error(e: &serde_json::Error, failure: Failure) -> JsonError {
    let (kind, message) = if let Some(message) = failure.invalid {
        (JsonErrorKind::Invalid, message)
    } else if failure.deepest >= DEEP {
        (
            JsonErrorKind::TooDeep,
            format!("document is nested more than {DEEP} levels deep"),
        )
    } else {
        // serde_json appends ` at line L column C`; the problem carries that location itself.
        let full = e.to_string();
        let message = match full.rfind(" at line ") {
            Some(i) => full[..i].to_owned(),
            None => full,
        };
        (
            JsonErrorKind::Syntax,
            format!("malformed JSON: {}", super::redact_quoted(&message)),
        )
    };
    JsonError {
        kind,
        message,
        line: e.line().max(1),
        column: e.column(),
    }
}

/// Where a value is, for messages: `spec.containers[0].env`.
enum Path<'p> {
    Root,
    Key(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => write!(f, "{key}"),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Builds a `serde_json::Value`, refusing duplicate keys and normalising numbers.
#[derive(Clone, Copy)]
struct Seed<'p, 'f> {
    path: &'p Path<'p>,
    depth: usize,
    failure: &'f RefCell<Failure>,
}

impl Seed<'_, '_> {
    fn invalid<E: de::Error>(&self, message: String) -> E {
        self.failure.borrow_mut().invalid = Some(message);
        E::custom("invalid")
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let mut failure = self.failure.borrow_mut();
        failure.deepest = failure.deepest.max(self.depth);
        drop(failure);
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        // Above i64::MAX the API machinery reads a float.
        match i64::try_from(v) {
            Ok(i) => Ok(Value::from(i)),
            Err(_) => self.visit_f64(v as f64),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        resolve::float(v).map_err(|e| self.invalid(e.message()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let path = Path::Index(self.path, items.len());
            let seed = Seed {
                path: &path,
                depth: self.depth + 1,
                failure: self.failure,
            };
            match seq.next_element_seed(seed)? {
                Some(value) => items.push(value),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                let path = Path::Key(self.path, &key);
                return Err(self.invalid(format!(
                    "malformed JSON: key {path} appears twice (the API server's strict field validation refuses it); keep one"
                )));
            }
            let path = Path::Key(self.path, &key);
            let value = access.next_value_seed(Seed {
                path: &path,
                depth: self.depth + 1,
                failure: self.failure,
            })?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// Lines of the elements of the root array (`key: None`) or of the array under the root
/// object's `key`, counted from `first_line` (the line `text` starts on).
pub(crate) fn json_element_lines(text: &str, first_line: usize, key: Option<&str>) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut line = first_line;
    let mut stack: Vec<u8> = Vec::new();
    let mut target: Option<usize> = None; // stack depth inside the target array
    let mut want_element = false;
    let mut key_is_target = false; // the last root-level key read was `key`
    let mut pending = false; // a `:` after that key was seen; the value decides
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let value_start = !matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b',' | b':' | b']' | b'}');
        if value_start && want_element {
            out.push(line);
            want_element = false;
        }
        match c {
            b'\n' => line += 1,
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    } else if bytes[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                let s = &text[start..i.min(text.len())];
                key_is_target = stack.as_slice() == b"{" && Some(s) == key && !pending;
                pending = false;
            }
            b':' => {
                pending = key_is_target;
                key_is_target = false;
            }
            b'[' => {
                stack.push(b'[');
                if (key.is_none() && stack.len() == 1) || pending {
                    target = Some(stack.len());
                    want_element = true;
                }
                pending = false;
            }
            b'{' => {
                stack.push(b'{');
                pending = false;
            }
            b']' | b'}' => {
                if c == b']' && target == Some(stack.len()) {
                    target = None;
                }
                stack.pop();
                want_element = false;
            }
            b',' => {
                if target.is_some() && target == Some(stack.len()) {
                    want_element = true;
                }
            }
            b' ' | b'\t' | b'\r' => {}
            _ => pending = false,
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_values_keep_their_lines() {
        let text = "{\"a\": 1}\n\n  {\"b\":\n 2}\n[1]";
        let (docs, err) = parse_stream(text);
        assert!(err.is_none());
        assert_eq!(
            docs.iter().map(|d| d.line).collect::<Vec<_>>(),
            vec![1, 3, 5]
        );
        assert_eq!(docs[1].text, "{\"b\":\n 2}");
    }

    #[test]
    fn errors_keep_the_values_before_them() {
        let (docs, err) = parse_stream("{\"a\": 1}\n{\"b\": ,}\n");
        assert_eq!(docs.len(), 1);
        let err = err.unwrap();
        assert_eq!(err.kind, JsonErrorKind::Syntax);
        assert_eq!(
            (err.line, err.message.as_str()),
            (2, "malformed JSON: expected value")
        );
    }

    #[test]
    fn duplicate_keys_are_errors_naming_the_path_and_line() {
        let (docs, err) = parse_stream("{\"a\": 1}\n{\"spec\": [{\"x\": 1,\n \"x\": 2}]}");
        assert_eq!(docs.len(), 1);
        let err = err.unwrap();
        assert_eq!((err.kind, err.line), (JsonErrorKind::Invalid, 3));
        assert!(
            err.message.contains("key spec[0].x appears twice"),
            "{}",
            err.message
        );
    }

    #[test]
    fn numbers_read_as_kubectl_sends_them() {
        let (docs, _) = parse_stream("[1.0, 1e3, 1.5, 18446744073709551615, -3]");
        assert_eq!(
            docs[0].value,
            serde_json::json!([1, 1000, 1.5, 18446744073709551615.0, -3])
        );
    }

    #[test]
    fn element_lines_of_items_and_root_arrays() {
        let list = "{\n \"kind\": \"List\",\n \"x\": {\"items\": [0]},\n \"items\": [\n  {\"a\": \"]\\\"\"},\n  {\n   \"b\": [1, 2]\n  }, 3\n ]\n}";
        assert_eq!(json_element_lines(list, 1, Some("items")), vec![5, 6, 8]);
        let root = "[\n {\"a\": 1},\n {\"a\": [\n 2]}]";
        assert_eq!(json_element_lines(root, 10, None), vec![11, 12]);
        assert!(json_element_lines("{\"items\": 3}", 1, Some("items")).is_empty());
        assert!(json_element_lines("[]", 1, None).is_empty());
    }
}
