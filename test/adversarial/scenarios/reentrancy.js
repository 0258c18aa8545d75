'use strict';

// reentrancy: user code at every point where Penny calls user code -- a
// getter on an element of `args`, a Proxy as `args` (each trap), getters on
// a typed array's own constructor/buffer/byteOffset/length/byteLength,
// Symbol.species on args' constructor, valueOf/toString/Symbol.toPrimitive
// on scalars and on the kernel, a getter on options.signal, a Proxy as
// options or as the signal, own accessors and methods on an AbortSignal,
// getters and a Proxy on the Pool options, abort listeners before and after
// Penny's own, promise continuations (fulfilment and rejection), getters
// during alloc() and free(), a continuation of close() -- and from each of
// them: run (plain, copied, nested), close (once, twice), free (an argument
// in use, another block), alloc, abort the call's own signal or another
// task's, a whole new Pool, or a throw.
//
// Why: CONVENTIONS.md rule 16 and DESIGN.md §4: the pool's state is
// consistent at every re-entrancy point and whatever the user calls from
// there works; user code can neither lose a task nor redirect a write. The
// bugs this was written for: a getter on an element of args that called
// pool.run left the inner promise unsettled forever (stats().pending stuck
// at 1, close() never resolved); a getter that called pool.close() during
// run('spin', [2e6]) froze the event loop for 2 s.
//
// Checks, per (hook, action) case on a fresh pool: every promise from run
// settles exactly once within a bound, with the right value or an
// acceptable reason (a Penny error, the signal's reason, the user's own
// throw); a call aborted by user code during run() never resolves; close()
// resolves; stats() then has submitted = completed + failed + cancelled +
// pending with pending 0; the event loop is never blocked longer than the
// limit; the pool still answers a fresh sum unless it was closed.

const {
  MiB, main, penny, Tracker, Heartbeat, isPennyError, isAbortError, show,
  BLOCK_LIMIT_MS, checkPoolWorks, checkStats, checkClose,
} = require('../lib');

const POOL_OPTIONS = { threads: 2, arenaBytes: MiB };
const GROUP = 8; // cases run side by side (a hang costs its stall once)

class HookError extends Error {}

// ---- The case: a pool, arrays with known sums, and two signals. ----

function setUp(s, hook, action) {
  const { Pool } = penny();
  const pool = new Pool(POOL_OPTIONS);
  const c = {
    s, hook, action, pool, name: `${hook.name} -> ${action.name}`,
    tracker: new Tracker(s),
    x: pool.alloc(Float64Array, 256),
    y: pool.alloc(Float64Array, 64),
    t: pool.alloc(Float64Array, 64),          // a fill target
    plain: new Float64Array(64).fill(2),      // copied in: sum 128
    ctrl: new AbortController(),              // the hooked call's signal
    ownReason: new Error('own abort'),
    ctrl2: new AbortController(),             // another task's signal
    // Long enough for a close() freeze to show on the heartbeat.
    spinMicros: action.name.startsWith('close') ? 6e5 : 3e4,
    // The longest a task of this case may legitimately run (ms): a
    // promise unsettled this long after the last settlement is lost.
    stallMs: action.name.startsWith('close') ? 1100 : 700,
    inCall: false, fired: 0, firedInCall: false,
    closeCalled: false, xFreed: false, errors: [], extraPools: [],
  };
  for (let i = 0; i < c.x.length; i++) c.x[i] = i;
  c.xSum = (c.x.length * (c.x.length - 1)) / 2;
  // Something in flight besides the hooked call.
  track(c, c.pool.run('spin', [2e4], { signal: c.ctrl2.signal }), 'bg spin',
    undefined, c.ctrl2);
  for (let i = 0; i < 16; i++) track(c, c.pool.run('noop'), 'bg noop');
  return c;
}

// The user code at a hook: runs the action once. A HookError goes on to
// the caller (Penny, for getters and traps); other errors are judged later.
function act(c) {
  c.fired++;
  if (c.fired > 1) return;
  c.firedInCall = c.inCall;
  try {
    c.action.run(c);
  } catch (err) {
    if (err instanceof HookError) throw err;
    c.errors.push(err);
  }
}

// For listeners and continuations, where a throw would be the user's own
// uncaught exception rather than something Penny handles.
function actQuietly(c) {
  try {
    act(c);
  } catch (err) {
    if (!(err instanceof HookError)) throw err;
  }
}

// Tracks a run() promise that must resolve with `expected` (undefined: any
// value; 'sumX': x's sum unless x was freed), or reject with an acceptable
// reason: ERR_PENNY_CLOSED once its pool's close() was called, or the
// reason of `ctrl`'s signal once aborted.
function track(c, promise, label, expected, ctrl, pool = c.pool) {
  const closed = () => pool === c.pool && c.closeCalled;
  const closedAtSubmit = closed();
  c.tracker.add(promise, `${c.name}: ${label}`, (rec) => {
    if (rec.status === 'resolved') {
      if (closedAtSubmit) return 'resolved although run after close()';
      if (expected === undefined || Object.is(rec.value, expected)) {
        return null;
      }
      if (expected === 'sumX' && (c.xFreed || Object.is(rec.value, c.xSum))) {
        return null;
      }
      return `resolved with ${show(rec.value)}, expected ${
        expected === 'sumX' ? c.xSum : show(expected)}`;
    }
    const e = rec.value;
    if (isPennyError(e, ['ERR_PENNY_CLOSED'])) {
      return closed() ? null : 'ERR_PENNY_CLOSED but close() was not called';
    }
    if (ctrl !== undefined && ctrl.signal.aborted && e === ctrl.signal.reason) {
      return null;
    }
    return `rejected with ${show(e)}`;
  });
}

// ---- Actions: what the user code does. ----

const ACTIONS = [
  { name: 'run-noop', run: (c) => track(c, c.pool.run('noop'), 'inner noop') },
  { name: 'run-sum',
    run: (c) => track(c, c.pool.run('sum', [c.x]), 'inner sum', 'sumX') },
  { name: 'run-copied',
    run: (c) => track(c, c.pool.run('sum', [new Float64Array(16).fill(3)]),
      'inner copied sum', 48) },
  { name: 'run-nested',
    run: (c) => {
      const args = [];
      Object.defineProperty(args, 0, {
        enumerable: true,
        get() {
          track(c, c.pool.run('fib', [10]), 'innermost fib', 55);
          return c.y;
        },
      });
      track(c, c.pool.run('sum', args), 'nested sum', 0);
    } },
  { name: 'close',
    run: (c) => {
      c.closeCalled = true;
      c.closes.push(c.pool.close());
    } },
  { name: 'close-twice',
    run: (c) => {
      c.closeCalled = true;
      const a = c.pool.close();
      const b = c.pool.close();
      c.s.check(a === b, `${c.name}: close() twice returned two promises`);
      c.closes.push(a);
    } },
  { name: 'free-arg',
    run: (c) => {
      c.xFreed = true;
      c.pool.free(c.x);
    } },
  { name: 'free-other', run: (c) => c.pool.free(c.y) },
  { name: 'alloc',
    run: (c) => {
      // Fresh memory must not overlap anything alive: x's sum tells.
      c.pool.alloc(Float64Array, 2048).fill(1e6);
    } },
  { name: 'abort-own', run: (c) => c.ctrl.abort(c.ownReason) },
  { name: 'abort-other', run: (c) => c.ctrl2.abort() },
  { name: 'new-pool',
    run: (c) => {
      const q = new (penny().Pool)({ threads: 1, arenaBytes: MiB });
      c.extraPools.push(q);
      track(c, q.run('fib', [10]), 'fib on a pool made in a hook', 55,
        undefined, q);
    } },
  { name: 'throw', run: () => { throw new HookError('hook threw'); } },
];

// ---- Hooks: where Penny runs the user code. ----

// An array whose element i is a getter that runs the action.
function getterArgs(c, values, i) {
  const args = values.slice();
  Object.defineProperty(args, i, {
    enumerable: true, configurable: true,
    get() { act(c); return values[i]; },
  });
  return args;
}

// A copy of `view` (same memory) with an own accessor `key` that runs the
// action and tells the truth.
function lyingView(c, view, key) {
  const v = new view.constructor(view.buffer, view.byteOffset, view.length);
  const truth = key === 'constructor' ? view.constructor : view[key];
  Object.defineProperty(v, key, { get() { act(c); return truth; } });
  return v;
}

function proxyArgs(c, values, trap) {
  return new Proxy(values.slice(), {
    [trap](...a) {
      act(c);
      return Reflect[trap](...a);
    },
  });
}

const withSignal = (c) => ({ signal: c.ctrl.signal });
const runHook = (name, call, extra = {}) => ({ name, kind: 'run', call,
  ...extra });

const HOOKS = [
  runHook('args-getter-array',
    (c) => c.pool.run('sum', getterArgs(c, [c.x], 0), withSignal(c)),
  { expected: 'sumX' }),
  runHook('args-getter-copied',
    (c) => c.pool.run('sum', getterArgs(c, [c.plain], 0), withSignal(c)),
  { expected: 128 }),
  runHook('args-getter-scalar',
    (c) => c.pool.run('spin', getterArgs(c, [c.spinMicros], 0), withSignal(c))),
  runHook('args-getter-second',
    (c) => c.pool.run('fill', getterArgs(c, [c.t, 5], 1), withSignal(c))),
  ...['get', 'has', 'ownKeys', 'getPrototypeOf', 'getOwnPropertyDescriptor']
    .map((trap) => runHook(`args-proxy-${trap}`,
      (c) => c.pool.run('sum', proxyArgs(c, [c.x], trap), withSignal(c)),
      { expected: 'sumX' })),
  ...['constructor', 'buffer', 'byteOffset', 'length', 'byteLength']
    .map((key) => runHook(`view-own-${key}`,
      (c) => c.pool.run('sum', [lyingView(c, c.x, key)], withSignal(c)),
      { expected: 'sumX' })),
  ...['constructor', 'buffer', 'length'].map((key) =>
    runHook(`copied-view-own-${key}`,
      (c) => c.pool.run('sum', [lyingView(c, c.plain, key)], withSignal(c)),
      { expected: 128 })),
  runHook('args-own-species', (c) => {
    const args = [c.x];
    args.constructor = {
      get [Symbol.species]() { act(c); return Array; },
    };
    return c.pool.run('sum', args, withSignal(c));
  }, { expected: 'sumX' }),
  runHook('args-subclass-species', (c) => {
    class Args extends Array {
      static get [Symbol.species]() { act(c); return Array; }
    }
    return c.pool.run('sum', Args.of(c.plain), withSignal(c));
  }, { expected: 128 }),
  runHook('view-species', (c) => {
    const v = new Float64Array(c.plain);
    v.constructor = {
      get [Symbol.species]() { act(c); return Float64Array; },
    };
    return c.pool.run('sum', [v], withSignal(c));
  }, { expected: 128 }),
  ...[['valueOf', (f) => ({ valueOf: f })],
    ['toString', (f) => ({ toString: f })],
    ['toPrimitive', (f) => ({ [Symbol.toPrimitive]: f })]]
    .map(([name, make]) => runHook(`scalar-${name}`,
      (c) => c.pool.run('fib', [make(() => { act(c); return 10; })],
        withSignal(c)), { mustReject: 'ERR_PENNY_ARG' })),
  runHook('kernel-toString',
    (c) => c.pool.run({ toString() { act(c); return 'noop'; } }, [],
      withSignal(c)), { mustReject: 'ERR_PENNY_ARG' }),
  runHook('options-signal-getter',
    (c) => c.pool.run('sum', [c.x], {
      get signal() { act(c); return c.ctrl.signal; },
    }), { expected: 'sumX' }),
  runHook('options-proxy',
    (c) => c.pool.run('spin', [c.spinMicros], new Proxy(withSignal(c), {
      get(...a) { act(c); return Reflect.get(...a); },
    }))),
  runHook('signal-proxy',
    (c) => c.pool.run('sum', [c.x], {
      signal: new Proxy(c.ctrl.signal, {
        get(target, key) {
          act(c);
          const v = Reflect.get(target, key, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      }),
    }), { expected: 'sumX' }),
  // Own accessors and methods on a real AbortSignal.
  ...['aborted', 'reason'].map((key) => runHook(`signal-own-${key}`, (c) => {
    const { signal } = c.ctrl;
    Object.defineProperty(signal, key, {
      configurable: true,
      get() { act(c); return Reflect.get(AbortSignal.prototype, key, signal); },
    });
    return c.pool.run('sum', [c.x], { signal });
  }, { expected: 'sumX' })),
  runHook('signal-own-addEventListener', (c) => {
    const { signal } = c.ctrl;
    signal.addEventListener = function addEventListener(...a) {
      act(c);
      return EventTarget.prototype.addEventListener.apply(this, a);
    };
    return c.pool.run('spin', [c.spinMicros], { signal });
  }),
  ...[['first', true, 2], ['last', false, 2], ['queued', true, -1]]
    .map(([name, before, delay]) => runHook(`abort-listener-${name}`, (c) => {
      const listener = () => actQuietly(c);
      if (before) c.ctrl.signal.addEventListener('abort', listener);
      const p = c.pool.run('spin', [2e5], withSignal(c));
      if (!before) c.ctrl.signal.addEventListener('abort', listener);
      if (delay < 0) c.ctrl.abort();
      else setTimeout(() => c.ctrl.abort(), delay);
      return p;
    })),
  runHook('then-fulfilled', (c) => {
    const first = c.pool.run('noop');
    first.then(() => actQuietly(c));
    const rest = [];
    for (let i = 0; i < 64; i++) rest.push(c.pool.run('fib', [8]));
    return [first, ...rest];
  }, { expected: [undefined, ...new Array(64).fill(21)] }),
  runHook('then-sum', (c) => {
    const p = c.pool.run('sum', [c.x]);
    p.then(() => actQuietly(c));
    return [p, c.pool.run('sum', [c.x]), c.pool.run('sum', [c.plain])];
  }, { expected: ['sumX', 'sumX', 128] }),
  runHook('then-rejected', (c) => {
    const p = c.pool.run('noop', [], { signal: AbortSignal.abort() });
    p.catch(() => actQuietly(c));
    return [p, c.pool.run('fib', [12])];
  }, { expected: ['abort', 144] }),
  { name: 'close-then', kind: 'close',
    call: (c) => {
      c.closeCalled = true;
      const p = c.pool.close();
      p.then(() => actQuietly(c));
      return p;
    } },
  ...['threads', 'arenaBytes'].map((key) => ({
    name: `pool-options-getter-${key}`, kind: 'ctor',
    call: (c) => {
      const opts = { ...POOL_OPTIONS };
      Object.defineProperty(opts, key, {
        enumerable: true, get() { act(c); return POOL_OPTIONS[key]; },
      });
      return new (penny().Pool)(opts);
    },
  })),
  { name: 'pool-options-proxy', kind: 'ctor',
    call: (c) => new (penny().Pool)(new Proxy({ ...POOL_OPTIONS }, {
      get(...a) { act(c); return Reflect.get(...a); },
      ownKeys(...a) { act(c); return Reflect.ownKeys(...a); },
      getOwnPropertyDescriptor(...a) {
        act(c);
        return Reflect.getOwnPropertyDescriptor(...a);
      },
    })) },
  { name: 'pool-threads-valueOf', kind: 'ctor', mustThrow: 'ERR_PENNY_ARG',
    call: (c) => new (penny().Pool)({
      threads: { valueOf() { act(c); return 1; } }, arenaBytes: MiB,
    }) },
  { name: 'alloc-length-valueOf', kind: 'alloc', mustThrow: 'ERR_PENNY_ARG',
    call: (c) => c.pool.alloc(Float64Array,
      { valueOf() { act(c); return 8; } }) },
  { name: 'alloc-type-proxy', kind: 'alloc',
    call: (c) => c.pool.alloc(new Proxy(Float64Array, {
      get(...a) { act(c); return Reflect.get(...a); },
    }), 8) },
  ...['buffer', 'byteOffset', 'byteLength', 'length'].map((key) => ({
    name: `free-view-own-${key}`, kind: 'free',
    call: (c) => {
      const z = c.pool.alloc(Float64Array, 8);
      const truth = z[key];
      Object.defineProperty(z, key, { get() { act(c); return truth; } });
      c.pool.free(z);
    },
  })),
];

// ---- Running a case. ----

// Judges the hooked call's own promise(s).
function trackOuter(c, result) {
  const { hook } = c;
  const list = Array.isArray(result) ? result : [result];
  const expected = Array.isArray(hook.expected) ? hook.expected
    : [hook.expected];
  list.forEach((p, i) => {
    const want = expected[i];
    c.tracker.add(p, `${c.name}: hooked call${list.length > 1 ? ` #${i}` : ''}`,
      (rec) => {
        const e = rec.value;
        if (hook.mustReject !== undefined) {
          if (rec.status === 'resolved') {
            return `resolved with ${show(e)}; a non-number must be refused`;
          }
          return isPennyError(e, [hook.mustReject]) || e instanceof HookError
            ? null : `rejected with ${show(e)}, expected ${hook.mustReject}`;
        }
        if (rec.status === 'resolved') {
          // Aborted by user code before run() returned: the task was never
          // started, so it must not resolve.
          if (i === 0 && c.firedInCall && c.action.name === 'abort-own') {
            return `resolved with ${show(e)} although its signal was aborted ` +
              'during run()';
          }
          if (want === 'abort') return 'resolved although aborted before run()';
          if (want === undefined || Object.is(e, want)) return null;
          if (want === 'sumX') {
            return c.xFreed || Object.is(e, c.xSum) ? null
              : `resolved with ${show(e)}, expected ${c.xSum}`;
          }
          return `resolved with ${show(e)}, expected ${show(want)}`;
        }
        if (isPennyError(e, ['ERR_PENNY_CLOSED'])) {
          return c.closeCalled ? null : 'ERR_PENNY_CLOSED without close()';
        }
        if (isPennyError(e)) return null; // refused as a bad call
        if (e instanceof HookError) {
          return c.action.name === 'throw' ? null : 'rejected with HookError';
        }
        if (c.ctrl.signal.aborted && e === c.ctrl.signal.reason) return null;
        if (want === 'abort' && isAbortError(e)) return null;
        return `rejected with ${show(e)}`;
      });
  });
}

// Makes the hooked call; sync throws are judged here.
function callHook(c) {
  const { s, hook } = c;
  c.inCall = true;
  let result;
  let thrown = null;
  try {
    result = hook.call(c);
  } catch (err) {
    thrown = err;
  } finally {
    c.inCall = false;
  }
  if (hook.kind === 'run' || hook.kind === 'close') {
    if (!s.check(thrown === null, () => `${c.name}: ${hook.kind}() threw ${
      show(thrown)} synchronously`)) return;
    trackOuter(c, result);
    if (hook.kind === 'close') c.closes.push(result);
    return;
  }
  if (hook.mustThrow !== undefined) {
    s.check(thrown !== null && (isPennyError(thrown, [hook.mustThrow]) ||
      thrown instanceof HookError), () => `${c.name}: expected a throw of ${
      hook.mustThrow}, got ${thrown === null ? 'none' : show(thrown)}`);
  } else if (thrown !== null) {
    s.check(isPennyError(thrown) || thrown instanceof HookError,
      () => `${c.name}: threw ${show(thrown)}`);
  }
  if (hook.kind === 'ctor' && thrown === null && result) {
    c.extraPools.push(result);
    track(c, result.run('fib', [11]), 'fib on the hooked new Pool', 89,
      undefined, result);
  }
}

async function runCase(c) {
  const { s } = c;
  c.closes = [];
  callHook(c);
  await c.tracker.wait({ stallMs: c.stallMs, capMs: 5000 });
  const lost = c.tracker.judge();
  for (const err of c.errors) {
    s.check(isPennyError(err), () => `${c.name}: the action threw ${
      show(err)}`);
  }
  // The pool still works, unless it was closed.
  if (!c.closeCalled) {
    await checkPoolWorks(s, c.pool, c.name);
    checkStats(s, c.pool, c.name);
  }
  // With a task lost, close() cannot resolve: no need to wait long.
  const closeWait = lost > 0 ? 300 : 3000;
  for (const p of [...c.closes, c.pool.close()]) {
    await checkClose(s, p, c.name, closeWait);
  }
  if (c.closeCalled) {
    let statsWork = true;
    try {
      c.pool.stats();
    } catch {
      statsWork = false; // stats() after close() is not part of the contract
    }
    if (statsWork) checkStats(s, c.pool, `${c.name} (after close)`);
  }
  for (const q of c.extraPools) {
    await checkClose(s, q.close(), `${c.name}: the extra pool`, 3000);
  }
  if (c.fired > 0) s.info.hooksFired = (s.info.hooksFired || 0) + 1;
}

async function body(s) {
  const hb = new Heartbeat();
  const cases = [];
  for (const hook of HOOKS) {
    for (const action of ACTIONS) cases.push([hook, action]);
  }
  s.shuffle(cases);
  // A smaller scale runs a seeded share of the cases.
  cases.length = Math.min(cases.length, s.scaled(cases.length, 40));
  s.info.cases = cases.length;
  let done = 0;
  for (let i = 0; i < cases.length; i += GROUP) {
    if (s.overBudget()) break;
    const group = cases.slice(i, i + GROUP);
    s.phase = `cases ${group.map(([h, a]) => `${h.name} -> ${a.name}`)
      .join(', ')}`;
    hb.reset();
    await Promise.all(group.map(([h, a]) => runCase(setUp(s, h, a))));
    done += group.length;
    if (hb.max() <= BLOCK_LIMIT_MS) {
      s.check(true);
      continue;
    }
    // Which case blocked the loop? Each alone, once more.
    const worst = Math.round(hb.max());
    let found = false;
    for (const [h, a] of group) {
      hb.reset();
      await runCase(setUp(s, h, a));
      if (hb.max() > BLOCK_LIMIT_MS) {
        found = true;
        hb.check(s, `${h.name} -> ${a.name}`);
      }
    }
    if (!found) {
      s.fail(`event loop blocked ${worst} ms while running ${s.phase} ` +
        '(not reproduced one by one)');
    }
  }
  s.info.casesRun = done;
  hb.stop();
}

main(body);
