//! The outputs of `kubectl aksid test`: text (failures with expected against got), JSON (the
//! whole run), JUnit (a suite per test, a case per expectation), and the GitHub and Azure
//! Pipelines annotations of the report crate (one per failed expectation or wrong test file).

use super::run::TestOutcome;
use super::spec::SpecError;
use crate::cli::TestOutputFormat;
use aksid_report::render::{Annotation, Level, azure_devops_line, github_line, xml_escape};
use serde::Serialize;
use std::fmt::Write;

/// Everything a run found.
#[derive(Debug, Serialize)]
pub struct TestRun {
    /// Always 1.
    pub version: u32,
    /// Every test that ran.
    pub tests: Vec<TestOutcome>,
    /// Test files that are wrong.
    pub errors: Vec<SpecError>,
    /// Totals.
    pub summary: Summary,
}

/// Totals of a run.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Tests run.
    pub tests: usize,
    /// Tests whose every expectation held.
    pub passed: usize,
    /// Tests with a failed expectation.
    pub failed: usize,
    /// Wrong test files or tests.
    pub errors: usize,
}

impl TestRun {
    /// Totals the outcomes.
    pub fn new(tests: Vec<TestOutcome>, errors: Vec<SpecError>) -> TestRun {
        let passed = tests.iter().filter(|t| t.passed).count();
        TestRun {
            version: 1,
            summary: Summary {
                tests: tests.len(),
                passed,
                failed: tests.len() - passed,
                errors: errors.len(),
            },
            tests,
            errors,
        }
    }

    /// 2 a test file is wrong, 1 a test failed, 0 all passed.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if self.summary.failed > 0 {
            1
        } else {
            0
        }
    }
}

/// Renders the run.
pub fn render(run: &TestRun, format: TestOutputFormat) -> String {
    match format {
        TestOutputFormat::Text => text(run),
        TestOutputFormat::Json => {
            let mut out = serde_json::to_string_pretty(run).expect("the run serialises");
            out.push('\n');
            out
        }
        TestOutputFormat::Junit => junit(run),
        TestOutputFormat::Github => annotations(run, github_line),
        TestOutputFormat::AzureDevops => annotations(run, azure_devops_line),
    }
}

fn text(run: &TestRun) -> String {
    let mut out = String::new();
    for t in &run.tests {
        let status = if t.passed { "PASS" } else { "FAIL" };
        let _ = writeln!(
            out,
            "{status} {}: {} ({} expectations)",
            t.file,
            t.name,
            t.expectations.len()
        );
        for c in t.expectations.iter().filter(|c| !c.passed) {
            let _ = writeln!(
                out,
                "  ✗ {} · {} ({}): expected {}, got {}",
                c.object,
                c.policy,
                c.field,
                c.expected.as_str(),
                c.got
            );
            if let Some(needle) = &c.expected_message {
                let _ = writeln!(out, "      expected message containing: {needle}");
            }
            if let Some(message) = &c.message {
                let _ = writeln!(
                    out,
                    "      message: {}",
                    message.replace('\n', "\n               ")
                );
            }
        }
    }
    for e in &run.errors {
        let _ = writeln!(out, "ERROR {e}");
    }
    let s = &run.summary;
    let _ = writeln!(
        out,
        "{} tests: {} passed, {} failed, {} test file errors",
        s.tests, s.passed, s.failed, s.errors
    );
    out
}

fn failure_text(c: &super::run::Checked) -> String {
    let mut text = format!(
        "{} · {}: expected {}, got {}",
        c.object,
        c.policy,
        c.expected.as_str(),
        c.got
    );
    if let Some(needle) = &c.expected_message {
        let _ = write!(text, " with a message containing \"{needle}\"");
    }
    if let Some(message) = &c.message {
        let _ = write!(text, "\n{message}");
    }
    text
}

fn junit(run: &TestRun) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures: usize = run
        .tests
        .iter()
        .map(|t| t.expectations.iter().filter(|c| !c.passed).count())
        .sum();
    let cases: usize = run.tests.iter().map(|t| t.expectations.len()).sum();
    let _ = writeln!(
        out,
        "<testsuites name=\"kubectl-aksid test\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\">",
        cases + run.errors.len(),
        run.errors.len()
    );
    for t in &run.tests {
        let failed = t.expectations.iter().filter(|c| !c.passed).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\">",
            xml_escape(&format!("{}: {}", t.file, t.name)),
            t.expectations.len()
        );
        for c in &t.expectations {
            let name = xml_escape(&format!(
                "{} · {} → {}",
                c.object,
                c.policy,
                c.expected.as_str()
            ));
            let _ = write!(
                out,
                "    <testcase name=\"{name}\" classname=\"{}\" file=\"{}\" line=\"{}\"",
                xml_escape(&t.name),
                xml_escape(&t.file),
                t.line
            );
            if c.passed {
                out.push_str("/>\n");
            } else {
                let _ = write!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"expectation\">{}</failure>\n    </testcase>\n",
                    xml_escape(&format!("expected {}, got {}", c.expected.as_str(), c.got)),
                    xml_escape(&failure_text(c)).replace("&#10;", "\n")
                );
            }
        }
        out.push_str("  </testsuite>\n");
    }
    if !run.errors.is_empty() {
        let _ = writeln!(
            out,
            "  <testsuite name=\"test files\" tests=\"{0}\" failures=\"0\" errors=\"{0}\">",
            run.errors.len()
        );
        for e in &run.errors {
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\">\n      <error message=\"{}\" type=\"testFile\"/>\n    </testcase>",
                xml_escape(e.test.as_deref().unwrap_or("(file)")),
                xml_escape(&e.file),
                xml_escape(&e.file),
                xml_escape(&e.to_string())
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn annotations(run: &TestRun, line: fn(&Annotation) -> String) -> String {
    let mut out = String::new();
    for t in &run.tests {
        let title = format!("aksid test {}", t.name);
        for c in t.expectations.iter().filter(|c| !c.passed) {
            let message = failure_text(c);
            out.push_str(&line(&Annotation {
                level: Level::Error,
                file: &t.file,
                line: t.line,
                title: &title,
                message: &message,
            }));
        }
    }
    for e in &run.errors {
        let message = e.to_string();
        out.push_str(&line(&Annotation {
            level: Level::Error,
            file: &e.file,
            line: 1,
            title: "aksid test file",
            message: &message,
        }));
    }
    out
}
