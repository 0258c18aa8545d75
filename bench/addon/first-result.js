'use strict';

// (g) in a fresh process: the time from creating a pool with JS tasks to
// its first result, then the process's RSS growth once the pool is idle.
// Prints one JSON line. Usage: node first-result.js penny|piscina

const path = require('node:path');

const which = process.argv[2];
const TASKS = path.join(__dirname, 'tasks.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  await sleep(50);
  const rss0 = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  let pool;
  let first;
  if (which === 'penny') {
    const { Pool } = require('../..');
    pool = new Pool({ threads: 2, tasks: TASKS });
    first = await pool.run('add', [1, 2]);
  } else {
    const { Piscina } = require('piscina');
    pool = new Piscina({
      filename: path.join(__dirname, 'piscina-add.js'),
      minThreads: 2, maxThreads: 2,
    });
    first = await pool.run({ a: 1, b: 2 });
  }
  const firstMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (first !== 3) throw new Error(`wrong first result ${first}`);
  // Both pools start both threads; let them settle, then read RSS idle.
  await sleep(500);
  const rssMB = (process.memoryUsage().rss - rss0) / 2 ** 20;
  console.log(JSON.stringify({ firstMs, rssMB }));
  await (which === 'penny' ? pool.close() : pool.destroy());
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
