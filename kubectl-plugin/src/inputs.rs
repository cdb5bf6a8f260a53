//! Reading the paths given to `check -f`: files, directories (recursively), and `-` for stdin.
//! The only filesystem access of a check; everything after works on the bytes read here.
//!
//! Directories are walked by `ignore` (ripgrep's walker): entries sorted by name, hidden entries
//! and what `.gitignore` excludes skipped (as `git` and pre-commit would), symbolic links
//! followed except into a directory already on the path, which is reported as a notice instead
//! (one `ln -s . loop` once multiplied every finding, two made the run endless).

use aksid_manifests::{LoadOptions, ProblemKind, human_size};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One input read into memory.
#[derive(Debug)]
pub struct Input {
    /// The name reports show: the path as given or found, or `-` for stdin.
    pub name: String,
    /// The content.
    pub bytes: Vec<u8>,
    /// Found by walking a directory (not named with `-f`): files that are not Kubernetes
    /// objects (a `kustomization.yaml`, Helm's `values.yaml`) are notices, not errors.
    pub walked: bool,
}

/// A path that could not be read, or held nothing to check.
#[derive(Debug)]
pub struct InputFailure {
    /// The path as given or found.
    pub name: String,
    /// What went wrong and what to do.
    pub message: String,
    /// The condition, in the report's vocabulary.
    pub kind: ProblemKind,
    /// Notices (a link not followed) do not change the exit code.
    pub is_error: bool,
}

impl InputFailure {
    fn error(name: impl Into<String>, kind: ProblemKind, message: impl Into<String>) -> Self {
        InputFailure {
            name: name.into(),
            message: message.into(),
            kind,
            is_error: true,
        }
    }
}

/// How paths are read.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// The largest file (or stdin) read, in bytes; enforced while reading.
    pub max_file_size: usize,
    /// Walk into what `.gitignore`/`.ignore` files exclude, too.
    pub no_ignore: bool,
}

const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Everything read, and what could not be.
#[derive(Debug, Default)]
pub struct ReadResult {
    /// The inputs, in the order given and, inside a directory, sorted by path.
    pub inputs: Vec<Input>,
    /// Failures and notices; never fatal, so the other inputs are still checked.
    pub failures: Vec<InputFailure>,
}

/// Reads every path; failures are collected, never fatal, so the other inputs are still checked.
pub fn read_all(paths: &[PathBuf], options: ReadOptions) -> ReadResult {
    let mut out = ReadResult::default();
    let mut stdin_read = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if !stdin_read {
                stdin_read = true;
                out.read_stdin(options.max_file_size);
            }
            continue;
        }
        match std::fs::metadata(path) {
            Err(e) => out.failures.push(InputFailure::error(
                path.display().to_string(),
                ProblemKind::Unreadable,
                format!("cannot read: {e}"),
            )),
            Ok(meta) if meta.is_dir() => {
                let before = out.inputs.len();
                out.walk(path, options);
                if out.inputs.len() == before {
                    out.failures.push(InputFailure::error(
                        path.display().to_string(),
                        ProblemKind::NoManifests,
                        "directory holds no .yaml, .yml or .json files",
                    ));
                }
            }
            Ok(_) => out.read_file(path, options.max_file_size, false),
        }
    }
    out
}

impl ReadResult {
    fn walk(&mut self, dir: &Path, options: ReadOptions) {
        let walker = ignore::WalkBuilder::new(dir)
            .follow_links(true)
            .hidden(true)
            .ignore(!options.no_ignore)
            .git_ignore(!options.no_ignore)
            .git_exclude(!options.no_ignore)
            .git_global(false)
            .parents(!options.no_ignore)
            .sort_by_file_path(Path::cmp)
            .build();
        for entry in walker {
            match entry {
                Ok(entry) => {
                    let is_file = entry.file_type().is_some_and(|t| t.is_file());
                    if is_file && has_manifest_extension(entry.path()) {
                        self.read_file(entry.path(), options.max_file_size, true);
                    }
                }
                Err(error) => self.walk_error(dir, error),
            }
        }
    }

    fn walk_error(&mut self, dir: &Path, error: ignore::Error) {
        if let Some((child, ancestor)) = loop_of(&error) {
            self.failures.push(InputFailure {
                name: child.display().to_string(),
                message: format!(
                    "symbolic link to {}, a directory already being checked; not followed",
                    ancestor.display()
                ),
                kind: ProblemKind::NotFollowed,
                is_error: false,
            });
            return;
        }
        let name = error_path(&error).unwrap_or(dir).display().to_string();
        self.failures.push(InputFailure::error(
            name,
            ProblemKind::Unreadable,
            format!("cannot read: {}", io_message(&error)),
        ));
    }

    fn read_file(&mut self, path: &Path, max: usize, walked: bool) {
        let name = path.display().to_string();
        match read_bounded_file(path, max) {
            Ok(bytes) => self.inputs.push(Input {
                name,
                bytes,
                walked,
            }),
            Err(failure) => self.failures.push(InputFailure { name, ..failure }),
        }
    }

    fn read_stdin(&mut self, max: usize) {
        match read_bounded(std::io::stdin().lock(), max) {
            Ok(Some(bytes)) => self.inputs.push(Input {
                name: "-".to_owned(),
                bytes,
                walked: false,
            }),
            Ok(None) => self.failures.push(InputFailure::error(
                "-",
                ProblemKind::TooLarge,
                format!(
                    "stdin holds more than the {} limit; raise it with --max-file-size",
                    human_size(max as u64, false)
                ),
            )),
            Err(e) => self.failures.push(InputFailure::error(
                "-",
                ProblemKind::Unreadable,
                format!("cannot read stdin: {e}"),
            )),
        }
    }
}

/// Reads a regular file, never more than `max` bytes whatever its metadata claims (`/dev/zero`
/// and FIFOs report a size of 0); anything but a regular file is refused before reading.
fn read_bounded_file(path: &Path, max: usize) -> Result<Vec<u8>, InputFailure> {
    let unreadable = |e: std::io::Error| {
        InputFailure::error("", ProblemKind::Unreadable, format!("cannot read: {e}"))
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(InputFailure::error(
            "",
            ProblemKind::Unreadable,
            "not a regular file (a device, FIFO or socket); aksid reads files, directories and - (stdin)",
        ));
    }
    if let Some(problem) = size_limit(max).check_size("", meta.len()) {
        return Err(InputFailure::error(
            "",
            ProblemKind::TooLarge,
            problem.message,
        ));
    }
    let file = std::fs::File::open(path).map_err(unreadable)?;
    match read_bounded(file, max).map_err(unreadable)? {
        Some(bytes) => Ok(bytes),
        None => Err(InputFailure::error(
            "",
            ProblemKind::TooLarge,
            format!(
                "file grew past the {} limit while being read; raise it with --max-file-size",
                human_size(max as u64, false)
            ),
        )),
    }
}

/// At most `max` bytes of `reader`; `None` when there is more.
pub(crate) fn read_bounded(reader: impl Read, max: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    let n = reader.take(max as u64 + 1).read_to_end(&mut bytes)?;
    Ok((n <= max).then_some(bytes))
}

fn has_manifest_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| MANIFEST_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The link and the ancestor it points to, if `error` is a symbolic-link loop.
fn loop_of(error: &ignore::Error) -> Option<(&Path, &Path)> {
    match error {
        ignore::Error::Loop { ancestor, child } => Some((child, ancestor)),
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => loop_of(err),
        _ => None,
    }
}

fn error_path(error: &ignore::Error) -> Option<&Path> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } => error_path(err),
        _ => None,
    }
}

/// The underlying message, without the path (the report names the file itself).
fn io_message(error: &ignore::Error) -> String {
    match error {
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => io_message(err),
        other => other.to_string(),
    }
}

/// The size limit as aksid-manifests states it, so both layers word an oversize input alike.
fn size_limit(max: usize) -> LoadOptions {
    LoadOptions::default().max_bytes(max as u64)
}

#[cfg(test)]
mod tests;
