//! Context-aware lookups served from an ObjectSet, through the real SDK calls.

use crate::util::*;
use aksid_host::ObjectSet;
use serde_json::{Value, json};

fn config_map(name: &str, namespace: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {"name": name},
    })
}

#[test]
fn get_resource_finds_declared_objects_and_reports_missing_ones() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    let objects = ObjectSet::from_objects([config_map("settings", "shop", json!({}))]).unwrap();
    let request = admission_request(pod("p"));

    let found = policy
        .validate(
            &request,
            &json!({"mode": "get-configmap", "name": "settings"}),
            &objects,
        )
        .unwrap();
    assert!(found.accepted);
    assert_eq!(found.message.as_deref(), Some(r#"{"name":"settings"}"#));

    let missing = policy
        .validate(
            &request,
            &json!({"mode": "get-configmap", "name": "absent"}),
            &objects,
        )
        .unwrap();
    assert!(!missing.accepted);
    let message = missing.message.unwrap();
    assert!(
        message.contains(r#"ConfigMap "absent" not found in namespace "shop""#),
        "{message}"
    );
    assert!(
        missing.host_call_failures.is_empty(),
        "not found is an answer, not a refusal"
    );
}

#[test]
fn list_honours_namespace_and_label_selector() {
    let host = strict_host();
    let policy = hostile_policy(&host);
    let objects = ObjectSet::from_objects([
        config_map("a", "shop", json!({"tier": "front"})),
        config_map("b", "shop", json!({"tier": "back"})),
        config_map("c", "shop", json!({})),
        config_map("d", "other", json!({"tier": "front"})),
    ])
    .unwrap();
    let request = admission_request(pod("p"));
    let names = |selector: Value| {
        let verdict = policy
            .validate(
                &request,
                &json!({"mode": "list-configmaps", "selector": selector}),
                &objects,
            )
            .unwrap();
        assert!(verdict.accepted, "{verdict:?}");
        verdict.message.unwrap()
    };
    assert_eq!(names(Value::Null), "a,b,c");
    assert_eq!(names(json!("tier=front")), "a");
    assert_eq!(names(json!("tier in (front,back)")), "a,b");
    assert_eq!(names(json!("!tier")), "c");
    assert_eq!(names(json!("tier!=front")), "b,c");
}

const CLIENT_ID: &str = "0f8c1c3e-3b59-4d7a-9c2e-5f2a8a6b1d2c";

#[test]
fn workload_identity_labels_finds_the_service_account() {
    let Some(wasm) = aksid_module("workload-identity-labels") else {
        return;
    };
    let host = strict_host();
    let policy = host.load(&wasm).unwrap();
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "api", "namespace": "team", "labels": {"app": "api"}},
        "spec": {"serviceAccountName": "api", "containers": [{"name": "app", "image": "contoso.azurecr.io/app:1.4.2"}]},
    });
    let service_account = json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "api", "namespace": "team",
                     "annotations": {"azure.workload.identity/client-id": CLIENT_ID}},
    });
    let request = admission_request(pod.clone());

    // The Pod and its ServiceAccount in one set: the policy finds the client-id and wants the label.
    let objects = ObjectSet::from_objects([pod.clone(), service_account]).unwrap();
    let verdict = policy.validate(&request, &json!({}), &objects).unwrap();
    assert!(!verdict.accepted, "{verdict:?}");
    let message = verdict.message.unwrap();
    assert!(
        message.contains("ServiceAccount team/api")
            && message.contains("azure.workload.identity/client-id"),
        "{message}"
    );
    assert!(verdict.host_call_failures.is_empty());

    // Without the ServiceAccount, "not found" is no verdict: accepted.
    let objects = ObjectSet::from_objects([pod]).unwrap();
    let verdict = policy.validate(&request, &json!({}), &objects).unwrap();
    assert!(verdict.accepted, "{verdict:?}");
    assert!(verdict.warnings.is_empty(), "{:?}", verdict.warnings);
}
