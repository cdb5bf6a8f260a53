//! `kubectl aksid check`: manifests → admission requests → policies → report.
//!
//! The filesystem is touched only here (reading inputs, finding `.aksid.yaml`); loading,
//! request building and reporting are the pure `aksid-manifests` and `aksid-report` crates, and
//! evaluation is `aksid-host`.

use crate::Outcome;
use crate::cli::{CheckArgs, ColorChoice, OutputFormat};
use crate::inputs::{self, InputFailure};
use crate::policy_set::{self, ReadyPolicy};
use aksid_host::{Host, ObjectSet, PreparedRequest};
use aksid_manifests::{
    LoadOptions, Manifest, ProblemKind, RequestOptions, admission_request, load_with, selects,
};
use aksid_report::{
    Date, Exceptions, Format, InputError, PolicyInfo, ReportBuilder, Verdict, render,
};
use anyhow::{Context, Result};
use rayon::prelude::*;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Above this many objects a terminal gets a progress bar.
const PROGRESS_THRESHOLD: usize = 300;

/// What one policy said about one object: the policy's index and its verdict or failure.
pub(super) type Outcomes = Vec<Vec<(usize, Result<aksid_host::Verdict, aksid_host::Error>)>>;

mod against_cluster;

pub fn execute(args: CheckArgs) -> Result<Outcome> {
    let (policies, cluster_objects, cluster_policies, problems) = if args.against_cluster {
        let run = against_cluster::prepare(&args)?;
        (
            run.policies,
            run.objects,
            run.cluster_policies,
            run.problems,
        )
    } else {
        (
            prepare_policies(&args)?,
            ObjectSet::new(),
            Vec::new(),
            Vec::new(),
        )
    };
    let mut report = ReportBuilder::new().default_namespace(args.namespace.clone());
    for p in &policies {
        report.add_policy(PolicyInfo::from_metadata(p.id.clone(), &p.metadata));
    }
    for problem in problems {
        match problem.kind.severity() {
            aksid_manifests::Severity::Notice => report.add_notice(problem),
            aksid_manifests::Severity::Error => report.add_error(problem),
        }
    }
    let manifests = load_inputs(&args, &mut report);
    let options = RequestOptions::default()
        .namespace(args.namespace.clone())
        .username(args.user.clone())
        .groups(args.groups.clone());
    let objects = context_objects(cluster_objects, &manifests, &policies, &options);
    let progress = progress_bar(args.no_progress, manifests.len());
    let mut outcomes = evaluate(progress, &manifests, &policies, &objects, &options);
    against_cluster::apply_cluster_modes(
        &mut outcomes,
        &manifests,
        &cluster_policies,
        &args.namespace,
    );
    record_verdicts(&mut report, &manifests, &policies, outcomes);
    if manifests.is_empty() {
        report.add_error(no_objects(&args));
    }
    if !args.no_exceptions {
        apply_exceptions(&mut report, &args)?;
    }
    // The process exits right after printing: freeing every parsed object one by one would only
    // add time (about 0.4 s for 10,000 objects).
    std::mem::forget(manifests);
    std::mem::forget(objects);
    print_report(&report.build(), &args)
}

/// The policies of the run, compiled and with their settings validated.
fn prepare_policies(args: &CheckArgs) -> Result<Vec<ReadyPolicy>> {
    let modules = policy_set::modules(&args.policy)?;
    let settings = policy_set::settings(&args.policy, &modules)?;
    let host = Host::new(
        policy_set::host_config(&args.policy)
            .timeout(args.timeout)
            .memory_limit(args.memory_limit),
    )?;
    policy_set::compile(&host, modules, &settings)
}

/// Reads and parses every input (in parallel), recording files and problems in the report.
fn load_inputs(args: &CheckArgs, report: &mut ReportBuilder) -> Vec<Manifest> {
    let read = inputs::read_all(
        &args.paths,
        inputs::ReadOptions {
            max_file_size: args.max_file_size,
            no_ignore: args.no_ignore,
        },
    );
    for failure in read.failures {
        add_input_failure(report, failure);
    }
    let load_options = LoadOptions::default().max_bytes(args.max_file_size as u64);
    let loaded: Vec<(String, aksid_manifests::Loaded)> = read
        .inputs
        .into_par_iter()
        .map(|input| {
            let loaded = load_with(&input.name, &input.bytes, &load_options);
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

/// One task per object: its request is built and serialised once, judged by every policy whose
/// rules select it, and dropped, so a large run holds each object only once.
pub(super) fn evaluate(
    progress: indicatif::ProgressBar,
    manifests: &[Manifest],
    policies: &[ReadyPolicy],
    objects: &ObjectSet,
    options: &RequestOptions,
) -> Outcomes {
    let outcomes = manifests
        .par_iter()
        .map(|manifest| {
            let request = admission_request(manifest, options);
            let prepared = PreparedRequest::new(&request);
            let verdicts = policies
                .iter()
                .filter(|p| selects(&p.metadata, &request))
                .map(|p| {
                    let verdict = p.policy.validate_prepared(&prepared, &p.settings, objects);
                    (p.index, verdict)
                })
                .collect();
            progress.inc(1);
            verdicts
        })
        .collect();
    progress.finish_and_clear();
    outcomes
}

/// Records each object and what every policy said about it.
pub(super) fn record_verdicts(
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
                Err(e) => report.add_policy_failure(manifest, id, &format!("{e:#}")),
            }
        }
    }
}

/// A run that finds no objects at all fails: a broken render step must not pass silently.
fn no_objects(args: &CheckArgs) -> InputError {
    let paths: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
    InputError {
        file: paths.join(" "),
        document: None,
        line: 1,
        field: None,
        kind: ProblemKind::NoObjects,
        message: "no Kubernetes objects found; if the input comes from helm template or kustomize \
                  build, check that step produced output"
            .to_owned(),
        policy: None,
        object: None,
    }
}

fn print_report(report: &aksid_report::Report, args: &CheckArgs) -> Result<Outcome> {
    let format = match args.output {
        OutputFormat::Text => Format::Text,
        OutputFormat::Json => Format::Json,
        OutputFormat::Sarif => Format::Sarif,
        OutputFormat::Junit => Format::Junit,
    };
    let text = render::render(report, format, use_color(args.color));
    write_output(&text, report)
}

/// Whether text output is coloured.
pub(super) fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        // NO_COLOR, CLICOLOR, CLICOLOR_FORCE, TERM=dumb and whether stdout is a terminal, as
        // anstream (clap's own colour choice) reads them.
        ColorChoice::Auto => {
            anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
        }
    }
}

/// Prints a rendered report and maps the report to the command's outcome.
fn write_output(text: &str, report: &aksid_report::Report) -> Result<Outcome> {
    write_text(text)?;
    Ok(match report.exit_code() {
        0 => Outcome::Clean,
        1 => Outcome::Rejected,
        _ => Outcome::Error,
    })
}

/// The cluster context-aware policies see: `objects` (a live cluster's, or none), then every
/// object of the run whose kind some policy declared in `contextAwareResources` (the host serves
/// no other kind), with the namespace its request gives it, replacing a cluster object of the
/// same name. A Pod and its ServiceAccount in different files are judged together.
pub(super) fn context_objects(
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

/// Prints a rendered report on stdout.
pub(super) fn write_text(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// A progress bar on stderr for large runs on a terminal; hidden otherwise, so piped output and
/// CI logs get nothing extra.
pub(super) fn progress_bar(no_progress: bool, evaluations: usize) -> indicatif::ProgressBar {
    if no_progress || evaluations < PROGRESS_THRESHOLD || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(evaluations as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} checking {pos}/{len} evaluations {wide_bar} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// Applies `--exceptions FILE`, or the nearest `.aksid.yaml` of each checked path.
fn apply_exceptions(report: &mut ReportBuilder, args: &CheckArgs) -> Result<()> {
    let files: Vec<PathBuf> = match &args.exceptions {
        Some(file) => vec![file.clone()],
        None => {
            let mut found: Vec<PathBuf> = args
                .paths
                .iter()
                .filter_map(|p| find_exceptions_file(p))
                .collect();
            found.sort();
            found.dedup();
            found
        }
    };
    let today = Date::from_unix_seconds(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    );
    for file in files {
        let text = std::fs::read_to_string(&file)
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
