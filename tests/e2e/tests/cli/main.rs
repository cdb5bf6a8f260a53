//! End-to-end tests of `kubectl aksid` (issue 4's "Done when"), through the built binary
//! (`target/release/kubectl-aksid`, from `make build`) and real consumers of what it writes:
//! Python's `jsonschema` with the official SARIF 2.1.0 schema, `junitparser`, and `pre-commit`,
//! all from the `.venv/` that `tests/support/install-test-tools.sh` sets up.
//!
//! One module per feature. Each test writes its fixtures into its own scratch directory, named
//! after the test (`$TMPDIR/aksid-e2e-cli/<module>/<test>`, emptied when the test starts and kept
//! afterwards for a look), runs the binary there with relative paths, and on failure prints what
//! it expected and what the command did as fenced blocks. Every run also asserts that the binary
//! did not panic.
//!
//! The scratch directories live outside the repository on purpose: `check` searches `.aksid.yaml`
//! upwards to the repository root, and the checkout must not lend its own exceptions to the tests.

mod util;

mod fixtures;

mod inputs;

mod json_output;

mod kube_system;

mod sarif;

mod junit;

mod secrets;

mod context;

mod settings;

mod exceptions;

mod commands;

mod cache;

mod corpus;

mod pre_commit;

mod hardening;
mod limits;
mod memory;
