//! The deprecated aad-pod-identity: its objects (group `aadpodidentity.k8s.io`), the CRDs that
//! install them, the `aadpodidbinding` pod label and its NMI/MIC images.
//!
//! aad-pod-identity was deprecated on 2022-10-24 and archived on 2023-10-02; the AKS add-on was
//! supported until September 2025. Its NMI DaemonSet intercepts IMDS for every pod on a node.

use aksid_policy_common::workload::PodTemplate;
use aksid_policy_common::{AdmissionRequest, Verdict, Violation, json};
use serde_json::Value;

/// API group of every aad-pod-identity kind.
pub(crate) const GROUP: &str = "aadpodidentity.k8s.io";
/// The pod label NMI/MIC match against `AzureIdentityBinding.spec.selector`.
const BINDING_LABEL: &str = "aadpodidbinding";
/// Registries of the aad-pod-identity images (NMI, MIC, demo); the `k8s/` one is pre-1.6.
const IMAGE_PREFIXES: [&str; 2] = [
    "mcr.microsoft.com/oss/azure/aad-pod-identity/",
    "mcr.microsoft.com/k8s/aad-pod-identity/",
];

/// How to get off aad-pod-identity, shared by every finding of this module.
const MIGRATION: &str = "migrate to Microsoft Entra Workload ID \
     (https://learn.microsoft.com/azure/aks/workload-identity-migrate-from-pod-identity; \
     `azwi podidentity detect` lists the pods and identities to move)";

/// Judges an object of group `aadpodidentity.k8s.io`: every one is a finding.
pub(crate) fn validate_pod_identity_object(request: &AdmissionRequest, verdict: &mut Verdict) {
    let name = json::name(&request.object);
    let what = match request.kind.as_str() {
        "AzurePodIdentityException" => {
            " and an AzurePodIdentityException re-opens the node's IMDS endpoint (node identity) to the pods it matches"
        }
        "AzureIdentity" if is_service_principal(&request.object) => {
            " and this AzureIdentity is a service principal whose secret sits in a Kubernetes Secret"
        }
        _ => "",
    };
    verdict.reject(
        Violation::new(
            "apiVersion",
            format!(
                "{} {name} is an aad-pod-identity object ({GROUP}); aad-pod-identity is deprecated and archived{what}",
                request.kind
            ),
        )
        .fix(format!("{MIGRATION}, then delete the aad-pod-identity objects")),
    );
}

/// `spec.type` 1 (service principal) or 2 (service principal certificate).
fn is_service_principal(object: &Value) -> bool {
    json::get(object, &["spec", "type"])
        .and_then(|t| t.as_i64().or_else(|| t.as_str()?.parse().ok()))
        .is_some_and(|t| t == 1 || t == 2)
}

/// Judges a CustomResourceDefinition: the aad-pod-identity CRDs are its installation.
pub(crate) fn validate_custom_resource_definition(object: &Value, verdict: &mut Verdict) {
    if json::str_at(object, &["spec", "group"]) == Some(GROUP) {
        verdict.reject(
            Violation::new(
                "spec.group",
                format!(
                    "CustomResourceDefinition {} installs the deprecated, archived aad-pod-identity",
                    json::name(object)
                ),
            )
            .fix(format!("{MIGRATION}, then uninstall aad-pod-identity")),
        );
    }
}

/// Judges the aad-pod-identity traces of a workload: the binding label on the pods or on the
/// workload itself, and NMI/MIC images.
pub(crate) fn validate_workload(
    kind: &str,
    object: &Value,
    template: &PodTemplate<'_>,
    verdict: &mut Verdict,
) {
    let mut label_maps = vec![(template.field("metadata.labels"), template.labels_value())];
    if kind != "Pod" {
        label_maps.push(("metadata.labels".to_owned(), json::labels(object)));
    }
    if kind == "CronJob" {
        label_maps.push((
            "spec.jobTemplate.metadata.labels".to_owned(),
            json::get(object, &["spec", "jobTemplate", "metadata", "labels"]),
        ));
    }
    for (path, labels) in label_maps {
        if json::entries(labels).any(|(key, _)| key == BINDING_LABEL) {
            verdict.reject(
                Violation::new(
                    format!("{path}[{BINDING_LABEL:?}]"),
                    "the aadpodidbinding label selects an identity through the deprecated, archived aad-pod-identity",
                )
                .fix(format!(
                    "{MIGRATION}; then label the pods azure.workload.identity/use: \"true\" (in {}) and remove aadpodidbinding",
                    template.field("metadata.labels")
                )),
            );
        }
    }
    for container in template.containers() {
        let Some(image) = container.image() else {
            continue;
        };
        if IMAGE_PREFIXES
            .iter()
            .any(|prefix| image.starts_with(prefix))
        {
            verdict.reject(
                Violation::new(
                    container.path(),
                    format!("image {image} is part of the deprecated, archived aad-pod-identity"),
                )
                .fix(format!("{MIGRATION}, then remove aad-pod-identity")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aksid_policy_common::workload::pod_template;
    use serde_json::json;

    #[test]
    fn binding_label_on_deployment_and_template() {
        let deployment = json!({"metadata": {"labels": {"aadpodidbinding": "demo"}},
            "spec": {"template": {"metadata": {"labels": {"aadpodidbinding": "demo"}},
                     "spec": {"containers": [{"name": "nmi", "image": "mcr.microsoft.com/oss/azure/aad-pod-identity/nmi:v1.8.17"}]}}}});
        let template = pod_template("Deployment", &deployment).unwrap();
        let mut verdict = Verdict::default();
        validate_workload("Deployment", &deployment, &template, &mut verdict);
        let message = verdict.message().unwrap();
        assert!(message.contains(
            "spec.template.metadata.labels[\"aadpodidbinding\"]: the aadpodidbinding label"
        ));
        assert!(message.contains("\nmetadata.labels[\"aadpodidbinding\"]"));
        assert!(message.contains("spec.template.spec.containers[nmi]: image mcr.microsoft.com/oss/azure/aad-pod-identity/nmi:v1.8.17"));
        assert!(message.contains("azwi podidentity detect"));
    }

    #[test]
    fn only_aad_pod_identity_crds() {
        let mut verdict = Verdict::default();
        validate_custom_resource_definition(
            &json!({"spec": {"group": "cert-manager.io"}}),
            &mut verdict,
        );
        assert!(verdict.is_allowed());
        validate_custom_resource_definition(
            &json!({"metadata": {"name": "azureidentities.aadpodidentity.k8s.io"}, "spec": {"group": GROUP}}),
            &mut verdict,
        );
        assert!(verdict.message().unwrap().starts_with(
            "spec.group: CustomResourceDefinition azureidentities.aadpodidentity.k8s.io installs"
        ));
    }

    #[test]
    fn service_principal_identities_say_so() {
        let request = AdmissionRequest {
            kind: "AzureIdentity".into(),
            object: json!({"metadata": {"name": "sp"}, "spec": {"type": 1}}),
            ..AdmissionRequest::default()
        };
        let mut verdict = Verdict::default();
        validate_pod_identity_object(&request, &mut verdict);
        assert!(
            verdict
                .message()
                .unwrap()
                .contains("service principal whose secret")
        );
    }
}
