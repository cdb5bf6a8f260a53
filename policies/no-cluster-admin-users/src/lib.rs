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

use aksid_policy_common::{AdmissionRequest, ClusterContext, HostCluster, Policy, Verdict};
use kubewarden_policy_sdk::wapc_guest::CallResult;
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

#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    use kubewarden_policy_sdk::wapc_guest as guest;
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

/// waPC `validate`.
pub fn validate(payload: &[u8]) -> CallResult {
    aksid_policy_common::validate::<NoClusterAdminUsers>(payload, &HostCluster)
}

/// waPC `validate_settings`.
pub fn validate_settings(payload: &[u8]) -> CallResult {
    aksid_policy_common::validate_settings::<Settings>(payload)
}
