//! Settings of `no-plaintext-secret-env`.
//!
//! ```yaml
//! allowedNames: [LICENSE_SERVER_TOKEN_HINT, "FEATURE_FLAG_*"]   # exact, or `prefix*`
//! extraPatterns:
//!   - name: ACME API key
//!     regex: 'acme_[0-9a-f]{32}'
//!   - 'corp-[A-Z0-9]{20}'
//! rejectSecretKeyRef: false
//! minLength: 8
//! strictPasswords: true   # any literal under DB_PASSWORD, RABBITMQ_DEFAULT_PASS, ...
//! keyNames: true          # COSMOS_KEY, CosmosDb__Key, ... with a key-shaped value
//! ```

use crate::patterns;
use aksid_policy_common::json::type_name;
use aksid_policy_common::settings::require_non_empty;
use kubewarden_policy_sdk::settings::Validatable;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The policy's settings; `{}` means the defaults below.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    /// Environment variable names never judged: exact names, or `prefix*`. Default: none.
    pub allowed_names: Vec<String>,
    /// Extra value patterns that mark a literal as a secret whatever the variable is called,
    /// each a regex string or `{name, regex}`. Default: none.
    pub extra_patterns: Vec<ExtraPattern>,
    /// Also reject `env[].valueFrom.secretKeyRef` and `envFrom[].secretRef` (CIS 5.4.1:
    /// prefer secrets as files). Default: `false`.
    pub reject_secret_key_ref: bool,
    /// Shortest value (in characters) the name rule treats as a possible secret. Default: 8.
    /// Does not apply to password names under `strictPasswords`.
    pub min_length: usize,
    /// Reject every literal under a name ending in a password word (`DB_PASSWORD`,
    /// `RABBITMQ_DEFAULT_PASS`, `MYSQL_PWD`), however short or common, unless it is empty, a
    /// reference, a placeholder, a path, a URL, a number, a duration or a boolean. When false,
    /// such names are judged like other secret names. Default: `true`.
    pub strict_passwords: bool,
    /// Judge names ending in `KEY` (`COSMOS_KEY`, `OPENAIKEY`, `CosmosDb__Key`), rejecting
    /// values with the shape of a real key (long base64 or hex, a connection string with a
    /// key). Default: `true`.
    pub key_names: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            allowed_names: Vec::new(),
            extra_patterns: Vec::new(),
            reject_secret_key_ref: false,
            min_length: 8,
            strict_passwords: true,
            key_names: true,
        }
    }
}

/// Bounds of `minLength`.
const MIN_LENGTH_RANGE: std::ops::RangeInclusive<usize> = 1..=1024;

/// One entry of `extraPatterns`: a regex string, or `{name, regex}` to name it in messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraPattern {
    /// The name shown in rejection messages, if given.
    pub name: Option<String>,
    /// The regex (ASCII semantics: `\d`, `\w`, `(?i)` are ASCII-only).
    pub regex: String,
}

impl ExtraPattern {
    /// How messages refer to the pattern at `index`: its name, or `extraPatterns[<index>]`.
    pub(crate) fn label(&self, index: usize) -> String {
        match &self.name {
            Some(name) => format!("`{name}`"),
            None => format!("extraPatterns[{index}]"),
        }
    }
}

impl<'de> Deserialize<'de> for ExtraPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Named {
            name: String,
            regex: String,
        }
        match Value::deserialize(deserializer)? {
            Value::String(regex) => Ok(ExtraPattern { name: None, regex }),
            object @ Value::Object(_) => {
                let Named { name, regex } =
                    serde_json::from_value(object).map_err(D::Error::custom)?;
                Ok(ExtraPattern {
                    name: Some(name),
                    regex,
                })
            }
            other => Err(D::Error::custom(format!(
                "an extra pattern must be a regex string or an object with `name` and `regex`, got {}",
                type_name(&other)
            ))),
        }
    }
}

impl Validatable for Settings {
    fn validate(&self) -> Result<(), String> {
        require_non_empty("allowedNames", &self.allowed_names)?;
        for (i, pattern) in self.extra_patterns.iter().enumerate() {
            let subject = match &pattern.name {
                Some(name) => format!("extraPatterns[{i}] (`{name}`)"),
                None => format!("extraPatterns[{i}]"),
            };
            if pattern.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                return Err(format!(
                    "extraPatterns[{i}].name is empty; give the pattern a name or write it as a plain regex string"
                ));
            }
            if pattern.regex.trim().is_empty() {
                return Err(format!(
                    "{subject} has an empty regex; remove it or give a regex"
                ));
            }
            let regex = patterns::compile(&pattern.regex)
                .map_err(|e| format!("{subject} is not a valid regex: {e}"))?;
            if regex.is_match("") {
                return Err(format!(
                    "{subject} matches the empty string, so it would flag every value; make it require at least one character"
                ));
            }
        }
        if !MIN_LENGTH_RANGE.contains(&self.min_length) {
            return Err(format!(
                "minLength is {}; it must be between {} and {} (default 8)",
                self.min_length,
                MIN_LENGTH_RANGE.start(),
                MIN_LENGTH_RANGE.end()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn check(settings: serde_json::Value) -> Result<Settings, String> {
        let settings: Settings = serde_json::from_value(settings).map_err(|e| e.to_string())?;
        settings.validate().map(|()| settings)
    }

    #[test]
    fn empty_settings_are_the_defaults() {
        assert_eq!(check(json!({})).unwrap(), Settings::default());
        assert_eq!(Settings::default().min_length, 8);
        assert!(Settings::default().strict_passwords);
        assert!(Settings::default().key_names);
    }

    #[test]
    fn every_key_is_read() {
        let s = check(json!({
            "allowedNames": ["LICENSE_TOKEN", "FEATURE_*"],
            "extraPatterns": ["corp-[A-Z0-9]{20}", {"name": "ACME API key", "regex": "acme_[0-9a-f]{32}"}],
            "rejectSecretKeyRef": true,
            "minLength": 12,
            "strictPasswords": false,
            "keyNames": false
        }))
        .unwrap();
        assert_eq!(s.allowed_names, ["LICENSE_TOKEN", "FEATURE_*"]);
        assert_eq!(
            s.extra_patterns[0],
            ExtraPattern {
                name: None,
                regex: "corp-[A-Z0-9]{20}".into()
            }
        );
        assert_eq!(s.extra_patterns[1].label(1), "`ACME API key`");
        assert_eq!(s.extra_patterns[0].label(0), "extraPatterns[0]");
        assert!(s.reject_secret_key_ref);
        assert_eq!(s.min_length, 12);
        assert!(!s.strict_passwords);
        assert!(!s.key_names);
    }

    #[rstest]
    #[case::unknown_key(json!({"allowedName": ["X"]}), "unknown field `allowedName`")]
    #[case::empty_allowed_name(json!({"allowedNames": ["A", " "]}), "allowedNames[1] is empty")]
    #[case::bad_regex_by_index(json!({"extraPatterns": ["ok-[0-9]+", "(unclosed"]}), "extraPatterns[1] is not a valid regex: ")]
    #[case::bad_regex_by_name(json!({"extraPatterns": [{"name": "corp", "regex": "[z-a]"}]}), "extraPatterns[0] (`corp`) is not a valid regex: ")]
    #[case::huge_regex(json!({"extraPatterns": ["a{1000}{1000}"]}), "size limit")]
    #[case::matches_everything(json!({"extraPatterns": [".*"]}), "matches the empty string")]
    #[case::empty_regex(json!({"extraPatterns": [""]}), "has an empty regex")]
    #[case::empty_name(json!({"extraPatterns": [{"name": "", "regex": "x+"}]}), "extraPatterns[0].name is empty")]
    #[case::unknown_pattern_key(json!({"extraPatterns": [{"name": "a", "regex": "x", "flags": "i"}]}), "unknown field `flags`")]
    #[case::missing_regex(json!({"extraPatterns": [{"name": "a"}]}), "missing field `regex`")]
    #[case::pattern_of_wrong_type(json!({"extraPatterns": [42]}), "must be a regex string or an object with `name` and `regex`, got a number")]
    #[case::min_length_zero(json!({"minLength": 0}), "minLength is 0; it must be between 1 and 1024")]
    #[case::min_length_negative(json!({"minLength": -1}), "invalid value")]
    #[case::reject_not_boolean(json!({"rejectSecretKeyRef": "yes"}), "invalid type")]
    #[case::strict_passwords_not_boolean(json!({"strictPasswords": "no"}), "invalid type")]
    #[case::key_names_not_boolean(json!({"keyNames": 0}), "invalid type")]
    #[case::key_names_misspelt(json!({"keyName": false}), "unknown field `keyName`")]
    fn bad_settings_are_refused_with_the_reason(
        #[case] settings: serde_json::Value,
        #[case] message: &str,
    ) {
        let error = check(settings).unwrap_err();
        assert!(
            error.contains(message),
            "```\n{error}\n```\ndoes not contain\n```\n{message}\n```"
        );
    }

    #[test]
    fn settings_payload_answers_through_the_sdk_entry_point() {
        let answer = crate::validate_settings(br#"{"extraPatterns": ["("]}"#).unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["valid"], false);
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .starts_with("extraPatterns[0] is not a valid regex")
        );
    }
}
