'use strict';

// Element-wise kernels against a plain JavaScript loop over the same typed
// arrays: every element type each kernel accepts, edge sizes around the
// chunk size, special values, aliasing, and the argument checks.

const assert = require('node:assert/strict');
const penny = require('../..');
const {
  MiB, TYPES, isBigType, prng, fillRandom, assertRunRejects,
} = require('./fixtures/common');

const GRAIN = 8192; // MAP_GRAIN in src/kernels/map.c
const SIZES = [0, 1, 2, 7, GRAIN - 1, GRAIN, GRAIN + 1];
const FLOATS = [Float32Array, Float64Array];
const SIGNED = [Int8Array, Int16Array, Int32Array, BigInt64Array];

// Special values for each kind of array, spliced into the random data.
function specials(Type) {
  if (Type === Float32Array || Type === Float64Array) {
    return [NaN, 0, -0, Infinity, -Infinity, 1, -1, 0.5, 1e-310, 3e38,
      -3e38, 2 ** 31, -(2 ** 31)];
  }
  if (isBigType(Type)) {
    return [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 7n,
      -7n];
  }
  return [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1, 127, -128, 255,
    32767, -32768, 65535];
}

function makeArray(Type, n, seed, shared) {
  const buffer = shared ? new SharedArrayBuffer(n * Type.BYTES_PER_ELEMENT)
    : new ArrayBuffer(n * Type.BYTES_PER_ELEMENT);
  const x = fillRandom(new Type(buffer), seed);
  const sp = specials(Type);
  // A special at every 3rd position at first, then sparser.
  for (let i = 0, k = 0; i < n; i += i < 64 ? 3 : 997, k++) {
    x[i] = sp[k % sp.length];
  }
  return x;
}

// Two arrays are equal element for element, -0 and NaN included; `ulps`
// allows that many units in the last place (exp and log only).
function assertSameArray(got, want, what, ulps = 0) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Object.is(g, w)) continue;
    if (ulps > 0 && typeof g === 'number' && Number.isFinite(w) &&
        Math.abs(g - w) <= ulps * ulp(w, got)) {
      continue;
    }
    assert.fail(`${what}: element ${i} is ${g}, a JS loop gives ${w}`);
  }
}

function ulp(v, array) {
  const eps = array instanceof Float32Array ? 2 ** -23 : 2 ** -52;
  const min = array instanceof Float32Array ? 2 ** -149 : 2 ** -1074;
  return Math.max(Math.abs(v) * eps, min);
}

// JavaScript's answer for one element, stored into an array of `Type`.
const BIG_DIV = (a, b) => (b === 0n ? null : a / b);
const REF = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b, big) => (big ? BIG_DIV(a, b) : a / b),
};

describe('element-wise kernels', function () {
  this.timeout(60000);
  let pool;
  before(() => { pool = new penny.Pool({ threads: 3, arenaBytes: 64 * MiB }); });
  after(() => pool.close());

  for (const op of ['add', 'sub', 'mul', 'div']) {
    describe(op, () => {
      for (const Type of TYPES) {
        it(`${Type.name}: every size, against a JS loop`, async () => {
          const big = isBigType(Type);
          for (const n of SIZES) {
            const a = makeArray(Type, n, 11 + n, true);
            const b = makeArray(Type, n, 29 + n, true);
            if (big && op === 'div') {
              for (let i = 0; i < n; i++) if (b[i] === 0n) b[i] = 3n;
            }
            const c = new Type(new SharedArrayBuffer(a.byteLength));
            await pool.run(op, [a, b, c]);
            const want = new Type(n);
            for (let i = 0; i < n; i++) want[i] = REF[op](a[i], b[i], big);
            assertSameArray(c, want, `${op} ${Type.name} n=${n}`);
          }
        });
      }
    });
  }

  it('add on 10^6 elements of every type, through copies and the arena',
    async () => {
      for (const Type of TYPES) {
        const n = 1e6;
        const a = pool.alloc(Type, n);
        a.set(makeArray(Type, n, 5));
        const b = makeArray(Type, n, 6); // ordinary: copied in
        const c = new Type(n);           // ordinary: copied back
        await pool.run('add', [a, b, c]);
        const want = new Type(n);
        for (let i = 0; i < n; i++) want[i] = a[i] + b[i];
        assertSameArray(c, want, `add ${Type.name} 10^6`);
        pool.free(a);
      }
    });

  it('c may be a or b, and then matches a loop that writes in place',
    async () => {
      for (const Type of [Int16Array, Float64Array, BigUint64Array]) {
        const a = makeArray(Type, 1000, 1, true);
        const b = makeArray(Type, 1000, 2, true);
        const want = new Type(1000);
        for (let i = 0; i < 1000; i++) want[i] = a[i] * b[i];
        await pool.run('mul', [a, b, a]);
        assertSameArray(a, want, `mul ${Type.name} into a`);
        const x = makeArray(Type, 1000, 3);      // ordinary, passed twice
        const y = makeArray(Type, 1000, 4, true);
        const want2 = new Type(1000);
        for (let i = 0; i < 1000; i++) want2[i] = x[i] - y[i];
        await pool.run('sub', [x, y, x]);
        assertSameArray(x, want2, `sub ${Type.name} into an ordinary a`);
      }
    });

  it('refuses mismatched types or lengths and partial overlaps', async () => {
    const s = new SharedArrayBuffer(800);
    const f = new Float64Array(s);
    await assertRunRejects(() => pool.run('add', [f, f, new Float32Array(100)]),
      TypeError, 'ERR_PENNY_ARG', /same element type and length/);
    await assertRunRejects(() => pool.run('add',
      [f, f.subarray(0, 50), f.subarray(0, 50)]), TypeError, 'ERR_PENNY_ARG',
    /same element type and length/);
    await assertRunRejects(() => pool.run('add',
      [f.subarray(0, 50), f.subarray(0, 50), f.subarray(1, 51)]), TypeError,
    'ERR_PENNY_ARG', /must not overlap/);
    await assertRunRejects(() => pool.run('sqrt',
      [f.subarray(0, 50), f.subarray(10, 60)]), TypeError, 'ERR_PENNY_ARG',
    /must not overlap/);
    // Nothing was written by the refused calls.
    assert.ok(f.every((v) => v === 0));
  });

  it('a BigInt division by zero fails the task; INT64_MIN / -1 wraps',
    async () => {
      const a = new BigInt64Array(new SharedArrayBuffer(16));
      const b = new BigInt64Array(new SharedArrayBuffer(16));
      const c = new BigInt64Array(new SharedArrayBuffer(16));
      a.set([-(2n ** 63n), 5n]);
      b.set([-1n, 0n]);
      await assertRunRejects(() => pool.run('div', [a, b, c]), Error,
        'ERR_PENNY_KERNEL');
      b[1] = 2n;
      await pool.run('div', [a, b, c]);
      assert.deepEqual([...c], [-(2n ** 63n), 2n]);
    });

  for (const op of ['sqrt', 'exp', 'log']) {
    it(`${op}: float arrays against Math.${op}, y may be x`, async () => {
      for (const Type of FLOATS) {
        for (const n of SIZES) {
          const x = makeArray(Type, n, 7 + n, true);
          const y = new Type(new SharedArrayBuffer(x.byteLength));
          await pool.run(op, [x, y]);
          const want = new Type(n);
          for (let i = 0; i < n; i++) want[i] = Math[op](x[i]);
          // sqrt is correctly rounded everywhere; exp and log come from
          // the C library here and from V8's fdlibm port in JS.
          assertSameArray(y, want, `${op} ${Type.name} n=${n}`,
            op === 'sqrt' ? 0 : 1);
          await pool.run(op, [x, x]);
          assertSameArray(x, want, `${op} ${Type.name} in place`,
            op === 'sqrt' ? 0 : 1);
        }
      }
    });

    it(`${op}: refuses integer arrays`, async () => {
      for (const Type of TYPES.filter((T) => !FLOATS.includes(T))) {
        await assertRunRejects(() => pool.run(op, [new Type(4), new Type(4)]),
          TypeError, 'ERR_PENNY_ARG', /Float32Array or a Float64Array/);
      }
    });
  }

  it('abs: floats and signed integers like Math.abs and a store', async () => {
    for (const Type of [...FLOATS, ...SIGNED]) {
      for (const n of SIZES) {
        const x = makeArray(Type, n, 3 + n, true);
        const y = new Type(new SharedArrayBuffer(x.byteLength));
        await pool.run('abs', [x, y]);
        const want = new Type(n);
        for (let i = 0; i < n; i++) {
          want[i] = isBigType(Type) ? (x[i] < 0n ? -x[i] : x[i])
            : Math.abs(x[i]);
        }
        assertSameArray(y, want, `abs ${Type.name} n=${n}`);
      }
    }
    for (const Type of [Uint8Array, Uint16Array, Uint32Array, BigUint64Array]) {
      await assertRunRejects(() => pool.run('abs', [new Type(2), new Type(2)]),
        TypeError, 'ERR_PENNY_ARG', /signed integer/);
    }
  });

  it('scale: x *= a for every type', async () => {
    const rand = prng(99);
    for (const Type of TYPES) {
      const big = isBigType(Type);
      for (const n of SIZES) {
        const x = makeArray(Type, n, 17 + n, true);
        const a = big ? Math.floor(rand() * 2e6) - 1e6 : (rand() - 0.5) * 1e3;
        const want = Type.from(x);
        for (let i = 0; i < n; i++) want[i] = big ? want[i] * BigInt(a) : want[i] * a;
        await pool.run('scale', [x, a]);
        assertSameArray(x, want, `scale ${Type.name} n=${n} a=${a}`);
      }
    }
    await assertRunRejects(() => pool.run('scale', [new BigInt64Array(2), 0.5]),
      TypeError, 'ERR_PENNY_ARG', /integer/);
  });

  it('axpy: y += a * x for every type', async () => {
    const rand = prng(7);
    for (const Type of TYPES) {
      const big = isBigType(Type);
      for (const n of SIZES) {
        const x = makeArray(Type, n, 41 + n, true);
        const y = makeArray(Type, n, 43 + n, true);
        const a = big ? Math.floor(rand() * 2e3) - 1e3 : (rand() - 0.5) * 10;
        const want = Type.from(y);
        for (let i = 0; i < n; i++) {
          want[i] = big ? want[i] + BigInt(a) * x[i] : want[i] + a * x[i];
        }
        await pool.run('axpy', [a, x, y]);
        assertSameArray(y, want, `axpy ${Type.name} n=${n}`);
      }
    }
    await assertRunRejects(() => pool.run('axpy',
      [1, new Float64Array(3), new Float32Array(3)]), TypeError,
    'ERR_PENNY_ARG', /same element type/);
  });

  it('a map is cancelled between chunks', async () => {
    const one = new penny.Pool({ threads: 1, arenaBytes: 64 * MiB });
    try {
      const n = 4e6;
      const x = one.alloc(Float64Array, n).fill(4);
      const blocker = one.run('spin', [50000]);
      const ac = new AbortController();
      const p = one.run('sqrt', [x, x], { signal: ac.signal });
      ac.abort();
      await assert.rejects(p, { name: 'AbortError' });
      await blocker;
      assert.ok(x.every((v) => v === 4), 'cancelled while queued: untouched');
    } finally {
      await one.close();
    }
  });
});
