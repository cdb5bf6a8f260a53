//! The on-disk cache of compiled modules: `<dir>/<key>.cwasm`, where the key is the SHA-256 of
//! the module's SHA-256 and wasmtime's hash of the engine configuration (which covers the
//! wasmtime version, the target, the compiler flags and the enabled wasm features).
//!
//! A file is a small header (magic, key, payload length) followed by the artifact of
//! `Engine::precompile_module`. Files are written to a temporary name and renamed into place,
//! so a reader sees a whole file or none.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::{Engine, Module};

const MAGIC: &[u8; 8] = b"AKSIDCW\x01";
const HEADER_LEN: usize = MAGIC.len() + 32 + 8;

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
    dir.join(format!("{}.cwasm", hex::encode(key)))
}

/// The cached module, or `None` when there is no usable file (missing, truncated, foreign, or
/// refused by wasmtime), in which case the caller recompiles and overwrites it.
pub(crate) fn load(engine: &Engine, dir: &Path, key: &[u8; 32]) -> Option<Module> {
    let bytes = std::fs::read(path(dir, key)).ok()?;
    let (header, artifact) = bytes.split_at_checked(HEADER_LEN)?;
    let length = u64::from_le_bytes(header[40..48].try_into().ok()?);
    if &header[..8] != MAGIC || &header[8..40] != key || length != artifact.len() as u64 {
        return None;
    }
    // SAFETY: `Module::deserialize` requires bytes produced by `Engine::precompile_module` of a
    // compatible engine, since it maps them as executable code. Only this module writes files
    // in the cache directory, under a name derived from the module's content hash and the
    // engine configuration; writes are atomic (temporary file + rename), and the header checks
    // above reject truncated or misnamed files. wasmtime itself re-checks the artifact's ELF
    // structure, version and engine compatibility and returns an error (we then recompile)
    // rather than loading a mismatched one. The directory must not be writable by other users
    // (see `HostConfig::cache_dir`).
    unsafe { Module::deserialize(engine, artifact) }.ok()
}

/// Writes the artifact under its key; failures are ignored by the caller (the cache is an
/// optimisation, and an unwritable directory must not stop an evaluation).
pub(crate) fn store(dir: &Path, key: &[u8; 32], artifact: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(
        ".{}.{}.{}.tmp",
        hex::encode(key),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(MAGIC)?;
        file.write_all(key)?;
        file.write_all(&(artifact.len() as u64).to_le_bytes())?;
        file.write_all(artifact)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path(dir, key))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_files_are_not_loaded() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let key = key(&engine, &[7; 32]);
        let artifact = engine
            .precompile_module(&wat::parse_str("(module)").unwrap())
            .unwrap();
        store(dir.path(), &key, &artifact).unwrap();
        assert!(load(&engine, dir.path(), &key).is_some());

        let file = path(dir.path(), &key);
        let whole = std::fs::read(&file).unwrap();
        std::fs::write(&file, &whole[..whole.len() - 1]).unwrap();
        assert!(load(&engine, dir.path(), &key).is_none(), "truncated");

        std::fs::write(&file, b"AKSIDCW\x02 something else").unwrap();
        assert!(load(&engine, dir.path(), &key).is_none(), "foreign");

        let other = super::key(&engine, &[8; 32]);
        std::fs::write(path(dir.path(), &other), &whole).unwrap();
        assert!(load(&engine, dir.path(), &other).is_none(), "misnamed");
    }

    #[test]
    fn keys_depend_on_module_and_engine() {
        let a = Engine::default();
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let b = Engine::new(&config).unwrap();
        assert_ne!(key(&a, &[1; 32]), key(&a, &[2; 32]));
        assert_ne!(key(&a, &[1; 32]), key(&b, &[1; 32]));
        assert_eq!(key(&a, &[1; 32]), key(&Engine::default(), &[1; 32]));
    }
}
