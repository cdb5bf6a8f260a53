//! Exceptions from `.aksid.yaml`: parsing (serde derive with unknown keys refused, plus the
//! domain checks; errors name the entry and field) and applying them to rejections, with expiry.
//!
//! ```yaml
//! exceptions:
//!   - policy: no-plaintext-secret-env        # required, a policy id or "*"
//!     match:                                 # all given fields must match; at least one required
//!       kind: Deployment
//!       namespace: legacy
//!       name: "billing-*"                    # glob
//!       file: "apps/legacy/**"               # glob on the path relative to the .aksid.yaml directory
//!     reason: "Vendor chart; tracked in JIRA-123"   # required, non-empty
//!     expires: 2026-12-31                    # optional; the last day the exception applies
//! ```
//!
//! | rejection matches | `expires` | result |
//! |---|---|---|
//! | no | any | rejection stays |
//! | yes | absent, or today or later | pass, marked with the exception; listed as used |
//! | yes | before today | rejection stays; exception listed as expired |

mod raw;

use crate::Date;
use crate::model::{ExceptionUse, ExceptionsUsage, Finding, InputError};
use aksid_manifests::ProblemKind;
use globset::{GlobBuilder, GlobMatcher};
use raw::{RawEntry, RawMatch};
use std::collections::BTreeSet;
use std::fmt;

/// A glob (`*`, `?`, `[abc]`, `**` across directories in `file`) with its source text.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    matcher: GlobMatcher,
}

impl Pattern {
    fn new(source: &str) -> Result<Pattern, String> {
        let glob = GlobBuilder::new(source)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| format!("invalid glob {source:?}: {}", e.kind()))?;
        Ok(Pattern {
            source: source.to_owned(),
            matcher: glob.compile_matcher(),
        })
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when `value` matches.
    pub fn is_match(&self, value: &str) -> bool {
        self.matcher.is_match(value)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

/// One exception entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// 1-based position in the file (`exception #2`).
    pub id: usize,
    /// The policy id, or `*` for every policy.
    pub policy: String,
    /// Glob on the object's kind.
    pub kind: Option<Pattern>,
    /// Glob on the object's namespace (a cluster-scoped object has none and never matches).
    pub namespace: Option<Pattern>,
    /// Glob on the object's name.
    pub name: Option<Pattern>,
    /// Glob on the file path relative to the `.aksid.yaml` directory.
    pub file: Option<Pattern>,
    /// Why the exception exists.
    pub reason: String,
    /// The last day the exception applies.
    pub expires: Option<Date>,
}

impl Exception {
    /// True when the exception's policy and match fields select `finding` (expiry aside).
    pub fn matches(&self, finding: &Finding, relative_file: Option<&str>) -> bool {
        let field = |pattern: &Option<Pattern>, value: Option<&str>| match pattern {
            None => true,
            Some(p) => value.is_some_and(|v| p.is_match(v)),
        };
        (self.policy == "*" || self.policy == finding.policy)
            && field(&self.kind, Some(&finding.kind))
            && field(&self.namespace, finding.namespace.as_deref())
            && field(&self.name, finding.name.as_deref())
            && field(&self.file, relative_file)
    }

    /// True when the exception no longer applies on `today`.
    pub fn is_expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|e| e < today)
    }
}

/// The exceptions of one `.aksid.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exceptions {
    origin: String,
    base: Option<String>,
    entries: Vec<Exception>,
}

/// Why `.aksid.yaml` was refused: which file, which entry (1-based) and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ExceptionsError {
    /// The file, as passed to [`Exceptions::parse`].
    pub origin: String,
    /// The 1-based entry, when one is at fault.
    pub entry: Option<usize>,
    /// The field, when one is at fault (`match.name`).
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ExceptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.origin)?;
        if let Some(entry) = self.entry {
            write!(f, "exception #{entry}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl Exceptions {
    /// Parses `.aksid.yaml` text; `origin` names it in errors and reports. An empty file, or one
    /// without `exceptions`, has no exceptions.
    ///
    /// ```
    /// use aksid_report::Exceptions;
    /// let text = "exceptions:\n- policy: no-plaintext-secret-env\n  match: {name: 'billing-*'}\n  reason: vendor chart\n";
    /// assert_eq!(Exceptions::parse(text, ".aksid.yaml").unwrap().entries().len(), 1);
    /// let err = Exceptions::parse("exceptions:\n- policy: x\n  match: {kind: Pod}\n", ".aksid.yaml").unwrap_err();
    /// assert_eq!(err.to_string(), ".aksid.yaml: exception #1: reason: is required (why is this exception needed?)");
    /// ```
    pub fn parse(text: &str, origin: &str) -> Result<Exceptions, ExceptionsError> {
        let error =
            |entry: Option<usize>, field: Option<String>, message: String| ExceptionsError {
                origin: origin.to_owned(),
                entry,
                field,
                message,
            };
        let entries = raw::parse(text).map_err(|e| error(e.entry, e.field, e.message))?;
        let mut exceptions = Exceptions {
            origin: origin.to_owned(),
            base: None,
            entries: Vec::new(),
        };
        for (i, item) in entries.into_iter().enumerate() {
            let id = i + 1;
            let entry = check_entry(id, item)
                .map_err(|(field, message)| error(Some(id), field.map(str::to_owned), message))?;
            exceptions.entries.push(entry);
        }
        Ok(exceptions)
    }

    /// Sets the directory `file` globs are relative to: the `.aksid.yaml` directory, written the
    /// way the report's file names are (both relative to the working directory, or both
    /// absolute). Without a base, file names are matched as they are.
    pub fn with_base(mut self, base: impl Into<String>) -> Self {
        self.base = Some(base.into());
        self
    }

    /// The file, as passed to [`Exceptions::parse`].
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[Exception] {
        &self.entries
    }

    /// `file` relative to the base, lexically (`./a/../b.yaml` is `b.yaml`); `None` when it is
    /// outside the base.
    pub fn relative_path(&self, file: &str) -> Option<String> {
        let file = normalize(file);
        let Some(base) = &self.base else {
            return Some(file.join("/"));
        };
        let base = normalize(base);
        file.starts_with(&base)
            .then(|| file[base.len()..].join("/"))
            .filter(|rest| !rest.is_empty())
    }

    /// Notices for entries naming a policy that is not in `known` (a typo would otherwise
    /// silently except nothing). Nothing when `known` is empty.
    pub fn unknown_policies(&self, known: &BTreeSet<&str>) -> Vec<InputError> {
        if known.is_empty() {
            return Vec::new();
        }
        self.entries
            .iter()
            .filter(|e| e.policy != "*" && !known.contains(e.policy.as_str()))
            .map(|e| InputError {
                file: self.origin.clone(),
                document: None,
                line: 1,
                field: Some("policy".to_owned()),
                kind: ProblemKind::UnknownPolicy,
                message: format!(
                    "exception #{} names policy {:?}, which is not one of the policies of this run",
                    e.id, e.policy
                ),
                policy: None,
                object: None,
            })
            .collect()
    }

    /// Applies the exceptions to `results` (file globs via [`Exceptions::relative_path`]).
    pub fn apply(&self, results: &mut [Finding], today: Date) -> ExceptionsUsage {
        self.apply_with(results, today, &|file| self.relative_path(file))
    }

    /// Applies the exceptions to the rejections in `results`: the first matching unexpired
    /// exception turns each into a pass marked with it. Returns the exceptions used, and the
    /// expired ones (all of them, with how many rejections they would have matched).
    pub fn apply_with(
        &self,
        results: &mut [Finding],
        today: Date,
        relative_path: &dyn Fn(&str) -> Option<String>,
    ) -> ExceptionsUsage {
        self.apply_in_scope(results, today, relative_path, &|_| true)
    }

    /// Like [`apply_with`](Self::apply_with), for the findings whose file `in_scope` accepts
    /// only: a `.aksid.yaml` in a subdirectory speaks for the files below it, never for its
    /// parent's.
    pub fn apply_in_scope(
        &self,
        results: &mut [Finding],
        today: Date,
        relative_path: &dyn Fn(&str) -> Option<String>,
        in_scope: &dyn Fn(&str) -> bool,
    ) -> ExceptionsUsage {
        let mut matched = vec![0usize; self.entries.len()];
        for finding in results
            .iter_mut()
            .filter(|f| !f.allowed && in_scope(&f.file))
        {
            let relative = relative_path(&finding.file);
            let mut applied = false;
            for (i, e) in self.entries.iter().enumerate() {
                if !e.matches(finding, relative.as_deref()) {
                    continue;
                }
                if e.is_expired(today) {
                    matched[i] += 1;
                } else if !applied {
                    matched[i] += 1;
                    applied = true;
                    finding.allowed = true;
                    finding.exception = Some(crate::model::AppliedException {
                        id: e.id,
                        reason: e.reason.clone(),
                        expires: e.expires,
                    });
                }
            }
        }
        let mut usage = ExceptionsUsage::default();
        for (e, matched) in self.entries.iter().zip(matched) {
            let entry = ExceptionUse {
                id: e.id,
                origin: self.origin.clone(),
                policy: e.policy.clone(),
                reason: e.reason.clone(),
                expires: e.expires,
                matched,
            };
            if e.is_expired(today) {
                usage.expired.push(entry);
            } else if matched > 0 {
                usage.used.push(entry);
            }
        }
        usage
    }
}

/// Path components with `.` dropped, `..` applied lexically and `\` read as `/`.
fn normalize(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let absolute = path.starts_with('/');
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." if out.last().is_some_and(|l| l != "..") => {
                out.pop();
            }
            _ => out.push(part.to_owned()),
        }
    }
    if absolute {
        out.insert(0, String::new());
    }
    out
}

type FieldError = (Option<&'static str>, String);

/// The domain checks serde cannot make: policy and reason present, at least one match field,
/// valid globs and date.
fn check_entry(id: usize, raw: RawEntry) -> Result<Exception, FieldError> {
    let policy = raw.policy.unwrap_or_default().trim().to_owned();
    if policy.is_empty() {
        return Err((
            Some("policy"),
            "is required (a policy id, or \"*\" for every policy)".to_owned(),
        ));
    }
    let reason = raw.reason.unwrap_or_default().trim().to_owned();
    if reason.is_empty() {
        return Err((
            Some("reason"),
            "is required (why is this exception needed?)".to_owned(),
        ));
    }
    let expires = raw
        .expires
        .map(|text| text.parse())
        .transpose()
        .map_err(|e: crate::date::ParseDateError| (Some("expires"), e.to_string()))?;
    let RawMatch {
        kind,
        namespace,
        name,
        file,
    } = raw.matches.unwrap_or_default();
    let pattern = |field: &'static str, text: Option<String>| -> Result<_, FieldError> {
        match text {
            None => Ok(None),
            Some(t) if t.is_empty() => Err((Some(field), "must not be empty".to_owned())),
            Some(t) => Pattern::new(&t).map(Some).map_err(|m| (Some(field), m)),
        }
    };
    let exception = Exception {
        id,
        policy,
        kind: pattern("match.kind", kind)?,
        namespace: pattern("match.namespace", namespace)?,
        name: pattern("match.name", name)?,
        file: pattern("match.file", file)?,
        reason,
        expires,
    };
    let any = exception.kind.is_some()
        || exception.namespace.is_some()
        || exception.name.is_some()
        || exception.file.is_some();
    if !any {
        return Err((
            Some("match"),
            format!(
                "needs at least one of {} (an exception for everything would disable the policy)",
                raw::MATCH_KEYS.join(", ")
            ),
        ));
    }
    if exception.matches_everything() {
        return Err((Some("match"), match_everything_message(&exception.policy)));
    }
    Ok(exception)
}

/// Why an entry whose match selects every object is refused, and the fix.
fn match_everything_message(policy: &str) -> String {
    if policy == "*" {
        "selects every object for every policy, which would silence aksid entirely; list the \
         policies and the objects the exception is for (policy: ID, match: kind, namespace, \
         name or file narrower than \"*\"), or leave the policy out of the run"
            .to_owned()
    } else {
        format!(
            "selects every object, which would disable policy {policy:?}; narrow the match \
             (kind, namespace, name or file narrower than \"*\"), or leave the policy out of \
             the run"
        )
    }
}

/// A glob that matches every value: only stars (`*`, `**`), or `**/*` for files.
fn matches_any_value(pattern: &Option<Pattern>) -> bool {
    pattern.as_ref().is_none_or(|p| {
        let source = p.as_str();
        source.chars().all(|c| c == '*') || source == "**/*"
    })
}

impl Exception {
    /// True when every match field given selects every value, so the entry excepts every
    /// object its policy judges (`match: {kind: "*"}`, `match: {name: "**", file: "**"}`).
    /// `namespace: "*"` counts: it leaves out only cluster-scoped objects.
    pub fn matches_everything(&self) -> bool {
        matches_any_value(&self.kind)
            && matches_any_value(&self.namespace)
            && matches_any_value(&self.name)
            && matches_any_value(&self.file)
    }
}

#[cfg(test)]
mod tests;
