//! JSON input: a stream of one or more top-level values (each one a "document"), and the lines of
//! array elements, found by a small scanner since `serde_json::Value` keeps no positions.

use serde_json::Value;

/// One top-level JSON value with its text and 1-based starting line.
pub(crate) struct JsonDocument<'a> {
    pub value: Value,
    pub text: &'a str,
    pub line: usize,
}

/// A JSON syntax error, located in the file.
pub(crate) struct JsonError {
    pub message: String,
    pub line: usize,
    pub column: usize,
    pub recursion: bool,
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

/// Parses every top-level value; stops at the first syntax error, keeping the values before it.
pub(crate) fn parse_stream(text: &str) -> (Vec<JsonDocument<'_>>, Option<JsonError>) {
    let mut docs = Vec::new();
    let mut lines = LineCounter {
        text: text.as_bytes(),
        offset: 0,
        line: 1,
    };
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    loop {
        let before = stream.byte_offset();
        match stream.next() {
            None => return (docs, None),
            Some(Ok(value)) => {
                let end = stream.byte_offset();
                let start = before + text[before..end].len() - text[before..end].trim_start().len();
                docs.push(JsonDocument {
                    value,
                    text: &text[start..end],
                    line: lines.line_at(start),
                });
            }
            Some(Err(e)) => {
                let full = e.to_string();
                let message = match full.rfind(" at line ") {
                    Some(i) => full[..i].to_owned(),
                    None => full,
                };
                return (
                    docs,
                    Some(JsonError {
                        recursion: message.contains("recursion limit"),
                        message,
                        line: e.line().max(1),
                        column: e.column(),
                    }),
                );
            }
        }
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
        assert_eq!((err.line, err.message.as_str()), (2, "expected value"));
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
