'use strict';

// Reductions against plain JavaScript references for every element type:
// exact integer results (BigInt for BigInt arrays), Math.min/Math.max
// semantics (NaN, -0, empty), first-index argmin/argmax, and float sums
// at least as accurate as a left-to-right loop.

const assert = require('node:assert/strict');
const penny = require('../..');
const {
  MiB, TYPES, isBigType, prng, fillRandom, assertRunRejects,
} = require('./fixtures/common');

const LEAF = 8192; // LEAF in src/kernels/reduce.c
const SIZES = [0, 1, 2, 7, 127, 129, LEAF - 1, LEAF, LEAF + 1, 3 * LEAF + 5];
const isFloat = (T) => T === Float32Array || T === Float64Array;

function shared(Type, n, seed) {
  return fillRandom(new Type(new SharedArrayBuffer(n * Type.BYTES_PER_ELEMENT)),
    seed);
}

// Shewchuk's exact summation (as Python's math.fsum), for error sizes.
function fsum(values) {
  const partials = [];
  for (let x of values) {
    let i = 0;
    for (let y of partials) {
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo) partials[i++] = lo;
      x = hi;
    }
    partials.length = i;
    partials.push(x);
  }
  let s = 0;
  for (let k = partials.length - 1; k >= 0; k--) s += partials[k];
  return s;
}

function loopSum(values) {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

const exactSum = (x) => x.reduce((s, v) => s + BigInt(v), 0n);
const exactDot = (a, b) => a.reduce((s, v, i) => s + BigInt(v) * BigInt(b[i]), 0n);

function refExtreme(x, min) {
  if (x.length === 0) return min ? Infinity : -Infinity;
  if (isBigType(x.constructor)) {
    let r = x[0];
    for (const v of x) if (min ? v < r : v > r) r = v;
    return r;
  }
  let r = min ? Infinity : -Infinity;
  for (const v of x) r = min ? Math.min(r, v) : Math.max(r, v);
  return r;
}

function refArg(x, min) {
  if (x.length === 0) return -1;
  const m = refExtreme(x, min);
  for (let i = 0; i < x.length; i++) if (Object.is(x[i], m)) return i;
  return -2; // cannot happen
}

describe('reductions', function () {
  this.timeout(60000);
  let pool;
  before(() => { pool = new penny.Pool({ threads: 3, arenaBytes: 64 * MiB }); });
  after(() => pool.close());

  for (const Type of TYPES) {
    it(`sum, min, max, argmin, argmax and dot over ${Type.name}`, async () => {
      for (const n of SIZES) {
        const x = shared(Type, n, 100 + n);
        const y = shared(Type, n, 200 + n);
        const what = `${Type.name} n=${n}`;
        const [sum, min, max, argmin, argmax, dot] = await Promise.all([
          pool.run('sum', [x]), pool.run('min', [x]), pool.run('max', [x]),
          pool.run('argmin', [x]), pool.run('argmax', [x]),
          pool.run('dot', [x, y])]);
        assert.ok(Object.is(min, refExtreme(x, true)), `min ${what}`);
        assert.ok(Object.is(max, refExtreme(x, false)), `max ${what}`);
        assert.equal(argmin, refArg(x, true), `argmin ${what}`);
        assert.equal(argmax, refArg(x, false), `argmax ${what}`);
        if (isBigType(Type)) {
          assert.equal(sum, exactSum(x), `sum ${what}`);
          assert.equal(dot, exactDot(x, y), `dot ${what}`);
        } else if (!isFloat(Type)) {
          assert.equal(sum, Number(exactSum(x)), `sum ${what}`);
          assert.equal(dot, Number(exactDot(x, y)), `dot ${what}`);
        } else {
          // Pairwise summation's error bound: about (16 + log2 n) roundings
          // of the sum of magnitudes, where a loop's is n - 1 of them.
          const values = [...x];
          const products = values.map((v, i) => v * y[i]);
          const k = 24 + Math.ceil(Math.log2(Math.max(n, 1)));
          for (const [got, vals, name] of
            [[sum, values, 'sum'], [dot, products, 'dot']]) {
            const exact = fsum(vals);
            const mag = vals.reduce((a, v) => a + Math.abs(v), 0);
            assert.ok(Math.abs(got - exact) <= k * 2 ** -53 * mag,
              `${name} ${what}: ${got}, exact ${exact}`);
          }
        }
      }
    });
  }

  it('float special values: NaN wins, -0 is below +0, infinities add up',
    async () => {
      for (const Type of [Float32Array, Float64Array]) {
        const x = new Type(new SharedArrayBuffer(Type.BYTES_PER_ELEMENT * 6));
        x.set([3, 0, -0, 7, -0, 2]);
        assert.ok(Object.is(await pool.run('min', [x]), -0));
        assert.equal(await pool.run('argmin', [x]), 2);
        x.set([-0, 0, -0, -1, 0, -3]);
        assert.ok(Object.is(await pool.run('max', [x]), 0));
        assert.equal(await pool.run('argmax', [x]), 1);
        x.set([1, Infinity, 2, -5, 3, 4]);
        assert.equal(await pool.run('sum', [x]), Infinity);
        assert.equal(await pool.run('argmax', [x]), 1);
        x[4] = NaN;
        for (const k of ['sum', 'min', 'max']) {
          assert.ok(Number.isNaN(await pool.run(k, [x])), `${k} with NaN`);
        }
        assert.equal(await pool.run('argmin', [x]), 4);
        assert.equal(await pool.run('argmax', [x]), 4);
        x.set([Infinity, -Infinity, 0, 0, 0, 0]);
        assert.ok(Number.isNaN(await pool.run('sum', [x])));
      }
    });

  it('float sums are more accurate than a loop on ill-conditioned data',
    async () => {
      const n = 1 << 20;
      const x = new Float64Array(new SharedArrayBuffer(8 * n));
      const rand = prng(5);
      for (let i = 0; i < n; i++) x[i] = (rand() - 0.5) * 10 ** (rand() * 12);
      const exact = fsum(x);
      const got = await pool.run('sum', [x]);
      const loopErr = Math.abs(loopSum(x) - exact);
      assert.ok(Math.abs(got - exact) <= loopErr,
        `pairwise error ${Math.abs(got - exact)} vs loop ${loopErr}`);
    });

  it('exact integer results beyond 2^53 and 2^64', async () => {
    const big = new BigInt64Array(new SharedArrayBuffer(8 * 1000));
    big.fill(2n ** 63n - 1n);
    assert.equal(await pool.run('sum', [big]), 1000n * (2n ** 63n - 1n));
    assert.equal(await pool.run('dot', [big, big]),
      1000n * (2n ** 63n - 1n) ** 2n);
    const u = new BigUint64Array(new SharedArrayBuffer(8 * 3));
    u.set([2n ** 64n - 1n, 2n ** 64n - 1n, 1n]);
    assert.equal(await pool.run('sum', [u]), 2n * (2n ** 64n - 1n) + 1n);
    assert.equal(await pool.run('max', [u]), 2n ** 64n - 1n);
    const u32 = new Uint32Array(new SharedArrayBuffer(4 * 3 * LEAF)).fill(2 ** 32 - 1);
    assert.equal(await pool.run('dot', [u32, u32]),
      Number(BigInt(3 * LEAF) * (2n ** 32n - 1n) ** 2n));
  });

  it('BigInt results count as completed tasks in stats()', async () => {
    const big = new BigInt64Array(new SharedArrayBuffer(8 * 4)).fill(-3n);
    const before = pool.stats();
    assert.equal(await pool.run('sum', [big]), -12n);
    assert.equal(await pool.run('max', [big]), -3n);
    const after = pool.stats();
    assert.equal(after.completed - before.completed, 2);
    assert.equal(after.failed, before.failed);
  });

  it('dot refuses mismatched types or lengths', async () => {
    await assertRunRejects(() => pool.run('dot',
      [new Float64Array(4), new Float32Array(4)]), TypeError, 'ERR_PENNY_ARG',
    /same element type and length/);
    await assertRunRejects(() => pool.run('dot',
      [new Int8Array(4), new Int8Array(5)]), TypeError, 'ERR_PENNY_ARG',
    /same element type and length/);
  });

  it('a reduction is cancelled while queued, and its promise rejects',
    async () => {
      const one = new penny.Pool({ threads: 1, arenaBytes: 64 * MiB });
      try {
        const x = one.alloc(Float64Array, 4e6).fill(1);
        const blocker = one.run('spin', [50000]);
        const ac = new AbortController();
        const p = one.run('sum', [x], { signal: ac.signal });
        ac.abort();
        await assert.rejects(p, { name: 'AbortError' });
        await blocker;
        assert.equal(await one.run('sum', [x]), 4e6);
      } finally {
        await one.close();
      }
    });

  it('integer sums of 10^6 elements are exact for every type', async () => {
    for (const Type of TYPES.filter((T) => !isFloat(T))) {
      const x = shared(Type, 1e6, 77);
      const want = isBigType(Type) ? exactSum(x) : Number(exactSum(x));
      assert.equal(await pool.run('sum', [x]), want, Type.name);
    }
  });
});
