'use strict';

// The tasks of one pool in flight, by slot, and how the binding's
// completions settle them. A slot names a task record in C memory: it is
// taken when run() queues a task and freed when that task's completion
// has settled its promise, so the binding never sees a slot reused early.
//
// The binding calls onComplete(n) with n completions waiting in a shared
// buffer (its layout is binding.contract.completions): per task its slot,
// a status (binding.contract.status) and its f64 result, with the limbs
// of a BigInt result alongside. It runs inside a callback scope, so the
// promises' continuations run as soon as it returns.

const binding = require('./binding');
const { small } = require('./number');
const {
  argError, rangeError, kernelError, abortError, taskError, thrownMessage,
} = require('./errors');

const {
  fields: FIELDS, slot: SLOT, status: STATUS, value: VALUE, limbs: LIMBS,
} = binding.contract.completions;
const {
  RESULT, VOID, ARG_TYPE, ARG_RANGE, BIGINT, FAILED, CANCELLED, PAYLOAD,
  TASK_FAILED, THROWN, NUMBERS,
} = binding.contract.status;
const {
  state: STATE, lazy: LAZY, inactive: INACTIVE, active: ACTIVE, idle: IDLE,
} = binding.contract.activity;


// One reusable promise executor: saves a closure per task on the hot path.
// Only the resolve function is kept for a pending task; the reject
// function dies young, which spares the garbage collector a copy of it per
// task in flight. A task that fails resolves its promise with a thenable
// that rejects (one microtask later), which rejects the promise.
let nextResolve;
function capture(resolve) {
  nextResolve = resolve;
}

class Rejection {
  constructor(error) {
    this.error = error;
  }

  then(resolve, reject) {
    reject(this.error);
  }
}

// Per-task extras, only for tasks with a signal or copied arguments.
class Extra {
  constructor(kernel) {
    this.slot = -1;          // none yet: nothing to cancel
    this.kernel = kernel;    // its description, for the copies' messages
    this.watch = undefined;  // the signal's SignalTasks, if it has one
    this.copies = undefined; // Copy records, if any
    this.block = -1;         // a JS task's argument bytes in the arena
    this.keep = undefined;   // SharedArrayBuffers its arguments use
  }
}

// What a failed task that brought no error of its own rejects with: a
// cancelled one with its signal's reason, if that signal aborted, else an
// AbortError (the pool was torn down under it).
function failure(code, watch) {
  if (code !== CANCELLED) {
    return kernelError(`kernel failed: ${binding.strerror(code)}`);
  }
  return watch !== undefined && watch.aborted ? watch.reason : abortError();
}

// Settles one task's promise from its status: with `error` if the task
// brought one (`threw`: a JS task threw it, whatever it is), else with
// its value, undefined, or its failure.
function settle(resolve, code, value, error, watch, threw) {
  if (error !== undefined || threw) resolve(new Rejection(error));
  else if (code === VOID) resolve(undefined);
  else if (code === RESULT || code === BIGINT || code === PAYLOAD ||
      code === NUMBERS) {
    resolve(value);
  }
  else resolve(new Rejection(failure(code, watch)));
}

// The BigInt result of the k-th completion of a batch: LIMBS 64-bit limbs,
// least significant first, of a two's-complement integer.
function bigAt(bigs, k) {
  let v = 0n;
  for (let i = LIMBS - 1; i >= 0; i--) v = (v << 64n) | bigs[LIMBS * k + i];
  return BigInt.asIntN(64 * LIMBS, v);
}

// A JS task's short array of numbers (NUMBERS): `count` doubles where
// the k-th completion's limbs are.
function numbersAt(numbers, k, count) {
  const out = new Array(count);
  for (let i = 0; i < count; i++) out[i] = numbers[LIMBS * k + i];
  return out;
}

class Completions {
  #handle = null;
  #results = null;      // Float64Array of completions
  #bigs = null;         // BigUint64Array: LIMBS per completion
  #numbers = null;      // the same memory as doubles (NUMBERS)
  #activity = null;     // Int32Array: the binding's activity words
  #resolves = [];       // slot -> the task promise's resolve function
  #extras = [];         // slot -> Extra or undefined
  #detached = [];       // onComplete's scratch: the batch's Extras
  #freeSlots = [];      // task slots not in use
  #nslots = 0;          // slots the binding has records for
  #copier;
  #signals;
  #onIdle;
  #heap;
  #outcome;
  pending = 0;
  submitted = 0;        // accepted tasks, less those refused on a worker
  // Tasks the binding counted as completed that failed: their outcome
  // could not be read here, or was an error that came as a posted result.
  countedAsCompleted = 0;

  // `onIdle` runs when the last pending task has settled; `outcome`
  // reads a JS task's payload into { value } or { error }.
  constructor(copier, signals, onIdle, heap, outcome) {
    this.#copier = copier;
    this.#signals = signals;
    this.#onIdle = onIdle;
    this.#heap = heap;
    this.#outcome = outcome;
  }

  // The pool's handle, the completion buffer and the activity words,
  // from create().
  attach(handle, results, bigs, activity) {
    this.#handle = handle;
    this.#results = results;
    this.#bigs = bigs;
    this.#numbers = new Float64Array(bigs.buffer, bigs.byteOffset,
      bigs.length);
    this.#activity = activity;
  }

  // The first task is pending: the binding's handles keep the process
  // alive (and this object reachable) until the last one settles. If
  // they still do (the binding has not stopped them since the last one
  // did), that takes no call.
  #activate() {
    const a = this.#activity;
    if (a[STATE] === INACTIVE) binding.active(this.#handle, true);
    else a[STATE] = ACTIVE;
  }

  // The last task has settled: the binding stops its handles at its next
  // prepare phase, before the loop can sleep, where it has one; else now.
  #deactivate() {
    const a = this.#activity;
    if (a[LAZY] === 1) a[STATE] = IDLE;
    else binding.active(this.#handle, false);
  }

  // A free slot. Growing can fail (too many tasks in flight).
  take() {
    return this.#freeSlots.length > 0 ? this.#freeSlots.pop() : this.#grow();
  }

  // Returns a slot that take() gave and no task was queued under.
  untake(slot) {
    this.#freeSlots.push(slot);
  }

  // Adds slots to the free list; returns one of them.
  #grow() {
    const before = this.#nslots;
    this.#nslots = binding.grow(this.#handle);
    for (let slot = this.#nslots - 1; slot > before; slot--) {
      this.#freeSlots.push(slot);
    }
    return before;
  }

  // Records the task queued under `slot`; returns its promise.
  add(slot, extra) {
    const promise = new Promise(capture);
    this.#resolves[slot] = nextResolve;
    this.submitted++;
    if (this.pending++ === 0) this.#activate();
    if (extra !== undefined) {
      extra.slot = slot;
      this.#extras[slot] = extra;
    }
    return promise;
  }

  // True while `extra`'s task owns its slot: user code run while a batch
  // settles may abort a signal whose task has already finished.
  owns(extra) {
    return this.#extras[extra.slot] === extra;
  }

  // Called by the binding with the number of completions waiting in
  // #results. It never throws: a task whose settling fails rejects with
  // that failure instead.
  onComplete = (n) => {
    this.#detach(n);
    const settled = this.#settleBatch(n);
    this.pending -= settled;
    if (this.pending === 0 && settled > 0) {
      this.#deactivate();
      this.#onIdle();
    }
  };

  // First detach the batch's tasks from their signals: user code that
  // runs while the batch settles must not cancel a slot whose task is
  // finished (see owns()).
  #detach(n) {
    const r = this.#results;
    const extras = this.#extras;
    const detached = this.#detached;
    for (let k = 0; k < n; k++) {
      const slot = r[FIELDS * k + SLOT];
      const extra = extras[slot];
      if (extra !== undefined) {
        extras[slot] = undefined;
        detached[k] = extra;
      }
    }
  }

  // Settles the batch; returns how many tasks it settled. The loops live
  // in functions of their own that end where they do: V8 compiles a long
  // batch's loop on the stack (OSR), and code after such a loop that had
  // not yet run when it was compiled made that code deoptimize at every
  // later call.
  #settleBatch(n) {
    const r = this.#results;
    const resolves = this.#resolves;
    const freeSlots = this.#freeSlots;
    const detached = this.#detached;
    let settled = 0;
    for (let k = 0; k < n; k++) {
      const at = FIELDS * k;
      const slot = r[at + SLOT];
      const code = r[at + STATUS];
      const resolve = resolves[slot];
      const extra = detached[k];
      detached[k] = undefined;
      // A slot with no task cannot come from the binding; skip rather
      // than settle someone else's promise.
      if (resolve === undefined) continue;
      settled++;
      resolves[slot] = undefined;
      let error;
      let value;
      let threw = false;
      try {
        if (code === ARG_TYPE || code === ARG_RANGE) {
          // Refused on a worker: read the message before the slot is
          // reused.
          const message = binding.message(this.#handle, slot);
          error = code === ARG_TYPE ? argError(message) : rangeError(message);
          this.submitted--; // a bad call, not a task
        } else if (code === FAILED) {
          // A kernel that failed with a message.
          error = kernelError(binding.message(this.#handle, slot));
        } else if (code === TASK_FAILED) {
          error = taskError(binding.message(this.#handle, slot));
        }
        if (code === CANCELLED || code === FAILED || code === TASK_FAILED) {
          this.#discard(slot);
        }
        value = code === BIGINT ? bigAt(this.#bigs, k)
          : code === NUMBERS ? numbersAt(this.#numbers, k, r[at + VALUE])
            : small(r[at + VALUE]);
        if (code === PAYLOAD || code === THROWN) {
          const out = this.#read(slot, code);
          threw = 'error' in out;
          if (threw) error = out.error;
          else value = out.value;
        }
      } catch (err) {
        error = err;
        threw = true;
      }
      // The task's arena block, copies and signal go with it, however it
      // settles.
      let watch;
      if (extra !== undefined) {
        try {
          error = this.#finish(extra, code, error);
        } catch (err) {
          error ??= err;
          threw = true;
        }
        watch = extra.watch;
      }
      settle(resolve, code, value, error, watch, threw);
      freeSlots.push(slot);
    }
    return settled;
  }

  // A JS task's outcome from its payload, as { value } or { error }. One
  // that cannot be read here (nested deeper than this thread's stack
  // allows, say) rejects with ERR_PENNY_TASK, and the task counts as
  // failed.
  #read(slot, code) {
    try {
      const out = this.#outcome(this.#payload(slot));
      // A thrown value posted with its buffers came as a result.
      if (code === PAYLOAD && 'error' in out) this.countedAsCompleted++;
      return out;
    } catch (err) {
      // A THROWN one is counted as failed already.
      if (code === PAYLOAD) this.countedAsCompleted++;
      const what = code === THROWN ? 'error' : 'result';
      return { error: taskError(`the task's ${what} cannot be read on ` +
        `this thread: ${thrownMessage(err)}`) };
    }
  }

  // A JS task cancelled while it ran or awaited a promise settles as
  // cancelled (or failed), though it went on to return: its result is read
  // and dropped, so that one its thread posted (codec.KIND.POSTED) does
  // not stay on that thread's port, holding whatever buffers it shares.
  // A kernel has no payload.
  #discard(slot) {
    try {
      const bytes = this.#payload(slot);
      if (bytes.length > 0) this.#outcome(bytes);
    } catch { /* nothing to keep of it */ }
  }

  // A JS task's payload, in a buffer reused from one to the next (the
  // outcome is decoded before the next is read); a larger one in a buffer
  // of its own, which goes with it.
  #scratch = Buffer.allocUnsafeSlow(4096);
  #payload(slot) {
    let n = binding.payload(this.#handle, slot, this.#scratch);
    if (n >= 0) return this.#scratch.subarray(0, n);
    const own = Buffer.allocUnsafeSlow(-n);
    n = binding.payload(this.#handle, slot, own);
    return own.subarray(0, n);
  }

  // Copies back a task's outputs and takes it off its signal; returns the
  // error it must reject with, if any.
  #finish(extra, code, error) {
    if (extra.block >= 0) this.#heap.release(extra.block);
    extra.keep = undefined;
    if (extra.copies !== undefined) {
      const ok = code === RESULT || code === VOID || code === BIGINT;
      const lost = this.#copier.finish(extra.kernel, extra.copies, ok);
      error ??= lost;
    }
    // Last: it may run user code (see Signals.forget), and the task's
    // state is settled by then.
    if (extra.watch !== undefined) this.#signals.forget(extra.watch, extra);
    return error;
  }

  // Rejects every task in flight with `error` (terminate(), or a module
  // that no thread could load): their completions, if any come, find no
  // task. A JS task's arguments block goes back to the heap: no thread
  // reads it any more that matters (a terminated pool allocates no more,
  // and a broken one never ran the task). A kernel's copies stay out, as
  // a running kernel may still write them.
  rejectAll(error, idle = false) {
    const resolves = this.#resolves;
    for (let slot = 0; slot < resolves.length; slot++) {
      const resolve = resolves[slot];
      if (resolve === undefined) continue;
      resolves[slot] = undefined;
      const extra = this.#extras[slot];
      this.#extras[slot] = undefined;
      if (extra !== undefined && extra.block >= 0) {
        this.#heap.release(extra.block);
        extra.block = -1;
      }
      if (extra?.watch !== undefined) this.#signals.forget(extra.watch, extra);
      resolve(new Rejection(error));
    }
    if (this.pending !== 0) {
      this.pending = 0;
      binding.active(this.#handle, false);
      if (idle) this.#onIdle();
    }
  }

  // The slots of the tasks in flight.
  *slots() {
    for (let slot = 0; slot < this.#resolves.length; slot++) {
      if (this.#resolves[slot] !== undefined) yield slot;
    }
  }

  // Drops what only an open pool needs, once the binding has closed it.
  close() {
    this.#results = this.#bigs = this.#numbers = null;
    this.#resolves = [];
    this.#extras = [];
    this.#freeSlots = [];
  }
}

module.exports = { Completions, Extra };
