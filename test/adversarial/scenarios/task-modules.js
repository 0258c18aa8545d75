'use strict';

// task-modules: hostile task modules (new Pool({ tasks })): a CommonJS or
// ES module exporting a function named `then` (an ES module's namespace is
// then a thenable, which a plain import() awaits for ever; both must load
// and run `then` as a task), an export whose
// getter throws, module.exports a Proxy whose traps throw, a top-level
// await that never settles or that rejects, process.exit while loading, a
// load failure that is `undefined` or a revoked Proxy, threads that die a
// few ms after loading, a load that blocks its thread for 300 ms (and
// terminate() in the middle of it), module.exports a function, a number
// or null, exports named __proto__, constructor, hasOwnProperty, toString
// and valueOf among 5000 others, and the suite's own task module as an ES
// module by file: URL.
//
// Why: README "Your own JavaScript": a module that fails to load (it
// throws or rejects, or its exports cannot be read) rejects every run by
// name with ERR_PENNY_TASK, while kernels still run by index; a module
// whose threads die while loading it (process.exit at load, a top-level
// await that never settles so the thread's loop ends) breaks the pool:
// every pending and later run, kernels by index included, rejects with
// ERR_PENNY_TASK, and close() completes. A name the module does not export
// runs the kernel of that name, or rejects with ERR_PENNY_RANGE;
// module.exports = fn is the name 'default', null or a number exports
// nothing; a CommonJS module may export `then`; a thread that dies is
// replaced, never in a busy loop. DESIGN.md §4: every promise settles
// exactly once; nothing may crash the process or hang.
//
// Checks, per module (a pool of 1 or 2 threads): each run -- a task by
// name, 'default', a kernel by name and by index, a name nobody exports,
// and the odd names -- settles exactly once within a bound, with the
// value the module gives or the rejection its case calls for (a load
// failure says why); close() resolves; terminate() during a slow load
// rejects the waiting runs with ERR_PENNY_CLOSED and resolves; the event
// loop is never blocked.

const path = require('node:path');
const { pathToFileURL } = require('node:url');
const {
  main, penny, Tracker, Heartbeat, within, isPennyError, show,
} = require('../lib');

const DIR = path.join(__dirname, '..', 'fixtures', 'modules');
const MiB = 1 << 20;

// ---- What each module gives. ----

const value = (want) => (r) => (r.status === 'resolved' &&
  Object.is(r.value, want) ? null
  : `${r.status} with ${show(r.value)}, expected ${show(want)}`);
const code = (c) => (r) => (r.status === 'rejected' &&
  isPennyError(r.value, [c]) ? null
  : `${r.status} with ${show(r.value)}, expected ${c}`);
const either = (...judges) => (r) => {
  const whys = judges.map((j) => j(r));
  return whys.includes(null) ? null : whys.join(' / ');
};
const loadFail = code('ERR_PENNY_TASK');
const loadFailSaying = (re) => (r) => loadFail(r) ?? (re.test(
  r.value.message) ? null : `its message does not say why: ${
  r.value.message.slice(0, 120)}`);

// loads: true (the module loads), false (it fails to load, its threads
// live: every run by name rejects, a kernel by index runs) or 'broken' (its
// threads die loading it: every run rejects, by index too). why: what the
// load failure's message says. extra: more [name, args, judge].
const MODULES = [
  { file: 'then-export.js', loads: true,
    extra: [['then', [1, 2], value('then 1 2')]] },
  { file: 'then-export.mjs', loads: true,
    extra: [['then', [1, 2], value('then 1 2')]] },
  { file: 'getter-throws.js', loads: false,
    why: /adversarial export getter/ },
  { file: 'proxy-exports.js', loads: false, why: /adversarial ownKeys trap/ },
  { file: 'never-loads.mjs', loads: 'broken', why: /exited with code 0/ },
  { file: 'rejects-at-load.mjs', loads: false,
    why: /adversarial load rejection/ },
  { file: 'exits-at-load.js', loads: 'broken', why: /exited with code 0/ },
  { file: 'throws-undefined-at-load.js', loads: false, why: /undefined/ },
  { file: 'throws-revoked-at-load.js', loads: false, why: /failed to load/ },
  // Its threads die after loading it: 'add' may meet a dying thread.
  { file: 'dies-soon.js', loads: true, add: either(value(3), loadFail) },
  { file: 'slow-load.js', loads: true },
  // No export 'add': the kernel 'add' (three arguments) refuses two.
  { file: 'fn-export.js', loads: true, add: code('ERR_PENNY_ARG'),
    default: value(12) },
  { file: 'primitive-export.js', loads: true, add: code('ERR_PENNY_ARG') },
  { file: 'null-export.js', loads: true, add: code('ERR_PENNY_ARG') },
  { file: 'odd-names.js', loads: true,
    extra: [
      ['__proto__', [1, 2], value('__proto__ 3')],
      ['constructor', [1, 2], value('constructor 3')],
      ['hasOwnProperty', [1, 2], value('hasOwnProperty 3')],
      ['toString', [1, 2], value('toString 3')],
      ['valueOf', [1, 2], value('valueOf 3')],
      ['f4999', [], value(4999)],
      ['f0', [], value(0)],
    ] },
  { file: pathToFileURL(path.join(__dirname, '..', 'fixtures',
    'tasks.mjs')).href, loads: true },
];

// The runs for one module and their judges.
function runsFor(m, pool) {
  const failed = m.why ? loadFailSaying(m.why) : loadFail;
  const loaded = {
    add: m.add ?? value(3),
    default: m.default ?? code('ERR_PENNY_RANGE'),
    fib: value(55),
    nope: code('ERR_PENNY_RANGE'),
    byIndex: value(55),
  };
  const pick = (key) => (m.loads === true ? loaded[key]
    : key === 'byIndex' && m.loads === false ? loaded[key] : failed);
  const runs = [
    ['add', [1, 2], pick('add')],
    ['default', [3, 4], pick('default')],
    ['fib', [10], pick('fib')],
    ['nope', [], pick('nope')],
    [pool.kernels.fib.index, [10], pick('byIndex')],
  ];
  for (const [name, args, judge] of m.extra ?? []) {
    runs.push([name, args, m.loads === true ? judge : failed]);
  }
  return runs;
}

async function oneModule(s, m, heart) {
  const { Pool } = penny();
  const spec = m.file.startsWith('file:') ? m.file : path.join(DIR, m.file);
  const what = path.basename(m.file);
  s.phase = `module ${what}`;
  heart.reset();
  const pool = new Pool({ threads: s.int(1, 3), tasks: spec,
    arenaBytes: MiB });
  const tracker = new Tracker(s);
  // Twice: right after new Pool (the runs wait for the names), then once
  // the first round settled.
  for (const round of ['fresh', 'warm']) {
    for (const [name, args, judge] of runsFor(m, pool)) {
      tracker.add(pool.run(name, args), `${what} ${round}: ${String(name)}`,
        judge);
    }
    await tracker.wait({ stallMs: 6000, capMs: 10000 });
    tracker.judge('', `(${what}, ${round})`);
  }
  const cl = await within(pool.close(), 5000);
  s.check(cl.status === 'resolved', () => `${what}: close() ${cl.status}`);
  if (cl.status !== 'resolved') await within(pool.terminate(), 5000);
  heart.check(s, what);
}

// terminate() while every thread is stuck loading the module.
async function terminateWhileLoading(s, heart) {
  const { Pool } = penny();
  s.phase = 'terminate during a slow load';
  heart.reset();
  const pool = new Pool({ threads: 2, tasks: path.join(DIR, 'slow-load.js'),
    arenaBytes: MiB });
  const tracker = new Tracker(s);
  for (let i = 0; i < 20; i++) {
    tracker.add(pool.run('add', [i, 1]), `slow load: add ${i}`,
      code('ERR_PENNY_CLOSED'));
  }
  await new Promise((res) => setTimeout(res, s.int(20, 150)));
  const t0 = Date.now();
  const t = await within(pool.terminate(), 5000);
  s.check(t.status === 'resolved', `terminate() during a slow load: ${
    t.status}`);
  s.info.terminateDuringLoadMs = Date.now() - t0;
  await tracker.wait({ stallMs: 2000, capMs: 5000 });
  tracker.judge('', '(terminate during a slow load)');
  heart.check(s, 'terminate during a slow load');
}

async function body(s) {
  const heart = new Heartbeat();
  for (const m of s.shuffle(MODULES.slice())) {
    if (s.overBudget(0.6)) {
      s.info.skipped = (s.info.skipped || 0) + 1;
      continue;
    }
    await oneModule(s, m, heart);
  }
  await terminateWhileLoading(s, heart);
  heart.stop();
  s.info.modules = MODULES.length;
}

main(body);
