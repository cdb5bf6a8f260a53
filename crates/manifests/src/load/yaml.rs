//! One YAML document to JSON, composed from serde-saphyr's parser events (`granit_parser`) with
//! kubectl's semantics: go-yaml v2 scalars ([`super::resolve`]), merge keys applied in document
//! order, tags other than YAML's own ignored, keys stringified as `sigs.k8s.io/yaml` does.
//!
//! Where aksid is stricter than kubectl, on purpose: a key written twice in one mapping is an
//! error (kubectl silently keeps the last one, so the reviewer and the cluster can read different
//! values), nesting is limited to [`MAX_DEPTH`], and aliases may add at most
//! [`ALIAS_EXPANSION_LIMIT`] bytes in total, so an alias bomb is refused before it is built.
//!
//! Lines are the parser's own: the document's root node and the elements of the sequences a
//! document's objects can come from (the root sequence and a list's `items`).

use super::resolve::{self, Scalar, ScalarError};
use serde_json::{Map, Value};
use serde_saphyr::granit_parser::{ErrorKind, Event, Parser, ScalarStyle, ScanError, Span, Tag};
use std::collections::{HashMap, HashSet};

/// The deepest nesting of mappings and sequences accepted (the limit aksid has always had).
pub(crate) const MAX_DEPTH: usize = 128;

/// The most bytes (scalar bytes plus [`NODE_COST`] per node) that aliases may add to one
/// document in total: far above any real manifest, far below what an alias bomb asks for.
pub(crate) const ALIAS_EXPANSION_LIMIT: usize = 32 * 1024 * 1024;

/// What one node costs in the expansion budget beyond its text (about a `Value`'s size).
const NODE_COST: usize = 32;

/// A composed document: its value, the line of its root node, and the lines of the elements of
/// its root sequence or of its root mapping's `items` sequence.
#[derive(Debug)]
pub(crate) struct Document {
    pub value: Value,
    pub line: usize,
    pub item_lines: Vec<usize>,
}

/// Why a document could not be composed; `line` and `column` are in the file (1-based).
#[derive(Debug)]
pub(crate) struct YamlError {
    pub kind: YamlErrorKind,
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// The classes of [`YamlError`] the loader reports differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum YamlErrorKind {
    /// Not YAML, or YAML with no JSON form (a complex or null key, a duplicate key, ...).
    Malformed,
    /// A mapping key is a mapping or a sequence: typically `{{ ... }}` read as flow YAML.
    ComplexKey,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Aliases expand past [`ALIAS_EXPANSION_LIMIT`].
    AliasBudget,
}

/// Composes the first document of `text`, whose first line is line `first_line` of the file.
/// `Ok(None)` for an empty document.
pub(crate) fn compose(text: &str, first_line: usize) -> Result<Option<Document>, YamlError> {
    let mut options = serde_saphyr::granit_parser::Options::default();
    options.set_emit_comments(false);
    // The scanner runs ahead of the composer, so it may meet the limit first: both say TooDeep.
    options.flow_nesting_limit = MAX_DEPTH;
    options.block_nesting_limit = MAX_DEPTH;
    let mut composer = Composer {
        parser: Parser::new_from_str_with_options(text, options),
        offset: first_line - 1,
        anchors: HashMap::new(),
        expanded: 0,
        item_lines: Vec::new(),
    };
    composer.document()
}

struct Composer<'a> {
    parser: Parser<'a, serde_saphyr::granit_parser::StrInput<'a>>,
    offset: usize,
    /// Completed anchored nodes and their cost; an alias to an anchor still open is an error.
    anchors: HashMap<usize, (Value, usize)>,
    expanded: usize,
    item_lines: Vec<usize>,
}

/// Where a node sits, so the composer records the lines of the elements a caller needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Root,
    RootItems,
    Other,
}

impl<'a> Composer<'a> {
    fn document(&mut self) -> Result<Option<Document>, YamlError> {
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentStart(..) => {}
                Event::StreamEnd | Event::DocumentEnd => return Ok(None),
                event => {
                    let line = self.line(&span);
                    let (value, _) = self.node(event, span, 1, Place::Root)?;
                    return Ok(Some(Document {
                        value,
                        line,
                        item_lines: std::mem::take(&mut self.item_lines),
                    }));
                }
            }
        }
    }

    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        match self.parser.next_event() {
            Some(Ok(pair)) => Ok(pair),
            Some(Err(e)) => Err(self.scan_error(&e)),
            None => Err(YamlError {
                kind: YamlErrorKind::Malformed,
                message: "malformed YAML: the document ends early".to_owned(),
                line: self.offset + 1,
                column: 1,
            }),
        }
    }

    fn scan_error(&self, e: &ScanError) -> YamlError {
        if matches!(e.kind(), ErrorKind::RecursionLimitExceeded) {
            return YamlError {
                kind: YamlErrorKind::TooDeep,
                message: too_deep(),
                line: e.marker().line() + self.offset,
                column: e.marker().col() + 1,
            };
        }
        YamlError {
            kind: YamlErrorKind::Malformed,
            message: format!("malformed YAML: {}", super::redact_quoted(&e.info())),
            line: e.marker().line() + self.offset,
            column: e.marker().col() + 1,
        }
    }

    fn line(&self, span: &Span) -> usize {
        span.start.line() + self.offset
    }

    fn error(&self, kind: YamlErrorKind, message: String, span: &Span) -> YamlError {
        YamlError {
            kind,
            message,
            line: self.line(span),
            column: span.start.col() + 1,
        }
    }

    fn malformed(&self, e: ScalarError, span: &Span) -> YamlError {
        let message = format!("malformed YAML: {}", e.message());
        self.error(YamlErrorKind::Malformed, message, span)
    }

    /// One node and its cost in the expansion budget.
    fn node(
        &mut self,
        event: Event<'a>,
        span: Span,
        depth: usize,
        place: Place,
    ) -> Result<(Value, usize), YamlError> {
        let (composed, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let scalar = scalar(&text, style, tag.as_deref());
                let value = scalar
                    .and_then(resolve::to_json)
                    .map_err(|e| self.malformed(e, &span))?;
                ((value, NODE_COST + text.len()), anchor)
            }
            Event::Alias(id) => return self.alias(id, &span),
            Event::SequenceStart(_, anchor, _) => {
                (self.sequence(&span, depth, place == Place::Root)?, anchor)
            }
            Event::MappingStart(_, anchor, _) => (self.mapping(&span, depth, place)?, anchor),
            _ => {
                let message = "malformed YAML: unexpected parser event".to_owned();
                return Err(self.error(YamlErrorKind::Malformed, message, &span));
            }
        };
        if anchor != 0 {
            self.anchors.insert(anchor, composed.clone());
        }
        Ok(composed)
    }

    fn alias(&mut self, id: usize, span: &Span) -> Result<(Value, usize), YamlError> {
        let Some((value, cost)) = self.anchors.get(&id) else {
            let message =
                "malformed YAML: an alias refers to the anchor that contains it".to_owned();
            return Err(self.error(YamlErrorKind::Malformed, message, span));
        };
        self.expanded = self.expanded.saturating_add(*cost);
        if self.expanded > ALIAS_EXPANSION_LIMIT {
            let message = format!(
                "malformed YAML: aliases expand to more than {} MiB; an alias bomb? (write the values out)",
                ALIAS_EXPANSION_LIMIT >> 20
            );
            return Err(self.error(YamlErrorKind::AliasBudget, message, span));
        }
        Ok((value.clone(), *cost))
    }

    fn deeper(&self, depth: usize, span: &Span) -> Result<(), YamlError> {
        if depth > MAX_DEPTH {
            return Err(self.error(YamlErrorKind::TooDeep, too_deep(), span));
        }
        Ok(())
    }

    fn sequence(
        &mut self,
        span: &Span,
        depth: usize,
        record: bool,
    ) -> Result<(Value, usize), YamlError> {
        self.deeper(depth, span)?;
        let mut items = Vec::new();
        let mut cost = NODE_COST;
        loop {
            let (event, span) = self.next()?;
            if matches!(event, Event::SequenceEnd) {
                return Ok((Value::Array(items), cost));
            }
            if record {
                self.item_lines.push(self.line(&span));
            }
            let (value, c) = self.node(event, span, depth + 1, Place::Other)?;
            cost = cost.saturating_add(c);
            items.push(value);
        }
    }

    fn mapping(
        &mut self,
        span: &Span,
        depth: usize,
        place: Place,
    ) -> Result<(Value, usize), YamlError> {
        self.deeper(depth, span)?;
        let mut map = Map::new();
        let mut cost = NODE_COST;
        // Keys that merges set and no explicit entry has yet: writing one of them is no duplicate.
        let mut merged: HashSet<String> = HashSet::new();
        loop {
            let (event, key_span) = self.next()?;
            if matches!(event, Event::MappingEnd) {
                return Ok((Value::Object(map), cost));
            }
            let merge = is_merge_key(&event);
            let key = if merge {
                None
            } else {
                Some(self.key(event, &key_span, depth)?)
            };
            let (event, span) = self.next()?;
            let value_place = match (&key, place) {
                (Some(k), Place::Root) if k == "items" => Place::RootItems,
                _ => Place::Other,
            };
            if value_place == Place::RootItems && matches!(event, Event::SequenceStart(..)) {
                self.item_lines.clear();
            }
            let record = value_place == Place::RootItems;
            let (value, c) = match event {
                Event::SequenceStart(_, anchor, _) if record => {
                    let composed = self.sequence(&span, depth + 1, true)?;
                    if anchor != 0 {
                        self.anchors.insert(anchor, composed.clone());
                    }
                    composed
                }
                event => self.node(event, span, depth + 1, Place::Other)?,
            };
            cost = cost.saturating_add(c);
            match key {
                None => self.merge(&mut map, &mut merged, value, &key_span)?,
                Some(key) => {
                    if map.contains_key(&key) && !merged.remove(&key) {
                        return Err(self.duplicate(&key, &key_span));
                    }
                    cost = cost.saturating_add(key.len());
                    map.insert(key, value);
                }
            }
        }
    }

    fn duplicate(&self, key: &str, span: &Span) -> YamlError {
        let message = format!(
            "malformed YAML: key {key:?} appears twice in one mapping (kubectl would silently keep the last one); keep one"
        );
        self.error(YamlErrorKind::Malformed, message, span)
    }

    fn key(&mut self, event: Event<'a>, span: &Span, depth: usize) -> Result<String, YamlError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let scalar = scalar(&text, style, tag.as_deref());
                let key = scalar.map_err(|e| self.malformed(e, span))?;
                if anchor != 0 {
                    let value = resolve::to_json(key.clone()).unwrap_or(Value::Null);
                    self.anchors.insert(anchor, (value, NODE_COST + text.len()));
                }
                resolve::key(key).map_err(|e| self.malformed(e, span))
            }
            Event::Alias(id) => {
                let (value, _) = self.alias(id, span)?;
                match resolve::key_from_json(&value) {
                    Some(key) => key.map_err(|e| self.malformed(e, span)),
                    None => Err(self.complex_key(span)),
                }
            }
            event => {
                // Read the whole key first, so the error is the key's, not a later one.
                let _ = self.node(event, *span, depth + 1, Place::Other)?;
                Err(self.complex_key(span))
            }
        }
    }

    fn complex_key(&self, span: &Span) -> YamlError {
        let message = "malformed YAML: a mapping key is itself a mapping or a list, which a Kubernetes object cannot have".to_owned();
        self.error(YamlErrorKind::ComplexKey, message, span)
    }

    /// `<<: value` as go-yaml v2 applies it: the merged entries are written into the mapping in
    /// document order (so they override earlier entries), a list of mappings last to first.
    fn merge(
        &self,
        map: &mut Map<String, Value>,
        merged: &mut HashSet<String>,
        value: Value,
        span: &Span,
    ) -> Result<(), YamlError> {
        let sources = match value {
            Value::Object(source) => vec![source],
            Value::Array(items) => items
                .into_iter()
                .rev()
                .map(|item| match item {
                    Value::Object(source) => Ok(source),
                    _ => Err(()),
                })
                .collect::<Result<_, _>>()
                .map_err(|()| self.bad_merge(span))?,
            _ => return Err(self.bad_merge(span)),
        };
        for source in sources {
            for (key, value) in source {
                merged.insert(key.clone());
                map.insert(key, value);
            }
        }
        Ok(())
    }

    fn bad_merge(&self, span: &Span) -> YamlError {
        let message =
            "malformed YAML: the value of a merge key (<<) must be a mapping or a list of mappings"
                .to_owned();
        self.error(YamlErrorKind::Malformed, message, span)
    }
}

fn too_deep() -> String {
    format!("document is nested more than {MAX_DEPTH} levels deep")
}

fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Scalar, ScalarError> {
    let tag = tag.map(|t| resolve::core_tag(t.handle(), t.suffix()));
    resolve::scalar(text, style == ScalarStyle::Plain, tag.as_deref())
}

/// `<<` written plain, or tagged `!!merge`.
fn is_merge_key(event: &Event<'_>) -> bool {
    match event {
        Event::Scalar(text, style, _, tag) if text.as_ref() == "<<" => match tag {
            None => *style == ScalarStyle::Plain,
            Some(tag) => resolve::core_tag(tag.handle(), tag.suffix()) == "merge",
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value(text: &str) -> Value {
        compose(text, 1).unwrap().unwrap().value
    }

    fn error(text: &str) -> YamlError {
        compose(text, 10).unwrap_err()
    }

    #[test]
    fn merges_follow_go_yaml_v2_document_order() {
        let text = "b: &b {x: 1, k: 2}\nm1:\n  x: 0\n  <<: *b\nm2:\n  <<: *b\n  x: 0\nm3:\n  <<: [{x: 1}, {x: 2, z: 3}]\n";
        let v = value(text);
        assert_eq!(v["m1"], json!({"x": 1, "k": 2}));
        assert_eq!(v["m2"], json!({"x": 0, "k": 2}));
        assert_eq!(v["m3"], json!({"x": 1, "z": 3}));
        assert_eq!(error("a:\n  <<: 3\n").kind, YamlErrorKind::Malformed);
    }

    #[test]
    fn duplicate_keys_are_errors_naming_the_key_and_its_line() {
        let e = error("a: 1\nb:\n  c: 1\n  c: 2\n");
        assert_eq!(
            (e.kind, e.line, e.column),
            (YamlErrorKind::Malformed, 13, 3)
        );
        assert!(
            e.message.contains("key \"c\" appears twice"),
            "{}",
            e.message
        );
        // Keys that only read the same after resolution are duplicates too.
        assert!(compose("Y: 1\ntrue: 2\n", 1).is_err());
    }

    #[test]
    fn lines_of_the_root_and_of_items() {
        let doc = compose("\n# c\nkind: List\nitems:\n- a: 1\n-\n  b: 2\n- [x]\n", 5)
            .unwrap()
            .unwrap();
        assert_eq!(doc.line, 7);
        assert_eq!(doc.item_lines, vec![9, 11, 12]);
        let doc = compose("- a: 1\n- b: 1\n", 1).unwrap().unwrap();
        assert_eq!(doc.item_lines, vec![1, 2]);
        assert!(compose("# only\n", 1).unwrap().is_none());
    }

    #[test]
    fn aliases_anchors_and_their_budget() {
        assert_eq!(value("a: &x [1]\nb: *x\n")["b"], json!([1]));
        assert_eq!(value("&k key: 1\nother: *k\n")["other"], json!("key"));
        let e = error("a: &x [1, *x]\n");
        assert!(e.message.contains("contains it"), "{}", e.message);
        let big = "x".repeat(1 << 20);
        let bomb = format!("a: &a {big}\nb: [{}]\n", vec!["*a"; 64].join(", "));
        assert_eq!(error(&bomb).kind, YamlErrorKind::AliasBudget);
    }

    #[test]
    fn keys_that_are_collections_or_null() {
        assert_eq!(error("? [a]\n: b\n").kind, YamlErrorKind::ComplexKey);
        assert_eq!(
            error("name: {{ .Values.x }}\n").kind,
            YamlErrorKind::ComplexKey
        );
        assert!(error("~: b\n").message.contains("key is null"));
    }

    #[test]
    fn depth_is_limited() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(error(&deep).kind, YamlErrorKind::TooDeep);
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        assert!(compose(&ok, 1).is_ok());
        let block: String = (0..MAX_DEPTH + 1)
            .map(|i| format!("{}a{i}:\n", " ".repeat(i)))
            .collect();
        assert_eq!(error(&block).kind, YamlErrorKind::TooDeep);
    }

    #[test]
    fn syntax_errors_are_located_in_the_file() {
        let e = error("a: 1\nb: [\n");
        assert_eq!(e.kind, YamlErrorKind::Malformed);
        assert!(e.line >= 11, "{e:?}");
        assert!(e.message.starts_with("malformed YAML: "), "{}", e.message);
    }
}
