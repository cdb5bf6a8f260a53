//! Integration tests of aksid-host, one module per feature. Prerequisite:
//! `cargo build --release --target wasm32-wasip1 -p hostile-policy` (and the four aksid policies,
//! whose tests are skipped with a notice while they are not built).

mod cache;
mod concurrency;
mod context;
mod guest;
mod hostile;
mod modules;
mod policies;
mod util;
