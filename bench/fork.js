'use strict';

// Fork-join inside JS tasks (penny/task), interleaved rep by rep, with the
// task module of examples/js-tasks (fork-tasks.js):
//   (h) the cost of a join over plain recursion: jfib(27) with a join at
//       every level on a 1-thread pool against fib(27) in the same pool,
//       as (T1 - Ts) / joins, where jfib(n) makes fib(n + 1) - 1 joins;
//   (i) jfib(36) joining above n = 20, on 2 threads against 1;
//   (j) a 1024 x 1024 mandelbrot (1,000 iterations at most) over a window
//       whose top half holds most of the set, parallelFor over its rows:
//       2 threads against 1, and against piscina (2 threads) running the
//       two halves;
//   (k) the JS merge sort of 10^7 shared doubles: 2 threads against 1,
//       and against Float64Array.prototype.sort on the main thread.
// Prints medians and ratios, writes JSON (default build/bench/fork.json).
//
//   node bench/fork.js [--reps N] [--json FILE]

const fs = require('node:fs');
const path = require('node:path');
const penny = require('..');
const { now, us, median } = require('./addon/workloads');
const { option } = require('./options');

const reps = Number(option('--reps', 9));
const jsonPath = option('--json', path.join(__dirname, '..', 'build', 'bench',
  'fork.json'));
const { Piscina } = require('piscina');

const { EXAMPLE, TASKS, SIDE, WINDOW, fibOf, timed, sharedWorkloads } =
  require('./addon/fork-workloads');
const H_N = 27;
const I_N = 36;
const I_CUT = 20;

async function mandelPiscina(piscina, out) {
  const half = SIDE / 2;
  await Promise.all([[0, half], [half, SIDE]].map(([lo, hi]) =>
    piscina.run({ lo, hi, out, win: WINDOW })));
}

async function main() {
  const one = new penny.Pool({ threads: 1, tasks: TASKS });
  const two = new penny.Pool({ threads: 2, tasks: TASKS });
  const piscina = new Piscina({
    filename: path.join(EXAMPLE, 'piscina-rows.js'),
    minThreads: 2, maxThreads: 2,
  });
  const joins = fibOf(H_N + 1) - 1;
  const r = {
    ts: [], t1: [], i1: [], i2: [], j1: [], j2: [], jPiscina: [],
    k1: [], k2: [], kSort: [],
  };
  const shared = sharedWorkloads();
  const { data, msort } = shared;
  const mandel = (pool) => shared.mandel(pool === piscina
    ? (out) => mandelPiscina(piscina, out)
    : (out) => pool.run('mandelbrot', [out, ...WINDOW]));
  const nativeSort = () => {
    const y = data.slice();
    const t0 = now();
    y.sort();
    return us(t0, now()) / 1e3;
  };

  for (let i = 0; i < 2; i++) { // warm-up: JIT and threads
    await timed(one, 'fib', [H_N], fibOf(H_N));
    await timed(one, 'jfib', [H_N], fibOf(H_N));
    for (const p of [one, two]) {
      await timed(p, 'jfibCut', [30, I_CUT], fibOf(30));
      await mandel(p);
      await msort(p);
    }
    await mandel(piscina);
    nativeSort();
  }
  for (let rep = 0; rep < reps; rep++) {
    // (h) and (i): each right after an untimed run of the same. A
    // function that sat unused while the others ran can take a one-off
    // 5-20 ms to get back up to speed, which would swamp a 3 ms baseline;
    // (j) and (k) run for 0.4-2 s, where it is noise.
    for (const [name, into] of [['fib', r.ts], ['jfib', r.t1]]) {
      await timed(one, name, [H_N], fibOf(H_N));
      into.push(await timed(one, name, [H_N], fibOf(H_N)));
    }
    const pools = rep % 2 ? [[two, 2], [one, 1]] : [[one, 1], [two, 2]];
    for (const [pool, k] of pools) {
      await timed(pool, 'jfibCut', [I_N, I_CUT], fibOf(I_N)); // as in (h)
      r[`i${k}`].push(await timed(pool, 'jfibCut', [I_N, I_CUT], fibOf(I_N)));
      r[`j${k}`].push(await mandel(pool));
      r[`k${k}`].push(await msort(pool));
    }
    r.jPiscina.push(await mandel(piscina));
    r.kSort.push(nativeSort());
  }
  await piscina.destroy();
  await one.close();
  await two.close();

  const m = (xs) => median(xs);
  // The ratio of the medians, and the median of the ratios of each rep's
  // pair (measured back to back, so it cancels the machine's drift
  // across the run).
  const ratio = (base, x) => `${(m(base) / m(x)).toFixed(2)}x (paired ${
    median(base.map((b, i) => b / x[i])).toFixed(2)}x)`;
  const perJoin = (m(r.t1) - m(r.ts)) * 1e6 / joins;
  console.log(`penny ${require('../package.json').version}, node ${
    process.version}, ${reps} reps (medians)`);
  console.log('');
  console.log('| workload | figure | baseline | result | target |');
  console.log('|---|---|---|---|---|');
  console.log(`| (h) jfib(${H_N}), a join per level, 1 thread | ${
    m(r.t1).toFixed(1)} ms | fib(${H_N}) ${m(r.ts).toFixed(1)} ms | ${
    perJoin.toFixed(0)} ns per join (${joins} joins) | <= 200 ns |`);
  console.log(`| (i) jfib(${I_N}), joins above ${I_CUT} | 2 threads ${
    m(r.i2).toFixed(0)} ms | 1 thread ${m(r.i1).toFixed(0)} ms | ${
    ratio(r.i1, r.i2)} | >= 1.85x |`);
  console.log(`| (j) mandelbrot ${SIDE}x${SIDE}, parallelFor over rows | ${
    ''}2 threads ${m(r.j2).toFixed(0)} ms | 1 thread ${m(r.j1).toFixed(0)
  } ms | ${ratio(r.j1, r.j2)} | >= 1.9x |`);
  console.log(`| (j) same, against piscina running the two halves | ${
    ''}2 threads ${m(r.j2).toFixed(0)} ms | piscina ${
    m(r.jPiscina).toFixed(0)} ms | ${ratio(r.jPiscina, r.j2)} | >= 1.5x |`);
  console.log(`| (k) JS merge sort of 10^7 shared doubles | 2 threads ${
    m(r.k2).toFixed(0)} ms | 1 thread ${m(r.k1).toFixed(0)} ms | ${
    ratio(r.k1, r.k2)} | >= 1.7x |`);
  console.log(`| (k) same, against Float64Array.prototype.sort | 2 threads ${
    m(r.k2).toFixed(0)} ms | sort() ${m(r.kSort).toFixed(0)} ms | ${
    ratio(r.kSort, r.k2)} | (reported) |`);
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  fs.writeFileSync(jsonPath, JSON.stringify({ reps, joins, ...r }, null, 1));
  console.log(`JSON: ${path.relative(process.cwd(), jsonPath)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
