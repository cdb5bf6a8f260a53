//! Secrets Store CSI driver with the Azure Key Vault provider: the identity mode of a
//! `SecretProviderClass`, and pod CSI volumes that pass a service principal's secret.
//!
//! Mode selection (secrets-store-csi-driver-provider-azure `pkg/provider/provider.go`): at most
//! one of `usePodIdentity`, `useVMManagedIdentity`, `useAzureTokenProxy` may be true; with none
//! and a `clientID` the provider uses workload identity (it requests the ServiceAccount token
//! itself, so the pod needs no Workload ID label); otherwise it falls back to service-principal
//! mode, whose client secret comes from the volume's `nodePublishSecretRef` Secret.

use crate::Settings;
use crate::keys;
use aksid_policy_common::workload::PodTemplate;
use aksid_policy_common::{Verdict, Violation, json};
use serde_json::{Map, Value};

/// The CSI driver name of the Secrets Store CSI driver.
const DRIVER: &str = "secrets-store.csi.k8s.io";

/// The three identity modes that are switched on with a boolean parameter.
const MODES: [&str; 3] = [
    "usePodIdentity",
    "useVMManagedIdentity",
    "useAzureTokenProxy",
];

const WORKLOAD_IDENTITY_FIX: &str = "use workload identity: set spec.parameters.clientID to the client ID of a \
     user-assigned managed identity federated with the pod's ServiceAccount \
     (https://learn.microsoft.com/azure/aks/csi-secrets-store-identity-access)";

/// A boolean parameter as the provider reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Switch {
    On,
    Off,
    /// An unrendered placeholder: on or off is unknown.
    Unknown,
}

/// Judges a SecretProviderClass of the `azure` provider.
pub(crate) fn validate_secret_provider_class(
    object: &Value,
    settings: &Settings,
    verdict: &mut Verdict,
) {
    if json::str_at(object, &["spec", "provider"]) != Some("azure") {
        return;
    }
    let name = json::name(object);
    let empty = Map::new();
    let parameters = json::object_at(object, &["spec", "parameters"]).unwrap_or(&empty);

    let mut switches = Vec::new();
    for mode in MODES {
        if let Some(switch) = read_switch(parameters, mode, verdict) {
            switches.push((mode, switch));
        }
    }
    let on: Vec<&str> = switches
        .iter()
        .filter(|(_, s)| *s == Switch::On)
        .map(|(m, _)| *m)
        .collect();
    let unknown = switches.iter().any(|(_, s)| *s == Switch::Unknown);
    let has_client_id = parameters
        .get("clientID")
        .and_then(Value::as_str)
        .is_some_and(|id| !id.trim().is_empty());

    if on.len() > 1 {
        verdict.reject(
            Violation::new(
                "spec.parameters",
                format!(
                    "{} are all true; the provider allows one identity mode at a time and fails the mount",
                    on.join(" and ")
                ),
            )
            .fix(WORKLOAD_IDENTITY_FIX),
        );
    }
    if on.contains(&"usePodIdentity") {
        verdict.reject(
            Violation::new(
                "spec.parameters.usePodIdentity",
                "is true: the SecretProviderClass authenticates through the deprecated, archived aad-pod-identity",
            )
            .fix(format!("{WORKLOAD_IDENTITY_FIX}, and remove usePodIdentity")),
        );
    }
    if on.is_empty() && !unknown && !has_client_id {
        verdict.reject(
            Violation::new(
                "spec.parameters",
                format!(
                    "SecretProviderClass {name} sets no clientID and no true useVMManagedIdentity or \
                     useAzureTokenProxy, so the Azure provider uses service-principal mode: a client secret \
                     stored in a Kubernetes Secret (nodePublishSecretRef)"
                ),
            )
            .fix(WORKLOAD_IDENTITY_FIX),
        );
    }
    if on == ["useVMManagedIdentity"] && settings.warn_on_vm_managed_identity {
        verdict.warn(format!(
            "SecretProviderClass {name}: spec.parameters.useVMManagedIdentity is true, so Key Vault is read with \
             the node's managed identity, which every pod on the node can use; prefer workload identity (clientID)"
        ));
    }
    if json::array_at(object, &["spec", "secretObjects"])
        .iter()
        .any(Value::is_object)
    {
        verdict.warn(format!(
            "SecretProviderClass {name}: spec.secretObjects copies Key Vault content into Kubernetes Secrets \
             (stored in etcd); mount the files instead where the application allows it"
        ));
    }
    if parameters.contains_key("tenantId") && !parameters.contains_key("tenantID") {
        verdict.warn(format!(
            "SecretProviderClass {name}: spec.parameters.tenantId is deprecated by the Azure provider; rename it to tenantID"
        ));
    }
}

/// Reads one mode switch; `None` when absent, empty, or refused (reported).
fn read_switch(
    parameters: &Map<String, Value>,
    mode: &str,
    verdict: &mut Verdict,
) -> Option<Switch> {
    let location = format!("spec.parameters.{mode}");
    let value = match parameters.get(mode)? {
        Value::String(value) => value.trim(),
        other => {
            verdict.reject(
                Violation::new(
                    location,
                    format!(
                        "is {}, but SecretProviderClass parameters are strings",
                        json::type_name(other)
                    ),
                )
                .fix("quote the value: \"true\" or \"false\""),
            );
            return None;
        }
    };
    if value.is_empty() {
        return None;
    }
    match keys::parse_go_bool(value) {
        Some(true) => Some(Switch::On),
        Some(false) => Some(Switch::Off),
        None if aksid_policy_common::ids::is_placeholder(value) => Some(Switch::Unknown),
        None => {
            verdict.reject(
                Violation::new(
                    location,
                    format!(
                        "{} is not a boolean the provider understands (Go strconv.ParseBool), so the mount fails",
                        keys::quote(value)
                    ),
                )
                .fix("use \"true\" or \"false\""),
            );
            None
        }
    }
}

/// Judges the CSI volumes of a pod template: `nodePublishSecretRef` on a Secrets Store volume
/// is the service principal's secret.
pub(crate) fn validate_volumes(template: &PodTemplate<'_>, verdict: &mut Verdict) {
    for (index, volume) in template.volumes() {
        let Some(csi) = json::object_at(volume, &["csi"]) else {
            continue;
        };
        if csi.get("driver").and_then(Value::as_str) != Some(DRIVER) {
            continue;
        }
        let Some(secret_ref) = csi.get("nodePublishSecretRef").filter(|r| !r.is_null()) else {
            continue;
        };
        let volume_name = match json::str_at(volume, &["name"]) {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => format!("#{index}"),
        };
        let secret = json::str_at(secret_ref, &["name"]).unwrap_or("");
        verdict.reject(
            Violation::new(
                template.field(&format!("spec.volumes[{volume_name}].csi.nodePublishSecretRef")),
                format!(
                    "the Secrets Store volume reads a service principal's client secret from Secret {secret:?} \
                     (service-principal mode: a long-lived credential stored in etcd)"
                ),
            )
            .fix(format!("{WORKLOAD_IDENTITY_FIX}, then remove nodePublishSecretRef and delete the Secret")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aksid_policy_common::testing::assert_verdict;
    use aksid_policy_common::workload::pod_template;
    use rstest::rstest;
    use serde_json::json;

    fn judge(parameters: Value, settings: &Settings) -> Verdict {
        let spc = json!({"apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass",
                         "metadata": {"name": "kv"}, "spec": {"provider": "azure", "parameters": parameters}});
        let mut verdict = Verdict::default();
        validate_secret_provider_class(&spc, settings, &mut verdict);
        verdict
    }

    #[rstest]
    #[case::workload_identity(json!({"clientID": "00000000-0000-0000-0000-000000000000", "usePodIdentity": "false"}), true, "")]
    #[case::placeholder_client_id(json!({"clientID": "$CLIENT_ID"}), true, "")]
    #[case::identity_binding(json!({"clientID": "x", "useAzureTokenProxy": "true"}), true, "")]
    #[case::vm_identity(json!({"useVMManagedIdentity": "True"}), true, "")]
    #[case::pod_identity(json!({"usePodIdentity": "1"}), false, "spec.parameters.usePodIdentity: is true")]
    #[case::service_principal(json!({"usePodIdentity": "false", "keyvaultName": "kv"}), false, "service-principal mode")]
    #[case::no_parameters(Value::Null, false, "service-principal mode")]
    #[case::two_modes(json!({"useVMManagedIdentity": "t", "useAzureTokenProxy": "TRUE"}), false, "useVMManagedIdentity and useAzureTokenProxy are all true")]
    #[case::not_a_go_bool(json!({"clientID": "x", "usePodIdentity": "yes"}), false, "\"yes\" is not a boolean")]
    #[case::not_a_string(json!({"clientID": "x", "useVMManagedIdentity": true}), false, "is a boolean, but SecretProviderClass parameters are strings")]
    #[case::unknown_mode(json!({"useVMManagedIdentity": "${USE_VM_MI}"}), true, "")]
    fn modes(#[case] parameters: Value, #[case] allowed: bool, #[case] message: &str) {
        let verdict = judge(parameters, &Settings::default());
        assert_verdict(&verdict, allowed, message);
    }

    #[test]
    fn vm_identity_warning_follows_the_setting() {
        let parameters = json!({"useVMManagedIdentity": "true"});
        assert!(
            judge(parameters.clone(), &Settings::default()).warnings()[0]
                .contains("node's managed identity")
        );
        let quiet = Settings {
            warn_on_vm_managed_identity: false,
            ..Settings::default()
        };
        assert!(judge(parameters, &quiet).warnings().is_empty());
    }

    #[test]
    fn other_providers_are_not_judged() {
        let spc = json!({"spec": {"provider": "vault", "parameters": {}}});
        let mut verdict = Verdict::default();
        validate_secret_provider_class(&spc, &Settings::default(), &mut verdict);
        assert!(verdict.is_allowed() && verdict.warnings().is_empty());
    }

    #[test]
    fn node_publish_secret_ref_on_secrets_store_volumes_only() {
        let pod = json!({"spec": {"volumes": [
            {"name": "kv", "csi": {"driver": DRIVER, "nodePublishSecretRef": {"name": "creds"}}},
            {"name": "other", "csi": {"driver": "file.csi.azure.com", "nodePublishSecretRef": {"name": "x"}}},
            {"name": "wi", "csi": {"driver": DRIVER}},
            "junk"]}});
        let mut verdict = Verdict::default();
        validate_volumes(&pod_template("Pod", &pod).unwrap(), &mut verdict);
        assert_eq!(verdict.violations().len(), 1);
        assert!(verdict.message().unwrap().starts_with(
            "spec.volumes[kv].csi.nodePublishSecretRef: the Secrets Store volume reads a service principal's client secret from Secret \"creds\""
        ));
    }
}
