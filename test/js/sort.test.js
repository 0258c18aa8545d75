'use strict';

// sort against TypedArray.prototype.sort(): the same order exactly (NaN
// last, -0 before +0), which also makes it a permutation of the input.

const assert = require('node:assert/strict');
const penny = require('../..');
const { MiB, TYPES, isBigType, fillRandom } = require('./fixtures/common');

const BLOCK = 65536; // BLOCK_MIN in src/kernels/sort.c
const SIZES = [0, 1, 2, 7, 1000, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 7];

function specials(Type) {
  if (Type === Float32Array || Type === Float64Array) {
    return [NaN, -NaN, 0, -0, Infinity, -Infinity, 1e-310, -1e-310, 1, -1];
  }
  if (isBigType(Type)) return [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 1n];
  return [0, -1, 1, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1, 127, -128];
}

function assertSameOrder(got, want, what) {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i])) {
      assert.fail(`${what}: element ${i} is ${got[i]}, sort() gives ${want[i]}`);
    }
  }
}

describe('sort', function () {
  this.timeout(60000);
  let pool;
  before(() => { pool = new penny.Pool({ threads: 3, arenaBytes: 32 * MiB }); });
  after(() => pool.close());

  for (const Type of TYPES) {
    it(`${Type.name}: the order of TypedArray.prototype.sort()`, async () => {
      for (const n of SIZES) {
        const x = fillRandom(pool.alloc(Type, n), 900 + n);
        const sp = specials(Type);
        for (let i = 0; i < n; i += 1 + (i % 13)) x[i] = sp[i % sp.length];
        const want = Type.from(x).sort();
        await pool.run('sort', [x]);
        assertSameOrder(x, want, `${Type.name} n=${n}`);
        pool.free(x);
      }
    });
  }

  it('narrow ranges, sorted and reversed input, and all-equal arrays',
    async () => {
      for (const Type of [Int32Array, Float64Array, BigUint64Array]) {
        const one = (v) => (isBigType(Type) ? BigInt(v) : v);
        const n = 2 * BLOCK + 3;
        const cases = [
          Type.from({ length: n }, (_, i) => one(i % 3)),
          Type.from({ length: n }, (_, i) => one(i)),
          Type.from({ length: n }, (_, i) => one(n - i)),
          Type.from({ length: n }, () => one(5)),
        ];
        for (const c of cases) {
          const x = pool.alloc(Type, n);
          x.set(c);
          await pool.run('sort', [x]);
          assertSameOrder(x, c.slice().sort(), Type.name);
          pool.free(x);
        }
      }
    });

  it('an ordinary array is sorted through copy-in and copy-back', async () => {
    const x = fillRandom(new Float32Array(5000), 4);
    const want = x.slice().sort();
    await pool.run('sort', [x]);
    assertSameOrder(x, want, 'copy');
  });

  it('a sort cancelled while queued leaves the array untouched', async () => {
    const one = new penny.Pool({ threads: 1, arenaBytes: 64 * MiB });
    try {
      const x = fillRandom(one.alloc(Float64Array, 1e6), 8);
      const before = x.slice();
      const blocker = one.run('spin', [50000]);
      const ac = new AbortController();
      const p = one.run('sort', [x], { signal: ac.signal });
      ac.abort();
      await assert.rejects(p, { name: 'AbortError' });
      await blocker;
      assertSameOrder(x, before, 'untouched');
    } finally {
      await one.close();
    }
  });

  it('a sort aborted while it runs leaves a permutation of the array',
    async () => {
      const one = new penny.Pool({ threads: 1, arenaBytes: 64 * MiB });
      try {
        const x = one.alloc(Float64Array, 1e6);
        // Delays that land in the first pass's count (which maps elements
        // to keys), in later passes, and in the last pass (which maps
        // them back), or after the end: the sort takes tens of ms.
        for (const delay of [0, 1, 2, 5, 10, 20, 40]) {
          fillRandom(x, 77 + delay);
          for (let i = 0; i < x.length; i += 101) x[i] = i % 2 ? -0 : NaN;
          const want = x.slice().sort();
          const ac = new AbortController();
          const p = one.run('sort', [x], { signal: ac.signal });
          setTimeout(() => ac.abort(), delay);
          try {
            await p;
          } catch (err) {
            assert.equal(err.name, 'AbortError');
          }
          assertSameOrder(x.slice().sort(), want, `aborted after ${delay} ms`);
        }
      } finally {
        await one.close();
      }
    });
});
