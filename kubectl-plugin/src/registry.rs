//! The OCI registry client, configured from the shared flags: used by `push`, `pull`,
//! `manifests --digest` and by `--policy registry://...`.

use crate::cli::PolicyArgs;
use anyhow::Result;

/// The OCI client configured from the shared flags.
pub fn client(args: &PolicyArgs) -> Result<aksid_oci::Client> {
    client_with(args, false)
}

/// The OCI client, optionally allowed to push modules without Kubewarden metadata.
pub fn client_with(args: &PolicyArgs, force: bool) -> Result<aksid_oci::Client> {
    let mut options = aksid_oci::ClientOptions::new(crate::cache_dir::oci(args)?).force(force);
    options.insecure_registries = args.insecure_registries.clone();
    Ok(aksid_oci::Client::new(options)?)
}
