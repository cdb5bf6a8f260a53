//! Running one test: its policies compiled with its settings, its manifests judged through the
//! shared [`crate::pipeline`] with its request, and each expectation compared with the report.

use super::spec::{API_VERSION, Expectation, Expected, Source, SpecError, TestSpec};
use crate::cli::PolicyArgs;
use crate::inputs::{Input, ReadResult};
use crate::pipeline::{self, Judge};
use crate::policy_set::{self, Module};
use crate::settings_file::SettingsFile;
use aksid_host::Host;
use aksid_manifests::{Manifest, RequestOptions};
use aksid_report::{Report, ReportBuilder};
use serde::Serialize;

/// What one expectation found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checked {
    /// The expectation's field path.
    pub field: String,
    /// The object (`Kind namespace/name`).
    pub object: String,
    /// The policy id.
    pub policy: String,
    /// What the test expects.
    pub expected: Expected,
    /// The substring the message must contain, if any.
    pub expected_message: Option<String>,
    /// What happened: accept, reject, warn, skip, or error (the evaluation failed).
    pub got: String,
    /// The policy's message (or warnings, or the evaluation error).
    pub message: Option<String>,
    /// Whether the expectation held.
    pub passed: bool,
}

/// One test's outcome.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestOutcome {
    /// The test file.
    pub file: String,
    /// 1-based line of the test's document.
    pub line: usize,
    /// `metadata.name`.
    pub name: String,
    /// Every expectation held.
    pub passed: bool,
    /// One entry per (expectation, matching object).
    pub expectations: Vec<Checked>,
}

/// Settings shared by every test of a run.
pub struct RunContext<'a> {
    /// The one host (compile cache, limits).
    pub host: &'a Host,
    /// Cache directory, registries.
    pub policy_args: &'a PolicyArgs,
    /// Largest manifest read.
    pub max_file_size: usize,
}

/// A [`SpecError`] of this test at `field`.
fn spec_error(spec: &TestSpec, field: &str, message: String) -> SpecError {
    SpecError {
        file: spec.file.clone(),
        test: Some(spec.name.clone()),
        field: (!field.is_empty()).then(|| field.to_owned()),
        message,
    }
}

/// Runs one test; a [`SpecError`] when the test itself is wrong.
pub fn run_test(spec: &TestSpec, ctx: &RunContext) -> Result<TestOutcome, SpecError> {
    let err = |field: &str, message: String| spec_error(spec, field, message);
    let modules = modules(spec, ctx).map_err(|e| err("spec.policies", format!("{e:#}")))?;
    let settings = settings(spec, &modules).map_err(|e| err("spec.settings", format!("{e:#}")))?;
    let policies = pipeline::prepare_policies(ctx.host, modules, &settings)
        .map_err(|e| err("spec.settings", format!("{e:#}")))?;
    let options = request_options(spec);
    let namespace = options.namespace.clone();
    let mut report = pipeline::new_report(&policies, &namespace);
    let manifests = load(spec, &spec.manifests, ctx, &mut report, "spec.manifests")?;
    let mut scratch = ReportBuilder::new();
    let old = load(
        spec,
        &spec.old_objects,
        ctx,
        &mut scratch,
        "spec.oldObjects",
    )?;
    let old_of = |m: &Manifest| {
        old.iter().find(|o| {
            o.kind() == m.kind() && o.name() == m.name() && o.namespace() == m.namespace()
        })
    };
    if !old.is_empty()
        && let Some(m) = manifests.iter().find(|m| old_of(m).is_none())
    {
        return Err(err(
            "spec.oldObjects",
            format!(
                "no old object for {} (same kind, namespace and name); every object of an UPDATE test needs one",
                label(m, &namespace)
            ),
        ));
    }
    let progress = indicatif::ProgressBar::hidden();
    let judge = Judge {
        policies: &policies,
        options: &options,
        old_objects: &old_of,
        progress: &progress,
    };
    pipeline::judge(&mut report, &manifests, &judge);
    if let Some(file) = &spec.exceptions {
        pipeline::apply_exceptions(&mut report, std::slice::from_ref(file))
            .map_err(|e| err("spec.exceptions", format!("{e:#}")))?;
    }
    let ids: Vec<&str> = policies.iter().map(|p| p.id.as_str()).collect();
    let expectations = check_all(spec, &manifests, &report.build(), &ids, &namespace)?;
    Ok(TestOutcome {
        file: spec.file.clone(),
        line: spec.line,
        name: spec.name.clone(),
        passed: expectations.iter().all(|c| c.passed),
        expectations,
    })
}

/// The request of the test: CREATE by `kubectl-aksid` in `default` unless it says otherwise.
fn request_options(spec: &TestSpec) -> RequestOptions {
    let mut options = RequestOptions::default().operation(spec.request.operation);
    if let Some(namespace) = &spec.request.namespace {
        options = options.namespace(namespace.clone());
    }
    if let Some(user) = &spec.request.user {
        options = options.username(user.clone());
    }
    if let Some(groups) = &spec.request.groups {
        options = options.groups(groups.clone());
    }
    options
}

/// Every expectation against the report; an expectation naming another policy, or matching no
/// object, makes the test wrong rather than failed.
fn check_all(
    spec: &TestSpec,
    manifests: &[Manifest],
    report: &Report,
    ids: &[&str],
    namespace: &str,
) -> Result<Vec<Checked>, SpecError> {
    let mut expectations = Vec::new();
    for e in &spec.expect {
        if !ids.contains(&e.policy.as_str()) {
            return Err(spec_error(
                spec,
                &format!("{}.policy", e.field),
                format!(
                    "{:?} is not a policy of this test; its policies are: {}",
                    e.policy,
                    ids.join(", ")
                ),
            ));
        }
        let matching: Vec<&Manifest> = manifests
            .iter()
            .filter(|m| matches(e, m, namespace, &spec.dir))
            .collect();
        if matching.is_empty() {
            let known: Vec<String> = manifests.iter().map(|m| label(m, namespace)).collect();
            return Err(spec_error(
                spec,
                &e.field,
                format!(
                    "matches no object: {} {}{}; the test's objects are: {}",
                    e.kind,
                    e.namespace
                        .as_deref()
                        .map(|n| format!("{n}/"))
                        .unwrap_or_default(),
                    e.name.as_deref().unwrap_or("(any name)"),
                    known.join(", ")
                ),
            ));
        }
        for m in matching {
            expectations.push(check(e, m, report, namespace));
        }
    }
    Ok(expectations)
}

/// The built-in policies the test names (all when it names none) and the modules it adds.
fn modules(spec: &TestSpec, ctx: &RunContext) -> anyhow::Result<Vec<Module>> {
    let is_module =
        |p: &str| p.starts_with("registry://") || p.ends_with(".wasm") || p.contains('/');
    // (as the test names it, as policy_set reads it: relative paths from the test's directory)
    let added: Vec<(&String, String)> = spec
        .policies
        .iter()
        .filter(|p| is_module(p.as_str()))
        .map(|p| {
            if p.starts_with("registry://") {
                (p, p.clone())
            } else {
                (p, spec.dir.join(p).display().to_string())
            }
        })
        .collect();
    let args = PolicyArgs {
        policies: added.iter().map(|(_, resolved)| resolved.clone()).collect(),
        settings: None,
        cache_dir: ctx.policy_args.cache_dir.clone(),
        no_cache: ctx.policy_args.no_cache,
        insecure_registries: ctx.policy_args.insecure_registries.clone(),
        max_module_size: ctx.policy_args.max_module_size,
        deadline: ctx.policy_args.deadline,
        verification_config: ctx.policy_args.verification_config.clone(),
        verify_key: ctx.policy_args.verify_key.clone(),
    };
    let (all, failures) = policy_set::modules_lenient(&args, &policy_set::Grants::default())?;
    if let Some(failure) = failures.into_iter().next() {
        let named = added.iter().find(|(_, resolved)| *resolved == failure.spec);
        let named = named.map_or(&failure.spec, |(named, _)| named);
        anyhow::bail!("{named}: {:#}", failure.error);
    }
    let ids: Vec<&str> = spec
        .policies
        .iter()
        .map(String::as_str)
        .filter(|p| !is_module(p))
        .collect();
    for id in &ids {
        if !all.iter().any(|m| m.id == *id) {
            let known: Vec<&str> = all.iter().map(|m| m.id.as_str()).collect();
            anyhow::bail!(
                "unknown policy {id:?}; the built-in policies are: {} (a module is a .wasm path or a registry:// reference)",
                known.join(", ")
            );
        }
    }
    Ok(all
        .into_iter()
        .filter(|m| {
            spec.policies.is_empty() || m.origin != "built-in" || ids.contains(&m.id.as_str())
        })
        .collect())
}

/// The test's settings, checked to name only its policies.
fn settings(spec: &TestSpec, modules: &[Module]) -> anyhow::Result<SettingsFile> {
    // JSON is YAML: the settings file parser reads the test's map as it reads a settings file.
    let settings =
        SettingsFile::parse(&serde_json::Value::Object(spec.settings.clone()).to_string())?;
    settings.check_ids(modules.iter().map(|m| m.id.as_str()))?;
    Ok(settings)
}

/// Reads and loads sources; an input that cannot be loaded makes the test wrong.
fn load(
    spec: &TestSpec,
    sources: &[Source],
    ctx: &RunContext,
    report: &mut ReportBuilder,
    field: &str,
) -> Result<Vec<Manifest>, SpecError> {
    let paths: Vec<_> = sources
        .iter()
        .filter_map(|s| match s {
            Source::Path(p) => Some(spec.dir.join(p)),
            Source::Inline(..) => None,
        })
        .collect();
    let mut read = if paths.is_empty() {
        ReadResult::default()
    } else {
        pipeline::read_paths(&paths, ctx.max_file_size, false)
    };
    for source in sources {
        if let Source::Inline(value, path) = source {
            read.inputs.push(Input {
                name: format!("{}#{}/{path}", spec.file, spec.name),
                bytes: value.to_string().into_bytes(),
                walked: false,
            });
        }
    }
    let mut manifests = pipeline::load_inputs(read, ctx.max_file_size, report);
    let problems = report.clone().build().errors;
    if let Some(p) = problems.first() {
        return Err(SpecError {
            file: spec.file.clone(),
            test: Some(spec.name.clone()),
            field: Some(field.to_owned()),
            message: format!("{}: {}", p.location(), p.message),
        });
    }
    // A test file among the manifests (a directory holding both) is not an object to judge.
    manifests.retain(|m| m.api_version() != API_VERSION);
    Ok(manifests)
}

/// The namespace a request gives the object (`None` for cluster-scoped kinds).
fn effective_namespace(m: &Manifest, default: &str) -> Option<String> {
    m.resource()
        .namespaced
        .then(|| m.namespace().unwrap_or(default).to_owned())
}

fn label(m: &Manifest, default: &str) -> String {
    match (effective_namespace(m, default), m.name()) {
        (Some(ns), Some(name)) => format!("{} {ns}/{name}", m.kind()),
        (None, Some(name)) => format!("{} {name}", m.kind()),
        (_, None) => format!("{} (unnamed)", m.kind()),
    }
}

fn matches(e: &Expectation, m: &Manifest, default: &str, dir: &std::path::Path) -> bool {
    let same_file = |file: &std::path::Path| {
        let wanted = std::fs::canonicalize(dir.join(file)).ok();
        wanted.is_some() && wanted == std::fs::canonicalize(&*m.source).ok()
    };
    m.kind() == e.kind
        && (e.name.is_none() || m.name() == e.name.as_deref())
        && (e.namespace.is_none() || effective_namespace(m, default) == e.namespace)
        && e.file.as_deref().is_none_or(same_file)
}

/// Compares one expectation with what the policy said about one object.
fn check(e: &Expectation, m: &Manifest, report: &Report, default: &str) -> Checked {
    let same_object = |file: &str, line: usize| file == &*m.source && line == m.line;
    let finding = report
        .results
        .iter()
        .find(|r| r.policy == e.policy && same_object(&r.file, r.line) && r.document == m.document);
    let failure = report
        .errors
        .iter()
        .find(|x| x.policy.as_deref() == Some(e.policy.as_str()) && same_object(&x.file, x.line));
    let (got, message) = match (finding, failure) {
        (_, Some(f)) => ("error".to_owned(), Some(f.message.clone())),
        (Some(r), None) if !r.allowed => ("reject".to_owned(), r.message.clone()),
        (Some(r), None) if !r.warnings.is_empty() => {
            ("warn".to_owned(), Some(r.warnings.join("\n")))
        }
        (Some(r), None) => ("accept".to_owned(), r.message.clone()),
        (None, None) => ("skip".to_owned(), None),
    };
    let message_ok = match &e.message {
        None => true,
        Some(needle) => message
            .as_deref()
            .is_some_and(|m| m.contains(needle.as_str())),
    };
    Checked {
        field: e.field.clone(),
        object: label(m, default),
        policy: e.policy.clone(),
        expected: e.result,
        expected_message: e.message.clone(),
        passed: got == e.result.as_str() && message_ok,
        got,
        message,
    }
}
