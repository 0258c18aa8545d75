'use strict';

// Penny's C core compiled to wasm32 with shared memory (the browser
// build's core), run under Node: the controlling instance on this thread,
// helper Workers for the C threads (lib/wasm/host.mjs). Counts every
// result: fib with a join at every level against the serial value,
// penny_for visiting every index exactly once, many root jobs each
// running once, on 1 to 6 threads (more than this machine's cores), with
// the controlling instance first spinning (as a browser's main thread
// must), then blocking in wait32.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { execFileSync } = require('node:child_process');
const { missingTools } = require('./toolchain');

const ROOT = path.join(__dirname, '..', '..');
const WASM = path.join(ROOT, 'build', 'wasm', 'core-test.wasm');
const HELPERS = 8;
const HELPER_STACK = 64 * 1024;

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

describe('the C core on wasm32 with shared memory', function () {
  this.timeout(120000);
  let host;
  let ex;
  let memory;
  let control;
  const helpers = [];

  before(async function () {
    const missing = missingTools();
    if (missing.length > 0) {
      console.log(`      skipped: ${missing.join(' and ')} not found`);
      this.skip();
      return;
    }
    execFileSync('make', ['-s', 'build/wasm/core-test.wasm'], { cwd: ROOT,
      stdio: 'inherit' });
    host = await import('../../lib/wasm/host.mjs');
    const module = new WebAssembly.Module(fs.readFileSync(WASM));
    memory = new WebAssembly.Memory({ initial: 64, maximum: 16384,
      shared: true });
    control = new Int32Array(new SharedArrayBuffer(4 * HELPERS));
    const instance = new WebAssembly.Instance(module,
      host.imports(memory, control, { cpus: 2 }));
    ex = instance.exports;
    assert.notEqual(ex.penny_wasm_instance_init(), 0);
    await Promise.all(Array.from({ length: HELPERS }, (_, index) => {
      const stack = ex.malloc(HELPER_STACK);
      assert.notEqual(stack, 0);
      const w = new Worker(path.join(__dirname, 'helper-worker.mjs'), {
        workerData: { module, memory, control, index,
          stackTop: stack + HELPER_STACK },
      });
      helpers.push(w);
      return new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
    }));
  });

  after(async () => {
    for (let i = 0; i < helpers.length; i++) {
      Atomics.store(control, i, host.STOP);
      Atomics.notify(control, i);
    }
    await Promise.all(helpers.map((w) => new Promise((resolve) => {
      w.once('exit', resolve);
    })));
  });

  // A scratch double in the module's memory for out-parameters.
  function withOut(fn) {
    const p = ex.malloc(8);
    try {
      const r = fn(p);
      return [r, new Float64Array(memory.buffer, p, 1)[0]];
    } finally {
      ex.free(p);
    }
  }

  it('a value held across a wait survives it (Node 20 Liftoff lost it)', () => {
    const word = ex.malloc(4);
    try {
      // The wait does not sleep: 1 is "not equal".
      assert.equal(ex.wasm_wait_keeps(word, 5, 3), 381);
      assert.equal(ex.wasm_wait_keeps(word, -4, 1000), (-28 + 1000) * 10 + 1);
    } finally {
      ex.free(word);
    }
  });

  for (const block of [0, 1]) {
    describe(block ? 'the controller blocking in wait32' :
      'the controller spinning, as a browser main thread', () => {
      before(() => ex.penny_wasm_set_can_block(block));

      it('fib with a join at every level matches serial fib on 1 to 6 threads', () => {
        for (let t = 1; t <= 6; t++) {
          const [r, steals] = withOut((p) => ex.wasm_fib(t, 22, p));
          assert.equal(r, fib(22), `${t} threads`);
          if (t === 1) assert.equal(steals, 0);
        }
      });

      it('penny_for visits every index exactly once, round after round', () => {
        for (const t of [1, 2, 3, 6]) {
          assert.equal(ex.wasm_cover(t, 100003, 20), 0, `${t} threads`);
        }
      });

      it('10^4 root jobs at once each run exactly once', () => {
        for (const t of [1, 2, 5]) {
          assert.equal(ex.wasm_many(t, 10000), 10000, `${t} threads`);
        }
      });
    });
  }

  describe('afterwards', () => {
    it('every helper is idle again once the pools are destroyed', () => {
      for (let i = 0; i < HELPERS; i++) assert.equal(Atomics.load(control, i), 0);
    });

    it('a pool that asks for more threads than there are helpers fails cleanly', () => {
      const [r] = withOut((p) => ex.wasm_fib(HELPERS + 1, 10, p));
      assert.equal(r, -1);
      assert.equal(withOut((p) => ex.wasm_fib(2, 10, p))[0], 55,
        'the helpers still work');
    });
  });
});
