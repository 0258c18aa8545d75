'use strict';

// Fork-join inside JS tasks (penny/task's join, spawn, sync and
// parallelFor): results against serial JavaScript on 1 to 4 threads, deep
// chains of syncs on stolen children, many roots at once, errors at every
// depth, aborts reaching every descendant, close and terminate during deep
// recursion, and misuse.

const assert = require('node:assert/strict');
const path = require('node:path');
const os = require('node:os');
const { execFile } = require('node:child_process');
const { Pool } = require('../..');
const task = require('../../lib/task');

const FORK = path.join(__dirname, 'fixtures', 'tasks', 'fork.js');
const { fib, triSerial } = require(FORK);

describe('fork-join in JS tasks', function () {
  this.timeout(120000);
  let pool;
  afterEach(async () => {
    if (pool) await pool.terminate();
    pool = undefined;
  });

  it('join, spawn/sync and parallelFor match serial JS on 1 to 4 threads',
    async () => {
      for (const threads of [1, 2, 3, 4]) {
        pool = new Pool({ threads, tasks: FORK });
        for (const n of [0, 1, 2, 10, 20]) {
          assert.equal(await pool.run('jfib', [n]), fib(n), `jfib(${n})`);
          assert.equal(await pool.run('sfib', [n]), fib(n), `sfib(${n})`);
          assert.equal(await pool.run('tri', [n]), triSerial(n), `tri(${n})`);
        }
        for (const [n, grain] of [[0, 0], [1, 0], [1000, 0], [1000, 1],
          [4097, 7], [100000, 0]]) {
          const counts = new Int32Array(new SharedArrayBuffer(4 * n));
          assert.equal(await pool.run('pfor', [n, grain, counts]), n);
          assert.ok(counts.every((c) => c === 1),
            `parallelFor over ${n} (grain ${grain}) covered each index once`);
        }
        const counts = new Int32Array(new SharedArrayBuffer(4 * 5000));
        await pool.run('pforNested', [5000, counts]);
        assert.ok(counts.every((c) => c === 1));
        await pool.terminate();
      }
    });

  it('counts stolen JS children in stats().steals', async () => {
    pool = new Pool({ threads: 2, tasks: FORK });
    for (let i = 0; i < 20; i++) assert.equal(await pool.run('jfib', [22]), fib(22));
    assert.ok(pool.stats().steals > 0);
  });

  it('children beyond the deque\'s room run at their spawn and count as ' +
     'inlined', async () => {
    pool = new Pool({ threads: 1, tasks: FORK });
    let want = 0;
    for (let i = 0; i < 10000; i++) want += fib(i % 10);
    assert.equal(await pool.run('wide', [10000]), want);
    assert.ok(pool.stats().inlined >= 10000 - 4096, `inlined: ${
      pool.stats().inlined}`);
  });

  it('a chain of 10,000 nested syncs on stolen children completes, with ' +
     'the stack bounded', async () => {
    pool = new Pool({ threads: 2, tasks: FORK });
    const before = pool.stats().steals;
    const started = new Int32Array(new SharedArrayBuffer(8));
    assert.equal(await pool.run('chain', [10000, started]), 10000);
    // Most levels were stolen: each sync waited on a child another thread
    // ran, with the rest of the chain nested on top of it.
    assert.ok(pool.stats().steals - before >= 1000,
      `steals: ${pool.stats().steals - before}`);
    // Again on more threads than cores.
    await pool.terminate();
    pool = new Pool({ threads: 4, tasks: FORK });
    assert.equal(await pool.run('chain', [10000, started]), 10000);
  });

  it('many roots at once, each forking, all settle with their results',
    async () => {
      pool = new Pool({ threads: 3, tasks: FORK });
      const ns = Array.from({ length: 60 }, (_, i) => 5 + (i % 15));
      const got = await Promise.all(ns.map((n, i) =>
        pool.run(i % 2 ? 'jfib' : 'sfib', [n])));
      assert.deepEqual(got, ns.map(fib));
      const s = pool.stats();
      assert.equal(s.completed, 60);
      assert.equal(s.pending, 0);
    });

  it('a child sees the same values wherever it runs; its changes stay ' +
     'its own, and shared memory is shared', async () => {
    for (const threads of [1, 2]) {
      pool = new Pool({ threads, tasks: FORK });
      for (let i = 0; i < 20; i++) {
        const view = new Int32Array(new SharedArrayBuffer(8));
        const r = await pool.run('valuesSeen', [view]);
        assert.deepEqual(r.parent,
          { list: [1, 2, 3], s: 'x', big: 10n, m: new Map([[1, 'a']]) });
        for (const got of [r.got, r.viaSpawn, r.third]) {
          assert.deepEqual(got,
            { list: [1, 2, 3, 4], s: 'changed', big: 10n,
              m: new Map([[1, 'a']]) });
        }
        assert.equal(r.sameObject, false);
        assert.equal(r.shared, 42);
        assert.equal(view[0], 42);
      }
      await pool.terminate();
    }
  });

  it('a child\'s error propagates from every depth, either side of a join ' +
     'and through sync, with its class, message and properties', async () => {
    pool = new Pool({ threads: 2, tasks: FORK });
    for (const side of ['a', 'b', 'spawn']) {
      for (const depth of [0, 1, 2, 5, 12]) {
        await assert.rejects(pool.run('failAt', [depth, side, 'E_AT']),
          (err) => {
            assert.ok(err instanceof RangeError);
            assert.equal(err.message, `failed at the bottom (${side})`);
            assert.equal(err.code, 'E_AT');
            assert.deepEqual(err.extra, { side });
            return true;
          }, `${side} at depth ${depth}`);
      }
    }
  });

  it('a join rethrows only after both sides finished', async () => {
    pool = new Pool({ threads: 2, tasks: FORK });
    for (let i = 0; i < 5; i++) {
      const flag = new Int32Array(new SharedArrayBuffer(4));
      assert.deepEqual(await pool.run('bothSides', [flag]),
        { message: 'A failed', name: 'TypeError', bDone: 1 });
    }
  });

  it('children left unsynced are synced when the task returns, and their ' +
     'error is the task\'s', async () => {
    pool = new Pool({ threads: 2, tasks: FORK });
    const flag = new Int32Array(new SharedArrayBuffer(4));
    await assert.rejects(pool.run('leaveUnsynced', [flag]),
      { name: 'RangeError', code: 'E_LEFT' });
    assert.equal(flag[0], 1);
  });

  it('an aborted root: cancelled() turns true in every descendant', async () => {
    pool = new Pool({ threads: 2, tasks: FORK });
    const seen = new Int32Array(new SharedArrayBuffer(8));
    const ac = new AbortController();
    const run = pool.run('waitCancelled', [4, seen], { signal: ac.signal });
    // Abort once some leaves run; every leaf then sees cancelled() (those
    // that start later see it at once).
    while (Atomics.load(seen, 1) === 0) await new Promise((r) => setTimeout(r, 1));
    ac.abort();
    await assert.rejects(run, { name: 'AbortError' });
    assert.equal(seen[1], 16);
    assert.equal(seen[0], 16);
  });

  it('close() during deep recursion lets it finish; terminate() stops it',
    async () => {
      pool = new Pool({ threads: 2, tasks: FORK });
      const deep = pool.run('deepSlow', [18]);
      await new Promise((r) => setTimeout(r, 20));
      await pool.close();
      assert.equal(await deep, fib(18));
      pool = new Pool({ threads: 2, tasks: FORK });
      const stopped = assert.rejects(pool.run('deepSlow', [40]),
        { code: 'ERR_PENNY_CLOSED' });
      await new Promise((r) => setTimeout(r, 50));
      await pool.terminate();
      await stopped;
    });

  it('refuses promises, functions that are not exports, values that cannot ' +
     'be cloned, handles synced elsewhere, and bad arguments', async () => {
    pool = new Pool({ threads: 2, tasks: FORK });
    await assert.rejects(pool.run('promiseChild'),
      { code: 'ERR_PENNY_TASK', message: /returned a promise/ });
    await assert.rejects(pool.run('promiseRanges'),
      { code: 'ERR_PENNY_TASK', message: /returned a promise/ });
    await assert.rejects(pool.run('notExported'),
      { name: 'TypeError', code: 'ERR_PENNY_ARG' });
    await assert.rejects(pool.run('uncloneable'),
      { code: 'ERR_PENNY_TASK', message: /cannot be cloned/ });
    await assert.rejects(pool.run('foreignHandle'),
      { code: 'ERR_PENNY_TASK', message: /where it was spawned/ });
    assert.deepEqual(await pool.run('badCalls'), [
      ['TypeError', 'ERR_PENNY_ARG'],
      ['TypeError', 'ERR_PENNY_ARG'],
      ['TypeError', 'ERR_PENNY_ARG'],
      ['RangeError', 'ERR_PENNY_RANGE'],
      ['RangeError', 'ERR_PENNY_RANGE'],
    ]);
    // The pool still works.
    assert.equal(await pool.run('jfib', [15]), fib(15));
  });

  it('a getter that forks while Penny copies a child\'s result is refused, ' +
     'even deep in nested syncs', async () => {
    // Stolen, the child's result is encoded outside any task code and the
    // getter's spawn is refused; run on its parent's thread (when no
    // thread was free to steal it), the result is cloned inside the
    // parent's code, where the spawn is the parent's and is synced with
    // it. Either way nothing else may happen (before the fix: a sync with
    // no child, or a crash).
    pool = new Pool({ threads: 3, tasks: FORK });
    for (let i = 0; i < 3; i++) {
      const busy = pool.run('busyTop');
      try {
        assert.equal(await pool.run('hostileTop'), 3);
      } catch (err) {
        assert.equal(err.code, 'ERR_PENNY_TASK', err.stack);
        assert.match(err.message, /only inside a task/);
      }
      assert.equal(await busy, 7);
    }
    assert.equal(await pool.run('jfib', [15]), fib(15));
  });

  it('refuses a symbol or a function on every edge, as a thief would, ' +
     'though the child runs on its parent\'s thread', async () => {
    pool = new Pool({ threads: 1, tasks: FORK });
    for (const where of ['joinArgA', 'joinArgB', 'joinResultA',
      'joinResultB', 'spawnArg', 'spawnResult', 'pforArg', 'spawnSabArg',
      'joinSabArgA', 'pforSabArg', 'spawnSabResult']) {
      await assert.rejects(pool.run('symbolAt', [where]),
        { code: 'ERR_PENNY_TASK', message: /cannot be cloned/ }, where);
    }
  });

  it('reads a child\'s arguments once, a Proxy among them, when they hold ' +
     'a bare SharedArrayBuffer', async () => {
    pool = new Pool({ threads: 1, tasks: FORK });
    assert.deepEqual(await pool.run('bareSabReads'), [1, 1]);
  });

  it('a stolen child that calls process.exit costs only the task it ' +
     'belongs to; tasks queued meanwhile run', async () => {
    pool = new Pool({ threads: 2, tasks: FORK });
    await Promise.all([pool.run('one'), pool.run('one')]);
    const steals = pool.stats().steals;
    const root = pool.run('joinExit');
    // Both threads are busy now: the root in side A, the thief in side B.
    await new Promise((resolve) => { setTimeout(resolve, 50); });
    const queued = [1, 2, 3].map(() => pool.run('one'));
    await assert.rejects(root, { code: 'ERR_PENNY_TASK' });
    // Before the fix the thief's thread took one of them as it died.
    assert.deepEqual(await Promise.all(queued), [1, 1, 1]);
    assert.ok(pool.stats().steals > steals, 'side B was stolen');
    assert.equal(await pool.run('jfib', [15]), fib(15));
  });

  it('a child runs with its arguments as they were at the spawn, getters ' +
     'and later changes notwithstanding', async () => {
    for (const threads of [1, 2]) {
      pool = new Pool({ threads, tasks: FORK });
      for (const wait of [0, 20]) {
        assert.deepEqual(await pool.run('gettersArgs', [wait]),
          ['tag:1', 'tag:5']);
      }
      await pool.terminate();
    }
  });

  it('reads a child\'s arguments once, spawned or on either side of a join',
    async () => {
      for (const threads of [1, 2]) {
        pool = new Pool({ threads, tasks: FORK });
        assert.deepEqual(await pool.run('getterReads'), [1, 1, 1]);
        await pool.terminate();
      }
    });

  it('parallelFor gives every range its own copy of object arguments',
    async () => {
      for (const threads of [1, 2]) {
        pool = new Pool({ threads, tasks: FORK });
        assert.equal(await pool.run('pforCopies'), 0);
        await pool.terminate();
      }
    });

  it('throws outside a task: on the main thread, and after a task awaits',
    async () => {
      for (const call of [
        () => task.join(fib, [1], fib, [2]),
        () => task.spawn(fib, [1]),
        () => task.sync({}),
        () => task.parallelFor(fib, 0, 1, 0, []),
      ]) {
        assert.throws(call, { code: 'ERR_PENNY_TASK' });
      }
      pool = new Pool({ threads: 1, tasks: FORK });
      assert.equal(await pool.run('afterAwait'), 'ERR_PENNY_TASK');
    });

  it('a child over a buffer made inside the task shares it and copies ' +
     'the rest', async () => {
    pool = new Pool({ threads: 2, tasks: FORK });
    assert.deepEqual(await pool.run('localChild'), [7, 1, 1]);
  });

  it('a child forked over a view the task kept sees its memory after the ' +
     'caller\'s buffer was collected', async () => {
    const file = path.join(path.dirname(FORK), 'kept-view.js');
    const out = await new Promise((resolve, reject) => {
      execFile(process.execPath, ['--expose-gc', file],
        { cwd: os.tmpdir(), timeout: 60000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}
${stderr}`)) : resolve(stdout.trim())));
    });
    assert.equal(out, 'collected true sums 16 16');
  });
});
