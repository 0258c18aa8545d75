'use strict';

const os = require('node:os');
const nodePath = require('node:path');
const binding = require('./binding');
const { Heap } = require('./heap');
const {
  argError, rangeError, closedError, kernelError, abortError, describe,
} = require('./errors');

const DEFAULT_ARENA_BYTES = 64 * 1024 * 1024;
const MAX_THREADS = 1024;
const ECANCELED = -5;
const EMPTY = Object.freeze([]);

// Typed-array classes a kernel can take, with the binding's element-type
// codes (PENNY_I8 .. PENNY_F64 in include/penny.h).
const TYPE_CODES = new Map([
  [Int8Array, 1], [Uint8Array, 2], [Int16Array, 3], [Uint16Array, 4],
  [Int32Array, 5], [Uint32Array, 6], [BigInt64Array, 7],
  [BigUint64Array, 8], [Float32Array, 9], [Float64Array, 10],
]);
const ARRAY_TYPES = new Set(TYPE_CODES.keys());

// The submission ring in the arena (see src/addon/binding.c): a 64-byte
// header whose first int32 a worker sets before it sleeps, then cells of
// 64 bytes: int32 seq, kernel, slot, meta; then 3 x (f64, f64) arguments.
const RING_ARGS = 3;
const CELL_I32 = 16;
const HEADER_I32 = 16;
const SLEEPY = 0;

// %TypedArray%.prototype's length getter and set(), immune to own
// properties on a user's array.
const TypedArrayPrototype = Object.getPrototypeOf(Int8Array.prototype);
const taLength =
  Object.getOwnPropertyDescriptor(TypedArrayPrototype, 'length').get;
const taSet = TypedArrayPrototype.set;
const taByteOffset =
  Object.getOwnPropertyDescriptor(TypedArrayPrototype, 'byteOffset').get;
const taByteLength =
  Object.getOwnPropertyDescriptor(TypedArrayPrototype, 'byteLength').get;

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

// Describes one kernel of the table as pool.kernels shows it.
function describeKernel(index, k) {
  const params = k.params.map((p) => Object.freeze({ ...p }));
  return Object.freeze({
    index,
    name: k.name,
    signature: k.signature,
    params: Object.freeze(params),
    result: k.result,
  });
}

// Per-task extras, only for tasks with a signal or copied arguments.
class Extra {
  constructor(slot, signal, copies) {
    this.slot = slot;
    this.signal = signal;
    this.copies = copies; // [original, temporary, copyBack] triples
  }
}

// The tasks in flight under one AbortSignal, with the one listener that
// cancels them all: a signal shared by many tasks carries one listener
// per pool, not one per task.
class SignalTasks {
  constructor(tasks, listener) {
    this.tasks = tasks;
    this.listener = listener;
  }
}

class Pool {
  #handle;
  #heap;
  #table = [];          // index -> { index, name, signature, params, ... }
  #kernels;             // pool.kernels: frozen, replaced by load()
  #byName = new Map();  // name -> index
  #arrayParams = [];    // index -> [[paramIndex, copyBack], ...] or null
  #resolves = [];       // slot -> the task promise's resolve function
  #extras = [];         // slot -> Extra or undefined
  #detached = [];       // onComplete's scratch: the batch's Extras
  #signals = new Map(); // AbortSignal -> SignalTasks, while tasks use it
  #results;             // Float64Array of (slot, status, value) triples
  #bigs;                // BigUint64Array: 4 limbs per triple, status 4
  #ringI32;             // the ring, as int32 and as float64
  #ringF64;
  #ringPos = 0;         // next cell to fill (a count; cells wrap)
  #ringMask;
  #ringArrays = [];     // index -> [isArray per param] or null (no ring)
  #freeSlots = [];      // task slots not in use
  #nslots = 0;          // slots the binding has records for
  #pending = 0;
  #submitted = 0;       // accepted tasks, less those refused on a worker
  #closed = false;
  #closing = null;
  #closeResolve = null;

  constructor(options = {}) {
    if (options === null || typeof options !== 'object') {
      throw argError(`options must be an object, got ${describe(options)}`);
    }
    const threads = options.threads ??
      Math.min(os.availableParallelism(), MAX_THREADS);
    checkInteger('threads', threads, 1, MAX_THREADS);
    const arenaBytes = options.arenaBytes ?? DEFAULT_ARENA_BYTES;
    checkInteger('arenaBytes', arenaBytes, 0, Number.MAX_SAFE_INTEGER);

    let arena;
    try {
      arena = new SharedArrayBuffer(arenaBytes);
    } catch (err) {
      throw rangeError(`cannot allocate an arena of ${arenaBytes} bytes: ` +
        err.message);
    }
    const [handle, heapStart, results, ringStart, ringCells, bigs] =
      binding.create(new Uint8Array(arena), threads, this.#onComplete);
    this.#bigs = bigs;
    this.#handle = handle;
    this.#results = results;
    this.#heap = new Heap(heapStart, arenaBytes);
    const ringBytes = (HEADER_I32 + ringCells * CELL_I32) * 4;
    this.#ringI32 = new Int32Array(arena, ringStart, ringBytes / 4);
    this.#ringF64 = new Float64Array(arena, ringStart, ringBytes / 8);
    this.#ringMask = ringCells - 1;

    this.#addKernels(0);

    Object.defineProperties(this, {
      threads: { value: threads, enumerable: true },
      arena: { value: arena, enumerable: true },
    });
  }

  // Takes the binding's table from index `first` on into this pool's;
  // returns the new kernels' names.
  #addKernels(first) {
    const names = [];
    const kernels = Object.create(null);
    for (const info of this.#table) kernels[info.name] = info;
    binding.kernels(this.#handle).forEach((k, index) => {
      if (index < first) return;
      const info = describeKernel(index, k);
      this.#table.push(info);
      this.#byName.set(info.name, index);
      const arrays = [];
      k.params.forEach((p, i) => {
        if (p.array) arrays.push([i, p.dir !== 'in']);
      });
      this.#arrayParams.push(arrays.length ? arrays : null);
      this.#ringArrays.push(k.params.length <= RING_ARGS
        ? k.params.map((p) => p.array) : null);
      kernels[info.name] = info;
      names.push(info.name);
    });
    this.#kernels = Object.freeze(kernels);
    return names;
  }

  // The kernels by name: built-ins, then those of loaded plugins.
  get kernels() {
    return this.#kernels;
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
    return this.#addKernels(first);
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
    const index = this.#indexOf(kernel);
    if (!Array.isArray(args)) {
      throw argError(`args must be an array, got ${describe(args)}`);
    }
    let signal;
    if (options !== undefined) {
      if (options === null || typeof options !== 'object') {
        throw argError(`options must be an object, got ${describe(options)}`);
      }
      signal = options.signal;
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        throw argError(`options.signal must be an AbortSignal, got ${
          describe(signal)}`);
      }
      if (signal !== undefined && signal.aborted) throw signal.reason;
    }
    const arrays = this.#arrayParams[index];
    let copies;
    if (arrays !== null) {
      const copied = this.#copyIn(index, args, arrays);
      if (copied !== null) {
        copies = copied.copies;
        args = copied.args;
      }
    }

    const slot = this.#freeSlots.length > 0 ? this.#freeSlots.pop()
      : this.#grow();
    if (!this.#ringPush(index, slot, args)) {
      const submit = this.#handle; // the handle is the submit function
      try {
        switch (args.length) {
          case 0: submit(index, slot); break;
          case 1: submit(index, slot, args[0]); break;
          case 2: submit(index, slot, args[0], args[1]); break;
          default: submit(index, slot, ...args);
        }
      } catch (err) {
        this.#freeSlots.push(slot);
        if (copies !== undefined) this.#freeCopies(copies);
        throw err;
      }
    }

    const promise = new Promise(capture);
    this.#resolves[slot] = nextResolve;
    this.#submitted++;
    if (this.#pending++ === 0) binding.active(this.#handle, true);
    if (signal !== undefined || copies !== undefined) {
      const extra = new Extra(slot, signal, copies);
      if (signal !== undefined) this.#watch(signal, extra);
      this.#extras[slot] = extra;
    }
    return promise;
  }

  #watch(signal, extra) {
    let entry = this.#signals.get(signal);
    if (entry === undefined) {
      const tasks = new Set();
      const handle = this.#handle;
      const extras = this.#extras;
      // Only tasks that still own their slot: user code run while a batch
      // settles (a copy-back's setter, say) may abort a signal whose task
      // has already finished.
      const listener = () => {
        for (const e of tasks) {
          if (extras[e.slot] === e) binding.cancel(handle, e.slot);
        }
      };
      entry = new SignalTasks(tasks, listener);
      this.#signals.set(signal, entry);
      signal.addEventListener('abort', listener, { once: true });
    }
    entry.tasks.add(extra);
  }

  #unwatch(signal, extra) {
    const entry = this.#signals.get(signal);
    if (entry === undefined) return;
    entry.tasks.delete(extra);
    if (entry.tasks.size === 0) {
      this.#signals.delete(signal);
      signal.removeEventListener('abort', entry.listener);
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
  #ringPush(index, slot, args) {
    const kinds = this.#ringArrays[index];
    if (kinds === null || args.length !== kinds.length) return false;
    const i32 = this.#ringI32;
    const pos = this.#ringPos;
    const cell = HEADER_I32 + (pos & this.#ringMask) * CELL_I32;
    if (Atomics.load(i32, cell) !== (pos | 0)) return false; // full
    let meta = args.length;
    const f64 = this.#ringF64;
    const argBase = (cell >> 1) + 2;
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (kinds[i]) {
        if (!ArrayBuffer.isView(a) || a.buffer !== this.arena) return false;
        const code = TYPE_CODES.get(a.constructor);
        if (code === undefined) return false;
        meta |= code << (8 * (i + 1));
        f64[argBase + 2 * i] = taByteOffset.call(a);
        f64[argBase + 2 * i + 1] = taLength.call(a);
      } else {
        if (typeof a !== 'number') return false;
        f64[argBase + 2 * i] = a;
      }
    }
    i32[cell + 1] = index;
    i32[cell + 2] = slot;
    i32[cell + 3] = meta;
    // SeqCst store, then SeqCst load: a worker about to sleep sets SLEEPY
    // and then looks at the ring, so one of us sees the other.
    Atomics.store(i32, cell, (pos + 1) | 0);
    this.#ringPos = pos + 1;
    if (Atomics.load(i32, SLEEPY) !== 0) binding.wake(this.#handle);
    return true;
  }

  #indexOf(kernel) {
    if (typeof kernel === 'string') {
      const index = this.#byName.get(kernel);
      if (index === undefined) {
        throw rangeError(`unknown kernel '${kernel}'`);
      }
      return index;
    }
    if (typeof kernel === 'number') {
      if (!Number.isInteger(kernel) || kernel < 0 ||
          kernel >= this.#table.length) {
        throw rangeError(`unknown kernel index ${kernel}`);
      }
      return kernel;
    }
    throw argError(`kernel must be a name or an index, got ${
      describe(kernel)}`);
  }

  // Views over ordinary (non-shared) ArrayBuffers are copied into the
  // arena, or into a fresh SharedArrayBuffer when the arena is full, so
  // that no worker ever holds memory that JS could detach or transfer.
  // Returns null when nothing needed a copy.
  #copyIn(index, args, arrays) {
    let copies = null;
    let out = args;
    for (const [i, copyBack] of arrays) {
      const a = args[i];
      if (!ArrayBuffer.isView(a) || a.buffer instanceof SharedArrayBuffer ||
          !ARRAY_TYPES.has(a.constructor)) {
        continue; // shared, or not an array at all: the binding decides
      }
      // The same array in two parameters (c = a, say) gets one copy, so
      // that the kernel sees them as the same array too.
      const seen = copies === null ? undefined
        : copies.find((entry) => entry[0] === a);
      if (seen !== undefined) {
        seen[2] = seen[2] || copyBack;
        out[i] = seen[1];
        continue;
      }
      let temp;
      const bytes = taByteLength.call(a);
      const Type = a.constructor;
      const offset = this.#heap.alloc(bytes);
      if (offset >= 0) {
        temp = new Type(this.arena, offset, bytes / Type.BYTES_PER_ELEMENT);
      } else {
        temp = new Type(new SharedArrayBuffer(bytes));
      }
      if (copies === null) {
        copies = [];
        out = args.slice();
      }
      copies.push([a, temp, copyBack]);
      out[i] = temp;
      try {
        taSet.call(temp, a);
      } catch (err) {
        // A view over a detached buffer: nothing to read or write back.
        this.#freeCopies(copies);
        const k = this.#table[index];
        throw argError(`${k.name}: parameter '${k.params[i].name}' is a ` +
          `view over a detached ArrayBuffer (${err.message})`);
      }
    }
    return copies === null ? null : { copies, args: out };
  }

  #freeCopies(copies) {
    for (const [, temp] of copies) {
      if (temp.buffer === this.arena) this.#heap.release(temp.byteOffset);
    }
  }

  // Called by the binding with the number of (slot, status, value)
  // triples waiting in #results. Runs inside a callback scope, so the
  // promises' continuations run as soon as it returns.
  #onComplete = (n) => {
    const r = this.#results;
    const resolves = this.#resolves;
    const extras = this.#extras;
    const freeSlots = this.#freeSlots;
    const detached = this.#detached;
    let settled = 0;
    // First detach the batch's tasks from their signals: user code that
    // runs while the batch settles (a patched removeEventListener, say)
    // must not cancel a slot whose task is finished (see #watch).
    for (let i = 0; i < 3 * n; i += 3) {
      const slot = r[i];
      const extra = extras[slot];
      if (extra !== undefined) {
        extras[slot] = undefined;
        detached[i / 3] = extra;
      }
    }
    for (let i = 0; i < 3 * n; i += 3) {
      const slot = r[i];
      const status = r[i + 1];
      const resolve = resolves[slot];
      // A slot with no task: a ring cell that someone other than this
      // pool wrote into the arena. Nothing to settle, and the slot is
      // already free.
      if (resolve === undefined) continue;
      settled++;
      resolves[slot] = undefined;
      let error;
      if (status === 2 || status === 3) {
        // Refused on a worker: read the message before the slot is reused.
        const message = binding.message(this.#handle, slot);
        error = status === 2 ? argError(message) : rangeError(message);
        this.#submitted--; // a bad call, not a task
      } else if (status === 5) {
        // A kernel that failed with a message.
        error = kernelError(binding.message(this.#handle, slot));
      }
      freeSlots.push(slot);
      const extra = detached[i / 3];
      if (extra !== undefined) {
        detached[i / 3] = undefined;
        this.#finish(extra, status,
          status === 4 ? this.#bigAt(i / 3) : r[i + 2], resolve, error);
      } else if (status === 1) {
        resolve(undefined);
      } else if (status === 0) {
        resolve(r[i + 2]);
      } else if (status === 4) {
        resolve(this.#bigAt(i / 3));
      } else {
        resolve(new Rejection(error ?? this.#failure(undefined, status)));
      }
    }
    this.#pending -= settled;
    if (this.#pending === 0) {
      binding.active(this.#handle, false);
      if (this.#closeResolve !== null) {
        // Not from inside this callback: the binding is still draining.
        setImmediate(this.#finishClose);
      }
    }
  };

  // The BigInt result of the k-th completion of the batch: four 64-bit
  // limbs, least significant first, of a two's-complement integer.
  #bigAt(k) {
    const b = this.#bigs;
    const v = (b[4 * k + 3] << 192n) | (b[4 * k + 2] << 128n) |
      (b[4 * k + 1] << 64n) | b[4 * k];
    return BigInt.asIntN(256, v);
  }

  #finish(extra, status, value, resolve, error) {
    if (extra.signal !== undefined) this.#unwatch(extra.signal, extra);
    if (extra.copies !== undefined) {
      for (const [original, temp, copyBack] of extra.copies) {
        // A buffer detached meanwhile has length 0 and is skipped. The
        // intrinsics keep own properties of the user's array out of it.
        if ((status === 0 || status === 1 || status === 4) && copyBack &&
            taLength.call(original) === taLength.call(temp)) {
          taSet.call(original, temp);
        }
      }
      this.#freeCopies(extra.copies);
    }
    if (status === 1) resolve(undefined);
    else if (status === 0 || status === 4) resolve(value);
    else resolve(new Rejection(error ?? this.#failure(extra, status)));
  }

  // A failed kernel arrives as status 5 with its message (see onComplete);
  // what is left here is a cancelled task.
  #failure(extra, status) {
    if (status !== ECANCELED) {
      return kernelError(`kernel failed: ${binding.strerror(status)}`);
    }
    const signal = extra?.signal;
    return signal !== undefined && signal.aborted ? signal.reason
      : abortError();
  }

  // Returns a typed array of `length` elements inside the arena: passed
  // to kernels without copying.
  alloc(Type, length) {
    if (!ARRAY_TYPES.has(Type)) {
      throw argError('alloc: the type must be a typed-array class such as ' +
        `Float64Array, got ${typeof Type === 'function' ? Type.name
          : describe(Type)}`);
    }
    checkInteger('alloc: length', length, 0, Number.MAX_SAFE_INTEGER);
    if (this.#closed) throw closedError();
    const bytes = length * Type.BYTES_PER_ELEMENT;
    const offset = this.#heap.alloc(bytes);
    if (offset < 0) {
      throw rangeError(`arena exhausted: no free block of ${bytes} bytes ` +
        `(${this.#heap.used} of ${this.#heap.size} heap bytes in use)`);
    }
    return new Type(this.arena, offset, length);
  }

  // Returns a view from alloc() to the arena heap.
  free(view) {
    if (!ArrayBuffer.isView(view) || view.buffer !== this.arena) {
      throw argError(`free: expected a view from pool.alloc(), got ${
        describe(view)}`);
    }
    if (!this.#heap.release(view.byteOffset)) {
      throw argError('free: this view was not returned by pool.alloc(), ' +
        'or was freed already');
    }
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
      arenaBytes: this.arena.byteLength,
      heapBytes: this.#heap.size,
      heapUsed: this.#heap.used,
    };
  }

  // Lets queued and running tasks finish (their promises settle), then
  // stops the threads. Idempotent: every call returns the same promise.
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

  #finishClose = () => {
    binding.close(this.#handle);
    this.#closeResolve();
  };

  get closed() {
    return this.#closed;
  }
}

module.exports = { Pool, DEFAULT_ARENA_BYTES };
