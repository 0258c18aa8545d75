'use strict';

// A smoke test of the package under another runtime's Node-API (Bun,
// Deno): kernels, the arena, a JS task pool with fork-join, abort, close.
// It prints one line per check and exits 1 if any failed. `.ci/run` runs
// it with `bun` and `deno run -A` before the whole mocha suite under each
// (`npm run test:bun`, `npm run test:deno`), as a quick first failure.

const assert = require('node:assert/strict');
const path = require('node:path');
const penny = require('../..');

const FORK = path.join(__dirname, '..', '..', 'examples', 'js-tasks',
  'fork-tasks.js');
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    console.log(`ok ${name}`);
  } catch (err) {
    failed++;
    console.log(`not ok ${name}: ${err?.stack ?? err}`);
  }
}

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

async function main() {
  await check('kernels and the arena', async () => {
    const pool = new penny.Pool({ threads: 2 });
    assert.equal(await pool.run('fib', [20]), 6765);
    const x = pool.alloc(Float64Array, 100000).fill(0.5);
    assert.equal(await pool.run('sum', [x]), 50000);
    const many = await Promise.all(Array.from({ length: 2000 },
      (_, i) => pool.run('fib', [i % 15])));
    assert.deepEqual(many, Array.from({ length: 2000 }, (_, i) => fib(i % 15)));
    await pool.close();
  });

  await check('abort', async () => {
    const pool = new penny.Pool({ threads: 1 });
    const ac = new AbortController();
    const run = pool.run('spin', [2000000], { signal: ac.signal });
    setTimeout(() => ac.abort(), 10);
    await assert.rejects(run, { name: 'AbortError' });
    await pool.close();
  });

  await check('JS tasks with join, spawn and parallelFor', async () => {
    const pool = new penny.Pool({ threads: 2, tasks: FORK });
    assert.equal(await pool.run('jfibCut', [25, 15]), fib(25));
    assert.equal(await pool.run('jfib', [15]), fib(15));
    const n = 200000;
    const x = new Float64Array(new SharedArrayBuffer(8 * n));
    const tmp = new Float64Array(new SharedArrayBuffer(8 * n));
    for (let i = 0; i < n; i++) x[i] = Math.random();
    const want = Float64Array.from(x).sort();
    await pool.run('sort', [x, tmp]);
    assert.ok(x.every((v, i) => v === want[i]));
    const side = 64;
    const img = new Int32Array(new SharedArrayBuffer(4 * side * side));
    await pool.run('mandelbrot', [img, side, side, 100, -2, 0.6, -0.2, 1.4]);
    const alone = new Int32Array(side * side);
    require(FORK).mandelRows(0, side, alone, side, side, 100, -2, 0.6, -0.2,
      1.4);
    assert.ok(img.every((v, i) => v === alone[i]));
    await pool.close();
  });

  console.log(failed === 0 ? 'smoke: all passed' : `smoke: ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main();
