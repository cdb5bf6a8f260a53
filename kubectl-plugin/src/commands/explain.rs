//! `kubectl aksid explain ID`: the policy's usage text (its README, embedded in the module as
//! `io.kubewarden.policy.usage`), so the explanation ships with the exact module that runs.
//! A `--policy` module's text is untrusted: everything printed goes through [`terminal_safe`].

use crate::Outcome;
use crate::cli::ExplainArgs;
use crate::policy_set;
use aksid_report::render::terminal_safe;
use anyhow::{Result, bail};
use std::io::Write;

pub fn execute(args: ExplainArgs) -> Result<Outcome> {
    let grants = policy_set::Grants::from_args(&args.trust);
    let modules = policy_set::modules_granted(&args.policy, &grants)?;
    let Some(module) = modules.iter().find(|m| m.id == args.id) else {
        let ids: Vec<String> = modules.iter().map(|m| terminal_safe(&m.id, true)).collect();
        bail!(
            "no policy {:?}; the policies are: {}",
            args.id,
            ids.join(", ")
        );
    };
    let mut out = std::io::stdout().lock();
    match module.metadata.annotation(aksid_metadata::USAGE) {
        Some(usage) => writeln!(out, "{}", terminal_safe(usage.trim_end(), false))?,
        None => writeln!(
            out,
            "{}: {}\n\n(the module carries no usage text)",
            terminal_safe(&module.id, true),
            module.description()
        )?,
    }
    let rules = serde_saphyr::to_string(&module.metadata.rules)?;
    writeln!(
        out,
        "\n## Objects it judges (Kubewarden rules)\n\n{}",
        terminal_safe(rules.trim_end(), false)
    )?;
    if !module.metadata.context_aware_resources.is_empty() {
        let kinds: Vec<String> = module
            .metadata
            .context_aware_resources
            .iter()
            .map(|r| terminal_safe(&format!("{} {}", r.api_version, r.kind), true))
            .collect();
        writeln!(
            out,
            "\nReads other objects of the cluster (or of the checked manifests): {}",
            kinds.join(", ")
        )?;
    }
    Ok(Outcome::Clean)
}
