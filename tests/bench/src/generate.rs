//! A deterministic, seeded generator of realistic manifest sets, for the benchmark and the
//! end-to-end tests.
//!
//! The mix follows what platform repositories hold: Deployments with 2–4 containers and 5–12
//! environment variables each (mostly harmless values, some `valueFrom`, a few plaintext
//! secrets in known formats, URLs and paths), ServiceAccounts (some with a Workload ID
//! client-id), workloads using them (most labelled correctly, some not), RoleBindings and
//! ClusterRoleBindings (some to `cluster-admin` with Users, most to Entra group GUIDs),
//! Secrets (some long-lived ServiceAccount tokens), CronJobs, bare Pods, Services, ConfigMaps
//! and now and then an Azure Service Operator ManagedCluster. Objects are spread over files
//! of 10–50 documents in nested directories.
//!
//! The same `(objects, seed)` always gives the same bytes (SplitMix64, no external RNG), so
//! any number measured on a set can be reproduced.
//!
//! ```
//! let files = aksid_bench::generate::generate(100, 42);
//! let documents: usize = files.iter().map(|(_, text)| text.matches("\nkind: ").count()).sum();
//! assert_eq!(documents, 100);
//! assert_eq!(files, aksid_bench::generate::generate(100, 42));
//! ```

mod objects;
pub(crate) mod rng;
mod values;

use objects::FileWriter;
use rng::Rng;
use std::io;
use std::path::Path;

/// The seed the benchmark uses.
pub const DEFAULT_SEED: u64 = 0x00A4_5D1D;

/// The kinds written and their weights (per 100 objects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Deployment,
    ServiceAccount,
    Service,
    ConfigMap,
    Secret,
    CronJob,
    Pod,
    Role,
    RoleBinding,
    ClusterRoleBinding,
    ManagedCluster,
}

const MIX: &[(Kind, u32)] = &[
    (Kind::Deployment, 28),
    (Kind::ServiceAccount, 16),
    (Kind::Service, 10),
    (Kind::ConfigMap, 8),
    (Kind::Secret, 9),
    (Kind::CronJob, 7),
    (Kind::Pod, 5),
    (Kind::Role, 3),
    (Kind::RoleBinding, 8),
    (Kind::ClusterRoleBinding, 5),
    (Kind::ManagedCluster, 1),
];

const ENVIRONMENTS: &[&str] = &[
    "clusters/prod",
    "clusters/staging",
    "apps/base",
    "apps/overlays/dev",
];

/// `objects` Kubernetes objects as `(relative file path, multi-document YAML)`, in files of
/// 10–50 objects under nested directories. Deterministic in `(objects, seed)`.
pub fn generate(objects: usize, seed: u64) -> Vec<(String, String)> {
    let mut rng = Rng::new(seed);
    let mut serial = 0;
    let mut files = Vec::new();
    let mut remaining = objects;
    while remaining > 0 {
        let count = rng.range(10, 50).min(remaining);
        remaining -= count;
        let environment = rng.pick(ENVIRONMENTS);
        let team = rng.pick(values::TEAMS);
        let app = rng.pick(values::APPS);
        let path = format!(
            "{environment}/{team}/{app}/manifests-{:04}.yaml",
            files.len()
        );
        let namespace = format!(
            "{team}-{}",
            environment.rsplit('/').next().unwrap_or("base")
        );
        let text = write_file(&mut rng, &mut serial, namespace, team, count);
        files.push((path, text));
    }
    files
}

fn write_file(
    rng: &mut Rng,
    serial: &mut usize,
    namespace: String,
    team: &'static str,
    count: usize,
) -> String {
    let mut out = String::with_capacity(count * 1200);
    let mut writer = FileWriter {
        rng,
        namespace,
        team,
        service_accounts: Vec::new(),
        serial,
    };
    for index in 0..count {
        if index > 0 {
            out.push_str("---\n");
        }
        if writer.rng.chance(0.1) {
            out.push_str("# Managed by the platform team; see the runbook before editing.\n");
        }
        // Each file starts with a ServiceAccount so its workloads have one to use.
        let kind = if index == 0 {
            Kind::ServiceAccount
        } else {
            writer.rng.weighted(MIX)
        };
        match kind {
            Kind::Deployment => writer.deployment(&mut out),
            Kind::ServiceAccount => writer.service_account(&mut out),
            Kind::Service => writer.service(&mut out),
            Kind::ConfigMap => writer.config_map(&mut out),
            Kind::Secret => writer.secret(&mut out),
            Kind::CronJob => writer.cron_job(&mut out),
            Kind::Pod => writer.pod(&mut out),
            Kind::Role => writer.role(&mut out),
            Kind::RoleBinding => writer.role_binding(&mut out),
            Kind::ClusterRoleBinding => writer.cluster_role_binding(&mut out),
            Kind::ManagedCluster => writer.managed_cluster(&mut out),
        }
    }
    out
}

/// Writes `files` under `dir`, creating directories; `dir` is emptied first so a smaller set
/// never keeps files of a larger one.
pub fn write(dir: &Path, files: &[(String, String)]) -> io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// The objects of the generated files, read by the CLI's own reader.
    fn documents(files: &[(String, String)]) -> Vec<serde_json::Value> {
        files
            .iter()
            .flat_map(|(path, text)| {
                let loaded = aksid_manifests::load(path, text.as_bytes());
                assert!(loaded.problems.is_empty(), "{path}: {:?}", loaded.problems);
                loaded.objects.into_iter().map(|m| m.object)
            })
            .collect()
    }

    #[test]
    fn same_seed_gives_identical_bytes() {
        assert_eq!(generate(1000, 7), generate(1000, 7));
        assert_ne!(generate(1000, 7), generate(1000, 8));
    }

    #[test]
    fn every_object_parses_with_api_version_and_kind() {
        for objects in [1, 9, 100, 1000] {
            let files = generate(objects, DEFAULT_SEED);
            let documents = documents(&files);
            assert_eq!(documents.len(), objects);
            for document in &documents {
                assert!(document["apiVersion"].as_str().is_some(), "{document:?}");
                assert!(document["kind"].as_str().is_some(), "{document:?}");
                assert!(
                    document["metadata"]["name"].as_str().is_some(),
                    "{document:?}"
                );
            }
        }
    }

    #[test]
    fn files_hold_10_to_50_objects_in_nested_directories() {
        let files = generate(5000, DEFAULT_SEED);
        for (index, (path, text)) in files.iter().enumerate() {
            let count = aksid_manifests::load(path, text.as_bytes()).objects.len();
            assert!(count <= 50, "{path}: {count}");
            assert!(count >= 10 || index == files.len() - 1, "{path}: {count}");
            assert!(path.matches('/').count() >= 3, "{path}");
        }
        let unique: BTreeSet<&String> = files.iter().map(|(path, _)| path).collect();
        assert_eq!(unique.len(), files.len());
    }

    #[test]
    fn the_mix_is_realistic() {
        let files = generate(10_000, DEFAULT_SEED);
        let documents = documents(&files);
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for document in &documents {
            *kinds
                .entry(document["kind"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        for kind in [
            "Deployment",
            "ServiceAccount",
            "Service",
            "ConfigMap",
            "Secret",
            "CronJob",
            "Pod",
            "Role",
            "RoleBinding",
            "ClusterRoleBinding",
            "ManagedCluster",
        ] {
            assert!(
                kinds.get(kind).copied().unwrap_or(0) > 20,
                "{kind}: {kinds:?}"
            );
        }
        // Names are unique per (kind, namespace): later objects never replace earlier ones
        // in an object set.
        let keys: BTreeSet<(String, String, String)> = documents
            .iter()
            .map(|d| {
                let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
                (
                    text(&d["kind"]),
                    text(&d["metadata"]["namespace"]),
                    text(&d["metadata"]["name"]),
                )
            })
            .collect();
        assert_eq!(keys.len(), documents.len());
        let all: String = files.iter().map(|(_, text)| text.as_str()).collect();
        for needle in [
            "azure.workload.identity/client-id",
            "azure.workload.identity/use: \"true\"",
            "aadpodidbinding",
            "kubernetes.io/service-account-token",
            "name: cluster-admin",
            "kind: User",
            "secretKeyRef",
            "8Q~",
            "AccountKey=",
            "AKIA",
            "disableLocalAccounts: true",
        ] {
            assert!(all.contains(needle), "{needle}");
        }
        let deployments: Vec<&serde_json::Value> = documents
            .iter()
            .filter(|d| d["kind"] == "Deployment")
            .collect();
        for deployment in deployments {
            let containers = deployment["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap();
            assert!((2..=4).contains(&containers.len()));
            for container in containers {
                let env = container["env"].as_array().map_or(0, Vec::len);
                assert!((5..=12).contains(&env), "{env}");
            }
        }
    }

    #[test]
    fn write_replaces_the_directory() {
        let dir = std::env::temp_dir().join(format!("aksid-generate-{}", std::process::id()));
        write(&dir, &generate(120, 1)).unwrap();
        write(&dir, &generate(30, 1)).unwrap();
        let mut count = 0;
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    count += 1;
                }
            }
        }
        assert_eq!(count, generate(30, 1).len());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
