'use strict';

// scan and histogram against plain JavaScript loops, for every element
// type, at sizes around the chunk size.

const assert = require('node:assert/strict');
const penny = require('../..');
const {
  MiB, TYPES, isBigType, fillRandom, histogramReference, assertRunRejects,
} = require('./fixtures/common');

const CHUNK = 16384; // CHUNK in src/kernels/scan.c
const SIZES = [0, 1, 2, 7, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17];
const isFloat = (T) => T === Float32Array || T === Float64Array;

function shared(Type, n, seed) {
  return fillRandom(new Type(new SharedArrayBuffer(n * Type.BYTES_PER_ELEMENT)),
    seed);
}

describe('scan', function () {
  this.timeout(60000);
  let pool;
  before(() => { pool = new penny.Pool({ threads: 3, arenaBytes: 16 * MiB }); });
  after(() => pool.close());

  for (const Type of TYPES) {
    it(`${Type.name}: inclusive prefix sums in place, as a loop`, async () => {
      for (const n of SIZES) {
        const x = shared(Type, n, 300 + n);
        if (isFloat(Type)) for (let i = 0; i < n; i++) x[i] = (i % 17) - 8 + x[i] * 1e-6;
        const want = Type.from(x);
        for (let i = 1; i < n; i++) want[i] += want[i - 1];
        await pool.run('scan', [x]);
        const what = `${Type.name} n=${n}`;
        if (!isFloat(Type)) {
          // Wrapping integer sums are associative: exactly the loop's.
          assert.deepEqual([...x], [...want], what);
        } else {
          // Floats: only the rounding differs (offsets sum in another
          // order); compare against the magnitude of the running sums.
          let mag = 0;
          for (let i = 0; i < n; i++) {
            mag += Math.abs(want[i] - (i ? want[i - 1] : 0));
            const tol = (Type === Float32Array ? 2 ** -20 : 2 ** -48) * (mag + 1);
            assert.ok(Math.abs(x[i] - want[i]) <= tol,
              `${what} element ${i}: ${x[i]} vs ${want[i]}`);
          }
        }
      }
    });
  }

  it('a NaN or an infinity carries forward as in a loop', async () => {
    const x = new Float64Array(new SharedArrayBuffer(8 * 3 * CHUNK)).fill(1);
    x[5] = NaN;
    x[CHUNK + 3] = Infinity;
    await pool.run('scan', [x]);
    assert.equal(x[4], 5);
    assert.ok(x.subarray(5).every(Number.isNaN));
  });
});

describe('histogram', function () {
  this.timeout(60000);
  let pool;
  before(() => { pool = new penny.Pool({ threads: 3, arenaBytes: 16 * MiB }); });
  after(() => pool.close());

  for (const Type of TYPES) {
    it(`${Type.name}: counts as a loop, for few and many bins`, async () => {
      for (const n of [0, 1, 7, 40000, 100003]) {
        const x = shared(Type, n, 500 + n);
        if (isFloat(Type) && n > 10) {
          x[3] = NaN;
          x[4] = -0;
          x[5] = Infinity;
        }
        const range = isBigType(Type) ? [-4e18, 4e18]
          : isFloat(Type) ? [-1e5, 1e5] : [-1e9, 3e9];
        for (const nbins of [1, 10, 4096, 4097, 100000]) {
          const counts = new Uint32Array(new SharedArrayBuffer(4 * nbins))
            .fill(7); // out: overwritten
          await pool.run('histogram', [x, counts, range[0], range[1]]);
          assert.deepEqual(counts,
            histogramReference(x, nbins, range[0], range[1]),
            `${Type.name} n=${n} bins=${nbins}`);
        }
      }
    });
  }

  it('the top edge: hi is excluded, values just below it land in the last bin',
    async () => {
      const x = new Float64Array(new SharedArrayBuffer(8 * 4));
      x.set([0, 1 - 2 ** -53, 1, 0.5]);
      const counts = new Uint32Array(new SharedArrayBuffer(4 * 3));
      await pool.run('histogram', [x, counts, 0, 1]);
      assert.deepEqual([...counts], [1, 1, 1]);
    });

  it('refuses empty counts, bad ranges and a non-Uint32Array', async () => {
    const x = new Float64Array(4);
    await assertRunRejects(() => pool.run('histogram',
      [x, new Uint32Array(0), 0, 1]), RangeError, 'ERR_PENNY_RANGE', /bin/);
    for (const [lo, hi] of [[1, 1], [2, 1], [NaN, 1], [0, Infinity]]) {
      await assertRunRejects(() => pool.run('histogram',
        [x, new Uint32Array(4), lo, hi]), RangeError, 'ERR_PENNY_RANGE',
      /lo and hi/);
    }
    await assertRunRejects(() => pool.run('histogram',
      [x, new Int32Array(4), 0, 1]), TypeError, 'ERR_PENNY_ARG', /counts/);
  });
});
