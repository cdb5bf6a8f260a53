//! `kubectl aksid policies`: the policies with one-line descriptions.

use crate::Outcome;
use crate::cli::PoliciesArgs;
use crate::policy_set;
use anyhow::Result;
use std::io::Write;

pub fn execute(args: PoliciesArgs) -> Result<Outcome> {
    let modules = policy_set::modules(&args.policy)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let list: Vec<_> = modules
            .iter()
            .map(|m| {
                serde_json::json!({
                    "id": m.id, "origin": m.origin, "description": m.description(),
                    "severity": m.metadata.annotation(aksid_metadata::SEVERITY),
                    "category": m.metadata.annotation(aksid_metadata::CATEGORY),
                    "contextAware": !m.metadata.context_aware_resources.is_empty(),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
        return Ok(Outcome::Clean);
    }
    let width = modules.iter().map(|m| m.id.len()).max().unwrap_or(0);
    for m in &modules {
        let severity = m
            .metadata
            .annotation(aksid_metadata::SEVERITY)
            .unwrap_or("-");
        writeln!(out, "{:width$}  {:8}  {}", m.id, severity, m.description())?;
        if m.origin != "built-in" {
            writeln!(out, "{:width$}            from {}", "", m.origin)?;
        }
    }
    writeln!(
        out,
        "\nRun `kubectl aksid explain ID` for what a policy checks, why, and its settings."
    )?;
    Ok(Outcome::Clean)
}
