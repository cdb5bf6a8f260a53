//! One `kubectl proxy` per run, on a Unix socket in a private directory (mode 0700, removed at
//! the end), and plain HTTP GETs over it. kubectl authenticates every request exactly as in the
//! user's shell (kubeconfig, context, exec credential plugins such as kubelogin, CA bundles,
//! HTTPS proxies); aksid never sees a credential, and no TCP port is opened that another local
//! user could reach.
//!
//! One kubectl process per request (`kubectl get --raw`) cost 0.1–0.2 s of CPU each, and, with
//! an exec credential plugin, a token fetch each: most of an audit's time.

use super::ListError;
use serde_json::Value;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long kubectl may take to start serving.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one read may stall (the API server's answer to one page, or an exec credential
/// plugin fetching a token on the first request).
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest answer read (one page of `--chunk-size` objects).
const MAX_ANSWER: u64 = 1 << 30;
/// How much of kubectl's standard error is kept for messages.
const MAX_STDERR: u64 = 16 << 10;

/// A running `kubectl proxy`; stopped when dropped.
pub struct Proxy {
    child: Child,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    /// The socket's private directory.
    _dir: tempfile::TempDir,
}

impl Proxy {
    /// Starts `PROGRAM GLOBAL_ARGS proxy --unix-socket DIR/kubectl.sock` and waits until it
    /// serves. The error is one line naming kubectl, with kubectl's own words when it said any.
    pub fn start(program: &Path, global_args: &[OsString]) -> Result<Proxy, String> {
        let dir = tempfile::Builder::new()
            .prefix("aksid-kubectl-")
            .tempdir()
            .map_err(|e| format!("cannot create a private directory for kubectl proxy: {e}"))?;
        let socket = dir.path().join("kubectl.sock");
        // Everything that can fail is ready before kubectl starts, so a failure leaves none running.
        let client = client(&socket).map_err(|e| format!("kubectl proxy: {e}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("kubectl proxy: cannot start an I/O runtime: {e}"))?;
        let mut command = Command::new(program);
        command
            .args(global_args)
            .arg("proxy")
            .arg("--unix-socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        stop_with_this_thread(&mut command);
        let mut child = command.spawn().map_err(|e| {
            format!(
                "cannot run {}: {e}; install kubectl or set $KUBECTL",
                program.display()
            )
        })?;
        let stderr = drain(child.stderr.take());
        if let Err(problem) = wait_until_serving(&mut child) {
            let _ = child.kill();
            let _ = child.wait();
            let said = stderr
                .recv_timeout(Duration::from_secs(2))
                .unwrap_or_default();
            let said = one_line(&said);
            return Err(if said.is_empty() {
                format!("kubectl proxy {problem}")
            } else {
                format!("kubectl proxy {problem}: {said}")
            });
        }
        Ok(Proxy {
            child,
            runtime,
            client,
            _dir: dir,
        })
    }

    /// `GET PATH` through the proxy, parsed as JSON. Threads may call it at once: the runtime is
    /// driven by one of them at a time, and their requests run side by side.
    pub fn get(&self, path: &str) -> Result<Value, ListError> {
        self.runtime.block_on(async {
            let failed = |e: reqwest::Error| {
                ListError::Failed(format!("GET {path}: {:#}", anyhow::Error::new(e)))
            };
            let mut response = self
                .client
                .get(format!("http://localhost{path}"))
                .send()
                .await
                .map_err(failed)?;
            let status = response.status();
            if response.content_length().is_some_and(|n| n > MAX_ANSWER) {
                return Err(too_large(path));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(failed)? {
                if body.len() as u64 + chunk.len() as u64 > MAX_ANSWER {
                    return Err(too_large(path));
                }
                body.extend_from_slice(&chunk);
            }
            if !status.is_success() {
                return Err(refusal(status, &body));
            }
            serde_json::from_slice(&body)
                .map_err(|e| ListError::Failed(format!("GET {path} returned no JSON: {e}")))
        })
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// On Linux, kubectl gets SIGTERM when the thread that started it ends, so an interrupted aksid
/// (Ctrl-C) leaves no proxy running. The thread is the one that calls `Kubectl::connect`: the
/// main thread, which lives as long as the run.
fn stop_with_this_thread(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: between fork and exec the closure only calls prctl(2), which is
        // async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

/// Waits for kubectl's "Starting to serve on …" line, which it prints once it listens.
fn wait_until_serving(child: &mut Child) -> Result<(), &'static str> {
    let stdout = child.stdout.take().ok_or("has no standard output")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        let _ = (&mut stdout).take(4096).read_line(&mut line);
        let _ = tx.send(line);
        // Go kills a program writing to a closed standard output.
        let _ = std::io::copy(&mut stdout, &mut std::io::sink());
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(line) if line.starts_with("Starting to serve on") => Ok(()),
        Ok(_) => Err("did not start"),
        Err(_) => Err("did not start within 30 s"),
    }
}

/// Reads (at most [`MAX_STDERR`] bytes of) `stream` in a thread, so kubectl never blocks on a
/// full pipe; the text arrives when the stream ends.
fn drain(stream: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    if let Some(stream) = stream {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut stream = stream;
            let _ = (&mut stream).take(MAX_STDERR).read_to_end(&mut kept);
            let _ = tx.send(String::from_utf8_lossy(&kept).into_owned());
            let _ = std::io::copy(&mut stream, &mut std::io::sink());
        });
    }
    rx
}

/// An HTTP client for the socket only: no environment proxies, no redirects.
fn client(socket: &Path) -> Result<reqwest::Client, reqwest::Error> {
    // reqwest is built without a bundled TLS crypto provider; it wants one even for plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .unix_socket(socket)
        .connect_timeout(START_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("aksid/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A non-2xx answer: the API server's `Status` message when it sent one (403 is RBAC's refusal),
/// else kubectl proxy's own text (it answers 5xx when it cannot reach the API server or get a
/// credential).
fn refusal(status: reqwest::StatusCode, body: &[u8]) -> ListError {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|s| s["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let mut message = one_line(&message);
    if message.len() > 1000 {
        let end = message.floor_char_boundary(1000);
        message.truncate(end);
        message.push('…');
    }
    if status == reqwest::StatusCode::FORBIDDEN {
        return ListError::Forbidden(message);
    }
    ListError::Failed(format!("{message} (HTTP {status})"))
}

fn too_large(path: &str) -> ListError {
    ListError::Failed(format!(
        "GET {path}: the answer is larger than {} MiB; lower --chunk-size",
        MAX_ANSWER >> 20
    ))
}

/// `text` on one line, its runs of whitespace (newlines included) one space each.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
