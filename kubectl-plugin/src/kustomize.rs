//! Kustomize directories as repositories hold them.
//!
//! - By default, the patch files a `kustomization.yaml` names (`patches`, `patchesStrategicMerge`,
//!   `patchesJson6902`) are not judged as whole objects: a strategic-merge patch looks like an
//!   object but holds only the fields it changes (four false "local accounts enabled" findings
//!   in Cluster API Provider Azure came from judging such patches). Each is a notice instead.
//! - With `--kustomize`, a directory holding a kustomization is rendered by the installed
//!   `kubectl kustomize` (`$KUBECTL` or `kubectl` on the PATH) and the result is judged; each
//!   object's finding names the file of the resource it came from, from kustomize's own origin
//!   annotations (`buildMetadata: [originAnnotations]`), which are removed before judging.

use crate::inputs::{Budget, Input, InputFailure, ReadResult};
use aksid_manifests::{Manifest, ProblemKind};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The file names kustomize reads as a kustomization.
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The annotation kustomize adds with `buildMetadata: [originAnnotations]`.
const ORIGIN: &str = "config.kubernetes.io/origin";

/// Drops, with a notice each, the walked inputs that a walked kustomization names as patches.
pub fn skip_patches(read: &mut ReadResult) {
    let patches: BTreeSet<PathBuf> = read
        .inputs
        .iter()
        .filter(|input| input.walked && is_kustomization(Path::new(&input.name)))
        .flat_map(patch_paths)
        .collect();
    if patches.is_empty() {
        return;
    }
    let (skipped, kept): (Vec<Input>, Vec<Input>) = std::mem::take(&mut read.inputs)
        .into_iter()
        .partition(|input| input.walked && patches.contains(&canonical(Path::new(&input.name))));
    read.inputs = kept;
    for input in skipped {
        read.failures.push(InputFailure {
            name: input.name,
            message: "a kustomize patch (named by the kustomization beside it), not judged as a \
                      whole object; --kustomize judges the rendered result"
                .to_owned(),
            kind: ProblemKind::NotAResource,
            is_error: false,
        });
    }
}

fn is_kustomization(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| KUSTOMIZATION_FILES.contains(&n))
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// The patch files a kustomization names, resolved against its directory. Inline patches
/// (strings holding YAML) name no file.
fn patch_paths(input: &Input) -> Vec<PathBuf> {
    let Ok(text) = std::str::from_utf8(&input.bytes) else {
        return Vec::new();
    };
    let Ok(kustomization) = serde_saphyr::from_str::<Value>(text) else {
        return Vec::new();
    };
    let dir = Path::new(&input.name).parent().unwrap_or(Path::new("."));
    let strategic = kustomization["patchesStrategicMerge"]
        .as_array()
        .into_iter()
        .flatten();
    let named = ["patches", "patchesJson6902"]
        .iter()
        .flat_map(|key| kustomization[key].as_array().into_iter().flatten())
        .map(|patch| &patch["path"]);
    strategic
        .chain(named)
        .filter_map(Value::as_str)
        .filter(|path| !path.contains('\n'))
        .map(|path| canonical(&dir.join(path)))
        .collect()
}

/// The directories among `paths` that hold a kustomization, for `--kustomize`.
pub fn kustomization_dirs(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths
        .iter()
        .filter(|p| KUSTOMIZATION_FILES.iter().any(|f| p.join(f).is_file()))
        .cloned()
        .collect()
}

/// A kustomization rendered by `kubectl kustomize`: the input to judge, and the root its
/// origin annotations are relative to.
pub struct Rendered {
    /// The rendered objects, named `DIR (kustomize)`.
    pub input: Input,
    /// The temporary kustomization's directory (absolute; gone once rendered).
    pub root: PathBuf,
}

/// `kubectl kustomize DIR` with origin annotations, through a temporary kustomization that
/// names DIR as its only resource (so the user's files are never changed). Kustomize refuses
/// absolute resource paths, so DIR is named relative to the temporary directory. The output is
/// read within `budget` (the per-file cap and what is left of the run's total) and charged to
/// it, as any input is; kustomize's own error text is not repeated, since its parse errors can
/// quote the manifests' values.
pub fn render(dir: &Path, budget: &mut Budget) -> Result<Rendered, InputFailure> {
    let max = budget.allowance();
    let failure = |message: String| InputFailure {
        name: dir.display().to_string(),
        message,
        kind: ProblemKind::Unreadable,
        is_error: true,
    };
    let absolute = std::fs::canonicalize(dir).map_err(|e| failure(format!("cannot read: {e}")))?;
    let overlay = tempfile::tempdir().map_err(|e| failure(format!("cannot render: {e}")))?;
    let root = std::fs::canonicalize(overlay.path()).unwrap_or_else(|_| overlay.path().to_owned());
    let up = "../".repeat(root.components().count().saturating_sub(1));
    let relative = format!(
        "{up}{}",
        absolute.display().to_string().trim_start_matches('/')
    );
    let kustomization = serde_json::json!({
        "resources": [relative],
        "buildMetadata": ["originAnnotations"],
    });
    std::fs::write(root.join("kustomization.yaml"), kustomization.to_string())
        .map_err(|e| failure(format!("cannot render: {e}")))?;
    let kubectl = std::env::var_os("KUBECTL").unwrap_or_else(|| "kubectl".into());
    let mut child = std::process::Command::new(&kubectl)
        .arg("kustomize")
        .arg(&root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| {
            failure(format!(
                "cannot run {} kustomize: {e}; --kustomize needs kubectl (or set KUBECTL)",
                kubectl.to_string_lossy()
            ))
        })?;
    let stdout = child
        .stdout
        .take()
        .map(|out| crate::inputs::read_bounded(out, max));
    let bytes = match stdout {
        Some(Ok(Some(bytes))) => bytes,
        Some(Ok(None)) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(InputFailure {
                kind: ProblemKind::TooLarge,
                ..failure(budget.overflow(format!(
                    "kubectl kustomize wrote more than the {} limit; raise it with --max-file-size",
                    aksid_manifests::human_size(max as u64, false)
                )))
            });
        }
        _ => Vec::new(),
    };
    let status = child
        .wait()
        .map_err(|e| failure(format!("kubectl kustomize: {e}")))?;
    if !status.success() {
        return Err(failure(format!(
            "kubectl kustomize failed ({status}); run `kubectl kustomize {}` to see why",
            dir.display()
        )));
    }
    let mut bytes = bytes;
    // Kept until the run ends (check reads its inputs twice): not the capacity reading grew.
    bytes.shrink_to_fit();
    budget.charge(bytes.len());
    let input = Input {
        name: format!("{} (kustomize)", dir.display()),
        bytes,
        walked: false,
    };
    Ok(Rendered { input, root })
}

/// Points each rendered object at the file its resource came from (kustomize's origin
/// annotation, relative to `root`) and removes the annotation, so policies see the object as
/// the cluster would.
pub fn attribute_origins(manifests: &mut [Manifest], root: &Path) {
    for manifest in manifests {
        let Some(origin) = take_origin(&mut manifest.object) else {
            continue;
        };
        let Some(path) = origin_path(&origin) else {
            continue;
        };
        let file = relative_to_cwd(&normalize(&root.join(path)));
        manifest.source = std::sync::Arc::from(file.as_str());
        manifest.line = 1;
    }
}

fn take_origin(object: &mut Value) -> Option<String> {
    let annotations = object
        .get_mut("metadata")?
        .get_mut("annotations")?
        .as_object_mut()?;
    let origin = annotations.remove(ORIGIN)?;
    if annotations.is_empty()
        && let Some(metadata) = object["metadata"].as_object_mut()
    {
        metadata.remove("annotations");
    }
    origin.as_str().map(str::to_owned)
}

/// `path:` of an origin annotation (`path: ../base/deployment.yaml`).
fn origin_path(origin: &str) -> Option<&str> {
    origin
        .lines()
        .find_map(|line| line.trim().strip_prefix("path:"))
        .map(|path| path.trim().trim_matches(['"', '\'']))
}

/// `..` and `.` resolved by name (the temporary root no longer exists to canonicalize against).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn relative_to_cwd(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let cwd = std::fs::canonicalize(&cwd).unwrap_or(cwd);
    path.strip_prefix(&cwd)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_annotations_name_the_resource_file_and_are_removed() {
        let mut object = serde_json::json!({
            "metadata": {"name": "web", "annotations": {ORIGIN: "path: ../../work/repo/base/deploy.yaml\n"}},
        });
        let origin = take_origin(&mut object).unwrap();
        assert_eq!(object, serde_json::json!({"metadata": {"name": "web"}}));
        let path = origin_path(&origin).unwrap();
        assert_eq!(path, "../../work/repo/base/deploy.yaml");
        assert_eq!(
            normalize(&Path::new("/tmp/.tmpX").join(path)),
            Path::new("/work/repo/base/deploy.yaml")
        );
    }

    #[test]
    fn patch_paths_cover_every_form_kustomize_accepts() {
        let input = Input {
            name: "/nonexistent/k/kustomization.yaml".to_owned(),
            bytes: b"patchesStrategicMerge: [sm.yaml, \"kind: X\\nmetadata: {}\\n\"]\npatches:\n- path: p.yaml\n- patch: |-\n    - op: remove\npatchesJson6902:\n- path: j.yaml\n  target: {kind: Deployment}\n".to_vec(),
            walked: true,
        };
        let paths: Vec<String> = patch_paths(&input)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            paths,
            [
                "/nonexistent/k/sm.yaml",
                "/nonexistent/k/p.yaml",
                "/nonexistent/k/j.yaml"
            ]
        );
    }
}
