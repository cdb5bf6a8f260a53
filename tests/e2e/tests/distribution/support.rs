//! Support for the distribution tests: where things are (workspace, binary, Makefile values),
//! running `kubectl-aksid` in isolation, Python jsonschema, and failure output as fenced blocks.
//!
//! A real OCI registry per test ([`Registry`]), scratch directories named after the test, and the
//! independent clients (skopeo, oras) come from the `aksid-test-registry` crate, which the
//! `aksid-oci` registry tests share.
//!
//! The tools come from `tests/support/install-test-tools.sh`; a missing one fails the test with
//! that instruction rather than skipping it, so a green run always means the registry, skopeo,
//! oras and jsonschema were exercised.

use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

pub use aksid_test_registry::{
    ORAS_PULL, Registry, python, repo_root, scratch, skopeo_raw_manifest,
};

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

pub use aksid_tests::binary;

/// `sha256:<hex>` of `bytes`, the form OCI digests take.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `artifacts/<id>/<file>`.
pub fn artifact(id: &str, file: &str) -> Vec<u8> {
    let path = repo_root().join("artifacts").join(id).join(file);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run `make artifacts` first",
            path.display()
        )
    })
}

/// One simple `NAME := value` assignment of the Makefile, which must exist.
pub fn makefile_var(name: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join("Makefile")).expect("read the Makefile");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(" := "))
        .map(|value| value.trim().to_owned())
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
        .current_dir(repo_root())
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

/// The objects of a multi-document YAML stream, read by the CLI's own reader.
pub fn yaml_documents(text: &str) -> Vec<serde_json::Value> {
    serde_saphyr::from_multiple(text).unwrap_or_else(|e| panic!("not YAML: {e}\n```\n{text}\n```"))
}

/// Expected and actual as fenced blocks (pretty JSON).
pub fn fenced(expected: &serde_json::Value, actual: &serde_json::Value) -> String {
    format!(
        "expected:\n```\n{}\n```\nactual:\n```\n{}\n```",
        serde_json::to_string_pretty(expected).unwrap(),
        serde_json::to_string_pretty(actual).unwrap()
    )
}

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
