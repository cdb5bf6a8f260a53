//! Test support: a real distribution registry per test, the policy modules to push, and the
//! independent clients (skopeo, oras) that read what was pushed.
//!
//! The tools come from `tests/support/install-test-tools.sh` (Debian's `docker-registry`,
//! `skopeo`, `apache2-utils`, and a `.venv` with `oras`); a missing tool fails the test with that
//! instruction rather than skipping it, so a green run always means the registry was exercised.

use aksid_metadata::{Metadata, annotate};
use aksid_oci::{Client, ClientOptions};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const POLICIES: [&str; 4] = [
    "no-local-accounts",
    "no-cluster-admin-users",
    "workload-identity-labels",
    "no-plaintext-secret-env",
];

const INSTALL_HINT: &str = "run `tests/support/install-test-tools.sh` (from the repository root) \
    to install the registry and the independent OCI clients the tests use";

/// The repository root (three levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../..")
        .canonicalize()
        .expect("repository root")
}

/// A scratch directory named after the test, removed at the end.
pub fn scratch(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("aksid-oci-{test}-"))
        .tempdir()
        .expect("scratch dir")
}

fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    if let Some(path) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.exists())
    {
        return path;
    }
    panic!("`{name}` is not installed: {INSTALL_HINT}");
}

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

/// Basic-auth users for [`Registry::start_with_auth`].
pub struct Htpasswd<'a> {
    pub user: &'a str,
    pub password: &'a str,
}

/// A running `docker-registry serve`, stopped (kill + wait) when dropped, even when the test
/// panics.
pub struct Registry {
    child: Child,
    /// `IP:PORT`.
    pub addr: String,
    /// The storage root, for tests that tamper with stored content.
    pub storage: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// An anonymous registry on 127.0.0.1.
    pub fn start(test: &str) -> Registry {
        Registry::spawn(test, "127.0.0.1", None)
    }

    /// An anonymous registry on another loopback address, which is not on the client's list of
    /// plain-HTTP hosts.
    pub fn start_on(test: &str, ip: &str) -> Registry {
        Registry::spawn(test, ip, None)
    }

    /// A registry on 127.0.0.1 that requires HTTP basic authentication.
    pub fn start_with_auth(test: &str, user: Htpasswd<'_>) -> Registry {
        Registry::spawn(test, "127.0.0.1", Some(user))
    }

    fn spawn(test: &str, ip: &str, auth: Option<Htpasswd<'_>>) -> Registry {
        let binary = tool("docker-registry");
        let dir = scratch(&format!("{test}-registry"));
        let storage = dir.path().join("storage");
        std::fs::create_dir(&storage).unwrap();
        // Bind port 0 to have the kernel pick a free port, then hand it to the registry.
        let port = TcpListener::bind((ip, 0))
            .expect("bind a free port")
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("{ip}:{port}");
        let auth_section = match auth {
            Some(Htpasswd { user, password }) => {
                let out = Command::new(tool("htpasswd"))
                    .args(["-Bbn", user, password])
                    .output()
                    .expect("run htpasswd");
                assert!(out.status.success(), "htpasswd failed: {out:?}");
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, &out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: aksid-test\n    path: {}\n",
                    file.display()
                )
            }
            None => String::new(),
        };
        // No blob descriptor cache: tests that tamper with the storage must be served the
        // tampered bytes, as a compromised registry would serve them.
        let config = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n  secret: aksid-test-secret\n\
             {auth_section}",
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
            if let Some(status) = http_status(&self.addr, "/v2/")
                && (status == 200 || status == 401)
            {
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

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `registry://ADDR/REPO:TAG`.
    pub fn reference(&self, repository_and_tag: &str) -> aksid_oci::Reference {
        aksid_oci::Reference::parse(&format!("registry://{}/{repository_and_tag}", self.addr))
            .unwrap()
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

/// The status code of `GET path`, or `None` when nothing answers yet.
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

/// `skopeo inspect --raw` of `IP:PORT/REPO:TAG` (or `@digest`): the manifest bytes exactly as
/// an independent client receives them.
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

/// The `.venv` Python with the `oras` library.
fn oras_python() -> PathBuf {
    let python = repo_root().join(".venv/bin/python");
    let ok = python.exists()
        && Command::new(&python)
            .args(["-c", "import oras.client"])
            .output()
            .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the oras Python library is missing from .venv: {INSTALL_HINT}"
    );
    python
}

/// Runs a Python snippet with the oras library; `args` follow as `sys.argv[1:]`. Returns stdout.
pub fn oras(script: &str, args: &[&str]) -> String {
    let out = Command::new(oras_python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "oras script failed:\n```\n{}\n```",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Pulls `IP:PORT/REPO:TAG` with oras into `outdir`; returns the manifest and the files written.
pub const ORAS_PULL: &str = r#"
import json, sys
import oras.client
host, target, outdir = sys.argv[1:4]
client = oras.client.OrasClient(hostname=host, insecure=True)
manifest = client.get_manifest(target)
files = client.pull(target=target, outdir=outdir)
print(json.dumps({"manifest": manifest, "files": files}))
"#;

/// Pushes a plain file with oras's default (non-wasm) media types.
pub const ORAS_PUSH_FILE: &str = r#"
import os, sys
import oras.client
host, target, path = sys.argv[1:4]
client = oras.client.OrasClient(hostname=host, insecure=True)
os.chdir(os.path.dirname(path))
client.push(target=target, files=[os.path.basename(path)])
"#;
