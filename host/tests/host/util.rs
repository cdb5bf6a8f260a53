//! Helpers shared by the host's integration tests: locating and annotating modules, building
//! admission requests, and hosts with short limits.

use aksid_host::{Host, HostConfig, Policy};
use aksid_metadata::Metadata;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// The metadata the hostile guest is tested with.
pub const HOSTILE_METADATA: &str = r#"
rules:
  - apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["pods"]
    operations: ["CREATE", "UPDATE"]
mutating: true
contextAwareResources:
  - apiVersion: v1
    kind: ConfigMap
executionMode: kubewarden-wapc
annotations:
  io.kubewarden.policy.title: hostile-policy
"#;

pub fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target"))
}

/// `target/wasm32-wasip1/release/<crate_name>.wasm`.
pub fn wasm_path(package: &str) -> PathBuf {
    target_dir()
        .join("wasm32-wasip1/release")
        .join(format!("{}.wasm", package.replace('-', "_")))
}

/// Adds the metadata section, with `protocolVersion: v1`, as the build's annotation does.
pub fn annotate(wasm: &[u8], metadata_yaml: &str) -> Vec<u8> {
    let metadata = Metadata::from_yaml(metadata_yaml)
        .unwrap_or_else(|e| panic!("invalid metadata: {e}\n```\n{metadata_yaml}\n```"));
    aksid_metadata::annotate(wasm, &metadata.with_protocol_version()).expect("annotation works")
}

/// The hostile guest, annotated. Building it is a prerequisite of these tests.
pub fn hostile_module() -> Vec<u8> {
    let path = wasm_path("hostile-policy");
    let wasm = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}\n\nBuild it first: cargo build --release --target wasm32-wasip1 -p hostile-policy",
            path.display()
        )
    });
    annotate(&wasm, HOSTILE_METADATA)
}

/// A WAT module, annotated with minimal metadata titled `title`.
pub fn wat_module(title: &str, wat: &str) -> Vec<u8> {
    let wasm = wat::parse_str(wat).expect("valid WAT");
    annotate(
        &wasm,
        &format!(
            "rules: [{{apiGroups: [''], apiVersions: [v1], resources: [pods], operations: [CREATE]}}]\n\
             mutating: false\nannotations: {{io.kubewarden.policy.title: {title}}}\n"
        ),
    )
}

/// A host with short limits, so hostile tests end quickly.
pub fn strict_host() -> Host {
    Host::new(
        HostConfig::default()
            .timeout(Duration::from_millis(200))
            .memory_limit(32 << 20),
    )
    .unwrap()
}

pub fn hostile_policy(host: &Host) -> Policy {
    host.load(&hostile_module())
        .expect("the hostile guest loads")
}

/// Settings selecting a hostile mode.
pub fn mode(mode: &str) -> Value {
    json!({ "mode": mode })
}

/// Runs the hostile guest's `mode` on a pod, with no objects to look up.
pub fn validate_in_mode(
    policy: &Policy,
    hostile_mode: &str,
) -> Result<aksid_host::Verdict, aksid_host::Error> {
    policy.validate(
        &admission_request(pod("p")),
        &mode(hostile_mode),
        &Default::default(),
    )
}

/// A CREATE AdmissionRequest for `object`, shaped as `kwctl scaffold admission-request` emits.
pub fn admission_request(object: Value) -> Value {
    let api_version = object["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = object["kind"].as_str().unwrap_or_default().to_owned();
    let resource = format!("{}s", kind.to_ascii_lowercase());
    json!({
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": object["metadata"]["name"],
        "namespace": object["metadata"]["namespace"],
        "operation": "CREATE",
        "userInfo": {"username": "test-user", "groups": ["system:masters"]},
        "object": object,
        "dryRun": false,
    })
}

pub fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": name}},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
    })
}

/// The evaluation every recovery check runs: the echo mode accepts and returns the request.
pub fn assert_evaluates_normally(policy: &Policy) {
    let request = admission_request(pod("after"));
    let verdict = policy
        .validate(&request, &mode("echo"), &Default::default())
        .expect("a normal request evaluates after the hostile one");
    assert!(verdict.accepted);
    let echoed: Value = serde_json::from_str(verdict.message.as_deref().unwrap()).unwrap();
    assert_eq!(echoed, request, "the guest received the request unchanged");
}
