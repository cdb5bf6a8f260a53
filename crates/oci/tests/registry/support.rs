//! Test support: a real distribution registry per test ([`Registry`], from the shared
//! `aksid-test-registry` crate), aksid-oci clients and references into it, the policy modules to
//! push, and the independent clients (skopeo, oras) that read what was pushed.
//!
//! The tools come from `tests/support/install-test-tools.sh` (Debian's `docker-registry`,
//! `skopeo`, `apache2-utils`, and a `.venv` with `oras`); a missing tool fails the test with that
//! instruction rather than skipping it, so a green run always means the registry was exercised.

use aksid_metadata::{Metadata, annotate};
use aksid_oci::{Client, ClientOptions};
use std::path::Path;

pub use aksid_test_registry::{
    Htpasswd, ORAS_PULL, Registry, python, repo_root, scratch, skopeo_raw_manifest,
};

pub const POLICIES: [&str; 4] = [
    "no-local-accounts",
    "no-cluster-admin-users",
    "workload-identity-labels",
    "no-plaintext-secret-env",
];

/// A client whose credentials come only from `docker_config` (an empty one by default), caching
/// under `dir`.
pub fn client_in(dir: &Path, docker_config: Option<&Path>) -> Client {
    let config = match docker_config {
        Some(path) => path.to_owned(),
        None => {
            let path = dir.join("empty-docker-config.json");
            std::fs::write(&path, "{}").unwrap();
            path
        }
    };
    Client::new(ClientOptions::new(dir.join("cache")).docker_config(config)).expect("client")
}

/// aksid-oci references into a test [`Registry`].
pub trait OciReference {
    /// `registry://IP:PORT/REPO:TAG`, parsed.
    fn oci_reference(&self, repository_and_tag: &str) -> aksid_oci::Reference;
}

impl OciReference for Registry {
    fn oci_reference(&self, repository_and_tag: &str) -> aksid_oci::Reference {
        aksid_oci::Reference::parse(&self.reference(repository_and_tag)).unwrap()
    }
}

/// A policy module to push: its name and annotated bytes.
pub struct Module {
    pub name: String,
    pub bytes: Vec<u8>,
    /// The file it came from, or `stand-in`.
    pub origin: String,
}

/// The four aksid policy modules: the annotated ones from `artifacts/` when the build has
/// produced them, else stand-ins annotated here (a tiny waPC-shaped module per policy, with
/// metadata like the real one's, including the multi-line usage that must not reach the manifest).
pub fn policy_modules() -> Vec<Module> {
    let artifacts = repo_root().join("artifacts");
    POLICIES
        .iter()
        .map(|name| {
            let candidates = [
                artifacts.join(name).join("policy.wasm"),
                artifacts.join(format!("{name}.wasm")),
            ];
            let built = candidates.iter().find_map(|path| {
                let bytes = std::fs::read(path).ok()?;
                Metadata::from_wasm(&bytes).ok()??;
                Some((bytes, path.display().to_string()))
            });
            let (bytes, origin) =
                built.unwrap_or_else(|| (stand_in_module(name, 0), "stand-in".to_owned()));
            Module {
                name: name.to_string(),
                bytes,
                origin,
            }
        })
        .collect()
}

/// An annotated module for `name`, `padding` bytes larger than the minimum (a custom section),
/// distinct for each `name`.
pub fn stand_in_module(name: &str, padding: usize) -> Vec<u8> {
    let wat = format!(
        r#"(module
            (memory (export "memory") 1)
            (func (export "wapc_init"))
            (func (export "__guest_call") (param i32 i32) (result i32) i32.const 0)
            (data (i32.const 0) "{name}"))"#
    );
    let mut module = wat::parse_str(wat).expect("valid wat");
    if padding > 0 {
        let name = b"aksid-test-padding";
        let mut payload = leb128(name.len());
        payload.extend_from_slice(name);
        payload.extend(std::iter::repeat_n(0xA5u8, padding));
        module.push(0);
        module.extend(leb128(payload.len()));
        module.extend(payload);
    }
    annotate(&module, &stand_in_metadata(name)).expect("annotate")
}

pub fn stand_in_metadata(name: &str) -> Metadata {
    let yaml = format!(
        r#"
rules:
  - apiGroups: [""]
    apiVersions: [v1]
    resources: [pods]
    operations: [CREATE, UPDATE]
mutating: false
annotations:
  io.kubewarden.policy.title: {name}
  io.kubewarden.policy.description: aksid stand-in for {name}
  io.kubewarden.policy.source: https://github.com/aksid/aksid
  io.kubewarden.policy.version: 0.1.0
  io.kubewarden.policy.usage: |
    # {name}

    A multi-line usage text, which OCI annotations cannot carry.
"#
    );
    Metadata::from_yaml(&yaml)
        .expect("stand-in metadata")
        .with_protocol_version()
}

fn leb128(mut value: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Runs a Python snippet with the oras library; `args` follow as `sys.argv[1:]`. Returns stdout.
pub fn oras(script: &str, args: &[&str]) -> String {
    python("oras.client", script, args, b"")
}

/// Pushes a plain file with oras's default (non-wasm) media types.
pub const ORAS_PUSH_FILE: &str = r#"
import os, sys
import oras.client
host, target, path = sys.argv[1:4]
client = oras.client.OrasClient(hostname=host, insecure=True)
os.chdir(os.path.dirname(path))
client.push(target=target, files=[os.path.basename(path)])
"#;
