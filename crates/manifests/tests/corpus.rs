//! Loads every file of the real-world corpus (`tests/corpus/real`) and checks it loads the way
//! the issue says: templates and doc snippets give a clear error naming the file, everything else
//! gives objects on the right lines, and nothing panics.

use aksid_manifests::{ProblemKind, load};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/real")
}

/// `file → expectation` from EXPECTED.tsv (`template` for files that must fail to load).
fn expected() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(corpus().join("EXPECTED.tsv")).unwrap();
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
