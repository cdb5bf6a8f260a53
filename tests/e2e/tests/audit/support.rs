//! Support for the audit tests: a recorded cluster served over HTTPS on 127.0.0.1 by
//! `tests/support/fake-apiserver.py`, reached by the real `kubectl` through a kubeconfig the test
//! writes (its CA, an exec credential plugin script, and a current context that is not the
//! cluster's), and `kubectl-aksid` run against it.
//!
//! The binary under test is `target/release/kubectl-aksid` of the repository, or the one
//! `$AKSID_TEST_BINARY` names (for a build in another target directory).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use aksid_test_registry::repo_root;
pub use aksid_tests::{binary, write_script};

/// The recorded cluster of `tests/e2e/fixtures/cluster/`.
pub fn recorded_cluster() -> PathBuf {
    repo_root().join("tests/e2e/fixtures/cluster")
}

/// A test's own scratch directory, named after it and emptied first.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("aksid-e2e-audit").join(test);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The bearer token only the exec credential plugin knows.
const TOKEN: &str = "entra-token-from-kubelogin";

/// The fake API server of one test; stopped when dropped.
pub struct Cluster {
    child: Child,
    /// The kubeconfig: context `aks-prod` reaches the server, the current context `other` does not.
    pub kubeconfig: PathBuf,
    log: PathBuf,
    dir: PathBuf,
}

impl Cluster {
    /// Serves `fixtures` from a new server under `dir`.
    pub fn start(dir: &Path, fixtures: &Path) -> Cluster {
        let run = |mut c: Command| {
            let out = c.output().expect("run openssl");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let mut openssl = Command::new("openssl");
        openssl.current_dir(dir).args([
            "req",
            "-x509",
            // P-256, which kubectl and Python accept like RSA, in milliseconds rather than a
            // quarter second of RSA key generation per test.
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ]);
        run(openssl);
        let port_file = dir.join("port");
        let log = dir.join("requests.log");
        let child = Command::new("python3")
            .arg(repo_root().join("tests/support/fake-apiserver.py"))
            .arg("--fixtures")
            .arg(fixtures)
            .args(["--cert", "cert.pem", "--key", "key.pem", "--token", TOKEN])
            .arg("--port-file")
            .arg(&port_file)
            .arg("--log")
            .arg(&log)
            .current_dir(dir)
            .stdin(Stdio::null())
            .spawn()
            .expect("start tests/support/fake-apiserver.py with python3");
        let started = Instant::now();
        let port = loop {
            if let Ok(port) = std::fs::read_to_string(&port_file) {
                break port;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the fake API server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let plugin = dir.join("fake-kubelogin.sh");
        write_script(
            &plugin,
            &format!(
                "#!/bin/sh\n# An exec credential plugin, as kubelogin is one.\necho run >> plugin-runs.log\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{TOKEN}\"}}}}'\n"
            ),
        );
        let ca = std::fs::read(dir.join("cert.pem")).unwrap();
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_text(port.trim(), &ca, &plugin)).unwrap();
        Cluster {
            child,
            kubeconfig,
            log,
            dir: dir.to_owned(),
        }
    }

    /// How many times kubectl ran the exec credential plugin.
    pub fn plugin_runs(&self) -> usize {
        lines(&self.dir.join("plugin-runs.log")).len()
    }

    /// The request lines (path and query) the server received, in order.
    pub fn requests(&self) -> Vec<String> {
        lines(&self.log)
    }

    /// `kubectl-aksid ARGS` with this cluster's kubeconfig (and a HOME of the test's own).
    pub fn aksid(&self, args: &[&str]) -> Run {
        self.aksid_with(args, &[])
    }

    /// [`Cluster::aksid`] with more environment variables.
    pub fn aksid_with(&self, args: &[&str], env: &[(&str, &Path)]) -> Run {
        let out = self
            .aksid_command(args, env)
            .output()
            .expect("run kubectl-aksid");
        Run {
            what: format!("kubectl-aksid {}", args.join(" ")),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The command [`Cluster::aksid_with`] runs, to spawn it instead.
    pub fn aksid_command(&self, args: &[&str], env: &[(&str, &Path)]) -> Command {
        let mut command = Command::new(binary());
        command
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .current_dir(&self.dir)
            .env("HOME", &self.dir)
            .env("AKSID_CACHE_DIR", module_cache())
            .env("NO_COLOR", "1")
            .env_remove("KUBECONFIG")
            .env_remove("KUBECTL")
            .envs(env.iter().copied())
            .stdin(Stdio::null());
        command
    }

    /// A kubectl wrapper in the test's directory that logs its pid and arguments to
    /// `kubectl-runs.log`, then becomes kubectl.
    pub fn kubectl_wrapper(&self) -> PathBuf {
        let wrapper = self.dir.join("kubectl-wrapper.sh");
        write_script(
            &wrapper,
            "#!/bin/sh\necho \"$$ $*\" >> kubectl-runs.log\nexec kubectl \"$@\"\n",
        );
        wrapper
    }

    /// The lines of `kubectl-runs.log` (see [`Cluster::kubectl_wrapper`]).
    pub fn kubectl_runs(&self) -> Vec<String> {
        lines(&self.dir.join("kubectl-runs.log"))
    }
}

/// The lines of a log file the test's processes append to (none while it does not exist).
fn lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Whether process `pid` still runs (a zombie does not).
pub fn running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kubeconfig_text(port: &str, ca: &[u8], plugin: &Path) -> String {
    let ca = base64(ca);
    format!(
        "apiVersion: v1
kind: Config
current-context: other
clusters:
- name: aks-prod
  cluster:
    server: https://127.0.0.1:{port}
    certificate-authority-data: {ca}
- name: nowhere
  cluster:
    server: https://127.0.0.1:9
users:
- name: entra
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: {}
      interactiveMode: Never
contexts:
- name: aks-prod
  context: {{cluster: aks-prod, user: entra}}
- name: other
  context: {{cluster: nowhere, user: entra}}
",
        plugin.display()
    )
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Compiled modules shared by every run of these tests (compiling takes seconds).
fn module_cache() -> PathBuf {
    std::env::temp_dir().join("aksid-e2e-audit-module-cache")
}

/// What a run did.
pub struct Run {
    pub what: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The command, its exit code and both streams, as fenced blocks.
    pub fn describe(&self) -> String {
        format!(
            "$ {}\nexit code: {:?}\nstdout:\n```\n{}\n```\nstderr:\n```\n{}\n```",
            self.what, self.code, self.stdout, self.stderr
        )
    }

    /// Asserts the exit code; returns stdout as JSON.
    #[track_caller]
    pub fn json(&self, code: i32) -> Value {
        assert_eq!(self.code, Some(code), "{}", self.describe());
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.describe()))
    }
}

/// `(policy, kind, namespace/name, allowed)` of each result of a JSON report, sorted.
pub fn verdicts(report: &Value) -> Vec<(String, String, String, bool)> {
    let mut out: Vec<_> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let name = match r["namespace"].as_str() {
                Some(ns) => format!("{ns}/{}", r["name"].as_str().unwrap_or_default()),
                None => r["name"].as_str().unwrap_or_default().to_owned(),
            };
            (
                r["policy"].as_str().unwrap().to_owned(),
                r["kind"].as_str().unwrap().to_owned(),
                name,
                r["allowed"].as_bool().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}
