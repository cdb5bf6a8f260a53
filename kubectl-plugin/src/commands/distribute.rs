//! Distribution: `manifests` (ClusterAdmissionPolicy YAML), `push` and `pull` (OCI registries).

use crate::Outcome;
use crate::cli::{ManifestsArgs, Mode, PullArgs, PushArgs};
use crate::policy_set;
use aksid_metadata::{PolicyMode, cluster_admission_policy};
use anyhow::{Context, Result, bail};
use std::io::Write;

/// Prints one ClusterAdmissionPolicy per policy, settings validated by the policy itself.
pub fn manifests(args: ManifestsArgs) -> Result<Outcome> {
    let modules = policy_set::modules(&args.policy)?;
    let settings = policy_set::settings(&args.policy, &modules)?;
    let host = aksid_host::Host::new(policy_set::host_config(&args.policy))?;
    let mode = match args.mode {
        Mode::Protect => PolicyMode::Protect,
        Mode::Monitor => PolicyMode::Monitor,
    };
    let client = if args.digest {
        Some(crate::registry::client(&args.policy)?)
    } else {
        None
    };
    let ready = policy_set::compile(&host, modules, &settings)?;
    let mut out = std::io::stdout().lock();
    for policy in ready {
        let version = policy
            .metadata
            .annotation(aksid_metadata::VERSION)
            .unwrap_or("0.1.0");
        let tag = args.tag.clone().unwrap_or_else(|| format!("v{version}"));
        let mut module = format!(
            "registry://{}/{}:{tag}",
            args.registry.trim_end_matches('/'),
            policy.id
        );
        if let Some(client) = &client {
            let reference = aksid_oci::Reference::parse(&module)?;
            let pulled = client
                .pull(&reference)
                .with_context(|| format!("resolving the digest of {module}"))?;
            module = format!(
                "registry://{}/{}@{}",
                args.registry.trim_end_matches('/'),
                policy.id,
                pulled.manifest_digest
            );
        }
        let cap = cluster_admission_policy(
            &policy.id,
            &module,
            &policy.metadata,
            &policy.settings,
            mode,
        );
        writeln!(out, "---\n{}", serde_saphyr::to_string(&cap)?.trim_end())?;
    }
    Ok(Outcome::Clean)
}

/// Pushes a module (a path or a built-in id) and prints the digest-pinned reference.
pub fn push(args: PushArgs) -> Result<Outcome> {
    let bytes = match crate::embedded::POLICIES
        .iter()
        .find(|(id, _)| *id == args.module)
    {
        Some((_, bytes)) => bytes.to_vec(),
        None => std::fs::read(&args.module).with_context(|| {
            format!(
                "reading {}; MODULE is a .wasm path or a built-in policy id",
                args.module
            )
        })?,
    };
    let reference = aksid_oci::Reference::parse(&args.reference)?;
    // Read the key before pushing, so that a bad key leaves nothing half-published.
    let key = match &args.sign_key {
        Some(path) => Some(
            aksid_oci::SigningKey::from_pem(&crate::registry::read_key(path)?)
                .with_context(|| format!("reading the signing key {}", path.display()))?,
        ),
        None => None,
    };
    let registry = crate::registry::client_with(&args.policy, args.force)?;
    let pushed = registry.client().push(&bytes, &reference)?;
    if let Some(key) = &key {
        let annotations = args.sign_annotations.iter().cloned().collect();
        let signed = registry.client().sign(&pushed, key, &annotations)?;
        eprintln!(
            "signed {} with key {} at {}",
            pushed.manifest_digest,
            key.public_key().fingerprint(),
            signed.signature_reference
        );
    }
    println!("{}", pushed.reference_with_digest);
    Ok(Outcome::Clean)
}

/// Pulls a module into the cache (verified against its digest), optionally writing it out.
pub fn pull(args: PullArgs) -> Result<Outcome> {
    let reference = aksid_oci::Reference::parse(&args.reference)?;
    let (pulled, verified) = crate::registry::client(&args.policy)?.pull_verified(&reference)?;
    let metadata = aksid_metadata::Metadata::from_wasm(&pulled.bytes)?;
    if let Some(path) = &args.output {
        if path.is_dir() {
            bail!(
                "{} is a directory; give a file name such as policy.wasm",
                path.display()
            );
        }
        std::fs::write(path, &pulled.bytes)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let title = metadata
        .as_ref()
        .and_then(|m| m.title().map(str::to_owned))
        .unwrap_or_else(|| "(no metadata)".into());
    eprintln!(
        "pulled {title} {} ({} bytes{})",
        pulled.manifest_digest,
        pulled.bytes.len(),
        if pulled.from_cache {
            ", from cache"
        } else {
            ""
        }
    );
    if let Some(satisfied) = verified {
        eprintln!("verified signatures: {}", satisfied.join(", "));
    }
    println!("{}", reference.with_digest(&pulled.manifest_digest)?);
    Ok(Outcome::Clean)
}
