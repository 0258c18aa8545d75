'use strict';

// A thread of a task pool (lib/task-pool.js starts it as a Worker): it
// loads the pool's task module, then lends itself to the pool's C core
// with binding.enter, which runs the worker loop here and calls back into
// this file's runner for each JS task. When the core has nothing for it,
// enter returns and the thread parks in Atomics.wait on the ring's epoch
// word (Atomics.waitAsync while its event loop has work, such as a timer
// a task set), where terminate and process exit can always stop it.

const {
  workerData, parentPort, receiveMessageOnPort,
} = require('node:worker_threads');
const { pathToFileURL, fileURLToPath } = require('node:url');
const { statSync } = require('node:fs');
const { isProxy } = require('node:util').types;
const binding = require('./binding');
const codec = require('./task-codec');
const { taskError, argError, thrownMessage } = require('./errors');
const fork = require('./task-fork');
const { small } = require('./number');

const { jsTasks, ring } = binding.contract;
const {
  id: POOL_ID, index: INDEX, gen: GEN, tasks: TASKS, arena: ARENA, port: PORT,
} = workerData;
const TAGS = jsTasks.tags;
const VIEW_TAG = jsTasks.viewTag; // one view, in the cell (codec.viewCell)
// A short array of numbers as a result: its length and its numbers go in
// the mailbox (syncResult).
const {
  resultNumbers: RESULT_NUMBERS, mailboxCount: MAILBOX_COUNT,
  mailboxNumbers: MAILBOX_NUMBERS,
} = jsTasks;
// The mailbox's slot word for a stolen child, and once its runner has
// read it (src/addon/addon.h).
const CHILD = -1;
const STARTED = -2;
const i32 = new Int32Array(workerData.ring);
const EPOCH = (workerData.ringStart + ring.epochOffset) / 4;
const arenaBytes = new Uint8Array(ARENA);
const arenaBuf = Buffer.from(ARENA);
// Where a simple result is written before the binding copies it (a
// larger one gets a buffer of its own).
const scratch = Buffer.allocUnsafeSlow(4096);
// Over an ArrayBuffer of its own: never in the engine's heap, where the
// binding's pointer to it could move.
const mailbox = new Float64Array(new ArrayBuffer(8 * jsTasks.mailboxLength));
// A parked thread looks again this often even if no wake-up comes: a
// pool collected without close() cannot notify from its finalizer.
const PARK_MS = 2000;
// Bun reports no active resources (its getActiveResourcesInfo is always
// empty), so a thread there cannot tell whether a task left work for its
// event loop (a timer, a socket), and parking in Atomics.waitAsync costs
// it a 30-fold drop in throughput. It lets its event loop run one turn
// before each park instead, and parks for at most BUN_PARK_MS: what a
// task left runs within that.
const COUNTS_RESOURCES = process.versions.bun === undefined;
const BUN_PARK_MS = 50;
const turn = () => new Promise((resolve) => { setImmediate(resolve); });

// What the pool's main thread told this thread: task names and
// SharedArrayBuffers by id (see TaskThreads in task-pool.js).
const names = new Map(workerData.names);
const sabs = new Map(workerData.sabs);
sabs.set(0, ARENA);
const sabIds = new WeakMap([...sabs].map(([id, sab]) => [sab, id]));
// Buffers the pool has forgotten (collected on its side), by id, held only
// as long as something on this thread holds them: a task that kept a
// view, or a child's arguments on their way here from a thread that had
// not yet heard.
const dropped = new Map();
const forgetDropped = new FinalizationRegistry((id) => {
  if (dropped.get(id)?.deref() === undefined) dropped.delete(id);
});
let fns = [];             // id -> the function, once resolved
let exportsObj = null;    // the module's exports (namespace)
let loadError = null;     // why the module failed to load

// Reads what the main thread has posted since the last look.
function drainPort() {
  let m;
  while ((m = receiveMessageOnPort(PORT)) !== undefined) {
    const msg = m.message;
    if (msg.name !== undefined) names.set(msg.id, msg.name);
    else if (msg.sab !== undefined) {
      sabs.set(msg.id, msg.sab);
      sabIds.set(msg.sab, msg.id);
    }
    else if (msg.drop !== undefined) {
      // The pool forgot it; children that a task spawns over a view it
      // kept now run on its thread (childSabId).
      const sab = sabs.get(msg.drop);
      if (sab !== undefined) {
        sabIds.delete(sab);
        sabs.delete(msg.drop);
        dropped.set(msg.drop, new WeakRef(sab));
        forgetDropped.register(sab, msg.drop);
      }
    }
  }
}


// The function with this id; throws ERR_PENNY_TASK if there is none.
function resolve(id) {
  if (!names.has(id)) drainPort();
  const name = names.get(id);
  if (loadError !== null) {
    throw taskError(`the task module ${TASKS} failed to load: ${
      loadError?.message ?? String(loadError)}`);
  }
  const fn = name === undefined ? undefined : exportsObj[name];
  if (typeof fn !== 'function') {
    throw taskError(`the task module's export '${name}' is not a function`);
  }
  fns[id] = fn;
  return fn;
}

function sabOf(id) {
  if (!sabs.has(id)) drainPort();
  const sab = sabs.get(id) ?? dropped.get(id)?.deref();
  if (sab === undefined) throw taskError('a SharedArrayBuffer went missing');
  return sab;
}

// Results and errors: the arena's views travel by id 0. Any other
// SharedArrayBuffer (one made in the task, say) is posted with the
// payload, which names it by codec.POSTED_BUFFER + its place in the list
// posted; payloadBuffers keeps those places for the payload being made.
let payloadBuffers = null;
function payloadSabId(sab) {
  if (sab === ARENA) return 0;
  payloadBuffers ??= new Map();
  let at = payloadBuffers.get(sab);
  if (at === undefined) {
    at = payloadBuffers.size;
    payloadBuffers.set(sab, at);
  }
  return codec.POSTED_BUFFER + at;
}
// A message's payload, which names no buffer but the arena.
const errorSabId = (sab) => (sab === ARENA ? 0 : -1);
// Children's values: any buffer the pool gave every thread travels by id.
function childSabId(sab) {
  let id = sabIds.get(sab);
  if (id === undefined) {
    drainPort();
    id = sabIds.get(sab);
  }
  return id ?? -1;
}
let posts = 0;

// The payload of a task's result; one that cannot be cloned (a getter
// of the value that throws included) is an ERR_PENNY_TASK error's.
function encodeResult(value) {
  payloadBuffers = null;
  const plan = codec.fastPlan([value]);
  let bytes;
  try {
    if (plan.bytes >= 0) {
      const buf = plan.bytes <= scratch.length ? scratch
        : Buffer.allocUnsafeSlow(plan.bytes);
      bytes = buf.subarray(0, codec.fastWrite(plan, buf, 0, payloadSabId));
    } else {
      bytes = codec.encode(codec.KIND.VALUE, plan.values[0], payloadSabId);
    }
  } catch (err) {
    payloadBuffers = null;
    if (!codec.isNeedsPost(err)) {
      return errorPayload(taskError(
        `the task's result cannot be cloned: ${thrownMessage(err)}`));
    }
    // A bare SharedArrayBuffer, which only postMessage can share: the
    // value goes that way (read again).
    return postResult({ value: plan.values[0] });
  }
  return withBuffers(bytes);
}

// The payload of what a task threw.
function errorPayload(thrown) {
  payloadBuffers = null;
  return withBuffers(codec.encodeError(thrown, payloadSabId));
}

// `bytes` as they are, or, if they name buffers other than the arena,
// posted with them (copied off any scratch buffer under them).
function withBuffers(bytes) {
  const buffers = payloadBuffers;
  payloadBuffers = null;
  if (buffers === null) return bytes;
  return postResult({ bytes: new Uint8Array(bytes),
    buffers: [...buffers.keys()] });
}

// Posts `message` (the result as { value }, or a payload as { bytes,
// buffers }) on this thread's port; returns the POSTED payload that
// names it.
function postResult(message) {
  const id = ++posts;
  message.post = id;
  try {
    PORT.postMessage(message);
  } catch (err) {
    return codec.encodeError(taskError(
      `the task's result cannot be cloned: ${thrownMessage(err)}`),
    errorSabId);
  }
  return codec.posted(GEN, id);
}

// A task's result returned by the runner: a short array of numbers as
// the mailbox holding them, which the binding copies into the completion
// (no payload to copy or decode), else its payload. Not for a result that
// a promise gives: the mailbox belongs to whatever task runs by then.
function syncResult(value) {
  return numbersToMailbox(value) ? mailbox : encodeResult(value);
}

// True if `value` is a plain array of at most RESULT_NUMBERS numbers, all
// of them data properties, and then writes them into the mailbox. It
// reads keys and property descriptors, never a getter or a Proxy trap:
// a value it turns down goes to the codec unread.
function numbersToMailbox(value) {
  if (!Array.isArray(value) || isProxy(value)) return false;
  const n = value.length;
  if (n > RESULT_NUMBERS || Object.getPrototypeOf(value) !== Array.prototype ||
      !codec.indexesOnly(value, n)) return false;
  for (let i = 0; i < n; i++) {
    // An accessor's descriptor has no value: not a number.
    const x = Object.getOwnPropertyDescriptor(value, i)?.value;
    if (typeof x !== 'number') return false;
    mailbox[MAILBOX_NUMBERS + i] = x;
  }
  mailbox[MAILBOX_COUNT] = n;
  return true;
}

// The task awaiting its promise on this thread, if any (at most one).
let pending = null;

function settleLater(promise) {
  pending = promise.then(
    (value) => (typeof value === 'number' || value === undefined
      ? value : encodeResult(value)),
    (err) => errorPayload(err))
    .catch((err) => errorPayload(err))
    .then((out) => {
      binding.finish(out);
    });
}

// Called by the core (through the JS-task kernel) with the task in the
// mailbox; returns its outcome as the binding takes it: a number,
// undefined, the mailbox holding a few numbers (syncResult), a payload,
// or null when it awaits a promise.
function runner() {
  const head = mailbox[0];
  const a = small(mailbox[1]);
  const b = small(mailbox[2]);
  const id = Math.floor(head / TAGS);
  const tag = head - id * TAGS;
  let result;
  try {
    if (mailbox[3] === CHILD) {
      mailbox[3] = STARTED;
      return fork.runChild(head, a, b);
    }
    const fn = fns[id] ?? resolve(id);
    switch (tag) {
      case 0: case 1: case 2: result = fork.callLevel(fn, tag, a, b); break;
      case VIEW_TAG:
        // As one argument, the way a number comes (no list to spread).
        result = fork.callLevel(fn, 1, codec.cellView(mailbox[1],
          mailbox[2], sabOf));
        break;
      default: {
        // Arguments as a payload: in the arena (3) or a buffer of its
        // own (4), at byte offset a, b bytes long.
        let args;
        if (tag === 3 && arenaBuf[a] === codec.KIND.FAST) {
          args = codec.fastRead(arenaBuf, a, sabOf);
        } else {
          const bytes = tag === 3 ? arenaBytes.subarray(a, a + b)
            : new Uint8Array(sabOf(a), 0, b);
          args = codec.decode(bytes, sabOf)[1];
        }
        result = fork.callLevel(fn, args);
      }
    }
    if (typeof result === 'number' || result === undefined) {
      return result;
    }
    if (result !== null && (typeof result === 'object' ||
        typeof result === 'function') && typeof result.then === 'function') {
      settleLater(Promise.resolve(result));
      return null;
    }
    // A result that cannot be cloned (a getter in it that throws, say)
    // rejects with ERR_PENNY_TASK, as an async task's does (settleLater).
    return syncResult(result);
  } catch (err) {
    return errorPayload(err);
  }
}

const notify = (n) => Atomics.notify(i32, EPOCH, n);

// The module's exports, in an object of ours: exports are never awaited
// as a thenable (a CommonJS module may well export `then`).
async function load() {
  // An absolute path or a file: URL (lib/task-pool.js checked which).
  const url = TASKS.startsWith('file:') ? TASKS : pathToFileURL(TASKS).href;
  if (!/\.mjs$/i.test(new URL(url).pathname)) {
    try {
      return { mod: require(TASKS.startsWith('file:')
        ? fileURLToPath(TASKS) : TASKS) };
    } catch (err) {
      // An ES module require() cannot load (one with a top-level await,
      // where require() loads ES modules at all; Bun says so in a TypeError
      // with no code) takes import().
      if (err?.code !== 'ERR_REQUIRE_ESM' &&
          err?.code !== 'ERR_REQUIRE_ASYNC_MODULE' &&
          !(process.versions.bun !== undefined &&
            /require\(\) async module/.test(err?.message))) throw err;
    }
  }
  return importBoxed(url);
}

// True if `url` names a file that exists.
function isFile(url) {
  try {
    return statSync(fileURLToPath(url)).isFile();
  } catch {
    return false;
  }
}

// { mod: an ES module's namespace }. import() resolves its promise with
// the namespace, which makes an exported function named `then` a
// thenable's (called, and the import never settles), so a one-line module
// imports it instead and exports it in a box, and no promise here ever
// resolves with the namespace itself. Bun, whose data: modules cannot
// import files, and a path that is no file (for the error's sake, which
// would otherwise name the data: module) take import().
async function importBoxed(url) {
  if (process.versions.bun !== undefined || !isFile(url)) {
    return { mod: await import(url) };
  }
  const source = `import * as ns from ${JSON.stringify(url)};\n` +
    'export const box = { mod: ns };\n';
  return (await import(`data:text/javascript,${
    encodeURIComponent(source)}`)).box;
}

// [name, is a function] for each export; throws if they cannot be read.
function exportNames(mod) {
  return Object.keys(mod).map((k) => [k, typeof mod[k] === 'function']);
}

// Children name their function by its place among the module's exported
// functions in name order: the same on every thread of the pool, as long
// as the module exports the same functions on each.
function installFork(names) {
  const childNames = names.filter(([, isFn]) => isFn).map(([k]) => k).sort();
  const childFns = childNames.map((k) => exportsObj[k]);
  const byName = new Map(childNames.map((k, i) => [k, i]));
  const byFn = new Map();
  let lastFn = null;
  let lastId = -1;
  childFns.forEach((f, i) => {
    if (!byFn.has(f)) byFn.set(f, i);
  });
  fork.install({
    mailbox,
    threads: workerData.threads,
    sabId: childSabId,
    sabOf,
    fnOf: (id) => childFns[id],
    idOf(fn) {
      // The last one asked for, again: a recursive task forks itself.
      if (fn === lastFn) return lastId;
      const id = typeof fn === 'string' ? byName.get(fn) : byFn.get(fn);
      if (id === undefined) {
        throw argError(typeof fn === 'string'
          ? `the task module has no exported function '${fn}'`
          : 'a child must be an exported function of the task module, ' +
            'or its name');
      }
      lastFn = fn;
      lastId = id;
      return id;
    },
  });
}

async function main() {
  let names = null;
  try {
    const { mod } = await load();
    // module.exports = fn is the name 'default'; null or a primitive
    // exports nothing.
    exportsObj = typeof mod === 'function' ? { default: mod }
      : mod !== null && typeof mod === 'object' ? mod : {};
    names = exportNames(exportsObj);
    installFork(names);
  } catch (err) {
    loadError = err;
    exportsObj = null;
  }
  // Tells the pool the module's names (or why it failed), once per thread.
  parentPort.postMessage({
    ready: true,
    names,
    error: names === null ? codec.errorRecord(loadError) : undefined,
  });
  // Resources this thread has of its own; more means a task left work for
  // the event loop (a timer, a socket), so park where it can run.
  const base = COUNTS_RESOURCES ? process.getActiveResourcesInfo().length
    : 0;
  let resume = false;
  for (;;) {
    const r = binding.enter(POOL_ID, INDEX, resume, runner, notify, mailbox,
      workerData.stackBudget);
    if (r >= 0) {
      // Let the promise jobs that tasks queued run before parking.
      await undefined;
      if (!COUNTS_RESOURCES) {
        await turn();
        Atomics.wait(i32, EPOCH, r | 0, BUN_PARK_MS);
      } else if (process.getActiveResourcesInfo().length > base) {
        await Atomics.waitAsync(i32, EPOCH, r | 0, PARK_MS).value;
      } else {
        Atomics.wait(i32, EPOCH, r | 0, PARK_MS);
      }
      resume = true;
    } else if (r === jsTasks.left) {
      // A task awaits its promise (or this thread is stopping).
      if (pending !== null) {
        const p = pending;
        pending = null;
        await p;
      }
      resume = false;
    } else {
      // The pool is closed or gone, or a call into this thread's JS
      // failed (jsTasks.broken: its environment is stopping): end here,
      // and the pool starts a thread in its place.
      break;
    }
  }
  PORT.close();
}

main();
