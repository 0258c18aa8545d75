'use strict';

// Kernels whose input changes under them (CONVENTIONS 18): two tasks on
// one view, JavaScript rewriting a view while a kernel reads it, and views
// that overlap. The contents of the raced arrays are garbage afterwards and
// are not checked; what is checked is that every promise settles, that
// nothing outside the arrays a task was given changes (sentinel arrays
// allocated just before and after each one keep their pattern), that the
// process survives (a write outside the C scratch buffers crashes it, or
// trips ASan in `make test-addon-asan`), and that a run without a race on
// the same arrays afterwards is exact.

const assert = require('node:assert/strict');
const penny = require('../..');
const {
  MiB, TYPES, isBigType, fillRandom, histogramReference,
} = require('./fixtures/common');

const BLOCK = 65536; // BLOCK_MIN in src/kernels/sort.c: a radix block
const SENTINEL = 256; // bytes of pattern on each side

const pattern = (i) => (i * 151 + 7) & 255;

// Allocates a sentinel, `make()`'s arrays from the same heap, then another
// sentinel, so that the arrays under test lie between the two.
function guard(pool, make) {
  const lo = pool.alloc(Uint8Array, SENTINEL);
  const made = make();
  const hi = pool.alloc(Uint8Array, SENTINEL);
  for (let i = 0; i < SENTINEL; i++) lo[i] = hi[i] = pattern(i);
  return {
    ...made,
    check(what) {
      for (let i = 0; i < SENTINEL; i++) {
        if (lo[i] !== pattern(i) || hi[i] !== pattern(i)) {
          assert.fail(`${what}: a byte ${lo[i] !== pattern(i) ? 'before'
            : 'after'} the arrays changed (offset ${i})`);
        }
      }
    },
    free() {
      pool.free(lo);
      pool.free(hi);
    },
  };
}

const isFloat = (T) => T === Float32Array || T === Float64Array;

function assertSameOrder(got, want, what) {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i])) {
      assert.fail(`${what}: element ${i} is ${got[i]}, sort() gives ${
        want[i]}`);
    }
  }
}

// Rewrites every element of `x` with values that depend on `round`.
function scribble(x, round) {
  const n = x.length;
  if (isBigType(x.constructor)) {
    const signed = x instanceof BigInt64Array;
    for (let i = 0; i < n; i++) {
      const v = (BigInt((i * 2654435761 + round * 40503) >>> 0) << 32n) |
        BigInt(i);
      x[i] = signed ? BigInt.asIntN(64, v) : v;
    }
  } else if (isFloat(x.constructor)) {
    for (let i = 0; i < n; i++) {
      x[i] = ((i * 7919 + round * 104729) % 65521) - 32760.5;
    }
  } else {
    for (let i = 0; i < n; i++) x[i] = (i * 2654435761 + round * 40503) >>> 0;
  }
}

// Runs `promises` (already submitted) to the end while JavaScript keeps
// rewriting `x`, one sweep per turn of the event loop; returns the
// outcomes, which must all be settled.
async function whileScribbling(x, promises) {
  let done = false;
  const all = Promise.allSettled(promises).then((r) => {
    done = true;
    return r;
  });
  for (let round = 0; !done; round++) {
    scribble(x, round);
    await new Promise(setImmediate);
  }
  return all;
}

function assertFulfilled(outcomes, what) {
  for (const o of outcomes) {
    if (o.status !== 'fulfilled') {
      assert.fail(`${what}: a task rejected: ${o.reason && o.reason.stack}`);
    }
  }
}

describe('kernels whose input changes under them', function () {
  this.timeout(60000);
  let pool;
  before(() => {
    pool = new penny.Pool({ threads: 3, arenaBytes: 96 * MiB });
  });
  after(() => pool.close());

  // A sort without a race, on whatever the race left: exact.
  async function controlSort(x, what) {
    const want = x.slice().sort();
    await pool.run('sort', [x]);
    assertSameOrder(x, want, `${what}, then alone`);
  }

  // Ends a sort case: the view sorts correctly alone, nothing outside it
  // was touched, and its memory goes back.
  async function finishSort(g, what) {
    await controlSort(g.x, what);
    g.check(what);
    pool.free(g.x);
    g.free();
  }

  describe('sort', () => {
    // Sizes of one radix block, of three and of sixteen; the small ones
    // take many rounds, since a race there is over within microseconds.
    const SIZES = [1000, 4096, BLOCK + 1, 3 * BLOCK + 7, 16 * BLOCK + 3];
    const ROUNDS = [64, 64, 4, 4, 2];

    for (const Type of TYPES) {
      it(`${Type.name}: three sorts of the same view at once`, async () => {
        for (const [k, n] of SIZES.entries()) {
          const g = guard(pool, () => ({ x: pool.alloc(Type, n) }));
          const rounds = ROUNDS[k];
          for (let r = 0; r < rounds; r++) {
            fillRandom(g.x, 31 * n + r);
            const outcomes = await Promise.allSettled([
              pool.run('sort', [g.x]), pool.run('sort', [g.x]),
              pool.run('sort', [g.x]),
            ]);
            assertFulfilled(outcomes, `${Type.name} n=${n}`);
            g.check(`${Type.name} n=${n}`);
          }
          await finishSort(g, `${Type.name} n=${n}`);
        }
      });
    }

    for (const Type of [Int16Array, Uint32Array, BigInt64Array, Float32Array,
      Float64Array]) {
      it(`${Type.name}: a sort while JavaScript rewrites the view`,
        async () => {
          for (const n of [4096, 3 * BLOCK + 7]) {
            const g = guard(pool, () => ({ x: pool.alloc(Type, n) }));
            for (let r = 0; r < (n < BLOCK ? 24 : 6); r++) {
              fillRandom(g.x, 17 * n + r);
              const outcomes = await whileScribbling(g.x,
                [pool.run('sort', [g.x]), pool.run('sort', [g.x])]);
              assertFulfilled(outcomes, `${Type.name} n=${n}`);
              g.check(`${Type.name} n=${n}`);
            }
            await finishSort(g, `${Type.name} n=${n}`);
          }
        });
    }

    it('a sort while fill tasks, on this pool and another, write the view',
      async () => {
        const other = new penny.Pool({ threads: 2, arenaBytes: 1 * MiB });
        try {
          for (const Type of [Uint8Array, Int32Array, Float64Array]) {
            const n = 2 * BLOCK + 5;
            const g = guard(pool, () => ({ x: pool.alloc(Type, n) }));
            for (let r = 0; r < 4; r++) {
              fillRandom(g.x, 5 + r);
              const tasks = [];
              for (let k = 0; k < 24; k++) {
                if (k % 8 === 0) tasks.push(pool.run('sort', [g.x]));
                // The other pool takes the arena view as a foreign one.
                tasks.push((k % 2 ? other : pool).run('fill', [g.x, k * 37]));
              }
              assertFulfilled(await Promise.allSettled(tasks), Type.name);
              g.check(Type.name);
            }
            fillRandom(g.x, 99);
            await controlSort(g.x, Type.name);
            pool.free(g.x);
            g.free();
          }
        } finally {
          await other.close();
        }
      });

    it('overlapping views: a sort while another kernel writes the overlap',
      async () => {
        const n = 3 * BLOCK;
        const g = guard(pool, () => ({ all: pool.alloc(Float64Array, n) }));
        const { all } = g;
        const front = all.subarray(0, (2 * n) / 3);
        const back = all.subarray(n / 3);
        // The same bytes as 32-bit integers: other keys, another order.
        const ints = new Int32Array(all.buffer, all.byteOffset + 8 * (n / 4),
          n / 2);
        for (let r = 0; r < 6; r++) {
          fillRandom(all, 400 + r);
          const outcomes = await Promise.allSettled([
            pool.run('sort', [front]),
            pool.run('sort', [back]),
            pool.run('sort', [ints]),
            pool.run('scale', [back, -1.5]),
            pool.run('fill', [ints, 7]),
            pool.run('sort', [front]),
          ]);
          assertFulfilled(outcomes, `overlap round ${r}`);
          g.check(`overlap round ${r}`);
        }
        fillRandom(all, 500);
        await controlSort(front, 'front');
        await controlSort(ints, 'ints');
        g.check('overlap');
        pool.free(all);
        g.free();
      });
  });

  describe('other kernels', () => {
    for (const nbins of [16, 5000]) {
      it(`histogram into ${nbins} bins while the input is rewritten, and ` +
        'into counts that overlap the input', async () => {
        const n = 2 * BLOCK + 3;
        const g = guard(pool, () => ({
          x: pool.alloc(Float64Array, n),
          counts: pool.alloc(Uint32Array, nbins),
        }));
        for (let r = 0; r < 6; r++) {
          fillRandom(g.x, 600 + r);
          const outcomes = await whileScribbling(g.x, [
            pool.run('histogram', [g.x, g.counts, -40000, 40000]),
            pool.run('histogram', [g.x, g.counts, -1e6, 1e6]),
          ]);
          assertFulfilled(outcomes, `histogram round ${r}`);
          g.check(`histogram round ${r}`);
          // counts over the input's own bytes: every count it adds lands
          // in x, which the bins are computed from.
          const alias = new Uint32Array(g.x.buffer, g.x.byteOffset + 8 * 100,
            nbins);
          assertFulfilled(await Promise.allSettled([
            pool.run('histogram', [g.x, alias, -1e6, 1e6]),
            pool.run('histogram', [g.x, alias, 0, 1]),
          ]), `aliased histogram round ${r}`);
          g.check(`aliased histogram round ${r}`);
        }
        fillRandom(g.x, 700);
        await pool.run('histogram', [g.x, g.counts, -40000, 40000]);
        assert.deepEqual(g.counts,
          histogramReference(g.x, nbins, -40000, 40000));
        g.check('histogram');
        pool.free(g.x);
        pool.free(g.counts);
        g.free();
      });
    }

    it('histogram where hi - lo overflows counts as JavaScript does',
      async () => {
        // scale is 0, and (v - lo) * scale is NaN for v - lo = Infinity.
        const x = pool.alloc(Float64Array, 6);
        x.set([-1e308, 0, 1e308, 1.7e308, NaN, 5]);
        const counts = pool.alloc(Uint32Array, 3).fill(9);
        await pool.run('histogram', [x, counts, -1e308, 1.7e308]);
        assert.deepEqual(counts, histogramReference(x, 3, -1e308, 1.7e308));
        pool.free(x);
        pool.free(counts);
      });

    it('argmin and argmax give an index inside the array, scan and the ' +
      'reductions settle, while the input is rewritten', async () => {
      for (const Type of [Int8Array, Float32Array, Float64Array,
        BigUint64Array]) {
        const n = 2 * BLOCK + 9;
        const g = guard(pool, () => ({ x: pool.alloc(Type, n) }));
        for (let r = 0; r < 4; r++) {
          fillRandom(g.x, 800 + r);
          const outcomes = await whileScribbling(g.x, [
            pool.run('argmin', [g.x]), pool.run('argmax', [g.x]),
            pool.run('scan', [g.x]), pool.run('min', [g.x]),
            pool.run('sum', [g.x]), pool.run('dot', [g.x, g.x]),
            pool.run('scan', [g.x]),
          ]);
          assertFulfilled(outcomes, `${Type.name} round ${r}`);
          for (const o of outcomes.slice(0, 2)) {
            assert.ok(Number.isInteger(o.value) && o.value >= 0 && o.value < n,
              `${Type.name}: index ${o.value} outside [0, ${n})`);
          }
          g.check(`${Type.name} round ${r}`);
        }
        fillRandom(g.x, 900);
        const want = g.x.reduce((best, v, i, a) => (v < a[best] ? i : best),
          0);
        assert.equal(await pool.run('argmin', [g.x]), want);
        pool.free(g.x);
        g.free();
      }
    });

    it('element-wise kernels, gemm and mandelbrot with outputs that other ' +
      'tasks read and write', async () => {
      const n = BLOCK + 3;
      const g = guard(pool, () => ({
        a: pool.alloc(Float64Array, n),
        b: pool.alloc(Float64Array, n),
        iters: pool.alloc(Uint32Array, 96 * 64),
        A: pool.alloc(Float32Array, 40 * 24),
        B: pool.alloc(Float32Array, 24 * 36),
        C: pool.alloc(Float32Array, 40 * 36),
      }));
      const view = [96, 64, -2, -1.25, 0.75, 1.25, 300];
      for (let r = 0; r < 4; r++) {
        fillRandom(g.a, 1000 + r);
        fillRandom(g.b, 1100 + r);
        fillRandom(g.A, 1200 + r);
        fillRandom(g.B, 1300 + r);
        const outcomes = await whileScribbling(g.a, [
          pool.run('add', [g.a, g.b, g.b]), pool.run('mul', [g.b, g.a, g.a]),
          pool.run('axpy', [2, g.b, g.a]), pool.run('sqrt', [g.a, g.a]),
          pool.run('gemm', [g.A, g.B, g.C, 40, 36, 24]),
          pool.run('fill', [g.A, NaN]),
          pool.run('gemm', [g.A, g.B, g.C, 40, 36, 24]),
          pool.run('mandelbrot', [g.iters, ...view]),
          pool.run('mandelbrot', [g.iters, ...view]),
        ]);
        assertFulfilled(outcomes, `round ${r}`);
        g.check(`round ${r}`);
      }
      // Two identical mandelbrots write the same values: exact.
      const alone = new Uint32Array(96 * 64);
      await pool.run('mandelbrot', [alone, ...view]);
      assert.deepEqual(g.iters, alone);
      g.check('element-wise');
      for (const k of ['a', 'b', 'iters', 'A', 'B', 'C']) pool.free(g[k]);
      g.free();
    });
  });
});
