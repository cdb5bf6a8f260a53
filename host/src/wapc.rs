//! The waPC host imports (module `wapc`), as wasmtime-provider implements them, plus the
//! guest-memory helpers every host function uses.
//!
//! Every pointer a guest passes is bounds-checked against its linear memory; a bad one stops
//! the guest with a trap (and its instance is thrown away) instead of being clamped. Sizes are
//! checked against the host's limits before anything is copied.

use crate::capabilities::{self, Answer};
use crate::capture::LogRecord;
use crate::state::{HostTrap, State};
use wasmtime::{Caller, Extern, Linker, Memory};

/// The guest's `memory` export (cached in the state after instantiation).
pub(crate) fn memory(caller: &mut Caller<'_, State>) -> wasmtime::Result<Memory> {
    if let Some(memory) = caller.data().memory {
        return Ok(memory);
    }
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => {
            caller.data_mut().memory = Some(memory);
            Ok(memory)
        }
        _ => Err(HostTrap::NoMemory.into()),
    }
}

/// `len` bytes at `ptr` in `data`, or an out-of-bounds trap.
pub(crate) fn slice(data: &[u8], ptr: i32, len: usize) -> wasmtime::Result<&[u8]> {
    let start = ptr as u32 as usize;
    start
        .checked_add(len)
        .and_then(|end| data.get(start..end))
        .ok_or_else(|| HostTrap::OutOfBounds.into())
}

/// Copies `bytes` into `data` at `ptr`, or an out-of-bounds trap.
pub(crate) fn write(data: &mut [u8], ptr: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let start = ptr as u32 as usize;
    start
        .checked_add(bytes.len())
        .and_then(|end| data.get_mut(start..end))
        .ok_or_else(|| wasmtime::Error::from(HostTrap::OutOfBounds))?
        .copy_from_slice(bytes);
    Ok(())
}

/// Copies `len` bytes at `ptr` out of guest memory.
pub(crate) fn read(
    caller: &mut Caller<'_, State>,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<Vec<u8>> {
    let memory = memory(caller)?;
    Ok(slice(memory.data(&*caller), ptr, len as u32 as usize)?.to_vec())
}

/// Longest binding, namespace or operation name kept: Kubewarden's are a few bytes, and a
/// longer one is only ever quoted back in a refusal.
const MAX_NAME: usize = 256;

/// A host-call name as text, cut to [`MAX_NAME`] bytes so that no refusal quotes megabytes.
fn name_text(bytes: &[u8]) -> String {
    if bytes.len() <= MAX_NAME {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    format!(
        "{}… ({} bytes)",
        String::from_utf8_lossy(&bytes[..MAX_NAME]),
        bytes.len()
    )
}

fn length(len: i32) -> usize {
    len as u32 as usize
}

fn length_i32(len: usize) -> i32 {
    // Host responses are bounded by guest memory (< 4 GiB), so they fit in a wasm32 usize.
    len as u32 as i32
}

pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "wapc",
        "__guest_request",
        |mut caller: Caller<'_, State>, op_ptr: i32, ptr: i32| -> wasmtime::Result<()> {
            let memory = memory(&mut caller)?;
            let (data, state) = memory.data_and_store_mut(&mut caller);
            write(data, op_ptr, state.call.operation.as_bytes())?;
            write(data, ptr, &state.call.request)
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__guest_response",
        |mut caller: Caller<'_, State>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let len = length(len);
            if len > caller.data().shared.max_response_size {
                return Err(HostTrap::ResponseTooLarge(len).into());
            }
            let linear = memory(&mut caller)?.data_size(&caller);
            let state = caller.data_mut();
            state.call.guest_response = None;
            state.check_held(linear, len, "the guest's response")?;
            let bytes = read(&mut caller, ptr, len as i32)?;
            caller.data_mut().call.guest_response = Some(bytes);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__guest_error",
        |mut caller: Caller<'_, State>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let len = length(len);
            if len > caller.data().shared.max_response_size {
                return Err(HostTrap::ResponseTooLarge(len).into());
            }
            let linear = memory(&mut caller)?.data_size(&caller);
            let state = caller.data_mut();
            state.call.guest_error = None;
            // Lossy decoding may grow invalid bytes threefold (U+FFFD): count the worst case.
            state.check_held(linear, len.saturating_mul(3), "the guest's error")?;
            let bytes = read(&mut caller, ptr, len as i32)?;
            caller.data_mut().call.guest_error = Some(String::from_utf8_lossy(&bytes).into_owned());
            Ok(())
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_call",
        |mut caller: Caller<'_, State>,
         bd_ptr: i32,
         bd_len: i32,
         ns_ptr: i32,
         ns_len: i32,
         op_ptr: i32,
         op_len: i32,
         ptr: i32,
         len: i32|
         -> wasmtime::Result<i32> {
            let limit = caller.data().shared.max_request_size;
            let too_large = [bd_len, ns_len, op_len, len]
                .into_iter()
                .map(length)
                .find(|&n| n > limit);
            if let Some(size) = too_large {
                return Err(HostTrap::HostCallTooLarge(size).into());
            }
            let memory = memory(&mut caller)?;
            let (data, state) = memory.data_and_store_mut(&mut caller);
            let linear = data.len();
            let text = |ptr, len| -> wasmtime::Result<String> {
                Ok(name_text(slice(data, ptr, length(len))?))
            };
            let binding = text(bd_ptr, bd_len)?;
            let namespace = text(ns_ptr, ns_len)?;
            let operation = text(op_ptr, op_len)?;
            let payload = slice(data, ptr, length(len))?;
            // Assigned, not cleared: a cleared Vec would keep its capacity, uncounted.
            state.call.host_response = Vec::new();
            state.call.host_error = Vec::new();
            let context = capabilities::Context {
                objects: &state.objects,
                allowed: &state.shared.allowed,
                capture: &mut state.capture,
            };
            let answer = capabilities::dispatch(context, &binding, &namespace, &operation, payload);
            let is_log = binding == "kubewarden" && namespace == "tracing" && operation == "log";
            let (code, what) = match answer {
                Answer::Ok(bytes) => {
                    state.call.host_response = bytes;
                    (
                        1,
                        if is_log {
                            "log records"
                        } else {
                            "a host-call answer"
                        },
                    )
                }
                Answer::NotFound(message) => {
                    state.call.host_error = message.into_bytes();
                    (0, "a host-call answer")
                }
                Answer::Refused(failure) => {
                    state.call.host_error = failure.message.clone().into_bytes();
                    state.refuse(failure);
                    (0, "refused host calls")
                }
            };
            state.check_held(linear, 0, what)?;
            Ok(code)
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_response_len",
        |caller: Caller<'_, State>| -> i32 { length_i32(caller.data().call.host_response.len()) },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_response",
        |mut caller: Caller<'_, State>, ptr: i32| -> wasmtime::Result<()> {
            let memory = memory(&mut caller)?;
            let (data, state) = memory.data_and_store_mut(&mut caller);
            write(data, ptr, &state.call.host_response)
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_error_len",
        |caller: Caller<'_, State>| -> i32 { length_i32(caller.data().call.host_error.len()) },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_error",
        |mut caller: Caller<'_, State>, ptr: i32| -> wasmtime::Result<()> {
            let memory = memory(&mut caller)?;
            let (data, state) = memory.data_and_store_mut(&mut caller);
            write(data, ptr, &state.call.host_error)
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__console_log",
        |mut caller: Caller<'_, State>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let memory = memory(&mut caller)?;
            let (data, state) = memory.data_and_store_mut(&mut caller);
            let bytes = slice(data, ptr, length(len))?;
            state.capture.log(bytes.len(), || {
                LogRecord::console(String::from_utf8_lossy(bytes).into_owned())
            });
            let linear = data.len();
            state.check_held(linear, 0, "log records")?;
            Ok(())
        },
    )?;
    Ok(())
}
