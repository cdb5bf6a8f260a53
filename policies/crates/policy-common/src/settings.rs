//! Settings parsing shared by the policies.
//!
//! Settings keys are camelCase and unknown keys are refused (`#[serde(deny_unknown_fields)]` on
//! each policy's struct), so a typo is never silently ignored. A settings payload that does not
//! deserialise is answered `{"valid": false, "message": ...}`, not a guest error, so policy-server
//! and `kubectl aksid` can show the reason.

use kubewarden_policy_sdk::settings::{SettingsValidationResponse, Validatable};
use kubewarden_policy_sdk::wapc_guest::CallResult;
use serde::{Deserialize, de::DeserializeOwned};

/// Settings of a policy that takes none: only `{}` is valid.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

impl Validatable for NoSettings {
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Answers the waPC `validate_settings` call for settings type `S`.
pub(crate) fn validate_settings_payload<S: DeserializeOwned + Validatable>(
    payload: &[u8],
) -> CallResult {
    let outcome = parse_settings::<S>(payload).and_then(|s| s.validate());
    let response = SettingsValidationResponse {
        valid: outcome.is_ok(),
        message: outcome.err(),
    };
    Ok(serde_json::to_vec(&response)?)
}

/// Parses a settings payload; `null` or an empty payload mean the defaults.
pub fn parse_settings<S: DeserializeOwned>(payload: &[u8]) -> Result<S, String> {
    let text = if payload.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        payload
    };
    let value: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| format!("settings are not valid JSON: {e}"))?;
    let value = if value.is_null() {
        serde_json::Value::Object(Default::default())
    } else {
        value
    };
    S::deserialize(value).map_err(|e| format!("invalid settings: {e}"))
}

/// Rejects empty strings in a list setting, naming the setting.
pub fn require_non_empty(setting: &str, values: &[String]) -> Result<(), String> {
    match values.iter().position(|v| v.trim().is_empty()) {
        Some(i) => Err(format!(
            "{setting}[{i}] is empty; remove it or give a value"
        )),
        None => Ok(()),
    }
}

/// A namespace/name exemption list, as several policies offer it.
///
/// ```yaml
/// exemptNamespaces: [kube-system]
/// exemptNames: [ci-token]          # exact names, or `prefix*`
/// ```
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Exemptions {
    /// Namespaces whose objects are exempt.
    pub exempt_namespaces: Vec<String>,
    /// Object names that are exempt; a trailing `*` matches a prefix.
    pub exempt_names: Vec<String>,
}

impl Exemptions {
    /// True when the object `namespace`/`name` is exempt.
    pub fn exempts(&self, namespace: &str, name: &str) -> bool {
        self.exempt_namespaces.iter().any(|ns| ns == namespace)
            || self
                .exempt_names
                .iter()
                .any(|pattern| matches_name(pattern, name))
    }

    /// Checks the lists for empty entries.
    pub fn validate(&self, prefix: &str) -> Result<(), String> {
        require_non_empty(
            &format!("{prefix}exemptNamespaces"),
            &self.exempt_namespaces,
        )?;
        require_non_empty(&format!("{prefix}exemptNames"), &self.exempt_names)
    }
}

/// Matches a name against an exact name or a `prefix*` pattern.
pub fn matches_name(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields, default)]
    struct Example {
        allowed_groups: Vec<String>,
    }
    impl Validatable for Example {
        fn validate(&self) -> Result<(), String> {
            require_non_empty("allowedGroups", &self.allowed_groups)
        }
    }

    fn answer(payload: &str) -> serde_json::Value {
        serde_json::from_slice(&validate_settings_payload::<Example>(payload.as_bytes()).unwrap())
            .unwrap()
    }

    #[test]
    fn unknown_keys_and_bad_values_are_invalid_with_a_reason() {
        assert_eq!(answer("{}")["valid"], true);
        assert_eq!(answer("null")["valid"], true);
        let typo = answer(r#"{"allowedGroup": ["a"]}"#);
        assert_eq!(typo["valid"], false);
        assert!(typo["message"].as_str().unwrap().contains("allowedGroup"));
        let empty = answer(r#"{"allowedGroups": [""]}"#);
        assert_eq!(
            empty["message"],
            "allowedGroups[0] is empty; remove it or give a value"
        );
        assert_eq!(answer("[1]")["valid"], false);
    }

    #[test]
    fn exemptions_match_namespace_or_name_pattern() {
        let e = Exemptions {
            exempt_namespaces: vec!["kube-system".into()],
            exempt_names: vec!["ci-*".into(), "legacy".into()],
        };
        assert!(e.exempts("kube-system", "x"));
        assert!(e.exempts("a", "ci-token"));
        assert!(e.exempts("a", "legacy"));
        assert!(!e.exempts("a", "legacy2"));
    }
}
