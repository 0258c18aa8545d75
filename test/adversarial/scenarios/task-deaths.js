'use strict';

// task-deaths: the threads of a task pool (new Pool({ tasks })) die under
// load. Thousands of ordinary tasks (JS tasks with numbers in the ring, with
// objects, over the arena; async ones; kernels by name) are interleaved
// with tasks that kill their thread in every way it can die: process.exit
// in the task (codes 0 and others), process.exit from a timer while the
// task awaits, an uncaught throw in a timer or a microtask the task left
// behind, an unhandled rejection it left behind, a promise that never
// settles (the thread's loop runs dry) -- and a thrown revoked Proxy,
// which the pool cannot clone and which fails only its own task; among
// them, async tasks that make a kernel pool or a task pool of their own on
// their thread. They are submitted right after new Pool (they wait for the
// module's names) and again on a warm pool. Then endless tasks (a busy
// loop, promises that never settle, a thread whose own task pool runs an
// endless task) and a burst, and terminate() while they run.
//
// Why: README "Your own JavaScript": a task whose thread dies rejects
// with ERR_PENNY_TASK, no other task is lost, the pool starts a new thread
// in its place (after a growing delay, never in a busy loop); terminate()
// rejects every unfinished task with ERR_PENNY_CLOSED, even an endless
// one, and resolves once the threads are gone. DESIGN.md §4: every promise
// settles exactly once.
//
// Checks, per round (a pool of 1 to 3 threads): every ordinary synchronous
// task resolves with its value exactly once; an async one (which can share
// its thread with a timer another task left behind) resolves with its
// value or rejects with ERR_PENNY_TASK; each killer rejects with
// ERR_PENNY_TASK (or resolves 'scheduled' when the death comes later, from
// what it left behind), a thrown revoked Proxy with ERR_PENNY_TASK
// "cannot be cloned"; the pool then runs tasks on every thread again;
// after terminate() every task settles exactly once (an ordinary one with
// its value or ERR_PENNY_CLOSED, an endless one with ERR_PENNY_CLOSED or,
// for a promise that never settles, ERR_PENNY_TASK), terminate() resolves
// within a bound and a later run rejects with ERR_PENNY_CLOSED; the event
// loop is never blocked.

const path = require('node:path');
const {
  main, penny, Tracker, Heartbeat, within, isPennyError, show,
} = require('../lib');

const TASKS = path.join(__dirname, '..', 'fixtures', 'tasks.js');
const MiB = 1 << 20;

const isTask = (e) => isPennyError(e, ['ERR_PENNY_TASK']);
const isClosed = (e) => isPennyError(e, ['ERR_PENNY_CLOSED']);

// ---- What is submitted, and what each may settle with. ----

function ordinary(s, pool, view, i, tracker, label, { closing = false } = {}) {
  // closing: terminate() may reject it with ERR_PENNY_CLOSED.
  const ok = (want, asyncTask = false) => (r) => {
    if (r.status === 'resolved') {
      return Object.is(r.value, want) ? null
        : `resolved with ${show(r.value)}, expected ${show(want)}`;
    }
    if (closing && isClosed(r.value)) return null;
    if (asyncTask && isTask(r.value)) {
      s.info.asyncVictims = (s.info.asyncVictims || 0) + 1;
      return null;
    }
    return `rejected with ${show(r.value)}, expected ${show(want)}`;
  };
  const kind = i % 10;
  if (kind < 4) {
    tracker.add(pool.run('add', [i, 0.5]), `${label} add ${i}`, ok(i + 0.5));
  } else if (kind < 6) {
    tracker.add(pool.run('tag', [{ k: i, v: [i] }]), `${label} tag ${i}`,
      ok(`${i}:${i}`));
  } else if (kind === 6) {
    tracker.add(pool.run('sum', [view]), `${label} sum ${i}`, ok(view.sum));
  } else if (kind === 7) {
    tracker.add(pool.run('fib', [i % 20]), `${label} fib ${i}`,
      ok(FIB[i % 20]));
  } else if (kind === 8) {
    tracker.add(pool.run('noop'), `${label} noop ${i}`, ok(undefined));
  } else if (i % 500 === 9) {
    // Pools inside a task's thread: a kernel pool, a task pool.
    if (i % 1000 === 9) {
      tracker.add(pool.run('innerKernelPool', [12]), `${label} inner ` +
        `kernel pool ${i}`, ok(144, true));
    } else {
      tracker.add(pool.run('innerTaskPool', [i, 1]), `${label} inner ` +
        `task pool ${i}`, ok(i + 1, true));
    }
  } else {
    tracker.add(pool.run('later', [i, i % 3]), `${label} later ${i}`,
      ok(2 * i, true));
  }
}

const FIB = [0, 1];
for (let i = 2; i < 20; i++) FIB.push(FIB[i - 1] + FIB[i - 2]);

// The killers: [name, args, judge(rec) -> null | why].
function killer(s, closing) {
  const rejectsTask = (r) => (r.status === 'rejected' && (isTask(r.value) ||
    (closing && isClosed(r.value))) ? null
    : `${r.status} with ${show(r.value)}, expected ERR_PENNY_TASK`);
  const scheduled = (r) => (r.status === 'resolved' && r.value === 'scheduled'
    ? null : (closing && r.status === 'rejected' && isClosed(r.value) ? null
      : `${r.status} with ${show(r.value)}, expected 'scheduled'`));
  const uncloneable = (r) => (r.status === 'rejected' && ((isTask(r.value) &&
    /cannot be cloned/.test(r.value.message)) ||
    (closing && isClosed(r.value))) ? null : `${r.status} with ${
    show(r.value)}, expected ERR_PENNY_TASK "cannot be cloned"`);
  return s.pick([
    ['exit', [0], rejectsTask],
    ['exit', [s.int(1, 200)], rejectsTask],
    ['exitLater', [s.int(2, 100), s.int(0, 10)], rejectsTask],
    ['throwLater', [s.int(0, 10)], scheduled],
    ['rejectLater', [], scheduled],
    ['throwInMicrotask', [], scheduled],
    ['never', [], rejectsTask],
    ['neverAsync', [], rejectsTask],
    // Not a death: an ordinary failure among them.
    ['throwRevokedProxy', [], uncloneable],
  ]);
}

// ---- A round. ----

async function round(s, r, heart) {
  const { Pool } = penny();
  const threads = s.int(1, 4);
  const what = `round ${r} (threads ${threads})`;
  s.phase = `${what}: new pool`;
  const pool = new Pool({ threads, tasks: TASKS, arenaBytes: 4 * MiB });
  const view = pool.alloc(Float64Array, 1000);
  view.sum = 0;
  for (let i = 0; i < view.length; i++) {
    view[i] = i % 17;
    view.sum += i % 17;
  }

  // Deaths under load, twice: from a fresh pool, then a warm one. A
  // thread that dies young restarts after a growing delay, so the killers
  // are few per thread.
  for (const phase of ['fresh', 'warm']) {
    s.phase = `${what}: deaths, ${phase}`;
    heart.reset();
    const tracker = new Tracker(s);
    const n = s.scaled(1500, 200);
    const killers = 2 * threads;
    const at = new Set();
    while (at.size < killers) at.add(s.int(0, n));
    for (let i = 0; i < n; i++) {
      if (at.has(i)) {
        const [name, args, judge] = killer(s, false);
        tracker.add(pool.run(name, args), `${phase} killer ${name}(${
          args.join(', ')}) at ${i}`, judge);
        s.info.killers = (s.info.killers || 0) + 1;
      }
      ordinary(s, pool, view, i, tracker, phase);
      // Now and then, let the loop turn: deaths arrive mid-burst.
      if (i % 300 === 299) await new Promise((res) => setImmediate(res));
    }
    await tracker.wait({ stallMs: 8000, capMs: 30000 });
    tracker.judge(`${what}: `, `(${phase} deaths)`);
    heart.check(s, `${what} ${phase}`);

    // Every thread runs tasks again: as many busy tasks as threads, side
    // by side, each on a thread of its own.
    const ids = await within(Promise.all(Array.from({ length: threads },
      () => pool.run('busy', [40]).then(() => pool.run('threadId')))), 10000);
    s.check(ids.status === 'resolved', () => `${what} ${phase}: ` +
      `afterwards the threads ${ids.status} with ${show(ids.value)}`);
    const after = await within(pool.run('add', [2, 2]), 5000);
    s.check(after.status === 'resolved' && after.value === 4,
      () => `${what} ${phase}: afterwards add(2, 2) ${after.status} with ${
        show(after.value)}`);
  }

  // Endless tasks, a burst, killers, and terminate() in the middle.
  s.phase = `${what}: terminate`;
  heart.reset();
  const tracker = new Tracker(s);
  const endless = (r2) => (r2.status === 'rejected' && (isClosed(r2.value) ||
    isTask(r2.value)) ? null : `${r2.status} with ${show(r2.value)}`);
  const loops = s.int(1, threads + 1);
  for (let i = 0; i < loops; i++) {
    tracker.add(pool.run('forever'), `forever ${i}`, (r2) =>
      (r2.status === 'rejected' && isClosed(r2.value) ? null
        : `${r2.status} with ${show(r2.value)}, expected ERR_PENNY_CLOSED`));
  }
  for (let i = 0; i < 3; i++) {
    tracker.add(pool.run(i % 2 ? 'never' : 'neverAsync'), `never ${i}`,
      endless);
  }
  // A task whose thread owns a task pool with an endless task of its own.
  tracker.add(pool.run('innerEndless'), 'inner endless', endless);
  const n = s.scaled(600, 100);
  for (let i = 0; i < n; i++) {
    if (i % 100 === 50) {
      const [name, args, judge] = killer(s, true);
      tracker.add(pool.run(name, args), `killer ${name} before terminate`,
        judge);
    }
    ordinary(s, pool, view, i, tracker, 'terminate', { closing: true });
  }
  await new Promise((res) => setTimeout(res, s.int(0, 150)));
  const t0 = Date.now();
  const term = await within(pool.terminate(), 10000);
  s.check(term.status === 'resolved', () => `${what}: terminate() ${
    term.status} with ${show(term.value)}`);
  s.info.slowestTerminateMs = Math.max(s.info.slowestTerminateMs || 0,
    Date.now() - t0);
  await tracker.wait({ stallMs: 3000, capMs: 10000 });
  tracker.judge(`${what}: `, '(after terminate)');
  const late = await within(pool.run('add', [1, 1]), 3000);
  s.check(late.status === 'rejected' && isClosed(late.value), () =>
    `${what}: a run after terminate() ${late.status} with ${
      show(late.value)}`);
  heart.check(s, `${what} terminate`);
}

async function body(s) {
  const heart = new Heartbeat();
  const rounds = s.scaled(3, 2);
  for (let r = 0; r < rounds; r++) {
    if (s.overBudget(0.5)) {
      s.info.skippedRounds = rounds - r;
      break;
    }
    await round(s, r, heart);
  }
  heart.stop();
}

main(body);
