//! `kubectl aksid explain ID`: the policy's usage text (its README, embedded in the module as
//! `io.kubewarden.policy.usage`), so the explanation ships with the exact module that runs.

use crate::Outcome;
use crate::cli::ExplainArgs;
use crate::policy_set;
use anyhow::{Result, bail};
use std::io::Write;

pub fn execute(args: ExplainArgs) -> Result<Outcome> {
    let modules = policy_set::modules(&args.policy)?;
    let Some(module) = modules.iter().find(|m| m.id == args.id) else {
        let ids: Vec<&str> = modules.iter().map(|m| m.id.as_str()).collect();
        bail!(
            "no policy {:?}; the policies are: {}",
            args.id,
            ids.join(", ")
        );
    };
    let mut out = std::io::stdout().lock();
    match module.metadata.annotation(aksid_metadata::USAGE) {
        Some(usage) => writeln!(out, "{}", usage.trim_end())?,
        None => writeln!(
            out,
            "{}: {}\n\n(the module carries no usage text)",
            module.id,
            module.description()
        )?,
    }
    let rules = serde_saphyr::to_string(&module.metadata.rules)?;
    writeln!(
        out,
        "\n## Objects it judges (Kubewarden rules)\n\n{}",
        rules.trim_end()
    )?;
    if !module.metadata.context_aware_resources.is_empty() {
        let kinds: Vec<String> = module
            .metadata
            .context_aware_resources
            .iter()
            .map(|r| format!("{} {}", r.api_version, r.kind))
            .collect();
        writeln!(
            out,
            "\nReads other objects of the cluster (or of the checked manifests): {}",
            kinds.join(", ")
        )?;
    }
    Ok(Outcome::Clean)
}
