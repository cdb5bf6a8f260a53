//! Renderers: pure functions from a [`Report`] to the text of one output format.

mod ci;
mod junit;
mod openreports;
mod sarif;
mod text;

pub use ci::{Annotation, Level, azure_devops, azure_devops_line, github, github_line};
pub use junit::{junit, xml_escape};
pub use openreports::{OPENREPORTS_API_VERSION, OpenReportsOptions, openreports};
pub use sarif::sarif;
pub use text::text;

use crate::Report;
use std::fmt;
use std::io;
use std::str::FromStr;

/// An output format (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Human-readable, grouped by file (the default).
    Text,
    /// The data model, pretty-printed (the stable `-o json` schema).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// JUnit XML, for CI test reports.
    Junit,
    /// GitHub Actions workflow commands: annotations on the changed lines.
    Github,
    /// Azure Pipelines logging commands: annotations on the changed lines.
    AzureDevops,
}

impl Format {
    /// Every format, in the order help lists them.
    pub const ALL: [Format; 6] = [
        Format::Text,
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::Github,
        Format::AzureDevops,
    ];

    /// The name `-o` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
            Format::Github => "github",
            Format::AzureDevops => "azure-devops",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!("unknown output format {s:?} (expected text, json, sarif, junit, github or azure-devops)")
            })
    }
}

/// Renders `report` in `format`; `color` (ANSI) only affects text, and should be on only when
/// the output is a terminal.
pub fn render(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Text => text(report, color),
        Format::Json => json(report),
        Format::Sarif => sarif(report),
        Format::Junit => junit(report),
        Format::Github => github(report),
        Format::AzureDevops => azure_devops(report),
    }
}

/// Writes `report` in `format` to `out`, byte for byte what [`render`] returns. JSON, the one
/// format that grows with every object judged (a 15 MB tree gives a 13 MB report), is streamed,
/// so a large run never holds its report twice in memory.
pub fn write(
    report: &Report,
    format: Format,
    color: bool,
    out: &mut impl io::Write,
) -> io::Result<()> {
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, report)?;
        return out.write_all(b"\n");
    }
    out.write_all(render(report, format, color).as_bytes())
}

/// The report as pretty JSON (the data model is the schema), with a final newline.
pub fn json(report: &Report) -> String {
    let mut out = serde_json::to_string_pretty(report).expect("the report serialises");
    out.push('\n');
    out
}

/// Makes untrusted text (object names, policy titles, descriptions and messages, explain text)
/// safe to print on a terminal: C0 and C1 control characters other than newline and tab (so
/// every ANSI/OSC escape sequence, whose introducer is ESC or a C1 control, including OSC 52
/// clipboard writes), and bidirectional overrides ("Trojan Source"), are shown escaped (`\u{1b}`)
/// so a manifest or a module cannot rewrite the terminal or hide a finding. With `single_line`,
/// newlines and tabs are escaped too. The one helper every terminal output goes through; JSON,
/// SARIF and JUnit keep the data and leave the encoding to their serializers.
///
/// ```
/// use aksid_report::render::terminal_safe;
/// assert_eq!(terminal_safe("a\u{1b}]52;c;aGk=\u{7}b\n", false), "a\\u{1b}]52;c;aGk=\\u{7}b\n");
/// assert_eq!(terminal_safe("x\u{9b}31m\ty", true), "x\\u{9b}31m\\u{9}y");
/// ```
pub fn terminal_safe(s: &str, single_line: bool) -> String {
    s.chars()
        .map(|c| {
            let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            let keep = (c == '\n' || c == '\t') && !single_line;
            if (c.is_control() && !keep) || bidi {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

pub(crate) use terminal_safe as sanitize;

/// Why a verdict in `kube-system` is not enforced (`Finding::enforced` false), in the words every
/// format that has a place for it uses.
pub(crate) const NOT_ENFORCED: &str = "kube-system: AKS keeps admission webhooks, Kubewarden's \
     included, out of kube-system, so the cluster will not enforce this; fix it at the source";

/// `1 object`, `2 objects`.
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests;
