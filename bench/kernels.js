'use strict';

// The kernel library against the same work in single-thread JavaScript,
// with its baselines in the same process (medians of interleaved reps):
//   sum of 10^7 doubles        memory bandwidth (GB/s) and ratio to a loop
//   sqrt of 10^7 doubles       an element-wise map against a loop
//   sort of 10^7 doubles       against Float64Array.prototype.sort()
//   gemm 1024^3 f64            GFLOP/s against a JS triple loop
//   mandelbrot 1024^2, 1000    2 workers against 1, and against the same
//                              work split into 2 static halves
// Prints a table and writes JSON (default build/bench/kernels.json).
//
//   node bench/kernels.js [--reps N] [--json FILE]

const fs = require('node:fs');
const path = require('node:path');
const penny = require('..');

const { option: opt } = require('./options');
const reps = Number(opt('--reps', 5));
const jsonPath = opt('--json', path.join(__dirname, '..', 'build', 'bench',
  'kernels.json'));

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
async function ms(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

// The JS baselines, as top-level functions that V8 optimises as it would
// in an application (closures created per rep would not be).
function jsSum(x) {
  let t = 0;
  for (let i = 0; i < x.length; i++) t += x[i];
  return t;
}

function jsSqrt(x, y) {
  for (let i = 0; i < x.length; i++) y[i] = Math.sqrt(x[i]);
}

function jsGemm(A, B, C, m) {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let t = 0;
      for (let p = 0; p < m; p++) t += A[i * m + p] * B[p * m + j];
      C[i * m + j] = t;
    }
  }
}

async function main() {
  const pool = new penny.Pool({ arenaBytes: 512 * 1024 * 1024 });
  const one = new penny.Pool({ threads: 1, arenaBytes: 8 * 1024 * 1024 });
  const rows = [];
  const N = 1e7;

  // sum and sqrt
  const x = pool.alloc(Float64Array, N);
  const y = pool.alloc(Float64Array, N);
  const px = new Float64Array(N);
  const py = new Float64Array(N);
  for (let i = 0; i < N; i++) px[i] = x[i] = (i % 1000) * 0.37;
  jsSum(px); // warm up
  jsSqrt(px, py);
  const s = { penny: [], js: [] };
  const q = { penny: [], js: [] };
  // Three times the reps: each takes milliseconds, and on a 2-CPU machine
  // the scheduler now and then parks both workers on one CPU for the
  // first few milliseconds of a task.
  for (let r = 0; r < 3 * reps; r++) {
    s.penny.push(await ms(() => pool.run('sum', [x])));
    s.js.push(await ms(() => jsSum(px)));
    q.penny.push(await ms(() => pool.run('sqrt', [x, y])));
    q.js.push(await ms(() => jsSqrt(px, py)));
  }
  rows.push(['sum 1e7 f64', median(s.penny), median(s.js),
    `${(8 * N / median(s.penny) / 1e6).toFixed(1)} GB/s`]);
  rows.push(['sqrt 1e7 f64', median(q.penny), median(q.js), '']);

  // sort
  const data = new Float64Array(N);
  for (let i = 0; i < N; i++) data[i] = Math.sin(i * 12.9898) * 43758.5453;
  const so = { penny: [], js: [] };
  for (let r = 0; r < Math.min(reps, 3); r++) {
    x.set(data);
    so.penny.push(await ms(() => pool.run('sort', [x])));
    px.set(data);
    so.js.push(await ms(() => px.sort()));
  }
  rows.push(['sort 1e7 f64', median(so.penny), median(so.js), '']);

  // gemm: Penny at 1024^3; the JS triple loop once (it takes seconds)
  const M = 1024;
  const A = pool.alloc(Float64Array, M * M);
  const B = pool.alloc(Float64Array, M * M);
  const C = pool.alloc(Float64Array, M * M);
  for (let i = 0; i < M * M; i++) { A[i] = (i % 7) * 0.5; B[i] = (i % 11) * 0.25; }
  const g = [];
  for (let r = 0; r < reps; r++) g.push(await ms(() => pool.run('gemm', [A, B, C, M, M, M])));
  const pA = Float64Array.from(A);
  const pB = Float64Array.from(B);
  const pC = new Float64Array(M * M);
  jsGemm(pA, pB, pC, 64); // warm up
  const gjs = await ms(() => jsGemm(pA, pB, pC, M));
  for (let i = 0; i < M * M; i += 4099) {
    if (pC[i] !== C[i]) throw new Error(`gemm differs at ${i}`);
  }
  const flops = 2 * M ** 3;
  rows.push(['gemm 1024^3 f64', median(g), gjs,
    `${(flops / median(g) / 1e6).toFixed(2)} vs ${(flops / gjs / 1e6).toFixed(2)} GFLOP/s`]);

  // mandelbrot: 2 workers, 1 worker, and 2 static halves on 2 workers
  const W = 1024;
  // Off-centre, so that the static halves get unequal work.
  const view = [-2, -0.5, 0.5, 1.5];
  const it2 = pool.alloc(Uint32Array, W * W);
  const it1 = one.alloc(Uint32Array, W * W);
  const two = new penny.Pool({ threads: 1, arenaBytes: 8 * 1024 * 1024 });
  const other = two.alloc(Uint32Array, W * W / 2);
  const m = { two: [], one: [], halves: [] };
  for (let r = 0; r < reps; r++) {
    m.two.push(await ms(() => pool.run('mandelbrot', [it2, W, W, ...view, 1000])));
    m.one.push(await ms(() => one.run('mandelbrot', [it1, W, W, ...view, 1000])));
    // Static halves: each half of the rows on its own one-thread pool,
    // both at once, as a fixed split over two threads would run.
    const top = it1.subarray(0, W * W / 2);
    const bottom = other.subarray(0, W * W / 2);
    const ym = (view[1] + view[3]) / 2;
    m.halves.push(await ms(() => Promise.all([
      one.run('mandelbrot', [top, W, W / 2, view[0], view[1], view[2], ym, 1000]),
      two.run('mandelbrot', [bottom, W, W / 2, view[0], ym, view[2], view[3], 1000]),
    ])));
  }
  rows.push(['mandelbrot, 2 workers vs 1', median(m.two), median(m.one),
    `2 static halves: ${median(m.halves).toFixed(1)} ms`]);

  await pool.close();
  await one.close();
  await two.close();

  console.log(`penny ${require('../package.json').version}, ${pool.threads} threads, ` +
    `node ${process.version}, ${reps} reps (medians; ${3 * reps} for sum ` +
    'and sqrt, 3 for sort)\n');
  console.log('| workload | penny ms | baseline ms | ratio | note |');
  console.log('|---|---|---|---|---|');
  for (const [name, p, b, note] of rows) {
    console.log(`| ${name} | ${p.toFixed(1)} | ${b.toFixed(1)} | ` +
      `${(b / p).toFixed(2)}x | ${note} |`);
  }
  console.log('\nbaselines: a single-thread JS loop, Float64Array.prototype.sort(), ' +
    'a JS triple loop, and Penny on 1 worker for mandelbrot');
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  fs.writeFileSync(jsonPath, JSON.stringify({
    date: new Date().toISOString(), node: process.version, reps,
    rows: rows.map(([name, p, b, note]) => ({ name, penny: p, baseline: b, note })),
  }, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
