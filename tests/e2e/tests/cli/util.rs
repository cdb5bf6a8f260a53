//! Scratch directories, running the binary and Python, and failure messages.

use serde_json::Value;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The scratch directory of the calling test, named after it: `scratch!()`, or
/// `scratch!("case")` to split one test further. The test harness names each test's thread
/// after the test, cases of a table test included, so cases that share one function body
/// still get directories of their own (they run at the same time under nextest).
macro_rules! scratch {
    () => {
        scratch!("")
    };
    ($case:expr) => {{
        fn f() {}
        let name = std::any::type_name_of_val(&f);
        let name = name.strip_suffix("::f").unwrap_or(name);
        $crate::util::Scratch::new(&$crate::util::test_name(name), $case)
    }};
}
pub(crate) use scratch;

/// The workspace root (`tests/e2e/../..`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub use aksid_tests::binary;

/// The compiled-module cache shared by every run of these tests: compiling the four
/// modules takes seconds, loading them from the cache milliseconds.
pub fn module_cache() -> PathBuf {
    workspace().join("target/e2e-cli/module-cache")
}

/// The Python of `.venv/`, with the install hint when it is missing.
pub fn venv_bin(name: &str) -> PathBuf {
    let path = workspace().join(".venv/bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `tests/support/install-test-tools.sh` (or `make test-tools`)",
        path.display()
    );
    path
}

/// A test's own directory.
pub struct Scratch {
    pub dir: PathBuf,
}

/// `crate::module::test` from the harness's thread name (`module::test::case_1_x`), which
/// names table-test cases apart; `function` (the crate-qualified function) when the thread
/// has no test's name.
pub fn test_name(function: &str) -> String {
    let krate = function.split("::").next().unwrap_or_default();
    match std::thread::current().name() {
        Some(thread) if thread != "main" => format!("{krate}::{thread}"),
        _ => function.to_owned(),
    }
}

impl Scratch {
    /// `name` is the test's path (`cli::inputs::binary_file_is_an_error`).
    pub fn new(name: &str, case: &str) -> Scratch {
        let mut dir = std::env::temp_dir().join("aksid-e2e-cli");
        for part in name.split("::").skip(1) {
            dir.push(part);
        }
        if !case.is_empty() {
            dir.push(case);
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .unwrap_or_else(|e| panic!("emptying {}: {e}", dir.display()));
        }
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        Scratch { dir }
    }

    /// Writes `content` to `relative` (creating directories).
    pub fn write(&self, relative: &str, content: impl AsRef<[u8]>) -> &Scratch {
        let path = self.dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, content)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        self
    }

    /// Creates the (empty) directory `relative`.
    pub fn mkdir(&self, relative: &str) -> &Scratch {
        std::fs::create_dir_all(self.dir.join(relative)).unwrap();
        self
    }

    /// Runs `kubectl-aksid ARGS` in the scratch directory, asserting it did not crash.
    pub fn aksid(&self, args: &[&str]) -> Run {
        self.aksid_in(".", args, None)
    }

    /// Runs `kubectl-aksid ARGS` with `stdin` piped in.
    pub fn aksid_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        self.aksid_in(".", args, Some(stdin))
    }

    /// Runs `kubectl-aksid ARGS` in `relative` (a subdirectory).
    pub fn aksid_in(&self, relative: &str, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let run = run_aksid(&self.dir.join(relative), args, stdin);
        run.assert_no_crash();
        run
    }

    /// `check ARGS -o FORMAT` for every format, asserting all four exit alike; returns the
    /// text, json, sarif and junit runs in that order.
    pub fn check_all_formats(&self, args: &[&str]) -> [Run; 4] {
        let runs = ["text", "json", "sarif", "junit"].map(|format| {
            let mut all = vec!["check"];
            all.extend_from_slice(args);
            all.extend(["-o", format]);
            self.aksid(&all)
        });
        for run in &runs[1..] {
            if run.code != runs[0].code {
                runs[0].fail(
                    "every output format to exit alike",
                    &format!("exit {:?} (as `-o text` did)", runs[0].code),
                    Some(run),
                );
            }
        }
        runs
    }
}

/// Runs the binary in `dir`; does not judge the outcome (the corpus test collects crashes).
pub fn run_aksid(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut command = Command::new(binary());
    command
        .args(args)
        .current_dir(dir)
        .env("AKSID_CACHE_DIR", module_cache())
        .env("NO_COLOR", "1");
    run(command, &format!("kubectl-aksid {}", args.join(" ")), stdin)
}

/// Runs `.venv/bin/python -c SCRIPT ARGS` in `dir`; fails with the install hint when a
/// module is missing.
pub fn python(dir: &Path, script: &str, args: &[&OsStr]) -> Run {
    let mut command = Command::new(venv_bin("python"));
    command.arg("-c").arg(script).args(args).current_dir(dir);
    let run = run(command, "python -c SCRIPT", None);
    if run.stderr.contains("ModuleNotFoundError") {
        run.fail(
            "the Python tools of the tests",
            "run `tests/support/install-test-tools.sh` (or `make test-tools`)",
            None,
        );
    }
    run.code(0);
    run
}

/// Runs any command to completion, capturing its output.
pub fn run(mut command: Command, label: &str, stdin: Option<&[u8]>) -> Run {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("starting {label}: {e}"));
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("piped stdin");
        // The child may exit without reading everything (an oversize input): not an error.
        let _ = pipe.write_all(bytes);
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {label}: {e}"));
    Run {
        command: label.to_owned(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A finished command.
pub struct Run {
    pub command: String,
    /// `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// A fenced block.
pub fn fenced(text: &str) -> String {
    format!("```\n{}\n```", text.trim_end())
}

impl Run {
    /// What went wrong with a run that crashed: a signal, Rust's panic exit code 101, or a
    /// panic message.
    pub fn crash(&self) -> Option<String> {
        match self.code {
            None => Some("killed by a signal".to_owned()),
            Some(101) => Some("exit code 101 (a Rust panic)".to_owned()),
            _ if self.stderr.contains("panicked") => Some("\"panicked\" on stderr".to_owned()),
            _ => None,
        }
    }

    pub fn assert_no_crash(&self) {
        if let Some(crash) = self.crash() {
            self.fail("no crash", &format!("no panic, but: {crash}"), None);
        }
    }

    /// Panics with the expectation and the command's output as fenced blocks (or `other`'s,
    /// when another run is the one that failed).
    pub fn fail(&self, what: &str, expected: &str, other: Option<&Run>) -> ! {
        let run = other.unwrap_or(self);
        panic!(
            "\n{what}\n\nexpected:\n{}\n\nactual: `{}` exited {:?}\nstdout:\n{}\nstderr:\n{}\n",
            fenced(expected),
            run.command,
            run.code,
            fenced(&run.stdout),
            fenced(&run.stderr)
        )
    }

    /// Asserts the exit code.
    pub fn code(&self, expected: i32) -> &Run {
        if self.code != Some(expected) {
            self.fail("the exit code", &format!("exit {expected}"), None);
        }
        self
    }

    /// Asserts stdout contains `needle`.
    pub fn stdout_has(&self, needle: &str) -> &Run {
        if !self.stdout.contains(needle) {
            self.fail("stdout to contain a string", needle, None);
        }
        self
    }

    /// Asserts stdout does not contain `needle`.
    pub fn stdout_lacks(&self, needle: &str) -> &Run {
        if self.stdout.contains(needle) {
            self.fail("stdout NOT to contain a string", needle, None);
        }
        self
    }

    /// Asserts stderr contains `needle`.
    pub fn stderr_has(&self, needle: &str) -> &Run {
        if !self.stderr.contains(needle) {
            self.fail("stderr to contain a string", needle, None);
        }
        self
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| self.fail("stdout to be JSON", &format!("JSON ({e})"), None))
    }
}

/// Asserts `actual == expected`, printing both as fenced blocks.
#[track_caller]
pub fn assert_same(what: &str, expected: impl std::fmt::Debug, actual: impl std::fmt::Debug) {
    let (expected, actual) = (format!("{expected:#?}"), format!("{actual:#?}"));
    assert!(
        expected == actual,
        "\n{what}\n\nexpected:\n{}\n\nactual:\n{}\n",
        fenced(&expected),
        fenced(&actual)
    );
}

/// The results of a `-o json` report for `file` (as the report names it) and `policy`.
pub fn results<'a>(report: &'a Value, file: &str, policy: &str) -> Vec<&'a Value> {
    report["results"]
        .as_array()
        .expect("results is an array")
        .iter()
        .filter(|r| r["file"] == file && r["policy"] == policy)
        .collect()
}

/// The errors of a `-o json` report of `kind`.
pub fn errors_of_kind<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["errors"]
        .as_array()
        .expect("errors is an array")
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// The 1-based numbers of the lines of `text` that start with `prefix`.
pub fn lines_of(text: &str, prefix: &str) -> Vec<u64> {
    (1..)
        .zip(text.lines())
        .filter(|(_, line)| line.starts_with(prefix))
        .map(|(n, _)| n)
        .collect()
}

/// Today's date in UTC (as `check` reads the clock) shifted by `days`, as `YYYY-MM-DD`.
pub fn utc_date(days: i64) -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64;
    // Howard Hinnant's civil_from_days.
    let z = seconds.div_euclid(86_400) + days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[test]
fn utc_date_is_a_calendar_date() {
    let today = utc_date(0);
    assert_eq!(today.len(), 10, "{today}");
    assert!(utc_date(-1) < today && today < utc_date(1));
}
