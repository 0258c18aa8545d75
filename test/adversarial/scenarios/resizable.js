'use strict';

// resizable: out and inout arguments whose memory changes shape while the
// task waits in the queue or runs: views over resizable ArrayBuffers
// (`new ArrayBuffer(n, { maxByteLength })`), length-tracking and
// fixed-length, at offset 0 and further in, shrunk, grown, shrunk and grown
// back; buffers detached by a transfer (structuredClone(buf, { transfer:
// [buf] })) while the task is queued, or racing its completion; a growable
// SharedArrayBuffer grown under a running fill; `in` and `inout` kernels
// (sum, scan) and a four-argument kernel (histogram) on such views.
//
// Why: DESIGN.md §4: views over an ordinary ArrayBuffer are copied in
// before the task starts and, for out and inout parameters, copied back
// before the promise resolves; a transferred or detached buffer can never
// be written by a worker. A task must not resolve as if its data had been
// copied back when it could not be.
//
// Checks: every call settles; a call that resolves wrote its data (the
// elements still in bounds hold the fill value, or the prefix sums), one
// whose array went out of bounds or was detached before it finished
// rejects with a Penny error code instead, and one that raced a transfer
// and resolved left its data in the buffer's new owner; the new owner of a
// transferred buffer is never written after the transfer; no byte beyond a
// shrunk length is written (grown back, those bytes read 0, as the
// language requires); the pool answers a fresh sum after every case.

const {
  MiB, main, penny, within, isPennyError, show, sleep, checkPoolWorks,
  checkClose,
} = require('../lib');

const TYPES = [Float64Array, Int32Array, Uint8Array];
const V = 7; // the fill value
const PATTERN = 3; // what the arrays hold before the task

// Keeps every worker busy for `ms`, so that the next task waits in the
// queue; returns the spins' promises.
async function occupy(pool, ms) {
  const spins = [];
  for (let i = 0; i < pool.threads; i++) {
    spins.push(pool.run('spin', [ms * 1e3]));
  }
  await sleep(3);
  return spins;
}

// Moves t.ab to a new owner, t.moved (t.ab is detached).
function transfer(t) {
  t.moved = new t.Type(structuredClone(t.ab, { transfer: [t.ab] }));
}

const allEqual = (view, value, from = 0, to = view.length) => {
  for (let i = from; i < to; i++) if (view[i] !== value) return i;
  return -1;
};

// Every mode builds its arguments (make), changes their memory while the
// task waits or runs (change), and judges a resolved outcome (resolved:
// null or what is wrong); tail, for a shrunk resizable buffer t.ab, is the
// byte length it was shrunk to. `t` is the case: Type, n (elements), k (a
// smaller count), size (bytes per element), delay (ms, for a race).
const MODES = {
  'length-tracking, shrunk': {
    make(t) {
      t.ab = new ArrayBuffer(t.n * t.size, { maxByteLength: 4 * t.n * t.size });
      t.x = new t.Type(t.ab).fill(PATTERN);
      return ['fill', [t.x, V]];
    },
    change(t) { t.ab.resize(t.k * t.size); },
    resolved(t) {
      const at = allEqual(t.x, V);
      return at < 0 ? null : `resolved, but element ${at} of the ${t.k} ` +
        `still in bounds holds ${t.x[at]}: the data was not copied back`;
    },
    tail: (t) => t.k * t.size,
  },
  'length-tracking, grown': {
    make(t) {
      t.ab = new ArrayBuffer(t.n * t.size, { maxByteLength: 4 * t.n * t.size });
      t.x = new t.Type(t.ab).fill(PATTERN);
      return ['fill', [t.x, V]];
    },
    change(t) { t.ab.resize(2 * t.n * t.size); },
    resolved(t) {
      const at = allEqual(t.x, V, 0, t.n);
      return at < 0 ? null : `resolved, but element ${at} of the ${t.n} ` +
        `it covered holds ${t.x[at]}: the data was not copied back`;
    },
  },
  'fixed-length, shrunk out of bounds': {
    make(t) {
      t.ab = new ArrayBuffer(t.n * t.size, { maxByteLength: 4 * t.n * t.size });
      t.x = new t.Type(t.ab, 0, t.n).fill(PATTERN);
      return ['fill', [t.x, V]];
    },
    change(t) { t.ab.resize(t.k * t.size); },
    resolved: () => 'resolved although its array was out of bounds when it ' +
      'finished: the data could not have been copied back',
    tail: (t) => t.k * t.size,
  },
  'fixed-length at an offset, shrunk out of bounds': {
    make(t) {
      t.ab = new ArrayBuffer((t.n + 8) * t.size,
        { maxByteLength: 4 * t.n * t.size + 64 });
      t.x = new t.Type(t.ab, 8 * t.size, t.n).fill(PATTERN);
      return ['fill', [t.x, V]];
    },
    change(t) { t.ab.resize((8 + t.k) * t.size); },
    resolved: () => 'resolved although its array was out of bounds when it ' +
      'finished: the data could not have been copied back',
    tail: (t) => (8 + t.k) * t.size,
  },
  'fixed-length, shrunk and grown back': {
    make(t) {
      t.ab = new ArrayBuffer(t.n * t.size, { maxByteLength: 4 * t.n * t.size });
      t.x = new t.Type(t.ab, 0, t.n).fill(PATTERN);
      return ['fill', [t.x, V]];
    },
    change(t) {
      t.ab.resize(t.k * t.size);
      t.ab.resize(t.n * t.size);
    },
    resolved(t) {
      const at = allEqual(t.x, V);
      return at < 0 ? null : `resolved, but element ${at} holds ${t.x[at]}`;
    },
  },
  'inout scan, length-tracking, shrunk': {
    make(t) {
      t.ab = new ArrayBuffer(t.n * t.size, { maxByteLength: 4 * t.n * t.size });
      t.x = new t.Type(t.ab).fill(1);
      return ['scan', [t.x]];
    },
    change(t) { t.ab.resize(t.k * t.size); },
    resolved(t) {
      const want = new t.Type(t.k).fill(1);
      for (let i = 1; i < t.k; i++) want[i] += want[i - 1];
      for (let i = 0; i < t.k; i++) {
        if (t.x[i] !== want[i]) {
          return `resolved, but element ${i} is ${t.x[i]}, not the prefix ` +
            `sum ${want[i]}: the data was not copied back`;
        }
      }
      return null;
    },
    tail: (t) => t.k * t.size,
  },
  'in sum, length-tracking, shrunk': {
    make(t) {
      t.ab = new ArrayBuffer(t.n * t.size, { maxByteLength: 4 * t.n * t.size });
      t.x = new t.Type(t.ab).fill(1);
      return ['sum', [t.x]];
    },
    change(t) { t.ab.resize(t.k * t.size); },
    resolved: (t, value) => (value === t.n || value === t.k ? null
      : `resolved with ${show(value)}, neither ${t.n} nor ${t.k}`),
    tail: (t) => t.k * t.size,
  },
  'histogram counts, length-tracking, shrunk': {
    make(t) {
      t.ab = new ArrayBuffer(64 * 4, { maxByteLength: 1024 });
      t.x = new Uint32Array(t.ab).fill(PATTERN);
      const data = new Float64Array(t.n);
      for (let i = 0; i < t.n; i++) data[i] = i % 64;
      t.counts = 64;
      return ['histogram', [data, t.x, 0, 64]];
    },
    change(t) { t.ab.resize(t.k % 64 * 4); },
    resolved(t) {
      // Each bin's count, over the bins still in bounds.
      for (let i = 0; i < t.x.length; i++) {
        const want = Math.floor(t.n / 64) + (i < t.n % 64 ? 1 : 0);
        if (t.x[i] !== want) {
          return `resolved, but bin ${i} holds ${t.x[i]}, not ${want}`;
        }
      }
      return null;
    },
    tail: (t) => (t.k % 64) * 4,
  },
  'detached by a transfer while queued': {
    make(t) {
      t.ab = new ArrayBuffer(t.n * t.size);
      t.x = new t.Type(t.ab).fill(PATTERN);
      return ['fill', [t.x, V]];
    },
    change: transfer,
    resolved: () => 'resolved although its buffer was detached: the data ' +
      'could not have been copied back',
  },
  'resizable, detached by a transfer while queued': {
    make(t) {
      t.ab = new ArrayBuffer(t.n * t.size, { maxByteLength: 2 * t.n * t.size });
      t.x = new t.Type(t.ab).fill(PATTERN);
      return ['fill', [t.x, V]];
    },
    change: transfer,
    resolved: () => 'resolved although its buffer was detached: the data ' +
      'could not have been copied back',
  },
  'transfer racing completion': {
    race: true,
    make(t) {
      t.ab = new ArrayBuffer(t.n * t.size);
      t.x = new t.Type(t.ab).fill(PATTERN);
      return ['fill', [t.x, V]];
    },
    change: transfer,
    // Resolved before the transfer: the new owner has the data.
    resolved: (t) => (t.moved === undefined || allEqual(t.moved, V) < 0 ? null
      : 'resolved, but the transferred buffer lacks the data'),
  },
  'growable SharedArrayBuffer, grown': {
    make(t) {
      t.sab = new SharedArrayBuffer(t.n * t.size,
        { maxByteLength: 4 * t.n * t.size });
      t.x = new t.Type(t.sab).fill(PATTERN);
      return ['fill', [t.x, V]];
    },
    change(t) { t.sab.grow(2 * t.n * t.size); },
    resolved(t) {
      const at = allEqual(t.x, V, 0, t.n);
      return at < 0 ? null : `resolved, but element ${at} holds ${t.x[at]}`;
    },
  },
};

async function runCase(s, pool, name, mode, t) {
  const what = `${name} (${t.Type.name}, n ${t.n}, k ${t.k}, ${
    mode.race ? `after ${t.delay} ms` : 'while queued'})`;
  s.phase = what;
  const spins = await occupy(pool, 60);
  const [kernel, args] = mode.make(t);
  let promise;
  try {
    promise = pool.run(kernel, args);
  } catch (err) {
    s.fail(`${what}: run() threw ${show(err)} synchronously`);
    return;
  }
  if (mode.race) await sleep(t.delay);
  mode.change(t);
  const r = await within(promise, 5000);
  await within(Promise.allSettled(spins), 5000);
  if (!s.check(r.status !== 'timeout', `${what}: never settled`)) return;
  if (r.status === 'resolved') {
    const why = mode.resolved(t, r.value);
    s.check(!why, () => `${what}: ${why}`);
  } else {
    s.check(isPennyError(r.value), () => `${what}: rejected with ${
      show(r.value)}, not a Penny error`);
  }
  // The new owner of a transferred buffer is not written after the
  // transfer (unless the task resolved before it, with its data).
  if (t.moved !== undefined) {
    const untouched = allEqual(t.moved, PATTERN) < 0;
    const complete = allEqual(t.moved, V) < 0;
    s.check(untouched || (r.status === 'resolved' && complete), () =>
      `${what}: the transferred buffer was written (${r.status})`);
  }
  // Nothing beyond the shrunk length was written: grown back, it reads 0.
  if (mode.tail !== undefined) {
    const from = mode.tail(t);
    t.ab.resize(t.ab.maxByteLength);
    const bytes = new Uint8Array(t.ab);
    const at = allEqual(bytes, 0, Math.max(0, from));
    s.check(at < 0, () => `${what}: byte ${at}, beyond the shrunk length ` +
      `${from}, is ${bytes[at]}: written out of bounds`);
  }
  await checkPoolWorks(s, pool, what);
}

async function body(s) {
  const pool = new (penny().Pool)({ threads: 2, arenaBytes: 8 * MiB });
  const reps = s.scaled(4, 1);
  const cases = [];
  for (const [name, mode] of Object.entries(MODES)) {
    for (let r = 0; r < reps; r++) cases.push([name, mode]);
  }
  for (const [name, mode] of s.shuffle(cases)) {
    if (s.overBudget()) break;
    const Type = s.pick(TYPES);
    const n = s.int(1, 100000);
    await runCase(s, pool, name, mode, {
      Type, n, k: s.int(0, n), size: Type.BYTES_PER_ELEMENT,
      delay: s.int(40, 90),
    });
  }
  s.phase = 'close';
  await checkClose(s, pool.close(), 'the end');
}

main(body);
