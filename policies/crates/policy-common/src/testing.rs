//! Test helpers for the policy crates (feature `testing`): an in-memory cluster, admission
//! payload builders, and a property harness that feeds a policy arbitrary JSON.

use crate::cluster::{ClusterContext, Lookup};
use crate::request::split_api_version;
use crate::{Policy, json};
use proptest::prelude::*;
use serde_json::{Value, json};

/// An in-memory set of objects answering `get_resource` like the aksid host does offline.
#[derive(Debug, Default, Clone)]
pub struct ObjectSet(pub Vec<Value>);

impl ClusterContext for ObjectSet {
    fn get_resource(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Lookup {
        self.0
            .iter()
            .find(|o| {
                json::str_at(o, &["apiVersion"]) == Some(api_version)
                    && json::str_at(o, &["kind"]) == Some(kind)
                    && json::name(o) == name
                    && namespace.is_none_or(|ns| {
                        json::str_at(o, &["metadata", "namespace"]).unwrap_or("default") == ns
                    })
            })
            .cloned()
            .map_or(Lookup::NotFound, Lookup::Found)
    }
}

/// The `request` member of a CREATE AdmissionRequest for `object`, shaped like the one the API
/// server sends (kind from the object's `apiVersion`/`kind`, namespace defaulting to `default`).
pub fn admission_request(object: &Value, operation: &str) -> Value {
    let (group, version) = split_api_version(json::str_at(object, &["apiVersion"]).unwrap_or(""));
    json!({
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": group, "version": version, "kind": json::str_at(object, &["kind"]).unwrap_or("")},
        "resource": {"group": group, "version": version, "resource": ""},
        "operation": operation,
        "name": json::name(object),
        "namespace": json::str_at(object, &["metadata", "namespace"]).unwrap_or("default"),
        "userInfo": {"username": "alice@contoso.com", "groups": ["system:authenticated"]},
        "object": object,
    })
}

/// The full waPC `validate` payload for `object` with `settings`.
pub fn payload(object: &Value, settings: Value) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"request": admission_request(object, "CREATE"), "settings": settings}),
    )
    .expect("serialisable")
}

/// Runs policy `P` on `object` with `settings` against `cluster`, returning the parsed
/// `ValidationResponse` JSON.
pub fn run<P: Policy>(object: &Value, settings: Value, cluster: &dyn ClusterContext) -> Value {
    let response =
        crate::validate::<P>(&payload(object, settings), cluster).expect("validate answers");
    serde_json::from_slice(&response).expect("response is JSON")
}

/// Arbitrary JSON: wrong types, nulls, deep nesting and large arrays.
pub fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("true"),
            Just("True"),
            Just("default"),
            Just("cluster-admin"),
            Just("Pod"),
            Just("00000000-0000-0000-0000-000000000000"),
            Just("${X}")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(12, 400, 24, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..24).prop_map(Value::Array),
            prop::collection::btree_map(interesting_key(), inner, 0..12)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Keys the policies actually read, mixed with random ones, so fuzzing reaches the rules.
fn interesting_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "apiVersion", "kind", "metadata", "name", "namespace", "labels", "annotations", "spec",
            "template", "jobTemplate", "containers", "initContainers", "ephemeralContainers", "env",
            "value", "valueFrom", "volumes", "csi", "driver", "nodePublishSecretRef", "subjects",
            "roleRef", "rules", "verbs", "resources", "apiGroups", "users", "user", "token", "type",
            "data", "parameters", "provider", "forProvider", "resources", "aadProfile",
            "disableLocalAccounts", "operatorSpec", "secrets", "serviceAccountName", "serviceAccount",
            "azure.workload.identity/use", "azure.workload.identity/client-id", "aadpodidbinding",
        ]).prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

/// Objects shaped like any kind a policy handles, with arbitrary content.
pub fn arbitrary_object(
    kinds: &'static [(&'static str, &'static str)],
) -> impl Strategy<Value = Value> {
    (
        prop::sample::select(kinds),
        arbitrary_json(),
        arbitrary_json(),
        arbitrary_json(),
    )
        .prop_map(|((api_version, kind), metadata, spec, extra)| {
            json!({"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec,
                   "data": extra.clone(), "subjects": extra.clone(), "users": extra.clone(),
                   "parameters": extra.clone(), "type": extra})
        })
}

/// Asserts that policy `P` answers (accept or reject, never panic or error) for `object`,
/// both as the admitted object and as a raw `request`, with arbitrary settings too.
pub fn assert_answers<P: Policy>(object: &Value, settings: &Value, cluster: &dyn ClusterContext) {
    for payload in [
        payload(object, json!({})),
        payload(object, settings.clone()),
        serde_json::to_vec(&json!({"request": object, "settings": settings})).unwrap(),
    ] {
        let response = crate::validate::<P>(&payload, cluster).expect("validate must not fail");
        let response: Value = serde_json::from_slice(&response).expect("response is JSON");
        assert!(
            response["accepted"].is_boolean(),
            "no verdict in {response}"
        );
    }
}

/// The vendored real-world corpora (`tests/corpus/{real,wild}`, copied from `../shared/corpus`).
pub const CORPORA: [&str; 2] = ["real", "wild"];

/// The directory of one corpus (`real` or `wild`).
pub fn corpus_dir(corpus: &str) -> std::path::PathBuf {
    workspace_dir().join("tests/corpus").join(corpus)
}

fn workspace_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// One row of `EXPECTED.tsv`.
#[derive(Debug, Clone)]
pub struct CorpusRow {
    /// The corpus (`real` or `wild`).
    pub corpus: &'static str,
    /// File name inside the corpus directory.
    pub file: String,
    /// Policy id.
    pub policy: String,
    /// `accept`, `reject` or `template`.
    pub expect: String,
    /// Why, as written by the corpus author.
    pub why: String,
}

/// The rows of every corpus's `EXPECTED.tsv` for `policy`, with the project's documented
/// disagreements from `tests/corpus/OVERRIDES.tsv` (same columns, file names prefixed with
/// their corpus when not `real`; each row says why) applied.
pub fn corpus_rows(policy: &str) -> Vec<CorpusRow> {
    let overrides = read_rows("real", &workspace_dir().join("tests/corpus/OVERRIDES.tsv"));
    CORPORA
        .iter()
        .flat_map(|corpus| read_rows(corpus, &corpus_dir(corpus).join("EXPECTED.tsv")))
        .filter(|row| row.policy == policy)
        .map(|row| {
            let key = match row.corpus {
                "real" => row.file.clone(),
                corpus => format!("{corpus}/{}", row.file),
            };
            overrides
                .iter()
                .find(|o| o.file == key && o.policy == row.policy)
                .map(|o| CorpusRow {
                    corpus: row.corpus,
                    file: row.file.clone(),
                    ..o.clone()
                })
                .unwrap_or(row)
        })
        .collect()
}

fn read_rows(corpus: &'static str, path: &std::path::Path) -> Vec<CorpusRow> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.splitn(4, '\t');
            Some(CorpusRow {
                corpus,
                file: cols.next()?.to_owned(),
                policy: cols.next()?.to_owned(),
                expect: cols.next()?.to_owned(),
                why: cols.next().unwrap_or("").to_owned(),
            })
        })
        .collect()
}

/// A corpus file read by the CLI's own reader (`aksid_manifests::load_with`, so `List` kinds and
/// every document are read exactly as `kubectl aksid check -f DIR` reads them): its objects, or its
/// errors (notices, such as a file that holds no Kubernetes object, are not errors).
pub fn corpus_objects(row: &CorpusRow) -> Result<Vec<aksid_manifests::Manifest>, String> {
    let path = corpus_dir(row.corpus).join(&row.file);
    let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
    // As `check -f DIR` reads a file it finds in a repository: a kustomization is a notice.
    let options = aksid_manifests::LoadOptions::default().found_by_walking(true);
    let loaded = aksid_manifests::load_with(&row.file, &bytes, &options);
    let errors: Vec<String> = loaded
        .problems
        .iter()
        .filter(|p| p.is_error())
        .map(ToString::to_string)
        .collect();
    if errors.is_empty() {
        Ok(loaded.objects)
    } else {
        Err(errors.join("; "))
    }
}

/// The objects of a YAML or JSON text (README examples, inline fixtures), read by the CLI's
/// own reader; panics, quoting the problems, when the text does not load cleanly.
pub fn yaml_objects(text: &str) -> Vec<Value> {
    let loaded = aksid_manifests::load("example.yaml", text.as_bytes());
    assert!(
        !loaded.has_errors(),
        "the text does not load: {:?}\n```\n{text}\n```",
        loaded.problems
    );
    loaded.objects.into_iter().map(|m| m.object).collect()
}

/// The policy's own `policies/<id>/metadata.yml`, whose rules select what it is called for.
fn policy_metadata(policy: &str) -> aksid_metadata::Metadata {
    let path = workspace_dir()
        .join("policies")
        .join(policy)
        .join("metadata.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    aksid_metadata::Metadata::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Judges every corpus file listed for `policy` with policy `P` as `kubectl aksid check` does:
/// each object its policy's rules select becomes the CLI's CREATE request, all objects of a file
/// forming the cluster context. Returns one line per row whose verdict differs from
/// `EXPECTED.tsv` (template rows need the file to be refused as an unrendered template).
pub fn corpus_mismatches<P: Policy>(policy: &str) -> Vec<String> {
    let rows = corpus_rows(policy);
    assert!(!rows.is_empty(), "no EXPECTED.tsv rows for {policy}");
    let metadata = policy_metadata(policy);
    let mut mismatches = Vec::new();
    for row in rows {
        let name = format!("{}/{}", row.corpus, row.file);
        let objects = match (corpus_objects(&row), row.expect.as_str()) {
            // An unrendered template (or a broken doc snippet) must give a clear error.
            (Err(_), "template") => continue,
            (Ok(_), "template") => {
                mismatches.push(format!("{name}: expected a clear error, got objects"));
                continue;
            }
            (Ok(objects), _) => objects,
            (Err(e), expect) => {
                mismatches.push(format!(
                    "{name}: expected {expect}, but it does not load: {e}"
                ));
                continue;
            }
        };
        let cluster = ObjectSet(objects.iter().map(|m| m.object.clone()).collect());
        let options = aksid_manifests::RequestOptions::default();
        let rejections: Vec<String> = objects
            .iter()
            .map(|m| aksid_manifests::admission_request(m, &options))
            .filter(|request| aksid_manifests::selects(&metadata, request))
            .map(|request| {
                let payload = serde_json::to_vec(&json!({"request": request, "settings": {}}))
                    .expect("serialisable");
                let response = crate::validate::<P>(&payload, &cluster).expect("validate answers");
                serde_json::from_slice::<Value>(&response).expect("response is JSON")
            })
            .filter(|r| r["accepted"] == false)
            .map(|r| r["message"].as_str().unwrap_or("").to_owned())
            .collect();
        match (row.expect.as_str(), rejections.is_empty()) {
            ("accept", false) => mismatches.push(format!(
                "{name}: expected accept ({}), got rejections:\n  {}",
                row.why,
                rejections.join("\n  ")
            )),
            ("reject", true) => {
                mismatches.push(format!("{name}: expected reject ({}), got accept", row.why))
            }
            _ => {}
        }
    }
    mismatches
}

/// Asserts that there are as many `actual` messages as `expected` prefixes and that each message
/// starts with its prefix, printing both as fenced blocks on failure.
pub fn assert_messages_start_with<M: std::fmt::Display>(actual: &[M], expected: &[&str]) {
    let actual: Vec<String> = actual.iter().map(ToString::to_string).collect();
    assert_eq!(
        actual.len(),
        expected.len(),
        "```\n{}\n```",
        actual.join("\n")
    );
    for (message, prefix) in actual.iter().zip(expected) {
        assert!(
            message.starts_with(prefix),
            "expected\n```\n{prefix}\n```\ngot\n```\n{message}\n```"
        );
    }
}

/// Asserts a verdict's decision and that its message contains `message_part` (`""` for any).
pub fn assert_verdict(verdict: &crate::Verdict, allowed: bool, message_part: &str) {
    let message = verdict.message().unwrap_or_default();
    assert_eq!(verdict.is_allowed(), allowed, "```\n{message}\n```");
    assert!(
        message.contains(message_part),
        "expected `{message_part}` in\n```\n{message}\n```"
    );
}
