'use strict';

// process-exit: small child processes end in every state of a pool --
// constructing, busy (a noop burst in flight, long spins running),
// delivering results (the ending comes from a promise continuation),
// closing, idle, inside run() (from a getter on an argument), inside an
// abort listener, and with the main thread ending while a Worker's pool is
// busy -- by process.exit(code), by an uncaught exception, by an unhandled
// rejection of a Penny promise, or by falling off the end of the script
// (with process.exitCode set).
//
// Why: DESIGN.md §3 and §4 make process exit a normal path: a Node-API call
// that fails because the environment is going away is never fatal, every
// promise settles, a pending task keeps the process alive until it settles
// and an idle pool never does. At exit, running kernels see cancellation,
// so a 10 s spin must not hold an exiting process.
//
// Checks, per child: it ends by itself within a bound, with the exit code
// it asked for (never 134 or a signal), without FATAL ERROR or a sanitizer
// report on stderr; a child that falls off its end settled every task
// first (with the right values) and saw its close() resolve.

const { Worker } = require('node:worker_threads');
const {
  ROOT, MiB, main, childPayload, runExitChildren, penny,
} = require('../lib');

const CHILD_TIMEOUT_MS = 10000;
// From start to exit; a child that waits for 10 s spins takes longer.
const EXIT_BOUND_MS = 7000;

// ---- The child. ----

// A Worker whose pool is busy when the main thread ends.
const BUSY_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const pool = new (require(${JSON.stringify(ROOT)}).Pool)(
  { threads: workerData.threads, arenaBytes: 1 << 20 });
for (let i = 0; i <= workerData.threads; i++) {
  pool.run('spin', [1e7]).catch(() => {});
}
for (let i = 0; i < 1000; i++) pool.run('noop').catch(() => {});
parentPort.postMessage('go');
`;

function child(spec) {
  const { Pool } = penny();
  const opts = { threads: spec.threads, arenaBytes: spec.arenaBytes };
  const report = { exitReport: true, settled: 0, total: 0, wrong: 0,
    closeCalled: false, closeResolved: false };
  process.on('exit', (code) => {
    process.stdout.write(`${JSON.stringify({ ...report, code })}\n`);
  });
  const track = (promise, expected) => {
    report.total++;
    promise.then((v) => {
      report.settled++;
      if (!Object.is(v, expected)) report.wrong++;
    }, () => {
      report.settled++;
      report.wrong++;
    });
  };
  let pool = null;

  function end() {
    switch (spec.ending) {
      case 'exit':
        process.exit(spec.code);
        break;
      case 'throw':
        throw new Error(`adversarial-throw-${spec.id}`);
      case 'reject': {
        // An unhandled rejection of a Penny promise: exit code 1.
        const reason = new Error(`adversarial-reject-${spec.id}`);
        (pool !== null && !pool.closed ? pool
          : new Pool({ threads: 1, arenaBytes: MiB }))
          .run('noop', [], { signal: AbortSignal.abort(reason) });
        break;
      }
      case 'fall':
        process.exitCode = spec.code;
        break;
      default:
        throw new Error(`unknown ending ${spec.ending}`);
    }
  }
  function later() {
    if (spec.when === 'sync') end();
    else if (spec.when === 'microtask') queueMicrotask(end);
    else if (spec.when === 'immediate') setImmediate(end);
    else setTimeout(end, spec.delay);
  }

  switch (spec.state) {
    case 'constructing':
      pool = new Pool(opts);
      if (spec.variant === 'getter') {
        // Ends inside the options getter of a second pool.
        const tricky = { ...opts };
        Object.defineProperty(tricky, 'arenaBytes', {
          enumerable: true,
          get() { end(); return MiB; },
        });
        try {
          new Pool(tricky).run('noop').catch(() => {});
        } catch {
          // Our own throw, or Penny refusing the getter: end() decides.
        }
      }
      end();
      break;
    case 'busy-noop': {
      pool = new Pool(opts);
      for (let i = 0; i < 1000; i++) track(pool.run('noop'), undefined);
      const x = pool.alloc(Float64Array, 1000).fill(1);
      for (let i = 0; i < 20; i++) track(pool.run('sum', [x]), 1000);
      track(pool.run('fill', [new Float64Array(4096), 2]), undefined);
      track(pool.run('fib', [20]), 6765);
      later();
      break;
    }
    case 'busy-spin': {
      pool = new Pool(opts);
      // A process that falls off its end waits for its spins; any other
      // ending must cancel them.
      const micros = spec.ending === 'fall' ? 2e5 : 1e7;
      for (let i = 0; i <= spec.threads; i++) {
        track(pool.run('spin', [micros]), undefined);
      }
      for (let i = 0; i < 100; i++) track(pool.run('noop'), undefined);
      later();
      break;
    }
    case 'delivering': {
      pool = new Pool(opts);
      let n = 0;
      for (let i = 0; i < 1000; i++) {
        const p = pool.run('noop');
        track(p, undefined);
        p.then(() => {
          if (++n === spec.nth) later();
        }, () => {});
      }
      break;
    }
    case 'closing': {
      pool = new Pool(opts);
      for (let i = 0; i < 300; i++) track(pool.run('noop'), undefined);
      for (let i = 0; i < spec.threads; i++) {
        track(pool.run('spin', [3e4]), undefined);
      }
      report.closeCalled = true;
      pool.close().then(() => { report.closeResolved = true; });
      later();
      break;
    }
    case 'idle': {
      pool = new Pool(opts);
      const x = pool.alloc(Int32Array, 100).fill(3);
      const work = [pool.run('sum', [x]), pool.run('fib', [15])];
      track(work[0], 300);
      track(work[1], 610);
      Promise.all(work).then(() => {
        if (spec.variant !== 'closed') return undefined;
        report.closeCalled = true;
        return pool.close().then(() => { report.closeResolved = true; });
      }).then(later);
      break;
    }
    case 'in-run': {
      // Ends from a getter on an argument, while run() reads it.
      pool = new Pool(opts);
      for (let i = 0; i < 500; i++) track(pool.run('noop'), undefined);
      const x = pool.alloc(Float64Array, 10).fill(1);
      const args = [];
      Object.defineProperty(args, 0, {
        enumerable: true, get() { end(); return x; },
      });
      // A throw from the getter rejects the run (how is Penny's business);
      // the script then dies of its own error, unhandled.
      pool.run('sum', args).catch(() => {
        if (spec.ending === 'throw') {
          throw new Error(`adversarial-throw-${spec.id}`);
        }
      });
      break;
    }
    case 'abort-listener': {
      // Ends from an abort listener that runs before Penny's own.
      pool = new Pool(opts);
      const ctrl = new AbortController();
      ctrl.signal.addEventListener('abort', end);
      for (let i = 0; i < 200; i++) {
        pool.run('spin', [1e3], { signal: ctrl.signal }).catch(() => {});
      }
      for (let i = 0; i < 200; i++) track(pool.run('noop'), undefined);
      setTimeout(() => ctrl.abort(), spec.delay);
      break;
    }
    case 'worker-busy': {
      pool = new Pool(opts);
      track(pool.run('fib', [12]), 144);
      const w = new Worker(BUSY_WORKER, {
        eval: true, workerData: { threads: spec.threads },
      });
      w.on('error', (e) => {
        process.stdout.write(`# worker error ${e && e.message}\n`);
      });
      w.once('message', () => {
        // Falling off the end: the Worker must not keep the process.
        if (spec.ending === 'fall') w.unref();
        later();
      });
      break;
    }
    default:
      throw new Error(`unknown state ${spec.state}`);
  }
}

// ---- The scenario. ----

const STATES = ['constructing', 'busy-noop', 'busy-spin', 'delivering',
  'closing', 'idle', 'in-run', 'abort-listener', 'worker-busy'];
const ENDINGS = ['exit', 'throw', 'reject', 'fall'];
const WHENS = ['sync', 'microtask', 'immediate', 'timeout'];

function plan(s) {
  const specs = [];
  const reps = s.scaled(2, 1);
  let id = 0;
  for (let r = 0; r < reps; r++) {
    for (const state of STATES) {
      for (const ending of ENDINGS) {
        specs.push({
          id: id++, state, ending,
          code: ending === 'throw' || ending === 'reject' ? 1 : s.int(0, 100),
          threads: s.int(1, 4),
          arenaBytes: s.pick([MiB, 4 * MiB, 64 * MiB]),
          when: s.pick(WHENS),
          delay: s.int(0, 6),
          nth: s.int(1, 1000),
          variant: s.pick(state === 'constructing' ? ['sync', 'getter']
            : ['open', 'closed']),
        });
      }
    }
  }
  return s.shuffle(specs);
}

async function parent(s) {
  await runExitChildren(s, __filename, plan(s), {
    timeoutMs: CHILD_TIMEOUT_MS, boundMs: EXIT_BOUND_MS,
    tagged: ['throw', 'reject'],
    describe: (spec) => `${spec.state}/${spec.ending} (when ${
      spec.when}, variant ${spec.variant}, threads ${spec.threads}, id ${
      spec.id})`,
    reportProblems: (rep, spec) => {
      const problems = [];
      if (spec.ending !== 'fall') return problems;
      if (rep.wrong > 0) problems.push(`${rep.wrong} tasks had wrong results`);
      if (rep.closeCalled && !rep.closeResolved) {
        problems.push('fell off its end before close() resolved');
      }
      return problems;
    },
  });
}

const payload = childPayload();
if (payload === null) main(parent);
else child(payload);
