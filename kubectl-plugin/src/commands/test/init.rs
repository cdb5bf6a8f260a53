//! `kubectl aksid test --init DIR`: checks DIR as `check -f DIR` would (built-in policies,
//! default settings and request, no exceptions) and writes `DIR/aksid-test.yaml` with one
//! expectation per object and policy, so a team can freeze today's verdicts and review the diff
//! when settings change.

use super::run::RunContext;
use super::spec::{API_VERSION, KIND};
use crate::Outcome;
use crate::cli::PolicyArgs;
use crate::pipeline::{self, Judge};
use crate::policy_set;
use aksid_manifests::{Manifest, RequestOptions};
use anyhow::{Result, bail};
use std::fmt::Write;
use std::path::Path;

/// The file `--init` writes.
const FILE_NAME: &str = "aksid-test.yaml";

/// Writes the starter test file; refuses to overwrite one.
pub fn write(dir: &Path, ctx: &RunContext) -> Result<Outcome> {
    let target = dir.join(FILE_NAME);
    if target.exists() {
        bail!(
            "{} exists; remove it or edit it (--init never overwrites a test file)",
            target.display()
        );
    }
    if !dir.is_dir() {
        bail!("--init {}: not a directory", dir.display());
    }
    let modules = policy_set::modules(&PolicyArgs {
        policies: Vec::new(),
        settings: None,
        cache_dir: ctx.policy_args.cache_dir.clone(),
        no_cache: ctx.policy_args.no_cache,
        insecure_registries: ctx.policy_args.insecure_registries.clone(),
        max_module_size: ctx.policy_args.max_module_size,
        deadline: ctx.policy_args.deadline,
        verification_config: ctx.policy_args.verification_config.clone(),
        verify_key: ctx.policy_args.verify_key.clone(),
    })?;
    let policies = pipeline::prepare_policies(ctx.host, modules, &Default::default())?;
    let options = RequestOptions::default();
    let mut report = pipeline::new_report(&policies, &options.namespace);
    let read = pipeline::read_paths(&[dir.to_owned()], ctx.max_file_size, false);
    let mut manifests = pipeline::load_inputs(read, ctx.max_file_size, &mut report);
    manifests.retain(|m| m.api_version() != API_VERSION);
    let progress = indicatif::ProgressBar::hidden();
    let judge = Judge {
        policies: &policies,
        options: &options,
        old_objects: &|_| None,
        progress: &progress,
    };
    pipeline::judge(&mut report, &manifests, &judge);
    let report = report.build();
    if let Some(e) = report.errors.first() {
        bail!(
            "{}: {} (fix the inputs first: --init freezes verdicts, not errors)",
            e.location(),
            e.message
        );
    }
    if manifests.is_empty() {
        bail!("no Kubernetes objects found in {}", dir.display());
    }
    let ids: Vec<&str> = policies.iter().map(|p| p.id.as_str()).collect();
    let text = test_file(dir, &manifests, &ids, &report);
    std::fs::write(&target, text)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", target.display()))?;
    eprintln!(
        "wrote {}; run `kubectl aksid test {}`",
        target.display(),
        target.display()
    );
    Ok(Outcome::Clean)
}

/// `name` (as the walk of `dir` named it) relative to `dir`.
fn relative(dir: &Path, name: &str) -> String {
    let path = Path::new(name);
    path.strip_prefix(dir)
        .unwrap_or(path)
        .display()
        .to_string()
        .replace('\\', "/")
}

/// YAML scalars are written as JSON strings, which YAML reads as double-quoted scalars.
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn test_file(
    dir: &Path,
    manifests: &[Manifest],
    ids: &[&str],
    report: &aksid_report::Report,
) -> String {
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "manifests".to_owned());
    let mut out = format!(
        "# Written by `kubectl aksid test --init`: the verdicts of today, one per object and policy.\n\
         # Review the diff when settings or policies change.\n\
         apiVersion: {API_VERSION}\nkind: {KIND}\nmetadata:\n  name: {}\nspec:\n  manifests: [\".\"]\n  expect:\n",
        quote(&name)
    );
    for m in manifests {
        for id in ids {
            let finding = report.results.iter().find(|r| {
                r.policy == *id
                    && *r.file == *m.source
                    && r.line == m.line
                    && r.document == m.document
            });
            let result = match finding {
                None => "skip",
                Some(r) if !r.allowed => "reject",
                Some(r) if !r.warnings.is_empty() => "warn",
                Some(_) => "accept",
            };
            let _ = writeln!(
                out,
                "  - {{{}, policy: {id}, result: {result}}}",
                identity(dir, m, manifests)
            );
        }
    }
    out
}

/// `kind: …, namespace: …, name: …`, and the file when another object has the same identity
/// (a good and a bad example of one object) or the object has no name (a kubeconfig).
fn identity(dir: &Path, m: &Manifest, manifests: &[Manifest]) -> String {
    let mut out = format!("kind: {}", quote(m.kind()));
    if m.resource().namespaced {
        let _ = write!(
            out,
            ", namespace: {}",
            quote(m.namespace().unwrap_or("default"))
        );
    }
    if let Some(name) = m.name() {
        let _ = write!(out, ", name: {}", quote(name));
    }
    let same = manifests
        .iter()
        .filter(|o| o.kind() == m.kind() && o.name() == m.name() && o.namespace() == m.namespace())
        .count();
    if same > 1 || m.name().is_none() {
        let _ = write!(out, ", file: {}", quote(&relative(dir, &m.source)));
    }
    out
}
