//! JUnit XML for CI test reports: one `<testsuite>` per policy with one `<testcase>` per object
//! it evaluated (`<failure>` for a rejection, `<error>` for a failed evaluation, `<skipped>` for
//! an excepted rejection), and a suite `inputs` with an `<error>` per input that could not be read.
//! A test case in `kube-system`, which the cluster does not enforce, carries the property
//! `enforced=false` (as pytest and Jenkins write per-case properties), and its failure says so.

use super::NOT_ENFORCED;
use crate::Report;
use crate::model::{Finding, InputError};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Escapes text for XML 1.0 attributes and content; characters XML 1.0 cannot carry at all
/// (most control characters) become U+FFFD. Public for other JUnit writers (`kubectl aksid test`).
pub fn xml_escape(s: &str) -> String {
    escape(s)
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || matches!(c, '\u{fffe}' | '\u{ffff}') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Content (not attributes): newlines kept as they are, for readability.
fn escape_text(s: &str) -> String {
    escape(s).replace("&#10;", "\n")
}

#[derive(Default)]
struct Suite {
    /// `<properties>` of the suite: the policy module's provenance.
    properties: String,
    cases: String,
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

/// The JUnit XML document.
pub fn junit(report: &Report) -> String {
    let mut suites: BTreeMap<String, Suite> = report
        .policies
        .iter()
        .map(|p| {
            let suite = Suite {
                properties: provenance(p),
                ..Suite::default()
            };
            (p.id.clone(), suite)
        })
        .collect();
    for r in &report.results {
        suites.entry(r.policy.clone()).or_default().add_result(r);
    }
    let mut inputs = Suite::default();
    for e in &report.errors {
        match (&e.policy, &e.object) {
            (Some(policy), Some(object)) => {
                let name = crate::model::object_label(
                    &object.kind,
                    object.namespace.as_deref(),
                    object.name.as_deref(),
                );
                suites
                    .entry(policy.clone())
                    .or_default()
                    .add_error(e, &name);
            }
            _ => {
                let name = match e.document {
                    Some(d) => format!("document {d}"),
                    None => "file".to_owned(),
                };
                inputs.add_error(e, &name);
            }
        }
    }
    let mut all: Vec<(String, Suite)> = suites.into_iter().collect();
    if inputs.tests > 0 {
        all.push(("inputs".to_owned(), inputs));
    }
    document(&all)
}

/// The module's origin and digest (and whether it replaced a built-in) as JUnit properties.
fn provenance(policy: &crate::PolicyInfo) -> String {
    let mut properties = Vec::new();
    if let Some(origin) = &policy.origin {
        properties.push(("origin", origin.clone()));
        properties.push(("thirdParty", policy.is_third_party().to_string()));
    }
    if let Some(digest) = &policy.digest {
        properties.push(("digest", digest.clone()));
    }
    if policy.replaces_builtin {
        properties.push(("replacesBuiltin", "true".to_owned()));
    }
    if properties.is_empty() {
        return String::new();
    }
    let mut out = String::from("    <properties>\n");
    for (name, value) in properties {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            escape(&value)
        );
    }
    out.push_str("    </properties>\n");
    out
}

impl Suite {
    /// One test case per evaluation: a rejection fails, an exception skips, warnings go to
    /// the case's output.
    fn add_result(&mut self, r: &Finding) {
        self.tests += 1;
        let _ = write!(
            self.cases,
            "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\"",
            escape(&r.object_label()),
            escape(&r.file),
            escape(&r.file),
            r.line
        );
        let message = r.message.as_deref().unwrap_or("rejected");
        let mut body = String::new();
        if !r.enforced {
            body.push_str(
                "      <properties>\n        <property name=\"enforced\" value=\"false\"/>\n      </properties>\n",
            );
        }
        if !r.allowed {
            self.failures += 1;
            let first = message.lines().next().unwrap_or_default();
            let note = if r.enforced {
                String::new()
            } else {
                format!("&#10;({})", escape(NOT_ENFORCED))
            };
            let _ = writeln!(
                body,
                "      <failure message=\"{}\" type=\"rejected\">{}&#10;{}:{}{note}</failure>",
                escape(first),
                escape_text(message),
                escape(&r.file),
                r.line
            );
        } else if let Some(e) = &r.exception {
            self.skipped += 1;
            let _ = writeln!(
                body,
                "      <skipped message=\"{}\"/>",
                escape(&format!(
                    "allowed by exception #{} ({}); the policy said: {message}",
                    e.id, e.reason
                ))
            );
        }
        if !r.warnings.is_empty() {
            let warnings: Vec<String> =
                r.warnings.iter().map(|w| format!("warning: {w}")).collect();
            let _ = writeln!(
                body,
                "      <system-out>{}</system-out>",
                escape_text(&warnings.join("\n"))
            );
        }
        if body.is_empty() {
            self.cases.push_str("/>\n");
        } else {
            let _ = write!(self.cases, ">\n{body}    </testcase>\n");
        }
    }

    /// An input or evaluation that could not be checked: an erroring test case.
    fn add_error(&mut self, e: &InputError, name: &str) {
        self.tests += 1;
        self.errors += 1;
        let _ = write!(
            self.cases,
            "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\">\n      <error message=\"{}\" type=\"{}\">{}</error>\n    </testcase>\n",
            escape(name),
            escape(&e.file),
            escape(&e.file),
            e.line,
            escape(&e.message),
            escape(e.kind.as_str()),
            escape_text(&format!("{}: {}", e.location(), e.message)),
        );
    }
}

fn document(all: &[(String, Suite)]) -> String {
    let total = |f: fn(&Suite) -> usize| all.iter().map(|(_, s)| f(s)).sum::<usize>();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"kubectl-aksid\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        total(|s| s.tests),
        total(|s| s.failures),
        total(|s| s.errors),
        total(|s| s.skipped)
    );
    for (name, s) in all {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            escape(name),
            s.tests,
            s.failures,
            s.errors,
            s.skipped
        );
        out.push_str(&s.properties);
        out.push_str(&s.cases);
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape("a<b>&\"c'\n"), "a&lt;b&gt;&amp;&quot;c&apos;&#10;");
        assert_eq!(escape("x\u{1b}[31m\u{0}"), "x\u{fffd}[31m\u{fffd}");
        assert_eq!(escape_text("a\nb<"), "a\nb&lt;");
    }
}
