//! WASI preview 1 (`wasi_snapshot_preview1`), stubbed: every function exists, so modules built
//! by the Rust, Go, TinyGo and AssemblyScript toolchains link, but none reaches the host system.
//!
//! | function | answer |
//! |---|---|
//! | `fd_write` to 1 or 2 | captured into the evaluation's bounded buffers, never the process's streams |
//! | `fd_read` on 0 | end of file |
//! | `fd_fdstat_get`, `fd_filestat_get` on 0–2 | a character device |
//! | `fd_fdstat_set_flags`, `fd_close` on 0–2 | success, no effect |
//! | `fd_seek`, `fd_tell` on 0–2 | `ESPIPE` |
//! | `fd_prestat_get` | `EBADF`: no preopened directory, so no path is ever resolvable |
//! | any other `fd_*`, `path_*`, `sock_*` | `EBADF` |
//! | `args_*`, `environ_*` | empty: no arguments, no environment |
//! | `clock_time_get` | realtime: the real wall clock; monotonic and CPU-time clocks: real time elapsed since the instance started, in nanoseconds |
//! | `clock_res_get` | 1 µs |
//! | `poll_oneoff` | returns at once, every clock subscription reported as elapsed and every fd subscription as `EBADF`: a guest cannot sleep, so no time passes outside wasm, where the timeout holds |
//! | `random_get` | a fixed-seed SHA-256 counter-mode generator (see `Drbg`): reproducible |
//! | `sched_yield` | success |
//! | `proc_exit` | stops the guest; the instance is thrown away (`proc_exit(0)` from `_start` is tolerated, as wasmtime-provider does) |
//! | `proc_raise` | `ENOSYS` |
//!
//! AssemblyScript's `env.abort` (trap with the message), `env.trace` (a log record) and
//! `env.seed` (from the same generator) are provided too.

use crate::capture::LogRecord;
use crate::state::{HostTrap, State};
use crate::wapc::{memory, slice, write};
use std::time::{SystemTime, UNIX_EPOCH};
use wasmtime::{Caller, FuncType, Linker, Val, ValType};

const WASI: &str = "wasi_snapshot_preview1";

const SUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EINVAL: i32 = 28;
const ENOSYS: i32 = 52;
const ESPIPE: i32 = 70;

const FILETYPE_CHARACTER_DEVICE: u8 = 2;
/// POSIX `IOV_MAX`: more iovecs in one `fd_write` is `EINVAL`.
const IOV_MAX: usize = 1024;
/// Most subscriptions one `poll_oneoff` may pass.
const MAX_SUBSCRIPTIONS: usize = 4096;

fn is_stdio(fd: i32) -> bool {
    (0..=2).contains(&fd)
}

/// Functions that only answer an errno, with their parameter types (`i` i32, `I` i64).
const STUBS: &[(&str, &str, i32)] = &[
    ("fd_advise", "iIIi", EBADF),
    ("fd_allocate", "iII", EBADF),
    ("fd_datasync", "i", EBADF),
    ("fd_fdstat_set_rights", "iII", EBADF),
    ("fd_filestat_set_size", "iI", EBADF),
    ("fd_filestat_set_times", "iIIi", EBADF),
    ("fd_pread", "iiiIi", EBADF),
    ("fd_pwrite", "iiiIi", EBADF),
    ("fd_readdir", "iiiIi", EBADF),
    ("fd_renumber", "ii", EBADF),
    ("fd_sync", "i", EBADF),
    ("path_create_directory", "iii", EBADF),
    ("path_filestat_get", "iiiii", EBADF),
    ("path_filestat_set_times", "iiiiIIi", EBADF),
    ("path_link", "iiiiiii", EBADF),
    ("path_open", "iiiiiIIii", EBADF),
    ("path_readlink", "iiiiii", EBADF),
    ("path_remove_directory", "iii", EBADF),
    ("path_rename", "iiiiii", EBADF),
    ("path_symlink", "iiiii", EBADF),
    ("path_unlink_file", "iii", EBADF),
    ("proc_raise", "i", ENOSYS),
    ("sock_accept", "iii", EBADF),
    ("sock_recv", "iiiiii", EBADF),
    ("sock_send", "iiiii", EBADF),
    ("sock_shutdown", "ii", EBADF),
];

fn write_u32(caller: &mut Caller<'_, State>, ptr: i32, value: u32) -> wasmtime::Result<()> {
    let memory = memory(caller)?;
    write(memory.data_mut(&mut *caller), ptr, &value.to_le_bytes())
}

fn write_u64(caller: &mut Caller<'_, State>, ptr: i32, value: u64) -> wasmtime::Result<()> {
    let memory = memory(caller)?;
    write(memory.data_mut(&mut *caller), ptr, &value.to_le_bytes())
}

fn read_u32(data: &[u8], ptr: i32) -> wasmtime::Result<u32> {
    let bytes = slice(data, ptr, 4)?;
    Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    let engine = linker.engine().clone();
    for &(name, params, errno) in STUBS {
        let params = params
            .chars()
            .map(|c| if c == 'I' { ValType::I64 } else { ValType::I32 });
        let ty = FuncType::new(&engine, params, [ValType::I32]);
        linker.func_new(WASI, name, ty, move |_caller, _params, results| {
            results[0] = Val::I32(errno);
            Ok(())
        })?;
    }

    // Arguments and environment: both empty.
    for name in ["args_sizes_get", "environ_sizes_get"] {
        linker.func_wrap(
            WASI,
            name,
            |mut caller: Caller<'_, State>,
             count_ptr: i32,
             size_ptr: i32|
             -> wasmtime::Result<i32> {
                write_u32(&mut caller, count_ptr, 0)?;
                write_u32(&mut caller, size_ptr, 0)?;
                Ok(SUCCESS)
            },
        )?;
    }
    for name in ["args_get", "environ_get"] {
        linker.func_wrap(WASI, name, |_: Caller<'_, State>, _: i32, _: i32| SUCCESS)?;
    }

    // Clocks.
    linker.func_wrap(
        WASI,
        "clock_res_get",
        |mut caller: Caller<'_, State>, id: i32, ptr: i32| -> wasmtime::Result<i32> {
            if !(0..=3).contains(&id) {
                return Ok(EINVAL);
            }
            write_u64(&mut caller, ptr, 1_000)?;
            Ok(SUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "clock_time_get",
        |mut caller: Caller<'_, State>,
         id: i32,
         _precision: i64,
         ptr: i32|
         -> wasmtime::Result<i32> {
            let nanos = match id {
                0 => SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64),
                1..=3 => caller.data().clock_origin.elapsed().as_nanos() as u64,
                _ => return Ok(EINVAL),
            };
            write_u64(&mut caller, ptr, nanos)?;
            Ok(SUCCESS)
        },
    )?;

    // File descriptors: only stdio exists.
    linker.func_wrap(
        WASI,
        "fd_write",
        |mut caller: Caller<'_, State>,
         fd: i32,
         iovs: i32,
         iovs_len: i32,
         nwritten: i32|
         -> wasmtime::Result<i32> {
            if fd != 1 && fd != 2 {
                return Ok(EBADF);
            }
            let count = iovs_len as u32 as usize;
            if count > IOV_MAX {
                return Ok(EINVAL);
            }
            let memory = memory(&mut caller)?;
            let (data, state) = memory.data_and_store_mut(&mut caller);
            let linear = data.len();
            let mut total: u32 = 0;
            for i in 0..count {
                let iov = iovs.wrapping_add((i * 8) as i32);
                let buf = read_u32(data, iov)?;
                let len = read_u32(data, iov.wrapping_add(4))?;
                let bytes = slice(data, buf as i32, len as usize)?;
                state.capture.write(fd as u32, bytes);
                total = total.saturating_add(len);
            }
            state.check_held(linear, 0, "captured output")?;
            write(data, nwritten, &total.to_le_bytes())?;
            Ok(SUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_read",
        |mut caller: Caller<'_, State>,
         fd: i32,
         _iovs: i32,
         _iovs_len: i32,
         nread: i32|
         -> wasmtime::Result<i32> {
            if fd != 0 {
                return Ok(EBADF);
            }
            write_u32(&mut caller, nread, 0)?;
            Ok(SUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_close",
        |_: Caller<'_, State>, fd: i32| {
            if is_stdio(fd) { SUCCESS } else { EBADF }
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_fdstat_set_flags",
        |_: Caller<'_, State>, fd: i32, _flags: i32| if is_stdio(fd) { SUCCESS } else { EBADF },
    )?;
    linker.func_wrap(
        WASI,
        "fd_fdstat_get",
        |mut caller: Caller<'_, State>, fd: i32, ptr: i32| -> wasmtime::Result<i32> {
            if !is_stdio(fd) {
                return Ok(EBADF);
            }
            // fdstat: filetype u8, flags u16 at 2, rights_base u64 at 8, rights_inheriting at 16.
            let mut stat = [0u8; 24];
            stat[0] = FILETYPE_CHARACTER_DEVICE;
            let rights: u64 = if fd == 0 { 1 << 1 } else { 1 << 6 }; // fd_read / fd_write
            stat[8..16].copy_from_slice(&rights.to_le_bytes());
            let memory = memory(&mut caller)?;
            write(memory.data_mut(&mut caller), ptr, &stat)?;
            Ok(SUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_filestat_get",
        |mut caller: Caller<'_, State>, fd: i32, ptr: i32| -> wasmtime::Result<i32> {
            if !is_stdio(fd) {
                return Ok(EBADF);
            }
            // filestat: dev, ino, filetype (u8 at 16), nlink, size, atim, mtim, ctim.
            let mut stat = [0u8; 64];
            stat[16] = FILETYPE_CHARACTER_DEVICE;
            let memory = memory(&mut caller)?;
            write(memory.data_mut(&mut caller), ptr, &stat)?;
            Ok(SUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_prestat_get",
        |_: Caller<'_, State>, _fd: i32, _ptr: i32| EBADF,
    )?;
    linker.func_wrap(
        WASI,
        "fd_prestat_dir_name",
        |_: Caller<'_, State>, _fd: i32, _ptr: i32, _len: i32| EBADF,
    )?;
    linker.func_wrap(
        WASI,
        "fd_seek",
        |_: Caller<'_, State>, fd: i32, _offset: i64, _whence: i32, _ptr: i32| {
            if is_stdio(fd) { ESPIPE } else { EBADF }
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_tell",
        |_: Caller<'_, State>, fd: i32, _ptr: i32| {
            if is_stdio(fd) { ESPIPE } else { EBADF }
        },
    )?;

    // Scheduling and polling: never block.
    linker.func_wrap(WASI, "sched_yield", |_: Caller<'_, State>| SUCCESS)?;
    linker.func_wrap(
        WASI,
        "poll_oneoff",
        |mut caller: Caller<'_, State>,
         subs: i32,
         events: i32,
         count: i32,
         nevents: i32|
         -> wasmtime::Result<i32> {
            let count = count as u32 as usize;
            if count == 0 || count > MAX_SUBSCRIPTIONS {
                return Ok(EINVAL);
            }
            let memory = memory(&mut caller)?;
            let data = memory.data_mut(&mut caller);
            // subscription: userdata u64, tag u8 at 8, union at 16 (size 48);
            // event: userdata u64, errno u16 at 8, type u8 at 10, fd_readwrite at 16 (size 32).
            let subscriptions = slice(data, subs, count * 48)?.to_vec();
            let mut out = vec![0u8; count * 32];
            for (sub, event) in subscriptions.chunks_exact(48).zip(out.chunks_exact_mut(32)) {
                event[0..8].copy_from_slice(&sub[0..8]);
                let tag = sub[8];
                let errno: u16 = if tag == 0 { 0 } else { EBADF as u16 };
                event[8..10].copy_from_slice(&errno.to_le_bytes());
                event[10] = tag;
            }
            write(data, events, &out)?;
            write(data, nevents, &(count as u32).to_le_bytes())?;
            Ok(SUCCESS)
        },
    )?;

    // Process and randomness.
    linker.func_wrap(
        WASI,
        "proc_exit",
        |_: Caller<'_, State>, code: i32| -> wasmtime::Result<()> {
            Err(HostTrap::Exit(code).into())
        },
    )?;
    linker.func_wrap(
        WASI,
        "random_get",
        |mut caller: Caller<'_, State>, ptr: i32, len: i32| -> wasmtime::Result<i32> {
            let memory = memory(&mut caller)?;
            let (data, state) = memory.data_and_store_mut(&mut caller);
            let start = ptr as u32 as usize;
            let out = start
                .checked_add(len as u32 as usize)
                .and_then(|end| data.get_mut(start..end))
                .ok_or_else(|| wasmtime::Error::from(HostTrap::OutOfBounds))?;
            state.random.fill(out);
            Ok(SUCCESS)
        },
    )?;

    add_assemblyscript(linker)
}

/// AssemblyScript's `env` imports. Its strings are UTF-16LE with their byte length in the
/// 4 bytes before the pointer.
fn add_assemblyscript(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    fn string(data: &[u8], ptr: i32) -> String {
        if ptr == 0 {
            return String::new();
        }
        let Ok(len) = read_u32(data, ptr.wrapping_sub(4)) else {
            return String::new();
        };
        let Ok(bytes) = slice(data, ptr, (len as usize).min(4096)) else {
            return String::new();
        };
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    }
    linker.func_wrap(
        "env",
        "abort",
        |mut caller: Caller<'_, State>,
         msg: i32,
         file: i32,
         line: i32,
         column: i32|
         -> wasmtime::Result<()> {
            let memory = memory(&mut caller)?;
            let data = memory.data(&caller);
            let message = format!(
                "{} at {}:{line}:{column}",
                string(data, msg),
                string(data, file)
            );
            Err(HostTrap::Abort(message).into())
        },
    )?;
    linker.func_wrap(
        "env",
        "trace",
        |mut caller: Caller<'_, State>,
         msg: i32,
         n: i32,
         a0: f64,
         a1: f64,
         a2: f64,
         a3: f64,
         a4: f64|
         -> wasmtime::Result<()> {
            let memory = memory(&mut caller)?;
            let (data, state) = memory.data_and_store_mut(&mut caller);
            let mut message = string(data, msg);
            for value in [a0, a1, a2, a3, a4].iter().take(n.clamp(0, 5) as usize) {
                message.push_str(&format!(" {value}"));
            }
            state
                .capture
                .log(message.len(), || LogRecord::console(message.clone()));
            let linear = data.len();
            state.check_held(linear, 0, "log records")?;
            Ok(())
        },
    )?;
    linker.func_wrap("env", "seed", |mut caller: Caller<'_, State>| -> f64 {
        let mut bytes = [0u8; 8];
        caller.data_mut().random.fill(&mut bytes);
        (u64::from_le_bytes(bytes) >> 11) as f64
    })?;
    Ok(())
}
