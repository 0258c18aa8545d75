'use strict';

// What an array costs a task by where it lives, in one process with the
// runs interleaved (medians):
//   arena      pool.alloc() with room in the arena: the ring path
//   own SAB    what pool.alloc() returns once the arena is full, a view
//              over a SharedArrayBuffer of its own (huge pages advised,
//              as for the arena): shared too, but the task goes through
//              the native call instead of the ring
//   plain SAB  a view over a SharedArrayBuffer the program made itself
//   copied     a view over an ordinary ArrayBuffer: copied in (and out)
// for `sum` of 1,024 doubles awaited one by one (the round trip) and of
// 10^7 doubles (bandwidth). Ratios are to the arena.
// Prints a table and writes JSON (default build/bench/arena.json).
//
//   node bench/arena.js [--reps N] [--json FILE]

const fs = require('node:fs');
const path = require('node:path');
const penny = require('..');
const { now, us, median } = require('./addon/workloads');

const { option: opt } = require('./options');
const reps = Number(opt('--reps', 7));
const jsonPath = opt('--json', path.join(__dirname, '..', 'build', 'bench',
  'arena.json'));

const SMALL = 1024;
const LARGE = 1e7;
const ROUNDS = 2000;

async function roundTrip(pool, x) {
  const t = new Array(ROUNDS);
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = now();
    await pool.run('sum', [x]);
    t[i] = us(t0, now());
  }
  return median(t);
}

async function large(pool, x) {
  const t0 = now();
  await pool.run('sum', [x]);
  return us(t0, now()) / 1e3;
}

async function main() {
  const pool = new penny.Pool();
  const full = new penny.Pool({ threads: 1, arenaBytes: 0 }); // no room
  const place = {
    arena: (n) => pool.alloc(Float64Array, n),
    'own SAB': (n) => full.alloc(Float64Array, n),
    'plain SAB': (n) => new Float64Array(new SharedArrayBuffer(8 * n)),
    copied: (n) => new Float64Array(n),
  };
  const names = Object.keys(place);
  const small = {};
  const big = {};
  for (const k of names) {
    small[k] = place[k](SMALL).fill(1);
    big[k] = place[k](LARGE).fill(1);
  }
  // Each view is where its row says.
  if (small.arena.buffer !== pool.arena ||
      !(big['own SAB'].buffer instanceof SharedArrayBuffer) ||
      big['own SAB'].buffer === full.arena) throw new Error('misplaced');

  const t = { small: {}, large: {} };
  for (const k of names) { t.small[k] = []; t.large[k] = []; }
  for (let r = 0; r <= reps; r++) {
    for (const k of r % 2 ? [...names].reverse() : names) {
      const a = await roundTrip(pool, small[k]);
      const b = await large(pool, big[k]);
      if (r > 0) { t.small[k].push(a); t.large[k].push(b); } // rep 0 warms
    }
  }
  await pool.close();
  await full.close();

  const rows = names.map((k) => ({
    where: k,
    roundTripUs: median(t.small[k]),
    roundTripRatio: median(t.small[k]) / median(t.small.arena),
    largeMs: median(t.large[k]),
    largeRatio: median(t.large[k]) / median(t.large.arena),
  }));
  console.log(`sum on ${pool.threads} threads, medians of ${reps} reps`);
  console.log('where     | 1,024 doubles, round trip | 10^7 doubles');
  for (const r of rows) {
    console.log(`${r.where.padEnd(9)} | ${r.roundTripUs.toFixed(2).padStart(8)} µs ` +
      `(${r.roundTripRatio.toFixed(2)}x)       | ${r.largeMs.toFixed(2).padStart(7)} ms ` +
      `(${r.largeRatio.toFixed(2)}x)`);
  }
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  fs.writeFileSync(jsonPath, JSON.stringify({ threads: pool.threads, reps,
    rows }, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
