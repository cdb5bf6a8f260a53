//! Why loading or evaluating a policy failed. Every variant names the policy (its
//! `io.kubewarden.policy.title`, or the name given at load) and, for evaluations, the waPC
//! operation that failed.

use std::time::Duration;

/// An error of the host, always naming the policy it concerns.
///
/// Match on the variant for the kind of failure (a timeout is always [`Error::Timeout`], a trap
/// keeps wasmtime's [`Trap`](wasmtime::Trap) code); show the `Display` text to people.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The host configuration is unusable, or the engine could not be set up with it.
    #[error("invalid host configuration: {0}")]
    Config(String),

    /// The bytes are not a WebAssembly module, or the module does not validate or compile.
    #[error("policy {policy}: not a valid WebAssembly module: {reason}")]
    InvalidModule {
        /// The policy.
        policy: String,
        /// What the parser or compiler said.
        reason: String,
    },

    /// The module has no `io.kubewarden.metadata` custom section.
    #[error(
        "policy {policy}: the module has no `io.kubewarden.metadata` section\n\nAnnotate it with \
         its metadata.yml first (`kwctl annotate`, or aksid's build)"
    )]
    MissingMetadata {
        /// The policy.
        policy: String,
    },

    /// The metadata section is not valid Kubewarden metadata.
    #[error("policy {policy}: invalid metadata: {reason}")]
    InvalidMetadata {
        /// The policy.
        policy: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The metadata's `protocolVersion` is missing or not `v1`.
    #[error(
        "policy {policy}: protocol version {found} is not supported; aksid runs waPC policies \
         with protocolVersion v1"
    )]
    UnsupportedProtocol {
        /// The policy.
        policy: String,
        /// The declared version, or `missing`.
        found: String,
    },

    /// The metadata's `executionMode` is not `kubewarden-wapc`.
    #[error(
        "policy {policy}: execution mode {mode} is not supported; aksid runs kubewarden-wapc \
         policies only"
    )]
    UnsupportedExecutionMode {
        /// The policy.
        policy: String,
        /// The declared mode (`wasi`, `opa`, `gatekeeper`, ...).
        mode: String,
    },

    /// The module lacks an export every waPC guest has (`__guest_call`, `memory`).
    #[error(
        "policy {policy}: the module does not export `{export}`, which every waPC policy exports"
    )]
    MissingExport {
        /// The policy.
        policy: String,
        /// The missing export.
        export: String,
    },

    /// The module imports something the host does not provide.
    #[error(
        "policy {policy}: the module imports {kind} `{module}::{name}`, which aksid does not \
         provide (it links only waPC and stubbed WASI: no filesystem, environment or network)"
    )]
    MissingImport {
        /// The policy.
        policy: String,
        /// The import's module, e.g. `wasi_snapshot_preview1`.
        module: String,
        /// The import's name.
        name: String,
        /// `function`, `memory`, `table`, `global` or `tag`.
        kind: &'static str,
    },

    /// The module is larger than the host's `max_module_size`; nothing was compiled.
    #[error("policy {policy}: the module is {size} bytes, over the {limit}-byte module size limit")]
    ModuleTooLarge {
        /// The policy (the name given at load, or `sha256:<prefix>`: the module is not read).
        policy: String,
        /// The module's size in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },

    /// Compiling the module took longer than the host's `compile_timeout`; the compilation
    /// was abandoned.
    #[error(
        "policy {policy}: compiling the module took longer than the {timeout:?} compile time \
         limit; it was abandoned"
    )]
    CompileTimeout {
        /// The policy.
        policy: String,
        /// The configured limit.
        timeout: Duration,
    },

    /// The host's run deadline passed before or during the evaluation; the policy gave no
    /// verdict (an interrupted instance was thrown away).
    #[error("policy {policy}: `{operation}` not completed: the run's deadline passed")]
    Deadline {
        /// The policy.
        policy: String,
        /// The waPC operation.
        operation: &'static str,
    },

    /// A fresh instance could not be created (linking or resource limits at instantiation).
    #[error("policy {policy}: could not be instantiated: {reason}")]
    Instantiate {
        /// The policy.
        policy: String,
        /// What wasmtime said.
        reason: String,
    },

    /// The payload for the guest is larger than the host's `max_request_size`.
    #[error(
        "policy {policy}: the `{operation}` payload is {size} bytes, over the {limit}-byte limit"
    )]
    RequestTooLarge {
        /// The policy.
        policy: String,
        /// The waPC operation.
        operation: &'static str,
        /// The payload size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },

    /// The guest ran past the host's `timeout`; its instance was thrown away.
    #[error("policy {policy} timed out after {timeout:?} in `{operation}`")]
    Timeout {
        /// The policy.
        policy: String,
        /// The waPC operation, or `wapc_init`/`_start` during start-up.
        operation: &'static str,
        /// The configured timeout.
        timeout: Duration,
    },

    /// The guest tried to grow its linear memory past the host's `memory_limit`; its instance
    /// was thrown away.
    #[error("policy {policy} exceeded its memory limit of {limit} bytes in `{operation}`")]
    MemoryLimit {
        /// The policy.
        policy: String,
        /// The waPC operation.
        operation: &'static str,
        /// The configured limit in bytes.
        limit: usize,
    },

    /// The guest made the host hold more than its memory limit allows: its linear memory plus
    /// what the host keeps for it during the evaluation (responses, host-call answers, refused
    /// host calls, logs, captured output) would have passed `memory_limit`; its instance was
    /// thrown away.
    #[error(
        "policy {policy} exceeded its memory limit of {limit} bytes in `{operation}`: {what} \
         would have brought its linear memory and the data the host holds for it to {size} bytes"
    )]
    HostMemoryLimit {
        /// The policy.
        policy: String,
        /// The waPC operation.
        operation: &'static str,
        /// What overflowed: `refused host calls`, `a host-call answer`, `log records`,
        /// `captured output`, `the guest's response` or `the guest's error`.
        what: &'static str,
        /// Linear memory plus host-held bytes the guest asked for, in bytes.
        size: usize,
        /// The configured limit in bytes.
        limit: usize,
    },

    /// The guest tried to grow a table past the host's `table_elements_limit`; its instance was
    /// thrown away.
    #[error("policy {policy} exceeded its table limit of {limit} elements in `{operation}`")]
    TableLimit {
        /// The policy.
        policy: String,
        /// The waPC operation.
        operation: &'static str,
        /// The configured limit in elements.
        limit: usize,
    },

    /// The guest trapped (panic, `unreachable`, out-of-bounds access, stack overflow, a bad
    /// pointer handed to the host, `proc_exit`); its instance was thrown away.
    #[error(
        "policy {policy} trapped in `{operation}`: {reason}{}",
        guest_message.as_deref().map(|m| format!("\n{m}")).unwrap_or_default()
    )]
    Trap {
        /// The policy.
        policy: String,
        /// The waPC operation.
        operation: &'static str,
        /// The wasm trap code, when the trap came from wasm code.
        trap: Option<wasmtime::Trap>,
        /// The trap's description (and innermost function, when known).
        reason: String,
        /// What the guest wrote to stderr before trapping (a Rust panic message), if anything.
        guest_message: Option<String>,
        /// Function names of the wasm stack, innermost first (empty when the module has no
        /// name section).
        backtrace: Vec<String>,
    },

    /// The guest returned an error from the operation (waPC `__guest_error`).
    #[error("policy {policy} failed in `{operation}`: {message}")]
    Guest {
        /// The policy.
        policy: String,
        /// The waPC operation.
        operation: &'static str,
        /// The guest's error string.
        message: String,
    },

    /// The host refused a host capability during the operation, and the policy then failed
    /// (returned an error or trapped) instead of giving a verdict.
    #[error(
        "policy {policy} failed in `{operation}` after the host refused `{capability}`: {message}"
    )]
    HostCapability {
        /// The policy.
        policy: String,
        /// The waPC operation.
        operation: &'static str,
        /// The refused capability, `namespace/operation` (or `binding/namespace/operation`
        /// for a binding other than `kubewarden`).
        capability: String,
        /// Why the host refused it.
        message: String,
        /// The guest's own error string or trap message, if any.
        guest_message: Option<String>,
    },

    /// The guest's response is larger than the host's `max_response_size`.
    #[error(
        "policy {policy}: its `{operation}` response is {size} bytes, over the {limit}-byte limit"
    )]
    ResponseTooLarge {
        /// The policy.
        policy: String,
        /// The waPC operation.
        operation: &'static str,
        /// The size the guest announced.
        size: usize,
        /// The configured limit.
        limit: usize,
    },

    /// The guest's response is not the JSON document the operation returns.
    #[error("policy {policy}: its `{operation}` response is not valid: {reason}")]
    BadResponse {
        /// The policy.
        policy: String,
        /// The waPC operation.
        operation: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// The policy the error concerns (`None` only for [`Error::Config`]).
    pub fn policy(&self) -> Option<&str> {
        match self {
            Error::Config(_) => None,
            Error::InvalidModule { policy, .. }
            | Error::MissingMetadata { policy }
            | Error::InvalidMetadata { policy, .. }
            | Error::UnsupportedProtocol { policy, .. }
            | Error::UnsupportedExecutionMode { policy, .. }
            | Error::MissingExport { policy, .. }
            | Error::MissingImport { policy, .. }
            | Error::Instantiate { policy, .. }
            | Error::ModuleTooLarge { policy, .. }
            | Error::CompileTimeout { policy, .. }
            | Error::Deadline { policy, .. }
            | Error::HostMemoryLimit { policy, .. }
            | Error::RequestTooLarge { policy, .. }
            | Error::Timeout { policy, .. }
            | Error::MemoryLimit { policy, .. }
            | Error::TableLimit { policy, .. }
            | Error::Trap { policy, .. }
            | Error::Guest { policy, .. }
            | Error::HostCapability { policy, .. }
            | Error::ResponseTooLarge { policy, .. }
            | Error::BadResponse { policy, .. } => Some(policy),
        }
    }
}
