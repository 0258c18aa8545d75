'use strict';

// soak: a million tasks (scaled by PENNY_ADV_SCALE) of noop, fib, sum and
// short spins over two live pools, about a quarter of them under
// AbortSignals that are aborted before the submit, right after it (while
// queued) or a few ms later (while running, or after the task is done),
// with a reason of their own or the default one; pools closed at random
// moments while their tasks are in flight, and new pools created in their
// place, while tasks keep being submitted to the closed ones.
//
// Why: DESIGN.md §4: every promise settles exactly once, also when its
// pool is closed with tasks in flight; an aborted task rejects with the
// signal's reason; run after close rejects with ERR_PENNY_CLOSED; nothing
// is lost over time, and memory does not grow with the number of tasks.
//
// Checks: each promise settles exactly once: a task submitted to a closed
// pool rejects with ERR_PENNY_CLOSED, one whose signal was aborted before
// the submit rejects with that signal's reason (the very object), one whose
// signal was aborted later either resolves with the right value or rejects
// with the reason, and every other task resolves with the right value; at
// each quiet point stats() has submitted = completed + failed + cancelled +
// pending with pending 0 and every close() resolved; RSS grows by less
// than 100 MB between the first and the last tenth of the soak (reported,
// not judged, under a sanitizer: see SANITIZED in lib.js).

const {
  MiB, main, penny, Tracker, isPennyError, show, tick, rssMB, SANITIZED,
  checkStats, checkClose,
} = require('../lib');

const RSS_LIMIT_MB = 100;
const FIB = [0, 1];
for (let i = 2; i <= 20; i++) FIB.push(FIB[i - 1] + FIB[i - 2]);

// A pool with inputs of known sums in its arena.
function makePool(s, id) {
  const pool = new (penny().Pool)({ threads: s.int(1, 3),
    arenaBytes: 2 * MiB });
  const inputs = [];
  for (let i = 0; i < 4; i++) {
    const v = pool.alloc(Int32Array, s.int(1, 2000));
    let sum = 0;
    for (let j = 0; j < v.length; j++) {
      v[j] = (j * 7919) % 1001 - 500;
      sum += v[j];
    }
    inputs.push({ v, sum });
  }
  return { id, pool, inputs, closed: false, closing: null };
}

// Inputs outside any arena: copied (ordinary buffer) and pinned (another
// SharedArrayBuffer).
function outsideInputs() {
  const out = [];
  for (const shared of [false, true]) {
    const n = 777;
    const v = new Int32Array(shared ? new SharedArrayBuffer(4 * n) : n);
    for (let j = 0; j < n; j++) v[j] = j - 300;
    out.push({ v, sum: (n * (n - 1)) / 2 - 300 * n });
  }
  return out;
}

// The outcome a task must have, decided at submit time.
function judgeFor(entry, signal, expected) {
  const closedAtSubmit = entry.closed;
  const abortedAtSubmit = signal !== undefined && signal.aborted;
  return (rec) => {
    const e = rec.value;
    const isReason = signal !== undefined && signal.aborted &&
      e === signal.reason;
    if (closedAtSubmit) {
      return rec.status === 'rejected' &&
        (isPennyError(e, ['ERR_PENNY_CLOSED']) || isReason) ? null
        : `run after close() ${rec.status} with ${show(e)}, expected ` +
          'ERR_PENNY_CLOSED';
    }
    if (abortedAtSubmit) {
      return rec.status === 'rejected' && isReason ? null
        : `aborted before run(): ${rec.status} with ${show(e)}, expected ` +
          'the signal\'s reason';
    }
    if (rec.status === 'resolved') {
      return Object.is(e, expected) ? null
        : `resolved with ${show(e)}, expected ${show(expected)}`;
    }
    if (isReason) return null;
    return `rejected with ${show(e)}${signal !== undefined && signal.aborted
      ? ' instead of its signal\'s reason' : ''}`;
  };
}

async function round(s, state, r) {
  const { tracker } = state;
  const size = s.int(1000, 5000);
  // The signals of this round and when each is aborted.
  const signals = [];
  for (let k = s.int(1, 7); k > 0; k--) {
    const ctrl = new AbortController();
    const plan = s.pick(['before', 'sync', 'later', 'later', 'never']);
    const at = s.int(0, size);
    const reason = s.chance(0.5) ? new Error(`reason ${r}.${k}`) : undefined;
    signals.push({ ctrl, plan, at, reason });
    if (plan === 'before') ctrl.abort(reason);
  }
  const closeAt = s.chance(0.2) ? s.int(0, size) : -1;
  for (let i = 0; i < size; i++) {
    const slot = s.int(0, state.live.length);
    // Now and then a pool that was closed this round gets work too.
    const entry = state.closedThisRound.length > 0 && s.chance(0.01)
      ? s.pick(state.closedThisRound) : state.live[slot];
    const sig = s.chance(0.25) ? s.pick(signals) : undefined;
    const signal = sig?.ctrl.signal;
    const kind = s.rand();
    let promise;
    let expected;
    const options = signal !== undefined ? { signal } : undefined;
    if (kind < 0.35) {
      promise = entry.pool.run('noop', [], options);
      expected = undefined;
    } else if (kind < 0.7) {
      const n = s.int(0, 13);
      promise = entry.pool.run('fib', [n], options);
      expected = FIB[n];
    } else if (kind < 0.95) {
      const input = s.chance(0.05) ? s.pick(state.outside)
        : s.pick(entry.inputs);
      promise = entry.pool.run('sum', [input.v], options);
      expected = input.sum;
    } else {
      promise = entry.pool.run('spin', [s.int(1, 50)], options);
      expected = undefined;
    }
    tracker.add(promise, 'task', judgeFor(entry, signal, expected));
    state.submitted++;
    for (const x of signals) {
      if (x.at !== i) continue;
      if (x.plan === 'sync') x.ctrl.abort(x.reason);
      else if (x.plan === 'later') {
        setTimeout(() => x.ctrl.abort(x.reason), s.int(0, 4));
      }
    }
    if (i === closeAt) {
      // Close a live pool with its tasks in flight; a new one takes its
      // place.
      entry.closed = true;
      entry.closing = entry.pool.close();
      state.closedThisRound.push(entry);
      const index = state.live.indexOf(entry);
      if (index >= 0) state.live[index] = makePool(s, state.nextId++);
      state.closes++;
    }
    if (i % 512 === 511) await tick();
  }
  s.phase = `round ${r}: settling`;
  await tracker.wait({ stallMs: 3000, capMs: 30000 });
  const lost = tracker.judge(`round ${r}: `, 'in this round');
  // A quiet point: nothing pending anywhere.
  for (const entry of state.closedThisRound) {
    await checkClose(s, entry.closing, `round ${r}: pool ${entry.id}`,
      lost > 0 ? 500 : 5000);
  }
  state.closedThisRound = [];
  for (const entry of state.live) {
    checkStats(s, entry.pool, `round ${r}: pool ${entry.id}`);
  }
  state.rss.push(rssMB());
}

async function body(s) {
  const total = s.scaled(1e6, 20000);
  const state = {
    tracker: new Tracker(s), live: [makePool(s, 0), makePool(s, 1)],
    nextId: 2, closedThisRound: [], outside: outsideInputs(), submitted: 0,
    closes: 0, rss: [],
  };
  let r = 0;
  while (state.submitted < total) {
    if (s.overBudget(0.6)) {
      s.info.stoppedEarly = true;
      break;
    }
    s.phase = `round ${r}`;
    await round(s, state, r++);
  }
  s.phase = 'close';
  for (const entry of state.live) {
    await checkClose(s, entry.pool.close(), `the end: pool ${entry.id}`);
  }
  const tenth = Math.max(1, Math.floor(state.rss.length / 10));
  const mean = (list) => list.reduce((a, b) => a + b, 0) / list.length;
  const first = mean(state.rss.slice(0, tenth));
  const last = mean(state.rss.slice(-tenth));
  if (state.rss.length >= 10 && !SANITIZED) {
    s.check(last - first < RSS_LIMIT_MB, `RSS grew ${Math.round(last - first)
    } MB over the soak (${Math.round(first)} -> ${Math.round(last)} MB)`);
  }
  Object.assign(s.info, {
    tasks: state.submitted, rounds: r, poolsClosed: state.closes,
    rssFirstMB: Math.round(first), rssLastMB: Math.round(last),
    rssJudged: !SANITIZED,
  });
}

main(body);
