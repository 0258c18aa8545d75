'use strict';

// Fork-join inside JS tasks: penny/task's join, spawn, sync and
// parallelFor, on a task pool's thread (lib/task-worker.js installs them).
//
// A child goes on this worker's deque in the C core (binding.fork). A sync
// that finds it still there (binding.sync returns true) calls it right
// here, as plain JavaScript: a child nobody stole costs two calls into the
// binding. A child another thread stole ran there (js_child_run in
// src/addon/jsfork.c calls that thread's runner, which calls runChild
// below) and its outcome comes back as a number, undefined or an encoded
// payload; meanwhile this thread runs other children on top of its stack
// (the thief's first) as long as it has stack to spare.
//
// Values: numeric arguments (up to two) ride in the frame; any others are
// encoded at the spawn, and a child that runs here decodes its own copy,
// so it sees the same values wherever it runs. A result that is an object
// is cloned here too. Views over the pool's SharedArrayBuffers are shared.
//
// Levels: every task, child and join side is a level; when it returns or
// throws, its unsynced children are synced, newest first, and their first
// error propagates. A handle can be synced only in the level that spawned
// it, so a sync never reaches below a child that an enclosing sync waits
// for.

const binding = require('./binding');
const codec = require('./task-codec');
const {
  taskError, argError, checkInteger, thrownMessage,
} = require('./errors');

// Array.isArray: inside a task every value is the task's own, so a Proxy
// that traps is the task's own code running on its own thread.
const { isArray } = Array;

const TAGS = binding.contract.jsTasks.tags;
const TAG_PAYLOAD = 5;      // a child's arguments are an encoded payload
const RANGE = -1;           // the function id of a parallelFor half
const MAX_GRAIN = 8192;     // as penny_for's automatic grain
const EMPTY = Object.freeze([]);

const PENDING = 0;
const SYNCING = 1;
const DONE = 2;
const FAILED = 3;

// What the thread's runner told us (install), or null off a task pool's
// thread: the mailbox, the pool's thread count, and the lookups of task
// functions by id and SharedArrayBuffers by id.
let ctx = null;
// True while a task's or a child's own code runs (not while this file
// encodes or decodes around it, where a getter must not fork).
let open = false;
let levelBase = 0;          // stack index where the running level begins
const stack = [];           // unsynced children of this thread, oldest first

class Handle {
  constructor(fn, args) {
    this.fn = fn;
    this.args = args;       // for a child run at once (see push)
    this.n = -1;            // 0 to 2 numbers, read once at the spawn
    this.a = 0;
    this.b = 0;
    this.bytes = null;      // encoded arguments, if not numbers
    this.depth = -1;
    this.state = PENDING;
    this.value = undefined; // the result, or the error
  }
}

function install(context) {
  ctx = context;
}

function inTask(what) {
  if (!open || ctx === null) {
    throw taskError(`${what}() works only inside a task of a Penny pool, ` +
      'while its code runs on the task\'s thread (not after it awaits, nor ' +
      'in a getter that Penny calls as it copies a value)');
  }
}

// ---- Values. ----

function encodeArgs(args, sabId = ctx.sabId) {
  return encodePlan(codec.fastPlan(args), sabId);
}

// The payload of a plan of codec.fastPlan's.
function encodePlan(plan, sabId) {
  if (plan.bytes >= 0) {
    const buf = Buffer.allocUnsafe(plan.bytes);
    return buf.subarray(0, codec.fastWrite(plan, buf, 0, sabId));
  }
  return codec.encode(codec.KIND.VALUE, plan.values, sabId);
}

function decodeArgs(bytes) {
  const [kind, value] = codec.decode(bytes, ctx.sabOf);
  if (kind !== codec.KIND.FAST && kind !== codec.KIND.VALUE) {
    throw taskError('corrupt child arguments');
  }
  return value;
}

const isThenable = (v) => v !== null &&
  (typeof v === 'object' || typeof v === 'function') &&
  typeof v.then === 'function';

// A child's result as its parent sees it: primitives as they are, objects
// cloned (as they would be from another thread). Throws for a promise.
function childResult(v) {
  if (typeof v === 'symbol') {
    throw taskError(`a child's result cannot be cloned: ${String(v)} ` +
      'could not be cloned.');
  }
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) {
    return v;
  }
  if (isThenable(v)) {
    throw taskError('a child returned a promise: children of join, spawn ' +
      'and parallelFor run synchronously (await in the task itself)');
  }
  let bytes;
  try {
    bytes = codec.encode(codec.KIND.VALUE, v, ctx.sabId);
  } catch (err) {
    if (!codec.isNeedsPost(err)) {
      throw taskError(`a child's result cannot be cloned: ${
        thrownMessage(err)}`);
    }
    return v; // its buffers are shared (and the rest clones)
  }
  return codec.decode(bytes, ctx.sabOf)[1];
}

// Where a copy made for this thread names the SharedArrayBuffers that
// the other threads do not know: by their place in the copy's own list.
const LOCAL = 2 ** 52;

// A sabId for encodeArgs that names a buffer the other threads do not
// know by LOCAL + its place in `local`, a list of the caller's.
const localIds = (local) => (sab) => {
  const id = ctx.sabId(sab);
  if (id >= 0) return id;
  let at = local.indexOf(sab);
  if (at < 0) at = local.push(sab) - 1;
  return LOCAL + at;
};

// Arguments encoded with localIds(local), decoded here.
function decodeLocal(bytes, local) {
  const [kind, value] = codec.decode(bytes,
    (id) => (id >= LOCAL ? local[id - LOCAL] : ctx.sabOf(id)));
  if (kind !== codec.KIND.FAST && kind !== codec.KIND.VALUE) {
    throw taskError('corrupt child arguments');
  }
  return value;
}

// `args` as a child that runs here should see them, each read once: a
// copy if any is an object, sharing SharedArrayBuffers, those made inside
// the task too. A symbol, which no clone carries, fails here as it would
// on a thief.
function ownCopy(args) {
  const n = args.length;
  const values = new Array(n);
  for (let i = 0; i < n; i++) values[i] = args[i];
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v === 'symbol' || (v !== null && (typeof v === 'object' ||
        typeof v === 'function') && !codec.isSharedView(v))) {
      const local = [];
      let bytes;
      try {
        bytes = encodeArgs(values, localIds(local));
      } catch (err) {
        // A bare SharedArrayBuffer: the child gets the values themselves
        // (the rest clones).
        if (!codec.isNeedsPost(err)) {
          throw taskError(`a child's arguments cannot be cloned: ${
            thrownMessage(err)}`);
        }
        return values;
      }
      return decodeLocal(bytes, local);
    }
  }
  return values;
}

// ---- Levels. ----

// Calls fn(...args) as a level: afterwards its unsynced children are
// synced, and if fn returned, the first of their errors is thrown. `args`
// may instead be a count, 0 to 2, of the numbers a and b to pass (a
// task's arguments as the ring carries them, with no array to make).
function callLevel(fn, args, a, b) {
  const savedBase = levelBase;
  const savedOpen = open;
  const base = stack.length;
  levelBase = base;
  open = true;
  let result;
  let threw = false;
  try {
    switch (args) {
      case 0: result = fn(); break;
      case 1: result = fn(a); break;
      case 2: result = fn(a, b); break;
      default: result = fn(...args);
    }
  } catch (err) {
    threw = true;
    result = err;
  } finally {
    let failed = null;
    try {
      while (stack.length > base) {
        const h = syncTop();
        if (h.state === FAILED) failed = h;
      }
    } finally {
      open = savedOpen;
      levelBase = savedBase;
    }
    if (threw) throw result;
    if (failed !== null) throw failed.value;
  }
  return result;
}

// The thread's runner, for a stolen child (the mailbox holds its head and
// numbers): returns its outcome as the binding takes it.
function runChild(head, a, b) {
  const savedOpen = open;
  open = false;
  try {
    return runChildClosed(head, a, b);
  } finally {
    open = savedOpen;
  }
}

function runChildClosed(head, a, b) {
  const id = Math.floor(head / TAGS);
  const tag = head - id * TAGS;
  let result;
  try {
    let args;
    switch (tag) {
      case 0: args = EMPTY; break;
      case 1: args = [a]; break;
      case 2: args = [a, b]; break;
      default: args = decodeArgs(binding.childArgs());
    }
    result = id === RANGE ? callLevel(rangeChild, args)
      : callLevel(ctx.fnOf(id), args);
    if (typeof result === 'number' || result === undefined) return result;
    if (isThenable(result)) childResult(result); // throws
  } catch (err) {
    return codec.encodeError(err, ctx.sabId);
  }
  try {
    const plan = codec.fastPlan([result]);
    if (plan.bytes >= 0) {
      const buf = Buffer.allocUnsafe(plan.bytes);
      return buf.subarray(0, codec.fastWrite(plan, buf, 0, ctx.sabId));
    }
    return codec.encode(codec.KIND.VALUE, plan.values[0], ctx.sabId);
  } catch (err) {
    return codec.encodeError(taskError(codec.isNeedsPost(err)
      ? 'a child that ran on another thread returned a SharedArrayBuffer ' +
        'made inside the task, which only the pool\'s own buffers can be'
      : `a child's result cannot be cloned: ${thrownMessage(err)}`),
    ctx.sabId);
  }
}

// ---- Spawn and sync. ----

// Runs h's function here, now, with its own copy of the arguments.
function runHere(h) {
  try {
    const r = h.n >= 0 ? callLevel(h.fn, h.n, h.a, h.b)
      : callLevel(h.fn, h.bytes === null ? h.args : decodeArgs(h.bytes));
    h.value = childResult(r);
    h.state = DONE;
  } catch (err) {
    h.value = err;
    h.state = FAILED;
  }
}

// Pushes a child of function `id` (fn) with `args`; returns its handle.
function push(id, fn, args) {
  if (!isArray(args)) {
    throw argError('a child\'s arguments must be an array');
  }
  const h = new Handle(fn, args);
  const n = args.length;
  // Read once: a getter may fork (before the mailbox is written) or change
  // the array, and the child sees the values of this moment either way.
  const a = n > 0 && n <= 2 ? args[0] : 0;
  const b = n > 1 && n <= 2 ? args[1] : 0;
  const mb = ctx.mailbox;
  let pushed;
  if (n <= 2 && typeof a === 'number' && typeof b === 'number') {
    h.n = n;
    h.a = a;
    h.b = b;
    mb[0] = id * TAGS + n;
    mb[1] = a;
    mb[2] = b;
    pushed = binding.fork();
  } else {
    // The list as read: a and b above, or each value now, once.
    const plan = codec.fastPlan(n === 1 ? [a] : n === 2 ? [a, b] : args);
    h.args = plan.values;
    const local = [];
    try {
      h.bytes = encodePlan(plan, localIds(local));
    } catch (err) {
      if (!codec.isNeedsPost(err)) {
        throw taskError(`a child's arguments cannot be cloned: ${
          thrownMessage(err)}`);
      }
      // A bare SharedArrayBuffer, which only postMessage can share: the
      // child runs here, now, with the values themselves (as read above;
      // the rest clones).
      runHere(h);
      return h;
    }
    if (local.length > 0) {
      // A SharedArrayBuffer the other threads do not know: the child
      // runs here, now, sharing it (as a full deque would have it), with
      // its own copy of the rest, read once.
      h.args = decodeLocal(h.bytes, local);
      h.bytes = null;
      runHere(h);
      return h;
    }
    mb[0] = id * TAGS + TAG_PAYLOAD;
    pushed = binding.fork(h.bytes);
  }
  if (!pushed) {
    runHere(h); // the deque is full: run it now
    return h;
  }
  h.depth = stack.length;
  stack.push(h);
  return h;
}

// Syncs the newest child; returns its handle, settled.
function syncTop() {
  const h = stack[stack.length - 1];
  h.state = SYNCING;
  let r;
  try {
    r = binding.sync();
  } finally {
    stack.pop();
  }
  if (r === true) {
    runHere(h);
  } else if (r === false) {
    h.value = taskError('the thread running a child stopped before it ' +
      'finished (process.exit, terminate, or a fatal error)');
    h.state = FAILED;
  } else if (typeof r === 'number' || r === undefined) {
    h.value = r;
    h.state = DONE;
  } else {
    const [kind, value] = codec.decode(r, ctx.sabOf);
    if (kind === codec.KIND.ERROR) {
      h.value = codec.fromRecord(value);
      h.state = FAILED;
    } else {
      h.value = kind === codec.KIND.FAST ? value[0] : value;
      h.state = DONE;
    }
  }
  return h;
}

function outcome(h) {
  if (h.state === FAILED) throw h.value;
  return h.value;
}

// ---- The calls of penny/task. ----

function spawn(fn, args = EMPTY) {
  inTask('spawn');
  const id = ctx.idOf(fn);
  return push(id, ctx.fnOf(id), args);
}

function sync(handle) {
  inTask('sync');
  if (!(handle instanceof Handle)) {
    throw argError('sync() takes a handle from spawn()');
  }
  if (handle.state === PENDING) {
    if (handle.depth < levelBase || stack[handle.depth] !== handle) {
      throw taskError('sync(): this child belongs to another function, ' +
        'task or thread; sync a child where it was spawned');
    }
    while (handle.state === PENDING) syncTop();
  } else if (handle.state === SYNCING) {
    throw taskError('sync(): this child is being synced already');
  }
  return outcome(handle);
}

function join(fnA, argsA, fnB, argsB) {
  inTask('join');
  const idA = ctx.idOf(fnA);
  const idB = ctx.idOf(fnB);
  if (!isArray(argsA)) {
    throw argError('join(): argsA must be an array');
  }
  const h = push(idB, ctx.fnOf(idB), argsB === undefined ? EMPTY : argsB);
  let a;
  let aFailed = false;
  try {
    // Side A always runs here, but as a child it gets its own copy of
    // its arguments and its result is cloned, as B's are.
    a = childResult(callLevel(ctx.fnOf(idA), ownCopy(argsA)));
  } catch (err) {
    a = err;
    aFailed = true;
  }
  // Both sides finish before either's error propagates (A's first).
  while (h.state === PENDING) syncTop();
  if (aFailed) throw a;
  return [a, outcome(h)];
}

// ---- parallelFor: lazy binary splitting, as penny_for in the core. ----

// Runs one range of a parallelFor; a body that returns a promise fails as
// a child that does.
function forBody(fn, lo, hi, args) {
  const r = callLevel(fn, [lo, hi, ...ownCopy(args)]);
  if (isThenable(r)) childResult(r); // throws
}

function forRange(fn, id, lo, hi, grain, args) {
  while (hi - lo > grain) {
    if (binding.cancelled()) return;
    if (binding.forkIdle()) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const h = push(RANGE, rangeChild, [id, mid, hi, grain, ...args]);
      forRange(fn, id, lo, mid, grain, args);
      while (h.state === PENDING) syncTop();
      outcome(h);
      return;
    }
    forBody(fn, lo, lo + grain, args);
    lo += grain;
  }
  if (lo < hi && !binding.cancelled()) {
    forBody(fn, lo, hi, args);
  }
}

// A stolen (or synced-back) half: [fn id, lo, hi, grain, ...args].
function rangeChild(id, lo, hi, grain, ...args) {
  forRange(ctx.fnOf(id), id, lo, hi, grain, args);
}

function parallelFor(fn, lo, hi, grain = 0, args = EMPTY) {
  inTask('parallelFor');
  const id = ctx.idOf(fn);
  const MAX = Number.MAX_SAFE_INTEGER;
  checkInteger('parallelFor(): lo', lo, -MAX, MAX);
  checkInteger('parallelFor(): hi', hi, -MAX, MAX);
  checkInteger('parallelFor(): grain', grain, 0, MAX);
  if (!isArray(args)) {
    throw argError('parallelFor(): args must be an array');
  }
  if (hi <= lo) return;
  if (grain === 0) {
    grain = Math.min(MAX_GRAIN,
      Math.max(1, Math.floor((hi - lo) / (ctx.threads * 8))));
  }
  forRange(ctx.fnOf(id), id, lo, hi, grain, args);
}

module.exports = {
  install, callLevel, runChild, join, spawn, sync, parallelFor,
};
