//! `workload-identity-labels`: how pods authenticate to Azure. Pods must carry the Microsoft
//! Entra Workload ID label `azure.workload.identity/use: "true"` on their pod template when their
//! ServiceAccount is set up for Workload ID (and never only on the workload or its selector);
//! Workload ID annotations must be spelled right, sit on the right object and hold values the
//! webhook accepts; client and tenant IDs must be GUIDs; pods using an AKS identity binding must
//! be allowed their client ID by the ClusterRoles bound to their ServiceAccount; and the
//! deprecated aad-pod-identity and service-principal Key Vault access (Secrets Store CSI) are
//! refused.

mod copies;
mod identity_binding;
mod keys;
mod pod_identity;
mod pod_service_account;
mod pod_template;
mod secrets_store;
mod service_account;
mod settings;
#[cfg(test)]
mod tests;

use aksid_policy_common::workload::WORKLOAD_KINDS;
use aksid_policy_common::{AdmissionRequest, ClusterContext, Policy, Verdict};
use aksid_policy_common::{HostLister, ResourceLister};
use pod_service_account::PodServiceAccount;
pub use settings::Settings;

/// The control, as a [`Policy`] (used natively by tests and benchmarks).
pub struct WorkloadIdentityLabels;

impl Policy for WorkloadIdentityLabels {
    type Settings = Settings;

    fn validate(
        request: &AdmissionRequest,
        settings: &Settings,
        cluster: &dyn ClusterContext,
    ) -> Verdict {
        validate_request(request, settings, cluster, &HostLister)
    }
}

/// [`Policy::validate`] with the list capability passed in, so unit tests can fake it.
pub(crate) fn validate_request(
    request: &AdmissionRequest,
    settings: &Settings,
    cluster: &dyn ClusterContext,
    lister: &dyn ResourceLister,
) -> Verdict {
    let mut verdict = Verdict::default();
    if settings.exempts(&request.namespace) {
        return verdict;
    }
    let object = &request.object;
    match (request.group.as_str(), request.kind.as_str()) {
        ("", "ServiceAccount") => {
            service_account::validate_service_account(object, settings, &mut verdict)
        }
        (pod_identity::GROUP, _) => {
            pod_identity::validate_pod_identity_object(request, &mut verdict)
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            pod_identity::validate_custom_resource_definition(object, &mut verdict)
        }
        ("secrets-store.csi.x-k8s.io", "SecretProviderClass") => {
            secrets_store::validate_secret_provider_class(object, settings, &mut verdict)
        }
        ("" | "apps" | "batch" | "extensions", kind) if WORKLOAD_KINDS.contains(&kind) => {
            let Some(template) = aksid_policy_common::workload::pod_template(kind, object) else {
                return verdict;
            };
            let workload = pod_template::Workload {
                kind,
                namespace: &request.namespace,
                object,
                template,
            };
            validate_workload(&workload, settings, (cluster, lister), &mut verdict);
        }
        _ => {}
    }
    verdict
}

/// Every rule on a workload's pod template, with one lookup of its ServiceAccount.
fn validate_workload(
    workload: &pod_template::Workload<'_>,
    settings: &Settings,
    (cluster, lister): (&dyn ClusterContext, &dyn ResourceLister),
    verdict: &mut Verdict,
) {
    let service_account = PodServiceAccount::new(workload, cluster);
    pod_identity::validate_workload(workload.kind, workload.object, &workload.template, verdict);
    secrets_store::validate_volumes(&workload.template, verdict);
    let label = pod_template::validate_pod_template(workload, settings, verdict);
    copies::validate_copies(workload, &service_account, settings, verdict);
    pod_service_account::validate_service_account_link(
        workload,
        label,
        &service_account,
        settings,
        verdict,
    );
    identity_binding::validate_identity_binding(
        workload,
        label,
        &service_account,
        settings,
        (cluster, lister),
        verdict,
    );
}

aksid_policy_common::export_policy!(WorkloadIdentityLabels);
