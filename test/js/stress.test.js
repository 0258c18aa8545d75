'use strict';

// Many concurrent tasks: every one settles with the right result.

const assert = require('node:assert/strict');
const penny = require('../..');
const { MiB } = require('./fixtures/common');

describe('10^5 concurrent tasks', () => {
  let pool;
  beforeEach(() => {
    pool = new penny.Pool({ threads: 4, arenaBytes: 4 * MiB });
  });
  afterEach(() => pool.close());

  it('a mix of noop, fib(10) and sum over an arena view all settle right',
    async () => {
      const N = 1e5;
      const view = pool.alloc(Float64Array, 64);
      for (let i = 0; i < view.length; i++) view[i] = i * 0.5; // sum 1008
      const before = pool.stats();
      const promises = new Array(N);
      for (let i = 0; i < N; i++) {
        switch (i % 3) {
          case 0: promises[i] = pool.run('noop'); break;
          case 1: promises[i] = pool.run('fib', [10]); break;
          default: promises[i] = pool.run('sum', [view]); break;
        }
      }
      assert.equal(pool.stats().pending, N);
      const results = await Promise.allSettled(promises);
      let bad = 0;
      let firstBad;
      for (let i = 0; i < N; i++) {
        const r = results[i];
        const want = [undefined, 55, 1008][i % 3];
        if (r.status !== 'fulfilled' || r.value !== want) {
          bad++;
          if (firstBad === undefined) {
            firstBad = `task ${i}: ${r.status} ${r.status === 'fulfilled'
              ? r.value : r.reason}, expected ${want}`;
          }
        }
      }
      assert.equal(bad, 0, firstBad);
      const after = pool.stats();
      assert.equal(after.submitted, before.submitted + N);
      assert.equal(after.completed, before.completed + N);
      assert.equal(after.failed, before.failed);
      assert.equal(after.cancelled, before.cancelled);
      assert.equal(after.pending, 0);
      pool.free(view);
    });

  it('submitting from continuations keeps every chain going', async () => {
    // 100 chains of 500 dependent tasks each: submissions happen inside
    // the completion callback's continuations.
    const chain = async (k) => {
      let acc = 0;
      for (let i = 0; i < 500; i++) acc += await pool.run('fib', [(k + i) % 12]);
      return acc;
    };
    const fibs = [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89];
    const expect = (k) => {
      let acc = 0;
      for (let i = 0; i < 500; i++) acc += fibs[(k + i) % 12];
      return acc;
    };
    const results = await Promise.all(Array.from({ length: 100 }, (_, k) =>
      chain(k)));
    results.forEach((r, k) => assert.equal(r, expect(k), `chain ${k}`));
  });

  it('10^4 tasks on ordinary (copied) arrays: right results, heap restored',
    async () => {
      const used = pool.stats().heapUsed;
      const N = 1e4;
      const inputs = [];
      const outputs = [];
      const promises = [];
      for (let i = 0; i < N; i++) {
        const a = new Int32Array(64);
        for (let j = 0; j < a.length; j++) a[j] = i + j;
        inputs.push(a);
        promises.push(pool.run('sum', [a]));
        const out = new Float32Array(48);
        outputs.push(out);
        promises.push(pool.run('fill', [out, i]));
      }
      const results = await Promise.all(promises);
      for (let i = 0; i < N; i++) {
        assert.equal(results[2 * i], 64 * i + 2016, `sum ${i}`);
        assert.equal(results[2 * i + 1], undefined);
        assert.ok(outputs[i].every((x) => x === i), `fill ${i}`);
      }
      assert.equal(pool.stats().heapUsed, used);
    });

  it('many arena views alive at once, one task each', async () => {
    const N = 2000;
    const views = [];
    for (let i = 0; i < N; i++) views.push(pool.alloc(Uint16Array, 100));
    await Promise.all(views.map((v, i) => pool.run('fill', [v, i])));
    const sums = await Promise.all(views.map((v) => pool.run('sum', [v])));
    sums.forEach((s, i) => assert.equal(s, 100 * i, `view ${i}`));
    for (const v of views) pool.free(v);
    assert.equal(pool.stats().heapUsed, 0);
  });
});
