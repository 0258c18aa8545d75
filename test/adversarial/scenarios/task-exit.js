'use strict';

// task-exit: small child processes with a busy task pool (new Pool({
// tasks })) end -- while endless tasks run (a busy loop on some threads,
// promises that never settle, hundreds queued behind them), while the
// pool still loads its module (runs waiting for its names), while async
// tasks await timers on their threads, while a thread that a task killed
// is being replaced, while terminate() or close() is under way, while a
// Worker that owns a busy task pool runs, while a task's thread owns a
// task pool of its own with an endless task, and with two task pools and a
// kernel pool's long spin at once -- by process.exit(code) (0 and others;
// synchronously, from a microtask, an immediate, or a timer), by an
// uncaught exception, or by letting the event loop
// run dry where nothing pending may keep it alive (an idle pool left
// open, terminate() not awaited, close() with finite work, tasks that
// only await promises that never settle, an unref'd Worker).
//
// Why: README "Lifetime" and "Your own JavaScript": at process exit a
// task pool's threads are stopped with it, even one in an endless loop;
// an idle task pool never keeps the process alive; terminate() stops
// endless tasks. DESIGN.md §3: exit is a normal path, never an abort.
//
// Checks, per child: it ends by itself within a bound, with the exit code
// it asked for (never 134 or a signal), with nothing on stderr that looks
// like a crash; a child that falls off its end settled every task it
// tracked first, with the right values or the rejections its state
// allows.


const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { Worker } = require('node:worker_threads');
const {
  ROOT, main, childPayload, runExitChildren, penny,
} = require('../lib');

const TASKS = path.join(__dirname, '..', 'fixtures', 'tasks.js');
// The same tasks as an ES module, by file: URL.
const TASKS_ESM = pathToFileURL(path.join(__dirname, '..', 'fixtures',
  'tasks.mjs')).href;
const CHILD_TIMEOUT_MS = 12000;
const EXIT_BOUND_MS = 8000;
const MiB = 1 << 20;

// A Worker that owns a task pool with endless and queued tasks.
const BUSY_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const pool = new (require(${JSON.stringify(ROOT)}).Pool)(
  { threads: workerData.threads, tasks: ${JSON.stringify(TASKS)},
    arenaBytes: 1 << 20 });
pool.run('forever').catch(() => {});
pool.run('never').catch(() => {});
for (let i = 0; i < 300; i++) pool.run('add', [i, 1]).catch(() => {});
// The loop may hold the only thread: a timer, before or after the module
// loaded.
setTimeout(() => parentPort.postMessage('go'), workerData.wait);
`;

// ---- The child. ----

function child(spec) {
  const { Pool } = penny();
  const report = { exitReport: true, settled: 0, total: 0, wrong: [] };
  process.on('exit', (code) => {
    report.wrong = report.wrong.slice(0, 5);
    process.stdout.write(`${JSON.stringify({ ...report, code })}\n`);
  });
  // Tracks a task: `ok(status, value)` says whether its outcome is right.
  const track = (promise, label, ok) => {
    report.total++;
    promise.then((v) => {
      report.settled++;
      if (!ok('resolved', v)) report.wrong.push(`${label} resolved ${v}`);
    }, (e) => {
      report.settled++;
      if (!ok('rejected', e)) {
        report.wrong.push(`${label} rejected ${e && e.code} ${e && e.message}`);
      }
    });
  };
  const is = (want) => (st, v) => st === 'resolved' && Object.is(v, want);
  const code = (c) => (st, e) => st === 'rejected' && e && e.code === c;
  const newPool = (threads = spec.threads) => new Pool({ threads,
    tasks: spec.esm ? TASKS_ESM : TASKS, arenaBytes: MiB });

  function end() {
    if (spec.ending === 'exit') process.exit(spec.code);
    else if (spec.ending === 'throw') {
      throw new Error(`adversarial-throw-${spec.id}`);
    } else if (spec.ending === 'fall') {
      process.exitCode = spec.code;
    }
  }
  function later() {
    if (spec.when === 'sync') end();
    else if (spec.when === 'microtask') queueMicrotask(end);
    else if (spec.when === 'immediate') setImmediate(end);
    else setTimeout(end, spec.delay);
  }
  const burst = (pool, n, label) => {
    for (let i = 0; i < n; i++) {
      if (i % 2) track(pool.run('add', [i, 1]), `${label} add`, is(i + 1));
      else track(pool.run('tag', [{ k: i, v: 1 }]), `${label} tag`,
        is(`${i}:1`));
    }
  };

  switch (spec.state) {
    case 'endless': {
      const pool = newPool();
      for (let i = 0; i < spec.loops; i++) pool.run('forever').catch(() => {});
      pool.run('never').catch(() => {});
      for (let i = 0; i < 500; i++) pool.run('add', [i, 1]).catch(() => {});
      // The loops may hold every thread: a timer, before or after the
      // module loaded and the loops began.
      setTimeout(later, spec.wait);
      break;
    }
    case 'loading': {
      const pool = newPool();
      pool.run('forever').catch(() => {});
      for (let i = 0; i < 300; i++) pool.run('add', [i, 1]).catch(() => {});
      later();
      break;
    }
    case 'async': {
      const pool = newPool();
      for (let i = 0; i < spec.threads; i++) {
        pool.run('later', [i, 5000]).catch(() => {});
      }
      pool.run('exitLater', [3, 2000]).catch(() => {});
      for (let i = 0; i < 100; i++) pool.run('add', [i, 1]).catch(() => {});
      // Each awaiting task holds its thread: a timer.
      setTimeout(later, spec.wait);
      break;
    }
    case 'dying': {
      const pool = newPool();
      pool.run('add', [0, 0]).then(() => {
        pool.run('exit', [0]).then(() => {}, later);
        pool.run('throwLater', [0]).catch(() => {});
        for (let i = 0; i < 300; i++) pool.run('add', [i, 1]).catch(() => {});
      }, later);
      break;
    }
    case 'terminating': {
      const pool = newPool();
      track(pool.run('forever'), 'forever', code('ERR_PENNY_CLOSED'));
      const anyOf = (want) => (st, v) => is(want)(st, v) ||
        code('ERR_PENNY_CLOSED')(st, v);
      for (let i = 0; i < 200; i++) {
        track(pool.run('add', [i, 1]), 'add', anyOf(i + 1));
      }
      setTimeout(() => {
        pool.terminate(); // not awaited
        later();
      }, spec.wait);
      break;
    }
    case 'closing': {
      const pool = newPool();
      burst(pool, 400, 'closing');
      track(pool.run('later', [4, 30]), 'later', is(8));
      pool.run('add', [0, 0]).then(() => {
        pool.close(); // not awaited
        later();
      }, later);
      break;
    }
    case 'idle': {
      const pool = newPool();
      burst(pool, 200, 'idle');
      track(pool.run('fib', [15]), 'fib', is(610));
      Promise.all([pool.run('add', [1, 1]), pool.run('later', [1, 5])])
        .then(later, later);
      break;
    }
    case 'never': {
      // Tasks that only await promises that never settle: their threads'
      // loops run dry, the threads exit, the tasks reject.
      const pool = newPool();
      for (let i = 0; i < spec.threads; i++) {
        track(pool.run(i % 2 ? 'never' : 'neverAsync'), 'never',
          code('ERR_PENNY_TASK'));
      }
      burst(pool, 100, 'never');
      later();
      break;
    }
    case 'worker-owner': {
      const w = new Worker(BUSY_WORKER, { eval: true,
        workerData: { threads: spec.threads, wait: spec.wait } });
      w.on('error', (e) => {
        process.stdout.write(`# worker error ${e && e.message}\n`);
      });
      w.once('message', () => {
        if (spec.ending === 'fall') w.unref();
        later();
      });
      break;
    }
    case 'nested-pool': {
      // A task whose thread owns a task pool with an endless task.
      const pool = newPool();
      pool.run('innerEndless').catch(() => {});
      for (let i = 0; i < 100; i++) pool.run('add', [i, 1]).catch(() => {});
      setTimeout(later, spec.wait + 200);
      break;
    }
    case 'three-pools': {
      const a = newPool();
      const b = newPool(1);
      const k = new Pool({ threads: 1, arenaBytes: MiB });
      a.run('forever').catch(() => {});
      b.run('neverAsync').catch(() => {});
      k.run('spin', [1e7]).catch(() => {});
      for (let i = 0; i < 200; i++) {
        a.run('add', [i, 1]).catch(() => {});
        b.run('tag', [{ k: i, v: 2 }]).catch(() => {});
      }
      setTimeout(later, spec.wait);
      break;
    }
    default:
      throw new Error(`unknown state ${spec.state}`);
  }
}

// ---- The scenario. ----

// The endings each state allows: falling off the end only where nothing
// pending may keep the process alive.
const PLAN = {
  endless: ['exit', 'throw'],
  loading: ['exit', 'throw'],
  async: ['exit', 'throw'],
  dying: ['exit', 'throw'],
  terminating: ['exit', 'throw', 'fall'],
  closing: ['exit', 'fall'],
  idle: ['exit', 'throw', 'fall'],
  never: ['exit', 'fall'],
  'worker-owner': ['exit', 'throw', 'fall'],
  'nested-pool': ['exit', 'throw'],
  'three-pools': ['exit', 'throw'],
};
const WHENS = ['sync', 'microtask', 'immediate', 'timeout'];

function plan(s) {
  const specs = [];
  let id = 0;
  const reps = s.scaled(1, 1);
  for (let r = 0; r < reps; r++) {
    for (const [state, endings] of Object.entries(PLAN)) {
      for (const ending of endings) {
        specs.push({
          id: id++, state, ending,
          // process.exit(0) half of the time: the brief's case.
          code: ending === 'throw' ? 1 : (s.chance(0.5) ? 0 : s.int(1, 100)),
          threads: s.int(1, 4), loops: 1, esm: s.chance(0.3),
          when: s.pick(WHENS), delay: s.int(0, 20),
          // Before or after the module loaded (about 200 ms).
          wait: s.int(0, 500),
        });
        const last = specs[specs.length - 1];
        last.loops = s.int(1, last.threads + 1);
      }
    }
  }
  return s.shuffle(specs);
}

async function parent(s) {
  await runExitChildren(s, __filename, plan(s), {
    timeoutMs: CHILD_TIMEOUT_MS, boundMs: EXIT_BOUND_MS, tagged: ['throw'],
    describe: (spec) => `${spec.state}/${spec.ending} (when ${
      spec.when}, threads ${spec.threads}, code ${spec.code}, id ${spec.id})`,
    reportProblems: (rep) => (rep.wrong.length > 0
      ? [`wrong outcomes: ${rep.wrong.join('; ')}`] : []),
  });
}

const payload = childPayload();
if (payload === null) main(parent);
else child(payload);
