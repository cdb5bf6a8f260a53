//! The host's knobs: the limits every evaluation runs under and where compiled modules are
//! cached. Each setter is named after its knob, takes the value and returns `self`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Configuration of a [`Host`](crate::Host).
///
/// The defaults are safe for untrusted modules: every evaluation is bounded in time, memory and
/// captured output, and a module can reach nothing outside its own linear memory (no
/// filesystem, no environment, no network, no process: nothing that could is linked).
///
/// ```
/// use std::time::Duration;
/// let config = aksid_host::HostConfig::default()
///     .timeout(Duration::from_millis(500))
///     .memory_limit(64 << 20)
///     .cache_dir(None);
/// let host = aksid_host::Host::new(config).unwrap();
/// # drop(host);
/// ```
#[derive(Debug, Clone)]
pub struct HostConfig {
    pub(crate) timeout: Duration,
    pub(crate) epoch_tick: Duration,
    pub(crate) memory_limit: usize,
    pub(crate) table_elements_limit: usize,
    pub(crate) max_request_size: usize,
    pub(crate) max_response_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) captured_output_limit: usize,
    pub(crate) max_idle_instances: usize,
    pub(crate) max_idle_memory: usize,
    pub(crate) max_module_size: usize,
    pub(crate) compile_timeout: Duration,
    pub(crate) run_deadline: Option<Instant>,
    pub(crate) cache_dir: Option<PathBuf>,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            timeout: Duration::from_secs(2),
            epoch_tick: Duration::from_millis(10),
            memory_limit: 256 << 20,
            table_elements_limit: 1 << 20,
            max_request_size: 16 << 20,
            max_response_size: 16 << 20,
            max_message_size: 64 << 10,
            captured_output_limit: 64 << 10,
            max_idle_instances: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_idle_memory: 64 << 20,
            max_module_size: 32 << 20,
            compile_timeout: Duration::from_secs(300),
            run_deadline: None,
            cache_dir: None,
        }
    }
}

impl HostConfig {
    /// Wall-clock time one guest call may run: one `validate` or `validate_settings`, and
    /// separately the start-up of a fresh instance (`_start` and `wapc_init`).
    ///
    /// Default: 2 s, Kubewarden policy-server's `--policy-timeout`.
    ///
    /// Enforced with wasmtime's epoch interruption: a ticker thread advances the engine's epoch
    /// every [`epoch_tick`](Self::epoch_tick) and each call gets a deadline of
    /// `ceil(timeout / epoch_tick)` ticks, checked by the compiled code at every function entry
    /// and loop back-edge. A malicious guest cannot mask or reset it; it is interrupted within
    /// one tick after the deadline, the call fails with [`Error::Timeout`](crate::Error::Timeout)
    /// and its instance is thrown away. Host functions never block (the WASI clock and sleep
    /// functions return at once), so time spent outside wasm is bounded by the size of the
    /// data they copy.
    ///
    /// See also [`epoch_tick`](Self::epoch_tick).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How often the ticker thread advances the epoch, that is the granularity of
    /// [`timeout`](Self::timeout).
    ///
    /// Default: 10 ms. A finer tick makes timeouts more precise at the cost of more wake-ups of
    /// one background thread; the check in compiled code costs the same at any tick. Must be
    /// positive and no longer than the timeout.
    pub fn epoch_tick(mut self, tick: Duration) -> Self {
        self.epoch_tick = tick;
        self
    }

    /// Largest linear memory, in bytes, of one instance.
    ///
    /// Default: 256 MiB. Enforced by wasmtime's `StoreLimits` on every `memory.grow` and on
    /// instantiation: growth past the limit fails (the guest sees `memory.grow` return -1; a
    /// Rust guest then aborts) and the call ends with
    /// [`Error::MemoryLimit`](crate::Error::MemoryLimit); the instance is thrown away. Each
    /// instance has exactly one store holding exactly one instance with at most one memory and a
    /// few tables, so this bounds the guest's heap.
    ///
    /// The same budget covers what the guest makes the host hold during one evaluation: its
    /// response or error string, the answer of its last host call, the record of every host
    /// call the host refused, its log records and its captured stdout and stderr. Linear memory
    /// plus these bytes never exceed the limit: a host function that would go past it stops the
    /// guest with [`Error::HostMemoryLimit`](crate::Error::HostMemoryLimit) (naming what
    /// overflowed), and a `memory.grow` past what the host already holds is refused. Not
    /// covered: the host's copy of the request (bounded by
    /// [`max_request_size`](Self::max_request_size)), compiled code, and fixed per-instance
    /// overheads.
    ///
    /// See also [`table_elements_limit`](Self::table_elements_limit),
    /// [`max_idle_instances`](Self::max_idle_instances) (memory held by pooled instances).
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Largest number of elements of any one table of an instance.
    ///
    /// Default: 1,048,576 (8 MiB of function references). Large Go modules have tables of tens
    /// of thousands of entries. Enforced like [`memory_limit`](Self::memory_limit); exceeding
    /// it fails the call with [`Error::TableLimit`](crate::Error::TableLimit).
    pub fn table_elements_limit(mut self, elements: usize) -> Self {
        self.table_elements_limit = elements;
        self
    }

    /// Largest payload, in bytes, handed to the guest (the `{"request", "settings"}` document
    /// of `validate`, or the settings of `validate_settings`), and largest payload a guest may
    /// send with a host call.
    ///
    /// Default: 16 MiB (Kubernetes objects are at most ~1.5 MiB; an UPDATE carries two). A
    /// larger request fails with [`Error::RequestTooLarge`](crate::Error::RequestTooLarge)
    /// before any guest code runs, so the guest never has to allocate it.
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.max_request_size = bytes;
        self
    }

    /// Largest response, in bytes, a guest may hand back (its `ValidationResponse`, or its
    /// error string).
    ///
    /// Default: 16 MiB. A guest exceeding it is stopped at the `__guest_response` call with
    /// [`Error::ResponseTooLarge`](crate::Error::ResponseTooLarge) and the host never copies
    /// the bytes.
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// Longest message, in bytes, kept of a verdict (its `message` and each warning) or of a
    /// guest's error string.
    ///
    /// Default: 64 KiB. Longer texts are cut at a character boundary and end with
    /// `… (N more bytes cut by the host)`. The response itself may be up to
    /// [`max_response_size`](Self::max_response_size) (a mutated object is large); this bounds
    /// what a caller keeps per object once the evaluation is over.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Bytes of the guest's stdout, of its stderr, and of its log records kept per evaluation.
    ///
    /// Default: 64 KiB each. What a guest writes to file descriptors 1 and 2 is captured into
    /// the verdict (never into the process's stdout or stderr); bytes past the limit are
    /// dropped and counted in [`CapturedOutput::dropped_bytes`](crate::CapturedOutput). Log
    /// records (`kubewarden/tracing/log`, `__console_log`) past the limit are dropped and
    /// counted the same way. A guest flooding its output therefore costs the host at most three
    /// times this much memory, and the time of the copies.
    pub fn captured_output_limit(mut self, bytes: usize) -> Self {
        self.captured_output_limit = bytes;
        self
    }

    /// Idle instances kept per policy for reuse.
    ///
    /// Default: the number of CPUs. An evaluation takes an idle instance (or starts a fresh one
    /// from the module's pre-linked `InstancePre`) and gives it back when it ends cleanly; an
    /// instance that trapped, timed out or hit a limit is thrown away. Each idle instance keeps
    /// its linear memory (wasm memory never shrinks), so the memory a policy holds between
    /// evaluations is at most this times [`max_idle_memory`](Self::max_idle_memory). Zero
    /// disables reuse.
    pub fn max_idle_instances(mut self, instances: usize) -> Self {
        self.max_idle_instances = instances;
        self
    }

    /// Largest linear memory, in bytes, of an instance kept idle for reuse.
    ///
    /// Default: 64 MiB. An instance whose memory grew past this during an evaluation is dropped
    /// when the evaluation ends instead of going back to the pool, so one large request does
    /// not pin its memory for the rest of the run; the next evaluation starts a fresh,
    /// small instance.
    pub fn max_idle_memory(mut self, bytes: usize) -> Self {
        self.max_idle_memory = bytes;
        self
    }

    /// Largest module, in bytes, [`Host::load`](crate::Host::load) accepts.
    ///
    /// Default: 32 MiB (Kubewarden's largest Go policies are a few MiB). A larger module fails
    /// with [`Error::ModuleTooLarge`](crate::Error::ModuleTooLarge) before anything is parsed
    /// or compiled, since compile time and memory grow with the module.
    pub fn max_module_size(mut self, bytes: usize) -> Self {
        self.max_module_size = bytes;
        self
    }

    /// Wall-clock time one module's compilation may take.
    ///
    /// Default: 300 s: generous, because a shared 2-core CI runner compiling several modules
    /// at once takes over a minute for ordinary ones; the module size limit bounds the rest.
    /// Cranelift compilation cannot be interrupted, so the module is compiled
    /// on a worker thread; past the limit, [`Host::load`](crate::Host::load) fails with
    /// [`Error::CompileTimeout`](crate::Error::CompileTimeout) and the worker is abandoned (it
    /// runs to its end in the background and its result is discarded). Modules from the
    /// in-memory or disk cache are not compiled and not timed.
    pub fn compile_timeout(mut self, timeout: Duration) -> Self {
        self.compile_timeout = timeout;
        self
    }

    /// Instant after which no evaluation starts, or `None` (the default) for no deadline.
    ///
    /// A run deadline bounds a whole run, where [`timeout`](Self::timeout) bounds one
    /// evaluation: an evaluation asked for after the deadline fails at once with
    /// [`Error::Deadline`](crate::Error::Deadline) without running guest code, and an
    /// evaluation running when it passes is interrupted then (its epoch deadline is the
    /// earlier of the two) and fails the same way. Loading and starting instances are not
    /// affected.
    pub fn run_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.run_deadline = deadline;
        self
    }

    /// Directory of the compiled-module cache, or `None` for no disk cache.
    ///
    /// Default: `None` (a `HostConfig` never touches the disk unless asked; the CLI passes
    /// its own per-user cache directory). Files are named `<key>.cwasm`, where the key hashes the module's
    /// sha256, the engine configuration and the wasmtime version, and are written atomically
    /// (temporary file, then rename). A file that is truncated, foreign or stale is recompiled
    /// and overwritten. Within one `Host` modules are also cached in memory by sha256.
    ///
    /// Trust: files are private (0600, owner and mode checked on read, never opened through a
    /// symlink), carry a SHA-256 checked before deserialisation, and are evicted least recently
    /// used above `AKSID_CACHE_MAX_BYTES` (512 MiB). The hash is not a signature: the directory
    /// must be private to the user (the CLI checks that it is).
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// Epoch ticks allowed per call: `ceil(timeout / epoch_tick)`, at least one.
    pub(crate) fn deadline_ticks(&self) -> u64 {
        let tick = self.epoch_tick.as_nanos().max(1);
        let ticks = self.timeout.as_nanos().div_ceil(tick);
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        if self.timeout.is_zero() {
            return Err("timeout must be positive".into());
        }
        if self.epoch_tick.is_zero() || self.epoch_tick > self.timeout {
            return Err(format!(
                "epoch tick must be positive and at most the timeout ({:?}), got {:?}",
                self.timeout, self.epoch_tick
            ));
        }
        if self.memory_limit < 64 << 10 {
            return Err(format!(
                "memory limit must be at least one wasm page (65536 bytes), got {}",
                self.memory_limit
            ));
        }
        if self.compile_timeout.is_zero() {
            return Err("compile timeout must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_rounds_up_to_whole_ticks() {
        let config = HostConfig::default();
        assert_eq!(config.deadline_ticks(), 200);
        let config = config
            .timeout(Duration::from_millis(205))
            .epoch_tick(Duration::from_millis(10));
        assert_eq!(config.deadline_ticks(), 21);
    }

    #[test]
    fn unusable_configurations_are_refused() {
        assert!(HostConfig::default().check().is_ok());
        assert!(
            HostConfig::default()
                .timeout(Duration::ZERO)
                .check()
                .is_err()
        );
        assert!(
            HostConfig::default()
                .epoch_tick(Duration::from_secs(3))
                .check()
                .is_err()
        );
        assert!(HostConfig::default().memory_limit(1000).check().is_err());
    }
}
