'use strict';

const os = require('node:os');
const binding = require('./binding');
const { Heap } = require('./heap');
const {
  argError, rangeError, closedError, kernelError, abortError, describe,
} = require('./errors');

const DEFAULT_ARENA_BYTES = 64 * 1024 * 1024;
const MAX_THREADS = 1024;
const ECANCELED = -5;
const EMPTY = Object.freeze([]);

// Typed-array classes a kernel can take, by constructor.
const ARRAY_TYPES = new Set([
  Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array,
  BigInt64Array, BigUint64Array, Float32Array, Float64Array,
]);

// One reusable promise executor: saves a closure per task on the hot path.
let nextResolve;
let nextReject;
function capture(resolve, reject) {
  nextResolve = resolve;
  nextReject = reject;
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
  constructor(kernel, signal, copies) {
    this.kernel = kernel;
    this.signal = signal;
    this.onAbort = undefined;
    this.copies = copies; // [original, temporary, copyBack] triples
  }
}

class Pool {
  #handle;
  #heap;
  #table = [];          // index -> { index, name, signature, params, ... }
  #byName = new Map();  // name -> index
  #arrayParams = [];    // index -> [[paramIndex, copyBack], ...] or null
  #resolves = [];       // slot -> resolve
  #rejects = [];        // slot -> reject
  #extras = [];         // slot -> Extra or undefined
  #results;             // Float64Array of (slot, status, value) triples
  #pending = 0;
  #closed = false;
  #closing = null;
  #closeResolve = null;

  constructor(options = {}) {
    if (options === null || typeof options !== 'object') {
      throw argError(`options must be an object, got ${describe(options)}`);
    }
    const threads = options.threads ?? os.availableParallelism();
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
    const [handle, heapStart, results] =
      binding.create(new Uint8Array(arena), threads, this.#onComplete);
    this.#handle = handle;
    this.#results = results;
    this.#heap = new Heap(heapStart, arenaBytes);

    const kernels = Object.create(null);
    binding.kernels(handle).forEach((k, index) => {
      const info = describeKernel(index, k);
      this.#table.push(info);
      this.#byName.set(info.name, index);
      const arrays = [];
      k.params.forEach((p, i) => {
        if (p.array) arrays.push([i, p.dir !== 'in']);
      });
      this.#arrayParams.push(arrays.length ? arrays : null);
      kernels[info.name] = info;
    });

    Object.defineProperties(this, {
      threads: { value: threads, enumerable: true },
      arena: { value: arena, enumerable: true },
      kernels: { value: Object.freeze(kernels), enumerable: true },
    });
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

    const submit = this.#handle; // the handle is the submit function
    let slot;
    try {
      switch (args.length) {
        case 0: slot = submit(index); break;
        case 1: slot = submit(index, args[0]); break;
        case 2: slot = submit(index, args[0], args[1]); break;
        case 3: slot = submit(index, args[0], args[1], args[2]); break;
        default: slot = submit(index, ...args);
      }
    } catch (err) {
      if (copies !== undefined) this.#freeCopies(copies);
      throw err;
    }

    const promise = new Promise(capture);
    this.#resolves[slot] = nextResolve;
    this.#rejects[slot] = nextReject;
    this.#pending++;
    if (signal !== undefined || copies !== undefined) {
      const extra = new Extra(this.#table[index], signal, copies);
      if (signal !== undefined) {
        const handle = this.#handle;
        extra.onAbort = () => binding.cancel(handle, slot);
        signal.addEventListener('abort', extra.onAbort, { once: true });
      }
      this.#extras[slot] = extra;
    }
    return promise;
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
      let temp;
      const offset = this.#heap.alloc(a.byteLength);
      if (offset >= 0) {
        temp = new a.constructor(this.arena, offset, a.length);
      } else {
        temp = new a.constructor(new SharedArrayBuffer(a.byteLength));
      }
      if (copies === null) {
        copies = [];
        out = args.slice();
      }
      copies.push([a, temp, copyBack]);
      out[i] = temp;
      try {
        temp.set(a);
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
    const rejects = this.#rejects;
    const extras = this.#extras;
    for (let i = 0; i < 3 * n; i += 3) {
      const slot = r[i];
      const status = r[i + 1];
      const resolve = resolves[slot];
      const reject = rejects[slot];
      resolves[slot] = undefined;
      rejects[slot] = undefined;
      const extra = extras[slot];
      if (extra !== undefined) {
        extras[slot] = undefined;
        this.#finish(extra, status, r[i + 2], resolve, reject);
      } else if (status === 1) {
        resolve(undefined);
      } else if (status === 0) {
        resolve(r[i + 2]);
      } else {
        reject(this.#failure(undefined, status));
      }
    }
    this.#pending -= n;
    if (this.#pending === 0 && this.#closeResolve !== null) {
      // Not from inside this callback: the binding is still draining.
      setImmediate(this.#finishClose);
    }
  };

  #finish(extra, status, value, resolve, reject) {
    if (extra.signal !== undefined) {
      extra.signal.removeEventListener('abort', extra.onAbort);
    }
    if (extra.copies !== undefined) {
      for (const [original, temp, copyBack] of extra.copies) {
        // A buffer detached meanwhile has length 0 and is skipped.
        if (status >= 0 && copyBack && original.length === temp.length) {
          original.set(temp);
        }
      }
      this.#freeCopies(extra.copies);
    }
    if (status === 1) resolve(undefined);
    else if (status === 0) resolve(value);
    else reject(this.#failure(extra, status));
  }

  #failure(extra, status) {
    if (status === ECANCELED) {
      const signal = extra?.signal;
      return signal !== undefined && signal.aborted ? signal.reason
        : abortError();
    }
    const name = extra?.kernel.name ?? 'kernel';
    return kernelError(`${name} failed: ${binding.strerror(status)}`);
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
      submitted: s.submitted,
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
