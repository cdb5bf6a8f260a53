//! The aksid benchmark's library: the seeded manifest generator (`make bench`) and the large
//! tree of real manifests of the memory row.
//!
//! Benchmark only: must never be a dependency of anything shipped.
#![deny(missing_docs)]

pub mod generate;
pub mod real_tree;
