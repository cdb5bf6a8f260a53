//! Loading one input (bytes and a name) into Kubernetes objects and the problems found on the
//! way, reading YAML and JSON as kubectl reads them. One bad document never stops the others;
//! nothing here panics on any input.

mod json;
mod resolve;
mod split;
mod template;
mod yaml;

use crate::Manifest;
use crate::kinds;
use crate::problem::{InputProblem, ProblemKind, human_size};
use serde_json::{Map, Value};
use split::Segment;
use std::sync::Arc;

/// The default [`LoadOptions::max_bytes`]: 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// How inputs are loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    max_bytes: u64,
    found_by_walking: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_bytes: DEFAULT_MAX_BYTES,
            found_by_walking: false,
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

    /// Whether the input was found by walking a directory rather than named by the user (default
    /// false). A directory of manifests also holds tools' files: a document without `kind`
    /// (Helm's `Chart.yaml` and values files, a kustomization without apiVersion, CI files) or of
    /// a kind only tools read (Kustomize `Kustomization`/`Component`, kpt `Kptfile`, Skaffold
    /// `Config`), or a JSON 6902 patch list (`[{op, path, ...}]`, which a kustomization may name
    /// or not), then gives a [`ProblemKind::NotAResource`] notice saying what it is and that it
    /// was skipped. A file the user names keeps the [`ProblemKind::MissingField`] error, and a
    /// Kustomization is then loaded as an object, so nothing named is skipped silently.
    ///
    /// ```
    /// use aksid_manifests::{LoadOptions, ProblemKind, load_with};
    /// let text = b"resources:\n- deploy.yaml\n";
    /// let walked = load_with("app/kustomization.yaml", text, &LoadOptions::default().found_by_walking(true));
    /// assert_eq!(walked.problems[0].kind, ProblemKind::NotAResource);
    /// assert_eq!(walked.problems[0].message, "a Kustomize kustomization, not a Kubernetes object; skipped");
    /// assert!(!walked.has_errors());
    /// let named = load_with("app/kustomization.yaml", text, &LoadOptions::default());
    /// assert_eq!(named.problems[0].kind, ProblemKind::MissingField);
    /// ```
    pub fn found_by_walking(mut self, found_by_walking: bool) -> Self {
        self.found_by_walking = found_by_walking;
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

/// Loads one input: multi-document YAML, JSON (one or more top-level values; tried when the
/// content starts with `{` or `[` or the name ends in `.json`), `kind: List` and every `*List`
/// kind (items flattened), and top-level arrays of objects. As in kubectl, content starting with
/// `{` is JSON only: YAML flow style there is an error. `name` only labels objects and problems
/// (and picks JSON for `.json`); nothing is read from the filesystem.
pub fn load_with(name: &str, bytes: &[u8], options: &LoadOptions) -> Loaded {
    let file: Arc<str> = Arc::from(name);
    let mut loader = Loader {
        file: Arc::clone(&file),
        found_by_walking: options.found_by_walking,
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

const TEMPLATE: &str =
    "this looks like an unrendered template; render it first (helm template ...)";

struct Loader {
    file: Arc<str>,
    found_by_walking: bool,
    out: Loaded,
}

/// Where a document's list items are, resolved only when a list is met.
enum Lines<'a> {
    /// The parser's lines of the elements of the root sequence or of the root's `items`.
    Yaml(&'a [usize]),
    Json {
        text: &'a str,
        line: usize,
    },
}

impl Lines<'_> {
    fn elements(&self, key: Option<&str>) -> Vec<usize> {
        match self {
            Lines::Yaml(lines) => lines.to_vec(),
            Lines::Json { text, line } => json::json_element_lines(text, *line, key),
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
        if segment.content_after_marker() {
            // kubectl's document splitter refuses `--- key: value`.
            let message = "malformed YAML: content follows the --- document marker on its line (kubectl refuses the file); move it to the next line";
            return self.push(
                InputProblem::new(ProblemKind::MalformedYaml, &self.file, message)
                    .at(document, segment.start_line),
            );
        }
        let looks_templated = segment.text.contains("{{");
        let doc = match yaml::compose(segment.text, segment.start_line) {
            Ok(Some(doc)) => doc,
            Ok(None) => return,
            Err(e) if looks_templated && !matches!(e.kind, yaml::YamlErrorKind::TooDeep) => {
                return self.template_error(document, segment.text, "{{", segment.start_line);
            }
            Err(e) => {
                let kind = match e.kind {
                    yaml::YamlErrorKind::TooDeep => ProblemKind::TooDeep,
                    _ => ProblemKind::MalformedYaml,
                };
                return self.push(
                    InputProblem::new(kind, &self.file, e.message)
                        .at(document, e.line)
                        .column(Some(e.column)),
                );
            }
        };
        if let Some(action) = template::find_helm_action(&doc.value) {
            let action = action.to_owned();
            return self.template_error(document, segment.text, &action, segment.start_line);
        }
        let lines = Lines::Yaml(&doc.item_lines);
        self.objects_from(document, doc.line, doc.value, &lines);
    }

    fn load_json(&mut self, text: &str) {
        let (docs, error) = json::parse_stream(text);
        let Some(error) = error else {
            for (i, doc) in docs.into_iter().enumerate() {
                self.load_json_document(i + 1, doc);
            }
            return;
        };
        let mut message = error.message;
        if error.kind == json::JsonErrorKind::Syntax {
            let mut as_yaml = Loader {
                file: Arc::clone(&self.file),
                found_by_walking: self.found_by_walking,
                out: Loaded::default(),
            };
            as_yaml.load_yaml(text);
            if !as_yaml.out.has_errors() && !as_yaml.out.objects.is_empty() {
                // kubectl reads a file that starts with `{` as JSON, so `{a: 1}` (YAML flow
                // style) fails there; other YAML in a `.json` file or a `[` stream is YAML to it.
                if !text.trim_start().starts_with('{') {
                    self.out = as_yaml.out;
                    return;
                }
                message.push_str("; this is YAML flow style, which kubectl refuses in a file that starts with {: write it as JSON or as block YAML");
            }
        }
        let document = docs.len() + 1;
        for (i, doc) in docs.into_iter().enumerate() {
            self.load_json_document(i + 1, doc);
        }
        if error.kind == json::JsonErrorKind::Syntax && text.contains("{{") {
            return self.template_error(document, text, "{{", 1);
        }
        let kind = match error.kind {
            json::JsonErrorKind::TooDeep => ProblemKind::TooDeep,
            _ => ProblemKind::MalformedJson,
        };
        self.push(
            InputProblem::new(kind, &self.file, message)
                .at(document, error.line)
                .column(Some(error.column)),
        );
    }

    fn load_json_document(&mut self, document: usize, doc: json::JsonDocument<'_>) {
        if let Some(action) = template::find_helm_action(&doc.value) {
            let action = action.to_owned();
            return self.template_error(document, doc.text, &action, doc.line);
        }
        let lines = Lines::Json {
            text: doc.text,
            line: doc.line,
        };
        self.objects_from(document, doc.line, doc.value, &lines);
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
    /// sequence is a list of objects (or, found by walking, a JSON 6902 patch: a notice), null
    /// (an empty or comment-only document) is nothing.
    fn objects_from(&mut self, document: usize, line: usize, value: Value, lines: &Lines<'_>) {
        match value {
            Value::Null => {}
            Value::Array(items) if self.found_by_walking && kinds::is_json_patch(&items) => {
                let message = format!("{}, not a Kubernetes object; skipped", kinds::JSON_PATCH);
                self.push(
                    InputProblem::new(ProblemKind::NotAResource, &self.file, message)
                        .at(document, line),
                );
            }
            Value::Array(items) => {
                let item_lines = lines.elements(None);
                self.items(document, line, &item_lines, items, "", lines, 0);
            }
            value => self.object(document, line, value, String::new(), lines, 0),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn items(
        &mut self,
        document: usize,
        line: usize,
        item_lines: &[usize],
        items: Vec<Value>,
        prefix: &str,
        lines: &Lines<'_>,
        depth: usize,
    ) {
        let located = item_lines.len() == items.len();
        for (i, item) in items.into_iter().enumerate() {
            let item_line = if located { item_lines[i] } else { line };
            let field = format!("{prefix}[{i}]");
            self.object(document, item_line, item, field, lines, depth + 1);
        }
    }

    /// One object (or a `*List` of them); `field` is its path within the document (`items[2]`).
    fn object(
        &mut self,
        document: usize,
        line: usize,
        value: Value,
        field: String,
        lines: &Lines<'_>,
        depth: usize,
    ) {
        let map = match value {
            Value::Object(map) => map,
            other => return self.not_an_object(document, line, &other, field),
        };
        if field.is_empty() && self.skipped(document, line, &map) {
            return;
        }
        if let Err(problem) = check_type_fields(&map, &field) {
            return self.push(problem.locate(&self.file, document, line));
        }
        let kind = map["kind"].as_str().unwrap_or_default();
        let is_list = kind == "List"
            || (kind.ends_with("List") && matches!(map.get("items"), Some(Value::Array(_))));
        if is_list {
            let mut map = map;
            let items = match map.remove("items") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            // Items of nested lists keep the outer item's line: only the outermost is located.
            let item_lines = if depth == 0 {
                lines.elements(Some("items"))
            } else {
                Vec::new()
            };
            let prefix = join(&field, "items");
            self.items(document, line, &item_lines, items, &prefix, lines, depth);
            return;
        }
        let api_version = map["apiVersion"].as_str().unwrap_or_default();
        if let Some(message) = kinds::removed_api(api_version, kind) {
            self.push(
                InputProblem::new(ProblemKind::RemovedApiVersion, &self.file, message)
                    .at(document, line),
            );
        }
        self.out.objects.push(Manifest {
            source: Arc::clone(&self.file),
            document,
            line,
            object: Value::Object(map),
        });
    }

    fn not_an_object(&mut self, document: usize, line: usize, value: &Value, field: String) {
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
        let message = format!(
            "{subject} is {what}, not a Kubernetes object (a mapping with apiVersion and kind)"
        );
        let mut problem =
            InputProblem::new(ProblemKind::NotAnObject, &self.file, message).at(document, line);
        if !field.is_empty() {
            problem = problem.field(field);
        }
        self.push(problem);
    }

    /// With [`LoadOptions::found_by_walking`], a tool's configuration gives a notice and no
    /// object; true when it did.
    fn skipped(&mut self, document: usize, line: usize, map: &Map<String, Value>) -> bool {
        if !self.found_by_walking {
            return false;
        }
        let text = |key: &str| match map.get(key) {
            Some(Value::String(s)) => Some(s.as_str()),
            None | Some(Value::Null) => Some(""),
            Some(_) => None,
        };
        let (Some(api_version), Some(kind)) = (text("apiVersion"), text("kind")) else {
            return false;
        };
        let Some(what) = kinds::non_resource(&self.file, api_version, kind.trim()) else {
            return false;
        };
        let message = format!("{what}, not a Kubernetes object; skipped");
        self.push(
            InputProblem::new(ProblemKind::NotAResource, &self.file, message).at(document, line),
        );
        true
    }
}

/// `field.name`, or `name` at the top of a document.
fn join(field: &str, name: &str) -> String {
    if field.is_empty() {
        name.to_owned()
    } else {
        format!("{field}.{name}")
    }
}

/// A problem not yet placed in a file.
struct Unlocated {
    kind: ProblemKind,
    field: String,
    message: String,
}

impl Unlocated {
    fn locate(self, file: &Arc<str>, document: usize, line: usize) -> InputProblem {
        InputProblem::new(self.kind, file, self.message)
            .at(document, line)
            .field(self.field)
    }
}

/// `apiVersion` and `kind` are non-empty strings, or the problem naming the first that is not.
fn check_type_fields(map: &Map<String, Value>, field: &str) -> Result<(), Unlocated> {
    let api_version = map.get("apiVersion");
    let kind = map.get("kind");
    for (name, v) in [("apiVersion", api_version), ("kind", kind)] {
        let (kind, message) = match v {
            Some(Value::String(s)) if !s.trim().is_empty() => continue,
            Some(Value::String(_)) => (ProblemKind::MissingField, format!("{name} is empty")),
            None | Some(Value::Null) => {
                let message = if api_version.is_none() && kind.is_none() {
                    "object has neither apiVersion nor kind; is this a Kubernetes manifest?"
                        .to_owned()
                } else {
                    format!("object has no {name}")
                };
                (ProblemKind::MissingField, message)
            }
            Some(other) => {
                let found = match other {
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::Array(_) => "a list",
                    _ => "a mapping",
                };
                let message = format!("{name} must be a string, found {found}");
                (ProblemKind::WrongFieldType, message)
            }
        };
        return Err(Unlocated {
            kind,
            field: join(field, name),
            message,
        });
    }
    Ok(())
}

/// Parser messages may quote the offending text, which may be a secret: every quoted span is
/// replaced by `…`; the problem's line and column say where to look.
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

#[cfg(test)]
mod tests;
