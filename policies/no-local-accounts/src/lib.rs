//! `no-local-accounts`: no static, non-Entra credentials. AKS clusters declared through Azure
//! Service Operator, Cluster API Provider Azure or Crossplane must disable local accounts and
//! integrate Microsoft Entra ID (and must not export the admin kubeconfig); long-lived
//! ServiceAccount token Secrets, RoleBindings to the local-account identities (`clusterAdmin`,
//! `clusterUser`, `masterclient`, `system:masters`) and kubeconfig users holding certificates,
//! tokens or passwords, also in the arguments or environment of their kubelogin `exec`
//! plugin, are rejected. Other kinds, including other kinds of the same API
//! groups, are accepted.

mod bindings;
mod crossplane;
mod flag;
mod kubeconfig;
mod managed_cluster;
mod settings;
#[cfg(test)]
mod tests;
mod token_secret;

use aksid_policy_common::{AdmissionRequest, ClusterContext, Policy, Verdict};
pub use settings::Settings;

/// The control, as a [`Policy`] (used natively by tests and benchmarks).
pub struct NoLocalAccounts;

impl Policy for NoLocalAccounts {
    type Settings = Settings;

    fn validate(
        request: &AdmissionRequest,
        settings: &Settings,
        _: &dyn ClusterContext,
    ) -> Verdict {
        use managed_cluster::{ASO_GROUP, CAPZ_GROUP};
        let object = &request.object;
        let violations = match (request.group.as_str(), request.kind.as_str()) {
            (ASO_GROUP, "ManagedCluster") => {
                managed_cluster::validate_aso_managed_cluster(object, "", settings)
            }
            (CAPZ_GROUP, "AzureManagedControlPlane") => {
                managed_cluster::validate_capz_control_plane(object)
            }
            (CAPZ_GROUP, "AzureASOManagedControlPlane") => {
                managed_cluster::validate_capz_aso_control_plane(object, settings)
            }
            (crossplane::GROUP | crossplane::NAMESPACED_GROUP, "KubernetesCluster") => {
                let list_shaped =
                    request.group == crossplane::GROUP && request.version == "v1beta1";
                crossplane::validate_kubernetes_cluster(object, list_shaped, settings)
            }
            ("", "Secret") => {
                token_secret::validate_secret(object, &request.namespace, &request.name, settings)
                    .into_iter()
                    .collect()
            }
            ("", "Config") => kubeconfig::validate_kubeconfig(object, settings),
            ("rbac.authorization.k8s.io", kind @ ("RoleBinding" | "ClusterRoleBinding")) => {
                bindings::validate_binding(object, kind, &request.name)
            }
            _ => Vec::new(),
        };
        let mut verdict = Verdict::default();
        for violation in violations {
            verdict.reject(violation);
        }
        verdict
    }
}

aksid_policy_common::export_policy!(NoLocalAccounts);
