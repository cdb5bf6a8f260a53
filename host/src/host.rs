//! The [`Host`]: one wasmtime engine with epoch interruption, its epoch ticker thread, the
//! linker with every import a policy may use, and the compiled-module caches (in memory by
//! module sha256, on disk by cache key).

use crate::config::HostConfig;
use crate::error::Error;
use crate::policy::{ModuleSource, Policy};
use crate::runtime::{Runtime, lock};
use crate::state::{Shared, State};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::{Config, Engine, ExternType, Linker, Module, Store};

/// Evaluates Kubewarden waPC policies offline; load each module once with [`Host::load`].
///
/// A `Host` is cheap to share (`Clone` shares it) and is `Send + Sync`. Dropping every clone
/// and every [`Policy`] loaded from it stops its ticker thread.
#[derive(Clone)]
pub struct Host {
    inner: Arc<HostInner>,
}

struct HostInner {
    runtime: Arc<Runtime>,
    linker: Linker<State>,
    provided: HashSet<(String, String)>,
    modules: Mutex<HashMap<[u8; 32], Module>>,
}

impl Host {
    /// A host with the given configuration; starts its epoch ticker thread.
    pub fn new(config: HostConfig) -> Result<Host, Error> {
        config.check().map_err(Error::Config)?;
        let mut wasm_config = Config::new();
        wasm_config.epoch_interruption(true);
        let engine = Engine::new(&wasm_config).map_err(|e| Error::Config(e.to_string()))?;

        let mut linker = Linker::new(&engine);
        crate::wapc::add_to_linker(&mut linker)
            .and_then(|()| crate::wasi::add_to_linker(&mut linker))
            .map_err(|e| Error::Config(format!("cannot define host functions: {e}")))?;
        let provided = {
            let mut store = Store::new(&engine, State::new(Arc::new(Shared::placeholder())));
            linker
                .iter(&mut store)
                .map(|(module, name, _)| (module.to_owned(), name.to_owned()))
                .collect()
        };

        start_ticker(&engine, config.epoch_tick)?;
        Ok(Host {
            inner: Arc::new(HostInner {
                runtime: Arc::new(Runtime {
                    deadline_ticks: config.deadline_ticks(),
                    engine,
                    config,
                }),
                linker,
                provided,
                modules: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The configuration the host was built with.
    pub fn config(&self) -> &HostConfig {
        &self.inner.runtime.config
    }

    /// Loads a policy: reads and checks its metadata, compiles it (or takes it from a cache),
    /// links it and starts one instance (`_start`, then `wapc_init`, under the timeout), so
    /// that a module that cannot start fails here rather than at its first evaluation.
    ///
    /// The policy is named after its `io.kubewarden.policy.title`, else `sha256:<prefix>`.
    pub fn load(&self, wasm: &[u8]) -> Result<Policy, Error> {
        self.load_inner(wasm, None)
    }

    /// Like [`load`](Self::load), naming the policy `name` when its metadata has no title.
    pub fn load_named(&self, wasm: &[u8], name: &str) -> Result<Policy, Error> {
        self.load_inner(wasm, Some(name))
    }

    fn load_inner(&self, wasm: &[u8], name: Option<&str>) -> Result<Policy, Error> {
        let limit = self.inner.runtime.config.max_module_size;
        if wasm.len() > limit {
            return Err(Error::ModuleTooLarge {
                policy: name.unwrap_or("unnamed module").to_owned(),
                size: wasm.len(),
                limit,
            });
        }
        let sha256: [u8; 32] = Sha256::digest(wasm).into();
        let fallback = || match name {
            Some(name) => name.to_owned(),
            None => format!("sha256:{}", &hex::encode(sha256)[..12]),
        };
        if !wasm.starts_with(b"\0asm") {
            return Err(Error::InvalidModule {
                policy: fallback(),
                reason: "the file does not start with the wasm magic number".into(),
            });
        }
        let metadata = match aksid_metadata::Metadata::from_wasm(wasm) {
            Ok(Some(metadata)) => metadata,
            Ok(None) => return Err(Error::MissingMetadata { policy: fallback() }),
            Err(aksid_metadata::MetadataError::Wasm(reason)) => {
                return Err(Error::InvalidModule {
                    policy: fallback(),
                    reason,
                });
            }
            Err(e) => {
                return Err(Error::InvalidMetadata {
                    policy: fallback(),
                    reason: e.to_string(),
                });
            }
        };
        let policy = metadata.title().map_or_else(fallback, str::to_owned);
        if let Err(e) = metadata.validate() {
            return Err(Error::InvalidMetadata {
                policy,
                reason: e.to_string(),
            });
        }
        if metadata.execution_mode != "kubewarden-wapc" {
            return Err(Error::UnsupportedExecutionMode {
                policy,
                mode: metadata.execution_mode.clone(),
            });
        }
        if metadata.protocol_version.as_deref() != Some("v1") {
            return Err(Error::UnsupportedProtocol {
                policy,
                found: metadata
                    .protocol_version
                    .clone()
                    .unwrap_or_else(|| "missing".into()),
            });
        }

        let (module, source) = self.compile(wasm, &sha256, &policy)?;
        self.check_linkage(&module, &policy)?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&module)
            .map_err(|e| Error::Instantiate {
                policy: policy.clone(),
                reason: format!("{e:#}"),
            })?;
        let config = &self.inner.runtime.config;
        let shared = Arc::new(Shared {
            allowed: metadata.context_aware_resources.clone(),
            memory_limit: config.memory_limit,
            table_elements_limit: config.table_elements_limit,
            max_request_size: config.max_request_size,
            max_response_size: config.max_response_size,
            captured_output_limit: config.captured_output_limit,
        });
        Policy::start(
            self.inner.runtime.clone(),
            policy,
            hex::encode(sha256),
            metadata,
            source,
            pre,
            shared,
        )
    }

    /// The compiled module: from memory, else from disk, else compiled (and written to disk).
    fn compile(
        &self,
        wasm: &[u8],
        sha256: &[u8; 32],
        policy: &str,
    ) -> Result<(Module, ModuleSource), Error> {
        let invalid = |reason: String| Error::InvalidModule {
            policy: policy.to_owned(),
            reason,
        };
        let inner = &self.inner;
        if let Some(module) = lock(&inner.modules).get(sha256) {
            return Ok((module.clone(), ModuleSource::MemoryCache));
        }
        let dir = inner.runtime.config.cache_dir.as_deref();
        let key = crate::cache::key(&inner.runtime.engine, sha256);
        let cached = dir.and_then(|dir| crate::cache::load(&inner.runtime.engine, dir, &key));
        let (module, source) = match cached {
            Some(module) => (module, ModuleSource::DiskCache),
            None => {
                let artifact = self.precompile(wasm, policy)?;
                // SAFETY: the artifact was just produced by `precompile_module` of this engine.
                let module = unsafe { Module::deserialize(&inner.runtime.engine, &artifact) }
                    .map_err(|e| invalid(format!("{e:#}")))?;
                if let Some(dir) = dir {
                    // The cache only saves time: an unwritable directory is not an error.
                    let _ = crate::cache::store(dir, &key, &artifact);
                }
                (module, ModuleSource::Compiled)
            }
        };
        lock(&inner.modules).insert(*sha256, module.clone());
        Ok((module, source))
    }

    /// Compiles on a worker thread, waiting at most `compile_timeout`: Cranelift cannot be
    /// interrupted, so a compilation past the limit is abandoned to finish in the background.
    fn precompile(&self, wasm: &[u8], policy: &str) -> Result<Vec<u8>, Error> {
        let timeout = self.inner.runtime.config.compile_timeout;
        let engine = self.inner.runtime.engine.clone();
        let bytes = wasm.to_vec();
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("aksid-compile".into())
            .spawn(move || {
                // Cranelift compiles functions on rayon. The caller may itself be a worker of the
                // global pool (a CLI loading policies in parallel), blocked below until this
                // thread is done: compiling on that pool could then wait for the blocked
                // workers forever. A pool of this compilation's own cannot.
                let result = rayon::ThreadPoolBuilder::new()
                    .thread_name(|i| format!("aksid-compile-{i}"))
                    .build()
                    .map_err(|e| format!("cannot start the compiler's threads: {e}"))
                    .and_then(|pool| {
                        pool.install(|| engine.precompile_module(&bytes))
                            .map_err(|e| format!("{e:#}"))
                    });
                // The receiver is gone when the compilation was abandoned: nothing to do.
                let _ = sender.send(result);
            });
        if let Err(e) = spawned {
            return Err(Error::Config(format!(
                "cannot start a compiler thread: {e}"
            )));
        }
        match receiver.recv_timeout(timeout) {
            Ok(result) => result.map_err(|reason| Error::InvalidModule {
                policy: policy.to_owned(),
                reason,
            }),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(Error::CompileTimeout {
                policy: policy.to_owned(),
                timeout,
            }),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(Error::InvalidModule {
                policy: policy.to_owned(),
                reason: "the compiler stopped without a result (it panicked)".into(),
            }),
        }
    }

    /// Names the first import the host does not provide and the first missing waPC export,
    /// before wasmtime's more generic linking error could.
    fn check_linkage(&self, module: &Module, policy: &str) -> Result<(), Error> {
        for import in module.imports() {
            let kind = match import.ty() {
                ExternType::Func(_) => "function",
                ExternType::Memory(_) => "memory",
                ExternType::Table(_) => "table",
                ExternType::Global(_) => "global",
                ExternType::Tag(_) => "tag",
            };
            let key = (import.module().to_owned(), import.name().to_owned());
            if kind != "function" || !self.inner.provided.contains(&key) {
                return Err(Error::MissingImport {
                    policy: policy.to_owned(),
                    module: key.0,
                    name: key.1,
                    kind,
                });
            }
        }
        let has = |name: &str, want_memory: bool| {
            module.exports().any(|export| {
                export.name() == name
                    && match export.ty() {
                        ExternType::Memory(_) => want_memory,
                        ExternType::Func(_) => !want_memory,
                        _ => false,
                    }
            })
        };
        for (export, is_memory) in [("__guest_call", false), ("memory", true)] {
            if !has(export, is_memory) {
                return Err(Error::MissingExport {
                    policy: policy.to_owned(),
                    export: export.to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// Advances the engine's epoch every `tick` until the engine is dropped. Holds only a weak
/// reference, so the thread ends with the last `Host` or `Policy` using the engine.
fn start_ticker(engine: &Engine, tick: Duration) -> Result<(), Error> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("aksid-epoch-ticker".into())
        .spawn(move || {
            loop {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .map(drop)
        .map_err(|e| Error::Config(format!("cannot start the epoch ticker thread: {e}")))
}
