// penny/browser's behaviour, written once and run twice: in headless
// Chromium (browser.test.mjs, through run.js) and under Node's
// worker_threads for fast checks (test/wasm/browser.test.mjs, mocha).
// `t` brings describe, it, before, after and an assert with node:assert's
// ok, equal, deepEqual, throws and rejects; `Pool` is penny/browser's.
//
// Every kernel is checked against plain JavaScript on data where the
// answer is exact (integers, or element-wise IEEE operations), and every
// result is counted: each task settles once, each index is visited once.

const TASKS = new URL('./fixtures/tasks.mjs', import.meta.url);

function ints(n, seed, mod = 1000) {
  const a = new Float64Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    a[i] = (s % mod) - mod / 2;
  }
  return a;
}

function randoms(n, seed) {
  return ints(n, seed, 1 << 30).map((v) => (v + (1 << 29)) / (1 << 28) + 0.5);
}

function refMandelbrot(width, height, x0, y0, x1, y1, maxIter) {
  const out = new Uint32Array(width * height);
  for (let j = 0; j < height; j++) {
    const cy = y0 + (y1 - y0) * j / height;
    for (let i = 0; i < width; i++) {
      const cx = x0 + (x1 - x0) * i / width;
      let zx = 0;
      let zy = 0;
      let n = 0;
      while (n < maxIter && zx * zx + zy * zy <= 4) {
        const t = zx * zx - zy * zy + cx;
        zy = 2 * zx * zy + cy;
        zx = t;
        n++;
      }
      out[j * width + i] = n;
    }
  }
  return out;
}

export function define({ describe, it, before, after, assert, Pool }) {
  describe('penny/browser kernels', () => {
    let pool;
    before(() => { pool = new Pool({ threads: 3 }); });
    after(() => pool.close());

    const N = 100003;

    it('lists the 25 built-in kernels with their signatures', () => {
      const names = Object.keys(pool.kernels);
      assert.equal(names.length, 25);
      assert.deepEqual(pool.kernels.axpy.params.map((p) => p.name),
        ['a', 'x', 'y']);
      assert.equal(pool.kernels.sort.params[0].dir, 'inout');
    });

    it('noop, fib, spin and fill', async () => {
      assert.equal(await pool.run('noop'), undefined);
      assert.equal(await pool.run('fib', [30]), 832040);
      assert.equal(await pool.run('spin', [200]), undefined);
      const x = pool.alloc(Int32Array, N);
      await pool.run('fill', [x, 7]);
      assert.ok(x.every((v) => v === 7));
      pool.free(x);
    });

    it('the reductions: sum, min, max, argmin, argmax, dot', async () => {
      const x = ints(N, 1);
      const y = ints(N, 2);
      let dot = 0;
      for (let i = 0; i < N; i++) dot += x[i] * y[i];
      const min = Math.min(...x);
      const max = Math.max(...x);
      assert.equal(await pool.run('sum', [x]), x.reduce((a, b) => a + b));
      assert.equal(await pool.run('min', [x]), min);
      assert.equal(await pool.run('max', [x]), max);
      assert.equal(await pool.run('argmin', [x]), x.indexOf(min));
      assert.equal(await pool.run('argmax', [x]), x.indexOf(max));
      assert.equal(await pool.run('dot', [x, y]), dot);
      const big = new BigInt64Array([2n ** 62n, 2n ** 62n, 5n]);
      assert.equal(await pool.run('sum', [big]), 2n ** 63n + 5n);
      assert.equal(await pool.run('argmin', [new Float64Array(0)]), -1);
      assert.ok(Number.isNaN(await pool.run('min',
        [new Float64Array([1, NaN, 0])])));
    });

    it('the element-wise kernels match JavaScript bit for bit', async () => {
      const a = randoms(N, 3);
      const b = randoms(N, 4);
      const binary = { add: (p, q) => p + q, sub: (p, q) => p - q,
        mul: (p, q) => p * q, div: (p, q) => p / q };
      for (const [name, f] of Object.entries(binary)) {
        const c = new Float64Array(N);
        await pool.run(name, [a, b, c]);
        assert.deepEqual(c, a.map((v, i) => f(v, b[i])), name);
      }
      const unary = { sqrt: Math.sqrt, exp: Math.exp, log: Math.log,
        abs: Math.abs };
      for (const [name, f] of Object.entries(unary)) {
        const y = new Float64Array(N);
        await pool.run(name, [a, y]);
        assert.deepEqual(y, a.map(f), name);
      }
      const s = a.slice();
      await pool.run('scale', [s, 1.5]);
      assert.deepEqual(s, a.map((v) => v * 1.5));
      const y = b.slice();
      await pool.run('axpy', [0.25, a, y]);
      assert.deepEqual(y, b.map((v, i) => v + 0.25 * a[i]));
      const f32 = Float32Array.from(a);
      const f32out = new Float32Array(N);
      await pool.run('sqrt', [f32, f32out]);
      assert.deepEqual(f32out, f32.map((v) => Math.fround(Math.sqrt(v))));
    });

    it('scan, histogram, gemm and mandelbrot', async () => {
      const x = Int32Array.from(ints(N, 5));
      const want = x.slice();
      for (let i = 1; i < N; i++) want[i] += want[i - 1];
      await pool.run('scan', [x]);
      assert.deepEqual(x, want);

      const v = randoms(N, 6);
      const counts = new Uint32Array(10);
      await pool.run('histogram', [v, counts, 0.5, 4]);
      const ref = new Uint32Array(10);
      for (const e of v) {
        if (e >= 0.5 && e < 4) ref[Math.min(9, Math.floor((e - 0.5) * (10 / 3.5)))]++;
      }
      assert.deepEqual(counts, ref);

      const [m, n, k] = [37, 29, 41];
      const A = ints(m * k, 7, 20);
      const B = ints(k * n, 8, 20);
      const C = new Float64Array(m * n);
      await pool.run('gemm', [A, B, C, m, n, k]);
      const R = new Float64Array(m * n);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let p = 0; p < k; p++) acc += A[i * k + p] * B[p * n + j];
          R[i * n + j] = acc;
        }
      }
      assert.deepEqual(C, R);

      const iters = new Uint32Array(120 * 80);
      await pool.run('mandelbrot', [iters, 120, 80, -2, -1.2, 1, 1.2, 200]);
      assert.deepEqual(iters, refMandelbrot(120, 80, -2, -1.2, 1, 1.2, 200));
    });

    it('sort matches TypedArray.prototype.sort, in and out of the memory',
      async () => {
        const x = randoms(300001, 9);
        const inside = pool.alloc(Float64Array, x.length);
        inside.set(x);
        const outside = x.slice();
        await Promise.all([pool.run('sort', [inside]),
          pool.run('sort', [outside])]);
        const want = x.slice().sort();
        assert.deepEqual(inside, want);
        assert.deepEqual(outside, want);
        pool.free(inside);
      });
  });

  describe('penny/browser calls', () => {
    let pool;
    before(() => { pool = new Pool({ threads: 2 }); });
    after(() => pool.close());

    it('rejects bad calls with the codes Node uses, and never throws', async () => {
      await assert.rejects(pool.run('nope'), { code: 'ERR_PENNY_RANGE' });
      await assert.rejects(pool.run(99), { code: 'ERR_PENNY_RANGE' });
      await assert.rejects(pool.run('fib', []), { code: 'ERR_PENNY_ARG' });
      await assert.rejects(pool.run('fib', [1.5]), { code: 'ERR_PENNY_ARG' });
      await assert.rejects(pool.run('fib', [-1]), { code: 'ERR_PENNY_RANGE' });
      await assert.rejects(pool.run('sum', [[1, 2]]), TypeError);
      await assert.rejects(pool.run('sum', 'x'), { code: 'ERR_PENNY_ARG' });
      await assert.rejects(pool.run('histogram',
        [new Float64Array(4), new Int32Array(4), 0, 1]),
      { code: 'ERR_PENNY_ARG', message: /Uint32Array/ });
      await assert.rejects(pool.run('noop', [], { signal: 1 }),
        { code: 'ERR_PENNY_ARG' });
      assert.equal(await pool.run('fib', [20]), 6765, 'the pool still works');
    });

    it('alloc gives views over the shared memory; free takes each once', () => {
      for (const T of [Int8Array, Uint8Array, Int16Array, Uint16Array,
        Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array,
        BigUint64Array]) {
        const v = pool.alloc(T, 1000);
        assert.equal(v.length, 1000);
        assert.equal(v.buffer, pool.arena);
        assert.equal(v.byteOffset % 64, 0);
        assert.ok(v.every((e) => e == 0), 'zeroed'); // eslint-disable-line eqeqeq
        v.fill(T === BigInt64Array || T === BigUint64Array ? 1n : 1);
        pool.free(v);
        assert.throws(() => pool.free(v), { code: 'ERR_PENNY_ARG' });
      }
      assert.throws(() => pool.alloc(Array, 4), { code: 'ERR_PENNY_ARG' });
      assert.throws(() => pool.alloc(Float64Array, -1),
        { code: 'ERR_PENNY_RANGE' });
      assert.throws(() => pool.alloc(Float64Array, 2 ** 40),
        { code: 'ERR_PENNY_RANGE' });
    });

    it('an aborted signal rejects with its reason; the pool goes on', async () => {
      const before = new AbortController();
      before.abort(new Error('early'));
      await assert.rejects(pool.run('noop', [], { signal: before.signal }),
        { message: 'early' });
      const ac = new AbortController();
      const long = pool.run('spin', [60e6], { signal: ac.signal });
      setTimeout(() => ac.abort(new Error('late')), 50);
      await assert.rejects(long, { message: 'late' });
      assert.equal(await pool.run('fib', [10]), 55);
      const s = pool.stats();
      assert.equal(s.cancelled, 1);
      assert.equal(s.pending, 0);
    });

    it('10^4 calls at once each settle exactly once', async () => {
      const before = pool.stats().completed;
      const settled = new Uint8Array(10000);
      await Promise.all(Array.from({ length: 10000 }, (_, i) =>
        pool.run(i % 2 ? 'noop' : 'fib', i % 2 ? [] : [i % 20]).then(() => {
          settled[i]++;
        })));
      assert.ok(settled.every((c) => c === 1));
      assert.equal(pool.stats().completed - before, 10000);
    });

    it('close lets pending calls finish, then refuses new ones', async () => {
      const p = new Pool({ threads: 2 });
      const runs = Array.from({ length: 50 }, () => p.run('spin', [200]));
      const closing = p.close();
      assert.equal(p.close(), closing, 'idempotent');
      assert.equal(p.closed, true);
      await assert.rejects(p.run('noop'), { code: 'ERR_PENNY_CLOSED' });
      assert.throws(() => p.alloc(Float64Array, 1), { code: 'ERR_PENNY_CLOSED' });
      const results = await Promise.allSettled(runs);
      assert.ok(results.every((r) => r.status === 'fulfilled'));
      await closing;
    });

    it('pools open and close, one after another and side by side', async () => {
      for (let round = 0; round < 4; round++) {
        const pools = [new Pool({ threads: 1 }), new Pool({ threads: 3 })];
        const r = await Promise.all(pools.map((p) => p.run('fib', [25])));
        assert.deepEqual(r, [75025, 75025]);
        await Promise.all(pools.map((p) => p.close()));
      }
    });

    it('checks its options', () => {
      assert.throws(() => new Pool({ threads: 0 }), { code: 'ERR_PENNY_RANGE' });
      assert.throws(() => new Pool({ thread: 2 }), { code: 'ERR_PENNY_ARG' });
      assert.throws(() => new Pool({ tasks: 5 }), { code: 'ERR_PENNY_ARG' });
    });
  });

  describe('penny/browser against hostile callers', () => {
    let pool;
    before(() => { pool = new Pool({ threads: 2, tasks: TASKS }); });
    after(() => pool.close());

    it('never calls a signal\'s own addEventListener or removeEventListener', async () => {
      const signal = new AbortController().signal;
      signal.addEventListener = () => { throw new Error('own add'); };
      signal.removeEventListener = () => { throw new Error('own remove'); };
      const x = pool.alloc(Float64Array, 1000);
      await pool.run('fill', [x, 7], { signal });
      assert.ok(x.every((v) => v === 7));
      assert.equal(await pool.run('fib', [20], { signal }), 6765);
      assert.equal(pool.stats().pending, 0);
      pool.free(x);
    });

    it('a signal aborted by an argument\'s getter rejects the run', async () => {
      const ac = new AbortController();
      const arg = { get v() { ac.abort(new Error('from a getter')); return 1; } };
      await assert.rejects(pool.run('echo', [arg], { signal: ac.signal }),
        { message: 'from a getter' });
      const ac2 = new AbortController();
      const x = new Float64Array(4);
      const args = [x];
      Object.defineProperty(args, 1, { enumerable: true,
        get() { ac2.abort(new Error('kernel getter')); return 1; } });
      await assert.rejects(pool.run('fill', args, { signal: ac2.signal }),
        { message: 'kernel getter' });
      assert.ok(x.every((v) => v === 0), 'the kernel never ran');
    });

    it('a view freed while a kernel uses it is not handed out again until it is done', async () => {
      const n = 1 << 20;
      const x = pool.alloc(Float64Array, n);
      x.fill(1);
      const running = pool.run('scale', [x, 2]);
      pool.free(x);
      const y = pool.alloc(Float64Array, n);
      y.fill(7);
      await running;
      assert.ok(y.every((v) => v === 7), 'the new block was not written');
      await assert.rejects(pool.run('scale', [x, 2]), { code: 'ERR_PENNY_ARG',
        message: /free/ });
      pool.free(y);
    });

    it('a view\'s own length, byteOffset or class tag does not move a kernel', async () => {
      const v = pool.alloc(Float64Array, 4);
      const next = pool.alloc(Float64Array, 64);
      next.fill(5);
      Object.defineProperty(v, 'length', { value: 200 });
      Object.defineProperty(v, 'byteOffset', { value: 0 });
      Object.defineProperty(v, Symbol.toStringTag, { value: 'Uint8Array' });
      await pool.run('fill', [v, 1]);
      assert.ok(next.every((e) => e === 5), 'the neighbour is untouched');
      assert.deepEqual(Array.from(new Float64Array(v.buffer,
        Object.getOwnPropertyDescriptor(Object.getPrototypeOf(
          Float64Array.prototype), 'byteOffset').get.call(v), 4)),
      [1, 1, 1, 1]);
    });

    it('arguments are read when run() is called, not later', async () => {
      await pool.run('add', [0, 0]); // the module's names are known
      const args = [1, 2];
      const p = pool.run('add', args);
      args[0] = 100;
      assert.equal(await p, 3);
      let reads = 0;
      const proxy = new Proxy([5, 6], { get(t, k) {
        if (k === '0') reads++;
        return Reflect.get(t, k);
      } });
      assert.equal(await pool.run('add', proxy), 11);
      assert.equal(reads, 1, 'each element read once');
    });

    it('a task value cannot forge a view of the memory', async () => {
      const forged = JSON.parse('{"$penny":"view","t":"Float64Array","o":0,"n":4}');
      const back = await pool.run('echo', [forged]);
      assert.deepEqual(back, forged);
      const colon = { '$penny:x': 'view', t: 'Float64Array', o: 0, n: 4 };
      assert.deepEqual(await pool.run('echo', [colon]), colon);
    });
  });

  describe('penny/browser JS tasks', () => {
    let pool;
    before(() => { pool = new Pool({ threads: 3, tasks: TASKS }); });
    after(() => pool.close());

    it('runs a task module\'s functions with their arguments', async () => {
      assert.equal(await pool.run('add', [2, 40]), 42);
      assert.equal(await pool.run('sum'), 'the task', 'the export wins');
      assert.equal(await pool.run('max', [new Float64Array([1, 3])]), 3,
        'a name it does not export is a kernel');
    });

    it('fib with a join at every level', async () => {
      assert.equal(await pool.run('fib', [24]), 46368);
    });

    it('parallelFor visits every index exactly once', async () => {
      for (const grain of [0, 1, 7, 1000]) {
        const counts = pool.alloc(Int32Array, 20011);
        assert.equal(await pool.run('cover', [counts, grain]), 20011);
        assert.ok(counts.every((c) => c === 1), `grain ${grain}`);
        pool.free(counts);
      }
    });

    it('spawn and sync, in any order', async () => {
      assert.equal(await pool.run('spawnMany', [200]), 200 * 199 / 2 + 200);
    });

    it('values keep what JSON would lose; errors keep name and message', async () => {
      const v = { a: [1, undefined, NaN, -Infinity, 5n], s: 'é', n: null,
        t: new Int16Array([1, -2]) };
      const back = await pool.run('echo', [v]);
      assert.equal(back.a[1], undefined);
      assert.ok(1 in back.a);
      assert.ok(Number.isNaN(back.a[2]));
      assert.equal(back.a[3], -Infinity);
      assert.equal(back.a[4], 5n);
      assert.equal(back.s, 'é');
      assert.deepEqual(back.t, new Int16Array([1, -2]));
      assert.ok(Object.is(await pool.run('echo', [-0]), -0));
      assert.equal(await pool.run('echo', [undefined]), undefined);
      await assert.rejects(pool.run('fail', ['no']),
        { name: 'RangeError', message: 'no', code: 'E_FIXTURE' });
      assert.equal(await pool.run('childFails'), 'RangeError: from a child');
      await assert.rejects(pool.run('echo', [() => 1]), TypeError);
    });

    it('shares alloc()\'d views with tasks', async () => {
      const view = pool.alloc(Float64Array, 3);
      const back = await pool.run('echo', [view]);
      back[1] = 9;
      assert.equal(view[1], 9);
      pool.free(view);
    });

    it('a task sees cancelled() once its signal aborts', async () => {
      const ac = new AbortController();
      const p = pool.run('spinUntilCancelled', [], { signal: ac.signal });
      setTimeout(() => ac.abort(new Error('stop')), 50);
      await assert.rejects(p, { message: 'stop' });
      assert.equal(await pool.run('add', [1, 1]), 2);
    });

    it('a run accepted before close() runs, though the module was not loaded yet', async () => {
      const p = new Pool({ threads: 2, tasks: TASKS });
      const runs = [p.run('add', [1, 2]), p.run('fib', [15])];
      const closing = p.close();
      await assert.rejects(p.run('add', [1, 2]), { code: 'ERR_PENNY_CLOSED' });
      assert.deepEqual(await Promise.all(runs), [3, 610]);
      await closing;
    });

    it('a task module that fails to load rejects every run', async () => {
      const p = new Pool({ threads: 1,
        tasks: new URL('./fixtures/missing.mjs', import.meta.url) });
      await assert.rejects(p.run('add', [1, 2]), { code: 'ERR_PENNY_TASK' });
      await p.close();
    });
  });
}
