//! Runs one child process and measures it: wall time from spawn to exit, and the child's own
//! peak resident set from `wait4(2)` (`ru_maxrss`), which counts that process, not earlier
//! children (as `getrusage(RUSAGE_CHILDREN)` would).
//!
//! Linux carries the high-water mark of the address space a process replaces across `execve`
//! into its `ru_maxrss`, and a spawned child starts in (a copy of) the bench's: every child
//! measured after the bench had parsed a 100,000-object report showed the bench's 400 MiB. So
//! the bench returns its free memory and resets its own high-water mark before each spawn
//! ([`lower_own_peak`]); a child's number is then its own whenever it is larger than the
//! bench's resident set at that moment (a few MiB).

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
    lower_own_peak();
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

/// Returns free memory to the system and resets this process's peak resident set to its
/// current one (`/proc/self/clear_refs` value 5, Linux 4.0+), so that a child spawned next does
/// not inherit the bench's past peak (see the module documentation).
fn lower_own_peak() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
    // Best effort: without it (an old kernel) the numbers are upper bounds, as before.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
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

    /// A small child measured after the bench held (and freed) 200 MiB is not charged for it.
    #[test]
    fn a_child_does_not_inherit_the_bench_peak() {
        let big = std::hint::black_box(vec![1u8; 200 << 20]);
        drop(big);
        let dir = std::env::temp_dir().join(format!("aksid-bench-peak-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let measured = measure(
            Command::new("sh").args(["-c", "exit 0"]),
            &dir.join("out"),
            &dir.join("err"),
        )
        .unwrap();
        assert!(
            measured.peak_rss_kib < 100 << 10,
            "{} KiB",
            measured.peak_rss_kib
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn median_of_odd_and_even() {
        let ms = Duration::from_millis;
        assert_eq!(median(&mut [ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(median(&mut [ms(4), ms(1), ms(3), ms(2)]), ms(2));
    }
}
