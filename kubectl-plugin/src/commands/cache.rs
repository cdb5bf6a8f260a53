//! `kubectl aksid cache dir|clear|verify`: where the caches are, emptying them, and checking
//! every entry (owner, mode, hash) with the bad ones removed. Only what aksid writes is touched:
//! `modules/<key>.cwasm` (and its temporary files) and the `oci/sha256/<digest>/` entries; a
//! symlink is removed itself, never followed, and unknown files stay.

use crate::Outcome;
use crate::cache_dir::{self, Create};
use anyhow::{Context, Result, anyhow};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Options of `cache`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  kubectl aksid cache dir                        where the caches are
  kubectl aksid cache verify                     check every entry, remove the bad ones
  kubectl aksid cache clear                      remove every entry aksid wrote
  kubectl aksid cache clear --cache-dir ci-cache  the same, for the cache of a CI job

The cache root is --cache-dir, else AKSID_CACHE_DIR, else $XDG_CACHE_HOME/aksid, else
$HOME/.cache/aksid; without any of them there is no cache (never a shared directory such as
/tmp). It holds compiled modules (modules/, native code: at most AKSID_CACHE_MAX_BYTES, default
512 MiB, least recently used evicted first) and pulled policies (oci/). aksid refuses a cache
directory that is not yours or that group or others can write, and ignores (and recompiles or
fetches again) any entry that is not yours, is writable by others, or fails its SHA-256.")]
pub struct CacheArgs {
    #[command(subcommand)]
    pub action: CacheAction,
    /// The cache root [default: $XDG_CACHE_HOME/aksid, env AKSID_CACHE_DIR].
    #[arg(long, value_name = "DIR", env = "AKSID_CACHE_DIR", global = true)]
    pub cache_dir: Option<PathBuf>,
}

/// What `cache` does.
#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// Print the cache root (exit 2, saying why and how to set one, when there is none).
    Dir,
    /// Remove every cache entry aksid wrote, and say how many bytes were freed.
    Clear,
    /// Check every entry (owner, mode, SHA-256) and remove the bad ones: exit 0 when all are
    /// good, 1 when bad ones were found and removed, 2 on errors.
    Verify,
}

pub fn execute(args: CacheArgs) -> Result<Outcome> {
    let root = cache_dir::root_for(args.cache_dir.as_deref())
        .ok_or_else(|| anyhow!(cache_dir::NO_ROOT))?;
    let mut out = std::io::stdout().lock();
    match args.action {
        CacheAction::Dir => {
            writeln!(out, "{}", root.display())?;
            // Printed anyway (scripts want the path), with why aksid would not use it.
            if let Err(e) = cache_dir::check_private(&root, cache_dir::Link::IfOwned, Create::No) {
                eprintln!("warning: {e:#}");
            }
            Ok(Outcome::Clean)
        }
        CacheAction::Clear => clear(&root, &mut out),
        CacheAction::Verify => verify(&root, &mut out),
    }
}

/// The modules and oci directories, checked as private and not created; `None` when missing.
fn subdirs(root: &Path) -> Result<[Option<PathBuf>; 2]> {
    let existing = |name: &str| -> Result<Option<PathBuf>> {
        let dir = root.join(name);
        let exists = cache_dir::check_private(root, cache_dir::Link::IfOwned, Create::No)?
            && cache_dir::check_private(&dir, cache_dir::Link::Never, Create::No)?;
        Ok(exists.then_some(dir))
    };
    Ok([existing("modules")?, existing("oci")?])
}

fn clear(root: &Path, out: &mut impl Write) -> Result<Outcome> {
    let [modules, oci] = subdirs(root)?;
    let (mut files, mut bytes) = (0, 0);
    if let Some(dir) = &modules {
        let scan = aksid_host::cache::clear_dir(dir)
            .with_context(|| format!("cannot clear the compiled-module cache {}", dir.display()))?;
        files += scan.removed.len();
        bytes += scan.removed_bytes;
    }
    let mut entries = 0;
    if let Some(dir) = &oci {
        let scan = aksid_oci::cache::clear_dir(dir)
            .with_context(|| format!("cannot clear the pulled-policy cache {}", dir.display()))?;
        entries += scan.removed.len();
        bytes += scan.removed_bytes;
    }
    writeln!(
        out,
        "cleared {}: {files} compiled modules and {entries} pulled policies removed, {} freed",
        root.display(),
        human(bytes)
    )?;
    Ok(Outcome::Clean)
}

fn verify(root: &Path, out: &mut impl Write) -> Result<Outcome> {
    let [modules, oci] = subdirs(root)?;
    let (mut checked, mut bytes, mut bad) = (0, 0, Vec::new());
    if let Some(dir) = &modules {
        let scan = aksid_host::cache::verify_dir(dir).with_context(|| {
            format!("cannot verify the compiled-module cache {}", dir.display())
        })?;
        checked += scan.entries;
        bytes += scan.removed_bytes;
        bad.extend(scan.removed.into_iter().map(|r| (r.path, r.reason)));
    }
    if let Some(dir) = &oci {
        let scan = aksid_oci::cache::verify_dir(dir)
            .with_context(|| format!("cannot verify the pulled-policy cache {}", dir.display()))?;
        checked += scan.entries;
        bytes += scan.removed_bytes;
        bad.extend(scan.removed.into_iter().map(|r| (r.path, r.reason)));
    }
    for (path, reason) in &bad {
        writeln!(out, "removed {}: {reason}", path.display())?;
    }
    if bad.is_empty() {
        writeln!(
            out,
            "verified {}: {checked} entries, all good",
            root.display()
        )?;
        return Ok(Outcome::Clean);
    }
    writeln!(
        out,
        "verified {}: {checked} entries, {} bad and removed ({} freed); they are compiled or \
         fetched again when next needed",
        root.display(),
        bad.len(),
        human(bytes)
    )?;
    Ok(Outcome::Rejected)
}

/// Bytes in the largest binary unit that keeps a whole number part, e.g. `1.5 MiB`.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {} ({bytes} bytes)", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[rstest::rstest]
    #[case::bytes(1000, "1000 bytes")]
    #[case::kibibytes(1536, "1.5 KiB (1536 bytes)")]
    #[case::mebibytes(3 << 20, "3.0 MiB (3145728 bytes)")]
    fn sizes_are_human(#[case] bytes: u64, #[case] expected: &str) {
        assert_eq!(human(bytes), expected);
    }
}
