//! One module per subcommand; `run` dispatches.

mod audit;
pub mod cache;
mod check;
mod distribute;
mod explain;
mod playground;
mod policies;
mod test;

use crate::Outcome;
use crate::cli::{Cli, Command};
use anyhow::Result;

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Check(args) => check::execute(args),
        Command::Test(args) => test::execute(args),
        Command::Audit(args) => audit::execute(args),
        Command::Policies(args) => policies::execute(args),
        Command::Explain(args) => explain::execute(args),
        Command::Manifests(args) => distribute::manifests(args),
        Command::Push(args) => distribute::push(args),
        Command::Pull(args) => distribute::pull(args),
        Command::Playground(args) => playground::execute(args),
        Command::Cache(args) => cache::execute(args),
    }
}
