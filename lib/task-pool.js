'use strict';

// The threads of a task pool (new Pool({ tasks })): one Worker per worker
// of the C core, each running lib/task-worker.js, and what the pool's own
// thread shares with them: the names of the tasks it has run and the
// SharedArrayBuffers it has passed, each by an id, posted on a
// MessageChannel per thread that the thread reads synchronously when it
// meets an id it does not know. A thread that exits while the pool is
// open (process.exit in a task, an uncaught error in a callback) costs
// only the task it ran, which the binding rejects, and is replaced.

const nodePath = require('node:path');
const { fileURLToPath } = require('node:url');
const {
  Worker, MessageChannel, receiveMessageOnPort,
} = require('node:worker_threads');
const binding = require('./binding');
const { argError, describe, taskError } = require('./errors');

const WORKER = nodePath.join(__dirname, 'task-worker.js');
// Each thread's stack (Node's default for a Worker is 4 MiB; the memory
// is reserved, and used only as deep as the code goes). Fork-join lets a
// sync whose child was stolen run other children on top of its stack for
// up to HELP_SHARE of it; the rest is the user's own recursion's.
const STACK_MB = 64;
const HELP_SHARE = 0.5;
// A thread that dies within this long of its start is replaced after a
// delay that doubles each time, up to the last, so that a module that
// kills every thread it loads on does not spin.
const YOUNG_MS = 1000;
const RESTART_MS = [0, 10, 50, 200, 1000];

// The task module as lib/task-worker.js loads it: an absolute path or a
// file: URL string, from a string or a URL object. Throws ERR_PENNY_ARG.
function readTasks(tasks) {
  let spec = tasks;
  if (tasks instanceof URL) spec = tasks.href;
  if (typeof spec !== 'string' || spec.length === 0) {
    throw argError('tasks must be an absolute path or a file: URL of a ' +
      `module, got ${describe(tasks)}`);
  }
  if (spec.startsWith('file:')) {
    try {
      fileURLToPath(spec);
    } catch (err) {
      throw argError(`tasks: ${err.message}`);
    }
    return spec;
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec) && !nodePath.isAbsolute(spec)) {
    throw argError(`tasks must be a file: URL or an absolute path, got ${
      spec}`);
  }
  if (!nodePath.isAbsolute(spec)) {
    throw argError('tasks must be an absolute path or a file: URL (try ' +
      `path.resolve or new URL(..., import.meta.url)), got ${spec}`);
  }
  return spec;
}


class Thread {
  constructor(index, gen, worker, port) {
    this.index = index;
    this.gen = gen;
    this.worker = worker;
    this.port = port;        // our end of its channel
    this.started = Date.now();
    this.posted = new Map(); // results read off the port early, by id
  }
}

class TaskThreads {
  #spec;
  #id;
  #handle;
  #shared;               // ring, ringStart, arena: the same for every thread
  #threads;              // index -> Thread
  #byGen = new Map();    // gen -> Thread, while its posts may be read
  #gen = 0;
  #deaths;               // index -> deaths in a row, young
  #stopping = false;
  #held = false;         // runs wait for the module: keep the process up
  #names = new Map();    // task name -> id
  #sabIds = new WeakMap(); // SharedArrayBuffer -> id
  #sabs = new Map();     // id -> WeakRef of the SharedArrayBuffer
  #nextSab = 0;
  #dropSab = new FinalizationRegistry((id) => this.#drop(id));
  exports = null;        // name -> is a function, once a thread loaded
  loadError = null;      // why the module failed to load, once known
  broken = false;        // its threads die loading it: nothing can run
  onBroken = () => {};   // the pool's, called once when it breaks
  ready;                 // settles once the first thread has reported

  constructor(spec, threads, id, handle, shared) {
    this.#spec = spec;
    this.#id = id;
    this.#handle = handle;
    this.#shared = shared;
    this.#threads = new Array(threads);
    this.#deaths = new Array(threads).fill(0);
    let onReady;
    this.ready = new Promise((resolve) => {
      onReady = resolve;
    });
    this.onReady = onReady;
    for (let i = 0; i < threads; i++) this.#start(i);
  }

  #start(index) {
    const gen = ++this.#gen;
    const { port1, port2 } = new MessageChannel();
    port1.unref();
    const sabs = [];
    for (const [id, ref] of this.#sabs) {
      const sab = ref.deref();
      if (sab !== undefined) sabs.push([id, sab]);
    }
    const names = [...this.#names].map(([name, id]) => [id, name]);
    const worker = new Worker(WORKER, {
      workerData: {
        id: this.#id, index, gen, tasks: this.#spec, names, sabs,
        port: port2, threads: this.#threads.length,
        stackBudget: STACK_MB * 1024 * 1024 * HELP_SHARE,
        ...this.#shared,
      },
      transferList: [port2],
      resourceLimits: { stackSizeMb: STACK_MB },
    });
    const thread = new Thread(index, gen, worker, port1);
    this.#threads[index] = thread;
    this.#byGen.set(gen, thread);
    worker.on('message', (msg) => this.#onMessage(msg));
    // An error event names why the thread ended; the exit that follows
    // is what counts.
    worker.on('error', () => {});
    worker.on('exit', (code) => this.#onExit(thread, code));
    // After the listeners, which would ref its port again: an idle pool
    // keeps nothing alive.
    if (!this.#held) worker.unref();
  }

  // While runs wait for the module's names, the threads keep the process
  // alive, as a pending task does.
  hold(held) {
    this.#held = held;
    for (const t of this.#threads) {
      if (t === undefined) continue;
      if (held) t.worker.ref();
      else t.worker.unref();
    }
  }

  #onMessage(msg) {
    if (msg === null || typeof msg !== 'object' || msg.ready !== true ||
        this.exports !== null || this.loadError !== null) return;
    if (Array.isArray(msg.names)) {
      this.exports = new Map(msg.names);
    } else {
      // Only here: a pool whose module loads never needs the codec.
      let cause = require('./task-codec').fromRecord(msg.error);
      let why;
      try {
        why = cause?.message ?? String(cause);
      } catch {
        why = 'it threw a value that cannot be shown';
        cause = undefined;
      }
      this.loadError = taskError(`the task module ${this.#spec} failed to ` +
        `load: ${why}`);
      this.loadError.cause = cause;
    }
    this.onReady();
  }

  #onExit(thread, code) {
    if (this.#stopping || this.#threads[thread.index] !== thread) return;
    if (this.exports === null && this.loadError === null) {
      // It died loading the module, before any thread had loaded it: no
      // thread can be counted on to run anything, so the pool fails every
      // task, now and later, with that, and starts no more threads.
      this.loadError = taskError(`the task module ${this.#spec} failed to ` +
        `load: its thread exited with code ${code} while loading it`);
      this.broken = true;
      this.onReady();
      this.onBroken(this.loadError);
      return;
    }
    // The binding rejects the task the thread was awaiting, and frees its
    // worker for the next thread.
    binding.vacate(this.#handle, thread.index);
    const young = Date.now() - thread.started < YOUNG_MS;
    const deaths = young ? this.#deaths[thread.index] + 1 : 0;
    this.#deaths[thread.index] = deaths;
    const delay = RESTART_MS[Math.min(deaths, RESTART_MS.length - 1)];
    const restart = () => {
      if (!this.#stopping && this.#threads[thread.index] === thread) {
        this.#start(thread.index);
      }
    };
    if (delay === 0) restart();
    else setTimeout(restart, delay).unref();
  }

  // The id of a task name; posted to every thread the first time.
  nameId(name) {
    let id = this.#names.get(name);
    if (id === undefined) {
      id = this.#names.size + 1;
      this.#names.set(name, id);
      this.#post({ id, name });
    }
    return id;
  }

  // The id of a SharedArrayBuffer other than the arena; posted to every
  // thread the first time, and dropped from them once it is collected.
  sabId(sab) {
    let id = this.#sabIds.get(sab);
    if (id === undefined) {
      id = ++this.#nextSab;
      this.#sabIds.set(sab, id);
      this.#sabs.set(id, new WeakRef(sab));
      this.#dropSab.register(sab, id);
      this.#post({ id, sab });
    }
    return id;
  }

  #drop(id) {
    this.#sabs.delete(id);
    if (!this.#stopping) this.#post({ drop: id });
  }

  #post(msg) {
    for (const t of this.#threads) {
      // A thread that has exited has a closed port; posting to it is a
      // no-op.
      if (t !== undefined) t.port.postMessage(msg);
    }
  }

  // A result that its thread posted (codec.KIND.POSTED), as the thread
  // posted it ({ value }, or { bytes, buffers }): read off that thread's
  // port, keeping any that come before it.
  takePosted(gen, id) {
    const thread = this.#byGen.get(gen);
    if (thread === undefined) throw taskError('a posted result went missing');
    if (thread.posted.has(id)) {
      const message = thread.posted.get(id);
      thread.posted.delete(id);
      return message;
    }
    let m;
    while ((m = receiveMessageOnPort(thread.port)) !== undefined) {
      if (m.message.post === id) return m.message;
      thread.posted.set(m.message.post, m.message);
    }
    throw taskError('a posted result went missing');
  }

  // Stops every thread (wakes the parked ones, then terminates them);
  // resolves once all have exited.
  stop(ringI32, epochIndex) {
    this.#stopping = true;
    this.onReady();
    Atomics.add(ringI32, epochIndex, 1);
    Atomics.notify(ringI32, epochIndex);
    return Promise.all(this.#threads.map((t) => t?.worker.terminate()))
      .then(() => {
        for (const t of this.#threads) t?.port.close();
        this.#byGen.clear();
      });
  }
}

// Wakes `n` threads parked on a task pool's epoch word. Made out here so
// that its closure holds no context of the Pool's constructor (the
// binding keeps it for as long as the native pool lives).
function notifier(i32, epoch) {
  return (n) => Atomics.notify(i32, epoch.index, n);
}

// What a task pool does when its threads die loading the module: no task
// already queued will run, so each rejects with why (and the binding
// cancels it, so a thread that does come up skips it). The threads hold
// this, so it holds the tasks only weakly: an idle Pool stays collectible
// (pending tasks keep their records alive through the binding).
function brokenHandler(tasks, handle) {
  const ref = new WeakRef(tasks);
  return (error) => {
    const live = ref.deref();
    if (live === undefined) return;
    for (const slot of live.slots()) binding.cancel(handle, slot);
    // Idle now: a close() that waited for these tasks goes on.
    live.rejectAll(error, true);
  };
}

module.exports = { TaskThreads, readTasks, notifier, brokenHandler };
