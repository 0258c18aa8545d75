'use strict';

// worker_threads: the addon loads per environment, pools inside Workers
// work side by side, and a terminated Worker leaves no thread running.

const assert = require('node:assert/strict');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const penny = require('../..');
const {
  FIXTURES, MiB, hasProcTasks, pennyThreadCount, waitForPennyThreads,
} = require('./fixtures/common');

const fixture = (name) => path.join(FIXTURES, name);

// Resolves with the first message of `worker`; rejects on error, or on exit
// before a message.
function firstMessage(worker) {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) =>
      reject(new Error(`worker exited (${code}) before posting`)));
  });
}

const exited = (worker) => new Promise((resolve) => {
  worker.once('exit', resolve);
});

const procIt = hasProcTasks() ? it : it.skip;

describe('worker_threads', () => {
  let base; // penny-w* threads of this process before each test
  beforeEach(() => {
    if (hasProcTasks()) base = pennyThreadCount();
  });

  it('two Workers each run fib(20) and sums on their own pool at once',
    async () => {
      const workers = [1, 2].map((id) =>
        new Worker(fixture('worker-compute.js'), { workerData: { id } }));
      const ends = workers.map(exited);
      const messages = await Promise.all(workers.map(firstMessage));
      messages.forEach((m, i) => {
        const id = i + 1;
        assert.equal(m.error, undefined, m.error);
        assert.equal(m.id, id);
        assert.equal(m.fib, 6765);
        assert.equal(m.sum, 500500);
        assert.equal(m.sumPlain, 500 * id);
        assert.deepEqual(m.fill, [id + 0.5]);
        assert.equal(m.fibsOk, true);
        assert.equal(m.closed, true);
      });
      assert.deepEqual(await Promise.all(ends), [0, 0]);
      if (hasProcTasks()) {
        assert.equal(await waitForPennyThreads(base), base);
      }
    });

  it('a Worker with an idle pool it never closed exits by itself', async () => {
    const w = new Worker(fixture('worker-no-close.js'));
    const end = exited(w);
    const m = await firstMessage(w);
    assert.equal(m.fib, 610);
    assert.equal(await end, 0);
    if (hasProcTasks()) {
      assert.equal(await waitForPennyThreads(base), base,
        'the Worker\'s pool threads are gone once it has exited');
    }
  });

  procIt('terminate() while long spins run: no crash, no thread left',
    async () => {
      const main = new penny.Pool({ threads: 1, arenaBytes: MiB });
      try {
        const w = new Worker(fixture('worker-spin.js'),
          { workerData: { threads: 3 } });
        const errors = [];
        w.on('error', (e) => errors.push(e));
        const m = await firstMessage(w);
        assert.equal(m.started, true);
        assert.ok(m.pending >= 100);
        // The worker's 3 threads plus the main pool's 1.
        assert.equal(await waitForPennyThreads(base + 4), base + 4);
        const code = await w.terminate();
        assert.equal(typeof code, 'number');
        assert.deepEqual(errors, []);
        assert.equal(await waitForPennyThreads(base + 1), base + 1,
          'threads of the terminated Worker\'s pool remain');
        // The main thread's pool is unaffected.
        assert.equal(await main.run('fib', [20]), 6765);
      } finally {
        await main.close();
      }
      assert.equal(await waitForPennyThreads(base), base);
    });

  procIt('terminating several Workers at once leaves no thread', async () => {
    const workers = [1, 2, 3].map(() => new Worker(fixture('worker-spin.js'),
      { workerData: { threads: 2 } }));
    const msgs = await Promise.all(workers.map(firstMessage));
    assert.ok(msgs.every((m) => m.started === true));
    assert.equal(await waitForPennyThreads(base + 6), base + 6);
    const codes = await Promise.all(workers.map((w) => w.terminate()));
    assert.ok(codes.every((c) => typeof c === 'number'));
    assert.equal(await waitForPennyThreads(base), base);
  });

  procIt('pool.close() in the main thread removes that pool\'s threads',
    async () => {
      const pool = new penny.Pool({ threads: 4, arenaBytes: 4 * MiB });
      assert.equal(await waitForPennyThreads(base + 4), base + 4);
      const names = require('./fixtures/common').threadNames()
        .filter((n) => n.startsWith('penny-w'));
      for (let k = 0; k < 4; k++) {
        assert.ok(names.includes(`penny-w${k}`), `penny-w${k} exists`);
      }
      assert.equal(await pool.run('fib', [18]), 2584);
      await pool.close();
      assert.equal(await waitForPennyThreads(base), base);
    });

  it('the addon loads again in fresh Workers after others ended', async () => {
    for (let i = 0; i < 4; i++) {
      const w = new Worker(fixture('worker-no-close.js'));
      const end = exited(w);
      assert.equal((await firstMessage(w)).fib, 610, `worker ${i}`);
      assert.equal(await end, 0, `worker ${i}`);
    }
    if (hasProcTasks()) assert.equal(await waitForPennyThreads(base), base);
  });

  it('terminate() right as the Worker comes online does not crash',
    async () => {
      for (let i = 0; i < 3; i++) {
        const w = new Worker(fixture('worker-spin.js'),
          { workerData: { threads: 2 } });
        const errors = [];
        w.on('error', (e) => errors.push(e));
        await new Promise((resolve) => w.once('online', resolve));
        const code = await w.terminate();
        assert.equal(typeof code, 'number');
        assert.deepEqual(errors, []);
      }
      if (hasProcTasks()) assert.equal(await waitForPennyThreads(base), base);
    });

  it('the main thread still works after all of the above', async () => {
    const pool = new penny.Pool({ threads: 2, arenaBytes: MiB });
    try {
      assert.equal(await pool.run('fib', [21]), 10946);
    } finally {
      await pool.close();
    }
  });
});
