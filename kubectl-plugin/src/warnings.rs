//! Where the libraries' warnings go: the host and the registry client report recoverable trouble
//! (a cache entry they ignore) through `log`, and this prints each as one `warning:` line on
//! stderr, with control characters escaped. Only aksid's own crates are heard: the warnings of
//! wasmtime and Cranelift are theirs to tune, not a user's to read.

use aksid_report::render::terminal_safe;
use log::{Level, LevelFilter, Log, Metadata, Record};

struct Stderr;

static STDERR: Stderr = Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= Level::Warn && metadata.target().starts_with("aksid_")
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            let text = terminal_safe(&record.args().to_string(), true);
            eprintln!("warning: {text}");
        }
    }

    fn flush(&self) {}
}

/// Sends the libraries' warnings to stderr (once per process; a second call changes nothing).
pub fn install() {
    if log::set_logger(&STDERR).is_ok() {
        log::set_max_level(LevelFilter::Warn);
    }
}
