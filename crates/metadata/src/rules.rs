//! Admission rules and the API server's matching semantics.

use serde::{Deserialize, Serialize};

/// One admission rule: API groups, versions, resources and operations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// API groups (`""` is the core group, `*` all).
    pub api_groups: Vec<String>,
    /// API versions (`*` all).
    pub api_versions: Vec<String>,
    /// Plural resources, `resource/subresource`, `*`, `*/*` or `resource/*`.
    pub resources: Vec<String>,
    /// `CREATE`, `UPDATE`, `DELETE`, `CONNECT` or `*`.
    pub operations: Vec<String>,
}

impl Rule {
    /// True when this rule selects the request.
    pub fn matches(&self, group: &str, version: &str, resource: &str, operation: &str) -> bool {
        let any = |list: &[String], value: &str| list.iter().any(|v| v == "*" || v == value);
        any(&self.api_groups, group)
            && any(&self.api_versions, version)
            && any(&self.operations, operation)
            && self.resources.iter().any(|r| resource_matches(r, resource))
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        for (field, list) in [
            ("apiGroups", &self.api_groups),
            ("apiVersions", &self.api_versions),
            ("resources", &self.resources),
            ("operations", &self.operations),
        ] {
            if list.is_empty() {
                return Err(format!("{field} must not be empty"));
            }
            if field != "resources" && list.len() > 1 && list.iter().any(|v| v == "*") {
                return Err(format!("{field}: no other value may be listed with '*'"));
            }
        }
        if let Some(op) = self
            .operations
            .iter()
            .find(|o| !matches!(o.as_str(), "CREATE" | "UPDATE" | "DELETE" | "CONNECT" | "*"))
        {
            return Err(format!(
                "operations: {op:?} is not CREATE, UPDATE, DELETE, CONNECT or *"
            ));
        }
        if self.resources.iter().any(String::is_empty) {
            return Err("resources: empty resource".to_owned());
        }
        Ok(())
    }
}

/// Kubernetes' resource matching: `*` matches any resource without subresource, `*/*` anything,
/// `pods/*` any subresource of pods, `*/status` that subresource of anything.
fn resource_matches(pattern: &str, resource: &str) -> bool {
    let (res, sub) = resource.split_once('/').unwrap_or((resource, ""));
    let (pres, psub) = pattern.split_once('/').unwrap_or((pattern, ""));
    (pres == "*" || pres == res)
        && (psub == sub || (psub == "*" && !sub.is_empty()) || (pattern == "*/*"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], resources: &[&str]) -> Rule {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        Rule {
            api_groups: v(groups),
            api_versions: v(&["*"]),
            resources: v(resources),
            operations: v(&["CREATE", "UPDATE"]),
        }
    }

    #[test]
    fn matching_follows_kubernetes_wildcards() {
        let r = rule(&["apps"], &["deployments"]);
        assert!(r.matches("apps", "v1", "deployments", "CREATE"));
        assert!(!r.matches("apps", "v1", "deployments", "DELETE"));
        assert!(!r.matches("", "v1", "deployments", "CREATE"));
        assert!(!r.matches("apps", "v1", "deployments/scale", "CREATE"));
        let all = rule(&["aadpodidentity.k8s.io"], &["*"]);
        assert!(all.matches("aadpodidentity.k8s.io", "v1", "azureidentities", "UPDATE"));
        assert!(!all.matches(
            "aadpodidentity.k8s.io",
            "v1",
            "azureidentities/status",
            "UPDATE"
        ));
        assert!(rule(&["*"], &["*/*"]).matches("x", "v1", "a/b", "CREATE"));
        assert!(rule(&[""], &["pods/*"]).matches("", "v1", "pods/exec", "CREATE"));
    }
}
