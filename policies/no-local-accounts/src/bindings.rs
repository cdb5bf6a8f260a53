//! RoleBindings and ClusterRoleBindings to the identities of AKS's local accounts.
//!
//! The client certificates AKS issues for local accounts carry the users `clusterAdmin`,
//! `clusterUser` or `masterclient` and the group `system:masters` (Azure/AKS#877, #1343,
//! #2348). Binding roles to them keeps those static credentials useful; `system:masters`
//! needs no binding at all (kube-apiserver hard-wires it as superuser), so a binding to it
//! only signals reliance on local accounts.
//!
//! AKS creates two such ClusterRoleBindings itself and its addon manager reconciles them:
//! `aks-cluster-admin-binding` (Users `clusterAdmin`, `clusterUser`) and upstream
//! `cluster-admin` (Group `system:masters`). They are accepted by name, for ClusterRoleBindings
//! only: a namespaced RoleBinding of the same name is not AKS's.

use aksid_policy_common::{Violation, json};
use serde_json::Value;

/// ClusterRoleBindings AKS manages, accepted by `metadata.name`.
const AKS_MANAGED_CLUSTER_ROLE_BINDINGS: [&str; 2] = ["aks-cluster-admin-binding", "cluster-admin"];

/// Judges a RoleBinding or ClusterRoleBinding: one violation per local-account subject.
pub(crate) fn validate_binding(binding: &Value, kind: &str, name: &str) -> Vec<Violation> {
    if kind == "ClusterRoleBinding" && AKS_MANAGED_CLUSTER_ROLE_BINDINGS.contains(&name) {
        return Vec::new();
    }
    json::array_at(binding, &["subjects"])
        .iter()
        .enumerate()
        .filter_map(|(index, subject)| {
            let subject_kind = json::str_at(subject, &["kind"])?;
            let subject_name = json::str_at(subject, &["name"])?;
            let why = local_account_identity(subject_kind, subject_name)?;
            Some(
                Violation::new(
                    format!("subjects[{index}] {subject_kind} {subject_name}"),
                    format!("{why}; a binding to it keeps static local-account credentials in use"),
                )
                .fix(
                    "bind a Microsoft Entra group by its object ID instead (kind: Group, name: <group object ID>) \
                     and disable local accounts on the cluster (disableLocalAccounts: true)",
                ),
            )
        })
        .collect()
}

/// Why a subject is a local-account identity, or `None` when it is not one.
fn local_account_identity(kind: &str, name: &str) -> Option<&'static str> {
    match (kind, name) {
        ("User", "clusterAdmin") => Some(
            "is the user of AKS's local admin client certificate (`az aks get-credentials --admin`)",
        ),
        ("User", "clusterUser") => Some(
            "is the user of AKS's local user client certificate (`az aks get-credentials` on a cluster without \
             Microsoft Entra ID)",
        ),
        ("User", "masterclient") => {
            Some("is the common name of AKS's local admin client certificate")
        }
        ("Group", "system:masters") => Some(
            "is the group of AKS's local client certificates and bypasses RBAC entirely (kube-apiserver treats \
             it as superuser)",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aksid_policy_common::testing::assert_messages_start_with;
    use rstest::rstest;
    use serde_json::json;

    fn subjects(subjects: Value) -> Value {
        json!({"roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}, "subjects": subjects})
    }

    #[rstest]
    #[case::cluster_admin_user("ClusterRoleBinding", "break-glass", json!([{"kind": "User", "name": "clusterAdmin"}]),
        &["subjects[0] User clusterAdmin: is the user of AKS's local admin client certificate"][..])]
    #[case::cluster_user_in_role_binding("RoleBinding", "ops", json!([{"kind": "ServiceAccount", "name": "x"},
        {"kind": "User", "name": "clusterUser"}]), &["subjects[1] User clusterUser: is the user of AKS's local user"][..])]
    #[case::masterclient("RoleBinding", "ops", json!([{"kind": "User", "name": "masterclient"}]),
        &["subjects[0] User masterclient: is the common name"][..])]
    #[case::system_masters("ClusterRoleBinding", "masters", json!([{"kind": "Group", "name": "system:masters"}]),
        &["subjects[0] Group system:masters: is the group of AKS's local client certificates"][..])]
    #[case::every_subject(
        "ClusterRoleBinding", "many",
        json!([{"kind": "Group", "name": "system:masters"}, {"kind": "User", "name": "clusterAdmin"}]),
        &["subjects[0] Group system:masters", "subjects[1] User clusterAdmin"][..])]
    #[case::aks_managed_admin_binding("ClusterRoleBinding", "aks-cluster-admin-binding",
        json!([{"kind": "User", "name": "clusterAdmin"}, {"kind": "User", "name": "clusterUser"}]), &[][..])]
    #[case::upstream_cluster_admin_binding("ClusterRoleBinding", "cluster-admin",
        json!([{"kind": "Group", "name": "system:masters"}]), &[][..])]
    #[case::role_binding_named_like_aks("RoleBinding", "aks-cluster-admin-binding",
        json!([{"kind": "User", "name": "clusterAdmin"}]), &["subjects[0] User clusterAdmin"][..])]
    #[case::entra_object_id("ClusterRoleBinding", "my-cluster-admin", json!([{"kind": "User", "name": "your_objectId"}]), &[][..])]
    #[case::group_named_like_a_user("ClusterRoleBinding", "x", json!([{"kind": "Group", "name": "clusterAdmin"}]), &[][..])]
    #[case::service_account_named_like_a_user("ClusterRoleBinding", "x",
        json!([{"kind": "ServiceAccount", "name": "clusterAdmin", "namespace": "a"}]), &[][..])]
    #[case::case_differs("ClusterRoleBinding", "x", json!([{"kind": "User", "name": "ClusterAdmin"}]), &[][..])]
    #[case::subjects_of_wrong_type("ClusterRoleBinding", "x", json!({"kind": "User", "name": "clusterAdmin"}), &[][..])]
    #[case::malformed_subjects("ClusterRoleBinding", "x", json!([null, 3, {"kind": 1, "name": "clusterAdmin"}]), &[][..])]
    fn bindings(
        #[case] kind: &str,
        #[case] name: &str,
        #[case] list: Value,
        #[case] expected: &[&str],
    ) {
        let violations = validate_binding(&subjects(list), kind, name);
        assert_messages_start_with(&violations, expected);
        for violation in &violations {
            let message = violation.to_string();
            assert!(
                message.contains("; fix: bind a Microsoft Entra group by its object ID"),
                "{message}"
            );
        }
    }
}
