'use strict';

// The submission ring: tasks whose arguments are numbers and arena views
// go to the workers through cells in the arena, without a native call.
// These tests reach its edges: a full ring, argument errors found on a
// worker, cancellation of a task still in the ring, and a ring that
// someone else scribbled on.

const assert = require('node:assert/strict');
const penny = require('../..');
const { MiB, assertRunRejects } = require('./fixtures/common');

// Layout shared with src/addon/binding.c: the ring (a 64-byte header and
// a power of two of 64-byte cells, a sixteenth of the arena) sits just
// below the heap, after at most 63 bytes of alignment.
const ringCells = (pool) => {
  const reserved = pool.arena.byteLength - pool.stats().heapBytes;
  return 2 ** Math.floor(Math.log2((reserved - 64) / 64));
};

function ringView(pool) {
  const heapStart = pool.arena.byteLength - pool.stats().heapBytes;
  const bytes = 64 + ringCells(pool) * 64;
  return new Int32Array(pool.arena, heapStart - bytes, bytes / 4);
}

describe('submission ring', () => {
  let pool;
  afterEach(async () => {
    if (pool) await pool.close();
    pool = undefined;
  });

  it('overflows into native submission when full: every task settles once',
    async () => {
      pool = new penny.Pool({ threads: 1, arenaBytes: 4 * MiB });
      // The only worker spins while 3 ring-fulls of tasks queue up.
      const blocker = pool.run('spin', [200000]);
      const n = 3 * ringCells(pool);
      const x = pool.alloc(Float64Array, 4);
      x.fill(1);
      const settled = new Uint8Array(n);
      const all = [];
      for (let i = 0; i < n; i++) {
        all.push(pool.run('sum', [x]).then((v) => {
          assert.equal(v, 4);
          settled[i]++;
        }));
      }
      await blocker;
      await Promise.all(all);
      assert.ok(settled.every((c) => c === 1));
      const s = pool.stats();
      assert.equal(s.pending, 0);
      assert.equal(s.completed, n + 1);
    });

  it('argument errors found on a worker reject like the native path',
    async () => {
      pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
      const before = pool.stats().submitted;
      await assertRunRejects(() => pool.run('fib', [1.5]), TypeError,
        'ERR_PENNY_ARG', /fib: parameter 'n' must be an integer \(i32\)/);
      await assertRunRejects(() => pool.run('fib', [2 ** 31]), RangeError,
        'ERR_PENNY_RANGE', /out of range for i32/);
      await assertRunRejects(() => pool.run('fib', [-1]), RangeError,
        'ERR_PENNY_RANGE', /n must be from 0 to 1476/);
      await assertRunRejects(() => pool.run('spin', [NaN]), RangeError,
        'ERR_PENNY_RANGE', /micros/);
      // A view over the arena's reserved start: ring-eligible, refused.
      await assertRunRejects(
        () => pool.run('sum', [new Float64Array(pool.arena, 0, 8)]),
        RangeError, 'ERR_PENNY_RANGE', /reserved start/);
      assert.equal(pool.stats().submitted, before, 'bad calls are not tasks');
      assert.equal(await pool.run('fib', [10]), 55);
    });

  it('a task cancelled while still in the ring never runs', async () => {
    pool = new penny.Pool({ threads: 1, arenaBytes: 4 * MiB });
    const blocker = pool.run('spin', [100000]);
    const x = pool.alloc(Float64Array, 16);
    const ac = new AbortController();
    const queued = pool.run('fill', [x, 7], { signal: ac.signal });
    ac.abort(new Error('stop'));
    await assert.rejects(queued, /stop/);
    await blocker;
    // Run something after it on the same single worker: the cancelled
    // fill would have run before this one.
    assert.equal(await pool.run('sum', [x]), 0);
    assert.ok(x.every((v) => v === 0), 'the cancelled fill never ran');
    assert.equal(pool.stats().cancelled, 1);
  });

  it('a cancel that arrives after the task finished does not leak onto ' +
     'the next task in that slot', async () => {
    pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
    for (let i = 0; i < 300; i++) {
      const ac = new AbortController();
      const p = pool.run('noop', [], { signal: ac.signal });
      // Abort at a random moment around completion.
      if (i % 3 === 0) ac.abort();
      else setImmediate(() => ac.abort());
      await p.catch(() => {});
      // The next task reuses the slot most of the time; it must run.
      assert.equal(await pool.run('fib', [5]), 5);
    }
  });

  it('survives cells scribbled into the ring by someone else', async () => {
    pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
    assert.equal(await pool.run('fib', [10]), 55);
    const ring = ringView(pool);
    // Forge "published" cells ahead of the producer with bad slots,
    // kernels and argument descriptions, then garbage everywhere else.
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0);
    for (let cell = 0; cell < ringCells(pool); cell++) {
      const b = 16 + cell * 16;
      for (let k = 1; k < 16; k++) ring[b + k] = rand() | 0;
    }
    for (let pos = 1; pos < 64; pos++) {
      const b = 16 + pos * 16;
      ring[b + 1] = pos % 7 - 3;               // kernel: some out of range
      // Slots no task can own (negative or past every record): a forged
      // cell naming a live slot would claim it, and its rejection could
      // settle whatever task JS puts in that slot next, which README
      // allows ("tasks fail or hang") and no test can pin down.
      ring[b + 2] = pos % 2 ? 1 << 30 : -pos;
      ring[b + 3] = (pos % 4) | (0xff << 8);   // nargs, bad element type
      Atomics.store(ring, b, pos + 1);         // "published"
    }
    // The pool goes on working (through the ring or around it).
    const x = pool.alloc(Float64Array, 1000);
    await pool.run('fill', [x, 2]);
    assert.equal(await pool.run('sum', [x]), 2000);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => pool.run('fib', [i % 20])));
    results.forEach((r, i) => {
      const n = i % 20;
      const fib = [0, 1];
      for (let k = 2; k <= n; k++) fib.push(fib[k - 1] + fib[k - 2]);
      assert.equal(r, fib[n]);
    });
  });
});
