'use strict';

// task-reentrancy: user code at every point where a task pool (new
// Pool({ tasks })) calls user code or hands control back -- a getter on an
// element of `args`, a Proxy as `args`, a getter nested in an argument
// (run only by the serializer), a getter on options.signal, a Proxy as
// options, abort listeners added before and after Penny's own, the
// continuation of the n-th task of a burst (while the pool delivers a
// batch of completions), the rejection handler of a failed task, and the
// continuation of close() -- on a pool whose task module has loaded, and
// on a fresh one whose runs still wait for the module's names. From each
// of them: run a JS task (plain, with an object, nested: its own argument
// getter runs yet another task), run a kernel, close (once, twice),
// terminate (once, twice), close then terminate, terminate then close,
// abort the call's own signal or another task's, make a second task pool,
// or throw.
//
// Why: README "Arguments": user code that runs during run() runs before
// the pool changes anything and may call run or close on the same pool; a
// pool it closed refuses the call. That holds for a getter only the
// serializer reaches too: the pool and the signal are checked again after
// the arguments are serialized, so a close() or terminate() there rejects
// the call with ERR_PENNY_CLOSED and an abort of its own signal with the
// signal's reason. A fresh pool copies a JS task's arguments in the call
// too, so the same holds there; a kernel run by name that waited for the
// module's names runs even if close() came after the call.
// README "Your own JavaScript": terminate() rejects every unfinished task
// with ERR_PENNY_CLOSED, even an endless one. DESIGN.md §4: every promise
// settles exactly once.
//
// Checks, per (hook, action) case: every promise (the hooked call, the
// background tasks -- an endless one too when the action terminates --,
// what the action submits) settles exactly once within a bound, with the
// right value or a reason its case allows: ERR_PENNY_CLOSED only once
// close() (for a call made after it, or during the call's own run()) or
// terminate() was called, the signal's reason once it aborted, the hook's
// own error; a call whose pool was closed (before the pool accepted it) or
// terminated, or whose signal aborted, during run() never resolves, and
// neither does a background task run after close();
// close() and terminate() resolve and return the same promise each time;
// the event loop is never blocked; afterwards a pool left open still adds
// 2 + 2 and has stats() with pending 0, and closes. Pinned first, outside
// the random plan: a kernel and a JS task run by name on a fresh pool,
// then close(), both resolve; close(), terminate() and an abort of the
// call's own signal in a nested getter, on a warm pool and on a fresh one.

const path = require('node:path');
const {
  main, penny, Tracker, Heartbeat, within, isPennyError, show,
} = require('../lib');

const TASKS = path.join(__dirname, '..', 'fixtures', 'tasks.js');
const MiB = 1 << 20;
const GROUP = 4; // destructive cases side by side

class HookError extends Error {}

// ---- A case. ----

function makeCase(s, hook, action, pool, fresh) {
  const c = {
    s, hook, action, pool, fresh,
    name: `${hook.name} -> ${action.name}${fresh ? ' (fresh pool)' : ''}`,
    tracker: new Tracker(s),
    ctrl: new AbortController(),      // the hooked call's signal
    ownReason: new HookError('own abort'),
    ctrl2: new AbortController(),     // a background task's signal
    fired: 0, inCall: false,
    closeCalled: false, terminateCalled: false,
    closes: [], terminates: [], extraPools: [],
    abortedInCall: false, terminatedInCall: false, closedInCall: false,
  };
  return c;
}

// Background work: ordinary tasks, an async one, a kernel, one under a
// second signal, and an endless one when the action terminates.
function background(c) {
  for (let i = 0; i < 8; i++) {
    track(c, c.pool.run('add', [i, 100]), `bg add ${i}`, i + 100);
  }
  track(c, c.pool.run('later', [5, 15]), 'bg later', 10);
  // On a fresh pool it waits for the module's names, and runs even if
  // close() comes in between.
  track(c, c.pool.run('fib', [12]), 'bg fib', 144);
  track(c, c.pool.run('busy', [3], { signal: c.ctrl2.signal }), 'bg busy',
    3, c.ctrl2);
  // Not on a single thread (the hooks that wait for tasks to finish
  // would wait for ever), nor where the hook waits for close().
  if (c.action.name.includes('terminate') && c.pool.threads > 1 &&
      !c.hook.closes) {
    track(c, c.pool.run('forever'), 'bg forever', 'never');
  }
}

// The user code at a hook: runs the action once.
function act(c) {
  c.fired++;
  if (c.fired > 1) return;
  const before = [c.ctrl.signal.aborted, c.terminateCalled, c.closeCalled];
  try {
    c.action.run(c);
  } finally {
    // A getter nested in an argument runs only while run() serializes
    // the arguments: in the call, on a fresh pool too.
    if (c.inCall || c.hook.serializer) {
      c.abortedInCall ||= !before[0] && c.ctrl.signal.aborted;
      c.terminatedInCall ||= !before[1] && c.terminateCalled;
      c.closedInCall ||= !before[2] && c.closeCalled;
    }
  }
}

// For listeners and continuations: a HookError there is the user's own
// uncaught exception, which this scenario does not want.
function actQuietly(c) {
  try {
    act(c);
  } catch (err) {
    if (!(err instanceof HookError)) throw err;
  }
}

// Tracks a promise that must resolve with `expected` (undefined: any;
// 'never': must not resolve) or reject with a reason the case allows.
// `hooked`: the call the hook runs inside.
// `okReject(reason)` accepts a rejection of the case's own making.
function track(c, promise, label, expected, ctrl, hooked = false,
  okReject = undefined) {
  // The hooked call is judged by the pool's state before it began.
  const closedAtSubmit = hooked ? c.closedBeforeCall
    : c.closeCalled || c.terminateCalled;
  const rec = c.tracker.add(promise, `${c.name}: ${label}`, (r) => {
    const closedBeforeAccepted = hooked && c.closedInCall;
    if (r.status === 'resolved') {
      if (expected === 'never') return `resolved with ${show(r.value)}`;
      if (closedAtSubmit) return 'resolved although run after close()';
      if (hooked && c.terminatedInCall) {
        return 'resolved although its pool was terminated during run()';
      }
      if (hooked && c.abortedInCall) {
        return 'resolved although its signal aborted during run()';
      }
      if (closedBeforeAccepted) {
        return 'resolved although its pool was closed during run()';
      }
      if (expected === undefined || Object.is(r.value, expected)) return null;
      if (typeof expected === 'function' && expected(r.value)) return null;
      return `resolved with ${show(r.value)}, expected ${
        typeof expected === 'function' ? 'another value' : show(expected)}`;
    }
    const e = r.value;
    if (okReject !== undefined && okReject(e)) return null;
    if (isPennyError(e, ['ERR_PENNY_CLOSED'])) {
      if (c.terminateCalled || closedAtSubmit) return null;
      if (closedBeforeAccepted) return null;
      return 'ERR_PENNY_CLOSED, but neither terminate() nor a close() ' +
        'before the pool accepted the call';
    }
    if (ctrl !== undefined && ctrl.signal.aborted &&
        e === ctrl.signal.reason) return null;
    // The hook's error, thrown where the serializer reached it, is an
    // argument that cannot be cloned.
    if (hooked && c.action.name === 'throw' && (e instanceof HookError ||
        (c.hook.serializer && isPennyError(e, ['ERR_PENNY_TASK']) &&
         /hook threw/.test(e.message)))) return null;
    return `rejected with ${show(e)}`;
  });
  return rec;
}

// ---- Actions. ----

// Calls c.pool.close() or c.pool.terminate() (`kind`), noting the call in
// c.closeCalled / c.terminateCalled and its promise in c.closes /
// c.terminates.
function end(c, kind) {
  c[`${kind}Called`] = true;
  const p = c.pool[kind]();
  c[`${kind}s`].push(p);
}

// The same call twice in a row: both must return the same promise.
function endTwice(c, kind) {
  c[`${kind}Called`] = true;
  const a = c.pool[kind]();
  const b = c.pool[kind]();
  c.s.check(a === b, `${c.name}: ${kind}() twice gave two promises`);
  c[`${kind}s`].push(a);
}

const ACTIONS = [
  { name: 'run-task',
    run: (c) => track(c, c.pool.run('add', [40, 2]), 'inner add', 42) },
  { name: 'run-task-object',
    run: (c) => track(c, c.pool.run('tag', [{ k: 'a', v: [1] }]),
      'inner tag', 'a:1') },
  { name: 'run-nested',
    run: (c) => track(c, c.pool.run('tag', [{
      get k() {
        track(c, c.pool.run('add', [1, 1]), 'innermost add', 2);
        return 'n';
      },
      v: 'm',
    }]), 'nested tag', 'n:m') },
  { name: 'run-kernel',
    run: (c) => track(c, c.pool.run('fib', [10]), 'inner fib', 55) },
  { name: 'close', destructive: true, run: (c) => end(c, 'close') },
  { name: 'close-twice', destructive: true,
    run: (c) => endTwice(c, 'close') },
  { name: 'terminate', destructive: true, run: (c) => end(c, 'terminate') },
  { name: 'terminate-twice', destructive: true,
    run: (c) => endTwice(c, 'terminate') },
  { name: 'close-then-terminate', destructive: true,
    run: (c) => {
      end(c, 'close');
      end(c, 'terminate');
    } },
  { name: 'terminate-then-close', destructive: true,
    run: (c) => {
      end(c, 'terminate');
      end(c, 'close');
    } },
  { name: 'abort-own', run: (c) => c.ctrl.abort(c.ownReason) },
  { name: 'abort-other', run: (c) => c.ctrl2.abort() },
  { name: 'new-task-pool', expensive: true,
    run: (c) => {
      const q = new (penny().Pool)({ threads: 1, tasks: TASKS,
        arenaBytes: MiB });
      c.extraPools.push(q);
      const p = q.run('add', [5, 6]);
      c.tracker.add(p, `${c.name}: add on a pool made in a hook`,
        (r) => (r.status === 'resolved' && r.value === 11 ? null
          : `${r.status} with ${show(r.value)}`));
    } },
  { name: 'throw', run: () => { throw new HookError('hook threw'); } },
];

// ---- Hooks: where the pool runs user code. ----

// Each returns nothing; it makes the hooked call (tracked, hooked = true)
// or arranges for the action to run later.
const HOOKS = [
  { name: 'arg-getter', inCall: true,
    call: (c) => {
      const args = [0, 4];
      Object.defineProperty(args, 0, {
        enumerable: true, get() { act(c); return 3; },
      });
      return [c.pool.run('add', args, { signal: c.ctrl.signal }), 7];
    } },
  { name: 'args-proxy', inCall: true,
    call: (c) => {
      const args = new Proxy([3, 4], {
        get(t, k, r) {
          if (k === '0') act(c);
          return Reflect.get(t, k, r);
        },
      });
      return [c.pool.run('add', args, { signal: c.ctrl.signal }), 7];
    } },
  { name: 'nested-getter', inCall: true, serializer: true,
    call: (c) => [c.pool.run('tag', [{
      get k() { act(c); return 3; }, v: 4,
    }], { signal: c.ctrl.signal }), '3:4'] },
  { name: 'nested-getter-in-array', inCall: true, serializer: true,
    call: (c) => [c.pool.run('echo', [[1, {
      get x() { act(c); return 2; },
    }]], { signal: c.ctrl.signal }), (v) => v[0][1].x === 2] },
  { name: 'signal-getter', inCall: true,
    call: (c) => [c.pool.run('add', [3, 4], {
      get signal() { act(c); return c.ctrl.signal; },
    }), 7] },
  { name: 'options-proxy', inCall: true,
    call: (c) => [c.pool.run('add', [3, 4], new Proxy(
      { signal: c.ctrl.signal }, {
        get(t, k, r) {
          act(c);
          return Reflect.get(t, k, r);
        },
      })), 7] },
  { name: 'abort-listener-before',
    call: (c) => {
      c.ctrl.signal.addEventListener('abort', () => actQuietly(c));
      const p = c.pool.run('spinUntilCancelled', [5000],
        { signal: c.ctrl.signal });
      setTimeout(() => c.ctrl.abort(c.ownReason), c.s.int(0, 30));
      return [p, 'never'];
    } },
  { name: 'abort-listener-after',
    call: (c) => {
      const p = c.pool.run('spinUntilCancelled', [5000],
        { signal: c.ctrl.signal });
      c.ctrl.signal.addEventListener('abort', () => actQuietly(c));
      setTimeout(() => c.ctrl.abort(c.ownReason), c.s.int(0, 30));
      return [p, 'never'];
    } },
  { name: 'continuation',
    call: (c) => {
      const nth = c.s.int(1, 200);
      let n = 0;
      for (let i = 0; i < 200; i++) {
        const p = c.pool.run(i % 2 ? 'add' : 'tag',
          i % 2 ? [i, 1] : [{ k: i, v: 'b' }]);
        track(c, p, `burst ${i}`, i % 2 ? i + 1 : `${i}:b`);
        p.then(() => {
          if (++n === nth) actQuietly(c);
        }, () => {});
      }
      return null;
    } },
  { name: 'rejection-continuation',
    call: (c) => {
      const p = c.pool.run('throwNull');
      p.catch(() => actQuietly(c));
      for (let i = 0; i < 50; i++) {
        track(c, c.pool.run('add', [i, 2]), `after-failure ${i}`, i + 2);
      }
      return [p, 'never', (e) => e === null];
    } },
  { name: 'close-continuation', closes: true,
    call: (c) => {
      for (let i = 0; i < 50; i++) {
        track(c, c.pool.run('add', [i, 3]), `before close ${i}`, i + 3);
      }
      c.closeCalled = true;
      const closing = c.pool.close();
      c.closes.push(closing);
      closing.then(() => actQuietly(c));
      return null;
    } },
];

// ---- Running a case. ----

async function runCase(c) {
  background(c);
  c.closedBeforeCall = c.closeCalled || c.terminateCalled;
  c.inCall = Boolean(c.hook.inCall);
  let made;
  try {
    made = c.hook.call(c);
  } catch (err) {
    made = null;
    c.s.fail(`${c.name}: the hook's call threw ${show(err)}`);
  }
  c.inCall = false;
  if (made !== null) {
    const [p, expected, okReject] = made;
    track(c, p, 'hooked call', expected, c.ctrl, true, okReject);
  }
  await c.tracker.wait({ stallMs: 3000, capMs: 10000 });
  c.tracker.judge('', `(${c.name})`);
  for (const p of c.closes) {
    const r = await within(p, 5000);
    c.s.check(r.status === 'resolved', () => `${c.name}: close() ${
      r.status} with ${show(r.value)}`);
  }
  for (const p of c.terminates) {
    const r = await within(p, 5000);
    c.s.check(r.status === 'resolved', () => `${c.name}: terminate() ${
      r.status} with ${show(r.value)}`);
  }
  for (const q of c.extraPools) {
    const r = await within(q.close(), 5000);
    c.s.check(r.status === 'resolved', `${c.name}: the hook's pool's close()`);
  }
}

// A pool left open must still work; then it closes.
async function finishPool(s, pool, what) {
  if (pool.closed) {
    const r = await within(pool.run('add', [1, 1]), 3000);
    s.check(r.status === 'rejected' &&
      isPennyError(r.value, ['ERR_PENNY_CLOSED']), () => `${what}: a run ` +
      `after close ${r.status} with ${show(r.value)}`);
    return;
  }
  const r = await within(pool.run('add', [2, 2]), 5000);
  s.check(r.status === 'resolved' && r.value === 4, () => `${what}: ` +
    `afterwards add(2, 2) ${r.status} with ${show(r.value)}`);
  const st = pool.stats();
  s.check(st.pending === 0, `${what}: stats().pending ${st.pending}`);
  const cl = await within(pool.close(), 5000);
  s.check(cl.status === 'resolved', `${what}: close() ${cl.status}`);
}

// The cases above that the random plan may not draw, each once.
async function pinned(s, heart) {
  const { Pool } = penny();
  const newPool = async (fresh) => {
    const pool = new Pool({ threads: 1, tasks: TASKS, arenaBytes: MiB });
    if (!fresh) {
      const warm = await within(pool.run('add', [0, 0]), 10000);
      s.check(warm.status === 'resolved', `pinned: the first task ${
        warm.status}`);
    }
    return pool;
  };
  const settled = async (what, p, ms = 5000) => {
    const r = await within(p, ms);
    s.check(r.status === 'resolved', () => `${what}: ${r.status}${
      r.status === 'rejected' ? ` with ${show(r.value)}` : ''}`);
  };

  s.phase = 'pinned: a kernel by name on a fresh pool, then close()';
  heart.reset();
  let pool = await newPool(true);
  const fib = pool.run('fib', [12]); // waits for the module's names
  const add = pool.run('add', [1, 2]);
  let closing = pool.close();
  const [rf, ra] = await Promise.all([within(fib, 5000), within(add, 5000)]);
  s.check(rf.status === 'resolved' && rf.value === 144, () => 'pinned: ' +
    `fib(12) on a fresh pool, then close(): ${rf.status} with ${
      show(rf.value)}, expected 144`);
  s.check(ra.status === 'resolved' && ra.value === 3, () => 'pinned: ' +
    `add(1, 2) on a fresh pool, then close(): ${ra.status} with ${
      show(ra.value)}, expected 3`);
  await settled('pinned: close() of a fresh pool', closing);
  heart.check(s, s.phase);

  for (const fresh of [false, true]) {
    for (const action of ['close', 'terminate', 'abort']) {
      const what = `pinned: ${action} in a nested getter (${
        fresh ? 'fresh' : 'warm'} pool)`;
      s.phase = what;
      heart.reset();
      pool = await newPool(fresh);
      const ctrl = new AbortController();
      const reason = new HookError('own abort');
      closing = null;
      const r = await within(pool.run('echo', [{
        get a() {
          if (action === 'close') closing = pool.close();
          else if (action === 'terminate') closing = pool.terminate();
          else ctrl.abort(reason);
          return 1;
        },
      }], { signal: ctrl.signal }), 5000);
      let why = null;
      if (action === 'abort') {
        if (r.status !== 'rejected' || r.value !== reason) {
          why = 'expected the signal\'s reason';
        }
      } else if (r.status !== 'rejected' ||
          !isPennyError(r.value, ['ERR_PENNY_CLOSED'])) {
        why = 'expected ERR_PENNY_CLOSED';
      }
      s.check(why === null, () => `${what}: the call ${r.status} with ${
        show(r.value)}, ${why}`);
      if (closing !== null) await settled(`${what}: ${action}()`, closing);
      await settled(`${what}: close()`, pool.close());
      heart.check(s, what);
    }
  }
}

async function body(s) {
  const { Pool } = penny();
  const heart = new Heartbeat();
  await pinned(s, heart);
  const newPool = () => new Pool({ threads: s.int(1, 3), tasks: TASKS,
    arenaBytes: MiB });
  const destructive = ACTIONS.filter((a) => a.destructive);
  const gentle = ACTIONS.filter((a) => !a.destructive);
  let cases = 0;

  // Gentle actions: one warm pool per hook, the cases one after another.
  for (const hook of HOOKS) {
    if (s.overBudget(0.4)) break;
    s.phase = `gentle: ${hook.name}`;
    let pool = null;
    for (const action of gentle) {
      if (action.expensive && !s.chance(0.3)) continue;
      if (pool === null) {
        pool = newPool();
        const warm = await within(pool.run('add', [0, 0]), 10000);
        s.check(warm.status === 'resolved', `${hook.name}: the first task ${
          warm.status}`);
      }
      heart.reset();
      const c = makeCase(s, hook, action, pool, false);
      s.phase = `case ${c.name}`;
      await runCase(c);
      heart.check(s, c.name);
      cases++;
      if (pool.closed) {
        // The hook closed it (close-continuation): the next case gets a
        // pool of its own.
        await finishPool(s, pool, c.name);
        pool = null;
      }
    }
    if (pool !== null) await finishPool(s, pool, `gentle ${hook.name}`);
  }

  // Destructive actions: a pool each, fresh (its runs wait for the
  // module's names) or warm, GROUP at a time.
  const plan = [];
  for (const hook of HOOKS) {
    const picks = ['close', 'terminate', s.pick(['close-twice',
      'terminate-twice', 'close-then-terminate', 'terminate-then-close'])];
    for (const name of picks) {
      plan.push({ hook, action: destructive.find((a) => a.name === name),
        fresh: s.chance(0.4) });
    }
  }
  s.shuffle(plan);
  for (let i = 0; i < plan.length; i += GROUP) {
    if (s.overBudget(0.75)) {
      s.info.skippedDestructive = plan.length - i;
      break;
    }
    const group = plan.slice(i, i + GROUP);
    s.phase = `destructive: ${group.map((g) =>
      `${g.hook.name}->${g.action.name}`).join(', ')}`;
    heart.reset();
    await Promise.all(group.map(async ({ hook, action, fresh }) => {
      const pool = newPool();
      if (!fresh) {
        const warm = await within(pool.run('add', [0, 0]), 10000);
        s.check(warm.status === 'resolved', `${hook.name}: the first task ${
          warm.status}`);
      }
      const c = makeCase(s, hook, action, pool, fresh);
      await runCase(c);
      await finishPool(s, pool, c.name);
      cases++;
    }));
    heart.check(s, s.phase);
  }
  heart.stop();
  s.info.cases = cases;
}

main(body);
