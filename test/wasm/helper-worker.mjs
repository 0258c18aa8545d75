// A helper Worker for the wasm tests under Node: instantiates the module
// on the shared memory and runs the threads C hands it (lib/wasm/host.mjs).
// C's stderr goes straight to fd 2: console.error from a Worker travels
// through the main thread, which may be blocked in C waiting for us.
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { imports, helperLoop } from '../../lib/wasm/host.mjs';

const { module, memory, control, index, stackTop } = workerData;
const instance = new WebAssembly.Instance(module, imports(memory, control,
  { log: (s) => fs.writeSync(2, s) }));
parentPort.postMessage('ready');
try {
  helperLoop(instance, memory, control, index, stackTop);
} catch (e) { fs.writeSync(2, `helper ${index}: ${e.stack}\n`); throw e; }
