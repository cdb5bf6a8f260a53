//! Loading one input (bytes and a name) into Kubernetes objects and the problems found on the
//! way. One bad document never stops the others; nothing here panics on any input.

mod convert;
mod json;
mod split;

use crate::Manifest;
use crate::problem::{InputProblem, ProblemKind, human_size};
use serde_json::Value;
use split::Segment;
use std::sync::Arc;

/// The default [`LoadOptions::max_bytes`]: 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// How inputs are loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    max_bytes: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl LoadOptions {
    /// The largest input accepted, in bytes (default [`DEFAULT_MAX_BYTES`], 64 MiB). A larger
    /// input gives one [`ProblemKind::TooLarge`] error and is not parsed: parsing holds the whole
    /// document tree in memory, several times the file's size.
    ///
    /// See also [`LoadOptions::check_size`], to refuse a file before reading it.
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The configured limit.
    pub fn limit(&self) -> u64 {
        self.max_bytes
    }

    /// The [`ProblemKind::TooLarge`] error for an input of `len` bytes, if it is over the limit;
    /// lets a caller that knows the size (from file metadata) skip reading the file.
    ///
    /// ```
    /// use aksid_manifests::{LoadOptions, ProblemKind};
    /// let options = LoadOptions::default();
    /// let problem = options.check_size("big.yaml", 80 * 1024 * 1024).unwrap();
    /// assert_eq!(problem.kind, ProblemKind::TooLarge);
    /// assert_eq!(problem.message, "file is 80.0 MiB, larger than the 64 MiB limit; raise it with --max-file-size");
    /// assert!(options.check_size("small.yaml", 1024).is_none());
    /// ```
    pub fn check_size(&self, name: &str, len: u64) -> Option<InputProblem> {
        (len > self.max_bytes).then(|| {
            InputProblem::new(
                ProblemKind::TooLarge,
                &Arc::from(name),
                format!(
                    "file is {}, larger than the {} limit; raise it with --max-file-size",
                    human_size(len, true),
                    human_size(self.max_bytes, false)
                ),
            )
        })
    }
}

/// What one input held: its objects, in file order, and its problems.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    /// The Kubernetes objects, `List` items flattened, in file order.
    pub objects: Vec<Manifest>,
    /// Errors and notices, in file order.
    pub problems: Vec<InputProblem>,
}

impl Loaded {
    /// True when any problem is an error (not just a notice).
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(InputProblem::is_error)
    }
}

/// Loads one input with the default options. See [`load_with`].
pub fn load(name: &str, bytes: &[u8]) -> Loaded {
    load_with(name, bytes, &LoadOptions::default())
}

/// Loads one input: multi-document YAML, JSON (one or more top-level values; chosen when the
/// content starts with `{` or `[` or the name ends in `.json`), `kind: List` and every `*List`
/// kind (items flattened), and top-level arrays of objects. `name` only labels objects and
/// problems (and picks JSON for `.json`); nothing is read from the filesystem.
pub fn load_with(name: &str, bytes: &[u8], options: &LoadOptions) -> Loaded {
    let file: Arc<str> = Arc::from(name);
    let mut loader = Loader {
        file: Arc::clone(&file),
        out: Loaded::default(),
    };
    if let Some(problem) = options.check_size(name, bytes.len() as u64) {
        loader.out.problems.push(problem);
        return loader.out;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) if !text.contains('\0') => text,
        _ => {
            loader.problem(
                ProblemKind::Binary,
                "binary file, not a Kubernetes manifest",
            );
            return loader.out;
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        loader.problem(ProblemKind::Empty, "file is empty");
        return loader.out;
    }
    let first = text.trim_start().as_bytes()[0];
    if first == b'{' || first == b'[' || name.to_ascii_lowercase().ends_with(".json") {
        loader.load_json(text);
    } else {
        loader.load_yaml(text);
    }
    if loader.out.objects.is_empty() && loader.out.problems.is_empty() {
        let only_comments = !text
            .lines()
            .any(|l| split::has_content(l) && !l.starts_with("---") && !l.starts_with("..."));
        loader.problem(
            ProblemKind::Empty,
            if only_comments {
                "file contains only comments, no Kubernetes objects"
            } else {
                "file contains no Kubernetes objects"
            },
        );
    }
    loader.out
}

/// The nesting limit of serde_yaml and serde_json, which aksid keeps for both.
const MAX_DEPTH: usize = 128;
const TOO_DEEP: &str = "document is nested more than 128 levels deep";

const TEMPLATE: &str =
    "this looks like an unrendered template; render it first (helm template ...)";

struct Loader {
    file: Arc<str>,
    out: Loaded,
}

/// Where a document's list items are, resolved only when a list is met.
enum Source<'a, 'b> {
    Yaml(&'b Segment<'a>),
    Json { text: &'a str, line: usize },
}

impl Source<'_, '_> {
    fn element_lines(&self, key: Option<&str>) -> Vec<usize> {
        match self {
            Source::Yaml(segment) => split::yaml_entry_lines(segment, key),
            Source::Json { text, line } => json::json_element_lines(text, *line, key),
        }
    }
}

impl Loader {
    fn problem(&mut self, kind: ProblemKind, message: &str) {
        self.out
            .problems
            .push(InputProblem::new(kind, &self.file, message));
    }

    fn push(&mut self, problem: InputProblem) {
        self.out.problems.push(problem);
    }

    fn load_yaml(&mut self, text: &str) {
        for (document, segment) in split::split_documents(text) {
            self.load_yaml_document(document, &segment);
        }
    }

    fn load_yaml_document(&mut self, document: usize, segment: &Segment<'_>) {
        let offset = segment.start_line - 1;
        let looks_templated = segment.text.contains("{{");
        if let Some(line) = split::too_deep_flow(segment.text, MAX_DEPTH) {
            return self.push(
                InputProblem::new(ProblemKind::TooDeep, &self.file, TOO_DEEP)
                    .at(document, segment.start_line + line - 1),
            );
        }
        let parsed = serde_yaml::from_str::<serde_yaml::Value>(segment.text).and_then(|mut v| {
            v.apply_merge()?;
            Ok(v)
        });
        let value = match parsed {
            Err(_) if looks_templated => {
                return self.template_error(document, segment.text, "{{", segment.start_line);
            }
            Err(e) => {
                let message = e.to_string();
                let (line, column) = e.location().map_or((segment.line(), None), |l| {
                    (l.line() + offset, Some(l.column()))
                });
                let (kind, message) = if message.starts_with("recursion limit exceeded") {
                    (ProblemKind::TooDeep, TOO_DEEP.to_owned())
                } else if message.starts_with("repetition limit exceeded") {
                    (
                        ProblemKind::MalformedYaml,
                        "malformed YAML: aliases expand to too many nodes".to_owned(),
                    )
                } else {
                    (
                        ProblemKind::MalformedYaml,
                        format!(
                            "malformed YAML: {}",
                            redact_quoted(&shift_lines(&message, offset))
                        ),
                    )
                };
                return self.push(
                    InputProblem::new(kind, &self.file, message)
                        .at(document, line)
                        .column(column),
                );
            }
            Ok(value) => value,
        };
        let value = match convert::yaml_to_json(value) {
            Ok(value) => value,
            Err(_) if looks_templated => {
                return self.template_error(document, segment.text, "{{", segment.start_line);
            }
            Err(convert::ConvertError::ComplexKey) => {
                return self.push(
                    InputProblem::new(
                        ProblemKind::MalformedYaml,
                        &self.file,
                        "malformed YAML: a mapping key is itself a mapping or a list, which a Kubernetes object cannot have",
                    )
                    .at(document, segment.line()),
                );
            }
        };
        if let Some(action) = convert::find_helm_action(&value) {
            let action = action.to_owned();
            return self.template_error(document, segment.text, &action, segment.start_line);
        }
        self.objects_from(document, segment.line(), value, &Source::Yaml(segment));
    }

    fn load_json(&mut self, text: &str) {
        let (docs, error) = json::parse_stream(text);
        if let Some(error) = error {
            // `{a: 1}` is YAML flow style, not JSON: if the whole input reads as YAML, use that.
            if !error.recursion {
                let mut as_yaml = Loader {
                    file: Arc::clone(&self.file),
                    out: Loaded::default(),
                };
                as_yaml.load_yaml(text);
                if as_yaml.out.problems.is_empty() && !as_yaml.out.objects.is_empty() {
                    self.out = as_yaml.out;
                    return;
                }
            }
            let document = docs.len() + 1;
            for (i, doc) in docs.into_iter().enumerate() {
                self.load_json_document(i + 1, doc);
            }
            if text.contains("{{") {
                return self.template_error(document, text, "{{", 1);
            }
            let (kind, message) = if error.recursion {
                (ProblemKind::TooDeep, TOO_DEEP.to_owned())
            } else {
                (
                    ProblemKind::MalformedJson,
                    format!("malformed JSON: {}", redact_quoted(&error.message)),
                )
            };
            return self.push(
                InputProblem::new(kind, &self.file, message)
                    .at(document, error.line)
                    .column(Some(error.column)),
            );
        }
        for (i, doc) in docs.into_iter().enumerate() {
            self.load_json_document(i + 1, doc);
        }
    }

    fn load_json_document(&mut self, document: usize, doc: json::JsonDocument<'_>) {
        if let Some(action) = convert::find_helm_action(&doc.value) {
            let action = action.to_owned();
            return self.template_error(document, doc.text, &action, doc.line);
        }
        let source = Source::Json {
            text: doc.text,
            line: doc.line,
        };
        self.objects_from(document, doc.line, doc.value, &source);
    }

    /// An unrendered-template error at the first line of `text` containing `needle`.
    fn template_error(&mut self, document: usize, text: &str, needle: &str, first_line: usize) {
        let line = text
            .lines()
            .position(|l| l.contains(needle))
            .map_or(first_line, |i| first_line + i);
        self.push(
            InputProblem::new(ProblemKind::UnrenderedTemplate, &self.file, TEMPLATE)
                .at(document, line),
        );
    }

    /// Turns a document's value into objects: a mapping is one object (or a list's items), a
    /// sequence is a list of objects, null (an empty or comment-only document) is nothing.
    fn objects_from(
        &mut self,
        document: usize,
        line: usize,
        value: Value,
        source: &Source<'_, '_>,
    ) {
        match value {
            Value::Null => {}
            Value::Array(items) => {
                let lines = source.element_lines(None);
                self.items(document, line, &lines, items, "", source, 0);
            }
            value => self.object(document, line, value, String::new(), source, 0),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn items(
        &mut self,
        document: usize,
        line: usize,
        lines: &[usize],
        items: Vec<Value>,
        prefix: &str,
        source: &Source<'_, '_>,
        depth: usize,
    ) {
        let located = lines.len() == items.len();
        for (i, item) in items.into_iter().enumerate() {
            let item_line = if located { lines[i] } else { line };
            let field = format!("{prefix}[{i}]");
            self.object(document, item_line, item, field, source, depth + 1);
        }
    }

    /// One object (or a `*List` of them); `field` is its path within the document (`items[2]`).
    fn object(
        &mut self,
        document: usize,
        line: usize,
        value: Value,
        field: String,
        source: &Source<'_, '_>,
        depth: usize,
    ) {
        let at = |name: &str| {
            if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            }
        };
        let Value::Object(map) = value else {
            let what = match value {
                Value::Null => "empty",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                Value::Array(_) => "a list",
                Value::Object(_) => "a mapping",
            };
            let subject = if field.is_empty() {
                "document"
            } else {
                "list item"
            };
            let mut problem = InputProblem::new(
                ProblemKind::NotAnObject,
                &self.file,
                format!("{subject} is {what}, not a Kubernetes object (a mapping with apiVersion and kind)"),
            )
            .at(document, line);
            if !field.is_empty() {
                problem = problem.field(field);
            }
            return self.push(problem);
        };
        let api_version = map.get("apiVersion");
        let kind = map.get("kind");
        for (name, v) in [("apiVersion", api_version), ("kind", kind)] {
            match v {
                Some(Value::String(s)) if !s.trim().is_empty() => {}
                Some(Value::String(_)) => {
                    return self.push(
                        InputProblem::new(
                            ProblemKind::MissingField,
                            &self.file,
                            format!("{name} is empty"),
                        )
                        .at(document, line)
                        .field(at(name)),
                    );
                }
                None | Some(Value::Null) => {
                    let message = if api_version.is_none() && kind.is_none() {
                        "object has neither apiVersion nor kind; is this a Kubernetes manifest?"
                            .to_owned()
                    } else {
                        format!("object has no {name}")
                    };
                    return self.push(
                        InputProblem::new(ProblemKind::MissingField, &self.file, message)
                            .at(document, line)
                            .field(at(name)),
                    );
                }
                Some(other) => {
                    let found = match other {
                        Value::Bool(_) => "a boolean",
                        Value::Number(_) => "a number",
                        Value::Array(_) => "a list",
                        _ => "a mapping",
                    };
                    return self.push(
                        InputProblem::new(
                            ProblemKind::WrongFieldType,
                            &self.file,
                            format!("{name} must be a string, found {found}"),
                        )
                        .at(document, line)
                        .field(at(name)),
                    );
                }
            }
        }
        let kind = kind.and_then(Value::as_str).unwrap_or_default();
        let is_list = kind == "List"
            || (kind.ends_with("List") && matches!(map.get("items"), Some(Value::Array(_))));
        if is_list {
            let mut map = map;
            let items = match map.remove("items") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            // Items of nested lists keep the outer item's line: only the outermost is located.
            let lines = if depth == 0 {
                source.element_lines(Some("items"))
            } else {
                Vec::new()
            };
            self.items(document, line, &lines, items, &at("items"), source, depth);
            return;
        }
        self.out.objects.push(Manifest {
            source: Arc::clone(&self.file),
            document,
            line,
            object: Value::Object(map),
        });
    }
}

/// Drops the first ` at line N column M` from a parser message (the problem carries that
/// location itself) and adds `offset` to every other `line N` (serde_yaml counts lines from the
/// document's first line, the report from the file's).
/// Parser messages quote the offending scalar (`invalid type: string "…"`), which may be a
/// secret: every quoted span is replaced by `…`, the line and column say where to look.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find(['"', '`']) {
        let quote = rest[open..].chars().next().unwrap_or('"');
        out.push_str(&rest[..=open]);
        let after = &rest[open + 1..];
        match after.find(quote) {
            Some(close) => {
                out.push('…');
                out.push(quote);
                rest = &after[close + 1..];
            }
            None => {
                out.push('…');
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn shift_lines(message: &str, offset: usize) -> String {
    let primary = message.find(" at line ").and_then(|i| {
        let rest = &message[i + " at line ".len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let rest = rest[digits..].strip_prefix(" column ")?;
        let col = rest.bytes().take_while(u8::is_ascii_digit).count();
        (digits > 0 && col > 0).then(|| (i, message.len() - rest.len() + col))
    });
    let trimmed = match primary {
        Some((start, end)) => format!("{}{}", &message[..start], &message[end..]),
        None => message.to_owned(),
    };
    let mut out = String::with_capacity(trimmed.len());
    let mut rest = trimmed.as_str();
    while let Some(i) = rest.find("line ") {
        out.push_str(&rest[..i + 5]);
        rest = &rest[i + 5..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            let n: usize = rest[..digits].parse().unwrap_or(0);
            out.push_str(&n.saturating_add(offset).to_string());
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
