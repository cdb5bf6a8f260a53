//! AKS clusters declared through Azure Service Operator (`ManagedCluster`) and Cluster API
//! Provider Azure (`AzureManagedControlPlane`, and the ASO `ManagedCluster`s embedded in an
//! `AzureASOManagedControlPlane`).
//!
//! | field                                      | required                                 |
//! |--------------------------------------------|------------------------------------------|
//! | `spec.disableLocalAccounts`                | `true` (absent = enabled, as AKS and Azure Policy treat it) |
//! | `spec.aadProfile.managed`                  | `true` when local accounts are disabled (else nobody can sign in) |
//! | `spec.operatorSpec.secrets.adminCredentials` (ASO) | absent (it exports the admin kubeconfig) |
//! | `spec.operatorSpec.secrets` (ASO inside CAPZ) | `userCredentials` or `adminCredentials` set, else CAPZ defaults `adminCredentials` |
//! | `spec.aadProfile.enableAzureRBAC` (ASO)    | `true` when `requireAzureRBAC` is set    |

use crate::Settings;
use crate::flag::Flag;
use aksid_policy_common::request::split_api_version;
use aksid_policy_common::{Violation, json};
use serde_json::Value;

/// API group of Azure Service Operator's AKS kinds.
pub(crate) const ASO_GROUP: &str = "containerservice.azure.com";
/// API group of Cluster API Provider Azure.
pub(crate) const CAPZ_GROUP: &str = "infrastructure.cluster.x-k8s.io";

const ENTRA_FIX: &str = "spec.aadProfile.managed: true and spec.aadProfile.adminGroupObjectIDs: [<Entra group object ID>]";

/// Judges an ASO `ManagedCluster`. `at` prefixes every location (empty for the admitted
/// object, `spec.resources[0] (ManagedCluster x).` for one embedded in CAPZ).
pub(crate) fn validate_aso_managed_cluster(
    cluster: &Value,
    at: &str,
    settings: &Settings,
) -> Vec<Violation> {
    let mut violations = validate_local_accounts(cluster, at);
    if let Some(destination) = json::get(
        cluster,
        &["spec", "operatorSpec", "secrets", "adminCredentials"],
    )
    .filter(|v| !v.is_null())
    {
        let secret = match json::str_at(destination, &["name"]) {
            Some(name) if !name.is_empty() => format!("Secret {name}"),
            _ => "a Secret".to_owned(),
        };
        violations.push(
            Violation::new(
                format!("{at}spec.operatorSpec.secrets.adminCredentials"),
                format!(
                    "makes ASO export the cluster's admin kubeconfig (a static cluster-admin client certificate \
                     of a local account) into {secret}"
                ),
            )
            .fix(
                "remove adminCredentials; export spec.operatorSpec.secrets.userCredentials instead, which holds \
                 a kubelogin (Microsoft Entra ID) kubeconfig once local accounts are disabled",
            ),
        );
    }
    if settings.require_azure_rbac {
        let azure_rbac = Flag::at(cluster, &["spec", "aadProfile", "enableAzureRBAC"]);
        if !azure_rbac.is_on() {
            violations.push(
                Violation::new(
                    format!("{at}spec.aadProfile.enableAzureRBAC"),
                    format!(
                        "{}, but the policy settings require Azure RBAC for Kubernetes authorization \
                         (requireAzureRBAC: true)",
                        azure_rbac.describe()
                    ),
                )
                .fix("set spec.aadProfile.enableAzureRBAC: true and grant access with Azure role assignments"),
            );
        }
    }
    violations
}

/// Judges a CAPZ `AzureManagedControlPlane`. It has no `enableAzureRBAC`: CAPZ enables Azure
/// RBAC exactly when `aadProfile.managed` is true, which is already required here.
pub(crate) fn validate_capz_control_plane(control_plane: &Value) -> Vec<Violation> {
    validate_local_accounts(control_plane, "")
}

/// Judges every ASO `ManagedCluster` embedded in a CAPZ `AzureASOManagedControlPlane`'s
/// `spec.resources[]`. Other embedded kinds are not clusters and are skipped.
pub(crate) fn validate_capz_aso_control_plane(
    control_plane: &Value,
    settings: &Settings,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    for (index, resource) in json::array_at(control_plane, &["spec", "resources"])
        .iter()
        .enumerate()
    {
        let (group, _) = split_api_version(json::str_at(resource, &["apiVersion"]).unwrap_or(""));
        if group != ASO_GROUP || json::str_at(resource, &["kind"]) != Some("ManagedCluster") {
            continue;
        }
        let name = match json::name(resource) {
            "" => "<unnamed>",
            name => name,
        };
        let at = format!("spec.resources[{index}] (ManagedCluster {name}).");
        violations.extend(validate_aso_managed_cluster(resource, &at, settings));
        violations.extend(validate_capz_default_credentials(resource, &at));
    }
    violations
}

/// CAPZ fills in `adminCredentials` when the embedded cluster exports no kubeconfig at all
/// (`pkg/mutators/azureasomanagedcontrolplane.go`, `setManagedClusterCredentials`), so such a
/// manifest ends up exporting the admin kubeconfig although it does not say so.
fn validate_capz_default_credentials(cluster: &Value, at: &str) -> Option<Violation> {
    let exports = |key| {
        json::get(cluster, &["spec", "operatorSpec", "secrets", key]).is_some_and(|v| !v.is_null())
    };
    if exports("userCredentials") || exports("adminCredentials") {
        return None;
    }
    Some(
        Violation::new(
            format!("{at}spec.operatorSpec.secrets"),
            "exports neither userCredentials nor adminCredentials, so CAPZ fills in adminCredentials \
             (Secret <cluster>-kubeconfig) and the cluster's static admin kubeconfig is exported",
        )
        .fix(
            "set spec.operatorSpec.secrets.userCredentials to a Secret not named <cluster>-kubeconfig \
             (e.g. name: <cluster>-user-kubeconfig, key: value); with local accounts disabled CAPZ then \
             writes <cluster>-kubeconfig with a Microsoft Entra ID token",
        ),
    )
}

/// The two fields ASO and CAPZ share: `spec.disableLocalAccounts` and `spec.aadProfile.managed`.
fn validate_local_accounts(object: &Value, at: &str) -> Vec<Violation> {
    let disabled = Flag::at(object, &["spec", "disableLocalAccounts"]);
    let entra = Flag::at(object, &["spec", "aadProfile", "managed"]);
    if !disabled.is_on() {
        let fix = if entra.is_on() {
            "set spec.disableLocalAccounts: true".to_owned()
        } else {
            format!(
                "set spec.disableLocalAccounts: true together with Microsoft Entra ID integration: {ENTRA_FIX}"
            )
        };
        return vec![
            Violation::new(
                format!("{at}spec.disableLocalAccounts"),
                format!(
                    "{}, so AKS keeps local accounts enabled: `az aks get-credentials --admin` hands out a static \
                     cluster-admin certificate that bypasses Microsoft Entra ID and its audit",
                    disabled.describe()
                ),
            )
            .fix(fix),
        ];
    }
    if !entra.is_on() {
        return vec![
            Violation::new(
                format!("{at}spec.aadProfile.managed"),
                format!(
                    "{}, but spec.disableLocalAccounts is true: without Microsoft Entra ID integration nobody \
                     can sign in to the cluster",
                    entra.describe()
                ),
            )
            .fix(format!("set {ENTRA_FIX}")),
        ];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn locations(violations: &[Violation]) -> Vec<String> {
        violations
            .iter()
            .map(|v| v.to_string().split(':').next().unwrap_or("").to_owned())
            .collect()
    }

    fn aso(spec: Value) -> Value {
        json!({"apiVersion": "containerservice.azure.com/v1api20240901", "kind": "ManagedCluster",
               "metadata": {"name": "aks"}, "spec": spec})
    }

    #[rstest]
    #[case::entra_only(json!({"disableLocalAccounts": true, "aadProfile": {"managed": true}}), false, &[][..])]
    #[case::absent(json!({}), false, &["spec.disableLocalAccounts"][..])]
    #[case::explicitly_false(json!({"disableLocalAccounts": false, "aadProfile": {"managed": true}}), false,
        &["spec.disableLocalAccounts"][..])]
    #[case::quoted_true(json!({"disableLocalAccounts": "true", "aadProfile": {"managed": true}}), false,
        &["spec.disableLocalAccounts"][..])]
    #[case::disabled_without_entra(json!({"disableLocalAccounts": true}), false, &["spec.aadProfile.managed"][..])]
    #[case::disabled_with_legacy_entra(json!({"disableLocalAccounts": true, "aadProfile": {"managed": false}}), false,
        &["spec.aadProfile.managed"][..])]
    #[case::admin_credentials(json!({"disableLocalAccounts": true, "aadProfile": {"managed": true},
        "operatorSpec": {"secrets": {"adminCredentials": {"name": "k", "key": "v"}}}}), false,
        &["spec.operatorSpec.secrets.adminCredentials"][..])]
    #[case::every_reason_at_once(json!({"operatorSpec": {"secrets": {"adminCredentials": {"name": "k"}}}}), true,
        &["spec.disableLocalAccounts", "spec.operatorSpec.secrets.adminCredentials", "spec.aadProfile.enableAzureRBAC"][..])]
    #[case::azure_rbac_required_and_set(json!({"disableLocalAccounts": true,
        "aadProfile": {"managed": true, "enableAzureRBAC": true}}), true, &[][..])]
    #[case::azure_rbac_required_and_missing(json!({"disableLocalAccounts": true, "aadProfile": {"managed": true}}),
        true, &["spec.aadProfile.enableAzureRBAC"][..])]
    #[case::wrong_types_everywhere(json!({"disableLocalAccounts": [], "aadProfile": "x", "operatorSpec": 3}), false,
        &["spec.disableLocalAccounts"][..])]
    fn aso_managed_cluster(
        #[case] spec: Value,
        #[case] require_azure_rbac: bool,
        #[case] expected: &[&str],
    ) {
        let settings = Settings {
            require_azure_rbac,
            ..Settings::default()
        };
        assert_eq!(
            locations(&validate_aso_managed_cluster(&aso(spec), "", &settings)),
            expected
        );
    }

    #[test]
    fn fix_for_a_missing_switch_mentions_entra_only_when_it_is_missing() {
        let without = validate_local_accounts(&aso(json!({})), "")[0].to_string();
        assert!(
            without.ends_with(
                "together with Microsoft Entra ID integration: spec.aadProfile.managed: true and \
             spec.aadProfile.adminGroupObjectIDs: [<Entra group object ID>]"
            ),
            "{without}"
        );
        let with = validate_local_accounts(&aso(json!({"aadProfile": {"managed": true}})), "")[0]
            .to_string();
        assert!(
            with.ends_with("; fix: set spec.disableLocalAccounts: true"),
            "{with}"
        );
    }

    #[rstest]
    #[case::entra_only(json!({"disableLocalAccounts": true, "aadProfile": {"managed": true}}), &[][..])]
    #[case::template_default(json!({"location": "westeurope"}), &["spec.disableLocalAccounts"][..])]
    #[case::disabled_without_entra(json!({"disableLocalAccounts": true}), &["spec.aadProfile.managed"][..])]
    fn capz_control_plane(#[case] spec: Value, #[case] expected: &[&str]) {
        let object = json!({"kind": "AzureManagedControlPlane", "spec": spec});
        assert_eq!(locations(&validate_capz_control_plane(&object)), expected);
    }

    #[test]
    fn capz_aso_control_plane_judges_only_embedded_aso_managed_clusters() {
        let object = json!({"spec": {"resources": [
            {"apiVersion": "resources.azure.com/v1api20200601", "kind": "ResourceGroup", "metadata": {"name": "rg"}},
            {"apiVersion": "cluster.open-cluster-management.io/v1", "kind": "ManagedCluster", "spec": {}},
            "junk",
            {"apiVersion": "containerservice.azure.com/v1api20240901", "kind": "ManagedCluster",
             "metadata": {"name": "good"},
             "spec": {"disableLocalAccounts": true, "aadProfile": {"managed": true},
                      "operatorSpec": {"secrets": {"userCredentials": {"name": "good-user-kubeconfig", "key": "value"}}}}},
            {"apiVersion": "containerservice.azure.com/v1api20240901", "kind": "ManagedCluster",
             "metadata": {"name": "bad"}, "spec": {}},
            {"apiVersion": "containerservice.azure.com/v1api20240901", "kind": "ManagedCluster", "spec": {}},
        ]}});
        assert_eq!(
            locations(&validate_capz_aso_control_plane(
                &object,
                &Settings::default()
            )),
            [
                "spec.resources[4] (ManagedCluster bad).spec.disableLocalAccounts",
                "spec.resources[4] (ManagedCluster bad).spec.operatorSpec.secrets",
                "spec.resources[5] (ManagedCluster <unnamed>).spec.disableLocalAccounts",
                "spec.resources[5] (ManagedCluster <unnamed>).spec.operatorSpec.secrets",
            ]
        );
    }

    #[test]
    fn admin_credentials_message_names_the_secret_but_no_value() {
        let cluster = aso(
            json!({"disableLocalAccounts": true, "aadProfile": {"managed": true},
            "operatorSpec": {"secrets": {"adminCredentials": {"name": "aks-admin", "key": "value"}}}}),
        );
        let message =
            validate_aso_managed_cluster(&cluster, "", &Settings::default())[0].to_string();
        assert!(message.contains("into Secret aks-admin"), "{message}");
    }
}
