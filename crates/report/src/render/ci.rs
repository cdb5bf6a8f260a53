//! CI annotations: GitHub Actions workflow commands (`-o github`) and Azure Pipelines logging
//! commands (`-o azure-devops`), one line per finding, so findings appear on the changed lines
//! of a pull request rather than only in the log.
//!
//! Each rejection is an error, each policy warning a warning, each input or evaluation error an
//! error; rejections an exception allows, and notices, are omitted (they do not fail the run).
//! A rejection in `kube-system` says, as the text report does, that the cluster will not enforce it.
//!
//! Escaping, as each runner parses its commands:
//!
//! | | data (the message) | property values (file, title, …) |
//! |---|---|---|
//! | GitHub | `%`→`%25`, `\r`→`%0D`, `\n`→`%0A` | the same, and `:`→`%3A`, `,`→`%2C` |
//! | Azure Pipelines | `%`→`%AZP25`, `\r`→`%0D`, `\n`→`%0A` | the same, and `;`→`%3B`, `]`→`%5D` |
//!
//! (GitHub: actions/toolkit `packages/core/src/command.ts` `escapeData`/`escapeProperty`; Azure:
//! microsoft/azure-pipelines-task-lib `node/taskcommand.ts` `escapedata`/`escape`.) `%` goes
//! first, so an escape sequence already in the text is not read back as one. Other control
//! characters are shown escaped afterwards (as the text report does), so a manifest cannot
//! write terminal sequences into the log.

use super::{NOT_ENFORCED, sanitize};
use crate::Report;
use crate::model::object_label;

/// How serious an annotation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Fails the check: a rejection, an unreadable input, a failed test.
    Error,
    /// Worth a look: a policy warning.
    Warning,
}

/// One annotation: where, a short title, and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation<'a> {
    /// Error or warning.
    pub level: Level,
    /// The file, as the report names it (relative to the working directory).
    pub file: &'a str,
    /// 1-based line.
    pub line: usize,
    /// A short title (GitHub shows it above the message; Azure puts it in `code`).
    pub title: &'a str,
    /// The message; may span lines.
    pub message: &'a str,
}

/// GitHub's escaping of workflow command data.
fn github_data(s: &str) -> String {
    let escaped = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    sanitize(&escaped, false)
}

/// GitHub's escaping of workflow command property values.
fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Azure Pipelines' escaping of logging command data.
fn azure_data(s: &str) -> String {
    let escaped = s
        .replace('%', "%AZP25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    sanitize(&escaped, false)
}

/// Azure Pipelines' escaping of logging command property values.
fn azure_property(s: &str) -> String {
    azure_data(s).replace(';', "%3B").replace(']', "%5D")
}

/// `::error file=F,line=L,title=T::MESSAGE` (or `::warning`), with a final newline.
pub fn github_line(a: &Annotation) -> String {
    let command = match a.level {
        Level::Error => "error",
        Level::Warning => "warning",
    };
    format!(
        "::{command} file={},line={},title={}::{}\n",
        github_property(a.file),
        a.line,
        github_property(a.title),
        github_data(a.message)
    )
}

/// `##vso[task.logissue type=error;sourcepath=F;linenumber=L;code=T]MESSAGE`, with a final
/// newline.
pub fn azure_devops_line(a: &Annotation) -> String {
    let level = match a.level {
        Level::Error => "error",
        Level::Warning => "warning",
    };
    format!(
        "##vso[task.logissue type={level};sourcepath={};linenumber={};code={}]{}\n",
        azure_property(a.file),
        a.line,
        azure_property(a.title),
        azure_data(a.message)
    )
}

/// Every annotation of a report, in report order: rejections and their warnings, then errors.
fn annotations(report: &Report) -> Vec<(Level, String, usize, String, String)> {
    let mut out = Vec::new();
    for r in &report.results {
        let title = format!("aksid {}", r.policy);
        let label = r.object_label();
        if !r.allowed {
            let message = r.message.as_deref().unwrap_or("rejected");
            let mut text = format!("{label}: {message}");
            if !r.enforced {
                text.push_str(&format!("\n({NOT_ENFORCED})"));
            }
            out.push((Level::Error, r.file.clone(), r.line, title.clone(), text));
        }
        for w in &r.warnings {
            out.push((
                Level::Warning,
                r.file.clone(),
                r.line,
                title.clone(),
                format!("{label}: {w}"),
            ));
        }
    }
    for e in &report.errors {
        let title = match &e.policy {
            Some(policy) => format!("aksid {policy}"),
            None => format!("aksid {}", e.kind.as_str()),
        };
        let message = match &e.object {
            Some(o) => format!(
                "{}: {}",
                object_label(&o.kind, o.namespace.as_deref(), o.name.as_deref()),
                e.message
            ),
            None => e.message.clone(),
        };
        out.push((Level::Error, e.file.clone(), e.line, title, message));
    }
    out
}

fn render_with(report: &Report, line: fn(&Annotation) -> String) -> String {
    annotations(report)
        .iter()
        .map(|(level, file, l, title, message)| {
            line(&Annotation {
                level: *level,
                file,
                line: *l,
                title,
                message,
            })
        })
        .collect()
}

/// The report as GitHub Actions workflow commands.
pub fn github(report: &Report) -> String {
    render_with(report, github_line)
}

/// The report as Azure Pipelines logging commands.
pub fn azure_devops(report: &Report) -> String {
    render_with(report, azure_devops_line)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NASTY: &str = "100% sure: a,b\r\nline 2; x]";

    /// One named case per command and level (a table; the crate does not depend on rstest).
    #[test]
    fn one_line_escaped_as_documented() {
        type Line = fn(&Annotation) -> String;
        let cases: [(&str, Line, Level, &str); 4] = [
            (
                "github_error",
                github_line,
                Level::Error,
                "::error file=dir%2Cx/a%3Ab.yaml,line=7,title=aksid p%3A q::100%25 sure: a,b%0D%0Aline 2; x]\n",
            ),
            (
                "github_warning",
                github_line,
                Level::Warning,
                "::warning file=dir%2Cx/a%3Ab.yaml,line=7,title=aksid p%3A q::100%25 sure: a,b%0D%0Aline 2; x]\n",
            ),
            (
                "azure_error",
                azure_devops_line,
                Level::Error,
                "##vso[task.logissue type=error;sourcepath=dir,x/a:b.yaml;linenumber=7;code=aksid p: q]100%AZP25 sure: a,b%0D%0Aline 2; x]\n",
            ),
            (
                "azure_warning",
                azure_devops_line,
                Level::Warning,
                "##vso[task.logissue type=warning;sourcepath=dir,x/a:b.yaml;linenumber=7;code=aksid p: q]100%AZP25 sure: a,b%0D%0Aline 2; x]\n",
            ),
        ];
        for (name, line, level, expected) in cases {
            let a = Annotation {
                level,
                file: "dir,x/a:b.yaml",
                line: 7,
                title: "aksid p: q",
                message: NASTY,
            };
            assert_eq!(line(&a), expected, "case {name}");
        }
    }

    #[test]
    fn escaping() {
        type Escape = fn(&str) -> String;
        let cases: [(&str, Escape, &str, &str); 5] = [
            (
                "azure_semicolon_and_bracket_in_properties",
                azure_property,
                "a;b]c%",
                "a%3Bb%5Dc%AZP25",
            ),
            ("azure_data_keeps_semicolons", azure_data, "a;b]c", "a;b]c"),
            (
                "github_colon_and_comma_in_properties",
                github_property,
                "a:b,c%",
                "a%3Ab%2Cc%25",
            ),
            (
                "escape_sequences_are_not_read_back",
                github_data,
                "%0A",
                "%250A",
            ),
            (
                "terminal_sequences_are_shown_escaped",
                github_data,
                "x\u{1b}[31m",
                "x\\u{1b}[31m",
            ),
        ];
        for (name, escape, input, expected) in cases {
            assert_eq!(escape(input), expected, "case {name}");
        }
    }
}
