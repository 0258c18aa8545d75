'use strict';

// JS tasks (new Pool({ tasks })): a module's functions run on the pool's
// threads, values cloned, errors carried over, abort, close, terminate,
// threads that die, async functions.

const assert = require('node:assert/strict');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { execFile } = require('node:child_process');
const os = require('node:os');
const { Pool } = require('../..');

const DIR = path.join(__dirname, 'fixtures', 'tasks');
const BASIC = path.join(DIR, 'basic.js');
const ESM = pathToFileURL(path.join(DIR, 'module.mjs'));

// Terminates `pool` and returns a fresh one with `threads` threads.
async function replacePool(pool, threads) {
  await pool.terminate();
  return new Pool({ threads, tasks: BASIC });
}

describe('JS tasks', function () {
  this.timeout(60000);
  let pool;
  beforeEach(() => {
    pool = new Pool({ threads: 2, tasks: BASIC });
  });
  afterEach(async () => {
    await pool.terminate();
  });

  describe('modules', () => {
    it('runs a CommonJS module\'s functions by name, right after new Pool',
      async () => {
        assert.equal(await pool.run('add', [2, 3]), 5);
        assert.equal(await pool.run('concat', ['a', 1]), 'a1');
        assert.equal(await pool.run('none'), undefined);
      });

    it('runs an ES module given as a file: URL object or string', async () => {
      for (const tasks of [ESM, ESM.href]) {
        const p = new Pool({ threads: 1, tasks });
        try {
          assert.equal(await p.run('mul', [6, 7]), 42);
          assert.equal(await p.run('default', ['x']), 'default x');
        } finally {
          await p.close();
        }
      }
    });

    it('loads an ES module that exports a function named then', async () => {
      const p = new Pool({ threads: 1,
        tasks: pathToFileURL(path.join(DIR, 'exports-then.mjs')) });
      try {
        assert.equal(await p.run('add', [1, 2]), 3);
        assert.equal(await p.run('then', ['x']), 'then x');
      } finally {
        await p.close();
      }
    });

    it('loads a .js ES module with a top-level await, and a file: URL ' +
       'with a query', async () => {
      for (const tasks of [path.join(DIR, 'esm-package', 'awaits.js'),
        `${pathToFileURL(path.join(DIR, 'module.mjs')).href}?v=1`]) {
        const p = new Pool({ threads: 1, tasks });
        try {
          assert.equal(await p.run(tasks.endsWith('.js') ? 'add' : 'mul',
            [2, 3]), tasks.endsWith('.js') ? 5 : 6);
        } finally {
          await p.close();
        }
      }
    });

    it('still runs kernels, by their names and indexes', async () => {
      const v = pool.alloc(Float64Array, 4).fill(2);
      assert.equal(await pool.run('sum', [v]), 8);
      assert.equal(await pool.run(pool.kernels.fib.index, [10]), 55);
      assert.equal(pool.kernels.__task, undefined);
    });

    it('refuses a relative path or another scheme at construction', () => {
      for (const tasks of ['tasks.js', './x.js', 'https://example.com/t.js',
        42, '']) {
        assert.throws(() => new Pool({ threads: 1, tasks }),
          { code: 'ERR_PENNY_ARG' });
      }
    });

    it('rejects unknown names, and exports that are not functions',
      async () => {
        await assert.rejects(pool.run('nope', []), {
          name: 'RangeError', code: 'ERR_PENNY_RANGE',
        });
        await assert.rejects(pool.run('notAFunction', []), {
          code: 'ERR_PENNY_TASK', message: /not a function/,
        });
        assert.equal(await pool.run('add', [1, 1]), 2);
      });

    for (const [file, why] of [
      ['throws-at-load.js', /does not load/],
      ['syntax-error.mjs', /SyntaxError|Unexpected/],
      ['missing.js', /Cannot find module|ERR_MODULE_NOT_FOUND|missing/],
    ]) {
      it(`rejects every JS task of a module that fails to load (${file})`,
        async () => {
          const p = new Pool({ threads: 2, tasks: path.join(DIR, file) });
          try {
            const runs = [p.run('add', [1, 2]), p.run('anything', [])];
            for (const run of runs) {
              await assert.rejects(run, (err) => {
                assert.equal(err.code, 'ERR_PENNY_TASK');
                assert.match(err.message, why);
                return true;
              });
            }
            // The threads still run kernels, by index.
            assert.equal(await p.run(p.kernels.fib.index, [12]), 144);
          } finally {
            await p.close();
          }
        });
    }
  });

  describe('values', () => {
    it('numbers in the ring keep their value exactly: -0, NaN, big and ' +
       'fractional ones', async () => {
      for (const [a, b, sum] of [[-0, -0, -0], [0, -0, 0], [2 ** 31, 0, 2 ** 31],
        [-(2 ** 31), -1, -(2 ** 31) - 1], [1.5, 0, 1.5], [NaN, 1, NaN],
        [Number.MAX_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER]]) {
        assert.ok(Object.is(await pool.run('add', [a, b]), sum),
          `${a} + ${b}`);
      }
      assert.deepEqual(await pool.run('echo', [-0, 7]), [-0, 7]);
    });

    it('refuses a revoked Proxy, as an argument or as the list, and a list ' +
       'too long to spread, with codes', async () => {
      const { proxy, revoke } = Proxy.revocable([], {});
      revoke();
      for (const args of [[proxy], [[1, proxy]], [{ a: proxy }]]) {
        await assert.rejects(pool.run('echo', args),
          { code: 'ERR_PENNY_TASK', message: /cannot be cloned/ });
      }
      await assert.rejects(pool.run('echo', proxy), { code: 'ERR_PENNY_ARG' });
      await assert.rejects(pool.run('noop', proxy), { code: 'ERR_PENNY_ARG' });
      await assert.rejects(pool.run('echo', new Array(1e6)),
        { code: 'ERR_PENNY_ARG', message: /at most 65536/ });
      // A kernel by name too: a wrong count is ERR_PENNY_ARG either way.
      await assert.rejects(pool.run('sum', new Array(70000)),
        { code: 'ERR_PENNY_ARG' });
      for (const length of [2 ** 32 - 1, -1, 1.5, '2']) {
        const lying = new Proxy([], {
          get: (t, k) => (k === 'length' ? length : undefined),
        });
        await assert.rejects(pool.run('echo', lying),
          { code: 'ERR_PENNY_ARG' }, String(length));
      }
      assert.deepEqual(await pool.run('echo', new Array(3).fill(1)), [1, 1, 1]);
    });

    it('clones arguments and results with structured-clone semantics',
      async () => {
        const date = new Date(5);
        const [o, m, d, b, big, n] = await pool.run('echo', [
          { a: [1, { b: 'c' }] }, new Map([[1, 'x']]), date,
          Buffer.from('hi'), 10n ** 30n, null,
        ]);
        assert.deepEqual(o, { a: [1, { b: 'c' }] });
        assert.deepEqual(m, new Map([[1, 'x']]));
        assert.equal(d.getTime(), 5);
        assert.notEqual(d, date);
        assert.deepEqual([...b], [104, 105]);
        assert.equal(big, 10n ** 30n);
        assert.equal(n, null);
        const shape = await pool.run('shape', [Object.create({ inherited: 1 },
          { own: { value: 2, enumerable: true } })]);
        assert.deepEqual(shape, { keys: ['own'], type: '[object Object]' });
      });

    it('gives simple values back exactly, on the fast path or not',
      async () => {
        const sab = new SharedArrayBuffer(32);
        const values = [0, -0, NaN, Infinity, -1e308, 2 ** 53 + 2, '', 'ascii',
          'héllo ✓ 🎉', 'lone \ud800 surrogate', 'x'.repeat(100000), true,
          false, null, undefined, [], [1, -0, NaN], [1, 'mixed'],
          Object.assign([1, 2], { extra: 3 }), [1, , 3], // eslint-disable-line no-sparse-arrays
          new Float32Array(sab, 4, 3), new DataView(sab, 8, 8),
          Array.from({ length: 300 }, (_, i) => i)];
        const back = await pool.run('echo', values);
        assert.equal(back.length, values.length);
        for (let i = 0; i < values.length; i++) {
          const [v, w] = [values[i], back[i]];
          if (ArrayBuffer.isView(v)) {
            // The same memory (a SharedArrayBuffer comes back as a new
            // object over it, as from postMessage).
            assert.equal(w.constructor, v.constructor, `value ${i}`);
            assert.equal(w.byteOffset, v.byteOffset);
            assert.equal(w.byteLength, v.byteLength);
            new Uint8Array(w.buffer)[31] = i;
            assert.equal(new Uint8Array(sab)[31], i, `value ${i} is shared`);
          } else {
            assert.deepStrictEqual(w, v, `value ${i}`);
          }
        }
        assert.ok(Object.is(back[1], -0));
        assert.equal(back[18].extra, 3);
        assert.ok(!(1 in back[19]));
        // And each as a result of its own.
        for (const v of [-0, 'héllo ✓', 'lone \udc00', [1, 2.5], null, true]) {
          assert.deepStrictEqual(await pool.run('echo', [v]).then((r) => r[0]), v);
        }
      });

    it('copies ordinary arrays: the task\'s writes do not come back',
      async () => {
        const arr = new Float64Array([1, 2]);
        const back = await pool.run('mutate', [arr]);
        assert.equal(arr[0], 1);
        assert.equal(back[0], 99);
      });

    it('shares views over the arena and over other SharedArrayBuffers',
      async () => {
        const a = pool.alloc(Float64Array, 1000);
        await pool.run('fill', [a, 3]);
        assert.equal(a[999], 3);
        assert.equal(await pool.run('sum', [a.subarray(10, 20)]), 30);
        const s = new Int16Array(new SharedArrayBuffer(64), 8, 4);
        await pool.run('fill', [s, -2]);
        assert.deepEqual([...s], [-2, -2, -2, -2]);
        assert.equal(new Int16Array(s.buffer)[3], 0);
        // A result over a SharedArrayBuffer the task made is shared too.
        const r = await pool.run('sharedResult', []);
        assert.ok(r.buffer instanceof SharedArrayBuffer);
        assert.equal(r[0], 7);
      });

    it('gives one view as the only argument over the same memory, for ' +
       'every class, offset and buffer', async () => {
      const sab = new SharedArrayBuffer(256);
      const views = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array,
        Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array,
        BigInt64Array, BigUint64Array].map((C, i) =>
        new C(sab, 8 * i, 3)).concat([new DataView(sab, 101, 5),
        new Uint8Array(sab, 255, 1), new Float64Array(sab, 0, 0),
        pool.alloc(Float32Array, 6).subarray(2, 5)]);
      const { Float16Array: F16 } = globalThis;
      if (typeof F16 === 'function') views.push(new F16(sab, 8, 4));
      for (const v of views) {
        const bytes = new Uint8Array(v.buffer, v.byteOffset, 1);
        bytes[0] = 0;
        const seen = await pool.run('viewSeen', [v]);
        assert.deepEqual(seen, {
          type: Object.prototype.toString.call(v), byteOffset: v.byteOffset,
          byteLength: v.byteLength, shared: true,
        });
        if (v.byteLength > 0) assert.equal(bytes[0], 42, 'the same memory');
      }
      // A buffer nobody else holds stays alive until the task has it.
      const results = [];
      for (let i = 0; i < 20; i++) {
        results.push(pool.run('sum', [new Float64Array(new SharedArrayBuffer(
          800)).fill(i)]));
      }
      global.gc?.();
      assert.deepEqual(await Promise.all(results),
        Array.from({ length: 20 }, (_, i) => 100 * i));
      // An ordinary buffer's view is copied, as before.
      const own = new Float64Array(4);
      assert.equal((await pool.run('viewSeen', [own])).shared, false);
      assert.equal(own[0], 0);
    });

    it('gives short arrays of numbers back exactly, and what only looks ' +
       'like one as structured clone has it', async () => {
      const got = async (kind) => pool.run('numbers', [kind]);
      assert.deepStrictEqual(await got('empty'), []);
      const specials = await got('specials');
      assert.deepStrictEqual(specials, [-0, NaN, Infinity, -Number.MAX_VALUE]);
      assert.ok(Object.is(specials[0], -0));
      assert.deepStrictEqual(await got('four'), [1, 2, 3, 4]);
      assert.deepStrictEqual(await got('five'), [1, 2, 3, 4, 5]);
      const hole = await got('hole');
      assert.equal(hole.length, 3);
      assert.ok(!(1 in hole));
      assert.equal((await got('extra')).extra, 3);
      const sub = await got('subclass');
      assert.equal(Object.getPrototypeOf(sub), Array.prototype);
      assert.deepStrictEqual(sub, [1, 2]);
      assert.deepStrictEqual(await got('getter'), [1, 2]);
      assert.deepStrictEqual(await got('async'), [5, 6]);
      // A hidden element and an extra key, as a result and as arguments:
      // a hole and the key, as the HTML standard's structured clone has
      // them (it copies an array's enumerable own keys; V8 does, Bun's
      // structuredClone keeps the element too).
      const { hiddenElement } = require(BASIC);
      const hidden = Object.assign([1], { x: 7 });
      hidden.length = 2;
      assert.deepStrictEqual(await got('hidden'), hidden);
      assert.deepStrictEqual(await pool.run('echo', [hiddenElement(), 1]),
        [hidden, 1]);
      // A Proxy, as this runtime's structured clone has it (V8 refuses it).
      let cloned;
      try {
        cloned = structuredClone(new Proxy([1, 2], {}));
      } catch {
        cloned = null;
      }
      if (cloned === null) {
        await assert.rejects(got('proxy'), { code: 'ERR_PENNY_TASK' });
      } else {
        assert.deepStrictEqual(await got('proxy'), cloned);
      }
      assert.deepStrictEqual(await got('0.5'), [0.5]);
      const before = pool.stats();
      await Promise.all(Array.from({ length: 100 }, (_, i) => got(String(i))));
      const after = pool.stats();
      assert.equal(after.completed - before.completed, 100);
      assert.equal(after.failed, before.failed);
    });

    it('rejects values that cannot be cloned with ERR_PENNY_TASK',
      async () => {
        await assert.rejects(pool.run('echo', [() => 1]),
          { code: 'ERR_PENNY_TASK' });
        await assert.rejects(pool.run('echo', [new SharedArrayBuffer(8)]),
          { code: 'ERR_PENNY_TASK' });
        await assert.rejects(pool.run('returnFunction', []),
          { code: 'ERR_PENNY_TASK', message: /cannot be cloned/ });
        assert.equal(await pool.run('add', [1, 2]), 3);
      });

    it('reads an array\'s elements once: a getter cannot make the copy ' +
       'outgrow its room', async function () {
      // Bun's clone of the 2^32 - 1 long array below walks every index:
      // about 50 s there.
      this.timeout(240000);
      // First fit puts the arguments at the freed spacer, right before
      // the neighbour.
      const spacer = pool.alloc(Uint8Array, 64);
      const neighbour = pool.alloc(Float64Array, 1000).fill(7);
      pool.free(spacer);
      const arr = [0, 0];
      let reads = 0;
      Object.defineProperty(arr, 0, {
        enumerable: true,
        get() {
          if (++reads > 1) for (let i = 0; i < 500; i++) arr.push(12345);
          return 1;
        },
      });
      assert.deepEqual(await pool.run('echo', ['x', arr]), ['x', [1, 0]]);
      assert.equal(reads, 1);
      assert.ok(neighbour.every((x) => x === 7), 'the neighbour is untouched');
      // A getter that changes a later array (its length, its elements, its
      // keys) before the fast path reads it changes what the clone sees.
      const later = [1, 2];
      const first = [0];
      Object.defineProperty(first, 0, {
        enumerable: true,
        get() {
          later.length = 2 ** 32 - 1;
          return 0;
        },
      });
      const [, back] = await pool.run('echo', [first, later]);
      assert.equal(back.length, 2 ** 32 - 1);
      assert.deepEqual([back[0], back[1], 2 in back], [1, 2, false]);
      const holey = [1, 2, 3];
      const deleter = [0];
      Object.defineProperty(deleter, 0, {
        enumerable: true,
        get() {
          delete holey[1];
          holey.extra = 'x';
          return 0;
        },
      });
      const [, h] = await pool.run('echo', [deleter, holey]);
      assert.deepEqual([h.length, 1 in h, h.extra], [3, false, 'x']);
      // One array twice stays one.
      const twice = [1, 2];
      assert.equal(await pool.run('sameTwice', [twice, twice]), true);
    });

    it('runs each getter once, in a structured clone\'s order, arrays ' +
       'that refer to themselves and each other included', async () => {
      // Each case makes its value afresh, counting its getters' calls.
      const g = (arr, i, value, then = () => {}) => {
        Object.defineProperty(arr, i, {
          enumerable: true,
          get() { reads++; then(); return value; },
        });
        return arr;
      };
      let reads = 0;
      const cases = {
        'a getter, then a string': () => [g([0, 'x'], 0, 1)],
        'an array within itself, deep down': () => {
          const a = [0, {}];
          a[1].back = a;
          return [g(a, 0, 1)];
        },
        'an array within itself': () => {
          const a = g([0, 'y'], 0, 1);
          a.push(a, [a]);
          return [a];
        },
        'arrays that hold each other': () => {
          const first = g([0, 2], 0, 1);
          const second = ['s', first, 3.5];
          second.extra = 'kept';
          return [first, second];
        },
        'a getter that changes what came before it': () => {
          const o = { v: 'before' };
          return [g([g([0], 0, 1), o, 0], 2, 3, () => { o.v = 'after'; })];
        },
        'a getter that redefines itself': () => {
          const a = ['x'];
          Object.defineProperty(a, 0, {
            enumerable: true,
            configurable: true,
            get() {
              reads++;
              Object.defineProperty(a, 0, { value: 5 });
              return 1;
            },
          });
          return [a, 'z'];
        },
      };
      for (const [what, make] of Object.entries(cases)) {
        reads = 0;
        const expected = structuredClone(make());
        const cloneReads = reads;
        reads = 0;
        const got = await pool.run('echo', make());
        assert.equal(reads, cloneReads, `${what}: getters run once`);
        assert.deepEqual(got, expected, what);
      }
      reads = 0;
      const [[a]] = [await pool.run('echo', cases['an array within ' +
        'itself, deep down']())];
      assert.equal(a[1].back, a, 'one array, not two');
      const [first, second] = await pool.run('echo',
        cases['arrays that hold each other']());
      assert.equal(second[1], first);
    });

    it('a getter that throws something odd rejects with ERR_PENNY_TASK, ' +
       'for arguments and results alike', async () => {
      const { oddThrows } = require(BASIC);
      for (const kind of ['symbol', 'symbolMessage', 'messageGetter',
        'revoked', 'number']) {
        for (const run of [() => pool.run('echo', [oddThrows(kind)]),
          () => pool.run('oddThrows', [kind])]) {
          await assert.rejects(run(), (err) => {
            assert.equal(err.code, 'ERR_PENNY_TASK', kind);
            assert.match(err.message, /cannot be cloned/, kind);
            return true;
          });
        }
      }
      assert.equal(await pool.run('add', [1, 2]), 3);
    });

    it('reads a result once; a getter that throws rejects with ' +
       'ERR_PENNY_TASK and its message, and the thread lives on', async () => {
      const one = new Pool({ threads: 1, tasks: BASIC });
      try {
        const before = await one.run('threadId');
        assert.deepEqual(await one.run('getterResult', ['twice']), [1, 0]);
        assert.deepEqual(await one.run('getterResult', ['mixed']), [1, 'x']);
        const [n, view] = await one.run('getterResult', ['shared']);
        assert.equal(n, 1);
        assert.ok(view.buffer instanceof SharedArrayBuffer);
        await assert.rejects(one.run('getterResult', ['always']),
          { code: 'ERR_PENNY_TASK', message: /cannot be cloned: read always/ });
        assert.equal(await one.run('threadId'), before,
          'the thread was not replaced');
      } finally {
        await one.terminate();
      }
    });

    it('keeps views over one ArrayBuffer over one copy of it', async () => {
      const buf = new ArrayBuffer(4);
      assert.deepEqual(await pool.run('alias',
        [new Uint8Array(buf), new Uint8Array(buf, 2)]), [42, true, 2]);
      assert.equal(new Uint8Array(buf)[2], 0, 'a copy, not the caller\'s');
      const [a, b, ab] = await pool.run('aliasedResult');
      assert.equal(a.buffer, b.buffer);
      assert.equal(a.buffer, ab);
      assert.equal(a.byteOffset, 2);
      b[1] = 0xffff;
      assert.deepEqual([...a], [0xff, 0xff, 0, 0]);
    });

    it('copies its arguments at the call, also on a pool whose threads ' +
       'have not loaded the module yet', async () => {
      const fresh = new Pool({ threads: 2, tasks: BASIC });
      try {
        const o = { a: 1 };
        const runs = [];
        for (let i = 0; i < 3; i++) {
          o.a = i;
          runs.push(fresh.run('echo', [o, 'x']));
        }
        const arena = fresh.alloc(Float64Array, 4);
        const aborted = new AbortController();
        const gone = fresh.run('echo', [{ big: new Array(64).fill(1) }],
          { signal: aborted.signal });
        aborted.abort();
        await assert.rejects(gone, { name: 'AbortError' });
        // Arguments that cannot be copied, for names that are no task,
        // reject as those names do.
        await assert.rejects(fresh.run('nope', [() => 1]),
          { code: 'ERR_PENNY_RANGE' });
        await assert.rejects(fresh.run('notAFunction', [() => 1]),
          { code: 'ERR_PENNY_TASK', message: /not a function/ });
        const got = await Promise.all(runs);
        assert.deepEqual(got.map(([v]) => v.a), [0, 1, 2]);
        fresh.free(arena);
        assert.equal(fresh.stats().heapUsed, 0, 'no block left behind');
      } finally {
        await fresh.close();
      }
    });

    it('reads its arguments once, at the call', async () => {
      let reads = 0;
      const args = new Proxy(['a', 'b'], {
        get(target, key) {
          if (key === '0') reads++;
          return Reflect.get(target, key);
        },
      });
      const p = pool.run('concat', args);
      args[0] = 'changed';
      assert.equal(await p, 'ab');
      assert.equal(reads, 1);
    });
  });

  describe('errors', () => {
    it('rejects with the thrown error\'s class, message, stack and own properties',
      async () => {
        await assert.rejects(pool.run('fail', ['too big']), (err) => {
          assert.ok(err instanceof RangeError);
          assert.equal(err.message, 'too big');
          assert.equal(err.code, 'E_TASK');
          assert.deepEqual(err.detail, { n: 1 });
          assert.match(err.stack, /basic\.js/);
          return true;
        });
        await assert.rejects(pool.run('failCustom', []), (err) => {
          assert.equal(err.name, 'CustomError');
          assert.equal(err.message, 'custom');
          assert.equal(err.level, 3);
          return true;
        });
        await assert.rejects(pool.run('throwValue', []), (v) => v === 42);
        await assert.rejects(pool.run('failUncloneable', []), (err) => {
          assert.equal(err.message, 'with fn');
          assert.equal(err.code, 'E_FN');
          assert.equal(err.fn, undefined);
          return true;
        });
        const s = pool.stats();
        assert.equal(s.failed, 4);
      });

    it('keeps what clones of a cause or of errors whose own property does ' +
       'not', async () => {
      await assert.rejects(pool.run('failDeepUncloneable', ['cause']),
        (err) => {
          assert.equal(err.message, 'outer');
          assert.ok(err.cause instanceof Error);
          assert.equal(err.cause.message, 'inner');
          assert.equal(err.cause.code, 'E_INNER');
          assert.equal(err.cause.hook, undefined);
          return true;
        });
      await assert.rejects(pool.run('failDeepUncloneable', ['errors']),
        (err) => {
          assert.ok(err instanceof AggregateError);
          assert.deepEqual(err.errors.map((e) => [e?.message, e?.code]),
            [['inner', 'E_INNER'], ['e2', undefined], [undefined, undefined]]);
          return true;
        });
      // A property no read of which succeeds: left out, and the thread
      // that threw it lives on.
      pool = await replacePool(pool, 1);
      const thread = await pool.run('threadId', []);
      await assert.rejects(pool.run('failRevokedProp', ['self']),
        { message: 'has revoked', code: 'E_REVOKED' });
      await assert.rejects(pool.run('failRevokedProp', ['cause']),
        (err) => err.cause?.code === 'E_REVOKED');
      assert.equal(await pool.run('threadId', []), thread);
      // A value that carries the key Penny marks its records with arrives
      // as it was, wherever it is.
      const info = { '\u0000penny.error': true, isError: false,
        thrown: 'not mine' };
      await assert.rejects(pool.run('failMarked', ['prop']), (err) => {
        assert.equal(err.message, 'marked');
        assert.deepEqual({ ...err.info }, info);
        return true;
      });
      await assert.rejects(pool.run('failMarked', ['errors']), (err) => {
        assert.deepEqual({ ...err.errors[0] }, info);
        assert.deepEqual({ ...err.errors[1].info }, info);
        return true;
      });
      await assert.rejects(pool.run('failMarked', ['thrown']), (v) => {
        assert.deepEqual({ ...v }, info);
        return true;
      });
      assert.equal(await pool.run('threadId', []), thread);
    });

    it('a result nested too deep for the main thread to read rejects with ' +
       'ERR_PENNY_TASK, counts as failed and leaves nothing behind',
    async () => {
      const { getEventListeners } = require('node:events');
      const ac = new AbortController();
      // The string puts the arguments in an arena block. (Under Bun, whose
      // Workers have a smaller stack, the task's own thread cannot encode
      // it either.)
      await assert.rejects(pool.run('nested', [100000, 'in the arena'],
        { signal: ac.signal }), { code: 'ERR_PENNY_TASK',
        message: /result cannot be (read|cloned)/ });
      const s = pool.stats();
      assert.equal(s.completed, 0);
      assert.equal(s.failed, 1);
      assert.equal(s.heapUsed, 0);
      assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
      assert.deepEqual(await pool.run('nested', [2, 'x']), [[[]]]);
    });
  });

  describe('async functions', () => {
    it('awaits a returned promise on the task\'s thread', async () => {
      const results = await Promise.all([1, 2, 3, 4].map(
        (x) => pool.run('later', [x, 20])));
      assert.deepEqual(results, [2, 4, 6, 8]);
      await assert.rejects(pool.run('laterFail', []),
        { name: 'TypeError', message: 'async failure' });
    });

    it('shares a SharedArrayBuffer made in the task with the result\'s ' +
       'views, wherever they are in it', async () => {
      const [v, { tail }, x] = await pool.run('sharedLater', []);
      assert.equal(x, 'x');
      assert.equal(tail.buffer, v.buffer, 'one buffer for both views');
      assert.equal(tail.byteOffset, 4);
      for (let i = 0; i < 200 && Atomics.load(v, 0) === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(Atomics.load(v, 0), 9, 'the task\'s later write shows');
    });

    it('shares a SharedArrayBuffer made in the task with what it throws',
      async () => {
        const one = new Pool({ threads: 1, tasks: BASIC });
        try {
          for (const kind of ['error', 'async']) {
            await assert.rejects(one.run('throwShared', [kind]), (err) => {
              assert.ok(err instanceof Error);
              assert.equal(err.message, 'with a view');
              assert.ok(err.view.buffer instanceof SharedArrayBuffer);
              assert.equal(err.view[0], 3);
              assert.equal(err.fn, undefined, 'the function is left out');
              return true;
            }, kind);
          }
          await assert.rejects(one.run('throwShared', ['object']), (err) => {
            assert.equal(err.n, 1);
            assert.equal(err.view[0], 3);
            return true;
          });
          const s = one.stats();
          assert.deepEqual([s.completed, s.failed], [0, 3]);
        } finally {
          await one.close();
        }
      });

    it('runs callbacks a task left behind', async () => {
      const v = pool.alloc(Int32Array, 1);
      await pool.run('writeLater', [v]);
      for (let i = 0; i < 200 && v[0] === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(v[0], 1);
    });
  });

  describe('abort, close and terminate', () => {
    it('an async task aborted before its first await settles no other ' +
       'task', async () => {
      const two = new Pool({ threads: 2, tasks: BASIC });
      try {
        await Promise.all([two.run('add', [1, 2]), two.run('add', [1, 2])]);
        for (let i = 0; i < 2; i++) {
          const ac = new AbortController();
          const x = two.run('spinThenLater', ['X', 200, 300],
            { signal: ac.signal });
          setTimeout(() => ac.abort(), 50);
          await assert.rejects(x, { name: 'AbortError' });
          // Its slot, free again, goes to this task.
          assert.equal(await two.run('spinThenLater', ['Y', 0, 600]), 'Y');
        }
        const s = two.stats();
        assert.deepEqual([s.cancelled, s.completed], [2, 4]);
      } finally {
        await two.close();
      }
    });

    it('cancelled() tells a running task its signal aborted', async () => {
      const ac = new AbortController();
      const run = pool.run('spinUntilCancelled', [], { signal: ac.signal });
      setTimeout(() => ac.abort(new Error('enough')), 50);
      await assert.rejects(run, { message: 'enough' });
      const ac2 = new AbortController();
      const run2 = pool.run('asyncUntilCancelled', [], { signal: ac2.signal });
      setTimeout(() => ac2.abort(), 50);
      await assert.rejects(run2, { name: 'AbortError' });
      assert.equal(await pool.run('isCancelled', []), false);
      assert.equal(require('penny/task').cancelled(), false);
    });

    it('rejects at once with an aborted signal', async () => {
      await assert.rejects(pool.run('add', [1, 2],
        { signal: AbortSignal.abort(new Error('no')) }), { message: 'no' });
    });

    it('an abort rejects a run still waiting for the module to load',
      async () => {
        const stuck = new Pool({
          threads: 1, tasks: path.join(DIR, 'stuck-at-load.mjs'),
        });
        try {
          const ac = new AbortController();
          const run = stuck.run('add', [1, 2], { signal: ac.signal });
          const other = stuck.run('add', [1, 2]).catch((err) => err);
          setTimeout(() => ac.abort(new Error('gave up')), 20);
          await assert.rejects(run, { message: 'gave up' });
          await assert.rejects(stuck.run('add', [1, 2],
            { signal: AbortSignal.abort(new Error('no')) }), { message: 'no' });
          await stuck.terminate();
          assert.equal((await other).code, 'ERR_PENNY_CLOSED');
        } finally {
          await stuck.terminate();
        }
      });

    it('refuses a run made from inside its signal\'s addEventListener, ' +
       'rather than lose its abort', async () => {
      // Node's EventTarget calls this hook before it stores a signal's first
      // listener, and drops a listener added from inside it.
      const kNewListener = Object.getOwnPropertySymbols(EventTarget.prototype)
        .find((s) => s.description === 'kNewListener');
      if (kNewListener === undefined) return; // not Node's EventTarget
      const stuck = new Pool({
        threads: 1, tasks: path.join(DIR, 'stuck-at-load.mjs'),
      });
      try {
        const ac = new AbortController();
        let nested = null;
        Object.defineProperty(ac.signal, kNewListener, {
          configurable: true,
          value(...args) {
            nested ??= stuck.run('add', [1, 1], { signal: ac.signal });
            return AbortSignal.prototype[kNewListener].apply(this, args);
          },
        });
        const run = stuck.run('add', [1, 2], { signal: ac.signal });
        await assert.rejects(nested, { code: 'ERR_PENNY_ARG' });
        ac.abort(new Error('gave up'));
        await assert.rejects(run, { message: 'gave up' });
      } finally {
        await stuck.terminate();
      }
    });

    it('close() lets every task finish, then refuses new ones', async () => {
      const runs = [];
      for (let i = 0; i < 1000; i++) runs.push(pool.run('add', [i, 1]));
      runs.push(pool.run('later', [5, 30]));
      const closing = pool.close();
      await assert.rejects(pool.run('add', [1, 2]), { code: 'ERR_PENNY_CLOSED' });
      const out = await Promise.all(runs);
      assert.equal(out[999], 1000);
      assert.equal(out[1000], 10);
      await closing;
    });

    it('terminate() stops an endless task and rejects the rest', async () => {
      const endless = pool.run('forever', []);
      const queued = [];
      for (let i = 0; i < 100; i++) queued.push(pool.run('busy', [1]));
      // Arguments in arena blocks, which the rejections give back.
      for (let i = 0; i < 20; i++) queued.push(pool.run('echo', [{ i }]));
      const settled = Promise.allSettled(queued);
      const endlessSettled = endless.catch((err) => err);
      await new Promise((r) => setTimeout(r, 50));
      await pool.terminate();
      assert.equal((await endlessSettled).code, 'ERR_PENNY_CLOSED');
      for (const s of await settled) {
        if (s.status === 'rejected') assert.equal(s.reason.code, 'ERR_PENNY_CLOSED');
        else assert.ok(s.value === 1 || Array.isArray(s.value));
      }
      assert.equal(pool.stats().heapUsed, 0, 'no arguments block left');
      await assert.rejects(pool.run('add', [1, 2]), { code: 'ERR_PENNY_CLOSED' });
      await pool.close();
    });
  });

  describe('threads that die', () => {
    it('process.exit in a task rejects that task only, and the thread is replaced',
      async () => {
        const ids = async () => new Set(await Promise.all(
          [0, 1, 2, 3].map(() => pool.run('busyThreadId', [30]))));
        const before = await ids();
        const others = [];
        for (let i = 0; i < 2000; i++) others.push(pool.run('add', [i, 0]));
        await assert.rejects(pool.run('exit', [0]), {
          code: 'ERR_PENNY_TASK', message: /stopped/,
        });
        const out = await Promise.all(others);
        out.forEach((v, i) => assert.equal(v, i));
        // The pool goes on, on a new thread.
        // The new thread takes a while to start; then it runs tasks too.
        let fresh = false;
        for (let i = 0; i < 100 && !fresh; i++) {
          fresh = [...await ids()].some((id) => !before.has(id));
        }
        assert.ok(fresh, 'a new thread runs tasks');
        assert.equal(await pool.run('add', [2, 2]), 4);
      });

    it('an uncaught error in a callback kills the thread, which is replaced',
      async () => {
        for (let i = 0; i < 3; i++) {
          assert.equal(await pool.run('throwLater', []), 'scheduled');
          await new Promise((r) => setTimeout(r, 50));
          assert.equal(await pool.run('add', [i, 1]), i + 1);
        }
      });

    it('a task awaiting a promise when its thread exits rejects', async () => {
      await assert.rejects(pool.run('exitWhileAwaiting', []), {
        code: 'ERR_PENNY_TASK', message: /exited/,
      });
      assert.equal(await pool.run('add', [1, 2]), 3);
    });

    it('close() settles when the threads die loading the module while a ' +
       'kernel waits', async () => {
      const p = new Pool({ threads: 2,
        tasks: path.join(DIR, 'exits-while-loading.js') });
      try {
        const kernel = p.run(p.kernels.fib.index, [10]);
        const closed = p.close();
        await assert.rejects(kernel, { code: 'ERR_PENNY_TASK' });
        await closed; // hung before: nothing told close() the pool was idle
        // Closed, it says so before it says it is broken, or that the
        // arguments are wrong.
        await assert.rejects(p.run('add', [1, 2]), { code: 'ERR_PENNY_CLOSED' });
        await assert.rejects(p.run('add', 5), { code: 'ERR_PENNY_CLOSED' });
        await assert.rejects(p.run(p.kernels.fib.index, [3]),
          { code: 'ERR_PENNY_CLOSED' });
      } finally {
        await p.terminate();
      }
    });

    it('terminate() during close() resolves, and lets close() resolve, ' +
       'only once the threads are gone', async function () {
      if (process.platform !== 'linux') this.skip(); // counts /proc/self/task
      const count = () => require('node:fs').readdirSync('/proc/self/task')
        .length;
      const before = count();
      const p = new Pool({ threads: 4, tasks: BASIC });
      assert.equal(await p.run('add', [1, 2]), 3);
      let atClose = null;
      const closing = p.close().then(() => { atClose = count(); });
      // close() has begun to stop the threads by now.
      await new Promise((resolve) => { setImmediate(resolve); });
      await new Promise((resolve) => { setImmediate(resolve); });
      await p.terminate();
      const atTerminate = count();
      await closing;
      assert.ok(atTerminate <= before, `${atTerminate} > ${before}`);
      assert.ok(atClose <= before, `${atClose} > ${before}`);
    });

    it('a module whose threads keep dying never hangs a task', async () => {
      const p = new Pool({ threads: 2, tasks: path.join(DIR, 'exits-at-load.js') });
      try {
        const settled = await Promise.allSettled(
          Array.from({ length: 50 }, (_, i) => p.run('add', [i, 1])));
        for (const [i, s] of settled.entries()) {
          if (s.status === 'fulfilled') assert.equal(s.value, i + 1);
          else assert.equal(s.reason.code, 'ERR_PENNY_TASK');
        }
      } finally {
        await p.terminate();
      }
    });
  });

  describe('lifetime', () => {
    // Runs a fixture in a fresh process: { code, signal, stdout, stderr,
    // timedOut }.
    const runNode = (file, nodeArgs = [], env = process.env) =>
      new Promise((resolve) => {
        const child = execFile(process.execPath,
          [...nodeArgs, path.join(DIR, file)], {
            cwd: os.tmpdir(), timeout: 30000, killSignal: 'SIGKILL', env,
          }, (err, stdout, stderr) => resolve({
            code: child.exitCode, signal: child.signalCode,
            timedOut: Boolean(err && err.killed), stdout, stderr,
          }));
      });
    const clean = (r, what) => {
      assert.equal(r.timedOut, false, `${what} hung\n${r.stdout}`);
      assert.equal(r.signal, null, `${what} died of ${r.signal}\n${r.stderr}`);
      assert.equal(r.code, 0, `${what} exited with ${r.code}\n${r.stderr}`);
    };

    it('an idle task pool never keeps the process alive', async () => {
      const r = await runNode('exit-idle.js');
      clean(r, 'a process with an idle task pool');
      assert.equal(r.stdout.trim(), 'result 3');
    });

    it('process.exit with an endless task running exits cleanly', async () => {
      const r = await runNode('exit-endless.js');
      clean(r, 'process.exit during an endless task');
      assert.equal(r.stdout.trim(), 'result 3');
    });

    it('terminating a Worker that owns a busy task pool leaves the process well',
      async () => {
        const r = await runNode('worker-owns-task-pool.js');
        clean(r, 'terminating Workers with task pools');
        assert.equal(r.stdout.trim(), 'terminated 3');
      });

    it('a run aborted while the module loads lets the process exit',
      async () => {
        const r = await runNode('abort-while-loading.js');
        clean(r, 'an aborted run on a module that never loads');
        assert.equal(r.stdout.trim(), 'rejected AbortError');
      });

    it('a small view over a large buffer, once collected, holds no memory',
      async () => {
        const r = await runNode('big-result.js', ['--expose-gc']);
        clean(r, 'big results');
        const { base, after } = JSON.parse(r.stdout);
        assert.ok(after < base + 32, `64 MiB results let go: ${r.stdout}`);
      });

    it('a result posted by a task aborted as it awaited is let go', async () => {
      // Under ASan (make test-addon-asan), freed memory would wait in its
      // quarantine, still counted in RSS: none here.
      const asan = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=0']
        .filter(Boolean).join(' ');
      const r = await runNode('aborted-posted.js', ['--expose-gc'],
        { ...process.env, ASAN_OPTIONS: asan });
      clean(r, 'aborted posted results');
      const { aborted, base, after } = JSON.parse(r.stdout);
      assert.equal(aborted, 6);
      assert.ok(after < base + 192, `6 x 64 MiB let go: ${r.stdout}`);
    });

    it('a task pool dropped without close() stops its threads', async function () {
      if (process.platform !== 'linux') this.skip(); // counts /proc/self/task
      const r = await runNode('gc-task-pools.js', ['--expose-gc']);
      clean(r, 'dropped task pools');
      const { before, during, after } = JSON.parse(r.stdout);
      assert.ok(during >= before + 8, `8 task threads started: ${r.stdout}`);
      assert.ok(after <= before, `every one stopped: ${r.stdout}`);
    });
  });

  describe('counts', () => {
    it('runs every task exactly once: JS tasks and kernels mixed, more threads than cores',
      async () => {
        const p = new Pool({ threads: 6, tasks: BASIC });
        try {
          const n = 30000;
          const runs = [];
          const v = p.alloc(Float64Array, 8).fill(1);
          for (let i = 0; i < n; i++) {
            if (i % 7 === 0) runs.push(p.run('sum', [v]));
            else if (i % 11 === 0) runs.push(p.run('concat', ['k', i]));
            else runs.push(p.run('add', [i, 1]));
          }
          const out = await Promise.all(runs);
          for (let i = 0; i < n; i++) {
            const want = i % 7 === 0 ? 8 : i % 11 === 0 ? `k${i}` : i + 1;
            assert.equal(out[i], want);
          }
          const s = p.stats();
          assert.equal(s.completed, n);
          assert.equal(s.pending, 0);
        } finally {
          await p.close();
        }
      });
  });
});
