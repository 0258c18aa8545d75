// One thread of a browser pool: a module Web Worker (or, for the tests, a
// Node worker_thread) that instantiates the module on the pool's shared
// memory and runs one C worker thread on it (lib/wasm/host.mjs). A pool
// with a task module imports it here first, and tells the page the names
// of its functions.
//
// The first message carries { module, memory, rec, stackTop, tasks }; the
// Worker answers { type: 'started', names, error }, runs the thread until
// the pool is destroyed, then closes.

import { imports, initInstance, runThread } from '../wasm/host.mjs';
import { makeCodec, memoryBuffers } from './codec.mjs';
import { install } from './task.mjs';

// Node's worker_threads have no global postMessage; Web Workers (and
// Deno's and Bun's) do.
const port = typeof globalThis.postMessage === 'function' ? null
  : (await import('node:worker_threads')).parentPort;
const post = (msg) => (port ?? globalThis).postMessage(msg);

function receiveOnce() {
  return new Promise((resolve) => {
    if (port !== null) {
      port.once('message', resolve);
    } else {
      globalThis.addEventListener('message', (e) => resolve(e.data),
        { once: true });
    }
  });
}

function describeError(err) {
  return { name: String(err?.name ?? 'Error'),
    message: String(err?.message ?? err), stack: String(err?.stack ?? '') };
}

const { module, memory, rec, stackTop, tasks } = await receiveOnce();

let fns = [];
let names = [];
let loadError = null;
if (tasks !== null) {
  try {
    const ns = await import(tasks);
    names = Object.keys(ns).filter((k) => typeof ns[k] === 'function').sort();
    fns = names.map((k) => ns[k]);
  } catch (err) {
    loadError = err;
  }
}
const runner = install(fns, loadError);
const instance = await WebAssembly.instantiate(module, imports(memory, null, {
  spawn: () => -1, // threads are started by the page, not by a Worker
  task: runner.run,
}));
const ex = instance.exports;
initInstance(instance, stackTop);
runner.attach(ex, makeCodec(memory, memoryBuffers(memory), ex.malloc));

post({ type: 'started', names,
  error: loadError === null ? null : describeError(loadError) });
try {
  runThread(instance, memory, rec, stackTop);
} finally {
  post({ type: 'exited' });
  if (port === null) globalThis.close();
  else port.close();
}
