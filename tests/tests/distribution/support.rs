//! Support for the distribution tests: where things are (workspace, binary, Makefile values),
//! scratch directories named after the test, running `kubectl-aksid` in isolation, a real OCI
//! registry per test, the independent clients (skopeo, oras, Python jsonschema), and failure
//! output as fenced blocks.
//!
//! [`Registry`] and the skopeo/oras helpers are copied, trimmed, from the `aksid-oci` tests
//! (`kubectl-plugin/crates/oci/tests/registry/support.rs`): a test crate cannot import another
//! crate's test support, and the copy is small.
//!
//! The tools come from `tests/support/install-test-tools.sh`; a missing one fails the test with
//! that instruction rather than skipping it, so a green run always means the registry, skopeo,
//! oras and jsonschema were exercised.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The four policies, in the order the CLI lists and prints them.
pub const POLICIES: [&str; 4] = [
    "no-local-accounts",
    "no-cluster-admin-users",
    "workload-identity-labels",
    "no-plaintext-secret-env",
];

/// Kubewarden's media types (what `kwctl push` writes and policy-server expects).
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v1+json";
pub const WASM_LAYER: &str = "application/vnd.wasm.content.layer.v1+wasm";

const INSTALL_HINT: &str = "run `tests/support/install-test-tools.sh` (from the repository root, \
    or `make test-tools`) to install the registry, skopeo and the .venv with oras and jsonschema";

/// The workspace (repository) root, canonical: `$(CURDIR)` when `make` runs there.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace root")
}

/// `target/release/kubectl-aksid`, which `make test` builds before testing.
pub fn binary() -> PathBuf {
    let path = workspace().join("target/release/kubectl-aksid");
    assert!(
        path.is_file(),
        "{} is missing: run `make build` first (the tests run the release binary)",
        path.display()
    );
    path
}

/// A scratch directory named after the test, removed at the end.
pub fn scratch(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("aksid-dist-{test}-"))
        .tempdir()
        .expect("scratch dir")
}

/// `sha256:<hex>` of `bytes`, the form OCI digests take.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `artifacts/<id>/<file>`.
pub fn artifact(id: &str, file: &str) -> Vec<u8> {
    let path = workspace().join("artifacts").join(id).join(file);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run `make artifacts` first",
            path.display()
        )
    })
}

/// The simple `NAME := value` assignments of the Makefile, with `$(CURDIR)` and `$(HOME)`
/// expanded as make expands them (the workspace root, the environment's HOME).
pub fn makefile_vars() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(workspace().join("Makefile")).expect("read the Makefile");
    let home = std::env::var("HOME").expect("HOME is set (the Makefile's $(HOME))");
    let curdir = workspace().display().to_string();
    text.lines()
        .filter_map(|line| line.split_once(" := "))
        .filter(|(name, _)| name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .map(|(name, value)| {
            let value = value
                .trim()
                .replace("$(CURDIR)", &curdir)
                .replace("$(HOME)", &home);
            (name.to_owned(), value)
        })
        .collect()
}

/// One Makefile variable, which must exist.
pub fn makefile_var(name: &str) -> String {
    makefile_vars()
        .remove(name)
        .unwrap_or_else(|| panic!("the Makefile no longer defines {name} := ..."))
}

/// What a command did.
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

    /// Asserts the exit code and returns self.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}\n{}",
            self.describe()
        );
        self
    }
}

/// Runs `command` to completion.
pub fn run(mut command: Command) -> Run {
    let what = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    Run {
        what,
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `kubectl-aksid` run from the workspace root with an environment of its own: no registry
/// credentials, an empty Docker config and caches under `scratch`, no colours.
pub fn aksid(scratch: &Path) -> Command {
    let docker = scratch.join("docker-config");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(docker.join("config.json"), "{}").unwrap();
    let mut command = Command::new(binary());
    command
        .current_dir(workspace())
        .env("DOCKER_CONFIG", &docker)
        .env("XDG_CACHE_HOME", scratch.join("xdg-cache"))
        .env("NO_COLOR", "1")
        .env_remove("AKSID_REGISTRY_USERNAME")
        .env_remove("AKSID_REGISTRY_PASSWORD")
        .env_remove("AKSID_CACHE_DIR");
    command
}

/// Runs `kubectl-aksid ARGS` (see [`aksid`]).
pub fn aksid_run(scratch: &Path, args: &[&str]) -> Run {
    let mut command = aksid(scratch);
    command.args(args);
    run(command)
}

/// Parses a multi-document YAML stream into JSON values.
pub fn yaml_documents(text: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text)
        .map(|document| {
            serde_json::Value::deserialize(document)
                .unwrap_or_else(|e| panic!("not YAML: {e}\n```\n{text}\n```"))
        })
        .collect()
}

/// Expected and actual as fenced blocks (pretty JSON).
pub fn fenced(expected: &serde_json::Value, actual: &serde_json::Value) -> String {
    format!(
        "expected:\n```\n{}\n```\nactual:\n```\n{}\n```",
        serde_json::to_string_pretty(expected).unwrap(),
        serde_json::to_string_pretty(actual).unwrap()
    )
}

fn tool(name: &str) -> PathBuf {
    let dirs = ["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from);
    dirs.into_iter()
        .chain(
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths),
        )
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not installed: {INSTALL_HINT}"))
}

/// The `.venv` Python, which must import `module`.
pub fn venv_python(module: &str) -> PathBuf {
    let python = workspace().join(".venv/bin/python");
    let ok = python.exists()
        && Command::new(&python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the Python module `{module}` is missing from .venv: {INSTALL_HINT}"
    );
    python
}

/// Runs a Python snippet from the venv with `stdin`; `args` follow as `sys.argv[1:]`.
/// Returns stdout.
pub fn python(module: &str, script: &str, args: &[&str], stdin: &[u8]) -> String {
    let mut child = Command::new(venv_python(module))
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python script failed:\n```\n{}\n```",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A running `docker-registry serve` on 127.0.0.1 and a free port, stopped (kill + wait) when
/// dropped, even when the test panics.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    storage: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start(test: &str) -> Registry {
        let binary = tool("docker-registry");
        let dir = scratch(&format!("{test}-registry"));
        let storage = dir.path().join("storage");
        std::fs::create_dir(&storage).unwrap();
        // Bind port 0 to have the kernel pick a free port, then hand it to the registry.
        let port = TcpListener::bind(("127.0.0.1", 0))
            .expect("bind a free port")
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        // No blob descriptor cache: a test that tampers with the storage must be served the
        // tampered bytes, as a compromised registry would serve them.
        let config = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n  secret: aksid-test-secret\n",
            storage.display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = dir.path().join("registry.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(&binary)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {INSTALL_HINT}", binary.display()));
        let mut registry = Registry {
            child,
            addr,
            storage,
            log,
            _dir: dir,
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the registry exited ({status}) before answering:\n```\n{}\n```",
                    self.log()
                );
            }
            if self.answers() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the registry at {} did not answer /v2/ within 30 s:\n```\n{}\n```",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether `GET /v2/` answers 200.
    pub fn answers(&self) -> bool {
        http_status(&self.addr, "/v2/") == Some(200)
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `registry://127.0.0.1:PORT/REPO_AND_TAG`.
    pub fn reference(&self, repository_and_tag: &str) -> String {
        format!("registry://{}/{repository_and_tag}", self.addr)
    }

    /// The file holding blob `digest` in the registry's storage.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Stops the registry now (dropping does the same).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The status code of `GET path`, or `None` when nothing answers.
fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut stream =
        TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// `skopeo inspect --raw` of `127.0.0.1:PORT/REPO:TAG`: the manifest bytes exactly as an
/// independent client receives them.
pub fn skopeo_raw_manifest(image: &str) -> Vec<u8> {
    let out = Command::new(tool("skopeo"))
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{image}"))
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect {image} failed:\n```\n{}\n```",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Pulls `127.0.0.1:PORT/REPO:TAG` with oras into `outdir`; prints the manifest and the files
/// written, as JSON.
pub const ORAS_PULL: &str = r#"
import json, sys
import oras.client
host, target, outdir = sys.argv[1:4]
client = oras.client.OrasClient(hostname=host, insecure=True)
manifest = client.get_manifest(target)
files = client.pull(target=target, outdir=outdir)
print(json.dumps({"manifest": manifest, "files": files}))
"#;

/// Validates documents against a JSON schema with Python's jsonschema (Draft 7, the dialect
/// closest to Kubernetes' OpenAPI v3 subset). Reads `{"schema": ..., "documents": [{"name",
/// "object"}]}` from stdin; prints `[{"name", "errors": ["path: message", ...]}]`.
const JSONSCHEMA_VALIDATE: &str = r#"
import json, sys
import jsonschema
payload = json.load(sys.stdin)
jsonschema.Draft7Validator.check_schema(payload["schema"])
validator = jsonschema.Draft7Validator(payload["schema"])
out = []
for doc in payload["documents"]:
    errors = sorted(validator.iter_errors(doc["object"]), key=lambda e: [str(p) for p in e.absolute_path])
    out.append({
        "name": doc["name"],
        "errors": ["/" + "/".join(str(p) for p in e.absolute_path) + ": " + e.message for e in errors],
    })
print(json.dumps(out))
"#;

/// The schema errors of each named document, in order.
pub fn jsonschema_errors(
    schema: &serde_json::Value,
    documents: &[(String, serde_json::Value)],
) -> Vec<(String, Vec<String>)> {
    let payload = serde_json::json!({
        "schema": schema,
        "documents": documents
            .iter()
            .map(|(name, object)| serde_json::json!({"name": name, "object": object}))
            .collect::<Vec<_>>(),
    });
    let out = python(
        "jsonschema",
        JSONSCHEMA_VALIDATE,
        &[],
        &serde_json::to_vec(&payload).unwrap(),
    );
    let results: Vec<serde_json::Value> = serde_json::from_str(&out).expect("validator output");
    results
        .into_iter()
        .map(|r| {
            let errors = r["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap().to_owned())
                .collect();
            (r["name"].as_str().unwrap().to_owned(), errors)
        })
        .collect()
}

/// Lists files under `dir` (relative paths with `/`), sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
                out.push(parts.join("/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A bullet list, for failure messages.
pub fn bullets(items: &[String]) -> String {
    items.iter().fold(String::new(), |mut out, item| {
        let _ = writeln!(out, "- {item}");
        out
    })
}
