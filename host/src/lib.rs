//! Evaluates Kubewarden waPC policies offline, on wasmtime, inside hard limits.
//!
//! Depends on wasmtime and aksid-metadata (Kubewarden's format) only; must never depend on
//! anything aksid-specific (policy ids, aksid-manifests, aksid-report, the CLI): it runs any
//! Kubewarden waPC policy, and its tests use only WAT and test guests.
//!
//! The same modules Kubewarden runs in a cluster (built with the Rust, Go or AssemblyScript
//! SDKs, annotated with their `io.kubewarden.metadata` section) are loaded by a [`Host`] into
//! [`Policy`] values, then asked to [`validate_settings`](Policy::validate_settings) and to
//! [`validate`](Policy::validate) admission requests. Unlike kwctl, a host:
//!
//! - compiles each module once (`Engine::precompile_module`), caching the artifact on disk by
//!   module hash and engine configuration, and reuses started instances across evaluations;
//! - evaluates from many threads at once (`Policy` is `Send + Sync`);
//! - bounds every evaluation in wall-clock time (epoch interruption), linear memory and table
//!   size (`StoreLimits`), payload sizes and captured output; a guest that trips a limit or traps
//!   loses its instance, and the next evaluation gets a fresh one;
//! - gives guests no filesystem, environment, network or process: only the waPC imports and
//!   WASI preview 1 stubs are linked, and the guest's stdout and stderr are captured into the
//!   [`Verdict`], never written to the process's own streams;
//! - answers Kubewarden's host capabilities offline: `tracing/log` as log records, Kubernetes
//!   lookups from an [`ObjectSet`] gated by the policy's `contextAwareResources`, and a clear
//!   "not available offline" error for `can_i`, `oci/*`, `net/*` and `crypto/*`.
//!
//! ```
//! use aksid_host::{Host, HostConfig, ObjectSet};
//! use serde_json::json;
//!
//! // A tiny waPC guest that accepts every request.
//! let wasm = wat::parse_str(r#"(module
//!     (import "wapc" "__guest_response" (func $response (param i32 i32)))
//!     (memory (export "memory") 1)
//!     (data (i32.const 0) "{\"accepted\":true}")
//!     (func (export "__guest_call") (param i32 i32) (result i32)
//!         (call $response (i32.const 0) (i32.const 17))
//!         (i32.const 1)))"#).unwrap();
//! let metadata = aksid_metadata::Metadata::from_yaml(
//!     "rules: [{apiGroups: [''], apiVersions: [v1], resources: [pods], operations: [CREATE]}]\nmutating: false\nannotations: {io.kubewarden.policy.title: accept-all}\n",
//! ).unwrap();
//! let wasm = aksid_metadata::annotate(&wasm, &metadata.with_protocol_version()).unwrap();
//!
//! let host = Host::new(HostConfig::default())?;
//! let policy = host.load(&wasm)?;
//! assert_eq!(policy.name(), "accept-all");
//! let request = json!({"uid": "1", "operation": "CREATE", "object": {"kind": "Pod"}});
//! let verdict = policy.validate(&request, &json!({}), &ObjectSet::new())?;
//! assert!(verdict.accepted);
//! # Ok::<(), aksid_host::Error>(())
//! ```

#![deny(missing_docs)]

pub mod cache;
mod capabilities;
mod capture;
mod config;
mod error;
mod host;
mod objects;
mod patch;
mod policy;
mod random;
mod runtime;
mod selector;
mod state;
mod verdict;
mod wapc;
mod wasi;

pub use aksid_metadata::Metadata;
pub use capabilities::HostCallFailure;
pub use capture::{CapturedOutput, LogLevel, LogRecord, LogSource};
pub use config::HostConfig;
pub use error::Error;
pub use host::Host;
pub use objects::{ObjectSet, ObjectSetError};
pub use policy::{ModuleSource, Policy, PreparedRequest};
pub use verdict::{AdmissionResponse, AdmissionStatus, SettingsVerdict, Verdict};
pub use wasmtime::Trap;
