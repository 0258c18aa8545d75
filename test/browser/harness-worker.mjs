// The module Worker for harness.test.mjs: it is handed a SharedArrayBuffer,
// wakes the page (which waits with Atomics.waitAsync) through Atomics.notify,
// then blocks in Atomics.wait, which a worker may do and a page may not.
//
// Int32 slots: 0 the worker's flag, 1 its value, 2 the page's flag, 3 the
// page's value.
self.onmessage = ({ data: { buffer } }) => {
  const i32 = new Int32Array(buffer);
  Atomics.store(i32, 1, 42);
  Atomics.store(i32, 0, 1);
  const woken = Atomics.notify(i32, 0);
  // 'not-equal' is as good as 'ok': the page may have answered already.
  const waited = Atomics.wait(i32, 2, 0, 10000);
  self.postMessage({ woken, waited, value: Atomics.load(i32, 3), isolated: self.crossOriginIsolated });
};
