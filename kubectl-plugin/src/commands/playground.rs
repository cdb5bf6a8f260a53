//! `kubectl aksid playground`: serves the browser playground (`artifacts/playground/`, embedded
//! in the binary) on a loopback address, prints its URL and opens the browser.
//!
//! The site is static: every check runs in the browser, on the very modules embedded here, so
//! the server only answers GETs for its own files, to loopback clients naming a loopback host.

use crate::Outcome;
use crate::cli::PlaygroundArgs;
use crate::embedded;
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// The site's files (the built `artifacts/playground/`), with their content types. The policy
/// modules are served from the binary's own embedded modules, the same bytes.
const SITE: &[(&str, &str, &[u8])] = &[
    (
        "/index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../../artifacts/playground/index.html"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../artifacts/playground/app.js"),
    ),
    (
        "/worker.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../artifacts/playground/worker.js"),
    ),
    (
        "/aksid_browser.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../artifacts/playground/aksid_browser.js"),
    ),
    (
        "/aksid_browser_bg.wasm",
        "application/wasm",
        include_bytes!("../../../artifacts/playground/aksid_browser_bg.wasm"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../artifacts/playground/style.css"),
    ),
    (
        "/examples.json",
        "application/json",
        include_bytes!("../../../artifacts/playground/examples.json"),
    ),
];

/// A request line and headers larger than this are refused.
const MAX_REQUEST_HEAD: usize = 16 << 10;

pub fn execute(args: PlaygroundArgs) -> Result<Outcome> {
    if !args.address.ip().is_loopback() {
        bail!(
            "--address {}: the playground listens on loopback only (127.0.0.0/8 or [::1]), since \
             it is for the local browser\n\nTo share it, publish artifacts/playground/ as static \
             pages instead.",
            args.address
        );
    }
    let listener = TcpListener::bind(args.address)
        .with_context(|| format!("listening on {}", args.address))?;
    let address = listener.local_addr()?;
    let url = format!("http://{address}/");
    // One write: a reader that stops after the URL line must not leave a second line pending.
    let mut out = std::io::stdout().lock();
    out.write_all(
        format!("aksid playground: {url}\n(serving on loopback only; press Ctrl+C to stop)\n")
            .as_bytes(),
    )?;
    out.flush()?;
    drop(out);
    if !args.no_open {
        open_browser(&url);
    }
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        std::thread::spawn(move || {
            // A client that goes away mid-request only ends its own connection.
            let _ = serve(stream);
        });
    }
    Ok(Outcome::Clean)
}

/// Answers one request and closes the connection.
fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let peer_is_loopback = stream.peer_addr()?.ip().is_loopback();
    let local = stream.local_addr()?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = Vec::new();
    let mut line = String::new();
    let mut host = None;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || head.len() > MAX_REQUEST_HEAD {
            return respond(&mut stream, 400, "text/plain", b"bad request\n", false);
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        if let Some(value) = line
            .split_once(':')
            .filter(|(name, _)| name.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.trim().to_owned())
        {
            host = Some(value);
        }
        head.push(line.clone());
    }
    let request_line = head.first().map(String::as_str).unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    // A page of another site must not reach this server through a name that resolves to
    // loopback (DNS rebinding): only loopback names are answered.
    if !peer_is_loopback
        || !host
            .as_deref()
            .is_some_and(|h| is_loopback_host(h, local.port()))
    {
        return respond(&mut stream, 403, "text/plain", b"forbidden\n", false);
    }
    if method != "GET" && method != "HEAD" {
        return respond(&mut stream, 405, "text/plain", b"only GET\n", false);
    }
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let path = if path == "/" { "/index.html" } else { path };
    match lookup(path) {
        Some((content_type, body)) => {
            respond(&mut stream, 200, content_type, body, method == "HEAD")
        }
        None => respond(
            &mut stream,
            404,
            "text/plain",
            b"not found\n",
            method == "HEAD",
        ),
    }
}

/// The content type and bytes of a site path.
fn lookup(path: &str) -> Option<(&'static str, &'static [u8])> {
    if let Some(file) = path.strip_prefix("/policies/") {
        let id = file.strip_suffix(".wasm")?;
        return embedded::POLICIES
            .iter()
            .find(|(policy, _)| *policy == id)
            .map(|(_, bytes)| ("application/wasm", *bytes));
    }
    SITE.iter()
        .find(|(name, _, _)| *name == path)
        .map(|(_, content_type, body)| (*content_type, *body))
}

fn is_loopback_host(host: &str, port: u16) -> bool {
    let name = host
        .strip_suffix(&format!(":{port}"))
        .unwrap_or(host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let header = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n\
         Cross-Origin-Resource-Policy: same-origin\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes())?;
    if !head_only {
        stream.write_all(body)?;
    }
    stream.flush()
}

/// Opens `url` in the desktop's browser; without one, the printed URL is enough.
fn open_browser(url: &str) {
    let command = if cfg!(target_os = "macos") {
        vec!["open", url]
    } else if cfg!(windows) {
        vec!["cmd", "/C", "start", "", url]
    } else {
        vec!["xdg-open", url]
    };
    let spawned = std::process::Command::new(command[0])
        .args(&command[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if spawned.is_err() {
        eprintln!(
            "could not open a browser ({}); open {url} yourself",
            command[0]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_names_are_answered() {
        assert!(is_loopback_host("127.0.0.1:8080", 8080));
        assert!(is_loopback_host("localhost:8080", 8080));
        assert!(is_loopback_host("[::1]:8080", 8080));
        assert!(!is_loopback_host("evil.example:8080", 8080));
        assert!(!is_loopback_host("192.168.1.2:8080", 8080));
    }

    #[test]
    fn policies_are_the_embedded_modules() {
        let (content_type, bytes) = lookup("/policies/no-local-accounts.wasm").unwrap();
        assert_eq!(content_type, "application/wasm");
        assert_eq!(bytes, embedded::POLICIES[0].1);
        assert!(lookup("/policies/../Cargo.toml").is_none());
        assert!(lookup("/index.html").is_some());
    }
}
