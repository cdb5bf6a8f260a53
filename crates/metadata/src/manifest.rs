//! The `ClusterAdmissionPolicy` (policies.kubewarden.io/v1) that installs a policy in a cluster.

use crate::Metadata;
use serde_json::{Value, json};

/// How the cluster enforces a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyMode {
    /// Rejections block the request.
    #[default]
    Protect,
    /// Rejections are only logged and reported (a policy can go from monitor to protect, not back).
    Monitor,
}

impl PolicyMode {
    /// `protect` or `monitor`, as the CRD spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyMode::Protect => "protect",
            PolicyMode::Monitor => "monitor",
        }
    }
}

/// A ClusterAdmissionPolicy named `name` for a module at `module` (`registry://…`, `https://…` or
/// `file://…`) with `settings`, using only fields of Kubewarden's CRD: the rules, `mutating`,
/// `backgroundAudit` and `contextAwareResources` come from the metadata.
pub fn cluster_admission_policy(
    name: &str,
    module: &str,
    metadata: &Metadata,
    settings: &Value,
    mode: PolicyMode,
) -> Value {
    let mut annotations = serde_json::Map::new();
    for key in [crate::TITLE, crate::SEVERITY, crate::CATEGORY] {
        if let Some(v) = metadata.annotation(key) {
            annotations.insert(key.to_owned(), Value::from(v));
        }
    }
    let mut spec = json!({
        "module": module,
        "mode": mode.as_str(),
        "rules": metadata.rules,
        "mutating": metadata.mutating,
        "backgroundAudit": metadata.background_audit,
        "settings": if settings.is_null() { json!({}) } else { settings.clone() },
    });
    if !metadata.context_aware_resources.is_empty() {
        spec["contextAwareResources"] = json!(metadata.context_aware_resources);
    }
    json!({
        "apiVersion": "policies.kubewarden.io/v1",
        "kind": "ClusterAdmissionPolicy",
        "metadata": {"name": name, "annotations": annotations},
        "spec": spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_carries_rules_and_context() {
        let m = Metadata::from_yaml("rules:\n- apiGroups: ['']\n  apiVersions: [v1]\n  resources: [pods]\n  operations: [CREATE]\nmutating: false\ncontextAwareResources: [{apiVersion: v1, kind: ServiceAccount}]\n").unwrap();
        let cap = cluster_admission_policy(
            "wi",
            "registry://ghcr.io/x/wi:v1",
            &m,
            &Value::Null,
            PolicyMode::Monitor,
        );
        assert_eq!(cap["spec"]["mode"], "monitor");
        assert_eq!(cap["spec"]["settings"], json!({}));
        assert_eq!(cap["spec"]["rules"][0]["resources"][0], "pods");
        assert_eq!(
            cap["spec"]["contextAwareResources"][0]["kind"],
            "ServiceAccount"
        );
    }
}
