'use strict';

// The adversarial suite's shared harness (see run.js for the suite itself).
//
// Every scenario file is a plain Node script that calls main(body). This
// module gives it:
//   - the seed (PENNY_SEED) and scale (PENNY_ADV_SCALE) that run.js passes,
//     and a PRNG derived from the seed and the scenario's name, so that a
//     failure reproduces with `run.js --seed N --only NAME`;
//   - a tally of what was checked and what broke, printed as the final JSON
//     line that run.js reads, and a deadline (PENNY_ADV_DEADLINE_MS) that
//     reports the phase a stuck scenario was in before run.js kills it;
//   - the instruments the checks use: a Tracker that counts how often each
//     promise settles, a Heartbeat that measures how long the event loop was
//     blocked, Guard blocks filled with a pattern, child processes with a
//     timeout that kills their whole process group, and Penny's thread count.
//
// Nothing here weakens a check: a scenario decides what it expects, this
// module only measures and counts.

const { spawn } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');
const common = require('../js/fixtures/common');

const ROOT = path.resolve(__dirname, '..', '..');

// How long the event loop may be blocked before a scenario calls it a
// freeze. An adversarial bound for hangs, not a benchmark: generous enough
// for a garbage collection, far below a kernel's run time.
const BLOCK_LIMIT_MS = Number(process.env.PENNY_ADV_BLOCK_MS) || 500;

// How many distinct failures the JSON line lists.
const MAX_FAILURES = Number(process.env.PENNY_ADV_FAILURES) || 12;

// What in a process's stderr means it crashed or a sanitizer spoke, even
// when its exit code looks fine. run.js and the scenarios that spawn
// processes apply the same list.
const CRASH_SIGNS = [
  /FATAL ERROR/, /AddressSanitizer/, /LeakSanitizer/, /runtime error:/,
  /double free/, /corruption/, /Segmentation fault/, /Aborted \(core dumped\)/,
  // glibc's own heap checks.
  /free\(\): invalid/, /munmap_chunk\(\)/, /malloc\(\): /,
];

// The first stderr line that matches a crash sign, or null.
function crashSign(text) {
  if (!text) return null;
  for (const line of text.split('\n')) {
    if (CRASH_SIGNS.some((re) => re.test(line))) {
      return line.trim().slice(0, 200);
    }
  }
  return null;
}

function parseSeed(text) {
  if (text === undefined || text === '') {
    return Math.floor(Math.random() * 2 ** 31);
  }
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32) {
    throw new Error(`PENNY_SEED must be an integer in [0, 2^32), got ${text}`);
  }
  return n;
}

const SEED = parseSeed(process.env.PENNY_SEED);
const SCALE = (() => {
  const s = Number(process.env.PENNY_ADV_SCALE || 1);
  if (!(s > 0)) throw new Error('PENNY_ADV_SCALE must be a positive number');
  return s;
})();

// FNV-1a of a string: mixes the scenario's name into its PRNG seed, so that
// scenarios sharing a seed do not share random streams.
function hashName(name) {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h;
}

// Penny itself, loaded on first use: the scenarios that only spawn
// processes never load the addon into their own process.
let pennyModule = null;
function penny() {
  if (pennyModule === null) pennyModule = require(ROOT);
  return pennyModule;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tick = () => new Promise((resolve) => setImmediate(resolve));

// A short description of any value, for failure messages.
function show(v) {
  if (v instanceof Error || (v && typeof v === 'object' &&
      typeof v.message === 'string' && typeof v.name === 'string')) {
    const code = v.code !== undefined ? ` [${v.code}]` : '';
    return `${v.constructor?.name ?? v.name}${code}: ${
      String(v.message).slice(0, 160)}`;
  }
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 80));
  if (ArrayBuffer.isView(v)) return `a ${v.constructor?.name}`;
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? 'an array' : 'an object';
}

// Whether `e` is a Penny error: a real Error of the class its code implies,
// with one of `codes` (any ERR_PENNY_* code when omitted).
const CODE_CLASS = {
  ERR_PENNY_ARG: TypeError, ERR_PENNY_RANGE: RangeError,
};
function isPennyError(e, codes) {
  if (!(e instanceof Error) || typeof e.code !== 'string' ||
      !e.code.startsWith('ERR_PENNY_')) return false;
  if (codes !== undefined && !codes.includes(e.code)) return false;
  const Class = CODE_CLASS[e.code];
  return Class === undefined ? true : e instanceof Class;
}

// A DOMException named AbortError: what an aborted task rejects with when
// its signal gave no other reason.
const isAbortError = (e) => e instanceof Error ? e.name === 'AbortError'
  : (e !== null && typeof e === 'object' && e.name === 'AbortError');

// ---- The tally: what a scenario checked, what broke, its JSON line. ----

class Scenario {
  constructor(name) {
    this.name = name;
    this.seed = SEED;
    this.scale = SCALE;
    this.rand = common.prng((SEED ^ hashName(name)) >>> 0);
    this.checked = 0;
    this.broke = 0;
    this.failures = new Map(); // description -> how many times
    this.info = {};
    this.currentPhase = 'start';
    this.t0 = Date.now();
    this.deadlineMs = Number(process.env.PENNY_ADV_DEADLINE_MS) || 80000;
    this.finished = false;
  }

  // What the scenario is doing now: named by the deadline's report and
  // printed as a '# phase' line, which run.js shows when a scenario dies
  // without its JSON line (a crash names the case that caused it).
  get phase() { return this.currentPhase; }

  set phase(text) {
    this.currentPhase = text;
    process.stdout.write(`# phase ${text}\n`);
  }

  // Random helpers, all from the seeded stream.
  int(lo, hi) { return lo + Math.floor(this.rand() * (hi - lo)); } // [lo, hi)
  pick(list) { return list[Math.floor(this.rand() * list.length)]; }
  chance(p) { return this.rand() < p; }
  shuffle(list) {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(this.rand() * (i + 1));
      [list[i], list[j]] = [list[j], list[i]];
    }
    return list;
  }

  // A count shrunk by PENNY_ADV_SCALE (the sanitizer run uses 0.2).
  scaled(n, min = 1) { return Math.max(min, Math.round(n * this.scale)); }

  elapsed() { return Date.now() - this.t0; }

  // True once `fraction` of the deadline has passed: loops stop starting
  // new rounds then, and say so in the JSON's info.
  overBudget(fraction = 0.55) {
    return this.elapsed() > this.deadlineMs * fraction;
  }

  check(ok, what) {
    this.checked++;
    if (!ok) this.record(typeof what === 'function' ? what() : what);
    return Boolean(ok);
  }

  fail(what) {
    this.checked++;
    this.record(what);
  }

  // Counts `n` broken checks under one description.
  record(what, n = 1) {
    this.broke += n;
    const text = String(what).replace(/\s+/g, ' ').slice(0, 300);
    this.failures.set(text, (this.failures.get(text) || 0) + 1);
    if (process.env.PENNY_ADV_VERBOSE) console.error(`broke: ${text}`);
  }

  // Prints the final JSON line and exits (1 when anything broke).
  finish() {
    if (this.finished) return;
    this.report();
    process.exit(this.broke > 0 ? 1 : 0);
  }

  // Prints the final JSON line.
  report() {
    this.finished = true;
    const failures = [];
    for (const [text, n] of this.failures) {
      if (failures.length === MAX_FAILURES) break;
      failures.push(n > 1 ? `${text} (x${n})` : text);
    }
    const line = {
      scenario: this.name,
      seed: this.seed,
      scale: this.scale,
      checked: this.checked,
      broke: this.broke,
      failures,
      distinctFailures: this.failures.size,
      seconds: Math.round(this.elapsed() / 100) / 10,
      info: this.info,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
}

// Runs a scenario: body(s) is an async function of a Scenario. Uncaught
// exceptions and unhandled rejections count as broke (the scenarios handle
// every promise they make, so one of these comes from Penny).
function main(body) {
  const name = path.basename(require.main.filename, '.js');
  const s = new Scenario(name);
  process.on('uncaughtException', (err) => {
    s.fail(`uncaught exception in phase '${s.phase}': ${show(err)}`);
  });
  process.on('unhandledRejection', (err) => {
    s.fail(`unhandled rejection in phase '${s.phase}': ${show(err)}`);
  });
  // The loop ran dry with the body still waiting: a promise it awaits was
  // left pending with nothing left to settle it.
  process.on('exit', () => {
    if (s.finished) return;
    s.fail(`the event loop emptied in phase '${s.phase}' with the scenario ` +
      'still waiting (a promise nothing will settle)');
    s.report();
    process.exitCode = 1;
  });
  const deadline = setTimeout(() => {
    s.fail(`deadline: still in phase '${s.phase}' after ${s.elapsed()} ms`);
    s.finish();
  }, s.deadlineMs);
  deadline.unref();
  Promise.resolve().then(() => body(s)).then(() => s.finish(), (err) => {
    s.fail(`scenario threw in phase '${s.phase}': ${
      err && err.stack ? err.stack.split('\n').slice(0, 3).join(' | ')
        : show(err)}`);
    s.finish();
  });
  return s;
}

// ---- Promises: each settles exactly once, within a bound. ----

// Tracks promises and counts their settlements. judge(rec) is called once
// a promise settled and returns null when the outcome is acceptable, or
// a description of what is wrong; rec has status ('resolved'/'rejected')
// and value (the result or the rejection reason).
class Tracker {
  constructor(s) {
    this.s = s;
    this.records = [];
    this.pending = 0;
    this.lastProgress = Date.now();
    this.wake = null;
  }

  add(promise, label, judge) {
    const rec = { label, n: 0, status: null, value: undefined, judge };
    if (!(promise instanceof Promise)) {
      this.s.fail(`${label}: returned ${show(promise)}, not a Promise`);
      return rec;
    }
    this.records.push(rec);
    this.pending++;
    promise.then((v) => this.settle(rec, 'resolved', v),
      (e) => this.settle(rec, 'rejected', e));
    return rec;
  }

  settle(rec, status, value) {
    rec.n++;
    if (rec.n > 1) {
      this.s.fail(`${rec.label}: settled ${rec.n} times`);
      return;
    }
    rec.status = status;
    rec.value = value;
    // Judged already (counted as never settled): nothing left to count.
    if (rec.judged) return;
    this.pending--;
    this.lastProgress = Date.now();
    if (this.pending === 0 && this.wake !== null) this.wake();
  }

  // Waits until every promise settled, or none settled for stallMs, or
  // capMs passed. Returns the number still unsettled.
  async wait({ stallMs = 2000, capMs = 30000 } = {}) {
    const start = Date.now();
    this.lastProgress = Math.max(this.lastProgress, start);
    while (this.pending > 0) {
      const now = Date.now();
      if (now - this.lastProgress >= stallMs || now - start >= capMs) break;
      await new Promise((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 25);
      });
      this.wake = null;
    }
    return this.pending;
  }

  // Checks every record (settled exactly once; judge() content) and starts
  // a fresh list. Returns how many were unsettled. With `lost` (a
  // description of the batch), unsettled promises are reported as one
  // failure line that counts them all.
  judge(prefix = '', lost = null) {
    let unsettled = 0;
    const examples = [];
    for (const rec of this.records) {
      rec.judged = true;
      if (rec.n === 0) {
        unsettled++;
        if (lost === null) this.s.fail(`${prefix}${rec.label}: never settled`);
        else if (examples.length < 3) examples.push(rec.label);
        continue;
      }
      if (rec.judge === undefined) {
        this.s.check(true);
        continue;
      }
      let why;
      try {
        why = rec.judge(rec);
      } catch (err) {
        why = `judging threw ${show(err)}`;
      }
      this.s.check(!why, () => `${prefix}${rec.label}: ${why}`);
    }
    if (lost !== null && unsettled > 0) {
      this.s.checked += unsettled;
      this.s.record(`${prefix}${unsettled} of ${this.records.length} ` +
        `promises never settled ${lost} (e.g. ${examples.join(', ')})`,
      unsettled);
    }
    this.records = [];
    this.pending = 0;
    return unsettled;
  }
}

// Resolves {status: 'resolved'|'rejected'|'timeout', value, ms}.
function within(promise, ms) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ status: 'timeout', ms }), ms);
    Promise.resolve(promise).then((value) => {
      clearTimeout(timer);
      resolve({ status: 'resolved', value, ms: performance.now() - t0 });
    }, (value) => {
      clearTimeout(timer);
      resolve({ status: 'rejected', value, ms: performance.now() - t0 });
    });
  });
}

// ---- A pool's health. ----

// Counts a check: the pool answers a fresh sum (of 100 sevens, in its
// arena) within 3 s, as it must after any call, good or bad.
async function checkPoolWorks(s, pool, what) {
  const fresh = pool.alloc(Int32Array, 100).fill(7);
  const r = await within(pool.run('sum', [fresh]), 3000);
  s.check(r.status === 'resolved' && r.value === 700, () =>
    `${what}: afterwards a sum of 100 sevens ${r.status} ${show(r.value)}`);
  try {
    pool.free(fresh);
  } catch {
    // Judged by the scenarios that care about free().
  }
}

// Counts a check: stats() at a quiet point (nothing in flight) has
// submitted = completed + failed + cancelled + pending, with pending 0.
function checkStats(s, pool, what) {
  const st = pool.stats();
  s.check(st.pending === 0 && st.submitted === st.completed + st.failed +
    st.cancelled + st.pending, () => `${what}: stats ${JSON.stringify({
    submitted: st.submitted, completed: st.completed, failed: st.failed,
    cancelled: st.cancelled, pending: st.pending })}`);
}

// Counts a check: a close() promise resolves within ms.
async function checkClose(s, promise, what, ms = 5000) {
  const r = await within(promise, ms);
  return s.check(r.status === 'resolved', () => `${what}: close() ${
    r.status === 'timeout' ? `did not resolve within ${ms} ms`
      : `${r.status} with ${show(r.value)}`}`);
}

// ---- The event loop: never blocked longer than BLOCK_LIMIT_MS. ----

class Heartbeat {
  constructor(periodMs = 10) {
    this.last = performance.now();
    this.worst = 0;
    this.timer = setInterval(() => {
      const now = performance.now();
      this.worst = Math.max(this.worst, now - this.last);
      this.last = now;
    }, periodMs);
    this.timer.unref();
  }

  reset() {
    this.last = performance.now();
    this.worst = 0;
  }

  // The longest gap between beats since reset(), the current one included.
  max() {
    return Math.max(this.worst, performance.now() - this.last);
  }

  // Counts a check: the loop was not blocked longer than the limit.
  check(s, what) {
    const worst = this.max();
    s.check(worst <= BLOCK_LIMIT_MS, () =>
      `${what}: event loop blocked ${Math.round(worst)} ms ` +
      `(limit ${BLOCK_LIMIT_MS})`);
    return worst;
  }

  stop() { clearInterval(this.timer); }
}

// ---- Workers that end at a chosen moment. ----

// Watches Worker `w`, started from spec ({ id, ending, code }; `what` names
// it in failures): collects its 'error' events and its 'exit'. terminate()
// ends it from outside, once, after printing `# terminating <what>` (the
// line runBatches() shows when the batch's process dies). judge() waits for
// the 'exit' -- boundMs from its start, or from terminate() -- and counts
// the checks: it exited within the bound; with timeTerminate, within
// boundMs of terminate(); terminate() resolved with a number; the exit code
// is spec.code for the ending 'exit', 1 for 'throw', 0 for 'fall', a
// number for 'terminate'; a 'throw' gave exactly its own error (`adversarial
// throw <id>`), any other ending no 'error' at all. judge() resolves false
// when the Worker never exited (it is then terminated, not waited for).
function watchWorker(s, w, spec, what, { boundMs, timeTerminate = false }) {
  const errors = [];
  w.on('error', (e) => errors.push(e));
  const exited = new Promise((resolve) => w.once('exit', resolve));
  let endedAt = null;
  let terminating = null;
  const terminate = () => {
    if (endedAt !== null) return;
    endedAt = Date.now();
    process.stdout.write(`# terminating ${what}\n`);
    terminating = w.terminate();
  };
  const judge = async () => {
    let r = await within(exited, boundMs);
    if (r.status === 'timeout' && endedAt !== null &&
        Date.now() - endedAt < boundMs) {
      r = await within(exited, boundMs - (Date.now() - endedAt));
    }
    if (!s.check(r.status === 'resolved', () => `${what}: no 'exit' within ${
      boundMs} ms of ${endedAt !== null ? 'terminate()' : 'its start'}`)) {
      w.terminate().catch(() => {});
      return false;
    }
    const code = r.value;
    if (endedAt !== null) {
      if (timeTerminate) {
        const ms = Date.now() - endedAt;
        s.check(ms < boundMs, `${what}: exit ${ms} ms after terminate()`);
      }
      const t = await within(terminating, 1000);
      s.check(t.status === 'resolved' && typeof t.value === 'number',
        () => `${what}: terminate() ${t.status} with ${show(t.value)}`);
    }
    const expected = { exit: spec.code, throw: 1, fall: 0 }[spec.ending];
    if (expected !== undefined) {
      s.check(code === expected, `${what}: exit code ${code}, expected ${
        expected}`);
    } else {
      s.check(typeof code === 'number', `${what}: exit code ${code}`);
    }
    if (spec.ending === 'throw') {
      s.check(errors.length === 1 && errors[0] instanceof Error &&
        errors[0].message === `adversarial throw ${spec.id}`,
      () => `${what}: expected its own error, got ${errors.map(show)
        .join(', ') || 'none'}`);
    } else {
      s.check(errors.length === 0, () => `${what}: 'error' event ${
        errors.map(show).join(', ')}`);
    }
    return true;
  };
  return { terminate, judge };
}

// ---- Memory: guard blocks that nothing may write. ----

// A view of bytes filled with a seeded pattern; changed() finds the first
// byte that differs, outside the given [start, end) ranges (relative).
class Guard {
  constructor(bytes, seed) {
    this.bytes = bytes; // a Uint8Array over any buffer
    this.expected = new Uint8Array(bytes.length);
    const rand = common.prng(seed);
    for (let i = 0; i < bytes.length; i++) {
      this.expected[i] = Math.floor(rand() * 256);
    }
    this.reset();
  }

  reset() { this.bytes.set(this.expected); }

  changed(except = []) {
    const a = this.bytes;
    const b = this.expected;
    if (a.length !== b.length) return 0;
    const ab = Buffer.from(a.buffer, a.byteOffset, a.length);
    if (ab.compare(b) === 0) return -1;
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i] && !except.some(([lo, hi]) => i >= lo && i < hi)) {
        return i;
      }
    }
    return -1;
  }
}

// ---- Threads and processes. ----

// Penny's worker threads (penny-w*) in this process, or null off Linux.
function pennyThreads() {
  return common.hasProcTasks() ? common.pennyThreadCount() : null;
}

// Polls until the count of penny-w* threads is `expected` (at most ms);
// returns the last count (null off Linux).
async function waitPennyThreads(expected, ms = 5000) {
  if (!common.hasProcTasks()) return null;
  return common.waitForPennyThreads(expected, ms);
}

const liveChildren = new Set();
function killGroup(child) {
  try {
    if (child.group) process.kill(-child.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch {
    try { child.kill('SIGKILL'); } catch { /* gone already */ }
  }
}
process.on('exit', () => { for (const c of liveChildren) killGroup(c); });

// Runs `node ...args`; resolves (never rejects) with { code, signal,
// stdout, stderr, timedOut, ms }, and kills it with SIGKILL on timeout.
// With `group` (run.js, for each scenario) the child leads a process group
// of its own and the whole group is killed; a scenario's own children stay
// in the scenario's group, so that killing a scenario kills them too. The
// environment is inherited (the sanitizer run's PENNY_ADDON and LD_PRELOAD
// reach every process).
function runNode(args, { timeoutMs = 20000, env = process.env,
  maxBytes = 1 << 20, group = false } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, args, {
      env, cwd: os.tmpdir(), detached: group,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.group = group;
    liveChildren.add(child);
    const out = { stdout: '', stderr: '' };
    for (const key of ['stdout', 'stderr']) {
      child[key].setEncoding('utf8');
      child[key].on('data', (d) => {
        if (out[key].length < maxBytes) out[key] += d;
      });
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeoutMs);
    let done = false;
    const finish = (code, signal) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      liveChildren.delete(child);
      // Whatever the child left behind in its group goes with it.
      killGroup(child);
      resolve({ code, signal, timedOut, ms: Date.now() - t0, ...out });
    };
    child.on('error', (err) => {
      out.stderr += `spawn failed: ${err.message}`;
      finish(-1, null);
    });
    child.on('close', finish);
    // A grandchild holding the pipes open must not delay the verdict.
    child.on('exit', (code, signal) => {
      setTimeout(() => finish(code, signal), 1000).unref();
    });
  });
}

// The last line of `stdout` that parses as a JSON object with `key`.
function lastJson(stdout, key = 'scenario') {
  const lines = String(stdout).trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].trim();
    if (!line.startsWith('{')) continue;
    try {
      const v = JSON.parse(line);
      if (v && typeof v === 'object' && key in v) return v;
    } catch { /* not JSON */ }
  }
  return null;
}

// A scenario that runs parts of itself in child processes: the child is
// `node <file> --child <json>`; childPayload() returns the json, or null in
// the parent.
function childPayload() {
  const i = process.argv.indexOf('--child');
  return i < 0 ? null : JSON.parse(process.argv[i + 1]);
}

function runChild(file, payload, options) {
  return runNode([file, '--child', JSON.stringify(payload)], options);
}

// What a child process's end says, as a list of problems (empty when it
// exited with `expectCode` by itself, without a crash sign).
function exitProblems(r, expectCode) {
  const problems = [];
  if (r.timedOut) problems.push(`hang: killed after ${r.ms} ms`);
  else if (r.signal) problems.push(`killed by ${r.signal}`);
  else if (expectCode !== undefined && r.code !== expectCode) {
    problems.push(`exit code ${r.code}, expected ${expectCode}`);
  }
  const sign = crashSign(r.stderr);
  if (sign) problems.push(`stderr: ${sign}`);
  return problems;
}

// Runs each batch in a child process (`node <file> --child <batch>`, whose
// main() runs the batch and prints its JSON line) one after the other, and
// merges each child's tally into `s`. A batch is { name, ... }; it is
// skipped (counted in info.skippedBatches) once 70% of the deadline has
// passed. Counts a check per batch: the owning process ended by itself,
// exit 0 (1 when its line says something broke), no crash sign, with a
// result line; the failure names the last two stdout lines that start with
// `# <inFlight>` (what the child was doing). Each child failure is
// recorded under `batch <name>: `, and the broken checks its line did not
// list are added to s.broke. merge(json, batch), when given, takes what
// else the scenario wants from a child's line (its info).
async function runBatches(s, file, batches, { timeoutMs, inFlight, merge }) {
  for (const batch of batches) {
    if (s.overBudget(0.7)) {
      s.info.skippedBatches = (s.info.skippedBatches || 0) + 1;
      continue;
    }
    s.phase = `batch ${batch.name}`;
    const env = { ...process.env,
      PENNY_ADV_DEADLINE_MS: String(timeoutMs - 2000) };
    const r = await runChild(file, batch, { timeoutMs, env });
    const json = lastJson(r.stdout);
    const problems = exitProblems(r, json && json.broke > 0 ? 1 : 0);
    if (json === null) problems.push('no result line');
    const last = r.stdout.split('\n')
      .filter((l) => l.startsWith(`# ${inFlight}`))
      .slice(-2).map((l) => l.slice(2)).join(' | ');
    s.check(problems.length === 0, () => `batch ${batch.name}: the owning ` +
      `process ${problems.join('; ')}${last ? ` (last: ${last})` : ''}`);
    if (json !== null) {
      s.checked += json.checked;
      for (const f of json.failures) s.record(`batch ${batch.name}: ${f}`);
      s.broke += Math.max(0, json.broke - json.failures.length);
      if (merge) merge(json, batch);
    }
  }
  s.info.batches = batches.length;
}

// Runs each spec in a child process that is meant to end the process
// itself (`node <file> --child <spec>`), two at a time until 75% of the
// deadline has passed, and counts a check per child. The child prints a
// JSON line with `exitReport` from its 'exit' event: { total, settled,
// ... }. The check fails when the child did not exit with spec.code by
// itself, showed a crash sign, took longer than boundMs, printed no
// report, fell off its end (ending 'fall') with tasks unsettled, when
// reportProblems(rep, spec) (given a report) returns problems, or when an
// ending in `tagged` left no `adversarial-<ending>-<id>` on stderr (its
// own error). describe(spec) names the child in failures. Sets
// info.children, info.ran and info.slowestMs.
async function runExitChildren(s, file, specs, { timeoutMs, boundMs,
  describe, tagged, reportProblems }) {
  const runOne = async (spec) => {
    const r = await runChild(file, spec, { timeoutMs });
    const problems = exitProblems(r, spec.code);
    if (!r.timedOut && r.ms > boundMs) {
      problems.push(`took ${r.ms} ms to exit`);
    }
    const rep = lastJson(r.stdout, 'exitReport');
    if (rep === null) {
      problems.push('no exit report (the \'exit\' event never ran)');
    } else {
      if (spec.ending === 'fall' && rep.settled !== rep.total) {
        problems.push(`fell off its end with ${rep.total - rep.settled} of ${
          rep.total} tasks unsettled`);
      }
      problems.push(...reportProblems(rep, spec));
    }
    if (tagged.includes(spec.ending)) {
      const tag = `adversarial-${spec.ending}-${spec.id}`;
      if (!r.stderr.includes(tag)) {
        problems.push(`stderr lacks its own error ${tag}: ${
          r.stderr.trim().split('\n')[0] || '(empty)'}`);
      }
    }
    s.check(problems.length === 0, () => `${describe(spec)}: ${
      problems.join('; ')}`);
    s.info.slowestMs = Math.max(s.info.slowestMs || 0, r.ms);
  };
  s.info.children = specs.length;
  let next = 0;
  const lanes = [0, 1].map(async () => {
    while (next < specs.length && !s.overBudget(0.75)) {
      const spec = specs[next++];
      s.phase = `child ${spec.state}/${spec.ending}`;
      await runOne(spec);
    }
  });
  await Promise.all(lanes);
  s.info.ran = next;
}

// RSS in MB.
const rssMB = () => process.memoryUsage.rss() / (1024 * 1024);

// Under a sanitizer runtime (the ASan run preloads it) RSS says nothing
// about Penny: ASan keeps freed memory in quarantine (256 MB by default).
// The scenarios then report RSS without judging it.
const SANITIZED = /(asan|tsan|msan)/.test(process.env.LD_PRELOAD || '') ||
  Boolean(process.env.PENNY_ADV_NO_RSS);

module.exports = {
  ROOT, SEED, SCALE, BLOCK_LIMIT_MS, CRASH_SIGNS, MiB: common.MiB,
  TYPES: common.TYPES, isBigType: common.isBigType, prng: common.prng,
  penny, main, Scenario, Tracker, Heartbeat, Guard, within,
  checkPoolWorks, checkStats, checkClose,
  isPennyError, isAbortError, show, sleep, tick, crashSign, pennyThreads,
  waitPennyThreads, runNode, runChild, childPayload, lastJson, exitProblems,
  runBatches, runExitChildren, watchWorker, rssMB, SANITIZED,
};
