//! Loader tests: one per problem kind (the kind, and a message naming file, document and line),
//! list flattening with lines, JSON, and the nesting limits.

use super::*;
use crate::{ProblemKind, Severity};

fn load_str(name: &str, text: &str) -> Loaded {
    load(name, text.as_bytes())
}

/// The only problem of `loaded`, checked to name `file`, `document` and `line` when printed.
fn only_problem(
    loaded: &Loaded,
    kind: ProblemKind,
    document: Option<usize>,
    line: usize,
) -> String {
    assert_eq!(loaded.problems.len(), 1, "{:#?}", loaded.problems);
    let p = &loaded.problems[0];
    assert_eq!(p.kind, kind, "{p}");
    assert_eq!((p.document, p.line), (document, line), "{p}");
    let shown = p.to_string();
    assert!(shown.starts_with(p.file.as_ref()), "{shown}");
    if let Some(d) = document {
        assert!(shown.contains(&format!(":{line}:")), "{shown}");
        assert!(shown.contains(&format!("document {d}")), "{shown}");
    }
    shown
}

fn lines(loaded: &Loaded) -> Vec<(usize, usize, &str)> {
    loaded
        .objects
        .iter()
        .map(|m| (m.document, m.line, m.kind()))
        .collect()
}

#[test]
fn multi_document_yaml_keeps_documents_and_lines() {
    let text = "# header\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n\n# comment\napiVersion: v1\nkind: Pod\n---\n---\n# only a comment\n---\napiVersion: v1\nkind: Secret\n";
    let loaded = load_str("m.yaml", text);
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    assert_eq!(
        lines(&loaded),
        vec![(1, 2, "Namespace"), (2, 8, "Pod"), (5, 14, "Secret")]
    );
    assert_eq!(loaded.objects[0].source.as_ref(), "m.yaml");
}

#[test]
fn malformed_yaml_maps_the_parser_line_to_the_file() {
    let text = "apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n   bad: indent\n---\napiVersion: v1\nkind: Secret\n";
    let loaded = load_str("bad.yaml", text);
    let shown = only_problem(&loaded, ProblemKind::MalformedYaml, Some(2), 8);
    assert!(shown.starts_with("bad.yaml:8:"), "{shown}");
    assert!(shown.contains("malformed YAML: "), "{shown}");
    assert!(
        !shown.contains("indent"),
        "no document content in messages: {shown}"
    );
    assert_eq!(lines(&loaded), vec![(1, 1, "Pod"), (3, 10, "Secret")]);
}

#[test]
fn malformed_json_names_its_line() {
    let text = "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Pod\",,\n}";
    let loaded = load_str("pod.json", text);
    let shown = only_problem(&loaded, ProblemKind::MalformedJson, Some(1), 3);
    assert!(shown.contains("malformed JSON: "), "{shown}");
}

#[test]
fn json_streams_lists_and_arrays() {
    let text = "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n  {\"apiVersion\": \"v1\", \"kind\": \"Pod\"},\n  {\"apiVersion\": \"v1\",\n   \"kind\": \"Secret\"}\n]}\n[\n {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\"}\n]\n";
    let loaded = load_str("all.json", text);
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    assert_eq!(
        lines(&loaded),
        vec![(1, 2, "Pod"), (1, 3, "Secret"), (2, 7, "ConfigMap")]
    );
}

#[test]
fn yaml_flow_style_in_a_file_starting_with_a_brace_is_refused_as_kubectl_does() {
    let loaded = load_str("flow.yaml", "{apiVersion: v1, kind: Pod}\n");
    let shown = only_problem(&loaded, ProblemKind::MalformedJson, Some(1), 1);
    assert!(
        shown.contains("YAML flow style, which kubectl refuses"),
        "{shown}"
    );
    let loaded = load_str("flow.json", "apiVersion: v1\nkind: Pod\n");
    assert!(
        loaded.problems.is_empty(),
        "YAML in a .json file is YAML to kubectl too"
    );
    assert_eq!(lines(&loaded), vec![(1, 1, "Pod")]);
}

#[test]
fn lists_are_flattened_with_item_lines() {
    let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: a\n- apiVersion: apps/v1\n  kind: DeploymentList\n  items:\n  - apiVersion: apps/v1\n    kind: Deployment\n- kind: Service\n  apiVersion: v1\n- 3\n";
    let loaded = load_str("list.yaml", text);
    assert_eq!(
        lines(&loaded),
        vec![(1, 4, "Pod"), (1, 8, "Deployment"), (1, 13, "Service")]
    );
    let shown = only_problem(&loaded, ProblemKind::NotAnObject, Some(1), 15);
    assert!(shown.contains("field items[3]"), "{shown}");
}

#[test]
fn list_items_without_kind_name_the_item() {
    let text =
        "apiVersion: v1\nkind: PodList\nitems:\n  - apiVersion: v1\n    metadata: {name: a}\n";
    let loaded = load_str("l.yaml", text);
    let shown = only_problem(&loaded, ProblemKind::MissingField, Some(1), 4);
    assert!(shown.contains("field items[0].kind"), "{shown}");
}

#[test]
fn a_kind_ending_in_list_without_items_is_an_object() {
    let loaded = load_str(
        "a.yaml",
        "apiVersion: example.com/v1\nkind: AllowList\nspec: {}\n",
    );
    assert_eq!(lines(&loaded), vec![(1, 1, "AllowList")]);
}

#[test]
fn templates_that_fail_to_parse() {
    let text = "apiVersion: v1\nkind: Pod\n---\n# c\n{{- if .Values.enabled }}\napiVersion: v1\nkind: Secret\n{{- end }}\n";
    let loaded = load_str("chart/t.yaml", text);
    let shown = only_problem(&loaded, ProblemKind::UnrenderedTemplate, Some(2), 5);
    assert!(
        shown.ends_with(
            "this looks like an unrendered template; render it first (helm template ...)"
        ),
        "{shown}"
    );
    assert_eq!(lines(&loaded), vec![(1, 1, "Pod")]);
}

#[test]
fn templates_that_parse() {
    let text =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"{{ .Release.Name }}-config\"\n";
    let loaded = load_str("cm.yaml", text);
    only_problem(&loaded, ProblemKind::UnrenderedTemplate, Some(1), 4);
    // `name: {{ .Values.x }}` parses as a flow mapping used as a key.
    let loaded = load_str(
        "n.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{.Name}}\n",
    );
    only_problem(&loaded, ProblemKind::UnrenderedTemplate, Some(1), 4);
}

#[test]
fn go_templates_that_are_data_are_not_flagged() {
    let text = "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nspec:\n  groups:\n  - rules:\n    - annotations:\n        summary: \"{{ $labels.instance }} down\"\n      expr: up == 0\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  t.tmpl: |\n    {{ define \"x\" }}{{ range .Alerts }}{{ end }}{{ end }}\n";
    let loaded = load_str("rules.yaml", text);
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    assert_eq!(loaded.objects.len(), 2);
}

#[test]
fn binary_input() {
    let loaded = load("a.yaml", b"apiVersion: v1\0\0kind: Pod");
    let shown = only_problem(&loaded, ProblemKind::Binary, None, 1);
    assert_eq!(shown, "a.yaml: binary file, not a Kubernetes manifest");
    let loaded = load("b.yaml", &[0xff, 0xfe, b'a']);
    only_problem(&loaded, ProblemKind::Binary, None, 1);
}

#[test]
fn empty_inputs_are_notices() {
    for (text, message) in [
        ("", "file is empty"),
        ("  \n\n", "file is empty"),
        (
            "# nothing\n#---\n",
            "file contains only comments, no Kubernetes objects",
        ),
        (
            "---\n# a\n---\n",
            "file contains only comments, no Kubernetes objects",
        ),
        ("---\nnull\n", "file contains no Kubernetes objects"),
        (
            "apiVersion: v1\nkind: List\nitems: []\n",
            "file contains no Kubernetes objects",
        ),
    ] {
        let loaded = load_str("e.yaml", text);
        let shown = only_problem(&loaded, ProblemKind::Empty, None, 1);
        assert_eq!(shown, format!("e.yaml: {message}"), "{text:?}");
        assert_eq!(loaded.problems[0].severity, Severity::Notice);
        assert!(!loaded.has_errors());
    }
}

#[test]
fn missing_and_mistyped_fields() {
    let loaded = load_str("f.yaml", "---\napiVersion: v1\nmetadata: {name: x}\n");
    let shown = only_problem(&loaded, ProblemKind::MissingField, Some(1), 2);
    assert_eq!(
        shown,
        "f.yaml:2: document 1: field kind: object has no kind"
    );
    let loaded = load_str("f.yaml", "kind: Pod\n");
    let shown = only_problem(&loaded, ProblemKind::MissingField, Some(1), 1);
    assert!(shown.contains("field apiVersion"), "{shown}");
    let loaded = load_str("f.yaml", "foo: bar\n");
    let shown = only_problem(&loaded, ProblemKind::MissingField, Some(1), 1);
    assert!(shown.contains("neither apiVersion nor kind"), "{shown}");
    let loaded = load_str("f.yaml", "apiVersion: v1\nkind: [Pod]\n");
    let shown = only_problem(&loaded, ProblemKind::WrongFieldType, Some(1), 1);
    assert!(
        shown.contains("field kind: kind must be a string, found a list"),
        "{shown}"
    );
    let loaded = load_str("f.yaml", "apiVersion: 1\nkind: Pod\n");
    let shown = only_problem(&loaded, ProblemKind::WrongFieldType, Some(1), 1);
    assert!(shown.contains("field apiVersion"), "{shown}");
    let loaded = load_str("f.yaml", "apiVersion: v1\nkind: \"\"\n");
    only_problem(&loaded, ProblemKind::MissingField, Some(1), 1);
}

#[test]
fn documents_that_are_not_mappings() {
    let loaded = load_str("s.yaml", "just some text\n");
    let shown = only_problem(&loaded, ProblemKind::NotAnObject, Some(1), 1);
    assert!(shown.contains("document is a string"), "{shown}");
    let loaded = load_str("s.json", "[1, {\"apiVersion\": \"v1\", \"kind\": \"Pod\"}]");
    only_problem(&loaded, ProblemKind::NotAnObject, Some(1), 1);
    assert_eq!(loaded.objects.len(), 1);
}

#[test]
fn oversize_input() {
    let options = LoadOptions::default().max_bytes(10);
    let loaded = load_with("big.yaml", b"apiVersion: v1\nkind: Pod\n", &options);
    let shown = only_problem(&loaded, ProblemKind::TooLarge, None, 1);
    assert_eq!(
        shown,
        "big.yaml: file is 25 bytes, larger than the 10 bytes limit; raise it with --max-file-size"
    );
    assert_eq!(LoadOptions::default().limit(), 64 * 1024 * 1024);
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for (name, text) in [
        (
            "deep.yaml",
            format!("apiVersion: v1\nkind: Pod\nx: {}\n", "[".repeat(200_000)),
        ),
        ("deep.json", format!("{{\"a\": {}", "[".repeat(200_000))),
        (
            "deep2.yaml",
            (0..300)
                .map(|i| format!("{}a{i}:\n", " ".repeat(i)))
                .collect(),
        ),
    ] {
        let loaded = load_str(name, &text);
        assert_eq!(loaded.problems.len(), 1, "{name}: {:?}", loaded.problems);
        assert_eq!(loaded.problems[0].kind, ProblemKind::TooDeep, "{name}");
        assert!(loaded.problems[0].document.is_some());
    }
    let deep_ok = format!(
        "apiVersion: v1\nkind: Pod\nx: {}{}\n",
        "[".repeat(100),
        "]".repeat(100)
    );
    assert!(load_str("ok.yaml", &deep_ok).problems.is_empty());
}

#[test]
fn alias_bombs_are_refused() {
    let mut text =
        String::from("apiVersion: v1\nkind: Pod\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let loaded = load_str("bomb.yaml", &text);
    let shown = only_problem(&loaded, ProblemKind::MalformedYaml, Some(1), 8);
    assert!(shown.contains("aliases expand to more than"), "{shown}");
}

#[test]
fn duplicate_keys_are_malformed_as_kubectl_says() {
    let loaded = load_str("d.yaml", "apiVersion: v1\nkind: Pod\nkind: Secret\n");
    let shown = only_problem(&loaded, ProblemKind::MalformedYaml, Some(1), 3);
    assert!(shown.contains("key \"kind\" appears twice"), "{shown}");
    assert!(
        !shown.contains("Secret"),
        "values are never quoted: {shown}"
    );
}

#[test]
fn merge_keys_tags_bom_and_crlf() {
    let text = "\u{feff}base: &b {apiVersion: v1}\r\n<<: *b\r\nkind: !custom Pod\r\n";
    let loaded = load_str("m.yaml", text);
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    assert_eq!(loaded.objects[0].api_version(), "v1");
    assert_eq!(loaded.objects[0].kind(), "Pod");
}

#[test]
fn parser_messages_never_quote_document_content() {
    let secret = "Xq48Q~fakeFAKEfake0123456789abcdefGHIJ.kl";
    let text =
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  generation: !!int {secret}\n");
    let loaded = crate::load("pod.yaml", text.as_bytes());
    let shown = loaded.problems[0].to_string();
    assert!(shown.contains("malformed YAML: "), "{shown}");
    assert!(!shown.contains(&secret[..8]), "{shown}");
}

#[test]
fn removed_api_versions_are_notices_and_the_object_stays() {
    let text = "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c}\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: d}\n";
    let loaded = load_str("c.yaml", text);
    let shown = only_problem(&loaded, ProblemKind::RemovedApiVersion, Some(1), 1);
    assert_eq!(
        shown,
        "c.yaml:1: document 1: batch/v1beta1 CronJob was removed in Kubernetes 1.25: no cluster serves it, so no policy judges it; use apiVersion batch/v1"
    );
    assert!(!loaded.has_errors());
    assert_eq!(lines(&loaded), vec![(1, 1, "CronJob"), (2, 5, "CronJob")]);
}

#[test]
fn tools_files_found_by_walking_are_skipped_with_a_notice() {
    let walked = LoadOptions::default().found_by_walking(true);
    for (file, text, message) in [
        (
            "chart/Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 1.0.0\n",
            "Helm chart metadata (Chart.yaml), not a Kubernetes object; skipped",
        ),
        (
            "chart/values-prod.yaml",
            "image: {tag: x}\n",
            "a Helm values file, not a Kubernetes object; skipped",
        ),
        (
            "k/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n",
            "a Kustomize kustomization, not a Kubernetes object; skipped",
        ),
    ] {
        let loaded = load_with(file, text.as_bytes(), &walked);
        let shown = only_problem(&loaded, ProblemKind::NotAResource, Some(1), 1);
        assert_eq!(shown, format!("{file}:1: document 1: {message}"));
        assert!(loaded.objects.is_empty() && !loaded.has_errors());
    }
    // Named with -f: today's error, and a Kustomization is an object.
    let loaded = load_str("chart/Chart.yaml", "apiVersion: v2\nname: app\n");
    only_problem(&loaded, ProblemKind::MissingField, Some(1), 1);
    // A list item without kind is a broken list, not a tool's file.
    let list = "apiVersion: v1\nkind: List\nitems:\n- metadata: {name: a}\n";
    let loaded = load_with("l.yaml", list.as_bytes(), &walked);
    only_problem(&loaded, ProblemKind::MissingField, Some(1), 4);
}

/// A JSON 6902 patch list no kustomization names (or one in a folder walked without
/// `--kustomize`) is a notice when walked, and the usual error when named with -f.
#[rstest::rstest]
#[case::json_file("ops/patch.json", "[{\"op\":\"add\",\"path\":\"/x\",\"value\":1}]", 1)]
#[case::yaml_file(
    "ops/patch.yaml",
    "# replicas\n- op: replace\n  path: /spec/replicas\n  value: 3\n- op: remove\n  path: /spec/paused\n",
    2
)]
fn json_patches_found_by_walking_are_skipped_with_a_notice(
    #[case] file: &str,
    #[case] text: &str,
    #[case] line: usize,
) {
    let walked = load_with(
        file,
        text.as_bytes(),
        &LoadOptions::default().found_by_walking(true),
    );
    let shown = only_problem(&walked, ProblemKind::NotAResource, Some(1), line);
    assert_eq!(
        shown,
        format!("{file}:{line}: document 1: a JSON 6902 patch, not a Kubernetes object; skipped")
    );
    assert!(walked.objects.is_empty() && !walked.has_errors());
    let named = load_str(file, text);
    assert!(named.has_errors(), "{:#?}", named.problems);
    assert!(
        named
            .problems
            .iter()
            .all(|p| p.kind == ProblemKind::MissingField),
        "{:#?}",
        named.problems
    );
}

#[test]
fn json_duplicate_keys_name_the_path_and_line() {
    let text = "{\"apiVersion\": \"v1\", \"kind\": \"Secret\",\n \"data\": {\"password\": \"aHVudGVyMg==\",\n  \"password\": \"c2VjcmV0\"}}";
    let loaded = load_str("s.json", text);
    let shown = only_problem(&loaded, ProblemKind::MalformedJson, Some(1), 3);
    assert!(shown.contains("key data.password appears twice"), "{shown}");
    assert!(
        !shown.contains("c2VjcmV0") && !shown.contains("aHVudGVy"),
        "{shown}"
    );
}

#[test]
fn go_templates_in_rendered_strings_are_data_but_helm_objects_are_not() {
    let rule = "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nspec:\n  groups:\n  - rules:\n    - annotations:\n        description: claimed by {{ $labels.pvc }} {{ with $labels.cluster -}} on {{ . }} {{- end }} is full\n";
    let loaded = load_str("rule.yaml", rule);
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let helm = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  image: repo/{{ .Values.image }}:1\n";
    let loaded = load_str("pod.yaml", helm);
    only_problem(&loaded, ProblemKind::UnrenderedTemplate, Some(1), 6);
}

#[test]
fn scalars_are_read_as_kubectl_reads_them() {
    let text = "apiVersion: v1\nkind: ConfigMap\nx: {a: yes, b: 0644, c: 1_000, d: off, e: '0644', f: 1e3}\n";
    let loaded = load_str("c.yaml", text);
    assert_eq!(
        loaded.objects[0].object["x"],
        serde_json::json!({"a": true, "b": 420, "c": 1000, "d": false, "e": "0644", "f": 1000})
    );
}
