'use strict';

// worker-churn: Workers (node:worker_threads) that own a pool end at random
// moments in every state of that pool -- while `new Pool()` runs, while it
// is busy (a burst of noops in flight, spins running), while it is handing
// results to JavaScript, while it closes, idle, and while a Worker of its
// own has a busy pool -- by worker.terminate()
// from outside, by process.exit() inside the Worker, by an uncaught throw
// inside the Worker, or by the Worker simply running out of work.
//
// Why: a Worker's environment can go away at any moment, and DESIGN.md §3
// and CONVENTIONS.md rule 17 make teardown a normal path: a Node-API call
// that fails because its environment is going away is never fatal, and a
// terminated Worker leaves no thread running. The bug this was written
// for: terminating a Worker right after it queued 1000 noops aborted the
// whole process (FATAL ERROR ... napi_fatal_exception, exit 134).
//
// Checks, per Worker: it emits 'exit' within a bound (running spins of 10 s
// must be cancelled, not waited for) with the expected code and no
// unexpected 'error'; per batch of Workers: the process that owned them
// survives (no signal, exit 0, no FATAL ERROR or sanitizer report) and,
// on Linux, no penny-w* thread is left once they all exited, while a pool
// of the main thread keeps working.
//
// Each (state, ending) pair runs as one batch in its own child process, so
// that a batch that kills its process is reported by name and the others
// still run.

const { Worker } = require('node:worker_threads');
const {
  ROOT, MiB, main, childPayload, runBatches, watchWorker, within, penny,
  pennyThreads, waitPennyThreads, show,
} = require('../lib');

// How long a Worker may take from its ending (or its start, for endings
// inside it) to its 'exit' event.
const EXIT_BOUND_MS = 6000;
const BATCH_TIMEOUT_MS = 30000;

// ---- Inside the Worker. ----

// The Worker's whole program: the Worker is created with the source of
// this function as eval code, so it must not use anything from the module
// around it. spec says what to build and how the Worker ends.
function workerMain(root) {
  const { parentPort, workerData: spec } = require('node:worker_threads');
  const { Pool } = require(root);
  const swallow = () => {};
  const opts = { threads: spec.threads };
  if (spec.arenaBytes) opts.arenaBytes = spec.arenaBytes;

  // The endings that happen inside the Worker.
  function end() {
    if (spec.ending === 'exit') process.exit(spec.code);
    if (spec.ending === 'throw') {
      throw new Error(`adversarial throw ${spec.id}`);
    }
  }
  // Ends the Worker as spec says, from where it is now; 'terminate' only
  // tells the parent, which terminates it.
  function later() {
    if (spec.ending === 'terminate') parentPort.postMessage('go');
    else if (spec.ending === 'fall') parentPort.postMessage('go');
    else if (spec.when === 'sync') end();
    else if (spec.when === 'microtask') queueMicrotask(end);
    else if (spec.when === 'immediate') setImmediate(end);
    else setTimeout(end, spec.delay);
  }
  // A Worker that is terminated from outside stays alive until then.
  if (spec.ending === 'terminate') setInterval(swallow, 1000);
  if (spec.extraPool) {
    const other = new Pool({ threads: 1, arenaBytes: 1 << 20 });
    other.run('fib', [12]).catch(swallow);
  }

  switch (spec.state) {
    case 'constructing': {
      if (spec.variant === 'getter') {
        // Ends inside the options getter of a second pool, while the
        // first one's threads are starting.
        new Pool(opts).run('noop').catch(swallow);
        const tricky = { ...opts };
        Object.defineProperty(tricky, 'threads', {
          enumerable: true,
          get() { end(); return spec.threads; },
        });
        try {
          new Pool(tricky);
        } catch {
          // Our own throw, or Penny refusing the getter: end() decides.
        }
        end(); // a Penny that never called the getter ends here
      } else if (spec.ending === 'terminate') {
        // The parent terminates on 'online' or after a few ms: somewhere
        // in these constructors.
        for (let i = 0; i < 4; i++) new Pool(opts).run('noop').catch(swallow);
      } else {
        new Pool(opts);
        end(); // right after the constructor: its threads are starting
      }
      break;
    }
    case 'busy-noop': {
      const pool = new Pool(opts);
      for (let i = 0; i < 1000; i++) pool.run('noop').catch(swallow);
      const x = pool.alloc(Float64Array, 1000).fill(1);
      for (let i = 0; i < 20; i++) pool.run('sum', [x]).catch(swallow);
      // A copied argument, and a view over another SharedArrayBuffer.
      pool.run('fill', [new Float64Array(4096), 2]).catch(swallow);
      const shared = new Float64Array(new SharedArrayBuffer(8 * 512));
      pool.run('fill', [shared, 3]).catch(swallow);
      pool.run('fib', [18]).catch(swallow);
      later();
      break;
    }
    case 'busy-spin': {
      const pool = new Pool(opts);
      // 10 s spins: the Worker's end must cancel them, not wait.
      for (let i = 0; i <= spec.threads; i++) {
        pool.run('spin', [1e7]).catch(swallow);
      }
      for (let i = 0; i < 100; i++) pool.run('noop').catch(swallow);
      later();
      break;
    }
    case 'delivering': {
      // Ends from a promise continuation, while the pool hands a batch
      // of completions to JavaScript.
      const pool = new Pool(opts);
      let n = 0;
      for (let i = 0; i < 1000; i++) {
        pool.run('noop').then(() => {
          if (++n === spec.nth) {
            if (spec.ending === 'throw' && spec.when === 'sync') end();
            later();
          }
        }, swallow);
      }
      break;
    }
    case 'closing': {
      const pool = new Pool(opts);
      for (let i = 0; i < 200; i++) pool.run('noop').catch(swallow);
      for (let i = 0; i < spec.threads; i++) {
        pool.run('spin', [5e4]).catch(swallow);
      }
      pool.close().then(swallow, swallow);
      later();
      break;
    }
    case 'idle': {
      const pool = new Pool(opts);
      const x = pool.alloc(Float64Array, 100).fill(2);
      Promise.all([pool.run('sum', [x]), pool.run('fib', [12])])
        .then(() => (spec.variant === 'closed' ? pool.close() : undefined))
        .then(later, swallow);
      break;
    }
    case 'nested': {
      // A Worker of this Worker owns a busy pool when this one ends.
      const { Worker } = require('node:worker_threads');
      const inner = new Worker(`
        const { parentPort } = require('node:worker_threads');
        const pool = new (require(${JSON.stringify(root)}).Pool)(
          { threads: 2, arenaBytes: 1 << 20 });
        for (let i = 0; i < 3; i++) pool.run('spin', [1e7]).catch(() => {});
        for (let i = 0; i < 500; i++) pool.run('noop').catch(() => {});
        parentPort.postMessage('go');`, { eval: true });
      inner.once('message', later);
      break;
    }
    default:
      throw new Error(`unknown state ${spec.state}`);
  }
}

const WORKER_SOURCE = `(${workerMain.toString()})(${JSON.stringify(ROOT)});`;

// ---- A batch: one child process that owns the Workers. ----

// Starts one Worker and checks how it ends.
async function oneWorker(s, spec) {
  const what = `worker ${spec.id} ${spec.state}/${spec.ending}` +
    `${spec.variant ? `/${spec.variant}` : ''}` +
    `${spec.when ? `/${spec.when}` : ''} (threads ${spec.threads}, delay ${
      spec.delay})`;
  const t0 = Date.now();
  const w = new Worker(WORKER_SOURCE, { eval: true, workerData: spec });
  const watch = watchWorker(s, w, spec, what,
    { boundMs: EXIT_BOUND_MS, timeTerminate: true });
  if (spec.ending === 'terminate') {
    if (spec.state === 'constructing') {
      if (spec.variant === 'online') w.once('online', watch.terminate);
      else setTimeout(watch.terminate, spec.delay);
    } else {
      w.once('message', () => {
        if (spec.delay < 0) watch.terminate();
        else setTimeout(watch.terminate, spec.delay);
      });
    }
  }

  // Wait for the exit: from the ending when the parent ends it, from the
  // start otherwise (the Worker's own work is short).
  if (!(await watch.judge())) return false;
  s.info.slowestExitMs = Math.max(s.info.slowestExitMs || 0,
    Date.now() - t0);
  return true;
}

async function runBatch(s, batch) {
  s.phase = `batch ${batch.name}`;
  let mainPool = null;
  const base = pennyThreads();
  if (batch.mainPool) {
    mainPool = new (penny().Pool)({ threads: 1, arenaBytes: MiB });
  }
  const queue = batch.workers.slice();
  let stuck = false;
  const lanes = [];
  for (let lane = 0; lane < batch.concurrency; lane++) {
    lanes.push((async () => {
      while (queue.length > 0 && !stuck) {
        if (!(await oneWorker(s, queue.shift()))) stuck = true;
      }
    })());
  }
  await Promise.all(lanes);
  if (mainPool !== null) {
    const r = await within(mainPool.run('fib', [15]), 5000);
    s.check(r.status === 'resolved' && r.value === 610,
      () => `${batch.name}: the main thread's pool answered fib(15) with ${
        r.status} ${show(r.value)}`);
    await within(mainPool.close(), 5000);
  }
  if (base !== null && !stuck) {
    const left = await waitPennyThreads(base, 5000);
    s.check(left === base, `${batch.name}: ${left - base} penny-w* ` +
      'threads left after every Worker exited');
  }
  s.info.workers = batch.workers.length;
}

// ---- The scenario: plans the batches and runs each in a child. ----

// Every way a Worker ends, per state of its pool: [ending, variants/whens].
const PLAN = {
  constructing: [
    ['terminate', { variant: ['online', 'delay'] }],
    ['exit', { variant: ['sync', 'getter'] }],
    ['throw', { variant: ['sync', 'getter'] }],
  ],
  'busy-noop': [
    ['terminate', {}],
    ['exit', { when: ['sync', 'microtask', 'immediate', 'timeout'] }],
    ['throw', { when: ['sync', 'microtask', 'immediate', 'timeout'] }],
    ['fall', {}],
  ],
  'busy-spin': [
    ['terminate', {}],
    ['exit', { when: ['sync', 'immediate', 'timeout'] }],
    ['throw', { when: ['sync', 'immediate', 'timeout'] }],
  ],
  delivering: [
    ['terminate', {}],
    ['exit', { when: ['sync', 'microtask'] }],
    ['throw', { when: ['sync', 'microtask'] }],
  ],
  closing: [
    ['terminate', {}],
    ['exit', { when: ['sync', 'microtask', 'timeout'] }],
    ['throw', { when: ['sync', 'microtask', 'timeout'] }],
  ],
  nested: [
    ['terminate', {}],
    ['exit', { when: ['sync', 'immediate'] }],
    ['throw', { when: ['sync', 'immediate'] }],
  ],
  idle: [
    ['terminate', { variant: ['open', 'closed'] }],
    ['exit', { variant: ['open', 'closed'], when: ['sync', 'timeout'] }],
    ['throw', { variant: ['open', 'closed'], when: ['sync', 'timeout'] }],
    ['fall', { variant: ['open', 'closed'] }],
  ],
};

function planBatches(s) {
  const perBatch = s.scaled(10, 3);
  const batches = [];
  let id = 0;
  for (const [state, endings] of Object.entries(PLAN)) {
    for (const [ending, choices] of endings) {
      const workers = [];
      for (let i = 0; i < perBatch; i++) {
        const spec = {
          id: id++, state, ending,
          threads: s.int(1, 4),
          // Half of them with the default 64 MiB arena, as users write it.
          arenaBytes: s.chance(0.5) ? 0 : s.pick([MiB, 4 * MiB]),
          // -1: at once, on the Worker's message; else 0-5 ms later.
          delay: s.chance(0.4) ? -1 : s.int(0, 6),
          code: s.int(2, 100),
          nth: s.int(1, 1000),
          extraPool: s.chance(0.2),
        };
        if (choices.variant) spec.variant = s.pick(choices.variant);
        if (choices.when) spec.when = s.pick(choices.when);
        // Only a terminate on a message can be "at once".
        if (spec.delay < 0 && (state === 'constructing' ||
            ending !== 'terminate')) {
          spec.delay = s.int(0, 6);
        }
        workers.push(spec);
      }
      if (state === 'busy-noop' && ending === 'terminate') {
        // The report's reproduction, exactly: terminate on the message
        // that follows 1000 noops on a default pool of 2 threads.
        Object.assign(workers[0], { threads: 2, arenaBytes: 0, delay: -1,
          extraPool: false });
      }
      batches.push({
        name: `${state}/${ending}`, workers,
        concurrency: s.int(2, 4), mainPool: s.chance(0.3),
      });
    }
  }
  return batches;
}

async function parent(s) {
  const batches = planBatches(s);
  let workers = 0;
  await runBatches(s, __filename, batches, {
    timeoutMs: BATCH_TIMEOUT_MS, inFlight: 'terminating ',
    merge: (json) => {
      workers += json.info.workers || 0;
      s.info.slowestExitMs = Math.max(s.info.slowestExitMs || 0,
        json.info.slowestExitMs || 0);
    },
  });
  s.info.workersCompleted = workers;
}

const payload = childPayload();
main(payload === null ? parent : (s) => runBatch(s, payload));
