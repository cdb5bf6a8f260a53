//! The report data model, which is also the `-o json` schema.

use crate::Date;
use aksid_manifests::{InputProblem, ProblemKind};
use serde::Serialize;

/// The schema version written as `version`.
pub const SCHEMA_VERSION: u32 = 1;

/// A whole run: what every policy said about every object, what could not be checked, and the
/// exceptions used. Build it with [`crate::ReportBuilder`]; render it with [`crate::render`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Always [`SCHEMA_VERSION`] (1).
    pub version: u32,
    /// One entry per (object, policy) evaluation, sorted by file, line, document, policy.
    pub results: Vec<Finding>,
    /// Inputs, documents or evaluations that could not be checked, sorted by file and line.
    pub errors: Vec<InputError>,
    /// Things worth knowing that do not fail the run (an empty file), sorted like `errors`.
    pub notices: Vec<InputError>,
    /// Which exceptions turned rejections into passes, and which have expired.
    pub exceptions: ExceptionsUsage,
    /// One entry per input file, sorted by name.
    pub files: Vec<FileSummary>,
    /// Totals.
    pub summary: Summary,
    /// The policies of the run: in the JSON each one's id, version, origin, digest and whether
    /// it replaced a built-in (descriptions stay out; SARIF rules carry them).
    #[serde(serialize_with = "serialize_policies")]
    pub policies: Vec<PolicyInfo>,
}

/// What one policy said about one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The input file, as the CLI names it.
    pub file: String,
    /// 1-based line where the object starts.
    pub line: usize,
    /// 1-based YAML document index.
    pub document: usize,
    /// The object's `apiVersion`.
    pub api_version: String,
    /// The object's `kind`.
    pub kind: String,
    /// The namespace the object was checked in (its own, else the default for namespaced
    /// kinds); `null` for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// `metadata.name`; `null` when the object has none.
    pub name: Option<String>,
    /// The policy id.
    pub policy: String,
    /// The verdict after exceptions: `false` for a rejection.
    pub allowed: bool,
    /// The policy's message (for a rejection, why); kept when an exception applies.
    pub message: Option<String>,
    /// Warnings the policy returned.
    pub warnings: Vec<String>,
    /// The exception that turned this rejection into a pass, if one did.
    pub exception: Option<AppliedException>,
    /// Whether the cluster enforces this verdict: `false` in `kube-system`, which AKS keeps
    /// away from admission webhooks (Kubewarden's included), so a rejection there is only found
    /// here, never refused by the cluster.
    pub enforced: bool,
    /// Whether the policy is a third-party module (`--policy`), not one of aksid's built-ins:
    /// its message is its own words, not aksid's.
    pub third_party: bool,
}

impl Finding {
    /// True for a rejection that an exception turned into a pass.
    pub fn is_excepted(&self) -> bool {
        self.exception.is_some()
    }

    /// `Kind namespace/name` (or `Kind name`, `Kind (unnamed)`), as reports print objects.
    pub fn object_label(&self) -> String {
        object_label(&self.kind, self.namespace.as_deref(), self.name.as_deref())
    }
}

pub(crate) fn object_label(kind: &str, namespace: Option<&str>, name: Option<&str>) -> String {
    match (namespace, name) {
        (Some(ns), Some(name)) => format!("{kind} {ns}/{name}"),
        (None, Some(name)) => format!("{kind} {name}"),
        (Some(ns), None) => format!("{kind} {ns}/(unnamed)"),
        (None, None) => format!("{kind} (unnamed)"),
    }
}

/// The exception that applied to a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedException {
    /// The exception's 1-based position in its file (`exception #2`).
    pub id: usize,
    /// Why the exception exists.
    pub reason: String,
    /// Until when it applies.
    pub expires: Option<Date>,
}

/// An input that could not be read, a document that could not be checked, or an evaluation that
/// failed (with `policy` set); also the shape of notices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputError {
    /// The input file (or, for a policy that could not be loaded, the policy's source).
    pub file: String,
    /// 1-based YAML document index; `null` for problems with the whole file.
    pub document: Option<usize>,
    /// 1-based line (1 for problems with the whole file).
    pub line: usize,
    /// The field concerned (`kind`, `items[2].apiVersion`), if any.
    pub field: Option<String>,
    /// The condition, serialised as its stable camelCase identifier: the one vocabulary is
    /// [`ProblemKind`] (`malformedYaml`, `unrenderedTemplate`, `tooLarge`, `unreadable`,
    /// `policyFailed`, ...).
    pub kind: ProblemKind,
    /// What is wrong (never quotes document content beyond a field name).
    pub message: String,
    /// The policy that failed to evaluate (timeout, trap), if this is an evaluation error.
    pub policy: Option<String>,
    /// The object being evaluated, for evaluation errors.
    pub object: Option<ObjectRef>,
}

impl InputError {
    /// The error for a manifest problem (see [`ReportBuilder::add_problem`]).
    pub fn from_problem(problem: &InputProblem) -> InputError {
        InputError {
            file: problem.file.to_string(),
            document: problem.document,
            line: problem.line,
            field: problem.field.clone(),
            kind: problem.kind,
            message: problem.message.clone(),
            policy: None,
            object: None,
        }
    }

    /// `file:line (document N): ` — the location as the text report prints it.
    pub fn location(&self) -> String {
        match self.document {
            Some(d) => format!("{}:{} (document {d})", self.file, self.line),
            None => self.file.clone(),
        }
    }
}

/// The object an evaluation error concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace, as in [`Finding::namespace`].
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: Option<String>,
}

/// One input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileSummary {
    /// The file.
    pub file: String,
    /// Objects read from it.
    pub objects: usize,
    /// Of those, objects no policy's rules selected.
    pub not_selected: usize,
}

/// Totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Input files.
    pub files: usize,
    /// Objects read.
    pub objects: usize,
    /// (object, policy) evaluations that produced a verdict.
    pub evaluations: usize,
    /// Results with `allowed: false`.
    pub rejected: usize,
    /// Results with `allowed: true` (including excepted ones).
    pub accepted: usize,
    /// Entries in `errors`.
    pub errors: usize,
    /// Rejections turned into passes by an exception.
    pub excepted: usize,
    /// Warnings returned by policies.
    pub warnings: usize,
    /// Entries in `notices`.
    pub notices: usize,
    /// Per policy, sorted by id.
    pub policies: Vec<PolicySummary>,
}

/// Totals for one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicySummary {
    /// The policy id.
    pub id: String,
    /// Objects it evaluated.
    pub evaluations: usize,
    /// Of those, rejected (after exceptions).
    pub rejected: usize,
    /// Of those, excepted.
    pub excepted: usize,
    /// Evaluations that failed.
    pub errors: usize,
}

/// What the run knows about a policy: its id and the descriptions its metadata carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyInfo {
    /// The id results name it by.
    pub id: String,
    /// `io.kubewarden.policy.title`.
    pub title: Option<String>,
    /// `io.kubewarden.policy.description` (one line).
    pub description: Option<String>,
    /// `io.kubewarden.policy.usage` (the README, markdown).
    pub usage: Option<String>,
    /// `io.kubewarden.policy.severity`: critical, high, medium, low or info.
    pub severity: Option<String>,
    /// `io.kubewarden.policy.category`.
    pub category: Option<String>,
    /// `io.kubewarden.policy.version`.
    pub version: Option<String>,
    /// Where the module came from: `builtin`, `file:PATH` or `registry:REF`; `None` when the
    /// caller did not say (a report built by hand).
    pub origin: Option<String>,
    /// `sha256:<hex>` of the module bytes that judged.
    pub digest: Option<String>,
    /// Whether this module took the place of the built-in policy of the same id
    /// (`--replace-builtin`).
    pub replaces_builtin: bool,
}

/// The origin of aksid's own, embedded policies.
pub const BUILTIN_ORIGIN: &str = "builtin";

/// The JSON view of a policy: provenance, not descriptions.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyJson<'a> {
    id: &'a str,
    version: Option<&'a str>,
    origin: Option<&'a str>,
    digest: Option<&'a str>,
    replaces_builtin: bool,
    third_party: bool,
}

fn serialize_policies<S: serde::Serializer>(
    policies: &[PolicyInfo],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(policies.iter().map(|p| PolicyJson {
        id: &p.id,
        version: p.version.as_deref(),
        origin: p.origin.as_deref(),
        digest: p.digest.as_deref(),
        replaces_builtin: p.replaces_builtin,
        third_party: p.is_third_party(),
    }))
}

impl PolicyInfo {
    /// A policy known only by its id.
    pub fn new(id: impl Into<String>) -> PolicyInfo {
        PolicyInfo {
            id: id.into(),
            ..PolicyInfo::default()
        }
    }

    /// True for a module given with `--policy` (any origin other than `builtin`).
    pub fn is_third_party(&self) -> bool {
        self.origin.as_deref().is_some_and(|o| o != BUILTIN_ORIGIN)
    }

    /// Sets where the module came from and its digest.
    pub fn provenance(mut self, origin: impl Into<String>, digest: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self.digest = Some(digest.into());
        self
    }

    /// The descriptions from a policy's Kubewarden metadata annotations.
    pub fn from_metadata(id: impl Into<String>, metadata: &aksid_metadata::Metadata) -> PolicyInfo {
        let get = |key: &str| metadata.annotation(key).map(str::to_owned);
        PolicyInfo {
            id: id.into(),
            title: get(aksid_metadata::TITLE),
            description: get(aksid_metadata::DESCRIPTION),
            usage: get(aksid_metadata::USAGE),
            severity: get(aksid_metadata::SEVERITY),
            category: get(aksid_metadata::CATEGORY),
            version: get(aksid_metadata::VERSION),
            ..PolicyInfo::default()
        }
    }
}

/// What a policy answered (the host's validation response, reduced to what reports show).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the object is admitted.
    pub allowed: bool,
    /// The message (a rejection's reason).
    pub message: Option<String>,
    /// Warnings.
    pub warnings: Vec<String>,
}

impl Verdict {
    /// An acceptance without message or warnings.
    pub fn accept() -> Verdict {
        Verdict {
            allowed: true,
            ..Verdict::default()
        }
    }

    /// A rejection with its reason.
    pub fn reject(message: impl Into<String>) -> Verdict {
        Verdict {
            allowed: false,
            message: Some(message.into()),
            warnings: Vec::new(),
        }
    }
}

impl Report {
    /// The exit code the CLI documents: 2 when anything could not be checked (an error) or no
    /// object was found at all, else 1 when anything was rejected, else 0.
    pub fn exit_code(&self) -> i32 {
        if !self.errors.is_empty() || self.summary.objects == 0 {
            2
        } else if self.summary.rejected > 0 {
            1
        } else {
            0
        }
    }
}

/// Exceptions used and expired in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExceptionsUsage {
    /// Exceptions that turned at least one rejection into a pass.
    pub used: Vec<ExceptionUse>,
    /// Exceptions past their expiry date (they no longer apply).
    pub expired: Vec<ExceptionUse>,
}

/// One exception in [`ExceptionsUsage`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionUse {
    /// 1-based position in the file.
    pub id: usize,
    /// The `.aksid.yaml` it comes from.
    pub origin: String,
    /// The policy id or `*`.
    pub policy: String,
    /// Why it exists.
    pub reason: String,
    /// Its expiry date.
    pub expires: Option<Date>,
    /// Rejections it turned into passes (`used`) or would have, had it not expired (`expired`).
    pub matched: usize,
}
