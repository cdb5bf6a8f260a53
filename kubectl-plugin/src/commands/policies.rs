//! `kubectl aksid policies`: the policies with one-line descriptions. Module text is untrusted:
//! on the terminal it goes through [`terminal_safe`]; JSON keeps it as it is, encoded.

use crate::Outcome;
use crate::cli::PoliciesArgs;
use crate::policy_set;
use aksid_report::render::terminal_safe;
use anyhow::Result;
use std::io::Write;

pub fn execute(args: PoliciesArgs) -> Result<Outcome> {
    let grants = policy_set::Grants::from_args(&args.trust);
    let modules = policy_set::modules_granted(&args.policy, &grants)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let list: Vec<_> = modules
            .iter()
            .map(|m| {
                serde_json::json!({
                    "id": m.id, "origin": m.origin,
                    "description": m.metadata.annotation(aksid_metadata::DESCRIPTION).unwrap_or(""),
                    "provenance": m.provenance, "digest": m.digest,
                    "replacesBuiltin": m.replaces_builtin,
                    "severity": m.metadata.annotation(aksid_metadata::SEVERITY),
                    "category": m.metadata.annotation(aksid_metadata::CATEGORY),
                    "contextAware": !m.metadata.context_aware_resources.is_empty(),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
        return Ok(Outcome::Clean);
    }
    let ids: Vec<String> = modules.iter().map(|m| terminal_safe(&m.id, true)).collect();
    let width = ids.iter().map(|id| id.chars().count()).max().unwrap_or(0);
    for (m, id) in modules.iter().zip(&ids) {
        let severity = terminal_safe(
            m.metadata
                .annotation(aksid_metadata::SEVERITY)
                .unwrap_or("-"),
            true,
        );
        writeln!(out, "{id:width$}  {severity:8}  {}", m.description())?;
        if m.provenance != aksid_report::BUILTIN_ORIGIN {
            let replaces = if m.replaces_builtin {
                ", replacing the built-in"
            } else {
                ""
            };
            writeln!(
                out,
                "{:width$}            from {} {}{replaces}",
                "",
                terminal_safe(&m.origin, true),
                m.digest
            )?;
        }
    }
    writeln!(
        out,
        "\nRun `kubectl aksid explain ID` for what a policy checks, why, and its settings."
    )?;
    Ok(Outcome::Clean)
}
