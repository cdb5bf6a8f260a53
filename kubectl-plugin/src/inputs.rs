//! Reading the paths given to `check -f`: files, directories (recursively), and `-` for stdin.
//! The only filesystem access of a check; everything after works on the bytes read here.
//!
//! Every read is bounded while it reads, by the per-file cap (`--max-file-size`) and by what is
//! left of the run's total (`--max-total-size`, a [`Budget`]): an input that would take the run
//! past its total is an error naming the cap and the flag, and later inputs that still fit are
//! read, so a run reports all it could.
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

/// The bytes a run may still read: the per-file cap, and what is left of the run's total. The
/// total bounds the inputs `check` keeps in memory between its two passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    max_file_size: usize,
    max_total_size: usize,
    read: usize,
}

impl Budget {
    /// Nothing read yet.
    pub fn new(max_file_size: usize, max_total_size: usize) -> Budget {
        Budget {
            max_file_size,
            max_total_size,
            read: 0,
        }
    }

    /// The most bytes the next input may hold.
    pub fn allowance(&self) -> usize {
        self.max_file_size.min(self.remaining())
    }

    fn remaining(&self) -> usize {
        self.max_total_size.saturating_sub(self.read)
    }

    /// Counts an input that was kept.
    pub fn charge(&mut self, bytes: usize) {
        self.read = self.read.saturating_add(bytes);
    }

    /// Whether an input of `len` bytes is refused by the run's total rather than the per-file
    /// cap (which keeps its own, older messages).
    fn total_refuses(&self, len: u64) -> bool {
        len <= self.max_file_size as u64 && len > self.remaining() as u64
    }

    /// The error for an input the run's total refuses.
    pub fn total_exceeded(&self) -> String {
        format!(
            "not read: the run's inputs together would pass the {} limit ({} already read); \
             raise it with --max-total-size",
            human_size(self.max_total_size as u64, false),
            human_size(self.read as u64, false)
        )
    }

    /// The error for an input of more than [`allowance`](Self::allowance) bytes: the total's
    /// when it was the smaller limit, else `per_file` (the caller words the per-file cap).
    pub fn overflow(&self, per_file: String) -> String {
        if self.remaining() < self.max_file_size {
            self.total_exceeded()
        } else {
            per_file
        }
    }
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

/// Reads every path, charging what it reads to `budget` (which earlier reads of the run, such
/// as kustomize renders, may have used); failures are collected, never fatal, so the other
/// inputs are still checked. `no_ignore` walks into what `.gitignore`/`.ignore` files exclude.
pub fn read_all(paths: &[PathBuf], no_ignore: bool, budget: &mut Budget) -> ReadResult {
    let mut out = ReadResult::default();
    let mut stdin_read = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if !stdin_read {
                stdin_read = true;
                out.read_stdin(budget);
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
                out.walk(path, no_ignore, budget);
                if out.inputs.len() == before {
                    out.failures.push(InputFailure::error(
                        path.display().to_string(),
                        ProblemKind::NoManifests,
                        "directory holds no .yaml, .yml or .json files",
                    ));
                }
            }
            Ok(_) => out.read_file(path, budget, false),
        }
    }
    out
}

impl ReadResult {
    fn walk(&mut self, dir: &Path, no_ignore: bool, budget: &mut Budget) {
        let walker = ignore::WalkBuilder::new(dir)
            .follow_links(true)
            .hidden(true)
            .ignore(!no_ignore)
            .git_ignore(!no_ignore)
            .git_exclude(!no_ignore)
            .git_global(false)
            .parents(!no_ignore)
            .sort_by_file_path(Path::cmp)
            .build();
        for entry in walker {
            match entry {
                Ok(entry) => {
                    let is_file = entry.file_type().is_some_and(|t| t.is_file());
                    if is_file && has_manifest_extension(entry.path()) {
                        self.read_file(entry.path(), budget, true);
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

    fn read_file(&mut self, path: &Path, budget: &mut Budget, walked: bool) {
        let name = path.display().to_string();
        match read_bounded_file(path, budget) {
            Ok(bytes) => {
                budget.charge(bytes.len());
                self.inputs.push(Input {
                    name,
                    bytes,
                    walked,
                });
            }
            Err(failure) => self.failures.push(InputFailure { name, ..failure }),
        }
    }

    fn read_stdin(&mut self, budget: &mut Budget) {
        match read_bounded(std::io::stdin().lock(), budget.allowance()) {
            Ok(Some(mut bytes)) => {
                // Kept until the run ends: not the doubled capacity reading grew it to.
                bytes.shrink_to_fit();
                budget.charge(bytes.len());
                self.inputs.push(Input {
                    name: "-".to_owned(),
                    bytes,
                    walked: false,
                });
            }
            Ok(None) => self.failures.push(InputFailure::error(
                "-",
                ProblemKind::TooLarge,
                budget.overflow(format!(
                    "stdin holds more than the {} limit; raise it with --max-file-size",
                    human_size(budget.max_file_size as u64, false)
                )),
            )),
            Err(e) => self.failures.push(InputFailure::error(
                "-",
                ProblemKind::Unreadable,
                format!("cannot read stdin: {e}"),
            )),
        }
    }
}

/// Reads a regular file, never more than the budget allows whatever its metadata claims
/// (`/dev/zero` and FIFOs report a size of 0); anything but a regular file is refused before
/// reading, and so is one whose claimed size is already over a limit.
fn read_bounded_file(path: &Path, budget: &Budget) -> Result<Vec<u8>, InputFailure> {
    let max = budget.allowance();
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
    if let Some(problem) = size_limit(budget.max_file_size).check_size("", meta.len()) {
        return Err(InputFailure::error(
            "",
            ProblemKind::TooLarge,
            problem.message,
        ));
    }
    if budget.total_refuses(meta.len()) {
        return Err(InputFailure::error(
            "",
            ProblemKind::TooLarge,
            budget.total_exceeded(),
        ));
    }
    let file = std::fs::File::open(path).map_err(unreadable)?;
    // Sized from the metadata, so the bytes kept between check's passes are not a doubled
    // capacity; a file that grows is still cut at `max`.
    let capacity = usize::try_from(meta.len()).unwrap_or(max).min(max);
    match read_bounded_into(file, max, Vec::with_capacity(capacity)).map_err(unreadable)? {
        Some(bytes) => Ok(bytes),
        None => Err(InputFailure::error(
            "",
            ProblemKind::TooLarge,
            budget.overflow(format!(
                "file grew past the {} limit while being read; raise it with --max-file-size",
                human_size(max as u64, false)
            )),
        )),
    }
}

/// At most `max` bytes of `reader`; `None` when there is more.
pub(crate) fn read_bounded(reader: impl Read, max: usize) -> std::io::Result<Option<Vec<u8>>> {
    read_bounded_into(reader, max, Vec::new())
}

fn read_bounded_into(
    reader: impl Read,
    max: usize,
    mut bytes: Vec<u8>,
) -> std::io::Result<Option<Vec<u8>>> {
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
