// penny/browser: Penny's Pool in the browser, over the C core compiled to
// WebAssembly with shared memory (src/wasm/binding.c). The same API as in
// Node: new Pool({ threads, tasks }), kernels, alloc, free, run, stats,
// close. Each of a pool's threads is a module Web Worker; completions
// reach this thread through the memory and Atomics.waitAsync, so the page
// never blocks. Needs a cross-origin isolated page (COOP and COEP).

import { getRuntime, startWorker, HELPER_STACK } from './runtime.mjs';
import {
  argError, rangeError, closedError, describe, statusError, taskNamesError,
} from './errors.mjs';
import {
  kernelTable, readOptions, readSignal, TYPE_CODES, typeCode,
} from './args.mjs';
import { viewInfo, bufferBytes } from './views.mjs';

const ECANCELED = -5;

// The intrinsics, never a signal's own (overridable) properties: user code
// must not run, or throw, between C taking a call and #pending holding it.
const addListener = EventTarget.prototype.addEventListener;
const removeListener = EventTarget.prototype.removeEventListener;
const signalAborted = Object.getOwnPropertyDescriptor(AbortSignal.prototype,
  'aborted').get;
const signalReason = Object.getOwnPropertyDescriptor(AbortSignal.prototype,
  'reason').get;

export class Pool {
  #rt;
  #pw = 0;
  #word = 0;             // the done word's index in an Int32Array
  #workers = [];         // { stop, stack, started }
  #broken = null;        // a Worker failed: its thread never ran
  #pending = new Map();  // call id -> entry (see #track)
  #nextId = 1;
  #watching = false;
  #closed = false;
  #closing = null;
  #closeResolve = null;
  #views = new Map();    // alloc'd view -> address
  #counts = { submitted: 0, completed: 0, failed: 0, cancelled: 0 };
  #tasks = null;         // { url, names: Promise<Map name -> id> }
  #orphans = new Map();  // call id -> entry rejected early (#rejectAll)
  #waiting = 0;          // runs waiting for the task module's names
  #names = null;         // the task module's names, once known
  #freed = new WeakSet(); // views given to free()
  #deferred = [];        // [address, first call id that may not use it]

  constructor(options = {}) {
    const { threads, tasks } = readOptions(options);
    const rt = this.#rt = getRuntime();
    const { ex } = rt;
    let namesFrom;
    if (tasks !== null) {
      const names = new Promise((resolve, reject) => {
        namesFrom = { resolve, reject };
      });
      names.catch(() => {}); // a run() reports it
      this.#tasks = { url: tasks, names };
    }
    const spawn = (rec) => {
      const stack = ex.malloc(HELPER_STACK);
      if (stack === 0) return -1;
      let started;
      let exited;
      const entry = { stack, stop: null, started: new Promise((resolve) => {
        started = resolve;
      }), exited: new Promise((resolve) => { exited = resolve; }) };
      const onError = (err) => {
        this.#broken ??= err;
        namesFrom?.reject(err);
        started();
        this.#rejectAll(err);
      };
      try {
        entry.stop = startWorker({ module: rt.module, memory: rt.memory, rec,
          stackTop: stack + HELPER_STACK, tasks }, (msg) => {
          if (msg.type === 'exited') exited();
          if (msg.type !== 'started') return;
          started();
          if (msg.error !== null) {
            namesFrom?.reject(taskNamesError(tasks, msg.error));
          } else if (this.#names === null) {
            this.#names = new Map(msg.names.map((n, i) => [n, i]));
            namesFrom?.resolve(this.#names);
          }
        }, onError);
      } catch (err) {
        ex.free(stack);
        return -1;
      }
      this.#workers.push(entry);
      return 0;
    };
    const pw = rt.withSpawner(spawn, () => ex.pw_pool_create(threads,
      rt.scratch));
    if (pw === 0) {
      // C stopped the threads it had started, running any whose Worker had
      // not yet started itself; each such Worker, once it starts, finds
      // its thread done and exits: then its stack goes back.
      for (const w of this.#workers) w.exited.then(() => ex.free(w.stack));
      const code = new Int32Array(rt.buffers.current(), rt.scratch, 1)[0];
      throw rangeError(`cannot start a pool of ${threads} threads: ${
        rt.string(ex.penny_strerror(code))}`);
    }
    this.#pw = pw;
    this.#word = ex.pw_pool_done_word(pw);
    Object.defineProperty(this, 'threads', { value: threads,
      enumerable: true });
  }

  // The shared memory's buffer: every alloc()'d array is a view over it.
  get arena() {
    return this.#rt.buffers.current();
  }

  get kernels() {
    return kernelTable(this.#rt).kernels;
  }

  get closed() {
    return this.#closed;
  }

  // A typed array of `length` elements in the shared memory, passed to
  // kernels and tasks without copying.
  alloc(Type, length) {
    const code = TYPE_CODES.get(Type);
    if (code === undefined) {
      throw argError('alloc: the type must be a typed-array class such as ' +
        `Float64Array, got ${describe(Type)}`);
    }
    if (typeof length !== 'number') {
      throw argError(`alloc: length must be a number, got ${describe(length)}`);
    }
    if (!Number.isSafeInteger(length) || length < 0) {
      throw rangeError(`alloc: length must be an integer from 0 to ${
        Number.MAX_SAFE_INTEGER}, got ${length}`);
    }
    if (this.#closed) throw closedError();
    const bytes = length * Type.BYTES_PER_ELEMENT;
    const at = bytes < 2 ** 31 ? this.#rt.ex.aligned_alloc(64,
      Math.max(64, Math.ceil(bytes / 64) * 64)) : 0;
    if (at === 0) {
      throw rangeError(`alloc: cannot allocate ${bytes} bytes for ${length
      } elements of ${Type.name}: the shared memory (${
        this.#rt.memory.buffer.byteLength} bytes, at most 2 GiB) is full`);
    }
    const view = new Type(this.#rt.buffers.current(), at, length);
    // Zeroed, as a new typed array is (the block may have been used).
    new Uint8Array(view.buffer, at, bytes).fill(0);
    this.#views.set(view, at);
    return view;
  }

  free(view) {
    const at = (typeof view === 'object' && view !== null)
      ? this.#views.get(view) : undefined;
    if (at === undefined) {
      throw argError('free: expected a view returned by this pool\'s ' +
        `alloc() and not yet freed, got ${describe(view)}`);
    }
    this.#views.delete(view);
    this.#freed.add(view);
    // A call made before this free may still use the block, and the
    // allocator keeps its own records inside a free block: hand it back
    // once every such call is done (#releaseDeferred).
    const first = this.#pending.keys().next();
    if (first.done) this.#rt.ex.free(at);
    else this.#deferred.push([at, this.#nextId]);
  }

  // Frees the deferred blocks that no pending call can use any more.
  #releaseDeferred() {
    const first = this.#pending.keys().next();
    const oldest = first.done ? Infinity : first.value;
    let n = 0;
    while (n < this.#deferred.length && this.#deferred[n][1] <= oldest) {
      this.#rt.ex.free(this.#deferred[n][0]);
      n++;
    }
    if (n > 0) this.#deferred.splice(0, n);
  }

  // Runs a kernel, or a function of the task module, on the pool; a
  // promise of its result. Never throws: a bad call rejects.
  run(kernel, args = [], options = undefined) {
    try {
      if (this.#closed) throw closedError();
      if (!Array.isArray(args)) {
        throw argError(`run: args must be an array, got ${describe(args)}`);
      }
      // Read once, now: getters and Proxy traps run here, and whatever
      // they or the caller change later is not this call's.
      const list = [];
      for (let i = 0, n = args.length; i < n; i++) list.push(args[i]);
      const signal = readSignal(options);
      if (this.#closed) throw closedError();
      if (this.#broken !== null) throw this.#broken;
      if (this.#tasks !== null && typeof kernel === 'string') {
        // A name the module exports runs that function.
        if (this.#names !== null) return this.#named(this.#names, kernel, list, signal);
        // Not known yet: accepted now, it runs even if close() comes
        // before the names do (close waits).
        this.#waiting++;
        return this.#tasks.names.then((names) => this.#named(names, kernel,
          list, signal)).finally(() => {
          if (--this.#waiting === 0 && this.#closeResolve !== null) {
            this.#finishClose();
          }
        });
      }
      return this.#kernel(kernel, list, signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #named(names, name, list, signal) {
    const id = names.get(name);
    return id === undefined ? this.#kernel(name, list, signal)
      : this.#task(name, id, list, signal);
  }

  #kernel(kernel, args, signal) {
    if (signal !== undefined && signalAborted.call(signal)) {
      throw signalReason.call(signal);
    }
    const { ex, buffers } = this.#rt;
    const table = kernelTable(this.#rt);
    const info = table.list[table.indexOf(kernel)];
    if (args.length !== info.params.length) {
      throw argError(`${info.name}: expected ${info.params.length} ` +
        `argument${info.params.length === 1 ? '' : 's'}, got ${args.length}`);
    }
    const c = ex.pw_call_kernel(this.#pw, info.index);
    if (c === 0) throw rangeError('run: out of memory');
    const copies = [];
    try {
      info.params.forEach((p, i) => {
        const v = args[i];
        let rc;
        if (p.array) {
          const view = viewInfo(v);
          if (view === undefined) {
            throw argError(`${info.name}: parameter '${p.name}' must be a ` +
              `typed array, got ${describe(v)}`);
          }
          if (this.#freed.has(v)) {
            throw argError(`${info.name}: parameter '${p.name}' is a view ` +
              'that was given to free()');
          }
          let at = view.byteOffset;
          if (!buffers.has(view.buffer)) at = this.#copyIn(view, p.dir, copies);
          rc = ex.pw_call_array(c, i, typeCode(view.name), at, view.length);
        } else {
          if (typeof v !== 'number') {
            throw argError(`${info.name}: parameter '${p.name}' must be a ` +
              `number, got ${describe(v)}`);
          }
          rc = ex.pw_call_scalar(c, i, v);
        }
        if (rc !== 0) throw statusError(rc, this.#rt.string(ex.pw_call_msg(c)));
      });
      return this.#submit(c, { info, copies }, signal);
    } catch (err) {
      for (const { at } of copies) ex.free(at);
      ex.pw_call_free(c);
      throw err;
    }
  }

  // A view outside the shared memory (`view` from viewInfo): its bytes go
  // to a block there, and come back after the call for a parameter the
  // kernel writes, as many as there were.
  #copyIn(view, dir, copies) {
    const { ex, buffers } = this.#rt;
    const at = ex.malloc(Math.max(1, view.byteLength));
    if (at === 0) throw rangeError('run: out of memory for a copy');
    copies.push({ at, view, back: dir !== 'in' });
    new Uint8Array(buffers.current(), at, view.byteLength).set(
      new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    return at;
  }

  // Copies written arguments back (into what is left of their buffers)
  // and frees every copy.
  #copyOut(copies) {
    const { ex, buffers } = this.#rt;
    let error = null;
    for (const { at, view, back } of copies) {
      try {
        if (back) {
          // The buffer may have shrunk or been detached since.
          const room = Math.max(0, Math.min(view.byteLength,
            bufferBytes(view.buffer) - view.byteOffset));
          new Uint8Array(view.buffer, view.byteOffset, room).set(
            new Uint8Array(buffers.current(), at, room));
        }
      } catch (err) {
        error ??= err;
      }
      ex.free(at);
    }
    if (error !== null) throw error;
  }

  #task(name, id, args, signal) {
    if (signal !== undefined && signalAborted.call(signal)) {
      throw signalReason.call(signal);
    }
    const { ex, codec } = this.#rt;
    const [at, len] = codec.encode(args);
    const c = ex.pw_call_task(this.#pw, id, at, len);
    if (c === 0) throw rangeError('run: out of memory');
    try {
      return this.#submit(c, { name }, signal);
    } catch (err) {
      ex.pw_call_free(c);
      throw err;
    }
  }

  #submit(c, entry, signal) {
    const { ex } = this.#rt;
    // Reading the arguments ran user code (getters, toJSON, Proxy traps),
    // which may have aborted the signal: its 'abort' event is gone by now.
    if (signal !== undefined && signalAborted.call(signal)) {
      throw signalReason.call(signal);
    }
    const id = this.#nextId++;
    entry.c = c;
    entry.aborted = false;
    entry.reason = undefined;
    if (signal) {
      entry.signal = signal;
      entry.onAbort = () => {
        entry.aborted = true;
        entry.reason = signalReason.call(signal);
        ex.pw_call_cancel(c);
      };
      // Before C owns the call: a throw here leaves it the caller's to free.
      addListener.call(signal, 'abort', entry.onAbort, { once: true });
    }
    const rc = ex.pw_call_submit(c, id);
    if (rc !== 0) {
      if (signal) removeListener.call(signal, 'abort', entry.onAbort);
      throw statusError(rc, this.#rt.string(ex.pw_call_msg(c)));
    }
    this.#counts.submitted++;
    const promise = new Promise((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    this.#pending.set(id, entry);
    this.#watch();
    return promise;
  }

  // Keeps one Atomics.waitAsync on the done word while calls are pending.
  #watch() {
    if (this.#watching || this.#pending.size === 0) return;
    const i32 = new Int32Array(this.#rt.buffers.current());
    // Load, then take: a call done after the take bumps the word after
    // this load, and the wait below then returns at once.
    const seen = Atomics.load(i32, this.#word);
    if (this.#drain() > 0) {
      this.#watch();
      return;
    }
    this.#watching = true;
    const next = () => {
      this.#watching = false;
      this.#drain();
      this.#watch();
    };
    if (typeof Atomics.waitAsync !== 'function') {
      // An engine without it (older Firefox): look again in a moment.
      setTimeout(next, 1);
      return;
    }
    const r = Atomics.waitAsync(i32, this.#word, seen);
    if (r.async) r.value.then(next);
    else queueMicrotask(next);
  }

  #drain() {
    const { ex } = this.#rt;
    let n = 0;
    for (let c = ex.pw_pool_take_done(this.#pw); c !== 0; n++) {
      const next = ex.pw_call_next(c);
      this.#finish(c);
      c = next;
    }
    if (n > 0 && this.#deferred.length > 0) this.#releaseDeferred();
    if (n > 0 && this.#pending.size === 0 && this.#closeResolve !== null) {
      this.#finishClose();
    }
    return n;
  }

  #finish(c) {
    const { ex, codec, buffers } = this.#rt;
    const id = ex.pw_call_id(c);
    const orphan = this.#orphans.get(id);
    const entry = orphan ?? this.#pending.get(id);
    this.#orphans.delete(id);
    this.#pending.delete(id);
    if (entry.signal !== undefined) {
      removeListener.call(entry.signal, 'abort', entry.onAbort);
    }
    if (orphan !== undefined) {
      // Its promise was rejected by #rejectAll: only the memory is left.
      for (const { at } of entry.copies ?? []) ex.free(at);
      ex.pw_call_free(c);
      this.#releaseDeferred();
      return;
    }
    const status = ex.pw_call_status(c);
    let ok = status === 0 && !entry.aborted;
    let value;
    try {
      if (entry.info !== undefined) {
        this.#copyOut(entry.copies);
        if (status === 0 && entry.info.result !== 'void') {
          value = ex.pw_call_big(c) ? bigResult(buffers, ex.pw_call_limbs(c))
            : ex.pw_call_result(c);
        } else if (status !== 0 && status !== ECANCELED) {
          value = statusError(status, `${entry.info.name}: ${
            this.#rt.string(ex.penny_strerror(status))}`);
        }
      } else if (status === 0) {
        const len = ex.pw_task_out_len(c);
        value = len === 0 ? new RangeError('out of memory for the result')
          : codec.decode(ex.pw_task_out(c), len);
        if (ex.pw_task_threw(c) !== 0 || len === 0) ok = false;
      }
    } catch (err) {
      ok = false;
      value = err;
    }
    ex.pw_call_free(c);
    if (ok) {
      this.#counts.completed++;
      entry.resolve(value);
    } else if (entry.aborted || status === ECANCELED) {
      this.#counts.cancelled++;
      entry.reject(entry.aborted ? entry.reason
        : new DOMException('The operation was aborted', 'AbortError'));
    } else {
      this.#counts.failed++;
      entry.reject(value);
    }
  }

  #rejectAll(err) {
    // A thread that never started: its calls may never finish, so every
    // pending promise rejects now (their records are left to the memory).
    // Their records stay with C (a live thread may still finish them):
    // #finish frees them then, without settling twice.
    for (const [id, entry] of this.#pending) {
      entry.reject(err);
      this.#orphans.set(id, entry);
    }
    this.#pending.clear();
    if (this.#closeResolve !== null) this.#finishClose();
  }

  stats() {
    const { ex, buffers, scratch } = this.#rt;
    const s = new Float64Array(6).fill(0);
    if (this.#pw !== 0) {
      if (ex.pw_pool_stats(this.#pw, scratch) === 0) {
        s.set(new Float64Array(buffers.current(), scratch, 6));
      }
    }
    return {
      threads: this.threads,
      ...this.#counts,
      pending: this.#pending.size,
      steals: s[1],
      inlined: s[2],
      failedSteals: s[3],
      sleeps: s[4],
      wakeups: s[5],
      arenaBytes: this.#rt.memory.buffer.byteLength,
    };
  }

  // Lets pending calls finish, then stops the threads. Idempotent.
  close() {
    if (this.#closing !== null) return this.#closing;
    this.#closed = true;
    this.#closing = new Promise((resolve) => {
      this.#closeResolve = resolve;
    });
    if (this.#pending.size === 0) queueMicrotask(() => this.#finishClose());
    return this.#closing;
  }

  async #finishClose() {
    if (this.#pw === 0 || this.#pending.size !== 0 || this.#waiting !== 0) {
      return;
    }
    const pw = this.#pw;
    this.#pw = 0;
    // Every thread has started, so destroy's joins only wait for threads
    // leaving an idle loop (a thread that never started would never end:
    // then the pool's memory is left as it is).
    await Promise.all(this.#workers.map((w) => w.started));
    this.#releaseDeferred();
    if (this.#broken === null) {
      const rc = this.#rt.ex.pw_pool_destroy(pw);
      if (rc === 0) for (const w of this.#workers) this.#rt.ex.free(w.stack);
    }
    for (const w of this.#workers) w.stop();
    this.#workers = [];
    this.#closeResolve();
  }
}

// A kernel's 256-bit integer result (two's complement, low limb first).
function bigResult(buffers, at) {
  const limbs = new BigUint64Array(buffers.current(), at, 4);
  let v = 0n;
  for (let i = 3; i >= 0; i--) v = (v << 64n) | limbs[i];
  return BigInt.asIntN(256, v);
}

export default { Pool };
