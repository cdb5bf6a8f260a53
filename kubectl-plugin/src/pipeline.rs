//! The pipeline `check` and `test` share: inputs read → manifests loaded → admission requests
//! built → policies that select them evaluate them → verdicts recorded in a report → exceptions
//! applied. `check` runs it once over its `-f` paths; `test` once per test, with that test's
//! policies, request and old objects. Each command keeps only its own flags and output.

use crate::cli::PolicyArgs;
use crate::inputs::{self, InputFailure, ReadResult};
use crate::policy_set::{self, Module, ReadyPolicy};
use crate::settings_file::SettingsFile;
use aksid_host::{Host, ObjectSet, PreparedRequest};
use aksid_manifests::{
    LoadOptions, Manifest, RequestOptions, admission_request, admission_request_with_old,
    load_with, selects,
};
use aksid_report::{Date, Exceptions, InputError, PolicyInfo, ReportBuilder, Verdict};
use anyhow::{Context, Result};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What one policy said about one object: the policy's index and its verdict or failure.
pub type Outcomes = Vec<Vec<(usize, Result<aksid_host::Verdict, aksid_host::Error>)>>;

/// The old object of an UPDATE request for a manifest, if any.
pub type OldObjects<'a> = dyn Fn(&Manifest) -> Option<&'a Manifest> + Sync + 'a;

/// The host of a run, with the compile cache the flags name and the evaluation limits.
pub fn host(policy: &PolicyArgs, timeout: Duration, memory_limit: usize) -> Result<Host> {
    Ok(Host::new(
        policy_set::host_config(policy)
            .timeout(timeout)
            .memory_limit(memory_limit),
    )?)
}

/// Compiles `modules` with `settings` (validated by each policy first); the caller has
/// checked that `settings` names only these modules.
pub fn prepare_policies(
    host: &Host,
    modules: Vec<Module>,
    settings: &SettingsFile,
) -> Result<Vec<ReadyPolicy>> {
    policy_set::compile(host, modules, settings)
}

/// A report that knows the run's policies and default namespace.
pub fn new_report(policies: &[ReadyPolicy], namespace: &str) -> ReportBuilder {
    let mut report = ReportBuilder::new().default_namespace(namespace.to_owned());
    for p in policies {
        report.add_policy(PolicyInfo::from_metadata(p.id.clone(), &p.metadata));
    }
    report
}

/// Parses what was read (in parallel), recording files and problems in the report.
pub fn load_inputs(
    read: ReadResult,
    max_file_size: usize,
    report: &mut ReportBuilder,
) -> Vec<Manifest> {
    for failure in read.failures {
        add_input_failure(report, failure);
    }
    let load_options = LoadOptions::default().max_bytes(max_file_size as u64);
    let loaded: Vec<(String, aksid_manifests::Loaded)> = read
        .inputs
        .into_par_iter()
        .map(|input| {
            // A file found by walking a directory that is not a Kubernetes object (a
            // kustomization.yaml, Helm's values.yaml) is a notice; named with -f, an error.
            let options = load_options.clone().found_by_walking(input.walked);
            let loaded = load_with(&input.name, &input.bytes, &options);
            (input.name, loaded)
        })
        .collect();
    let mut manifests = Vec::new();
    for (name, loaded) in loaded {
        report.add_file(&name);
        for problem in &loaded.problems {
            report.add_problem(problem);
        }
        manifests.extend(loaded.objects);
    }
    manifests
}

/// How the objects of a run are judged.
pub struct Judge<'a> {
    /// The compiled policies.
    pub policies: &'a [ReadyPolicy],
    /// Namespace, user, operation of the requests.
    pub options: &'a RequestOptions,
    /// The old object of each UPDATE request.
    pub old_objects: &'a OldObjects<'a>,
    /// Advanced once per object.
    pub progress: &'a indicatif::ProgressBar,
}

/// Evaluates every object with every policy that selects it and records the verdicts; returns
/// the cluster context, which a caller about to exit may leak rather than free.
pub fn judge(report: &mut ReportBuilder, manifests: &[Manifest], judge: &Judge) -> ObjectSet {
    let objects = context_objects(ObjectSet::new(), manifests, judge.policies, judge.options);
    let outcomes = evaluate(manifests, judge, &objects);
    record_verdicts(report, manifests, judge.policies, outcomes);
    objects
}

/// One task per object: its request is built and serialised once, judged by every policy whose
/// rules select it, and dropped, so a large run holds each object only once.
pub fn evaluate(manifests: &[Manifest], judge: &Judge, objects: &ObjectSet) -> Outcomes {
    let outcomes = manifests
        .par_iter()
        .map(|manifest| {
            let old = (judge.old_objects)(manifest);
            let request = admission_request_with_old(manifest, old, judge.options);
            let prepared = PreparedRequest::new(&request);
            let verdicts = judge
                .policies
                .iter()
                .filter(|p| selects(&p.metadata, &request))
                .map(|p| {
                    let verdict = p.policy.validate_prepared(&prepared, &p.settings, objects);
                    (p.index, verdict)
                })
                .collect();
            judge.progress.inc(1);
            verdicts
        })
        .collect();
    judge.progress.finish_and_clear();
    outcomes
}

/// Records each object and what every policy said about it.
pub fn record_verdicts(
    report: &mut ReportBuilder,
    manifests: &[Manifest],
    policies: &[ReadyPolicy],
    outcomes: Outcomes,
) {
    for (manifest, verdicts) in manifests.iter().zip(outcomes) {
        report.add_object(manifest);
        for (p, verdict) in verdicts {
            let id = &policies[p].id;
            match verdict {
                Ok(v) => report.add_verdict(
                    manifest,
                    id,
                    Verdict {
                        allowed: v.accepted,
                        message: v.message,
                        warnings: v.warnings,
                    },
                ),
                Err(aksid_host::Error::Deadline { .. }) => add_deadline_error(report, manifest, id),
                Err(e) => report.add_policy_failure(manifest, id, &format!("{e:#}")),
            }
        }
    }
}

/// The cluster context-aware policies see: `objects` (a live cluster's, or none), then every
/// object of the run whose kind some policy declared in `contextAwareResources` (the host serves
/// no other kind), with the namespace its request gives it, replacing a cluster object of the
/// same name. A Pod and its ServiceAccount in different files are judged together.
pub fn context_objects(
    mut objects: ObjectSet,
    manifests: &[Manifest],
    policies: &[ReadyPolicy],
    options: &RequestOptions,
) -> ObjectSet {
    let declared: Vec<(&str, &str)> = policies
        .iter()
        .flat_map(|p| p.metadata.context_aware_resources.iter())
        .map(|r| (r.api_version.as_str(), r.kind.as_str()))
        .collect();
    for manifest in manifests {
        if declared.contains(&(manifest.api_version(), manifest.kind())) {
            let mut request = admission_request(manifest, options);
            if let Some(object) = request.get_mut("object") {
                // An object without a name cannot be looked up; it is simply not in the context.
                let _ = objects.insert(object.take());
            }
        }
    }
    objects
}

/// An evaluation the run's `--deadline` cut short: the object stays unjudged by `policy`.
fn add_deadline_error(report: &mut ReportBuilder, manifest: &Manifest, policy: &str) {
    report.add_object(manifest);
    let name = manifest.name().unwrap_or("(unnamed)");
    report.add_error(InputError {
        file: manifest.source.to_string(),
        document: Some(manifest.document),
        line: manifest.line,
        field: None,
        kind: aksid_manifests::ProblemKind::Deadline,
        message: format!(
            "policy {policy} did not judge {} {name}: the run's --deadline passed first; raise \
             --deadline or check fewer objects",
            manifest.kind()
        ),
        policy: Some(policy.to_owned()),
        object: Some(aksid_report::ObjectRef {
            api_version: manifest.api_version().to_owned(),
            kind: manifest.kind().to_owned(),
            namespace: manifest.namespace().map(str::to_owned),
            name: manifest.name().map(str::to_owned),
        }),
    });
}

fn add_input_failure(report: &mut ReportBuilder, failure: InputFailure) {
    let entry = InputError {
        file: failure.name,
        document: None,
        line: 1,
        field: None,
        kind: failure.kind,
        message: failure.message,
        policy: None,
        object: None,
    };
    if failure.is_error {
        report.add_error(entry);
    } else {
        report.add_notice(entry);
    }
}

/// The nearest `.aksid.yaml` of each path, deduplicated.
pub fn find_exceptions_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = paths
        .iter()
        .filter_map(|p| find_exceptions_file(p))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Applies each exceptions file; `file` globs match input names relative to the exceptions
/// file's directory.
pub fn apply_exceptions(report: &mut ReportBuilder, files: &[PathBuf]) -> Result<()> {
    let today = Date::from_unix_seconds(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    );
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading exceptions file {}", file.display()))?;
        let origin = file.display().to_string();
        let exceptions = Exceptions::parse(&text, &origin)?;
        let base = file
            .parent()
            .map(|d| {
                if d.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    d
                }
            })
            .and_then(|d| std::fs::canonicalize(d).ok());
        let relative = |name: &str| -> Option<String> {
            let path = std::fs::canonicalize(name).ok()?;
            let rel = path.strip_prefix(base.as_ref()?).ok()?;
            Some(rel.to_string_lossy().replace('\\', "/"))
        };
        report.apply_exceptions_with(&exceptions, today, &relative);
    }
    Ok(())
}

/// `.aksid.yaml` in the path's directory or an ancestor, stopping at the repository root (the
/// directory holding `.git`).
fn find_exceptions_file(path: &Path) -> Option<PathBuf> {
    let start = if path.as_os_str() == "-" {
        std::env::current_dir().ok()?
    } else {
        let absolute = std::fs::canonicalize(path).ok()?;
        if absolute.is_dir() {
            absolute
        } else {
            absolute.parent()?.to_owned()
        }
    };
    for dir in start.ancestors() {
        let candidate = dir.join(".aksid.yaml");
        if candidate.is_file() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            return None;
        }
    }
    None
}

/// Reads `paths` as `check -f` does.
pub fn read_paths(paths: &[PathBuf], max_file_size: usize, no_ignore: bool) -> ReadResult {
    inputs::read_all(
        paths,
        inputs::ReadOptions {
            max_file_size,
            no_ignore,
        },
    )
}
