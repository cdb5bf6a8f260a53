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
