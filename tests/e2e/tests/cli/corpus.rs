//! The real-world corpus (`tests/corpus/real`): every `EXPECTED.tsv` row, with the documented
//! disagreements of `tests/corpus/OVERRIDES.tsv`, through the binary.

use crate::util::{fenced, run_aksid, workspace};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The rows of a corpus TSV (`file`, `policy`, `expect`, `why`), without its header.
fn rows(path: &Path) -> Vec<[String; 4]> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut cols = line.splitn(4, '\t').map(str::to_owned);
            std::array::from_fn(|_| cols.next().unwrap_or_default())
        })
        .collect()
}

/// Each file is checked alone (its own object set, as the native corpus harness judges it).
#[test]
fn every_expected_row_holds_when_each_file_is_checked_alone() {
    let corpus = workspace().join("tests/corpus");
    let overrides = rows(&corpus.join("OVERRIDES.tsv"));
    let mut by_file: BTreeMap<String, Vec<[String; 4]>> = BTreeMap::new();
    for row in rows(&corpus.join("real/EXPECTED.tsv")) {
        let row = overrides
            .iter()
            .find(|o| o[0] == row[0] && o[1] == row[1])
            .cloned()
            .unwrap_or(row);
        by_file.entry(row[0].clone()).or_default().push(row);
    }
    assert!(
        by_file.len() >= 50,
        "{} files in EXPECTED.tsv",
        by_file.len()
    );
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for (file, rows) in &by_file {
        // --no-exceptions: the checkout's own .aksid.yaml, if it ever has one, must not count.
        let run = run_aksid(
            &corpus.join("real"),
            &["check", "-f", file, "-o", "json", "--no-exceptions"],
            None,
        );
        if let Some(crash) = run.crash() {
            mismatches.push(format!(
                "{file}: crashed ({crash}):\n{}",
                fenced(&run.stderr)
            ));
            continue;
        }
        let Ok(report) = serde_json::from_str::<Value>(&run.stdout) else {
            mismatches.push(format!(
                "{file}: exit {:?}, no JSON report:\n{}",
                run.code,
                fenced(&run.stderr)
            ));
            continue;
        };
        let errors: Vec<&Value> = report["errors"]
            .as_array()
            .unwrap()
            .iter()
            // A file of comments only has no objects, which an accept row allows.
            .filter(|e| e["file"] == file.as_str() && e["kind"] != "noObjects")
            .collect();
        for [_, policy, expect, why] in rows {
            checked += 1;
            let rejections: Vec<&str> = report["results"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| {
                    r["file"] == file.as_str()
                        && r["policy"] == policy.as_str()
                        && r["allowed"] == false
                })
                .map(|r| r["message"].as_str().unwrap_or("(no message)"))
                .collect();
            let problem = match expect.as_str() {
                "reject" | "accept" if !errors.is_empty() => Some(format!(
                    "expected {expect}, but the file has errors: {errors:?}"
                )),
                "reject" if rejections.is_empty() => {
                    Some("expected reject, got no rejection".to_owned())
                }
                "accept" if !rejections.is_empty() => Some(format!(
                    "expected accept, got:\n  {}",
                    rejections.join("\n  ")
                )),
                "template" => {
                    let template_error = errors
                        .iter()
                        .any(|e| e["kind"] == "unrenderedTemplate" || e["kind"] == "malformedYaml");
                    (!template_error || run.code != Some(2)).then(|| {
                            format!("expected an unrenderedTemplate or malformedYaml error and exit 2, got exit {:?} and errors {errors:?}", run.code)
                        })
                }
                "reject" | "accept" => None,
                other => Some(format!("unknown expectation {other:?}")),
            };
            if let Some(problem) = problem {
                mismatches.push(format!(
                    "{file} {policy}: {problem}\n  (EXPECTED.tsv: {why})"
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "\n{} of {checked} corpus rows do not hold:\n\nexpected:\n{}\n\nactual:\n{}\n",
        mismatches.len(),
        fenced("every row holds"),
        fenced(&mismatches.join("\n\n"))
    );
}
