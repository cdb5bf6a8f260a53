//! The OCI registry client, configured from the shared flags and the registry environment: used
//! by `push`, `pull`, `manifests --digest` and by `--policy registry://...`. With
//! `--verification-config` or `--verify-key`, every module pulled through it must carry
//! signatures that satisfy them.

use crate::cli::PolicyArgs;
use aksid_oci::{PulledPolicy, Reference, VerificationConfig};
use anyhow::{Context, Result, bail};
use std::time::Duration;

/// Environment variable raising or lowering the registry read timeout, in whole seconds.
pub const ENV_TIMEOUT: &str = "AKSID_REGISTRY_TIMEOUT";

/// A registry client and the verification every pull must pass, if any.
pub struct Registry {
    client: aksid_oci::Client,
    verification: Option<VerificationConfig>,
}

impl Registry {
    /// Pulls `reference`; with a verification config, refuses a module whose signatures do not
    /// satisfy it.
    pub fn pull(&self, reference: &Reference) -> Result<PulledPolicy> {
        Ok(self.pull_verified(reference)?.0)
    }

    /// Pulls `reference` and returns the config entries its signatures satisfied (`None`
    /// without a verification config).
    pub fn pull_verified(
        &self,
        reference: &Reference,
    ) -> Result<(PulledPolicy, Option<Vec<String>>)> {
        match &self.verification {
            None => Ok((self.client.pull(reference)?, None)),
            Some(config) => {
                let verified = self.client.pull_verified(reference, config)?;
                Ok((verified.pulled, Some(verified.satisfied)))
            }
        }
    }

    /// The underlying client (push, sign).
    pub fn client(&self) -> &aksid_oci::Client {
        &self.client
    }
}

/// The registry client configured from the shared flags.
pub fn client(args: &PolicyArgs) -> Result<Registry> {
    client_with(args, false)
}

/// The registry client, optionally allowed to push modules without Kubewarden metadata.
pub fn client_with(args: &PolicyArgs, force: bool) -> Result<Registry> {
    let mut options = aksid_oci::ClientOptions::new(crate::cache_dir::oci(args)?).force(force);
    options.insecure_registries = args.insecure_registries.clone();
    if let Some(timeout) = read_timeout(std::env::var(ENV_TIMEOUT).ok().as_deref())? {
        options.read_timeout = timeout;
    }
    Ok(Registry {
        client: aksid_oci::Client::new(options)?,
        verification: verification(args)?,
    })
}

/// The verification config `--verification-config` or `--verify-key` names, if either is given.
fn verification(args: &PolicyArgs) -> Result<Option<VerificationConfig>> {
    if let Some(path) = &args.verification_config {
        return Ok(Some(VerificationConfig::from_file(path)?));
    }
    let Some(path) = &args.verify_key else {
        return Ok(None);
    };
    let pem = read_key(path)?;
    Ok(Some(VerificationConfig::from_public_key_pem(
        &pem,
        &format!("--verify-key {}", path.display()),
    )?))
}

/// A PEM key file, at most 64 KiB (a P-256 key is a few hundred bytes).
pub fn read_key(path: &std::path::Path) -> Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_string(&mut text))
        .with_context(|| format!("reading the key file {}", path.display()))?;
    Ok(text)
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
