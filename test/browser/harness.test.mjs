// The browser harness's own test: the page is cross-origin isolated and has
// what Penny's browser build stands on (SharedArrayBuffer, Atomics.waitAsync,
// module Workers that share memory, shared WebAssembly memory).
import { describe, it, assert } from './runner.mjs';

describe('harness', () => {
  it('runs in a cross-origin isolated page', () => {
    assert.equal(globalThis.crossOriginIsolated, true);
  });

  it('has SharedArrayBuffer and Atomics.waitAsync', () => {
    assert.equal(typeof SharedArrayBuffer, 'function');
    assert.equal(typeof Atomics.waitAsync, 'function');
  });

  it('refuses a blocking Atomics.wait on the page itself', () => {
    assert.throws(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 0), TypeError);
  });

  it('shares memory with a module Worker, both ways', async () => {
    const worker = new Worker(new URL('./harness-worker.mjs', import.meta.url), { type: 'module' });
    try {
      const i32 = new Int32Array(new SharedArrayBuffer(16));
      const reply = new Promise((resolve, reject) => {
        worker.onmessage = ({ data }) => resolve(data);
        worker.onerror = (e) => reject(new Error(`worker: ${e.message}`));
      });
      // Wait before the worker starts, so that only its notify can wake us.
      const wait = Atomics.waitAsync(i32, 0, 0, 10000);
      assert.equal(wait.async, true);
      worker.postMessage({ buffer: i32.buffer });
      assert.equal(await wait.value, 'ok');
      assert.equal(Atomics.load(i32, 1), 42);

      Atomics.store(i32, 3, 7);
      Atomics.store(i32, 2, 1);
      Atomics.notify(i32, 2);
      const { woken, waited, value, isolated } = await reply;
      assert.equal(woken, 1);
      assert.ok(waited === 'ok' || waited === 'not-equal', `worker's wait: ${waited}`);
      assert.equal(value, 7);
      assert.equal(isolated, true);
    } finally {
      worker.terminate();
    }
  });

  it('makes shared WebAssembly memory a SharedArrayBuffer', () => {
    const memory = new WebAssembly.Memory({ shared: true, initial: 1, maximum: 2 });
    assert.ok(memory.buffer instanceof SharedArrayBuffer);
    assert.equal(memory.grow(1), 1);
    assert.equal(memory.buffer.byteLength, 2 * 65536);
  });
});
