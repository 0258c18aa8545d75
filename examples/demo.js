'use strict';

// `npm run demo`: Penny's kernels on real-sized data against the same
// work in single-thread JavaScript, with times and speedups (medians).

const os = require('node:os');
const penny = require('..');

const REPS = 7;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function time(fn) {
  const t0 = process.hrtime.bigint();
  const result = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, result };
}

function jsFib(n) {
  return n < 2 ? n : jsFib(n - 1) + jsFib(n - 2);
}

function jsSum(x) {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

function jsFill(x, v) {
  for (let i = 0; i < x.length; i++) x[i] = v;
}

async function compare(name, what, pennyFn, jsFn, check) {
  const p = [];
  const j = [];
  for (let r = 0; r < REPS; r++) {
    const a = await time(pennyFn);
    const b = await time(jsFn);
    check(a.result, b.result);
    p.push(a.ms);
    j.push(b.ms);
  }
  const pm = median(p);
  const jm = median(j);
  console.log(`${name.padEnd(8)} ${what.padEnd(34)} ` +
    `${jm.toFixed(1).padStart(8)} ms ${pm.toFixed(1).padStart(8)} ms ` +
    `${(jm / pm).toFixed(2).padStart(7)}x`);
}

function same(a, b) {
  if (a !== b) throw new Error(`results differ: ${a} vs ${b}`);
}

async function main() {
  // Room for a 10^7-element Float64Array (80 MB) in the arena.
  const pool = new penny.Pool({ arenaBytes: 128 * 1024 * 1024 });
  console.log(`Penny demo: ${pool.threads} worker threads on ` +
    `${os.availableParallelism()} CPUs, node ${process.version}\n`);
  console.log(`${'kernel'.padEnd(8)} ${'work'.padEnd(34)} ` +
    `${'JS'.padStart(11)} ${'Penny'.padStart(11)} ${'speedup'.padStart(8)}`);

  await compare('fib', 'fib(32), a fork at every call',
    () => pool.run('fib', [32]), () => jsFib(32), same);

  const n = 10_000_000;
  const x = pool.alloc(Float64Array, n); // in the arena: zero-copy
  const plain = new Float64Array(n);     // what JS would use
  for (let i = 0; i < n; i++) plain[i] = x[i] = Math.sin(i);
  await compare('sum', `sum of ${n.toExponential(0)} doubles`,
    () => pool.run('sum', [x]), () => jsSum(plain),
    (a, b) => {
      if (Math.abs(a - b) > 1e-9 * n) throw new Error(`sum ${a} vs ${b}`);
    });

  await compare('fill', `fill ${n.toExponential(0)} doubles`,
    () => pool.run('fill', [x, 1.5]), () => jsFill(plain, 1.5),
    () => {
      if (x[n - 1] !== 1.5 || plain[n - 1] !== 1.5) throw new Error('fill');
    });

  pool.free(x);
  await pool.close();
  console.log('\nTimes are medians of', REPS, 'runs; JS runs on the main ' +
    'thread, Penny on its pool.');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
