//! Files and directories only the current user controls.
//!
//! Caches of native code and of pulled modules are only as trustworthy as the people who can
//! write them: an entry, or the directory holding it, that another user can replace is code
//! that user chooses. This crate is the one rule for that, shared by every cache (the host's
//! compiled modules, the registry client's pulled policies, the CLI's cache root): owned by the
//! current user, not writable by group or others, never reached through a symlink, and checked
//! on the open handle so that a file swapped after the check is not the one read.
//!
//! It knows nothing of aksid, Kubernetes or wasm, and must never depend on a crate that does.
//! Unix only, as the modes and owners it checks are.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// The effective user id of this process.
pub fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// `Ok` when `meta` is owned by the current user and not writable by group or others; else
/// why not, as "it is owned by uid N, not by the current user (uid M)" or "it is writable by
/// group or others (mode 0775)".
pub fn check_owner_and_mode(meta: &Metadata) -> Result<(), String> {
    let me = current_uid();
    if meta.uid() != me {
        return Err(format!(
            "it is owned by uid {}, not by the current user (uid {me})",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "it is writable by group or others (mode {:04o})",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Why a private file could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// There is no such file.
    Absent,
    /// There is one, and it must not be used: why, as "it is a symlink".
    Unsafe(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Absent => f.write_str("it does not exist"),
            Refusal::Unsafe(reason) => f.write_str(reason),
        }
    }
}

/// Opens `path` for reading without following a symlink (nor blocking on a FIFO), and checks
/// on the open handle that it is a regular file [`check_owner_and_mode`] accepts.
pub fn open_private(path: &Path) -> Result<(File, Metadata), Refusal> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Refusal::Absent,
            _ if e.raw_os_error() == Some(libc::ELOOP) => Refusal::Unsafe("it is a symlink".into()),
            _ => Refusal::Unsafe(format!("cannot open it: {e}")),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| Refusal::Unsafe(format!("cannot stat it: {e}")))?;
    if !meta.file_type().is_file() {
        return Err(Refusal::Unsafe("it is not a regular file".into()));
    }
    check_owner_and_mode(&meta).map_err(Refusal::Unsafe)?;
    Ok((file, meta))
}

/// Reads a whole private file ([`open_private`]) of at most `limit` bytes; the handle is
/// returned too (to touch its times, for example).
pub fn read_private(path: &Path, limit: u64) -> Result<(File, Vec<u8>), Refusal> {
    let (mut file, meta) = open_private(path)?;
    if meta.len() > limit {
        return Err(Refusal::Unsafe(format!(
            "it is {} bytes, over the limit of {limit}",
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    (&mut file)
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| Refusal::Unsafe(format!("cannot read it: {e}")))?;
    Ok((file, bytes))
}

/// Creates `path`, which must not exist (`O_EXCL`: no symlink or planted file is written
/// through), mode 0600, and writes `bytes` to it durably.
pub fn create_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// `Ok` when no directory above `dir` lets another user replace it: each ancestor is owned by
/// the current user or root, and is not writable by group or others unless it is sticky (as
/// `/tmp` is, where only an entry's owner may rename it). Else the first ancestor that does,
/// and why.
pub fn check_ancestors(dir: &Path) -> Result<(), (std::path::PathBuf, String)> {
    let me = current_uid();
    for ancestor in dir.ancestors().skip(1) {
        if ancestor.as_os_str().is_empty() {
            continue;
        }
        let Ok(meta) = std::fs::metadata(ancestor) else {
            continue;
        };
        if meta.uid() != me && meta.uid() != 0 {
            let reason = format!(
                "it is owned by uid {}, neither you (uid {me}) nor root",
                meta.uid()
            );
            return Err((ancestor.to_owned(), reason));
        }
        let sticky = meta.mode() & 0o1000 != 0;
        if meta.mode() & 0o022 != 0 && !sticky {
            let reason = format!(
                "it is writable by group or others (mode {:04o})",
                meta.mode() & 0o7777
            );
            return Err((ancestor.to_owned(), reason));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_private_file_round_trips_and_is_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entry");
        create_private(&path, b"code").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(read_private(&path, 4).unwrap().1, b"code");
        assert!(
            create_private(&path, b"again").is_err(),
            "an existing file is never rewritten"
        );
    }

    #[test]
    fn unsafe_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entry");
        assert_eq!(read_private(&path, 10).unwrap_err(), Refusal::Absent);
        create_private(&path, b"code").unwrap();
        let refused = |p: &Path, limit| read_private(p, limit).unwrap_err().to_string();
        assert_eq!(refused(&path, 3), "it is 4 bytes, over the limit of 3");
        chmod(&path, 0o620);
        assert_eq!(
            refused(&path, 10),
            "it is writable by group or others (mode 0620)"
        );
        chmod(&path, 0o600);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert_eq!(refused(&link, 10), "it is a symlink");
        assert_eq!(refused(dir.path(), 10), "it is not a regular file");
        std::os::unix::fs::lchown(&path, Some(current_uid() + 4242), None).unwrap();
        assert!(refused(&path, 10).starts_with("it is owned by uid"));
    }

    #[test]
    fn an_ancestor_others_can_write_is_named_unless_sticky() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("shared/cache");
        std::fs::create_dir_all(&cache).unwrap();
        assert_eq!(check_ancestors(&cache), Ok(()), "/tmp is sticky");
        chmod(&dir.path().join("shared"), 0o777);
        let (ancestor, reason) = check_ancestors(&cache).unwrap_err();
        assert_eq!(ancestor, dir.path().join("shared"));
        assert_eq!(reason, "it is writable by group or others (mode 0777)");
        chmod(&dir.path().join("shared"), 0o1777);
        assert_eq!(check_ancestors(&cache), Ok(()));
    }
}
