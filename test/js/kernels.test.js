'use strict';

// The built-in kernels against plain-JS references.

const assert = require('node:assert/strict');
const penny = require('../..');
const {
  MiB, TYPES, isBigType, fillRandom, referenceSum, loopSum,
} = require('./fixtures/common');

function jsFib(n) {
  let a = 0;
  let b = 1;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

// Where an argument can live: in the arena (pool.alloc), in a separate
// SharedArrayBuffer (zero-copy), in an ordinary ArrayBuffer (copied).
const LAYOUTS = ['arena', 'shared', 'ordinary'];

function place(pool, layout, Type, n) {
  if (layout === 'arena') return pool.alloc(Type, n);
  if (layout === 'shared') {
    return new Type(new SharedArrayBuffer(n * Type.BYTES_PER_ELEMENT));
  }
  return new Type(n);
}

function release(pool, layout, view) {
  if (layout === 'arena') pool.free(view);
}

// Compares element by element (Object.is: NaN equals NaN, -0 differs
// from 0) and reports the first mismatch.
function assertSameElements(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${
        expected[i]}`);
    }
  }
}

describe('kernel fib', () => {
  let pool;
  before(() => {
    pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
  });
  after(() => pool.close());

  it('fib(0..25) matches the JS reference exactly, one at a time', async () => {
    for (let n = 0; n <= 25; n++) {
      assert.equal(await pool.run('fib', [n]), jsFib(n), `fib(${n})`);
    }
  });

  it('fib(0..25) all at once, by name and by index', async () => {
    const idx = pool.kernels.fib.index;
    const ns = Array.from({ length: 26 }, (_, n) => n);
    const byName = await Promise.all(ns.map((n) => pool.run('fib', [n])));
    const byIndex = await Promise.all(ns.map((n) => pool.run(idx, [n])));
    const expected = ns.map(jsFib);
    assert.deepEqual(byName, expected);
    assert.deepEqual(byIndex, expected);
  });

  it('fib(30) = 832040 (about 1.6 million forks)', async () => {
    assert.equal(await pool.run('fib', [30]), 832040);
  });

  it('gives the same result on 1, 3 and 4 threads', async () => {
    for (const threads of [1, 3, 4]) {
      const p = new penny.Pool({ threads, arenaBytes: 4 * MiB });
      try {
        const r = await Promise.all([22, 23, 24].map((n) => p.run('fib', [n])));
        assert.deepEqual(r, [17711, 28657, 46368], `${threads} threads`);
      } finally {
        await p.close();
      }
    }
  });
});

describe('kernel sum', () => {
  const SIZES = [0, 1, 2, 7, 4095, 4096, 4097, 1e6];
  const MAX = SIZES[SIZES.length - 1];
  let pool;
  before(() => {
    // 10^6 f64 elements must fit in the arena.
    pool = new penny.Pool({ threads: 2, arenaBytes: 16 * MiB });
  });
  after(() => pool.close());

  TYPES.forEach((Type, t) => {
    describe(Type.name, () => {
      let data; // MAX random elements; each size uses a prefix
      before(function () {
        this.timeout(30000);
        data = fillRandom(new Type(MAX), 1000 + t);
      });

      for (const n of SIZES) {
        it(`n = ${n}, in the arena, a SharedArrayBuffer and an ordinary buffer`,
          async () => {
            const src = data.subarray(0, n);
            let check;
            if (isBigType(Type)) {
              // BigInt arrays sum exactly, to a BigInt.
              let exact = 0n;
              for (let i = 0; i < n; i++) exact += src[i];
              check = (got, where) => assert.equal(got, exact, where);
            } else if (Type === Float32Array || Type === Float64Array) {
              const { sum: ref, abs } = referenceSum(src);
              check = (got, where) => {
                assert.equal(typeof got, 'number');
                assert.ok(Math.abs(got - ref) <= 1e-12 * abs,
                  `${where}: got ${got}, expected ${ref} (+- ${1e-12 * abs})`);
              };
            } else {
              const ref = loopSum(src);
              assert.ok(Number.isSafeInteger(ref));
              check = (got, where) => assert.equal(got, ref, where);
            }
            for (const layout of LAYOUTS) {
              const v = place(pool, layout, Type, n);
              v.set(src);
              const got = await pool.run('sum', [v]);
              check(got, layout);
              // `in` parameter: the input is left as it was.
              assert.equal(v.length, n);
              if (n > 0) {
                assert.equal(v[0], src[0]);
                assert.equal(v[n - 1], src[n - 1]);
              }
              release(pool, layout, v);
            }
          });
      }
    });
  });

  it('sums 64-bit integers exactly, to a BigInt',
    async () => {
      const n = 10000;
      const a = new BigInt64Array(new SharedArrayBuffer(8 * n));
      const b = new BigUint64Array(new SharedArrayBuffer(8 * n));
      let ea = 0;
      let eb = 0;
      for (let i = 0; i < n; i++) {
        const x = (i * 7919) % 2 ** 20 - 2 ** 19;
        a[i] = BigInt(x) * 1000n;
        b[i] = BigInt(Math.abs(x)) * 1000n;
        ea += x * 1000;
        eb += Math.abs(x) * 1000;
      }
      assert.equal(await pool.run('sum', [a]), BigInt(ea));
      assert.equal(await pool.run('sum', [b]), BigInt(eb));
    });

  it('BigUint64 values above 2^63 are summed as unsigned', async () => {
    const v = new BigUint64Array([2n ** 64n - 1n, 2n ** 63n]);
    assert.equal(await pool.run('sum', [v]), 2n ** 64n - 1n + 2n ** 63n);
    const s = new BigInt64Array([-(2n ** 63n), 2n ** 62n]);
    assert.equal(await pool.run('sum', [s]), -(2n ** 62n));
  });

  it('propagates NaN and infinities', async () => {
    assert.ok(Number.isNaN(await pool.run('sum',
      [new Float64Array([1, NaN, 2])])));
    assert.equal(await pool.run('sum', [new Float64Array([1, Infinity])]),
      Infinity);
    assert.equal(await pool.run('sum', [new Float32Array([-Infinity, 5])]),
      -Infinity);
    assert.ok(Number.isNaN(await pool.run('sum',
      [new Float64Array([Infinity, -Infinity])])));
  });

  it('sums a subarray with an offset only over its own range', async () => {
    const base = new Int16Array(new SharedArrayBuffer(2 * 10000));
    base.fill(1000);
    const sub = base.subarray(3, 9003); // odd byte offset 6
    sub.fill(2);
    assert.equal(await pool.run('sum', [sub]), 18000);
    const plain = new Float64Array(100).fill(1);
    plain.subarray(10, 20).fill(5);
    assert.equal(await pool.run('sum', [plain.subarray(10, 20)]), 50);
    assert.equal(await pool.run('sum', [plain.subarray(15, 30)]), 35);
  });

  it('sums many arrays concurrently', async () => {
    const arrays = [];
    for (let i = 0; i < 200; i++) {
      const n = (i * 37) % 9000;
      const v = new Float64Array(new SharedArrayBuffer(8 * n));
      for (let j = 0; j < n; j++) v[j] = j % 13;
      arrays.push(v);
    }
    const results = await Promise.all(arrays.map((v) => pool.run('sum', [v])));
    results.forEach((r, i) => assert.equal(r, loopSum(arrays[i]), `array ${i}`));
  });
});

describe('kernel fill', () => {
  // Values chosen to hit every conversion rule: truncation toward zero,
  // modular wrap-around at each width, NaN / infinities to 0 for integers,
  // float32 rounding and overflow, -0.
  const VALUES = [
    0, -0, 1, -1, 0.5, -0.5, 1.5, -1.5, 2.5, -2.7, 0.1, 127, 128, -128, -129,
    255, 256, 257, 32767, 32768, -32769, 65535, 65536, 70000.9,
    2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32,
    2 ** 32 + 5, -(2 ** 32) - 5, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 63,
    -(2 ** 63), 2 ** 64, 2 ** 64 + 4096, -(2 ** 64), 2 ** 65 + 2 ** 13,
    1.2345e19, -1.2345e19, 1e20, -1e20, 1e300, -1e300, 3.4028234663852886e38,
    3.5e38, 1e-45, 1.5e-45, Number.MAX_VALUE, -Number.MAX_VALUE,
    Number.MIN_VALUE, Number.EPSILON, Math.PI, NaN, Infinity, -Infinity,
  ];

  function expectedBig(Type, n, v) {
    const e = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
    const x = Type === BigInt64Array ? BigInt.asIntN(64, e)
      : BigInt.asUintN(64, e);
    return new Type(n).fill(x);
  }

  const expected = (Type, n, v) => (isBigType(Type) ? expectedBig(Type, n, v)
    : new Type(n).fill(v));

  let pool;
  before(() => {
    pool = new penny.Pool({ threads: 2, arenaBytes: 8 * MiB });
  });
  after(() => pool.close());

  for (const Type of TYPES) {
    it(`${Type.name}: every special value, stored as JS stores it`,
      async () => {
        const n = 9;
        const used = pool.stats().heapUsed;
        for (const layout of LAYOUTS) {
          const views = VALUES.map(() => {
            const v = place(pool, layout, Type, n);
            fillRandom(v, 7); // non-zero garbage: a fill of 0 must show
            return v;
          });
          try {
            const results = await Promise.all(VALUES.map((value, i) =>
              pool.run('fill', [views[i], value])));
            assert.ok(results.every((r) => r === undefined));
            // Collect every wrong value, so one run shows them all.
            const wrong = [];
            VALUES.forEach((value, i) => {
              try {
                assertSameElements(views[i], expected(Type, n, value),
                  `fill(${Object.is(value, -0) ? '-0' : value})`);
              } catch (err) {
                wrong.push(err.message);
              }
            });
            assert.deepEqual(wrong, [], `${Type.name} in the ${layout} ` +
              `layout:\n  ${wrong.join('\n  ')}`);
          } finally {
            for (const v of views) release(pool, layout, v);
          }
        }
        assert.equal(pool.stats().heapUsed, used);
      });

    it(`${Type.name}: sizes 0, 1, 4095, 4097 and 100003, every element written`,
      async () => {
        for (const n of [0, 1, 4095, 4097, 100003]) {
          for (const layout of LAYOUTS) {
            const v = place(pool, layout, Type, n);
            fillRandom(v, n);
            const value = -1234567.75;
            try {
              await pool.run('fill', [v, value]);
              assertSameElements(v, expected(Type, n, value),
                `${Type.name} ${layout} n=${n}`);
            } finally {
              release(pool, layout, v);
            }
          }
        }
      });
  }

  it('fills 10^6 elements in parallel without touching neighbours',
    async () => {
      const n = 1e6;
      const sab = new SharedArrayBuffer(8 * (n + 16));
      const all = new Float64Array(sab).fill(-7);
      const v = new Float64Array(sab, 8 * 8, n);
      await pool.run('fill', [v, 0.25]);
      for (let i = 0; i < 8; i++) assert.equal(all[i], -7);
      for (let i = 8; i < 8 + n; i++) {
        if (all[i] !== 0.25) assert.fail(`element ${i - 8} is ${all[i]}`);
      }
      for (let i = 8 + n; i < all.length; i++) assert.equal(all[i], -7);
    });

  it('fill then sum round-trips', async () => {
    const v = pool.alloc(Int32Array, 5000);
    try {
      await pool.run('fill', [v, 2 ** 32 + 9]);
      assert.equal(await pool.run('sum', [v]), 45000);
      await pool.run('fill', [v, -3]);
      assert.equal(await pool.run('sum', [v]), -15000);
    } finally {
      pool.free(v);
    }
  });
});

describe('kernel spin and noop', () => {
  let pool;
  before(() => {
    pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
  });
  after(() => pool.close());

  it('spin resolves to undefined and counts as completed', async () => {
    const before = pool.stats();
    const r = await Promise.all([0, 1, 100, 1000, 0.5].map((us) =>
      pool.run('spin', [us])));
    assert.deepEqual(r, [undefined, undefined, undefined, undefined,
      undefined]);
    const after = pool.stats();
    assert.equal(after.completed, before.completed + 5);
    assert.equal(after.failed, before.failed);
  });

  it('spin keeps its task pending while it runs', async () => {
    const p = pool.run('spin', [50000]);
    assert.equal(pool.stats().pending, 1);
    assert.equal(await p, undefined);
    assert.equal(pool.stats().pending, 0);
  });

  it('noop resolves to undefined', async () => {
    const r = await Promise.all(Array.from({ length: 100 }, () =>
      pool.run('noop')));
    assert.ok(r.every((x) => x === undefined));
  });
});
