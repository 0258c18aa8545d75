'use strict';

// Your own JavaScript on Penny's threads: counts the primes below n with
// a plain-JS sieve (sieve-tasks.js), split into chunks that a Pool runs
// on its threads, then the same chunks on the main thread alone, and
// compares the counts and the times.
//
//   node examples/js-tasks/index.js [n]      (n defaults to 1e9)
//
// new Pool({ tasks }) starts one worker thread per CPU, each loading the
// task module; pool.run(name, args) queues a call of the module's export
// `name` on Penny's C work-stealing core, and whichever thread is free
// takes it. More chunks than threads lets a thread that finishes early
// (or gets more CPU from the OS) take chunks its neighbours have queued.

const path = require('node:path');
const { Pool } = require('../..'); // in your project: require('penny')
const { countPrimes } = require('./sieve-tasks');

// pi(10^k), to check the count itself when n is a power of ten.
const KNOWN = new Map([0, 4, 25, 168, 1229, 9592, 78498, 664579, 5761455,
  50847534, 455052511, 4118054813].map((pi, k) => [10 ** k, pi]));

// Chunk i of k is [bounds[i], bounds[i + 1]): k ranges of equal length.
function chunkBounds(n, k) {
  return Array.from({ length: k + 1 }, (_, i) => Math.floor(i * n / k));
}

function ms(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main() {
  const n = Number(process.argv[2] ?? 1e9);
  if (!Number.isSafeInteger(n) || n < 2) {
    throw new RangeError(`n must be an integer from 2 to 2**53 - 1, got ${
      process.argv[2]}`);
  }

  // 1. Penny: the range in chunks, one task each. Starting the pool (its
  // threads, each loading the module) is timed apart: a program would
  // start one pool and use it for the whole of its life.
  let t0 = process.hrtime.bigint();
  const pool = new Pool({ tasks: path.join(__dirname, 'sieve-tasks.js') });
  const chunks = Math.min(8 * pool.threads, Math.floor(n / 2));
  const bounds = chunkBounds(n, chunks);
  let startMs;
  let counts;
  try {
    await pool.run('countPrimes', [0, 0]); // resolves once a thread is up
    startMs = ms(t0);
    t0 = process.hrtime.bigint();
    // Shared memory in the pool's arena: the tasks write their counts here.
    counts = pool.alloc(Float64Array, chunks);
    // If a chunk fails, abort the others: queued ones never start, running
    // ones see cancelled() in the task and stop.
    const ac = new AbortController();
    await Promise.all(bounds.slice(0, -1).map((lo, i) =>
      pool.run('countChunk', [counts, i, lo, bounds[i + 1]],
        { signal: ac.signal }).catch((err) => {
        ac.abort();
        throw err;
      })));
  } finally {
    await pool.close(); // lets what is queued finish, then ends the threads
  }
  const pennyMs = ms(t0);

  // 2. The main thread alone: the same chunks, one after another.
  t0 = process.hrtime.bigint();
  const alone = bounds.slice(0, -1).map((lo, i) => countPrimes(lo, bounds[i + 1]));
  const aloneMs = ms(t0);

  const total = alone.reduce((a, b) => a + b, 0);
  const same = alone.every((c, i) => c === counts[i]);
  const known = KNOWN.get(n);
  const fmt = (x) => x.toLocaleString('en-US');
  console.log(`primes below ${fmt(n)}: ${fmt(total)}` +
    (known === undefined ? '' : known === total ? ' (right)' : ' (WRONG)'));
  console.log(`main thread alone:  ${aloneMs.toFixed(0).padStart(6)} ms`);
  console.log(`penny, ${pool.threads} threads: ${pennyMs.toFixed(0).padStart(6)} ms` +
    `  (${chunks} chunks; starting the pool took ${startMs.toFixed(0)} ms more)`);
  console.log(`speedup: ${(aloneMs / pennyMs).toFixed(2)}x`);
  // Chunk by chunk, and against pi(n) where it is known.
  const ok = same && (known === undefined || known === total);
  console.log(`same result: ${ok}`);
  if (!ok) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
