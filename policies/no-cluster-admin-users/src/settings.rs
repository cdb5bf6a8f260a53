//! The policy's settings: extra privileged roles, groups accepted besides Entra object IDs,
//! extra exempt binding names, and the switches of the checks beyond cluster-admin itself.

use crate::subjects::public_group;
use aksid_policy_common::settings::require_non_empty;
use kubewarden_policy_sdk::settings::Validatable;
use serde::Deserialize;

/// Settings of `no-cluster-admin-users`.
///
/// ```yaml
/// privilegedRoles: [admin]           # ClusterRoles treated like cluster-admin
/// allowedGroups: [oidc:platform-admins]
/// exemptBindings: [break-glass-*]    # exact names, or `prefix*`
/// rejectSecretsRead: false           # every check beyond cluster-admin can be switched off
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    /// Extra ClusterRole names treated as cluster-admin (default: none; `cluster-admin` always is).
    pub privileged_roles: Vec<String>,
    /// Group names accepted besides Entra object IDs (GUIDs). Never `system:authenticated`,
    /// `system:unauthenticated`, `system:anonymous` or `system:serviceaccounts*`.
    pub allowed_groups: Vec<String>,
    /// Extra binding names (exact, or `prefix*`) exempt like the AKS-managed ones.
    pub exempt_bindings: Vec<String>,
    /// Judge roles granting `bind` or `escalate` on roles or cluster roles (default: on).
    pub reject_bind_escalate: bool,
    /// Judge roles granting `impersonate` on users, groups or service accounts (default: on).
    pub reject_impersonate: bool,
    /// Judge roles granting `nodes/proxy` (default: on).
    pub reject_nodes_proxy: bool,
    /// Judge roles granting `create` on `serviceaccounts/token` (default: on).
    pub reject_token_creation: bool,
    /// Judge roles granting `get`, `list` or `watch` on `secrets` (default: on).
    pub reject_secrets_read: bool,
    /// Judge roles granting `use-managed-identity` on every identity binding (default: on).
    pub reject_all_managed_identities: bool,
    /// Reject any role but Kubernetes' discovery roles for `system:anonymous`,
    /// `system:unauthenticated` and `system:authenticated` (default: on).
    pub reject_everyone_groups: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            privileged_roles: Vec::new(),
            allowed_groups: Vec::new(),
            exempt_bindings: Vec::new(),
            reject_bind_escalate: true,
            reject_impersonate: true,
            reject_nodes_proxy: true,
            reject_token_creation: true,
            reject_secrets_read: true,
            reject_all_managed_identities: true,
            reject_everyone_groups: true,
        }
    }
}

impl Validatable for Settings {
    fn validate(&self) -> Result<(), String> {
        require_non_empty("privilegedRoles", &self.privileged_roles)?;
        require_non_empty("allowedGroups", &self.allowed_groups)?;
        require_non_empty("exemptBindings", &self.exempt_bindings)?;
        let public: Vec<String> = self
            .allowed_groups
            .iter()
            .enumerate()
            .filter_map(|(i, g)| {
                public_group(g).map(|who| format!("allowedGroups[{i}] \"{g}\" ({who})"))
            })
            .collect();
        if !public.is_empty() {
            return Err(format!(
                "{} cannot be allowed: these groups are always rejected in cluster-admin bindings; \
                 remove them from allowedGroups and bind an Entra group by object ID instead",
                public.join(", ")
            ));
        }
        if let Some(i) = self.exempt_bindings.iter().position(|b| b.trim() == "*") {
            return Err(format!(
                "exemptBindings[{i}] is \"*\", which would exempt every binding; list the binding \
                 names (or `prefix*` patterns) to exempt, or do not deploy the policy"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::{Value, json};

    fn answer(settings: Value) -> Result<(), String> {
        let payload = serde_json::to_vec(&settings).unwrap();
        let response = aksid_policy_common::validate_settings::<Settings>(&payload).unwrap();
        let response: Value = serde_json::from_slice(&response).unwrap();
        match response["valid"].as_bool() {
            Some(true) => Ok(()),
            _ => Err(response["message"].as_str().unwrap_or("").to_owned()),
        }
    }

    #[rstest]
    #[case::empty(json!({}))]
    #[case::null(Value::Null)]
    #[case::all_keys(json!({
        "privilegedRoles": ["admin"],
        "allowedGroups": ["oidc:platform-admins"],
        "exemptBindings": ["break-glass-*", "legacy"],
    }))]
    #[case::group_merely_starting_with_system(json!({"allowedGroups": ["system:masters"]}))]
    #[case::every_switch_off(json!({
        "rejectBindEscalate": false, "rejectImpersonate": false, "rejectNodesProxy": false,
        "rejectTokenCreation": false, "rejectSecretsRead": false,
        "rejectAllManagedIdentities": false, "rejectEveryoneGroups": false,
    }))]
    fn valid_settings(#[case] settings: Value) {
        assert_eq!(answer(settings), Ok(()));
    }

    #[test]
    fn every_check_is_on_by_default() {
        let settings: Settings = serde_json::from_value(json!({})).unwrap();
        assert!(
            settings.reject_bind_escalate
                && settings.reject_impersonate
                && settings.reject_nodes_proxy
                && settings.reject_token_creation
                && settings.reject_secrets_read
                && settings.reject_all_managed_identities
                && settings.reject_everyone_groups,
            "{settings:?}"
        );
        let off: Settings = serde_json::from_value(json!({"rejectNodesProxy": false})).unwrap();
        assert!(
            !off.reject_nodes_proxy && off.reject_secrets_read,
            "{off:?}"
        );
    }

    #[rstest]
    #[case::unknown_key(json!({"allowedGroup": ["a"]}), "allowedGroup")]
    #[case::wrong_type(json!({"allowedGroups": "a"}), "invalid settings")]
    #[case::empty_privileged_role(json!({"privilegedRoles": ["admin", ""]}), "privilegedRoles[1] is empty")]
    #[case::empty_allowed_group(json!({"allowedGroups": [" "]}), "allowedGroups[0] is empty")]
    #[case::empty_exempt_binding(json!({"exemptBindings": [""]}), "exemptBindings[0] is empty")]
    #[case::system_authenticated(
        json!({"allowedGroups": ["ops", "system:authenticated"]}),
        "allowedGroups[1] \"system:authenticated\" (every authenticated identity) cannot be allowed"
    )]
    #[case::system_unauthenticated(json!({"allowedGroups": ["system:unauthenticated"]}), "every anonymous request")]
    #[case::system_anonymous(json!({"allowedGroups": ["system:anonymous"]}), "allowedGroups[0] \"system:anonymous\" (every anonymous request)")]
    #[case::switch_not_a_boolean(json!({"rejectSecretsRead": "false"}), "invalid settings")]
    #[case::all_service_accounts(
        json!({"allowedGroups": ["system:serviceaccounts", "system:serviceaccounts:ci"]}),
        "allowedGroups[0] \"system:serviceaccounts\" (every service account it covers), \
         allowedGroups[1] \"system:serviceaccounts:ci\""
    )]
    #[case::exempt_everything(json!({"exemptBindings": ["*"]}), "exemptBindings[0] is \"*\"")]
    fn invalid_settings(#[case] settings: Value, #[case] message: &str) {
        let error = answer(settings).expect_err("settings must be refused");
        assert!(
            error.contains(message),
            "expected\n```\n{message}\n```\nin\n```\n{error}\n```"
        );
    }
}
