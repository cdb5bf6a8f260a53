//! SARIF 2.1.0 for GitHub code scanning: one run, one rule per policy, one result per rejection
//! (level `error`) or policy warning (level `warning`), excepted rejections as suppressed
//! results, and input errors as tool execution notifications. A result in `kube-system`, which
//! the cluster does not enforce, has `properties.enforced: false` and says so in its message.

use super::NOT_ENFORCED;
use crate::Report;
use crate::model::{Finding, PolicyInfo};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SCHEMA: &str = "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json";
const INFORMATION_URI: &str = "https://github.com/aksid/aksid";

/// `no-plaintext-secret-env` → `NoPlaintextSecretEnv` (SARIF's `name` is an identifier).
fn pascal_case(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |f| {
                f.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// GitHub reads `security-severity` (0–10) to rank security alerts.
fn security_severity(severity: &str) -> Option<&'static str> {
    match severity {
        "critical" => Some("9.5"),
        "high" => Some("8.0"),
        "medium" => Some("5.5"),
        "low" => Some("3.0"),
        "info" => Some("0.1"),
        _ => None,
    }
}

fn level(severity: Option<&str>) -> &'static str {
    match severity {
        Some("critical" | "high") | None => "error",
        Some("medium") => "warning",
        Some(_) => "note",
    }
}

fn rule(policy: &PolicyInfo) -> Value {
    let title = policy.title.clone().unwrap_or_else(|| policy.id.clone());
    let description = policy
        .description
        .clone()
        .unwrap_or_else(|| format!("Kubernetes admission policy {}", policy.id));
    let mut tags = vec!["security".to_owned(), "kubernetes".to_owned()];
    if let Some(category) = &policy.category {
        tags.push(category.clone());
    }
    let mut properties = json!({ "tags": tags });
    if let Some(s) = policy.severity.as_deref().and_then(security_severity) {
        properties["security-severity"] = json!(s);
    }
    let help_text = policy.usage.clone().unwrap_or_else(|| {
        format!(
            "{description}\n\nRun `kubectl aksid explain {}` for details.",
            policy.id
        )
    });
    let mut rule = json!({
        "id": policy.id,
        "name": pascal_case(&policy.id),
        "shortDescription": { "text": title },
        "fullDescription": { "text": description },
        "help": { "text": help_text, "markdown": help_text },
        "defaultConfiguration": { "level": level(policy.severity.as_deref()) },
        "properties": properties,
    });
    if let Some(version) = &policy.version {
        rule["properties"]["version"] = json!(version);
    }
    if let Some(origin) = &policy.origin {
        rule["properties"]["origin"] = json!(origin);
        rule["properties"]["thirdParty"] = json!(policy.is_third_party());
    }
    if let Some(digest) = &policy.digest {
        rule["properties"]["digest"] = json!(digest);
    }
    if policy.replaces_builtin {
        rule["properties"]["replacesBuiltin"] = json!(true);
    }
    rule
}

/// A relative path as a URI reference (percent-encoded, `/`-separated), or a `file://` URI for
/// an absolute path; `(uri, relative)`.
fn artifact_uri(file: &str) -> (String, bool) {
    let path = file.replace('\\', "/");
    let path = path.trim_start_matches("./");
    let encoded: String = path
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    if path.starts_with('/') {
        (format!("file://{encoded}"), false)
    } else {
        (encoded, true)
    }
}

fn physical_location(file: &str, line: usize) -> Value {
    let (uri, relative) = artifact_uri(file);
    let mut artifact = json!({ "uri": uri });
    if relative {
        artifact["uriBaseId"] = json!("%SRCROOT%");
    }
    json!({
        "artifactLocation": artifact,
        "region": { "startLine": line.max(1) }
    })
}

/// A stable hash of what identifies a finding, so code scanning tracks it across commits even
/// when lines move.
fn fingerprint(f: &Finding, message: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        f.file.as_str(),
        &f.kind,
        f.namespace.as_deref().unwrap_or(""),
        f.name.as_deref().unwrap_or(""),
        &f.policy,
        message,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn result(f: &Finding, rule_index: usize, level: &str, message: &str) -> Value {
    let label = f.object_label();
    let qualified = format!(
        "{}/{}/{}",
        f.namespace.as_deref().unwrap_or("_cluster"),
        f.kind,
        f.name.as_deref().unwrap_or("_unnamed")
    );
    let mut location = json!({ "physicalLocation": physical_location(&f.file, f.line) });
    location["logicalLocations"] = json!([{
        "name": f.name.clone().unwrap_or_else(|| f.kind.clone()),
        "fullyQualifiedName": qualified,
        "kind": "resource",
    }]);
    let mut text = format!("{label}: {message}");
    if !f.enforced && level == "error" {
        // Code scanning shows the message, not the property bag: say it where it is read.
        text.push_str(&format!("\n({NOT_ENFORCED})"));
    }
    let mut result = json!({
        "ruleId": f.policy,
        "ruleIndex": rule_index,
        "level": level,
        "message": { "text": text },
        "locations": [location],
        "partialFingerprints": { "aksidFinding/v1": fingerprint(f, message) },
    });
    if f.third_party {
        // The message is a third-party module's own words, not aksid's.
        result["properties"]["thirdParty"] = json!(true);
    }
    if !f.enforced {
        result["properties"]["enforced"] = json!(false);
    }
    if let Some(e) = &f.exception {
        result["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": format!("exception #{}: {}", e.id, e.reason),
        }]);
    }
    result
}

/// The SARIF log, pretty-printed.
pub fn sarif(report: &Report) -> String {
    let rules: Vec<Value> = report.policies.iter().map(rule).collect();
    let index = |policy: &str| report.policies.iter().position(|p| p.id == policy);
    let mut results = Vec::new();
    for f in &report.results {
        let Some(i) = index(&f.policy) else { continue };
        if !f.allowed || f.is_excepted() {
            let message = f
                .message
                .clone()
                .unwrap_or_else(|| format!("rejected by {}", f.policy));
            results.push(result(f, i, "error", &message));
        }
        for w in &f.warnings {
            results.push(result(f, i, "warning", w));
        }
    }
    let notification = |e: &crate::model::InputError, level: &str| {
        let mut n = json!({
            "level": level,
            "message": { "text": format!("{}: {}", e.location(), e.message) },
            "locations": [{ "physicalLocation": physical_location(&e.file, e.line) }],
            "descriptor": { "id": e.kind },
        });
        if let Some(i) = e.policy.as_deref().and_then(index) {
            n["associatedRule"] = json!({ "id": report.policies[i].id, "index": i });
        }
        n
    };
    let notifications: Vec<Value> = report
        .errors
        .iter()
        .map(|e| notification(e, "error"))
        .chain(report.notices.iter().map(|n| notification(n, "note")))
        .collect();
    let mut invocation = json!({ "executionSuccessful": report.errors.is_empty() });
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = json!(notifications);
    }
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "kubectl-aksid",
                "informationUri": INFORMATION_URI,
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "invocations": [invocation],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut out = serde_json::to_string_pretty(&log).expect("SARIF serialises");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(
            pascal_case("no-plaintext-secret-env"),
            "NoPlaintextSecretEnv"
        );
        assert_eq!(
            artifact_uri("./apps/my app.yaml"),
            ("apps/my%20app.yaml".to_owned(), true)
        );
        assert_eq!(
            artifact_uri("/abs/a.yaml"),
            ("file:///abs/a.yaml".to_owned(), false)
        );
        assert_eq!(artifact_uri("dir\\a.yaml").0, "dir/a.yaml");
        assert_eq!(level(Some("high")), "error");
        assert_eq!(level(Some("medium")), "warning");
        assert_eq!(level(Some("low")), "note");
    }
}
