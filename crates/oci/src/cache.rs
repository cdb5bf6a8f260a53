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
//! be served: anything that does not verify is deleted and reported as a miss, and the caller
//! fetches again. Entries are written to a temporary directory and renamed into place, so readers
//! never see half an entry.

use crate::{WASM_LAYER_MEDIA_TYPE, sha256_digest};
use std::io;
use std::path::{Path, PathBuf};

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

    /// The verified entry for `manifest_digest`, or `None` (after deleting a corrupt entry).
    pub(crate) fn read(&self, manifest_digest: &str) -> Option<CachedPolicy> {
        let dir = self.entry_dir(manifest_digest);
        if !dir.exists() {
            return None;
        }
        let entry = read_verified(&dir, manifest_digest);
        if entry.is_none() {
            // Corrupt or partial: remove it so the next write starts clean. Failing to remove
            // only costs a re-fetch next time, so the error is not worth surfacing.
            let _ = std::fs::remove_dir_all(&dir);
        }
        entry
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
        std::fs::create_dir_all(parent)?;
        let staging = tempfile_dir(parent)?;
        let result = (|| {
            std::fs::write(staging.join("manifest.json"), manifest)?;
            std::fs::write(staging.join("policy.wasm"), layer)?;
            if dir.exists() {
                // Another pull stored it first; the content is the same by construction.
                std::fs::remove_dir_all(&staging)?;
                return Ok(());
            }
            match std::fs::rename(&staging, &dir) {
                Ok(()) => Ok(()),
                Err(_) if dir.exists() => std::fs::remove_dir_all(&staging),
                Err(e) => Err(e),
            }
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        result.map(|()| dir)
    }
}

/// A fresh directory next to the entries, so the final rename stays on one filesystem.
fn tempfile_dir(parent: &Path) -> io::Result<PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let name = format!(
            ".tmp-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = parent.join(name);
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

fn read_verified(dir: &Path, manifest_digest: &str) -> Option<CachedPolicy> {
    let manifest = std::fs::read(dir.join("manifest.json")).ok()?;
    if sha256_digest(&manifest) != manifest_digest {
        return None;
    }
    let layer_digest = wasm_layer_digest(&manifest)?;
    let bytes = std::fs::read(dir.join("policy.wasm")).ok()?;
    if sha256_digest(&bytes) != layer_digest {
        return None;
    }
    Some(CachedPolicy {
        bytes,
        layer_digest,
    })
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
}
