//! The four aksid modules under the host: they load, validate settings, and give on every
//! fixture of their `test_data/` the verdict their native build gives. Skipped with a notice
//! while a module is not built yet.

use crate::util::*;
use aksid_host::{Host, HostConfig, ObjectSet};
use serde_json::{Value, json};

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
