// The playground page: the editor, the findings, settings, user and groups, explain texts, the
// user's own modules, share links, and `window.aksid` for automation. Every check runs in
// worker.js; a guest call that passes the time limit is stopped by terminating the worker, and the
// check resumes in a fresh one with that call recorded as timed out, as the CLI records it.

const BUILT_IN = ['no-local-accounts', 'no-cluster-admin-users', 'workload-identity-labels', 'no-plaintext-secret-env'];
const DEFAULT_TIMEOUT_MS = 2000;
const $ = (id) => document.getElementById(id);

/** The policy modules of the page, in session order: { name, bytes, metadata }. */
const sources = [];
/** Their descriptions, as the worker returned them. */
let policies = [];

// ---- the worker ------------------------------------------------------------------------------

let worker = null;
let nextId = 1;
const pending = new Map();
let watch = null; // { call, operation, timer } of the guest call in progress

function startWorker() {
  worker = new Worker('./worker.js', { type: 'module' });
  worker.onmessage = (event) => {
    const msg = event.data;
    if (msg.type === 'phase') return onPhase(msg);
    const waiter = pending.get(msg.id);
    if (!waiter) return;
    pending.delete(msg.id);
    if (msg.type === 'done') waiter.resolve(msg.result);
    else waiter.reject(new Error(msg.message));
  };
}

function request(message) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ ...message, id });
  });
}

let timeoutMs = DEFAULT_TIMEOUT_MS;
let onTimeout = null;

function onPhase({ call, operation }) {
  if (watch) clearTimeout(watch.timer);
  watch = null;
  if (call < 0) return;
  watch = { call, operation, timer: setTimeout(() => onTimeout && onTimeout(call, operation), timeoutMs) };
}

/** A fresh worker with every module of the page loaded. */
async function restartWorker() {
  if (worker) worker.terminate();
  for (const waiter of pending.values()) waiter.reject(new Error('the worker was restarted'));
  pending.clear();
  startWorker();
  const described = [];
  for (const source of sources) described.push(await request({ type: 'addPolicy', ...source }));
  return described;
}

// ---- checks ----------------------------------------------------------------------------------

let queue = Promise.resolve();

/** The JSON report of `kubectl aksid check -o json` for `text` (see README). */
function check(text, options = {}) {
  const run = queue.then(() => runCheck(String(text), options));
  queue = run.catch(() => {});
  return run;
}

/** How many guest calls the last check stopped at the time limit. */
let stoppedCalls = 0;

async function runCheck(text, options) {
  await loaded;
  timeoutMs = options.timeoutMs || DEFAULT_TIMEOUT_MS;
  stoppedCalls = 0;
  const skip = {};
  for (;;) {
    let timedOut = null;
    const stopped = new Promise((resolve) => {
      onTimeout = (call, operation) => { timedOut = { call, operation }; resolve(null); };
    });
    const result = await Promise.race([request({ type: 'check', text, options, skip }), stopped]);
    onTimeout = null;
    if (watch) clearTimeout(watch.timer);
    watch = null;
    if (!timedOut) return JSON.parse(result);
    // The guest ran past the limit: stop it with its worker, and resume in a fresh one.
    skip[timedOut.call] = { kind: 'timeout', operation: timedOut.operation };
    stoppedCalls += 1;
    notice(`a policy ran past the ${timeoutMs / 1000} s time limit and was stopped`);
    await restartWorker();
  }
}

// ---- policies --------------------------------------------------------------------------------

async function loadBuiltIns() {
  for (const id of BUILT_IN) {
    const response = await fetch(`./policies/${id}.wasm`);
    if (!response.ok) throw new Error(`policies/${id}.wasm: HTTP ${response.status}`);
    sources.push({ name: `${id}.wasm`, bytes: await response.arrayBuffer(), metadata: null });
  }
  policies = await restartWorker();
}

/** Adds a user's module (annotated, or with its metadata.yml text), as `--policy` does. */
async function addPolicy(name, bytes, metadata = null) {
  const source = { name, bytes, metadata };
  const description = await request({ type: 'addPolicy', ...source });
  if (description.replaced) sources[description.index] = source;
  else sources.push(source);
  policies[description.index] = description;
  renderPolicies();
  return description;
}

// ---- the page --------------------------------------------------------------------------------

const state = { settings: {} };

function notice(text) {
  $('status').textContent = text;
}

function options() {
  return {
    file: $('file-name').value || 'playground.yaml',
    settings: state.settings,
    user: $('user').value || undefined,
    groups: $('groups').value.split(',').map((g) => g.trim()).filter(Boolean),
    namespace: $('namespace').value || undefined,
  };
}

async function runFromPage() {
  const started = performance.now();
  notice('checking…');
  try {
    const report = await check($('editor').value, options());
    renderReport(report);
    const ms = Math.round(performance.now() - started);
    const s = report.summary;
    const summary = `${s.objects} objects · ${s.evaluations} evaluations · ${s.rejected} rejected · ${s.errors} errors (${ms} ms)`;
    notice(stoppedCalls
      ? `${stoppedCalls} policy call(s) ran past the ${timeoutMs / 1000} s time limit and were stopped; ${summary}`
      : summary);
  } catch (e) {
    $('findings').replaceChildren(element('div', 'error', e.message));
    notice('the check failed');
  }
}

function element(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** The message's fix: the text after "fix:", as the policies word it. */
function splitFix(message) {
  const i = message.lastIndexOf('; fix: ');
  return i < 0 ? [message, ''] : [message.slice(0, i), message.slice(i + 7)];
}

function renderReport(report) {
  const list = $('findings');
  list.replaceChildren();
  const marked = new Set();
  for (const r of report.results) {
    if (r.allowed && !r.warnings.length) continue;
    const item = element('div', r.allowed ? 'finding warning' : 'finding rejected');
    item.dataset.line = r.line;
    const object = `${r.kind} ${r.namespace ? r.namespace + '/' : ''}${r.name ?? ''}`;
    item.append(element('div', 'where', `line ${r.line} · ${object} · ${r.allowed ? 'warning from' : 'rejected by'} ${r.policy}`));
    const [message, fix] = splitFix(r.message || r.warnings.join('; '));
    item.append(element('div', 'message', message));
    if (fix) item.append(element('div', 'fix', `fix: ${fix}`));
    item.onclick = () => goToLine(r.line);
    list.append(item);
    marked.add(r.line);
  }
  for (const e of report.errors) {
    const item = element('div', 'finding error');
    item.append(element('div', 'where', `line ${e.line} · ${e.kind}${e.policy ? ' · ' + e.policy : ''}`));
    item.append(element('div', 'message', e.message));
    list.append(item);
    marked.add(e.line);
  }
  const accepted = report.results.filter((r) => r.allowed).length;
  if (!list.children.length) list.append(element('div', 'finding accepted', `✓ ${report.summary.objects} objects accepted`));
  else if (accepted) list.append(element('div', 'finding accepted', `✓ ${accepted} other evaluations accepted`));
  renderGutter(marked);
}

function renderGutter(marked) {
  const lines = $('editor').value.split('\n').length;
  const gutter = $('gutter');
  gutter.replaceChildren();
  for (let i = 1; i <= lines; i++) {
    gutter.append(element('div', marked.has(i) ? 'mark' : '', String(i)));
  }
  gutter.scrollTop = $('editor').scrollTop;
}

function goToLine(line) {
  const editor = $('editor');
  const lines = editor.value.split('\n');
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  editor.focus();
  editor.setSelectionRange(start, start + (lines[line - 1] || '').length);
}

function renderPolicies() {
  const list = $('policies');
  list.replaceChildren();
  for (const p of policies) {
    const box = element('details', 'policy');
    box.append(element('summary', '', `${p.id} — ${p.description}`));
    const label = element('label', '', 'settings (JSON, validated by the policy)');
    const area = element('textarea', 'settings');
    area.dataset.policy = p.id;
    area.value = JSON.stringify(state.settings[p.id] ?? {}, null, 1);
    area.onchange = () => {
      try {
        const value = JSON.parse(area.value || '{}');
        if (Object.keys(value).length) state.settings[p.id] = value;
        else delete state.settings[p.id];
        area.classList.remove('invalid');
      } catch (e) {
        area.classList.add('invalid');
        notice(`settings of ${p.id}: ${e.message}`);
      }
    };
    label.append(area);
    const explain = element('details', 'explain');
    explain.append(element('summary', '', 'explain'));
    explain.append(element('pre', '', p.usage || '(the module carries no usage text)'));
    box.append(label, explain);
    list.append(box);
  }
}

// ---- share links -----------------------------------------------------------------------------

async function pack(object) {
  const bytes = new TextEncoder().encode(JSON.stringify(object));
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  const packed = new Uint8Array(await new Response(stream).arrayBuffer());
  let binary = '';
  for (const b of packed) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function unpack(text) {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return JSON.parse(await new Response(stream).text());
}

/** The page's whole state as a link; nothing leaves the browser (it is in the fragment). */
async function shareLink() {
  const own = [];
  for (const s of sources.slice(BUILT_IN.length)) {
    let binary = '';
    for (const b of new Uint8Array(s.bytes)) binary += String.fromCharCode(b);
    own.push({ name: s.name, wasm: btoa(binary), metadata: s.metadata });
  }
  const packed = await pack({
    v: 1, text: $('editor').value, file: $('file-name').value, settings: state.settings,
    user: $('user').value, groups: $('groups').value, namespace: $('namespace').value, own,
  });
  return `${location.origin}${location.pathname}#s=${packed}`;
}

async function restore(fragment) {
  const match = /^#s=(.+)$/.exec(fragment);
  if (!match) return false;
  const s = await unpack(match[1]);
  $('editor').value = s.text || '';
  $('file-name').value = s.file || 'playground.yaml';
  $('user').value = s.user || '';
  $('groups').value = s.groups || '';
  $('namespace').value = s.namespace || '';
  state.settings = s.settings || {};
  for (const m of s.own || []) {
    const bytes = Uint8Array.from(atob(m.wasm), (c) => c.charCodeAt(0)).buffer;
    await addPolicy(m.name, bytes, m.metadata);
  }
  return true;
}

// ---- files and examples ----------------------------------------------------------------------

async function loadFiles(files) {
  const list = [...files];
  const wasm = list.filter((f) => f.name.endsWith('.wasm'));
  const meta = list.find((f) => /metadata\.ya?ml$/.test(f.name));
  const manifests = list.filter((f) => !wasm.includes(f) && f !== meta);
  try {
    for (const f of wasm) {
      const d = await addPolicy(f.name, await f.arrayBuffer(), meta ? await meta.text() : null);
      notice(`${d.replaced ? 'replaced' : 'added'} policy ${d.id}`);
    }
  } catch (e) {
    notice(e.message);
    return;
  }
  if (manifests.length) {
    const texts = await Promise.all(manifests.map((f) => f.text()));
    $('editor').value = texts.join('\n---\n');
    $('file-name').value = manifests.length === 1 ? manifests[0].name : 'playground.yaml';
    await runFromPage();
  }
}

async function loadExamples() {
  const response = await fetch('./examples.json');
  const examples = response.ok ? await response.json() : [];
  const picker = $('examples');
  for (const [i, e] of examples.entries()) {
    const option = element('option', '', e.file);
    option.value = String(i);
    picker.append(option);
  }
  picker.onchange = async () => {
    const e = examples[Number(picker.value)];
    if (!e) return;
    $('editor').value = e.text;
    $('file-name').value = e.file;
    await runFromPage();
  };
}

// ---- start -----------------------------------------------------------------------------------

function wire() {
  const editor = $('editor');
  editor.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); runFromPage(); }
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && e.target !== editor) { e.preventDefault(); runFromPage(); }
  });
  editor.addEventListener('scroll', () => { $('gutter').scrollTop = editor.scrollTop; });
  editor.addEventListener('input', () => renderGutter(new Set()));
  $('run').onclick = runFromPage;
  $('share').onclick = async () => {
    const link = await shareLink();
    $('share-link').value = link;
    history.replaceState(null, '', link);
    notice('the link carries the whole state; nothing was sent anywhere');
  };
  $('file-picker').onchange = (e) => loadFiles(e.target.files);
  document.body.addEventListener('dragover', (e) => e.preventDefault());
  document.body.addEventListener('drop', (e) => { e.preventDefault(); loadFiles(e.dataTransfer.files); });
}

const loaded = (async () => {
  wire();
  await loadBuiltIns();
})();

const ready = (async () => {
  await loaded;
  const restored = await restore(location.hash);
  renderPolicies();
  await loadExamples();
  renderGutter(new Set());
  if (restored) await runFromPage();
  else notice('ready: paste manifests and press Ctrl+Enter');
})();

window.aksid = { ready, check, addPolicy, shareLink, get policies() { return policies.map((p) => p.id); } };
