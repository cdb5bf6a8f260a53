//! `-o junit`: read by a real consumer, `junitparser`, with counts matching the JSON summary.

use crate::fixtures::*;
use crate::util::{assert_same, python, scratch};
use serde_json::{Value, json};
use std::ffi::OsStr;

/// Counts what junitparser finds: per suite, the cases and their results by type, next to
/// the counts the file declares.
const READ: &str = r#"
import json, sys
from junitparser import JUnitXml, Error, Failure, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
suites = {}
for suite in xml:
    counted = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for case in suite:
        counted["tests"] += 1
        for result in case.result:
            if isinstance(result, Failure):
                counted["failures"] += 1
            elif isinstance(result, Error):
                counted["errors"] += 1
            elif isinstance(result, Skipped):
                counted["skipped"] += 1
    declared = {"tests": suite.tests, "failures": suite.failures, "errors": suite.errors, "skipped": suite.skipped}
    suites[suite.name] = {"counted": counted, "declared": declared}
total = {"tests": xml.tests, "failures": xml.failures, "errors": xml.errors, "skipped": xml.skipped}
print(json.dumps({"suites": suites, "declared": total}))
"#;

#[test]
fn junitparser_reads_it_and_counts_match_the_json_summary() {
    let s = scratch!();
    s.write("k8s/api.yaml", BAD_DEPLOYMENT)
            .write("k8s/web.yaml", GOOD_DEPLOYMENT)
            .write("k8s/rbac.yaml", format!("{USER_CLUSTER_ADMIN}---\n{GROUP_CLUSTER_ADMIN}---\n{}", USER_CLUSTER_ADMIN.replace("bob", "eve")))
            .write("k8s/broken.yaml", MALFORMED)
            .write("k8s/chart.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n")
            .write(
                "exceptions.yaml",
                "exceptions:\n- policy: no-cluster-admin-users\n  match: {name: eve-cluster-admin}\n  reason: \"break-glass <account> & JIRA-7\"\n",
            );
    let args = ["check", "-f", "k8s", "--exceptions", "exceptions.yaml"];
    let junit = s.aksid(&[&args[..], &["-o", "junit"]].concat());
    junit.code(2);
    s.write("report.xml", &junit.stdout);
    let summary = s.aksid(&[&args[..], &["-o", "json"]].concat()).json()["summary"].clone();
    let parsed: Value =
        serde_json::from_str(&python(&s.dir, READ, &[OsStr::new("report.xml")]).stdout).unwrap();

    let counts = |tests: &Value, failures: &Value, errors: &Value, skipped: &Value| json!({"tests": tests.as_u64().unwrap(), "failures": failures, "errors": errors, "skipped": skipped});
    let total_tests =
        summary["evaluations"].as_u64().unwrap() + summary["errors"].as_u64().unwrap();
    assert_same(
        "totals: tests = evaluations + errors, failures = rejected, skipped = excepted",
        counts(
            &total_tests.into(),
            &summary["rejected"],
            &summary["errors"],
            &summary["excepted"],
        ),
        &parsed["declared"],
    );
    assert_same(
        "the fixture's totals",
        json!({"tests": 12, "failures": 2, "errors": 2, "skipped": 1}),
        &parsed["declared"],
    );
    let suites = parsed["suites"].as_object().unwrap();
    for (name, suite) in suites {
        assert_same(
            &format!("suite {name}: declared counts = the cases junitparser read"),
            &suite["declared"],
            &suite["counted"],
        );
    }
    for policy in summary["policies"].as_array().unwrap() {
        let id = policy["id"].as_str().unwrap();
        let tests = policy["evaluations"].as_u64().unwrap() + policy["errors"].as_u64().unwrap();
        assert_same(
            &format!("suite {id} = its policy summary"),
            counts(
                &tests.into(),
                &policy["rejected"],
                &policy["errors"],
                &policy["excepted"],
            ),
            &suites[id]["counted"],
        );
    }
    assert_same(
        "the inputs suite: one error per unreadable input",
        json!({"tests": 2, "failures": 0, "errors": 2, "skipped": 0}),
        &suites["inputs"]["counted"],
    );
}
