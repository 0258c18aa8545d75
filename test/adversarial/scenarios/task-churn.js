'use strict';

// task-churn: Workers (node:worker_threads) that own a task pool (new
// Pool({ tasks }), whose own threads are Workers too) end at random
// moments in every state of that pool -- right after `new Pool` (its
// threads starting), while runs wait for the module's names, busy (a
// burst of JS tasks and kernels, endless loops, async tasks awaiting
// timers), while it delivers a batch of results, while a task's thread
// dies and is replaced, while it closes, while it terminates, idle and
// closed, and while a Worker of its own owns a busy task pool -- by
// worker.terminate() from outside, by process.exit() inside the Worker, by
// an uncaught throw inside it, or by running out of work (with its pool
// closed, terminated, or idle and left open).
//
// Why: README "Lifetime" and "Your own JavaScript": a Worker may be
// terminated, call process.exit() or die of an uncaught exception at any
// moment, even in the middle of `new Pool()` or while its pool delivers
// results: the process goes on; a task pool's threads are stopped with
// the Worker that owns it, even one in an endless loop. DESIGN.md §3:
// teardown is a normal path, never fatal.
//
// Checks, per Worker: it emits 'exit' within a bound with the expected
// code and no unexpected 'error'; one that runs out of work settled every
// task first, each with its value. Per batch (a child process that owns
// the Workers): the process survives (no signal, exit 0, nothing on
// stderr that looks like a crash), and afterwards a task pool of its main
// thread runs JS tasks and kernels and closes, and the process's thread
// count comes back near where it started (no task-pool thread left
// behind).


const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { Worker } = require('node:worker_threads');
const {
  ROOT, main, childPayload, runBatches, watchWorker, within, penny, show,
  sleep,
} = require('../lib');

const TASKS = path.join(__dirname, '..', 'fixtures', 'tasks.js');
const TASKS_ESM = pathToFileURL(path.join(__dirname, '..', 'fixtures',
  'tasks.mjs')).href;
const EXIT_BOUND_MS = 8000;
const BATCH_TIMEOUT_MS = 40000;

// ---- Inside the Worker. ----

// The Worker's whole program, run from its source as eval code: it must
// not use anything from the module around it.
function workerMain(root, cjs, esm) {
  const { parentPort, workerData: spec } = require('node:worker_threads');
  const { Pool } = require(root);
  const swallow = () => {};
  const opts = { threads: spec.threads, tasks: spec.esm ? esm : cjs };
  if (spec.arenaBytes) opts.arenaBytes = spec.arenaBytes;
  // What the tracked tasks did, where the parent reads it after the exit:
  // [total, settled, wrong].
  const report = new Int32Array(spec.report);
  const track = (p, want) => {
    Atomics.add(report, 0, 1);
    p.then((v) => {
      Atomics.add(report, 1, 1);
      if (!Object.is(v, want)) Atomics.add(report, 2, 1);
    }, () => {
      Atomics.add(report, 1, 1);
      Atomics.add(report, 2, 1);
    });
  };

  function end() {
    if (spec.ending === 'exit') process.exit(spec.code);
    if (spec.ending === 'throw') {
      throw new Error(`adversarial throw ${spec.id}`);
    }
    // 'fall': nothing; the Worker ends once its work is done.
  }
  // Ends the Worker as spec says, from where it is now; 'terminate' only
  // tells the parent, which terminates it.
  function later() {
    if (spec.ending === 'terminate') parentPort.postMessage('go');
    else if (spec.when === 'sync') end();
    else if (spec.when === 'microtask') queueMicrotask(end);
    else if (spec.when === 'immediate') setImmediate(end);
    else setTimeout(end, spec.delay);
  }
  // A Worker that is terminated from outside stays alive until then.
  if (spec.ending === 'terminate') setInterval(swallow, 1000);
  const burst = (pool, n, tracked) => {
    const x = pool.alloc(Float64Array, 100).fill(1);
    for (let i = 0; i < n; i++) {
      const k = i % 5;
      const p = k === 0 ? pool.run('add', [i, 1])
        : k === 1 ? pool.run('tag', [{ k: i, v: 'w' }])
          : k === 2 ? pool.run('sum', [x])
            : k === 3 ? pool.run('fib', [10]) : pool.run('noop');
      const want = [i + 1, `${i}:w`, 100, 55, undefined][k];
      if (tracked) track(p, want);
      else p.catch(swallow);
    }
  };

  switch (spec.state) {
    case 'constructing': {
      const pool = new Pool(opts);
      if (spec.variant === 'burst') burst(pool, 200, false);
      later();
      break;
    }
    case 'loading': {
      // Runs that wait for the module's names when the Worker ends.
      const pool = new Pool(opts);
      burst(pool, 300, false);
      pool.run('forever').catch(swallow);
      setTimeout(later, spec.wait);
      break;
    }
    case 'busy': {
      const pool = new Pool(opts);
      pool.run('add', [0, 0]).then(() => {
        burst(pool, 500, false);
        for (let i = 0; i < spec.loops; i++) {
          pool.run('forever').catch(swallow);
        }
        pool.run('later', [1, 2000]).catch(swallow);
        pool.run('never').catch(swallow);
        pool.run('huge', [2]).catch(swallow);
        setTimeout(later, spec.delay);
      }, later);
      break;
    }
    case 'delivering': {
      const pool = new Pool(opts);
      let n = 0;
      for (let i = 0; i < 600; i++) {
        pool.run(i % 2 ? 'add' : 'tag', i % 2 ? [i, 1] : [{ k: i, v: 1 }])
          .then(() => {
            if (++n === spec.nth) later();
          }, swallow);
      }
      break;
    }
    case 'dying': {
      // A task kills its thread; the Worker ends while it is replaced.
      const pool = new Pool(opts);
      pool.run('add', [0, 0]).then(() => {
        pool.run(spec.variant === 'timer' ? 'throwLater' : 'exit', [0])
          .then(() => setTimeout(later, spec.delay),
            () => setTimeout(later, spec.delay));
        burst(pool, 300, false);
      }, later);
      break;
    }
    case 'closing': {
      const pool = new Pool(opts);
      const tracked = spec.ending === 'fall';
      pool.run('add', [0, 0]).then(() => {
        burst(pool, 300, tracked);
        const p = pool.run('later', [3, 20]);
        if (tracked) track(p, 6);
        else p.catch(swallow);
        pool.close().then(swallow, swallow);
        later();
      }, later);
      break;
    }
    case 'terminating': {
      const pool = new Pool(opts);
      pool.run('forever').catch(swallow);
      burst(pool, 200, false);
      setTimeout(() => {
        const t = pool.terminate();
        if (spec.variant === 'awaited') t.then(later, later);
        else later();
      }, spec.wait);
      break;
    }
    case 'idle': {
      const pool = new Pool(opts);
      const tracked = spec.ending === 'fall';
      const runs = [pool.run('add', [20, 22]), pool.run('fib', [12])];
      if (tracked) {
        track(runs[0], 42);
        track(runs[1], 144);
      }
      Promise.all(runs)
        .then(() => (spec.variant === 'closed' ? pool.close() : undefined))
        .then(later, later);
      break;
    }
    case 'nested': {
      // A Worker of this Worker owns a busy task pool when this one ends.
      const { Worker } = require('node:worker_threads');
      const inner = new Worker(`
        const { parentPort } = require('node:worker_threads');
        const pool = new (require(${JSON.stringify(root)}).Pool)(
          { threads: 2, tasks: ${JSON.stringify(cjs)}, arenaBytes: 1 << 20 });
        pool.run('forever').catch(() => {});
        for (let i = 0; i < 300; i++) pool.run('add', [i, 1]).catch(() => {});
        setTimeout(() => parentPort.postMessage('go'), ${spec.wait});`,
      { eval: true });
      inner.on('error', swallow);
      inner.once('message', later);
      break;
    }
    default:
      throw new Error(`unknown state ${spec.state}`);
  }
}

const WORKER_SOURCE = `(${workerMain.toString()})(${JSON.stringify(ROOT)}, ${
  JSON.stringify(TASKS)}, ${JSON.stringify(TASKS_ESM)});`;

// ---- A batch: one child process that owns the Workers. ----

// Threads of this process (Linux), or null.
function threadCount() {
  try {
    return fs.readdirSync('/proc/self/task').length;
  } catch {
    return null;
  }
}

async function oneWorker(s, spec) {
  const what = `worker ${spec.id} ${spec.state}/${spec.ending}` +
    `${spec.variant ? `/${spec.variant}` : ''}` +
    `${spec.when ? `/${spec.when}` : ''} (threads ${spec.threads}, delay ${
      spec.delay}, wait ${spec.wait})`;
  const report = new Int32Array(new SharedArrayBuffer(12));
  const w = new Worker(WORKER_SOURCE, { eval: true,
    workerData: { ...spec, report: report.buffer } });
  const watch = watchWorker(s, w, spec, what, { boundMs: EXIT_BOUND_MS });
  if (spec.ending === 'terminate') {
    if (spec.state === 'constructing' && spec.variant === 'online') {
      w.once('online', watch.terminate);
    } else {
      w.once('message', () => {
        if (spec.delay < 0) watch.terminate();
        else setTimeout(watch.terminate, spec.delay);
      });
    }
  }

  const t0 = Date.now();
  if (!(await watch.judge())) return false;
  if (spec.ending === 'fall') {
    const [total, settled, wrong] = report;
    s.check(settled === total && wrong === 0, () => `${what}: fell off ` +
      `its end with ${total - settled} of ${total} tasks unsettled, ${
        wrong} wrong`);
  }
  s.info.slowestExitMs = Math.max(s.info.slowestExitMs || 0,
    Date.now() - t0);
  return true;
}

async function runBatch(s, batch) {
  s.phase = `batch ${batch.name}`;
  // The thread count to come back to: once Node's own threads (libuv's
  // pool, which module loading starts) are up.
  await require('node:fs/promises').readFile(__filename);
  const base = threadCount();
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

  // The main thread's own task pool, after all that.
  s.phase = `batch ${batch.name}: the main thread's pool`;
  const pool = new (penny().Pool)({ threads: 2, tasks: TASKS,
    arenaBytes: 1 << 20 });
  const out = await within(Promise.all([pool.run('add', [40, 2]),
    pool.run('tag', [{ k: 'm', v: 1 }]), pool.run('fib', [15])]), 10000);
  s.check(out.status === 'resolved' && out.value[0] === 42 &&
    out.value[1] === 'm:1' && out.value[2] === 610, () => `${batch.name}: ` +
    `the main thread's task pool ${out.status} with ${show(out.value)}`);
  const cl = await within(pool.close(), 5000);
  s.check(cl.status === 'resolved', `${batch.name}: the main thread's ` +
    `task pool's close() ${cl.status}`);

  // Every thread a Worker's pool started is gone (a margin for Node's
  // own threads, which come and go).
  if (base !== null && !stuck) {
    let now = threadCount();
    for (let i = 0; i < 50 && now > base + 2; i++) {
      await sleep(100);
      now = threadCount();
    }
    s.check(now <= base + 2, `${batch.name}: ${now - base} threads more ` +
      'than before the Workers (task-pool threads left behind?)');
    s.info.threadsAfter = now - base;
  }
  s.info.workers = batch.workers.length;
}

// ---- The scenario: plans the batches and runs each in a child. ----

// Every way a Worker ends, per state of its pool: [ending, choices].
const PLAN = {
  constructing: [
    ['terminate', { variant: ['online', 'message', 'burst'] }],
    ['exit', { variant: ['plain', 'burst'], when: ['sync', 'immediate'] }],
    ['throw', { variant: ['plain', 'burst'], when: ['sync', 'microtask'] }],
  ],
  loading: [['terminate', {}], ['exit', { when: ['sync', 'microtask'] }],
    ['throw', { when: ['sync', 'timeout'] }]],
  busy: [['terminate', {}], ['exit', { when: ['sync', 'timeout'] }],
    ['throw', { when: ['sync', 'immediate'] }]],
  delivering: [['terminate', {}], ['exit', { when: ['sync', 'microtask'] }],
    ['throw', { when: ['sync', 'microtask'] }]],
  dying: [['terminate', { variant: ['exit', 'timer'] }],
    ['exit', { variant: ['exit', 'timer'], when: ['sync', 'timeout'] }],
    ['throw', { variant: ['exit', 'timer'], when: ['sync'] }]],
  closing: [['terminate', {}], ['exit', { when: ['sync', 'timeout'] }],
    ['throw', { when: ['sync', 'microtask'] }], ['fall', {}]],
  terminating: [['terminate', { variant: ['awaited', 'not'] }],
    ['exit', { variant: ['awaited', 'not'], when: ['sync', 'immediate'] }],
    ['throw', { variant: ['awaited', 'not'], when: ['sync'] }],
    ['fall', { variant: ['awaited', 'not'] }]],
  idle: [['terminate', { variant: ['open', 'closed'] }],
    ['exit', { variant: ['open', 'closed'], when: ['sync', 'timeout'] }],
    ['throw', { variant: ['open', 'closed'], when: ['sync'] }],
    ['fall', { variant: ['open', 'closed'] }]],
  nested: [['terminate', {}], ['exit', { when: ['sync', 'immediate'] }],
    ['throw', { when: ['sync'] }]],
};

function planBatches(s) {
  const perEnding = s.scaled(2, 1);
  const batches = [];
  let id = 0;
  for (const [state, endings] of Object.entries(PLAN)) {
    const workers = [];
    for (const [ending, choices] of endings) {
      for (let i = 0; i < perEnding; i++) {
        const threads = s.int(1, 4);
        const spec = {
          id: id++, state, ending, threads,
          arenaBytes: s.chance(0.5) ? 0 : 1 << 20,
          esm: s.chance(0.3),
          // -1: at once, on the Worker's message; else 0-30 ms later.
          delay: s.chance(0.3) ? -1 : s.int(0, 30),
          // Before or after the module loaded (about 200 ms).
          wait: s.int(0, 400),
          code: s.chance(0.5) ? 0 : s.int(2, 100),
          nth: s.int(1, 600),
          loops: s.int(1, threads + 1),
        };
        if (choices.variant) spec.variant = s.pick(choices.variant);
        if (choices.when) spec.when = s.pick(choices.when);
        if (spec.delay < 0 && ending !== 'terminate') spec.delay = 0;
        workers.push(spec);
      }
    }
    batches.push({ name: state, workers: s.shuffle(workers),
      concurrency: s.int(2, 4) });
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
      s.info.maxThreadsAfter = Math.max(s.info.maxThreadsAfter || 0,
        json.info.threadsAfter || 0);
    },
  });
  s.info.workersCompleted = workers;
}

const payload = childPayload();
main(payload === null ? parent : (s) => runBatch(s, payload));
