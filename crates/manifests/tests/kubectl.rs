//! aksid reads manifests as kubectl reads them: each case is a document that YAML parsers
//! disagree on, written to a file, read by the installed `kubectl` (`kubectl annotate --local -f
//! FILE k=v -o json`, the annotation then stripped) and by `aksid_manifests::load`, and the whole
//! objects compared. Where kubectl is absent the cases are skipped with a notice.
//!
//! Three outcomes are expected: the same objects; both refuse the file; or aksid refuses what
//! kubectl accepts, on purpose, for the reason the case gives (a key written twice, which kubectl
//! silently resolves to its last value; an alias expansion past aksid's budget).

use aksid_manifests::load;
use rstest::rstest;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The annotation kubectl adds, removed again before comparing.
const PROBE: &str = "aksid.io/kubectl-probe";

#[derive(Debug, Clone, Copy)]
enum Expect {
    Same,
    BothRefuse,
    AksidStricter(&'static str),
}

use Expect::{AksidStricter, BothRefuse, Same};

/// A ConfigMap whose `x` field holds `body` (indented under `x:`).
fn doc(body: &str) -> String {
    let body: String = body.lines().map(|l| format!("  {l}\n")).collect();
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: case\nx:\n{body}")
}

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The objects kubectl reads from `path`, or its error message.
fn kubectl(path: &Path) -> Result<Vec<Value>, String> {
    let file = path.to_str().unwrap();
    let out = Command::new("kubectl")
        .args([
            "annotate",
            "--local",
            "-f",
            file,
            &format!("{PROBE}=x"),
            "-o",
            "json",
        ])
        .env("KUBECONFIG", "/dev/null")
        .output()
        .expect("kubectl runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let stream = serde_json::Deserializer::from_slice(&out.stdout).into_iter::<Value>();
    stream
        .map(|object| {
            let mut object = object.map_err(|e| e.to_string())?;
            let metadata = object["metadata"].as_object_mut().unwrap();
            let annotations = metadata["annotations"].as_object_mut().unwrap();
            annotations.remove(PROBE);
            if annotations.is_empty() {
                metadata.remove("annotations");
            }
            Ok(object)
        })
        .collect()
}

/// The objects aksid reads from the same bytes, or its error messages.
fn aksid(name: &str, bytes: &[u8]) -> Result<Vec<Value>, String> {
    let loaded = load(name, bytes);
    if loaded.has_errors() {
        let shown: Vec<String> = loaded.problems.iter().map(ToString::to_string).collect();
        return Err(shown.join("\n"));
    }
    Ok(loaded.objects.into_iter().map(|m| m.object).collect())
}

fn compare(file: &str, text: &str, expect: Expect) {
    if !kubectl_available() {
        eprintln!("notice: kubectl is not installed; skipping the kubectl comparison");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, text).unwrap();
    let theirs = kubectl(&path);
    let ours = aksid(file, text.as_bytes());
    let shown = |r: &Result<Vec<Value>, String>| match r {
        Ok(objects) => serde_json::to_string_pretty(objects).unwrap(),
        Err(e) => format!("error: {e}"),
    };
    let report = format!(
        "expected {expect:?}\nkubectl:\n```\n{}\n```\naksid:\n```\n{}\n```",
        shown(&theirs),
        shown(&ours)
    );
    match expect {
        Same => {
            assert!(theirs.is_ok() && theirs == ours, "{report}");
            assert!(!ours.unwrap().is_empty(), "the case must hold an object");
        }
        BothRefuse => assert!(theirs.is_err() && ours.is_err(), "{report}"),
        AksidStricter(reason) => {
            assert!(
                theirs.is_ok() && ours.is_err(),
                "on purpose: {reason}\n{report}"
            )
        }
    }
}

#[rstest]
#[case::yes_and_on_are_true("a: yes\nb: on\nc: Yes\nd: ON\ne: True", Same)]
#[case::y_n_and_off_are_booleans("a: y\nb: n\nc: off\nd: N\ne: Off", Same)]
#[case::odd_capitals_stay_strings("a: tRUE\nb: yEs", Same)]
#[case::tilde_and_null("a: ~\nb: null\nc:\nd: NULL", Same)]
#[case::legacy_octal("a: 0644\nb: 0o17\nc: -0o17\nd: 0_1_0", Same)]
#[case::underscores_in_numbers("a: 1_000\nb: 1__0\nc: 685_230.15\nd: -_1", Same)]
#[case::hex_and_binary("a: 0x1f\nb: 0X1F\nc: -0x1f\nd: 0b101\ne: 0b2", Same)]
#[case::not_octal_is_a_float("a: 09\nb: 08.5", Same)]
#[case::floats(
    "a: 1.5\nb: 1e3\nc: 1.0\nd: -0.0\ne: 0.1\nf: .5\ng: 1e21\nh: 1e-7",
    Same
)]
#[case::big_integers(
    "a: 18446744073709551615\nb: 9223372036854775807\nc: -9223372036854775808\nd: 99999999999999999999",
    Same
)]
#[case::out_of_range_stays_a_string("a: 1e400\nb: 0x1ffffffffffffffff", Same)]
#[case::positive_infinity_is_refused("a: .inf", BothRefuse)]
#[case::negative_infinity_is_refused("a: -.Inf", BothRefuse)]
#[case::nan_is_refused("a: .nan", BothRefuse)]
#[case::dates_and_times_stay_strings(
    "a: 2001-12-14\nb: 2001-12-14t21:59:43.10-05:00\nc: 1:20",
    Same
)]
#[case::quoted_strings(
    "a: \"yes\"\nb: 'on'\nc: \"0644\"\nd: \"tab\\there\"\ne: ''\nf: 'it''s'\ng: \"\\u00e9\"",
    Same
)]
#[case::block_scalars(
    "a: |\n  one\n  two\nb: >-\n  folded\n  text\nc: |+\n  keep\n\nd: x",
    Same
)]
#[case::tags(
    "a: !custom yes\nb: ! on\nc: !!str 0644\nd: !!int \"12\"\ne: !!float 3\nf: !!bool \"yes\"",
    Same
)]
#[case::wrong_tag_is_refused("a: !!int abc", BothRefuse)]
#[case::binary("a: !!binary aGVsbG8=", Same)]
#[case::keys_become_strings("yes: a\nn: b\n1.5: c\n1e3: d\n0x10: e\n12: f", Same)]
#[case::null_key_is_refused("~: a", BothRefuse)]
#[case::complex_key_is_refused("? [a]\n: b", BothRefuse)]
#[case::merge_then_keys("base: &b {k: 1, l: 2}\nm:\n  <<: *b\n  k: 0", Same)]
#[case::keys_then_merge_as_go_yaml_v2("base: &b {k: 1, l: 2}\nm:\n  k: 0\n  <<: *b", Same)]
#[case::merge_of_a_list("m:\n  <<: [{k: 1}, {k: 2, l: 3}]", Same)]
#[case::anchors_and_aliases("a: &x {b: [1, 2]}\nc: *x\nd: &s text\ne: *s", Same)]
#[case::unknown_alias_is_refused("a: *nowhere", BothRefuse)]
#[case::duplicate_keys(
    "a: 1\na: 2",
    AksidStricter(
        "a key written twice: the reviewer may read one value and the cluster get another"
    )
)]
#[case::tab_after_a_colon("a:\tvalue\nb: \"x\"", Same)]
fn scalars_keys_and_structure(#[case] body: &str, #[case] expect: Expect) {
    compare("case.yaml", &doc(body), expect);
}

#[rstest]
#[case::crlf_line_ends(
    "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: crlf\r\ndata:\r\n  a: |\r\n    x\r\n    y\r\n",
    Same
)]
#[case::byte_order_mark(
    "\u{feff}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bom\n",
    Same
)]
#[case::tab_indentation_is_refused(
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: tab\n",
    BothRefuse
)]
#[case::documents_empty_and_ended(
    "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n...\n---\n# nothing\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n--- # c\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    Same
)]
#[case::content_on_the_marker_line_is_refused(
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n--- x: 1\n",
    BothRefuse
)]
#[case::list_kind(
    "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: b}\n",
    Same
)]
#[case::flow_style_document_read_as_json(
    "{apiVersion: v1, kind: ConfigMap, metadata: {name: flow}, data: {a: yes}}\n",
    BothRefuse
)]
#[case::flow_style_inside_block_yaml(
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flow, labels: {a: b}}\ndata: {a: yes}\n",
    Same
)]
fn streams_and_documents(#[case] text: &str, #[case] expect: Expect) {
    compare("case.yaml", text, expect);
}

#[test]
fn long_plain_and_quoted_strings() {
    let long = "word ".repeat(20_000);
    let body = format!("a: {}\nb: \"{}\"\nc: '{}'", long.trim(), long, long);
    compare("case.yaml", &doc(&body), Same);
}

#[test]
fn alias_bomb_of_nested_lists() {
    let mut body = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let mut previous = 'a';
    for c in 'b'..='i' {
        let refs = vec![format!("*{previous}"); 9].join(", ");
        body.push_str(&format!("{c}: &{c} [{refs}]\n"));
        previous = c;
    }
    compare("case.yaml", &doc(&body), BothRefuse);
}

#[test]
fn alias_bomb_of_one_large_string() {
    let big = "x".repeat(1 << 20);
    let body = format!("a: &a {big}\nb: [{}]", vec!["*a"; 40].join(", "));
    let reason = "aliases add 40 MiB, past aksid's 32 MiB expansion budget (kubectl spends seconds and gigabytes on such files)";
    compare("case.yaml", &doc(&body), AksidStricter(reason));
}

#[rstest]
#[case::numbers(
    r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}, "x": [1.0, 1e3, 1.5, 18446744073709551615, -3, 1e-7]}"#,
    Same
)]
#[case::stream_of_objects(
    "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}\n{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"b\"}}\n",
    Same
)]
#[case::duplicate_keys(
    r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}, "data": {"a": "1", "a": "2"}}"#,
    AksidStricter("the API server's strict field validation refuses a duplicate JSON field")
)]
fn json(#[case] text: &str, #[case] expect: Expect) {
    compare("case.json", text, expect);
}

/// What aksid writes as YAML (`manifests`, `explain`, the artifacts: serde-saphyr's serializer),
/// kubectl and aksid read back unchanged: strings YAML 1.1 would read as booleans, numbers or
/// null are quoted.
#[test]
fn yaml_that_aksid_writes_reads_back_unchanged() {
    let strings = [
        "yes",
        "on",
        "y",
        "n",
        "Y",
        "NO",
        "off",
        "0644",
        "1_000",
        "0x1f",
        "~",
        "",
        "null",
        "true",
        "1e3",
        ".inf",
        "<<",
        "2001-12-14",
        "1:20",
        "09",
        "0b101",
        "+12",
        "685_230.15",
        "- x",
        "a: b",
        "#c",
        "{{ x }}",
        "multi\nline\n",
    ];
    let data: serde_json::Map<String, Value> = strings
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("k{i}"), Value::from(*s)))
        .chain(strings.iter().map(|s| (s.to_string(), Value::from("key"))))
        .collect();
    let object = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "written"},
        "data": data,
        "x": {"n": 1.5, "b": true, "z": null, "l": [], "m": {}},
    });
    let text = serde_saphyr::to_string(&object).unwrap();
    assert_eq!(
        aksid("w.yaml", text.as_bytes()),
        Ok(vec![object.clone()]),
        "{text}"
    );
    compare("w.yaml", &text, Same);
}
