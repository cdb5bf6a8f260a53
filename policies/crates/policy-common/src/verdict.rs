//! A rule's typed result and its one conversion into Kubewarden's `ValidationResponse`.

use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::wapc_guest::CallResult;
use std::fmt;

/// One reason to reject: where, what is wrong, and how to fix it.
///
/// Rendered as `<location>: <problem>; fix: <fix>`. Messages must never contain a secret value,
/// not even in part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    location: String,
    problem: String,
    fix: Option<String>,
}

impl Violation {
    /// A violation at `location` (a field path such as `spec.template.metadata.labels`, or a
    /// subject such as `subjects[0] User alice`).
    pub fn new(location: impl Into<String>, problem: impl Into<String>) -> Violation {
        Violation {
            location: location.into(),
            problem: problem.into(),
            fix: None,
        }
    }

    /// Adds the fix hint.
    pub fn fix(mut self, fix: impl Into<String>) -> Violation {
        self.fix = Some(fix.into());
        self
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.problem)?;
        if let Some(fix) = &self.fix {
            write!(f, "; fix: {fix}")?;
        }
        Ok(())
    }
}

/// The outcome of one rule: every violation found (not just the first) and any warnings.
///
/// Use [`Verdict::reject`] for a finding, [`Verdict::warn`] for advice that does not block, and
/// [`Verdict::invalid_request`] when the payload itself could not be read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verdict {
    violations: Vec<Violation>,
    /// Violations beyond [`MAX_LISTED`], counted but not listed.
    unlisted: usize,
    warnings: Vec<String>,
    code: Option<u16>,
}

/// At most this many violations (and warnings) are listed per object: a binding with 100,000
/// offending subjects still gets a readable message, and the duplicate check stays cheap.
pub const MAX_LISTED: usize = 100;

impl Verdict {
    /// Records a reason to reject. Duplicates are kept once; past [`MAX_LISTED`] they are only
    /// counted, and the message says how many more there are.
    pub fn reject(&mut self, violation: Violation) {
        if self.violations.len() >= MAX_LISTED {
            self.unlisted += 1;
        } else if !self.violations.contains(&violation) {
            self.violations.push(violation);
        }
    }

    /// Records a warning, returned to the client even when the request is accepted.
    pub fn warn(&mut self, warning: impl Into<String>) {
        let warning = warning.into();
        if self.warnings.len() < MAX_LISTED && !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
    }

    /// A rejection with code 400 for a payload that is not a usable admission request.
    pub fn invalid_request(problem: impl Into<String>) -> Verdict {
        Verdict {
            violations: vec![Violation::new("request", problem)],
            unlisted: 0,
            warnings: Vec::new(),
            code: Some(400),
        }
    }

    /// True when nothing was rejected.
    pub fn is_allowed(&self) -> bool {
        self.violations.is_empty()
    }

    /// The violations found, in the order the rules found them.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// The warnings recorded.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The rejection message: one line per violation.
    pub fn message(&self) -> Option<String> {
        (!self.violations.is_empty()).then(|| {
            let mut lines: Vec<String> = self.violations.iter().map(ToString::to_string).collect();
            if self.unlisted > 0 {
                lines.push(
                    Violation::new(
                        "(more)",
                        format!("{} further violations are not listed", self.unlisted),
                    )
                    .fix("fix the ones above and check the object again")
                    .to_string(),
                );
            }
            lines.join("\n")
        })
    }

    /// The `ValidationResponse` Kubewarden expects.
    pub fn to_response(&self) -> ValidationResponse {
        ValidationResponse {
            accepted: self.is_allowed(),
            message: self.message(),
            code: if self.is_allowed() { None } else { self.code },
            mutated_object: None,
            audit_annotations: None,
            warnings: (!self.warnings.is_empty()).then(|| self.warnings.clone()),
        }
    }

    /// The serialised response, as returned from the waPC `validate` function.
    pub fn into_response(self) -> CallResult {
        Ok(serde_json::to_vec(&self.to_response())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_lists_every_violation_once() {
        let mut v = Verdict::default();
        v.reject(Violation::new("spec.a", "is wrong").fix("set it"));
        v.reject(Violation::new("spec.a", "is wrong").fix("set it"));
        v.reject(Violation::new("spec.b", "is missing"));
        v.warn("careful");
        let r = v.to_response();
        assert!(!r.accepted);
        assert_eq!(
            r.message.unwrap(),
            "spec.a: is wrong; fix: set it\nspec.b: is missing"
        );
        assert_eq!(r.warnings.unwrap(), ["careful"]);
    }

    #[test]
    fn violations_past_the_cap_are_counted_not_listed() {
        let mut v = Verdict::default();
        for i in 0..MAX_LISTED + 5 {
            v.reject(Violation::new(format!("subjects[{i}]"), "is wrong"));
        }
        let message = v.message().unwrap();
        assert_eq!(message.lines().count(), MAX_LISTED + 1);
        assert!(message.ends_with("(more): 5 further violations are not listed; fix: fix the ones above and check the object again"));
    }

    #[test]
    fn accepted_verdict_keeps_warnings() {
        let mut v = Verdict::default();
        v.warn("deprecated");
        let r = v.to_response();
        assert!(r.accepted && r.message.is_none() && r.warnings.is_some());
    }
}
