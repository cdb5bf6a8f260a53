//! `--settings FILE`: a YAML (or JSON) map from policy id to that policy's settings.
//!
//! Settings come from `--settings` only: one file, read whole, each policy's entry replacing
//! its defaults (which the policy itself validates). `.aksid.yaml` files hold exceptions only
//! (any other key, `settings` included, is refused), so the `.aksid.yaml` files found from the
//! repository root down never change a policy's settings: there is nothing for a subdirectory
//! to loosen.
//!
//! ```yaml
//! no-plaintext-secret-env:
//!   allowedNames: [FEATURE_FLAG_TOKEN_AUDIENCE]
//! no-cluster-admin-users:
//!   allowedGroups: [platform-admins]
//! ```

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Settings per policy id; policies without an entry get `{}`.
#[derive(Debug, Default, Clone)]
pub struct SettingsFile(BTreeMap<String, Value>);

impl SettingsFile {
    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<SettingsFile> {
        let text = read_bounded(path)
            .with_context(|| format!("reading settings file {}", path.display()))?;
        SettingsFile::parse(&text).with_context(|| format!("settings file {}", path.display()))
    }

    /// Parses the text of a settings file, with YAML 1.1 scalars as kubectl reads them (the
    /// settings end up in the ClusterAdmissionPolicy kubectl applies) and duplicate keys refused.
    pub fn parse(text: &str) -> Result<SettingsFile> {
        // No snippet: a settings file may hold values that should not be echoed.
        let options = serde_saphyr::options! {
            with_snippet: false,
            legacy_octal_numbers: true,
        };
        let value: Option<Value> =
            serde_saphyr::from_str_with_options(text, options).context("not valid YAML")?;
        match value.unwrap_or(Value::Null) {
            Value::Null => Ok(SettingsFile::default()),
            Value::Object(map) => Ok(SettingsFile(map.into_iter().collect())),
            other => bail!(
                "expected a map from policy id to settings (e.g. `no-plaintext-secret-env: {{allowedNames: [X]}}`), got {}",
                match other {
                    Value::Array(_) => "a list",
                    _ => "a scalar",
                }
            ),
        }
    }

    /// The settings of `id` (`{}` when none were given).
    pub fn get(&self, id: &str) -> Value {
        match self.0.get(id) {
            None | Some(Value::Null) => Value::Object(Default::default()),
            Some(v) => v.clone(),
        }
    }

    /// Fails when the file names policies that are not loaded: a typo must not silently
    /// leave a policy with its defaults.
    pub fn check_ids<'a>(&self, known: impl Iterator<Item = &'a str> + Clone) -> Result<()> {
        for id in self.0.keys() {
            if !known.clone().any(|k| k == id) {
                let known: Vec<&str> = known.clone().collect();
                bail!(
                    "settings for unknown policy {id:?}; the loaded policies are: {}",
                    known.join(", ")
                );
            }
        }
        Ok(())
    }
}

/// Largest settings or exceptions file read: far beyond any real one.
const MAX_CONFIG_FILE: usize = 4 << 20;

/// Reads a small configuration file (settings, `.aksid.yaml`) as UTF-8, refusing what is not a
/// regular file (a FIFO, a device) and stopping at [`MAX_CONFIG_FILE`] bytes whatever the file
/// claims.
pub fn read_bounded(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        bail!("not a regular file (a directory, FIFO or device); give a YAML file");
    }
    let bytes = crate::inputs::read_bounded(file, MAX_CONFIG_FILE)?
        .with_context(|| format!("larger than {} MiB", MAX_CONFIG_FILE >> 20))?;
    String::from_utf8(bytes).context("not UTF-8 text")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_map_and_refuses_unknown_ids() {
        let s = SettingsFile::parse("no-local-accounts:\n  requireAzureRBAC: true\n").unwrap();
        assert_eq!(s.get("no-local-accounts")["requireAzureRBAC"], true);
        assert_eq!(s.get("other"), serde_json::json!({}));
        let err = s
            .check_ids(["no-local-account"].into_iter())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown policy \"no-local-accounts\""),
            "{err}"
        );
        assert!(SettingsFile::parse("- a\n").is_err());
    }

    #[test]
    fn reads_yaml_as_kubectl_does() {
        let s = SettingsFile::parse("p: {flag: yes, mode: 0644}\n").unwrap();
        assert_eq!(s.get("p"), serde_json::json!({"flag": true, "mode": 420}));
        assert_eq!(
            SettingsFile::parse("# none yet\n").unwrap().get("p"),
            serde_json::json!({})
        );
        let err = SettingsFile::parse("p: {a: 1}\np: {a: 2}\n").unwrap_err();
        assert!(format!("{err:#}").contains("duplicate"), "{err:#}");
    }

    #[test]
    fn config_files_are_read_bounded_and_regular_only() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_bounded(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("not a regular file"), "{err:#}");
        let big = dir.path().join("big.yaml");
        std::fs::write(&big, vec![b'#'; MAX_CONFIG_FILE + 1]).unwrap();
        let err = read_bounded(&big).unwrap_err();
        assert!(format!("{err:#}").contains("larger than 4 MiB"), "{err:#}");
        let small = dir.path().join("small.yaml");
        std::fs::write(&small, "p: {}\n").unwrap();
        assert_eq!(read_bounded(&small).unwrap(), "p: {}\n");
    }
}
