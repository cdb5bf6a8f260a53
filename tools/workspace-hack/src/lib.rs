//! Feature unification only: see this crate's `Cargo.toml`. No code, and it must never have any.
