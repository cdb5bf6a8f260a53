//! OpenReports (`openreports.io/v1alpha1`) for `kubectl aksid audit -o openreports`: one
//! `Report` per namespace and one `ClusterReport` for cluster-scoped objects, each with its
//! `summary` and one result per (object, policy), as Kubewarden's audit scanner writes them for
//! Policy Reporter. The output is a `v1` `List`, ready for `kubectl apply -f -`.
//!
//! Results map as the audit scanner maps them: accepted → `pass` (`warn` when the policy returned
//! warnings), rejected → `fail`, a failed evaluation → `error`, a rejection an exception excused
//! → `skip`. Severity and category come from the policy's `io.kubewarden.policy.*` annotations;
//! a severity outside the CRD's enum is left out rather than written invalid. A result in
//! `kube-system`, which the cluster does not enforce, has the properties `enforced: "false"` and
//! `enforcement` saying why.

use super::NOT_ENFORCED;
use crate::builder::is_unenforced_namespace;
use crate::{Finding, Report};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The OpenReports API version written.
pub const OPENREPORTS_API_VERSION: &str = "openreports.io/v1alpha1";

/// What the caller knows that the report does not: the clock and the names to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReportsOptions {
    /// `source` of the reports and results (Policy Reporter groups by it).
    pub source: String,
    /// `metadata.name` of every report.
    pub name: String,
    /// When the results were found, in seconds since the Unix epoch (the crate has no clock).
    pub timestamp_seconds: i64,
}

impl Default for OpenReportsOptions {
    fn default() -> Self {
        OpenReportsOptions {
            source: "kubectl-aksid".to_owned(),
            name: "kubectl-aksid-audit".to_owned(),
            timestamp_seconds: 0,
        }
    }
}

/// The severities the OpenReports CRD accepts.
const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

#[derive(Default)]
struct Counts {
    pass: u64,
    fail: u64,
    warn: u64,
    error: u64,
    skip: u64,
}

impl Counts {
    fn add(&mut self, result: &str) {
        match result {
            "pass" => self.pass += 1,
            "fail" => self.fail += 1,
            "warn" => self.warn += 1,
            "error" => self.error += 1,
            _ => self.skip += 1,
        }
    }
}

#[derive(Default)]
struct Group {
    counts: Counts,
    results: Vec<Value>,
}

/// The reports as a pretty-printed `v1` `List`, with a final newline.
pub fn openreports(report: &Report, options: &OpenReportsOptions) -> String {
    let mut groups: BTreeMap<Option<String>, Group> = BTreeMap::new();
    for finding in &report.results {
        let (result, message) = outcome(finding);
        let value = result_value(report, options, finding, result, message);
        let group = groups.entry(finding.namespace.clone()).or_default();
        group.counts.add(result);
        group.results.push(value);
    }
    for error in &report.errors {
        let (Some(policy), Some(object)) = (&error.policy, &error.object) else {
            continue;
        };
        let finding = Finding {
            file: error.file.clone(),
            line: error.line,
            document: error.document.unwrap_or(0),
            api_version: object.api_version.clone(),
            kind: object.kind.clone(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
            policy: policy.clone(),
            allowed: false,
            message: Some(error.message.clone()),
            warnings: Vec::new(),
            exception: None,
            enforced: !is_unenforced_namespace(object.namespace.as_deref()),
            third_party: report
                .policies
                .iter()
                .any(|p| p.id == *policy && p.is_third_party()),
        };
        let value = result_value(
            report,
            options,
            &finding,
            "error",
            Some(error.message.clone()),
        );
        let group = groups.entry(finding.namespace.clone()).or_default();
        group.counts.add("error");
        group.results.push(value);
    }
    let items: Vec<Value> = groups
        .into_iter()
        .map(|(namespace, group)| report_object(options, namespace, group))
        .collect();
    let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items});
    let mut out = serde_json::to_string_pretty(&list).expect("the reports serialise");
    out.push('\n');
    out
}

/// The OpenReports result and message of a finding.
fn outcome(finding: &Finding) -> (&'static str, Option<String>) {
    if finding.is_excepted() {
        let reason = finding.exception.as_ref().map(|e| e.reason.clone());
        return ("skip", reason.map(|r| format!("excepted: {r}")));
    }
    if !finding.allowed {
        return ("fail", finding.message.clone());
    }
    if !finding.warnings.is_empty() {
        return ("warn", Some(finding.warnings.join("; ")));
    }
    ("pass", finding.message.clone())
}

fn result_value(
    report: &Report,
    options: &OpenReportsOptions,
    finding: &Finding,
    result: &str,
    message: Option<String>,
) -> Value {
    let mut resource = Map::new();
    resource.insert("apiVersion".into(), json!(finding.api_version));
    resource.insert("kind".into(), json!(finding.kind));
    if let Some(name) = &finding.name {
        resource.insert("name".into(), json!(name));
    }
    if let Some(namespace) = &finding.namespace {
        resource.insert("namespace".into(), json!(namespace));
    }
    let mut value = Map::new();
    value.insert("source".into(), json!(options.source));
    value.insert("policy".into(), json!(finding.policy));
    let info = report.policies.iter().find(|p| p.id == finding.policy);
    if let Some(category) = info.and_then(|p| p.category.as_deref()) {
        value.insert("category".into(), json!(category));
    }
    if let Some(severity) = info
        .and_then(|p| p.severity.as_deref())
        .filter(|s| SEVERITIES.contains(s))
    {
        value.insert("severity".into(), json!(severity));
    }
    value.insert(
        "timestamp".into(),
        json!({"seconds": options.timestamp_seconds, "nanos": 0}),
    );
    value.insert("result".into(), json!(result));
    value.insert("scored".into(), json!(true));
    value.insert("resources".into(), json!([resource]));
    if let Some(message) = message {
        value.insert("message".into(), json!(message));
    }
    if !finding.enforced {
        // The CRD's `properties` is a string map; Policy Reporter shows it beside the result.
        value.insert(
            "properties".into(),
            json!({"enforced": "false", "enforcement": NOT_ENFORCED}),
        );
    }
    Value::Object(value)
}

fn report_object(options: &OpenReportsOptions, namespace: Option<String>, group: Group) -> Value {
    let c = &group.counts;
    let mut metadata = json!({
        "name": options.name,
        "labels": {"app.kubernetes.io/managed-by": "kubectl-aksid"},
    });
    let kind = match &namespace {
        Some(ns) => {
            metadata["namespace"] = json!(ns);
            "Report"
        }
        None => "ClusterReport",
    };
    json!({
        "apiVersion": OPENREPORTS_API_VERSION,
        "kind": kind,
        "metadata": metadata,
        "source": options.source,
        "summary": {"pass": c.pass, "fail": c.fail, "warn": c.warn, "error": c.error, "skip": c.skip},
        "results": group.results,
    })
}
