//! The OCI registry client, configured from the shared flags and the registry environment: used
//! by `push`, `pull`, `manifests --digest` and by `--policy registry://...`.

use crate::cli::PolicyArgs;
use anyhow::{Result, bail};
use std::time::Duration;

/// Environment variable raising or lowering the registry read timeout, in whole seconds.
pub const ENV_TIMEOUT: &str = "AKSID_REGISTRY_TIMEOUT";

/// The OCI client configured from the shared flags.
pub fn client(args: &PolicyArgs) -> Result<aksid_oci::Client> {
    client_with(args, false)
}

/// The OCI client, optionally allowed to push modules without Kubewarden metadata.
pub fn client_with(args: &PolicyArgs, force: bool) -> Result<aksid_oci::Client> {
    let mut options = aksid_oci::ClientOptions::new(crate::cache_dir::oci(args)?).force(force);
    options.insecure_registries = args.insecure_registries.clone();
    if let Some(timeout) = read_timeout(std::env::var(ENV_TIMEOUT).ok().as_deref())? {
        options.read_timeout = timeout;
    }
    Ok(aksid_oci::Client::new(options)?)
}

/// The read timeout `AKSID_REGISTRY_TIMEOUT` asks for: whole seconds, 1 to 3600.
fn read_timeout(value: Option<&str>) -> Result<Option<Duration>> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match value.trim_end_matches('s').parse::<u64>() {
        Ok(seconds @ 1..=3600) => Ok(Some(Duration::from_secs(seconds))),
        _ => bail!(
            "{ENV_TIMEOUT}={value:?} is not a registry read timeout: give whole seconds from 1 \
             to 3600, e.g. {ENV_TIMEOUT}=120"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::unset(None, Ok(None))]
    #[case::empty(Some(""), Ok(None))]
    #[case::seconds(Some("120"), Ok(Some(120)))]
    #[case::seconds_suffix(Some("5s"), Ok(Some(5)))]
    #[case::zero(Some("0"), Err(()))]
    #[case::too_long(Some("3601"), Err(()))]
    #[case::words(Some("two minutes"), Err(()))]
    fn the_read_timeout_comes_from_the_environment(
        #[case] value: Option<&str>,
        #[case] expected: Result<Option<u64>, ()>,
    ) {
        match (read_timeout(value), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want.map(Duration::from_secs)),
            (Err(e), Err(())) => assert!(e.to_string().contains(ENV_TIMEOUT), "{e}"),
            (got, want) => panic!("{got:?}, expected {want:?}"),
        }
    }
}
