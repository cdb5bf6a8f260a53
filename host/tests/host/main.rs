//! Integration tests of aksid-host, one module per feature. Prerequisite:
//! `cargo build --release --target wasm32-wasip1 -p hostile-policy`. The host knows nothing of
//! aksid: its tests use WAT guests and the hostile test guest only; the aksid policies' own
//! wasm-versus-native parity test lives with the end-to-end tests (`tests/e2e/tests/parity.rs`).

mod cache;
mod concurrency;
mod context;
mod guest;
mod hostile;
mod limits;
mod modules;
mod util;
