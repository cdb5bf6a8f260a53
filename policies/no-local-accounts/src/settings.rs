//! The policy's settings.
//!
//! ```yaml
//! serviceAccountTokenSecrets:        # token Secrets that are allowed anyway
//!   exemptNamespaces: [legacy-ci]
//!   exemptNames: [argocd-manager-token*]
//! requireAzureRBAC: true             # also require Azure RBAC for Kubernetes authorization
//! execCredentials: true              # reject secrets in kubeconfig exec plugins (kubelogin)
//! ```

use aksid_policy_common::settings::Exemptions;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// Settings of `no-local-accounts`. Every key is optional; `{}` means the defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    /// Secrets of type `kubernetes.io/service-account-token` that are accepted anyway, by
    /// namespace or by name (`prefix*` matches a prefix). Default: none. Exempts only token
    /// Secrets, never cluster objects, bindings or kubeconfigs.
    #[serde(deserialize_with = "token_secret_exemptions")]
    pub service_account_token_secrets: Exemptions,
    /// When true, AKS cluster objects must also use Azure RBAC for Kubernetes authorization
    /// (ASO `spec.aadProfile.enableAzureRBAC`, Crossplane
    /// `azureActiveDirectoryRoleBasedAccessControl.azureRbacEnabled`). CAPZ
    /// `AzureManagedControlPlane` has no such field: CAPZ turns Azure RBAC on exactly when
    /// `aadProfile.managed` is true, which the policy already requires. Default: false.
    #[serde(rename = "requireAzureRBAC", deserialize_with = "require_azure_rbac")]
    pub require_azure_rbac: bool,
    /// When true, a kubeconfig user whose `exec` plugin (kubelogin) is given a client secret,
    /// password or certificate content in its arguments or environment is rejected, like a
    /// user holding a token. Default: true.
    #[serde(deserialize_with = "exec_credentials")]
    pub exec_credentials: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            service_account_token_secrets: Exemptions::default(),
            require_azure_rbac: false,
            exec_credentials: true,
        }
    }
}

/// serde's own messages for a nested value do not say which key they are about
/// ("invalid type: integer `1`, expected a boolean"), so each key adds its name.
fn token_secret_exemptions<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Exemptions, D::Error> {
    Exemptions::deserialize(deserializer).map_err(|e| {
        D::Error::custom(format!(
            "serviceAccountTokenSecrets: {e}; write it as {{exemptNamespaces: [<namespace>], exemptNames: [<name or prefix*>]}}"
        ))
    })
}

fn require_azure_rbac<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    boolean("requireAzureRBAC", deserializer)
}

fn exec_credentials<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    boolean("execCredentials", deserializer)
}

fn boolean<'de, D: Deserializer<'de>>(key: &str, deserializer: D) -> Result<bool, D::Error> {
    bool::deserialize(deserializer)
        .map_err(|e| D::Error::custom(format!("{key}: {e}; write true or false without quotes")))
}

impl kubewarden_policy_sdk::settings::Validatable for Settings {
    fn validate(&self) -> Result<(), String> {
        const PREFIX: &str = "serviceAccountTokenSecrets.";
        let exemptions = &self.service_account_token_secrets;
        exemptions.validate(PREFIX)?;
        for (i, namespace) in exemptions.exempt_namespaces.iter().enumerate() {
            if namespace.contains('*') {
                return Err(format!(
                    "{PREFIX}exemptNamespaces[{i}] {namespace:?} contains `*`, but namespaces are matched exactly; \
                     list each namespace by its full name"
                ));
            }
        }
        for (i, name) in exemptions.exempt_names.iter().enumerate() {
            let body = name.strip_suffix('*').unwrap_or(name);
            if body.contains('*') {
                return Err(format!(
                    "{PREFIX}exemptNames[{i}] {name:?} has a `*` that is not at the end; only a trailing `*` \
                     (prefix match) is supported, e.g. \"ci-token-*\""
                ));
            }
            if body.is_empty() {
                return Err(format!(
                    "{PREFIX}exemptNames[{i}] \"*\" would exempt every token Secret; list the Secret names \
                     (or a prefix such as \"ci-token-*\") instead, or exempt whole namespaces with exemptNamespaces"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aksid_policy_common::settings::parse_settings;
    use kubewarden_policy_sdk::settings::Validatable;
    use rstest::rstest;

    fn check(payload: &str) -> Result<Settings, String> {
        let settings = parse_settings::<Settings>(payload.as_bytes())?;
        settings.validate()?;
        Ok(settings)
    }

    #[test]
    fn empty_settings_are_the_defaults() {
        let settings = check("{}").unwrap();
        assert!(!settings.require_azure_rbac);
        assert!(settings.exec_credentials);
        assert!(
            settings
                .service_account_token_secrets
                .exempt_names
                .is_empty()
        );
        assert!(check("null").is_ok());
        assert!(check("").is_ok());
    }

    #[test]
    fn every_key_is_read() {
        let settings = check(
            r#"{"requireAzureRBAC": true, "execCredentials": false,
                "serviceAccountTokenSecrets": {"exemptNamespaces": ["legacy-ci"], "exemptNames": ["argocd-*"]}}"#,
        )
        .unwrap();
        assert!(settings.require_azure_rbac);
        assert!(!settings.exec_credentials);
        assert!(
            settings
                .service_account_token_secrets
                .exempts("legacy-ci", "x")
        );
        assert!(
            settings
                .service_account_token_secrets
                .exempts("team", "argocd-manager")
        );
        assert!(
            !settings
                .service_account_token_secrets
                .exempts("team", "other")
        );
    }

    #[rstest]
    #[case::unknown_top_level_key(
        r#"{"requireAzureRbac": true}"#,
        "unknown field `requireAzureRbac`"
    )]
    #[case::unknown_nested_key(
        r#"{"serviceAccountTokenSecrets": {"exemptName": ["a"]}}"#,
        "serviceAccountTokenSecrets: unknown field `exemptName`, expected `exemptNamespaces` or `exemptNames`"
    )]
    #[case::flattened_exemptions_are_not_top_level(
        r#"{"exemptNames": ["a"]}"#,
        "unknown field `exemptNames`"
    )]
    #[case::bool_as_string(
        r#"{"requireAzureRBAC": "yes"}"#,
        "requireAzureRBAC: invalid type: string \"yes\", expected a boolean; write true or false without quotes"
    )]
    #[case::exec_credentials_as_string(
        r#"{"execCredentials": "false"}"#,
        "execCredentials: invalid type: string \"false\", expected a boolean; write true or false without quotes"
    )]
    #[case::exec_credentials_misspelt(
        r#"{"execCredential": false}"#,
        "unknown field `execCredential`"
    )]
    #[case::exemptions_as_list(
        r#"{"serviceAccountTokenSecrets": ["a"]}"#,
        "serviceAccountTokenSecrets: invalid type"
    )]
    #[case::exempt_names_as_string(
        r#"{"serviceAccountTokenSecrets": {"exemptNames": "a"}}"#,
        "serviceAccountTokenSecrets: invalid type: string \"a\", expected a sequence"
    )]
    #[case::empty_name(
        r#"{"serviceAccountTokenSecrets": {"exemptNames": ["ok", " "]}}"#,
        "serviceAccountTokenSecrets.exemptNames[1] is empty; remove it or give a value"
    )]
    #[case::empty_namespace(
        r#"{"serviceAccountTokenSecrets": {"exemptNamespaces": [""]}}"#,
        "serviceAccountTokenSecrets.exemptNamespaces[0] is empty"
    )]
    #[case::wildcard_namespace(
        r#"{"serviceAccountTokenSecrets": {"exemptNamespaces": ["team-*"]}}"#,
        "serviceAccountTokenSecrets.exemptNamespaces[0] \"team-*\" contains `*`, but namespaces are matched exactly"
    )]
    #[case::inner_wildcard(
        r#"{"serviceAccountTokenSecrets": {"exemptNames": ["ci-*-token"]}}"#,
        "serviceAccountTokenSecrets.exemptNames[0] \"ci-*-token\" has a `*` that is not at the end"
    )]
    #[case::bare_wildcard(
        r#"{"serviceAccountTokenSecrets": {"exemptNames": ["*"]}}"#,
        "serviceAccountTokenSecrets.exemptNames[0] \"*\" would exempt every token Secret"
    )]
    #[case::not_an_object("[1]", "invalid settings")]
    fn bad_settings_are_refused_with_the_reason(#[case] payload: &str, #[case] message: &str) {
        let error = check(payload).expect_err("settings must be refused");
        assert!(
            error.contains(message),
            "expected `{message}` in:\n```\n{error}\n```"
        );
    }

    #[test]
    fn validate_settings_entry_point_answers_invalid() {
        let answer = crate::validate_settings(br#"{"requireAzureRBAC": 1}"#).unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["valid"], false);
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("requireAzureRBAC")
        );
    }
}
