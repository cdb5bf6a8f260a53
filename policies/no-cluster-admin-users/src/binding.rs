//! The rule for one RBAC binding: which objects are judged, which bindings are exempt, and
//! putting the role and subject checks together.

use crate::Settings;
use crate::roles::bound_role;
use crate::scope::Scope;
use crate::subjects::{has_public_subject, judge_subjects};
use aksid_policy_common::settings::matches_name;
use aksid_policy_common::{AdmissionRequest, ClusterContext, Verdict, json};

/// The only API group whose bindings are judged. Other kinds ending in `RoleBinding` or
/// `Binding` (ASO `TrustedAccessRoleBinding`, aad-pod-identity `AzureIdentityBinding`) are not
/// Kubernetes RBAC and are accepted.
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Bindings AKS (or upstream Kubernetes) creates and reconciles itself: `aks-cluster-admin-binding`
/// (local `clusterAdmin`/`clusterUser` accounts), `aks-cluster-admin-binding-aad` (the cluster's
/// admin groups), upstream `cluster-admin` (`system:masters`), and every `system:*` bootstrap
/// binding. Denying an UPDATE of these would fight the addon manager.
const AKS_MANAGED_BINDINGS: [&str; 4] = [
    "aks-cluster-admin-binding",
    "aks-cluster-admin-binding-aad",
    "cluster-admin",
    "system:*",
];

/// Judges one admission request for a RoleBinding or ClusterRoleBinding.
pub(crate) fn validate_binding(
    request: &AdmissionRequest,
    settings: &Settings,
    cluster: &dyn ClusterContext,
) -> Verdict {
    let mut verdict = Verdict::default();
    let scope = match (request.group.as_str(), request.kind.as_str()) {
        (RBAC_GROUP, "ClusterRoleBinding") => Scope::Cluster,
        (RBAC_GROUP, "RoleBinding") => Scope::Namespace(&request.namespace),
        _ => return verdict,
    };
    let binding = &request.object;
    let exempt = is_exempt(binding_name(request), settings);
    // An exempt binding is only judged for the public subjects (everyone, every service
    // account); without one, it needs no role lookup at all.
    if exempt && !has_public_subject(binding) {
        return verdict;
    }
    if let Some(role) = bound_role(binding, scope, settings, cluster, &mut verdict) {
        judge_subjects(binding, &role, scope, settings, exempt, &mut verdict);
    }
    verdict
}

/// `metadata.name` of the binding, or the request's name when the object has none.
fn binding_name(request: &AdmissionRequest) -> &str {
    match json::name(&request.object) {
        "" => &request.name,
        name => name,
    }
}

/// True for the AKS-managed bindings and the names listed in `exemptBindings`.
fn is_exempt(name: &str, settings: &Settings) -> bool {
    !name.is_empty()
        && AKS_MANAGED_BINDINGS
            .iter()
            .copied()
            .chain(settings.exempt_bindings.iter().map(String::as_str))
            .any(|pattern| matches_name(pattern, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::aks_local_accounts("aks-cluster-admin-binding", true)]
    #[case::aks_admin_groups("aks-cluster-admin-binding-aad", true)]
    #[case::upstream("cluster-admin", true)]
    #[case::system_bootstrap("system:kube-proxy", true)]
    #[case::setting_exact("legacy-admin", true)]
    #[case::setting_prefix("break-glass-2024", true)]
    #[case::lookalike("aks-cluster-admin-binding-2", false)]
    #[case::not_system_prefix("systemd-admin", false)]
    #[case::my_cluster_admin("my-cluster-admin", false)]
    #[case::empty("", false)]
    fn exempt_names(#[case] name: &str, #[case] exempt: bool) {
        let settings = Settings {
            exempt_bindings: vec!["legacy-admin".into(), "break-glass-*".into()],
            ..Settings::default()
        };
        assert_eq!(is_exempt(name, &settings), exempt);
    }
}
