//! A deliberately hostile Kubewarden policy, for the host's tests: `validate` does what the
//! settings' `mode` says.
//!
//! | mode | behaviour |
//! |---|---|
//! | `echo` (default) | accepts, with the request it received (as JSON) as the message |
//! | `loop` | spins forever |
//! | `alloc` | allocates 1 MiB blocks without bound |
//! | `trap` | panics with a message |
//! | `unreachable` | executes `unreachable` without a message |
//! | `stdout` | prints 4 MiB to stdout and 4 MiB to stderr, then accepts |
//! | `unknown-capability` | calls `kubewarden/nonsense/op` and propagates the error |
//! | `undeclared-kind` | reads a `v1/Secret`, which its metadata does not declare, and propagates the error |
//! | `get-configmap` | reads ConfigMap `settings.name` of the request's namespace; accepts with its `data` as the message, or rejects with the lookup error |
//! | `list-configmaps` | lists ConfigMaps of the request's namespace with `settings.selector`; accepts with their names, comma-joined |
//! | `log` | logs through `tracing/log` and `__console_log`, then accepts |
//! | `mutate` | adds the label `hostile: "yes"` to the object |
//! | `warn` | accepts with a warning and an audit annotation |
//! | `reject` | rejects with code 418 |
//! | `host-call-flood` | calls capabilities the host refuses (an unknown one with a 1 KiB name, `get_resource` of an undeclared 4 KiB kind, each with a 1 MiB payload), ignoring each error, forever |
//! | `huge-message` | rejects with a message of `settings.size` bytes (default 4 MiB) |
//!
//! Its metadata (added by the tests) declares `contextAwareResources: [v1/ConfigMap]`.

use kubewarden_policy_sdk::request::ValidationRequest;
use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};
use serde_json::{Value, json};
use std::collections::HashMap;

const MODES: &[&str] = &[
    "echo",
    "loop",
    "alloc",
    "trap",
    "unreachable",
    "stdout",
    "unknown-capability",
    "undeclared-kind",
    "get-configmap",
    "list-configmaps",
    "log",
    "mutate",
    "warn",
    "reject",
    "host-call-flood",
    "huge-message",
];

/// Registers the waPC operations.
#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

fn mode(settings: &Value) -> Result<&str, String> {
    let mode = settings
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("echo");
    if MODES.contains(&mode) {
        Ok(mode)
    } else {
        Err(format!(
            "unknown mode {mode:?}; expected one of {}",
            MODES.join(", ")
        ))
    }
}

fn validate_settings(payload: &[u8]) -> CallResult {
    let settings: Value = serde_json::from_slice(payload)?;
    let response = match mode(&settings) {
        Ok(_) => json!({"valid": true, "message": null}),
        Err(message) => json!({"valid": false, "message": message}),
    };
    Ok(serde_json::to_vec(&response)?)
}

fn respond(accepted: bool, message: Option<String>) -> CallResult {
    Ok(serde_json::to_vec(&ValidationResponse {
        accepted,
        message,
        code: None,
        mutated_object: None,
        audit_annotations: None,
        warnings: None,
    })?)
}

fn setting<'a>(settings: &'a Value, key: &str) -> Option<&'a str> {
    settings.get(key).and_then(Value::as_str)
}

fn validate(payload: &[u8]) -> CallResult {
    let request: ValidationRequest<Value> = ValidationRequest::new(payload)?;
    let settings = &request.settings;
    let namespace = request.request.namespace.clone();
    match mode(settings)? {
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "alloc" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "trap" => panic!("hostile-policy: deliberate panic in trap mode"),
        "unreachable" => {
            #[cfg(target_arch = "wasm32")]
            core::arch::wasm32::unreachable();
            #[cfg(not(target_arch = "wasm32"))]
            std::process::abort();
        }
        "stdout" => {
            let line = "x".repeat(1023);
            for _ in 0..4096 {
                println!("{line}");
                eprintln!("{line}");
            }
            respond(true, Some("printed 8 MiB".into()))
        }
        "unknown-capability" => {
            guest::host_call("kubewarden", "nonsense", "op", b"{}")?;
            respond(true, None)
        }
        "undeclared-kind" => {
            let _secret = get_resource("Secret", "db-password", &namespace)?;
            respond(true, None)
        }
        "get-configmap" => {
            let name = setting(settings, "name").unwrap_or_default();
            let lookup = get_resource("ConfigMap", name, &namespace);
            match lookup {
                Ok(config_map) => respond(true, Some(config_map["data"].to_string())),
                Err(e) => respond(false, Some(e.to_string())),
            }
        }
        "list-configmaps" => {
            // A direct waPC call, as `kubernetes/list_resources_by_namespace` is on the wire:
            // the guest needs no Kubernetes types (no k8s-openapi in the build).
            let request = json!({
                "api_version": "v1", "kind": "ConfigMap", "namespace": namespace,
                "label_selector": setting(settings, "selector"),
            });
            let raw = guest::host_call(
                "kubewarden",
                "kubernetes",
                "list_resources_by_namespace",
                &serde_json::to_vec(&request)?,
            )?;
            let list: Value = serde_json::from_slice(&raw)?;
            let names: Vec<&str> = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|cm| cm["metadata"]["name"].as_str())
                .collect();
            respond(true, Some(names.join(",")))
        }
        "log" => {
            guest::host_call(
                "kubewarden",
                "tracing",
                "log",
                br#"{"level":"warning","message":"hostile-policy says hi","mode":"log"}"#,
            )?;
            guest::console_log("console hello");
            respond(true, None)
        }
        "mutate" => {
            let mut object = request.request.object.clone();
            object["metadata"]["labels"]["hostile"] = json!("yes");
            kubewarden_policy_sdk::mutate_request(object)
        }
        "warn" => Ok(serde_json::to_vec(&ValidationResponse {
            accepted: true,
            message: None,
            code: None,
            mutated_object: None,
            audit_annotations: Some(HashMap::from([("hostile".to_owned(), "warned".to_owned())])),
            warnings: Some(vec!["hostile-policy warns".to_owned()]),
        })?),
        "reject" => kubewarden_policy_sdk::reject_request(
            Some("hostile-policy rejects".into()),
            Some(418),
            None,
            None,
        ),
        "host-call-flood" => host_call_flood(),
        "huge-message" => {
            let size = settings
                .get("size")
                .and_then(Value::as_u64)
                .unwrap_or(4 << 20);
            respond(false, Some("m".repeat(size as usize)))
        }
        _ => {
            let raw: Value = serde_json::from_slice(payload)?;
            respond(true, Some(raw["request"].to_string()))
        }
    }
}

/// `kubernetes/get_resource` as a direct waPC call, worded as the SDK words its errors: the
/// guest needs no Kubernetes types (no k8s-openapi in the build).
fn get_resource(
    kind: &str,
    name: &str,
    namespace: &str,
) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
    let request = json!({"api_version": "v1", "kind": kind, "name": name, "namespace": namespace});
    let raw = guest::host_call(
        "kubewarden",
        "kubernetes",
        "get_resource",
        &serde_json::to_vec(&request)?,
    )
    .map_err(|e| format!("error invoking host capability kubernetes.get_resource: {e}"))?;
    Ok(serde_json::from_slice(&raw)?)
}

/// Host calls the host refuses, without end: each refusal is a record the host keeps, so only
/// a host that counts them stops this before its timeout.
fn host_call_flood() -> CallResult {
    let namespace = "n".repeat(1 << 10);
    let kind = "K".repeat(4 << 10);
    let lookup = serde_json::to_vec(
        &json!({"api_version": "v1", "kind": kind, "name": "n", "namespace": "ns"}),
    )?;
    let big = vec![b' '; 1 << 20];
    loop {
        let _ = guest::host_call("kubewarden", &namespace, "op", &big);
        let _ = guest::host_call("kubewarden", "kubernetes", "get_resource", &lookup);
        std::hint::black_box(&big);
    }
}
