//! The end-to-end suites' shared harness: where the workspace, the target directory and the
//! binary are, scratch directories named after each test, and running `kubectl-aksid` with
//! failures printed as fenced blocks. Test support only: never a dependency of anything shipped.
#![deny(missing_docs)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Cargo's target directory (`$CARGO_TARGET_DIR`, else `target/`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// The release binary under test (`$AKSID_TEST_BINARY`, else the target directory's);
/// `make test` builds it before the tests run. The pre-commit test's `cargo install` shares
/// only the build directory, never this file.
pub fn binary() -> PathBuf {
    let path = std::env::var_os("AKSID_TEST_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("release/kubectl-aksid"));
    assert!(
        path.is_file(),
        "{} is missing: run `make build` first, or set AKSID_TEST_BINARY",
        path.display()
    );
    path
}

/// Writes `text` to `path` as an executable (0755) script.
pub fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A scratch directory named after the suite and the test, emptied when created and kept
/// afterwards for a look.
pub struct Scratch {
    /// The directory.
    pub dir: PathBuf,
}

impl Scratch {
    /// `$TMPDIR/aksid-e2e-<suite>/<name>`, empty.
    pub fn new(suite: &str, name: &str) -> Scratch {
        let dir = std::env::temp_dir()
            .join(format!("aksid-e2e-{suite}"))
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    /// Writes `relative` (creating its directories).
    pub fn write(&self, relative: &str, content: impl AsRef<[u8]>) -> &Scratch {
        let path = self.dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        self
    }

    /// Runs kubectl-aksid in the directory.
    pub fn aksid(&self, args: &[&str]) -> Run {
        aksid_in(&self.dir, args)
    }
}

/// Runs kubectl-aksid in `dir` with a private module cache and no colour, asserting it did
/// not panic.
pub fn aksid_in(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(binary())
        .args(args)
        .current_dir(dir)
        .env("AKSID_CACHE_DIR", target_dir().join("e2e-cli/module-cache"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run kubectl-aksid");
    let run = Run {
        command: format!("kubectl-aksid {}", args.join(" ")),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        run.code.is_some() && run.code != Some(101) && !run.stderr.contains("panicked"),
        "{run}"
    );
    run
}

/// What a command did.
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited {:?}\nstdout:\n```\n{}\n```\nstderr:\n```\n{}\n```",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    #[track_caller]
    #[allow(missing_docs)]
    pub fn code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(expected),
            "\nexpected exit {expected}\n\n{self}"
        );
        self
    }

    #[track_caller]
    #[allow(missing_docs)]
    pub fn stdout_has(&self, needle: &str) -> &Run {
        assert!(
            self.stdout.contains(needle),
            "\nexpected stdout to contain:\n```\n{needle}\n```\n\n{self}"
        );
        self
    }

    /// Standard output parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{self}"))
    }
}
