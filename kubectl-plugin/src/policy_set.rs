//! The policies a command runs: the embedded aksid modules, plus or instead of them the modules
//! given with `--policy` (paths or registry references), each with its settings.

use crate::cli::PolicyArgs;
use crate::embedded;
use crate::settings_file::SettingsFile;
use aksid_metadata::Metadata;
use anyhow::{Context, Result, bail};
use serde_json::Value;

/// A module and what is known about it before it is compiled.
#[derive(Debug, Clone)]
pub struct Module {
    /// The policy id: its metadata title, else the file stem.
    pub id: String,
    /// Where it came from: `built-in`, a path, or a registry reference.
    pub origin: String,
    /// The module bytes.
    pub bytes: Vec<u8>,
    /// Its Kubewarden metadata.
    pub metadata: Metadata,
}

impl Module {
    /// A one-line description for listings.
    pub fn description(&self) -> &str {
        self.metadata
            .annotation(aksid_metadata::DESCRIPTION)
            .unwrap_or("")
    }
}

/// Collects the modules: built-ins first (replaced in place by a `--policy` of the same id),
/// then the added ones.
pub fn modules(args: &PolicyArgs) -> Result<Vec<Module>> {
    let mut modules: Vec<Module> = embedded::POLICIES
        .iter()
        .map(|(id, bytes)| {
            let metadata = Metadata::from_wasm(bytes).ok().flatten().with_context(|| {
                format!("the embedded module {id} has no Kubewarden metadata (a broken build)")
            })?;
            Ok(Module {
                id: (*id).to_owned(),
                origin: "built-in".to_owned(),
                bytes: bytes.to_vec(),
                metadata,
            })
        })
        .collect::<Result<_>>()?;
    for spec in &args.policies {
        let module = load_module(spec, args).with_context(|| format!("--policy {spec}"))?;
        match modules.iter_mut().find(|m| m.id == module.id) {
            Some(existing) => *existing = module,
            None => modules.push(module),
        }
    }
    Ok(modules)
}

fn load_module(spec: &str, args: &PolicyArgs) -> Result<Module> {
    let (bytes, origin) = if spec.starts_with("registry://") {
        let pulled = crate::registry::client(args)?.pull(&aksid_oci::Reference::parse(spec)?)?;
        (pulled.bytes, format!("{spec} ({})", pulled.manifest_digest))
    } else {
        (
            read_module_file(spec, args.max_module_size)?,
            spec.to_owned(),
        )
    };
    check_module_size(spec, bytes.len(), args.max_module_size)?;
    let metadata = match Metadata::from_wasm(&bytes) {
        Ok(Some(m)) => m,
        Ok(None) => bail!(
            "the module has no Kubewarden metadata; annotate it first (kwctl annotate -m metadata.yml -o annotated.wasm {spec})"
        ),
        Err(e) => bail!("{e}"),
    };
    let id = match metadata.title() {
        Some(title) if !title.is_empty() => title.to_owned(),
        _ => std::path::Path::new(spec)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| spec.to_owned()),
    };
    Ok(Module {
        id,
        origin,
        bytes,
        metadata,
    })
}

/// `--max-module-size`'s default, 32 MiB.
pub const DEFAULT_MAX_MODULE_SIZE: usize = 32 << 20;

/// Reads a module file, never more than `limit` bytes plus one (whatever size the file
/// claims), so that a huge file or a device is refused without being held.
fn read_module_file(spec: &str, limit: usize) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(spec).with_context(|| format!("reading {spec}"))?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {spec}"))?;
    if bytes.len() > limit {
        // The size the file claims, for the message only: the read above is what bounds memory.
        let claimed = std::fs::metadata(spec)
            .map_or(0, |m| m.len())
            .max(bytes.len() as u64);
        check_module_size(spec, claimed as usize, limit)?;
    }
    Ok(bytes)
}

fn check_module_size(spec: &str, size: usize, limit: usize) -> Result<()> {
    if size > limit {
        bail!(
            "the module {spec} is {size} bytes, over the --max-module-size limit of {limit} \
             bytes; raise --max-module-size if you trust it"
        );
    }
    Ok(())
}

/// Reads `--settings` and checks it only names loaded policies.
pub fn settings(args: &PolicyArgs, modules: &[Module]) -> Result<SettingsFile> {
    let settings = match &args.settings {
        Some(path) => SettingsFile::read(path)?,
        None => SettingsFile::default(),
    };
    settings.check_ids(modules.iter().map(|m| m.id.as_str()))?;
    Ok(settings)
}

/// The host configuration shared by every command: the compile cache where the flags say.
pub fn host_config(args: &PolicyArgs) -> aksid_host::HostConfig {
    aksid_host::HostConfig::default()
        .cache_dir(crate::cache_dir::modules(args))
        .max_module_size(args.max_module_size)
        .run_deadline(args.deadline.map(|d| run_start() + d))
}

/// When the run started, for `--deadline`: the first time a host was configured, which every
/// command does before it reads inputs or compiles.
fn run_start() -> std::time::Instant {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *START.get_or_init(std::time::Instant::now)
}

/// A compiled policy with its settings, ready to evaluate.
pub struct ReadyPolicy {
    /// Position in the run's policy list.
    pub index: usize,
    /// The policy id.
    pub id: String,
    /// Its metadata (rules select the objects it judges).
    pub metadata: Metadata,
    /// The compiled policy.
    pub policy: aksid_host::Policy,
    /// Validated settings.
    pub settings: Value,
}

/// Compiles every module and validates its settings; a module that fails to load or whose
/// settings are invalid is an error naming the policy.
pub fn compile(
    host: &aksid_host::Host,
    modules: Vec<Module>,
    settings: &SettingsFile,
) -> Result<Vec<ReadyPolicy>> {
    use rayon::prelude::*;
    modules
        .into_par_iter()
        .enumerate()
        .map(|(index, m)| {
            let policy = host.load(&m.bytes).with_context(|| format!("policy {} ({})", m.id, m.origin))?;
            let settings = settings.get(&m.id);
            let verdict = policy
                .validate_settings(&settings)
                .with_context(|| format!("policy {}: validating settings", m.id))?;
            if !verdict.valid {
                bail!(
                    "settings for {} are invalid: {}\n\nSee `kubectl aksid explain {}` for its settings.",
                    m.id,
                    verdict.message.unwrap_or_default(),
                    m.id
                );
            }
            Ok(ReadyPolicy { index, id: m.id, metadata: m.metadata, policy, settings })
        })
        .collect()
}
