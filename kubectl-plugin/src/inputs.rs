//! Reading the paths given to `check -f`: files, directories (recursively), and `-` for stdin.
//! The only filesystem access of a check; everything after works on the bytes read here.

use aksid_manifests::{LoadOptions, human_size};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One input read into memory.
#[derive(Debug)]
pub struct Input {
    /// The name reports show: the path as given or found, or `-` for stdin.
    pub name: String,
    /// The content.
    pub bytes: Vec<u8>,
}

/// A path that could not be read, or held nothing to check.
#[derive(Debug)]
pub struct InputFailure {
    /// The path as given or found.
    pub name: String,
    /// What went wrong and what to do.
    pub message: String,
    /// The `kind` reports give it: `tooLarge` (as aksid-manifests names an oversize input),
    /// `noManifests` for a directory without manifest files, else `unreadable`.
    pub kind: &'static str,
    /// Notices (e.g. an empty directory next to others) do not change the exit code.
    pub is_error: bool,
}

const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];
/// Deeper trees are almost certainly a symlink loop.
const MAX_DEPTH: usize = 64;

/// Reads every path; failures are collected, never fatal, so the other inputs are still checked.
pub fn read_all(paths: &[PathBuf], max_file_size: usize) -> (Vec<Input>, Vec<InputFailure>) {
    let mut inputs = Vec::new();
    let mut failures = Vec::new();
    let mut stdin_read = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if !stdin_read {
                stdin_read = true;
                read_stdin(max_file_size, &mut inputs, &mut failures);
            }
            continue;
        }
        match std::fs::metadata(path) {
            Err(e) => failures.push(InputFailure {
                name: path.display().to_string(),
                message: format!("cannot read: {e}"),
                kind: "unreadable",
                is_error: true,
            }),
            Ok(meta) if meta.is_dir() => {
                let before = inputs.len() + failures.len();
                walk(path, 0, max_file_size, &mut inputs, &mut failures);
                if inputs.len() + failures.len() == before {
                    failures.push(InputFailure {
                        name: path.display().to_string(),
                        message: "directory holds no .yaml, .yml or .json files".to_owned(),
                        kind: "noManifests",
                        is_error: true,
                    });
                }
            }
            Ok(_) => read_file(path, max_file_size, &mut inputs, &mut failures),
        }
    }
    (inputs, failures)
}

fn walk(
    dir: &Path,
    depth: usize,
    max: usize,
    inputs: &mut Vec<Input>,
    failures: &mut Vec<InputFailure>,
) {
    if depth > MAX_DEPTH {
        failures.push(InputFailure {
            name: dir.display().to_string(),
            message: format!("more than {MAX_DEPTH} directory levels deep (a symlink loop?); not descending further"),
            kind: "unreadable", is_error: true,
        });
        return;
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            failures.push(InputFailure {
                name: dir.display().to_string(),
                message: format!("cannot read directory: {e}"),
                kind: "unreadable",
                is_error: true,
            });
            return;
        }
    };
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if path.is_dir() {
            // .git, .github and other dot-directories hold no manifests to check.
            if !hidden {
                walk(&path, depth + 1, max, inputs, failures);
            }
        } else if !hidden
            && path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| MANIFEST_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            read_file(&path, max, inputs, failures);
        }
    }
}

fn read_file(path: &Path, max: usize, inputs: &mut Vec<Input>, failures: &mut Vec<InputFailure>) {
    let name = path.display().to_string();
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > max as u64 => failures.push(InputFailure {
            message: size_limit(max)
                .check_size(&name, meta.len())
                .map(|problem| problem.message)
                .unwrap_or_default(),
            name,
            kind: "tooLarge",
            is_error: true,
        }),
        _ => match std::fs::read(path) {
            Ok(bytes) => inputs.push(Input { name, bytes }),
            Err(e) => failures.push(InputFailure {
                name,
                message: format!("cannot read: {e}"),
                kind: "unreadable",
                is_error: true,
            }),
        },
    }
}

fn read_stdin(max: usize, inputs: &mut Vec<Input>, failures: &mut Vec<InputFailure>) {
    let mut bytes = Vec::new();
    match std::io::stdin()
        .lock()
        .take(max as u64 + 1)
        .read_to_end(&mut bytes)
    {
        Ok(n) if n > max => failures.push(InputFailure {
            name: "-".to_owned(),
            message: format!(
                "stdin holds more than the {} limit; raise it with --max-file-size",
                human_size(max as u64, false)
            ),
            kind: "tooLarge",
            is_error: true,
        }),
        Ok(_) => inputs.push(Input {
            name: "-".to_owned(),
            bytes,
        }),
        Err(e) => failures.push(InputFailure {
            name: "-".to_owned(),
            message: format!("cannot read stdin: {e}"),
            kind: "unreadable",
            is_error: true,
        }),
    }
}

/// The size limit as aksid-manifests states it, so both layers word an oversize input alike.
fn size_limit(max: usize) -> LoadOptions {
    LoadOptions::default().max_bytes(max as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_walked_in_order_skipping_hidden_and_other_files() {
        let dir = std::env::temp_dir().join(format!("aksid-inputs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("b/.git")).unwrap();
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        for f in ["b/z.yaml", "a.yml", "b/.git/x.yaml", "notes.txt", "c.JSON"] {
            std::fs::write(dir.join(f), "kind: X").unwrap();
        }
        std::fs::write(dir.join("big.yaml"), vec![b'#'; 2048]).unwrap();
        let (inputs, failures) = read_all(
            &[dir.clone(), dir.join("empty"), dir.join("missing.yaml")],
            1024,
        );
        let names: Vec<String> = inputs
            .iter()
            .map(|i| i.name.trim_start_matches(dir.to_str().unwrap()).to_owned())
            .collect();
        assert_eq!(names, ["/a.yml", "/b/z.yaml", "/c.JSON"]);
        let messages: Vec<&str> = failures.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages[0],
            "file is 2.0 KiB, larger than the 1 KiB limit; raise it with --max-file-size"
        );
        assert_eq!(failures[0].kind, "tooLarge");
        assert!(
            messages[1].contains("no .yaml, .yml or .json"),
            "{messages:?}"
        );
        assert!(messages[2].contains("cannot read"), "{messages:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
