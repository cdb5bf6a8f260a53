// The evaluation worker: instantiates the policy modules on the browser's WebAssembly engine,
// supplies the waPC imports and WASI preview 1 stubs exactly as aksid-host does (host/src/wapc.rs,
// host/src/wasi.rs), and runs the guest calls the Rust session plans. It runs off the page's
// thread so that a looping guest can be stopped by terminating the worker (see app.js).
import init, { Session, Random } from './aksid_browser.js';

const SUCCESS = 0, EBADF = 8, EINVAL = 28, ENOSYS = 52, ESPIPE = 70;
const MAX_SIZE = 16 << 20; // max_request_size and max_response_size of the wasmtime host
const IOV_MAX = 1024, MAX_SUBSCRIPTIONS = 4096;
const ready = init({ module_or_path: './aksid_browser_bg.wasm' });
let session = null;
const modules = []; // WebAssembly.Module per policy index
const names = [];
const idle = []; // one reusable instance per policy, as the host's pool

/** A trap raised by a host function, worded as wasmtime-host's HostTrap. */
class HostTrap extends Error {}

function stubErrno(errno) { return () => errno; }

const WASI_ERRNO_STUBS = {
  fd_advise: EBADF, fd_allocate: EBADF, fd_datasync: EBADF, fd_fdstat_set_rights: EBADF,
  fd_filestat_set_size: EBADF, fd_filestat_set_times: EBADF, fd_pread: EBADF, fd_pwrite: EBADF,
  fd_readdir: EBADF, fd_renumber: EBADF, fd_sync: EBADF, path_create_directory: EBADF,
  path_filestat_get: EBADF, path_filestat_set_times: EBADF, path_link: EBADF, path_open: EBADF,
  path_readlink: EBADF, path_remove_directory: EBADF, path_rename: EBADF, path_symlink: EBADF,
  path_unlink_file: EBADF, proc_raise: ENOSYS, sock_accept: EBADF, sock_recv: EBADF,
  sock_send: EBADF, sock_shutdown: EBADF,
};

/** The import object of one instance of policy `p`; `st` is the instance's state. */
function imports(p, st) {
  const mem = () => {
    if (!st.memory) throw new HostTrap('the module exports no memory named `memory`');
    return new Uint8Array(st.memory.buffer);
  };
  const view = () => new DataView(st.memory.buffer);
  const slice = (ptr, len) => {
    const data = mem();
    const start = ptr >>> 0, end = start + (len >>> 0);
    if (end > data.length) throw new HostTrap('the guest passed the host a pointer outside its memory');
    return data.subarray(start, end);
  };
  const write = (ptr, bytes) => { slice(ptr, bytes.length).set(bytes); };
  const u32 = (ptr, value) => { slice(ptr, 4); view().setUint32(ptr >>> 0, value >>> 0, true); };
  const u64 = (ptr, value) => { slice(ptr, 8); view().setBigUint64(ptr >>> 0, BigInt(value), true); };
  const readU32 = (ptr) => { slice(ptr, 4); return view().getUint32(ptr >>> 0, true); };
  const text = (ptr, len) => new TextDecoder().decode(slice(ptr, len));
  const isStdio = (fd) => fd >= 0 && fd <= 2;
  const wasi = {};
  for (const [name, errno] of Object.entries(WASI_ERRNO_STUBS)) wasi[name] = stubErrno(errno);
  Object.assign(wasi, {
    args_sizes_get: (c, s) => { u32(c, 0); u32(s, 0); return SUCCESS; },
    environ_sizes_get: (c, s) => { u32(c, 0); u32(s, 0); return SUCCESS; },
    args_get: () => SUCCESS,
    environ_get: () => SUCCESS,
    clock_res_get: (id, ptr) => { if (id < 0 || id > 3) return EINVAL; u64(ptr, 1000); return SUCCESS; },
    clock_time_get: (id, _precision, ptr) => {
      let nanos;
      if (id === 0) nanos = BigInt(Date.now()) * 1000000n;
      else if (id >= 1 && id <= 3) nanos = BigInt(Math.round((performance.now() - st.origin) * 1e6));
      else return EINVAL;
      u64(ptr, nanos);
      return SUCCESS;
    },
    fd_write: (fd, iovs, count, nwritten) => {
      if (fd !== 1 && fd !== 2) return EBADF;
      if ((count >>> 0) > IOV_MAX) return EINVAL;
      let total = 0;
      for (let i = 0; i < count; i++) {
        const buf = readU32(iovs + i * 8), len = readU32(iovs + i * 8 + 4);
        session.writeOutput(fd, slice(buf, len));
        total = Math.min(total + len, 0xffffffff);
      }
      u32(nwritten, total);
      return SUCCESS;
    },
    fd_read: (fd, _iovs, _len, nread) => { if (fd !== 0) return EBADF; u32(nread, 0); return SUCCESS; },
    fd_close: (fd) => (isStdio(fd) ? SUCCESS : EBADF),
    fd_fdstat_set_flags: (fd) => (isStdio(fd) ? SUCCESS : EBADF),
    fd_fdstat_get: (fd, ptr) => {
      if (!isStdio(fd)) return EBADF;
      const stat = new Uint8Array(24);
      stat[0] = 2; // character device
      new DataView(stat.buffer).setBigUint64(8, fd === 0 ? 2n : 64n, true);
      write(ptr, stat);
      return SUCCESS;
    },
    fd_filestat_get: (fd, ptr) => {
      if (!isStdio(fd)) return EBADF;
      const stat = new Uint8Array(64);
      stat[16] = 2;
      write(ptr, stat);
      return SUCCESS;
    },
    fd_prestat_get: () => EBADF,
    fd_prestat_dir_name: () => EBADF,
    fd_seek: (fd) => (isStdio(fd) ? ESPIPE : EBADF),
    fd_tell: (fd) => (isStdio(fd) ? ESPIPE : EBADF),
    sched_yield: () => SUCCESS,
    // Never blocks: every clock subscription has elapsed, every fd subscription is EBADF.
    poll_oneoff: (subs, events, count, nevents) => {
      count >>>= 0;
      if (count === 0 || count > MAX_SUBSCRIPTIONS) return EINVAL;
      const subscriptions = slice(subs, count * 48).slice();
      const out = new Uint8Array(count * 32);
      for (let i = 0; i < count; i++) {
        const sub = subscriptions.subarray(i * 48, i * 48 + 48);
        const event = out.subarray(i * 32, i * 32 + 32);
        event.set(sub.subarray(0, 8), 0);
        const tag = sub[8];
        new DataView(out.buffer).setUint16(i * 32 + 8, tag === 0 ? 0 : EBADF, true);
        event[10] = tag;
      }
      write(events, out);
      u32(nevents, count);
      return SUCCESS;
    },
    proc_exit: (code) => { throw new HostTrap(`the guest called proc_exit(${code | 0})`); },
    random_get: (ptr, len) => { write(ptr, st.random.bytes(len >>> 0)); return SUCCESS; },
  });
  const asString = (ptr) => {
    if (ptr === 0) return '';
    try {
      const len = Math.min(readU32(ptr - 4), 4096);
      const bytes = slice(ptr, len & ~1);
      return String.fromCharCode(...new Uint16Array(bytes.slice().buffer));
    } catch (_) { return ''; }
  };
  const env = {
    abort: (msg, file, line, column) => {
      throw new HostTrap(`the guest aborted: ${asString(msg)} at ${asString(file)}:${line}:${column}`);
    },
    trace: () => {},
    seed: () => {
      const b = st.random.bytes(8);
      return Number(new DataView(b.buffer).getBigUint64(0, true) >> 11n);
    },
  };
  const wapc = {
    __guest_request: (opPtr, ptr) => { write(opPtr, st.operation); write(ptr, st.request); },
    __guest_response: (ptr, len) => {
      if ((len >>> 0) > MAX_SIZE) throw new HostTrap(`the guest's response of ${len >>> 0} bytes exceeds the limit`);
      st.response = slice(ptr, len).slice();
    },
    __guest_error: (ptr, len) => {
      if ((len >>> 0) > MAX_SIZE) throw new HostTrap(`the guest's response of ${len >>> 0} bytes exceeds the limit`);
      st.error = text(ptr, len);
    },
    __host_call: (bdPtr, bdLen, nsPtr, nsLen, opPtr, opLen, ptr, len) => {
      for (const n of [bdLen, nsLen, opLen, len]) {
        if ((n >>> 0) > MAX_SIZE) throw new HostTrap(`the guest's host-call payload of ${n >>> 0} bytes exceeds the limit`);
      }
      const binding = text(bdPtr, bdLen), ns = text(nsPtr, nsLen), op = text(opPtr, opLen);
      const payload = slice(ptr, len).slice();
      try {
        st.hostResponse = session.hostCall(p, binding, ns, op, payload);
        st.hostError = new Uint8Array(0);
        return 1;
      } catch (message) {
        st.hostResponse = new Uint8Array(0);
        st.hostError = new TextEncoder().encode(String(message));
        return 0;
      }
    },
    __host_response_len: () => st.hostResponse.length,
    __host_response: (ptr) => write(ptr, st.hostResponse),
    __host_error_len: () => st.hostError.length,
    __host_error: (ptr) => write(ptr, st.hostError),
    __console_log: (ptr, len) => { slice(ptr, len); },
  };
  return { wapc, wasi_snapshot_preview1: wasi, env };
}

/** wasmtime's words for the trap the browser's engine raised. */
function trapReason(error) {
  if (error instanceof HostTrap) return error.message;
  const m = String(error && error.message || error);
  const table = [
    [/unreachable/i, 'wasm `unreachable` instruction executed'],
    [/out of bounds|memory access/i, 'out of bounds memory access'],
    [/divide by zero|division by zero/i, 'integer divide by zero'],
    [/integer overflow/i, 'integer overflow'],
    [/call stack|too much recursion/i, 'call stack exhausted'],
    [/signature mismatch|null function/i, 'indirect call type mismatch'],
    [/float unrepresentable|invalid conversion/i, 'invalid conversion to integer'],
  ];
  for (const [re, words] of table) if (re.test(m)) return words;
  return m;
}

/** Tells the page which guest call runs now, so it can stop the worker at the time limit. */
function phase(call, operation) { postMessage({ type: 'phase', call, operation }); }

/** A fresh instance of policy `p`, started as waPC starts guests; throws an outcome. */
function instantiate(p, call) {
  const st = { memory: null, random: new Random(), origin: performance.now(), hostResponse: new Uint8Array(0), hostError: new Uint8Array(0) };
  let instance;
  try {
    instance = new WebAssembly.Instance(modules[p], imports(p, st));
  } catch (e) {
    throw { kind: 'load', message: `policy ${names[p]}: could not be instantiated: ${e.message}` };
  }
  const { memory, __guest_call: guestCall } = instance.exports;
  if (!(memory instanceof WebAssembly.Memory)) {
    throw { kind: 'load', message: `policy ${names[p]}: the module does not export \`memory\`, which every waPC policy exports` };
  }
  if (typeof guestCall !== 'function') {
    throw { kind: 'load', message: `policy ${names[p]}: the module does not export \`__guest_call\`, which every waPC policy exports` };
  }
  st.memory = memory;
  const starts = instance.exports._start ? ['_start', 'wapc_init'] : ['_initialize', 'wapc_init'];
  for (const start of starts) {
    const func = instance.exports[start];
    if (typeof func !== 'function') continue;
    phase(call, start);
    session.startCall();
    st.operation = new Uint8Array(0);
    st.request = new Uint8Array(0);
    try {
      func();
    } catch (e) {
      // A command's `_start` may end with proc_exit(0), as wasmtime-provider allows.
      if (start === '_start' && e instanceof HostTrap && /proc_exit\(0\)/.test(e.message)) continue;
      throw { kind: 'trap', operation: start, reason: trapReason(e) };
    }
  }
  return { st, guestCall };
}

/** Runs one waPC operation of policy `p`; returns the outcome the Rust session reads. */
function guestCall(p, call, operation, payload) {
  let instance = idle[p];
  idle[p] = null;
  try {
    if (!instance) instance = instantiate(p, call);
  } catch (outcome) {
    return outcome;
  }
  phase(call, operation);
  session.startCall();
  const st = instance.st;
  st.operation = new TextEncoder().encode(operation);
  st.request = new TextEncoder().encode(payload);
  st.response = null;
  st.error = null;
  let code;
  try {
    code = instance.guestCall(st.operation.length, st.request.length);
  } catch (e) {
    // The instance is dropped: its state may be inconsistent after a trap.
    return { kind: 'trap', operation, reason: trapReason(e) };
  }
  idle[p] = instance;
  if (code === 1) {
    if (st.response === null) return { kind: 'noResponse', operation };
    return { kind: 'response', response: new TextDecoder().decode(st.response) };
  }
  return { kind: 'guestError', message: st.error };
}

function addPolicy({ name, bytes, metadata }) {
  const description = JSON.parse(session.addPolicy(name, new Uint8Array(bytes), metadata ?? undefined));
  let module;
  try {
    module = new WebAssembly.Module(bytes);
  } catch (e) {
    throw new Error(`policy ${description.id}: not a valid WebAssembly module: ${e.message}`);
  }
  const provided = imports(0, { random: null });
  for (const imp of WebAssembly.Module.imports(module)) {
    const ok = provided[imp.module] && imp.kind === 'function' && typeof provided[imp.module][imp.name] === 'function';
    if (!ok) {
      throw new Error(`policy ${description.id}: the module imports ${imp.kind} \`${imp.module}::${imp.name}\`, which aksid does not provide (it links only waPC and stubbed WASI: no filesystem, environment or network)`);
    }
  }
  modules[description.index] = module;
  names[description.index] = description.id;
  idle[description.index] = null;
  return description;
}

/** One check: plan, settings, evaluations, report. `skip` maps call numbers to outcomes the page
 * already knows (a call that ran past the time limit in an earlier worker). */
function check({ text, options, skip }) {
  const plan = JSON.parse(session.begin(text, JSON.stringify(options || {})));
  let call = 0;
  const run = (item, operation) => {
    const known = skip && skip[call];
    const outcome = known || guestCall(item.policy, call, operation, item.payload);
    call += 1;
    return JSON.stringify(outcome);
  };
  for (const item of plan.settings) {
    const outcome = run(item, 'validate_settings');
    session.settingsOutcome(item.policy, outcome);
  }
  plan.evaluations.forEach((item, i) => session.record(i, run(item, 'validate')));
  phase(-1, 'report');
  return session.report();
}

onmessage = async (event) => {
  const { id, type } = event.data;
  try {
    await ready;
    if (!session) session = new Session();
    let result;
    if (type === 'addPolicy') result = addPolicy(event.data);
    else if (type === 'check') result = check(event.data);
    else throw new Error(`unknown request ${type}`);
    postMessage({ type: 'done', id, result });
  } catch (e) {
    postMessage({ type: 'failed', id, message: e instanceof Error ? e.message : String(e) });
  }
};
