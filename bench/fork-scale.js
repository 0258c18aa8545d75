'use strict';

// JS tasks from 1 thread to many: one task pool per thread count, all made
// up front, with the task module of examples/js-tasks (fork-tasks.js); each
// rep runs every workload on every pool in turn (the order of the pools
// alternates), so drift in the machine's speed is shared by all counts.
//   jfibCut(36, 20)  fib with a join at every level above n = 20;
//   mandelbrot       1024 x 1024, 1,000 iterations at most, parallelFor
//                    over the rows (the unbalanced window of bench/fork.js);
//   merge sort       10^7 shared doubles, join for halves and merges;
//   burst            20,000 tiny tasks, fib(1), submitted at once
//                    from the main thread (tasks/s: the submitting thread's
//                    limit, not the pool's).
// Every result is checked. Prints medians and T1/Tp, writes JSON (default
// build/bench/fork-scale.json).
//
//   node bench/fork-scale.js [--threads 1,2,4,8,16] [--reps N] [--json FILE]

const fs = require('node:fs');
const path = require('node:path');
const penny = require('..');
const { median, burst } = require('./addon/workloads');
const { option } = require('./options');

const counts = option('--threads', '1,2,4,8,16').split(',').map(Number);
const reps = Number(option('--reps', 5));
const jsonPath = option('--json', path.join(__dirname, '..', 'build', 'bench',
  'fork-scale.json'));

const { TASKS, SIDE, WINDOW, fibOf, timed, sharedWorkloads } =
  require('./addon/fork-workloads');
const FIB_N = 36;
const FIB_CUT = 20;

async function main() {
  if (!counts.every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`--threads wants counts like 1,2,4, not ${counts}`);
  }
  const pools = counts.map((threads) => new penny.Pool({ threads,
    tasks: TASKS }));
  const shared = sharedWorkloads();
  const fib = fibOf(FIB_N);

  const workloads = {
    [`jfibCut(${FIB_N}, ${FIB_CUT}), ms`]: (pool) =>
      timed(pool, 'jfibCut', [FIB_N, FIB_CUT], fib),
    [`mandelbrot ${SIDE}^2, parallelFor, ms`]: (pool) => shared.mandel(
      (out) => pool.run('mandelbrot', [out, ...WINDOW])),
    ['merge sort 10^7 f64, ms']: (pool) => shared.msort(pool),
    ['20,000 tiny tasks at once, tasks/s']: (pool) =>
      burst(() => pool.run('fib', [1])),
  };
  const names = Object.keys(workloads);
  const r = Object.fromEntries(names.map((n) => [n, counts.map(() => [])]));

  // Warm-up: threads, JIT, page faults.
  for (const pool of pools) {
    for (const name of names) await workloads[name](pool);
  }
  for (let rep = 0; rep < reps; rep++) {
    const order = counts.map((_, i) => i);
    if (rep % 2) order.reverse();
    for (const i of order) {
      for (const name of names) r[name][i].push(await workloads[name](pools[i]));
    }
  }
  for (const pool of pools) await pool.close();

  console.log(`penny ${require('../package.json').version}, node ${
    process.version}, ${require('node:os').cpus().length} CPUs, ${
    reps} reps (medians; T1/Tp, or Tp/T1 for tasks/s)`);
  console.log('');
  console.log(`| workload | ${counts.join(' | ')} | ${counts.length > 1
    ? `x at ${counts[counts.length - 1]}` : ''} |`);
  console.log(`|---|${counts.map(() => '---|').join('')}---|`);
  for (const name of names) {
    const med = r[name].map(median);
    const rate = name.endsWith('tasks/s');
    const last = med[med.length - 1];
    const speedUp = rate ? last / med[0] : med[0] / last;
    const fmt = (v) => (rate ? `${(v / 1e3).toFixed(0)}k`
      : v.toFixed(v < 100 ? 1 : 0));
    console.log(`| ${name} | ${med.map(fmt).join(' | ')} | ${
      speedUp.toFixed(2)}x |`);
  }
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  fs.writeFileSync(jsonPath, JSON.stringify({ counts, reps, results: r },
    null, 1));
  console.log(`JSON: ${path.relative(process.cwd(), jsonPath)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
