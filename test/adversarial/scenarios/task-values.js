'use strict';

// task-values: hostile values through a task pool (new Pool({ tasks })),
// both ways. Arguments: cyclic objects, Maps and Sets; functions, symbols,
// WeakMaps, Proxies and revoked Proxies, at the top and nested deep; bare
// SharedArrayBuffers (growable too); getters that throw, at the top of
// args and nested where only the serializer reaches them; views over
// SharedArrayBuffers at odd offsets (Uint8Array, DataView, BigInt64Array,
// an empty view at the very end), over the arena's inside, over a growable
// SharedArrayBuffer after it grew; views over detached ArrayBuffers, over
// resized ArrayBuffers (length-tracking, and out of bounds after a
// shrink); two views over one ArrayBuffer; an array whose element getter
// grows it when read again; Buffers from Node's shared slab; huge arrays
// and strings, 2000 arguments, holes, deep nesting (past what the engine
// can clone, too), BigInts, -0, NaN, class instances and typed-array
// subclasses. Results:
// the same kinds, from the task. Errors: throwing getters for message,
// stack, name, code and cause; Proxies thrown as errors (with throwing
// traps, plain, revoked); thrown functions, symbols, null and undefined;
// cyclic errors, AggregateErrors holding functions, 2 MiB messages,
// non-string stacks and names that throw when converted; thenables that
// throw; exports that are classes, generators or not functions.
//
// Why: README "Your own JavaScript": values are cloned as postMessage
// clones them, views over a SharedArrayBuffer are shared, what cannot be
// cloned rejects with ERR_PENNY_TASK, a thrown error arrives with its
// class, message and cloneable own properties. DESIGN.md §4: every
// promise settles exactly once, nothing may crash the process or hang.
//
// Checks, per case, once alone (within a bound, then the pool must still
// add 2 + 2) and twice more in a shuffled flood mixed with 600
// ordinary tasks: it settles exactly once with the outcome its case
// allows; writes a task made through a shared view land exactly on the
// view's bytes (guard bytes around them keep their pattern); every
// ordinary task resolves with its value; close() resolves. Thrown values
// in particular: `throw undefined` rejects with undefined and `throw null`
// with null; an error whose name or message cannot be read (a throwing
// toString or toPrimitive), or that is its own cause, rejects with an
// Error of what can be read; a thrown revoked Proxy rejects with
// ERR_PENNY_TASK "cannot be cloned" -- from a sync or an async task alike,
// and on a pool of one thread the thread that threw is still the one that
// runs the next task (no such value kills it).

const path = require('node:path');
const {
  main, penny, Tracker, within, isPennyError, show, checkClose,
} = require('../lib');

const TASKS = path.join(__dirname, '..', 'fixtures', 'tasks.js');
const MiB = 1 << 20;

class HookError extends Error {}

// ---- Judges: rec -> null (fine) or what is wrong. ----

const fine = () => null;
// A judge: the promise settled as `status` with a value pred() accepts
// (`what` names it in the failure).
const settledAs = (status, other) => (pred, what) => (rec) => {
  if (rec.status !== status) {
    return `${other} with ${show(rec.value)}, expected ${what}`;
  }
  let ok;
  try {
    ok = pred(rec.value);
  } catch {
    ok = false;
  }
  return ok ? null : `${status} with ${show(rec.value)}, expected ${what}`;
};
const resolved = settledAs('resolved', 'rejected');
const rejectedWith = settledAs('rejected', 'resolved');
const rejectedCode = (code) => (rec) => (rec.status === 'rejected' &&
  isPennyError(rec.value, [code]) ? null
  : `${rec.status} with ${show(rec.value)}, expected ${code}`);
const either = (...judges) => (rec) => {
  const whys = judges.map((j) => j(rec));
  return whys.includes(null) ? null : whys.join(' / ');
};
const uncloneable = rejectedCode('ERR_PENNY_TASK');
// A thrown value the pool cannot clone (a revoked Proxy).
const cannotBeCloned = rejectedWith((e) => isPennyError(e,
  ['ERR_PENNY_TASK']) && /cannot be cloned/.test(e.message),
'ERR_PENNY_TASK "cannot be cloned"');
// An error that cannot be fully read: an Error (not a Penny error saying
// its thread stopped) with the message that can be read, if given.
const readable = (message) => rejectedWith((e) => e instanceof Error &&
  e.code === undefined && (message === undefined || e.message === message),
`an Error${message === undefined ? '' : ` "${message}"`}`);

// ---- Shared memory with guard bytes. ----

// A SharedArrayBuffer of `bytes`, filled with a pattern; changedExcept
// returns the first byte (outside [lo, hi)) that lost it, or -1.
function patterned(bytes, growable = false) {
  const sab = growable
    ? new SharedArrayBuffer(bytes, { maxByteLength: bytes * 4 })
    : new SharedArrayBuffer(bytes);
  const u8 = new Uint8Array(sab);
  for (let i = 0; i < u8.length; i++) u8[i] = (i * 37 + 11) & 0xff;
  return sab;
}
function changedExcept(sab, lo, hi) {
  const u8 = new Uint8Array(sab);
  for (let i = 0; i < u8.length; i++) {
    if (i >= lo && i < hi) continue;
    const want = i < u8.length ? (i * 37 + 11) & 0xff : 0;
    if (u8[i] !== want) return i;
  }
  return -1;
}

// A case whose task writes `value` at index `index` of `view` (a view
// over `sab`); the write must land at byte `at` (element of `size`
// bytes), nothing else may change.
function writeCase(label, makeView, index, value, at, size) {
  return {
    label, name: 'writeAt',
    setup() {
      const { sab, view } = makeView();
      this.sab = sab;
      this.view = view;
      return [view, index, value];
    },
    judge: resolved((n) => typeof n === 'number', 'the view\'s length'),
    after() {
      const dv = new DataView(this.sab);
      const got = size === 8 ? dv.getBigInt64(at, true) : dv.getUint8(at);
      if (got !== value) return `the write did not land at byte ${at}`;
      const bad = changedExcept(this.sab, at, at + size);
      return bad < 0 ? null : `a guard byte changed at ${bad}`;
    },
  };
}

// ---- The cases. ----

function cases(s, pool) {
  const hugeBytes = s.scaled(16, 4) * MiB;
  const arena = pool.alloc(Uint8Array, 64);
  for (let i = 0; i < arena.length; i++) arena[i] = i;
  const list = [
    // -- Arguments. --
    { label: 'cyclic object arg', name: 'echo',
      setup: () => {
        const o = { n: 1, arr: [] };
        o.self = o;
        o.arr.push(o, o.arr);
        return [o];
      },
      judge: resolved(([o]) => o.self === o && o.arr[0] === o &&
        o.arr[1] === o.arr, 'the cycles kept') },
    { label: 'cyclic Map and Set args', name: 'echo',
      setup: () => {
        const m = new Map();
        const st = new Set();
        m.set(m, st);
        st.add(m);
        st.add(st);
        return [m, st];
      },
      judge: resolved(([m, st]) => m.get(m) === st && st.has(m) &&
        st.has(st), 'the cycles kept') },
    { label: 'function arg', name: 'echo', setup: () => [() => 1],
      judge: uncloneable },
    { label: 'function deep in an arg', name: 'echo',
      setup: () => [{ a: { b: [1, 2, { c: new Map([[1, () => 1]]) }] } }],
      judge: uncloneable },
    { label: 'symbol arg', name: 'echo', setup: () => [Symbol('x')],
      judge: uncloneable },
    { label: 'symbol as the first of two args', name: 'add',
      setup: () => [Symbol('x'), 1], judge: uncloneable },
    { label: 'WeakMap arg', name: 'echo', setup: () => [new WeakMap()],
      judge: uncloneable },
    { label: 'bare SharedArrayBuffer arg', name: 'echo',
      setup: () => [new SharedArrayBuffer(8)], judge: uncloneable },
    { label: 'bare growable SharedArrayBuffer arg', name: 'echo',
      setup: () => [new SharedArrayBuffer(8, { maxByteLength: 16 })],
      judge: uncloneable },
    { label: 'Proxy nested in an arg', name: 'echo',
      setup: () => [{ p: new Proxy({ a: 1 }, {}) }], judge: uncloneable },
    { label: 'Proxy with throwing traps as an arg', name: 'echo',
      setup: () => [new Proxy({}, {
        get() { throw new HookError('get trap'); },
        ownKeys() { throw new HookError('ownKeys trap'); },
        getPrototypeOf() { throw new HookError('getPrototypeOf trap'); },
      })],
      judge: either(uncloneable, rejectedWith((e) => e instanceof HookError,
        'the trap\'s error')) },
    { label: 'revoked Proxy as an arg', name: 'echo',
      setup: () => {
        const { proxy, revoke } = Proxy.revocable({}, {});
        revoke();
        return [proxy];
      },
      judge: either(uncloneable, rejectedWith((e) => e instanceof TypeError,
        'a TypeError')) },
    { label: 'throwing getter nested in an arg', name: 'echo',
      setup: () => [{ deep: { get x() { throw new HookError('nested'); } } }],
      judge: either(uncloneable, rejectedWith((e) => e instanceof HookError,
        'the getter\'s error')) },
    { label: 'throwing getter on an element of args', name: 'echo',
      setup: () => {
        const args = [1];
        Object.defineProperty(args, 0, {
          get() { throw new HookError('top'); },
        });
        return args;
      },
      judge: rejectedWith((e) => e instanceof HookError,
        'the getter\'s own error') },
    writeCase('Uint8Array over a SharedArrayBuffer at offset 3', () => {
      const sab = patterned(64);
      return { sab, view: new Uint8Array(sab, 3, 7) };
    }, 6, 42, 9, 1),
    writeCase('BigInt64Array over a SharedArrayBuffer at offset 8', () => {
      const sab = patterned(64);
      return { sab, view: new BigInt64Array(sab, 8, 2) };
    }, 1, -5n, 16, 8),
    writeCase('length-tracking Uint8Array over a grown SharedArrayBuffer',
      () => {
        const sab = patterned(16, true);
        const view = new Uint8Array(sab);
        sab.grow(48);
        // grow() zeroes the new bytes: give them the pattern too.
        const u8 = new Uint8Array(sab);
        for (let i = 16; i < 48; i++) u8[i] = (i * 37 + 11) & 0xff;
        return { sab, view };
      }, 40, 7, 40, 1),
    { label: 'DataView over a SharedArrayBuffer at offset 5', name: 'view',
      setup: () => [new DataView(patterned(64), 5, 3)],
      judge: resolved((v) => v.type === '[object DataView]' &&
        v.length === 3 && v.offset === 5 && v.shared, 'a shared DataView') },
    { label: 'empty view at the end of a SharedArrayBuffer', name: 'view',
      setup: () => [new Float64Array(patterned(64), 64, 0)],
      judge: resolved((v) => v.length === 0 && v.offset === 64 && v.shared,
        'an empty shared view at 64') },
    { label: 'odd subarray of the arena', name: 'writeAt',
      setup: () => [arena.subarray(5, 13), 2, 200],
      judge: resolved((n) => n === 8, '8'),
      after: () => {
        for (let i = 0; i < arena.length; i++) {
          const want = i === 7 ? 200 : i;
          if (arena[i] !== want) return `arena byte ${i} is ${arena[i]}`;
        }
        return null;
      } },
    // Read once, as a structured clone reads it: the array as it was at
    // the first read, however its getter changes it afterwards.
    { label: 'array whose element getter grows it when read again',
      name: 'echo',
      setup: () => {
        const arr = [0, 0];
        let reads = 0;
        Object.defineProperty(arr, 0, {
          enumerable: true,
          get() {
            if (++reads > 1) for (let i = 0; i < 500; i++) arr.push(1);
            return 1;
          },
        });
        return ['x', arr];
      },
      judge: resolved((v) => v.length === 2 && v[1].length === 2 &&
        v[1][0] === 1 && v[1][1] === 0, "['x', [1, 0]]") },
    { label: 'two views over one ArrayBuffer', name: 'alias',
      setup: () => {
        const buf = new ArrayBuffer(8);
        return [new Uint8Array(buf, 2), new Uint8Array(buf, 2, 4)];
      },
      judge: resolved((v) => v[0] === 9 && v[1] === true && v[2] === 2,
        'views over one copy') },
    // As postMessage clones it: a copy of the whole slab, the view at its
    // offset there.
    { label: 'Buffer from the shared slab', name: 'view',
      setup: () => [Buffer.from('hello')],
      judge: resolved((v) => v.length === 5 && !v.shared && v.first === 104 &&
        v.bufferLength === Buffer.poolSize &&
        v.offset <= Buffer.poolSize - 5, 'a copy of the slab, viewed at ' +
        'its 5 bytes') },
    { label: 'detached ArrayBuffer arg', name: 'echo',
      setup: () => {
        const b = new ArrayBuffer(8);
        structuredClone(b, { transfer: [b] });
        return [b];
      },
      judge: uncloneable },
    { label: 'view over a detached ArrayBuffer', name: 'view',
      setup: () => {
        const b = new ArrayBuffer(8);
        const v = new Float64Array(b);
        structuredClone(b, { transfer: [b] });
        return [v];
      },
      judge: either(uncloneable, resolved((v) => v.length === 0,
        'an empty view')) },
    { label: 'length-tracking view over a resized ArrayBuffer', name: 'view',
      setup: () => {
        const b = new ArrayBuffer(8, { maxByteLength: 64 });
        const v = new Uint8Array(b);
        b.resize(40);
        v[0] = 9;
        return [v];
      },
      judge: resolved((v) => v.length === 40 && !v.shared && v.first === 9,
        'a copy of its 40 bytes') },
    { label: 'view out of bounds after its ArrayBuffer shrank',
      name: 'view',
      setup: () => {
        const b = new ArrayBuffer(64, { maxByteLength: 64 });
        const v = new Uint8Array(b, 16, 16);
        b.resize(8);
        return [v];
      },
      judge: either(uncloneable, resolved((v) => v.length === 0,
        'an empty view')) },
    { label: 'huge typed array arg', name: 'view',
      setup: () => {
        const a = new Uint8Array(hugeBytes);
        a[0] = 77;
        return [a];
      },
      judge: resolved((v) => v.length === hugeBytes && v.first === 77,
        `a copy of ${hugeBytes} bytes`) },
    { label: 'huge string arg', name: 'id',
      setup: () => ['y'.repeat(4 * MiB)],
      judge: resolved((x) => x.length === 4 * MiB && x[12345] === 'y',
        'the string back') },
    { label: '2000 args', name: 'echo',
      setup: () => Array.from({ length: 2000 }, (_, i) => i),
      judge: resolved((a) => a.length === 2000 && a[1999] === 1999,
        'them back') },
    { label: 'args with holes', name: 'echo', setup: () => [1, , 3], // eslint-disable-line no-sparse-arrays
      judge: resolved((a) => a.length === 3 && a[2] === 3 &&
        a[1] === undefined, 'them back') },
    { label: 'nesting 300 deep', name: 'echo',
      setup: () => {
        let o = null;
        for (let i = 0; i < 300; i++) o = { o };
        return [o];
      },
      judge: resolved(([o]) => typeof o.o === 'object', 'it back') },
    { label: 'nesting 20000 deep', name: 'echo',
      setup: () => {
        let o = null;
        for (let i = 0; i < 20000; i++) o = { o };
        return [o];
      },
      // Past the engine's stack: any outcome, as long as it settles.
      judge: fine },
    { label: 'BigInts', name: 'echo', setup: () => [2n ** 200n, -1n],
      judge: resolved(([a, b]) => a === 2n ** 200n && b === -1n,
        'them back') },
    { label: '-0 as the only arg', name: 'id', setup: () => [-0],
      judge: resolved((x) => Object.is(x, -0), '-0') },
    { label: 'NaN and Infinity', name: 'add', setup: () => [NaN, Infinity],
      judge: resolved((x) => Number.isNaN(x), 'NaN') },
    { label: '2^53 + 1 in the ring', name: 'add', setup: () => [2 ** 53, 1],
      judge: resolved((x) => x === 2 ** 53, '2^53') },
    { label: 'a string and a number', name: 'add', setup: () => ['a', 1],
      judge: resolved((x) => x === 'a1', '"a1"') },
    { label: 'Proxy as args', name: 'add',
      setup: () => new Proxy([20, 22], {}),
      judge: resolved((x) => x === 42, '42') },
    { label: 'args not an array', name: 'add', setup: () => 'ab',
      judge: rejectedCode('ERR_PENNY_ARG') },
    { label: 'array-like args', name: 'add',
      setup: () => ({ length: 2, 0: 1, 1: 2 }),
      judge: rejectedCode('ERR_PENNY_ARG') },
    { label: 'an Error as an arg', name: 'echo',
      setup: () => [new RangeError('as a value')],
      judge: resolved(([e]) => e.message === 'as a value', 'it back') },
    { label: 'class instance and typed-array subclass', name: 'echo',
      setup: () => {
        class Point { constructor() { this.x = 1; } get y() { return 2; } }
        class F64 extends Float64Array {}
        return [new Point(), new F64([1.5])];
      },
      judge: resolved(([p, f]) => p.x === 1 && p.y === undefined &&
        f instanceof Float64Array && f[0] === 1.5, 'plain copies') },

    // -- Results. --
    { label: 'cyclic result', name: 'cyclic', setup: () => [],
      judge: resolved((o) => o.self === o && o.list[0] === o &&
        o.list[1] === o.list && o.map.get('m') === o.map, 'the cycles') },
    { label: 'huge result', name: 'huge', setup: () => [8],
      judge: resolved((a) => a.length === 8 * MiB && a[4096 * 3] === 3,
        '8 MiB') },
    { label: 'huge string result', name: 'hugeString', setup: () => [4],
      judge: resolved((x) => x.length === 4 * MiB, '4 MiB') },
    { label: '30000 keys', name: 'manyKeys', setup: () => [30000],
      judge: resolved((o) => o.k29999 === 29999, 'them') },
    { label: 'result nested 20000 deep', name: 'deep', setup: () => [20000],
      judge: fine },
    { label: 'result with a method', name: 'withFunction', setup: () => [],
      judge: uncloneable },
    { label: 'function result', name: 'aFunction', setup: () => [],
      judge: uncloneable },
    { label: 'symbol result', name: 'aSymbol', setup: () => [],
      judge: uncloneable },
    { label: 'result holding a symbol', name: 'withSymbol', setup: () => [],
      judge: uncloneable },
    { label: 'WeakMap result', name: 'aWeakMap', setup: () => [],
      judge: uncloneable },
    { label: 'async function resolving to a function',
      name: 'aPromiseOfFunction', setup: () => [], judge: uncloneable },
    { label: 'thenable resolving to a function', name: 'thenableOfFunction',
      setup: () => [], judge: uncloneable },
    { label: 'thenable whose then throws', name: 'thenableThatThrows',
      setup: () => [],
      judge: rejectedWith((e) => e.message === 'then threw', 'its error') },
    { label: 'thenable whose then getter throws',
      name: 'thenableGetterThrows', setup: () => [],
      judge: rejectedWith((e) => e.message === 'then getter threw',
        'its error') },
    { label: 'Proxy result', name: 'proxyResult', setup: () => [],
      judge: uncloneable },
    { label: 'result with a throwing getter', name: 'getterResult',
      setup: () => [], judge: uncloneable },
    { label: 'view over a detached buffer as result', name: 'detachedResult',
      setup: () => [],
      judge: either(uncloneable, resolved((v) => v.length === 0, 'empty')) },
    { label: 'detached ArrayBuffer result', name: 'detachedBuffer',
      setup: () => [], judge: uncloneable },
    { label: 'length-tracking view result', name: 'resizableResult',
      setup: () => [],
      judge: resolved((v) => v.length === 32 && v[31] === 5, '32 fives') },
    { label: 'out-of-bounds view result', name: 'shrunkResult',
      setup: () => [],
      judge: either(uncloneable, resolved((v) => v.length === 0, 'empty')) },
    { label: 'view over a grown SharedArrayBuffer result',
      name: 'growableShared', setup: () => [],
      judge: resolved((v) => v[0] === 9 &&
        v.buffer instanceof SharedArrayBuffer, 'a shared view, 9 first') },
    { label: 'odd view over a new SharedArrayBuffer result',
      name: 'oddShared', setup: () => [3, 7],
      judge: resolved((v) => v.length === 7 && v.byteOffset === 3 &&
        v[6] === 3 && v.buffer instanceof SharedArrayBuffer,
      'a shared view at 3') },
    { label: 'bare SharedArrayBuffer result', name: 'bareShared',
      setup: () => [],
      judge: either(uncloneable, resolved((v) =>
        v instanceof SharedArrayBuffer && v.byteLength === 8, 'it')) },
    { label: 'generator result', name: 'generator', setup: () => [],
      judge: uncloneable },
    { label: 'async generator result', name: 'asyncGen', setup: () => [],
      judge: uncloneable },

    // -- Errors. --
    { label: 'error with throwing getters', name: 'throwGetters',
      setup: () => [], judge: readable() },
    { label: 'async error with throwing getters', name: 'rejectWithGetters',
      setup: () => [], judge: readable() },
    { label: 'Proxy thrown, throwing traps', name: 'throwProxy',
      setup: () => [], judge: readable() },
    { label: 'Proxy of {} thrown', name: 'throwProxyPlain', setup: () => [],
      judge: cannotBeCloned },
    { label: 'function thrown', name: 'throwFunction', setup: () => [],
      judge: uncloneable },
    { label: 'async function rejecting with a function',
      name: 'rejectWithFunction', setup: () => [], judge: uncloneable },
    { label: 'symbol thrown', name: 'throwSymbol', setup: () => [],
      judge: uncloneable },
    { label: 'null thrown', name: 'throwNull', setup: () => [],
      judge: rejectedWith((e) => e === null, 'null') },
    { label: 'AggregateError holding a function', name: 'throwAggregate',
      setup: () => [],
      judge: rejectedWith((e) => e instanceof AggregateError &&
        e.message === 'agg', 'an AggregateError "agg"') },
    { label: '2 MiB message', name: 'throwHugeMessage', setup: () => [2],
      judge: rejectedWith((e) => e.message.length === 2 * MiB,
        'the message') },
    { label: 'stack that throws when converted', name: 'throwNonStringStack',
      setup: () => [],
      judge: rejectedWith((e) => e.message === 'odd stack', 'its message') },
    { label: 'subclass whose prototype name getter throws',
      name: 'errorSubclassWithGetterPrototype', setup: () => [],
      judge: readable('weird') },
    { label: 'undefined thrown', name: 'throwUndefined', setup: () => [],
      judge: rejectedWith((e) => e === undefined, 'undefined') },
    { label: 'revoked Proxy thrown', name: 'throwRevokedProxy',
      setup: () => [], judge: cannotBeCloned },
    { label: 'name that throws when converted', name: 'throwNameObject',
      setup: () => [], judge: readable('odd name') },
    { label: 'message that throws when converted',
      name: 'throwMessageObject', setup: () => [], judge: readable() },
    { label: 'async rejection with a revoked Proxy',
      name: 'rejectWithRevokedProxy', setup: () => [],
      judge: cannotBeCloned },
    { label: 'async rejection with a name that throws when converted',
      name: 'rejectWithNameObject', setup: () => [],
      judge: readable('odd name') },
    { label: 'error whose cause is itself', name: 'throwCyclicError',
      setup: () => [],
      judge: rejectedWith((e) => e instanceof TypeError &&
        e.message === 'cyclic', 'TypeError: cyclic') },

    // -- Exports. --
    { label: 'an export that is a number', name: 'notAFunction',
      setup: () => [], judge: uncloneable },
    { label: 'an export that is a class', name: 'aClass', setup: () => [],
      judge: rejectedWith((e) => e instanceof TypeError, 'a TypeError') },
    { label: 'a bound function', name: 'boundFn', setup: () => [],
      judge: resolved((x) => x === 'u', '"u"') },
    { label: 'a name nobody exports', name: 'nope', setup: () => [1],
      judge: rejectedCode('ERR_PENNY_RANGE') },
    { label: 'the name __proto__', name: '__proto__', setup: () => [],
      judge: rejectedCode('ERR_PENNY_RANGE') },
    { label: 'a kernel by name', name: 'fib', setup: () => [15],
      judge: resolved((x) => x === 610, '610') },
  ];
  return list;
}

// Submits one case; returns its promise (never throws).
function submit(pool, c) {
  let args;
  try {
    args = c.setup();
  } catch (err) {
    return Promise.reject(new Error(`setup of ${c.label} threw: ${
      show(err)}`));
  }
  return pool.run(c.name, args);
}

// The case's judge plus its after() check on shared memory.
function fullJudge(c) {
  return (rec) => c.judge.call(c, rec) ??
    (rec.status === 'resolved' && c.after ? c.after() : null);
}

async function body(s) {
  const { Pool } = penny();
  const pool = new Pool({ threads: 2, tasks: TASKS, arenaBytes: 8 * MiB });
  s.phase = 'first task';
  const first = await within(pool.run('add', [1, 1]), 10000);
  s.check(first.status === 'resolved' && first.value === 2,
    () => `the first task ${first.status} with ${show(first.value)}`);

  // Each case alone, then the pool must still work.
  const all = cases(s, pool);
  for (const c of all) {
    s.phase = `alone: ${c.label}`;
    const r = await within(submit(pool, c), 8000);
    if (!s.check(r.status !== 'timeout', `${c.label}: did not settle ` +
      'within 8 s')) continue;
    const judge = fullJudge(c);
    const why = judge({ status: r.status, value: r.value });
    s.check(!why, () => `${c.label}: ${why}`);
    const after = await within(pool.run('add', [2, 2]), 5000);
    s.check(after.status === 'resolved' && after.value === 4,
      () => `after ${c.label}: add(2, 2) ${after.status} with ${
        show(after.value)}`);
  }

  // A flood: every case three times, shuffled among ordinary tasks.
  s.phase = 'flood';
  const tracker = new Tracker(s);
  const floods = [];
  for (let round = 0; round < 2; round++) {
    for (const c of cases(s, pool)) {
      if (/huge|20000|keys|MiB/.test(`${c.label} ${c.name}`)) {
        if (round > 0) continue; // big ones once: time and memory
      }
      floods.push(c);
    }
  }
  const ordinary = s.scaled(600, 100);
  for (let i = 0; i < ordinary; i++) floods.push({ ordinary: i });
  s.shuffle(floods);
  for (const c of floods) {
    if (c.ordinary !== undefined) {
      const i = c.ordinary;
      if (i % 3 === 0) {
        tracker.add(pool.run('add', [i, 1]), `ordinary add ${i}`,
          resolved((x) => x === i + 1, String(i + 1)));
      } else {
        tracker.add(pool.run('tag', [{ k: i, v: 'v' }]), `ordinary tag ${i}`,
          resolved((x) => x === `${i}:v`, `${i}:v`));
      }
    } else {
      tracker.add(submit(pool, c), `flood: ${c.label}`, fullJudge(c));
    }
  }
  await tracker.wait({ stallMs: 10000, capMs: 40000 });
  tracker.judge('', 'in the flood');

  s.phase = 'close';
  await checkClose(s, pool.close(), 'the task pool', 10000);
  s.info.cases = all.length;

  await sameThread(s);
}

// On a pool of one thread: values that cannot be read, thrown or rejected
// with, fail only their own task; the thread lives on.
async function sameThread(s) {
  const { Pool } = penny();
  s.phase = 'unreadable thrown values keep their thread';
  const pool = new Pool({ threads: 1, tasks: TASKS, arenaBytes: MiB });
  const first = await within(pool.run('threadId'), 10000);
  if (!s.check(first.status === 'resolved', () => `threadId ${
    first.status} with ${show(first.value)}`)) {
    await within(pool.terminate(), 5000);
    return;
  }
  for (const name of s.shuffle(['throwUndefined', 'throwRevokedProxy',
    'throwNameObject', 'throwMessageObject', 'rejectWithRevokedProxy',
    'rejectWithNameObject', 'throwCyclicError', 'throwGetters',
    'rejectWithGetters', 'throwProxy'])) {
    const r = await within(pool.run(name), 5000);
    s.check(r.status === 'rejected', () => `${name} on one thread: ${
      r.status} with ${show(r.value)}`);
    const id = await within(pool.run('threadId'), 5000);
    s.check(id.status === 'resolved' && id.value === first.value, () =>
      `${name}: the pool's thread was replaced (thread ${first.value} -> ${
        id.status === 'resolved' ? id.value : `${id.status} ${
          show(id.value)}`})`);
  }
  await checkClose(s, pool.close(), 'the one-thread task pool');
}

main(body);
