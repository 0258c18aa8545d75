'use strict';

// The submission ring: tasks whose arguments are numbers and arena views
// go to the workers through cells of a private SharedArrayBuffer, without
// a native call. These tests reach its edges: a full ring, argument
// errors found on a worker, cancellation of a task still in the ring, and
// writes into the public arena, which must not reach it.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const penny = require('../..');
const { MiB, assertRunRejects } = require('./fixtures/common');

// The ring's size: a burst beyond it takes the native path.
const { RING_CELLS } = require('../../lib/ring');
const TASKS = path.join(__dirname, 'fixtures', 'tasks', 'basic.js');

describe('submission ring', () => {
  let pool;
  afterEach(async () => {
    if (pool) await pool.close();
    pool = undefined;
  });

  it('overflows into native submission when full: every task settles once',
    async () => {
      pool = new penny.Pool({ threads: 1, arenaBytes: 4 * MiB });
      // The only worker spins while 3 ring-fulls of tasks queue up.
      const blocker = pool.run('spin', [200000]);
      const n = 3 * RING_CELLS;
      const x = pool.alloc(Float64Array, 4);
      x.fill(1);
      const settled = new Uint8Array(n);
      const all = [];
      for (let i = 0; i < n; i++) {
        all.push(pool.run('sum', [x]).then((v) => {
          assert.equal(v, 4);
          settled[i]++;
        }));
      }
      await blocker;
      await Promise.all(all);
      assert.ok(settled.every((c) => c === 1));
      const s = pool.stats();
      assert.equal(s.pending, 0);
      assert.equal(s.completed, n + 1);
    });

  it('argument errors found on a worker reject like the native path',
    async () => {
      pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
      const before = pool.stats().submitted;
      await assertRunRejects(() => pool.run('fib', [1.5]), TypeError,
        'ERR_PENNY_ARG', /fib: parameter 'n' must be an integer \(i32\)/);
      await assertRunRejects(() => pool.run('fib', [2 ** 31]), RangeError,
        'ERR_PENNY_RANGE', /out of range for i32/);
      await assertRunRejects(() => pool.run('fib', [-1]), RangeError,
        'ERR_PENNY_RANGE', /n must be from 0 to 1476/);
      await assertRunRejects(() => pool.run('spin', [NaN]), RangeError,
        'ERR_PENNY_RANGE', /micros/);
      assert.equal(pool.stats().submitted, before, 'bad calls are not tasks');
      assert.equal(await pool.run('fib', [10]), 55);
    });

  it('a task cancelled while still in the ring never runs', async () => {
    pool = new penny.Pool({ threads: 1, arenaBytes: 4 * MiB });
    const blocker = pool.run('spin', [100000]);
    const x = pool.alloc(Float64Array, 16);
    const ac = new AbortController();
    const queued = pool.run('fill', [x, 7], { signal: ac.signal });
    ac.abort(new Error('stop'));
    await assert.rejects(queued, /stop/);
    await blocker;
    // Run something after it on the same single worker: the cancelled
    // fill would have run before this one.
    assert.equal(await pool.run('sum', [x]), 0);
    assert.ok(x.every((v) => v === 0), 'the cancelled fill never ran');
    assert.equal(pool.stats().cancelled, 1);
  });

  it('a cancel that arrives after the task finished does not leak onto ' +
     'the next task in that slot', async () => {
    pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
    for (let i = 0; i < 300; i++) {
      const ac = new AbortController();
      const p = pool.run('noop', [], { signal: ac.signal });
      // Abort at a random moment around completion.
      if (i % 3 === 0) ac.abort();
      else setImmediate(() => ac.abort());
      await p.catch(() => {});
      // The next task reuses the slot most of the time; it must run.
      assert.equal(await pool.run('fib', [5]), 5);
    }
  });

  it('lives out of reach: garbage written over the whole arena while ' +
     'tasks are queued loses none of them', async () => {
    pool = new penny.Pool({ threads: 1, arenaBytes: 4 * MiB });
    const blocker = pool.run('spin', [50000]);
    const x = pool.alloc(Float64Array, 1000);
    x.fill(2);
    const queued = [];
    for (let i = 0; i < 2000; i++) {
      queued.push(i % 2 ? pool.run('fib', [i % 20]) : pool.run('sum', [x]));
    }
    // Every word of the arena, the views' data included: results over x
    // become garbage, but every task must still settle.
    new Int32Array(pool.arena).fill(-1);
    const settled = await Promise.allSettled([blocker, ...queued]);
    assert.ok(settled.every((r) => r.status === 'fulfilled'));
    settled.slice(1).forEach((r, i) => {
      if (i % 2) assert.equal(r.value, fibOf(i % 20));
    });
    x.fill(2);
    assert.equal(await pool.run('sum', [x]), 2000);
    const s = pool.stats();
    assert.equal(s.pending, 0);
    assert.equal(s.submitted, s.completed + s.failed + s.cancelled);
  });

  // The loop thread answers a task awaited right after another without a
  // trip around the event loop, but only for so long: timers, I/O and
  // setImmediate still get their turns. A loop that never let them run
  // would spin here until the test's timeout.
  for (const tasks of [undefined, TASKS]) {
    it(`tasks awaited one after another leave the event loop its turns ${
      tasks ? '(JS tasks)' : '(kernels)'}`, async () => {
      pool = new penny.Pool({ threads: 2, tasks });
      const run = tasks ? () => pool.run('add', [1, 2])
        : () => pool.run('noop');
      const seen = new Set();
      setImmediate(() => seen.add('immediate'));
      setTimeout(() => seen.add('timer'), 1);
      fs.stat(__filename, () => seen.add('io'));
      let n = 0;
      while (seen.size < 3) {
        await run();
        n++;
      }
      assert.equal(pool.stats().completed, n);
    });
  }
});

function fibOf(n) {
  let a = 0;
  let b = 1;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}
