'use strict';

// Plugins: pool.load() of shared libraries of C kernels. The example
// plugin (examples/plugin) against a JavaScript reference, every way a load
// can fail (fixtures/plugins/*.c), failures, cancellation and close of
// plugin kernels, several pools sharing a library, and process exit.
//
// Everything is compiled into a fresh temporary directory in `before`,
// with make, a C compiler (process.env.CC, else cc) and, for one fixture,
// a C++ compiler (process.env.CXX, else c++).

const assert = require('node:assert/strict');
const { execFile, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const penny = require('../..');
const {
  ROOT, MiB, TYPES, prng, fillRandom, sleep, assertPennyError,
  assertRunRejects, assertThrowsPenny,
} = require('./fixtures/common');

const FIXTURES = path.join(__dirname, 'fixtures', 'plugins');
const EXT = process.platform === 'darwin' ? 'dylib' : 'so';
const CC = process.env.CC || 'cc';
const CXX = process.env.CXX || 'c++';

// Settles to { ok, value } or { ok: false, error } without throwing.
const settle = (p) => p.then((value) => ({ ok: true, value }),
  (error) => ({ ok: false, error }));

// The JavaScript reference of the example's blur: each pass blurs the
// rows, then the columns, with a box of 2*radius+1 pixels, the border
// repeated; sums in double, rounded to float.
const { blurJS } = require('../../examples/plugin/run');

// Element by element with Object.is: bit-exact, NaN and -0 included.
function assertSameFloats(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, ` +
        `the reference has ${expected[i]}`);
    }
  }
}

// The longest prefix of `s` of at most `max` UTF-8 bytes that ends on a
// character boundary (what a kernel's message is cut to).
function truncateUtf8(s, max) {
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > max) break;
    out += ch;
    bytes += n;
  }
  return out;
}

const BLUR_SIGNATURE = 'blur(in f32[] src, out f32[] dst, i32 width, ' +
  'i32 height, i32 radius, i32 passes) -> void';
const NORMALIZE_SIGNATURE = 'normalize(inout f32[] x) -> f64';

// Polls (bounded) until pred() holds; returns whether it did.
async function waitUntil(pred, maxMs = 10000) {
  for (let waited = 0; waited < maxMs; waited += 1) {
    if (pred()) return true;
    await sleep(1);
  }
  return pred();
}

describe('plugins: pool.load()', function () {
  this.timeout(60000);

  let tmp;
  let BUILTINS; // names of the built-in kernels, in index order
  const lib = (name) => path.join(tmp, `${name}.${EXT}`);
  const BLUR = () => lib('blur');

  before(function () {
    this.timeout(180000);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'penny-plugin-test-'));
    execFileSync('make', ['-s', '-C', path.join(ROOT, 'examples', 'plugin'),
      `OUT=${tmp}`], { stdio: 'pipe', env: { ...process.env, CC } });
    assert.ok(fs.existsSync(BLUR()), `make did not write ${BLUR()}`);
    const shared = process.platform === 'darwin'
      ? ['-dynamiclib', '-undefined', 'dynamic_lookup'] : ['-shared'];
    for (const file of fs.readdirSync(FIXTURES)) {
      if (!file.endsWith('.c')) continue;
      execFileSync(CC, ['-std=c11', ...shared, '-fPIC',
        `-I${path.join(ROOT, 'include')}`, '-o', lib(file.slice(0, -2)),
        path.join(FIXTURES, file)], { stdio: 'pipe' });
    }
    execFileSync(CXX, [...shared, '-fPIC', `-I${path.join(ROOT, 'include')}`,
      '-o', lib('cxx_plugin'), path.join(FIXTURES, 'cxx_plugin.cc')],
    { stdio: 'pipe' });
    const pool = new penny.Pool({ threads: 1, arenaBytes: MiB });
    BUILTINS = Object.keys(pool.kernels);
    return pool.close();
  });

  after(() => {
    if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
  });

  // A small blur checked against the reference, and the built-in sum: the
  // pool, and the plugin loaded into it, still work.
  async function assertPoolWorks(pool) {
    const v = pool.alloc(Float64Array, 4);
    v.set([1, 2, 3, 4]);
    assert.equal(await pool.run('sum', [v]), 10);
    pool.free(v);
    const src = fillRandom(new Float32Array(6 * 4), 99);
    const dst = new Float32Array(6 * 4);
    await pool.run('blur', [src, dst, 6, 4, 1, 2]);
    assertSameFloats(dst, blurJS(src, 6, 4, 1, 2), 'blur after');
  }

  describe('the example plugin (examples/plugin/blur.c)', () => {
    let pool;
    before(() => {
      pool = new penny.Pool({ threads: 3, arenaBytes: 16 * MiB });
    });
    after(() => pool.close());

    it('load returns its kernels, which follow the built-ins in ' +
      'pool.kernels', () => {
      const before = pool.kernels;
      assert.deepEqual(pool.load(BLUR()), ['blur', 'normalize']);
      const k = pool.kernels;
      assert.notEqual(k, before, 'a new object after a load');
      assert.ok(Object.isFrozen(k));
      assert.deepEqual(Object.keys(k), [...BUILTINS, 'blur', 'normalize']);
      // The object from before the load is untouched.
      assert.ok(Object.isFrozen(before));
      assert.deepEqual(Object.keys(before), BUILTINS);
      assert.equal(before.sum, k.sum, 'built-in descriptions are kept');

      assert.deepEqual(k.blur, {
        index: BUILTINS.length,
        name: 'blur',
        signature: BLUR_SIGNATURE,
        params: [
          { name: 'src', type: 'f32', array: true, dir: 'in' },
          { name: 'dst', type: 'f32', array: true, dir: 'out' },
          { name: 'width', type: 'i32', array: false },
          { name: 'height', type: 'i32', array: false },
          { name: 'radius', type: 'i32', array: false },
          { name: 'passes', type: 'i32', array: false },
        ],
        result: 'void',
      });
      assert.deepEqual(k.normalize, {
        index: BUILTINS.length + 1,
        name: 'normalize',
        signature: NORMALIZE_SIGNATURE,
        params: [{ name: 'x', type: 'f32', array: true, dir: 'inout' }],
        result: 'f64',
      });
      assert.ok(Object.isFrozen(k.blur) && Object.isFrozen(k.blur.params) &&
        Object.isFrozen(k.blur.params[0]));
      assert.equal(pool.kernels, k, 'the getter returns one object');
    });

    it('the table is per pool: another pool does not know blur', async () => {
      const other = new penny.Pool({ threads: 1, arenaBytes: MiB });
      try {
        assert.deepEqual(Object.keys(other.kernels), BUILTINS);
        await assertRunRejects(() => other.run('blur', []), RangeError,
          'ERR_PENNY_RANGE', /unknown kernel 'blur'/);
        await assertRunRejects(() => other.run(BUILTINS.length, []),
          RangeError, 'ERR_PENNY_RANGE');
      } finally {
        await other.close();
      }
    });

    const SHAPES = [[0, 0], [1, 1], [1, 9], [9, 1], [7, 5], [300, 200]];
    const RADII = [0, 1, 3, 12];
    const PASSES = [0, 1, 3];

    // dst starts as NaN, so every pixel must be written, except with 0
    // passes, where (as in the reference) it must stay as it was: zeros.
    for (const where of ['arena views', 'ordinary Float32Arrays']) {
      it(`blur matches the reference bit for bit (${where})`, async () => {
        let seed = 1;
        for (const [width, height] of SHAPES) {
          for (const radius of RADII) {
            for (const passes of PASSES) {
              const n = width * height;
              let src;
              let dst;
              if (where === 'arena views') {
                src = pool.alloc(Float32Array, n);
                dst = pool.alloc(Float32Array, n);
              } else {
                src = new Float32Array(n);
                dst = new Float32Array(n);
              }
              fillRandom(src, seed++);
              const copy = src.slice();
              dst.fill(passes === 0 ? 0 : NaN);
              const r = await pool.run('blur',
                [src, dst, width, height, radius, passes]);
              assert.equal(r, undefined, 'a void kernel');
              const what = `${width}x${height} r=${radius} p=${passes}`;
              assertSameFloats(dst, blurJS(copy, width, height, radius,
                passes), what);
              assertSameFloats(src, copy, `${what}: src is read only`);
              if (where === 'arena views') {
                pool.free(src);
                pool.free(dst);
              }
            }
          }
        }
      });
    }

    it('blur by index, on subarrays, and mixing arena and ordinary ' +
      'arrays', async () => {
      const [w, h, r, p] = [33, 17, 2, 2];
      const n = w * h;
      const want = blurJS(fillRandom(new Float32Array(n), 5), w, h, r, p);
      const index = pool.kernels.blur.index;

      // By index, arena views.
      const a = pool.alloc(Float32Array, n);
      const b = pool.alloc(Float32Array, n);
      fillRandom(a, 5);
      await pool.run(index, [a, b, w, h, r, p]);
      assertSameFloats(b, want, 'by index');

      // Views at odd offsets into an arena block and an ordinary buffer.
      const big = pool.alloc(Float32Array, n + 3);
      const srcView = big.subarray(3);
      fillRandom(srcView, 5);
      const plain = new Float32Array(n + 7).fill(-1);
      const dstView = plain.subarray(7);
      await pool.run('blur', [srcView, dstView, w, h, r, p]);
      assertSameFloats(dstView, want, 'subarrays');
      assert.ok(plain.subarray(0, 7).every((v) => v === -1),
        'nothing written before the view');

      // Ordinary src, arena dst.
      b.fill(NaN);
      await pool.run('blur', [fillRandom(new Float32Array(n), 5), b, w, h,
        r, p]);
      assertSameFloats(b, want, 'ordinary src, arena dst');
      pool.free(a);
      pool.free(b);
      pool.free(big);
    });

    it('many blurs in flight at once all match the reference', async () => {
      const jobs = [];
      for (let i = 0; i < 24; i++) {
        const [w, h] = [16 + i, 40 - i];
        const src = fillRandom(new Float32Array(w * h), 100 + i);
        const dst = new Float32Array(w * h);
        jobs.push({ src, dst, want: blurJS(src, w, h, i % 4, 1 + (i % 3)),
          p: pool.run('blur', [src, dst, w, h, i % 4, 1 + (i % 3)]) });
      }
      await Promise.all(jobs.map((j) => j.p));
      for (const [i, j] of jobs.entries()) {
        assertSameFloats(j.dst, j.want, `blur #${i}`);
      }
    });

    it('argument errors go through the same checks as built-ins', async () => {
      const before = pool.stats();
      const f32 = (n) => new Float32Array(n);
      // The signature: element types, count, scalar types.
      await assertRunRejects(() => pool.run('blur',
        [new Float64Array(4), f32(4), 2, 2, 1, 1]), TypeError,
      'ERR_PENNY_ARG', /'src' must be a Float32Array/);
      await assertRunRejects(() => pool.run('blur',
        [f32(4), pool.alloc(Int32Array, 4), 2, 2, 1, 1]), TypeError,
      'ERR_PENNY_ARG', /'dst' must be a Float32Array/);
      await assertRunRejects(() => pool.run('blur',
        [f32(4), f32(4), 2, 2, 1]), TypeError, 'ERR_PENNY_ARG',
      /expects 6 arguments, got 5/);
      await assertRunRejects(() => pool.run('blur',
        [f32(4), f32(4), 2, 2, 1, 1, 1]), TypeError, 'ERR_PENNY_ARG',
      /expects 6 arguments, got 7/);
      await assertRunRejects(() => pool.run('blur',
        [f32(4), f32(4), 2, 2, 1.5, 1]), TypeError, 'ERR_PENNY_ARG',
      /'radius' must be an integer/);
      await assertRunRejects(() => pool.run('blur',
        [f32(4), f32(4), '2', 2, 1, 1]), TypeError, 'ERR_PENNY_ARG',
      /'width'/);
      await assertRunRejects(() => pool.run('normalize', [[1, 2]]),
        TypeError, 'ERR_PENNY_ARG', /'x'/);
      // blur_check's refusals, with its messages.
      const same = f32(4);
      await assertRunRejects(() => pool.run('blur', [same, same, 2, 2, 1, 1]),
        TypeError, 'ERR_PENNY_ARG', /dst must be another array than src/);
      const sameArena = pool.alloc(Float32Array, 4);
      await assertRunRejects(() => pool.run('blur',
        [sameArena, sameArena, 2, 2, 1, 1]), TypeError, 'ERR_PENNY_ARG',
      /dst must be another array than src/);
      pool.free(sameArena);
      await assertRunRejects(() => pool.run('blur',
        [f32(4), f32(4), 2, -2, 1, 1]), RangeError, 'ERR_PENNY_RANGE',
      /width, height, radius and passes must not be negative/);
      await assertRunRejects(() => pool.run('blur',
        [f32(4), f32(4), 2, 2, 1, -1]), RangeError, 'ERR_PENNY_RANGE',
      /must not be negative/);
      await assertRunRejects(() => pool.run('blur',
        [f32(4), f32(4), 2, 3, 1, 1]), RangeError, 'ERR_PENNY_RANGE',
      /src and dst must hold width \* height pixels/);
      await assertRunRejects(() => pool.run('blur',
        [f32(6), f32(4), 2, 3, 1, 1]), RangeError, 'ERR_PENNY_RANGE',
      /src and dst must hold width \* height pixels/);
      const after = pool.stats();
      assert.equal(after.submitted, before.submitted, 'none was a task');
      assert.equal(after.failed, before.failed);
      await assertPoolWorks(pool);
    });

    // Empty arrays with no memory get a placeholder data pointer, one per
    // parameter: two distinct ones must not look like one to an aliasing
    // check such as blur_check's (args[0].data == args[1].data).
    it('blur of 0x0 between two distinct empty SharedArrayBuffer views ' +
      'resolves', async () => {
      const src = new Float32Array(new SharedArrayBuffer(0));
      const dst = new Float32Array(new SharedArrayBuffer(0));
      assert.equal(await pool.run('blur', [src, dst, 0, 0, 1, 1]),
        undefined);
    });
  });

  describe('normalize (a kernel that fails with a message)', () => {
    let pool;
    before(() => {
      pool = new penny.Pool({ threads: 3, arenaBytes: 16 * MiB });
      pool.load(BLUR());
    });
    after(() => pool.close());

    it('returns the sum and divides by it, arena or ordinary array',
      async () => {
        const x = pool.alloc(Float32Array, 4);
        x.set([1, 2, 3, 4]);
        assert.equal(await pool.run('normalize', [x]), 10);
        assertSameFloats(x, Float32Array.from([0.1, 0.2, 0.3, 0.4]),
          'normalize([1, 2, 3, 4])');
        pool.free(x);

        // Many elements (the sum splits across workers): integers, so
        // the sum is exact in any order and each quotient rounds once.
        const rand = prng(7);
        const y = new Float32Array(100003);
        for (let i = 0; i < y.length; i++) y[i] = Math.floor(rand() * 1000);
        let sum = 0;
        for (const v of y) sum += v;
        const want = y.map((v) => v / sum);
        assert.equal(await pool.run('normalize', [y]), sum);
        assertSameFloats(y, want, 'normalize of 100003 values');
      });

    it('a zero sum rejects with ERR_PENNY_KERNEL and exactly the ' +
      'kernel\'s message; the pool keeps working', async () => {
      const before = pool.stats();
      const x = pool.alloc(Float32Array, 1000).fill(0);
      const err = await assertRunRejects(() => pool.run('normalize', [x]),
        Error, 'ERR_PENNY_KERNEL');
      assert.equal(err.message, 'normalize: the values sum to 0');
      const after = pool.stats();
      assert.equal(after.failed, before.failed + 1);
      assert.equal(after.completed, before.completed);
      assert.equal(after.submitted, before.submitted + 1);
      assert.equal(after.pending, 0);
      pool.free(x);

      // Values that cancel out, an empty array, an ordinary array.
      for (const values of [[1, -1, 2, -2], [], [0, 0]]) {
        const e = await assertRunRejects(() => pool.run('normalize',
          [Float32Array.from(values)]), Error, 'ERR_PENNY_KERNEL');
        assert.equal(e.message, 'normalize: the values sum to 0');
      }
      assert.equal(pool.stats().failed, before.failed + 4);
      await assertPoolWorks(pool);
      const y = Float32Array.from([2, 2]);
      assert.equal(await pool.run('normalize', [y]), 4);
      assertSameFloats(y, Float32Array.from([0.5, 0.5]), 'after');
    });

    it('a sum that is not finite rejects with its own message', async () => {
      for (const values of [[1, Infinity], [NaN, 1], [Infinity, -Infinity],
        [-Infinity]]) {
        const x = Float32Array.from(values);
        const copy = x.slice();
        const err = await assertRunRejects(() => pool.run('normalize', [x]),
          Error, 'ERR_PENNY_KERNEL');
        assert.equal(err.message, 'normalize: the sum is not finite');
        assertSameFloats(x, copy, 'a failed task copies nothing back');
      }
      await assertPoolWorks(pool);
    });
  });

  describe('load errors change nothing', () => {
    let pool;
    before(() => {
      pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
      pool.load(BLUR());
    });
    after(() => pool.close());

    // Loads `file`, expects ERR_PENNY_PLUGIN, and checks that nothing
    // changed: the very same kernels object, and the pool still runs a
    // built-in and the plugin loaded before.
    async function assertLoadFails(file, re, namesPath = true) {
      const before = pool.kernels;
      const keys = Object.keys(before);
      const submitted = pool.stats().submitted;
      const err = assertThrowsPenny(() => pool.load(file), Error,
        'ERR_PENNY_PLUGIN', re);
      if (namesPath) {
        assert.ok(err.message.includes(file),
          `the message names the path: ${err.message}`);
      }
      assert.equal(pool.kernels, before, 'pool.kernels is the same object');
      assert.deepEqual(Object.keys(pool.kernels), keys);
      assert.equal(pool.stats().submitted, submitted);
      await assertPoolWorks(pool);
      return err;
    }

    const CASES = [
      ['no_entry',
        /is not a Penny plugin: it does not export penny_plugin\(\)/],
      ['null_entry', /penny_plugin\(\) returned NULL/],
      ['abi_mismatch', /was built for plugin ABI 999, and this Penny speaks 1/],
      ['no_kernels', /declares no kernels/],
      ['null_kernels', /declares no kernels/],
      ['too_many', /at most \d+ kernels/],
      ['null_fn', /kernel #1 has no function/],
      ['null_signature', /kernel #0 has no signature/],
      ['bad_signature', new RegExp('kernel #1 has a malformed signature ' +
        '"bad_sig\\(f64\\[\\] x\\) -> void": an array parameter needs in, ' +
        'out or inout')],
      ['clash_builtin', /kernel 'sum' clashes with a kernel of the same name/],
      ['clash_plugin',
        /kernel 'normalize' clashes with a kernel of the same name/],
      ['duplicate', /kernel 'twice' is declared twice/],
      ['undefined_symbol', /^cannot load .*penny_test_symbol_nobody_defines/],
    ];
    for (const [name, re] of CASES) {
      it(`${name}.c`, () => assertLoadFails(lib(name), re));
    }

    it('all or nothing: no kernel of a refused plugin gets in', async () => {
      for (const name of ['valid_before_null', 'valid_before_bad',
        'fresh_kernel', 'abi999', 'only_one', 'not_counted', 'twice']) {
        assert.equal(pool.kernels[name], undefined, name);
        await assertRunRejects(() => pool.run(name, []), RangeError,
          'ERR_PENNY_RANGE', /unknown kernel/);
      }
      // The built-in sum is still the built-in, not clash_builtin's.
      assert.equal(pool.kernels.sum.signature, 'sum(in num[] x) -> f64');
    });

    it('the example loaded twice into one pool clashes', async () => {
      await assertLoadFails(BLUR(), /kernel 'blur' clashes/);
    });

    it('a missing file, a directory, a file that is not a library',
      async () => {
        await assertLoadFails(path.join(tmp, `missing.${EXT}`),
          /^cannot load .*missing/);
        await assertLoadFails(tmp, /^cannot load /);
        const garbage = path.join(tmp, `garbage.${EXT}`);
        fs.writeFileSync(garbage, 'this is not a shared library\n'.repeat(40));
        await assertLoadFails(garbage, /^cannot load .*garbage/);
        const empty = path.join(tmp, `empty.${EXT}`);
        fs.writeFileSync(empty, '');
        await assertLoadFails(empty, /^cannot load .*empty/);
      });

    it('a path with a NUL byte or over 4 KiB', async () => {
      await assertLoadFails(`${BLUR()}\0.txt`, /NUL/, false);
      await assertLoadFails(`/${'x'.repeat(5000)}`, /over-long/, false);
    });

    it('a path that is not a non-empty string: TypeError ERR_PENNY_ARG',
      async () => {
        const before = pool.kernels;
        for (const bad of [undefined, null, 42, {}, [BLUR()], '',
          Buffer.from(BLUR()), new String(BLUR())]) {
          assertThrowsPenny(() => pool.load(bad), TypeError, 'ERR_PENNY_ARG',
            /path must be a non-empty string/);
        }
        assertThrowsPenny(() => pool.load(), TypeError, 'ERR_PENNY_ARG');
        assert.equal(pool.kernels, before);
        await assertPoolWorks(pool);
      });

    it('failed loads take no kernel indices: the next plugin follows ' +
      'directly', async () => {
      const names = pool.load(lib('behaviour'));
      assert.equal(names[0], 'fail_with');
      assert.deepEqual(Object.keys(pool.kernels),
        [...BUILTINS, 'blur', 'normalize', ...names]);
      names.forEach((name, i) => {
        assert.equal(pool.kernels[name].index, BUILTINS.length + 2 + i);
      });
      assert.equal(await pool.run('pfib', [20]), 6765);
      await assertPoolWorks(pool);
    });
  });

  describe('paths and pools', () => {
    it('a plugin written in C++ loads and runs', async () => {
      const pool = new penny.Pool({ threads: 2, arenaBytes: MiB });
      try {
        assert.deepEqual(pool.load(lib('cxx_plugin')), ['twice_cxx']);
        assert.equal(await pool.run('twice_cxx', [21]), 42);
      } finally {
        await pool.close();
      }
    });

    it('a relative path is resolved against the current directory, ' +
      'not the loader\'s search path', async () => {
      const pool = new penny.Pool({ threads: 1, arenaBytes: MiB });
      const cwd = process.cwd();
      let names;
      try {
        process.chdir(tmp);
        // A bare file name: dlopen alone would search LD_LIBRARY_PATH.
        names = pool.load(`clash_plugin.${EXT}`);
      } finally {
        process.chdir(cwd);
      }
      try {
        assert.deepEqual(names, ['fresh_kernel', 'normalize']);
        assert.equal(await pool.run('fresh_kernel', [41]), 42);
        // This pool's normalize is clash_plugin's, not the example's.
        assert.equal(await pool.run('normalize', [new Float32Array(2)]), -42);
        // A relative path with directories; the example's 'normalize'
        // clashes with clash_plugin's, so its 'blur' must not get in.
        const before = pool.kernels;
        const rel = path.relative(cwd, BLUR());
        assert.ok(!path.isAbsolute(rel));
        const err = assertThrowsPenny(() => pool.load(rel), Error,
          'ERR_PENNY_PLUGIN', /kernel 'normalize' clashes/);
        assert.ok(err.message.includes(BLUR()), 'the absolute path');
        assert.equal(pool.kernels, before);
        assert.equal(pool.kernels.blur, undefined);
      } finally {
        await pool.close();
      }
    });

    it('load after close(), and while closing: ERR_PENNY_CLOSED',
      async () => {
        const pool = new penny.Pool({ threads: 1, arenaBytes: MiB });
        pool.load(BLUR());
        const src = fillRandom(new Float32Array(64 * 64), 3);
        const dst = new Float32Array(64 * 64);
        const task = pool.run('blur', [src, dst, 64, 64, 2, 3]);
        const closing = pool.close();
        assertThrowsPenny(() => pool.load(lib('behaviour')), Error,
          'ERR_PENNY_CLOSED');
        await task;
        assertSameFloats(dst, blurJS(src, 64, 64, 2, 3), 'blur before close');
        await closing;
        assertThrowsPenny(() => pool.load(lib('behaviour')), Error,
          'ERR_PENNY_CLOSED');
        assertThrowsPenny(() => pool.load(42), Error, 'ERR_PENNY_CLOSED');
        await assertRunRejects(() => pool.run('blur', [src, dst, 64, 64, 1,
          1]), Error, 'ERR_PENNY_CLOSED');
      });

    it('two pools load one library and run it concurrently; closing one ' +
      'leaves the other working', async () => {
      const a = new penny.Pool({ threads: 2, arenaBytes: 8 * MiB });
      const b = new penny.Pool({ threads: 2, arenaBytes: 8 * MiB });
      try {
        assert.deepEqual(a.load(BLUR()), ['blur', 'normalize']);
        assert.deepEqual(b.load(BLUR()), ['blur', 'normalize']);
        const jobs = [];
        for (let i = 0; i < 8; i++) {
          const pool = i % 2 === 0 ? a : b;
          const [w, h, r, p] = [120 + i, 80 - i, 1 + (i % 3), 2];
          const src = fillRandom(new Float32Array(w * h), 40 + i);
          const dst = new Float32Array(w * h);
          jobs.push({ dst, want: blurJS(src, w, h, r, p),
            p: pool.run('blur', [src, dst, w, h, r, p]) });
        }
        await Promise.all(jobs.map((j) => j.p));
        for (const [i, j] of jobs.entries()) {
          assertSameFloats(j.dst, j.want, `blur #${i}`);
        }

        // a opened the library first; closing it must not unload it for b.
        await a.close();
        for (let i = 0; i < 3; i++) {
          await assertPoolWorks(b);
          const x = Float32Array.from([1, 3]);
          assert.equal(await b.run('normalize', [x]), 4);
          assertSameFloats(x, Float32Array.from([0.25, 0.75]), 'normalize');
        }
      } finally {
        await a.close();
        await b.close();
      }

      // Both closed (the library may be unloaded): a new pool loads it
      // afresh and runs it.
      const c = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
      try {
        assert.deepEqual(c.load(BLUR()), ['blur', 'normalize']);
        await assertPoolWorks(c);
      } finally {
        await c.close();
      }
    });

    it('two plugins into one pool, and many pools in turn', async () => {
      for (let round = 0; round < 5; round++) {
        const pool = new penny.Pool({ threads: 2, arenaBytes: MiB });
        try {
          pool.load(lib('behaviour'));
          pool.load(BLUR());
          assert.equal(pool.kernels.blur.index,
            pool.kernels.api_info.index + 1);
          assert.equal(await pool.run('pfib', [15]), 610);
          await assertPoolWorks(pool);
        } finally {
          await pool.close();
        }
      }
    });
  });

  describe('kernel failures (fixtures/plugins/behaviour.c)', () => {
    let pool;
    before(() => {
      pool = new penny.Pool({ threads: 3, arenaBytes: 8 * MiB });
      pool.load(lib('behaviour'));
      pool.load(BLUR());
    });
    after(() => pool.close());

    const encoder = new TextEncoder();

    // Fails fail_with with `message`'s UTF-8 bytes (from the arena or an
    // ordinary array, alternately); returns the error.
    let turn = 0;
    async function failWith(message) {
      const bytes = encoder.encode(message);
      let arg = bytes;
      if (turn++ % 2 === 0) {
        arg = pool.alloc(Uint8Array, bytes.length);
        arg.set(bytes);
      }
      const err = await assertRunRejects(() => pool.run('fail_with', [arg]),
        Error, 'ERR_PENNY_KERNEL');
      if (arg !== bytes) pool.free(arg);
      return err;
    }

    it('a message from the root task arrives as is', async () => {
      const before = pool.stats().failed;
      assert.equal((await failWith('fail_with: plain')).message,
        'fail_with: plain');
      assert.equal((await failWith('ünïcödé ✓ 😀')).message, 'ünïcödé ✓ 😀');
      assert.equal(pool.stats().failed, before + 2);
      await assertPoolWorks(pool);
    });

    it('a long message is cut to 255 bytes', async () => {
      assert.equal((await failWith('x'.repeat(1000))).message,
        'x'.repeat(255));
      assert.equal((await failWith('y'.repeat(255))).message, 'y'.repeat(255));
      assert.equal((await failWith('z'.repeat(256))).message, 'z'.repeat(255));
      assert.equal((await failWith('€'.repeat(400))).message, '€'.repeat(85));
    });

    it('a long message is never cut inside a UTF-8 character', async () => {
      for (const ch of ['é', '€', '😀']) {
        for (let k = 248; k <= 256; k++) {
          const message = `${'a'.repeat(k)}${ch.repeat(4)} tail`;
          const got = (await failWith(message)).message;
          assert.equal(got, truncateUtf8(message, 255),
            `${k} ASCII bytes, then ${Buffer.byteLength(ch)}-byte chars`);
          assert.ok(Buffer.byteLength(got) <= 255);
          assert.ok(!got.includes('\uFFFD'), 'no broken character');
        }
      }
    });

    it('an empty or NULL message still rejects ERR_PENNY_KERNEL with a ' +
      'message; bytes that are not UTF-8 do not break it', async () => {
      const empty = await failWith('');
      assert.equal(typeof empty.message, 'string');
      assert.ok(empty.message.length > 0, 'some message');
      const err = await assertRunRejects(() => pool.run('fail_null', []),
        Error, 'ERR_PENNY_KERNEL');
      assert.ok(err.message.length > 0, 'some message');
      const bad = await assertRunRejects(() => pool.run('fail_with',
        [Uint8Array.from([0x62, 0x61, 0x64, 0x20, 0xff])]), Error,
      'ERR_PENNY_KERNEL');
      assert.equal(bad.message, 'bad \uFFFD');
      // 300 continuation bytes: the cut backs off at most three bytes
      // looking for a character boundary, so something is left.
      const tail = await assertRunRejects(() => pool.run('fail_with',
        [new Uint8Array(300).fill(0x80)]), Error, 'ERR_PENNY_KERNEL');
      assert.equal(tail.message, '\uFFFD'.repeat(252));
    });

    it('a message from one of many children arrives', async () => {
      const info = pool.alloc(Int32Array, 1);
      for (let round = 0; round < 5; round++) {
        for (const which of [0, 31, 63]) {
          info[0] = -1;
          const err = await assertRunRejects(() => pool.run('fail_child',
            [info, 64, which]), Error, 'ERR_PENNY_KERNEL');
          assert.equal(err.message, `fail_child: child ${which} of 64 failed`);
          assert.ok(info[0] >= 0 && info[0] < pool.threads,
            `the failing child ran on worker ${info[0]}`);
        }
      }
      // No child fails: it resolves.
      assert.equal(await pool.run('fail_child', [info, 64, -1]), undefined);
      pool.free(info);
    });

    it('a message from a child that a thief ran arrives', async () => {
      const info = pool.alloc(Int32Array, 3);
      for (let round = 0; round < 10; round++) {
        info.fill(-1);
        const err = await assertRunRejects(() => pool.run('stolen_fail',
          [info]), Error, 'ERR_PENNY_KERNEL');
        assert.equal(err.message, 'stolen_fail: failed on a thief');
        assert.equal(info[2], 0, 'no worker stole the child in 10 s');
        assert.notEqual(info[0], info[1], 'the child ran on another worker');
        assert.ok(info[1] >= 0 && info[1] < pool.threads);
      }
      pool.free(info);
      await assertPoolWorks(pool);
    });

    it('penny_fail without a message: "<name> failed: <strerror>"',
      async () => {
        const before = pool.stats().failed;
        const CODES = [[-3, 'value out of range'], [-2, 'out of memory'],
          [-1, 'invalid argument'], [-9, 'kernel reported failure']];
        for (const [code, text] of CODES) {
          // With a signal (lib/ keeps extras for the task) and without
          // (the ring's fast path): the binding names the kernel.
          const signal = new AbortController().signal;
          const named = await assertRunRejects(() => pool.run('fail_code',
            [code], { signal }), Error, 'ERR_PENNY_KERNEL');
          assert.equal(named.message, `fail_code failed: ${text}`);
          const plain = await assertRunRejects(() => pool.run('fail_code',
            [code]), Error, 'ERR_PENNY_KERNEL');
          assert.equal(plain.message, `fail_code failed: ${text}`);
        }
        assert.equal(pool.stats().failed, before + 2 * CODES.length);
        assert.equal(await pool.run('fail_code', [0]), undefined,
          'penny_fail(w, 0) is no failure');
      });

    it('the first failure of a task wins', async () => {
      const codeFirst = await assertRunRejects(() => pool.run('fail_twice',
        [0]), Error, 'ERR_PENNY_KERNEL');
      assert.match(codeFirst.message, /failed: value out of range$/);
      const messageFirst = await assertRunRejects(() =>
        pool.run('fail_twice', [1]), Error, 'ERR_PENNY_KERNEL');
      assert.equal(messageFirst.message, 'fail_twice: first');
      const twoMessages = await assertRunRejects(() =>
        pool.run('fail_twice', [2]), Error, 'ERR_PENNY_KERNEL');
      assert.equal(twoMessages.message, 'fail_twice: first');
    });

    // A message that comes after a plain penny_fail(w, PENNY_EKERNEL)
    // must not replace it: same status, different first failure.
    it('the first failure wins also when it is PENNY_EKERNEL without a ' +
      'message', async () => {
      const err = await assertRunRejects(() => pool.run('fail_twice', [3]),
        Error, 'ERR_PENNY_KERNEL');
      assert.equal(err.message, 'fail_twice failed: kernel reported failure');
    });

    it('a failed task\'s message does not leak into the next task of its ' +
      'slot', async () => {
      await failWith('fail_with: leaked?');
      // Tasks that reuse the freed slot fail with their own status.
      const err = await assertRunRejects(() => pool.run('fail_code', [-3]),
        Error, 'ERR_PENNY_KERNEL');
      assert.match(err.message, /failed: value out of range$/);
      assert.equal(await pool.run('pfib', [10]), 55);
      const x = Float32Array.from([1, 1]);
      assert.equal(await pool.run('normalize', [x]), 2);
    });
  });

  describe('cancellation and close', () => {
    let pool;
    beforeEach(() => {
      pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
      pool.load(lib('behaviour'));
      pool.load(BLUR());
    });
    afterEach(() => pool.close());

    // Starts wait_cancel (bounded by maxMs) and waits until it runs.
    async function startWaiter(maxMs, options) {
      const flags = pool.alloc(Int32Array, 3);
      const p = pool.run('wait_cancel', [flags, maxMs], options);
      assert.ok(await waitUntil(() => Atomics.load(flags, 0) === 1),
        'wait_cancel did not start within 10 s');
      return { flags, p };
    }

    it('aborting a running plugin kernel rejects with the signal\'s ' +
      'reason (AbortError)', async () => {
      const before = pool.stats();
      const c = new AbortController();
      const { flags, p } = await startWaiter(20000, { signal: c.signal });
      c.abort();
      const r = await settle(p);
      assert.equal(r.ok, false, 'the task must not resolve');
      assert.equal(r.error, c.signal.reason);
      assert.ok(r.error instanceof DOMException);
      assert.equal(r.error.name, 'AbortError');
      assert.equal(Atomics.load(flags, 1), 1, 'the kernel saw the cancel');
      assert.equal(Atomics.load(flags, 2), 0, 'it did not time out');
      const after = pool.stats();
      assert.equal(after.cancelled, before.cancelled + 1);
      assert.equal(after.failed, before.failed);
      assert.equal(after.pending, 0);
      await assertPoolWorks(pool);
    });

    it('a custom abort reason propagates', async () => {
      const c = new AbortController();
      const { flags, p } = await startWaiter(20000, { signal: c.signal });
      const reason = new Error('stop the plugin');
      c.abort(reason);
      const r = await settle(p);
      assert.equal(r.ok, false);
      assert.equal(r.error, reason);
      assert.equal(Atomics.load(flags, 1), 1);
      await assertPoolWorks(pool);
    });

    it('aborting a long blur mid-run rejects; the pool and plugin still ' +
      'work', async () => {
      const before = pool.stats();
      // 20000 passes: seconds of work, so the abort lands long before the
      // end; bounded, so a broken cancel fails the test rather than hang.
      const [w, h, r, passes] = [96, 96, 3, 20000];
      const src = fillRandom(pool.alloc(Float32Array, w * h), 11);
      const dst = pool.alloc(Float32Array, w * h);
      const c = new AbortController();
      const p = pool.run('blur', [src, dst, w, h, r, passes],
        { signal: c.signal });
      // dst turns non-zero once the first pass is done: it is running.
      assert.ok(await waitUntil(() => dst.some((v) => v !== 0)),
        'blur did not start within 10 s');
      c.abort();
      const res = await settle(p);
      assert.equal(res.ok, false, 'the blur must not finish');
      assert.equal(res.error, c.signal.reason);
      assert.equal(pool.stats().cancelled, before.cancelled + 1);
      await assertPoolWorks(pool);
    });

    it('aborting a queued plugin kernel: it never runs', async () => {
      const single = new penny.Pool({ threads: 1, arenaBytes: MiB });
      try {
        single.load(BLUR());
        single.load(lib('behaviour'));
        const flags = single.alloc(Int32Array, 3);
        const c1 = new AbortController();
        const waiter = single.run('wait_cancel', [flags, 20000],
          { signal: c1.signal });
        assert.ok(await waitUntil(() => Atomics.load(flags, 0) === 1));
        // The only worker is busy: this blur waits in the queue.
        const src = fillRandom(single.alloc(Float32Array, 64), 2);
        const dst = single.alloc(Float32Array, 64).fill(7);
        const c2 = new AbortController();
        const queued = single.run('blur', [src, dst, 8, 8, 1, 1],
          { signal: c2.signal });
        c2.abort('queued reason');
        // A cancelled queued task settles once a worker reaches it: free
        // the worker.
        c1.abort();
        const [r1, r2] = await Promise.all([settle(waiter), settle(queued)]);
        assert.equal(r2.ok, false);
        assert.equal(r2.error, 'queued reason');
        assert.equal(r1.ok, false);
        assert.equal(r1.error, c1.signal.reason);
        assert.equal(Atomics.load(flags, 1), 1, 'the waiter saw the cancel');
        assert.ok(dst.every((v) => v === 7), 'the queued blur never ran');
        assert.equal(single.stats().cancelled, 2);
        await single.run('blur', [src, dst, 8, 8, 1, 1]);
        assertSameFloats(dst, blurJS(src, 8, 8, 1, 1), 'blur after');
      } finally {
        await single.close();
      }
    });

    it('close() while a plugin kernel runs lets it finish; the promise ' +
      'settles once', async () => {
      const { flags, p } = await startWaiter(300);
      let settled = 0;
      const outcome = p.then((v) => {
        settled++;
        return { ok: true, value: v };
      }, (e) => {
        settled++;
        return { ok: false, error: e };
      });
      const closing = pool.close();
      assert.equal(pool.close(), closing, 'close() is idempotent');
      await closing;
      const r = await outcome;
      await sleep(20);
      assert.equal(settled, 1);
      assert.equal(r.ok, true, `it rejected: ${r.error}`);
      assert.ok(r.value >= 1, 'it ran rounds of penny_for');
      assert.equal(Atomics.load(flags, 2), 1, 'it ran to its bound');
      assert.equal(Atomics.load(flags, 1), 0, 'close() does not cancel it');
      assert.equal(pool.closed, true);
    });

    it('close() while blurs run: they finish with the right pixels',
      async () => {
        const jobs = [];
        for (let i = 0; i < 4; i++) {
          const src = fillRandom(new Float32Array(150 * 100), 70 + i);
          const dst = new Float32Array(150 * 100);
          jobs.push({ dst, want: blurJS(src, 150, 100, 4, 3),
            p: pool.run('blur', [src, dst, 150, 100, 4, 3]) });
        }
        await pool.close();
        for (const [i, j] of jobs.entries()) {
          assert.equal(await j.p, undefined);
          assertSameFloats(j.dst, j.want, `blur #${i}`);
        }
      });
  });

  describe('fork-join table and typed getters (behaviour.c)', () => {
    let pool;
    before(() => {
      pool = new penny.Pool({ threads: 3, arenaBytes: 4 * MiB });
      pool.load(lib('behaviour'));
    });
    after(() => pool.close());

    it('the entry point gets plugin ABI 1 and a table of the header\'s ' +
      'size', async () => {
      const r = pool.alloc(Float64Array, 3);
      await pool.run('api_info', [r]);
      assert.deepEqual([...r], [1, r[2], r[2]]);
      assert.ok(r[2] > 0);
      // The plugin's own check runs too.
      await assertRunRejects(() => pool.run('api_info',
        [new Float64Array(2)]), RangeError, 'ERR_PENNY_RANGE',
      /api_info: r must hold 3 values/);
    });

    it('penny_join, penny_worker_index and penny_worker_count', async () => {
      for (const n of [1, 2, 7, 1000]) {
        const idx = pool.alloc(Int32Array, n).fill(-1);
        assert.equal(await pool.run('workers', [idx]), pool.threads);
        for (let i = 0; i < n; i++) {
          assert.ok(idx[i] >= 0 && idx[i] < pool.threads,
            `leaf ${i} of ${n}: worker index ${idx[i]}`);
        }
        pool.free(idx);
      }
      assert.equal(await pool.run('workers', [new Int32Array(0)]),
        pool.threads);
    });

    it('penny_spawn and penny_sync: pfib equals the built-in fib',
      async () => {
        for (const n of [0, 1, 2, 10, 25]) {
          assert.equal(await pool.run('pfib', [n]),
            await pool.run('fib', [n]), `fib(${n})`);
        }
        assert.equal(await pool.run('pfib', [25]), 75025);
        await assertRunRejects(() => pool.run('pfib', [41]), RangeError,
          'ERR_PENNY_RANGE', /pfib: n must be from 0 to 40/);
      });

    // probe's result: bit t-1 for each getter (type code t) that gave
    // non-NULL for the array, bit 10 if one did for the scalar, plus 2048
    // times the array's length.
    const probe = (x) => pool.run('probe', [x, 1]);
    const bitOf = (Type) => 2 ** TYPES.indexOf(Type);

    it('only the getter of the array\'s element type gives non-NULL',
      async () => {
        for (const Type of TYPES) {
          for (const x of [new Type(5), pool.alloc(Type, 5),
            new Type(new SharedArrayBuffer(5 * Type.BYTES_PER_ELEMENT))]) {
            assert.equal(await probe(x), bitOf(Type) + 5 * 2048,
              `${Type.name} (${x.buffer === pool.arena ? 'arena'
                : x.buffer instanceof SharedArrayBuffer ? 'shared'
                  : 'ordinary'})`);
          }
        }
      });

    it('getters give non-NULL for empty arrays of the right type', async () => {
      const f64 = bitOf(Float64Array);
      const empties = [
        ['ordinary', new Float64Array(0)],
        ['arena', pool.alloc(Float64Array, 0)],
        ['empty SharedArrayBuffer', new Float64Array(new SharedArrayBuffer(0))],
        ['end of a SharedArrayBuffer',
          new Float64Array(new SharedArrayBuffer(16), 16, 0)],
        ['empty subarray', pool.alloc(Float64Array, 4).subarray(2, 2)],
      ];
      for (const [what, x] of empties) {
        assert.equal(await probe(x), f64, what);
      }
      assert.equal(await probe(new Int32Array(0)), bitOf(Int32Array));
      assert.equal(await probe(new BigUint64Array(new SharedArrayBuffer(0))),
        bitOf(BigUint64Array));
    });
  });

  describe('a child process', function () {
    this.timeout(40000);

    function runChild(args) {
      return new Promise((resolve) => {
        const child = execFile(process.execPath,
          [path.join(FIXTURES, 'exit-after-plugin.js'), ...args], {
          cwd: os.tmpdir(), timeout: 30000, killSignal: 'SIGKILL',
        }, (err, stdout, stderr) => {
          resolve({ code: child.exitCode, signal: child.signalCode,
            timedOut: Boolean(err && err.killed), stdout, stderr });
        });
      });
    }

    function assertCleanExit(r) {
      assert.equal(r.timedOut, false,
        `the child did not exit by itself\n${r.stdout}\n${r.stderr}`);
      assert.equal(r.signal, null, `it died of ${r.signal}\n${r.stderr}`);
      assert.equal(r.code, 0, `it exited with ${r.code}\n${r.stderr}`);
    }

    const LINE = 'blur,normalize blur[7]=7 sum=10 x[3]=0.4000000059604645';

    it('loads the plugin, runs it, and exits without close()', async () => {
      const r = await runChild([BLUR()]);
      assertCleanExit(r);
      assert.equal(r.stdout, `main: ${LINE}\n`);
    });

    it('a worker thread does the same, then the main thread', async () => {
      const r = await runChild([BLUR(), 'worker']);
      assertCleanExit(r);
      assert.equal(r.stdout,
        `worker: ${LINE}\nworker exited\nmain: ${LINE}\n`);
    });
  });
});
