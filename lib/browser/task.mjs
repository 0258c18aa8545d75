// penny/task in the browser build: what a task module's functions call
// while they run on a pool's Worker (join, spawn, sync, parallelFor,
// cancelled), and the runner that src/wasm/binding.c calls (through the
// host import penny_host_task) for every task function and child.
//
// A child is a record in the C core (pw_spawn): it goes on this Worker's
// deque, another Worker may steal it, and pw_sync waits for it, running
// it here if nobody did. Its arguments and result travel as bytes in the
// shared memory (codec.mjs), so a child sees the same values wherever it
// runs. Every task, child and join side is a level: when it returns or
// throws, the children it left unsynced are synced, newest first, and if
// it returned, the first error among them is thrown.
//
// A task module may import this file by any URL that resolves to it; the
// state lives on the Worker's global object, so two copies of the file
// loaded under different URLs still share it.

const KEY = Symbol.for('penny.browser.task');
const RANGE = 0xFFFFFFFF; // the function id of a parallelFor half
const PENDING = 0;
const DONE = 1;

function taskError(message) {
  const err = new Error(message);
  err.code = 'ERR_PENNY_TASK';
  return err;
}

function state(what) {
  const s = globalThis[KEY];
  if (s === undefined || s.w === 0) {
    throw taskError(`${what}() can only be called while a task runs on a ` +
      'pool\'s thread');
  }
  return s;
}

// Calls fn(...args) as a level (see above).
function callLevel(s, fn, args) {
  const saved = s.level;
  const level = [];
  s.level = level;
  let result;
  let error;
  let failed = false;
  try {
    result = fn(...args);
  } catch (err) {
    failed = true;
    error = err;
  }
  let childError;
  let childFailed = false;
  for (let i = level.length - 1; i >= 0; i--) {
    const h = level[i];
    if (h.state === PENDING) syncOne(s, h);
    if (h.threw && !h.seen && !childFailed) {
      childFailed = true;
      childError = h.value;
    }
  }
  s.level = saved;
  if (failed) throw error;
  if (childFailed) throw childError;
  return result;
}

function syncOne(s, h) {
  const { ex, codec } = s;
  const rec = ex.pw_sync(s.w, h.ch);
  const len = ex.pw_task_out_len(rec);
  h.threw = ex.pw_task_threw(rec) !== 0;
  try {
    h.value = len === 0 && h.threw
      ? new RangeError('penny: out of memory for a task\'s outcome')
      : codec.decode(ex.pw_task_out(rec), len);
  } finally {
    ex.pw_call_free(rec);
    h.state = DONE;
  }
}

function push(s, id, args) {
  const [at, len] = s.codec.encode(args);
  const ch = s.ex.pw_spawn(s.w, id, at, len);
  if (ch === 0) throw new RangeError('penny: out of memory for a child');
  const h = { ch, state: PENDING, threw: false, seen: false, value: undefined };
  s.level.push(h);
  return h;
}

function idOf(s, fn, what) {
  const id = s.ids.get(fn);
  if (id === undefined) {
    throw new TypeError(`${what}(): the function must be one the task ` +
      'module exports');
  }
  return id;
}

// Arguments or a result as another thread would see them: objects copied.
function ownCopy(s, value) {
  if (value === null || typeof value !== 'object') return value;
  const [at, len] = s.codec.encode(value);
  try {
    return s.codec.decode(at, len);
  } finally {
    s.ex.free(at);
  }
}

function outcome(h) {
  h.seen = true;
  if (h.threw) throw h.value;
  return h.value;
}

export function spawn(fn, args = []) {
  const s = state('spawn');
  if (!Array.isArray(args)) throw new TypeError('spawn(): args must be an array');
  return push(s, idOf(s, fn, 'spawn'), args);
}

export function sync(handle) {
  const s = state('sync');
  const at = s.level.indexOf(handle);
  if (at < 0) {
    throw taskError('sync(): this child belongs to another function, task ' +
      'or thread; sync a child where it was spawned');
  }
  // The core syncs children newest first: sync the newer ones before it.
  for (let i = s.level.length - 1; i >= at; i--) {
    if (s.level[i].state === PENDING) syncOne(s, s.level[i]);
  }
  return outcome(handle);
}

export function join(fnA, argsA, fnB, argsB = []) {
  const s = state('join');
  const idA = idOf(s, fnA, 'join');
  if (!Array.isArray(argsA) || !Array.isArray(argsB)) {
    throw new TypeError('join(): argsA and argsB must be arrays');
  }
  const h = push(s, idOf(s, fnB, 'join'), argsB);
  let a;
  let aError;
  let aFailed = false;
  try {
    a = ownCopy(s, callLevel(s, s.fns[idA], ownCopy(s, argsA)));
  } catch (err) {
    aFailed = true;
    aError = err;
  }
  // Both sides finish before either's error propagates (A's first).
  let b;
  let bError;
  let bFailed = false;
  try {
    b = sync(h);
  } catch (err) {
    bFailed = true;
    bError = err;
  }
  if (aFailed) throw aError;
  if (bFailed) throw bError;
  return [a, b];
}

function forRange(s, id, lo, hi, grain, args) {
  callLevel(s, () => {
    while (hi - lo > grain) {
      if (s.ex.pw_cancelled(s.w)) return;
      const mid = lo + Math.floor((hi - lo) / 2);
      push(s, RANGE, [id, mid, hi, grain, ...args]);
      hi = mid;
    }
    if (!s.ex.pw_cancelled(s.w)) s.fns[id](lo, hi, ...ownCopy(s, args));
  }, []);
}

export function parallelFor(fn, lo, hi, grain = 0, args = []) {
  const s = state('parallelFor');
  const id = idOf(s, fn, 'parallelFor');
  for (const [name, v] of [['lo', lo], ['hi', hi], ['grain', grain]]) {
    if (!Number.isSafeInteger(v) || (name === 'grain' && v < 0)) {
      throw new RangeError(`parallelFor(): ${name} must be a safe integer` +
        `${name === 'grain' ? ', not negative' : ''}, got ${v}`);
    }
  }
  if (!Array.isArray(args)) {
    throw new TypeError('parallelFor(): args must be an array');
  }
  if (hi <= lo) return;
  if (grain === 0) {
    grain = Math.max(1, Math.floor((hi - lo) /
      (s.ex.pw_worker_count(s.w) * 8)));
  }
  forRange(s, id, lo, hi, grain, args);
}

// True once the running task was asked to stop (its signal aborted, or
// its pool is closing with cancellation). False outside a task.
export function cancelled() {
  const s = globalThis[KEY];
  return s !== undefined && s.w !== 0 && s.ex.pw_cancelled(s.w) !== 0;
}

// The Worker's side (lib/browser/worker.mjs): installs the state and
// returns the runner for penny_host_task. `fns` are the task module's
// functions by id; `loadError`, if set, fails every task.
export function install(fns, loadError) {
  const s = {
    ex: null, codec: null, w: 0, level: [], fns,
    ids: new Map(fns.map((f, i) => [f, i])),
  };
  globalThis[KEY] = s;
  const rangeChild = (id, lo, hi, grain, ...args) =>
    forRange(s, id, lo, hi, grain, args);
  function run(w, rec) {
    const { ex, codec } = s;
    const savedW = s.w;
    s.w = w;
    let out = [0, 0];
    let threw = 0;
    try {
      if (loadError !== null) throw loadError;
      const id = ex.pw_task_fn(rec) >>> 0; // an unsigned id
      const fn = id === RANGE ? rangeChild : fns[id];
      const args = codec.decode(ex.pw_task_in(rec), ex.pw_task_in_len(rec));
      const result = callLevel(s, fn, args);
      if (result !== null && typeof result === 'object' &&
          typeof result.then === 'function') {
        throw taskError('a task function must return its result, not a ' +
          'promise: tasks run synchronously on the pool\'s threads');
      }
      out = codec.encode(result);
    } catch (err) {
      threw = 1;
      try {
        out = codec.encode(err);
      } catch {
        try {
          out = codec.encode(new Error(String(err?.message ?? err)));
        } catch { /* out of memory: an empty outcome says so */ }
      }
    } finally {
      s.w = savedW;
    }
    ex.pw_task_set_out(rec, out[0], out[1], threw);
  }
  return {
    run,
    attach(ex, codec) {
      s.ex = ex;
      s.codec = codec;
    },
  };
}
