//! `no-cluster-admin-users`: RoleBindings and ClusterRoleBindings that grant privileged access
//! may only name Entra groups by object ID or groups listed in `allowedGroups`. Privileged is the
//! ClusterRole `cluster-admin`, a role listed in `privilegedRoles`, a ClusterRole whose rules
//! grant every verb on every resource in every API group, and a role (looked up through the
//! cluster context) whose rules open another path to cluster-admin: `bind`/`escalate`,
//! `impersonate`, `nodes/proxy`, minting tokens or reading Secrets cluster-wide or in
//! `kube-system`, or `use-managed-identity` on every identity binding. Users and service accounts
//! are rejected, and so are `system:authenticated`, `system:unauthenticated`,
//! `system:anonymous` and `system:serviceaccounts*` in every binding; the first three may hold
//! no role but Kubernetes' discovery roles. AKS-managed bindings are exempt.

mod binding;
mod roles;
mod rules;
mod scope;
mod settings;
mod subjects;
#[cfg(test)]
mod tests;

use aksid_policy_common::{AdmissionRequest, ClusterContext, Policy, Verdict};
pub use settings::Settings;

/// The control, as a [`Policy`] (used natively by tests and benchmarks).
pub struct NoClusterAdminUsers;

impl Policy for NoClusterAdminUsers {
    type Settings = Settings;

    fn validate(
        request: &AdmissionRequest,
        settings: &Settings,
        cluster: &dyn ClusterContext,
    ) -> Verdict {
        binding::validate_binding(request, settings, cluster)
    }
}

aksid_policy_common::export_policy!(NoClusterAdminUsers);
