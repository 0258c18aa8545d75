'use strict';

// Penny's WebAssembly libc (src/wasm/libc), built with clang-14 into
// build/wasm/libc-test.wasm and run the way Penny runs its module: one
// instance on the main thread and one in each of four worker_threads, all
// over ONE shared WebAssembly.Memory, each instance on a stack of its own.
// The allocator is hammered from the four Workers at once; formatting,
// strings, math and the clock are checked against Node's own answers.
//
//   npx mocha --no-config --timeout 120000 test/wasm/libc.test.js
//
// Skipped where clang-14 or wasm-ld-14 is missing.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { missingTools } = require('./toolchain');

const root = path.join(__dirname, '..', '..');
const wasmFile = path.join(root, 'build', 'wasm', 'libc-test.wasm');

const THREADS = 4;
const STACK_BYTES = 256 * 1024;
const MAX_PAGES = 16384; // 1 GiB, below the module's 4 GiB
const MiB = 1024 * 1024;
// Operations per Worker; LIBC_STRESS_OPS=200000 makes a soak of it.
const STRESS_OPS = Number(process.env.LIBC_STRESS_OPS) || 12000;

// The host functions the module imports, for an instance on any thread.
// Stringified into the Workers' source, so it uses nothing from outside.
function makeImports(memory, onLog) {
  return {
    env: {
      memory,
      exp: Math.exp,
      log: Math.log,
      penny_host_now: () => performance.now(),
      penny_host_log: (ptr, len) => {
        // A copy: TextDecoder refuses a view of a SharedArrayBuffer.
        const bytes = new Uint8Array(memory.buffer, ptr >>> 0, len >>> 0);
        onLog(new TextDecoder().decode(bytes.slice()));
      },
    },
  };
}

// A Worker's side: its own instance over the shared memory, its stack
// pointer set before any other export runs, then its thread-local block,
// then the stress run. Everything it saw comes back in one message.
const workerSource = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
${makeImports.toString()}
const { module: wasmModule, memory, stackTop, id, seed, ops } = workerData;
const logs = [];
const instance = new WebAssembly.Instance(wasmModule,
  makeImports(memory, (s) => logs.push(s)));
const x = instance.exports;
x.__stack_pointer.value = stackTop;
const result = { id, logs };
result.tlsInit = x.test_thread_init();
result.errnoAddr = x.test_errno_addr() >>> 0;
const before = x.malloc(4);
result.errnoFirst = x.test_clock_realtime(100 + id, before);
result.stress = x.test_stress(id, seed, ops);
// errno still holds this thread's mark, whatever the others did.
result.errnoSecond = x.test_clock_realtime(200 + id, before);
result.errnoBefore = new Int32Array(memory.buffer, before, 1)[0];
x.free(before);
result.stackPointer = x.__stack_pointer.value >>> 0;
parentPort.postMessage(result);
`;

function runWorker(data) {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerSource, { eval: true, workerData: data });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => {
      if (code !== 0)
        reject(new Error(`worker ${data.id} exited with ${code}`));
    });
  });
}

describe('wasm libc (src/wasm/libc)', function () {
  this.timeout(120000);

  let module;
  let memory;
  let x; // the main thread's instance's exports
  let logs;

  before(function () {
    const missing = missingTools();
    if (missing.length > 0) {
      // mocha's skip takes no reason; say it where the run is read.
      console.log(`      skipped: ${missing.join(' and ')} not found`);
      this.skip();
    }
    const make = spawnSync('make', ['-s', '-f', 'src/wasm/libc/test.mk'],
      { cwd: root, encoding: 'utf8' });
    assert.equal(make.status, 0, `make failed:\n${make.stdout}${make.stderr}`);
    module = new WebAssembly.Module(fs.readFileSync(wasmFile));
    memory = new WebAssembly.Memory({
      initial: 32, maximum: MAX_PAGES, shared: true,
    });
    logs = [];
    // The first instance runs the data initialisation and keeps the
    // linker's stack; the Workers' instances get stacks from its malloc.
    x = new WebAssembly.Instance(module,
      makeImports(memory, (s) => logs.push(s))).exports;
    assert.equal(x.test_thread_init(), 0);
  });

  beforeEach(() => {
    logs.length = 0;
  });

  afterEach(function () {
    if (x === undefined)
      return;
    assert.equal(x.penny__malloc_check(), 0,
      'heap invariants broken after: ' + this.currentTest.title);
  });

  const logText = () => logs.join('');

  // Calls an export that is expected to trap. A trap skips the callee's
  // epilogue, so the stack pointer is put back by hand.
  function expectTrap(fn) {
    const sp = x.__stack_pointer.value;
    assert.throws(fn, WebAssembly.RuntimeError);
    x.__stack_pointer.value = sp;
  }

  function readString(ptr, len) {
    const bytes = new Uint8Array(memory.buffer, ptr, len).slice();
    return new TextDecoder().decode(bytes);
  }

  it('string functions', () => {
    assert.equal(x.test_strings(), 0, logText());
  });

  it('snprintf formats as glibc does', () => {
    assert.equal(x.test_snprintf(), 0, logText());
  });

  // The exact decimal digits of a finite non-zero double (trailing zeros
  // dropped) and the power of ten of the first: |v| = d.ddd * 10^exp10.
  function exactDigits(v) {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, Math.abs(v));
    const bits = view.getBigUint64(0);
    const biased = Number(bits >> 52n);
    let m = bits & ((1n << 52n) - 1n);
    let e = biased === 0 ? -1074 : biased - 1075;
    if (biased !== 0)
      m |= 1n << 52n;
    const n = e >= 0 ? m << BigInt(e) : m * 5n ** BigInt(-e);
    const digits = n.toString();
    const exp10 = digits.length - 1 + Math.min(e, 0);
    return { digits: digits.replace(/0+$/, ''), exp10 };
  }

  // Whether rounding v to `keep` significant digits is an exact tie, where
  // C rounds half to even and JavaScript's toFixed and toExponential
  // round up.
  function isTie(v, keep) {
    const { digits } = exactDigits(v);
    return keep >= 0 && digits.length === keep + 1 && digits.endsWith('5');
  }

  it('%e and %f agree with toExponential and toFixed', () => {
    const buf = x.malloc(2048);
    const bits = new DataView(new ArrayBuffer(8));
    let checked = 0;
    try {
      for (let i = 0; i < 3000; i++) {
        bits.setUint32(0, (Math.random() * 2 ** 32) >>> 0);
        bits.setUint32(4, (Math.random() * 2 ** 32) >>> 0);
        let v = bits.getFloat64(0);
        if (!Number.isFinite(v) || v === 0)
          continue;
        if (i % 3 === 0)
          v = (v % 1e6) || 1.5; // values toFixed takes, and more digits
        const prec = i % 21;
        let n = x.test_format_double(buf, 2048, 'e'.charCodeAt(0), prec, v);
        const want = v.toExponential(prec)
          .replace(/e([+-])(\d)$/, 'e$10$2');
        if (!isTie(v, prec + 1))
          assert.equal(readString(buf, n), want, `%.${prec}e of ${v}`);
        const fixedKeep = exactDigits(v).exp10 + 1 + prec;
        if (Math.abs(v) < 1e21 && !isTie(v, fixedKeep)) {
          n = x.test_format_double(buf, 2048, 'f'.charCodeAt(0), prec, v);
          assert.equal(readString(buf, n), v.toFixed(prec),
            `%.${prec}f of ${v}`);
        }
        checked++;
      }
    } finally {
      x.free(buf);
    }
    assert.ok(checked > 2000);
  });

  it('exp and log are Math.exp and Math.log; the rest is exact', () => {
    const values = [0, -0, 1, -1, 0.5, 2, 10, 709.78, 710, -745.2, -746,
      1e-300, 5e-324, 1e300, Infinity, -Infinity, NaN, Math.PI, 1e-7];
    for (let i = 0; i < 200; i++)
      values.push((Math.random() - 0.5) * 2 ** (Math.random() * 40 - 20));
    for (const v of values) {
      assert.ok(Object.is(x.test_math(0, v, 0), Math.exp(v)), `exp(${v})`);
      assert.ok(Object.is(x.test_math(1, v, 0), Math.log(v)), `log(${v})`);
      assert.ok(Object.is(x.test_math(2, v, 0), Math.exp(v)), `(exp)(${v})`);
      assert.ok(Object.is(x.test_math(3, v, 0), Math.log(v)), `(log)(${v})`);
      assert.ok(Object.is(x.test_math(4, v, 0), Math.abs(v)), `fabs(${v})`);
      assert.ok(Object.is(x.test_math(5, v, 0), Math.floor(v)),
        `floor(${v})`);
      assert.ok(Object.is(x.test_math(6, v, 0), Math.trunc(v)),
        `trunc(${v})`);
      assert.ok(Object.is(x.test_math(7, v, 0), Math.sqrt(v)), `sqrt(${v})`);
    }
    // Folded at compile time, it would be the build machine's libm.
    assert.ok(Object.is(x.test_exp_constant(), Math.exp(1)));

    // fmod is JavaScript's %, exactly.
    const mods = [[5.5, 2], [-5.5, 2], [5.5, -2], [-4, 2], [1, 0], [0, 1],
      [-0, 1], [Infinity, 1], [1, Infinity], [NaN, 1], [1, NaN],
      [1e300, 3e-300], [5e-324, 3e-323], [3e-323, 5e-324], [2 ** 70, 3],
      [1.7976931348623157e308, 1.1e-308], [18446744073709551616 * 3.5,
        18446744073709551616]];
    for (let i = 0; i < 300; i++) {
      const a = (Math.random() - 0.5) * 2 ** (Math.random() * 200 - 100);
      const b = (Math.random() - 0.5) * 2 ** (Math.random() * 200 - 100);
      mods.push([a, b]);
    }
    for (const [a, b] of mods)
      assert.ok(Object.is(x.test_math(8, a, b), a % b), `fmod(${a}, ${b})`);

    // ldexp: one multiplication by a normal power of two rounds once,
    // so it is the reference in that range; the rest by hand.
    for (let i = 0; i < 300; i++) {
      const v = (Math.random() - 0.5) * 2 ** (Math.random() * 200 - 100);
      const e = Math.floor(Math.random() * 2046) - 1022;
      assert.ok(Object.is(x.test_math(9, v, e), v * 2 ** e),
        `ldexp(${v}, ${e})`);
    }
    // Below 2^-1074 the result rounds once, half to even: 1.5 and 3 *
    // 2^-1075 are ties (to 2 * 2^-1074), 3 * 2^-1076 is 0.75 of it.
    const ldexps = [[1, -1074, 5e-324], [1, -1075, 0], [1, -1076, 0],
      [1.5, -1074, 1e-323], [3, -1075, 1e-323], [3, -1076, 5e-324],
      [1, 1024, Infinity], [-1, 1024, -Infinity], [1, 100000, Infinity],
      [1, -100000, 0], [1, -2000, 0], [2 ** 1023, -2000, 2 ** -977],
      [5e-324, 2000, 2 ** 926], [5e-324, 1074, 1], [-0, 5, -0],
      [Infinity, -3000, Infinity]];
    for (const [v, e, want] of ldexps)
      assert.ok(Object.is(x.test_math(9, v, e), want), `ldexp(${v}, ${e})`);
  });

  it('isfinite, isinf, isnan, signbit, for double and float', () => {
    const flags = (v) => (Number.isFinite(v) ? 1 : 0) |
      (Math.abs(v) === Infinity ? 2 : 0) | (Number.isNaN(v) ? 4 : 0) |
      (Object.is(v, -0) || v < 0 ? 8 : 0);
    for (const v of [0, -0, 1, -1, Infinity, -Infinity, NaN, 1e300, -1e300,
      1e-50, -1e-50, 5e-324]) {
      const want = flags(v) | (flags(Math.fround(v)) << 4);
      // A NaN's sign bit is the engine's choice (and WebAssembly's
      // f32.demote need not keep it): not compared.
      const mask = Number.isNaN(v) ? ~(8 | 128) : ~0;
      assert.equal(x.test_classify(v) & mask, want & mask, `classify(${v})`);
    }
  });

  it('128-bit multiplication and conversion (compiler-rt)', () => {
    const out = x.malloc(16);
    const mask64 = (1n << 64n) - 1n;
    const rand128 = () => {
      let v = 0n;
      for (let i = 0; i < 4; i++)
        v = (v << 32n) | BigInt((Math.random() * 2 ** 32) >>> 0);
      return v >> BigInt(Math.floor(Math.random() * 128));
    };
    try {
      const cases = [[0n, 0n], [1n, (1n << 128n) - 1n],
        [(1n << 128n) - 1n, (1n << 128n) - 1n], [mask64, mask64],
        [1n << 64n, 1n << 63n], [-3n & ((1n << 128n) - 1n), 7n]];
      for (let i = 0; i < 500; i++)
        cases.push([rand128(), rand128()]);
      for (const [a, b] of cases) {
        x.test_mul128(a & mask64, a >> 64n, b & mask64, b >> 64n, out);
        const r = new BigUint64Array(memory.buffer, out, 2);
        const got = (r[1] << 64n) | r[0];
        assert.equal(got, (a * b) & ((1n << 128n) - 1n), `${a} * ${b}`);
      }
      // Number(bigint) rounds to nearest, ties to even, as C does.
      const conv = [0n, 1n, mask64, 1n << 64n, (1n << 128n) - 1n,
        ((1n << 53n) + 1n) << 70n, (((1n << 53n) + 1n) << 70n) + 1n,
        ((1n << 53n) + 3n) << 64n, (1n << 117n) - 1n];
      for (let i = 0; i < 500; i++)
        conv.push(rand128());
      for (const v of conv) {
        assert.ok(Object.is(x.test_u128_to_double(v & mask64, v >> 64n),
          Number(v)), `(double) ${v}`);
      }
    } finally {
      x.free(out);
    }
  });

  it('clock_gettime is monotonic, on performance.now()', () => {
    let last = x.test_clock_ms();
    assert.ok(Math.abs(last - performance.now()) < 50, `${last}`);
    for (let i = 0; i < 1000; i++) {
      const t = x.test_clock_ms();
      assert.ok(t >= last, `went back: ${last} then ${t}`);
      last = t;
    }
    const before = x.malloc(4);
    assert.equal(x.test_clock_realtime(7, before), 0, 'EINVAL');
    assert.equal(x.test_clock_realtime(8, before), 0, 'EINVAL');
    assert.equal(new Int32Array(memory.buffer, before, 1)[0], 7);
    x.free(before);
  });

  it('stderr goes to penny_host_log', () => {
    assert.equal(x.test_fprintf(0), 16);
    assert.equal(logText(), 'hello stderr 42\n');
    logs.length = 0;
    assert.equal(x.test_fprintf(1), 1002, 'past the stack buffer');
    assert.equal(logText(), `<${'z'.repeat(1000)}>`);
    logs.length = 0;
    x.test_fputs();
    assert.equal(logText(), 'fputs\n!fwrite');
  });

  it('assert, abort and a bad free trap', () => {
    assert.equal(x.test_assert(1), 1);
    expectTrap(() => x.test_assert(0));
    assert.match(logText(),
      /libc-test\.c:\d+: test_assert: Assertion `x == 1' failed\.\n/);
    expectTrap(() => x.test_abort());
    expectTrap(() => x.test_bad_free(0)); // twice
    expectTrap(() => x.test_bad_free(1)); // not from malloc
    // The lock was let go before the trap.
    const p = x.malloc(100);
    assert.notEqual(p, 0);
    x.free(p);
  });

  it('edge cases: malloc(0), refusals, every alignment, reuse', () => {
    assert.equal(x.test_alloc_edges(), 0, logText());
  });

  it('the memory grows when needed, and freed memory is reused', () => {
    const size = 48 * MiB;
    const before = memory.buffer.byteLength;
    const p = x.malloc(size) >>> 0;
    assert.notEqual(p, 0);
    const grown = memory.buffer.byteLength;
    assert.ok(grown > before, `${before} -> ${grown}`);
    assert.ok(p + size <= grown);
    const bytes = new Uint8Array(memory.buffer);
    bytes[p] = 1;
    bytes[p + size - 1] = 2;
    x.free(p);
    const q = x.malloc(size) >>> 0;
    assert.equal(memory.buffer.byteLength, grown, 'grew again');
    assert.equal(q, p);
    x.free(q);
    // Past the memory's maximum: NULL, and nothing grows.
    assert.equal(x.malloc(0xf0000000), 0);
    assert.equal(x.malloc(0x40000000), 0); // all of the maximum
    assert.equal(x.calloc(1, 0x40000000), 0);
    assert.equal(memory.buffer.byteLength, grown);
  });

  it(`${THREADS} Workers hammer the allocator at once`, async () => {
    const seed = (Math.random() * 2 ** 32) >>> 0;
    const stacks = [];
    for (let i = 0; i < THREADS; i++) {
      const stack = x.aligned_alloc(16, STACK_BYTES) >>> 0;
      assert.notEqual(stack, 0);
      stacks.push(stack);
    }
    const heapBase = x.__heap_base.value >>> 0;
    // Meanwhile the main thread takes the lock too (spinning, as a
    // browser's main thread must) and checks the heap between the
    // Workers' operations.
    let checks = 0;
    let broken = 0;
    const checker = setInterval(() => {
      broken += x.penny__malloc_check();
      checks++;
    }, 2);
    let results;
    try {
      results = await Promise.all(stacks.map((stack, id) => runWorker({
        module, memory, stackTop: stack + STACK_BYTES, id, seed,
        ops: STRESS_OPS,
      })));
    } finally {
      clearInterval(checker);
      for (const stack of stacks)
        x.free(stack);
    }
    assert.equal(broken, 0, `heap broken during the run (seed ${seed})`);
    assert.ok(checks > 0);
    const addrs = new Set();
    for (const r of results) {
      const where = `worker ${r.id}, seed ${seed}: ${r.logs.join('')}`;
      assert.equal(r.tlsInit, 0, where);
      assert.equal(r.stress, 0, where);
      assert.equal(r.errnoFirst, 0, where);
      assert.equal(r.errnoSecond, 0, where);
      assert.equal(r.errnoBefore, 100 + r.id, 'errno is per thread');
      assert.equal(r.stackPointer, stacks[r.id] + STACK_BYTES,
        'stack pointer restored');
      assert.ok(r.errnoAddr >= heapBase, 'errno in a heap-allocated block');
      addrs.add(r.errnoAddr);
    }
    addrs.add(x.test_errno_addr() >>> 0);
    assert.equal(addrs.size, THREADS + 1, 'errno addresses distinct');
  });

  it('the host growing the memory itself is left alone', () => {
    // The allocator's wilderness ends where memory ends now; the host
    // takes the next pages for itself.
    const hostPages = 4;
    const hostStart = memory.grow(hostPages) * 65536;
    const hostEnd = hostStart + hostPages * 65536;
    new Uint8Array(memory.buffer, hostStart, hostEnd - hostStart).fill(0x77);
    // Allocate until the wilderness runs out and memory.grow gives pages
    // after the host's: a new segment (the rest of the old one becomes a
    // free block behind a fence).
    const size = 4 * MiB;
    const big = [];
    while (big.length < 200 && (big.length === 0 || big.at(-1) < hostEnd)) {
      const p = x.malloc(size) >>> 0;
      assert.notEqual(p, 0);
      assert.ok(p >= hostEnd || p + size <= hostStart,
        `${p} overlaps the host's pages`);
      new Uint8Array(memory.buffer, p, size).fill(0x11);
      big.push(p);
    }
    assert.ok(big.at(-1) >= hostEnd, 'never reached a new segment');
    // Small blocks too, some of them carved from the old segment's end.
    const small = [];
    for (let i = 0; i < 2000; i++) {
      const n = (i * 7) % 3000;
      const q = x.malloc(n) >>> 0;
      assert.notEqual(q, 0);
      assert.ok(q >= hostEnd || q + n <= hostStart,
        `${q} (${n} bytes) overlaps the host's pages`);
      small.push(q);
    }
    assert.equal(x.penny__malloc_check(), 0);
    for (const q of small)
      x.free(q);
    for (const p of big)
      x.free(p);
    const host = new Uint8Array(memory.buffer, hostStart, hostEnd - hostStart);
    assert.ok(host.every((b) => b === 0x77), 'host pages written');
  });
});
