'use strict';

// What bench/fork.js and bench/fork-scale.js share: the task module of
// examples/js-tasks, the mandelbrot's window (most of the set in the top
// half), the size of the merge sort, and Fibonacci numbers to check
// results against.

const path = require('node:path');
const { now, us } = require('./workloads');

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'js-tasks');
const TASKS = path.join(EXAMPLE, 'fork-tasks.js');
const SIDE = 1024;
// width, height, at most 1,000 iterations, [x0, x1] x [y0, y1]
const WINDOW = [SIDE, SIDE, 1000, -2.0, 0.6, -0.2, 1.4];
const SORT_N = 1e7;

function fibOf(n) {
  let a = 0;
  let b = 1;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

// Runs `name` on `pool` and checks its result; resolves to milliseconds.
async function timed(pool, name, args, expected) {
  const t0 = now();
  const got = await pool.run(name, args);
  const ms = us(t0, now()) / 1e3;
  if (got !== expected) throw new Error(`${name}: ${got}, not ${expected}`);
  return ms;
}

// The buffers of the mandelbrot and the merge sort, and timed runs of both
// that check their results (milliseconds):
//   mandel(draw)  draw(out) fills `out` with the image, by any means;
//   msort(pool)   the task module's merge sort on `pool`.
// `data` is the unsorted input, for a baseline to sort.
function sharedWorkloads() {
  const image = new Int32Array(new SharedArrayBuffer(4 * SIDE * SIDE));
  const check = new Int32Array(SIDE * SIDE);
  require(TASKS).mandelRows(0, SIDE, check, ...WINDOW);
  const x = new Float64Array(new SharedArrayBuffer(8 * SORT_N));
  const tmp = new Float64Array(new SharedArrayBuffer(8 * SORT_N));
  const data = new Float64Array(SORT_N);
  for (let i = 0; i < SORT_N; i++) data[i] = Math.random();
  const sorted = data.slice().sort();
  return {
    data,
    async mandel(draw) {
      image.fill(0);
      const t0 = now();
      await draw(image);
      const ms = us(t0, now()) / 1e3;
      if (!image.every((v, i) => v === check[i])) throw new Error('mandelbrot');
      return ms;
    },
    async msort(pool) {
      x.set(data);
      const t0 = now();
      await pool.run('sort', [x, tmp]);
      const ms = us(t0, now()) / 1e3;
      if (!x.every((v, i) => v === sorted[i])) throw new Error('merge sort');
      return ms;
    },
  };
}

module.exports = { EXAMPLE, TASKS, SIDE, WINDOW, fibOf, timed,
  sharedWorkloads };
