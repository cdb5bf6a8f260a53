//! Boolean switches read the way Azure reads them: only the JSON boolean `true` turns a
//! switch on. Absent, `null`, `false` and values of the wrong type (the string `"true"`) all
//! leave it off, and each has its own wording in messages.

use aksid_policy_common::json;
use serde_json::Value;

/// The state of one boolean field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flag {
    /// The JSON boolean `true`.
    On,
    /// The JSON boolean `false`.
    Off,
    /// Absent or `null` (an intermediate object missing counts as absent too).
    Unset,
    /// Present with another JSON type; holds the type's description ("a string").
    WrongType(&'static str),
}

impl Flag {
    /// Reads the field at `path` of `object`.
    pub(crate) fn at(object: &Value, path: &[&str]) -> Flag {
        match json::get(object, path) {
            None | Some(Value::Null) => Flag::Unset,
            Some(Value::Bool(true)) => Flag::On,
            Some(Value::Bool(false)) => Flag::Off,
            Some(other) => Flag::WrongType(json::type_name(other)),
        }
    }

    /// True only for the JSON boolean `true`.
    pub(crate) fn is_on(self) -> bool {
        self == Flag::On
    }

    /// What is wrong with a switch that should be on: `is not set`, `is false`,
    /// `is a string, not the boolean true`.
    pub(crate) fn describe(self) -> String {
        match self {
            Flag::On => "is true".to_owned(),
            Flag::Off => "is false".to_owned(),
            Flag::Unset => "is not set".to_owned(),
            Flag::WrongType(type_name) => format!("is {type_name}, not the boolean true"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case::boolean_true(json!({"a": {"b": true}}), Flag::On, "is true")]
    #[case::boolean_false(json!({"a": {"b": false}}), Flag::Off, "is false")]
    #[case::absent(json!({"a": {}}), Flag::Unset, "is not set")]
    #[case::null(json!({"a": {"b": null}}), Flag::Unset, "is not set")]
    #[case::parent_of_wrong_type(json!({"a": "b"}), Flag::Unset, "is not set")]
    #[case::quoted_true(json!({"a": {"b": "true"}}), Flag::WrongType("a string"), "is a string, not the boolean true")]
    #[case::number(json!({"a": {"b": 1}}), Flag::WrongType("a number"), "is a number, not the boolean true")]
    fn reads_switches(#[case] object: Value, #[case] expected: Flag, #[case] description: &str) {
        let flag = Flag::at(&object, &["a", "b"]);
        assert_eq!(flag, expected);
        assert_eq!(flag.describe(), description);
        assert_eq!(flag.is_on(), expected == Flag::On);
    }
}
