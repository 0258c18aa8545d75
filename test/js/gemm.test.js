'use strict';

// gemm against the JavaScript triple loop: exact for Float64Array (same
// order of additions), within float rounding for Float32Array.

const assert = require('node:assert/strict');
const penny = require('../..');
const { MiB, fillRandom, assertRunRejects } = require('./fixtures/common');

function reference(Type, A, B, m, n, k) {
  const C = new Type(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += A[i * k + p] * B[p * n + j];
      C[i * n + j] = s;
    }
  }
  return C;
}

describe('gemm', function () {
  this.timeout(60000);
  let pool;
  before(() => { pool = new penny.Pool({ threads: 3, arenaBytes: 32 * MiB }); });
  after(() => pool.close());

  // Around the register block (4 rows by 8 doubles or 16 floats), the row
  // chunk (16 to 128 rows), the panel depth (128) and width (512 doubles,
  // 1024 floats): tails in rows, columns and depth.
  const shapes = [[0, 0, 0], [1, 1, 1], [3, 0, 5], [0, 4, 2], [2, 3, 0],
    [7, 5, 3], [16, 16, 16], [17, 33, 129], [37, 530, 131], [64, 513, 257],
    [1, 13, 7], [3, 33, 5], [5, 7, 129], [13, 17, 1], [33, 513, 3],
    [129, 9, 257], [7, 1025, 2], [130, 24, 20], [4, 8, 128], [513, 16, 13]];
  for (const Type of [Float64Array, Float32Array]) {
    for (const [m, n, k] of shapes) {
      it(`${Type.name} ${m}x${k} times ${k}x${n}`, async () => {
        const A = fillRandom(pool.alloc(Type, m * k), m + 1);
        const B = fillRandom(pool.alloc(Type, k * n), n + 2);
        for (let i = 0; i < A.length; i++) A[i] = Math.fround(A[i] / 1e3);
        for (let i = 0; i < B.length; i++) B[i] = Math.fround(B[i] / 1e3);
        const C = pool.alloc(Type, m * n).fill(NaN); // out: overwritten
        await pool.run('gemm', [A, B, C, m, n, k]);
        const want = reference(Type, A, B, m, n, k);
        if (Type === Float64Array) {
          assert.deepEqual(C, want);
        } else {
          for (let i = 0; i < C.length; i++) {
            // Float accumulation: k roundings of the row's magnitude.
            let mag = 0;
            const r = Math.floor(i / n);
            const j = i % n;
            for (let p = 0; p < k; p++) mag += Math.abs(A[r * k + p] * B[p * n + j]);
            assert.ok(Math.abs(C[i] - want[i]) <= (k + 2) * 2 ** -24 * mag,
              `C[${i}] = ${C[i]}, a loop gives ${want[i]}`);
          }
        }
        pool.free(A);
        pool.free(B);
        pool.free(C);
      });
    }
  }

  // Bit for bit, signed zeros and non-finite values included: a sum starts
  // from +0, so products of -0 give +0; overflow gives infinities, and
  // their sum of opposite signs NaN (any NaN matches a NaN).
  for (const [m, n, k] of [[5, 19, 3], [9, 17, 133], [33, 40, 7], [6, 520, 129]]) {
    it(`Float64Array ${m}x${k} times ${k}x${n} with -0, NaN and infinities`, async () => {
      const special = [-0, 0, NaN, Infinity, -Infinity, 1e300, -1e300, 5e-324];
      const A = fillRandom(pool.alloc(Float64Array, m * k), m + k);
      const B = fillRandom(pool.alloc(Float64Array, k * n), n + k);
      for (let i = 0; i < A.length; i += 7) A[i] = special[i % special.length];
      for (let i = 3; i < B.length; i += 11) B[i] = special[i % special.length];
      // A row of -0 times anything finite: every product is -0.
      A.fill(-0, 0, k);
      const C = pool.alloc(Float64Array, m * n).fill(NaN);
      await pool.run('gemm', [A, B, C, m, n, k]);
      const want = reference(Float64Array, A, B, m, n, k);
      for (let i = 0; i < C.length; i++) {
        assert.ok(Object.is(C[i], want[i]),
          `C[${i}] = ${Object.is(C[i], -0) ? '-0' : C[i]}, a loop gives ${want[i]}`);
      }
      pool.free(A);
      pool.free(B);
      pool.free(C);
    });
  }

  it('refuses wrong types, sizes and overlapping C', async () => {
    const f = (n) => new Float64Array(new SharedArrayBuffer(8 * n));
    await assertRunRejects(() => pool.run('gemm',
      [new Int32Array(4), new Int32Array(4), new Int32Array(4), 2, 2, 2]),
    TypeError, 'ERR_PENNY_ARG', /Float32Array or a Float64Array/);
    await assertRunRejects(() => pool.run('gemm',
      [f(4), new Float32Array(4), f(4), 2, 2, 2]), TypeError, 'ERR_PENNY_ARG',
    /same element type/);
    await assertRunRejects(() => pool.run('gemm', [f(4), f(4), f(5), 2, 2, 2]),
      RangeError, 'ERR_PENNY_RANGE', /m \* n/);
    await assertRunRejects(() => pool.run('gemm', [f(4), f(4), f(4), -2, -2, 1]),
      RangeError, 'ERR_PENNY_RANGE', /negative/);
    const AC = f(8);
    await assertRunRejects(() => pool.run('gemm',
      [AC.subarray(0, 4), f(4), AC.subarray(2, 6), 2, 2, 2]), TypeError,
    'ERR_PENNY_ARG', /overlap/);
  });
});
