//! Loads every file of the real-world corpora (`tests/corpus/real` and `tests/corpus/wild`) and
//! checks it loads the way the issues say: templates and doc snippets give a clear error naming
//! the file, everything else gives objects on the right lines, tools' files found in a directory
//! and removed API versions give notices, and nothing panics.

use aksid_manifests::{LoadOptions, ProblemKind, Severity, load, load_with};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn corpus() -> PathBuf {
    corpus_dir("real")
}

fn corpus_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpus")
        .join(name)
}

/// `file → expectation` from EXPECTED.tsv (`template` for files that must fail to load).
fn expected() -> BTreeMap<String, String> {
    expected_in(&corpus())
}

fn expected_in(dir: &std::path::Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join("EXPECTED.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut cols = l.split('\t');
            Some((cols.next()?.to_owned(), cols.nth(1)?.to_owned()))
        })
        .collect()
}

#[test]
fn every_corpus_file_loads_as_the_issue_says() {
    let expected = expected();
    let mut files: Vec<_> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 57,
        "corpus not found at {}",
        corpus().display()
    );
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let loaded = load(&name, &bytes);
        let is_template = expected.get(&name).map(String::as_str) == Some("template");
        if is_template {
            assert!(loaded.has_errors(), "{name}: expected an error");
            for p in &loaded.problems {
                let shown = p.to_string();
                assert!(shown.starts_with(&format!("{name}:")), "{shown}");
                assert!(p.document.is_some(), "{shown}");
                if name.starts_with("49-") {
                    assert_eq!(p.kind, ProblemKind::MalformedYaml, "{shown}");
                } else {
                    assert_eq!(p.kind, ProblemKind::UnrenderedTemplate, "{shown}");
                    let line = text.lines().nth(p.line - 1).unwrap();
                    assert!(line.contains("{{"), "{shown}: line is {line:?}");
                }
            }
            continue;
        }
        if name.starts_with("20-") {
            assert!(loaded.objects.is_empty(), "{name}");
            assert_eq!(loaded.problems.len(), 1, "{name}");
            assert_eq!(loaded.problems[0].kind, ProblemKind::Empty);
            assert!(!loaded.has_errors());
            continue;
        }
        assert!(loaded.problems.is_empty(), "{name}: {:#?}", loaded.problems);
        assert!(!loaded.objects.is_empty(), "{name}: no objects");
        // Every object's line is its first content line: `apiVersion:` or `kind:` (or a
        // comment-free key) and the object's own kind is on a line nearby.
        let lines: Vec<&str> = text.lines().collect();
        let kind_lines = lines.iter().filter(|l| l.starts_with("kind:")).count();
        assert_eq!(
            kind_lines,
            loaded.objects.len(),
            "{name}: one object per top-level kind"
        );
        for m in &loaded.objects {
            let first = lines[m.line - 1];
            assert!(
                !first.trim().is_empty()
                    && !first.trim_start().starts_with('#')
                    && !first.starts_with("---"),
                "{name}:{}: {first:?}",
                m.line
            );
            let window = &lines[m.line - 1..];
            let end = window[1..]
                .iter()
                .position(|l| l.starts_with("---"))
                .map_or(window.len(), |p| p + 1);
            assert!(
                window[..end]
                    .iter()
                    .any(|l| *l == format!("kind: {}", m.kind())),
                "{name}:{}: kind {} not in the object's lines",
                m.line,
                m.kind()
            );
        }
    }
}

#[test]
fn comment_only_documents_and_missing_final_newline() {
    let read = |n: &str| {
        let path = std::fs::read_dir(corpus())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(n))
            .unwrap();
        load(n, &std::fs::read(path).unwrap())
    };
    let cronjob = read("06-");
    let kinds: Vec<_> = cronjob
        .objects
        .iter()
        .map(|m| (m.document, m.line, m.kind()))
        .collect();
    assert_eq!(kinds[0], (1, 2, "Namespace"));
    assert_eq!(
        kinds.len(),
        4,
        "two comment-only documents are skipped: {kinds:?}"
    );
    let no_newline = read("41-");
    assert_eq!(no_newline.objects.len(), 2);
    assert_eq!(no_newline.objects[1].kind(), "ManagedCluster");
    let malformed_annotations = read("55-");
    assert_eq!(
        malformed_annotations.objects[0].name(),
        Some("mysecretname")
    );
    assert!(malformed_annotations.objects[0].object["metadata"]["annotations"].is_array());
    let list_template = read("38-");
    assert_eq!(list_template.problems[0].line, 5);
}

/// The wild corpus as `check -f DIR` reads it (found by walking): templates are errors on their
/// `{{` line; the rendered PrometheusRule whose annotations hold Prometheus templates is an
/// object; the kustomization without kind and the `batch/v1beta1` CronJob are notices.
#[test]
fn every_wild_corpus_file_loads_as_a_directory_walk_reads_it() {
    let dir = corpus_dir("wild");
    let expected = expected_in(&dir);
    let walked = LoadOptions::default().found_by_walking(true);
    assert!(
        expected.len() >= 30,
        "wild corpus not found at {}",
        dir.display()
    );
    for (name, expect) in &expected {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let loaded = load_with(name, text.as_bytes(), &walked);
        if expect == "template" {
            assert!(loaded.has_errors(), "{name}: expected an error");
            let p = &loaded.problems[0];
            assert_eq!(p.kind, ProblemKind::UnrenderedTemplate, "{p}");
            assert!(text.lines().nth(p.line - 1).unwrap().contains("{{"), "{p}");
            continue;
        }
        let errors: Vec<String> = loaded
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .map(ToString::to_string)
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        let notices: Vec<ProblemKind> = loaded.problems.iter().map(|p| p.kind).collect();
        match &name[..3] {
            "33-" => assert_eq!(loaded.objects[0].kind(), "PrometheusRule"),
            "34-" => {
                assert_eq!(notices, vec![ProblemKind::NotAResource], "{name}");
                assert!(loaded.objects.is_empty());
            }
            "37-" => {
                assert_eq!(notices, vec![ProblemKind::RemovedApiVersion], "{name}");
                assert!(
                    loaded.problems[0]
                        .message
                        .contains("use apiVersion batch/v1")
                );
                assert_eq!(loaded.objects[0].kind(), "CronJob");
            }
            _ => {
                assert!(notices.is_empty(), "{name}: {:?}", loaded.problems);
                assert!(!loaded.objects.is_empty(), "{name}: no objects");
            }
        }
    }
}

/// A kustomization named with `-f` keeps today's error: nothing named is skipped silently.
#[test]
fn a_named_kustomization_without_kind_is_still_an_error() {
    let dir = corpus_dir("wild");
    let name = "34-ingress-nginx-kustomization-no-kind.yaml";
    let loaded = load(name, &std::fs::read(dir.join(name)).unwrap());
    assert_eq!(loaded.problems[0].kind, ProblemKind::MissingField);
    assert!(loaded.has_errors());
}
