//! The playground's browser host: runs the very same annotated Kubewarden waPC modules as the
//! cluster and `kubectl aksid check`, on the browser's own WebAssembly engine.
//!
//! This crate owns the part of a check that is not the guest call itself: loading manifests and
//! building admission requests (`aksid-manifests`), choosing the policies whose rules select
//! each request (`aksid-metadata`), answering the guests' host calls from the objects on the
//! page, and turning outcomes into the JSON report (`aksid-report`). The JavaScript of
//! `site/worker.js` instantiates the modules and supplies the waPC and WASI imports, calling
//! back into [`Session`] for every host call. Compiled for `wasm32-unknown-unknown` with
//! wasm-bindgen; natively it is the same logic without the bindings, for its unit tests.

// The wasmtime host's own capability, object-set, selector and capture code, compiled here
// unchanged so that lookups are answered exactly as the CLI answers them. Parts the browser
// does not call (the host's log records API) are unused here, hence the allowance.
#[allow(dead_code, reason = "shared with aksid-host, which uses all of it")]
#[path = "../../src/capabilities.rs"]
mod capabilities;
#[allow(dead_code, reason = "shared with aksid-host, which uses all of it")]
#[path = "../../src/capture.rs"]
mod capture;
#[allow(dead_code, reason = "shared with aksid-host, which uses all of it")]
#[path = "../../src/objects.rs"]
mod objects;
#[allow(dead_code, reason = "shared with aksid-host, which uses all of it")]
#[path = "../../src/selector.rs"]
mod selector;

#[cfg(target_arch = "wasm32")]
mod bindings;
mod outcome;
#[path = "../../src/random.rs"]
mod random;
mod session;

pub use outcome::Outcome;
pub use random::Drbg;
pub use session::{CheckOptions, Plan, PolicyDescription, Session};
