//! Shared code of the aksid test suite and benchmark: the seeded manifest generator.
#![deny(missing_docs)]

pub mod generate;
