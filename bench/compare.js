'use strict';

// This tree's Penny against another build of Penny (a checkout of an
// earlier commit, built), in one process, interleaved rep by rep so that
// both see the same machine noise: the check that a change costs nothing
// on the hot paths. The workloads are bench/addon.js's:
//   (a) 20,000 no-op tasks at once, awaited with Promise.all (tasks/s);
//   (b) 2,000 no-op tasks one by one (median round trip, µs);
//   (c) the sum of 10^7 doubles in the arena (ms).
// Prints medians and the ratio this / other, and writes JSON (default
// build/bench/compare.json).
//
//   git worktree add /tmp/penny-main main && (cd /tmp/penny-main &&
//     npm install)
//   node bench/compare.js /tmp/penny-main [--reps N] [--json FILE]

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const otherDir = args[0];
if (otherDir === undefined || otherDir.startsWith('--')) {
  console.error('usage: node bench/compare.js OTHER_PENNY_DIR [--reps N] ' +
    '[--json FILE]');
  process.exit(2);
}
const reps = Number(opt('--reps', 15));
const jsonPath = opt('--json', path.join(__dirname, '..', 'build', 'bench',
  'compare.json'));
const BURST = 20000;
const ONE_BY_ONE = 2000;
const SUM_N = 1e7;

const now = () => process.hrtime.bigint();
const us = (t0, t1) => Number(t1 - t0) / 1e3;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function burst(pool) {
  const t0 = now();
  const ps = new Array(BURST);
  for (let i = 0; i < BURST; i++) ps[i] = pool.run('noop');
  await Promise.all(ps);
  return BURST / (us(t0, now()) / 1e6);
}

async function oneByOne(pool) {
  const rt = new Array(ONE_BY_ONE);
  for (let i = 0; i < ONE_BY_ONE; i++) {
    const t0 = now();
    await pool.run('noop');
    rt[i] = us(t0, now());
  }
  return median(rt);
}

async function sum(pool, x) {
  const t0 = now();
  const got = await pool.run('sum', [x]);
  const ms = us(t0, now()) / 1e3;
  if (got !== SUM_N) throw new Error(`sum mismatch: ${got}`);
  return ms;
}

async function main() {
  const threads = os.availableParallelism();
  const sides = [
    ['this', require('..')],
    ['other', require(path.resolve(otherDir))],
  ].map(([name, penny]) => {
    const pool = new penny.Pool({ threads, arenaBytes: 128 * 1024 * 1024 });
    const x = pool.alloc(Float64Array, SUM_N).fill(1);
    return { name, pool, x, burst: [], oneByOne: [], sum: [] };
  });
  for (const s of sides) { // warm-up
    await burst(s.pool);
    for (let i = 0; i < 200; i++) await s.pool.run('noop');
    await sum(s.pool, s.x);
  }
  for (let rep = 0; rep < reps; rep++) {
    // Alternate which side goes first, so neither always follows the other.
    const order = rep % 2 ? [sides[1], sides[0]] : sides;
    for (const s of order) s.burst.push(await burst(s.pool));
    for (const s of order) s.oneByOne.push(await oneByOne(s.pool));
    for (const s of order) s.sum.push(await sum(s.pool, s.x));
  }
  for (const s of sides) await s.pool.close();

  const [a, b] = sides;
  const rows = [
    ['(a) burst', 'tasks/s', median(a.burst), median(b.burst), true],
    ['(b) round trip', 'us', median(a.oneByOne), median(b.oneByOne), false],
    ['(c) sum 10^7 f64', 'ms', median(a.sum), median(b.sum), false],
  ].map(([name, unit, mine, other, higherIsBetter]) => ({
    name, unit, this: mine, other,
    // > 1 means this tree is better.
    ratio: higherIsBetter ? mine / other : other / mine,
  }));
  console.log(`this: ${path.resolve(__dirname, '..')}, other: ` +
    `${path.resolve(otherDir)}; ${threads} threads, ${reps} reps, medians`);
  console.log('| workload | unit | this | other | this / other (>1 better) |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.unit} | ${r.this.toPrecision(4)} | ` +
      `${r.other.toPrecision(4)} | ${r.ratio.toFixed(3)} |`);
  }
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  fs.writeFileSync(jsonPath, JSON.stringify({
    date: new Date().toISOString(), threads, reps, other: otherDir, rows,
    samples: Object.fromEntries(sides.map((s) =>
      [s.name, { burst: s.burst, oneByOne: s.oneByOne, sum: s.sum }])),
  }, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
