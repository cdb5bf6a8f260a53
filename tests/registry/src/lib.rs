//! Test support shared by the aksid suites that talk to a real OCI registry: the `aksid-oci`
//! registry tests (`crates/oci/tests/registry.rs`) and the distribution tests
//! (`tests/e2e/tests/distribution.rs`).
//!
//! Test support only: must never be a dependency of anything shipped.
//!
//! - [`Registry`]: Debian's distribution registry (`docker-registry serve`) started per test on a
//!   loopback address and a free port, anonymous or behind HTTP basic authentication, with its
//!   storage and log at hand, and stopped (kill + wait) when dropped.
//! - [`ScriptedServer`]: a real HTTP/1.1 server on a loopback address whose answers a test
//!   scripts byte by byte (with [`respond`] and [`stream_zeros`]) to play a hostile registry,
//!   recording every request ([`RecordedRequest`]) to prove what reached it.
//! - The independent clients that read back what a test pushed: skopeo
//!   ([`skopeo_raw_manifest`]) and Python libraries from the repository's `.venv`
//!   ([`venv_python`], [`python`], e.g. oras with [`ORAS_PULL`]).
//! - Where things are: [`repo_root`], [`scratch`] directories named after the test, and
//!   [`tool`] to locate an installed program.
//!
//! What each suite needs of its own (aksid-oci clients and references, the `kubectl-aksid`
//! runner, schema checks, stand-in modules) stays in that suite's support module, built on this.
//!
//! # What must be installed
//!
//! `docker-registry`, `skopeo`, `htpasswd` (apache2-utils, for [`Registry::start_with_auth`]) and
//! a `.venv/` at the repository root with the Python libraries the tests import (`oras`, and
//! `jsonschema` for the distribution tests). `tests/support/install-test-tools.sh` (or
//! `make test-tools`) installs them all. A missing tool fails the test with that instruction
//! ([`INSTALL_HINT`]) rather than skipping it, so a green run always means the registry and the
//! independent clients were exercised.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to do when a tool is missing, for failure messages.
pub const INSTALL_HINT: &str = "run `tests/support/install-test-tools.sh` (from the repository \
    root, or `make test-tools`) to install the registry, skopeo, htpasswd and the .venv with \
    oras and jsonschema";

/// The repository (workspace) root, canonical: `$(CURDIR)` when `make` runs there.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// An error and all its causes on one line, as the CLI prints them.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A scratch directory named after the test, removed when dropped.
pub fn scratch(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("aksid-test-{test}-"))
        .tempdir()
        .expect("scratch dir")
}

/// The installed program `name`: from `/usr/bin`, `/usr/sbin` or `/usr/local/bin`, else from
/// `PATH`.
///
/// # Panics
///
/// When it is not installed, with [`INSTALL_HINT`].
pub fn tool(name: &str) -> PathBuf {
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

/// The `.venv` Python (at the repository root), which must have `module` (its top-level
/// package is looked up, not imported: importing oras or jsonschema costs a Python start most of
/// its time, and the script that follows imports it anyway).
///
/// # Panics
///
/// When there is no `.venv` or it lacks `module`, with [`INSTALL_HINT`].
pub fn venv_python(module: &str) -> PathBuf {
    let python = repo_root().join(".venv/bin/python");
    let package = module.split('.').next().unwrap_or(module);
    let probe = format!("import importlib.util as u, sys; sys.exit(not u.find_spec({package:?}))");
    let ok = python.exists()
        && Command::new(&python)
            .args(["-c", &probe])
            .output()
            .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the Python module `{module}` is missing from .venv: {INSTALL_HINT}"
    );
    python
}

/// Runs a Python snippet with the [`venv_python`] that imports `module`, feeding it `stdin`;
/// `args` follow as `sys.argv[1:]`. Returns stdout.
///
/// # Panics
///
/// When the snippet fails, with its stderr.
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

/// A [`python`] script (module `oras.client`) that pulls images with oras: arguments
/// `host target outdir [target outdir ...]`; prints, as a JSON list in argument order, each
/// image's manifest and the files written (`[{"manifest": ..., "files": [...]}, ...]`). One
/// Python start for all of a test's images: importing oras takes about two seconds.
pub const ORAS_PULL: &str = r#"
import json, sys
import oras.client
host, pairs = sys.argv[1], sys.argv[2:]
client = oras.client.OrasClient(hostname=host, insecure=True)
pulled = []
for target, outdir in zip(pairs[::2], pairs[1::2]):
    manifest = client.get_manifest(target)
    files = client.pull(target=target, outdir=outdir)
    pulled.append({"manifest": manifest, "files": files})
print(json.dumps(pulled))
"#;

/// `skopeo inspect --raw` of `IP:PORT/REPO:TAG` (or `@digest`) over plain HTTP: the manifest
/// bytes exactly as an independent client receives them.
///
/// # Panics
///
/// When skopeo fails, with its stderr.
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

/// The user and password a registry from [`Registry::start_with_auth`] accepts (and no other).
pub struct Htpasswd<'a> {
    pub user: &'a str,
    pub password: &'a str,
}

/// A running `docker-registry serve` on a loopback address and a free port, storing under a
/// scratch directory, stopped (kill + wait) when dropped, even when the test panics.
///
/// The registry keeps no blob descriptor cache: a test that tampers with the storage (see
/// [`Registry::blob_path`]) is served the tampered bytes, as a compromised registry would serve
/// them.
pub struct Registry {
    child: Child,
    /// `IP:PORT`.
    addr: String,
    storage: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// An anonymous registry on 127.0.0.1; `test` names its scratch directory.
    pub fn start(test: &str) -> Registry {
        Registry::spawn(test, "127.0.0.1", None)
    }

    /// An anonymous registry on another loopback address `ip` (e.g. `127.0.0.2`), for tests of
    /// clients that treat only some hosts as plain HTTP.
    pub fn start_on(test: &str, ip: &str) -> Registry {
        Registry::spawn(test, ip, None)
    }

    /// A registry on 127.0.0.1 that requires HTTP basic authentication as `user`.
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
        // No blob descriptor cache (see the type's documentation).
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

    /// `IP:PORT`, the registry host of image names (`IP:PORT/REPO:TAG`).
    pub fn address(&self) -> &str {
        &self.addr
    }

    /// `registry://IP:PORT/REPO_AND_TAG`: an image in this registry in aksid's reference syntax.
    pub fn reference(&self, repository_and_tag: &str) -> String {
        format!("registry://{}/{repository_and_tag}", self.addr)
    }

    /// Whether `GET /v2/` answers as a running registry does: 200, or 401 when it requires
    /// authentication.
    pub fn answers(&self) -> bool {
        matches!(http_status(&self.addr, "/v2/"), Some(200 | 401))
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The file holding blob `digest` (`sha256:<hex>`) in the registry's storage, for tests that
    /// tamper with stored content.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Stops the registry now: kills it and waits for it (dropping does the same).
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

/// One request a [`ScriptedServer`] received: what the client sent, headers included, so that
/// tests can prove what did (and did not) reach a host.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target: path and query.
    pub path: String,
    /// Header names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// What a [`ScriptedServer`] handler is given: the request, and the connection to answer on
/// (raw HTTP/1.1: the handler writes status line, headers and body as hostile servers do).
pub type Handler = dyn Fn(&RecordedRequest, &mut TcpStream) + Send + Sync;

/// A real HTTP/1.1 server on a loopback address and a free port whose answers a test scripts
/// byte by byte: stalls, bodies longer than declared, redirects, authentication challenges.
/// It records every request, answers one request per connection (`Connection: close`), serves
/// each connection on its own thread, and stops accepting when dropped.
pub struct ScriptedServer {
    addr: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<RecordedRequest>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl ScriptedServer {
    /// Starts a server on `ip` (e.g. `127.0.0.1`, or `127.0.0.2` to stand for another host).
    pub fn start(
        ip: &str,
        handler: impl Fn(&RecordedRequest, &mut TcpStream) + Send + Sync + 'static,
    ) -> ScriptedServer {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind((ip, 0)).expect("bind a free port");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let accept = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (requests, handler) = (requests.clone(), handler.clone());
                            std::thread::spawn(move || serve_one(stream, &requests, &*handler));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        ScriptedServer {
            addr,
            requests,
            stop,
            accept: Some(accept),
        }
    }

    /// `IP:PORT`.
    pub fn address(&self) -> &str {
        &self.addr
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn serve_one(
    mut stream: TcpStream,
    requests: &std::sync::Mutex<Vec<RecordedRequest>>,
    handler: &Handler,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    // The request head, bounded; request bodies are not read (clients here only GET).
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let mut start = lines.next().unwrap_or_default().split(' ');
    let request = RecordedRequest {
        method: start.next().unwrap_or_default().to_owned(),
        path: start.next().unwrap_or_default().to_owned(),
        headers: lines
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect(),
    };
    requests.lock().unwrap().push(request.clone());
    handler(&request, &mut stream);
    let _ = stream.flush();
}

/// Writes a complete response: `status` (e.g. `200 OK`), extra header lines, and `body` with
/// its `Content-Length`. Write errors (the client hung up) are ignored.
pub fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// Writes a `200 OK` head (with `Content-Length: declared` when given, else a body delimited
/// by closing the connection), then up to `total` bytes of zeros in 64 KiB writes, stopping
/// when the client hangs up. Returns the bytes written: what a client that stops reading
/// early made the server send.
pub fn stream_zeros(stream: &mut TcpStream, declared: Option<u64>, total: u64) -> u64 {
    let mut head = String::from("HTTP/1.1 200 OK\r\nConnection: close\r\n");
    if let Some(length) = declared {
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    head.push_str("\r\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return 0;
    }
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let chunk = [0u8; 64 * 1024];
    let mut sent = 0u64;
    while sent < total {
        let n = chunk.len().min((total - sent) as usize);
        if stream.write_all(&chunk[..n]).is_err() {
            break;
        }
        sent += n as u64;
    }
    sent
}
