//! Splitting a YAML stream into documents on their `---` and `...` lines, as kubectl's own
//! reader does before it parses each document, so that a malformed document fails only itself
//! and every document knows its index and the line it starts on.
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
    /// `--- key: value`: content on the marker line, which kubectl's splitter refuses.
    pub fn content_after_marker(&self) -> bool {
        self.content_line == Some(self.start_line) && self.text.starts_with("---")
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
}
