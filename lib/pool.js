'use strict';

// The public Pool: what README.md describes, in the order it describes it.
// Its parts live beside it: the options (options.js), the kernel table
// (kernels.js), the submission ring's producer (ring.js), the tasks in
// flight and their completions (completions.js), AbortSignals (abort.js),
// copies of ordinary buffers (copies.js) and the arena heap (heap.js).

const nodePath = require('node:path');
const binding = require('./binding');
const { Heap } = require('./heap');
const { builtinTable } = require('./kernels');
const {
  argError, rangeError, closedError, checkInteger, describe,
} = require('./errors');
const { viewInfo, TYPE_CLASSES } = require('./views');
const { readSignal, isAborted, reasonOf, Signals } = require('./abort');
const { Copier } = require('./copies');
const { readOptions } = require('./options');
const { Ring, RING_BUFFER_BYTES } = require('./ring');
const { Completions, Extra } = require('./completions');

const EMPTY = Object.freeze([]);

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
  // The signals of tasks in flight. An aborted one cancels its tasks that
  // still own their slot.
  #signals = new Signals((extra) => {
    if (this.#tasks.owns(extra)) binding.cancel(this.#handle, extra.slot);
  });
  #copier;
  #ring;
  #tasks;               // the tasks in flight, by slot
  #closed = false;
  #closing = null;
  #closeResolve = null;
  #stopped = false;     // the binding has closed the pool

  constructor(options = {}) {
    const { threads, arenaBytes } = readOptions(options);
    let arena, arenaView;
    try {
      arena = new SharedArrayBuffer(arenaBytes);
      arenaView = new Uint8Array(arena);
    } catch (err) {
      throw rangeError(`cannot allocate an arena of ${arenaBytes} bytes: ` +
        err.message);
    }
    this.#heap = new Heap(0, arenaBytes);
    this.#copier = new Copier(this.#heap, arena);
    this.#tasks = new Completions(this.#copier, this.#signals, () => {
      // Not from inside the binding's callback: it is still draining.
      if (this.#closeResolve !== null) setImmediate(this.#finishClose);
    });
    const ring = new SharedArrayBuffer(RING_BUFFER_BYTES);
    const [handle, results, bigs, ringStart] = binding.create(arenaView,
      new Uint8Array(ring), threads, this.#tasks.onComplete);
    this.#handle = handle;
    this.#arena = arena;
    this.#tasks.attach(handle, results, bigs);
    this.#ring = new Ring(handle, ring, ringStart, arena);

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
    const k = kt.list[index];
    // Everything user code can take part in comes first: reading the
    // arguments and the signal (getters, Proxy traps), and adding the
    // abort listener (Node's EventTarget reads the signal's own
    // properties). Then the pool is checked again, since that code may
    // have closed it or aborted the signal. From there on no user code
    // runs until the task is queued.
    const signal = readSignal(options);
    const list = readArgs(args, k);
    let extra;
    if (signal !== undefined) {
      extra = new Extra(k);
      extra.watch = this.#signals.watch(signal, extra);
    }
    const tasks = this.#tasks;
    let slot = -1;
    let copies;
    try {
      if (this.#closed) throw closedError();
      if (signal !== undefined && isAborted(signal)) throw reasonOf(signal);
      // A slot before the copies: growing can fail (too many tasks in
      // flight).
      slot = tasks.take();
      const arrays = kt.arrayParams[index];
      let infos = null;
      if (arrays !== null) {
        infos = new Array(list.length);
        for (const [i] of arrays) infos[i] = viewInfo(list[i]);
        copies = this.#copier.copyIn(k, list, infos, arrays);
      }
      if (!this.#ring.push(kt.ringArrays[index], index, slot, list, infos)) {
        const submit = this.#handle; // the handle is the submit function
        switch (list.length) {
          case 0: submit(index, slot); break;
          case 1: submit(index, slot, list[0]); break;
          case 2: submit(index, slot, list[0], list[1]); break;
          default: submit(index, slot, ...list);
        }
      }
    } catch (err) {
      if (slot >= 0) tasks.untake(slot);
      if (copies !== undefined) this.#copier.free(copies);
      if (extra !== undefined) this.#signals.forget(extra.watch, extra);
      throw err;
    }
    if (copies !== undefined) {
      extra ??= new Extra(k);
      extra.copies = copies;
    }
    return tasks.add(slot, extra);
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
      submitted: this.#tasks.submitted,
      completed: s.completed,
      failed: s.failed,
      cancelled: s.cancelled,
      pending: this.#tasks.pending,
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
    if (this.#tasks.pending === 0) setImmediate(this.#finishClose);
    return this.#closing;
  }

  // Runs once nothing is pending, so the binding's close never waits on
  // a running task and never blocks the event loop.
  #finishClose = () => {
    if (this.#tasks.pending !== 0 || this.#stopped) return;
    this.#stopped = true;
    binding.close(this.#handle);
    // What only a running pool needs goes now, not at garbage collection.
    this.#ring.close();
    this.#tasks.close();
    this.#closeResolve();
  };

  get closed() {
    return this.#closed;
  }
}

module.exports = { Pool };
