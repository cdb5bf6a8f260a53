//! The real-world corpora through the binary: every `EXPECTED.tsv` row of `tests/corpus/real`
//! (each file checked alone) and of `tests/corpus/wild` (the folder walked as a directory, as a
//! user runs `check -f DIR` on a repository), with the documented disagreements of
//! `tests/corpus/OVERRIDES.tsv` (wild rows keyed `wild/<file>`).

use crate::util::{Run, fenced, run_aksid, workspace};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A row: `file`, `policy`, `expect`, `why`.
type Row = [String; 4];

/// The rows of a corpus TSV, without its header.
fn rows(path: &Path) -> Vec<Row> {
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

fn corpus() -> PathBuf {
    workspace().join("tests/corpus")
}

/// The rows of `<corpus>/EXPECTED.tsv` by file, each replaced by its OVERRIDES.tsv row if it
/// has one (OVERRIDES.tsv names a file `<key_prefix><file>`).
fn expected(folder: &str, key_prefix: &str) -> BTreeMap<String, Vec<Row>> {
    let overrides = rows(&corpus().join("OVERRIDES.tsv"));
    let mut by_file: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for row in rows(&corpus().join(folder).join("EXPECTED.tsv")) {
        let key = format!("{key_prefix}{}", row[0]);
        let row = match overrides.iter().find(|o| o[0] == key && o[1] == row[1]) {
            Some(o) => [row[0].clone(), o[1].clone(), o[2].clone(), o[3].clone()],
            None => row,
        };
        by_file.entry(row[0].clone()).or_default().push(row);
    }
    by_file
}

/// The JSON report of `run`, or why there is none.
fn report_of(run: &Run, what: &str) -> Result<Value, String> {
    if let Some(crash) = run.crash() {
        return Err(format!(
            "{what}: crashed ({crash}):\n{}",
            fenced(&run.stderr)
        ));
    }
    serde_json::from_str(&run.stdout).map_err(|_| {
        format!(
            "{what}: exit {:?}, no JSON report:\n{}",
            run.code,
            fenced(&run.stderr)
        )
    })
}

/// What is wrong with one row, judged on a report that holds `file` (named as the report
/// names it); `None` when the row holds.
fn row_problem(report: &Value, code: Option<i32>, file: &str, row: &Row) -> Option<String> {
    let [_, policy, expect, why] = row;
    let errors: Vec<&Value> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        // A file of comments only has no objects, which an accept row allows.
        .filter(|e| e["file"] == file && e["kind"] != "noObjects")
        .collect();
    let rejections: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["file"] == file && r["policy"] == policy.as_str() && r["allowed"] == false)
        .map(|r| r["message"].as_str().unwrap_or("(no message)"))
        .collect();
    let problem = match expect.as_str() {
        "reject" | "accept" if !errors.is_empty() => Some(format!(
            "expected {expect}, but the file has errors: {errors:?}"
        )),
        "reject" if rejections.is_empty() => Some("expected reject, got no rejection".to_owned()),
        "accept" if !rejections.is_empty() => Some(format!(
            "expected accept, got:\n  {}",
            rejections.join("\n  ")
        )),
        "template" => {
            let template_error = errors
                .iter()
                .any(|e| e["kind"] == "unrenderedTemplate" || e["kind"] == "malformedYaml");
            (!template_error || code != Some(2)).then(|| {
                format!("expected an unrenderedTemplate or malformedYaml error and exit 2, got exit {code:?} and errors {errors:?}")
            })
        }
        "reject" | "accept" => None,
        other => Some(format!("unknown expectation {other:?}")),
    };
    problem.map(|p| format!("{file} {policy}: {p}\n  (EXPECTED.tsv: {why})"))
}

#[track_caller]
fn assert_all_hold(mismatches: &[String], checked: usize) {
    assert!(
        mismatches.is_empty(),
        "\n{} of {checked} corpus rows do not hold:\n\nexpected:\n{}\n\nactual:\n{}\n",
        mismatches.len(),
        fenced("every row holds"),
        fenced(&mismatches.join("\n\n"))
    );
}

/// Each file is checked alone (its own object set, as the native corpus harness judges it).
#[test]
fn every_expected_row_holds_when_each_file_is_checked_alone() {
    let by_file = expected("real", "");
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
            &corpus().join("real"),
            &["check", "-f", file, "-o", "json", "--no-exceptions"],
            None,
        );
        let report = match report_of(&run, file) {
            Ok(report) => report,
            Err(problem) => {
                mismatches.push(problem);
                continue;
            }
        };
        for row in rows {
            checked += 1;
            mismatches.extend(row_problem(&report, run.code, file, row));
        }
    }
    assert_all_hold(&mismatches, checked);
}

/// The files of `report` that define an object (kind, namespace, name) another file defines too.
fn redefining_files(report: &Value) -> BTreeSet<String> {
    let mut files_of: BTreeMap<(String, String, String), BTreeSet<String>> = BTreeMap::new();
    for r in report["results"].as_array().unwrap() {
        let text = |key: &str| r[key].as_str().unwrap_or_default().to_owned();
        files_of
            .entry((text("kind"), text("namespace"), text("name")))
            .or_default()
            .insert(text("file"));
    }
    files_of
        .into_values()
        .filter(|files| files.len() > 1)
        .flatten()
        .collect()
}

/// The wild corpus in one run over its folder, walked as a directory: files that are not
/// objects (34, a kustomization without kind) are notices only when walked, and the objects of
/// all files are one object set, as in a repository.
///
/// Except where two files define the same object and the other file's copy changes a verdict:
/// 22 is the kustomize source of the objects that 23 holds as azd renders them (the same
/// ServiceAccount and Deployment, which no repository deploys together), and walked together
/// 22's pods look up 23's ServiceAccount, which has the client-id 22's lacks. EXPECTED.tsv's
/// rows speak of one file at a time, so a file that redefines another file's object and has a
/// row that does not hold walked is judged again checked alone, one more run each (asserted
/// to stay few); a file that redefines nothing gets no second chance.
#[test]
fn every_wild_row_holds_when_the_folder_is_walked() {
    let by_file = expected("wild", "wild/");
    assert!(
        by_file.len() >= 35,
        "{} files in wild/EXPECTED.tsv",
        by_file.len()
    );
    let args = ["-o", "json", "--no-exceptions"];
    let run = run_aksid(
        &corpus(),
        &[&["check", "-f", "wild"][..], &args].concat(),
        None,
    );
    let walked = report_of(&run, "wild").unwrap_or_else(|problem| panic!("{problem}"));
    let redefining = redefining_files(&walked);
    let mut mismatches = Vec::new();
    let mut checked = 0;
    let mut alone = Vec::new();
    for (file, rows) in &by_file {
        let file = format!("wild/{file}");
        let known = walked["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["file"] == file.as_str());
        if !known {
            mismatches.push(format!("{file}: not in the report's files (not walked?)"));
        }
        checked += rows.len();
        let judge = |report: &Value, code| -> Vec<String> {
            rows.iter()
                .filter_map(|row| row_problem(report, code, &file, row))
                .collect()
        };
        let mut problems = judge(&walked, run.code);
        if !problems.is_empty() && redefining.contains(&file) {
            alone.push(file.clone());
            let run = run_aksid(
                &corpus(),
                &[&["check", "-f", &file][..], &args].concat(),
                None,
            );
            problems = match report_of(&run, &file) {
                Ok(report) => judge(&report, run.code),
                Err(problem) => vec![problem],
            };
        }
        mismatches.extend(problems);
    }
    assert!(
        alone.len() <= 2,
        "{alone:?} were checked alone again: keep such files few (each is one more run)"
    );
    // Every manifest of the folder has rows, so a new file cannot go unjudged.
    for f in walked["files"].as_array().unwrap() {
        let name = f["file"].as_str().unwrap();
        if !by_file.contains_key(name.trim_start_matches("wild/")) {
            mismatches.push(format!(
                "{name}: walked, but wild/EXPECTED.tsv has no row for it"
            ));
        }
    }
    assert_all_hold(&mismatches, checked);
}
