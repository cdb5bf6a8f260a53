//! The pipeline `check` and `test` share: inputs read → manifests loaded → admission requests
//! built → policies that select them evaluate them → verdicts recorded in a report → exceptions
//! applied. `check` runs it in two passes over its `-f` inputs ([`passes`]), so that it holds
//! only the objects lookups need; `test` once per test, with that test's policies, request and
//! old objects, all held. Each command keeps only its own flags and output.

pub mod passes;

use crate::cli::{PolicyArgs, TrustArgs};
use crate::inputs::{self, InputFailure, ReadResult};
use crate::policy_set::{self, Module, ReadyPolicy};
use crate::settings_file::SettingsFile;
use aksid_host::{Host, ObjectSet, PreparedRequest};
use aksid_manifests::ProblemKind;
use aksid_manifests::{
    LoadOptions, Manifest, RequestOptions, admission_request, admission_request_with_old,
    load_with, selects,
};
use aksid_report::render::terminal_safe;
use aksid_report::{Date, Exceptions, InputError, ReportBuilder, Verdict};
use anyhow::Result;
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

/// The time and memory each evaluation of a run may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock limit per evaluation.
    pub timeout: Duration,
    /// Memory budget per evaluation.
    pub memory_limit: usize,
}

/// The policies of a run (those `keep` accepts), compiled and with their settings validated,
/// and the errors of those that could not be used (a `--policy` that fails to load, an invalid
/// settings file): the run goes on with the others, reports the errors in its chosen format and
/// exits 2, so SARIF and JUnit steps still get a complete document.
pub fn ready_policies(
    policy: &PolicyArgs,
    trust: &TrustArgs,
    limits: Limits,
    keep: fn(&Module) -> bool,
) -> (Vec<ReadyPolicy>, Vec<InputError>) {
    let mut errors = Vec::new();
    let grants = policy_set::Grants::from_args(trust);
    let (mut modules, failures) = match policy_set::modules_lenient(policy, &grants) {
        Ok(loaded) => loaded,
        Err(e) => return (Vec::new(), vec![run_error(&e)]),
    };
    for f in failures {
        let message = terminal_safe(&format!("--policy {}: {:#}", f.spec, f.error), false);
        errors.push(policy_error(&f.spec, None, message));
    }
    let settings = match policy_set::settings(policy, &modules) {
        Ok(settings) => settings,
        Err(e) => {
            // Judging with defaults the settings file meant to change could pass what it
            // rejects: nothing is judged.
            let file = policy.settings.as_ref().map(|p| p.display().to_string());
            let message = format!("{:#}; nothing was checked: fix the settings file", e);
            errors.push(file_error(
                file.as_deref().unwrap_or("--settings"),
                None,
                terminal_safe(&message, false),
            ));
            return (Vec::new(), errors);
        }
    };
    modules.retain(keep);
    let host = match host(policy, limits.timeout, limits.memory_limit) {
        Ok(host) => host,
        Err(e) => {
            errors.push(run_error(&e));
            return (Vec::new(), errors);
        }
    };
    let (ready, failed) = policy_set::compile_lenient(&host, modules, &settings);
    for f in failed {
        errors.push(policy_error("--policy", Some(&f.id), f.message));
    }
    (ready, errors)
}

/// What stopped every policy from running (the host could not start, or the run itself).
pub fn run_error(e: &anyhow::Error) -> InputError {
    policy_error(
        "kubectl-aksid",
        None,
        terminal_safe(&format!("{e:#}; nothing was checked"), false),
    )
}

/// A report that knows the run's policies (with their provenance) and default namespace, and
/// says which lookups of third-party modules were not granted.
pub fn new_report(policies: &[ReadyPolicy], namespace: &str) -> ReportBuilder {
    let mut report = ReportBuilder::new().default_namespace(namespace.to_owned());
    for p in policies {
        report.add_policy(p.info.clone());
        if !p.refused_context.is_empty() {
            report.add_notice(refused_context_notice(p));
        }
    }
    report
}

/// A third-party module declared lookups it was not granted: the host refuses them.
fn refused_context_notice(p: &ReadyPolicy) -> InputError {
    let kinds: Vec<&str> = p
        .refused_context
        .iter()
        .map(|r| r.rsplit('/').next().unwrap_or(r))
        .collect();
    InputError {
        file: p.info.origin.clone().unwrap_or_default(),
        document: None,
        line: 1,
        field: Some("contextAwareResources".to_owned()),
        kind: ProblemKind::Forbidden,
        message: format!(
            "policy {} (third-party module) declares lookups of {}; they were not granted, so \
             the host refuses them; grant them with --allow-context {}",
            terminal_safe(&p.id, true),
            terminal_safe(&p.refused_context.join(", "), true),
            terminal_safe(&kinds.join(","), true),
        ),
        policy: Some(p.id.clone()),
        object: None,
    }
}

/// A `--policy` that could not be loaded, or a policy that could not be compiled: an error of
/// the run, which still reports on the other policies.
pub fn policy_error(file: &str, policy: Option<&str>, message: String) -> InputError {
    InputError {
        file: file.to_owned(),
        document: None,
        line: 1,
        field: None,
        kind: ProblemKind::PolicyFailed,
        message,
        policy: policy.map(str::to_owned),
        object: None,
    }
}

/// A settings or exceptions file that could not be used.
pub fn file_error(file: &str, field: Option<String>, message: String) -> InputError {
    InputError {
        file: file.to_owned(),
        document: None,
        line: 1,
        field,
        kind: ProblemKind::Unreadable,
        message,
        policy: None,
        object: None,
    }
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
/// rules select it, and dropped, so a large run holds each object only once. Finishes the
/// progress bar.
pub fn evaluate(manifests: &[Manifest], judge: &Judge, objects: &ObjectSet) -> Outcomes {
    let outcomes = evaluate_objects(manifests, judge, objects);
    judge.progress.finish_and_clear();
    outcomes
}

/// [`evaluate`] for one batch of a run: the progress bar goes on.
pub fn evaluate_objects(manifests: &[Manifest], judge: &Judge, objects: &ObjectSet) -> Outcomes {
    manifests
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
        .collect()
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
                // Copied on this thread, not moved: the evaluating thread's strings would pin
                // its batch's pages for the rest of the run (see passes::release_freed_memory).
                Ok(v) => report.add_verdict(
                    manifest,
                    id,
                    Verdict {
                        allowed: v.accepted,
                        message: v.message.as_deref().map(str::to_owned),
                        warnings: v.warnings.iter().map(|w| w.as_str().to_owned()).collect(),
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

/// Records inputs that could not be read (errors) or were skipped (notices).
pub fn add_input_failures(report: &mut ReportBuilder, failures: Vec<InputFailure>) {
    for failure in failures {
        add_input_failure(report, failure);
    }
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

/// An exceptions file and the directory whose files it speaks for (`None`: every file).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExceptionsFile {
    /// The `.aksid.yaml` (or `--exceptions`) file.
    pub path: PathBuf,
    /// Canonical directory: findings of files below it only.
    pub scope: Option<PathBuf>,
}

/// The `.aksid.yaml` files that apply to a run, root first: for each checked file, every one
/// from its repository root (the nearest ancestor of the `-f` path holding `.git`; outside git,
/// the `-f` directory itself) down to the file's directory, each scoped to its directory. None
/// above the root is read. `files` are the run's input names (stdin counts as the working
/// directory).
pub fn find_exceptions_files(paths: &[PathBuf], files: &[String]) -> Vec<ExceptionsFile> {
    let roots: Vec<PathBuf> = paths.iter().filter_map(|p| repository_root(p)).collect();
    let mut found = Vec::new();
    for file in files {
        let Some(dir) = directory_of(file) else {
            continue;
        };
        // The deepest root above the file: the -f path it was found through.
        let Some(root) = roots
            .iter()
            .filter(|r| dir.starts_with(r))
            .max_by_key(|r| r.components().count())
        else {
            continue;
        };
        let mut chain: Vec<&Path> = dir
            .ancestors()
            .take_while(|d| d.starts_with(root))
            .collect();
        chain.reverse();
        for d in chain {
            let candidate = d.join(".aksid.yaml");
            if candidate.is_file() {
                found.push(ExceptionsFile {
                    path: candidate,
                    scope: Some(d.to_owned()),
                });
            }
        }
    }
    // Root first (shorter scopes sort first among a directory's ancestors), then by path.
    found.sort_by_key(|f| {
        (
            f.scope.as_ref().map(|s| s.components().count()),
            f.path.clone(),
        )
    });
    found.dedup();
    found
}

/// The canonical directory of an input (`-`, stdin, is the working directory).
fn directory_of(file: &str) -> Option<PathBuf> {
    if file == "-" || file == "<stdin>" {
        return std::env::current_dir().ok()?.canonicalize().ok();
    }
    let absolute = std::fs::canonicalize(file).ok()?;
    if absolute.is_dir() {
        Some(absolute)
    } else {
        absolute.parent().map(Path::to_owned)
    }
}

/// The repository root of a `-f` path: the nearest ancestor holding `.git` (a directory, or a
/// file in a worktree), else the directory given (its parent for a file).
fn repository_root(path: &Path) -> Option<PathBuf> {
    let given = directory_of(&path.to_string_lossy())?;
    let git = given.ancestors().find(|d| d.join(".git").exists());
    Some(git.unwrap_or(&given).to_owned())
}

/// Applies each exceptions file to the findings of its scope; `file` globs match input names
/// relative to the exceptions file's directory. A file that cannot be read or parsed is an
/// error of the run (the others still apply).
pub fn apply_exceptions_files(report: &mut ReportBuilder, files: &[ExceptionsFile]) {
    let today = Date::from_unix_seconds(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    );
    for file in files {
        let exceptions = match read_exceptions(&file.path) {
            Ok(exceptions) => exceptions,
            Err(error) => {
                report.add_error(*error);
                continue;
            }
        };
        let base = file
            .path
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
        let in_scope = |name: &str| match &file.scope {
            None => true,
            Some(scope) => directory_of(name).is_some_and(|d| d.starts_with(scope)),
        };
        report.apply_exceptions_in_scope(&exceptions, today, &relative, &in_scope);
    }
}

/// Applies exceptions files to every finding (a test's `exceptions`); the first that cannot be
/// read or parsed is an error.
pub fn apply_exceptions(report: &mut ReportBuilder, files: &[PathBuf]) -> Result<()> {
    for path in files {
        read_exceptions(path).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    }
    let files: Vec<ExceptionsFile> = files
        .iter()
        .map(|path| ExceptionsFile {
            path: path.clone(),
            scope: None,
        })
        .collect();
    apply_exceptions_files(report, &files);
    Ok(())
}

/// Reads and parses an exceptions file; an error names the file, entry and field.
fn read_exceptions(path: &Path) -> std::result::Result<Exceptions, Box<InputError>> {
    let origin = path.display().to_string();
    let text = crate::settings_file::read_bounded(path).map_err(|e| {
        file_error(
            &origin,
            None,
            format!("reading exceptions file: {e:#}; fix or remove it (--no-exceptions ignores every exceptions file)"),
        )
    })
    .map_err(Box::new)?;
    Exceptions::parse(&text, &origin).map_err(|e| {
        let field = match (e.entry, &e.field) {
            (Some(i), Some(f)) => Some(format!("exceptions[{}].{f}", i - 1)),
            (Some(i), None) => Some(format!("exceptions[{}]", i - 1)),
            (None, f) => f.clone(),
        };
        // The error names the file; the report's entry already does.
        let text = e.to_string();
        let message = text
            .strip_prefix(&format!("{origin}: "))
            .unwrap_or(&text)
            .to_owned();
        Box::new(file_error(&origin, field, message))
    })
}

/// Reads `paths` as `check -f` does, without a total cap (a test's few files).
pub fn read_paths(paths: &[PathBuf], max_file_size: usize, no_ignore: bool) -> ReadResult {
    let mut budget = inputs::Budget::new(max_file_size, usize::MAX);
    read_paths_within(paths, no_ignore, &mut budget)
}

/// Reads `paths` as `check -f` does, within what is left of the run's `budget`.
pub fn read_paths_within(
    paths: &[PathBuf],
    no_ignore: bool,
    budget: &mut inputs::Budget,
) -> ReadResult {
    inputs::read_all(paths, no_ignore, budget)
}
