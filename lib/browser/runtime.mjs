// The page's side of the browser build, once per page: the compiled
// module (dist/penny.wasm, which `make wasm` builds), one shared WebAssembly.Memory that every
// pool's C structures and every alloc()'d array live in, and the
// controlling instance on this thread, through which pools are created
// and calls submitted. This thread never waits inside C: the instance is
// marked as one that may not block (src/core/platform_wasm.c), and
// lib/browser/index.mjs calls nothing that would wait for long.
//
// It loads when penny/browser is imported. Without cross-origin isolation
// there is no shared memory; the import still succeeds, and new Pool()
// says what the page needs.

import { imports } from '../wasm/host.mjs';
import { makeCodec, memoryBuffers } from './codec.mjs';

const WASM_URL = new URL('../../dist/penny.wasm', import.meta.url);
const WORKER_URL = new URL('./worker.mjs', import.meta.url);

// 64 KiB pages: 16 MiB to start, grown by malloc up to 2 GiB.
const INITIAL_PAGES = 256;
const MAX_PAGES = 32768;

// The stack a thread's instance uses outside the C thread it runs.
export const HELPER_STACK = 64 * 1024;

// Node's worker_threads, where there is no Web Worker (Node itself; Deno
// and Bun have Web Workers). Named through a variable so that bundlers
// for browsers leave it alone.
const NODE_WORKERS = 'node:worker_threads';
const nodeWorkers = typeof globalThis.Worker === 'function' ? null
  : await import(NODE_WORKERS);

async function loadModule() {
  if (WASM_URL.protocol === 'file:') {
    const fs = await import('node:fs/promises');
    return WebAssembly.compile(await fs.readFile(WASM_URL));
  }
  const res = await fetch(WASM_URL);
  if (!res.ok) {
    throw new Error(`fetching ${WASM_URL} failed: ${res.status} ${
      res.statusText}`);
  }
  const type = res.headers.get('Content-Type') ?? '';
  return typeof WebAssembly.compileStreaming === 'function' &&
    type.startsWith('application/wasm')
    ? WebAssembly.compileStreaming(res)
    : WebAssembly.compile(await res.arrayBuffer());
}

async function createRuntime() {
  const module = await loadModule();
  const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES,
    maximum: MAX_PAGES, shared: true });
  let spawner = null;
  const instance = await WebAssembly.instantiate(module, imports(memory,
    null, { spawn: (rec) => (spawner === null ? -1 : spawner(rec)) }));
  const ex = instance.exports;
  if (ex.penny_wasm_instance_init() === 0) {
    throw new Error('out of memory for the page\'s thread-local block');
  }
  ex.penny_wasm_set_can_block(0);
  const buffers = memoryBuffers(memory);
  const scratch = ex.malloc(64); // out-parameters, this thread only
  if (scratch === 0) throw new Error('out of memory');
  return {
    module,
    memory,
    ex,
    buffers,
    scratch,
    codec: makeCodec(memory, buffers, ex.malloc),
    // Runs body() with C's new threads started by spawn(rec).
    withSpawner(spawn, body) {
      spawner = spawn;
      try {
        return body();
      } finally {
        spawner = null;
      }
    },
    // A C string in the memory.
    string(at) {
      const u8 = new Uint8Array(buffers.current());
      let end = at;
      while (u8[end] !== 0) end++;
      return new TextDecoder().decode(u8.slice(at, end));
    },
  };
}

// Whether this page may share memory with its Workers.
export const isolated = globalThis.crossOriginIsolated !== false &&
  typeof SharedArrayBuffer === 'function';

let runtime = null;
let loadError = null;
if (isolated) {
  try {
    runtime = await createRuntime();
  } catch (err) {
    loadError = err;
  }
}

// The runtime; throws, saying why, when there is none.
export function getRuntime() {
  if (!isolated) {
    const err = new Error('penny/browser needs a cross-origin isolated page ' +
      '(crossOriginIsolated is false), for SharedArrayBuffer: serve the ' +
      'page with the headers Cross-Origin-Opener-Policy: same-origin and ' +
      'Cross-Origin-Embedder-Policy: require-corp');
    err.code = 'ERR_PENNY_ISOLATION';
    throw err;
  }
  if (runtime === null) {
    const err = new Error(`penny/browser could not load ${WASM_URL}: ${
      loadError?.message ?? loadError}`, { cause: loadError });
    err.code = 'ERR_PENNY_LOAD';
    throw err;
  }
  return runtime;
}

// Starts a thread's Worker with `data` (see worker.mjs); `on(msg)` gets
// its messages, and `onError(err)` a failure to start or an uncaught
// error. Returns a function that terminates it.
export function startWorker(data, on, onError) {
  if (nodeWorkers === null) {
    const w = new Worker(WORKER_URL, { type: 'module', name: 'penny' });
    w.addEventListener('message', (e) => on(e.data));
    w.addEventListener('error', (e) => {
      e.preventDefault?.();
      onError(new Error(e.message || 'a pool thread\'s Worker failed'));
    });
    w.postMessage(data);
    return () => w.terminate();
  }
  // Node's Workers inherit its flags, and --input-type (node -e with ES
  // modules) refuses a Worker's file.
  const execArgv = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const a = process.execArgv[i];
    if (a === '--input-type') i++; // and its value
    else if (!a.startsWith('--input-type=')) execArgv.push(a);
  }
  const w = new nodeWorkers.Worker(WORKER_URL, { execArgv });
  w.on('message', on);
  w.on('error', onError);
  w.postMessage(data);
  return () => w.terminate();
}
