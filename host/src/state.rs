//! The data of one instance's store: its resource limiter, the waPC call in progress, what the
//! guest said, and the per-instance WASI state (random generator, clock origin).

use crate::capabilities::HostCallFailure;
use crate::capture::Capture;
use crate::objects::ObjectSet;
use crate::random::Drbg;
use aksid_metadata::ContextAwareResource;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::{Memory, ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// What all instances of one policy share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub allowed: Vec<ContextAwareResource>,
    pub memory_limit: usize,
    pub table_elements_limit: usize,
    pub max_request_size: usize,
    pub max_response_size: usize,
    pub captured_output_limit: usize,
}

impl Shared {
    /// Limits for a store that never runs guest code (listing the linker's definitions).
    pub(crate) fn placeholder() -> Shared {
        Shared {
            allowed: Vec::new(),
            memory_limit: 0,
            table_elements_limit: 0,
            max_request_size: 0,
            max_response_size: 0,
            captured_output_limit: 0,
        }
    }
}

/// Raised by host functions to stop the guest; the instance is then thrown away.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostTrap {
    /// A pointer/length pair outside linear memory.
    #[error("the guest passed the host a pointer outside its memory")]
    OutOfBounds,
    /// No `memory` export to read from.
    #[error("the module exports no memory named `memory`")]
    NoMemory,
    /// `__guest_response` or `__guest_error` larger than `max_response_size`.
    #[error("the guest's response of {0} bytes exceeds the limit")]
    ResponseTooLarge(usize),
    /// A host-call payload larger than `max_request_size`.
    #[error("the guest's host-call payload of {0} bytes exceeds the limit")]
    HostCallTooLarge(usize),
    /// Linear memory plus what the host holds for the guest would pass `memory_limit`.
    #[error("{what} would have brought the guest's memory and host-held data to {size} bytes")]
    HostMemory {
        /// What overflowed.
        what: &'static str,
        /// The total the guest asked for.
        size: usize,
    },
    /// WASI `proc_exit`.
    #[error("the guest called proc_exit({0})")]
    Exit(i32),
    /// AssemblyScript `env.abort`.
    #[error("the guest aborted: {0}")]
    Abort(String),
}

/// `StoreLimits`, remembering whether it refused a growth (so that a guest that aborts after a
/// failed allocation is reported as over its memory limit, not as a generic trap).
///
/// It also refuses a growth that would take linear memory plus the bytes the host holds for
/// the guest (`host_held`, kept up to date by [`State::check_held`]) past the memory limit:
/// one budget covers both.
pub(crate) struct Limiter {
    limits: StoreLimits,
    memory_limit: usize,
    pub host_held: usize,
    pub memory_refused: bool,
    pub table_refused: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?
            && desired.saturating_add(self.host_held) <= self.memory_limit;
        self.memory_refused |= !allowed;
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.memory_refused = true;
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.table_growing(current, desired, maximum)?;
        self.table_refused |= !allowed;
        Ok(allowed)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// The waPC call in progress.
#[derive(Default)]
pub(crate) struct Call {
    pub operation: &'static str,
    pub request: Vec<u8>,
    pub guest_response: Option<Vec<u8>>,
    pub guest_error: Option<String>,
    pub host_response: Vec<u8>,
    pub host_error: Vec<u8>,
}

pub(crate) struct State {
    pub limiter: Limiter,
    pub memory: Option<Memory>,
    pub shared: Arc<Shared>,
    pub call: Call,
    pub capture: Capture,
    pub objects: ObjectSet,
    pub refused: Vec<HostCallFailure>,
    /// Bytes of the records in `refused`.
    pub refused_bytes: usize,
    pub random: Drbg,
    pub clock_origin: Instant,
}

/// What one call left behind, taken out of the state when it ends.
pub(crate) struct Finished {
    pub guest_response: Option<Vec<u8>>,
    pub guest_error: Option<String>,
    pub logs: Vec<crate::LogRecord>,
    pub output: crate::CapturedOutput,
    pub guest_message: Option<String>,
    pub refused: Vec<HostCallFailure>,
    pub memory_refused: bool,
    pub table_refused: bool,
}

impl State {
    pub(crate) fn new(shared: Arc<Shared>) -> State {
        let limits = StoreLimitsBuilder::new()
            .memory_size(shared.memory_limit)
            .table_elements(shared.table_elements_limit)
            .instances(1)
            .memories(1)
            .tables(8)
            .build();
        State {
            limiter: Limiter {
                limits,
                memory_limit: shared.memory_limit,
                host_held: 0,
                memory_refused: false,
                table_refused: false,
            },
            memory: None,
            capture: Capture::new(shared.captured_output_limit),
            shared,
            call: Call::default(),
            objects: ObjectSet::default(),
            refused: Vec::new(),
            refused_bytes: 0,
            random: Drbg::new(),
            clock_origin: Instant::now(),
        }
    }

    /// Prepares a call of `operation` with `request` as its payload.
    pub(crate) fn begin(&mut self, operation: &'static str, request: Vec<u8>, objects: ObjectSet) {
        self.call = Call {
            operation,
            request,
            ..Call::default()
        };
        self.objects = objects;
    }

    /// Bytes the host holds for the guest's current evaluation, the share of the memory budget
    /// that is not linear memory.
    pub(crate) fn held_bytes(&self) -> usize {
        let call = &self.call;
        [
            self.capture.held_bytes(),
            self.refused_bytes,
            call.host_response.len(),
            call.host_error.len(),
            call.guest_response.as_ref().map_or(0, Vec::len),
            call.guest_error.as_ref().map_or(0, String::len),
        ]
        .into_iter()
        .fold(0usize, usize::saturating_add)
    }

    /// Checks that `linear` bytes of linear memory, what the host holds and `adding` more fit
    /// the memory limit, and tells the limiter what the host holds, so that the guest cannot
    /// grow its memory into the host's share. `what` names the data being added.
    pub(crate) fn check_held(
        &mut self,
        linear: usize,
        adding: usize,
        what: &'static str,
    ) -> Result<(), HostTrap> {
        let held = self.held_bytes();
        self.limiter.host_held = held;
        let size = linear.saturating_add(held).saturating_add(adding);
        if size > self.shared.memory_limit {
            return Err(HostTrap::HostMemory { what, size });
        }
        // The caller is about to keep `adding` more bytes.
        self.limiter.host_held = held.saturating_add(adding);
        Ok(())
    }

    /// Records a refused host call, counting the bytes it really occupies: `format!` and
    /// truncation leave spare capacity, which is released first.
    pub(crate) fn refuse(&mut self, mut failure: HostCallFailure) {
        failure.capability.shrink_to_fit();
        failure.message.shrink_to_fit();
        self.refused_bytes = self
            .refused_bytes
            .saturating_add(failure.capability.capacity() + failure.message.capacity())
            .saturating_add(std::mem::size_of::<HostCallFailure>());
        self.refused.push(failure);
    }

    /// Takes what the call produced, leaving the state ready for the next one.
    pub(crate) fn finish(&mut self) -> Finished {
        let call = std::mem::take(&mut self.call);
        let guest_message = self.capture.guest_message();
        let (logs, output) = self.capture.finish();
        self.objects = ObjectSet::default();
        let finished = Finished {
            guest_response: call.guest_response,
            guest_error: call.guest_error,
            logs,
            output,
            guest_message,
            refused: std::mem::take(&mut self.refused),
            memory_refused: self.limiter.memory_refused,
            table_refused: self.limiter.table_refused,
        };
        self.refused_bytes = 0;
        self.limiter.host_held = 0;
        self.limiter.memory_refused = false;
        self.limiter.table_refused = false;
        finished
    }
}
