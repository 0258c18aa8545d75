'use strict';

// The task module of examples/js-tasks: plain JavaScript that a Pool runs
// on its threads (new Pool({ tasks: <this file's absolute path> })). Every
// exported function is a task, called by name with pool.run(name, args).
// index.js also requires this file to run the same function on the main
// thread, which is fine: outside a task, cancelled() is simply false.

const { cancelled } = require('penny/task');

// Numbers sieved at a time: a 64 KiB Uint8Array, small enough to stay in
// a core's cache however wide the range is.
const SEGMENT = 1 << 16;

// The odd primes up to at least `limit`, kept per thread: every chunk a
// thread runs needs them, and they are cheap to extend.
let small = new Uint32Array(0);
let smallLimit = 1;

function oddPrimesUpTo(limit) {
  if (limit <= smallLimit) return small;
  const composite = new Uint8Array(limit + 1);
  const out = [];
  for (let p = 3; p <= limit; p += 2) {
    if (composite[p]) continue;
    out.push(p);
    for (let m = p * p; m <= limit; m += 2 * p) composite[m] = 1;
  }
  small = Uint32Array.from(out);
  smallLimit = limit;
  return small;
}

// The number of primes p with lo <= p < hi: a segmented sieve of
// Eratosthenes over odd numbers, exact for any safe integers. A wide
// range takes seconds, so it polls cancelled() once a segment and gives
// up (returns -1) when the task running it has been aborted.
function countPrimes(lo, hi) {
  if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi)) {
    throw new RangeError(`countPrimes wants integers, got ${lo}, ${hi}`);
  }
  lo = Math.max(lo, 2);
  if (hi <= lo) return 0;
  const primes = oddPrimesUpTo(Math.floor(Math.sqrt(hi - 1)));
  const seg = new Uint8Array(SEGMENT);
  let count = lo === 2 ? 1 : 0; // 2, the one even prime
  for (let start = lo; start < hi; start += SEGMENT) {
    if (cancelled()) return -1;
    const end = Math.min(start + SEGMENT, hi);
    seg.fill(0);
    // Cross out the odd multiples of each odd prime p, from p*p (smaller
    // multiples have a smaller factor) or the first one in the segment.
    for (let i = 0; i < primes.length; i++) {
      const p = primes[i];
      if (p * p >= end) break;
      let m = Math.max(p * p, start + (p - start % p) % p);
      if (m % 2 === 0) m += p;
      for (let j = m - start; j < end - start; j += 2 * p) seg[j] = 1;
    }
    // What is left among the odd numbers (past 1) is prime.
    for (let j = start % 2 === 0 ? 1 : 0; j < end - start; j += 2) {
      if (seg[j] === 0) count++;
    }
  }
  return count;
}

// The task index.js runs: the primes in [lo, hi), counted into counts[i].
// `counts` is a view that pool.alloc made in the pool's arena (shared
// memory), so it is not copied at the call, and what this writes is in
// the main thread's `counts` when the promise resolves: no result to
// clone back. A count is small, and returning it would do as well; the
// same pattern carries outputs of any size, an image or a matrix, at no
// cost.
function countChunk(counts, i, lo, hi) {
  counts[i] = countPrimes(lo, hi);
}

module.exports = { countPrimes, countChunk };
