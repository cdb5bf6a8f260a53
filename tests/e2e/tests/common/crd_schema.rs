//! A vendored CRD's `openAPIV3Schema` as a strict JSON schema, shared by the test binaries that
//! validate what aksid writes against a CRD (`distribution`: Kubewarden's
//! ClusterAdmissionPolicy; `audit`: OpenReports' Report and ClusterReport).

use serde_json::{Value, json};
use std::path::Path;

/// The `openAPIV3Schema` of the served, stored `version` of the CRD at `path` (which must
/// define `group`/`kind`), as a JSON schema that refuses what the CRD does not define:
///
/// - every object schema that lists `properties` and does not say
///   `x-kubernetes-preserve-unknown-fields: true` gets `additionalProperties: false`, as
///   `kubectl apply` (server-side strict field validation) refuses unknown fields;
/// - OpenAPI's `nullable: true` becomes a `null` alternative of the type;
/// - `x-kubernetes-*` keys stay, as annotations the validator ignores;
/// - `metadata`, which the CRD leaves as `type: object` because the API server validates
///   ObjectMeta itself, gets the part of ObjectMeta a generated manifest may set: a
///   DNS-subdomain `name` (required), string maps `labels` and `annotations`, and for
///   namespaced kinds a DNS-label `namespace` (required: a report must say where it goes).
pub fn strict(path: &Path, group: &str, kind: &str, version: &str) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read the vendored CRD {}: {e}", path.display()));
    let loaded = aksid_manifests::load("crd.yaml", text.as_bytes());
    assert!(
        loaded.problems.is_empty() && loaded.objects.len() == 1,
        "{} holds one CRD: {:?}",
        path.display(),
        loaded.problems
    );
    let crd = &loaded.objects[0].object;
    assert_eq!(crd["kind"], "CustomResourceDefinition");
    assert_eq!(crd["spec"]["group"], group);
    assert_eq!(crd["spec"]["names"]["kind"], kind);
    let namespaced = crd["spec"]["scope"] == "Namespaced";
    let served = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == version)
        .unwrap_or_else(|| panic!("the CRD defines {version}"));
    assert!(
        served["served"] == true && served["storage"] == true,
        "{version} is served and stored"
    );
    let mut schema = served["schema"]["openAPIV3Schema"].clone();
    tighten(&mut schema);
    let mut metadata = json!({
        "type": "object",
        "required": ["name"],
        "additionalProperties": false,
        "properties": {
            "name": {
                "type": "string",
                "maxLength": 253,
                "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
            },
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    });
    if namespaced {
        metadata["required"] = json!(["name", "namespace"]);
        metadata["properties"]["namespace"] = json!({
            "type": "string",
            "maxLength": 63,
            "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        });
    }
    schema["properties"]["metadata"] = metadata;
    schema
}

fn tighten(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if object.remove("nullable") == Some(Value::Bool(true))
        && let Some(Value::String(kind)) = object.get("type").cloned()
    {
        object.insert("type".into(), json!([kind, "null"]));
    }
    let preserves_unknown =
        object.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if object.contains_key("properties")
        && !preserves_unknown
        && !object.contains_key("additionalProperties")
    {
        object.insert("additionalProperties".into(), Value::Bool(false));
    }
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        properties.values_mut().for_each(tighten);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(nested) = object.get_mut(key) {
            tighten(nested);
        }
    }
}
