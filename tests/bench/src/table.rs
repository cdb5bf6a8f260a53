//! The results of one run and the one markdown table they print as, each number next to its
//! target with ✓ or ✗. Pure: no measuring here, so the smoke test renders made-up results.

use std::fmt::Write as _;
use std::time::Duration;

/// Wall time of `check -f` on 10,000 objects with a warm cache.
pub(crate) const TARGET_WALL_10K: Duration = Duration::from_millis(1000);
/// Peak resident set of a `check -f` run on up to 10,000 objects.
pub(crate) const TARGET_PEAK_RSS_MIB: f64 = 150.0;
/// Peak resident set of `check -f` on 10,000 objects (issue 9).
pub(crate) const TARGET_PEAK_RSS_10K_MIB: f64 = 100.0;
/// Peak resident set of `check -f` on the 15 MB tree of real manifests (Argo CD's size).
pub(crate) const TARGET_PEAK_RSS_TREE_MIB: f64 = 80.0;
/// Memory grows linearly: each object past 10,000 may cost at most this many times what each
/// object from 1,000 to 10,000 cost.
pub(crate) const TARGET_RSS_SLOPE_RATIO: f64 = 2.0;
/// Wasm evaluations may be at most this many times slower than native ones.
pub(crate) const TARGET_WASM_NATIVE: f64 = 2.0;
/// aksid's throughput (objects/s) over Checkov's, at least.
pub(crate) const TARGET_CHECKOV_RATIO: f64 = 100.0;
/// Wall time of `check -f` on one small file with a warm cache.
pub(crate) const TARGET_SMALL_FILE: Duration = Duration::from_millis(30);

/// One measured process: wall time and the child's peak resident set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Run {
    pub(crate) wall: Duration,
    pub(crate) peak_rss_kib: u64,
}

/// `check -f` on one generated set.
#[derive(Debug, Clone)]
pub(crate) struct CliRow {
    pub(crate) objects: usize,
    pub(crate) files: usize,
    /// Median wall time and largest peak RSS of the cold runs (fresh empty cache each), unless
    /// only the warm runs were measured.
    pub(crate) cold: Option<Run>,
    pub(crate) cold_runs: usize,
    /// Median wall time and largest peak RSS of the warm runs.
    pub(crate) warm: Run,
    pub(crate) warm_runs: usize,
}

/// `check -f` on the tree of real manifests ([`aksid_bench::real_tree`]).
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub(crate) bytes: usize,
    pub(crate) files: usize,
    /// As the report counted them.
    pub(crate) objects: u64,
    /// Median wall time and largest peak RSS, warm cache.
    pub(crate) run: Run,
    pub(crate) runs: usize,
}

/// `check -f` on one small file.
#[derive(Debug, Clone)]
pub(crate) struct SmallFile {
    pub(crate) objects: usize,
    pub(crate) run: Run,
    pub(crate) runs: usize,
}

/// Evaluations per second of one policy, through the host and natively.
#[derive(Debug, Clone)]
pub(crate) struct EvalRow {
    pub(crate) policy: String,
    /// Requests of the set the policy's rules select.
    pub(crate) requests: usize,
    pub(crate) one_core: f64,
    pub(crate) all_cores: f64,
    pub(crate) native: f64,
    /// Requests on which the module's verdict differs from the native one (should be 0).
    pub(crate) disagreements: usize,
}

/// Library evaluation rates, measured on requests built from one generated set.
#[derive(Debug, Clone)]
pub(crate) struct Evaluations {
    pub(crate) objects: usize,
    pub(crate) threads: usize,
    pub(crate) rows: Vec<EvalRow>,
}

/// One Checkov scan of a generated set.
#[derive(Debug, Clone)]
pub(crate) struct CheckovRow {
    pub(crate) objects: usize,
    /// Wall time, or why the size was not scanned.
    pub(crate) wall: Result<Duration, String>,
}

/// Checkov, as installed by the bench.
#[derive(Debug, Clone)]
pub(crate) struct Checkov {
    pub(crate) version: String,
    pub(crate) rows: Vec<CheckovRow>,
}

/// Everything one run measured; `Err` holds why a part was skipped.
#[derive(Debug, Clone)]
pub(crate) struct Results {
    pub(crate) cli: Result<Vec<CliRow>, String>,
    pub(crate) tree: Result<Tree, String>,
    pub(crate) small_file: Result<SmallFile, String>,
    pub(crate) evaluations: Result<Evaluations, String>,
    pub(crate) modules: Result<Vec<(String, u64)>, String>,
    pub(crate) checkov: Result<Checkov, String>,
}

/// A target's verdict: `≤ 1.0 s ✓`.
fn verdict(label: String, met: bool) -> String {
    format!("{label} {}", if met { "✓" } else { "✗" })
}

/// The RSS target of a generated set: 100 MiB at 10,000 objects, 150 below; above, the
/// growth row judges linearity.
fn rss_target(objects: usize, run: &Run) -> String {
    let target = match objects {
        10_000 => TARGET_PEAK_RSS_10K_MIB,
        n if n < 10_000 => TARGET_PEAK_RSS_MIB,
        _ => return "RSS grows linearly (below)".to_owned(),
    };
    verdict(
        format!("RSS ≤ {target:.0} MiB"),
        mib(run.peak_rss_kib) <= target,
    )
}

fn none_str() -> String {
    "—".to_owned()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `1,234,567`
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1.23 s`, `45.6 ms`, `123 ms`
pub(crate) fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 1.0 {
        format!("{secs:.2} s")
    } else if secs >= 0.1 {
        format!("{:.0} ms", secs * 1000.0)
    } else {
        format!("{:.1} ms", secs * 1000.0)
    }
}

fn rate(per_s: f64) -> String {
    if per_s >= 100.0 {
        thousands(per_s.round() as u64)
    } else {
        format!("{per_s:.1}")
    }
}

fn objects_per_s(objects: usize, wall: Duration) -> f64 {
    objects as f64 / wall.as_secs_f64().max(1e-9)
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.2} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{} KiB", thousands(bytes.div_ceil(1024)))
    }
}

impl Results {
    /// The markdown table: a header and one row per measurement, skipped parts as rows saying
    /// why.
    pub(crate) fn table(&self) -> String {
        let mut rows: Vec<[String; 3]> = Vec::new();
        let none = || "—".to_owned();
        match &self.cli {
            Ok(cli) => {
                for row in cli {
                    let set = format!(
                        "{} objects in {} files",
                        thousands(row.objects as u64),
                        row.files
                    );
                    let cold = row.cold.as_ref().map(|run| ("cold", run, row.cold_runs));
                    for (cache, run, runs) in
                        cold.into_iter().chain([("warm", &row.warm, row.warm_runs)])
                    {
                        let mut target = rss_target(row.objects, run);
                        if cache == "warm" && row.objects == 10_000 {
                            target = format!(
                                "{} · {target}",
                                verdict(
                                    format!("≤ {}", duration(TARGET_WALL_10K)),
                                    run.wall <= TARGET_WALL_10K
                                )
                            );
                        }
                        rows.push([
                            format!("`check -f`, {set}, {cache} cache (median of {runs})"),
                            format!(
                                "{} · {} objects/s · peak RSS {:.0} MiB",
                                duration(run.wall),
                                rate(objects_per_s(row.objects, run.wall)),
                                mib(run.peak_rss_kib)
                            ),
                            target,
                        ]);
                    }
                }
            }
            Err(why) => rows.push([
                "`check -f` on 100 / 1,000 / 10,000 objects".into(),
                format!("skipped: {why}"),
                none(),
            ]),
        }
        self.growth_row(&mut rows);
        self.tree_row(&mut rows);
        match &self.small_file {
            Ok(small) => rows.push([
                format!(
                    "`check -f`, one file of {} objects, warm cache (median of {})",
                    small.objects, small.runs
                ),
                format!(
                    "{} · peak RSS {:.0} MiB",
                    duration(small.run.wall),
                    mib(small.run.peak_rss_kib)
                ),
                verdict(
                    format!("≤ {}", duration(TARGET_SMALL_FILE)),
                    small.run.wall <= TARGET_SMALL_FILE,
                ),
            ]),
            Err(why) => rows.push([
                "`check -f`, one small file".into(),
                format!("skipped: {why}"),
                none(),
            ]),
        }
        match &self.evaluations {
            Ok(evaluations) => {
                for row in &evaluations.rows {
                    let ratio = row.native / row.one_core.max(1e-9);
                    let mut result = format!(
                        "{} · {} · native {} (wasm/native {ratio:.2}×)",
                        rate(row.one_core),
                        rate(row.all_cores),
                        rate(row.native)
                    );
                    if row.disagreements > 0 {
                        write!(
                            result,
                            " · **{} verdicts differ from native**",
                            row.disagreements
                        )
                        .unwrap();
                    }
                    rows.push([
                        format!(
                            "`{}` evaluations/s: wasm 1 core · wasm {} cores · native 1 core ({} requests from {} objects)",
                            row.policy,
                            evaluations.threads,
                            thousands(row.requests as u64),
                            thousands(evaluations.objects as u64)
                        ),
                        result,
                        verdict(format!("wasm ≤ {TARGET_WASM_NATIVE:.0}× native"), ratio <= TARGET_WASM_NATIVE),
                    ]);
                }
            }
            Err(why) => rows.push([
                "evaluations/s per policy, wasm and native".into(),
                format!("skipped: {why}"),
                none(),
            ]),
        }
        match &self.modules {
            Ok(modules) => {
                for (policy, bytes) in modules {
                    rows.push([format!("module size, `{policy}`"), size(*bytes), none()]);
                }
            }
            Err(why) => rows.push(["module sizes".into(), format!("skipped: {why}"), none()]),
        }
        self.checkov_rows(&mut rows);
        let mut table = String::from("| measurement | result | target |\n|---|---|---|\n");
        for [what, result, target] in rows {
            writeln!(table, "| {what} | {result} | {target} |").unwrap();
        }
        table
    }

    /// Peak RSS per 1,000 more objects, from 1,000 to 10,000 and from 10,000 to 100,000 (warm
    /// cache): linear growth keeps the second near the first.
    fn growth_row(&self, rows: &mut Vec<[String; 3]>) {
        let Ok(cli) = &self.cli else { return };
        let warm = |objects: usize| {
            cli.iter()
                .find(|r| r.objects == objects)
                .map(|r| mib(r.warm.peak_rss_kib))
        };
        let (Some(one), Some(ten), Some(hundred)) = (warm(1000), warm(10_000), warm(100_000))
        else {
            return;
        };
        let first = (ten - one) / 9.0;
        let second = (hundred - ten) / 90.0;
        rows.push([
            "`check -f` peak RSS per 1,000 more objects, warm cache: 1,000→10,000 · 10,000→100,000"
                .into(),
            format!("{first:.2} MiB · {second:.2} MiB"),
            verdict(
                format!("linear (second ≤ {TARGET_RSS_SLOPE_RATIO:.0}× first)"),
                second <= TARGET_RSS_SLOPE_RATIO * first.max(0.01),
            ),
        ]);
    }

    fn tree_row(&self, rows: &mut Vec<[String; 3]>) {
        let what = "`check -f`, tree of real manifests (tests/corpus copied with renamed objects; \
                    stands in for Argo CD's 15 MB tree)";
        match &self.tree {
            Ok(tree) => rows.push([
                format!(
                    "{what}: {:.1} MB in {} files, {} objects, warm cache (median of {})",
                    tree.bytes as f64 / 1e6,
                    thousands(tree.files as u64),
                    thousands(tree.objects),
                    tree.runs
                ),
                format!(
                    "{} · peak RSS {:.0} MiB",
                    duration(tree.run.wall),
                    mib(tree.run.peak_rss_kib)
                ),
                verdict(
                    format!("RSS ≤ {TARGET_PEAK_RSS_TREE_MIB:.0} MiB"),
                    mib(tree.run.peak_rss_kib) <= TARGET_PEAK_RSS_TREE_MIB,
                ),
            ]),
            Err(why) => rows.push([what.into(), format!("skipped: {why}"), none_str()]),
        }
    }

    fn checkov_rows(&self, rows: &mut Vec<[String; 3]>) {
        let checkov = match &self.checkov {
            Ok(checkov) => checkov,
            Err(why) => {
                rows.push([
                    "Checkov; aksid/Checkov throughput".into(),
                    format!("skipped: {why}"),
                    "≥ 100× —".into(),
                ]);
                return;
            }
        };
        for row in &checkov.rows {
            let objects = thousands(row.objects as u64);
            let wall = match &row.wall {
                Ok(wall) => *wall,
                Err(why) => {
                    rows.push([
                        format!("Checkov {}, {objects} objects", checkov.version),
                        format!("skipped: {why}"),
                        "—".into(),
                    ]);
                    continue;
                }
            };
            rows.push([
                format!(
                    "Checkov {}, {objects} objects (kubernetes + secrets frameworks)",
                    checkov.version
                ),
                format!(
                    "{} · {} objects/s",
                    duration(wall),
                    rate(objects_per_s(row.objects, wall))
                ),
                "—".into(),
            ]);
            let aksid = self
                .cli
                .as_ref()
                .ok()
                .and_then(|cli| cli.iter().find(|r| r.objects == row.objects));
            if let Some(aksid) = aksid {
                let warm = wall.as_secs_f64() / aksid.warm.wall.as_secs_f64().max(1e-9);
                let cold = match &aksid.cold {
                    Some(cold) => {
                        let ratio = wall.as_secs_f64() / cold.wall.as_secs_f64().max(1e-9);
                        format!(" · {ratio:.0}× cold cache")
                    }
                    None => String::new(),
                };
                rows.push([
                    format!("aksid/Checkov throughput, {objects} objects"),
                    format!("{warm:.0}× warm cache{cold}"),
                    verdict(
                        format!("≥ {TARGET_CHECKOV_RATIO:.0}×"),
                        warm >= TARGET_CHECKOV_RATIO,
                    ),
                ]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ms: u64, rss_mib: u64) -> Run {
        Run {
            wall: Duration::from_millis(ms),
            peak_rss_kib: rss_mib * 1024,
        }
    }

    pub(crate) fn sample() -> Results {
        Results {
            cli: Ok(vec![CliRow {
                objects: 10_000,
                files: 341,
                cold: Some(run(1500, 120)),
                cold_runs: 3,
                warm: run(900, 160),
                warm_runs: 5,
            }]),
            tree: Ok(Tree {
                bytes: 15_000_000,
                files: 2790,
                objects: 5340,
                run: run(700, 90),
                runs: 3,
            }),
            small_file: Ok(SmallFile {
                objects: 8,
                run: run(31, 20),
                runs: 10,
            }),
            evaluations: Ok(Evaluations {
                objects: 1000,
                threads: 2,
                rows: vec![EvalRow {
                    policy: "no-local-accounts".into(),
                    requests: 120,
                    one_core: 50_000.0,
                    all_cores: 95_000.0,
                    native: 80_000.0,
                    disagreements: 0,
                }],
            }),
            modules: Ok(vec![("no-local-accounts".into(), 420_000)]),
            checkov: Ok(Checkov {
                version: "3.3.30".into(),
                rows: vec![
                    CheckovRow {
                        objects: 10_000,
                        wall: Ok(Duration::from_secs(120)),
                    },
                    CheckovRow {
                        objects: 1000,
                        wall: Err("over budget".into()),
                    },
                ],
            }),
        }
    }

    #[test]
    fn formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(duration(Duration::from_millis(1234)), "1.23 s");
        assert_eq!(duration(Duration::from_millis(123)), "123 ms");
        assert_eq!(duration(Duration::from_micros(12_345)), "12.3 ms");
        assert_eq!(size(420_000), "411 KiB");
    }

    #[test]
    fn targets_are_judged() {
        let table = sample().table();
        let line = |needle: &str| {
            table
                .lines()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("{needle}\n{table}"))
        };
        assert!(line("10,000 objects in 341 files, warm").contains("≤ 1.00 s ✓ · RSS ≤ 100 MiB ✗"));
        assert!(line("10,000 objects in 341 files, cold").ends_with("RSS ≤ 100 MiB ✗ |"));
        assert!(line("stands in for Argo CD").contains("15.0 MB in 2,790 files, 5,340 objects"));
        assert!(line("stands in for Argo CD").ends_with("peak RSS 90 MiB | RSS ≤ 80 MiB ✗ |"));
        assert!(line("one file of 8 objects").contains("≤ 30.0 ms ✗"));
        assert!(line("`no-local-accounts` evaluations/s").contains("1.60×"));
        assert!(line("`no-local-accounts` evaluations/s").contains("✓"));
        assert!(
            line("aksid/Checkov throughput, 10,000")
                .contains("133× warm cache · 80× cold cache | ≥ 100× ✓")
        );
        assert!(line("Checkov 3.3.30, 1,000 objects").contains("skipped: over budget"));
        assert!(line("module size").contains("411 KiB"));
    }

    #[test]
    fn skipped_parts_say_why() {
        let results = Results {
            cli: Err("no binary".into()),
            tree: Err("no binary".into()),
            small_file: Err("no binary".into()),
            evaluations: Err("no modules".into()),
            modules: Err("no modules".into()),
            checkov: Err("pip failed".into()),
        };
        let table = results.table();
        assert_eq!(table.lines().count(), 2 + 6);
        assert!(table.lines().skip(2).all(|l| l.contains("skipped: ")));
    }
}

#[cfg(test)]
mod growth {
    use super::tests::sample;
    use super::*;

    fn row(objects: usize, rss_mib: u64) -> CliRow {
        let run = Run {
            wall: Duration::from_millis(100),
            peak_rss_kib: rss_mib * 1024,
        };
        CliRow {
            objects,
            files: objects / 30,
            cold: None,
            cold_runs: 0,
            warm: run,
            warm_runs: 1,
        }
    }

    /// The growth row's verdict from the warm peak RSS at 1k, 10k and 100k objects; sets
    /// measured warm only have no cold rows.
    #[test]
    fn growth_is_judged_linear_or_not() {
        for (case, one, ten, hundred, mark) in [
            ("linear", 30, 66, 420, "✓ |"),
            ("superlinear", 30, 66, 1500, "✗ |"),
        ] {
            let mut results = sample();
            results.cli = Ok(vec![
                row(1000, one),
                row(10_000, ten),
                row(100_000, hundred),
            ]);
            let table = results.table();
            let line = table
                .lines()
                .find(|l| l.contains("per 1,000 more objects"))
                .unwrap_or_else(|| panic!("{case}: no growth row:\n{table}"));
            assert!(line.ends_with(mark), "{case}: {line}");
            assert!(!table.contains("cold cache ("), "{case}: {table}");
        }
    }
}
