//! Telling an unrendered Helm chart from a rendered object that carries Go templates as data.
//!
//! Templating in YAML structure (`{{- if ... }}` lines, `name: {{ .Values.x }}`) does not parse,
//! or parses into a mapping used as a key: the loader calls those documents templates. A
//! document that parses is a template only when a one-line string or a key uses Helm's own
//! objects or functions (`.Values`, `.Release`, `include`, `toYaml`, ...). Go template syntax
//! that every templating user shares (`{{ $labels.x }}`, `{{ with }}`, `{{ end }}`,
//! `{{ template "x" . }}`) is data: Prometheus rules, Alertmanager configs, Argo CD
//! ApplicationSets and Crossplane compositions carry it in rendered objects.

use serde_json::Value;

/// Helm's built-in objects and the functions only Helm defines, as they follow `{{` / `{{-`
/// (or appear later in the action: `{{ if .Values.x }}`).
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
    "toYaml ",
    "tpl ",
    "required ",
];

/// The first Helm template action in `s` (the text from `{{` to its `}}`), if any.
pub(crate) fn helm_action(s: &str) -> Option<&str> {
    let mut rest = s;
    while let Some(at) = rest.find("{{") {
        let candidate = &rest[at..];
        let end = candidate.find("}}").map_or(candidate.len(), |e| e + 2);
        let action = &candidate[..end];
        let inner = action[2..].strip_prefix('-').unwrap_or(&action[2..]);
        let hit = HELM_ACTIONS.iter().any(|a| {
            inner.trim_start().starts_with(a)
                || (a.starts_with(['.', '$']) && inner.contains(a))
                || inner.contains(&format!("({a}"))
                || inner.contains(&format!("| {a}"))
        });
        if hit {
            return Some(action);
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
    use rstest::rstest;

    #[rstest]
    #[case::values("{{ .Values.image }}", true)]
    #[case::include("x-{{- include \"a\" . }}", true)]
    #[case::values_inside_if("{{ if .Values.enabled }}", true)]
    #[case::piped_to_yaml("{{ .Values.x | toYaml }}", true)]
    #[case::release_mid_string("app-{{ .Release.Name }}-config", true)]
    #[case::prometheus_labels("{{ $labels.instance }} is down", false)]
    #[case::prometheus_with_end("on {{ with $labels.cluster -}} {{ . }} {{- end }}", false)]
    #[case::alertmanager_template("{{ template \"slack.text\" . }}", false)]
    #[case::argo_path("{{.path.basename}}", false)]
    #[case::word_starting_with_end("{{ endpoint }}", false)]
    #[case::unclosed("{{", false)]
    fn helm_actions_are_told_from_other_go_templates(#[case] text: &str, #[case] helm: bool) {
        assert_eq!(helm_action(text).is_some(), helm, "{text}");
    }

    #[test]
    fn multi_line_strings_are_embedded_files() {
        let v: Value =
            serde_json::json!({"a": ["ok", "{{ .Release.Name }}"], "b": "{{ .Values.x }}\nmulti"});
        assert_eq!(find_helm_action(&v), Some("{{ .Release.Name }}"));
        let v: Value = serde_json::json!({"b": "{{ .Values.x }}\nmulti"});
        assert_eq!(find_helm_action(&v), None);
    }
}
