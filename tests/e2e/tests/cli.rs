//! End-to-end tests of `kubectl aksid` (issue 4's "Done when"), through the built binary
//! (`target/release/kubectl-aksid`, from `make build`) and real consumers of what it writes:
//! Python's `jsonschema` with the official SARIF 2.1.0 schema, `junitparser`, and `pre-commit`,
//! all from the `.venv/` that `tests/support/install-test-tools.sh` sets up.
//!
//! One module per feature. Each test writes its fixtures into its own scratch directory, named
//! after the test (`$TMPDIR/aksid-e2e-cli/<module>/<test>`, emptied when the test starts and kept
//! afterwards for a look), runs the binary there with relative paths, and on failure prints what
//! it expected and what the command did as fenced blocks. Every run also asserts that the binary
//! did not panic.
//!
//! The scratch directories live outside the repository on purpose: `check` searches `.aksid.yaml`
//! upwards to the repository root, and the checkout must not lend its own exceptions to the tests.

/// Scratch directories, running the binary and Python, and failure messages.
mod util {
    use serde_json::Value;
    use std::ffi::OsStr;
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};

    /// The scratch directory of the calling test, named after it: `scratch!()`, or
    /// `scratch!("case")` for one case of a table test (rstest cases share their function).
    macro_rules! scratch {
        () => {
            scratch!("")
        };
        ($case:expr) => {{
            fn f() {}
            let name = std::any::type_name_of_val(&f);
            $crate::util::Scratch::new(name.strip_suffix("::f").unwrap_or(name), $case)
        }};
    }
    pub(crate) use scratch;

    /// The workspace root (`tests/e2e/../..`).
    pub fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// The binary under test; the tests never build it themselves (`make test` builds first).
    ///
    /// Each test process runs its own copy, taken on first use: the pre-commit test's
    /// `cargo install` shares `target/` (to reuse the compiled dependencies rather than spend
    /// minutes rebuilding them) and replaces `target/release/kubectl-aksid` while it runs.
    pub fn binary() -> PathBuf {
        static COPY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
        COPY.get_or_init(|| {
            let path = workspace().join("target/release/kubectl-aksid");
            assert!(
                path.is_file(),
                "{} is missing: run `make build` first (these tests run the built binary)",
                path.display()
            );
            let dir =
                std::env::temp_dir().join(format!("aksid-e2e-cli-bin-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create the binary copy's directory");
            let copy = dir.join("kubectl-aksid");
            std::fs::copy(&path, &copy).expect("copy the binary under test");
            copy
        })
        .clone()
    }

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
            std::fs::create_dir_all(&dir)
                .unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
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
}

/// Manifests shared by the tests. Secret-looking values are fake, shaped like the real formats.
mod fixtures {
    /// Takes its password from a Secret: every policy accepts it.
    pub const GOOD_DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: contoso.azurecr.io/web:1.4.2
          env:
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef: {name: web-db, key: password}
            - name: LOG_LEVEL
              value: info
";

    /// A literal password in `env`: rejected by no-plaintext-secret-env.
    pub const BAD_DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: contoso.azurecr.io/api:3.0.0
          env:
            - name: DB_PASSWORD
              value: \"S3cr3tP@ssw0rd!2024xyz\"
";

    /// cluster-admin for a user: rejected by no-cluster-admin-users.
    pub const USER_CLUSTER_ADMIN: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: bob-cluster-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: User
    name: bob@contoso.com
";

    /// cluster-admin for an Entra group by object ID: accepted.
    pub const GROUP_CLUSTER_ADMIN: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: platform-admins
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: Group
    name: 6f1c9d3e-2b4a-4c8e-9f7d-1a2b3c4d5e6f
";

    /// No policy selects a ConfigMap.
    pub const CONFIG_MAP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  LOG_LEVEL: info
";

    /// Not YAML: an unclosed flow sequence on line 5.
    pub const MALFORMED: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
  labels: [unclosed
";
}

/// Inputs and exit codes: what `check` reads, how it locates findings and problems, and the
/// documented exit codes (0 clean, 1 rejected, 2 input error or no objects) in every format.
mod inputs {
    use crate::fixtures::*;
    use crate::util::{assert_same, errors_of_kind, lines_of, results, scratch};
    use rstest::rstest;

    #[test]
    fn clean_directory_exits_0_in_every_format() {
        let s = scratch!();
        s.write("deploy/web.yaml", GOOD_DEPLOYMENT)
            .write("deploy/rbac/admins.yml", GROUP_CLUSTER_ADMIN)
            .write("deploy/settings.yaml", CONFIG_MAP);
        let [text, json, ..] = s.check_all_formats(&["-f", "deploy/"]);
        text.code(0)
            .stdout_has("deploy/web.yaml\n  ✓ 1 object accepted")
            .stdout_has("deploy/rbac/admins.yml\n  ✓ 1 object accepted")
            .stdout_has("✓ 3 objects · 4 policies · 0 rejected");
        let report = json.json();
        assert_same("summary", (3, 0, 0), {
            let s = &report["summary"];
            (
                s["objects"].as_u64().unwrap(),
                s["rejected"].as_u64().unwrap(),
                s["errors"].as_u64().unwrap(),
            )
        });
    }

    #[test]
    fn rejected_manifest_exits_1_in_every_format() {
        let s = scratch!();
        s.write("api.yaml", BAD_DEPLOYMENT)
            .write("web.yaml", GOOD_DEPLOYMENT);
        let [text, json, ..] = s.check_all_formats(&["-f", "api.yaml", "-f", "web.yaml"]);
        text.code(1)
            .stdout_has("api.yaml\n  line 1  Deployment shop/api\n    ✗ rejected by no-plaintext-secret-env")
            .stdout_has("env[DB_PASSWORD]")
            .stdout_has("web.yaml\n  ✓ 1 object accepted")
            .stdout_has("✗ 2 objects · 4 policies · 1 rejected");
        let report = json.json();
        let rejected = results(&report, "api.yaml", "no-plaintext-secret-env");
        assert_same(
            "the api rejection",
            Some(false),
            rejected.first().map(|r| r["allowed"].as_bool().unwrap()),
        );
    }

    #[test]
    fn malformed_yaml_exits_2_and_the_other_files_are_still_reported() {
        let s = scratch!();
        s.write("k8s/a-good.yaml", GOOD_DEPLOYMENT)
            .write("k8s/b-broken.yaml", MALFORMED)
            .write("k8s/c-bad.yaml", BAD_DEPLOYMENT);
        let [text, json, ..] = s.check_all_formats(&["-f", "k8s"]);
        text.code(2)
            .stdout_has("k8s/a-good.yaml\n  ✓ 1 object accepted")
            .stdout_has("k8s/c-bad.yaml\n  line 1  Deployment shop/api\n    ✗ rejected by no-plaintext-secret-env")
            .stdout_has("✗ k8s/b-broken.yaml:")
            .stdout_has("malformed YAML");
        let report = json.json();
        let malformed = errors_of_kind(&report, "malformedYaml");
        assert_same(
            "one malformedYaml error, for the broken file",
            vec!["k8s/b-broken.yaml"],
            malformed
                .iter()
                .map(|e| e["file"].as_str().unwrap())
                .collect::<Vec<_>>(),
        );
        assert_same(
            "the bad file's rejection next to the error",
            vec![false],
            results(&report, "k8s/c-bad.yaml", "no-plaintext-secret-env")
                .iter()
                .map(|r| r["allowed"].as_bool().unwrap())
                .collect::<Vec<_>>(),
        );
        assert_same(
            "objects read",
            2,
            report["summary"]["objects"].as_u64().unwrap(),
        );
    }

    #[rstest]
    #[case::empty_directory("empty_directory")]
    #[case::comments_only_file("comments_only_file")]
    #[case::empty_stdin("empty_stdin")]
    fn zero_objects_exit_2_with_a_clear_message(#[case] case: &str) {
        let s = scratch!(case);
        let args: &[&str] = match case {
            "empty_directory" => {
                s.mkdir("rendered");
                &["check", "-f", "rendered"]
            }
            "comments_only_file" => {
                s.write(
                    "all.yaml",
                    "# helm template produced nothing\n---\n# still nothing\n",
                );
                &["check", "-f", "all.yaml"]
            }
            _ => &["check", "-f", "-"],
        };
        for format in ["text", "json", "sarif", "junit"] {
            let mut all = args.to_vec();
            all.extend(["-o", format]);
            let run = s.aksid_stdin(&all, b"");
            run.code(2).stdout_has("no Kubernetes objects found");
            if format == "text" {
                run.stdout_has("✗ no Kubernetes objects found in the inputs");
            }
            if format == "json" {
                let report = run.json();
                assert_same(
                    "noObjects errors",
                    1,
                    errors_of_kind(&report, "noObjects").len(),
                );
            }
        }
    }

    #[test]
    fn stdin_dash_is_read_and_reported_as_dash() {
        let s = scratch!();
        let run = s.aksid_stdin(
            &["check", "-f", "-", "-o", "json"],
            BAD_DEPLOYMENT.as_bytes(),
        );
        run.code(1);
        let report = run.json();
        assert_same(
            "the rejection, named after stdin",
            vec![false],
            results(&report, "-", "no-plaintext-secret-env")
                .iter()
                .map(|r| r["allowed"].as_bool().unwrap())
                .collect::<Vec<_>>(),
        );
        // A file next to stdin is read too.
        s.write("web.yaml", GOOD_DEPLOYMENT);
        s.aksid_stdin(
            &["check", "-f", "web.yaml", "-f", "-"],
            BAD_DEPLOYMENT.as_bytes(),
        )
        .code(1)
        .stdout_has("-\n  line 1  Deployment shop/api")
        .stdout_has("web.yaml\n  ✓ 1 object accepted");
    }

    #[test]
    fn list_items_are_checked_at_their_own_lines() {
        let s = scratch!();
        let items: String = [CONFIG_MAP, USER_CLUSTER_ADMIN]
            .iter()
            .map(|item| {
                let mut lines = item.lines();
                let first = format!("  - {}\n", lines.next().unwrap());
                first + &lines.map(|l| format!("    {l}\n")).collect::<String>()
            })
            .collect();
        let text = format!("apiVersion: v1\nkind: List\nitems:\n{items}");
        let line = lines_of(&text, "  - apiVersion: rbac.authorization.k8s.io/v1")[0];
        s.write("list.yaml", &text);
        let run = s.aksid(&["check", "-f", "list.yaml", "-o", "json"]);
        run.code(1);
        let report = run.json();
        let binding = results(&report, "list.yaml", "no-cluster-admin-users");
        assert_same(
            "the ClusterRoleBinding item: (line, document, name, allowed)",
            vec![(line, 1, "bob-cluster-admin", false)],
            binding
                .iter()
                .map(|r| {
                    (
                        r["line"].as_u64().unwrap(),
                        r["document"].as_u64().unwrap(),
                        r["name"].as_str().unwrap(),
                        r["allowed"].as_bool().unwrap(),
                    )
                })
                .collect::<Vec<_>>(),
        );
        assert_same(
            "objects: both items, not the List",
            2,
            report["summary"]["objects"].as_u64().unwrap(),
        );
    }

    #[test]
    fn json_input_is_checked() {
        let s = scratch!();
        let yaml: serde_json::Value = serde_saphyr::from_str(USER_CLUSTER_ADMIN).unwrap();
        s.write("binding.json", serde_json::to_string_pretty(&yaml).unwrap());
        // An array of objects, as some tools write, is read too.
        let good: serde_json::Value = serde_saphyr::from_str(GROUP_CLUSTER_ADMIN).unwrap();
        s.write("bindings.json", serde_json::to_string(&[good]).unwrap());
        s.aksid(&["check", "-f", "binding.json", "-f", "bindings.json"])
            .code(1)
            .stdout_has("binding.json\n  line 1  ClusterRoleBinding bob-cluster-admin\n    ✗ rejected by no-cluster-admin-users")
            .stdout_has("bindings.json\n  ✓ 1 object accepted");
    }

    #[test]
    fn multi_document_yaml_reports_the_document_and_line() {
        let s = scratch!();
        let text = format!(
            "# three documents\n{CONFIG_MAP}---\n{GOOD_DEPLOYMENT}---\n\n# the bad one\n{USER_CLUSTER_ADMIN}"
        );
        // An object starts at its first content line, here `apiVersion:`.
        let binding_line = lines_of(&text, "apiVersion: rbac.authorization.k8s.io/v1")[0];
        let deployment_line = lines_of(&text, "apiVersion: apps/v1")[0];
        assert!(
            binding_line > 20 && deployment_line > 5,
            "{binding_line} {deployment_line}"
        );
        s.write("all.yaml", &text);
        s.aksid(&["check", "-f", "all.yaml"]).code(1).stdout_has(&format!(
            "all.yaml\n  line {binding_line}  ClusterRoleBinding bob-cluster-admin\n    ✗ rejected by no-cluster-admin-users"
        ));
        let report = s.aksid(&["check", "-f", "all.yaml", "-o", "json"]).json();
        let found: Vec<(u64, u64)> = results(&report, "all.yaml", "no-cluster-admin-users")
            .iter()
            .map(|r| (r["line"].as_u64().unwrap(), r["document"].as_u64().unwrap()))
            .collect();
        assert_same(
            "(line, document) of the binding",
            vec![(binding_line, 3)],
            found,
        );
        let web: Vec<(u64, u64)> = results(&report, "all.yaml", "no-plaintext-secret-env")
            .iter()
            .map(|r| (r["line"].as_u64().unwrap(), r["document"].as_u64().unwrap()))
            .collect();
        assert_same(
            "(line, document) of the Deployment",
            vec![(deployment_line, 2)],
            web,
        );
    }

    #[test]
    fn unrendered_helm_template_is_named_with_file_document_and_line() {
        let s = scratch!();
        let text = format!(
            "{CONFIG_MAP}---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{{{ .Release.Name }}}}-web\n  labels:\n{{{{ include \"chart.labels\" . | indent 4 }}}}\n"
        );
        // The first template action.
        let line = lines_of(&text, "  name: {{")[0];
        s.write("chart/templates/deployment.yaml", &text);
        let message = "this looks like an unrendered template; render it first (helm template ...)";
        s.aksid(&["check", "-f", "chart/"])
            .code(2)
            .stdout_has(&format!(
                "✗ chart/templates/deployment.yaml:{line} (document 2): {message}"
            ));
        let report = s.aksid(&["check", "-f", "chart/", "-o", "json"]).json();
        let errors: Vec<_> = errors_of_kind(&report, "unrenderedTemplate")
            .iter()
            .map(|e| {
                (
                    e["file"].as_str().unwrap(),
                    e["document"].as_u64(),
                    e["line"].as_u64(),
                    e["message"].as_str().unwrap(),
                )
            })
            .collect();
        assert_same(
            "the template error",
            vec![(
                "chart/templates/deployment.yaml",
                Some(2),
                Some(line),
                message,
            )],
            errors,
        );
    }

    #[test]
    fn binary_file_is_an_error() {
        let s = scratch!();
        s.write("image.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
            .write("web.yaml", GOOD_DEPLOYMENT);
        s.aksid(&["check", "-f", "image.yaml", "-f", "web.yaml"])
            .code(2)
            .stdout_has("✗ image.yaml: binary file, not a Kubernetes manifest")
            .stdout_has("web.yaml\n  ✓ 1 object accepted");
        let report = s.aksid(&["check", "-f", "image.yaml", "-o", "json"]).json();
        assert_same(
            "binary errors",
            vec!["image.yaml"],
            errors_of_kind(&report, "binary")
                .iter()
                .map(|e| e["file"].as_str().unwrap())
                .collect::<Vec<_>>(),
        );
    }

    #[test]
    fn empty_file_is_a_notice_next_to_other_files() {
        let s = scratch!();
        s.write("deploy/empty.yaml", "")
            .write("deploy/web.yaml", GOOD_DEPLOYMENT);
        s.aksid(&["check", "-f", "deploy"])
            .code(0)
            .stdout_has("• deploy/empty.yaml: file is empty");
        let report = s.aksid(&["check", "-f", "deploy", "-o", "json"]).json();
        let notices: Vec<_> = report["notices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["file"].as_str().unwrap(), n["kind"].as_str().unwrap()))
            .collect();
        assert_same("notices", vec![("deploy/empty.yaml", "empty")], notices);
        // Alone, it is a run without objects.
        s.aksid(&["check", "-f", "deploy/empty.yaml"])
            .code(2)
            .stdout_has("no Kubernetes objects found");
    }

    #[test]
    fn directory_without_manifests_is_an_error() {
        let s = scratch!();
        s.write("docs/README.md", "# not a manifest\n")
            .write("docs/run.sh", "kubectl apply -f .\n")
            .write("docs/.hidden/x.yaml", USER_CLUSTER_ADMIN)
            .write("web.yaml", GOOD_DEPLOYMENT);
        s.aksid(&["check", "-f", "docs", "-f", "web.yaml"])
            .code(2)
            .stdout_has("✗ docs: directory holds no .yaml, .yml or .json files")
            .stdout_has("web.yaml\n  ✓ 1 object accepted")
            .stdout_lacks("bob-cluster-admin");
    }

    #[test]
    fn file_over_max_file_size_is_skipped_naming_the_limit() {
        let s = scratch!();
        let big = format!(
            "{}{USER_CLUSTER_ADMIN}",
            "# padding to make the file large\n".repeat(64)
        );
        assert!(big.len() > 2048 && big.len() < 3072, "{}", big.len());
        s.write("big.yaml", &big).write("web.yaml", GOOD_DEPLOYMENT);
        let run = s.aksid(&[
            "check",
            "-f",
            "big.yaml",
            "-f",
            "web.yaml",
            "--max-file-size",
            "1KiB",
        ]);
        run.code(2)
            .stdout_has("✗ big.yaml: file is 2.")
            .stdout_has("KiB, larger than the 1 KiB limit; raise it with --max-file-size")
            .stdout_has("web.yaml\n  ✓ 1 object accepted")
            .stdout_lacks("bob-cluster-admin");
        let report = s
            .aksid(&[
                "check",
                "-f",
                "big.yaml",
                "--max-file-size",
                "1KiB",
                "-o",
                "json",
            ])
            .json();
        assert_same(
            "tooLarge errors",
            vec!["big.yaml"],
            errors_of_kind(&report, "tooLarge")
                .iter()
                .map(|e| e["file"].as_str().unwrap())
                .collect::<Vec<_>>(),
        );
        // Stdin is not read past the limit.
        s.aksid_stdin(
            &["check", "-f", "-", "--max-file-size", "1KiB"],
            big.as_bytes(),
        )
        .code(2)
        .stdout_has("✗ -: stdin holds more than the 1 KiB limit; raise it with --max-file-size");
        // And the default limit reads it.
        s.aksid(&["check", "-f", "big.yaml"]).code(1);
    }

    #[test]
    fn document_without_kind_names_the_field() {
        let s = scratch!();
        let text = format!("{CONFIG_MAP}---\napiVersion: v1\nmetadata:\n  name: kindless\n");
        let line = lines_of(&text, "apiVersion: v1")[1];
        s.write("cm.yaml", &text);
        s.aksid(&["check", "-f", "cm.yaml"])
            .code(2)
            .stdout_has(&format!(
                "✗ cm.yaml:{line} (document 2): field kind: object has no kind"
            ));
        let report = s.aksid(&["check", "-f", "cm.yaml", "-o", "json"]).json();
        let errors: Vec<_> = errors_of_kind(&report, "missingField")
            .iter()
            .map(|e| {
                (
                    e["file"].as_str().unwrap(),
                    e["document"].as_u64(),
                    e["line"].as_u64(),
                    e["field"].as_str(),
                )
            })
            .collect();
        assert_same(
            "the missing field",
            vec![("cm.yaml", Some(2), Some(line), Some("kind"))],
            errors,
        );
    }

    /// Inputs built to break parsers: each is reported (exit 2), none crashes the binary.
    #[test]
    fn hostile_inputs_are_reported_never_crash() {
        let s = scratch!();
        let deep_flow = format!(
            "apiVersion: v1\nkind: ConfigMap\ndata: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let deep_block: String = "apiVersion: v1\nkind: ConfigMap\ndata:\n".to_owned()
            + &(1..3000)
                .map(|i| format!("{}- \n", "  ".repeat(i)))
                .collect::<String>();
        let mut laughs = vec![
            "apiVersion: v1\nkind: ConfigMap\na0: &a0 [x, x, x, x, x, x, x, x, x, x]".to_owned(),
        ];
        laughs.extend((1..10).map(|i| {
            format!(
                "a{i}: &a{i} [{}]",
                vec![format!("*a{}", i - 1); 10].join(", ")
            )
        }));
        let deep_json = format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"d\":{}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let utf16: Vec<u8> = "apiVersion: v1\nkind: ConfigMap\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        s.write("deep-flow.yaml", deep_flow)
            .write("deep-block.yaml", deep_block)
            .write("laughs.yaml", laughs.join("\n") + "\n")
            .write("deep.json", deep_json)
            .write("utf16.yaml", [&[0xff, 0xfe][..], &utf16].concat())
            .write(
                "invalid-utf8.yaml",
                b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \xc3\x28\n",
            );
        let run = s.aksid(&["check", "-f", ".", "-o", "json"]);
        run.code(2);
        let report = run.json();
        let mut files: Vec<&str> = report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["file"].as_str().unwrap())
            .collect();
        files.sort();
        files.dedup();
        assert_same(
            "every hostile file reported as an error",
            // `.`: the run found no object at all.
            vec![
                ".",
                "./deep-block.yaml",
                "./deep-flow.yaml",
                "./deep.json",
                "./invalid-utf8.yaml",
                "./laughs.yaml",
                "./utf16.yaml",
            ],
            files,
        );
    }
}

/// `-o json`: the documented schema (version 1) for a known fixture.
mod json_output {
    use crate::fixtures::*;
    use crate::util::{assert_same, lines_of, scratch};
    use serde_json::json;

    #[test]
    fn documented_fields_of_a_known_fixture() {
        let s = scratch!();
        let api = BAD_DEPLOYMENT.replace("  namespace: shop\n", "");
        let text = format!(
            "# the web tier\n{api}---\n{GROUP_CLUSTER_ADMIN}---\napiVersion: v1\nmetadata:\n  name: kindless\n"
        );
        let starts = lines_of(&text, "apiVersion:");
        s.write("apps/web.yaml", &text);
        let run = s.aksid(&[
            "check",
            "-f",
            "apps/web.yaml",
            "-o",
            "json",
            "--namespace",
            "team-a",
        ]);
        run.code(2);
        let report = run.json();
        assert_same("version", 1, report["version"].as_u64().unwrap());

        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        let results = report["results"].as_array().unwrap();
        for r in results {
            assert_same(
                "the fields of every result",
                [
                    "allowed",
                    "apiVersion",
                    "document",
                    "enforced",
                    "exception",
                    "file",
                    "kind",
                    "line",
                    "message",
                    "name",
                    "namespace",
                    "policy",
                    "warnings",
                ],
                keys(r),
            );
        }
        let rejection = results
            .iter()
            .find(|r| r["allowed"] == false)
            .expect("a rejection");
        let message = rejection["message"].as_str().unwrap_or_default().to_owned();
        assert!(
            message.contains("env[DB_PASSWORD]") && !message.contains("S3cr3t"),
            "{message}"
        );
        let mut expected = json!({
            "file": "apps/web.yaml", "line": starts[0], "document": 1,
            "apiVersion": "apps/v1", "kind": "Deployment",
            "namespace": "team-a", "name": "api",
            "policy": "no-plaintext-secret-env", "allowed": false,
            "message": message, "warnings": [], "exception": null, "enforced": true,
        });
        assert_same("the rejection", &expected, rejection);
        let binding = results
            .iter()
            .find(|r| r["policy"] == "no-cluster-admin-users")
            .expect("the binding's no-cluster-admin-users result");
        expected = json!({
            "file": "apps/web.yaml", "line": starts[1], "document": 2,
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "namespace": null, "name": "platform-admins",
            "policy": "no-cluster-admin-users", "allowed": true,
            "message": null, "warnings": [], "exception": null, "enforced": true,
        });
        assert_same("a cluster-scoped acceptance", &expected, binding);

        assert_same(
            "errors",
            json!([{
                "file": "apps/web.yaml", "document": 3, "line": starts[2], "field": "kind",
                "kind": "missingField", "message": "object has no kind",
                "policy": null, "object": null,
            }]),
            &report["errors"],
        );
        assert_same("notices", json!([]), &report["notices"]);
        assert_same(
            "exceptions",
            json!({"used": [], "expired": []}),
            &report["exceptions"],
        );
        assert_same(
            "files",
            json!([{"file": "apps/web.yaml", "objects": 2, "notSelected": 0}]),
            &report["files"],
        );
        // The Deployment is judged by two policies, the binding by two.
        let policy = |id: &str, evaluations: u32, rejected: u32| json!({"id": id, "evaluations": evaluations, "rejected": rejected, "excepted": 0, "errors": 0});
        assert_same(
            "summary",
            json!({
                "files": 1, "objects": 2, "evaluations": 4, "rejected": 1, "accepted": 3,
                "errors": 1, "excepted": 0, "warnings": 0, "notices": 0,
                "policies": [
                    policy("no-cluster-admin-users", 1, 0),
                    policy("no-local-accounts", 1, 0),
                    policy("no-plaintext-secret-env", 1, 1),
                    policy("workload-identity-labels", 1, 0),
                ],
            }),
            &report["summary"],
        );
    }
}

/// `-o sarif`: valid against the official SARIF 2.1.0 schema (vendored at
/// `tests/schemas/sarif-schema-2.1.0.json`) and usable by GitHub code scanning.
mod sarif {
    use crate::fixtures::*;
    use crate::util::{assert_same, python, scratch, workspace};
    use serde_json::Value;
    use std::ffi::OsStr;

    /// Validates each instance with the validator the schema's `$schema` names (draft 7), format
    /// checks on (`uri`, `uri-reference`, ... need `jsonschema[format-nongpl]`), after checking
    /// the schema itself, whose `pattern`s must all compile with Python's `re`: the `language`
    /// pattern `^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$` has a stray `]`, which `re` reads as a
    /// literal, so the schema is used unpatched.
    const VALIDATE: &str = r#"
import json, re, sys
import jsonschema
schema = json.load(open(sys.argv[1], encoding="utf-8"))
def patterns(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            yield from patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from patterns(value)
compiled = [re.compile(p) for p in patterns(schema)]
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
errors = {}
for path in sys.argv[2:]:
    instance = json.load(open(path, encoding="utf-8"))
    errors[path] = ["/" + "/".join(map(str, e.absolute_path)) + ": " + e.message[:200]
                    for e in validator.iter_errors(instance)]
print(json.dumps({"validator": cls.__name__, "patterns": len(compiled),
                  "formats": sorted(cls.FORMAT_CHECKER.checkers), "errors": errors}))
"#;

    #[test]
    fn validates_against_the_official_schema_with_code_scanning_essentials() {
        let s = scratch!();
        s.write("apps/api.yaml", BAD_DEPLOYMENT)
            .write("apps/my app.yaml", GOOD_DEPLOYMENT)
            .write("rbac/bindings.yaml", format!("{GROUP_CLUSTER_ADMIN}---\n{USER_CLUSTER_ADMIN}"))
            .write("broken.yaml", MALFORMED)
            .write("empty.yaml", "")
            // An accepted exception: a suppressed result.
            .write(
                "exceptions.yaml",
                "exceptions:\n- policy: no-cluster-admin-users\n  match: {name: bob-cluster-admin}\n  reason: break-glass account, JIRA-7\n",
            );
        s.write(
            "apps/wi.yaml",
            BAD_DEPLOYMENT.replace("name: api", "name: api2").replace(
                "labels: {app: api}",
                "labels: {app: api, aadpodidbinding: api}",
            ),
        );
        let args = [
            "check",
            "-f",
            "apps",
            "-f",
            "rbac",
            "-f",
            "broken.yaml",
            "-f",
            "empty.yaml",
            "--exceptions",
            "exceptions.yaml",
        ];
        let sarif_run = s.aksid(&[&args[..], &["-o", "sarif"]].concat());
        sarif_run.code(2);
        let json_run = s.aksid(&[&args[..], &["-o", "json"]].concat());
        s.write("aksid.sarif", &sarif_run.stdout);
        let sarif = sarif_run.json();

        // A broken copy proves the validator does reject: no tool name, a line 0.
        let mut broken = sarif.clone();
        broken["runs"][0]["tool"]["driver"]
            .as_object_mut()
            .unwrap()
            .remove("name");
        broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
            0.into();
        s.write("broken.sarif", serde_json::to_string(&broken).unwrap());

        let schema = workspace().join("tests/schemas/sarif-schema-2.1.0.json");
        let out = python(
            &s.dir,
            VALIDATE,
            &[
                schema.as_os_str(),
                OsStr::new("aksid.sarif"),
                OsStr::new("broken.sarif"),
            ],
        );
        let verdict: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_same(
            "the validator the schema selects",
            "Draft7Validator",
            verdict["validator"].as_str().unwrap(),
        );
        let formats: Vec<&str> = verdict["formats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert!(
            formats.contains(&"uri") && formats.contains(&"uri-reference"),
            "format checks missing: {formats:?}; run tests/support/install-test-tools.sh"
        );
        assert!(verdict["patterns"].as_u64().unwrap() > 10, "{verdict}");
        assert_same(
            "schema violations of aksid's SARIF",
            Vec::<String>::new(),
            serde_json::from_value::<Vec<String>>(verdict["errors"]["aksid.sarif"].clone())
                .unwrap(),
        );
        let control = verdict["errors"]["broken.sarif"].as_array().unwrap();
        assert!(
            control.len() >= 2,
            "the validator accepted a broken log: {control:?}"
        );

        // GitHub code scanning's essentials.
        assert_same("version", "2.1.0", sarif["version"].as_str().unwrap());
        let run = &sarif["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let rule_ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let mut sorted = rule_ids.clone();
        sorted.sort();
        assert_same(
            "one rule per policy",
            vec![
                "no-cluster-admin-users",
                "no-local-accounts",
                "no-plaintext-secret-env",
                "workload-identity-labels",
            ],
            sorted,
        );
        for rule in rules {
            assert!(
                rule["shortDescription"]["text"].is_string() && rule["help"]["text"].is_string(),
                "{rule:#}"
            );
        }
        let report = json_run.json();
        let results = run["results"].as_array().unwrap();
        let mut located = Vec::new();
        for result in results {
            let rule_id = result["ruleId"]
                .as_str()
                .unwrap_or_else(|| panic!("no ruleId: {result:#}"));
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_same("the rule at ruleIndex", rule_id, rule_ids[index]);
            let location = &result["locations"][0]["physicalLocation"];
            let uri = location["artifactLocation"]["uri"].as_str().unwrap();
            assert!(
                !uri.starts_with('/') && !uri.contains(':'),
                "not a relative path: {uri}"
            );
            let line = location["region"]["startLine"].as_u64().unwrap();
            assert!(line >= 1, "{result:#}");
            let suppressed = result.get("suppressions").is_some();
            located.push((uri.to_owned(), line, rule_id.to_owned(), suppressed));
        }
        located.sort();
        // What the JSON report rejected (or excepted), located the same way.
        let mut expected: Vec<(String, u64, String, bool)> = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["allowed"] == false || !r["exception"].is_null())
            .map(|r| {
                let uri = r["file"].as_str().unwrap().replace(' ', "%20");
                (
                    uri,
                    r["line"].as_u64().unwrap(),
                    r["policy"].as_str().unwrap().to_owned(),
                    !r["exception"].is_null(),
                )
            })
            .collect();
        expected.sort();
        assert_same(
            "SARIF results: (uri, startLine, ruleId, suppressed)",
            &expected,
            &located,
        );
        assert_same(
            "the fixture's findings",
            vec![
                (
                    "apps/api.yaml".to_owned(),
                    1,
                    "no-plaintext-secret-env".to_owned(),
                    false,
                ),
                (
                    "apps/wi.yaml".to_owned(),
                    1,
                    "no-plaintext-secret-env".to_owned(),
                    false,
                ),
                (
                    "apps/wi.yaml".to_owned(),
                    1,
                    "workload-identity-labels".to_owned(),
                    false,
                ),
                (
                    "rbac/bindings.yaml".to_owned(),
                    GROUP_CLUSTER_ADMIN.lines().count() as u64 + 2,
                    "no-cluster-admin-users".to_owned(),
                    true,
                ),
            ],
            &located,
        );
        // The input error is a tool execution notification, and the run is marked failed.
        let invocation = &run["invocations"][0];
        assert_same(
            "executionSuccessful",
            false,
            invocation["executionSuccessful"].as_bool().unwrap(),
        );
        let notifications: Vec<(&str, &str)> = invocation["toolExecutionNotifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["level"].as_str().unwrap(),
                    n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                        .as_str()
                        .unwrap(),
                )
            })
            .collect();
        assert_same(
            "notifications",
            vec![("error", "broken.yaml"), ("note", "empty.yaml")],
            notifications,
        );
    }
}

/// `-o junit`: read by a real consumer, `junitparser`, with counts matching the JSON summary.
mod junit {
    use crate::fixtures::*;
    use crate::util::{assert_same, python, scratch};
    use serde_json::{Value, json};
    use std::ffi::OsStr;

    /// Counts what junitparser finds: per suite, the cases and their results by type, next to
    /// the counts the file declares.
    const READ: &str = r#"
import json, sys
from junitparser import JUnitXml, Error, Failure, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
suites = {}
for suite in xml:
    counted = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for case in suite:
        counted["tests"] += 1
        for result in case.result:
            if isinstance(result, Failure):
                counted["failures"] += 1
            elif isinstance(result, Error):
                counted["errors"] += 1
            elif isinstance(result, Skipped):
                counted["skipped"] += 1
    declared = {"tests": suite.tests, "failures": suite.failures, "errors": suite.errors, "skipped": suite.skipped}
    suites[suite.name] = {"counted": counted, "declared": declared}
total = {"tests": xml.tests, "failures": xml.failures, "errors": xml.errors, "skipped": xml.skipped}
print(json.dumps({"suites": suites, "declared": total}))
"#;

    #[test]
    fn junitparser_reads_it_and_counts_match_the_json_summary() {
        let s = scratch!();
        s.write("k8s/api.yaml", BAD_DEPLOYMENT)
            .write("k8s/web.yaml", GOOD_DEPLOYMENT)
            .write("k8s/rbac.yaml", format!("{USER_CLUSTER_ADMIN}---\n{GROUP_CLUSTER_ADMIN}---\n{}", USER_CLUSTER_ADMIN.replace("bob", "eve")))
            .write("k8s/broken.yaml", MALFORMED)
            .write("k8s/chart.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n")
            .write(
                "exceptions.yaml",
                "exceptions:\n- policy: no-cluster-admin-users\n  match: {name: eve-cluster-admin}\n  reason: \"break-glass <account> & JIRA-7\"\n",
            );
        let args = ["check", "-f", "k8s", "--exceptions", "exceptions.yaml"];
        let junit = s.aksid(&[&args[..], &["-o", "junit"]].concat());
        junit.code(2);
        s.write("report.xml", &junit.stdout);
        let summary = s.aksid(&[&args[..], &["-o", "json"]].concat()).json()["summary"].clone();
        let parsed: Value =
            serde_json::from_str(&python(&s.dir, READ, &[OsStr::new("report.xml")]).stdout)
                .unwrap();

        let counts = |tests: &Value, failures: &Value, errors: &Value, skipped: &Value| json!({"tests": tests.as_u64().unwrap(), "failures": failures, "errors": errors, "skipped": skipped});
        let total_tests =
            summary["evaluations"].as_u64().unwrap() + summary["errors"].as_u64().unwrap();
        assert_same(
            "totals: tests = evaluations + errors, failures = rejected, skipped = excepted",
            counts(
                &total_tests.into(),
                &summary["rejected"],
                &summary["errors"],
                &summary["excepted"],
            ),
            &parsed["declared"],
        );
        assert_same(
            "the fixture's totals",
            json!({"tests": 12, "failures": 2, "errors": 2, "skipped": 1}),
            &parsed["declared"],
        );
        let suites = parsed["suites"].as_object().unwrap();
        for (name, suite) in suites {
            assert_same(
                &format!("suite {name}: declared counts = the cases junitparser read"),
                &suite["declared"],
                &suite["counted"],
            );
        }
        for policy in summary["policies"].as_array().unwrap() {
            let id = policy["id"].as_str().unwrap();
            let tests =
                policy["evaluations"].as_u64().unwrap() + policy["errors"].as_u64().unwrap();
            assert_same(
                &format!("suite {id} = its policy summary"),
                counts(
                    &tests.into(),
                    &policy["rejected"],
                    &policy["errors"],
                    &policy["excepted"],
                ),
                &suites[id]["counted"],
            );
        }
        assert_same(
            "the inputs suite: one error per unreadable input",
            json!({"tests": 2, "failures": 0, "errors": 2, "skipped": 0}),
            &suites["inputs"]["counted"],
        );
    }
}

/// Secret values never reach any output: not in findings, not in error messages.
mod secrets {
    use crate::util::{Run, assert_same, scratch};

    /// Distinctive fake secrets: an Entra client secret (`…8Q~…`), a storage account key, a
    /// password.
    const CLIENT_SECRET: &str = "Xq48Q~zK9vLpR2mT7wYc3bN6dF1gH5jS0aE4uI8o";
    const ACCOUNT_KEY: &str =
        "QmFkU2VjcmV0S2V5Rm9yVGVzdHNPbmx5Tm90UmVhbEtleUFrc2lkMTIzNDU2Nzg5MA==";
    const PASSWORD: &str = "Tr0ub4dor&3-horse-Battery";

    fn assert_never_shown(runs: &[Run]) {
        for run in runs {
            for secret in [CLIENT_SECRET, ACCOUNT_KEY, PASSWORD] {
                let prefix: String = secret.chars().take(12).collect();
                for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
                    if text.contains(&prefix) {
                        run.fail(
                            &format!("the secret {secret:?} never to appear, but {stream} holds its first 12 characters"),
                            &format!("no {prefix:?} anywhere"),
                            None,
                        );
                    }
                }
            }
        }
    }

    fn pod(env: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: leaky\n  namespace: shop\nspec:\n  containers:\n    - name: app\n      image: contoso.azurecr.io/app:1.0\n      env:\n{env}"
        )
    }

    #[test]
    fn secrets_in_env_appear_in_no_output_format() {
        let s = scratch!();
        let env = format!(
            "        - name: AZURE_CLIENT_SECRET\n          value: \"{CLIENT_SECRET}\"\n        - name: STORAGE\n          value: \"DefaultEndpointsProtocol=https;AccountName=contoso;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net\"\n        - name: ADMIN_PASSWORD\n          value: \"{PASSWORD}\"\n"
        );
        s.write("leaky.yaml", pod(&env));
        let runs = s.check_all_formats(&["-f", "leaky.yaml"]);
        runs[0]
            .code(1)
            .stdout_has("env[AZURE_CLIENT_SECRET]")
            .stdout_has("env[STORAGE]")
            .stdout_has("env[ADMIN_PASSWORD]");
        assert_never_shown(&runs);
        // The same from stdin.
        let runs = ["text", "json", "sarif", "junit"]
            .map(|format| s.aksid_stdin(&["check", "-f", "-", "-o", format], pod(&env).as_bytes()));
        runs[0].code(1);
        assert_never_shown(&runs);
    }

    /// Documents that fail to load carry the secrets in places parsers like to quote. The
    /// report promises that error messages never quote document content beyond a field name.
    #[test]
    fn secrets_in_documents_that_fail_to_load_appear_in_no_error_message() {
        let s = scratch!();
        s.write(
            "unclosed-quote.yaml",
            pod(&format!(
                "        - name: X\n          value: \"{CLIENT_SECRET}\n"
            )),
        )
        .write(
            "tab.yaml",
            pod(&format!("        - name: X\n\t  value: {CLIENT_SECRET}\n")),
        )
        .write(
            "not-an-object.yaml",
            format!("\"{CLIENT_SECRET}\"\n---\n- AccountKey={ACCOUNT_KEY}\n"),
        )
        .write(
            "template.yaml",
            pod(&format!(
                "        - name: X\n          value: {{{{ \"{CLIENT_SECRET}\" }}}}\n"
            )),
        )
        .write(
            "kind-is-a-secret.yaml",
            format!("apiVersion: v1\nkind: [\"{PASSWORD}\"]\n"),
        )
        // A YAML tag the value does not fit: parsers' messages tend to quote the value
        // (`invalid value: string "...", expected an integer`); aksid-manifests must not.
        .write(
            "tagged.yaml",
            pod(&format!(
                "        - name: X\n          value: !!int {CLIENT_SECRET}\n"
            )),
        )
        .write(
            "bad.json",
            format!("{{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"x\": \"{ACCOUNT_KEY}\", ]"),
        );
        let runs = s.check_all_formats(&["-f", "."]);
        runs[0].code(2);
        let report = runs[1].json();
        let mut files: Vec<&str> = report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["file"].as_str().unwrap())
            .collect();
        files.sort();
        files.dedup();
        assert_same(
            "every file reported",
            [
                ".",
                "./bad.json",
                "./kind-is-a-secret.yaml",
                "./not-an-object.yaml",
                "./tab.yaml",
                "./tagged.yaml",
                "./template.yaml",
                "./unclosed-quote.yaml",
            ],
            files,
        );
        assert_never_shown(&runs);
    }
}

/// All objects of a run are the cluster context-aware policies see, across files.
mod context {
    use crate::util::{results, scratch};

    const SERVICE_ACCOUNT: &str = "\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: orders
  namespace: shop
  annotations:
    azure.workload.identity/client-id: 0f3a5b7c-1d2e-4f60-8a9b-cdef01234567
";

    const POD: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: orders
  namespace: shop
spec:
  serviceAccountName: orders
  containers:
    - name: app
      image: contoso.azurecr.io/orders:1.0
";

    #[test]
    fn pod_is_judged_with_its_service_account_from_another_file() {
        let s = scratch!();
        s.write("identity/sa.yaml", SERVICE_ACCOUNT)
            .write("workloads/pod.yaml", POD);
        s.aksid(&["check", "-f", "identity", "-f", "workloads"])
            .code(1)
            .stdout_has("workloads/pod.yaml\n  line 1  Pod shop/orders\n    ✗ rejected by workload-identity-labels")
            .stdout_has("ServiceAccount shop/orders, which has azure.workload.identity/client-id")
            .stdout_has("azure.workload.identity/use");
        // With the label the same pair is accepted.
        let labelled = POD.replace(
            "  namespace: shop\n",
            "  namespace: shop\n  labels:\n    azure.workload.identity/use: \"true\"\n",
        );
        s.write("workloads/pod.yaml", labelled);
        s.aksid(&["check", "-f", "identity", "-f", "workloads"])
            .code(0);
    }

    #[test]
    fn pod_without_its_service_account_is_accepted() {
        let s = scratch!();
        s.write("workloads/pod.yaml", POD);
        let run = s.aksid(&["check", "-f", "workloads/pod.yaml", "-o", "json"]);
        run.code(0);
        let report = run.json();
        let verdicts: Vec<bool> =
            results(&report, "workloads/pod.yaml", "workload-identity-labels")
                .iter()
                .map(|r| r["allowed"].as_bool().unwrap())
                .collect();
        assert_eq!(verdicts, [true], "{report:#}");
    }
}

/// `--settings FILE`: per-policy settings, validated by each policy.
mod settings {
    use crate::fixtures::*;
    use crate::util::scratch;

    #[test]
    fn settings_file_changes_a_verdict() {
        let s = scratch!();
        s.write("api.yaml", BAD_DEPLOYMENT).write(
            "aksid-settings.yaml",
            "no-plaintext-secret-env:\n  allowedNames: [DB_PASSWORD]\n",
        );
        s.aksid(&["check", "-f", "api.yaml"]).code(1);
        s.aksid(&[
            "check",
            "-f",
            "api.yaml",
            "--settings",
            "aksid-settings.yaml",
        ])
        .code(0)
        .stdout_has("✓ 1 object · 4 policies · 0 rejected");
        // JSON settings work the same.
        s.write(
            "aksid-settings.json",
            r#"{"no-plaintext-secret-env": {"allowedNames": ["DB_PASSWORD"]}}"#,
        );
        s.aksid(&[
            "check",
            "-f",
            "api.yaml",
            "--settings",
            "aksid-settings.json",
        ])
        .code(0);
    }

    #[test]
    fn unknown_settings_key_exits_2_naming_the_policy_and_the_key() {
        let s = scratch!();
        s.write("api.yaml", BAD_DEPLOYMENT).write(
            "aksid-settings.yaml",
            "no-plaintext-secret-env:\n  allowedNamez: [DB_PASSWORD]\n",
        );
        s.aksid(&[
            "check",
            "-f",
            "api.yaml",
            "--settings",
            "aksid-settings.yaml",
        ])
        .code(2)
        .stderr_has("settings for no-plaintext-secret-env are invalid")
        .stderr_has("allowedNamez")
        .stderr_has("kubectl aksid explain no-plaintext-secret-env");
    }

    #[test]
    fn unknown_policy_id_exits_2() {
        let s = scratch!();
        s.write("api.yaml", BAD_DEPLOYMENT).write(
            "aksid-settings.yaml",
            "no-plaintext-secrets-env:\n  allowedNames: [DB_PASSWORD]\n",
        );
        s.aksid(&["check", "-f", "api.yaml", "--settings", "aksid-settings.yaml"])
            .code(2)
            .stderr_has("settings for unknown policy \"no-plaintext-secrets-env\"")
            .stderr_has("no-local-accounts, no-cluster-admin-users, workload-identity-labels, no-plaintext-secret-env");
    }
}

/// `.aksid.yaml` exceptions, found at the repository root above the checked paths.
mod exceptions {
    use crate::fixtures::*;
    use crate::util::{Scratch, assert_same, scratch, utc_date};
    use serde_json::json;
    use std::process::Command;

    /// A git repository with the rejected Deployment in `apps/` and `.aksid.yaml` at its root.
    fn repository(s: &Scratch, root: &str, expires: &str) {
        s.mkdir(root);
        let status = Command::new("git")
            .args(["init", "-q", root])
            .current_dir(&s.dir)
            .status()
            .expect("git is installed (tests/support/install-test-tools.sh)");
        assert!(status.success());
        s.write(&format!("{root}/apps/api.yaml"), BAD_DEPLOYMENT).write(
            &format!("{root}/.aksid.yaml"),
            format!(
                "exceptions:\n  - policy: no-plaintext-secret-env\n    match:\n      name: api\n      file: \"apps/*.yaml\"\n    reason: Vendor chart; tracked in JIRA-123\n    expires: {expires}\n"
            ),
        );
    }

    #[test]
    fn exception_at_the_repository_root_accepts_the_matching_rejection() {
        let s = scratch!();
        let tomorrow = utc_date(1);
        repository(&s, "repo", &tomorrow);
        s.aksid_in("repo", &["check", "-f", "apps/"], None)
            .code(0)
            .stdout_has("✓ no-plaintext-secret-env allowed by exception #1 (Vendor chart; tracked in JIRA-123)")
            .stdout_has("exception #1 (Vendor chart; tracked in JIRA-123) applied to 1 rejection");
        let run = s.aksid_in("repo", &["check", "-f", "apps/", "-o", "json"], None);
        let report = run.code(0).json();
        let finding = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["policy"] == "no-plaintext-secret-env")
            .unwrap();
        assert_same(
            "the finding",
            (
                true,
                json!({"id": 1, "reason": "Vendor chart; tracked in JIRA-123", "expires": tomorrow}),
            ),
            (
                finding["allowed"].as_bool().unwrap(),
                finding["exception"].clone(),
            ),
        );
        let used = &report["exceptions"]["used"];
        assert_same(
            "used exceptions: (id, policy, matched)",
            json!([[1, "no-plaintext-secret-env", 1]]),
            json!(
                used.as_array()
                    .unwrap()
                    .iter()
                    .map(|u| json!([u["id"], u["policy"], u["matched"]]))
                    .collect::<Vec<_>>()
            ),
        );
        assert!(
            used[0]["origin"].as_str().unwrap().ends_with(".aksid.yaml"),
            "{used:#}"
        );
        assert_same(
            "excepted",
            1,
            report["summary"]["excepted"].as_u64().unwrap(),
        );
        // From the repository's parent too: the search starts at the checked path.
        s.aksid(&["check", "-f", "repo/apps/api.yaml"]).code(0);
    }

    #[test]
    fn expired_exception_does_not_apply_and_is_reported_expired() {
        let s = scratch!();
        let yesterday = utc_date(-1);
        repository(&s, "repo", &yesterday);
        s.aksid_in("repo", &["check", "-f", "apps/"], None)
            .code(1)
            .stdout_has("✗ rejected by no-plaintext-secret-env")
            .stdout_has(&format!("exception #1 (Vendor chart; tracked in JIRA-123) expired on {yesterday} and no longer applies (1 rejection)"));
        let report = s
            .aksid_in("repo", &["check", "-f", "apps/", "-o", "json"], None)
            .json();
        assert_same("used", json!([]), &report["exceptions"]["used"]);
        let expired = &report["exceptions"]["expired"];
        assert_same(
            "expired: (id, expires, matched)",
            json!([[1, yesterday, 1]]),
            json!(
                expired
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| json!([u["id"], u["expires"], u["matched"]]))
                    .collect::<Vec<_>>()
            ),
        );
        // Expiring today still applies: `expires` is the last day.
        repository(&s, "today", &utc_date(0));
        s.aksid_in("today", &["check", "-f", "apps/"], None).code(0);
    }

    #[test]
    fn no_exceptions_ignores_the_file() {
        let s = scratch!();
        repository(&s, "repo", &utc_date(30));
        let run = s.aksid_in("repo", &["check", "-f", "apps/", "--no-exceptions"], None);
        run.code(1)
            .stdout_has("✗ rejected by no-plaintext-secret-env")
            .stdout_lacks("exception #1");
        let report = s
            .aksid_in(
                "repo",
                &["check", "-f", "apps/", "--no-exceptions", "-o", "json"],
                None,
            )
            .json();
        assert_same(
            "exceptions",
            json!({"used": [], "expired": []}),
            &report["exceptions"],
        );
    }

    #[test]
    fn exceptions_above_the_repository_root_are_not_used() {
        let s = scratch!();
        repository(&s, "outer/repo", &utc_date(30));
        std::fs::rename(
            s.dir.join("outer/repo/.aksid.yaml"),
            s.dir.join("outer/.aksid.yaml"),
        )
        .unwrap();
        s.aksid_in("outer/repo", &["check", "-f", "apps/"], None)
            .code(1)
            .stdout_lacks("exception #1");
    }
}

/// `policies`, `explain` and the help texts.
mod commands {
    use crate::util::{assert_same, scratch, workspace};

    const IDS: [&str; 4] = [
        "no-local-accounts",
        "no-cluster-admin-users",
        "workload-identity-labels",
        "no-plaintext-secret-env",
    ];

    #[test]
    fn policies_lists_every_policy() {
        let s = scratch!();
        let run = s.aksid(&["policies"]);
        run.code(0).stdout_has("kubectl aksid explain ID");
        for id in IDS {
            let line = run
                .stdout
                .lines()
                .find(|l| l.starts_with(id))
                .unwrap_or_else(|| run.fail("a line per policy", id, None));
            assert!(
                line.contains("high") && line.len() > id.len() + 30,
                "no severity or description: {line}"
            );
        }
        let listed = s.aksid(&["policies", "--json"]).code(0).json();
        let ids: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, IDS);
    }

    #[test]
    fn explain_prints_the_readme_and_the_rules() {
        let s = scratch!();
        for id in IDS {
            let run = s.aksid(&["explain", id]);
            run.code(0);
            let readme =
                std::fs::read_to_string(workspace().join("policies").join(id).join("README.md"))
                    .unwrap();
            run.stdout_has(readme.trim_end());
            for heading in ["## What it checks", "## Why", "## Settings"] {
                run.stdout_has(heading);
            }
            // The rules, exactly those of the policy's metadata.yml.
            let metadata: serde_json::Value = serde_saphyr::from_str(
                &std::fs::read_to_string(
                    workspace().join("policies").join(id).join("metadata.yml"),
                )
                .unwrap(),
            )
            .unwrap();
            let section = run
                .stdout
                .split("## Objects it judges (Kubewarden rules)\n")
                .nth(1)
                .unwrap_or_else(|| {
                    run.fail(
                        "a rules section",
                        "## Objects it judges (Kubewarden rules)",
                        None,
                    )
                });
            let rules = section.split("\n\nReads other objects").next().unwrap();
            let rules: serde_json::Value = serde_saphyr::from_str(rules)
                .unwrap_or_else(|e| run.fail("the rules as YAML", &e.to_string(), None));
            assert_same(
                &format!("{id}: the rules explain prints"),
                &metadata["rules"],
                &rules,
            );
        }
    }

    #[test]
    fn explain_unknown_id_exits_2_listing_the_ids() {
        let s = scratch!();
        let run = s.aksid(&["explain", "nope"]);
        run.code(2).stderr_has("no policy \"nope\"");
        for id in IDS {
            run.stderr_has(id);
        }
    }

    #[test]
    fn help_shows_examples() {
        let s = scratch!();
        s.aksid(&["--help"])
            .code(0)
            .stdout_has("Examples:")
            .stdout_has("kubectl aksid check -f deploy/")
            .stdout_has("Exit status: 0 everything accepted, 1 something rejected, 2");
        s.aksid(&["check", "--help"])
            .code(0)
            .stdout_has("Examples:")
            .stdout_has("kustomize build overlays/prod | kubectl aksid check -f -")
            .stdout_has("--max-file-size");
    }
}

/// The real-world corpus (`tests/corpus/real`): every `EXPECTED.tsv` row, with the documented
/// disagreements of `tests/corpus/OVERRIDES.tsv`, through the binary.
mod corpus {
    use crate::util::{fenced, run_aksid, workspace};
    use serde_json::Value;
    use std::collections::BTreeMap;
    use std::path::Path;

    /// The rows of a corpus TSV (`file`, `policy`, `expect`, `why`), without its header.
    fn rows(path: &Path) -> Vec<[String; 4]> {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let mut cols = line.splitn(4, '\t').map(str::to_owned);
                std::array::from_fn(|_| cols.next().unwrap_or_default())
            })
            .collect()
    }

    /// Each file is checked alone (its own object set, as the native corpus harness judges it).
    #[test]
    fn every_expected_row_holds_when_each_file_is_checked_alone() {
        let corpus = workspace().join("tests/corpus");
        let overrides = rows(&corpus.join("OVERRIDES.tsv"));
        let mut by_file: BTreeMap<String, Vec<[String; 4]>> = BTreeMap::new();
        for row in rows(&corpus.join("real/EXPECTED.tsv")) {
            let row = overrides
                .iter()
                .find(|o| o[0] == row[0] && o[1] == row[1])
                .cloned()
                .unwrap_or(row);
            by_file.entry(row[0].clone()).or_default().push(row);
        }
        assert!(
            by_file.len() >= 50,
            "{} files in EXPECTED.tsv",
            by_file.len()
        );
        let mut mismatches = Vec::new();
        let mut checked = 0;
        for (file, rows) in &by_file {
            // --no-exceptions: the checkout's own .aksid.yaml, if it ever has one, must not count.
            let run = run_aksid(
                &corpus.join("real"),
                &["check", "-f", file, "-o", "json", "--no-exceptions"],
                None,
            );
            if let Some(crash) = run.crash() {
                mismatches.push(format!(
                    "{file}: crashed ({crash}):\n{}",
                    fenced(&run.stderr)
                ));
                continue;
            }
            let Ok(report) = serde_json::from_str::<Value>(&run.stdout) else {
                mismatches.push(format!(
                    "{file}: exit {:?}, no JSON report:\n{}",
                    run.code,
                    fenced(&run.stderr)
                ));
                continue;
            };
            let errors: Vec<&Value> = report["errors"]
                .as_array()
                .unwrap()
                .iter()
                // A file of comments only has no objects, which an accept row allows.
                .filter(|e| e["file"] == file.as_str() && e["kind"] != "noObjects")
                .collect();
            for [_, policy, expect, why] in rows {
                checked += 1;
                let rejections: Vec<&str> = report["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| {
                        r["file"] == file.as_str()
                            && r["policy"] == policy.as_str()
                            && r["allowed"] == false
                    })
                    .map(|r| r["message"].as_str().unwrap_or("(no message)"))
                    .collect();
                let problem = match expect.as_str() {
                    "reject" | "accept" if !errors.is_empty() => Some(format!(
                        "expected {expect}, but the file has errors: {errors:?}"
                    )),
                    "reject" if rejections.is_empty() => {
                        Some("expected reject, got no rejection".to_owned())
                    }
                    "accept" if !rejections.is_empty() => Some(format!(
                        "expected accept, got:\n  {}",
                        rejections.join("\n  ")
                    )),
                    "template" => {
                        let template_error = errors.iter().any(|e| {
                            e["kind"] == "unrenderedTemplate" || e["kind"] == "malformedYaml"
                        });
                        (!template_error || run.code != Some(2)).then(|| {
                            format!("expected an unrenderedTemplate or malformedYaml error and exit 2, got exit {:?} and errors {errors:?}", run.code)
                        })
                    }
                    "reject" | "accept" => None,
                    other => Some(format!("unknown expectation {other:?}")),
                };
                if let Some(problem) = problem {
                    mismatches.push(format!(
                        "{file} {policy}: {problem}\n  (EXPECTED.tsv: {why})"
                    ));
                }
            }
        }
        assert!(
            mismatches.is_empty(),
            "\n{} of {checked} corpus rows do not hold:\n\nexpected:\n{}\n\nactual:\n{}\n",
            mismatches.len(),
            fenced("every row holds"),
            fenced(&mismatches.join("\n\n"))
        );
    }
}

/// aksid as a remote pre-commit hook, installed by the real `pre-commit` from this repository's
/// committed HEAD (`.pre-commit-hooks.yaml`; pre-commit runs `cargo install --path .`).
mod pre_commit {
    use crate::fixtures::*;
    use crate::util::{Run, module_cache, run, scratch, venv_bin, workspace};
    use std::path::Path;
    use std::process::Command;
    use std::time::Instant;

    /// Runs `program ARGS` in `dir` with the hook's caches: pre-commit's home under `target/`,
    /// so the hook environment survives between test runs, and cargo's target directory shared
    /// with the workspace, so `cargo install` reuses the compiled dependencies (a cold install
    /// otherwise compiles wasmtime again: minutes). Git reads no user or system configuration.
    fn command(program: &Path, dir: &Path, args: &[&str]) -> Run {
        let target = workspace().join("target");
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(dir)
            .env("PRE_COMMIT_HOME", target.join("pre-commit-home"))
            .env("CARGO_TARGET_DIR", &target)
            // `cargo install` (pre-commit's rust hooks) ignores Cargo.lock and would resolve
            // the newest releases on crates.io, recompiling much of the tree; offline, cargo
            // resolves to the crates already downloaded, which are the locked ones.
            .env("CARGO_NET_OFFLINE", "true")
            .env("AKSID_CACHE_DIR", module_cache())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "aksid tests")
            .env("GIT_AUTHOR_EMAIL", "tests@aksid.invalid")
            .env("GIT_COMMITTER_NAME", "aksid tests")
            .env("GIT_COMMITTER_EMAIL", "tests@aksid.invalid")
            .env("NO_COLOR", "1");
        let label = format!("{} {}", program.display(), args.join(" "));
        run(command, &label, None)
    }

    fn git(dir: &Path, args: &[&str]) -> Run {
        command(Path::new("git"), dir, args)
    }

    /// Reads the workspace's repository with the user's own git configuration (which may be
    /// what marks it a safe directory).
    fn workspace_git(args: &[&str]) -> Run {
        let mut command = Command::new("git");
        command.args(args).current_dir(workspace());
        run(command, &format!("git {}", args.join(" ")), None)
    }

    #[test]
    fn aksid_as_a_remote_hook_blocks_a_bad_commit_and_passes_a_good_one() {
        let pre_commit = venv_bin("pre-commit");
        let workspace = workspace();
        let head = workspace_git(&["rev-parse", "HEAD"]);
        let head = head.code(0).stdout.trim().to_owned();
        for path in [
            ".pre-commit-hooks.yaml",
            "Cargo.toml",
            "Cargo.lock",
            "kubectl-plugin/src/main.rs",
            "artifacts/no-local-accounts/policy.wasm",
        ] {
            if workspace_git(&["cat-file", "-e", &format!("HEAD:{path}")]).code != Some(0) {
                panic!(
                    "HEAD ({head}) lacks {path}: pre-commit installs the hook from committed content; commit it"
                );
            }
        }
        let dirty = workspace_git(&[
            "status",
            "--porcelain",
            "--",
            ".pre-commit-hooks.yaml",
            "Cargo.toml",
            "Cargo.lock",
            "kubectl-plugin",
            "host",
            "policies",
            "artifacts",
        ]);
        if !dirty.stdout.trim().is_empty() {
            eprintln!(
                "note: pre-commit builds the committed HEAD {head}; these uncommitted changes are not part of this test:\n{}",
                dirty.stdout
            );
        }

        let s = scratch!();
        let repo = s.dir.join("manifests");
        std::fs::create_dir_all(&repo).unwrap();
        git(&repo, &["init", "-q"]).code(0);
        s.write(
            "manifests/.pre-commit-config.yaml",
            format!(
                "repos:\n  - repo: {}\n    rev: {head}\n    hooks:\n      - id: aksid\n",
                workspace.display()
            ),
        );
        command(&pre_commit, &repo, &["install"]).code(0);
        let started = Instant::now();
        let install = command(&pre_commit, &repo, &["install-hooks"]);
        install.code(0);
        eprintln!(
            "pre-commit install-hooks: {:.0?} (cargo install of kubectl-aksid at {head} unless target/pre-commit-home already had it)",
            started.elapsed()
        );

        s.write("manifests/deploy/api.yaml", BAD_DEPLOYMENT)
            .write("manifests/README.md", "# manifests\n");
        git(&repo, &["add", "."]).code(0);
        let commit = git(&repo, &["commit", "-q", "-m", "add the api"]);
        let output = format!("{}{}", commit.stdout, commit.stderr);
        if commit.code == Some(0)
            || !output.contains("no-plaintext-secret-env")
            || !output.contains("deploy/api.yaml")
        {
            commit.fail(
                "the commit of a bad manifest to fail, naming the policy and the file",
                "non-zero exit; no-plaintext-secret-env; deploy/api.yaml",
                None,
            );
        }
        assert!(output.contains("Failed"), "pre-commit's verdict:\n{output}");
        git(&repo, &["rev-parse", "--verify", "-q", "HEAD"]).code(1);

        s.write("manifests/deploy/api.yaml", GOOD_DEPLOYMENT);
        git(&repo, &["add", "."]).code(0);
        let commit = git(
            &repo,
            &["commit", "-m", "add the api, secret from a Secret"],
        );
        commit.code(0);
        let output = format!("{}{}", commit.stdout, commit.stderr);
        assert!(output.contains("Passed"), "pre-commit's verdict:\n{output}");
        git(&repo, &["rev-parse", "--verify", "-q", "HEAD"]).code(0);
        // Hook environments of earlier HEADs are no longer used by any configuration.
        command(&pre_commit, &repo, &["gc"]).code(0);
    }
}
