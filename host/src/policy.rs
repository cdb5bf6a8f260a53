//! A loaded [`Policy`]: its metadata, its pre-linked module and a pool of idle instances. One
//! evaluation is one waPC call on one instance, under the deadline; an instance that trapped,
//! timed out or hit a limit is dropped, and the next evaluation starts a fresh one.

use crate::capabilities::HostCallFailure;
use crate::error::Error;
use crate::objects::ObjectSet;
use crate::runtime::{Runtime, lock};
use crate::state::{Finished, HostTrap, Shared, State};
use crate::verdict::{SettingsVerdict, Verdict, parse_settings, parse_validation, truncate_text};
use aksid_metadata::Metadata;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use wasmtime::{InstancePre, Store, Trap, TypedFunc, WasmBacktrace};

/// A Kubewarden waPC policy, ready to evaluate requests.
///
/// Cheap to clone, `Send + Sync`: evaluate from as many threads as you like; each evaluation
/// takes its own instance from the policy's pool (or starts one), so evaluations never share
/// guest state.
#[derive(Clone)]
pub struct Policy {
    inner: Arc<PolicyInner>,
}

struct PolicyInner {
    host: Arc<Runtime>,
    name: String,
    sha256: String,
    metadata: Metadata,
    source: ModuleSource,
    pre: InstancePre<State>,
    shared: Arc<Shared>,
    pool: Mutex<Vec<Instance>>,
}

/// Where a policy's compiled code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleSource {
    /// Compiled from the wasm bytes by Cranelift.
    Compiled,
    /// Deserialised from the on-disk cache.
    DiskCache,
    /// Already loaded by the same [`Host`].
    MemoryCache,
}

/// An admission request serialised once, to be evaluated by several policies (each with its
/// own settings) without serialising it again: pass it to [`Policy::validate_prepared`].
#[derive(Debug, Clone)]
pub struct PreparedRequest<'a> {
    request: &'a Value,
    json: Vec<u8>,
}

impl<'a> PreparedRequest<'a> {
    /// Serialises `request` (an `AdmissionRequest`, or any JSON for raw policies).
    pub fn new(request: &'a Value) -> PreparedRequest<'a> {
        PreparedRequest {
            request,
            json: serde_json::to_vec(request).unwrap_or_default(),
        }
    }

    /// `{"request": <request>, "settings": <settings or {}>}`.
    fn payload(&self, settings: &Value) -> Vec<u8> {
        const EMPTY: &[u8] = b"{}";
        let settings = if settings.is_null() {
            EMPTY.to_vec()
        } else {
            serde_json::to_vec(settings).unwrap_or_else(|_| EMPTY.to_vec())
        };
        let mut payload = Vec::with_capacity(self.json.len() + settings.len() + 26);
        payload.extend_from_slice(b"{\"request\":");
        payload.extend_from_slice(&self.json);
        payload.extend_from_slice(b",\"settings\":");
        payload.extend_from_slice(&settings);
        payload.push(b'}');
        payload
    }
}

/// One started instance: its store and its waPC entry point.
struct Instance {
    store: Store<State>,
    guest_call: TypedFunc<(i32, i32), i32>,
}

/// A guest call that ran to its end: the guest's response, or the error it returned.
struct Called {
    result: Result<Vec<u8>, String>,
    finished: Finished,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.inner.name)
            .field("sha256", &self.inner.sha256)
            .finish_non_exhaustive()
    }
}

impl Policy {
    pub(crate) fn start(
        host: Arc<Runtime>,
        name: String,
        sha256: String,
        metadata: Metadata,
        source: ModuleSource,
        pre: InstancePre<State>,
        shared: Arc<Shared>,
    ) -> Result<Policy, Error> {
        let policy = Policy {
            inner: Arc::new(PolicyInner {
                host,
                name,
                sha256,
                metadata,
                source,
                pre,
                shared,
                pool: Mutex::new(Vec::new()),
            }),
        };
        let first = policy.instantiate()?;
        policy.recycle(first);
        Ok(policy)
    }

    /// The policy's name: its `io.kubewarden.policy.title`, or the name it was loaded with.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The metadata read from the module's `io.kubewarden.metadata` section.
    pub fn metadata(&self) -> &Metadata {
        &self.inner.metadata
    }

    /// The hex SHA-256 of the module's bytes.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// Whether the module was compiled at load or came from a cache.
    pub fn module_source(&self) -> ModuleSource {
        self.inner.source
    }

    /// Asks the policy whether `settings` are valid (waPC `validate_settings`). `null` means
    /// `{}`. A guest error, such as the SDK's refusal of settings that do not deserialise, is
    /// an invalid verdict with the guest's message, as policy-server reports it.
    pub fn validate_settings(&self, settings: &Value) -> Result<SettingsVerdict, Error> {
        let empty = Value::Object(serde_json::Map::new());
        let settings = if settings.is_null() { &empty } else { settings };
        let payload = serde_json::to_vec(settings).unwrap_or_default();
        let called = self.call("validate_settings", payload, &ObjectSet::default())?;
        let mut verdict = match called.result {
            Ok(bytes) => parse_settings(&bytes).map_err(|reason| Error::BadResponse {
                policy: self.inner.name.clone(),
                operation: "validate_settings",
                reason,
            })?,
            Err(message) => SettingsVerdict {
                valid: false,
                message: Some(message),
                ..SettingsVerdict::default()
            },
        };
        if let Some(message) = &mut verdict.message {
            truncate_text(message, self.inner.host.config.max_message_size);
        }
        verdict.logs = called.finished.logs;
        verdict.output = called.finished.output;
        Ok(verdict)
    }

    /// Evaluates one admission request (waPC `validate`) with the policy's settings (`null`
    /// means `{}`), answering its context-aware lookups from `objects`.
    ///
    /// The payload is `{"request": request, "settings": settings}`, exactly as policy-server
    /// sends it. A mutation is returned as an RFC 6902 patch against `request.object`. To
    /// evaluate one request with several policies, serialise it once with
    /// [`PreparedRequest`] and call [`validate_prepared`](Self::validate_prepared).
    pub fn validate(
        &self,
        request: &Value,
        settings: &Value,
        objects: &ObjectSet,
    ) -> Result<Verdict, Error> {
        self.validate_prepared(&PreparedRequest::new(request), settings, objects)
    }

    /// [`validate`](Self::validate) for a request serialised beforehand.
    pub fn validate_prepared(
        &self,
        request: &PreparedRequest<'_>,
        settings: &Value,
        objects: &ObjectSet,
    ) -> Result<Verdict, Error> {
        let called = self.call("validate", request.payload(settings), objects)?;
        let bytes = match called.result {
            Ok(bytes) => bytes,
            Err(message) => {
                return Err(self.guest_failure("validate", message, called.finished.refused));
            }
        };
        let object = request.request.get("object").unwrap_or(&Value::Null);
        let mut verdict =
            parse_validation(&bytes, object).map_err(|reason| Error::BadResponse {
                policy: self.inner.name.clone(),
                operation: "validate",
                reason,
            })?;
        let limit = self.inner.host.config.max_message_size;
        for text in verdict
            .message
            .iter_mut()
            .chain(verdict.warnings.iter_mut())
        {
            truncate_text(text, limit);
        }
        verdict.logs = called.finished.logs;
        verdict.output = called.finished.output;
        verdict.host_call_failures = called.finished.refused;
        Ok(verdict)
    }

    /// Runs one waPC operation on an idle or fresh instance.
    fn call(
        &self,
        operation: &'static str,
        payload: Vec<u8>,
        objects: &ObjectSet,
    ) -> Result<Called, Error> {
        let inner = &*self.inner;
        let limit = inner.shared.max_request_size;
        if payload.len() > limit {
            return Err(Error::RequestTooLarge {
                policy: inner.name.clone(),
                operation,
                size: payload.len(),
                limit,
            });
        }
        let deadline_ticks = self.deadline_ticks(operation)?;
        let idle = lock(&inner.pool).pop();
        let mut instance = match idle {
            Some(instance) => instance,
            None => self.instantiate()?,
        };
        // Both lengths are at most `max_request_size`, far below 2 GiB in any sane config;
        // the guest reads them as wasm32 `usize`.
        let lengths = (operation.len() as i32, payload.len() as u32 as i32);
        instance
            .store
            .data_mut()
            .begin(operation, payload, objects.clone());
        instance.store.set_epoch_deadline(deadline_ticks);
        let result = instance.guest_call.call(&mut instance.store, lengths);
        let mut finished = instance.store.data_mut().finish();
        let code = match result {
            Ok(code) => code,
            // The instance is dropped here: its state may be inconsistent after a trap.
            Err(error) => return Err(self.trap_error(operation, error, finished)),
        };
        let grew_too_much = finished.memory_refused || finished.table_refused;
        if !grew_too_much {
            self.recycle(instance);
        }
        if code == 1 {
            return match finished.guest_response.take() {
                Some(bytes) => Ok(Called {
                    result: Ok(bytes),
                    finished,
                }),
                None => Err(Error::BadResponse {
                    policy: inner.name.clone(),
                    operation,
                    reason: "the guest reported success without handing over a response".into(),
                }),
            };
        }
        if let Some(limit) = self.limit_error(operation, &finished) {
            return Err(limit);
        }
        let mut message = finished
            .guest_error
            .take()
            .unwrap_or_else(|| "the guest reported a failure without an error message".into());
        truncate_text(&mut message, inner.host.config.max_message_size);
        Ok(Called {
            result: Err(message),
            finished,
        })
    }

    /// Epoch ticks the next guest call may run: the timeout's, cut short by the run deadline;
    /// an error once the run deadline has passed.
    fn deadline_ticks(&self, operation: &'static str) -> Result<u64, Error> {
        let config = &self.inner.host.config;
        let ticks = self.inner.host.deadline_ticks;
        let Some(deadline) = config.run_deadline else {
            return Ok(ticks);
        };
        let remaining = deadline.saturating_duration_since(std::time::Instant::now());
        if remaining.is_zero() {
            return Err(Error::Deadline {
                policy: self.inner.name.clone(),
                operation,
            });
        }
        let tick = config.epoch_tick.as_nanos().max(1);
        let left = u64::try_from(remaining.as_nanos().div_ceil(tick)).unwrap_or(u64::MAX);
        Ok(ticks.min(left.max(1)))
    }

    /// Gives an instance back to the pool, unless the pool is full or the instance's memory
    /// grew past `max_idle_memory` (wasm memory never shrinks: keeping it would pin the
    /// memory of the largest evaluation for the rest of the run).
    fn recycle(&self, instance: Instance) {
        let config = &self.inner.host.config;
        let size = instance
            .store
            .data()
            .memory
            .map_or(0, |memory| memory.data_size(&instance.store));
        if size > config.max_idle_memory {
            return;
        }
        let mut pool = lock(&self.inner.pool);
        if pool.len() < config.max_idle_instances {
            pool.push(instance);
        }
    }

    /// A fresh instance from the pre-linked module, started as waPC starts guests: `_start`
    /// (or `_initialize` for a WASI reactor) then `wapc_init`, each if exported, each under the
    /// deadline.
    fn instantiate(&self) -> Result<Instance, Error> {
        let inner = &*self.inner;
        let mut store = Store::new(&inner.host.engine, State::new(inner.shared.clone()));
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(inner.host.deadline_ticks);
        let instance = match inner.pre.instantiate(&mut store) {
            Ok(instance) => instance,
            Err(error) => {
                let finished = store.data_mut().finish();
                return Err(self.trap_error("instantiate", error, finished));
            }
        };
        let missing = |export: &str| Error::MissingExport {
            policy: inner.name.clone(),
            export: export.into(),
        };
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| missing("memory"))?;
        store.data_mut().memory = Some(memory);
        let signature = |export: &str, e: wasmtime::Error| Error::Instantiate {
            policy: inner.name.clone(),
            reason: format!("`{export}` has an unexpected signature: {e}"),
        };
        let guest_call = instance
            .get_typed_func::<(i32, i32), i32>(&mut store, "__guest_call")
            .map_err(|e| signature("__guest_call", e))?;
        let starts: [&'static str; 2] = if instance.get_func(&mut store, "_start").is_some() {
            ["_start", "wapc_init"]
        } else {
            ["_initialize", "wapc_init"]
        };
        for start in starts {
            let Some(func) = instance.get_func(&mut store, start) else {
                continue;
            };
            let func = func
                .typed::<(), ()>(&store)
                .map_err(|e| signature(start, e))?;
            store
                .data_mut()
                .begin(start, Vec::new(), ObjectSet::default());
            store.set_epoch_deadline(inner.host.deadline_ticks);
            let result = func.call(&mut store, ());
            let finished = store.data_mut().finish();
            match result {
                Ok(()) => {}
                // A command's `_start` may end with `proc_exit(0)`, as wasmtime-provider allows.
                Err(e)
                    if start == "_start" && matches!(e.downcast_ref(), Some(HostTrap::Exit(0))) => {
                }
                Err(e) => return Err(self.trap_error(start, e, finished)),
            }
        }
        Ok(Instance { store, guest_call })
    }

    fn limit_error(&self, operation: &'static str, finished: &Finished) -> Option<Error> {
        let config = &self.inner.host.config;
        if finished.memory_refused {
            Some(Error::MemoryLimit {
                policy: self.inner.name.clone(),
                operation,
                limit: config.memory_limit,
            })
        } else if finished.table_refused {
            Some(Error::TableLimit {
                policy: self.inner.name.clone(),
                operation,
                limit: config.table_elements_limit,
            })
        } else {
            None
        }
    }

    /// The limit a trapped call ran into, if any: the run deadline, the timeout, the memory
    /// budget (linear or host-held), the table limit or the response size.
    fn resource_error(
        &self,
        operation: &'static str,
        error: &wasmtime::Error,
        finished: &Finished,
    ) -> Option<Error> {
        let policy = self.inner.name.clone();
        let config = &self.inner.host.config;
        if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            let deadline_passed = config
                .run_deadline
                .is_some_and(|deadline| std::time::Instant::now() >= deadline);
            return Some(if deadline_passed {
                Error::Deadline { policy, operation }
            } else {
                Error::Timeout {
                    policy,
                    operation,
                    timeout: config.timeout,
                }
            });
        }
        match error.downcast_ref::<HostTrap>() {
            Some(&HostTrap::HostMemory { what, size }) => Some(Error::HostMemoryLimit {
                policy,
                operation,
                what,
                size,
                limit: self.inner.shared.memory_limit,
            }),
            _ if finished.memory_refused || finished.table_refused => {
                self.limit_error(operation, finished)
            }
            Some(&HostTrap::ResponseTooLarge(size)) => Some(Error::ResponseTooLarge {
                policy,
                operation,
                size,
                limit: self.inner.shared.max_response_size,
            }),
            _ => None,
        }
    }

    /// Classifies a call that ended in a trap (or another error raised inside wasmtime).
    fn trap_error(
        &self,
        operation: &'static str,
        error: wasmtime::Error,
        finished: Finished,
    ) -> Error {
        if let Some(limit) = self.resource_error(operation, &error, &finished) {
            return limit;
        }
        let policy = self.inner.name.clone();
        let trap = error.downcast_ref::<Trap>().copied();
        let host_trap = error.downcast_ref::<HostTrap>();
        let backtrace: Vec<String> = error
            .downcast_ref::<WasmBacktrace>()
            .map(|backtrace| {
                backtrace
                    .frames()
                    .iter()
                    .map(|frame| match frame.func_name() {
                        Some(name) => name.to_owned(),
                        None => format!("<wasm function {}>", frame.func_index()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut reason = match (trap, host_trap) {
            (Some(trap), _) => trap.to_string(),
            (None, Some(host_trap)) => host_trap.to_string(),
            (None, None) => format!("{:#}", error.root_cause()),
        };
        if let Some(innermost) = backtrace.first() {
            reason.push_str(&format!(" (in {innermost})"));
        }
        if let Some(failure) = finished.refused.into_iter().next() {
            return Error::HostCapability {
                policy,
                operation,
                capability: failure.capability,
                message: failure.message,
                guest_message: finished.guest_message.or(Some(reason)),
            };
        }
        Error::Trap {
            policy,
            operation,
            trap,
            reason,
            guest_message: finished.guest_message,
            backtrace,
        }
    }

    /// The error for a guest that returned an error: the refused host call behind it if there
    /// was one, else the guest's own message.
    fn guest_failure(
        &self,
        operation: &'static str,
        message: String,
        refused: Vec<HostCallFailure>,
    ) -> Error {
        match refused.into_iter().next() {
            Some(failure) => Error::HostCapability {
                policy: self.inner.name.clone(),
                operation,
                capability: failure.capability,
                message: failure.message,
                guest_message: Some(message),
            },
            None => Error::Guest {
                policy: self.inner.name.clone(),
                operation,
                message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn policies_and_hosts_are_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Policy>();
        assert_send_sync::<crate::Host>();
        assert_send_sync::<crate::ObjectSet>();
    }
}
