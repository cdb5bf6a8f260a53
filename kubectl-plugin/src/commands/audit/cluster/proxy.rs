//! One `kubectl proxy` per run, on a Unix socket in a private directory (mode 0700, removed at
//! the end), and plain HTTP GETs over it. kubectl authenticates every request exactly as in the
//! user's shell (kubeconfig, context, exec credential plugins such as kubelogin, CA bundles,
//! HTTPS proxies); aksid never sees a credential, and no TCP port is opened that another local
//! user could reach.
//!
//! One kubectl process per request (`kubectl get --raw`) cost 0.1–0.2 s of CPU each, and, with
//! an exec credential plugin, a token fetch each: most of an audit's time.
//!
//! What an exec credential plugin writes on standard error while kubectl serves reaches the user
//! as it comes: that is where it asks for a sign-in (kubelogin's device code: "To sign in, use a
//! web browser to open the page … and enter the code …"). kubectl's own log lines are not passed
//! on: the answer to the request that failed carries the same words into the report. Before
//! kubectl serves, everything it says is kept for the error message instead.

use super::ListError;
use serde_json::Value;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

/// Where kubectl's standard error goes once it serves: one line at a time, escaped for a terminal.
pub type Relay = Box<dyn Fn(&str) + Send>;

/// How long kubectl may take to start serving.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one read may stall (the API server's answer to one page, or an exec credential
/// plugin fetching a token on the first request).
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest answer read (one page of `--chunk-size` objects).
const MAX_ANSWER: u64 = 1 << 30;
/// How much of kubectl's standard error is kept for messages.
const MAX_STDERR: usize = 16 << 10;
/// The longest line of kubectl's standard error passed on (the rest of it is dropped).
const MAX_LINE: u64 = 4 << 10;
/// How many lines of kubectl's standard error are passed on (a proxy failing every request
/// logs a line for each).
const MAX_RELAYED: usize = 200;

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
    /// serves; from then on, kubectl's standard error goes to `relay`. The error is one line
    /// naming kubectl, with kubectl's own words when it said any.
    pub fn start(program: &Path, global_args: &[OsString], relay: Relay) -> Result<Proxy, String> {
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
        let stderr = Stderr::read(child.stderr.take());
        if let Err(problem) = wait_until_serving(&mut child) {
            let _ = child.kill();
            let _ = child.wait();
            let said = one_line(&stderr.said());
            return Err(if said.is_empty() {
                format!("kubectl proxy {problem}")
            } else {
                format!("kubectl proxy {problem}: {said}")
            });
        }
        stderr.relay(relay);
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

/// kubectl's standard error, read in a thread so that kubectl never blocks on a full pipe.
struct Stderr {
    state: Arc<Mutex<StderrState>>,
    /// Closed when the stream ends.
    ended: mpsc::Receiver<()>,
}

#[derive(Default)]
struct StderrState {
    /// What kubectl said before it served (at most [`MAX_STDERR`] bytes).
    kept: String,
    relay: Option<Relay>,
    relayed: usize,
}

impl StderrState {
    fn line(&mut self, line: &str) {
        let Some(relay) = &self.relay else {
            if self.kept.len() + line.len() < MAX_STDERR {
                self.kept.push_str(line);
                self.kept.push('\n');
            }
            return;
        };
        if is_kubectl_log(line) {
            return;
        }
        self.relayed += 1;
        match self.relayed {
            n if n <= MAX_RELAYED => relay(&aksid_report::render::terminal_safe(line, true)),
            n if n == MAX_RELAYED + 1 => relay("(further messages of kubectl are not shown)"),
            _ => {}
        }
    }
}

/// A line of kubectl's own log (klog: `E1130 22:50:13.436719   27379 proxy_server.go:147] …`).
fn is_kubectl_log(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 6 && b"IWEF".contains(&b[0]) && b[1..5].iter().all(u8::is_ascii_digit) && b[5] == b' '
}

impl Stderr {
    fn read(stream: Option<impl Read + Send + 'static>) -> Stderr {
        let state = Arc::new(Mutex::new(StderrState::default()));
        let (ended_tx, ended) = mpsc::channel::<()>();
        if let Some(stream) = stream {
            let state = Arc::clone(&state);
            std::thread::spawn(move || {
                let _ended = ended_tx;
                let mut stream = BufReader::new(stream);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match (&mut stream).take(MAX_LINE).read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    if line.last() != Some(&b'\n') {
                        // Longer than MAX_LINE: the rest of it is skipped.
                        let _ = stream.skip_until(b'\n');
                    }
                    let text = String::from_utf8_lossy(&line);
                    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                    state.line(text.trim_end());
                }
            });
        }
        Stderr { state, ended }
    }

    /// Everything kubectl said, once it has ended (or after 2 s).
    fn said(&self) -> String {
        let _ = self.ended.recv_timeout(Duration::from_secs(2));
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.kept.clone()
    }

    /// Passes on what kubectl said so far, and from now on each line as it comes.
    fn relay(&self, relay: Relay) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = std::mem::take(&mut state.kept);
        state.relay = Some(relay);
        kept.lines().for_each(|line| state.line(line));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectls_words_are_kept_until_it_serves_then_passed_on_escaped_and_bounded() {
        let before = "W1130 09:00:00.000001   27379 loader.go:1] starting\nsigning in\n";
        let stderr = Stderr::read(Some(std::io::Cursor::new(before.as_bytes().to_vec())));
        assert_eq!(stderr.said(), before);
        let heard = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&heard);
        stderr.relay(Box::new(move |line| {
            sink.lock().unwrap().push(line.to_owned())
        }));
        let mut state = stderr.state.lock().unwrap();
        state.line("enter the code \u{1b}[2JFQ3KD8RXL");
        state.line(
            "E1130 22:50:13.436719   27379 proxy_server.go:147] Error while proxying request",
        );
        (0..MAX_RELAYED + 5).for_each(|i| state.line(&format!("error {i}")));
        let heard = heard.lock().unwrap();
        assert_eq!(
            heard[..2],
            ["signing in", "enter the code \\u{1b}[2JFQ3KD8RXL"]
        );
        assert_eq!(heard.len(), MAX_RELAYED + 1);
        assert_eq!(
            heard.last().unwrap(),
            "(further messages of kubectl are not shown)"
        );
    }
}
