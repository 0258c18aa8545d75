'use strict';

// The public Pool: what README.md describes, in the order it describes it.
// Its parts live beside it: the options (options.js), the kernel table
// (kernels.js), the submission ring's producer (ring.js), the tasks in
// flight and their completions (completions.js), AbortSignals (abort.js),
// copies of ordinary buffers (copies.js) and the arena heap (heap.js). A
// pool with a task module runs its functions too, on threads of its own
// (task-pool.js, task-worker.js), their values as bytes (task-codec.js).

const nodePath = require('node:path');
const binding = require('./binding');
const { Heap } = require('./heap');
const { builtinTable } = require('./kernels');
const {
  argError, rangeError, closedError, checkInteger, describe, taskError,
  terminatedError, thrownMessage,
} = require('./errors');
const { viewInfo, TYPE_CLASSES } = require('./views');
const { readArgs, readTaskArgs } = require('./args');
const { readSignal, isAborted, reasonOf, Signals } = require('./abort');
const { Copier } = require('./copies');
const { readOptions } = require('./options');
const { Ring, RING_BUFFER_BYTES } = require('./ring');
const { Completions, Extra } = require('./completions');
const { encodeCell, numbersOnly } = require('./task-args');
// A task module's parts, loaded at first use: the threads (with
// node:worker_threads) by the first pool given one, the codec by the
// first arguments that do not ride in the ring cell (anything but one or
// two numbers) or the first result that does not. A pool of kernels needs
// neither, and a task pool's first run should not wait for what it does
// not use.
let taskPool = null;
const threadsPart = () => (taskPool ??= require('./task-pool'));
let codecModule = null;
const codec = () => (codecModule ??= require('./task-codec'));

const { jsTasks, ring: RING_LAYOUT } = binding.contract;
const TAGS = jsTasks.tags;
const JS_RING_KINDS = Object.freeze([false, false, false]);

const EMPTY = Object.freeze([]);

// How finished tasks wake this thread (src/addon/completion.c): libuv's
// async handle under Node, a Node-API thread-safe function under Bun and
// Deno, whose uv_async_* are not libuv's. PENNY_COMPLETIONS=tsfn or uv
// picks one anyway (the test suite runs Node on both).
function useTsfn() {
  const forced = process.env.PENNY_COMPLETIONS;
  if (forced === 'tsfn' || forced === 'uv') return forced === 'tsfn';
  return process.versions.bun !== undefined ||
    process.versions.deno !== undefined;
}

// Task pools dropped without close(): their threads stop.
const unreachable = new FinalizationRegistry(([threads, i32, index]) => {
  threads.stop(i32, index);
});
const JS_ARGS = [0, 0, 0]; // a JS task's ring arguments, reused

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
  // Runs waiting for the task module's names, under their signals: an
  // abort rejects them at once.
  #waitSignals = new Signals((wait) => wait.abort());
  #copier;
  #ring;
  #tasks;               // the tasks in flight, by slot
  #closed = false;
  #closing = null;
  #closeResolve = null;
  #stopped = false;     // the binding has closed the pool
  #closeStop = null;    // close()'s stop of a task pool's threads
  #threads = null;      // a task pool's TaskThreads
  #waiting = 0;         // runs that wait for the task module's names
  #ringI32 = null;
  #epochIndex = 0;
  #terminated = null;   // terminate()'s promise
  #cellPool = null;     // what lib/task-args.js needs of a task pool

  constructor(options = {}) {
    const { threads, arenaBytes, tasks: tasksOption } = readOptions(options);
    const spec = tasksOption === undefined ? null
      : threadsPart().readTasks(tasksOption);
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
    }, this.#heap, this.#outcome);
    const ring = new SharedArrayBuffer(RING_BUFFER_BYTES);
    let notify;
    const epoch = { index: 0 };
    if (spec !== null) {
      // A task pool's threads park on the ring's epoch word; the binding
      // wakes them through this from the pool's own thread. It holds
      // nothing of the Pool, which stays collectible.
      const i32 = new Int32Array(ring);
      notify = threadsPart().notifier(i32, epoch);
      this.#ringI32 = i32;
    }
    const [handle, results, bigs, ringStart, activity, id] = binding.create(
      arenaView, new Uint8Array(ring), threads, this.#tasks.onComplete,
      notify, useTsfn());
    this.#handle = handle;
    this.#arena = arena;
    this.#tasks.attach(handle, results, bigs, activity);
    this.#ring = new Ring(handle, ring, ringStart, arena);

    if (spec !== null) {
      this.#epochIndex = epoch.index =
        (ringStart + RING_LAYOUT.epochOffset) / 4;
      // Before the kernel table: a thread takes tens of milliseconds to
      // start.
      try {
        this.#threads = new (threadsPart().TaskThreads)(spec, threads, id,
          handle, { ring, ringStart, arena });
      } catch (err) {
        binding.close(handle);
        throw err;
      }
      this.#threads.onBroken = threadsPart().brokenHandler(this.#tasks,
        handle);
      this.#cellPool = { heap: this.#heap, arena, arenaBuf: Buffer.from(arena),
        threads: this.#threads };
      // The threads hold the binding's pool, not this object: if this
      // becomes unreachable while idle, they stop, and the binding's pool
      // is collected after them.
      unreachable.register(this,
        [this.#threads, this.#ringI32, this.#epochIndex], this);
    }

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
  //
  // In a pool with a task module, a name the module exports runs that
  // function on the pool's threads (a name it does not export runs the
  // kernel of that name); its arguments and result are cloned.
  run(kernel, args = EMPTY, options) {
    try {
      if (this.#threads !== null) {
        // A closed pool says so first, broken or not.
        if (this.#threads.broken && !this.#closed) {
          throw this.#threads.loadError;
        }
        if (typeof kernel === 'string') {
          return this.#runNamed(kernel, args, options);
        }
      }
      return this.#submit(kernel, args, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #runNamed(name, args, options) {
    if (this.#closed) throw closedError(); // before any bad argument
    // User code may run here (getters, Proxy traps) and close the pool.
    const list = readTaskArgs(args);
    const signal = readSignal(options);
    if (this.#closed) throw closedError();
    const threads = this.#threads;
    if (threads.exports === null && threads.loadError === null) {
      return this.#waitForModule(name, list, signal);
    }
    return this.#dispatch(name, list, signal, false);
  }

  // No thread has loaded the module yet: the run waits for its names,
  // keeping the process alive as a pending task does, until they come or
  // its signal aborts. Its arguments are copied now, as they would be
  // with the threads up, unless a kernel has the name too: the module
  // decides which of the two runs, and a kernel reads them at dispatch.
  // Arguments that cannot be copied reject the run only if the name turns
  // out to be a task; otherwise it rejects as it would have anyway.
  #waitForModule(name, list, signal) {
    const threads = this.#threads;
    // Until the promise exists an abort has nothing to reject; a run that
    // gets past it anyway finds its signal aborted in #dispatch.
    const wait = { abort() {} };
    let entry;
    let cell = null;
    try {
      // Adding the abort listener may run user code (as in #submit).
      entry = signal === undefined ? undefined
        : this.#waitSignals.watch(signal, wait);
      this.#recheck(signal, false);
      if (!this.#kt.byName.has(name)) {
        try {
          cell = encodeCell(name, list, this.#cellPool);
        } catch (err) {
          cell = { error: err, block: -1 };
        }
        // Encoding ran user code (getters).
        this.#recheck(signal, false);
      }
    } catch (err) {
      this.#dropCell(cell);
      if (entry !== undefined) this.#waitSignals.forget(entry, wait);
      throw err;
    }
    if (this.#waiting++ === 0) threads.hold(true);
    let waiting = true;
    const stop = () => {
      waiting = false;
      if (--this.#waiting === 0) {
        threads.hold(false);
        if (this.#closeResolve !== null) setImmediate(this.#finishClose);
      }
      // Last: it may run user code (see Signals.forget).
      if (entry !== undefined) this.#waitSignals.forget(entry, wait);
    };
    return new Promise((resolve, reject) => {
      wait.abort = () => {
        if (!waiting) return;
        this.#dropCell(cell);
        stop();
        reject(entry.reason);
      };
      threads.ready.then(() => {
        if (!waiting) return undefined;
        stop();
        if (this.#terminated !== null || threads.broken) {
          this.#dropCell(cell);
          throw this.#terminated !== null ? terminatedError()
            : threads.loadError;
        }
        // Accepted before any close(): it runs even if one came since.
        return this.#dispatch(name, list, signal, true, cell);
      }).then(resolve, reject);
    });
  }

  // `late`: a run accepted before close() that waited for the module;
  // `cell`: its arguments, if it copied them then.
  #dispatch(name, list, signal, late, cell = null) {
    const threads = this.#threads;
    const isFunction = threads.loadError === null
      ? threads.exports.get(name) : undefined;
    if (isFunction === true) {
      if (cell?.error !== undefined) throw cell.error;
      return this.#submitTask(name, list, signal, late, cell);
    }
    this.#dropCell(cell);
    if (threads.loadError !== null) throw threads.loadError;
    if (isFunction === false) {
      throw taskError(`the task module's export '${name}' is not a function`);
    }
    if (this.#kt.byName.has(name)) {
      return this.#submit(name, list, signal === undefined ? undefined
        : { signal }, late);
    }
    throw rangeError(`unknown task or kernel '${name}': the task module ` +
      'does not export it and no kernel has that name');
  }

  // Queues a JS task, its arguments in the ring cell (lib/task-args.js):
  // `cell`, if the run encoded them already, else read now.
  #submitTask(name, list, signal, late, cell = null) {
    const fnId = this.#threads.nameId(name);
    const tasks = this.#tasks;
    let extra;
    let slot = -1;
    try {
      if (signal !== undefined) {
        extra = new Extra(null);
        extra.watch = this.#signals.watch(signal, extra);
      }
      // Adding the abort listener may have run user code (as in #submit).
      this.#recheck(signal, late);
      let tag = list.length;
      let a = 0;
      let b = 0;
      // Numbers as encodeCell has them, made here without a Cell: this is
      // the path of every tiny task.
      if (cell === null && numbersOnly(list)) {
        a = tag >= 1 ? list[0] : 0;
        b = tag === 2 ? list[1] : 0;
      } else {
        if (cell === null) {
          cell = encodeCell(name, list, this.#cellPool);
          // Encoding ran user code (getters): the pool or the signal may
          // have changed under it.
          this.#recheck(signal, late);
        }
        tag = cell.tag;
        a = cell.a;
        b = cell.b;
        if (cell.keep !== null || cell.block >= 0) {
          extra ??= new Extra(null);
          extra.keep = cell.keep ?? undefined;
          extra.block = cell.block;
        }
      }
      slot = tasks.take();
      const head = fnId * TAGS + tag;
      JS_ARGS[0] = head;
      JS_ARGS[1] = a;
      JS_ARGS[2] = b;
      if (!this.#ring.push(JS_RING_KINDS, jsTasks.kernelIndex, slot, JS_ARGS,
        null)) {
        this.#handle(jsTasks.kernelIndex, slot, head, a, b);
      }
    } catch (err) {
      if (slot >= 0) tasks.untake(slot);
      this.#dropCell(cell);
      if (extra?.watch !== undefined) this.#signals.forget(extra.watch, extra);
      throw err;
    }
    return tasks.add(slot, extra);
  }

  // Gives back the arena block of a cell that will not run.
  #dropCell(cell) {
    if (cell !== null && cell.block >= 0) this.#heap.release(cell.block);
  }

  // A JS task's payload (binding.payload) as { value } or { error }.
  #outcome = (bytes) => {
    const { decode, KIND, fromRecord, POSTED_BUFFER } = codec();
    let buffers = null; // those posted with the payload
    const sabOf = (id) => {
      if (id === 0) return this.#arena;
      const sab = buffers?.[id - POSTED_BUFFER];
      if (sab === undefined) {
        throw taskError('a result named a buffer it cannot share');
      }
      return sab;
    };
    let [kind, value] = decode(bytes, sabOf);
    if (kind === KIND.POSTED) {
      const message = this.#threads.takePosted(value[0], value[1]);
      if (message.bytes === undefined) return { value: message.value };
      buffers = message.buffers;
      [kind, value] = decode(message.bytes, sabOf);
    }
    if (kind === KIND.ERROR) return { error: fromRecord(value) };
    if (kind === KIND.FAST) return { value: value[0] };
    return { value };
  };

  // Throws if the pool can no longer take a task: closed (unless `late`,
  // a run accepted before close()), terminated, or its signal aborted.
  #recheck(signal, late) {
    if (this.#terminated !== null) throw terminatedError();
    if (this.#closed && !late) throw closedError();
    if (signal !== undefined && isAborted(signal)) throw reasonOf(signal);
  }

  #submit(kernel, args, options, late = false) {
    if (this.#closed && !late) throw closedError();
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
      this.#recheck(signal, late);
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
      completed: s.completed - this.#tasks.countedAsCompleted,
      failed: s.failed + this.#tasks.countedAsCompleted,
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
    if (this.#tasks.pending !== 0 || this.#waiting !== 0 || this.#stopped) {
      return;
    }
    this.#release();
    if (this.#threads === null) {
      this.#closeResolve();
    } else {
      this.#closeStop = this.#stopThreads();
      this.#closeStop.then(this.#closeResolve);
    }
  };

  // Closes the binding's pool and drops what only a running pool needs
  // now, not at garbage collection.
  #release() {
    this.#stopped = true;
    binding.close(this.#handle);
    this.#ring.close();
    this.#tasks.close();
  }

  // Resolves once none of a task pool's threads is inside the core, so that
  // close() does not block this thread. Node's Worker.terminate() stops a
  // running task; Deno's does not (the thread runs on), and there this
  // waits for the task to return.
  async #lentThreadsOut() {
    while (!this.#stopped && this.#threads !== null &&
           binding.lentInside(this.#handle) > 0) {
      await new Promise((resolve) => { setTimeout(resolve, 5); });
    }
  }

  #stopThreads() {
    unreachable.unregister(this);
    return this.#threads.stop(this.#ringI32, this.#epochIndex);
  }

  // Stops the pool now: every task not yet settled rejects with
  // ERR_PENNY_CLOSED, running kernels are asked to stop, and a task
  // pool's threads are terminated, even one stuck in an endless loop.
  // Resolves once every thread is gone. Idempotent.
  terminate() {
    if (this.#terminated !== null) return this.#terminated;
    this.#closed = true;
    this.#closing ??= new Promise((resolve) => {
      this.#closeResolve = resolve;
    });
    if (!this.#stopped) {
      for (const slot of this.#tasks.slots()) {
        binding.cancel(this.#handle, slot);
      }
      this.#tasks.rejectAll(terminatedError());
    }
    // A close() that has begun to stop the threads: wait for that stop.
    const threadsGone = this.#threads === null ? Promise.resolve()
      : this.#stopped ? this.#closeStop ?? Promise.resolve()
        : this.#stopThreads();
    this.#terminated = threadsGone.then(() => this.#lentThreadsOut())
      .then(() => {
        if (!this.#stopped) this.#release();
        this.#closeResolve();
      });
    return this.#terminated;
  }

  get closed() {
    return this.#closed;
  }
}

module.exports = { Pool };
