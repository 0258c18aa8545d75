'use strict';

// Fork-join in JavaScript: tasks that split their own work with
// penny/task's join and parallelFor (fork-tasks.js), each run on a Pool
// and on the main thread alone, with both times printed:
//   1. fib(n) with a join at every level above 20;
//   2. a mandelbrot image whose rows differ widely in cost, parallelFor
//      over its rows; and, if piscina is installed, piscina running the
//      image's two halves on two threads, the way a pool without nested
//      tasks splits it;
//   3. a parallel merge sort of a Float64Array over a SharedArrayBuffer,
//      against Float64Array.prototype.sort.
//
//   node examples/js-tasks/fork.js [scale]    (scale defaults to 1)
//
// scale 1 is fib(36), a 1024 x 1024 image and 10^7 doubles; smaller
// scales shrink all three (the tests run 0.1).

const path = require('node:path');
const { Pool } = require('../..'); // in your project: require('penny')
const tasks = require('./fork-tasks');

const TASKS = path.join(__dirname, 'fork-tasks.js');

function ms(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function line(what, penny, other, otherName) {
  console.log(`${what}: Penny ${penny.toFixed(0)} ms, ${otherName} ${
    other.toFixed(0)} ms (${(other / penny).toFixed(2)}x)`);
}

// piscina, if the project has it: it runs each half as a task of its own.
function loadPiscina() {
  try {
    return require('piscina').Piscina;
  } catch {
    return null;
  }
}

async function main() {
  const scale = Number(process.argv[2] ?? 1);
  if (!(scale > 0 && scale <= 1)) {
    throw new RangeError(`scale must be in (0, 1], got ${process.argv[2]}`);
  }
  const pool = new Pool({ tasks: TASKS });
  // Starting the threads (each loads the module) is not part of the work.
  let t0 = process.hrtime.bigint();
  await pool.run('jfibCut', [22, 20]);
  console.log(`${pool.threads} threads, started in ${ms(t0).toFixed(0)} ms`);
  let same = true;

  // 1. fib with join.
  const n = Math.round(26 + 10 * scale);
  t0 = process.hrtime.bigint();
  const f = await pool.run('jfibCut', [n, 20]);
  const tPenny = ms(t0);
  t0 = process.hrtime.bigint();
  const f0 = tasks.fib(n);
  line(`fib(${n})`, tPenny, ms(t0), 'main thread');
  same &&= f === f0;

  // 2. Mandelbrot over a window whose top half holds most of the set.
  const side = Math.max(64, Math.round(1024 * Math.sqrt(scale)));
  const win = [side, side, 1000, -2.0, 0.6, -0.2, 1.4];
  const image = new Int32Array(new SharedArrayBuffer(4 * side * side));
  t0 = process.hrtime.bigint();
  await pool.run('mandelbrot', [image, ...win]);
  const tMandel = ms(t0);
  const alone = new Int32Array(side * side);
  t0 = process.hrtime.bigint();
  tasks.mandelRows(0, side, alone, ...win);
  line(`mandelbrot ${side}x${side}`, tMandel, ms(t0), 'main thread');
  same &&= image.every((v, i) => v === alone[i]);
  const Piscina = loadPiscina();
  if (Piscina) {
    const piscina = new Piscina({
      filename: path.join(__dirname, 'piscina-rows.js'),
      minThreads: pool.threads, maxThreads: pool.threads,
    });
    const parts = pool.threads;
    const halves = new Int32Array(new SharedArrayBuffer(4 * side * side));
    await piscina.run({ lo: 0, hi: 1, out: halves, win }); // start-up
    t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: parts }, (_, i) => piscina.run({
      lo: Math.floor(i * side / parts),
      hi: Math.floor((i + 1) * side / parts),
      out: halves,
      win,
    })));
    line(`mandelbrot ${side}x${side}`, tMandel, ms(t0),
      `piscina in ${parts} equal parts`);
    same &&= halves.every((v, i) => v === alone[i]);
    await piscina.destroy();
  }

  // 3. Merge sort of shared doubles.
  const len = Math.round(1e7 * scale);
  const x = new Float64Array(new SharedArrayBuffer(8 * len));
  const tmp = new Float64Array(new SharedArrayBuffer(8 * len));
  const plain = new Float64Array(len);
  for (let i = 0; i < len; i++) plain[i] = x[i] = Math.random();
  t0 = process.hrtime.bigint();
  await pool.run('sort', [x, tmp]);
  const tSort = ms(t0);
  t0 = process.hrtime.bigint();
  plain.sort();
  line(`sort of ${len.toLocaleString('en-US')} doubles`, tSort, ms(t0),
    'Float64Array.prototype.sort');
  same &&= x.every((v, i) => v === plain[i]);

  console.log(`same results: ${same}`);
  await pool.close();
  if (!same) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
