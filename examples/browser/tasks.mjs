// The example's task module: functions that run on the pool's Workers.
// It imports penny/task by a URL it can resolve (here, from the
// repository; in an app, wherever the bundler or server puts
// node_modules/penny/lib/browser/task.mjs).
import { join, parallelFor } from '../../lib/browser/task.mjs';

export function isPrime(n) {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

// Counts the primes in [lo, hi) into counts[0] (an Int32Array from
// pool.alloc, shared with every thread).
export function countRange(lo, hi, counts) {
  let c = 0;
  for (let n = lo; n < hi; n++) if (isPrime(n)) c++;
  Atomics.add(counts, 0, c);
}

export function countPrimes(limit, counts) {
  parallelFor(countRange, 0, limit, 2000, [counts]);
  return counts[0];
}

export function fib(n) {
  if (n < 16) return n < 2 ? n : fib(n - 1) + fib(n - 2);
  const [a, b] = join(fib, [n - 1], fib, [n - 2]);
  return a + b;
}
