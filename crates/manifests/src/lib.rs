//! From manifest bytes to the AdmissionRequests the API server would send: the pure first half
//! of `kubectl aksid check`.
//!
//! Depends on aksid-metadata (rule matching) and its parsers only; must never depend on wasmtime,
//! the filesystem, a clock, the network, aksid-report or the CLI (the browser host reuses it).
//!
//! - [`load`] / [`load_with`] read one input (a name and its bytes: multi-document YAML, JSON,
//!   `List` kinds, arrays of objects) into [`Manifest`]s, each knowing its file, YAML document
//!   and line, plus [`InputProblem`]s (malformed YAML/JSON, unrendered Helm templates, binary or
//!   empty files, missing `kind`, ...). One bad document never stops the others, and nothing
//!   panics on any input.
//! - Values are what kubectl sends: YAML 1.1 scalars as go-yaml v2 resolves them (`yes` →
//!   `true`, `0644` → `420`), merge keys, tags and keys as `sigs.k8s.io/yaml` treats them,
//!   whole floats as integers; `tests/kubectl.rs` compares them with the installed kubectl.
//!   Stricter on purpose: a key written twice, nesting past 128 levels and alias expansions past
//!   32 MiB are errors.
//! - [`resource_for`] maps `apiVersion`/`kind` to the plural resource and scope, for built-in
//!   kinds and the CRDs aksid knows (ASO, CAPZ, Crossplane, aad-pod-identity, Secrets Store CSI,
//!   Kubewarden) and kubeconfig files (`v1` `Config` → `configs`).
//! - [`admission_request`] builds the CREATE AdmissionRequest; [`selects`] says whether a policy's
//!   rules select it, exactly as Kubewarden would.
//!
//! No filesystem and no wasm runtime: callers pass bytes in and get values out, so the crate can
//! also run in a browser.
//!
//! ```
//! use aksid_manifests::{admission_request, load, ProblemKind, RequestOptions};
//!
//! let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n---\nkind: Pod\n";
//! let loaded = load("apps/web.yaml", text.as_bytes());
//!
//! let web = &loaded.objects[0];
//! assert_eq!((web.kind(), web.name(), web.line, web.document), ("Deployment", Some("web"), 1, 1));
//!
//! let problem = &loaded.problems[0];
//! assert_eq!(problem.kind, ProblemKind::MissingField);
//! assert_eq!(problem.to_string(), "apps/web.yaml:6: document 2: field apiVersion: object has no apiVersion");
//!
//! let request = admission_request(web, &RequestOptions::default().namespace("shop"));
//! assert_eq!(request["resource"]["resource"], "deployments");
//! assert_eq!(request["namespace"], "shop");
//! ```
#![deny(missing_docs)]

mod kinds;
mod load;
mod problem;
mod request;
mod resources;

pub use load::{DEFAULT_MAX_BYTES, LoadOptions, Loaded, load, load_with};
pub use problem::{InputProblem, ProblemKind, Severity, human_size};
pub use request::{
    Operation, RequestOptions, UserInfo, admission_request, admission_request_with_old,
    request_uid, selects,
};
pub use resources::{ResourceInfo, pluralize, resource_for, split_api_version};

use serde_json::Value;
use std::sync::Arc;

/// One Kubernetes object read from an input.
///
/// [`load`] guarantees `object` is a JSON object whose `apiVersion` and `kind` are non-empty
/// strings; the accessors are lenient about everything else (a malformed `metadata` just has no
/// name), because judging the object is the policies' job.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The input's name as passed to [`load`].
    pub source: Arc<str>,
    /// 1-based YAML document index in the input (a `List`'s items share their list's).
    pub document: usize,
    /// 1-based line where the object starts (its first content line; a list item's entry).
    pub line: usize,
    /// The object, converted to JSON.
    pub object: Value,
}

impl Manifest {
    /// A manifest for `object`, as [`load`] would produce it (for callers building inputs
    /// another way, and for tests).
    pub fn new(source: &str, document: usize, line: usize, object: Value) -> Manifest {
        Manifest {
            source: Arc::from(source),
            document,
            line,
            object,
        }
    }

    /// `apiVersion` (`""` if absent or not a string).
    pub fn api_version(&self) -> &str {
        self.object["apiVersion"].as_str().unwrap_or_default()
    }

    /// `kind` (`""` if absent or not a string).
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }

    /// `metadata.name`, if it is a non-empty string.
    pub fn name(&self) -> Option<&str> {
        self.metadata_str("name")
    }

    /// `metadata.namespace`, if it is a non-empty string.
    pub fn namespace(&self) -> Option<&str> {
        self.metadata_str("namespace")
    }

    fn metadata_str(&self, key: &str) -> Option<&str> {
        self.object
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The resource this object is stored as ([`resource_for`] of its apiVersion and kind).
    pub fn resource(&self) -> ResourceInfo {
        resource_for(self.api_version(), self.kind())
    }
}
