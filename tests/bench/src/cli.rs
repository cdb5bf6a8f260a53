//! `kubectl-aksid check -f` as a user runs it: the built release binary in a child process,
//! measured with a cold (fresh, empty) and a warm compile cache.

use crate::process::{self, Measured};
use crate::table::{CliRow, Run, SmallFile, Tree};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the bench reads of a JSON report.
#[derive(serde::Deserialize)]
struct ReportSummary {
    summary: Option<Summary>,
}

#[derive(serde::Deserialize)]
struct Summary {
    objects: Option<u64>,
}

/// The binary and the scratch directory of its runs.
pub(crate) struct Cli {
    pub(crate) binary: PathBuf,
    /// Holds the caches and the captured output of every run.
    pub(crate) scratch: PathBuf,
}

impl Cli {
    /// One `check -f INPUT -o json --cache-dir CACHE`; exit 0 (all accepted) and 1 (something
    /// rejected) are both success, 2 or a signal fails the bench, as does an object count that
    /// differs from the generated one (the run would not have measured what it claims).
    pub(crate) fn check(&self, input: &Path, cache_dir: &Path, objects: usize) -> Result<Run> {
        let (run, _) = self.check_counting(input, cache_dir, Some(objects))?;
        Ok(run)
    }

    /// [`check`](Self::check), returning the number of objects the report counted (checked
    /// against `objects` when given).
    pub(crate) fn check_counting(
        &self,
        input: &Path,
        cache_dir: &Path,
        objects: Option<usize>,
    ) -> Result<(Run, u64)> {
        let (stdout, stderr) = (
            self.scratch.join("check.stdout.json"),
            self.scratch.join("check.stderr"),
        );
        let mut command = Command::new(&self.binary);
        command
            .args(["check", "-f"])
            .arg(input)
            .args(["-o", "json", "--cache-dir"])
            .arg(cache_dir)
            .env("AKSID_CACHE_DIR", cache_dir);
        let Measured {
            wall,
            peak_rss_kib,
            exit,
        } = process::measure(&mut command, &stdout, &stderr)?;
        let tail = || {
            let text = std::fs::read_to_string(&stderr).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(20)..].join("\n")
        };
        match exit {
            Some(0 | 1) => {}
            Some(code) => bail!(
                "`{} check -f {} -o json --cache-dir {}` exited {code}:\n{}",
                self.binary.display(),
                input.display(),
                cache_dir.display(),
                tail()
            ),
            None => bail!(
                "`{} check -f {}` was killed by a signal:\n{}",
                self.binary.display(),
                input.display(),
                tail()
            ),
        }
        let output = std::fs::File::open(&stdout)
            .with_context(|| format!("failed to read {}", stdout.display()))?;
        // Only the count is read, streaming: parsing a 100,000-object report whole would raise
        // the bench's own resident set to hundreds of MiB.
        let report: ReportSummary = serde_json::from_reader(std::io::BufReader::new(output))
            .with_context(|| {
                format!(
                    "`check -f {} -o json` printed no JSON report",
                    input.display()
                )
            })?;
        let seen = report.summary.and_then(|s| s.objects);
        match (seen, objects) {
            (Some(seen), Some(objects)) if seen != objects as u64 => {
                bail!(
                    "`check -f {}` checked {seen} objects, but {objects} were generated",
                    input.display()
                )
            }
            (Some(_), _) => {}
            (None, _) => eprintln!(
                "aksid-bench: warning: the JSON report has no summary.objects; object count not verified"
            ),
        }
        Ok((Run { wall, peak_rss_kib }, seen.unwrap_or(0)))
    }

    fn fresh_cache(&self, name: &str) -> Result<PathBuf> {
        let dir = self.scratch.join(name);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("failed to remove {}", dir.display()));
            }
            _ => {}
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
        Ok(dir)
    }

    /// `runs` runs: the median wall time, the largest peak RSS.
    fn repeat(&self, runs: usize, mut once: impl FnMut() -> Result<Run>) -> Result<Run> {
        let mut walls = Vec::with_capacity(runs);
        let mut peak_rss_kib = 0;
        for _ in 0..runs {
            let run = once()?;
            walls.push(run.wall);
            peak_rss_kib = peak_rss_kib.max(run.peak_rss_kib);
        }
        Ok(Run {
            wall: process::median(&mut walls),
            peak_rss_kib,
        })
    }

    /// A generated set of `objects` objects in `files` files under `input`: `cold_runs` runs
    /// (none: no cold row), each with a fresh empty cache, then one unmeasured run to fill the
    /// warm cache and `warm_runs` measured runs with it.
    pub(crate) fn measure_set(
        &self,
        input: &Path,
        objects: usize,
        files: usize,
        cold_runs: usize,
        warm_runs: usize,
    ) -> Result<CliRow> {
        let cold = if cold_runs == 0 {
            None
        } else {
            Some(self.repeat(cold_runs, || {
                let cache = self.fresh_cache("cache-cold")?;
                self.check(input, &cache, objects)
            })?)
        };
        let warm_cache = self.warm_cache()?;
        self.check(input, &warm_cache, objects)?;
        let warm = self.repeat(warm_runs, || self.check(input, &warm_cache, objects))?;
        Ok(CliRow {
            objects,
            files,
            cold,
            cold_runs,
            warm,
            warm_runs,
        })
    }

    /// The tree of real manifests under `input` (`bytes` in `files` files), warm cache, `runs`
    /// measured runs after one unmeasured.
    pub(crate) fn measure_tree(
        &self,
        input: &Path,
        bytes: usize,
        files: usize,
        runs: usize,
    ) -> Result<Tree> {
        let warm_cache = self.warm_cache()?;
        let (_, objects) = self.check_counting(input, &warm_cache, None)?;
        let run = self.repeat(runs, || {
            Ok(self.check_counting(input, &warm_cache, None)?.0)
        })?;
        Ok(Tree {
            bytes,
            files,
            objects,
            run,
            runs,
        })
    }

    /// One small file, warm cache, `runs` measured runs after one unmeasured.
    pub(crate) fn measure_small_file(
        &self,
        file: &Path,
        objects: usize,
        runs: usize,
    ) -> Result<SmallFile> {
        let warm_cache = self.warm_cache()?;
        self.check(file, &warm_cache, objects)?;
        let run = self.repeat(runs, || self.check(file, &warm_cache, objects))?;
        Ok(SmallFile { objects, run, runs })
    }

    fn warm_cache(&self) -> Result<PathBuf> {
        let dir = self.scratch.join("cache-warm");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
        Ok(dir)
    }
}
