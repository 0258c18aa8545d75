'use strict';

// This tree's Penny against another build of Penny (a checkout of an
// earlier commit, built): the check that a change costs nothing on the
// hot paths. Each round runs both, one after the other (which goes first
// alternates), each in a fresh process of its own: two pools in one
// process disturb each other's figures in ways that depend on which was
// created first. The workloads are bench/addon.js's:
//   (a) 20,000 no-op tasks at once, awaited with Promise.all (tasks/s);
//   (b) 2,000 no-op tasks one by one (median round trip, µs);
//   (c) the sum of 10^7 doubles in the arena (ms).
// Prints the median over rounds of each round's median, and the ratio
// this / other; writes JSON (default build/bench/compare.json).
//
//   git worktree add /tmp/penny-main main && (cd /tmp/penny-main &&
//     npm install)
//   node bench/compare.js /tmp/penny-main [--rounds N] [--reps N]
//                         [--json FILE]

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const {
  now, us, median, burst, oneByOne,
} = require('./addon/workloads');

const { args, option: opt } = require('./options');
const child = opt('--child', null); // the Penny directory to measure
const otherDir = args[0];
if (child === null &&
    (otherDir === undefined || otherDir.startsWith('--'))) {
  console.error('usage: node bench/compare.js OTHER_PENNY_DIR ' +
    '[--rounds N] [--reps N] [--json FILE]');
  process.exit(2);
}
const rounds = Number(opt('--rounds', 6));
const reps = Number(opt('--reps', 7));
const jsonPath = opt('--json', path.join(__dirname, '..', 'build', 'bench',
  'compare.json'));
const SUM_N = 1e7;

async function sum(pool, x) {
  const t0 = now();
  const got = await pool.run('sum', [x]);
  const ms = us(t0, now()) / 1e3;
  if (got !== SUM_N) throw new Error(`sum mismatch: ${got}`);
  return ms;
}

// Child: one side's medians over `reps` reps, as a JSON line.
async function measure(dir) {
  const penny = require(path.resolve(dir));
  const threads = os.availableParallelism();
  const pool = new penny.Pool({ threads, arenaBytes: 128 * 1024 * 1024 });
  const x = pool.alloc(Float64Array, SUM_N).fill(1);
  const noop = () => pool.run('noop');
  await burst(noop); // warm-up
  for (let i = 0; i < 200; i++) await pool.run('noop');
  await sum(pool, x);
  const r = { burst: [], oneByOne: [], sum: [] };
  for (let rep = 0; rep < reps; rep++) {
    r.burst.push(await burst(noop));
    r.oneByOne.push(await oneByOne(noop));
    r.sum.push(await sum(pool, x));
  }
  await pool.close();
  console.log(JSON.stringify({
    threads, burst: median(r.burst), oneByOne: median(r.oneByOne),
    sum: median(r.sum),
  }));
}

function runChild(dir) {
  const out = execFileSync(process.execPath, [__filename, '--child', dir,
    '--reps', String(reps)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

async function main() {
  if (child !== null) return measure(child);
  const dirs = { this: path.resolve(__dirname, '..'),
    other: path.resolve(otherDir) };
  const samples = { this: [], other: [] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? ['other', 'this'] : ['this', 'other'];
    for (const side of order) samples[side].push(runChild(dirs[side]));
  }
  const med = (side, key) => median(samples[side].map((s) => s[key]));
  const rows = [
    ['(a) burst', 'tasks/s', 'burst', true],
    ['(b) round trip', 'us', 'oneByOne', false],
    ['(c) sum 10^7 f64', 'ms', 'sum', false],
  ].map(([name, unit, key, higherIsBetter]) => {
    // > 1 means this tree is better. The ratio is taken within each round
    // (the two sides ran back to back), then its median over rounds.
    const ratios = samples.this.map((s, i) => {
      const o = samples.other[i][key];
      return higherIsBetter ? s[key] / o : o / s[key];
    });
    return { name, unit, this: med('this', key), other: med('other', key),
      ratio: median(ratios), ratios };
  });
  console.log(`this: ${dirs.this}, other: ${dirs.other}; ` +
    `${samples.this[0].threads} threads, ${rounds} rounds of ${reps} reps`);
  console.log('| workload | unit | this | other | this / other (>1 better) ' +
    '| per round |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.unit} | ${r.this.toPrecision(4)} | ` +
      `${r.other.toPrecision(4)} | ${r.ratio.toFixed(3)} | ` +
      `${r.ratios.map((x) => x.toFixed(2)).join(' ')} |`);
  }
  console.log('this and other: medians over rounds of each round\'s ' +
    'median; the ratio: the median over rounds of the ratio within a round');
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  fs.writeFileSync(jsonPath, JSON.stringify({
    date: new Date().toISOString(), rounds, reps, other: dirs.other, rows,
    samples,
  }, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
