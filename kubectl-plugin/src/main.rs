//! `kubectl-aksid`: checks Kubernetes manifests with the aksid Kubewarden policies, the very
//! modules the cluster runs, and distributes them to OCI registries.
//!
//! `main` only parses flags, runs the command and maps its outcome to the documented exit codes:
//! 0 everything accepted, 1 something rejected, 2 an input or a policy could not be read.

mod cache_dir;
mod cli;
mod commands;
mod embedded;
mod inputs;
mod kustomize;
mod pipeline;
mod policy_set;
mod registry;
mod settings_file;
mod warnings;

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

/// What a command found, mapped to the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything accepted (exit 0).
    Clean,
    /// At least one rejection (exit 1).
    Rejected,
    /// An input or a policy could not be read or evaluated (exit 2).
    Error,
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    warnings::install();
    match commands::run(cli) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Rejected) => ExitCode::from(1),
        Ok(Outcome::Error) => ExitCode::from(2),
        Err(err) => {
            // A closed pipe (`kubectl aksid check ... | head`) is not an error worth a message.
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            let _ = std::io::stdout().flush();
            eprintln!("kubectl-aksid: {err:#}");
            ExitCode::from(2)
        }
    }
}
