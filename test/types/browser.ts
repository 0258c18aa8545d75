// penny/browser as a page's code uses it (compiled, never run).
import { Pool } from 'penny/browser';
import type * as Tasks from './tasks.js';

async function page(): Promise<void> {
  const pool = new Pool<typeof Tasks>({ threads: 2,
    tasks: new URL('./tasks.js', 'https://example.com/app/') });
  const x = pool.alloc(Float64Array, 1000);
  const total: number = await pool.run('sum', [x]);
  const big: bigint = await pool.run('sum', [pool.alloc(BigInt64Array, 4)]);
  const sum: number = await pool.run('add', [1, 2]);
  await pool.run('sort', [x], { signal: AbortSignal.timeout(1000) });
  // @ts-expect-error: not a kernel or a task
  await pool.run('nope', []);
  const s = pool.stats();
  const n: number = s.steals + s.arenaBytes + total + sum + Number(big);
  pool.free(x);
  void n;
  await pool.close();
}

void page;
