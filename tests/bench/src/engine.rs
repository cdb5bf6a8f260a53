//! Evaluations per second through the host library (the annotated modules of `artifacts/`),
//! and of the same rule code linked natively: the physical limit the modules are held to.
//!
//! Both sides get the same admission requests, built from a generated set by
//! `aksid-manifests` exactly as `check -f` builds them, each policy only those its metadata
//! rules select, and the same object set for context-aware lookups. Both sides include the
//! serialisation of the `{"request", "settings"}` payload and the parsing of the response:
//! what an evaluation costs a caller holding a request.

use crate::table::{EvalRow, Evaluations};
use aksid_host::{Host, HostConfig, ObjectSet, Policy};
use aksid_policy_common::{ClusterContext, Lookup};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// The policies, in the order of the README, with their native entry points.
pub(crate) const POLICIES: [&str; 4] = [
    "no-local-accounts",
    "no-cluster-admin-users",
    "workload-identity-labels",
    "no-plaintext-secret-env",
];

type CallResult = Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>>;

/// The rule code of `policy`, natively, with lookups answered from `objects` as the host
/// answers them (the crates' own `validate` asks a waPC host, which a native build lacks).
fn validate_natively(policy: &str, payload: &[u8], objects: &NativeCluster) -> CallResult {
    use aksid_policy_common::validate;
    match policy {
        "no-local-accounts" => validate::<no_local_accounts::NoLocalAccounts>(payload, objects),
        "no-cluster-admin-users" => {
            validate::<no_cluster_admin_users::NoClusterAdminUsers>(payload, objects)
        }
        "workload-identity-labels" => {
            validate::<workload_identity_labels::WorkloadIdentityLabels>(payload, objects)
        }
        "no-plaintext-secret-env" => {
            validate::<no_plaintext_secret_env::NoPlaintextSecretEnv>(payload, objects)
        }
        other => unreachable!("unknown policy {other}"),
    }
}

/// Lookups served from the same object set the host serves.
struct NativeCluster<'a>(&'a ObjectSet);

impl ClusterContext for NativeCluster<'_> {
    fn get_resource(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Lookup {
        match self.0.get(api_version, kind, namespace, name) {
            // The set keeps objects as JSON text; the guest parses what it is sent, and so does
            // the native baseline.
            Some(object) => serde_json::from_str(object)
                .map_or_else(|e| Lookup::Unavailable(e.to_string()), Lookup::Found),
            None => Lookup::NotFound,
        }
    }
}

#[derive(Serialize)]
struct Payload<'a> {
    request: &'a Value,
    settings: &'a Value,
}

/// The CREATE requests of every object of `files` (path, YAML), as `check -f` builds them.
pub(crate) fn requests(files: &[(String, String)]) -> Result<Vec<Value>> {
    let options = aksid_manifests::RequestOptions::default();
    let mut requests = Vec::new();
    for (path, text) in files {
        let loaded = aksid_manifests::load(path, text.as_bytes());
        if let Some(problem) = loaded.problems.first() {
            bail!("the generated {path} does not load: {problem}");
        }
        requests.extend(
            loaded
                .objects
                .iter()
                .map(|manifest| aksid_manifests::admission_request(manifest, &options)),
        );
    }
    Ok(requests)
}

/// Loads the four modules from `artifacts/<id>/policy.wasm` (compiled once into `cache_dir`).
pub(crate) fn load_policies(artifacts: &Path, cache_dir: &Path) -> Result<Vec<(String, Policy)>> {
    let host = Host::new(HostConfig::default().cache_dir(Some(cache_dir.to_owned())))?;
    POLICIES
        .iter()
        .map(|id| {
            let path = artifacts.join(id).join("policy.wasm");
            let bytes = std::fs::read(&path)
                .with_context(|| format!("failed to read {}", path.display()))?;
            let policy = host
                .load_named(&bytes, id)
                .with_context(|| format!("failed to load {}", path.display()))?;
            Ok(((*id).to_owned(), policy))
        })
        .collect()
}

/// Module sizes of `artifacts/<id>/policy.wasm`.
pub(crate) fn module_sizes(artifacts: &Path) -> Result<Vec<(String, u64)>> {
    POLICIES
        .iter()
        .map(|id| {
            let path = artifacts.join(id).join("policy.wasm");
            let size = std::fs::metadata(&path)
                .with_context(|| format!("failed to read {}", path.display()))?
                .len();
            Ok(((*id).to_owned(), size))
        })
        .collect()
}

/// Evaluations per second of `evaluate` over `requests` on `threads` threads for about
/// `duration` (each thread starts at a different request and cycles through all of them).
fn rate(
    requests: &[&Value],
    threads: usize,
    duration: Duration,
    evaluate: impl Fn(&Value) + Sync,
) -> f64 {
    let start = Instant::now();
    let evaluations: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let evaluate = &evaluate;
                scope.spawn(move || {
                    let mut next = thread * requests.len() / threads;
                    let mut done = 0;
                    while start.elapsed() < duration {
                        for _ in 0..32 {
                            evaluate(requests[next % requests.len()]);
                            next += 1;
                            done += 1;
                        }
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("an evaluation thread panicked"))
            .sum()
    });
    evaluations as f64 / start.elapsed().as_secs_f64()
}

fn accepted(response: &[u8]) -> Option<bool> {
    serde_json::from_slice::<Value>(response)
        .ok()?
        .get("accepted")?
        .as_bool()
}

/// Measures every policy on the requests of `objects` generated objects.
pub(crate) fn measure(
    policies: &[(String, Policy)],
    requests: &[Value],
    objects: usize,
    duration: Duration,
) -> Result<Evaluations> {
    let set = ObjectSet::from_objects(requests.iter().map(|r| r["object"].clone()))
        .context("the generated objects do not form an object set")?;
    let native_cluster = NativeCluster(&set);
    let settings = Value::Object(serde_json::Map::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut rows = Vec::new();
    for (id, policy) in policies {
        let selected: Vec<&Value> = requests
            .iter()
            .filter(|r| aksid_manifests::selects(policy.metadata(), r))
            .collect();
        if selected.is_empty() {
            bail!("no generated object is selected by {id}'s rules");
        }
        eprintln!(
            "aksid-bench: evaluating {id} on {} requests",
            selected.len()
        );
        // One pass each, which also warms the instance pool and compares the verdicts.
        let mut disagreements = 0;
        for request in &selected {
            let verdict = policy
                .validate(request, &settings, &set)
                .with_context(|| format!("{id} failed"))?;
            let payload = serde_json::to_vec(&Payload {
                request,
                settings: &settings,
            })?;
            let native = validate_natively(id, &payload, &native_cluster)
                .map_err(|e| anyhow::anyhow!("{id} failed natively: {e}"))?;
            if accepted(&native) != Some(verdict.accepted) {
                disagreements += 1;
                if disagreements <= 3 {
                    eprintln!(
                        "aksid-bench: warning: {id} judges {} {}/{} differently: module {:?} (warnings {:?}, \
                         refused host calls {:?}), native {}",
                        request["kind"]["kind"].as_str().unwrap_or_default(),
                        request["namespace"].as_str().unwrap_or_default(),
                        request["name"].as_str().unwrap_or_default(),
                        verdict.message,
                        verdict.warnings,
                        verdict.host_call_failures,
                        String::from_utf8_lossy(&native),
                    );
                }
            }
        }
        let wasm = |request: &Value| {
            let verdict = policy
                .validate(request, &settings, &set)
                .expect("the policy evaluated before");
            std::hint::black_box(verdict);
        };
        let native = |request: &Value| {
            let payload = serde_json::to_vec(&Payload {
                request,
                settings: &settings,
            })
            .expect("serialisable");
            let response =
                validate_natively(id, &payload, &native_cluster).expect("evaluated before");
            std::hint::black_box(accepted(&response));
        };
        rows.push(EvalRow {
            policy: id.clone(),
            requests: selected.len(),
            one_core: rate(&selected, 1, duration, wasm),
            all_cores: rate(&selected, threads, duration, wasm),
            native: rate(&selected, 1, duration, native),
            disagreements,
        });
    }
    Ok(Evaluations {
        objects,
        threads,
        rows,
    })
}
