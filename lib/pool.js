'use strict';

const os = require('node:os');
const nodePath = require('node:path');
const { MAX_LENGTH } = require('node:buffer').constants;
const binding = require('./binding');
const { Heap } = require('./heap');
const { builtinTable } = require('./kernels');
const {
  argError, rangeError, closedError, kernelError, abortError, describe,
} = require('./errors');
const { viewInfo, TYPE_CLASSES } = require('./views');
const { readSignal, isAborted, reasonOf, Signals } = require('./abort');
const { Copier } = require('./copies');

const DEFAULT_ARENA_BYTES = 64 * 1024 * 1024;
const EMPTY = Object.freeze([]);
const OPTIONS = new Set(['threads', 'arenaBytes']);

// What the binding defines and this file reads once (binding.contract).
const { ring: layout, completions, status, limits } = binding.contract;
const MAX_THREADS = limits.maxThreads;
const FIELDS = completions.fields;
const SLOT = completions.slot;
const STATUS = completions.status;
const VALUE = completions.value;
const LIMBS = completions.limbs;
const RESULT = status.RESULT;
const VOID = status.VOID;
const ARG_TYPE = status.ARG_TYPE;
const ARG_RANGE = status.ARG_RANGE;
const BIGINT = status.BIGINT;
const FAILED = status.FAILED;
const CANCELLED = status.CANCELLED;

// The submission ring (see src/addon/ring.c), in a SharedArrayBuffer of
// its own that only this file and the binding reach: a header whose
// SLEEPY int32 a worker sets before it sleeps, then RING_CELLS cells of
// int32 seq, kernel, slot, meta and argSlots (f64, f64) arguments. A
// cell's seq is Vyukov's turn counter less the cell's index, so that the
// zeroed buffer is an empty ring. RING_CELLS is the largest ring the
// binding takes.
const RING_CELLS = layout.maxCells;
const RING_BYTES = layout.headerBytes + RING_CELLS * layout.cellBytes;
const SLEEPY = layout.sleepyOffset / 4;
const HEADER_I32 = layout.headerBytes / 4;
const CELL_I32 = layout.cellBytes / 4;
const SEQ = layout.seqOffset / 4;
const KERNEL = layout.kernelOffset / 4;
const CELL_SLOT = layout.slotOffset / 4;
const META = layout.metaOffset / 4;
const ARGS_F64 = layout.argsOffset / 8;
const ARG_F64 = layout.argBytes / 8;
const META_BITS = layout.metaBits;

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

function checkInteger(name, value, min, max) {
  if (typeof value !== 'number') {
    throw argError(`${name} must be a number, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError(`${name} must be an integer from ${min} to ${max}, ` +
      `got ${value}`);
  }
}

// Per-task extras, only for tasks with a signal or copied arguments.
class Extra {
  constructor(slot, index) {
    this.slot = slot;
    this.index = index;     // the kernel, for messages
    this.watch = undefined; // the signal's SignalTasks, if it has one
    this.copies = undefined; // Copy records, if any
  }
}

// Reads the arguments of a call once, into a fresh array: a getter or a
// Proxy trap may run user code here, which may call run, close or free
// on this very pool; nothing of the pool has changed yet when it does.
function readArgs(args, k) {
  if (!Array.isArray(args)) {
    throw argError(`args must be an array, got ${describe(args)}`);
  }
  const n = args.length;
  const want = k.params.length;
  if (n !== want) {
    throw argError(`${k.name} expects ${want} argument${
      want === 1 ? '' : 's'}, got ${typeof n === 'number' ? n : describe(n)}`);
  }
  const list = new Array(n);
  for (let i = 0; i < n; i++) list[i] = args[i];
  return list;
}

class Pool {
  #handle;
  #arena;
  #heap;
  #views = new WeakMap(); // view from alloc() -> its offset in the arena
  #kt;                  // the KernelTable; load() replaces it
  #resolves = [];       // slot -> the task promise's resolve function
  #extras = [];         // slot -> Extra or undefined
  #detached = [];       // onComplete's scratch: the batch's Extras
  // The signals of tasks in flight. An aborted one cancels its tasks that
  // still own their slot: user code run while a batch settles may abort a
  // signal whose task has already finished.
  #signals = new Signals((extra) => {
    if (this.#extras[extra.slot] === extra) {
      binding.cancel(this.#handle, extra.slot);
    }
  });
  #copier;
  #results;             // Float64Array of (slot, status, value) entries
  #bigs;                // BigUint64Array: LIMBS per entry, for BIGINT
  #ringI32;             // the ring, as int32 and as float64
  #ringF64;
  #ringPos = 0;         // next cell to fill (a count; cells wrap)
  #freeSlots = [];      // task slots not in use
  #nslots = 0;          // slots the binding has records for
  #pending = 0;
  #submitted = 0;       // accepted tasks, less those refused on a worker
  #closed = false;
  #closing = null;
  #closeResolve = null;
  #stopped = false;     // the binding has closed the pool

  constructor(options = {}) {
    if (options === null || typeof options !== 'object') {
      throw argError(`options must be an object, got ${describe(options)}`);
    }
    // User code may run while options are read (getters, a Proxy): it
    // runs before this pool exists.
    for (const key of Object.keys(options)) {
      if (!OPTIONS.has(key)) {
        throw argError(`unknown option '${key}' (known: ${
          [...OPTIONS].join(', ')})`);
      }
    }
    const threads = options.threads ??
      Math.min(os.availableParallelism(), MAX_THREADS);
    checkInteger('threads', threads, 1, MAX_THREADS);
    const arenaBytes = options.arenaBytes ?? DEFAULT_ARENA_BYTES;
    checkInteger('arenaBytes', arenaBytes, 0, MAX_LENGTH);

    let arena, arenaView;
    try {
      arena = new SharedArrayBuffer(arenaBytes);
      arenaView = new Uint8Array(arena);
    } catch (err) {
      throw rangeError(`cannot allocate an arena of ${arenaBytes} bytes: ` +
        err.message);
    }
    // The slack from which the binding picks a cache-line start.
    const ring = new SharedArrayBuffer(RING_BYTES + layout.align);
    const [handle, results, bigs, ringStart] = binding.create(arenaView,
      new Uint8Array(ring), threads, this.#onComplete);
    this.#handle = handle;
    this.#arena = arena;
    this.#bigs = bigs;
    this.#results = results;
    this.#heap = new Heap(0, arenaBytes);
    this.#copier = new Copier(this.#heap, arena);
    this.#ringI32 = new Int32Array(ring, ringStart, RING_BYTES / 4);
    this.#ringF64 = new Float64Array(ring, ringStart, RING_BYTES / 8);

    this.#kt = builtinTable(binding, handle);

    Object.defineProperties(this, {
      threads: { value: threads, enumerable: true },
      arena: { value: arena, enumerable: true },
    });
  }

  // The kernels by name: built-ins, then those of loaded plugins.
  get kernels() {
    return this.#kt.kernels;
  }

  // Loads a plugin (a shared library of C kernels, see docs/plugins.md)
  // into this pool's table; returns the names of its kernels. A failed
  // load throws ERR_PENNY_PLUGIN and changes nothing.
  load(path) {
    if (this.#closed) throw closedError();
    if (typeof path !== 'string' || path.length === 0) {
      throw argError(`load: path must be a non-empty string, got ${
        describe(path)}`);
    }
    // Absolute, so that the dynamic loader never searches its own paths.
    const first = binding.load(this.#handle, nodePath.resolve(path));
    this.#kt = this.#kt.extend(binding, this.#handle, first);
    return this.#kt.list.slice(first).map((k) => k.name);
  }

  // Runs a kernel on the pool; resolves to its result (a number) or
  // undefined for a void kernel. Never throws: a bad call rejects.
  run(kernel, args = EMPTY, options) {
    try {
      return this.#submit(kernel, args, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #submit(kernel, args, options) {
    if (this.#closed) throw closedError();
    const kt = this.#kt;
    const index = kt.indexOf(kernel);
    // Everything user code can take part in comes first: reading the
    // arguments and the signal (getters, Proxy traps), and adding the
    // abort listener (Node's EventTarget reads the signal's own
    // properties). Then the pool is checked again, since that code may
    // have closed it or aborted the signal. From there on no user code
    // runs until the task is queued.
    const signal = readSignal(options);
    const list = readArgs(args, kt.list[index]);
    let extra;
    if (signal !== undefined) {
      extra = new Extra(-1, index); // no slot yet: nothing to cancel
      extra.watch = this.#signals.watch(signal, extra);
    }
    let slot = -1;
    let copies;
    try {
      if (this.#closed) throw closedError();
      if (signal !== undefined && isAborted(signal)) throw reasonOf(signal);
      // A slot before the copies: growing can fail (too many tasks in
      // flight).
      slot = this.#freeSlots.length > 0 ? this.#freeSlots.pop()
        : this.#grow();
      const arrays = kt.arrayParams[index];
      let infos = null;
      if (arrays !== null) {
        infos = new Array(list.length);
        for (const [i] of arrays) infos[i] = viewInfo(list[i]);
        copies = this.#copier.copyIn(kt.list[index], list, infos, arrays);
      }
      if (!this.#ringPush(index, slot, list, infos)) {
        const submit = this.#handle; // the handle is the submit function
        switch (list.length) {
          case 0: submit(index, slot); break;
          case 1: submit(index, slot, list[0]); break;
          case 2: submit(index, slot, list[0], list[1]); break;
          default: submit(index, slot, ...list);
        }
      }
    } catch (err) {
      if (slot >= 0) this.#freeSlots.push(slot);
      if (copies !== undefined) this.#copier.free(copies);
      if (extra !== undefined) this.#unwatch(extra);
      throw err;
    }

    const promise = new Promise(capture);
    this.#resolves[slot] = nextResolve;
    this.#submitted++;
    if (this.#pending++ === 0) binding.active(this.#handle, true);
    if (copies !== undefined) extra ??= new Extra(-1, index);
    if (extra !== undefined) {
      extra.slot = slot;
      extra.copies = copies;
      this.#extras[slot] = extra;
    }
    return promise;
  }

  // Takes a task off its signal. Node's removeEventListener reads the
  // signal's own properties, so it may throw or run user code; the
  // listener left behind then finds no task of this pool to cancel.
  #unwatch(extra) {
    try {
      this.#signals.unwatch(extra.watch, extra);
    } catch {
      // See above: nothing depends on the listener being gone.
    }
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

  // The fast path: writes the task into the ring, which workers poll, and
  // returns true; false when the ring is full or an argument is not a
  // number or an arena view, which the slow path (a native call) handles.
  // Workers check a cell as the binding checks a call: nothing written
  // here is trusted.
  #ringPush(index, slot, list, infos) {
    const kinds = this.#kt.ringArrays[index];
    if (kinds === null) return false;
    const i32 = this.#ringI32;
    const pos = this.#ringPos;
    const at = pos & (RING_CELLS - 1);
    const lap = (pos - at) | 0;
    const cell = HEADER_I32 + at * CELL_I32;
    if (Atomics.load(i32, cell + SEQ) !== lap) return false; // full
    let meta = list.length;
    const f64 = this.#ringF64;
    const argBase = (cell >> 1) + ARGS_F64;
    for (let i = 0; i < list.length; i++) {
      const at64 = argBase + ARG_F64 * i;
      if (kinds[i]) {
        const info = infos[i];
        if (info === null || info.buffer !== this.#arena) return false;
        meta |= info.code << (META_BITS * (i + 1));
        f64[at64] = info.byteOffset;
        f64[at64 + 1] = info.length;
      } else {
        const a = list[i];
        if (typeof a !== 'number') return false;
        f64[at64] = a;
      }
    }
    i32[cell + KERNEL] = index;
    i32[cell + CELL_SLOT] = slot;
    i32[cell + META] = meta;
    // SeqCst store, then SeqCst load: a worker about to sleep sets SLEEPY
    // and then looks at the ring, so one of us sees the other.
    Atomics.store(i32, cell + SEQ, (lap + 1) | 0);
    this.#ringPos = pos + 1;
    if (Atomics.load(i32, SLEEPY) !== 0) binding.wake(this.#handle);
    return true;
  }

  // Called by the binding with the number of (slot, status, value)
  // entries waiting in #results. Runs inside a callback scope, so the
  // promises' continuations run as soon as it returns. It never throws:
  // a task whose settling fails rejects with that failure instead.
  #onComplete = (n) => {
    const r = this.#results;
    const resolves = this.#resolves;
    const extras = this.#extras;
    const freeSlots = this.#freeSlots;
    const detached = this.#detached;
    let settled = 0;
    // First detach the batch's tasks from their signals: user code that
    // runs while the batch settles must not cancel a slot whose task is
    // finished (see #signals).
    for (let k = 0; k < n; k++) {
      const slot = r[FIELDS * k + SLOT];
      const extra = extras[slot];
      if (extra !== undefined) {
        extras[slot] = undefined;
        detached[k] = extra;
      }
    }
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
      try {
        let error;
        if (code === ARG_TYPE || code === ARG_RANGE) {
          // Refused on a worker: read the message before the slot is
          // reused.
          const message = binding.message(this.#handle, slot);
          error = code === ARG_TYPE ? argError(message) : rangeError(message);
          this.#submitted--; // a bad call, not a task
        } else if (code === FAILED) {
          // A kernel that failed with a message.
          error = kernelError(binding.message(this.#handle, slot));
        }
        if (extra !== undefined) {
          this.#finish(extra, code,
            code === BIGINT ? this.#bigAt(k) : r[at + VALUE], resolve, error);
        } else if (code === VOID) {
          resolve(undefined);
        } else if (code === RESULT) {
          resolve(r[at + VALUE]);
        } else if (code === BIGINT) {
          resolve(this.#bigAt(k));
        } else {
          resolve(new Rejection(error ?? this.#failure(undefined, code)));
        }
      } catch (err) {
        resolve(new Rejection(err)); // ignored if it already settled
      }
      freeSlots.push(slot);
    }
    this.#pending -= settled;
    if (this.#pending === 0 && settled > 0) {
      binding.active(this.#handle, false);
      if (this.#closeResolve !== null) {
        // Not from inside this callback: the binding is still draining.
        setImmediate(this.#finishClose);
      }
    }
  };

  // The BigInt result of the k-th completion of the batch: LIMBS 64-bit
  // limbs, least significant first, of a two's-complement integer.
  #bigAt(k) {
    const b = this.#bigs;
    let v = 0n;
    for (let i = LIMBS - 1; i >= 0; i--) v = (v << 64n) | b[LIMBS * k + i];
    return BigInt.asIntN(64 * LIMBS, v);
  }

  #finish(extra, status, value, resolve, error) {
    const ok = status === RESULT || status === VOID || status === BIGINT;
    if (extra.copies !== undefined) {
      const lost = this.#copier.finish(this.#kt.list[extra.index],
        extra.copies, ok);
      error ??= lost;
    }
    // Last: it may run user code (see #unwatch), and the task's state is
    // settled by then.
    if (extra.watch !== undefined) this.#unwatch(extra);
    if (error !== undefined) resolve(new Rejection(error));
    else if (status === VOID) resolve(undefined);
    else if (ok) resolve(value);
    else resolve(new Rejection(this.#failure(extra, status)));
  }

  // A failed kernel arrives as FAILED with its message (see onComplete);
  // what is left here is a cancelled task.
  #failure(extra, status) {
    if (status !== CANCELLED) {
      return kernelError(`kernel failed: ${binding.strerror(status)}`);
    }
    const watch = extra?.watch;
    return watch !== undefined && watch.aborted ? watch.reason : abortError();
  }

  // Returns a typed array of `length` elements inside the arena: passed
  // to kernels without copying.
  alloc(Type, length) {
    if (!TYPE_CLASSES.has(Type)) {
      throw argError('alloc: the type must be a typed-array class such as ' +
        `Float64Array, got ${typeof Type === 'function' ? 'another function'
          : describe(Type)}`);
    }
    checkInteger('alloc: length', length, 0, Number.MAX_SAFE_INTEGER);
    if (this.#closed) throw closedError();
    const bytes = length * Type.BYTES_PER_ELEMENT;
    const offset = this.#heap.alloc(bytes);
    let view;
    if (offset >= 0) {
      view = new Type(this.#arena, offset, length);
    } else {
      // The arena is full (or too small): a SharedArrayBuffer of its own,
      // which kernels take without copying too (through the native path
      // rather than the ring). No program has to size the arena. Like
      // the arena, it gets huge pages where the OS offers them.
      try {
        const sab = new SharedArrayBuffer(bytes);
        binding.adviseHuge(new Uint8Array(sab));
        view = new Type(sab);
      } catch (err) {
        throw rangeError(`alloc: cannot allocate ${bytes} bytes for ${
          length} elements of ${Type.name}: the arena has ${
          this.#heap.size - this.#heap.used} of ${this.#heap.size} bytes ` +
          `free, and a buffer of its own failed (${err.message}); free ` +
          'arrays no longer needed, or work on smaller pieces');
      }
    }
    this.#views.set(view, offset);
    return view;
  }

  // Returns a view from alloc() to the arena heap (one with a buffer of
  // its own is left to the garbage collector). Only that very view frees
  // its block: a subarray or another view over the same memory does not,
  // so the block is never handed out again while its own view may still
  // be in use.
  free(view) {
    const offset = (typeof view === 'object' && view !== null)
      ? this.#views.get(view) : undefined;
    if (offset === undefined) {
      throw argError('free: expected a view returned by this pool\'s ' +
        `alloc() and not yet freed, got ${describe(view)}`);
    }
    this.#views.delete(view);
    if (offset >= 0) this.#heap.release(offset);
  }

  stats() {
    const s = binding.stats(this.#handle);
    return {
      threads: this.threads,
      submitted: this.#submitted,
      completed: s.completed,
      failed: s.failed,
      cancelled: s.cancelled,
      pending: this.#pending,
      steals: s.steals,
      inlined: s.inlined,
      failedSteals: s.failedSteals,
      sleeps: s.sleeps,
      wakeups: s.wakeups,
      arenaBytes: this.#arena.byteLength,
      heapBytes: this.#heap.size,
      heapUsed: this.#heap.used,
    };
  }

  // Lets queued and running tasks finish (their promises settle), then
  // stops the threads and returns the pool's native memory. Idempotent:
  // every call returns the same promise.
  close() {
    if (this.#closing !== null) return this.#closing;
    this.#closed = true;
    this.#closing = new Promise((resolve) => {
      this.#closeResolve = resolve;
    });
    // Always from a fresh turn of the loop: close() may be called from a
    // continuation that runs while the binding hands out completions.
    if (this.#pending === 0) setImmediate(this.#finishClose);
    return this.#closing;
  }

  // Runs once nothing is pending, so the binding's close never waits on
  // a running task and never blocks the event loop.
  #finishClose = () => {
    if (this.#pending !== 0 || this.#stopped) return;
    this.#stopped = true;
    binding.close(this.#handle);
    // What only a running pool needs goes now, not at garbage collection.
    this.#ringI32 = this.#ringF64 = this.#results = this.#bigs = null;
    this.#resolves = [];
    this.#extras = [];
    this.#freeSlots = [];
    this.#closeResolve();
  };

  get closed() {
    return this.#closed;
  }
}

module.exports = { Pool };
