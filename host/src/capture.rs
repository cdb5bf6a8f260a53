//! What a guest says while it runs: its stdout and stderr (WASI `fd_write` to 1 and 2) and its
//! log records (`kubewarden/tracing/log`, waPC `__console_log`), each kept up to the host's
//! `captured_output_limit` per evaluation and never written to the process's own streams.

use serde_json::Value;
use std::collections::BTreeMap;

/// What a guest wrote to its stdout and stderr during one evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapturedOutput {
    /// File descriptor 1, decoded lossily as UTF-8, up to the capture limit.
    pub stdout: String,
    /// File descriptor 2 (where a Rust guest's panic message goes), up to the capture limit.
    pub stderr: String,
    /// Bytes written past the limit and dropped (both streams).
    pub dropped_bytes: u64,
    /// Log records past the limit and dropped.
    pub dropped_log_records: u64,
}

/// One log record a policy emitted.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// The record's level.
    pub level: LogLevel,
    /// The message (empty when the record had none).
    pub message: String,
    /// The other key-value pairs (the Kubewarden SDK adds `file`, `line`, `column`).
    pub fields: BTreeMap<String, Value>,
    /// Where the record came from.
    pub source: LogSource,
}

impl LogRecord {
    /// An `info` record of the console channel.
    pub(crate) fn console(message: String) -> LogRecord {
        LogRecord {
            level: LogLevel::Info,
            message,
            fields: BTreeMap::new(),
            source: LogSource::Console,
        }
    }
}

/// Level of a [`LogRecord`], as Kubewarden's policy-server reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `trace`.
    Trace,
    /// `debug`.
    Debug,
    /// `info`, and anything not recognised.
    Info,
    /// `warning` or `warn`.
    Warning,
    /// `error`.
    Error,
}

/// Channel a [`LogRecord`] came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogSource {
    /// The Kubewarden host call `kubewarden/tracing/log` (the SDK's `slog` drain).
    Tracing,
    /// waPC `__console_log`.
    Console,
}

/// The per-evaluation buffers.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    limit: usize,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    logs: Vec<LogRecord>,
    log_bytes: usize,
    dropped_bytes: u64,
    dropped_logs: u64,
}

impl Capture {
    pub(crate) fn new(limit: usize) -> Capture {
        Capture {
            limit,
            ..Capture::default()
        }
    }

    /// Appends to stdout (`fd == 1`) or stderr (any other), dropping what exceeds the limit.
    pub(crate) fn write(&mut self, fd: u32, bytes: &[u8]) {
        let buffer = if fd == 1 {
            &mut self.stdout
        } else {
            &mut self.stderr
        };
        let room = self.limit.saturating_sub(buffer.len());
        let kept = bytes.len().min(room);
        buffer.extend_from_slice(&bytes[..kept]);
        self.dropped_bytes += (bytes.len() - kept) as u64;
    }

    /// Records a log entry whose raw payload is `size` bytes, unless the limit is reached.
    pub(crate) fn log(&mut self, size: usize, make: impl FnOnce() -> LogRecord) {
        if self.log_bytes.saturating_add(size) > self.limit {
            self.dropped_logs += 1;
            return;
        }
        self.log_bytes += size;
        self.logs.push(make());
    }

    /// Bytes kept so far: both streams and the raw size of the kept log records.
    pub(crate) fn held_bytes(&self) -> usize {
        self.stdout.len() + self.stderr.len() + self.log_bytes
    }

    /// The stderr tail, for trap reports: from the last Rust panic message if there is one,
    /// else the last non-empty line, at most 2 KiB.
    pub(crate) fn guest_message(&self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.stderr);
        let text = text.trim_end();
        let start = match text.rfind("panicked at") {
            Some(i) => i,
            None => text.rfind('\n').map_or(0, |i| i + 1),
        };
        let message = text[start..].trim();
        let message = match message.char_indices().nth(2048) {
            Some((cut, _)) => format!("{}…", &message[..cut]),
            None => message.to_owned(),
        };
        (!message.is_empty()).then_some(message)
    }

    pub(crate) fn finish(&mut self) -> (Vec<LogRecord>, CapturedOutput) {
        let output = CapturedOutput {
            stdout: String::from_utf8_lossy(&self.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&self.stderr).into_owned(),
            dropped_bytes: self.dropped_bytes,
            dropped_log_records: self.dropped_logs,
        };
        let logs = std::mem::take(&mut self.logs);
        *self = Capture::new(self.limit);
        (logs, output)
    }
}

/// Reads a `kubewarden/tracing/log` payload: `{"level", "message", ...fields}`. Never fails:
/// anything that is not a JSON object becomes the message of an `info` record.
pub(crate) fn parse_log(payload: &[u8], source: LogSource) -> LogRecord {
    let mut record = LogRecord {
        level: LogLevel::Info,
        message: String::new(),
        fields: BTreeMap::new(),
        source,
    };
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(map)) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("level", Value::String(level)) => record.level = parse_level(&level),
                    ("message", Value::String(message)) => record.message = message,
                    (_, value) => {
                        record.fields.insert(key, value);
                    }
                }
            }
        }
        Ok(other) => record.message = other.to_string(),
        Err(_) => record.message = String::from_utf8_lossy(payload).into_owned(),
    }
    record
}

fn parse_level(level: &str) -> LogLevel {
    match level.to_ascii_lowercase().as_str() {
        "trace" => LogLevel::Trace,
        "debug" => LogLevel::Debug,
        "warning" | "warn" => LogLevel::Warning,
        "error" | "critical" => LogLevel::Error,
        _ => LogLevel::Info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_limit_is_dropped_and_counted() {
        let mut capture = Capture::new(8);
        capture.write(1, b"hello ");
        capture.write(1, b"world");
        capture.write(2, b"err");
        let (_, output) = capture.finish();
        assert_eq!(output.stdout, "hello wo");
        assert_eq!(output.stderr, "err");
        assert_eq!(output.dropped_bytes, 3);
    }

    #[test]
    fn log_payloads_never_fail() {
        let r = parse_log(
            br#"{"level":"WARNING","message":"m","line":3,"policy":"p"}"#,
            LogSource::Tracing,
        );
        assert_eq!((r.level, r.message.as_str()), (LogLevel::Warning, "m"));
        assert_eq!(r.fields["line"], 3);
        assert_eq!(
            parse_log(b"\xff garbage", LogSource::Tracing).level,
            LogLevel::Info
        );
        assert_eq!(parse_log(b"[1]", LogSource::Tracing).message, "[1]");
    }

    #[test]
    fn guest_message_prefers_the_panic() {
        let mut capture = Capture::new(1 << 10);
        capture.write(2, b"noise\npanicked at src/lib.rs:1:1:\nboom\n");
        assert_eq!(
            capture.guest_message().as_deref(),
            Some("panicked at src/lib.rs:1:1:\nboom")
        );
        let mut capture = Capture::new(1 << 10);
        capture.write(2, b"first\nmemory allocation of 1048576 bytes failed\n");
        assert_eq!(
            capture.guest_message().as_deref(),
            Some("memory allocation of 1048576 bytes failed")
        );
    }
}
