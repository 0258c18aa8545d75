'use strict';

// mandelbrot against the JavaScript loop it documents, pixel for pixel.

const assert = require('node:assert/strict');
const penny = require('../..');
const { MiB, assertRunRejects } = require('./fixtures/common');

const { jsMandelbrot } = require('../../examples/demo');

// The JavaScript loop the kernel must match exactly.
function reference(width, height, x0, y0, x1, y1, maxIter) {
  const out = new Uint32Array(width * height);
  jsMandelbrot(out, width, height, x0, y0, x1, y1, maxIter);
  return out;
}

describe('mandelbrot', function () {
  this.timeout(60000);
  let pool;
  before(() => { pool = new penny.Pool({ threads: 3, arenaBytes: 16 * MiB }); });
  after(() => pool.close());

  const views = [
    [256, 192, -2.5, -1.25, 1, 1.25, 200],   // the whole set
    [97, 61, -0.75, 0.05, -0.73, 0.07, 500], // a detail, odd sizes
    [1, 1, 0, 0, 1, 1, 10],
    [0, 5, 0, 0, 1, 1, 10],
    [64, 64, -2, -2, 2, 2, 0],               // maxIter 0: all zero
  ];
  for (const [w, h, x0, y0, x1, y1, maxIter] of views) {
    it(`${w}x${h} over [${x0}, ${x1}] x [${y0}, ${y1}], maxIter ${maxIter}`,
      async () => {
        const iters = pool.alloc(Uint32Array, w * h).fill(12345);
        await pool.run('mandelbrot', [iters, w, h, x0, y0, x1, y1, maxIter]);
        assert.deepEqual(iters, reference(w, h, x0, y0, x1, y1, maxIter));
        pool.free(iters);
      });
  }

  it('an ordinary array works through copy-back', async () => {
    const iters = new Uint32Array(40 * 30);
    await pool.run('mandelbrot', [iters, 40, 30, -2, -1.5, 1, 1.5, 100]);
    assert.deepEqual(iters, reference(40, 30, -2, -1.5, 1, 1.5, 100));
  });

  it('refuses a size mismatch, negative sizes and infinite bounds',
    async () => {
      const iters = new Uint32Array(new SharedArrayBuffer(4 * 100));
      await assertRunRejects(() => pool.run('mandelbrot',
        [iters, 10, 11, 0, 0, 1, 1, 10]), RangeError, 'ERR_PENNY_RANGE',
      /width \* height/);
      await assertRunRejects(() => pool.run('mandelbrot',
        [iters, -10, -10, 0, 0, 1, 1, 10]), RangeError, 'ERR_PENNY_RANGE',
      /negative/);
      await assertRunRejects(() => pool.run('mandelbrot',
        [iters, 10, 10, 0, 0, Infinity, 1, 10]), RangeError,
      'ERR_PENNY_RANGE', /finite/);
      await assertRunRejects(() => pool.run('mandelbrot',
        [iters, 10, 10, 0, 0, 1, 1, 1.5]), TypeError, 'ERR_PENNY_ARG',
      /maxIter/);
    });

  it('is cancelled between rows', async () => {
    const iters = pool.alloc(Uint32Array, 1000 * 1000);
    const ac = new AbortController();
    const p = pool.run('mandelbrot',
      [iters, 1000, 1000, -0.75, -0.1, -0.74, 0.1, 1e6], { signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    await assert.rejects(p, { name: 'AbortError' });
    pool.free(iters);
  });
});
