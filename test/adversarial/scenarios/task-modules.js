'use strict';

// task-modules: hostile task modules (new Pool({ tasks })): a CommonJS or
// ES module exporting a function named `then` (a thenable namespace), an
// export whose getter throws, module.exports a Proxy whose traps throw, a
// top-level await that never settles or that rejects, process.exit while
// loading, a load failure that is `undefined` or a revoked Proxy, threads
// that die a few ms after loading, a load that blocks its thread for
// 300 ms (and terminate() in the middle of it), module.exports a function
// or a number, exports named __proto__, constructor, hasOwnProperty,
// toString and valueOf among 5000 others, and the suite's own task module
// as an ES module by file: URL.
//
// Why: README "Your own JavaScript": a module that fails to load rejects
// every run by name with ERR_PENNY_TASK (kernels still run by index); a
// name the module does not export runs the kernel of that name, or
// rejects with ERR_PENNY_RANGE; module.exports = fn is the name
// 'default'; a thread that dies is replaced, never in a busy loop.
// DESIGN.md §4: every promise settles exactly once; nothing may crash the
// process or hang.
//
// Checks, per module (a pool of 1 or 2 threads): each run -- a task by
// name, 'default', a kernel by name and by index, a name nobody exports,
// and the odd names -- settles exactly once within a bound, with the
// value the module gives or the rejection its case allows; close()
// resolves; terminate() during a slow load rejects the waiting runs with
// ERR_PENNY_CLOSED and resolves; the event loop is never blocked.
//
// Known bugs (pending/task-module-shapes.js; left out here until fixed):
// `module.exports = null` crashes the main thread (TypeError in
// TaskThreads#onMessage); a kernel run by index never settles (and
// close() never resolves) when no thread ever finishes loading the module
// -- so the modules whose threads may never load it get no run by index
// here; a CommonJS module that exports `then` never loads (its cases
// accept either outcome).

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

// loads: true (the module loads), false (it never does: every run by
// name rejects), 'either'. byIndex: whether a kernel by index is run
// (see the known bug in the header). extra: more [name, args, judge].
const MODULES = [
  { file: 'then-export.js', loads: 'either', byIndex: false },
  { file: 'then-export.mjs', loads: 'either', byIndex: false },
  { file: 'getter-throws.js', loads: 'either', byIndex: false },
  { file: 'proxy-exports.js', loads: 'either', byIndex: false },
  { file: 'never-loads.mjs', loads: false, byIndex: false },
  { file: 'rejects-at-load.mjs', loads: false, byIndex: true,
    why: /adversarial load rejection/ },
  { file: 'exits-at-load.js', loads: false, byIndex: false },
  { file: 'throws-undefined-at-load.js', loads: false, byIndex: true },
  { file: 'throws-revoked-at-load.js', loads: false, byIndex: false },
  { file: 'dies-soon.js', loads: true, byIndex: true,
    add: either(value(3), loadFail) },
  { file: 'slow-load.js', loads: true, byIndex: true },
  { file: 'fn-export.js', loads: true, byIndex: true,
    // No export 'add': the kernel 'add' (three arguments) refuses two.
    add: either(code('ERR_PENNY_ARG'), loadFail), default: value(12) },
  { file: 'primitive-export.js', loads: 'either', byIndex: true,
    add: either(code('ERR_PENNY_ARG'), loadFail) },
  { file: 'odd-names.js', loads: true, byIndex: true,
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
    'tasks.mjs')).href, loads: true, byIndex: true },
];

// The runs for one module and their judges.
function runsFor(m, pool) {
  const loaded = {
    add: m.add ?? value(3),
    default: m.default ?? code('ERR_PENNY_RANGE'),
    fib: value(55),
    nope: code('ERR_PENNY_RANGE'),
  };
  const failed = {
    add: m.why ? loadFailSaying(m.why) : loadFail,
    default: loadFail, fib: loadFail, nope: loadFail,
  };
  const pick = (key) => (m.loads === true ? loaded[key]
    : m.loads === false ? failed[key] : either(loaded[key], failed[key]));
  const runs = [
    ['add', [1, 2], pick('add')],
    ['default', [3, 4], pick('default')],
    ['fib', [10], pick('fib')],
    ['nope', [], pick('nope')],
  ];
  if (m.byIndex) runs.push([pool.kernels.fib.index, [10], value(55)]);
  for (const [name, args, judge] of m.extra ?? []) {
    runs.push([name, args, m.loads === true ? judge
      : either(judge, loadFail)]);
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
