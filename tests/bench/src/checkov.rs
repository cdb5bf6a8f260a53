//! Checkov, the one peer scanner installable from a package registry here (PyPI), installed
//! into `.bench/venv` by the bench itself and run offline on the same generated files, the way
//! the research ran it (`--framework kubernetes secrets --skip-download --quiet --compact -o
//! json`).

use crate::process;
use crate::table::{Checkov, CheckovRow};
use anyhow::{Result, anyhow};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Pinned so that two runs compare the same Checkov (the version the research measured).
pub(crate) const VERSION: &str = "3.3.30";

/// Creates `.bench/venv` and installs Checkov into it, unless it is already there. `Err` is
/// the reason it cannot be had (no python3, no venv module, pip error, no network).
pub(crate) fn install(bench: &Path) -> Result<PathBuf, String> {
    let venv = bench.join("venv");
    let checkov = venv.join("bin").join("checkov");
    if version(&checkov).as_deref() == Some(VERSION) {
        return Ok(checkov);
    }
    let run = |program: &Path, args: &[&str], what: &str| -> Result<(), String> {
        eprintln!("aksid-bench: {what}");
        let output = Command::new(program)
            .args(args)
            .output()
            .map_err(|e| format!("{what} failed: cannot run {}: {e}", program.display()))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        Err(format!("{what} failed ({}): {last}", output.status))
    };
    let venv_arg = venv.to_string_lossy().into_owned();
    run(
        Path::new("python3"),
        &["-m", "venv", &venv_arg],
        "creating the Checkov virtual environment",
    )?;
    let pip = venv.join("bin").join("pip");
    let requirement = format!("checkov=={VERSION}");
    run(
        &pip,
        &[
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &requirement,
        ],
        &format!("pip install {requirement} (about a minute)"),
    )?;
    match version(&checkov) {
        Some(v) if v == VERSION => Ok(checkov),
        other => Err(format!(
            "checkov --version printed {other:?} after installing {VERSION}"
        )),
    }
}

fn version(checkov: &Path) -> Option<String> {
    let output = Command::new(checkov).arg("--version").output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// One scan of `dir`: its wall time. Exit 0 (all passed) and 1 (failed checks) are both a
/// completed scan; anything else, or output that is not JSON, is an error.
pub(crate) fn scan(checkov: &Path, dir: &Path, scratch: &Path) -> Result<Duration> {
    let (stdout, stderr) = (
        scratch.join("checkov.stdout.json"),
        scratch.join("checkov.stderr"),
    );
    let mut command = Command::new(checkov);
    command.arg("-d").arg(dir).args([
        "--framework",
        "kubernetes",
        "secrets",
        "--skip-download",
        "--quiet",
        "--compact",
        "-o",
        "json",
    ]);
    let measured = process::measure(&mut command, &stdout, &stderr)?;
    if !matches!(measured.exit, Some(0 | 1)) {
        let text = std::fs::read_to_string(&stderr).unwrap_or_default();
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message")
            .to_owned();
        return Err(anyhow!("checkov exited {:?}: {last}", measured.exit));
    }
    let output = std::fs::read(&stdout)?;
    serde_json::from_slice::<serde_json::Value>(&output)
        .map_err(|e| anyhow!("checkov printed no JSON report: {e}"))?;
    Ok(measured.wall)
}

/// Scans each `(objects, dir)` in increasing size; a size whose time, extrapolated linearly
/// from the previous scan, would exceed `budget` is skipped with that estimate.
pub(crate) fn measure(
    checkov: &Path,
    sets: &[(usize, PathBuf)],
    scratch: &Path,
    budget: Duration,
) -> Checkov {
    let mut rows = Vec::new();
    let mut last: Option<(usize, Duration)> = None;
    for (objects, dir) in sets {
        if let Some((done, wall)) = last {
            let estimate = wall.mul_f64(*objects as f64 / done as f64);
            if estimate > budget {
                rows.push(CheckovRow {
                    objects: *objects,
                    wall: Err(format!(
                        "would take about {:.0} s (extrapolated), over the {} s budget (--checkov-budget)",
                        estimate.as_secs_f64(),
                        budget.as_secs()
                    )),
                });
                continue;
            }
        }
        eprintln!("aksid-bench: Checkov on {objects} objects");
        let wall = scan(checkov, dir, scratch).map_err(|e| format!("{e:#}"));
        if let Ok(wall) = wall {
            last = Some((*objects, wall));
        }
        rows.push(CheckovRow {
            objects: *objects,
            wall,
        });
    }
    Checkov {
        version: VERSION.to_owned(),
        rows,
    }
}
