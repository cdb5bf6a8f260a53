//! Reading fields out of untrusted JSON objects without panicking.
//!
//! Every accessor answers `None` (or an empty iterator) when a field is missing or has the
//! wrong type, so rules can say "absent" and "not what Kubernetes would accept" explicitly.

use serde_json::{Map, Value};

/// The value at `path` (object keys), if every step exists and is an object.
pub fn get<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |v, key| v.as_object()?.get(*key))
}

/// The string at `path`, if present and a string.
pub fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(value, path)?.as_str()
}

/// The boolean at `path`, if present and a JSON boolean (the string `"true"` is not a boolean).
pub fn bool_at(value: &Value, path: &[&str]) -> Option<bool> {
    get(value, path)?.as_bool()
}

/// The array at `path`, or an empty slice when absent or not an array.
pub fn array_at<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    get(value, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The object at `path`, if present and an object.
pub fn object_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    get(value, path)?.as_object()
}

/// The entries of a string map such as `metadata.labels`, skipping entries whose value is not
/// a string. A map of the wrong type (a list, say) yields nothing.
pub fn string_entries(map: Option<&Value>) -> impl Iterator<Item = (&str, &str)> {
    map.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
}

/// The raw entries of a map (value of any JSON type), for rules that must report a value of
/// the wrong type rather than skip it.
pub fn entries(map: Option<&Value>) -> impl Iterator<Item = (&str, &Value)> {
    map.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v))
}

/// `metadata.labels` of an object.
pub fn labels(object: &Value) -> Option<&Value> {
    get(object, &["metadata", "labels"])
}

/// `metadata.annotations` of an object.
pub fn annotations(object: &Value) -> Option<&Value> {
    get(object, &["metadata", "annotations"])
}

/// `metadata.name` of an object, or `""`.
pub fn name(object: &Value) -> &str {
    str_at(object, &["metadata", "name"]).unwrap_or("")
}

/// A short, human description of a JSON value's type for messages ("a number", "a list").
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accessors_tolerate_wrong_types() {
        let v = json!({"metadata": {"labels": ["a", "b"], "annotations": {"a": "1", "b": 2}}});
        assert_eq!(string_entries(labels(&v)).count(), 0);
        assert_eq!(
            string_entries(annotations(&v)).collect::<Vec<_>>(),
            [("a", "1")]
        );
        assert_eq!(str_at(&v, &["metadata", "labels", "x"]), None);
        assert!(array_at(&v, &["spec", "containers"]).is_empty());
        assert_eq!(name(&json!("not an object")), "");
    }
}
