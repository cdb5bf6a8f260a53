//! Runs one child process and measures it: wall time from spawn to exit, and the child's own
//! peak resident set from `wait4(2)` (`ru_maxrss`), which counts exactly that process, not the
//! bench and not earlier children (as `getrusage(RUSAGE_CHILDREN)` would).

use anyhow::{Context, Result, bail};
use std::fs::File;
use std::io;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How a measured child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Measured {
    pub(crate) wall: Duration,
    pub(crate) peak_rss_kib: u64,
    /// Exit status, or `None` when a signal ended it.
    pub(crate) exit: Option<i32>,
}

/// Runs `command` to completion with stdout and stderr written to the given files (files, not
/// pipes: nothing has to drain them while we wait, and reading them does not count).
pub(crate) fn measure(command: &mut Command, stdout: &Path, stderr: &Path) -> Result<Measured> {
    let out =
        File::create(stdout).with_context(|| format!("failed to create {}", stdout.display()))?;
    let err =
        File::create(stderr).with_context(|| format!("failed to create {}", stderr.display()))?;
    command.stdin(Stdio::null()).stdout(out).stderr(err);
    let start = Instant::now();
    let child = command
        .spawn()
        .with_context(|| format!("failed to start {:?}", command.get_program()))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: all-zero bytes are a valid `rusage` (plain integers and timevals).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not reaped yet (`std` reaps only when asked to wait,
        // and `child` is neither waited on nor killed); both out-pointers are valid for writes.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            bail!("wait4 failed for child {pid}: {error}");
        }
    }
    let wall = start.elapsed();
    // Dropping a `Child` neither waits nor kills; it was reaped above.
    drop(child);
    let exit = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    // Linux reports ru_maxrss in KiB.
    Ok(Measured {
        wall,
        peak_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        exit,
    })
}

/// The median of `values` (the lower middle one for an even count).
pub(crate) fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[(values.len() - 1) / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_child() {
        let dir = std::env::temp_dir().join(format!("aksid-bench-process-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (out, err) = (dir.join("out"), dir.join("err"));
        let measured = measure(
            Command::new("sh").args(["-c", "echo hi; exit 3"]),
            &out,
            &err,
        )
        .unwrap();
        assert_eq!(measured.exit, Some(3));
        assert!(measured.peak_rss_kib > 0);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "hi\n");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn median_of_odd_and_even() {
        let ms = Duration::from_millis;
        assert_eq!(median(&mut [ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(median(&mut [ms(4), ms(1), ms(3), ms(2)]), ms(2));
    }
}
