'use strict';

// What a careless or hostile user does, one regression at a time: Workers
// ended while their pools deliver, user code that re-enters the pool
// while run() reads its arguments, typed arrays with lying own
// properties, frees of views that alloc() did not return, and buffers
// resized under a task. The adversarial suite (test/adversarial) does the
// same at random and at scale.

const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const penny = require('../..');
const {
  FIXTURES, MiB, assertRunRejects, assertThrowsPenny,
} = require('./fixtures/common');

const ARG = 'ERR_PENNY_ARG';
const RANGE = 'ERR_PENNY_RANGE';

// Counts how often each promise settles: exactly once is the contract.
function track(promise) {
  const t = { settled: 0, value: undefined, error: undefined };
  t.done = promise.then((v) => { t.settled++; t.value = v; },
    (e) => { t.settled++; t.error = e; });
  return t;
}

// The pool's own books balance and nothing is pending.
function assertQuiet(pool) {
  const s = pool.stats();
  assert.equal(s.pending, 0, 'nothing pending');
  assert.equal(s.submitted, s.completed + s.failed + s.cancelled,
    `submitted = completed + failed + cancelled: ${JSON.stringify(s)}`);
}

describe('trust: teardown', function () {
  // Each churn is a child process with its own 120 s limit; starting and
  // terminating Workers is far slower under some runtimes (Deno: 47 s).
  this.timeout(150000);
  const churn = (mode, rounds) => {
    const r = spawnSync(process.execPath,
      [path.join(FIXTURES, 'teardown-churn.js'), mode, String(rounds)],
      { encoding: 'utf8', timeout: 120000 });
    assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /FATAL ERROR|Abort|Segmentation/);
    assert.equal(r.status, 0, r.stderr);
  };

  it('terminate() while a pool delivers 1,000 completions never aborts',
    () => churn('deliver', 20));
  it('process.exit() inside a Worker while its pool delivers never aborts',
    () => churn('exit', 20));
  it('an uncaught throw inside a Worker while its pool delivers never aborts',
    () => churn('throw', 20));
  it('terminate() at any moment of new Pool() never aborts',
    () => churn('construct', 40));
  it('process.exit() on the main thread while a Worker\'s pool delivers ' +
     'exits with the code asked for', () => {
    for (let i = 0; i < 5; i++) churn('main-exit', 1);
  });
});

describe('trust: user code that re-enters the pool', () => {
  let pool;
  beforeEach(() => {
    pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
  });
  afterEach(async () => {
    await pool.close();
  });

  it('a getter on an element of args that calls run: both tasks settle ' +
     'once', async () => {
    let inner;
    const args = [];
    Object.defineProperty(args, 0, {
      get() {
        inner ??= track(pool.run('fib', [10]));
        return 20;
      },
      enumerable: true,
    });
    const outer = track(pool.run('fib', args));
    await outer.done;
    await inner.done;
    assert.equal(outer.value, 6765);
    assert.equal(inner.value, 55);
    assert.equal(outer.settled + inner.settled, 2);
    assertQuiet(pool);
  });

  it('a Proxy as args whose traps call run: every task settles once',
    async () => {
      const inner = [];
      const args = new Proxy([7], {
        get(target, key) {
          if (inner.length < 5) inner.push(track(pool.run('fib', [12])));
          return Reflect.get(target, key);
        },
      });
      const outer = track(pool.run('fib', args));
      await Promise.all([outer.done, ...inner.map((t) => t.done)]);
      assert.equal(outer.value, 13);
      assert.ok(inner.length > 0);
      for (const t of inner) {
        assert.equal(t.settled, 1);
        assert.equal(t.value, 144);
      }
      assertQuiet(pool);
    });

  it('a view\'s own constructor, buffer, byteOffset and length getters are ' +
     'never read', async () => {
    const x = pool.alloc(Float64Array, 8);
    x.fill(1);
    let reads = 0;
    for (const key of ['constructor', 'buffer', 'byteOffset', 'length']) {
      Object.defineProperty(x, key, {
        get() {
          reads++;
          pool.run('noop');
          return undefined;
        },
      });
    }
    assert.equal(await pool.run('sum', [x]), 8);
    assert.equal(reads, 0);
    assertQuiet(pool);
  });

  it('a getter that closes the pool while run() reads it: that task is ' +
     'refused, not run', async () => {
    const before = pool.stats().submitted;
    const args = [];
    Object.defineProperty(args, 0, {
      get() {
        pool.close();
        return 2e6; // a 2 s spin, which must not start
      },
    });
    await assertRunRejects(() => pool.run('spin', args), Error,
      'ERR_PENNY_CLOSED');
    assert.equal(pool.stats().submitted, before);
    await pool.close();
  });

  it('a getter on options.signal that runs, closes or aborts', async () => {
    const ac = new AbortController();
    let inner;
    const opts = {
      get signal() {
        inner = track(pool.run('fib', [15]));
        ac.abort(new Error('aborted in the getter'));
        return ac.signal;
      },
    };
    await assert.rejects(pool.run('fib', [10], opts), /aborted in the getter/);
    await inner.done;
    assert.equal(inner.value, 610);
    assertQuiet(pool);
  });

  it('abort listeners that call run and close: everything settles once',
    async () => {
      const ac = new AbortController();
      const tracked = [];
      ac.signal.addEventListener('abort', () => {
        tracked.push(track(pool.run('fib', [11])));
      });
      for (let i = 0; i < 20; i++) {
        tracked.push(track(pool.run('spin', [2000], { signal: ac.signal })));
      }
      ac.signal.addEventListener('abort', () => {
        tracked.push(track(pool.run('noop')));
        pool.close();
        tracked.push(track(pool.run('noop'))); // refused: closed
      });
      ac.abort();
      await Promise.all(tracked.map((t) => t.done));
      await pool.close();
      for (const t of tracked) assert.equal(t.settled, 1);
      assert.equal(tracked.at(-1).error.code, 'ERR_PENNY_CLOSED');
      assertQuiet(pool);
    });

  it('continuations that submit and close while a batch settles', async () => {
    const tracked = [];
    const first = [];
    for (let i = 0; i < 3000; i++) {
      first.push(pool.run('noop').then(() => {
        if (i % 100 === 0) tracked.push(track(pool.run('fib', [8])));
        if (i === 2500) pool.close();
      }));
    }
    await Promise.all(first);
    await Promise.all(tracked.map((t) => t.done));
    await pool.close();
    for (const t of tracked) {
      assert.equal(t.settled, 1);
      assert.ok(t.value === 21 || t.error.code === 'ERR_PENNY_CLOSED');
    }
    assertQuiet(pool);
  });

  it('a signal whose own constructor lies to EventTarget: refused before ' +
     'anything runs, and its later aborts still cancel', async () => {
    const ac = new AbortController();
    const signal = ac.signal;
    let lie = true;
    Object.defineProperty(signal, 'constructor', {
      get() { return lie ? Object : AbortSignal; },
    });
    const x = pool.alloc(Float64Array, 8);
    await assertRunRejects(() => pool.run('fill', [x, 7], { signal }),
      TypeError, ARG, /abort listener/);
    assert.ok(x.every((v) => v === 0), 'the refused task never ran');
    lie = false;
    const long = pool.run('spin', [2e6], { signal });
    setTimeout(() => ac.abort(new Error('stop')), 20);
    await assert.rejects(long, /stop/);
    assertQuiet(pool);
  });

  it('a signal aborted by user code while its listener is added: the ' +
     'call rejects with the reason and never runs', async () => {
    const ac = new AbortController();
    const signal = ac.signal;
    Object.defineProperty(signal, 'constructor', {
      get() {
        ac.abort(new Error('aborted inside run()'));
        return AbortSignal;
      },
    });
    const x = pool.alloc(Float64Array, 8);
    await assert.rejects(pool.run('fill', [x, 7], { signal }),
      /aborted inside run\(\)/);
    assert.ok(x.every((v) => v === 0));
    assertQuiet(pool);
  });

  it('a signal that throws when its listener is removed: the task still ' +
     'settles with its output, and its copy is freed', async () => {
    const ac = new AbortController();
    const signal = ac.signal;
    const task = pool.run('fill', [new Float64Array(4), 1], { signal });
    const plain = new Float64Array(100);
    const run = pool.run('fill', [plain, 7], { signal });
    // From now on EventTarget refuses the signal, also in
    // removeEventListener, which runs while the batch settles.
    Object.defineProperty(signal, 'constructor', { value: Object });
    await task;
    assert.equal(await run, undefined);
    assert.ok(plain.every((v) => v === 7), 'copied back');
    assert.equal(pool.stats().heapUsed, 0, 'the copies are freed');
    assertQuiet(pool);
  });

  it('valueOf and Symbol.species are never called', async () => {
    let calls = 0;
    const n = { valueOf() { calls++; return 5; } };
    await assertRunRejects(() => pool.run('fib', [n]), TypeError, ARG);
    class Sneaky extends Array {
      static get [Symbol.species]() {
        calls++;
        pool.run('noop');
        return Array;
      }
    }
    const x = new Float64Array(4).fill(2);
    const args = Sneaky.from([x]);
    assert.equal(await pool.run('sum', args), 8);
    assert.equal(calls, 0);
    assertQuiet(pool);
  });
});

describe('trust: lying objects never redirect a write', () => {
  let pool;
  let before;
  let after;
  beforeEach(() => {
    pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
    before = pool.alloc(Uint8Array, 4096).fill(0xa5);
  });
  afterEach(async () => {
    after?.fill(0);
    assert.ok(before.every((b) => b === 0xa5), 'the sentinel is untouched');
    await pool.close();
  });

  it('a plain object with an own buffer equal to the arena is refused',
    async () => {
      after = pool.alloc(Float64Array, 64);
      const fake = { buffer: pool.arena, byteOffset: 0, length: 512,
        BYTES_PER_ELEMENT: 8 };
      await assertRunRejects(() => pool.run('fill', [fake, 1]), TypeError,
        ARG);
      const arr = [1, 2, 3];
      arr.buffer = pool.arena;
      await assertRunRejects(() => pool.run('fill', [arr, 1]), TypeError, ARG);
      after = null;
    });

  it('a Uint8Array with an own constructor of Float64Array fills 64 bytes',
    async () => {
      const x = pool.alloc(Uint8Array, 64);
      after = pool.alloc(Uint8Array, 512).fill(0x5a);
      Object.defineProperty(x, 'constructor', { value: Float64Array });
      Object.defineProperty(x, 'length', { value: 512 });
      Object.defineProperty(x, 'byteOffset', { value: 0 });
      await pool.run('fill', [x, 7]);
      assert.ok(x.every((v) => v === 7));
      assert.ok(after.every((v) => v === 0x5a), 'the next allocation');
      after = null;
    });

  it('a Buffer and other subclasses are typed arrays of their base type',
    async () => {
      assert.equal(await pool.run('sum', [Buffer.from([1, 2, 3])]), 6);
      class Mine extends Float64Array {}
      assert.equal(await pool.run('sum', [Mine.of(1.5, 2.5)]), 4);
      const shared = Buffer.from(pool.arena, before.byteOffset, 16);
      await pool.run('fill', [shared, 0xa5]); // zero-copy, same contents
      const out = new Mine(3);
      await pool.run('fill', [out, 9]); // copied back into the subclass
      assert.deepEqual([...out], [9, 9, 9]);
    });

  it('a DataView and a Uint8ClampedArray are refused', async () => {
    await assertRunRejects(() => pool.run('fill',
      [new DataView(pool.arena, 0, 64), 1]), TypeError, ARG);
    await assertRunRejects(() => pool.run('fill',
      [new Uint8ClampedArray(pool.arena, 0, 64), 1]), TypeError, ARG);
  });
});

describe('trust: alloc, free and buffers that change', () => {
  let pool;
  beforeEach(() => {
    pool = new penny.Pool({ threads: 2, arenaBytes: 4 * MiB });
  });
  afterEach(() => pool.close());

  it('free() of a subarray or a DataView is refused and frees nothing',
    () => {
      const x = pool.alloc(Float64Array, 64).fill(3);
      const used = pool.stats().heapUsed;
      assertThrowsPenny(() => pool.free(x.subarray(0, 1)), TypeError, ARG);
      assertThrowsPenny(() => pool.free(new DataView(x.buffer, x.byteOffset,
        8)), TypeError, ARG);
      assertThrowsPenny(() => pool.free(new Float64Array(pool.arena,
        x.byteOffset, 64)), TypeError, ARG);
      assert.equal(pool.stats().heapUsed, used, 'the block is still in use');
      const y = pool.alloc(Float64Array, 64);
      assert.ok(y.byteOffset >= x.byteOffset + x.byteLength ||
        y.byteOffset + y.byteLength <= x.byteOffset, 'no overlap');
      pool.free(x);
      assertThrowsPenny(() => pool.free(x), TypeError, ARG, /freed/);
    });

  it('an empty out array whose buffer is transferred mid-task: resolves, ' +
     'and frees its copy', async () => {
    const blocker = pool.run('spin', [20000]);
    const other = pool.run('spin', [20000]);
    const tasks = [];
    for (let i = 0; i < 20; i++) {
      const buf = new ArrayBuffer(64);
      tasks.push(pool.run('fill', [new Float64Array(buf, 0, 0), 1]));
      structuredClone(buf, { transfer: [buf] });
    }
    assert.deepEqual(await Promise.all(tasks), new Array(20).fill(undefined));
    await Promise.all([blocker, other]);
    assert.equal(pool.stats().heapUsed, 0);
  });

  it('a resizable buffer resized while its task runs rejects instead of ' +
     'resolving without its output', async () => {
    const blocker = pool.run('spin', [20000]);
    const other = pool.run('spin', [20000]);
    const ab = new ArrayBuffer(64, { maxByteLength: 256 });
    const y = new Float64Array(ab); // tracks the buffer's length
    const task = pool.run('fill', [y, 4]);
    ab.resize(128);
    await assertRunRejects(() => task, RangeError, RANGE, /resized/);
    assert.ok(y.every((v) => v === 0), 'nothing copied back');
    await Promise.all([blocker, other]);
    // Unchanged in length: copied back as usual.
    const z = new Float64Array(new ArrayBuffer(32, { maxByteLength: 64 }));
    await pool.run('fill', [z, 5]);
    assert.deepEqual([...z], [5, 5, 5, 5]);
  });
});
