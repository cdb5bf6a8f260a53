//! Splitting a YAML stream into documents ourselves, so every document knows its index and the
//! line it starts on, and finding the lines of sequence entries (list items) in a document's text.
//!
//! YAML ends a document at a `---` or `...` marker in column 0, even inside block scalars (the
//! spec forbids such lines in scalar content), so splitting on those lines is exact.

/// One YAML document's text and where it sits in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment<'a> {
    /// The document text, including its `---` marker line when it has one.
    pub text: &'a str,
    /// 1-based line of the first line of `text`.
    pub start_line: usize,
    /// 1-based line of the first line with content (not blank, comment, directive or bare marker).
    pub content_line: Option<usize>,
}

impl Segment<'_> {
    /// The line reported for the document: its first content line, else its first line.
    pub fn line(&self) -> usize {
        self.content_line.unwrap_or(self.start_line)
    }
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// True for a line that holds something other than whitespace and a comment.
pub(crate) fn has_content(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#')
}

/// What follows a `---` marker on its line, if it is content rather than a comment.
fn marker_has_content(line: &str) -> bool {
    has_content(&line[3..])
}

/// Splits `text` into YAML documents, numbered as YAML numbers them: every `---` starts a
/// document (even an empty one); text before the first `---` or after a `...` is a document only
/// when it has content. Returns `(document index from 1, segment)`.
pub(crate) fn split_documents<'a>(text: &'a str) -> Vec<(usize, Segment<'a>)> {
    struct Open {
        start: usize,
        start_line: usize,
        explicit: bool,
        content_line: Option<usize>,
    }
    let mut out = Vec::new();
    let mut document = 0;
    let mut close = |open: &Open, end: usize, out: &mut Vec<(usize, Segment<'a>)>| {
        if open.explicit || open.content_line.is_some() {
            document += 1;
            out.push((
                document,
                Segment {
                    text: &text[open.start..end],
                    start_line: open.start_line,
                    content_line: open.content_line,
                },
            ));
        }
    };
    let mut open = Open {
        start: 0,
        start_line: 1,
        explicit: false,
        content_line: None,
    };
    let mut offset = 0;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches(['\n', '\r']);
        if is_marker(line, "---") {
            close(&open, offset, &mut out);
            open = Open {
                start: offset,
                start_line: line_no,
                explicit: true,
                content_line: marker_has_content(line).then_some(line_no),
            };
        } else if is_marker(line, "...") {
            close(&open, offset + raw.len(), &mut out);
            open = Open {
                start: offset + raw.len(),
                start_line: line_no + 1,
                explicit: false,
                content_line: None,
            };
        } else if open.content_line.is_none() && has_content(line) && !line.starts_with('%') {
            open.content_line = Some(line_no);
        }
        offset += raw.len();
    }
    close(&open, text.len(), &mut out);
    out
}

/// The 1-based line (within `text`) where flow collections (`[`, `{`) nest deeper than `limit`,
/// if they do. libyaml's time grows with the square of that depth (200,000 brackets take over a
/// minute), so such documents are refused before parsing. Quoted scalars and comments are
/// skipped; brackets inside plain scalars are counted, which can only over-count by the few
/// unbalanced brackets a real document has.
pub(crate) fn too_deep_flow(text: &str, limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut line = 1;
    let mut quote: Option<u8> = None;
    let mut previous = b'\n';
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\n' {
            line += 1;
        }
        match quote {
            Some(b'"') if c == b'\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'"' | b'\''
                    if matches!(previous, b' ' | b'\t' | b'\n' | b'[' | b'{' | b',' | b':') =>
                {
                    quote = Some(c);
                }
                b'#' if matches!(previous, b' ' | b'\t' | b'\n') => {
                    while i + 1 < bytes.len() && bytes[i + 1] != b'\n' {
                        i += 1;
                    }
                }
                b'[' | b'{' => {
                    depth += 1;
                    if depth > limit {
                        return Some(line);
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        previous = c;
        i += 1;
    }
    None
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_entry(content: &str) -> bool {
    content == "-" || content.starts_with("- ") || content.starts_with("-\t")
}

/// Lines (1-based, in the file) of the entries of a block sequence: the sequence under the
/// root-level `key:` when `key` is given, else the document's root sequence. Empty when the
/// sequence is not in block style (the caller then falls back to the document's line).
pub(crate) fn yaml_entry_lines(segment: &Segment<'_>, key: Option<&str>) -> Vec<usize> {
    let lines: Vec<&str> = segment
        .text
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .collect();
    let Some(first) = segment.content_line.map(|l| l - segment.start_line) else {
        return Vec::new();
    };
    let root_indent = indent_of(lines[first]);
    let mut i = first;
    if let Some(key) = key {
        let quoted = format!("\"{key}\":");
        let plain = format!("{key}:");
        let found = lines.iter().enumerate().skip(first).find(|(_, l)| {
            indent_of(l) == root_indent && {
                let rest = l.trim_start();
                let after = rest
                    .strip_prefix(plain.as_str())
                    .or_else(|| rest.strip_prefix(quoted.as_str()));
                after.is_some_and(|a| !has_content(a))
            }
        });
        match found {
            Some((at, _)) => i = at + 1,
            None => return Vec::new(),
        }
    } else if lines[first].starts_with("---") {
        // `--- - a`: an entry on the marker line is not something we try to locate.
        return Vec::new();
    }
    let mut entry_indent = None;
    let mut out = Vec::new();
    let mut pending_bare_dash = false;
    while i < lines.len() {
        let line = lines[i];
        let line_no = segment.start_line + i;
        i += 1;
        if !has_content(line) {
            continue;
        }
        let indent = indent_of(line);
        let content = line.trim_start();
        if pending_bare_dash {
            // `-` alone on its line: the item starts on the next content line.
            if let Some(last) = out.last_mut() {
                *last = line_no;
            }
            pending_bare_dash = false;
        }
        match entry_indent {
            None => {
                if !is_entry(content) {
                    break;
                }
                entry_indent = Some(indent);
                out.push(line_no);
                pending_bare_dash = content == "-";
            }
            Some(ei) if indent < ei => break,
            Some(ei) if indent == ei => {
                if !is_entry(content) {
                    break;
                }
                out.push(line_no);
                pending_bare_dash = content == "-";
            }
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(text: &str) -> Vec<(usize, usize, Option<usize>, &str)> {
        split_documents(text)
            .into_iter()
            .map(|(d, s)| (d, s.start_line, s.content_line, s.text))
            .collect()
    }

    #[test]
    fn documents_are_numbered_as_yaml_numbers_them() {
        let text = "# head\n---\na: 1\n---\n# only a comment\n---\nb: 2\n";
        let d = docs(text);
        assert_eq!(d.len(), 3);
        assert_eq!(d[0], (1, 2, Some(3), "---\na: 1\n"));
        assert_eq!(d[1], (2, 4, None, "---\n# only a comment\n"));
        assert_eq!(d[2], (3, 6, Some(7), "---\nb: 2\n"));
    }

    #[test]
    fn a_bare_first_document_counts_and_markers_need_column_zero() {
        let d = docs("a: 1\n  --- not a marker\n---x\n--- # c\nb: 2");
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].0, d[0].2), (1, Some(1)));
        assert_eq!((d[1].0, d[1].1, d[1].2), (2, 4, Some(5)));
        assert_eq!(d[1].3, "--- # c\nb: 2");
    }

    #[test]
    fn document_end_markers_and_directives() {
        let d = docs("%YAML 1.2\n---\na: 1\n...\n# trailing\n---\nb: 1\n...\nc: 1\n");
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].3, "---\na: 1\n...\n");
        assert_eq!((d[1].0, d[1].2), (2, Some(7)));
        assert_eq!((d[2].0, d[2].2, d[2].3), (3, Some(9), "c: 1\n"));
    }

    #[test]
    fn crlf_and_empty_input() {
        assert!(docs("").is_empty());
        assert!(docs("# only\n\n").is_empty());
        let d = docs("a: 1\r\n---\r\nb: 2\r\n");
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].2, Some(3));
    }

    #[test]
    fn deep_flow_nesting_is_found_without_parsing() {
        assert_eq!(too_deep_flow("a: 1\nb: [[[\n", 2), Some(2));
        assert_eq!(too_deep_flow("a: [[]] [[]] {[]}\n", 2), None);
        assert_eq!(too_deep_flow("a: \"[[[[\"\nb: '[[[['\n# [[[[\n", 2), None);
        assert_eq!(too_deep_flow("a: it's [[[\n", 2), Some(1));
    }

    #[test]
    fn list_item_lines_are_found() {
        let text = "---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: A\n  list:\n  - x\n# c\n-\n  apiVersion: v1\n- kind: C\nmetadata: {}\n";
        let (_, seg) = split_documents(text).remove(0);
        assert_eq!(yaml_entry_lines(&seg, Some("items")), vec![5, 11, 12]);
        let indented = "items:\n  - a: 1\n    b: 2\n  - a: 2\nkind: List\n";
        let (_, seg) = split_documents(indented).remove(0);
        assert_eq!(yaml_entry_lines(&seg, Some("items")), vec![2, 4]);
        let flow = "items: [{a: 1}]\n";
        let (_, seg) = split_documents(flow).remove(0);
        assert!(yaml_entry_lines(&seg, Some("items")).is_empty());
        let root = "# c\n- a: 1\n- a: 2\n";
        let (_, seg) = split_documents(root).remove(0);
        assert_eq!(yaml_entry_lines(&seg, None), vec![2, 3]);
    }
}
