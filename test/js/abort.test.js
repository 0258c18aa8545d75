'use strict';

// AbortSignal support: aborted before start, while queued, while running.

const assert = require('node:assert/strict');
const { getEventListeners, setMaxListeners } = require('node:events');
const penny = require('../..');
const { MiB, sleep } = require('./fixtures/common');

// Settles to { ok, value } or { ok: false, error } without throwing.
const settle = (p) => p.then((value) => ({ ok: true, value }),
  (error) => ({ ok: false, error }));

function assertDefaultAbortError(err) {
  assert.ok(err instanceof DOMException, `got ${err}`);
  assert.equal(err.name, 'AbortError');
}

describe('AbortSignal', () => {
  let pool;
  beforeEach(() => {
    pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
  });
  afterEach(() => pool.close());

  async function assertUsable() {
    assert.equal(await pool.run('fib', [16]), 987);
    const v = pool.alloc(Float64Array, 4);
    v.set([1, 2, 3, 4]);
    assert.equal(await pool.run('sum', [v]), 10);
    pool.free(v);
  }

  describe('aborted before start', () => {
    it('rejects with the signal reason (AbortError) and runs nothing',
      async () => {
        const c = new AbortController();
        c.abort();
        const before = pool.stats();
        const view = pool.alloc(Float64Array, 16);
        let p;
        assert.doesNotThrow(() => {
          p = pool.run('fill', [view, 9], { signal: c.signal });
        });
        const r = await settle(p);
        assert.equal(r.ok, false);
        assert.equal(r.error, c.signal.reason, 'the reason itself');
        assertDefaultAbortError(r.error);
        const after = pool.stats();
        assert.equal(after.submitted, before.submitted, 'nothing submitted');
        assert.equal(after.pending, 0);
        assert.ok(view.every((x) => x === 0), 'the kernel did not run');
        pool.free(view);
        await assertUsable();
      });

    it('works with AbortSignal.abort() and custom reasons of any kind',
      async () => {
        const reasons = [new Error('mine'), new TypeError('typed'),
          'a string', 42, { why: 'object' }, null];
        const before = pool.stats().submitted;
        for (const reason of reasons) {
          const signal = AbortSignal.abort(reason);
          const r = await settle(pool.run('fib', [10], { signal }));
          assert.equal(r.ok, false);
          assert.equal(r.error, reason);
        }
        const r = await settle(pool.run('noop', [], {
          signal: AbortSignal.abort(),
        }));
        assertDefaultAbortError(r.error);
        assert.equal(pool.stats().submitted, before);
        await assertUsable();
      });

    it('copies nothing into the arena for an aborted call', async () => {
      const used = pool.stats().heapUsed;
      const a = new Float64Array(1000);
      const r = await settle(pool.run('fill', [a, 1], {
        signal: AbortSignal.abort(),
      }));
      assert.equal(r.ok, false);
      assert.equal(pool.stats().heapUsed, used);
      assert.ok(a.every((x) => x === 0));
    });
  });

  describe('aborted while running', () => {
    it('rejects a long spin with the reason and counts it cancelled',
      async () => {
        const c = new AbortController();
        const before = pool.stats();
        const p = settle(pool.run('spin', [5e6], { signal: c.signal }));
        await sleep(20);
        c.abort();
        const r = await p;
        assert.equal(r.ok, false, 'a 5 s spin aborted after 20 ms rejects');
        assert.equal(r.error, c.signal.reason);
        assertDefaultAbortError(r.error);
        const after = pool.stats();
        assert.equal(after.cancelled, before.cancelled + 1);
        assert.equal(after.completed, before.completed);
        assert.equal(after.pending, 0);
        await assertUsable();
      });

    it('rejects with a custom reason', async () => {
      const c = new AbortController();
      const reason = new Error('custom stop');
      const p = settle(pool.run('spin', [5e6], { signal: c.signal }));
      await sleep(20);
      c.abort(reason);
      const r = await p;
      assert.equal(r.ok, false);
      assert.equal(r.error, reason);
      await assertUsable();
    });

    it('stops a fork-join kernel (fib) that polls cancellation', async () => {
      const c = new AbortController();
      const before = pool.stats().cancelled;
      // fib(38) takes seconds on two threads; cancelled it must reject.
      const p = settle(pool.run('fib', [38], { signal: c.signal }));
      await sleep(20);
      c.abort('enough');
      const r = await p;
      assert.equal(r.ok, false);
      assert.equal(r.error, 'enough');
      assert.equal(pool.stats().cancelled, before + 1);
      await assertUsable();
    });

    it('cancels only the aborted task among many running', async () => {
      const c = new AbortController();
      const others = [];
      for (let i = 0; i < 10; i++) others.push(pool.run('fib', [18]));
      const victim = settle(pool.run('spin', [5e6], { signal: c.signal }));
      await sleep(20);
      c.abort();
      const r = await victim;
      assert.equal(r.ok, false);
      assertDefaultAbortError(r.error);
      assert.deepEqual(await Promise.all(others), new Array(10).fill(2584));
    });
  });

  describe('aborted while queued', () => {
    it('a queued task behind busy workers rejects without running',
      async () => {
        const one = new penny.Pool({ threads: 1, arenaBytes: MiB });
        try {
          const busy = new AbortController();
          const blocker = settle(one.run('spin', [5e6], {
            signal: busy.signal,
          }));
          const c = new AbortController();
          const view = one.alloc(Int32Array, 8);
          const queued = settle(one.run('fill', [view, 5], {
            signal: c.signal,
          }));
          const before = one.stats().cancelled;
          c.abort(new RangeError('queued abort'));
          busy.abort();
          const [rb, rq] = await Promise.all([blocker, queued]);
          assert.equal(rb.ok, false);
          assert.equal(rq.ok, false);
          assert.ok(rq.error instanceof RangeError);
          assert.equal(rq.error.message, 'queued abort');
          assert.ok(view.every((x) => x === 0), 'the queued fill never ran');
          assert.equal(one.stats().cancelled, before + 2);
          assert.equal(await one.run('fib', [12]), 144);
        } finally {
          await one.close();
        }
      });

    it('one signal aborts every task that uses it', async () => {
      const c = new AbortController();
      const tasks = [];
      for (let i = 0; i < 8; i++) {
        tasks.push(settle(pool.run('spin', [5e6], { signal: c.signal })));
      }
      await sleep(20);
      const reason = new Error('all of them');
      c.abort(reason);
      const results = await Promise.all(tasks);
      for (const r of results) {
        assert.equal(r.ok, false);
        assert.equal(r.error, reason);
      }
      await assertUsable();
    });
  });

  describe('aborted after completion', () => {
    it('has no effect and leaves no listener behind', async () => {
      const c = new AbortController();
      const before = pool.stats();
      const r = await pool.run('fib', [15], { signal: c.signal });
      assert.equal(r, 610);
      assert.equal(getEventListeners(c.signal, 'abort').length, 0,
        'the abort listener is removed once the task settles');
      c.abort();
      await sleep(5);
      const after = pool.stats();
      assert.equal(after.cancelled, before.cancelled);
      assert.equal(after.completed, before.completed + 1);
      await assertUsable();
    });

    it('a signal reused across many tasks keeps no listener per task',
      async () => {
        const c = new AbortController();
        setMaxListeners(250, c.signal); // 200 tasks listen at once
        const results = await Promise.all(Array.from({ length: 200 }, () =>
          pool.run('fib', [10], { signal: c.signal })));
        assert.ok(results.every((r) => r === 55));
        assert.equal(getEventListeners(c.signal, 'abort').length, 0);
      });

    it('an aborted task that was rejected also removed its listener',
      async () => {
        const c = new AbortController();
        const p = settle(pool.run('spin', [5e6], { signal: c.signal }));
        await sleep(10);
        c.abort();
        assert.equal((await p).ok, false);
        assert.equal(getEventListeners(c.signal, 'abort').length, 0);
      });
  });

  it('aborts racing with completion: each promise settles once, value or reason',
    async () => {
      const N = 2000;
      const before = pool.stats();
      let resolvedRight = 0;
      let rejectedRight = 0;
      let wrong = 0;
      const settleCount = new Uint8Array(N);
      const tasks = [];
      for (let i = 0; i < N; i++) {
        const c = new AbortController();
        const reason = new Error(`reason ${i}`);
        tasks.push(pool.run('fib', [15], { signal: c.signal }).then((v) => {
          settleCount[i]++;
          if (v === 610) resolvedRight++;
          else wrong++;
        }, (e) => {
          settleCount[i]++;
          if (e === reason && i % 4 !== 3) rejectedRight++;
          else wrong++;
        }));
        switch (i % 4) {
          case 0: c.abort(reason); break; // queued (or just started)
          case 1: queueMicrotask(() => c.abort(reason)); break;
          case 2: setImmediate(() => c.abort(reason)); break;
          default: break; // never aborted
        }
      }
      await Promise.all(tasks);
      assert.equal(wrong, 0);
      assert.equal(resolvedRight + rejectedRight, N);
      assert.ok(settleCount.every((k) => k === 1));
      assert.ok(resolvedRight >= N / 4, 'the never-aborted quarter resolves');
      const after = pool.stats();
      assert.equal(after.submitted - before.submitted, N);
      assert.equal(after.completed - before.completed, resolvedRight);
      assert.equal(after.cancelled - before.cancelled, rejectedRight);
      assert.equal(after.pending, 0);
      await assertUsable();
    });

  it('aborting tasks while the pool closes: they reject, close resolves',
    async () => {
      const c = new AbortController();
      const tasks = [];
      for (let i = 0; i < 6; i++) {
        tasks.push(settle(pool.run('spin', [5e6], { signal: c.signal })));
      }
      const plain = pool.run('fib', [20]);
      const closing = pool.close();
      await sleep(20);
      c.abort('closing');
      const results = await Promise.all(tasks);
      assert.ok(results.every((r) => !r.ok && r.error === 'closing'));
      assert.equal(await plain, 6765);
      await closing;
      assert.equal(pool.closed, true);
    });

  it('copy-in arguments are released after an abort, not copied back',
    async () => {
      const used = pool.stats().heapUsed;
      const a = new Float64Array(64).fill(-1);
      const one = new penny.Pool({ threads: 1, arenaBytes: MiB });
      try {
        const busy = new AbortController();
        const blocker = settle(one.run('spin', [5e6], { signal: busy.signal }));
        const c = new AbortController();
        const usedOne = one.stats().heapUsed;
        const p = settle(one.run('fill', [a, 3], { signal: c.signal }));
        c.abort();
        busy.abort();
        const [, r] = await Promise.all([blocker, p]);
        assert.equal(r.ok, false);
        assert.ok(a.every((x) => x === -1), 'nothing copied back');
        assert.equal(one.stats().heapUsed, usedOne, 'copy released');
      } finally {
        await one.close();
      }
      assert.equal(pool.stats().heapUsed, used);
    });

  it('one signal shared by many tasks: one listener, every task aborted',
    async () => {
      const warnings = [];
      const onWarning = (w) => warnings.push(w);
      process.on('warning', onWarning);
      try {
        const ac = new AbortController();
        const tasks = Array.from({ length: 100 },
          () => settle(pool.run('spin', [5e6], { signal: ac.signal })));
        ac.abort(new Error('all of them'));
        const results = await Promise.all(tasks);
        assert.ok(results.every((r) => !r.ok &&
          r.error.message === 'all of them'));
        // Sequential reuse of a signal leaves no listener behind either.
        const again = new AbortController();
        for (let i = 0; i < 50; i++) {
          await pool.run('noop', [], { signal: again.signal });
        }
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(warnings.map((w) => w.name), []);
      } finally {
        process.off('warning', onWarning);
      }
    });
});
