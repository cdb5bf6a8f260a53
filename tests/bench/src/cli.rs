//! `kubectl-aksid check -f` as a user runs it: the built release binary in a child process,
//! measured with a cold (fresh, empty) and a warm compile cache.

use crate::process::{self, Measured};
use crate::table::{CliRow, Run, SmallFile};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

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
        let output = std::fs::read(&stdout)
            .with_context(|| format!("failed to read {}", stdout.display()))?;
        let report: serde_json::Value = serde_json::from_slice(&output).with_context(|| {
            format!(
                "`check -f {} -o json` printed no JSON report",
                input.display()
            )
        })?;
        match report
            .pointer("/summary/objects")
            .and_then(serde_json::Value::as_u64)
        {
            Some(seen) if seen != objects as u64 => {
                bail!(
                    "`check -f {}` checked {seen} objects, but {objects} were generated",
                    input.display()
                )
            }
            Some(_) => {}
            None => eprintln!(
                "aksid-bench: warning: the JSON report has no summary.objects; object count not verified"
            ),
        }
        Ok(Run { wall, peak_rss_kib })
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

    /// A generated set of `objects` objects in `files` files under `input`: `cold_runs` runs,
    /// each with a fresh empty cache, then one unmeasured run to fill the warm cache and
    /// `warm_runs` measured runs with it.
    pub(crate) fn measure_set(
        &self,
        input: &Path,
        objects: usize,
        files: usize,
        cold_runs: usize,
        warm_runs: usize,
    ) -> Result<CliRow> {
        let cold = self.repeat(cold_runs, || {
            let cache = self.fresh_cache("cache-cold")?;
            self.check(input, &cache, objects)
        })?;
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
