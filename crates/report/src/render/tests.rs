//! Renderer tests over one run that has a bit of everything: rejections, warnings, an applied and
//! an expired exception, an object no policy selects, an input error, a failed evaluation and a
//! notice.

use super::*;
use crate::{Date, Exceptions, PolicyInfo, ReportBuilder, Verdict};
use aksid_manifests::{Manifest, load};
use serde_json::{Value, json};

const APP: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: billing-api\n  namespace: legacy\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: billing\n  namespace: legacy\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n";
const CLUSTER: &str = "apiVersion: containerservice.azure.com/v1api20231001\nkind: ManagedCluster\nmetadata:\n  name: aks\n  namespace: infra\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: admins\n";
const EXCEPTIONS: &str = "exceptions:\n- policy: no-local-accounts\n  match: {kind: ManagedCluster}\n  reason: break-glass until Entra ID rollout\n  expires: 2026-01-31\n- policy: no-plaintext-secret-env\n  match: {namespace: legacy, name: 'billing-*', file: 'apps/**'}\n  reason: Vendor chart; tracked in JIRA-123\n";

fn objects(name: &str, text: &str) -> Vec<Manifest> {
    let loaded = load(name, text.as_bytes());
    assert!(loaded.problems.is_empty());
    loaded.objects
}

fn policies() -> Vec<PolicyInfo> {
    [
        "no-plaintext-secret-env",
        "no-local-accounts",
        "no-cluster-admin-users",
        "workload-identity-labels",
    ]
    .into_iter()
    .map(|id| PolicyInfo {
        id: id.to_owned(),
        title: Some(id.replace('-', " ")),
        description: Some(format!("checks {id}")),
        usage: Some(format!("# {id}\n\nUsage text.")),
        severity: Some("high".to_owned()),
        category: Some("Identity".to_owned()),
        version: Some("0.1.0".to_owned()),
        ..PolicyInfo::default()
    })
    .collect()
}

type Step = Box<dyn Fn(&mut ReportBuilder)>;

/// Builds the sample run, adding things in the given order (to test determinism).
fn sample(reverse: bool, today: &str) -> Report {
    let app = objects("apps/billing.yaml", APP);
    let cluster = objects("clusters/aks.yaml", CLUSTER);
    let mut steps: Vec<Step> = Vec::new();
    for p in policies() {
        steps.push(Box::new(move |b| b.add_policy(p.clone())));
    }
    for m in app.iter().chain(&cluster) {
        let m = m.clone();
        steps.push(Box::new(move |b| b.add_object(&m)));
    }
    let (deploy, sa, cm) = (app[0].clone(), app[1].clone(), app[2].clone());
    let (mc, crb) = (cluster[0].clone(), cluster[1].clone());
    steps.push(Box::new(move |b| {
        b.add_verdict(&deploy, "no-plaintext-secret-env", Verdict::reject("container api: env DB_PASSWORD holds a plaintext secret\nuse a secretKeyRef instead"));
        b.add_verdict(&deploy, "workload-identity-labels", Verdict {
            allowed: true,
            message: None,
            warnings: vec!["pod template has no azure.workload.identity/use label".to_owned()],
        });
    }));
    steps.push(Box::new(move |b| {
        b.add_verdict(&sa, "workload-identity-labels", Verdict::accept())
    }));
    steps.push(Box::new(move |b| {
        b.add_policy_failure(&cm, "no-plaintext-secret-env", "timed out after 2s")
    }));
    steps.push(Box::new(move |b| {
        b.add_verdict(
            &mc,
            "no-local-accounts",
            Verdict::reject("ManagedCluster aks: disableLocalAccounts is not true"),
        )
    }));
    steps.push(Box::new(move |b| {
        b.add_verdict(
            &crb,
            "no-cluster-admin-users",
            Verdict::reject("ClusterRoleBinding admins grants cluster-admin to User alice"),
        )
    }));
    let bad = load(
        "charts/web/deployment.yaml",
        b"# c\n{{- if .Values.on }}\nkind: Pod\n",
    );
    let empty = load("empty.yaml", b"# nothing\n");
    steps.push(Box::new(move |b| {
        b.add_file("charts/web/deployment.yaml");
        for p in bad.problems.iter().chain(&empty.problems) {
            b.add_problem(p);
        }
    }));
    if reverse {
        steps.reverse();
    }
    let mut builder = ReportBuilder::new();
    for step in &steps {
        step(&mut builder);
    }
    let exceptions = Exceptions::parse(EXCEPTIONS, ".aksid.yaml").unwrap();
    builder.apply_exceptions(&exceptions, today.parse::<Date>().unwrap());
    builder.build()
}

fn report() -> Report {
    sample(false, "2026-02-01")
}

#[test]
fn summary_counts() {
    let r = report();
    let s = &r.summary;
    assert_eq!((s.files, s.objects, s.evaluations), (4, 6, 5));
    assert_eq!((s.rejected, s.accepted, s.excepted), (2, 3, 1));
    assert_eq!((s.errors, s.warnings, s.notices), (2, 1, 1));
    assert_eq!(s.policies.len(), 4);
    let secret = s
        .policies
        .iter()
        .find(|p| p.id == "no-plaintext-secret-env")
        .unwrap();
    assert_eq!(
        (secret.evaluations, secret.excepted, secret.errors),
        (1, 1, 1)
    );
    assert_eq!(r.exit_code(), 2);
    let apps = r
        .files
        .iter()
        .find(|f| f.file == "apps/billing.yaml")
        .unwrap();
    assert_eq!((apps.objects, apps.not_selected), (4, 1));
}

#[test]
fn text_report_reads_at_a_glance() {
    let out = text(&report(), false);
    assert!(!out.contains('\x1b'), "no colour unless asked");
    let expect = [
        "apps/billing.yaml\n",
        "  line 1  Deployment legacy/billing-api\n    ✓ no-plaintext-secret-env allowed by exception #2 (Vendor chart; tracked in JIRA-123)\n    ⚠ warning from workload-identity-labels:\n        pod template has no azure.workload.identity/use label\n",
        "  line 13  ConfigMap default/settings\n    ✗ no-plaintext-secret-env could not evaluate it (see Errors below)\n  ✓ 1 other object accepted; 1 object not checked by any policy\n",
        "clusters/aks.yaml\n  line 1  ManagedCluster infra/aks\n    ✗ rejected by no-local-accounts\n        ManagedCluster aks: disableLocalAccounts is not true\n",
        "  line 7  ClusterRoleBinding admins\n    ✗ rejected by no-cluster-admin-users\n",
        "Errors (2): these could not be checked\n",
        "  ✗ apps/billing.yaml:13 (document 3): policy no-plaintext-secret-env failed on ConfigMap default/settings: timed out after 2s\n",
        "  ✗ charts/web/deployment.yaml:2 (document 1): this looks like an unrendered template; render it first (helm template ...)\n",
        "Notices\n  • empty.yaml: file contains only comments, no Kubernetes objects\n",
        "Exceptions\n  ⚠ exception #1 (break-glass until Entra ID rollout) expired on 2026-01-31 and no longer applies (1 rejection)\n  ✓ exception #2 (Vendor chart; tracked in JIRA-123) applied to 1 rejection\n",
    ];
    for line in expect {
        assert!(
            out.contains(line),
            "missing:\n```\n{line}```\nin:\n```\n{out}```"
        );
    }
    assert!(
        out.ends_with("\n✗ 6 objects · 4 policies · 2 rejected · 1 warning · 2 errors · 1 exception applied · 1 exception expired\n"),
        "{out}"
    );
    assert!(
        !out.contains("ServiceAccount"),
        "clean objects are only counted:\n{out}"
    );
}

#[test]
fn text_colour_only_on_request() {
    let out = text(&report(), true);
    assert!(out.contains("\x1b[1;31m✗\x1b[0m rejected by"), "{out}");
    assert!(out.contains("\x1b[32m✓\x1b[0m"), "{out}");
    let plain: String = {
        let mut s = String::new();
        let mut chars = out.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                s.push(c);
            }
        }
        s
    };
    assert_eq!(plain, text(&report(), false));
}

#[test]
fn a_clean_run_says_so() {
    let m = objects(
        "ok.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
    );
    let mut b = ReportBuilder::new();
    b.add_policy(PolicyInfo::new("p"));
    b.add_verdict(&m[0], "p", Verdict::accept());
    let r = b.build();
    assert_eq!(r.exit_code(), 0);
    assert_eq!(
        text(&r, false),
        "ok.yaml\n  ✓ 1 object accepted\n\n✓ 1 object · 1 policy · 0 rejected\n"
    );
    let empty = ReportBuilder::new().build();
    assert_eq!(empty.exit_code(), 2);
    assert!(text(&empty, false).contains("✗ no Kubernetes objects found in the inputs\n"));
}

#[test]
fn untrusted_text_cannot_drive_the_terminal() {
    let m = objects(
        "x.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: \"evil\\e[2J\"}\n",
    );
    let mut b = ReportBuilder::new();
    b.add_verdict(
        &m[0],
        "p",
        Verdict::reject("bad\u{1b}]0;title\u{7}\u{202e}"),
    );
    let out = text(&b.build(), false);
    assert!(
        !out.contains('\x1b') && !out.contains('\u{7}') && !out.contains('\u{202e}'),
        "{out:?}"
    );
    assert!(out.contains("evil\\u{1b}[2J"), "{out}");
}

#[test]
fn json_is_the_data_model() {
    let out = json(&report());
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], 1);
    let first = &v["results"][0];
    for key in [
        "file",
        "line",
        "document",
        "apiVersion",
        "kind",
        "namespace",
        "name",
        "policy",
        "allowed",
        "message",
        "warnings",
        "exception",
    ] {
        assert!(
            first.get(key).is_some(),
            "results[0].{key} missing: {first}"
        );
    }
    assert_eq!(first["file"], "apps/billing.yaml");
    assert_eq!(first["policy"], "no-plaintext-secret-env");
    assert_eq!(first["allowed"], true);
    assert_eq!(first["exception"]["id"], 2);
    assert_eq!(first["exception"]["expires"], Value::Null);
    let crb = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "ClusterRoleBinding")
        .unwrap();
    assert_eq!(crb["namespace"], Value::Null);
    let failure = &v["errors"][0];
    assert_eq!(failure["kind"], "policyFailed");
    assert_eq!(failure["policy"], "no-plaintext-secret-env");
    assert_eq!(failure["object"]["name"], "settings");
    assert_eq!(v["errors"][1]["kind"], "unrenderedTemplate");
    assert_eq!(v["errors"][1]["field"], Value::Null);
    assert_eq!(v["notices"][0]["kind"], "empty");
    assert_eq!(v["exceptions"]["expired"][0]["expires"], "2026-01-31");
    assert_eq!(v["exceptions"]["used"][0]["matched"], 1);
    assert_eq!(v["summary"]["rejected"], 2);
    let policy = &v["policies"][0];
    assert_eq!(policy["id"], "no-cluster-admin-users");
    assert_eq!(
        policy["origin"],
        Value::Null,
        "a report built by hand has no origin"
    );
    assert!(
        policy.get("usage").is_none() && policy.get("description").is_none(),
        "policy descriptions stay out of the JSON: {policy}"
    );
    assert!(out.ends_with("}\n"));
}

#[test]
fn written_output_is_the_rendered_text_in_every_format() {
    let report = report();
    for format in Format::ALL {
        let mut written = Vec::new();
        super::write(&report, format, true, &mut written).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            render(&report, format, true),
            "{format}"
        );
    }
}

#[test]
fn output_is_deterministic() {
    let a = report();
    let b = sample(true, "2026-02-01");
    assert_eq!(a, b);
    for format in Format::ALL {
        assert_eq!(
            render(&a, format, false),
            render(&b, format, false),
            "{format}"
        );
    }
    let lines: Vec<(String, usize, String)> = a
        .results
        .iter()
        .map(|r| (r.file.clone(), r.line, r.policy.clone()))
        .collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
}

#[test]
fn exceptions_apply_before_expiry() {
    let r = sample(false, "2026-01-31");
    assert_eq!(r.summary.rejected, 1);
    assert_eq!(r.summary.excepted, 2);
    assert!(r.exceptions.expired.is_empty());
    assert_eq!(r.exceptions.used.len(), 2);
}

fn sarif_value() -> Value {
    serde_json::from_str(&sarif(&report())).unwrap()
}

#[test]
fn sarif_structure() {
    let v = sarif_value();
    assert_eq!(v["version"], "2.1.0");
    assert!(
        v["$schema"]
            .as_str()
            .unwrap()
            .contains("sarif-schema-2.1.0")
    );
    let run = &v["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "kubectl-aksid");
    assert!(
        driver["informationUri"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let rules = driver["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 4);
    for rule in rules {
        for key in [
            "id",
            "name",
            "shortDescription",
            "fullDescription",
            "help",
            "defaultConfiguration",
            "properties",
        ] {
            assert!(rule.get(key).is_some(), "rule.{key}: {rule}");
        }
        assert_eq!(rule["defaultConfiguration"]["level"], "error");
        assert_eq!(rule["properties"]["security-severity"], "8.0");
        assert!(
            rule["properties"]["tags"]
                .as_array()
                .unwrap()
                .contains(&Value::from("security"))
        );
    }
    let results = run["results"].as_array().unwrap();
    // 2 rejections + 1 excepted (suppressed) + 1 warning.
    assert_eq!(results.len(), 4);
    for r in results {
        let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], r["ruleId"]);
        let loc = &r["locations"][0];
        assert!(
            loc["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .unwrap()
                >= 1
        );
        assert_eq!(
            loc["physicalLocation"]["artifactLocation"]["uriBaseId"],
            "%SRCROOT%"
        );
        assert!(loc["logicalLocations"][0]["fullyQualifiedName"].is_string());
        assert_eq!(
            r["partialFingerprints"]["aksidFinding/v1"]
                .as_str()
                .unwrap()
                .len(),
            32
        );
    }
    let suppressed: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["suppressions"][0]["kind"], "external");
    assert!(
        suppressed[0]["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("JIRA-123")
    );
    let crb = results
        .iter()
        .find(|r| r["ruleId"] == "no-cluster-admin-users")
        .unwrap();
    assert_eq!(crb["level"], "error");
    assert_eq!(
        crb["message"]["text"],
        "ClusterRoleBinding admins: ClusterRoleBinding admins grants cluster-admin to User alice"
    );
    assert_eq!(
        crb["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "clusters/aks.yaml"
    );
    assert_eq!(
        crb["locations"][0]["physicalLocation"]["region"]["startLine"],
        7
    );
    let invocation = &run["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), 3);
    assert_eq!(notes[0]["associatedRule"]["id"], "no-plaintext-secret-env");
    assert_eq!(notes[2]["level"], "note");
}

#[test]
fn sarif_fingerprints_are_stable_across_line_moves() {
    let v = sarif_value();
    let m = objects("clusters/aks.yaml", &format!("# moved\n\n{CLUSTER}"));
    let mut b = ReportBuilder::new();
    b.add_verdict(
        &m[1],
        "no-cluster-admin-users",
        Verdict::reject("ClusterRoleBinding admins grants cluster-admin to User alice"),
    );
    let moved: Value = serde_json::from_str(&sarif(&b.build())).unwrap();
    let fp = |v: &Value| {
        v["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["ruleId"] == "no-cluster-admin-users")
            .unwrap()["partialFingerprints"]
            .clone()
    };
    assert_eq!(fp(&v), fp(&moved));
}

#[test]
fn junit_is_well_formed_with_correct_counts() {
    let xml = junit(&report());
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"));
    let elements = xml_elements(&xml);
    let root = &elements[0];
    assert_eq!(root.0, "testsuites");
    assert_eq!(
        (
            root.1["tests"].as_str(),
            root.1["failures"].as_str(),
            root.1["errors"].as_str(),
            root.1["skipped"].as_str()
        ),
        ("7", "2", "2", "1")
    );
    let suites: Vec<_> = elements.iter().filter(|(n, _)| n == "testsuite").collect();
    let names: Vec<&str> = suites.iter().map(|(_, a)| a["name"].as_str()).collect();
    assert_eq!(
        names,
        vec![
            "no-cluster-admin-users",
            "no-local-accounts",
            "no-plaintext-secret-env",
            "workload-identity-labels",
            "inputs"
        ]
    );
    let cases = elements.iter().filter(|(n, _)| n == "testcase").count();
    assert_eq!(cases, 7);
    assert_eq!(elements.iter().filter(|(n, _)| n == "failure").count(), 2);
    assert_eq!(elements.iter().filter(|(n, _)| n == "error").count(), 2);
    assert_eq!(elements.iter().filter(|(n, _)| n == "skipped").count(), 1);
    let case = elements
        .iter()
        .find(|(n, a)| n == "testcase" && a["name"] == "ManagedCluster infra/aks")
        .unwrap();
    assert_eq!(case.1["classname"], "clusters/aks.yaml");
    assert!(xml.contains("<failure message=\"ManagedCluster aks: disableLocalAccounts is not true\" type=\"rejected\">"));
}

#[test]
fn junit_escapes_hostile_text() {
    let m = objects(
        "a&b.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: \"<x>\"}\n",
    );
    let mut b = ReportBuilder::new();
    b.add_verdict(
        &m[0],
        "p",
        Verdict::reject("\"quoted\" & <tagged> ]]> \u{1}"),
    );
    let xml = junit(&b.build());
    let elements = xml_elements(&xml);
    let failure = elements.iter().find(|(n, _)| n == "failure").unwrap();
    assert_eq!(failure.1["message"], "\"quoted\" & <tagged> ]]> \u{fffd}");
    let case = elements.iter().find(|(n, _)| n == "testcase").unwrap();
    assert_eq!(case.1["name"], "Pod default/<x>");
}

#[test]
fn format_names() {
    for f in Format::ALL {
        assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
    }
    assert!("yaml".parse::<Format>().is_err());
}

/// Parses the XML back and returns (element name, attributes) in document order.
fn xml_elements(xml: &str) -> Vec<(String, std::collections::BTreeMap<String, String>)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                let name = AsRef::<str>::as_ref(&e.name()).to_owned();
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (
                            AsRef::<str>::as_ref(&a.key).to_owned(),
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .unwrap()
                                .into_owned(),
                        )
                    })
                    .collect();
                out.push((name, attrs));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

fn openreports_value() -> Value {
    let options = OpenReportsOptions {
        timestamp_seconds: 1_790_000_000,
        ..OpenReportsOptions::default()
    };
    serde_json::from_str(&openreports(&report(), &options)).expect("openreports is JSON")
}

/// The (kind, namespace) of each report and its summary.
#[test]
fn openreports_one_report_per_namespace_and_one_cluster_report() {
    let list = openreports_value();
    assert_eq!(
        (&list["apiVersion"], &list["kind"]),
        (&json!("v1"), &json!("List"))
    );
    let reports: Vec<(String, Value, Value)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["apiVersion"], "openreports.io/v1alpha1");
            assert_eq!(r["source"], "kubectl-aksid");
            (
                r["kind"].as_str().unwrap().to_owned(),
                r["metadata"]["namespace"].clone(),
                r["summary"].clone(),
            )
        })
        .collect();
    let summary = |pass, fail, warn, error, skip| json!({"pass": pass, "fail": fail, "warn": warn, "error": error, "skip": skip});
    assert_eq!(
        reports,
        vec![
            (
                "ClusterReport".to_owned(),
                Value::Null,
                summary(0, 1, 0, 0, 0)
            ),
            (
                "Report".to_owned(),
                json!("default"),
                summary(0, 0, 0, 1, 0)
            ),
            ("Report".to_owned(), json!("infra"), summary(0, 1, 0, 0, 0)),
            ("Report".to_owned(), json!("legacy"), summary(1, 0, 1, 0, 1)),
        ]
    );
}

#[rstest::rstest]
#[case::rejected_is_fail("ClusterRoleBinding", "no-cluster-admin-users", "fail")]
#[case::accepted_with_warnings_is_warn("Deployment", "workload-identity-labels", "warn")]
#[case::excepted_rejection_is_skip("Deployment", "no-plaintext-secret-env", "skip")]
#[case::accepted_is_pass("ServiceAccount", "workload-identity-labels", "pass")]
#[case::failed_evaluation_is_error("ConfigMap", "no-plaintext-secret-env", "error")]
fn openreports_result_per_object_and_policy(
    #[case] kind: &str,
    #[case] policy: &str,
    #[case] expected: &str,
) {
    let list = openreports_value();
    let results: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["results"].as_array().unwrap())
        .filter(|r| r["resources"][0]["kind"] == kind && r["policy"] == policy)
        .collect();
    assert_eq!(results.len(), 1, "{results:#?}");
    let r = results[0];
    assert_eq!(r["result"], expected);
    assert_eq!(
        (&r["severity"], &r["category"]),
        (&json!("high"), &json!("Identity"))
    );
    assert_eq!(
        r["timestamp"],
        json!({"seconds": 1_790_000_000, "nanos": 0})
    );
    assert_eq!(r["scored"], true);
}

#[test]
fn openreports_severity_outside_the_crd_enum_is_left_out() {
    let mut builder = ReportBuilder::new();
    let m = objects(
        "cluster",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: a\n",
    );
    builder.add_policy(PolicyInfo {
        severity: Some("severe".to_owned()),
        ..PolicyInfo::new("x")
    });
    builder.add_verdict(&m[0], "x", Verdict::reject("no"));
    let text = openreports(&builder.build(), &OpenReportsOptions::default());
    let list: Value = serde_json::from_str(&text).unwrap();
    let result = &list["items"][0]["results"][0];
    assert_eq!(result["result"], "fail");
    assert!(result.get("severity").is_none(), "{result:#}");
}

mod kube_system;
