//! The one rule for where kubectl-aksid keeps its caches (compiled modules under `modules/`,
//! pulled policies under `oci/`): `--cache-dir` or `AKSID_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/aksid`, else `$HOME/.cache/aksid`. With none of them set to an absolute
//! path there is no cache at all: never a fallback into a shared, world-writable directory such
//! as `/tmp`, where another user could plant a compiled module.

use crate::cli::PolicyArgs;
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// The cache root for these flags, if there is one.
pub fn root(args: &PolicyArgs) -> Option<PathBuf> {
    root_from(args.cache_dir.as_deref(), &|var| std::env::var_os(var))
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

/// Where compiled modules are cached; `None` with `--no-cache` or without a cache root.
pub fn modules(args: &PolicyArgs) -> Option<PathBuf> {
    if args.no_cache {
        return None;
    }
    root(args).map(|root| root.join("modules"))
}

/// Where pulled policies are cached (a registry pull needs one).
pub fn oci(args: &PolicyArgs) -> Result<PathBuf> {
    match root(args) {
        Some(root) => Ok(root.join("oci")),
        None => bail!(
            "no cache directory for pulled policies: HOME and XDG_CACHE_HOME are not set to \
             absolute paths\n\nSet AKSID_CACHE_DIR or pass --cache-dir DIR"
        ),
    }
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
}
