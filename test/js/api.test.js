'use strict';

// The public API of DESIGN.md section 4: every member, and every error by
// class and code. After each bad call the pool must still work.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const os = require('node:os');
const penny = require('../..');
const {
  MiB, TYPES, assertPennyError, assertRunRejects, assertThrowsPenny,
} = require('./fixtures/common');

const ARG = 'ERR_PENNY_ARG';
const RANGE = 'ERR_PENNY_RANGE';
const CLOSED = 'ERR_PENNY_CLOSED';
// The most threads a pool takes, as the binding defines it.
const MAX_THREADS = require('../../lib/binding').contract.limits.maxThreads;

// Checks that `pool` still computes right: fib, sum over an arena view,
// and sum over an ordinary array (copy-in).
async function assertUsable(pool) {
  assert.equal(await pool.run('fib', [15]), 610);
  const v = pool.alloc(Float64Array, 100);
  for (let i = 0; i < v.length; i++) v[i] = i + 1;
  assert.equal(await pool.run('sum', [v]), 5050);
  pool.free(v);
  assert.equal(await pool.run('sum', [new Int32Array([1, 2, 3, -4])]), 2);
  assert.equal(await pool.run('noop'), undefined);
}

describe('module exports', () => {
  it('refuses an addon built from other sources, saying how to rebuild',
    () => {
      // PENNY_ADDON names the addon to load; this one has no contract.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'penny-addon-'));
      try {
        const fake = path.join(dir, 'old-addon.js');
        fs.writeFileSync(fake, 'module.exports = { create() {} };');
        const r = spawnSync(process.execPath, ['-e', 'require(process.argv[1])',
          path.join(__dirname, '..', '..')],
        { encoding: 'utf8', env: { ...process.env, PENNY_ADDON: fake } });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /does not match its JavaScript/);
        assert.match(r.stderr, /npx penny-build/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

  it('loads the addon file node-gyp-build would pick, and not the module',
    () => {
      const root = path.join(__dirname, '..', '..');
      const code = 'require(process.argv[1]);' +
        'const ks = Object.keys(require.cache);' +
        'console.log(JSON.stringify([ks.filter((k) => k.endsWith(".node")),' +
        'ks.some((k) => k.includes("node-gyp-build"))]))';
      const env = { ...process.env };
      delete env.PENNY_ADDON;
      const r = spawnSync(process.execPath, ['-e', code, root],
        { encoding: 'utf8', env });
      assert.equal(r.status, 0, r.stderr);
      const [files, gypBuild] = JSON.parse(r.stdout);
      assert.deepEqual(files, [require('node-gyp-build').path(root)]);
      assert.equal(gypBuild, false);
    });

  it('exports Pool, run and defaultPool', () => {
    assert.equal(typeof penny.Pool, 'function');
    assert.equal(typeof penny.run, 'function');
    assert.equal(typeof penny.defaultPool, 'function');
    // TypeScript's default import compiled to CommonJS reads .default.
    assert.equal(penny.default, penny);
  });

  it('require by package name resolves to the same module', () => {
    // The package's "exports" map allows self-reference by name.
    const byName = require('penny');
    assert.equal(byName.Pool, penny.Pool);
    assert.equal(byName.run, penny.run);
  });

  it('include is the absolute path of the directory of penny.h', () => {
    const path = require('node:path');
    const fs = require('node:fs');
    assert.ok(path.isAbsolute(penny.include));
    assert.ok(fs.existsSync(path.join(penny.include, 'penny.h')));
  });
});

describe('new Pool(options)', () => {
  const made = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((p) => p.close()));
  });
  const make = (opts) => {
    const p = new penny.Pool(opts);
    made.push(p);
    return p;
  };

  it('honours threads and arenaBytes', async () => {
    const pool = make({ threads: 3, arenaBytes: 4 * MiB });
    assert.ok(pool instanceof penny.Pool);
    assert.equal(pool.threads, 3);
    assert.ok(pool.arena instanceof SharedArrayBuffer);
    assert.equal(pool.arena.byteLength, 4 * MiB);
    assert.equal(pool.closed, false);
    await assertUsable(pool);
  });

  it('defaults threads to os.availableParallelism() and the arena to 64 MiB',
    async () => {
      const pool = make();
      assert.equal(pool.threads, os.availableParallelism());
      assert.equal(pool.arena.byteLength, 64 * MiB);
      const pool2 = make({});
      assert.equal(pool2.threads, os.availableParallelism());
      const pool3 = make({ threads: 1 });
      assert.equal(pool3.threads, 1);
      assert.equal(pool3.arena.byteLength, 64 * MiB);
      assert.equal(await pool3.run('fib', [12]), 144);
    });

  it('accepts the largest thread count', async () => {
    const pool = make({ threads: MAX_THREADS, arenaBytes: 40 * MiB });
    assert.equal(pool.threads, MAX_THREADS);
    assert.equal(await pool.run('fib', [16]), 987);
  });

  it('throws TypeError ERR_PENNY_ARG for non-object options', () => {
    for (const bad of [5, 'x', true, null]) {
      assertThrowsPenny(() => new penny.Pool(bad), TypeError, ARG);
    }
  });

  it('throws TypeError ERR_PENNY_ARG for a non-number threads', () => {
    for (const bad of ['2', true, {}, [2], 2n]) {
      assertThrowsPenny(() => new penny.Pool({ threads: bad, arenaBytes: MiB }),
        TypeError, ARG, /threads/);
    }
  });

  it('throws RangeError ERR_PENNY_RANGE for a bad threads value', () => {
    for (const bad of [0, -1, 1.5, MAX_THREADS + 1, NaN, Infinity, -Infinity,
      2 ** 32]) {
      assertThrowsPenny(() => new penny.Pool({ threads: bad, arenaBytes: MiB }),
        RangeError, RANGE, /threads/);
    }
  });

  it('throws TypeError ERR_PENNY_ARG for a non-number arenaBytes', () => {
    for (const bad of ['4194304', true, {}, 4194304n]) {
      assertThrowsPenny(() => new penny.Pool({ threads: 1, arenaBytes: bad }),
        TypeError, ARG, /arenaBytes/);
    }
  });

  it('throws RangeError ERR_PENNY_RANGE for a bad arenaBytes value', () => {
    for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
      assertThrowsPenny(() => new penny.Pool({ threads: 1, arenaBytes: bad }),
        RangeError, RANGE);
    }
  });

  it('an arena larger than a typed array can span: RangeError ' +
     'ERR_PENNY_RANGE, not the engine\'s own error', () => {
    const { MAX_LENGTH } = require('node:buffer').constants;
    if (MAX_LENGTH >= Number.MAX_SAFE_INTEGER) return; // no such size
    assertThrowsPenny(() => new penny.Pool({
      threads: 1, arenaBytes: MAX_LENGTH + 2 ** 20,
    }), RangeError, RANGE, /arenaBytes/);
  });

  it('throws RangeError ERR_PENNY_RANGE for an arena that cannot be allocated',
    () => {
      assertThrowsPenny(() => new penny.Pool({
        threads: 1, arenaBytes: Number.MAX_SAFE_INTEGER,
      }), RangeError, RANGE);
    });

  it('the whole arena is heap: the submission ring lives apart', async () => {
    const pool = make({ threads: 1, arenaBytes: 1 * MiB });
    assert.equal(pool.stats().heapBytes, 1 * MiB);
    const x = pool.alloc(Float64Array, MiB / 8);
    assert.equal(x.byteOffset, 0);
    x.fill(0.5);
    assert.equal(await pool.run('sum', [x]), MiB / 16);
    // A view over all of it, made by hand, is a view like any other.
    assert.equal(await pool.run('sum', [new Float64Array(pool.arena)]),
      MiB / 16);
    // Even no arena at all: arrays are then shared or copied elsewhere.
    const none = make({ threads: 1, arenaBytes: 0 });
    assert.equal(await none.run('sum', [new Float64Array([1, 2, 3])]), 6);
    const own = none.alloc(Float64Array, 3);
    own.set([1, 2, 4]);
    assert.equal(await none.run('sum', [own]), 7);
  });

  it('still constructs working pools after failed constructions', async () => {
    assert.throws(() => new penny.Pool({ threads: 0 }), RangeError);
    assert.throws(() => new penny.Pool({ threads: 1, arenaBytes: -1 }),
      RangeError);
    const pool = make({ threads: 2, arenaBytes: 4 * MiB });
    await assertUsable(pool);
  });
});

describe('Pool members', () => {
  let pool;
  before(() => {
    pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
  });
  after(() => pool.close());

  it('threads, arena and kernels are read-only', () => {
    assert.throws(() => { pool.threads = 7; }, TypeError);
    assert.throws(() => { pool.arena = new SharedArrayBuffer(8); }, TypeError);
    assert.throws(() => { pool.kernels = {}; }, TypeError);
    assert.equal(pool.threads, 2);
    assert.equal(pool.arena.byteLength, 4 * MiB);
  });

  it('kernels is a frozen table of frozen descriptions', () => {
    const k = pool.kernels;
    assert.ok(Object.isFrozen(k));
    for (const name of ['fib', 'fill', 'noop', 'spin', 'sum']) {
      assert.ok(name in k, name);
    }
    const expected = {
      noop: ['noop() -> void', 'void', []],
      fib: ['fib(i32 n) -> f64', 'f64', [{ name: 'n', type: 'i32' }]],
      sum: ['sum(in num[] x) -> f64', 'f64',
        [{ name: 'x', type: 'num', dir: 'in' }]],
      fill: ['fill(out num[] x, f64 v) -> void', 'void',
        [{ name: 'x', type: 'num', dir: 'out' }, { name: 'v', type: 'f64' }]],
      spin: ['spin(f64 micros) -> void', 'void',
        [{ name: 'micros', type: 'f64' }]],
    };
    const indices = new Set();
    for (const [name, [signature, result, params]] of Object.entries(expected)) {
      const d = k[name];
      assert.ok(Object.isFrozen(d), `${name} is frozen`);
      assert.ok(Object.isFrozen(d.params), `${name}.params is frozen`);
      assert.equal(d.name, name);
      assert.equal(d.signature, signature);
      assert.equal(d.result, result);
      assert.ok(Number.isInteger(d.index) && d.index >= 0);
      indices.add(d.index);
      assert.equal(d.params.length, params.length);
      params.forEach((p, i) => {
        assert.ok(Object.isFrozen(d.params[i]));
        assert.equal(d.params[i].name, p.name);
        assert.equal(d.params[i].type, p.type);
        if (p.dir !== undefined) assert.equal(d.params[i].dir, p.dir);
      });
    }
    assert.equal(indices.size, 5, 'kernel indices are distinct');
    assert.throws(() => { k.fib.index = 99; }, TypeError);
    assert.throws(() => { k.extra = {}; }, TypeError);
  });

  it('runs a kernel by index as by name', async () => {
    const k = pool.kernels;
    assert.equal(await pool.run(k.fib.index, [10]), 55);
    assert.equal(await pool.run(k.noop.index), undefined);
    assert.equal(await pool.run(k.noop.index, []), undefined);
    const v = new Float64Array(new SharedArrayBuffer(8 * 3));
    await pool.run(k.fill.index, [v, 2.5]);
    assert.deepEqual([...v], [2.5, 2.5, 2.5]);
    assert.equal(await pool.run(k.sum.index, [v]), 7.5);
    assert.equal(await pool.run(k.spin.index, [10]), undefined);
  });

  it('resolves f64 kernels to numbers and void kernels to undefined',
    async () => {
      const r = await pool.run('fib', [20]);
      assert.equal(typeof r, 'number');
      assert.equal(r, 6765);
      assert.equal(await pool.run('noop', []), undefined);
      assert.equal(await pool.run('spin', [0]), undefined);
    });

  it('accepts an options object without a signal', async () => {
    assert.equal(await pool.run('fib', [10], {}), 55);
    assert.equal(await pool.run('fib', [10], { signal: undefined }), 55);
  });

  it('stats() reports every counter', async () => {
    const s = pool.stats();
    for (const key of ['threads', 'submitted', 'completed', 'failed',
      'cancelled', 'pending', 'steals', 'inlined', 'failedSteals', 'sleeps',
      'wakeups', 'arenaBytes', 'heapBytes', 'heapUsed']) {
      assert.equal(typeof s[key], 'number', `stats().${key}`);
      assert.ok(s[key] >= 0, `stats().${key} >= 0`);
    }
    assert.equal(s.threads, 2);
    assert.equal(s.arenaBytes, 4 * MiB);
    assert.equal(s.heapBytes, s.arenaBytes, 'the whole arena is heap');
    assert.ok(s.heapUsed <= s.heapBytes);
  });

  it('stats() counts submitted, completed and pending tasks', async () => {
    const before = pool.stats();
    const promises = [];
    for (let i = 0; i < 50; i++) promises.push(pool.run('fib', [12]));
    const during = pool.stats();
    assert.equal(during.submitted, before.submitted + 50);
    assert.ok(during.pending >= 1 && during.pending <= 50,
      `pending ${during.pending}`);
    const results = await Promise.all(promises);
    assert.ok(results.every((r) => r === 144));
    const after = pool.stats();
    assert.equal(after.submitted, before.submitted + 50);
    assert.equal(after.completed, before.completed + 50);
    assert.equal(after.failed, before.failed);
    assert.equal(after.cancelled, before.cancelled);
    assert.equal(after.pending, 0);
  });

  it('stats() sees a fork-join kernel spawn work', async () => {
    const before = pool.stats();
    assert.equal(await pool.run('fib', [22]), 17711);
    const after = pool.stats();
    // Every spawn is either stolen or run by its owner (inline or popped);
    // with 2 threads over ~28000 spawns at least some activity shows.
    assert.ok(after.steals + after.inlined + after.failedSteals >
      before.steals + before.inlined + before.failedSteals);
  });
});

describe('pool.alloc / pool.free', () => {
  let pool;
  beforeEach(() => {
    pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
  });
  afterEach(() => pool.close());

  it('returns views of every type inside the arena', () => {
    const views = [];
    for (const Type of TYPES) {
      const v = pool.alloc(Type, 10);
      assert.ok(v instanceof Type);
      assert.equal(v.length, 10);
      assert.equal(v.buffer, pool.arena);
      assert.equal(v.byteOffset % Type.BYTES_PER_ELEMENT, 0);
      views.push(v);
    }
    // No two live views overlap.
    const ranges = views.map((v) => [v.byteOffset, v.byteOffset + v.byteLength])
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) {
      assert.ok(ranges[i][0] >= ranges[i - 1][1], 'views overlap');
    }
    for (const v of views) pool.free(v);
    assert.equal(pool.stats().heapUsed, 0);
  });

  it('tracks heapUsed and reuses freed space', () => {
    assert.equal(pool.stats().heapUsed, 0);
    const a = pool.alloc(Float64Array, 1000);
    const used = pool.stats().heapUsed;
    assert.ok(used >= 8000);
    const b = pool.alloc(Uint8Array, 1);
    assert.ok(pool.stats().heapUsed > used);
    pool.free(a);
    pool.free(b);
    assert.equal(pool.stats().heapUsed, 0);
    // After freeing everything the whole heap is available as one block.
    const { heapBytes } = pool.stats();
    const all = pool.alloc(Uint8Array, heapBytes);
    assert.equal(all.length, heapBytes);
    pool.free(all);
  });

  it('allows zero-length allocations', async () => {
    const v = pool.alloc(Float64Array, 0);
    assert.equal(v.length, 0);
    assert.equal(v.buffer, pool.arena);
    assert.equal(await pool.run('sum', [v]), 0);
    pool.free(v);
  });

  it('throws TypeError ERR_PENNY_ARG for a bad type', async () => {
    for (const bad of [Uint8ClampedArray, Array, DataView, ArrayBuffer,
      'Float64Array', undefined, null, 8, {}, function Float64Array() {}]) {
      assertThrowsPenny(() => pool.alloc(bad, 4), TypeError, ARG);
    }
    await assertUsable(pool);
  });

  it('throws RangeError ERR_PENNY_RANGE for a negative or non-integer size',
    async () => {
      for (const bad of [-1, -4096, 1.5, NaN, Infinity, -Infinity]) {
        assertThrowsPenny(() => pool.alloc(Float64Array, bad), RangeError,
          RANGE);
      }
      assert.equal(pool.stats().heapUsed, 0);
      await assertUsable(pool);
    });

  it('throws TypeError ERR_PENNY_ARG for a non-number size', async () => {
    for (const bad of ['4', undefined, null, 4n, [4]]) {
      assertThrowsPenny(() => pool.alloc(Float64Array, bad), TypeError, ARG);
    }
    await assertUsable(pool);
  });

  it('past the arena, alloc returns a buffer of its own; RangeError ' +
     'ERR_PENNY_RANGE only when memory runs out', async () => {
    const { heapBytes } = pool.stats();
    const big = pool.alloc(Float64Array, heapBytes / 8 + 1);
    assert.notEqual(big.buffer, pool.arena);
    assert.ok(big.buffer instanceof SharedArrayBuffer);
    assert.equal(pool.stats().heapUsed, 0, 'not from the arena');
    big.fill(0.5);
    assert.equal(await pool.run('sum', [big]), (heapBytes / 8 + 1) / 2);
    await pool.run('fill', [big, 2]); // written in place
    assert.equal(big[big.length - 1], 2);
    pool.free(big);
    assertThrowsPenny(() => pool.free(big), TypeError, ARG);
    const err = assertThrowsPenny(() => pool.alloc(Float64Array, 2 ** 50),
      RangeError, RANGE, /cannot allocate/);
    assert.match(err.message, /free arrays no longer needed/);
    // Fill the arena with blocks: the next one comes from elsewhere.
    const blocks = [];
    const size = 64 * 1024;
    while (pool.stats().heapBytes - pool.stats().heapUsed >= size) {
      blocks.push(pool.alloc(Uint8Array, size));
    }
    assert.ok(blocks.length > 10);
    const more = pool.alloc(Uint8Array, size);
    assert.notEqual(more.buffer, pool.arena);
    assert.equal(await pool.run('sum', [more.fill(1)]), size);
    // Ordinary-array arguments still work when the arena is full (they
    // are copied elsewhere).
    assert.equal(await pool.run('sum', [new Float64Array([1, 2, 3.5])]), 6.5);
    for (const b of blocks) pool.free(b);
    assert.equal(pool.stats().heapUsed, 0);
  });

  it('alloc\'s own buffer gets huge pages, as the arena does (Linux)',
    function () {
      const thp = '/sys/kernel/mm/transparent_hugepage/enabled';
      if (process.platform !== 'linux' || !fs.existsSync(thp) ||
          /\[never\]/.test(fs.readFileSync(thp, 'utf8'))) this.skip();
      // In a fresh process (no other pool's memory to come and go): the
      // kB of mappings whose VmFlags carry "hg" (MADV_HUGEPAGE), before
      // and after a 64 MiB alloc() that the arena has no room for.
      const script = `
        const fs = require('node:fs');
        const penny = require(process.argv[1]);
        const advisedKb = () => {
          let kb = 0, size = 0;
          for (const l of fs.readFileSync('/proc/self/smaps', 'utf8')
            .split('\\n')) {
            const m = /^Size:\\s+(\\d+) kB/.exec(l);
            if (m) size = Number(m[1]);
            else if (/^VmFlags:.* hg( |$)/.test(l)) kb += size;
          }
          return kb;
        };
        const pool = new penny.Pool({ threads: 1, arenaBytes: 0 });
        const before = advisedKb();
        const big = pool.alloc(Float64Array, 8 * 1024 * 1024);
        const after = advisedKb();
        big.fill(1);
        pool.run('sum', [big]).then((s) => {
          console.log(JSON.stringify({ before, after, s }));
          return pool.close();
        });`;
      const r = spawnSync(process.execPath, ['-e', script,
        path.join(__dirname, '..', '..')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const { before, after, s } = JSON.parse(r.stdout);
      // The advice covers the whole 2 MiB pages inside the buffer.
      assert.ok(after - before >= 60 * 1024,
        `advised ${before} kB before, ${after} kB after`);
      assert.equal(s, 8 * 1024 * 1024);
    });

  it('adviseHuge ignores anything but a Uint8Array over shared memory',
    () => {
      const binding = require('../../lib/binding');
      for (const junk of [undefined, 1, {}, new Uint8Array(8),
        new Float64Array(new SharedArrayBuffer(8))]) {
        assert.equal(binding.adviseHuge(junk), undefined);
      }
      assert.equal(binding.adviseHuge(), undefined);
    });

  it('free() throws TypeError ERR_PENNY_ARG on a double free', async () => {
    const v = pool.alloc(Float64Array, 16);
    pool.free(v);
    assertThrowsPenny(() => pool.free(v), TypeError, ARG);
    assert.equal(pool.stats().heapUsed, 0);
    await assertUsable(pool);
  });

  it('free() refuses an interior view of an allocation', async () => {
    const v = pool.alloc(Float64Array, 64);
    assertThrowsPenny(() => pool.free(v.subarray(8)), TypeError, ARG);
    pool.free(v);
    assert.equal(pool.stats().heapUsed, 0);
  });

  it('alloc() after close throws Error ERR_PENNY_CLOSED', async () => {
    await pool.close();
    assertThrowsPenny(() => pool.alloc(Float64Array, 4), Error, CLOSED);
  });
});

describe('pool.run() errors', () => {
  let pool;
  let view; // a Float64Array in the arena holding 1..8
  before(() => {
    pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
    view = pool.alloc(Float64Array, 8);
    view.set([1, 2, 3, 4, 5, 6, 7, 8]);
  });
  after(() => pool.close());

  // Each case: [description, () => promise, class, code, message regex].
  // After each, the pool must still work and no task was submitted.
  async function check(fn, ErrorClass, code, re) {
    const before = pool.stats().submitted;
    await assertRunRejects(fn, ErrorClass, code, re);
    assert.equal(pool.stats().submitted, before,
      'a refused call must not submit a task');
    assert.equal(await pool.run('fib', [15]), 610);
    assert.equal(await pool.run('sum', [view]), 36);
  }

  describe('unknown kernel', () => {
    it('by name: RangeError ERR_PENNY_RANGE', async () => {
      await check(() => pool.run('nope', []), RangeError, RANGE, /nope/);
      await check(() => pool.run('', []), RangeError, RANGE);
      await check(() => pool.run('FIB', [1]), RangeError, RANGE);
      await check(() => pool.run('toString', []), RangeError, RANGE);
      await check(() => pool.run('__proto__', []), RangeError, RANGE);
    });

    it('by index: RangeError ERR_PENNY_RANGE', async () => {
      const n = Object.keys(pool.kernels).length;
      for (const bad of [n, n + 1, 1000, -1, 1.5, NaN, Infinity, 2 ** 32]) {
        await check(() => pool.run(bad, []), RangeError, RANGE);
      }
    });

    it('kernel neither a name nor an index: TypeError ERR_PENNY_ARG',
      async () => {
        for (const bad of [undefined, null, {}, [], 1n, true, () => 1]) {
          await check(() => pool.run(bad, []), TypeError, ARG);
        }
      });
  });

  describe('arguments', () => {
    it('args not an array: TypeError ERR_PENNY_ARG', async () => {
      await check(() => pool.run('fib', 10), TypeError, ARG);
      await check(() => pool.run('fib', '10'), TypeError, ARG);
      await check(() => pool.run('fib', null), TypeError, ARG);
      await check(() => pool.run('sum', view), TypeError, ARG);
      await check(() => pool.run('fib', { 0: 10, length: 1 }), TypeError, ARG);
    });

    it('wrong arity: TypeError ERR_PENNY_ARG', async () => {
      await check(() => pool.run('fib', []), TypeError, ARG, /fib/);
      await check(() => pool.run('fib'), TypeError, ARG, /fib/);
      await check(() => pool.run('fib', [1, 2]), TypeError, ARG, /fib/);
      await check(() => pool.run('noop', [1]), TypeError, ARG, /noop/);
      await check(() => pool.run('sum', []), TypeError, ARG, /sum/);
      await check(() => pool.run('sum', [view, view]), TypeError, ARG, /sum/);
      await check(() => pool.run('fill', [view]), TypeError, ARG, /fill/);
      await check(() => pool.run('fill', [view, 1, 2]), TypeError, ARG,
        /fill/);
      await check(() => pool.run('spin', []), TypeError, ARG, /spin/);
      await check(() => pool.run('fib', new Array(40).fill(1)), TypeError,
        ARG, /fib/);
      await check(() => pool.run(pool.kernels.fib.index, []), TypeError, ARG,
        /fib/);
    });

    it('a string where a number goes: TypeError ERR_PENNY_ARG naming it',
      async () => {
        await check(() => pool.run('fib', ['10']), TypeError, ARG, /\bn\b/);
        await check(() => pool.run('spin', ['100']), TypeError, ARG,
          /micros/);
        await check(() => pool.run('fill', [view, '1']), TypeError, ARG,
          /\bv\b/);
      });

    it('other non-numbers where a number goes: TypeError ERR_PENNY_ARG',
      async () => {
        for (const bad of [undefined, null, true, 10n, {}, [10], view]) {
          await check(() => pool.run('fib', [bad]), TypeError, ARG,
            /\bn\b/);
        }
        await check(() => pool.run('fill', [view, null]), TypeError, ARG,
          /\bv\b/);
        await check(() => pool.run('spin', [1n]), TypeError, ARG, /micros/);
      });

    it('a number or other non-array where an array goes: TypeError naming it',
      async () => {
        for (const bad of [5, '1,2,3', null, undefined, [1, 2, 3], {},
          new ArrayBuffer(8), new SharedArrayBuffer(8),
          new DataView(new SharedArrayBuffer(8))]) {
          await check(() => pool.run('sum', [bad]), TypeError, ARG, /\bx\b/);
          await check(() => pool.run('fill', [bad, 1]), TypeError, ARG,
            /\bx\b/);
        }
      });

    it('wrong element type (Uint8ClampedArray): TypeError naming it',
      async () => {
        const shared = new Uint8ClampedArray(new SharedArrayBuffer(16));
        const plain = new Uint8ClampedArray(16);
        const inArena = new Uint8ClampedArray(pool.arena,
          pool.arena.byteLength - 64, 16);
        for (const bad of [shared, plain, inArena]) {
          await check(() => pool.run('sum', [bad]), TypeError, ARG, /\bx\b/);
          await check(() => pool.run('fill', [bad, 3]), TypeError, ARG,
            /\bx\b/);
        }
        assert.ok(shared.every((b) => b === 0), 'not written');
        assert.ok(plain.every((b) => b === 0), 'not written');
      });

    it('non-integer i32: TypeError ERR_PENNY_ARG', async () => {
      for (const bad of [1.5, -0.5, NaN, Infinity, -Infinity]) {
        await check(() => pool.run('fib', [bad]), TypeError, ARG, /\bn\b/);
      }
    });

    it('out-of-range i32 or negative fib: RangeError ERR_PENNY_RANGE',
      async () => {
        for (const bad of [-1, -100, -(2 ** 31), 2 ** 31, 2 ** 40]) {
          await check(() => pool.run('fib', [bad]), RangeError, RANGE);
        }
      });

    it('negative, NaN or infinite spin: RangeError ERR_PENNY_RANGE',
      async () => {
        for (const bad of [-1, -1e-9, -Infinity, Infinity, NaN]) {
          await check(() => pool.run('spin', [bad]), RangeError, RANGE);
        }
      });

    it('bad options: TypeError ERR_PENNY_ARG', async () => {
      await check(() => pool.run('fib', [1], null), TypeError, ARG);
      await check(() => pool.run('fib', [1], 5), TypeError, ARG);
      await check(() => pool.run('fib', [1], { signal: 'abort' }), TypeError,
        ARG);
      await check(() => pool.run('fib', [1], { signal: new AbortController() }),
        TypeError, ARG);
      await check(() => pool.run('fib', [1], { signal: {} }), TypeError, ARG);
    });

    it('accepts numbers that are integers in other representations',
      async () => {
        assert.equal(await pool.run('fib', [10.0]), 55);
        assert.equal(await pool.run('fib', [-0]), 0);
        assert.equal(await pool.run('spin', [1.5]), undefined);
        assert.equal(await pool.run('spin', [-0]), undefined);
      });
  });

  it('an error in one call does not disturb tasks in flight', async () => {
    const inFlight = [];
    for (let i = 0; i < 20; i++) inFlight.push(pool.run('fib', [18]));
    const bad = [
      pool.run('nope'), pool.run('fib', []), pool.run('fib', ['1']),
      pool.run('sum', [new Uint8ClampedArray(4)]), pool.run(99),
      pool.run('fib', [-1]),
    ];
    const settled = await Promise.allSettled(bad);
    assert.ok(settled.every((s) => s.status === 'rejected'));
    const results = await Promise.all(inFlight);
    assert.deepEqual(results, new Array(20).fill(2584));
  });
});

describe('run after close', () => {
  it('rejects with Error ERR_PENNY_CLOSED, never throws', async () => {
    const pool = new penny.Pool({ threads: 1, arenaBytes: MiB });
    assert.equal(await pool.run('fib', [10]), 55);
    const closing = pool.close();
    assert.equal(pool.closed, true);
    // Already refused while the close is under way.
    await assertRunRejects(() => pool.run('fib', [10]), Error, CLOSED);
    await closing;
    await assertRunRejects(() => pool.run('fib', [10]), Error, CLOSED);
    await assertRunRejects(() => pool.run('noop'), Error, CLOSED);
    await assertRunRejects(() => pool.run('sum', [new Float64Array(3)]), Error,
      CLOSED);
    // The closed state wins over any other argument error.
    await assertRunRejects(() => pool.run('nope', []), Error, CLOSED);
  });

  it('closing one pool leaves another usable', async () => {
    const a = new penny.Pool({ threads: 1, arenaBytes: MiB });
    const b = new penny.Pool({ threads: 1, arenaBytes: MiB });
    await a.close();
    await assertRunRejects(() => a.run('fib', [5]), Error, CLOSED);
    assert.equal(await b.run('fib', [20]), 6765);
    await b.close();
  });

  it('stats() still answers after close', async () => {
    const pool = new penny.Pool({ threads: 1, arenaBytes: MiB });
    await pool.run('fib', [5]);
    await pool.close();
    const s = pool.stats();
    assert.equal(s.submitted, 1);
    assert.equal(s.completed, 1);
    assert.equal(s.pending, 0);
  });
});

describe('penny.run and the default pool', () => {
  after(async () => {
    await penny.defaultPool().close();
  });

  it('defaultPool() is a lazily created, reused Pool', () => {
    const p = penny.defaultPool();
    assert.ok(p instanceof penny.Pool);
    assert.equal(penny.defaultPool(), p);
    assert.equal(p.threads, os.availableParallelism());
    assert.equal(p.closed, false);
  });

  it('penny.run runs kernels on the default pool', async () => {
    const p = penny.defaultPool();
    const before = p.stats().submitted;
    assert.equal(await penny.run('fib', [20]), 6765);
    assert.equal(await penny.run('noop'), undefined);
    const v = new Float64Array(new SharedArrayBuffer(8 * 4));
    await penny.run('fill', [v, 1.25]);
    assert.equal(await penny.run('sum', [v]), 5);
    assert.equal(p.stats().submitted, before + 4);
  });

  it('penny.run rejects bad calls like pool.run', async () => {
    await assertRunRejects(() => penny.run('nope'), RangeError, RANGE);
    await assertRunRejects(() => penny.run('fib', []), TypeError, ARG);
    await assertRunRejects(() => penny.run('fib', ['x']), TypeError, ARG);
    const c = new AbortController();
    c.abort();
    const err = await penny.run('fib', [3], { signal: c.signal })
      .then(() => null, (e) => e);
    assert.equal(err, c.signal.reason);
    assert.equal(await penny.run('fib', [10]), 55);
  });

  it('a closed default pool is replaced by a new one', async () => {
    const p = penny.defaultPool();
    await p.close();
    const q = penny.defaultPool();
    assert.notEqual(q, p);
    assert.equal(q.closed, false);
    assert.equal(await penny.run('fib', [11]), 89);
  });
});

describe('error shapes', () => {
  it('penny errors are real Error subclasses with a stable code', async () => {
    const pool = new penny.Pool({ threads: 1, arenaBytes: MiB });
    try {
      const e1 = await pool.run('fib', ['x']).catch((e) => e);
      const e2 = await pool.run('nope').catch((e) => e);
      for (const e of [e1, e2]) {
        assert.ok(e instanceof Error);
        assert.equal(typeof e.message, 'string');
        assert.ok(e.message.length > 0);
        assert.equal(typeof e.stack, 'string');
      }
      assertPennyError(e1, TypeError, ARG);
      assertPennyError(e2, RangeError, RANGE);
    } finally {
      await pool.close();
    }
  });
});
