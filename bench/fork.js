'use strict';

// Fork-join inside JS tasks (penny/task), interleaved rep by rep:
//   (h) the cost of a join over plain recursion: jfib(N) with a join at
//       every level on a 1-thread pool against fib(N) in the same pool,
//       as (T1 - Ts) / joins, where jfib(N) makes fib(N + 1) - 1 joins;
//   (i) jfib(36) joining above n = 20, on 2 threads against 1.
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
const TASKS = path.join(__dirname, 'addon', 'fork-tasks.js');
const H_N = 27;
const I_N = 36;
const I_CUT = 20;

function fibOf(n) {
  let a = 0;
  let b = 1;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

async function timed(pool, name, args, expected) {
  const t0 = now();
  const got = await pool.run(name, args);
  const ms = us(t0, now()) / 1e3;
  if (got !== expected) throw new Error(`${name}: ${got}, not ${expected}`);
  return ms;
}

async function main() {
  const one = new penny.Pool({ threads: 1, tasks: TASKS });
  const two = new penny.Pool({ threads: 2, tasks: TASKS });
  const joins = fibOf(H_N + 1) - 1;
  const r = { ts: [], t1: [], i1: [], i2: [] };
  for (let i = 0; i < 2; i++) { // warm-up: JIT and threads
    await timed(one, 'fib', [H_N], fibOf(H_N));
    await timed(one, 'jfib', [H_N], fibOf(H_N));
    await timed(one, 'jfibCut', [30, I_CUT], fibOf(30));
    await timed(two, 'jfibCut', [30, I_CUT], fibOf(30));
  }
  for (let rep = 0; rep < reps; rep++) {
    r.ts.push(await timed(one, 'fib', [H_N], fibOf(H_N)));
    r.t1.push(await timed(one, 'jfib', [H_N], fibOf(H_N)));
    const order = rep % 2 ? [[two, r.i2], [one, r.i1]]
      : [[one, r.i1], [two, r.i2]];
    for (const [pool, into] of order) {
      into.push(await timed(pool, 'jfibCut', [I_N, I_CUT], fibOf(I_N)));
    }
  }
  await one.close();
  await two.close();

  const m = (xs) => median(xs);
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
    (m(r.i1) / m(r.i2)).toFixed(2)}x | >= 1.85x |`);
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  fs.writeFileSync(jsonPath, JSON.stringify({ reps, joins, ...r }, null, 1));
  console.log(`JSON: ${path.relative(process.cwd(), jsonPath)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
