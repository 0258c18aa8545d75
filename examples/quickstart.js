'use strict';

// The shortest useful Penny program: run built-in kernels on a pool of
// worker threads, with arguments that cross without copies.
//
//   node examples/quickstart.js

const penny = require('..'); // in your project: require('penny')

async function main() {
  const pool = new penny.Pool(); // one thread per CPU, a 64 MiB arena

  // fib forks and joins at every level, across all the pool's threads.
  console.log('fib(30) =', await pool.run('fib', [30]));

  // A typed array inside the pool's arena goes to the kernel as is.
  const x = pool.alloc(Float64Array, 1_000_000);
  await pool.run('fill', [x, 0.5]);
  console.log('sum =', await pool.run('sum', [x])); // 500000

  // Any typed array works; one over an ordinary ArrayBuffer is copied in
  // and, for out/inout parameters, copied back.
  const y = new Float32Array(8);
  await pool.run('fill', [y, 3]);
  console.log('y =', y);

  // Tasks can be aborted, queued or running.
  const ac = new AbortController();
  const slow = pool.run('spin', [10_000_000], { signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  await slow.catch((err) => console.log('spin:', err.name));

  // Errors carry a stable code.
  await pool.run('fib', ['ten']).catch((err) =>
    console.log(`${err.name} ${err.code}: ${err.message}`));

  pool.free(x);
  await pool.close();

  // penny.run uses a default pool that never keeps the process alive.
  console.log('fib(20) =', await penny.run('fib', [20]));
}

main();
