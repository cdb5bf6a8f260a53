//! RFC 6902 JSON Patch between the admitted object and the object a mutating policy returned,
//! as Kubewarden's policy-server computes it (`json_patch::diff`): objects are compared key by
//! key, arrays index by index, and anything else is replaced whole.

use serde_json::{Value, json};

/// The operations turning `from` into `to` (empty when they are equal).
pub(crate) fn diff(from: &Value, to: &Value) -> Vec<Value> {
    let mut operations = Vec::new();
    diff_at(from, to, &mut String::new(), &mut operations);
    operations
}

/// Recursion depth is bounded: both values come from serde_json, which refuses documents
/// nested deeper than 128 levels.
fn diff_at(from: &Value, to: &Value, path: &mut String, operations: &mut Vec<Value>) {
    if from == to {
        return;
    }
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, old) in a {
                let len = path.len();
                push_token(path, key);
                match b.get(key) {
                    Some(new) => diff_at(old, new, path, operations),
                    None => operations.push(json!({"op": "remove", "path": path})),
                }
                path.truncate(len);
            }
            for (key, new) in b.iter().filter(|(key, _)| !a.contains_key(*key)) {
                let len = path.len();
                push_token(path, key);
                operations.push(json!({"op": "add", "path": path, "value": new}));
                path.truncate(len);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (old, new)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                push_token(path, &i.to_string());
                diff_at(old, new, path, operations);
                path.truncate(len);
            }
            for (i, new) in b.iter().enumerate().skip(a.len()) {
                operations.push(json!({"op": "add", "path": format!("{path}/{i}"), "value": new}));
            }
            for i in (b.len()..a.len()).rev() {
                operations.push(json!({"op": "remove", "path": format!("{path}/{i}")}));
            }
        }
        _ => operations.push(json!({"op": "replace", "path": path, "value": to})),
    }
}

/// Appends `/token`, escaped as RFC 6901 requires (`~` → `~0`, `/` → `~1`).
fn push_token(path: &mut String, token: &str) {
    path.push('/');
    for c in token.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_documents_give_no_operation() {
        let doc = json!({"a": [1, {"b": null}]});
        assert!(diff(&doc, &doc).is_empty());
    }

    #[test]
    fn objects_are_diffed_by_key_with_escaped_paths() {
        let from = json!({"metadata": {"labels": {"keep": "x", "drop": "y", "change": "1"}}});
        let to = json!({"metadata": {"labels": {"keep": "x", "change": "2", "azure.workload.identity/use": "true"}}});
        assert_eq!(
            diff(&from, &to),
            [
                json!({"op": "replace", "path": "/metadata/labels/change", "value": "2"}),
                json!({"op": "remove", "path": "/metadata/labels/drop"}),
                json!({"op": "add", "path": "/metadata/labels/azure.workload.identity~1use", "value": "true"}),
            ]
        );
    }

    #[test]
    fn arrays_are_diffed_by_index() {
        assert_eq!(
            diff(&json!({"a": [1, 2, 3]}), &json!({"a": [1, 5]})),
            [
                json!({"op": "replace", "path": "/a/1", "value": 5}),
                json!({"op": "remove", "path": "/a/2"}),
            ]
        );
        assert_eq!(
            diff(&json!([1]), &json!([1, 2, 3])),
            [
                json!({"op": "add", "path": "/1", "value": 2}),
                json!({"op": "add", "path": "/2", "value": 3}),
            ]
        );
        assert_eq!(
            diff(&json!({"a": 1}), &json!([1])),
            [json!({"op": "replace", "path": "", "value": [1]})]
        );
    }
}
