//! Kubewarden policy metadata: the `metadata.yml` a policy ships, the `io.kubewarden.metadata`
//! custom section `kwctl annotate` embeds in the module, admission rule matching, and the
//! `ClusterAdmissionPolicy` manifest that installs a policy.
//!
//! Depends on serde, serde_json, wasmparser/wasm-encoder (and YAML for `metadata.yml`); must never
//! depend on wasmtime, the filesystem, the network, or anything aksid-specific (no policy ids).
//!
//! Pure functions over bytes and strings: no filesystem, no wasm runtime, so the same code serves
//! the build (annotating modules), the host (reading them back), the CLI (selecting policies per
//! object exactly as the API server would) and, later, a browser playground.
//!
//! Reading `metadata.yml` ([`Metadata::from_yaml`]) is the `yaml` feature, so that the host, which
//! only reads the JSON section back, links no YAML parser.
//!
//! ```
//! use aksid_metadata::{Metadata, annotate};
//! let metadata: Metadata = serde_json::from_str(r#"{"rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}], "mutating": false}"#).unwrap();
//! let empty_module = b"\0asm\x01\0\0\0";
//! let annotated = annotate(empty_module, &metadata.with_protocol_version()).unwrap();
//! let back = Metadata::from_wasm(&annotated).unwrap().unwrap();
//! assert_eq!(back.protocol_version.as_deref(), Some("v1"));
//! assert!(back.matches_request("", "v1", "pods", "CREATE"));
//! ```

mod annotate;
mod manifest;
mod rules;

pub use annotate::{METADATA_SECTION, annotate};
pub use manifest::{PolicyMode, cluster_admission_policy};
pub use rules::Rule;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Annotation key of the policy title.
pub const TITLE: &str = "io.kubewarden.policy.title";
/// Annotation key of the one-line description.
pub const DESCRIPTION: &str = "io.kubewarden.policy.description";
/// Annotation key of the usage text (the policy README).
pub const USAGE: &str = "io.kubewarden.policy.usage";
/// Annotation key of the severity (critical, high, medium, low, info).
pub const SEVERITY: &str = "io.kubewarden.policy.severity";
/// Annotation key of the category.
pub const CATEGORY: &str = "io.kubewarden.policy.category";
/// Annotation key of the version.
pub const VERSION: &str = "io.kubewarden.policy.version";

/// A policy's metadata, in Kubewarden's camelCase JSON/YAML shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// `v1` for waPC policies; written by annotation ([`Metadata::with_protocol_version`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// The admission rules: which objects and operations the policy judges.
    pub rules: Vec<Rule>,
    /// `io.kubewarden.policy.*` and other annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Whether the policy may return a mutated object.
    pub mutating: bool,
    /// Whether the audit scanner may evaluate existing objects with it.
    #[serde(default = "default_true")]
    pub background_audit: bool,
    /// The Kubernetes kinds the policy may read through the host.
    #[serde(default)]
    pub context_aware_resources: Vec<ContextAwareResource>,
    /// `kubewarden-wapc`, `wasi`, `opa` or `gatekeeper`.
    #[serde(default = "default_execution_mode")]
    pub execution_mode: String,
    /// `kubernetes` or `raw`.
    #[serde(default = "default_policy_type")]
    pub policy_type: String,
    /// Host capabilities the policy says it uses (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_capabilities: Option<Vec<String>>,
    /// The oldest Kubewarden able to run the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_kubewarden_version: Option<String>,
}

/// A Kubernetes kind a context-aware policy may read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextAwareResource {
    /// `v1`, `rbac.authorization.k8s.io/v1`, ...
    pub api_version: String,
    /// Singular PascalCase kind.
    pub kind: String,
}

/// Why metadata could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// `metadata.yml` is not valid YAML for the metadata schema.
    #[cfg(feature = "yaml")]
    #[error("invalid metadata YAML: {0}")]
    Yaml(#[from] serde_saphyr::Error),
    /// The custom section is not valid metadata JSON.
    #[error("invalid `io.kubewarden.metadata` section: {0}")]
    Json(#[from] serde_json::Error),
    /// The bytes are not a WebAssembly module.
    #[error("not a WebAssembly module: {0}")]
    Wasm(String),
    /// The metadata violates a rule of the schema.
    #[error("invalid metadata: {0}")]
    Invalid(String),
}

fn default_true() -> bool {
    true
}
fn default_execution_mode() -> String {
    "kubewarden-wapc".to_owned()
}
fn default_policy_type() -> String {
    "kubernetes".to_owned()
}

impl Metadata {
    /// Parses and validates `metadata.yml` (the `yaml` feature).
    #[cfg(feature = "yaml")]
    pub fn from_yaml(text: &str) -> Result<Metadata, MetadataError> {
        let metadata: Metadata = serde_saphyr::from_str(text)?;
        metadata.validate()?;
        Ok(metadata)
    }

    /// Reads the `io.kubewarden.metadata` custom section of a module; `None` when absent.
    pub fn from_wasm(module: &[u8]) -> Result<Option<Metadata>, MetadataError> {
        match annotate::find_section(module)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(bytes)?)),
            None => Ok(None),
        }
    }

    /// The JSON written into the custom section (camelCase, as `kwctl annotate` writes it).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("metadata serialises")
    }

    /// A copy with `protocolVersion: v1`, as annotation records for a waPC policy.
    pub fn with_protocol_version(&self) -> Metadata {
        Metadata {
            protocol_version: Some("v1".to_owned()),
            ..self.clone()
        }
    }

    /// Checks the schema rules Kubewarden enforces: in each rule every list is non-empty, `*`
    /// stands alone in its list, operations are known; and the execution mode is known.
    pub fn validate(&self) -> Result<(), MetadataError> {
        for (i, rule) in self.rules.iter().enumerate() {
            rule.validate()
                .map_err(|e| MetadataError::Invalid(format!("rules[{i}]: {e}")))?;
        }
        if !matches!(
            self.execution_mode.as_str(),
            "kubewarden-wapc" | "wasi" | "opa" | "gatekeeper"
        ) {
            return Err(MetadataError::Invalid(format!(
                "executionMode {:?} is not one of kubewarden-wapc, wasi, opa, gatekeeper",
                self.execution_mode
            )));
        }
        Ok(())
    }

    /// An annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }

    /// The policy title (`io.kubewarden.policy.title`).
    pub fn title(&self) -> Option<&str> {
        self.annotation(TITLE)
    }

    /// True when any rule selects an object of `group`/`version`/`resource` (plural, optionally
    /// `resource/subresource`) for `operation`, with Kubernetes' wildcard semantics.
    pub fn matches_request(
        &self,
        group: &str,
        version: &str,
        resource: &str,
        operation: &str,
    ) -> bool {
        self.rules
            .iter()
            .any(|r| r.matches(group, version, resource, operation))
    }

    /// True when the policy declared read access to `api_version`/`kind`.
    pub fn allows_context(&self, api_version: &str, kind: &str) -> bool {
        self.context_aware_resources
            .iter()
            .any(|r| r.api_version == api_version && r.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
rules:
  - apiGroups: ["rbac.authorization.k8s.io"]
    apiVersions: ["v1"]
    resources: ["rolebindings", "clusterrolebindings"]
    operations: ["CREATE", "UPDATE"]
mutating: false
contextAwareResources:
  - apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
executionMode: kubewarden-wapc
annotations:
  io.kubewarden.policy.title: no-cluster-admin-users
"#;

    #[test]
    fn yaml_round_trips_to_kwctl_json() {
        let m = Metadata::from_yaml(YAML).unwrap().with_protocol_version();
        let json: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
        assert_eq!(json["protocolVersion"], "v1");
        assert_eq!(json["backgroundAudit"], true);
        assert_eq!(json["policyType"], "kubernetes");
        assert_eq!(
            json["contextAwareResources"][0]["apiVersion"],
            "rbac.authorization.k8s.io/v1"
        );
        assert_eq!(
            json["rules"][0]["apiGroups"][0],
            "rbac.authorization.k8s.io"
        );
        assert!(m.allows_context("rbac.authorization.k8s.io/v1", "ClusterRole"));
        assert_eq!(m.title(), Some("no-cluster-admin-users"));
    }

    #[test]
    fn invalid_metadata_is_refused_with_the_rule_index() {
        let err = Metadata::from_yaml("rules:\n- apiGroups: ['*', apps]\n  apiVersions: [v1]\n  resources: [pods]\n  operations: [CREATE]\nmutating: false\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rules[0]") && err.contains("apiGroups"),
            "{err}"
        );
        assert!(
            Metadata::from_yaml("rules: []\n").is_err(),
            "mutating is required"
        );
    }
}
