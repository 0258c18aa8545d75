'use strict';

// pool.close(): lets queued and running tasks finish, settles every promise
// exactly once, stops the threads; idempotent.

const assert = require('node:assert/strict');
const penny = require('../..');
const {
  MiB, assertRunRejects, hasProcTasks, pennyThreadCount, waitForPennyThreads,
} = require('./fixtures/common');

// Submits `n` tasks, counting every settlement, then closes the pool.
// Returns the counts seen when close() resolved and at the end.
async function closeWithInFlight(pool, n, kernel, args) {
  let resolved = 0;
  let rejected = 0;
  let wrongValue = 0;
  const settledOnce = new Uint8Array(n);
  let settledTwice = 0;
  const mark = (i) => {
    if (settledOnce[i]) settledTwice++;
    settledOnce[i] = 1;
  };
  const all = [];
  for (let i = 0; i < n; i++) {
    all.push(pool.run(kernel, args).then((v) => {
      mark(i);
      resolved++;
      if (v !== undefined) wrongValue++;
    }, () => {
      mark(i);
      rejected++;
    }));
  }
  assert.equal(pool.stats().pending, n);
  let atClose;
  const closing = pool.close();
  assert.equal(pool.closed, true);
  await closing.then(() => {
    atClose = { resolved, rejected, pending: pool.stats().pending };
  });
  await Promise.all(all);
  return {
    atClose, resolved, rejected, wrongValue, settledTwice,
    unsettled: settledOnce.reduce((a, b) => a + (b ? 0 : 1), 0),
  };
}

describe('pool.close()', () => {
  it('with 10^4 spin(100) tasks in flight: each settles once, then close resolves',
    async () => {
      const pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
      const before = pool.stats();
      const r = await closeWithInFlight(pool, 1e4, 'spin', [100]);
      assert.equal(r.atClose.resolved + r.atClose.rejected, 1e4,
        'every promise settled before close() resolved');
      assert.equal(r.atClose.pending, 0);
      assert.equal(r.resolved + r.rejected, 1e4);
      assert.equal(r.settledTwice, 0);
      assert.equal(r.unsettled, 0);
      // close() lets queued tasks finish: they resolve, none is cancelled.
      assert.equal(r.resolved, 1e4);
      assert.equal(r.rejected, 0);
      assert.equal(r.wrongValue, 0);
      const s = pool.stats();
      assert.equal(s.submitted, before.submitted + 1e4);
      assert.equal(s.completed, before.completed + 1e4);
      assert.equal(s.cancelled, before.cancelled);
    });

  it('with 10^4 noop tasks in flight: each settles once, then close resolves',
    async () => {
      const pool = new penny.Pool({ threads: 3, arenaBytes: 4 * MiB });
      const r = await closeWithInFlight(pool, 1e4, 'noop', []);
      assert.equal(r.atClose.resolved + r.atClose.rejected, 1e4);
      assert.equal(r.resolved, 1e4);
      assert.equal(r.rejected, 0);
      assert.equal(r.settledTwice, 0);
      assert.equal(r.unsettled, 0);
      assert.equal(pool.stats().completed, 1e4);
    });

  it('lets a long running task finish with its result', async () => {
    const pool = new penny.Pool({ threads: 1, arenaBytes: MiB });
    const spin = pool.run('spin', [200000]);
    const fib = pool.run('fib', [24]); // queued behind the spin
    const order = [];
    spin.then(() => order.push('spin'));
    fib.then(() => order.push('fib'));
    await pool.close().then(() => order.push('close'));
    assert.equal(await spin, undefined);
    assert.equal(await fib, 46368);
    assert.deepEqual(order.slice().sort(), ['close', 'fib', 'spin']);
    assert.equal(order[order.length - 1], 'close');
  });

  it('copies back out-arguments of tasks finished during close', async () => {
    const pool = new penny.Pool({ threads: 2, arenaBytes: MiB });
    const arrays = Array.from({ length: 50 }, () => new Int32Array(100));
    const done = arrays.map((a, i) => pool.run('fill', [a, i]));
    await pool.close();
    await Promise.all(done);
    arrays.forEach((a, i) => assert.ok(a.every((x) => x === i), `array ${i}`));
  });

  it('is idempotent: every call returns the same promise', async () => {
    const pool = new penny.Pool({ threads: 1, arenaBytes: MiB });
    assert.equal(pool.closed, false);
    const p1 = pool.close();
    const p2 = pool.close();
    assert.ok(p1 instanceof Promise);
    assert.equal(p1, p2);
    assert.equal(await p1, undefined);
    assert.equal(pool.close(), p1);
    assert.equal(pool.closed, true);
  });

  it('closes an idle pool that never ran a task', async () => {
    const pool = new penny.Pool({ threads: 2, arenaBytes: MiB });
    await pool.close();
    assert.equal(pool.closed, true);
    await assertRunRejects(() => pool.run('noop'), Error, 'ERR_PENNY_CLOSED');
  });

  it('can be called from a task continuation', async () => {
    const pool = new penny.Pool({ threads: 2, arenaBytes: MiB });
    const tasks = [];
    let closing;
    for (let i = 0; i < 20; i++) {
      tasks.push(pool.run('fib', [12]).then((r) => {
        if (closing === undefined) closing = pool.close();
        return r;
      }));
    }
    assert.deepEqual(await Promise.all(tasks), new Array(20).fill(144));
    assert.ok(closing instanceof Promise);
    await closing;
    assert.equal(pool.closed, true);
  });

  it('refuses new runs at once, while in-flight tasks still resolve',
    async () => {
      const pool = new penny.Pool({ threads: 1, arenaBytes: MiB });
      const running = pool.run('spin', [50000]);
      const closing = pool.close();
      await assertRunRejects(() => pool.run('fib', [3]), Error,
        'ERR_PENNY_CLOSED');
      assert.equal(await running, undefined);
      await closing;
    });

  (hasProcTasks() ? it : it.skip)(
    'stops the threads: no penny-w* thread of a closed pool remains',
    async () => {
      const base = pennyThreadCount();
      const pool = new penny.Pool({ threads: 3, arenaBytes: 4 * MiB });
      assert.equal(await waitForPennyThreads(base + 3), base + 3);
      const pool2 = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
      assert.equal(await waitForPennyThreads(base + 5), base + 5);
      await Promise.all([pool.run('fib', [20]), pool2.run('fib', [20])]);
      await pool.close();
      assert.equal(await waitForPennyThreads(base + 2), base + 2);
      // The other pool is untouched.
      assert.equal(await pool2.run('fib', [10]), 55);
      await pool2.close();
      assert.equal(await waitForPennyThreads(base), base);
    });

  (hasProcTasks() ? it : it.skip)(
    'stops the threads after closing with tasks in flight', async () => {
      const base = pennyThreadCount();
      const pool = new penny.Pool({ threads: 4, arenaBytes: 4 * MiB });
      assert.equal(await waitForPennyThreads(base + 4), base + 4);
      const tasks = [];
      for (let i = 0; i < 100; i++) tasks.push(pool.run('spin', [1000]));
      await pool.close();
      await Promise.all(tasks);
      assert.equal(await waitForPennyThreads(base), base);
    });
});
