// What penny/browser checks before a call reaches C: the options of a new
// Pool, a run's signal, and the kernel table (pool.kernels) that run()
// looks names up in. The arguments themselves are checked in C, by the
// same code as in the Node addon (src/addon/checks.c).

import { argError, rangeError, describe } from './errors.mjs';

const MAX_THREADS = 256;
const OPTIONS = new Set(['threads', 'tasks', 'arenaBytes']);

// The element type codes of include/penny.h, by class. Uint8ClampedArray
// is 0: no kernel takes it, and C says so.
export const TYPE_CODES = new Map([
  [Int8Array, 1], [Uint8Array, 2], [Int16Array, 3], [Uint16Array, 4],
  [Int32Array, 5], [Uint32Array, 6], [BigInt64Array, 7],
  [BigUint64Array, 8], [Float32Array, 9], [Float64Array, 10],
]);
const CODE_BY_NAME = new Map([...TYPE_CODES].map(([C, c]) => [C.name, c]));
CODE_BY_NAME.set('Uint8ClampedArray', 0);

// The element type code of a typed array's class name (views.mjs).
export const typeCode = (name) => CODE_BY_NAME.get(name);

// { threads, tasks (an absolute URL string, or null) }.
export function readOptions(options) {
  if (options === null || typeof options !== 'object') {
    throw argError(`options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTIONS.has(key)) {
      throw argError(`unknown option '${key}' (known: ${
        [...OPTIONS].join(', ')})`);
    }
  }
  const threads = options.threads ?? Math.min(MAX_THREADS,
    Math.max(1, globalThis.navigator?.hardwareConcurrency ?? 1));
  if (typeof threads !== 'number') {
    throw argError(`threads must be a number, got ${describe(threads)}`);
  }
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw rangeError(`threads must be an integer from 1 to ${MAX_THREADS}, ` +
      `got ${threads}`);
  }
  // Accepted for code shared with Node; the memory grows as it needs to.
  const { arenaBytes } = options;
  if (arenaBytes !== undefined && (typeof arenaBytes !== 'number' ||
      !Number.isSafeInteger(arenaBytes) || arenaBytes < 0)) {
    throw rangeError(`arenaBytes must be a non-negative integer, got ${
      describe(arenaBytes)}`);
  }
  let tasks = null;
  if (options.tasks !== undefined) {
    const t = options.tasks;
    if (!(t instanceof URL) && typeof t !== 'string') {
      throw argError('tasks must be a URL (new URL(\'./tasks.js\', ' +
        `import.meta.url)) or a URL string, got ${describe(t)}`);
    }
    try {
      tasks = new URL(t, globalThis.location?.href).href;
    } catch {
      throw argError(`tasks: '${t}' is not a URL; give an absolute one, ` +
        'such as new URL(\'./tasks.js\', import.meta.url)');
    }
  }
  return { threads, tasks };
}

const ABORTED = Object.getOwnPropertyDescriptor(AbortSignal.prototype,
  'aborted').get;

export function readSignal(options) {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object') {
    throw argError(`run: options must be an object, got ${describe(options)}`);
  }
  const { signal } = options;
  if (signal === undefined) return undefined;
  try {
    // A brand check: instanceof can be fooled (Object.create, Proxies).
    ABORTED.call(signal);
  } catch {
    throw argError(`run: signal must be an AbortSignal, got ${
      describe(signal)}`);
  }
  return signal;
}

// "name(in f64[] x, f64 a) -> f64" as pool.kernels describes it.
function describeKernel(index, signature) {
  const m = /^(\w+)\((.*)\)\s*->\s*(\w+)$/.exec(signature);
  const params = m[2].trim() === '' ? [] : m[2].split(',').map((p) => {
    const words = p.trim().split(/\s+/);
    if (words.length === 3) {
      return Object.freeze({ name: words[2], type: words[1].slice(0, -2),
        array: true, dir: words[0] });
    }
    return Object.freeze({ name: words[1], type: words[0], array: false });
  });
  return Object.freeze({ index, name: m[1], signature,
    params: Object.freeze(params), result: m[3] });
}

const tables = new WeakMap(); // runtime -> table

// The built-in kernels of the runtime's module, read once.
export function kernelTable(rt) {
  let t = tables.get(rt);
  if (t !== undefined) return t;
  const list = [];
  for (let i = 0; i < rt.ex.pw_kernel_count(); i++) {
    list.push(describeKernel(i, rt.string(rt.ex.pw_kernel_signature(i))));
  }
  const byName = new Map(list.map((k) => [k.name, k.index]));
  t = {
    list,
    kernels: Object.freeze(Object.fromEntries(list.map((k) => [k.name, k]))),
    indexOf(kernel) {
      if (typeof kernel === 'string') {
        const index = byName.get(kernel);
        if (index === undefined) throw rangeError(`unknown kernel '${kernel}'`);
        return index;
      }
      if (typeof kernel === 'number') {
        if (!Number.isInteger(kernel) || kernel < 0 || kernel >= list.length) {
          throw rangeError(`unknown kernel index ${kernel}`);
        }
        return kernel;
      }
      throw argError(`kernel must be a name or an index, got ${
        describe(kernel)}`);
    },
  };
  tables.set(rt, t);
  return t;
}
