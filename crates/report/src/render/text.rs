//! The default, human-readable report: findings grouped by file, then errors, notices,
//! exceptions, and one summary line.
//!
//! ```text
//! apps/legacy/billing.yaml
//!   line 3  Deployment legacy/billing-api
//!     ✗ rejected by no-plaintext-secret-env
//!         container api: env DB_PASSWORD holds a plaintext secret
//!   ✓ 2 other objects accepted
//!
//! Errors (1): these could not be checked
//!   ✗ charts/web/deployment.yaml:2 (document 1): this looks like an unrendered template; ...
//!
//! ✗ 3 objects · 4 policies · 1 rejected · 1 error
//! ```

use super::{NOT_ENFORCED, count, sanitize};
use crate::Report;
use crate::model::{FileSummary, Finding, InputError, object_label};
use std::collections::BTreeMap;
use std::fmt::Write;

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    fn red(&self, s: &str) -> String {
        self.paint("1;31", s)
    }
    fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
}

/// Writes `text` with every line indented by `indent` spaces.
fn indented(out: &mut String, indent: usize, text: &str) {
    for line in sanitize(text, false).lines() {
        let _ = writeln!(out, "{:indent$}{line}", "");
    }
}

/// The text report; `color` adds ANSI colours (pass whether stdout is a terminal).
pub fn text(report: &Report, color: bool) -> String {
    let s = Style { color };
    let mut out = String::new();
    for file in &report.files {
        file_section(&mut out, &s, report, file);
    }
    errors_section(&mut out, &s, &report.errors);
    notices_section(&mut out, &s, &report.notices);
    exceptions_section(&mut out, &s, report);
    modules_section(&mut out, &s, report);
    summary_line(&mut out, &s, report);
    out
}

/// Everything said about each object of a file, keyed by where it is and what it is.
type ObjectKey<'a> = (usize, usize, &'a str, Option<&'a str>, Option<&'a str>);
type ObjectEntries<'a> = BTreeMap<ObjectKey<'a>, (Vec<&'a Finding>, Vec<&'a InputError>)>;

fn objects_of<'a>(report: &'a Report, file: &str) -> ObjectEntries<'a> {
    let mut objects: ObjectEntries<'a> = BTreeMap::new();
    for r in report.results.iter().filter(|r| r.file == file) {
        let key = (
            r.line,
            r.document,
            r.kind.as_str(),
            r.namespace.as_deref(),
            r.name.as_deref(),
        );
        objects.entry(key).or_default().0.push(r);
    }
    for e in report.errors.iter().filter(|e| e.file == file) {
        if let (Some(_), Some(o)) = (&e.policy, &e.object) {
            let key = (
                e.line,
                e.document.unwrap_or(0),
                o.kind.as_str(),
                o.namespace.as_deref(),
                o.name.as_deref(),
            );
            objects.entry(key).or_default().1.push(e);
        }
    }
    objects
}

/// One file: its notable objects (rejected, excepted, warned, failed), then a line for the rest.
fn file_section(out: &mut String, s: &Style, report: &Report, file: &FileSummary) {
    let objects = objects_of(report, &file.file);
    if file.objects == 0 && objects.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}", s.bold(&sanitize(&file.file, true)));
    let mut shown = 0;
    for ((line, _, kind, namespace, name), (results, failures)) in &objects {
        let notable = !failures.is_empty()
            || results
                .iter()
                .any(|r| !r.allowed || r.is_excepted() || !r.warnings.is_empty());
        if !notable {
            continue;
        }
        shown += 1;
        let _ = writeln!(
            out,
            "  {}  {}",
            s.dim(&format!("line {line}")),
            sanitize(&object_label(kind, *namespace, *name), true)
        );
        object_lines(out, s, results, failures);
    }
    rest_line(out, s, file, shown);
    out.push('\n');
}

fn object_lines(out: &mut String, s: &Style, results: &[&Finding], failures: &[&InputError]) {
    for r in results {
        let mut policy = sanitize(&r.policy, true);
        if r.third_party {
            // A third-party module's message is its own words, not aksid's.
            policy.push_str(THIRD_PARTY);
        }
        if !r.allowed {
            let _ = writeln!(out, "    {} rejected by {}", s.red("✗"), s.bold(&policy));
            indented(out, 8, r.message.as_deref().unwrap_or("(no message)"));
            if !r.enforced {
                let _ = writeln!(out, "        {}", s.dim(&format!("({NOT_ENFORCED})")));
            }
        } else if let Some(e) = &r.exception {
            let _ = writeln!(
                out,
                "    {} {} allowed by exception #{} ({})",
                s.green("✓"),
                policy,
                e.id,
                sanitize(&e.reason, true)
            );
        }
        for w in &r.warnings {
            let _ = writeln!(out, "    {} warning from {}:", s.yellow("⚠"), policy);
            indented(out, 8, w);
        }
    }
    for e in failures {
        let policy = sanitize(e.policy.as_deref().unwrap_or_default(), true);
        let _ = writeln!(
            out,
            "    {} {} could not evaluate it (see Errors below)",
            s.red("✗"),
            s.bold(&policy)
        );
    }
}

/// After the id of a policy given with `--policy`, wherever it speaks.
const THIRD_PARTY: &str = " (third-party module, see Policies below)";

/// The modules that are not aksid's own: where each came from and its digest.
fn modules_section(out: &mut String, s: &Style, report: &Report) {
    let modules: Vec<_> = report
        .policies
        .iter()
        .filter(|p| p.is_third_party())
        .collect();
    if modules.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}", s.bold("Policies from third-party modules"));
    for p in modules {
        let replaces = if p.replaces_builtin {
            ", replacing the built-in policy of that id"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} {}: {} {}{replaces}",
            s.dim("•"),
            sanitize(&p.id, true),
            sanitize(p.origin.as_deref().unwrap_or_default(), true),
            p.digest.as_deref().unwrap_or("(digest unknown)"),
        );
    }
    out.push('\n');
}

fn rest_line(out: &mut String, s: &Style, file: &FileSummary, shown: usize) {
    let accepted = file.objects.saturating_sub(shown + file.not_selected);
    let mut parts = Vec::new();
    if accepted > 0 {
        let other = if shown > 0 { "other " } else { "" };
        parts.push(format!(
            "{} accepted",
            count(
                accepted,
                &format!("{other}object"),
                &format!("{other}objects")
            )
        ));
    }
    if file.not_selected > 0 {
        parts.push(format!(
            "{} not checked by any policy",
            count(file.not_selected, "object", "objects")
        ));
    }
    if !parts.is_empty() {
        let mark = if accepted > 0 {
            s.green("✓")
        } else {
            s.dim("•")
        };
        let _ = writeln!(out, "  {mark} {}", parts.join("; "));
    }
}

fn errors_section(out: &mut String, s: &Style, errors: &[InputError]) {
    if errors.is_empty() {
        return;
    }
    let heading = format!("Errors ({}): these could not be checked", errors.len());
    let _ = writeln!(out, "{}", s.red(&heading));
    for e in errors {
        let field = e
            .field
            .as_deref()
            .map(|f| format!("field {}: ", sanitize(f, true)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} {}: {field}{}",
            s.red("✗"),
            sanitize(&e.location(), true),
            sanitize(&e.message, true)
        );
    }
    out.push('\n');
}

fn notices_section(out: &mut String, s: &Style, notices: &[InputError]) {
    if notices.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}", s.bold("Notices"));
    for n in notices {
        let _ = writeln!(
            out,
            "  {} {}: {}",
            s.dim("•"),
            sanitize(&n.location(), true),
            sanitize(&n.message, true)
        );
    }
    out.push('\n');
}

fn exceptions_section(out: &mut String, s: &Style, report: &Report) {
    let used = &report.exceptions.used;
    let expired = &report.exceptions.expired;
    if used.is_empty() && expired.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}", s.bold("Exceptions"));
    for e in expired {
        let date = e.expires.map(|d| d.to_string()).unwrap_or_default();
        let consequence = if e.matched > 0 {
            format!("({})", count(e.matched, "rejection", "rejections"))
        } else {
            "(it matches nothing now; consider removing it)".to_owned()
        };
        let _ = writeln!(
            out,
            "  {} exception #{} ({}) expired on {date} and no longer applies {consequence}",
            s.yellow("⚠"),
            e.id,
            sanitize(&e.reason, true)
        );
    }
    for e in used {
        let _ = writeln!(
            out,
            "  {} exception #{} ({}) applied to {}",
            s.green("✓"),
            e.id,
            sanitize(&e.reason, true),
            count(e.matched, "rejection", "rejections")
        );
    }
    out.push('\n');
}

fn summary_line(out: &mut String, s: &Style, report: &Report) {
    let sum = &report.summary;
    if sum.objects == 0 {
        let _ = writeln!(
            out,
            "{}",
            s.red("✗ no Kubernetes objects found in the inputs")
        );
    }
    let mut parts = vec![
        count(sum.objects, "object", "objects"),
        count(sum.policies.len(), "policy", "policies"),
        format!("{} rejected", sum.rejected),
    ];
    for (n, one, many, suffix) in [
        (sum.warnings, "warning", "warnings", ""),
        (sum.errors, "error", "errors", ""),
        (sum.excepted, "exception", "exceptions", " applied"),
        (
            report.exceptions.expired.len(),
            "exception",
            "exceptions",
            " expired",
        ),
    ] {
        if n > 0 {
            parts.push(format!("{}{suffix}", count(n, one, many)));
        }
    }
    let line = parts.join(" · ");
    let failed_run = sum.rejected > 0 || sum.errors > 0 || sum.objects == 0;
    let mark = if failed_run {
        s.red("✗")
    } else {
        s.green("✓")
    };
    let _ = writeln!(out, "{mark} {}", s.bold(&line));
}
