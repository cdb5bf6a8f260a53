//! RFC 6902 JSON Patch between the admitted object and the object a mutating policy returned,
//! computed exactly as Kubewarden's policy-server computes it: with the same crate and function
//! (`json_patch::diff`), so the operations, their order and their paths are policy-server's.

use serde_json::Value;

/// The operations turning `from` into `to` (empty when they are equal).
pub(crate) fn diff(from: &Value, to: &Value) -> Vec<Value> {
    let patch = json_patch::diff(from, to);
    // A `Patch` always serialises to an array of operations.
    match serde_json::to_value(&patch) {
        Ok(Value::Array(operations)) => operations,
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Applies `operations` to `from` with the same crate, as an API server applies the patch.
    fn apply(from: &Value, operations: &[Value]) -> Value {
        let patch: json_patch::Patch = serde_json::from_value(json!(operations)).unwrap();
        let mut doc = from.clone();
        json_patch::patch(&mut doc, &patch).unwrap();
        doc
    }

    #[test]
    fn equal_documents_give_no_operation() {
        let doc = json!({"a": [1, {"b": null}]});
        assert!(diff(&doc, &doc).is_empty());
    }

    #[test]
    fn patches_turn_the_object_into_the_mutated_one() {
        for (from, to) in [
            (
                json!({"metadata": {"labels": {"keep": "x", "drop": "y", "change": "1"}}}),
                json!({"metadata": {"labels": {"keep": "x", "change": "2", "azure.workload.identity/use": "true"}}}),
            ),
            // Arrays shrinking by two or more, where a hand-written diff once removed the
            // wrong elements' indexes.
            (json!({"a": [1, 2, 3, 4]}), json!({"a": [1]})),
            (json!([1]), json!([1, 2, 3])),
            (json!({"a": 1}), json!([1])),
        ] {
            let operations = diff(&from, &to);
            assert!(!operations.is_empty());
            assert_eq!(apply(&from, &operations), to, "{operations:?}");
        }
    }

    #[test]
    fn paths_are_escaped_as_rfc_6901_requires() {
        let operations = diff(&json!({}), &json!({"a/b~c": 1}));
        assert_eq!(
            operations,
            [json!({"op": "add", "path": "/a~1b~0c", "value": 1})]
        );
    }
}
