//! `aksid-bench`: the end-to-end benchmark of aksid behind `make bench`.
//!
//! Generates seeded manifest sets into `.bench/sets/` and measures, in one run on this
//! machine: `kubectl-aksid check -f` (the release binary, in a child process) with the compile
//! cache cold and warm, wall time and peak RSS; evaluations per second per policy through the
//! host library on one core and on all cores, and of the same rule code linked natively; module
//! sizes; and Checkov, installed from PyPI into `.bench/venv`, on the same files; and the peak
//! RSS of `check -f` on a 15 MB tree of real manifests (`aksid_bench::real_tree`). Prints one
//! markdown table with each target next to its number, and writes it to `.bench/results.md`.
//! `--rss-only` measures just the memory rows (1k, 10k, 100k objects and the real tree).
//!
//! Speed goals are judged by the printed numbers, never by timed tests.

mod checkov;
mod cli;
mod engine;
mod process;
mod table;

use aksid_bench::generate::{self, DEFAULT_SEED};
use aksid_bench::real_tree;
use anyhow::{Context, Result, bail};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;
use table::Results;

/// Measure aksid end to end and print the README's performance table.
#[derive(Debug, Parser)]
#[command(
    name = "aksid-bench",
    after_help = "Examples:\n  make bench\n  cargo run --release -p aksid-bench -- --sizes 100,1000 --skip-checkov\n  cargo run --release -p aksid-bench -- --quick\n  cargo run --release -p aksid-bench -- --rss-only"
)]
struct Args {
    /// Sizes of the generated manifest sets, in objects [default: 100,1000,10000; 100 with
    /// --quick].
    #[arg(long, value_delimiter = ',', value_name = "NUM,...")]
    sizes: Option<Vec<usize>>,
    /// Do not install or run Checkov.
    #[arg(long)]
    skip_checkov: bool,
    /// A smoke run: 100 objects, one run each, short evaluation loops, no Checkov.
    #[arg(long)]
    quick: bool,
    /// Only the memory rows: peak RSS of `check -f` with a warm cache on the --sizes sets
    /// [default: 1000,10000,100000] and on the 15 MB tree of real manifests; no cold runs,
    /// evaluations, module sizes or Checkov.
    #[arg(long, conflicts_with = "quick")]
    rss_only: bool,
    /// Seed of the manifest generator.
    #[arg(long, default_value_t = DEFAULT_SEED, value_name = "NUM")]
    seed: u64,
    /// The kubectl-aksid binary to measure [default: target/release/kubectl-aksid].
    #[arg(long, value_name = "PATH")]
    binary: Option<PathBuf>,
    /// Folder of the annotated modules (`<id>/policy.wasm`) [default: artifacts].
    #[arg(long, value_name = "DIR")]
    artifacts: Option<PathBuf>,
    /// Largest extrapolated time, in seconds, of one Checkov scan; larger sets are skipped.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    checkov_budget: u64,
    /// Measured warm-cache runs per set (the median is reported) [default: 5; 1 with --quick].
    #[arg(long, value_name = "NUM")]
    warm_runs: Option<usize>,
}

/// Objects of the small file of the single-file row.
const SMALL_FILE_OBJECTS: usize = 8;

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aksid-bench: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The workspace root: this package lives in `tests/bench/`.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: Args) -> Result<()> {
    let root = workspace_root();
    let bench = root.join(".bench");
    let scratch = bench.join("run");
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("failed to create {}", scratch.display()))?;
    // The warm cache is filled by this run's binary, never by an older one.
    let _ = std::fs::remove_dir_all(scratch.join("cache-warm"));

    if args.rss_only {
        return run_rss_only(&args, &root, &bench, &scratch);
    }
    let sizes = sizes(&args, &[100, 1000, 10_000])?;
    let (cold_runs, warm_runs) = if args.quick {
        (1, 1)
    } else {
        (3, args.warm_runs.unwrap_or(5).max(1))
    };
    let runs = Runs {
        cold: cold_runs,
        warm: warm_runs,
        small: if args.quick { 3 } else { 10 },
    };
    let sets = generate_sets(&bench.join("sets"), &sizes, args.seed)?;

    let (cli, tree, small_file) = measure_cli(&args, &root, &bench, &scratch, &sets, runs)?;
    let (modules, evaluations) = measure_engine(&args, &root, &scratch)?;
    let checkov = measure_checkov(&args, &bench, &scratch, &sets);

    let results = Results {
        cli,
        tree,
        small_file,
        evaluations,
        modules,
        checkov,
    };
    print_results(&root, &bench, &results)
}

/// How many times each `check -f` measurement runs.
#[derive(Debug, Clone, Copy)]
struct Runs {
    cold: usize,
    warm: usize,
    small: usize,
}

/// What `measure_cli` measured: the generated sets, the real tree and the small file.
type CliRows = (
    Result<Vec<table::CliRow>, String>,
    Result<table::Tree, String>,
    Result<table::SmallFile, String>,
);

/// `check -f` with the release binary on the generated sets, the tree of real manifests and
/// one small file; each row says why when the binary is missing.
fn measure_cli(
    args: &Args,
    root: &Path,
    bench: &Path,
    scratch: &Path,
    sets: &[Set],
    runs: Runs,
) -> Result<CliRows> {
    let small = bench.join("sets").join("small");
    let small_files = generate::generate(SMALL_FILE_OBJECTS, args.seed);
    generate::write(&small, &small_files)?;
    let small_file = small.join(&small_files[0].0);
    let (cold_runs, warm_runs, small_runs) = (runs.cold, runs.warm, runs.small);
    let binary = binary(args, root);
    let mut tree = Err(format!("{} not found; build it first", binary.display()));
    let (rows, small_file) = if binary.is_file() {
        let cli = cli::Cli {
            binary,
            scratch: scratch.to_owned(),
        };
        let mut rows = Vec::new();
        for set in sets {
            eprintln!(
                "aksid-bench: check -f on {} objects ({cold_runs} cold, {warm_runs} warm runs)",
                set.objects
            );
            rows.push(cli.measure_set(&set.dir, set.objects, set.files, cold_runs, warm_runs)?);
        }
        tree = measure_tree(&cli, root, bench, args.seed, warm_runs);
        eprintln!("aksid-bench: check -f on one small file ({small_runs} runs)");
        (
            Ok(rows),
            Ok(cli.measure_small_file(&small_file, SMALL_FILE_OBJECTS, small_runs)?),
        )
    } else {
        let why = format!(
            "{} not found; build it first (`make build`)",
            binary.display()
        );
        (Err(why.clone()), Err(why))
    };

    Ok((rows, tree, small_file))
}

/// What `measure_engine` measured: module sizes (name, bytes) and evaluation rates.
type EngineRows = (
    Result<Vec<(String, u64)>, String>,
    Result<table::Evaluations, String>,
);

/// The module sizes and the evaluation rates (wasm and native) of the committed modules.
fn measure_engine(args: &Args, root: &Path, scratch: &Path) -> Result<EngineRows> {
    let eval_objects = if args.quick { 100 } else { 1000 };
    let eval_duration = Duration::from_millis(if args.quick { 50 } else { 1000 });
    let artifacts = args
        .artifacts
        .clone()
        .unwrap_or_else(|| root.join("artifacts"));
    let modules = engine::module_sizes(&artifacts)
        .map_err(|e| format!("{e:#}; build them first (`make artifacts`)"));
    let evaluations = if modules.is_ok() {
        let policies = engine::load_policies(&artifacts, &scratch.join("cache-library"))?;
        let requests = engine::requests(&generate::generate(eval_objects, args.seed))?;
        Ok(engine::measure(
            &policies,
            &requests,
            eval_objects,
            eval_duration,
        )?)
    } else {
        Err("no modules in artifacts/".to_owned())
    };

    Ok((modules, evaluations))
}

/// Checkov on the same sets (installed into `.bench/venv`), unless skipped.
fn measure_checkov(
    args: &Args,
    bench: &Path,
    scratch: &Path,
    sets: &[Set],
) -> Result<table::Checkov, String> {
    if args.quick {
        Err("--quick".to_owned())
    } else if args.skip_checkov {
        Err("--skip-checkov".to_owned())
    } else {
        checkov::install(bench).map(|bin| {
            let dirs: Vec<(usize, PathBuf)> =
                sets.iter().map(|s| (s.objects, s.dir.clone())).collect();
            checkov::measure(
                &bin,
                &dirs,
                scratch,
                Duration::from_secs(args.checkov_budget),
            )
        })
    }
}

/// `--sizes`, sorted and deduplicated, else `default`.
fn sizes(args: &Args, default: &[usize]) -> Result<Vec<usize>> {
    let mut sizes = args.sizes.clone().unwrap_or_else(|| {
        if args.quick {
            vec![100]
        } else {
            default.to_vec()
        }
    });
    sizes.sort_unstable();
    sizes.dedup();
    if sizes.contains(&0) {
        bail!("--sizes must be positive");
    }
    Ok(sizes)
}

/// `--binary`, else `$CARGO_TARGET_DIR/release/kubectl-aksid`.
fn binary(args: &Args, root: &Path) -> PathBuf {
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    args.binary
        .clone()
        .unwrap_or_else(|| target_dir.join("release").join("kubectl-aksid"))
}

fn print_results(root: &Path, bench: &Path, results: &Results) -> Result<()> {
    let text = format!("{}\n\n{}", describe_machine(root), results.table());
    print!("{text}");
    let out = bench.join("results.md");
    std::fs::write(&out, &text).with_context(|| format!("failed to write {}", out.display()))?;
    eprintln!("aksid-bench: wrote {}", out.display());
    Ok(())
}

/// `--rss-only`: the warm peak RSS of each set and of the real tree, and the growth row.
fn run_rss_only(args: &Args, root: &Path, bench: &Path, scratch: &Path) -> Result<()> {
    let sizes = sizes(args, &[1000, 10_000, 100_000])?;
    let binary = binary(args, root);
    if !binary.is_file() {
        bail!(
            "{} not found; build it first (`make build`)",
            binary.display()
        );
    }
    let sets = generate_sets(&bench.join("sets"), &sizes, args.seed)?;
    let cli = cli::Cli {
        binary,
        scratch: scratch.to_owned(),
    };
    let runs = args.warm_runs.unwrap_or(3).max(1);
    let mut rows = Vec::new();
    for set in &sets {
        eprintln!(
            "aksid-bench: check -f on {} objects ({runs} warm runs)",
            set.objects
        );
        rows.push(cli.measure_set(&set.dir, set.objects, set.files, 0, runs)?);
    }
    let skipped = "--rss-only".to_owned();
    let results = Results {
        cli: Ok(rows),
        tree: measure_tree(&cli, root, bench, args.seed, runs),
        small_file: Err(skipped.clone()),
        evaluations: Err(skipped.clone()),
        modules: Err(skipped.clone()),
        checkov: Err(skipped.clone()),
    };
    print_results(root, bench, &results)
}

/// Builds the 15 MB tree of real manifests into `.bench/sets/real-tree` and measures it; an
/// error becomes the row's reason.
fn measure_tree(
    cli: &cli::Cli,
    root: &Path,
    bench: &Path,
    seed: u64,
    runs: usize,
) -> Result<table::Tree, String> {
    let measure = || -> Result<table::Tree> {
        let corpus = root.join("tests/corpus");
        let files = real_tree::build(&corpus, real_tree::ARGO_CD_BYTES, seed)
            .with_context(|| format!("failed to read {}", corpus.display()))?;
        let dir = bench.join("sets").join("real-tree");
        generate::write(&dir, &files)
            .with_context(|| format!("failed to write {}", dir.display()))?;
        let bytes = files.iter().map(|(_, text)| text.len()).sum();
        eprintln!("aksid-bench: check -f on {bytes} bytes of real manifests ({runs} warm runs)");
        cli.measure_tree(&dir, bytes, files.len(), runs)
    };
    measure().map_err(|e| format!("{e:#}"))
}

/// One generated set on disk.
struct Set {
    objects: usize,
    files: usize,
    dir: PathBuf,
}

fn generate_sets(dir: &Path, sizes: &[usize], seed: u64) -> Result<Vec<Set>> {
    sizes
        .iter()
        .map(|&objects| {
            eprintln!("aksid-bench: generating {objects} objects");
            let files = generate::generate(objects, seed);
            let set = dir.join(objects.to_string());
            generate::write(&set, &files)
                .with_context(|| format!("failed to write {}", set.display()))?;
            Ok(Set {
                objects,
                files: files.len(),
                dir: set,
            })
        })
        .collect()
}

/// `Measured on 2025-11-22 (commit abc1234): AMD EPYC …, 2 cores, 23 GiB, Linux 6.8.0; load
/// average 0.05 at the start.`
fn describe_machine(root: &Path) -> String {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let memory_gib = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or_else(String::new, |kib| {
            format!(", {:.0} GiB", kib / 1024.0 / 1024.0)
        });
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let command = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let date = command("date", &["-u", "+%Y-%m-%d"]).unwrap_or_default();
    let commit =
        command("git", &["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    let dirty = command("git", &["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|s| !s.is_empty());
    // Other work on the machine skews every number, the all-cores ones most: say how busy it was.
    let load = read("/proc/loadavg")
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_owned();
    format!(
        "Measured on {date} (commit {commit}{}): {cpu}, {cores} cores{memory_gib}, Linux {}; load average {load} \
         at the start.",
        if dirty { ", with local changes" } else { "" },
        read("/proc/sys/kernel/osrelease").trim()
    )
}

#[cfg(test)]
mod smoke {
    //! The generator and the table code on a tiny set, without any timing assertion.

    use super::*;

    #[test]
    fn generates_sets_and_renders_the_table() {
        let dir = std::env::temp_dir().join(format!("aksid-bench-smoke-{}", std::process::id()));
        let sets = generate_sets(&dir, &[12, 30], 1).unwrap();
        assert_eq!(sets.iter().map(|s| s.objects).collect::<Vec<_>>(), [12, 30]);
        assert!(sets.iter().all(|s| s.dir.is_dir() && s.files >= 1));
        let requests = engine::requests(&generate::generate(30, 1)).unwrap();
        assert_eq!(requests.len(), 30);
        assert!(
            requests
                .iter()
                .all(|r| r["operation"] == "CREATE" && r["object"]["kind"].is_string())
        );
        std::fs::remove_dir_all(&dir).unwrap();

        let results = Results {
            cli: Err("not built".into()),
            tree: Err("not built".into()),
            small_file: Err("not built".into()),
            evaluations: Err("no modules".into()),
            modules: engine::module_sizes(&workspace_root().join("artifacts"))
                .map_err(|e| e.to_string()),
            checkov: Err("--skip-checkov".into()),
        };
        let table = results.table();
        assert!(table.starts_with("| measurement | result | target |\n|---|---|---|\n"));
        assert!(describe_machine(&workspace_root()).starts_with("Measured on "));
    }

    #[test]
    fn flags_parse() {
        let args = Args::try_parse_from([
            "aksid-bench",
            "--sizes",
            "100,1000",
            "--skip-checkov",
            "--quick",
        ])
        .unwrap();
        assert_eq!(args.sizes, Some(vec![100, 1000]));
        assert!(args.skip_checkov && args.quick);
    }
}
