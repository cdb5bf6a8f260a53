//! The one rule for where kubectl-aksid keeps its caches (compiled modules under `modules/`,
//! pulled policies under `oci/`): `--cache-dir` or `AKSID_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/aksid`, else `$HOME/.cache/aksid`. With none of them set to an absolute
//! path there is no cache at all: never a fallback into a shared, world-writable directory such
//! as `/tmp`, where another user could plant a compiled module.
//!
//! It is also the one place that vouches for the cache directories before they are handed to
//! `aksid-host` and `aksid-oci` (neither crate depends on the other, and both take a directory
//! from their caller): the root and its `modules/` and `oci/` must be directories owned by the
//! current user and not writable by group or others; the root may be a symlink only if the user
//! owns the link, the subdirectories never (aksid creates them itself). Missing directories are
//! created 0700. The caches check their own files (owner, mode, hash) on every read.

use crate::cli::PolicyArgs;
use anyhow::{Result, bail};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The cache root for these flags, if there is one.
pub fn root(args: &PolicyArgs) -> Option<PathBuf> {
    root_for(args.cache_dir.as_deref())
}

/// The cache root for a `--cache-dir` value (or its absence), if there is one.
pub fn root_for(flag: Option<&Path>) -> Option<PathBuf> {
    root_from(flag, &|var| std::env::var_os(var))
}

fn root_from(
    flag: Option<&Path>,
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    if let Some(dir) = flag {
        return Some(dir.to_owned());
    }
    let absolute = |var: &str| Some(PathBuf::from(env(var)?)).filter(|p| p.is_absolute());
    absolute("XDG_CACHE_HOME")
        .map(|base| base.join("aksid"))
        .or_else(|| absolute("HOME").map(|home| home.join(".cache/aksid")))
}

/// Why there is no cache root, and how to get one.
pub const NO_ROOT: &str = "no cache directory: --cache-dir and AKSID_CACHE_DIR are not set, and \
     HOME and XDG_CACHE_HOME are not absolute paths (aksid never falls back to a shared \
     directory such as /tmp)\n\nSet AKSID_CACHE_DIR or pass --cache-dir DIR (a directory of your \
     own, mode 700)";

/// Where compiled modules are cached; `None` with `--no-cache`, without a cache root, or when
/// the directory is not private (with a warning, once: the run goes on, compiling in memory).
pub fn modules(args: &PolicyArgs) -> Option<PathBuf> {
    if args.no_cache {
        return None;
    }
    match private_subdir(&root(args)?, "modules", Create::Yes) {
        Ok(dir) => Some(dir),
        Err(e) => {
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                eprintln!("warning: not using the compiled-module cache: {e:#}");
            }
            None
        }
    }
}

/// Where pulled policies are cached (a registry pull needs one, and a private one).
pub fn oci(args: &PolicyArgs) -> Result<PathBuf> {
    match root(args) {
        Some(root) => private_subdir(&root, "oci", Create::Yes),
        None => bail!("{NO_ROOT}"),
    }
}

/// Whether a missing directory is created (0700) or is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Create what is missing.
    Yes,
    /// Report what is missing as absent (`Ok(None)` from [`check_private`]).
    No,
}

/// `root/name`, after checking (and creating, as asked) both as private directories.
pub fn private_subdir(root: &Path, name: &str, create: Create) -> Result<PathBuf> {
    if check_private(root, Link::IfOwned, create)? {
        check_ancestors(root)?;
    }
    let dir = root.join(name);
    check_private(&dir, Link::Never, create)?;
    Ok(dir)
}

/// Refuses a cache root that another user could move aside and replace through one of its
/// parent directories (a private directory inside a shared, non-sticky one).
fn check_ancestors(root: &Path) -> Result<()> {
    let real = std::fs::canonicalize(root).map_err(|e| {
        anyhow::anyhow!("cannot resolve the cache directory {}: {e}", root.display())
    })?;
    private_fs::check_ancestors(&real).map_err(|(ancestor, reason)| {
        anyhow::anyhow!(
            "the cache directory {} is inside {}, and {reason}: another user could replace the \
             cache with code of their choosing\n\nPoint --cache-dir or AKSID_CACHE_DIR at a \
             directory whose parents only you (or root) can write",
            root.display(),
            ancestor.display()
        )
    })
}

/// Whether a directory may be a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Only when the link itself belongs to the current user (the root: a user may point their
    /// cache at another disk).
    IfOwned,
    /// Never (the subdirectories aksid creates itself).
    Never,
}

/// Checks that `dir` is a directory of the current user that group and others cannot write,
/// creating it 0700 when it is missing and `create` says so. `Ok(false)`: missing, not created.
pub fn check_private(dir: &Path, link: Link, create: Create) -> Result<bool> {
    let mut meta = match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create == Create::No => {
            return Ok(false);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| {
                    anyhow::anyhow!("cannot create the cache directory {}: {e}", dir.display())
                })?;
            // Checked again below: something else may have been created there meanwhile.
            std::fs::symlink_metadata(dir)?
        }
        Err(e) => bail!("cannot read the cache directory {}: {e}", dir.display()),
        Ok(meta) => meta,
    };
    let me = private_fs::current_uid();
    let fix = "Point --cache-dir or AKSID_CACHE_DIR at a directory of your own (mode 700)";
    if meta.file_type().is_symlink() {
        if link == Link::Never || meta.uid() != me {
            let owner = if meta.uid() == me {
                String::new()
            } else {
                format!(" owned by uid {}, not by you (uid {me})", meta.uid())
            };
            bail!(
                "the cache directory {} is a symlink{owner}: aksid does not follow a link it did \
                 not make into a cache of native code\n\nRemove the link (`rm {0}`), or point \
                 --cache-dir or AKSID_CACHE_DIR at a directory of your own (mode 700)",
                dir.display(),
            );
        }
        meta = std::fs::metadata(dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot follow the cache directory link {}: {e}",
                dir.display()
            )
        })?;
    }
    if !meta.is_dir() {
        bail!(
            "the cache directory {} is not a directory\n\n{fix}",
            dir.display()
        );
    }
    if meta.uid() != me {
        bail!(
            "the cache directory {} is owned by uid {}, not by you (uid {me}): its owner could \
             plant compiled code that aksid would run\n\n{fix}",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "the cache directory {} is writable by group or others (mode {:04o}): another user \
             could plant compiled code that aksid would run\n\nRun `chmod 700 {0}`, or point \
             --cache-dir or AKSID_CACHE_DIR at a private directory",
            dir.display(),
            meta.mode() & 0o7777
        );
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_then_xdg_then_home_and_never_a_shared_directory() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |var: &str| pairs.iter().find(|(k, _)| *k == var).map(|(_, v)| v.into())
        };
        let flag = Path::new("/ci/cache");
        let both = env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/home/me")]);
        assert_eq!(root_from(Some(flag), &both), Some(flag.to_owned()));
        assert_eq!(root_from(None, &both), Some(PathBuf::from("/x/aksid")));
        let home = env(&[("HOME", "/home/me")]);
        assert_eq!(
            root_from(None, &home),
            Some(PathBuf::from("/home/me/.cache/aksid"))
        );
        let relative = env(&[("XDG_CACHE_HOME", "cache"), ("HOME", "home")]);
        assert_eq!(root_from(None, &relative), None);
        assert_eq!(root_from(None, &env(&[])), None);
    }

    fn scratch() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn another_user(path: &Path) {
        std::os::unix::fs::lchown(path, Some(private_fs::current_uid() + 4242), None).unwrap();
    }

    #[test]
    fn missing_directories_are_created_private() {
        let dir = scratch();
        let root = dir.path().join("a/b");
        let modules = private_subdir(&root, "modules", Create::Yes).unwrap();
        for path in [&dir.path().join("a"), &root, &modules] {
            assert_eq!(
                std::fs::metadata(path).unwrap().mode() & 0o777,
                0o700,
                "{path:?}"
            );
        }
        assert!(!check_private(&dir.path().join("c"), Link::Never, Create::No).unwrap());
        assert!(!dir.path().join("c").exists());
    }

    #[rstest::rstest]
    #[case::a_group_writable_root(|root: &Path| chmod(root, 0o770), "the cache directory ROOT is writable by group or others (mode 0770): another user could plant compiled code that aksid would run\n\nRun `chmod 700 ROOT`, or point --cache-dir or AKSID_CACHE_DIR at a private directory")]
    #[case::a_world_writable_subdirectory(|root: &Path| chmod(&root.join("modules"), 0o777), "the cache directory ROOT/modules is writable by group or others (mode 0777)")]
    #[case::a_root_of_another_user(another_user, "the cache directory ROOT is owned by uid")]
    #[case::a_symlinked_subdirectory(|root: &Path| {
        std::fs::remove_dir(root.join("modules")).unwrap();
        std::os::unix::fs::symlink(root.parent().unwrap(), root.join("modules")).unwrap();
    }, "the cache directory ROOT/modules is a symlink: aksid does not follow a link it did not make into a cache of native code\n\nRemove the link (`rm ROOT/modules`)")]
    #[case::a_root_symlink_of_another_user(|root: &Path| {
        let real = root.with_extension("real");
        std::fs::rename(root, &real).unwrap();
        std::os::unix::fs::symlink(&real, root).unwrap();
        another_user(root);
    }, "the cache directory ROOT is a symlink owned by uid")]
    #[case::a_file(|root: &Path| {
        std::fs::remove_dir_all(root).unwrap();
        std::fs::write(root, b"").unwrap();
    }, "the cache directory ROOT is not a directory")]
    fn an_unsafe_cache_directory_is_refused_with_the_fix(
        #[case] spoil: fn(&Path),
        #[case] expected: &str,
    ) {
        let dir = scratch();
        let root = dir.path().join("cache");
        private_subdir(&root, "modules", Create::Yes).unwrap();
        spoil(&root);
        let message = format!(
            "{:#}",
            private_subdir(&root, "modules", Create::Yes).unwrap_err()
        );
        let expected = expected.replace("ROOT", &root.display().to_string());
        assert!(
            message.starts_with(&expected),
            "\nexpected:\n```\n{expected}\n```\ngot:\n```\n{message}\n```"
        );
    }

    #[test]
    fn a_root_inside_a_directory_others_can_write_is_refused() {
        let dir = scratch();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        chmod(&shared, 0o777);
        let error = private_subdir(&shared.join("cache"), "modules", Create::Yes)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("is inside")
                && error.contains("writable by group or others (mode 0777)"),
            "{error}"
        );
        chmod(&shared, 0o1777);
        private_subdir(&shared.join("cache"), "modules", Create::Yes).unwrap();
    }

    #[test]
    fn a_root_symlink_of_the_user_is_followed() {
        let dir = scratch();
        let real = dir.path().join("disk/aksid");
        std::fs::create_dir_all(&real).unwrap();
        chmod(&real, 0o700);
        let root = dir.path().join("cache");
        std::os::unix::fs::symlink(&real, &root).unwrap();
        let modules = private_subdir(&root, "modules", Create::Yes).unwrap();
        assert!(real.join("modules").is_dir(), "{modules:?}");
    }
}
