//! `kubectl aksid check`: manifests → admission requests → policies → report.
//!
//! The filesystem is touched only here and in the shared [`crate::pipeline`] (reading inputs,
//! finding `.aksid.yaml`); loading, request building and reporting are the pure
//! `aksid-manifests` and `aksid-report` crates, and evaluation is `aksid-host`. With
//! `--against-cluster`, the policies, their settings and modes and the lookups come from a
//! running cluster ([`against_cluster`]).

use crate::Outcome;
use crate::cli::{CheckArgs, ColorChoice};
use crate::pipeline::{self, Judge, passes};
use crate::policy_set::ReadyPolicy;
use crate::{inputs, kustomize};
use aksid_host::ObjectSet;
use aksid_manifests::{LoadOptions, Manifest, ProblemKind, RequestOptions};
use aksid_report::{InputError, render};
use anyhow::Result;
use std::io::{IsTerminal, Write};

mod against_cluster;

/// Above this many objects a terminal gets a progress bar.
const PROGRESS_THRESHOLD: usize = 300;

/// What one policy said about one object (see [`pipeline::Outcomes`]).
pub(super) type Outcomes = pipeline::Outcomes;

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
        // A policy or settings file that cannot be used is an error in the report, not an
        // empty stdout: SARIF and JUnit steps still get a complete document.
        let limits = pipeline::Limits {
            timeout: args.timeout,
            memory_limit: args.memory_limit,
        };
        let (policies, errors) =
            pipeline::ready_policies(&args.policy, &args.trust, limits, |_| true);
        (policies, ObjectSet::new(), Vec::new(), errors)
    };
    let mut report = pipeline::new_report(&policies, &args.namespace);
    for problem in problems {
        match problem.kind.severity() {
            aksid_manifests::Severity::Notice => report.add_notice(problem),
            aksid_manifests::Severity::Error => report.add_error(problem),
        }
    }
    let (sources, failures) = read_sources(&args);
    pipeline::add_input_failures(&mut report, failures);
    let run = Run {
        args: &args,
        policies: &policies,
        cluster_policies: &cluster_policies,
    };
    let tally = run.judge(&mut report, sources, cluster_objects);
    if tally.objects == 0 {
        report.add_error(no_objects(&args));
    }
    if !args.no_exceptions {
        let files = match &args.exceptions {
            Some(file) => vec![pipeline::ExceptionsFile {
                path: file.clone(),
                scope: None,
            }],
            None => pipeline::find_exceptions_files(&args.paths, &tally.sources),
        };
        pipeline::apply_exceptions_files(&mut report, &files);
    }
    let built = report.build();
    // What judging freed goes back before the report is rendered, the run's last allocation.
    passes::release_freed_memory();
    print_report(&built, &args)
}

/// What judging a run's inputs needs besides the inputs.
struct Run<'a> {
    args: &'a CheckArgs,
    policies: &'a [ReadyPolicy],
    cluster_policies: &'a [against_cluster::ClusterPolicy],
}

impl Run<'_> {
    /// Judges every object of `sources` against `cluster` with the run's objects laid over it,
    /// in two passes ([`passes`]) when a policy looks objects up, else in one; records files,
    /// problems and verdicts, and returns the tally.
    fn judge(
        &self,
        report: &mut aksid_report::ReportBuilder,
        mut sources: Vec<passes::Source>,
        cluster: ObjectSet,
    ) -> passes::Tally {
        let args = self.args;
        let options = RequestOptions::default()
            .namespace(args.namespace.clone())
            .username(args.user.clone())
            .groups(args.groups.clone());
        let load_options = LoadOptions::default().max_bytes(args.max_file_size as u64);
        let declared = passes::declared_kinds(self.policies);
        let single_pass = declared.is_empty();
        let (progress, context) = if single_pass {
            (growing_progress_bar(args.no_progress, &sources), cluster)
        } else {
            let context = (cluster, self.policies, &options);
            let (tally, context) =
                passes::survey(report, &mut sources, &load_options, &declared, context);
            (progress_bar(args.no_progress, tally.objects), context)
        };
        let judge = Judge {
            policies: self.policies,
            options: &options,
            old_objects: &|_| None,
            progress: &progress,
        };
        let adjust = |outcomes: &mut Outcomes, manifests: &[Manifest]| {
            let (policies, namespace) = (self.cluster_policies, &args.namespace);
            against_cluster::apply_cluster_modes(outcomes, manifests, policies, namespace);
        };
        let pass = passes::Pass2 {
            judge: &judge,
            context: &context,
            load_options: &load_options,
            single_pass,
            adjust: &adjust,
        };
        let tally = passes::judge_sources(report, sources, &pass);
        // The process exits soon after: freeing the context's objects one by one would only
        // add time.
        std::mem::forget(context);
        tally
    }
}

/// Reads the paths within the run's byte budget (`--max-file-size` each, `--max-total-size`
/// together): kustomizations rendered with `--kustomize` first, their patch files skipped
/// otherwise. Returns the inputs, in the order they are judged, and what could not be read.
fn read_sources(args: &CheckArgs) -> (Vec<passes::Source>, Vec<inputs::InputFailure>) {
    let mut budget = inputs::Budget::new(args.max_file_size, args.max_total_size);
    let mut sources = Vec::new();
    let mut failures = Vec::new();
    let paths = if args.kustomize {
        let dirs = kustomize::kustomization_dirs(&args.paths);
        for dir in &dirs {
            match kustomize::render(dir, &mut budget) {
                Ok(rendered) => {
                    sources.push(passes::Source::rendered(rendered.input, rendered.root))
                }
                Err(failure) => failures.push(failure),
            }
        }
        args.paths
            .iter()
            .filter(|p| !dirs.contains(p))
            .cloned()
            .collect()
    } else {
        args.paths.clone()
    };
    let mut read = pipeline::read_paths_within(&paths, args.no_ignore, &mut budget);
    kustomize::skip_patches(&mut read);
    failures.append(&mut read.failures);
    sources.extend(read.inputs.into_iter().map(passes::Source::read));
    (sources, failures)
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
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    render::write(report, args.output.into(), use_color(args.color), &mut out)?;
    out.flush()?;
    Ok(match report.exit_code() {
        0 => Outcome::Clean,
        1 => Outcome::Rejected,
        _ => Outcome::Error,
    })
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

/// Prints a rendered report on stdout.
pub(super) fn write_text(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// A progress bar for a run whose objects are counted as they are judged (no pass 1): its
/// length grows batch by batch; shown from about [`PROGRESS_THRESHOLD`] objects' worth of input.
fn growing_progress_bar(no_progress: bool, sources: &[passes::Source]) -> indicatif::ProgressBar {
    let bytes: usize = sources.iter().map(passes::Source::held_len).sum();
    let bar = progress_bar(no_progress, bytes / BYTES_PER_OBJECT);
    bar.set_length(0);
    bar
}

/// A typical object's size in YAML, to judge from the input's size whether a run is large.
const BYTES_PER_OBJECT: usize = 1024;

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
