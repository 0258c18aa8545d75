'use strict';

// task-fork: JS tasks that fork (penny/task's join, spawn, sync), under
// load and under attack. Trees of random shape -- joins, three spawns
// synced out of order, a child left to the implicit sync -- many at once
// on 1 to 4 threads, some with a node that throws; trees aborted at
// random moments; a child that calls process.exit in the middle of a
// tree while other trees run, and while leaf tasks wait in the queue;
// terminate() during deep trees; and Workers
// that own a forking pool terminated mid-tree.
//
// Why: README "Fork-join in JavaScript": a child's error propagates out
// of join/sync (A's first, after both sides finished; an unsynced child's
// when its function returns); cancelled() reaches every descendant of an
// aborted task; close() lets a forking task finish, terminate() stops it;
// a thread that dies costs the tasks whose work was on its stack, and the
// pool replaces it. DESIGN.md §4: every promise settles exactly once.
//
// Checks: each tree settles exactly once, with the value the same
// function computes serially on the main thread or, when that throws, the
// same error (class, code, message); an aborted tree resolves with its
// full value or rejects with AbortError; the tree whose child exits
// rejects with ERR_PENNY_TASK, the others resolve with their values or
// (when their work was on the dying thread) reject with ERR_PENNY_TASK,
// leaves queued meanwhile all resolve, and afterwards the pool runs trees
// on every thread again; after
// terminate() every tree settles with its value or ERR_PENNY_CLOSED and
// terminate() resolves within a bound; a Worker owning a forking pool
// exits within a bound when terminated, and the process goes on.

const path = require('node:path');
const { Worker } = require('node:worker_threads');
const {
  ROOT, main, penny, Tracker, within, isPennyError, isAbortError, show,
  sleep,
} = require('../lib');

const TASKS = path.join(__dirname, '..', 'fixtures', 'fork-tasks.js');
const serial = require(TASKS); // on the main thread: the serial oracle

const isTask = (e) => isPennyError(e, ['ERR_PENNY_TASK']);
const isClosed = (e) => isPennyError(e, ['ERR_PENNY_CLOSED']);

// What tree(seed, depth, fail) must settle with.
function expectTree(seed, depth, fail) {
  try {
    return { value: serial.tree(seed, depth, fail) };
  } catch (err) {
    return { error: err };
  }
}

function judgeTree(want, { closing = false } = {}) {
  return (r) => {
    if (closing && r.status === 'rejected' && isClosed(r.value)) return null;
    if ('value' in want) {
      return r.status === 'resolved' && r.value === want.value ? null
        : `${r.status} with ${show(r.value)}, expected ${want.value}`;
    }
    const e = r.value;
    return r.status === 'rejected' && e instanceof RangeError &&
      e.code === want.error.code && e.message === want.error.message ? null
      : `${r.status} with ${show(e)}, expected ${show(want.error)}`;
  };
}

// Random trees, many at once; some fail at a node of theirs.
async function trees(s, pool, tracker, count, label, opts) {
  for (let i = 0; i < count; i++) {
    const seed = s.int(1, 1e6);
    const depth = s.int(0, 9);
    // A failing node: one the tree reaches (a child's seed), or none.
    let fail = -1;
    if (s.chance(0.3)) {
      fail = s.chance(0.2) ? seed : pickNode(s, seed, depth);
    }
    tracker.add(pool.run('tree', [seed, depth, fail]),
      `${label} tree(${seed}, ${depth}, ${fail})`,
      judgeTree(expectTree(seed, depth, fail), opts));
  }
}

// A seed somewhere in tree(seed, depth): follows random children down.
function pickNode(s, seed, depth) {
  let at = seed;
  const steps = s.int(0, depth + 1);
  for (let d = 0; d < steps; d++) {
    const h = serial.hash(at);
    const kids = h % 3 === 1 ? 3 : 2;
    at = serial.hash(h + 1 + s.int(0, kids)) % 1e6;
  }
  return at;
}

async function settle(s, tracker, label, capMs = 30000) {
  await tracker.wait({ stallMs: 10000, capMs });
  tracker.judge(`${label}: `, label);
}

async function body(s) {
  const { Pool } = penny();

  // 1. Trees, with and without failures, on 1 to 4 threads.
  for (const threads of [1, 2, 3, 4]) {
    s.phase = `trees on ${threads} threads`;
    const pool = new Pool({ threads, tasks: TASKS });
    const tracker = new Tracker(s);
    await trees(s, pool, tracker, s.scaled(60, 10), `${threads}t`);
    await settle(s, tracker, `trees on ${threads} threads`);
    const st = pool.stats();
    s.check(st.pending === 0, () => `trees: ${st.pending} pending after all settled`);
    s.info.steals = (s.info.steals || 0) + st.steals;
    await pool.close();
  }

  // 2. Aborts at random moments.
  s.phase = 'aborts';
  {
    const pool = new Pool({ threads: 2, tasks: TASKS });
    const tracker = new Tracker(s);
    for (let i = 0; i < s.scaled(30, 6); i++) {
      const ac = new AbortController();
      const depth = s.int(4, 11);
      const full = 1 << depth;
      tracker.add(pool.run('cancellable', [1, depth], { signal: ac.signal }),
        `abort ${i} (depth ${depth})`, (r) => (
          (r.status === 'resolved' && r.value === full) ||
          (r.status === 'rejected' && isAbortError(r.value)) ? null
            : `${r.status} with ${show(r.value)}, expected ${full} or ` +
              'AbortError'));
      setTimeout(() => ac.abort(), s.int(0, 20));
    }
    await settle(s, tracker, 'aborts');
    await pool.close();
  }

  // 3. A child exits in the middle of a tree while other trees run.
  s.phase = 'exits';
  for (let round = 0; round < s.scaled(4, 2); round++) {
    const pool = new Pool({ threads: s.int(2, 4), tasks: TASKS });
    const tracker = new Tracker(s);
    const depth = s.int(6, 11);
    let victims = 0;
    const others = [];
    for (let i = 0; i < 6; i++) {
      const seed = s.int(1, 1e6);
      const d = s.int(3, 8);
      const want = expectTree(seed, d, -1);
      others.push(tracker.add(pool.run('tree', [seed, d, -1]), `exit round ${
        round}: tree ${i}`, (r) => {
        if (r.status === 'rejected' && isTask(r.value)) {
          victims++;
          return null;
        }
        return judgeTree(want)(r);
      }));
    }
    const exitAt = s.int(1 << (depth - 2), 1 << depth);
    tracker.add(pool.run('exiting', [1, depth, exitAt]),
      `exit round ${round}: the exiting tree`, (r) => (
        r.status === 'rejected' && isTask(r.value) ? null
          : `${r.status} with ${show(r.value)}, expected ERR_PENNY_TASK`));
    await settle(s, tracker, `exit round ${round}`);
    s.info.exitVictims = (s.info.exitVictims || 0) + victims;
    // The pool goes on: trees run again, on new threads where needed.
    const after = new Tracker(s);
    await trees(s, pool, after, 12, `after exit ${round}`);
    await settle(s, after, `after exit round ${round}`);
    await pool.close();
  }

  // 3b. A stolen child exits while every thread is busy and leaves wait
  // in the queue: none of them may be taken, and lost, by the dying
  // thread.
  s.phase = 'exit with queued leaves';
  for (let round = 0; round < s.scaled(4, 2); round++) {
    const threads = s.int(2, 4);
    const pool = new Pool({ threads, tasks: TASKS });
    const tracker = new Tracker(s);
    await Promise.all(Array.from({ length: threads },
      () => pool.run('tree', [1, 0, -1]))); // every thread has loaded
    const ms = s.int(40, 120);
    for (let i = 0; i < threads - 2; i++) {
      tracker.add(pool.run('busyMs', [3 * ms]), `queued round ${round}: ` +
        `busy ${i}`, (r) => (r.status === 'resolved' && r.value === 3 * ms
        ? null : `${r.status} with ${show(r.value)}, expected ${3 * ms}`));
    }
    tracker.add(pool.run('stolenExit', [ms]),
      `queued round ${round}: the exiting join`, (r) => (
        r.status === 'rejected' && isTask(r.value) ? null
          : `${r.status} with ${show(r.value)}, expected ERR_PENNY_TASK`));
    await sleep(ms / 2);
    for (let i = 0; i < 50; i++) {
      const seed = s.int(1, 1e6);
      tracker.add(pool.run('tree', [seed, 0, -1]),
        `queued round ${round}: leaf ${i}`,
        judgeTree(expectTree(seed, 0, -1)));
    }
    await settle(s, tracker, `queued round ${round}`);
    await pool.close();
  }

  // 4. terminate() during deep trees.
  s.phase = 'terminate';
  for (let round = 0; round < s.scaled(4, 2); round++) {
    const pool = new Pool({ threads: s.int(1, 4), tasks: TASKS });
    const tracker = new Tracker(s);
    await trees(s, pool, tracker, 20, `terminate ${round}`, { closing: true });
    for (let i = 0; i < 3; i++) {
      tracker.add(pool.run('cancellable', [1, 22]), `terminate ${round}: ` +
        `deep ${i}`, (r) => (r.status === 'rejected' && isClosed(r.value)
        ? null : `${r.status} with ${show(r.value)}, expected ` +
          'ERR_PENNY_CLOSED'));
    }
    await sleep(s.int(0, 50));
    const t = await within(pool.terminate(), 10000);
    s.check(t.status === 'resolved', () => `terminate ${round}: terminate() ${
      t.status} ${show(t.value)}`);
    await settle(s, tracker, `terminate round ${round}`, 15000);
  }

  // 5. Workers that own a forking pool, terminated mid-tree.
  s.phase = 'worker churn';
  for (let i = 0; i < s.scaled(6, 2); i++) {
    const w = new Worker(`
      const { Pool } = require(${JSON.stringify(ROOT)});
      const { parentPort } = require('node:worker_threads');
      const pool = new Pool({ threads: 2, tasks: ${JSON.stringify(TASKS)} });
      pool.run('cancellable', [1, 22]).catch(() => {});
      pool.run('tree', [7, 8, -1]).then(() => parentPort.postMessage('ran'),
        () => {});
    `, { eval: true });
    const exited = within(new Promise((resolve) => w.once('exit', resolve)),
      8000);
    w.on('error', (e) => s.fail(`worker ${i}: error ${show(e)}`));
    await sleep(s.int(20, 300));
    await w.terminate();
    const r = await exited;
    s.check(r.status === 'resolved', () => `worker ${i}: no exit within 8 s`);
  }
}

main(body);
