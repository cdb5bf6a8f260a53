//! `check --against-cluster`: "would this cluster admit it?". The policies are the Kubewarden
//! `ClusterAdmissionPolicy` and `AdmissionPolicy` objects of the cluster that run an aksid module
//! (or a module `--policy` names), each with the cluster's rules, settings, mode and
//! `contextAwareResources`, and named after the cluster policy, so the report says which cluster
//! policy would reject what. Lookups see the cluster's objects with the checked manifests laid
//! over them (the manifest wins).

use crate::cli::CheckArgs;
use crate::commands::audit::cluster::{ApiResource, Kubectl, ListError};
use crate::policy_set::{self, Module, ReadyPolicy};
use aksid_host::{Host, ObjectSet};
use aksid_manifests::{Manifest, ProblemKind};
use aksid_metadata::{ContextAwareResource, Rule};
use aksid_report::InputError;
use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Kubewarden's API group and version of policies.
const KUBEWARDEN: (&str, &str) = ("policies.kubewarden.io", "v1");

/// A cluster policy that runs one of the run's modules.
#[derive(Debug, Clone)]
pub struct ClusterPolicy {
    /// `ClusterAdmissionPolicy/NAME` or `AdmissionPolicy/NAMESPACE/NAME`.
    pub id: String,
    /// The namespace an `AdmissionPolicy` is confined to.
    pub namespace: Option<String>,
    /// `spec.mode` is `monitor`: rejections are only reported.
    pub monitor: bool,
}

/// The run's policies as the cluster runs them, and the cluster objects lookups start from.
pub struct ClusterRun {
    /// Compiled, with the cluster's settings; `index` is the position in `policies`.
    pub policies: Vec<ReadyPolicy>,
    /// What each of `policies` is in the cluster; empty when the cluster runs none (defaults).
    pub cluster_policies: Vec<ClusterPolicy>,
    /// The objects of the kinds the policies may look up.
    pub objects: ObjectSet,
    /// Notices and errors for the report (no aksid policy found, a kind that cannot be listed).
    pub problems: Vec<InputError>,
}

/// Reads the cluster's policies and the objects their lookups need.
pub fn prepare(args: &CheckArgs) -> Result<ClusterRun> {
    let kubectl = Kubectl::connect(&args.cluster, &indicatif::ProgressBar::hidden())?;
    let grants = policy_set::Grants::from_args(&args.trust);
    let modules = policy_set::modules_granted(&args.policy, &grants)?;
    let mut specs = Vec::new();
    for (resource, kind) in [
        ("clusteradmissionpolicies", "ClusterAdmissionPolicy"),
        ("admissionpolicies", "AdmissionPolicy"),
    ] {
        let resource = kubewarden_resource(resource, kind, kind == "AdmissionPolicy");
        let items = kubectl.list(&resource, None, |_| {}).map_err(|e| {
            let (ListError::Forbidden(m) | ListError::Failed(m)) = e;
            anyhow::anyhow!(
                "cannot read the cluster's {}: {m}\n\n--against-cluster needs get and list on \
                 {} in the cluster",
                resource.label(),
                resource.label()
            )
        })?;
        specs.extend(items);
    }
    let found = match_modules(&specs, &modules, &args.policy.policies)?;
    let host = Host::new(
        policy_set::host_config(&args.policy)
            .timeout(args.timeout)
            .memory_limit(args.memory_limit),
    )?;
    let mut problems = Vec::new();
    let (policies, cluster_policies) = if found.is_empty() {
        problems.push(no_cluster_policy(specs.len()));
        let settings = policy_set::settings(&args.policy, &modules)?;
        (policy_set::compile(&host, modules, &settings)?, Vec::new())
    } else {
        compile(&host, found)?
    };
    let declared: Vec<(String, String)> = policies
        .iter()
        .flat_map(|p| &p.metadata.context_aware_resources)
        .map(|r| (r.api_version.clone(), r.kind.clone()))
        .collect();
    let objects = list_declared(&kubectl, &declared, &mut problems)?;
    Ok(ClusterRun {
        policies,
        cluster_policies,
        objects,
        problems,
    })
}

fn kubewarden_resource(resource: &str, kind: &str, namespaced: bool) -> ApiResource {
    ApiResource {
        group: KUBEWARDEN.0.to_owned(),
        version: KUBEWARDEN.1.to_owned(),
        resource: resource.to_owned(),
        kind: kind.to_owned(),
        namespaced,
        listable: true,
    }
}

/// A cluster policy matched to a module, with the cluster's metadata and settings.
struct Found {
    policy: ClusterPolicy,
    module: Module,
    settings: Value,
}

/// The cluster policies that run one of `modules`: a module reference whose repository's last
/// path segment is a module id (`registry://myacr.azurecr.io/aksid/no-local-accounts:v0.1.0`),
/// or exactly a `--policy` registry reference.
fn match_modules(specs: &[Value], modules: &[Module], given: &[String]) -> Result<Vec<Found>> {
    let mut found = Vec::new();
    for spec in specs {
        let name = spec["metadata"]["name"].as_str().unwrap_or_default();
        let reference = spec["spec"]["module"].as_str().unwrap_or_default();
        let Some(module) = modules.iter().find(|m| {
            module_id(reference) == m.id
                || given
                    .iter()
                    .any(|g| same_reference(g, reference) && m.origin.starts_with(g.as_str()))
        }) else {
            continue;
        };
        let (id, namespace) = match spec["metadata"]["namespace"].as_str() {
            Some(ns) => (format!("AdmissionPolicy/{ns}/{name}"), Some(ns.to_owned())),
            None => (format!("ClusterAdmissionPolicy/{name}"), None),
        };
        let mut module = module.clone();
        override_metadata(&mut module, &spec["spec"])
            .with_context(|| format!("{id}: spec.rules or spec.contextAwareResources"))?;
        let settings = match &spec["spec"]["settings"] {
            Value::Null => serde_json::json!({}),
            s => s.clone(),
        };
        found.push(Found {
            policy: ClusterPolicy {
                id,
                namespace,
                monitor: spec["spec"]["mode"] == "monitor",
            },
            module,
            settings,
        });
    }
    Ok(found)
}

/// The cluster decides what a policy judges and may look up: its `spec.rules` replace the
/// module's, and only the kinds its `spec.contextAwareResources` lists are served to it, as
/// Kubewarden's policy server grants them.
fn override_metadata(module: &mut Module, spec: &Value) -> Result<()> {
    if let Some(rules) = spec.get("rules").filter(|r| !r.is_null()) {
        module.metadata.rules = serde_json::from_value::<Vec<Rule>>(rules.clone())?;
    }
    module.metadata.context_aware_resources = match spec.get("contextAwareResources") {
        Some(r) if !r.is_null() => serde_json::from_value::<Vec<ContextAwareResource>>(r.clone())?,
        _ => Vec::new(),
    };
    Ok(())
}

/// The repository's last path segment: `no-local-accounts` of
/// `registry://host/aksid/no-local-accounts:v0.1.0@sha256:...`.
fn module_id(reference: &str) -> &str {
    let path = reference.strip_prefix("registry://").unwrap_or(reference);
    let path = path.split('@').next().unwrap_or(path);
    let last = path.rsplit('/').next().unwrap_or(path);
    last.split(':').next().unwrap_or(last)
}

fn same_reference(a: &str, b: &str) -> bool {
    a.strip_prefix("registry://").unwrap_or(a) == b.strip_prefix("registry://").unwrap_or(b)
}

fn compile(host: &Host, found: Vec<Found>) -> Result<(Vec<ReadyPolicy>, Vec<ClusterPolicy>)> {
    let mut policies = Vec::new();
    let mut cluster_policies = Vec::new();
    for (index, f) in found.into_iter().enumerate() {
        let policy = host
            .load(&f.module.bytes)
            .with_context(|| format!("{} ({})", f.policy.id, f.module.origin))?;
        let verdict = policy
            .validate_settings(&f.settings)
            .with_context(|| format!("{}: validating its settings", f.policy.id))?;
        if !verdict.valid {
            bail!(
                "the cluster's {} has settings its module refuses: {}",
                f.policy.id,
                verdict.message.unwrap_or_default()
            );
        }
        policies.push(ReadyPolicy {
            index,
            id: f.policy.id.clone(),
            info: aksid_report::PolicyInfo {
                id: f.policy.id.clone(),
                ..f.module.info()
            },
            refused_context: f.module.refused_context,
            metadata: f.module.metadata,
            policy,
            settings: f.settings,
        });
        cluster_policies.push(f.policy);
    }
    Ok((policies, cluster_policies))
}

fn no_cluster_policy(read: usize) -> InputError {
    InputError {
        file: "cluster".to_owned(),
        document: None,
        line: 1,
        field: None,
        kind: ProblemKind::NoClusterPolicy,
        message: format!(
            "the cluster runs no aksid policy ({read} ClusterAdmissionPolicies and \
             AdmissionPolicies read, none runs an aksid module or one --policy names); \
             checked with the built-in policies and their default settings"
        ),
        policy: None,
        object: None,
    }
}

/// The cluster's objects of the declared kinds, for lookups; a kind that cannot be listed is
/// an error of the report, and the check goes on.
fn list_declared(
    kubectl: &Kubectl,
    declared: &[(String, String)],
    problems: &mut Vec<InputError>,
) -> Result<ObjectSet> {
    let mut objects = ObjectSet::new();
    if declared.is_empty() {
        return Ok(objects);
    }
    let wanted: Vec<(String, String)> = declared
        .iter()
        .map(|(api_version, _)| match api_version.split_once('/') {
            Some((g, v)) => (g.to_owned(), v.to_owned()),
            None => (String::new(), api_version.clone()),
        })
        .collect();
    for resource in kubectl.discover(&wanted)? {
        if !declared.contains(&(resource.api_version(), resource.kind.clone())) {
            continue;
        }
        match kubectl.list(&resource, None, |_| {}) {
            Ok(items) => {
                for item in items {
                    // An object without a name cannot be looked up; it is not in the context.
                    let _ = objects.insert(item);
                }
            }
            Err(e) => problems.push(crate::commands::audit::list_error(&resource, e)),
        }
    }
    Ok(objects)
}

/// Applies the cluster's modes and namespaces to the verdicts: an `AdmissionPolicy` judges only
/// its own namespace, and a policy in `monitor` mode admits what it rejects, with the rejection
/// as a warning (the cluster only reports it).
pub fn apply_cluster_modes(
    outcomes: &mut super::Outcomes,
    manifests: &[Manifest],
    cluster_policies: &[ClusterPolicy],
    default_namespace: &str,
) {
    if cluster_policies.is_empty() {
        return;
    }
    for (manifest, verdicts) in manifests.iter().zip(outcomes.iter_mut()) {
        let namespace = manifest.namespace().unwrap_or(default_namespace);
        verdicts.retain(|(p, _)| {
            cluster_policies[*p]
                .namespace
                .as_deref()
                .is_none_or(|ns| ns == namespace && manifest.resource().namespaced)
        });
        for (p, verdict) in verdicts.iter_mut() {
            if let Ok(v) = verdict
                && cluster_policies[*p].monitor
                && !v.accepted
            {
                v.accepted = true;
                let message = v.message.take().unwrap_or_default();
                v.warnings.push(format!(
                    "monitor mode: the cluster admits it and only reports: {message}"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn cluster_policy(namespace: Option<&str>, monitor: bool) -> ClusterPolicy {
        ClusterPolicy {
            id: "p".to_owned(),
            namespace: namespace.map(str::to_owned),
            monitor,
        }
    }

    /// (allowed, warnings) of the one verdict left, or None when the policy does not apply.
    #[rstest]
    #[case::protect_rejection_stays(None, false, "shop", Some((false, 0)))]
    #[case::monitor_rejection_admits_with_a_warning(None, true, "shop", Some((true, 1)))]
    #[case::admission_policy_judges_its_namespace(Some("shop"), false, "shop", Some((false, 0)))]
    #[case::admission_policy_ignores_other_namespaces(Some("shop"), false, "web", None)]
    fn cluster_modes(
        #[case] policy_namespace: Option<&str>,
        #[case] monitor: bool,
        #[case] object_namespace: &str,
        #[case] expected: Option<(bool, usize)>,
    ) {
        let manifest = Manifest::new(
            "app.yaml",
            1,
            1,
            serde_json::json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": object_namespace}}),
        );
        let rejection = aksid_host::Verdict {
            accepted: false,
            message: Some("no".to_owned()),
            ..aksid_host::Verdict::default()
        };
        let mut outcomes: super::super::Outcomes = vec![vec![(0, Ok(rejection))]];
        let policies = [cluster_policy(policy_namespace, monitor)];
        apply_cluster_modes(&mut outcomes, &[manifest], &policies, "default");
        let got = outcomes[0].first().map(|(_, v)| {
            let v = v.as_ref().unwrap();
            (v.accepted, v.warnings.len())
        });
        assert_eq!(got, expected);
    }

    #[rstest]
    #[case::tag(
        "registry://myacr.azurecr.io/aksid/no-local-accounts:v0.1.0",
        "no-local-accounts"
    )]
    #[case::digest(
        "registry://myacr.azurecr.io/aksid/no-local-accounts@sha256:00",
        "no-local-accounts"
    )]
    #[case::tag_and_digest(
        "ghcr.io/aksid/policies/no-local-accounts:v1@sha256:00",
        "no-local-accounts"
    )]
    #[case::port_in_host("registry://localhost:5000/no-local-accounts:v1", "no-local-accounts")]
    #[case::other_policy(
        "registry://ghcr.io/kubewarden/policies/pod-privileged:v0.3.2",
        "pod-privileged"
    )]
    fn module_ids(#[case] reference: &str, #[case] expected: &str) {
        assert_eq!(module_id(reference), expected);
    }
}
