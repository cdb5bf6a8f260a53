//! What can be wrong with an input: the matchable [`ProblemKind`], its [`Severity`], and the
//! located, human-readable [`InputProblem`].

use std::fmt;
use std::sync::Arc;

/// Whether a problem fails the run or is only reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The input (or part of it) could not be checked; the CLI exits 2.
    Error,
    /// Worth telling the user, but nothing that should be checked was lost (an empty file, a
    /// skipped non-resource, a removed API version); the exit code is unaffected.
    Notice,
}

/// The condition a problem reports, for code that needs to match on it: the one vocabulary of
/// the JSON report's `errors[].kind` and `notices[].kind` (input problems found while loading,
/// and the conditions of a run: unreadable paths, policies that failed, unknown policy ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProblemKind {
    /// The document is not valid YAML.
    MalformedYaml,
    /// The document is not valid JSON.
    MalformedJson,
    /// The document contains Helm or Go template actions (`{{ ... }}`) that were not rendered.
    UnrenderedTemplate,
    /// The file contains NUL bytes or is not UTF-8.
    Binary,
    /// The file is empty or holds only comments (a notice, not an error).
    Empty,
    /// The file is larger than the configured limit.
    TooLarge,
    /// The document nests deeper than the parser allows.
    TooDeep,
    /// The object lacks `apiVersion` or `kind` (the field is named).
    MissingField,
    /// `apiVersion` or `kind` is not a string (the field is named).
    WrongFieldType,
    /// The document (or a list item) is not a mapping, so it cannot be a Kubernetes object.
    NotAnObject,
    /// A path could not be read (missing, permission denied, not a regular file).
    Unreadable,
    /// A directory given to check holds no manifest files.
    NoManifests,
    /// A symbolic link that was not followed (it points to a directory already being walked).
    NotFollowed,
    /// The whole run found no Kubernetes object at all.
    NoObjects,
    /// A policy failed on an object (trap, timeout, memory limit, invalid answer).
    PolicyFailed,
    /// The run's `--deadline` passed before the policy judged the object; it was not judged.
    Deadline,
    /// An exception names a policy id the run does not know.
    UnknownPolicy,
    /// The cluster refused to list a resource to this user (RBAC `forbidden`).
    Forbidden,
    /// A resource of the cluster could not be listed for another reason (kubectl failed).
    ListFailed,
    /// `check --against-cluster`: the cluster runs no aksid policy, so the defaults were used
    /// (a notice).
    NoClusterPolicy,
    /// A document found by walking a directory is a tool's configuration (a Kustomization,
    /// Helm's `Chart.yaml` or values, a file without `kind`), not a Kubernetes object; it was
    /// skipped (a notice). See [`crate::LoadOptions::found_by_walking`].
    NotAResource,
    /// The object's apiVersion was removed from Kubernetes (`batch/v1beta1` CronJob, ...): no
    /// cluster serves it, so no policy judges it; the message names the replacement (a notice;
    /// the object is still loaded).
    RemovedApiVersion,
}

impl ProblemKind {
    /// A stable camelCase identifier, used in machine-readable reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::MalformedYaml => "malformedYaml",
            ProblemKind::MalformedJson => "malformedJson",
            ProblemKind::UnrenderedTemplate => "unrenderedTemplate",
            ProblemKind::Binary => "binary",
            ProblemKind::Empty => "empty",
            ProblemKind::TooLarge => "tooLarge",
            ProblemKind::TooDeep => "tooDeep",
            ProblemKind::MissingField => "missingField",
            ProblemKind::WrongFieldType => "wrongFieldType",
            ProblemKind::NotAnObject => "notAnObject",
            ProblemKind::Unreadable => "unreadable",
            ProblemKind::NoManifests => "noManifests",
            ProblemKind::NotFollowed => "notFollowed",
            ProblemKind::NoObjects => "noObjects",
            ProblemKind::PolicyFailed => "policyFailed",
            ProblemKind::Deadline => "deadline",
            ProblemKind::UnknownPolicy => "unknownPolicy",
            ProblemKind::Forbidden => "forbidden",
            ProblemKind::ListFailed => "listFailed",
            ProblemKind::NoClusterPolicy => "noClusterPolicy",
            ProblemKind::NotAResource => "notAResource",
            ProblemKind::RemovedApiVersion => "removedApiVersion",
        }
    }

    /// The severity this kind always has: everything is an error except the notices
    /// [`ProblemKind::Empty`], [`ProblemKind::NotFollowed`], [`ProblemKind::NoClusterPolicy`],
    /// [`ProblemKind::NotAResource`] and [`ProblemKind::RemovedApiVersion`].
    pub fn severity(self) -> Severity {
        match self {
            ProblemKind::Empty
            | ProblemKind::NotFollowed
            | ProblemKind::NoClusterPolicy
            | ProblemKind::NotAResource
            | ProblemKind::RemovedApiVersion => Severity::Notice,
            _ => Severity::Error,
        }
    }
}

impl serde::Serialize for ProblemKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one input, located as precisely as possible.
///
/// `message` says what is wrong without the location (it never quotes document content beyond a
/// field name, so secret values cannot leak through it); `Display` adds the file, line and
/// document: `deploy.yaml:14: document 2: field kind: object has no kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputProblem {
    /// The matchable condition.
    pub kind: ProblemKind,
    /// Error or notice (derived from `kind`).
    pub severity: Severity,
    /// The file name as the caller passed it to [`crate::load`].
    pub file: Arc<str>,
    /// 1-based YAML document index; `None` for problems with the whole file.
    pub document: Option<usize>,
    /// 1-based line in the file (1 for problems with the whole file).
    pub line: usize,
    /// 1-based column, when the parser reported one.
    pub column: Option<usize>,
    /// The field concerned (`kind`, `apiVersion`, `items[2].kind`), when one is.
    pub field: Option<String>,
    /// What is wrong, without the location.
    pub message: String,
}

impl InputProblem {
    pub(crate) fn new(kind: ProblemKind, file: &Arc<str>, message: impl Into<String>) -> Self {
        InputProblem {
            kind,
            severity: kind.severity(),
            file: Arc::clone(file),
            document: None,
            line: 1,
            column: None,
            field: None,
            message: message.into(),
        }
    }

    pub(crate) fn at(mut self, document: usize, line: usize) -> Self {
        self.document = Some(document);
        self.line = line.max(1);
        self
    }

    pub(crate) fn column(mut self, column: Option<usize>) -> Self {
        self.column = column;
        self
    }

    pub(crate) fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.document {
            Some(document) => write!(f, "{}:{}: document {}: ", self.file, self.line, document)?,
            None => write!(f, "{}: ", self.file)?,
        }
        if let Some(field) = &self.field {
            write!(f, "field {field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for InputProblem {}

/// `80.0 MiB`, `64 MiB`, `12 bytes`: sizes as the oversize message prints them; `one_decimal`
/// always prints a decimal (for the file's size), otherwise whole numbers drop it (for the limit).
pub fn human_size(bytes: u64, one_decimal: bool) -> String {
    const KIB: f64 = 1024.0;
    const MIB: f64 = 1024.0 * 1024.0;
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let b = bytes as f64;
    let (value, unit) = if b >= GIB {
        (b / GIB, "GiB")
    } else if b >= MIB {
        (b / MIB, "MiB")
    } else if b >= KIB {
        (b / KIB, "KiB")
    } else {
        return format!("{bytes} bytes");
    };
    if value.fract() == 0.0 && !one_decimal {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_printed_in_binary_units() {
        assert_eq!(human_size(64 * 1024 * 1024, false), "64 MiB");
        assert_eq!(human_size(80 * 1024 * 1024, true), "80.0 MiB");
        assert_eq!(human_size(1536, false), "1.5 KiB");
        assert_eq!(human_size(12, true), "12 bytes");
    }

    #[test]
    fn display_names_file_line_and_document() {
        let file: Arc<str> = Arc::from("a.yaml");
        let p = InputProblem::new(ProblemKind::MissingField, &file, "object has no kind")
            .at(2, 14)
            .field("kind");
        assert_eq!(
            p.to_string(),
            "a.yaml:14: document 2: field kind: object has no kind"
        );
        assert!(p.is_error());
        let n = InputProblem::new(ProblemKind::Empty, &file, "file is empty");
        assert_eq!(n.to_string(), "a.yaml: file is empty");
        assert_eq!(n.severity, Severity::Notice);
    }
}
