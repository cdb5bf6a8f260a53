//! From YAML values to the JSON values an admission request carries, and the search for Helm
//! template actions in what parsed.

use serde_json::{Map, Number, Value};
use serde_yaml::Value as Yaml;

/// Why a YAML value has no JSON equivalent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ConvertError {
    /// A mapping key is a mapping or a sequence (typically `{{ .Values.x }}` read as flow YAML).
    ComplexKey,
}

/// Converts as `sigs.k8s.io/yaml` does: scalar keys become strings, tags are dropped.
/// Non-finite floats (`.nan`, `.inf`), which JSON cannot carry, become their YAML spelling.
/// The recursion is bounded by serde_yaml's nesting limit (128), so it cannot overflow the stack.
pub(crate) fn yaml_to_json(value: Yaml) -> Result<Value, ConvertError> {
    Ok(match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => number(&n),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(mapping) => {
            let mut out = Map::new();
            for (k, v) in mapping {
                out.insert(key(k)?, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(tagged) => yaml_to_json(tagged.value)?,
    })
}

fn number(n: &serde_yaml::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::from(i)
    } else if let Some(u) = n.as_u64() {
        Value::from(u)
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        Number::from_f64(f).map_or_else(|| Value::String(n.to_string()), Value::Number)
    }
}

fn key(k: Yaml) -> Result<String, ConvertError> {
    match k {
        Yaml::String(s) => Ok(s),
        Yaml::Null => Ok("null".to_owned()),
        Yaml::Bool(b) => Ok(b.to_string()),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Tagged(t) => key(t.value),
        Yaml::Sequence(_) | Yaml::Mapping(_) => Err(ConvertError::ComplexKey),
    }
}

/// Helm's built-in objects and the template actions that only a chart (not a manifest that
/// legitimately carries Go templates, such as an Argo CD ApplicationSet or a Prometheus rule)
/// would contain after `{{` / `{{-`.
const HELM_ACTIONS: &[&str] = &[
    ".Values",
    ".Release",
    ".Chart",
    ".Capabilities",
    ".Files",
    ".Template",
    "$.Values",
    "$.Release",
    "$.Chart",
    "include ",
    "template ",
    "toYaml ",
    "tpl ",
    "required ",
    "if ",
    "else",
    "end",
    "range ",
    "with ",
    "define ",
    "block ",
    "/*",
];

/// The first Helm template action in `s` (the text from `{{` to its `}}`), if any.
pub(crate) fn helm_action(s: &str) -> Option<&str> {
    let mut rest = s;
    while let Some(at) = rest.find("{{") {
        let candidate = &rest[at..];
        let inner = candidate[2..].strip_prefix('-').unwrap_or(&candidate[2..]);
        let inner = inner.trim_start();
        let hit = HELM_ACTIONS.iter().any(|a| {
            inner.strip_prefix(a).is_some_and(|after| {
                // `end` and `else` must be whole words; the others carry their own boundary.
                !matches!(*a, "end" | "else")
                    || after.starts_with([' ', '}', '-'])
                    || after.is_empty()
            })
        });
        if hit {
            let end = candidate.find("}}").map_or(candidate.len(), |e| e + 2);
            return Some(&candidate[..end]);
        }
        rest = &candidate[2..];
    }
    None
}

/// The first Helm action in a single-line string or key of `value`. Multi-line strings are
/// embedded files (scripts, Alertmanager templates) and are left alone.
pub(crate) fn find_helm_action(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) if !s.contains('\n') => helm_action(s),
        Value::Array(items) => items.iter().find_map(find_helm_action),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\n') {
                None
            } else {
                helm_action(k)
            }
            .or_else(|| find_helm_action(v))
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(text: &str) -> Result<Value, ConvertError> {
        yaml_to_json(serde_yaml::from_str(text).unwrap())
    }

    #[test]
    fn keys_tags_and_odd_numbers_convert_like_kubectl() {
        let v = convert("1: a\ntrue: b\nx: !Ref y\nn: .nan\nbig: 18446744073709551615\nf: 1.5\n")
            .unwrap();
        assert_eq!(v["1"], "a");
        assert_eq!(v["true"], "b");
        assert_eq!(v["x"], "y");
        assert_eq!(v["n"], ".nan");
        assert_eq!(v["big"], 18446744073709551615u64);
        assert_eq!(v["f"], 1.5);
        assert_eq!(
            convert("name: {{ .Values.name }}\n"),
            Err(ConvertError::ComplexKey)
        );
    }

    #[test]
    fn helm_actions_are_told_from_other_go_templates() {
        assert!(helm_action("{{ .Values.image }}").is_some());
        assert!(helm_action("x-{{- include \"a\" . }}").is_some());
        assert_eq!(helm_action("a {{ end }} b"), Some("{{ end }}"));
        assert!(helm_action("{{ $labels.instance }} is down").is_none());
        assert!(helm_action("{{.path.basename}}").is_none());
        assert!(helm_action("{{ endpoint }}").is_none());
        assert!(helm_action("{{").is_none());
        let v: Value =
            serde_json::json!({"a": ["ok", "{{ .Release.Name }}"], "b": "{{ if x }}\nmulti"});
        assert_eq!(find_helm_action(&v), Some("{{ .Release.Name }}"));
    }
}
