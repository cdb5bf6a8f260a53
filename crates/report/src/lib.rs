//! From verdicts to reports: the pure last step of `kubectl aksid check`.
//!
//! Depends on aksid-manifests (objects, problem kinds) and aksid-metadata; must never depend on
//! wasmtime, the filesystem, a clock, the network or the CLI (the browser host reuses it).
//!
//! - [`ReportBuilder`] collects a run — files, objects (as loaded by `aksid-manifests`), what
//!   each policy said ([`Verdict`]), load problems and failed evaluations — applies
//!   [`Exceptions`] from `.aksid.yaml`, and builds a sorted, summarised [`Report`].
//! - [`render`] turns a report into `text` (grouped by file, colour on request), `json` (the data
//!   model below), `sarif` (SARIF 2.1.0 for GitHub code scanning), `junit` (JUnit XML), or
//!   `github` / `azure-devops` (CI annotations: workflow and logging commands);
//!   [`render::openreports`] turns it into OpenReports `Report`/`ClusterReport` objects
//!   (`kubectl aksid audit -o openreports`, for Policy Reporter), given a timestamp.
//!
//! No filesystem, no clock and no wasm runtime: the caller passes text and "today" in.
//!
//! ```
//! use aksid_manifests::load;
//! use aksid_report::{render, Date, Exceptions, Format, ReportBuilder, Verdict};
//!
//! let loaded = load("apps/web.yaml", b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n");
//! let mut run = ReportBuilder::new();
//! run.add_file("apps/web.yaml");
//! run.add_verdict(&loaded.objects[0], "no-plaintext-secret-env", Verdict::reject("env API_TOKEN holds a secret"));
//!
//! let exceptions = Exceptions::parse(
//!     "exceptions:\n- policy: no-plaintext-secret-env\n  match: {name: web}\n  reason: JIRA-123\n  expires: 2026-01-31\n",
//!     ".aksid.yaml",
//! ).unwrap();
//! run.apply_exceptions(&exceptions, Date::from_ymd(2026, 2, 1).unwrap());
//! let report = run.build();
//!
//! assert_eq!(report.exit_code(), 1, "the exception has expired");
//! let text = render::render(&report, Format::Text, false);
//! assert!(text.contains("exception #1 (JIRA-123) expired on 2026-01-31"));
//! assert!(text.ends_with("✗ 1 object · 1 policy · 1 rejected · 1 exception expired\n"));
//! ```
//!
//! # The `-o json` schema (version 1)
//!
//! Stable: fields may be added, never renamed or removed without a new `version`. Optional
//! values are `null`, never missing.
//!
//! ```text
//! {
//!   "version": 1,
//!   "results": [                      // one per (object, policy) evaluation; sorted by file, line, document, policy
//!     { "file": "apps/web.yaml", "line": 1, "document": 1,
//!       "apiVersion": "apps/v1", "kind": "Deployment",
//!       "namespace": "default",       // null for cluster-scoped kinds
//!       "name": "web",                // null when the object has none
//!       "policy": "no-plaintext-secret-env",
//!       "allowed": false,             // after exceptions
//!       "message": "...",             // null when the policy gave none
//!       "warnings": [],
//!       "exception": null,            // or {"id": 2, "reason": "...", "expires": "2026-12-31" | null}
//!       "enforced": true,             // false in kube-system
//!       "thirdParty": false }         // true for a --policy module: the message is its words
//!   ],
//!   "errors": [                       // inputs, documents or evaluations that could not be checked
//!     { "file": "charts/x.yaml", "document": 1, "line": 2,   // document null for whole-file problems
//!       "field": null,                // "kind", "items[2].apiVersion", ...
//!       "kind": "unrenderedTemplate", // malformedYaml, malformedJson, unrenderedTemplate, binary, tooLarge,
//!                                     // tooDeep, missingField, wrongFieldType, notAnObject, policyFailed, ...
//!       "message": "this looks like an unrendered template; render it first (helm template ...)",
//!       "policy": null,               // set for policyFailed (timeout, trap)
//!       "object": null }              // {"apiVersion", "kind", "namespace", "name"} for policyFailed
//!   ],
//!   "notices": [ ... ],               // same shape as errors: empty files, unknown policies in exceptions
//!   "exceptions": {
//!     "used":    [ { "id": 2, "origin": ".aksid.yaml", "policy": "...", "reason": "...", "expires": null, "matched": 3 } ],
//!     "expired": [ { "id": 1, "origin": ".aksid.yaml", "policy": "...", "reason": "...", "expires": "2026-01-31", "matched": 1 } ]
//!   },
//!   "files": [ { "file": "apps/web.yaml", "objects": 3, "notSelected": 1 } ],
//!   "policies": [ { "id": "no-local-accounts", "version": "0.1.0",
//!                   "origin": "builtin",       // or "file:PATH", "registry:REF@DIGEST"; null if not given
//!                   "digest": "sha256:...",    // of the module that judged
//!                   "replacesBuiltin": false, "thirdParty": false } ],
//!   "summary": { "files": 1, "objects": 3, "evaluations": 2, "rejected": 1, "accepted": 1,
//!                "errors": 0, "excepted": 0, "warnings": 0, "notices": 0,
//!                "policies": [ { "id": "...", "evaluations": 2, "rejected": 1, "excepted": 0, "errors": 0 } ] }
//! }
//! ```
//!
//! Secret values never appear: results carry only what policies said (and aksid's policies never
//! quote values) and object metadata; error messages never quote document content beyond a
//! field name.
#![deny(missing_docs)]

mod builder;
mod date;
#[cfg(feature = "exceptions")]
mod exceptions;
mod model;
pub mod render;

pub use builder::ReportBuilder;
pub use date::{Date, ParseDateError};
#[cfg(feature = "exceptions")]
pub use exceptions::{Exception, Exceptions, ExceptionsError, Pattern};
pub use model::{
    AppliedException, BUILTIN_ORIGIN, ExceptionUse, ExceptionsUsage, FileSummary, Finding,
    InputError, ObjectRef, PolicyInfo, PolicySummary, Report, SCHEMA_VERSION, Summary, Verdict,
};
pub use render::Format;
