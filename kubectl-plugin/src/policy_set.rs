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
    /// Where it came from, for people: `built-in`, a path, or a registry reference.
    pub origin: String,
    /// Where it came from, for reports: `builtin`, `file:PATH` or `registry:REF@DIGEST`.
    pub provenance: String,
    /// `sha256:<hex>` of the module as read (before any context restriction).
    pub digest: String,
    /// Whether it takes the place of the built-in policy of the same id (`--replace-builtin`).
    pub replaces_builtin: bool,
    /// The `contextAwareResources` it declared that were not granted (`--allow-context`), as
    /// `apiVersion/Kind`: the host refuses its lookups of them.
    pub refused_context: Vec<String>,
    /// The module bytes (re-annotated without the refused `contextAwareResources`).
    pub bytes: Vec<u8>,
    /// Its Kubewarden metadata (as granted).
    pub metadata: Metadata,
}

impl Module {
    /// A one-line description for listings (terminal-safe: module text is untrusted).
    pub fn description(&self) -> String {
        aksid_report::render::terminal_safe(
            self.metadata
                .annotation(aksid_metadata::DESCRIPTION)
                .unwrap_or(""),
            true,
        )
    }

    /// The report's view of the policy: its descriptions and provenance.
    pub fn info(&self) -> aksid_report::PolicyInfo {
        let mut info = aksid_report::PolicyInfo::from_metadata(self.id.clone(), &self.metadata)
            .provenance(self.provenance.clone(), self.digest.clone());
        info.replaces_builtin = self.replaces_builtin;
        info
    }
}

/// What a command may grant the `--policy` modules beyond running them: Kubewarden leaves both
/// to an administrator, so neither is ever implied.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// Kinds whose lookups third-party modules may make (`--allow-context`).
    pub context_kinds: Vec<String>,
    /// Whether a module titled like a built-in may replace it (`--replace-builtin`).
    pub replace_builtin: bool,
}

impl Grants {
    /// The grants the flags give.
    pub fn from_args(args: &crate::cli::TrustArgs) -> Grants {
        Grants {
            context_kinds: args.allow_context.clone(),
            replace_builtin: args.replace_builtin,
        }
    }
}

/// A `--policy` that could not be used, and why.
pub struct LoadFailure {
    /// The `--policy` value.
    pub spec: String,
    /// What went wrong, with the fix.
    pub error: anyhow::Error,
}

/// Collects the modules: built-ins first, then the added ones; none granted anything.
pub fn modules(args: &PolicyArgs) -> Result<Vec<Module>> {
    modules_granted(args, &Grants::default())
}

/// Like [`modules`], with `grants`; the first module that cannot be used is an error.
pub fn modules_granted(args: &PolicyArgs, grants: &Grants) -> Result<Vec<Module>> {
    let (modules, failures) = modules_lenient(args, grants)?;
    match failures.into_iter().next() {
        Some(f) => Err(f.error.context(format!("--policy {}", f.spec))),
        None => Ok(modules),
    }
}

/// Collects the modules: built-ins first (replaced in place by a `--policy` of the same id,
/// with `--replace-builtin` only), then the added ones. A `--policy` that cannot be used is
/// returned as a failure, so a report can still be written; only a broken build is an error.
pub fn modules_lenient(
    args: &PolicyArgs,
    grants: &Grants,
) -> Result<(Vec<Module>, Vec<LoadFailure>)> {
    let mut modules: Vec<Module> = embedded::POLICIES
        .iter()
        .map(|(id, bytes)| {
            let metadata = Metadata::from_wasm(bytes).ok().flatten().with_context(|| {
                format!("the embedded module {id} has no Kubewarden metadata (a broken build)")
            })?;
            Ok(Module {
                id: (*id).to_owned(),
                origin: "built-in".to_owned(),
                provenance: aksid_report::BUILTIN_ORIGIN.to_owned(),
                digest: digest(bytes),
                replaces_builtin: false,
                refused_context: Vec::new(),
                bytes: bytes.to_vec(),
                metadata,
            })
        })
        .collect::<Result<_>>()?;
    let mut failures = Vec::new();
    for spec in &args.policies {
        let loaded = load_module(spec, args).and_then(|m| restrict_context(m, grants));
        let mut module = match loaded {
            Ok(module) => module,
            Err(error) => {
                failures.push(LoadFailure {
                    spec: spec.clone(),
                    error,
                });
                continue;
            }
        };
        match modules.iter_mut().find(|m| m.id == module.id) {
            Some(existing) if existing.provenance == aksid_report::BUILTIN_ORIGIN => {
                if !grants.replace_builtin {
                    failures.push(LoadFailure {
                        spec: spec.clone(),
                        error: anyhow::anyhow!(
                            "the module is titled {:?}, the id of a built-in policy, and a \
                             module never replaces a built-in silently; pass --replace-builtin \
                             to judge with it instead of the built-in, or give it another title \
                             (io.kubewarden.policy.title)",
                            aksid_report::render::terminal_safe(&module.id, true)
                        ),
                    });
                    continue;
                }
                module.replaces_builtin = true;
                *existing = module;
            }
            Some(existing) => *existing = module,
            None => modules.push(module),
        }
    }
    Ok((modules, failures))
}

/// `sha256:<hex>` of `bytes`, as OCI writes digests.
fn digest(bytes: &[u8]) -> String {
    aksid_oci::sha256_digest(bytes)
}

/// Drops the `contextAwareResources` a third-party module declared but was not granted, and
/// re-annotates the module so that the host refuses those lookups, as Kubewarden refuses what
/// an administrator did not allow.
fn restrict_context(mut module: Module, grants: &Grants) -> Result<Module> {
    let declared = &module.metadata.context_aware_resources;
    let granted = |kind: &str| grants.context_kinds.iter().any(|k| k == kind);
    if declared.iter().all(|r| granted(&r.kind)) {
        return Ok(module);
    }
    module.refused_context = declared
        .iter()
        .filter(|r| !granted(&r.kind))
        .map(|r| format!("{}/{}", r.api_version, r.kind))
        .collect();
    module
        .metadata
        .context_aware_resources
        .retain(|r| granted(&r.kind));
    module.bytes = aksid_metadata::annotate(&module.bytes, &module.metadata)
        .context("re-annotating the module without its ungranted contextAwareResources")?;
    Ok(module)
}

fn load_module(spec: &str, args: &PolicyArgs) -> Result<Module> {
    let (bytes, origin, provenance) = if spec.starts_with("registry://") {
        let pulled = crate::registry::client(args)?.pull(&aksid_oci::Reference::parse(spec)?)?;
        (
            pulled.bytes,
            format!("{spec} ({})", pulled.manifest_digest),
            format!("registry:{spec}@{}", pulled.manifest_digest),
        )
    } else {
        (
            read_module_file(spec, args.max_module_size)?,
            spec.to_owned(),
            format!("file:{spec}"),
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
        provenance,
        digest: digest(&bytes),
        replaces_builtin: false,
        refused_context: Vec::new(),
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
    /// What the report says about it: descriptions, origin, digest.
    pub info: aksid_report::PolicyInfo,
    /// Declared lookups not granted (`apiVersion/Kind`), refused by the host.
    pub refused_context: Vec<String>,
    /// The compiled policy.
    pub policy: aksid_host::Policy,
    /// Validated settings.
    pub settings: Value,
}

/// A module that could not be compiled or whose settings are invalid.
pub struct CompileFailure {
    /// The policy id.
    pub id: String,
    /// What went wrong, terminal-safe (module text is untrusted).
    pub message: String,
}

/// Compiles every module and validates its settings; a module that fails to load or whose
/// settings are invalid is an error naming the policy.
pub fn compile(
    host: &aksid_host::Host,
    modules: Vec<Module>,
    settings: &SettingsFile,
) -> Result<Vec<ReadyPolicy>> {
    let (ready, failures) = compile_lenient(host, modules, settings);
    match failures.into_iter().next() {
        Some(f) => Err(anyhow::anyhow!(f.message)),
        None => Ok(ready),
    }
}

/// Like [`compile`], returning the policies that failed beside those that are ready, so that a
/// run can still report on the others.
pub fn compile_lenient(
    host: &aksid_host::Host,
    modules: Vec<Module>,
    settings: &SettingsFile,
) -> (Vec<ReadyPolicy>, Vec<CompileFailure>) {
    use rayon::prelude::*;
    let results: Vec<(String, Result<ReadyPolicy>)> = modules
        .into_par_iter()
        .enumerate()
        .map(|(index, m)| (m.id.clone(), compile_one(host, index, m, settings)))
        .collect();
    let mut ready = Vec::new();
    let mut failures = Vec::new();
    for (id, result) in results {
        match result {
            Ok(policy) => ready.push(policy),
            Err(e) => failures.push(CompileFailure {
                message: aksid_report::render::terminal_safe(&format!("{e:#}"), false),
                id,
            }),
        }
    }
    (ready, failures)
}

fn compile_one(
    host: &aksid_host::Host,
    index: usize,
    m: Module,
    settings: &SettingsFile,
) -> Result<ReadyPolicy> {
    let policy = host
        .load(&m.bytes)
        .with_context(|| format!("policy {} ({})", m.id, m.origin))?;
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
    Ok(ReadyPolicy {
        index,
        info: m.info(),
        id: m.id,
        metadata: m.metadata,
        refused_context: m.refused_context,
        policy,
        settings,
    })
}
