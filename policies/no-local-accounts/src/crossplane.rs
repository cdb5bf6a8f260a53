//! AKS clusters declared through Crossplane's Azure provider (`KubernetesCluster` in
//! `containerservice.azure.upbound.io` and the namespaced `containerservice.azure.m.upbound.io`).
//!
//! `spec.forProvider.localAccountDisabled` must be `true` (absent = enabled), and then
//! `spec.forProvider.azureActiveDirectoryRoleBasedAccessControl` must describe an Entra ID
//! integration. That block is a list of one element in the cluster-scoped `v1beta1` and an
//! object elsewhere; either shape is read whatever the version says, and an empty list, an
//! empty object or a list without an object element does not count.

use crate::Settings;
use crate::flag::Flag;
use aksid_policy_common::{Violation, json};
use serde_json::Value;

/// The cluster-scoped API group.
pub(crate) const GROUP: &str = "containerservice.azure.upbound.io";
/// The namespaced API group (provider-upjet-azure v2).
pub(crate) const NAMESPACED_GROUP: &str = "containerservice.azure.m.upbound.io";

const FOR_PROVIDER: &str = "spec.forProvider";
const ENTRA_BLOCK: &str = "azureActiveDirectoryRoleBasedAccessControl";

/// The Entra ID block of a cluster: its location and the object holding its fields.
struct EntraBlock<'a> {
    location: String,
    fields: &'a Value,
}

/// Judges a `KubernetesCluster`. `list_shaped` is true for the version whose blocks are lists
/// (`containerservice.azure.upbound.io/v1beta1`); it only changes how the fix is written.
pub(crate) fn validate_kubernetes_cluster(
    cluster: &Value,
    list_shaped: bool,
    settings: &Settings,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    let disabled = Flag::at(cluster, &["spec", "forProvider", "localAccountDisabled"]);
    let entra = entra_block(cluster);
    let example = entra_example(list_shaped);
    if !disabled.is_on() {
        let fix = match entra {
            Some(_) => format!("set {FOR_PROVIDER}.localAccountDisabled: true"),
            None => format!(
                "set {FOR_PROVIDER}.localAccountDisabled: true together with Microsoft Entra ID integration: \
                 {FOR_PROVIDER}.{ENTRA_BLOCK}: {example}"
            ),
        };
        violations.push(
            Violation::new(
                format!("{FOR_PROVIDER}.localAccountDisabled"),
                format!(
                    "{}, so AKS keeps local accounts enabled: the cluster's admin kubeconfig is a static \
                     cluster-admin certificate that bypasses Microsoft Entra ID and its audit",
                    disabled.describe()
                ),
            )
            .fix(fix),
        );
    } else if entra.is_none() {
        violations.push(
            Violation::new(
                format!("{FOR_PROVIDER}.{ENTRA_BLOCK}"),
                format!(
                    "{}, but localAccountDisabled is true: without Microsoft Entra ID integration nobody can \
                     sign in to the cluster",
                    describe_missing_block(cluster)
                ),
            )
            .fix(format!("set {FOR_PROVIDER}.{ENTRA_BLOCK}: {example}")),
        );
    }
    if settings.require_azure_rbac {
        let (location, azure_rbac) = match &entra {
            Some(block) => (
                format!("{}.azureRbacEnabled", block.location),
                Flag::at(block.fields, &["azureRbacEnabled"]),
            ),
            None => (
                format!("{FOR_PROVIDER}.{ENTRA_BLOCK}.azureRbacEnabled"),
                Flag::Unset,
            ),
        };
        if !azure_rbac.is_on() {
            violations.push(
                Violation::new(
                    location,
                    format!(
                        "{}, but the policy settings require Azure RBAC for Kubernetes authorization \
                         (requireAzureRBAC: true)",
                        azure_rbac.describe()
                    ),
                )
                .fix(format!("set azureRbacEnabled: true in {FOR_PROVIDER}.{ENTRA_BLOCK}")),
            );
        }
    }
    violations
}

/// The Entra ID block, if it holds at least one field: the first non-empty object element of
/// a list, or a non-empty object.
fn entra_block(cluster: &Value) -> Option<EntraBlock<'_>> {
    let base = format!("{FOR_PROVIDER}.{ENTRA_BLOCK}");
    match json::get(cluster, &["spec", "forProvider", ENTRA_BLOCK])? {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find(|(_, item)| item.as_object().is_some_and(|o| !o.is_empty()))
            .map(|(index, fields)| EntraBlock {
                location: format!("{base}[{index}]"),
                fields,
            }),
        fields @ Value::Object(o) if !o.is_empty() => Some(EntraBlock {
            location: base,
            fields,
        }),
        _ => None,
    }
}

/// Why the Entra ID block does not count.
fn describe_missing_block(cluster: &Value) -> String {
    match json::get(cluster, &["spec", "forProvider", ENTRA_BLOCK]) {
        None | Some(Value::Null) => "is not set".to_owned(),
        Some(Value::Array(items)) if items.is_empty() => "is an empty list".to_owned(),
        Some(Value::Array(_)) => "has no element with fields".to_owned(),
        Some(Value::Object(_)) => "is an empty object".to_owned(),
        Some(other) => format!("is {}, not a block of fields", json::type_name(other)),
    }
}

/// The block to write, in the shape of the cluster's version.
fn entra_example(list_shaped: bool) -> &'static str {
    if list_shaped {
        "[{adminGroupObjectIds: [<Entra group object ID>], azureRbacEnabled: true}]"
    } else {
        "{adminGroupObjectIds: [<Entra group object ID>], azureRbacEnabled: true}"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn judge(for_provider: Value, list_shaped: bool, require_azure_rbac: bool) -> Vec<String> {
        let cluster = json!({"kind": "KubernetesCluster", "spec": {"forProvider": for_provider}});
        let settings = Settings {
            require_azure_rbac,
            ..Settings::default()
        };
        validate_kubernetes_cluster(&cluster, list_shaped, &settings)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[rstest]
    #[case::v1beta1_list(json!({"localAccountDisabled": true,
        "azureActiveDirectoryRoleBasedAccessControl": [{"adminGroupObjectIds": ["g"]}]}), true, false, &[][..])]
    #[case::v1beta2_object(json!({"localAccountDisabled": true,
        "azureActiveDirectoryRoleBasedAccessControl": {"tenantId": "t"}}), false, false, &[][..])]
    #[case::example_without_switch(json!({"dnsPrefix": "x"}), true, false,
        &["spec.forProvider.localAccountDisabled: is not set, so AKS keeps local accounts enabled"][..])]
    #[case::explicitly_enabled(json!({"localAccountDisabled": false,
        "azureActiveDirectoryRoleBasedAccessControl": {"tenantId": "t"}}), false, false,
        &["spec.forProvider.localAccountDisabled: is false"][..])]
    #[case::empty_list(json!({"localAccountDisabled": true, "azureActiveDirectoryRoleBasedAccessControl": []}),
        true, false, &["spec.forProvider.azureActiveDirectoryRoleBasedAccessControl: is an empty list"][..])]
    #[case::list_of_empty_objects(json!({"localAccountDisabled": true,
        "azureActiveDirectoryRoleBasedAccessControl": [{}, null]}), true, false,
        &["spec.forProvider.azureActiveDirectoryRoleBasedAccessControl: has no element with fields"][..])]
    #[case::empty_object(json!({"localAccountDisabled": true, "azureActiveDirectoryRoleBasedAccessControl": {}}),
        false, false, &["spec.forProvider.azureActiveDirectoryRoleBasedAccessControl: is an empty object"][..])]
    #[case::missing_block(json!({"localAccountDisabled": true}), false, false,
        &["spec.forProvider.azureActiveDirectoryRoleBasedAccessControl: is not set, but localAccountDisabled is true"][..])]
    #[case::string_block(json!({"localAccountDisabled": true, "azureActiveDirectoryRoleBasedAccessControl": "on"}),
        false, false, &["is a string, not a block of fields"][..])]
    #[case::azure_rbac_in_list_element(json!({"localAccountDisabled": true,
        "azureActiveDirectoryRoleBasedAccessControl": [{"azureRbacEnabled": true}]}), true, true, &[][..])]
    #[case::azure_rbac_missing_in_list_element(json!({"localAccountDisabled": true,
        "azureActiveDirectoryRoleBasedAccessControl": [{}, {"tenantId": "t"}]}), true, true,
        &["spec.forProvider.azureActiveDirectoryRoleBasedAccessControl[1].azureRbacEnabled: is not set, but the policy settings require Azure RBAC"][..])]
    #[case::azure_rbac_false_in_object(json!({"localAccountDisabled": true,
        "azureActiveDirectoryRoleBasedAccessControl": {"azureRbacEnabled": false}}), false, true,
        &["spec.forProvider.azureActiveDirectoryRoleBasedAccessControl.azureRbacEnabled: is false"][..])]
    #[case::everything_missing_with_azure_rbac(json!({}), false, true, &[
        "spec.forProvider.localAccountDisabled: is not set",
        "spec.forProvider.azureActiveDirectoryRoleBasedAccessControl.azureRbacEnabled: is not set"][..])]
    fn kubernetes_cluster(
        #[case] for_provider: Value,
        #[case] list_shaped: bool,
        #[case] require_azure_rbac: bool,
        #[case] expected: &[&str],
    ) {
        let messages = judge(for_provider, list_shaped, require_azure_rbac);
        assert_eq!(
            messages.len(),
            expected.len(),
            "```\n{}\n```",
            messages.join("\n")
        );
        for (message, part) in messages.iter().zip(expected) {
            assert!(
                message.contains(part),
                "expected `{part}` in:\n```\n{message}\n```"
            );
        }
    }

    #[test]
    fn fix_is_written_in_the_shape_of_the_version() {
        let list = judge(json!({}), true, false).join("");
        assert!(list.contains("azureActiveDirectoryRoleBasedAccessControl: [{adminGroupObjectIds: [<Entra group object ID>], azureRbacEnabled: true}]"), "{list}");
        let object = judge(json!({"localAccountDisabled": true}), false, true).join("");
        assert!(object.contains("azureActiveDirectoryRoleBasedAccessControl: {adminGroupObjectIds: [<Entra group object ID>], azureRbacEnabled: true}"), "{object}");
    }
}
