//! Listing objects of a kind through Kubewarden's `kubernetes/list_resources_all` and
//! `kubernetes/list_resources_by_namespace` host capabilities, behind a trait unit tests fake.
//!
//! The list counterpart of [`crate::cluster`]'s `get_resource`. The wire format is the SDK's
//! `ListAllResourcesRequest` and `ListResourcesByNamespaceRequest` (snake_case keys), called
//! directly for the same reason as `get_resource`: the SDK's `cluster-context` feature would link
//! k8s-openapi. The answer is a Kubernetes `List`, whose `items` are read; nothing else of it is
//! trusted.

use serde_json::{Value, json};

/// The answer to a list call.
#[derive(Debug, Clone, PartialEq)]
pub enum Listing {
    /// The objects of the kind (possibly none).
    Found(Vec<Value>),
    /// The call itself failed (capability not granted, API error, no host).
    Unavailable(String),
}

/// Lists the objects of one kind, cluster-wide (`namespace: None`) or in one namespace.
pub trait ResourceLister {
    /// Lists every `api_version`/`kind` object, in `namespace` when given.
    fn list_resources(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Listing;
}

/// Lists through the Kubewarden host (the aksid host serves the objects being checked).
#[derive(Debug, Default, Clone, Copy)]
pub struct HostLister;

impl ResourceLister for HostLister {
    fn list_resources(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Listing {
        let (operation, request) = match namespace {
            Some(namespace) => (
                "list_resources_by_namespace",
                json!({"api_version": api_version, "kind": kind, "namespace": namespace,
                       "label_selector": null, "field_selector": null}),
            ),
            None => (
                "list_resources_all",
                json!({"api_version": api_version, "kind": kind,
                       "label_selector": null, "field_selector": null}),
            ),
        };
        let payload = serde_json::to_vec(&request).unwrap_or_default();
        match host_call(operation, &payload) {
            Ok(answer) => read_list(&answer),
            Err(reason) => Listing::Unavailable(reason),
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn host_call(operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
    kubewarden_policy_sdk::wapc_guest::host_call("kubewarden", "kubernetes", operation, payload)
        .map_err(|e| e.to_string())
}

/// A native build (unit tests, the native benchmark) has no waPC host to call; linking
/// `__host_call` there would fail, so the lookup is reported as unavailable instead.
#[cfg(not(target_arch = "wasm32"))]
fn host_call(_operation: &str, _payload: &[u8]) -> Result<Vec<u8>, String> {
    Err("listing needs the Kubewarden host, and a native build has none".to_owned())
}

/// The `items` of a Kubernetes `List` answer.
fn read_list(answer: &[u8]) -> Listing {
    match serde_json::from_slice::<Value>(answer) {
        Ok(Value::Object(mut list)) => match list.remove("items") {
            Some(Value::Array(items)) => Listing::Found(items),
            // The API server omits an empty `items` in some encodings.
            None | Some(Value::Null) => Listing::Found(Vec::new()),
            Some(_) => Listing::Unavailable("the host's list has no `items` list".to_owned()),
        },
        Ok(_) => Listing::Unavailable("the host's answer is not a List object".to_owned()),
        Err(e) => Listing::Unavailable(format!("the host's answer is not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_answers() {
        let cases: [(&[u8], Listing); 5] = [
            (
                br#"{"apiVersion":"v1","kind":"RoleBindingList","items":[{"a":1}]}"#,
                Listing::Found(vec![json!({"a": 1})]),
            ),
            (
                br#"{"kind":"RoleBindingList","metadata":{}}"#,
                Listing::Found(vec![]),
            ),
            (br#"{"items":null}"#, Listing::Found(vec![])),
            (
                br#"{"items":{}}"#,
                Listing::Unavailable("the host's list has no `items` list".into()),
            ),
            (
                br#"[1]"#,
                Listing::Unavailable("the host's answer is not a List object".into()),
            ),
        ];
        for (answer, expected) in cases {
            assert_eq!(
                read_list(answer),
                expected,
                "{}",
                String::from_utf8_lossy(answer)
            );
        }
    }

    #[test]
    fn broken_json_is_unavailable() {
        assert!(
            matches!(read_list(b"{"), Listing::Unavailable(reason) if reason.starts_with("the host's answer is not JSON"))
        );
    }

    #[test]
    fn a_native_build_reports_no_host() {
        assert_eq!(
            HostLister.list_resources("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", None),
            Listing::Unavailable(
                "listing needs the Kubewarden host, and a native build has none".into()
            )
        );
    }
}
