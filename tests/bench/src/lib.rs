//! The aksid benchmark's library: the seeded manifest generator (`make bench`).
//!
//! Benchmark only: must never be a dependency of anything shipped.
#![deny(missing_docs)]

pub mod generate;
