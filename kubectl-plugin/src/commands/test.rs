//! `kubectl aksid test`: test files name manifests, policies, settings, the request and the
//! verdict each policy must give each object; every test runs in this one process, on one host
//! (compile cache, limits), through the same pipeline as `check`. `--init DIR` writes a starter
//! test file that freezes what `check` finds in DIR today.
//!
//! Tests are hermetic: no `.aksid.yaml` is searched; a test that wants exceptions names its file.

mod init;
mod output;
mod run;
mod spec;

use crate::Outcome;
use crate::cli::{PolicyArgs, TestArgs};
use crate::pipeline;
use anyhow::{Context, Result};
use output::TestRun;
use run::{RunContext, TestOutcome};
use spec::{SpecError, TestSpec};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The names a directory walk picks up as test files.
const TEST_FILE_NAMES: [&str; 2] = ["aksid-test.yaml", "aksid-test.yml"];

pub fn execute(args: TestArgs) -> Result<Outcome> {
    let policy_args = PolicyArgs {
        policies: Vec::new(),
        settings: None,
        cache_dir: args.cache_dir.clone(),
        no_cache: args.no_cache,
        insecure_registries: args.insecure_registries.clone(),
        max_module_size: crate::policy_set::DEFAULT_MAX_MODULE_SIZE,
        deadline: None,
        verification_config: None,
        verify_key: None,
    };
    let host = pipeline::host(&policy_args, args.timeout, args.memory_limit)?;
    let ctx = RunContext {
        host: &host,
        policy_args: &policy_args,
        max_file_size: args.max_file_size,
    };
    if let Some(dir) = &args.init {
        return init::write(dir, &ctx);
    }
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let (specs, mut errors) = find_tests(&paths);
    let mut tests: Vec<TestOutcome> = Vec::new();
    for spec in &specs {
        match run::run_test(spec, &ctx) {
            Ok(outcome) => tests.push(outcome),
            Err(e) => errors.push(e),
        }
    }
    let run = TestRun::new(tests, errors);
    let mut out = std::io::stdout().lock();
    out.write_all(output::render(&run, args.output).as_bytes())?;
    out.flush()?;
    Ok(match run.exit_code() {
        0 => Outcome::Clean,
        1 => Outcome::Rejected,
        _ => Outcome::Error,
    })
}

/// Every test of every test file under `paths`, and the problems with the files.
fn find_tests(paths: &[PathBuf]) -> (Vec<TestSpec>, Vec<SpecError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            let before = files.len();
            files.extend(walk(path));
            if files.len() == before {
                errors.push(file_error(
                    path,
                    format!(
                        "no test files ({}) found in this directory",
                        TEST_FILE_NAMES.join(", ")
                    ),
                ));
            }
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            errors.push(file_error(path, "no such file or directory".to_owned()));
        }
    }
    let mut specs = Vec::new();
    for file in files {
        match read_tests(&file) {
            Ok(found) => specs.extend(found),
            Err(e) => errors.extend(e),
        }
    }
    (specs, errors)
}

fn file_error(path: &Path, message: String) -> SpecError {
    SpecError {
        file: path.display().to_string(),
        test: None,
        field: None,
        message,
    }
}

/// Test files below `dir`, sorted; hidden and git-ignored entries skipped, as `check` walks.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = ignore::WalkBuilder::new(dir)
        .sort_by_file_name(|a, b| a.cmp(b))
        .build()
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_some_and(|t| t.is_file()))
        .filter(|entry| {
            TEST_FILE_NAMES
                .iter()
                .any(|n| entry.file_name() == std::ffi::OsStr::new(n))
        })
        .map(|entry| entry.into_path())
        .collect();
    found.sort();
    found
}

/// The tests of one file (each YAML document is a test).
fn read_tests(file: &Path) -> Result<Vec<TestSpec>, Vec<SpecError>> {
    let name = file.display().to_string();
    let bytes = std::fs::read(file)
        .with_context(|| format!("reading {name}"))
        .map_err(|e| vec![file_error(file, format!("{e:#}"))])?;
    let loaded = aksid_manifests::load(&name, &bytes);
    let mut errors: Vec<SpecError> = loaded
        .problems
        .iter()
        .map(|p| SpecError {
            file: name.clone(),
            test: None,
            field: p.field.clone(),
            message: format!("line {}: {}", p.line, p.message),
        })
        .collect();
    if loaded.objects.is_empty() && errors.is_empty() {
        errors.push(file_error(
            file,
            "holds no tests; a test file expects something".to_owned(),
        ));
    }
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut specs = Vec::new();
    for manifest in &loaded.objects {
        match spec::parse_test(manifest, &dir) {
            Ok(s) => specs.push(s),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(errors)
    }
}
