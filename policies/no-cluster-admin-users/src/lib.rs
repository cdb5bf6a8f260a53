//! `no-cluster-admin-users`: RoleBindings and ClusterRoleBindings that grant the ClusterRole
//! `cluster-admin` (or a role listed in `privilegedRoles`, or a ClusterRole whose rules grant
//! every verb on every resource in every API group, looked up through the cluster context) may
//! only name Entra groups by object ID or groups listed in `allowedGroups`. Users and service
//! accounts are rejected, and so are `system:authenticated`, `system:unauthenticated` and
//! `system:serviceaccounts*` in every binding. AKS-managed bindings are exempt.

mod binding;
mod roles;
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
