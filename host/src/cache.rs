//! The on-disk cache of compiled modules: `<dir>/<key>.cwasm`, where the key is the SHA-256 of
//! the module's SHA-256 and wasmtime's hash of the engine configuration (which covers the
//! wasmtime version, the target, the compiler flags and the enabled wasm features).
//!
//! A file is a header (magic, key, payload length, SHA-256 of key, length and payload) followed
//! by the artifact of `Engine::precompile_module`. A file is used only when it is a regular
//! file (never through a symlink) owned by the current user and not writable by group or
//! others, its header names its key and its hash verifies; anything else is treated as absent
//! and recompiled. Files are written 0600 through a randomly named temporary file created with
//! `O_EXCL` and renamed into place, so a reader sees a whole file or none and a planted symlink
//! is never followed. After each write the least recently used files are evicted so that the
//! directory stays under [`max_bytes`] (a hit touches its file's mtime).
//!
//! The directory itself is the caller's to vouch for (the CLI checks that it is a private
//! directory of the user before handing it over); files are created 0700/0600 regardless.

use private_fs::{Refusal, read_private};
use sha2::{Digest, Sha256};
use std::fs::DirBuilder;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};
use wasmtime::{Engine, Module};

const MAGIC: &[u8; 8] = b"AKSIDCW\x02";
const HEADER_LEN: usize = MAGIC.len() + 32 + 8 + 32;
const SUFFIX: &str = ".cwasm";
const TEMP_PREFIX: &str = ".aksid-";
const TEMP_SUFFIX: &str = ".cwasm.tmp";
/// The largest cache file read: far above any compiled policy, so that only a file that is not
/// ours in spirit is refused for its size (the cap on the directory is [`max_bytes`]).
const MAX_FILE_BYTES: u64 = 4 << 30;
/// A temporary file older than this was left by a process that died mid-write.
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// The size cap of a modules cache directory when `AKSID_CACHE_MAX_BYTES` is not set: 512 MiB.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 512 << 20;
/// The environment variable that overrides [`DEFAULT_CACHE_MAX_BYTES`] (a number of bytes).
pub const CACHE_MAX_BYTES_ENV: &str = "AKSID_CACHE_MAX_BYTES";

/// The size cap of the cache: `AKSID_CACHE_MAX_BYTES` when it is a number, else the default.
pub fn max_bytes() -> u64 {
    std::env::var(CACHE_MAX_BYTES_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_CACHE_MAX_BYTES)
}

/// Feeds `Hash` implementations into SHA-256 (stable, unlike `DefaultHasher`'s contract).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        unreachable!("only the digest is used")
    }
}

/// The cache key of a module for this engine.
pub(crate) fn key(engine: &Engine, module_sha256: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256Hasher(Sha256::new());
    hasher.0.update(b"aksid-host compiled module v1\0");
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.update(module_sha256);
    hasher.0.finalize().into()
}

fn path(dir: &Path, key: &[u8; 32]) -> PathBuf {
    dir.join(format!("{}{SUFFIX}", hex::encode(key)))
}

/// The hash recorded in the header: it covers the key and length fields too, so that no part
/// of a file can be swapped without the hash failing.
fn digest(key: &[u8; 32], artifact: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(MAGIC);
    hasher.update(key);
    hasher.update((artifact.len() as u64).to_le_bytes());
    hasher.update(artifact);
    hasher.finalize().into()
}

/// The artifact of a whole, verified file for `key`.
fn verify<'a>(bytes: &'a [u8], key: &[u8; 32]) -> Result<&'a [u8], String> {
    let (header, artifact) = bytes
        .split_at_checked(HEADER_LEN)
        .ok_or("it is shorter than its header (truncated)")?;
    if &header[..8] != MAGIC {
        return Err("it is not an aksid compiled-module file of this version".into());
    }
    if &header[8..40] != key {
        return Err("its header names another module (a file copied under this name)".into());
    }
    let length = u64::from_le_bytes(header[40..48].try_into().expect("8 bytes"));
    if length != artifact.len() as u64 {
        return Err(format!(
            "its header says {length} bytes of code, the file holds {} (truncated or extended)",
            artifact.len()
        ));
    }
    if header[48..80] != digest(key, artifact) {
        return Err("its SHA-256 does not match its content (damaged or tampered with)".into());
    }
    Ok(artifact)
}

/// Warns (a `log` warning: the program decides where it goes) about an unusable cache file once
/// per process: the run goes on (it recompiles), and one line is enough to tell the user why
/// every run is slow.
fn warn_once(path: &Path, reason: &str) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        log::warn!(
            "ignoring compiled-module cache file {}: {reason}; the module is compiled \
             again (`kubectl aksid cache verify` removes bad entries)",
            path.display()
        );
    }
}

/// The cached module, or `None` when there is no usable file (missing, unsafe, truncated,
/// tampered with, foreign, or refused by wasmtime), in which case the caller recompiles and
/// overwrites it.
pub(crate) fn load(engine: &Engine, dir: &Path, key: &[u8; 32]) -> Option<Module> {
    let path = path(dir, key);
    let (file, bytes) = match read_private(&path, MAX_FILE_BYTES) {
        Ok(read) => read,
        Err(Refusal::Absent) => return None,
        Err(Refusal::Unsafe(reason)) => {
            warn_once(&path, &reason);
            return None;
        }
    };
    let artifact = match verify(&bytes, key) {
        Ok(artifact) => artifact,
        // Written by another version of aksid: stale, not suspicious, so replaced silently.
        Err(_) if bytes.starts_with(&MAGIC[..7]) && !bytes.starts_with(MAGIC) => return None,
        Err(reason) => {
            warn_once(&path, &reason);
            return None;
        }
    };
    // The mtime is the eviction order; a file we cannot touch is merely evicted sooner.
    let _ = file.set_modified(SystemTime::now());
    // SAFETY: `Module::deserialize` requires bytes produced by `Engine::precompile_module` of a
    // compatible engine, since it maps them as executable code. What protects that here:
    // - the file is a regular file (not a symlink) owned by the current user and not writable
    //   by group or others, and the CLI refuses a cache directory that is not private to the
    //   user: this, not the hash, is what keeps other users from planting code;
    // - its SHA-256 (over key, length and artifact) matches the header and the header names
    //   this key, so a truncated, damaged or misnamed file is recompiled, never mapped;
    // - wasmtime re-checks the artifact's ELF structure, version and engine compatibility and
    //   returns an error (we then recompile) rather than loading a mismatched one.
    // What it does not protect against: the hash is not a signature. Anyone who can write as
    // the current user can rewrite both the artifact and its hash, and then runs code as that
    // user in any case.
    unsafe { Module::deserialize(engine, artifact) }.ok()
}

/// Writes the artifact under its key, then evicts old entries; failures are ignored by the
/// caller (the cache is an optimisation, and an unwritable directory must not stop an
/// evaluation).
pub(crate) fn store(dir: &Path, key: &[u8; 32], artifact: &[u8]) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    // `NamedTempFile` creates a random name with O_EXCL and mode 0600, so a symlink or file
    // planted at a predictable name is neither followed nor reused; `persist` renames over
    // whatever is at the destination (a symlink there is replaced, not followed).
    let mut file = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)?;
    file.write_all(MAGIC)?;
    file.write_all(key)?;
    file.write_all(&(artifact.len() as u64).to_le_bytes())?;
    file.write_all(&digest(key, artifact))?;
    file.write_all(artifact)?;
    file.as_file().sync_all()?;
    let destination = path(dir, key);
    file.persist(&destination).map_err(|e| e.error)?;
    evict(dir, &destination, max_bytes())
}

/// One file of a cache directory that aksid wrote (by its name).
struct Entry {
    path: PathBuf,
    meta: std::fs::Metadata,
    temporary: bool,
}

/// The files aksid writes in `dir` (`<64 hex>.cwasm` and its temporary files), never following
/// a symlink; unknown names are left out.
fn entries(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut found = Vec::new();
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        let name = item.file_name();
        let Some(name) = name.to_str() else { continue };
        let temporary = name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX);
        let is_entry = name.strip_suffix(SUFFIX).is_some_and(|stem| {
            stem.len() == 64
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        });
        if temporary || is_entry {
            let path = item.path();
            // symlink_metadata: a symlink is listed as itself, never as its target.
            let meta = std::fs::symlink_metadata(&path)?;
            found.push(Entry {
                path,
                meta,
                temporary,
            });
        }
    }
    Ok(found)
}

/// Removes the least recently used entries until the directory holds at most `cap` bytes,
/// never `keep` (the entry just written). Stale temporary files are removed too.
fn evict(dir: &Path, keep: &Path, cap: u64) -> std::io::Result<()> {
    let now = SystemTime::now();
    let mut live = Vec::new();
    for entry in entries(dir)? {
        let modified = entry.meta.modified().unwrap_or(now);
        if entry.temporary {
            if now.duration_since(modified).unwrap_or_default() > STALE_TEMP_AGE {
                let _ = std::fs::remove_file(&entry.path);
            }
            continue;
        }
        live.push((modified, entry));
    }
    let mut total: u64 = live.iter().map(|(_, e)| e.meta.len()).sum();
    live.sort_by_key(|(modified, _)| *modified);
    for (_, entry) in live {
        if total <= cap {
            break;
        }
        if entry.path == keep {
            continue;
        }
        match std::fs::remove_file(&entry.path) {
            // Another process evicting at the same time removed it first.
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => total = total.saturating_sub(entry.meta.len()),
        }
    }
    Ok(())
}

/// What [`verify_dir`] and [`clear_dir`] found in a modules cache directory.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DirScan {
    /// Entries (and leftover temporary files) looked at.
    pub entries: usize,
    /// Bytes of the files removed.
    pub removed_bytes: u64,
    /// Files removed by `clear`, or found bad and removed by `verify`.
    pub removed: Vec<RemovedFile>,
}

/// A file of the modules cache that was removed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedFile {
    /// The file.
    pub path: PathBuf,
    /// Why it was removed (for `clear`: "cleared").
    pub reason: String,
}

/// Checks every entry of a modules cache directory (`<key>.cwasm`: owner, mode, regular file,
/// header and SHA-256) and removes the bad ones; unknown files are left alone. A missing
/// directory is an empty cache. Engine compatibility is not checked here: wasmtime refuses an
/// artifact of another engine when it is loaded, and it is then recompiled.
pub fn verify_dir(dir: &Path) -> std::io::Result<DirScan> {
    let mut scan = DirScan::default();
    for entry in list_or_empty(dir)? {
        scan.entries += 1;
        let reason = if entry.temporary {
            let age = SystemTime::now()
                .duration_since(entry.meta.modified().unwrap_or(SystemTime::now()))
                .unwrap_or_default();
            (age > STALE_TEMP_AGE).then(|| "a temporary file left by an interrupted write".into())
        } else {
            check_entry(&entry.path).err()
        };
        if let Some(reason) = reason {
            remove(&entry, reason, &mut scan)?;
        }
    }
    Ok(scan)
}

/// Why the entry at `path` must not be used, if it must not.
fn check_entry(path: &Path) -> Result<(), String> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let mut key = [0u8; 32];
    hex::decode_to_slice(&name[..64.min(name.len())], &mut key)
        .map_err(|_| "its name is not a cache key".to_owned())?;
    let bytes = match read_private(path, MAX_FILE_BYTES) {
        Ok((_, bytes)) => bytes,
        Err(Refusal::Absent) => return Ok(()),
        Err(Refusal::Unsafe(reason)) => return Err(reason),
    };
    verify(&bytes, &key).map(|_| ())
}

/// Removes every file aksid writes in a modules cache directory (entries and temporary files;
/// a symlink is removed itself, never followed) and leaves unknown files alone.
pub fn clear_dir(dir: &Path) -> std::io::Result<DirScan> {
    let mut scan = DirScan::default();
    for entry in list_or_empty(dir)? {
        scan.entries += 1;
        remove(&entry, "cleared".into(), &mut scan)?;
    }
    Ok(scan)
}

fn list_or_empty(dir: &Path) -> std::io::Result<Vec<Entry>> {
    match entries(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        other => other,
    }
}

fn remove(entry: &Entry, reason: String, scan: &mut DirScan) -> std::io::Result<()> {
    match std::fs::remove_file(&entry.path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    if entry.meta.file_type().is_file() {
        scan.removed_bytes += entry.meta.len();
    }
    scan.removed.push(RemovedFile {
        path: entry.path.clone(),
        reason,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::unix::fs::MetadataExt;

    fn artifact(engine: &Engine) -> Vec<u8> {
        engine
            .precompile_module(&wat::parse_str("(module)").unwrap())
            .unwrap()
    }

    #[test]
    fn damaged_files_are_not_loaded() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let key = key(&engine, &[7; 32]);
        store(dir.path(), &key, &artifact(&engine)).unwrap();
        assert!(load(&engine, dir.path(), &key).is_some());

        let file = path(dir.path(), &key);
        let whole = std::fs::read(&file).unwrap();
        std::fs::write(&file, &whole[..whole.len() - 1]).unwrap();
        assert!(load(&engine, dir.path(), &key).is_none(), "truncated");

        let mut flipped = whole.clone();
        *flipped.last_mut().unwrap() ^= 1;
        std::fs::write(&file, &flipped).unwrap();
        assert_eq!(
            verify(&flipped, &key).unwrap_err(),
            "its SHA-256 does not match its content (damaged or tampered with)"
        );
        assert!(
            load(&engine, dir.path(), &key).is_none(),
            "one byte flipped"
        );

        std::fs::write(&file, b"AKSIDCW\x01 an old or foreign file").unwrap();
        assert!(load(&engine, dir.path(), &key).is_none(), "foreign");

        let other = super::key(&engine, &[8; 32]);
        std::fs::write(path(dir.path(), &other), &whole).unwrap();
        assert!(load(&engine, dir.path(), &other).is_none(), "misnamed");
    }

    #[test]
    fn files_are_private_and_no_temporary_file_is_left() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("new/modules");
        let key = key(&engine, &[1; 32]);
        store(&cache, &key, &artifact(&engine)).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&cache), 0o700);
        assert_eq!(mode(&path(&cache, &key)), 0o600);
        let names: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_group_writable_file_is_not_loaded() {
        use std::os::unix::fs::PermissionsExt;
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let key = key(&engine, &[2; 32]);
        store(dir.path(), &key, &artifact(&engine)).unwrap();
        let file = path(dir.path(), &key);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o620)).unwrap();
        assert!(load(&engine, dir.path(), &key).is_none());
        let scan = verify_dir(dir.path()).unwrap();
        assert_eq!(scan.removed.len(), 1);
        assert!(
            scan.removed[0]
                .reason
                .contains("writable by group or others (mode 0620)"),
            "{scan:?}"
        );
        assert!(!file.exists());
    }

    #[test]
    fn eviction_keeps_the_cap_and_the_newest_entry() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let artifact = artifact(&engine);
        let keys: Vec<_> = (0..4u8).map(|i| key(&engine, &[i; 32])).collect();
        for (age, key) in keys.iter().enumerate() {
            store(dir.path(), key, &artifact).unwrap();
            let old = SystemTime::now() - Duration::from_secs(1000 - age as u64 * 100);
            File::open(path(dir.path(), key))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        let one = std::fs::metadata(path(dir.path(), &keys[0])).unwrap().len();
        let unknown = dir.path().join("notes.txt");
        std::fs::write(&unknown, b"not ours").unwrap();
        // Room for two entries: the two oldest go, the unknown file stays.
        evict(dir.path(), &path(dir.path(), &keys[0]), 2 * one + one / 2).unwrap();
        let exists = |i: usize| path(dir.path(), &keys[i]).exists();
        assert_eq!(
            [exists(0), exists(1), exists(2), exists(3)],
            [true, false, false, true]
        );
        assert!(unknown.exists());
    }
}
