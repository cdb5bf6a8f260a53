//! The policy settings, their defaults and their validation.

use aksid_policy_common::settings::require_non_empty;
use kubewarden_policy_sdk::settings::Validatable;
use serde::Deserialize;

/// Settings of `workload-identity-labels`.
///
/// ```yaml
/// exemptNamespaces: [kube-system]
/// warnOnVMManagedIdentity: true
/// rejectPlaceholders: false
/// rejectLabelWithoutClientId: true
/// checkIdentityBindingRoles: true
/// warnOnCopiedAnnotations: true
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    /// Namespaces whose objects are not judged at all. Cluster-scoped objects (CRDs) are
    /// always judged.
    pub(crate) exempt_namespaces: Vec<String>,
    /// Warn when a SecretProviderClass uses the node's managed identity.
    #[serde(rename = "warnOnVMManagedIdentity")]
    pub(crate) warn_on_vm_managed_identity: bool,
    /// Reject unrendered placeholders (`${VAR}`, `<client-id>`) in Workload ID values instead of
    /// accepting them with a warning.
    pub(crate) reject_placeholders: bool,
    /// Reject a pod labelled for Workload ID whose ServiceAccount exists but has no
    /// `client-id` annotation (the default); `false` only warns, for repositories whose deploy
    /// tooling annotates the ServiceAccount after the manifest is written.
    pub(crate) reject_label_without_client_id: bool,
    /// Compare the client ID of a pod using an AKS identity binding with the ClusterRoles
    /// bound to its ServiceAccount (`use-managed-identity` on `cid.wi.aks.azure.com`).
    pub(crate) check_identity_binding_roles: bool,
    /// Warn when a workload or its pod template repeats a Workload ID annotation with the
    /// value the webhook reads elsewhere (kustomize `commonAnnotations`); `false` accepts such
    /// copies silently. Copies with another value are rejected either way.
    pub(crate) warn_on_copied_annotations: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            exempt_namespaces: Vec::new(),
            warn_on_vm_managed_identity: true,
            reject_placeholders: false,
            reject_label_without_client_id: true,
            check_identity_binding_roles: true,
            warn_on_copied_annotations: true,
        }
    }
}

impl Settings {
    /// True when objects of `namespace` are not judged.
    pub(crate) fn exempts(&self, namespace: &str) -> bool {
        !namespace.is_empty() && self.exempt_namespaces.iter().any(|ns| ns == namespace)
    }
}

impl Validatable for Settings {
    fn validate(&self) -> Result<(), String> {
        require_non_empty("exemptNamespaces", &self.exempt_namespaces)?;
        if let Some(bad) = self
            .exempt_namespaces
            .iter()
            .find(|ns| !is_namespace_name(ns))
        {
            return Err(format!(
                "exemptNamespaces contains {bad:?}, which is not a namespace name; \
                 use exact names such as kube-system (lowercase letters, digits and '-', at most 63 characters)"
            ));
        }
        Ok(())
    }
}

/// An RFC 1123 label, as namespace names are.
fn is_namespace_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use aksid_policy_common::settings::parse_settings;
    use rstest::rstest;

    fn check(json: &str) -> Result<Settings, String> {
        let settings: Settings = parse_settings(json.as_bytes())?;
        settings.validate().map(|()| settings)
    }

    #[test]
    fn defaults() {
        let s = check("{}").unwrap();
        assert!(s.exempt_namespaces.is_empty());
        assert!(s.warn_on_vm_managed_identity);
        assert!(!s.reject_placeholders);
        assert!(s.reject_label_without_client_id);
        assert!(s.check_identity_binding_roles);
        assert!(s.warn_on_copied_annotations);
        assert!(check("null").is_ok());
        assert!(check("").is_ok());
    }

    #[test]
    fn every_key_is_read() {
        let s = check(
            r#"{"exemptNamespaces": ["kube-system"], "warnOnVMManagedIdentity": false,
                "rejectPlaceholders": true, "rejectLabelWithoutClientId": false,
                "checkIdentityBindingRoles": false, "warnOnCopiedAnnotations": false}"#,
        )
        .unwrap();
        assert!(s.exempts("kube-system") && !s.exempts("default") && !s.exempts(""));
        assert!(
            !s.warn_on_vm_managed_identity
                && s.reject_placeholders
                && !s.reject_label_without_client_id
                && !s.check_identity_binding_roles
                && !s.warn_on_copied_annotations
        );
    }

    #[rstest]
    #[case::unknown_key(r#"{"exemptNamespace": ["a"]}"#, "unknown field `exemptNamespace`")]
    #[case::wrong_case_key(
        r#"{"warnOnVmManagedIdentity": false}"#,
        "unknown field `warnOnVmManagedIdentity`"
    )]
    #[case::wrong_type(r#"{"rejectPlaceholders": "yes"}"#, "invalid type")]
    #[case::wrong_case_identity_binding(
        r#"{"checkIdentityBindingRBAC": false}"#,
        "unknown field `checkIdentityBindingRBAC`"
    )]
    #[case::empty_namespace(r#"{"exemptNamespaces": [""]}"#, "exemptNamespaces[0] is empty")]
    #[case::bad_namespace(
        r#"{"exemptNamespaces": ["Kube_System"]}"#,
        "exemptNamespaces contains \"Kube_System\""
    )]
    #[case::wildcard(r#"{"exemptNamespaces": ["kube-*"]}"#, "not a namespace name")]
    fn refused(#[case] json: &str, #[case] message: &str) {
        let error = check(json).unwrap_err();
        assert!(
            error.contains(message),
            "```\n{message}\n```\nnot in\n```\n{error}\n```"
        );
    }
}
