//! The "not enforced" marking: AKS keeps admission webhooks out of `kube-system`, so every format
//! that has a place for it says a finding there is one the cluster will not enforce, and says
//! nothing of the kind elsewhere.

use super::*;
use rstest::rstest;

/// The same rejected Deployment in `kube-system` and in `apps`, and a failed evaluation in
/// `kube-system` (OpenReports writes it as an `error` result).
const TWO_NAMESPACES: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: agent\n  namespace: kube-system\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: agent\n  namespace: apps\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: agent\n  namespace: kube-system\n";

const REJECTION: &str = "container agent: env DB_PASSWORD holds a plaintext secret";

fn two_namespaces() -> Report {
    let m = objects("agent.yaml", TWO_NAMESPACES);
    let mut b = ReportBuilder::new();
    b.add_policy(PolicyInfo::new("no-plaintext-secret-env"));
    b.add_verdict(&m[0], "no-plaintext-secret-env", Verdict::reject(REJECTION));
    b.add_verdict(&m[1], "no-plaintext-secret-env", Verdict::reject(REJECTION));
    b.add_policy_failure(&m[2], "no-plaintext-secret-env", "timed out after 2s");
    b.build()
}

#[rstest]
#[case::in_kube_system("metadata: {name: p, namespace: kube-system}", "default", false)]
#[case::in_another_namespace("metadata: {name: p, namespace: apps}", "default", true)]
#[case::defaulted_to_default("metadata: {name: p}", "default", true)]
#[case::defaulted_to_kube_system("metadata: {name: p}", "kube-system", false)]
#[case::cluster_scoped_kind("kind: Namespace\nmetadata: {name: kube-system}", "default", true)]
fn enforced_is_false_only_in_kube_system(
    #[case] rest: &str,
    #[case] default_namespace: &str,
    #[case] enforced: bool,
) {
    let text = if rest.starts_with("kind:") {
        format!("apiVersion: v1\n{rest}\n")
    } else {
        format!("apiVersion: v1\nkind: Pod\n{rest}\n")
    };
    let m = objects("p.yaml", &text);
    let mut b = ReportBuilder::new().default_namespace(default_namespace);
    b.add_verdict(&m[0], "p", Verdict::reject("no"));
    let report = b.build();
    assert_eq!(
        report.results[0].enforced, enforced,
        "{:?}",
        report.results[0]
    );
    let value: Value = serde_json::from_str(&json(&report)).unwrap();
    assert_eq!(value["results"][0]["enforced"], enforced);
}

#[test]
fn text_marks_the_kube_system_rejection_only() {
    let out = text(&two_namespaces(), false);
    let note = format!(
        "  line 1  Deployment kube-system/agent\n    ✗ rejected by no-plaintext-secret-env\n        {REJECTION}\n        ({NOT_ENFORCED})\n"
    );
    assert!(out.contains(&note), "missing:\n{note}\nin:\n{out}");
    assert_eq!(out.matches("will not enforce").count(), 1, "{out}");
    let plain = format!(
        "  line 7  Deployment apps/agent\n    ✗ rejected by no-plaintext-secret-env\n        {REJECTION}\n"
    );
    assert!(out.contains(&plain), "missing:\n{plain}\nin:\n{out}");
}

fn sarif_result(report: &Report, namespace: &str) -> Value {
    let log: Value = serde_json::from_str(&sarif(report)).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap().clone();
    let prefix = format!("{namespace}/Deployment/agent");
    results
        .into_iter()
        .find(|r| r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == prefix.as_str())
        .unwrap_or_else(|| panic!("no SARIF result for {prefix}"))
}

#[test]
fn sarif_marks_the_kube_system_result_in_properties_and_message() {
    let report = two_namespaces();
    let marked = sarif_result(&report, "kube-system");
    assert_eq!(marked["properties"]["enforced"], false);
    assert_eq!(
        marked["message"]["text"],
        format!("Deployment kube-system/agent: {REJECTION}\n({NOT_ENFORCED})").as_str()
    );
    let plain = sarif_result(&report, "apps");
    assert!(plain.get("properties").is_none(), "{plain:#}");
    assert_eq!(
        plain["message"]["text"],
        format!("Deployment apps/agent: {REJECTION}").as_str()
    );
}

#[test]
fn junit_marks_the_kube_system_case_with_a_property() {
    let xml = junit(&two_namespaces());
    let elements = xml_elements(&xml);
    let properties: Vec<_> = elements
        .iter()
        .filter(|(n, a)| n == "property" && a.get("name").map(String::as_str) == Some("enforced"))
        .collect();
    assert_eq!(properties.len(), 1, "{xml}");
    assert_eq!(properties[0].1["value"], "false");
    let case = xml
        .split("<testcase ")
        .find(|c| c.contains("Deployment kube-system/agent"))
        .unwrap();
    assert!(
        case.contains("<property name=\"enforced\" value=\"false\"/>"),
        "{case}"
    );
    assert!(case.contains("will not enforce this"), "{case}");
    let other = xml
        .split("<testcase ")
        .find(|c| c.contains("Deployment apps/agent"))
        .unwrap();
    assert!(!other.contains("enforce"), "{other}");
}

#[rstest]
#[case::rejection_in_kube_system("Deployment", "kube-system", "fail", true)]
#[case::failed_evaluation_in_kube_system("ConfigMap", "kube-system", "error", true)]
#[case::rejection_elsewhere("Deployment", "apps", "fail", false)]
fn openreports_marks_kube_system_results(
    #[case] kind: &str,
    #[case] namespace: &str,
    #[case] result: &str,
    #[case] marked: bool,
) {
    let out = openreports(&two_namespaces(), &OpenReportsOptions::default());
    let list: Value = serde_json::from_str(&out).unwrap();
    let report = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metadata"]["namespace"] == namespace)
        .unwrap();
    let r = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resources"][0]["kind"] == kind)
        .unwrap();
    assert_eq!(r["result"], result);
    if marked {
        assert_eq!(
            r["properties"],
            json!({"enforced": "false", "enforcement": NOT_ENFORCED})
        );
    } else {
        assert!(r.get("properties").is_none(), "{r:#}");
    }
}

#[test]
fn ci_annotations_mark_the_kube_system_rejection_only() {
    let out = github(&two_namespaces());
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("Deployment")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].contains("kube-system/agent") && lines[0].contains("will not enforce"));
    assert!(lines[1].contains("apps/agent") && !lines[1].contains("will not enforce"));
}
