//! The browser playground against a real headless Chromium: `kubectl aksid playground` serves
//! the site, chromedriver drives the browser over WebDriver (a tiny HTTP client below), and
//! every verdict is compared with `kubectl aksid check -o json` of the same input.
//!
//! Needs `chromium` and `chromium-driver` (tests/support/install-test-tools.sh), the built
//! binary (`make build`; `$CARGO_TARGET_DIR/release/kubectl-aksid` is used when it exists) and,
//! for the hostile-module test, `cargo build --release --target wasm32-wasip1 -p hostile-policy`.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aksid_tests::{binary, target_dir, workspace};

/// A child process killed when the test ends, pass or fail.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `kubectl aksid playground --no-open` on a free loopback port, and its URL.
fn start_playground() -> (Guard, String) {
    let mut child = Command::new(binary())
        .args(["playground", "--address", "127.0.0.1:0", "--no-open"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start kubectl-aksid playground");
    // The reader stays open with the server: a closed pipe would end it at its next write.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    std::mem::forget(stdout);
    let url = line
        .trim()
        .strip_prefix("aksid playground: ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (Guard(child), url)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 request with a JSON body to 127.0.0.1:`port`; the JSON answer.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Value {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to chromedriver");
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // chromedriver may keep the connection open: read the head, then exactly the body.
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line.to_ascii_lowercase());
    }
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok());
    let payload = match length {
        Some(length) => {
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            String::from_utf8_lossy(&body).into_owned()
        }
        None if head.contains("transfer-encoding: chunked") => {
            let mut rest = String::new();
            reader.read_to_string(&mut rest).unwrap();
            dechunk(&rest)
        }
        None => {
            let mut rest = String::new();
            reader.read_to_string(&mut rest).unwrap();
            rest
        }
    };
    serde_json::from_str(&payload).unwrap_or_else(|e| panic!("{method} {path}: {e}: {payload}"))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// chromedriver and one headless Chromium session.
struct Browser {
    port: u16,
    session: String,
    _driver: Guard,
    /// Chromium's profile, removed after the driver (fields drop in order).
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (install with tests/support/install-test-tools.sh)");
        let driver = Guard(driver);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"performance": "ALL"},
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.path().display())],
            },
        }}});
        let answer = http(port, "POST", "/session", Some(&capabilities));
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        Browser {
            port,
            session,
            _driver: driver,
            _profile: profile,
        }
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let answer = http(self.port, method, &path, body.as_ref());
        if answer["value"].get("error").is_some() {
            panic!("{method} {path}: {}", answer["value"]);
        }
        answer["value"].clone()
    }

    fn open(&self, url: &str) {
        self.command("POST", "/url", Some(json!({"url": url})));
    }

    /// Runs an async script; its last argument is the callback.
    fn run_async(&self, script: &str, args: Value) -> Value {
        self.command("POST", "/timeouts", Some(json!({"script": 120_000})));
        self.command(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    fn run(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Waits until `window.aksid.ready` resolved.
    fn wait_ready(&self) {
        let ready = self.run_async(
            "const done = arguments[arguments.length - 1];
             const poll = () => window.aksid ? window.aksid.ready.then(() => done('ok'), (e) => done(String(e))) : setTimeout(poll, 20);
             poll();",
            json!([]),
        );
        assert_eq!(ready, "ok");
    }

    fn check(&self, text: &str, options: Value) -> Value {
        let answer = self.run_async(
            "const [text, options, done] = arguments;
             window.aksid.check(text, options).then((r) => done({ok: r}), (e) => done({err: e.message}));",
            json!([text, options]),
        );
        match answer.get("ok") {
            Some(report) => report.clone(),
            None => panic!("check failed: {answer}"),
        }
    }

    fn element(&self, css: &str) -> String {
        let found = self.command(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .expect("element id")
            .to_owned()
    }

    fn type_into(&self, css: &str, keys: &str) {
        let id = self.element(css);
        self.command(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": keys})),
        );
    }

    fn text_of(&self, css: &str) -> String {
        let id = self.element(css);
        self.command("GET", &format!("/element/{id}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits for `css`'s text to contain `needle`; returns the text.
    fn wait_text(&self, css: &str, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let text = self.text_of(css);
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never said {needle:?}; it says {text:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every URL the page requested, from Chromium's performance log.
    fn requested_urls(&self) -> Vec<String> {
        let entries = self.command("POST", "/se/log", Some(json!({"type": "performance"})));
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|entry| serde_json::from_str::<Value>(entry["message"].as_str()?).ok())
            .filter(|m| m["message"]["method"] == "Network.requestWillBeSent")
            .filter_map(|m| {
                m["message"]["params"]["request"]["url"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
    }
}

/// Every file of both real-world corpora and every shipped example, relative to the workspace.
///
/// The page judges what it is given as `check -f FILE` does, a file named alone. Wild file 34
/// (a kustomization without kind) means something else only when a directory is walked (a
/// notice instead of the named file's error); the page has no directory, so both sides judge it
/// as a named file here, and its walked meaning is tested in `cli/corpus.rs`.
fn inputs() -> Vec<String> {
    let mut files = Vec::new();
    for dir in ["tests/corpus/real", "tests/corpus/wild", "examples"] {
        collect(&workspace().join(dir), &mut files);
    }
    files.sort();
    files
        .iter()
        .map(|f| {
            f.strip_prefix(workspace())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(path);
        }
    }
}

/// What results must agree on: file, line, object, policy, verdict, message.
fn results(report: &Value) -> Vec<Value> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r["file"],
                r["line"],
                r["document"],
                r["apiVersion"],
                r["kind"],
                r["namespace"],
                r["name"],
                r["policy"],
                r["allowed"],
                r["message"],
                r["warnings"]
            ])
        })
        .collect()
}

fn cli_report(file: &str) -> Value {
    let output = Command::new(binary())
        .args(["check", "-f", file, "-o", "json", "--no-exceptions"])
        .current_dir(workspace())
        .output()
        .unwrap();
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn origin(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split('/').next().unwrap_or_default();
    format!("{}://{host}", url.split_once("://").map_or("", |(s, _)| s))
}

#[test]
fn every_corpus_file_and_example_gets_the_clis_verdicts_and_nothing_leaves_the_origin() {
    let (_server, url) = start_playground();
    let browser = Browser::start();
    browser.open(&url);
    // Time from the start of the page's navigation (performance.now()'s origin) to the first
    // verdict, as a person who opens the page and checks at once would see it.
    let first = browser.run_async(
        "const done = arguments[arguments.length - 1];
         const poll = () => window.aksid
             ? window.aksid.check('apiVersion: v1\\nkind: Pod\\nmetadata: {name: p}\\n', {})
                 .then((r) => done({ms: performance.now(), version: r.version}), (e) => done({err: String(e)}))
             : setTimeout(poll, 5);
         poll();",
        json!([]),
    );
    assert_eq!(first["version"], 1, "{first}");
    eprintln!(
        "first verdict {:.0} ms after the page started loading",
        first["ms"].as_f64().unwrap()
    );
    let files = inputs();
    assert!(files.len() > 60, "corpus and examples: {}", files.len());
    for file in &files {
        let text = std::fs::read_to_string(workspace().join(file)).unwrap();
        let page = browser.check(&text, json!({"file": file}));
        let cli = cli_report(file);
        assert_eq!(results(&page), results(&cli), "{file}: results differ");
        assert_eq!(page["errors"], cli["errors"], "{file}: errors differ");
        assert_eq!(page["summary"], cli["summary"], "{file}: summaries differ");
    }
    let own = origin(&url);
    let requested = browser.requested_urls();
    // The page's own requests (the worker's fetch of the browser host is the worker's own).
    assert!(
        requested
            .iter()
            .any(|u| u.ends_with("/policies/no-local-accounts.wasm")),
        "{requested:?}"
    );
    let foreign: Vec<&String> = requested
        .iter()
        // Only network schemes: chrome:// and data: are the browser's own, before navigation.
        .filter(|u| {
            ["http:", "https:", "ws:", "wss:"]
                .iter()
                .any(|s| u.starts_with(s))
        })
        .filter(|u| !u.starts_with(&own))
        .collect();
    assert!(foreign.is_empty(), "requests to other origins: {foreign:?}");
}

const REJECTED_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels:\n    azure.workload.identity/use: \"True\"\nspec:\n  serviceAccountName: web\n  containers:\n    - name: web\n      image: nginx\n";

#[test]
fn a_person_types_presses_ctrl_enter_reads_the_finding_and_shares_it() {
    let (_server, url) = start_playground();
    let cli = {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("playground.yaml");
        std::fs::write(&file, REJECTED_POD).unwrap();
        let output = Command::new(binary())
            .args([
                "check",
                "-f",
                "playground.yaml",
                "-o",
                "json",
                "--no-exceptions",
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let finding = cli["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["allowed"] == false)
        .expect("the CLI rejects the pod");
    let message = finding["message"].as_str().unwrap();
    let words: String = message
        .split("; fix: ")
        .next()
        .unwrap()
        .chars()
        .take(60)
        .collect();

    let browser = Browser::start();
    browser.open(&url);
    browser.wait_ready();
    // Typed as a person types it: the editor indents nothing by itself.
    browser.type_into("#editor", REJECTED_POD);
    browser.type_into("#editor", "\u{E009}\u{E007}\u{E009}");
    let shown = browser.wait_text("#findings", &words, Duration::from_secs(10));
    assert!(
        shown.contains(&format!("line {}", finding["line"])),
        "{shown}"
    );
    assert!(
        shown.contains(finding["policy"].as_str().unwrap()),
        "{shown}"
    );
    let marked = browser.run(
        "return [...document.querySelectorAll('#gutter .mark')].map((e) => Number(e.textContent));",
        json!([]),
    );
    assert_eq!(marked, json!([finding["line"]]));

    let id = browser.element("#share");
    browser.command("POST", &format!("/element/{id}/click"), Some(json!({})));
    let deadline = Instant::now() + Duration::from_secs(5);
    let link = loop {
        let link = browser.run(
            "return document.getElementById('share-link').value;",
            json!([]),
        );
        if link.as_str().is_some_and(|l| l.contains("#s=")) {
            break link.as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no share link");
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(browser);

    let fresh = Browser::start();
    fresh.open(&link);
    fresh.wait_ready();
    let restored = fresh.run("return document.getElementById('editor').value;", json!([]));
    assert_eq!(restored, REJECTED_POD);
    let again = fresh.wait_text("#findings", &words, Duration::from_secs(10));
    assert_eq!(again, shown);
}

const HOSTILE_METADATA: &str = "rules:\n  - apiGroups: [\"\"]\n    apiVersions: [\"v1\"]\n    resources: [\"pods\"]\n    operations: [\"CREATE\"]\nmutating: false\nexecutionMode: kubewarden-wapc\nannotations:\n  io.kubewarden.policy.title: hostile-policy\n";

#[test]
fn a_looping_module_is_stopped_at_the_time_limit_and_the_page_keeps_working() {
    let wasm = target_dir().join("wasm32-wasip1/release/hostile_policy.wasm");
    assert!(
        wasm.is_file(),
        "{} is missing: cargo build --release --target wasm32-wasip1 -p hostile-policy",
        wasm.display()
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&wasm, dir.path().join("hostile-policy.wasm")).unwrap();
    std::fs::write(dir.path().join("metadata.yml"), HOSTILE_METADATA).unwrap();
    let (_server, url) = start_playground();
    let browser = Browser::start();
    browser.open(&url);
    browser.wait_ready();
    // Loaded as a person loads their own module: both files through the file picker.
    let files = format!(
        "{}\n{}",
        dir.path().join("hostile-policy.wasm").display(),
        dir.path().join("metadata.yml").display()
    );
    browser.type_into("#file-picker", &files);
    browser.wait_text(
        "#status",
        "added policy hostile-policy",
        Duration::from_secs(10),
    );

    let started = Instant::now();
    let report = browser.check(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
        json!({"settings": {"hostile-policy": {"mode": "loop"}}}),
    );
    let took = started.elapsed();
    // 2 s of guest time, then a fresh worker re-runs the check; the margin is for a busy machine.
    assert!(took < Duration::from_millis(5000), "stopped after {took:?}");
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    assert_eq!(errors[0]["kind"], "policyFailed");
    assert_eq!(
        errors[0]["message"],
        "policy hostile-policy failed on Pod default/p: policy hostile-policy timed out after 2s in `validate`"
    );
    browser.wait_text("#status", "time limit", Duration::from_secs(2));
    let next = browser.check(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
        json!({"settings": {"hostile-policy": {"mode": "reject"}}}),
    );
    let hostile: Vec<&Value> = next["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["policy"] == "hostile-policy")
        .collect();
    assert_eq!(hostile.len(), 1, "{next}");
    assert_eq!(hostile[0]["allowed"], false);
}

#[test]
fn the_server_listens_on_loopback_only_and_answers_loopback_names_only() {
    let output = Command::new(binary())
        .args(["playground", "--address", "0.0.0.0:0", "--no-open"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("loopback only"), "{stderr}");

    let (_server, url) = start_playground();
    let port: u16 = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let get = |host: &str| {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response.lines().next().unwrap_or_default().to_owned()
    };
    assert_eq!(get(&format!("127.0.0.1:{port}")), "HTTP/1.1 200 OK");
    assert_eq!(get(&format!("localhost:{port}")), "HTTP/1.1 200 OK");
    // A rebinding attack names its own domain: refused.
    assert_eq!(
        get(&format!("attacker.example:{port}")),
        "HTTP/1.1 403 Forbidden"
    );
}
