//! One module per subcommand; `run` dispatches.

mod check;
mod distribute;
mod explain;
mod playground;
mod policies;

use crate::Outcome;
use crate::cli::{Cli, Command, PolicyArgs};
use anyhow::Result;

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Check(args) => check::execute(args),
        Command::Policies(args) => policies::execute(args),
        Command::Explain(args) => explain::execute(args),
        Command::Manifests(args) => distribute::manifests(args),
        Command::Push(args) => distribute::push(args),
        Command::Pull(args) => distribute::pull(args),
        Command::Playground(args) => playground::execute(args),
    }
}

/// The OCI client configured from the shared flags.
pub fn registry_client(args: &PolicyArgs) -> Result<aksid_oci::Client> {
    registry_client_with(args, false)
}

/// The OCI client, optionally allowed to push modules without Kubewarden metadata.
pub fn registry_client_with(args: &PolicyArgs, force: bool) -> Result<aksid_oci::Client> {
    let cache_dir = args
        .cache_dir
        .clone()
        .or_else(aksid_host::default_cache_dir)
        .unwrap_or_else(|| std::env::temp_dir().join("aksid"))
        .join("oci");
    let mut options = aksid_oci::ClientOptions::new(cache_dir).force(force);
    options.insecure_registries = args.insecure_registries.clone();
    Ok(aksid_oci::Client::new(options)?)
}
