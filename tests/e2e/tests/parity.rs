//! The committed aksid modules (`artifacts/<id>/policy.wasm`) under the host: they load, validate
//! settings, and give on every fixture of their `test_data/` the verdict their native build
//! gives. The reproducibility check of `make test` proves the committed modules are the sources'.

use aksid_host::{Host, HostConfig, ObjectSet};
use serde_json::{Value, json};
use std::path::PathBuf;

/// The workspace root.
fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The policies, one per `policies/<id>/metadata.yml`.
fn aksid_policies() -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(workspace_dir().join("policies"))
        .expect("policies/ is readable")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            path.join("metadata.yml").is_file().then_some(())?;
            Some(path.file_name()?.to_string_lossy().into_owned())
        })
        .collect();
    ids.sort();
    ids
}

/// The committed, annotated module `artifacts/<id>/policy.wasm`: what the cluster runs.
fn aksid_module(id: &str) -> Vec<u8> {
    let path = workspace_dir()
        .join("artifacts")
        .join(id)
        .join("policy.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Runs `check` on every aksid policy, then fails listing every policy whose check panicked,
/// so that one broken policy does not hide the others.
fn for_each_aksid_policy(check: impl Fn(&str, Vec<u8>)) {
    let mut failures = Vec::new();
    for id in aksid_policies() {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check(&id, aksid_module(&id));
        }));
        if result.is_err() {
            failures.push(id);
        }
    }
    assert!(
        failures.is_empty(),
        "failed for: {failures:?} (see the panics above)"
    );
}

/// A policy crate's waPC `validate`, linked natively.
type Native = fn(&[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>>;

fn native(id: &str) -> Native {
    match id {
        "no-local-accounts" => no_local_accounts::validate,
        "no-cluster-admin-users" => no_cluster_admin_users::validate,
        "workload-identity-labels" => workload_identity_labels::validate,
        "no-plaintext-secret-env" => no_plaintext_secret_env::validate,
        _ => unreachable!(),
    }
}

fn fixtures(id: &str) -> Vec<(String, Value)> {
    let dir = workspace_dir().join("policies").join(id).join("test_data");
    let mut fixtures: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "json").then_some(())?;
            let text = std::fs::read_to_string(&path).ok()?;
            let request: Value = serde_json::from_str(&text).ok()?;
            // Only whole AdmissionRequests (other JSON files may be settings).
            request.get("operation")?;
            Some((path.file_name()?.to_string_lossy().into_owned(), request))
        })
        .collect();
    fixtures.sort_by(|a, b| a.0.cmp(&b.0));
    fixtures
}

#[test]
fn aksid_policies_load_and_check_their_settings() {
    let host = Host::new(HostConfig::default()).unwrap();
    for_each_aksid_policy(|id, wasm| {
        let policy = host.load(&wasm).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(policy.name(), id);
        let settings = policy.validate_settings(&json!({})).unwrap();
        assert!(settings.valid, "{id}: {settings:?}");
        let typo = policy
            .validate_settings(&json!({"noSuchSetting": true}))
            .unwrap();
        assert!(!typo.valid, "{id} must refuse unknown settings keys");
        assert!(typo.message.unwrap().contains("noSuchSetting"), "{id}");
    });
}

#[test]
fn aksid_policies_agree_with_their_native_build_on_every_fixture() {
    let host = Host::new(HostConfig::default()).unwrap();
    for_each_aksid_policy(|id, wasm| {
        let policy = host.load(&wasm).unwrap_or_else(|e| panic!("{id}: {e}"));
        let context_aware = !policy.metadata().context_aware_resources.is_empty();
        let cases = fixtures(id);
        assert!(!cases.is_empty(), "{id} has fixtures");
        for (name, request) in cases {
            let verdict = policy
                .validate(&request, &json!({}), &ObjectSet::new())
                .unwrap_or_else(|e| panic!("{id}/{name}: {e}"));
            let payload = serde_json::to_vec(&json!({"request": request, "settings": {}})).unwrap();
            let native: Value = serde_json::from_slice(&native(id)(&payload).unwrap()).unwrap();
            assert_eq!(verdict.accepted, native["accepted"], "{id}/{name}");
            assert_eq!(json!(verdict.message), native["message"], "{id}/{name}");
            if !context_aware {
                // Natively the SDK's host-call stub fails every lookup; offline the host answers
                // "not found", so only context-free policies must also agree on warnings.
                let warnings = native["warnings"].as_array().cloned().unwrap_or_default();
                assert_eq!(json!(verdict.warnings), json!(warnings), "{id}/{name}");
            }
        }
    });
}

const CLIENT_ID: &str = "0f8c1c3e-3b59-4d7a-9c2e-5f2a8a6b1d2c";

#[test]
fn workload_identity_labels_finds_the_service_account() {
    let wasm = aksid_module("workload-identity-labels");
    let host = Host::new(HostConfig::default()).unwrap();
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
    let request = json!({
        "uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "operation": "CREATE", "namespace": "team", "name": "api",
        "userInfo": {"username": "dev"}, "object": pod.clone(),
    });

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
