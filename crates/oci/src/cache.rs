//! The local policy cache: pulled modules keyed by manifest digest, verified on every read.
//!
//! Layout, under the client's cache directory:
//!
//! ```text
//! CACHE_DIR/sha256/<manifest hex>/manifest.json   the manifest bytes as the registry served them
//! CACHE_DIR/sha256/<manifest hex>/policy.wasm     the wasm layer
//! ```
//!
//! A read hashes `manifest.json` against the directory name, finds the wasm layer's digest in it
//! and hashes `policy.wasm` against that, so neither a truncated write nor a hand-edited file can
//! be served. The entry directory and its files must also be private to the current user (owned
//! by them, not writable by group or others, not symlinks), so that another user cannot swap a
//! file between check and use. Anything that does not verify is deleted and reported as a miss,
//! and the caller fetches again. Entries are written 0600 into a randomly named 0700 staging
//! directory (created with `mkdir`, which never follows or reuses a planted path) and renamed into
//! place, so readers never see half an entry. The cache root itself is the caller's to vouch for
//! (the CLI checks it is a private directory of the user).

use crate::{WASM_LAYER_MEDIA_TYPE, sha256_digest};
use std::fs::DirBuilder;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

const MANIFEST: &str = "manifest.json";
const LAYER: &str = "policy.wasm";
const STAGING_PREFIX: &str = ".tmp-";
/// The largest manifest read from the cache (registries cap manifests at 4 MiB).
const MAX_MANIFEST_SIZE: u64 = 4 << 20;

/// A verified cache entry.
pub(crate) struct CachedPolicy {
    pub(crate) bytes: Vec<u8>,
    pub(crate) layer_digest: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Cache {
    root: PathBuf,
}

impl Cache {
    pub(crate) fn new(root: PathBuf) -> Cache {
        Cache { root }
    }

    /// The directory of `manifest_digest` (`sha256:<hex>`).
    pub(crate) fn entry_dir(&self, manifest_digest: &str) -> PathBuf {
        let (algorithm, hex) = manifest_digest
            .split_once(':')
            .unwrap_or(("sha256", manifest_digest));
        self.root.join(algorithm).join(hex)
    }

    /// The verified entry for `manifest_digest`, or `None` (after deleting a bad entry).
    pub(crate) fn read(&self, manifest_digest: &str) -> Option<CachedPolicy> {
        let dir = self.entry_dir(manifest_digest);
        if std::fs::symlink_metadata(&dir).is_err() {
            return None;
        }
        match read_verified(&dir, manifest_digest) {
            Ok(entry) => Some(entry),
            Err(reason) => {
                warn_once(&dir, &reason);
                // Bad or partial: remove it so the next write starts clean (a symlink is removed
                // itself, never followed). Failing to remove only costs a re-fetch next time.
                let _ = remove_entry(&dir);
                None
            }
        }
    }

    /// Stores a verified manifest and layer; an existing entry is left as it is.
    pub(crate) fn write(
        &self,
        manifest_digest: &str,
        manifest: &[u8],
        layer: &[u8],
    ) -> io::Result<PathBuf> {
        let dir = self.entry_dir(manifest_digest);
        let parent = dir.parent().expect("entry dir has a parent");
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
        let staging = tempfile::Builder::new()
            .prefix(STAGING_PREFIX)
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir_in(parent)?;
        private_fs::create_private(&staging.path().join(MANIFEST), manifest)?;
        private_fs::create_private(&staging.path().join(LAYER), layer)?;
        if std::fs::symlink_metadata(&dir).is_ok() {
            // Another pull stored it first; the content is the same by construction (a bad one
            // was removed by the `read` that preceded this write).
            return Ok(dir);
        }
        let staged = staging.keep();
        match std::fs::rename(&staged, &dir) {
            Ok(()) => Ok(dir),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staged);
                if dir.exists() { Ok(dir) } else { Err(e) }
            }
        }
    }
}

/// Warns (a `log` warning) once per process about a refused entry: the pull goes on (it fetches
/// again).
fn warn_once(dir: &Path, reason: &str) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        log::warn!(
            "ignoring pulled-policy cache entry {}: {reason}; it is fetched again",
            dir.display()
        );
    }
}

/// A private regular file of the entry ([`private_fs::read_private`]), read whole.
fn read_private(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    private_fs::read_private(path, limit)
        .map(|(_, bytes)| bytes)
        .map_err(|refusal| format!("{name}: {refusal}"))
}

/// The entry if it is private and whole, else why not.
fn read_verified(dir: &Path, manifest_digest: &str) -> Result<CachedPolicy, String> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("cannot stat it: {e}"))?;
    if !meta.file_type().is_dir() {
        return Err("it is not a directory (a symlink or a file)".into());
    }
    private_fs::check_owner_and_mode(&meta)?;
    let manifest = read_private(&dir.join(MANIFEST), MAX_MANIFEST_SIZE)?;
    if sha256_digest(&manifest) != manifest_digest {
        return Err(format!(
            "{MANIFEST} does not match the digest {manifest_digest}"
        ));
    }
    let layer_digest =
        wasm_layer_digest(&manifest).ok_or(format!("{MANIFEST} names no wasm layer"))?;
    let bytes = read_private(&dir.join(LAYER), crate::MAX_MODULE_SIZE)?;
    if sha256_digest(&bytes) != layer_digest {
        return Err(format!(
            "{LAYER} does not match the layer digest {layer_digest}"
        ));
    }
    Ok(CachedPolicy {
        bytes,
        layer_digest,
    })
}

/// Removes an entry directory's two files and the directory, or a symlink or file at its name;
/// unknown files inside are left, and then so is the directory.
fn remove_entry(dir: &Path) -> io::Result<u64> {
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.file_type().is_dir() {
        std::fs::remove_file(dir)?;
        return Ok(if meta.file_type().is_file() {
            meta.len()
        } else {
            0
        });
    }
    let mut freed = 0;
    for name in [MANIFEST, LAYER] {
        let path = dir.join(name);
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            std::fs::remove_file(&path)?;
            if meta.file_type().is_file() {
                freed += meta.len();
            }
        }
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(freed),
        // Unknown files inside: aksid did not write them, so they stay.
        Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => Ok(freed),
        Err(e) => Err(e),
    }
}

/// What [`verify_dir`] and [`clear_dir`] did in a pulled-policy cache directory.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DirScan {
    /// Entries (and leftover staging directories) looked at.
    pub entries: usize,
    /// Bytes of the files removed.
    pub removed_bytes: u64,
    /// Entries removed by `clear`, or found bad and removed by `verify`.
    pub removed: Vec<RemovedEntry>,
}

/// An entry of the pulled-policy cache that was removed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedEntry {
    /// The entry directory.
    pub path: PathBuf,
    /// Why it was removed (for `clear`: "cleared").
    pub reason: String,
}

/// The entry directories (`sha256/<64 hex>`) and staging directories (`sha256/.tmp-*`) of a
/// cache root, as (path, is_staging); unknown names are left out. A missing root is empty.
fn list(root: &Path) -> io::Result<Vec<(PathBuf, bool)>> {
    let algorithm_dir = root.join("sha256");
    let items = match std::fs::read_dir(&algorithm_dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        other => other?,
    };
    let mut found = Vec::new();
    for item in items {
        let name = item?.file_name();
        let Some(name) = name.to_str() else { continue };
        let staging = name.starts_with(STAGING_PREFIX);
        let entry =
            name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if staging || entry {
            found.push((algorithm_dir.join(name), staging));
        }
    }
    found.sort();
    Ok(found)
}

/// Checks every entry of a pulled-policy cache root (owner, mode, no symlinks, manifest digest,
/// layer digest) and removes the bad ones, with staging directories older than an hour (left
/// by an interrupted pull); unknown files are left alone.
pub fn verify_dir(root: &Path) -> io::Result<DirScan> {
    let mut scan = DirScan::default();
    for (path, staging) in list(root)? {
        scan.entries += 1;
        let reason = if staging {
            let modified = std::fs::symlink_metadata(&path)?.modified()?;
            let age = modified.elapsed().unwrap_or_default();
            (age > std::time::Duration::from_secs(3600))
                .then(|| "a staging directory left by an interrupted pull".to_owned())
        } else {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            read_verified(&path, &format!("sha256:{name}")).err()
        };
        if let Some(reason) = reason {
            scan.removed_bytes += remove_entry(&path)?;
            scan.removed.push(RemovedEntry { path, reason });
        }
    }
    Ok(scan)
}

/// Removes every entry and staging directory of a pulled-policy cache root (only the files
/// aksid writes; a symlink is removed itself, never followed) and leaves unknown files alone.
pub fn clear_dir(root: &Path) -> io::Result<DirScan> {
    let mut scan = DirScan::default();
    for (path, _) in list(root)? {
        scan.entries += 1;
        scan.removed_bytes += remove_entry(&path)?;
        scan.removed.push(RemovedEntry {
            path,
            reason: "cleared".into(),
        });
    }
    Ok(scan)
}

/// The digest of the first wasm layer of a manifest, as Kubewarden picks it.
fn wasm_layer_digest(manifest: &[u8]) -> Option<String> {
    let manifest: serde_json::Value = serde_json::from_slice(manifest).ok()?;
    manifest["layers"]
        .as_array()?
        .iter()
        .find(|layer| layer["mediaType"] == WASM_LAYER_MEDIA_TYPE)?["digest"]
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn entry(layer: &[u8]) -> (String, Vec<u8>) {
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "layers": [{"mediaType": WASM_LAYER_MEDIA_TYPE, "digest": sha256_digest(layer), "size": layer.len()}]
        }))
        .unwrap();
        (sha256_digest(&manifest), manifest)
    }

    #[test]
    fn entries_round_trip_and_corrupt_ones_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_owned());
        let layer = b"\0asm\x01\0\0\0".to_vec();
        let (digest, manifest) = entry(&layer);
        assert!(cache.read(&digest).is_none());

        let path = cache.write(&digest, &manifest, &layer).unwrap();
        assert_eq!(path, dir.path().join("sha256").join(&digest[7..]));
        let hit = cache.read(&digest).unwrap();
        assert_eq!(hit.bytes, layer);
        assert_eq!(hit.layer_digest, sha256_digest(&layer));
        // Writing again is a no-op, and leaves no staging directories behind.
        cache.write(&digest, &manifest, &layer).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from(&digest[7..])]);

        std::fs::write(path.join("policy.wasm"), b"\0asm\x01\0\0\x01").unwrap();
        assert!(cache.read(&digest).is_none(), "a corrupt layer is a miss");
        assert!(!path.exists(), "and is deleted");

        cache.write(&digest, &manifest, &layer).unwrap();
        std::fs::write(path.join("manifest.json"), b"{}").unwrap();
        assert!(
            cache.read(&digest).is_none(),
            "a corrupt manifest is a miss"
        );
    }

    fn stored(dir: &Path) -> (Cache, String, PathBuf) {
        let cache = Cache::new(dir.to_owned());
        let layer = b"\0asm\x01\0\0\0".to_vec();
        let (digest, manifest) = entry(&layer);
        let path = cache.write(&digest, &manifest, &layer).unwrap();
        (cache, digest, path)
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn chown_to_another_user(path: &Path) {
        std::os::unix::fs::lchown(path, Some(private_fs::current_uid() + 4242), None).unwrap();
    }

    #[test]
    fn entries_are_written_private() {
        let dir = tempfile::tempdir().unwrap();
        let (_, _, path) = stored(&dir.path().join("new"));
        assert_eq!(mode(&dir.path().join("new/sha256")), 0o700);
        assert_eq!(mode(&path), 0o700);
        assert_eq!(mode(&path.join(MANIFEST)), 0o600);
        assert_eq!(mode(&path.join(LAYER)), 0o600);
    }

    #[rstest::rstest]
    #[case::a_group_writable_layer(|p: &Path| chmod(&p.join(LAYER), 0o620), "policy.wasm: it is writable by group or others (mode 0620)")]
    #[case::a_world_writable_entry_directory(|p: &Path| chmod(p, 0o707), "it is writable by group or others (mode 0707)")]
    #[case::a_manifest_of_another_user(|p: &Path| chown_to_another_user(&p.join(MANIFEST)), "manifest.json: it is owned by uid")]
    #[case::an_entry_directory_of_another_user(|p: &Path| chown_to_another_user(p), "it is owned by uid")]
    #[case::a_symlinked_layer(|p: &Path| {
        std::fs::rename(p.join(LAYER), p.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink("elsewhere", p.join(LAYER)).unwrap();
    }, "policy.wasm: it is a symlink")]
    fn an_unsafe_entry_is_a_miss_and_is_removed(#[case] spoil: fn(&Path), #[case] reason: &str) {
        let dir = tempfile::tempdir().unwrap();
        let (cache, digest, path) = stored(dir.path());
        spoil(&path);
        assert_eq!(
            read_verified(&path, &digest)
                .err()
                .as_deref()
                .map(|r| r.starts_with(reason)),
            Some(true),
            "{:?}",
            read_verified(&path, &digest).err()
        );
        assert!(cache.read(&digest).is_none());
        assert!(!path.join(MANIFEST).exists() && !path.join(LAYER).exists());
    }

    #[test]
    fn a_symlinked_entry_directory_is_a_miss_and_its_target_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (_, digest, real) = stored(&dir.path().join("real"));
        let (cache, _, planted) = stored(&dir.path().join("planted"));
        std::fs::remove_file(planted.join(MANIFEST)).unwrap();
        std::fs::remove_file(planted.join(LAYER)).unwrap();
        std::fs::remove_dir(&planted).unwrap();
        std::os::unix::fs::symlink(&real, &planted).unwrap();
        assert!(cache.read(&digest).is_none());
        assert!(
            std::fs::symlink_metadata(&planted).is_err(),
            "the link is removed"
        );
        assert!(real.join(LAYER).exists(), "its target is not touched");
    }

    #[test]
    fn verify_removes_bad_entries_and_clear_removes_only_what_aksid_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let (cache, good, _) = stored(dir.path());
        let other = b"\0asm\x01\0\0\0\x00".to_vec();
        let (bad, manifest) = entry(&other);
        let bad_path = cache.write(&bad, &manifest, &other).unwrap();
        std::fs::write(bad_path.join(LAYER), b"tampered").unwrap();
        let unknown = dir.path().join("sha256/README");
        std::fs::write(&unknown, b"not ours").unwrap();

        let scan = verify_dir(dir.path()).unwrap();
        assert_eq!(scan.entries, 2);
        assert_eq!(scan.removed.len(), 1, "{scan:?}");
        assert_eq!(scan.removed[0].path, bad_path);
        assert!(
            scan.removed[0]
                .reason
                .contains("does not match the layer digest")
        );
        assert!(cache.read(&good).is_some());
        assert_eq!(verify_dir(dir.path()).unwrap().removed, []);

        let cleared = clear_dir(dir.path()).unwrap();
        assert_eq!(cleared.removed.len(), 1);
        assert!(cleared.removed_bytes > 8, "{cleared:?}");
        assert!(cache.read(&good).is_none());
        assert!(unknown.exists());
        assert_eq!(
            clear_dir(&dir.path().join("missing")).unwrap(),
            DirScan::default()
        );
    }
}
