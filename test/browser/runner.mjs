// The browser tests' runner: describe/it/before/after and an assert close
// to node:assert/strict, with no dependencies so that it loads in any page.
// index.html imports the test files (which register their tests here) and
// then calls run(). Results hold strings, not Error objects, because they
// cross to Node through JSON.

const root = { name: '', parent: null, children: [], before: [], after: [] };
let current = root;
let failCurrent = null; // rejects the running test (or hook) on an uncaught error
const stray = []; // uncaught errors while nothing was running

export function describe(name, fn) {
  const suite = { name, parent: current, children: [], before: [], after: [] };
  current.children.push(suite);
  current = suite;
  try {
    const r = fn();
    if (typeof r?.then === 'function') throw new Error(`describe('${name}'): the callback must be synchronous`);
  } finally { current = suite.parent; }
}

// options.timeout: milliseconds (default 30 s). The function may be async; it
// is called with `this` = { skip } so that this.skip(reason) works too.
export function it(name, fn, { timeout = 30000 } = {}) {
  current.children.push({ name, fn, timeout, parent: current });
}

export function before(fn, { timeout = 30000 } = {}) { current.before.push({ fn, timeout }); }
export function after(fn, { timeout = 30000 } = {}) { current.after.push({ fn, timeout }); }

class Skip extends Error {}
export function skip(reason = '') { throw new Skip(reason); }

// Called by the page for window 'error' and 'unhandledrejection' events:
// like mocha, the error fails whatever is running.
export function uncaught(error) {
  if (failCurrent) failCurrent(error);
  else stray.push(error);
}

export class AssertionError extends Error {
  constructor(message) { super(message); this.name = 'AssertionError'; }
}

function show(v) {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v); // JSON has no NaN
  if (v instanceof DataView) return `DataView(${v.byteLength})`;
  if (ArrayBuffer.isView(v)) {
    const items = Array.from(v.slice(0, 16), String).join(', ');
    return `${v.constructor.name}(${v.length}) [${items}${v.length > 16 ? ', ...' : ''}]`;
  }
  try { return JSON.stringify(v) ?? String(v); } catch { return String(v); }
}

function format(e) {
  if (e instanceof Error) {
    const head = `${e.name}: ${e.message}`;
    return e.stack && e.stack.includes(e.message) ? e.stack : `${head}\n${e.stack || ''}`.trim();
  }
  return `thrown non-Error: ${show(e)}`;
}

// Where actual and expected first differ, or null.
function diff(a, b, where) {
  if (Object.is(a, b)) return null;
  const mismatch = `${where || 'value'}: ${show(a)} !== ${show(b)}`;
  if (typeof a !== 'object' || typeof b !== 'object' || !a || !b) return mismatch;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) {
    return `${where || 'value'}: ${a.constructor?.name} !== ${b.constructor?.name}`;
  }
  if (a instanceof ArrayBuffer || a instanceof SharedArrayBuffer) {
    return diff(new Uint8Array(a), new Uint8Array(b), where);
  }
  if (a instanceof DataView) {
    const bytes = (v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    return diff(bytes(a), bytes(b), where);
  }
  if (Array.isArray(a) || ArrayBuffer.isView(a)) {
    if (a.length !== b.length) return `${where}.length: ${a.length} !== ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = diff(a[i], b[i], `${where}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (Object.getPrototypeOf(a) !== Object.prototype && Object.getPrototypeOf(a) !== null) return mismatch;
  const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
  if (ka.join() !== kb.join()) return `${where || 'value'} keys: ${show(ka)} !== ${show(kb)}`;
  for (const k of ka) {
    const d = diff(a[k], b[k], `${where}.${k}`);
    if (d) return d;
  }
  return null;
}

// matcher: undefined, a RegExp (tried on the message and on String(error)),
// an Error class, a validation function returning true, or an object whose
// properties must match (RegExp values are tried on string properties).
function check(error, matcher, message) {
  const fail = (why) => {
    const e = new AssertionError(message || `${why}; got ${format(error)}`);
    e.cause = error;
    throw e;
  };
  if (matcher === undefined) return;
  if (matcher instanceof RegExp) {
    const text = String(error?.message ?? error);
    if (!matcher.test(text) && !matcher.test(String(error))) fail(`error does not match ${matcher}`);
  } else if (typeof matcher === 'function') {
    if (matcher === Error || matcher.prototype instanceof Error) {
      if (!(error instanceof matcher)) fail(`expected an instance of ${matcher.name}`);
    } else if (matcher(error) !== true) fail('validation function did not return true');
  } else {
    for (const [k, v] of Object.entries(matcher)) {
      const ok = v instanceof RegExp && typeof error?.[k] === 'string'
        ? v.test(error[k]) : !diff(error?.[k], v, k);
      if (!ok) fail(`error.${k} is ${show(error?.[k])}, expected ${show(v)}`);
    }
  }
}

export const assert = {
  ok(value, message) {
    if (!value) throw new AssertionError(message || `expected a truthy value, got ${show(value)}`);
  },
  // Object.is, as node:assert/strict: NaN equals NaN, 0 and -0 differ.
  equal(actual, expected, message) {
    if (!Object.is(actual, expected)) throw new AssertionError(message || `${show(actual)} !== ${show(expected)}`);
  },
  deepEqual(actual, expected, message) {
    const d = diff(actual, expected, '');
    if (d) throw new AssertionError(message || `not deep-equal at ${d}`);
  },
  fail(message = 'failed') { throw new AssertionError(message); },
  throws(fn, matcher, message) {
    try { fn(); } catch (e) { return check(e, matcher, message); }
    throw new AssertionError(message || 'expected the function to throw');
  },
  // A function is called first; if it throws instead of returning a rejected
  // promise, that is a failure in its own right (an API contract).
  async rejects(promiseOrFn, matcher, message) {
    let promise = promiseOrFn;
    if (typeof promiseOrFn === 'function') {
      try { promise = promiseOrFn(); } catch (e) {
        throw new AssertionError(`expected a rejected promise, but the function threw: ${format(e)}`);
      }
    }
    if (typeof promise?.then !== 'function') throw new AssertionError(`expected a promise, got ${show(promise)}`);
    try { await promise; } catch (e) { return check(e, matcher, message); }
    throw new AssertionError(message || 'expected the promise to reject');
  },
};

// Runs fn with a timeout; an uncaught error in the page fails it too. A test
// that times out keeps running in the background: there is no way to stop it.
async function guarded(fn, timeout) {
  let timer;
  try {
    return await new Promise((resolve, reject) => {
      failCurrent = reject;
      timer = setTimeout(() => reject(new Error(`Timeout of ${timeout} ms exceeded`)), timeout);
      (async () => fn.call({ skip }))().then(resolve, reject);
    });
  } finally { clearTimeout(timer); failCurrent = null; }
}

function* testsOf(suite) {
  for (const c of suite.children) yield* c.children ? testsOf(c) : [c];
}

function titleOf(node) {
  const names = [];
  for (let n = node; n !== root; n = n.parent) names.unshift(n.name);
  return names.join(' ');
}

// Runs every registered test serially. onResult(entry) is called as each
// one ends, and onStart(title) as it begins; entry is
// { title, state: 'passed' | 'failed' | 'skipped', error?, reason?, ms }.
export async function run({ onResult = () => {}, onStart = () => {} } = {}) {
  const results = { passed: 0, failed: [], skipped: 0, tests: [] };
  const record = (entry) => {
    results.tests.push(entry);
    if (entry.state === 'passed') results.passed++;
    else if (entry.state === 'skipped') results.skipped++;
    else results.failed.push({ title: entry.title, error: entry.error });
    onResult(entry);
  };
  for (const e of stray.splice(0)) record({ title: 'uncaught error before the tests', state: 'failed', error: format(e), ms: 0 });

  async function suite(s) {
    // A failing before hook skips the tests, but the after hooks still run:
    // they clean up whatever the hooks before it did set up.
    let ready = true;
    for (const h of s.before) {
      try { await guarded(h.fn, h.timeout); } catch (e) {
        ready = false;
        if (e instanceof Skip) { // skip() in a before hook skips the whole describe block
          for (const t of testsOf(s)) record({ title: titleOf(t), state: 'skipped', reason: e.message, ms: 0 });
        } else record({ title: `${titleOf(s)} "before" hook`.trim(), state: 'failed', error: format(e), ms: 0 });
        break;
      }
    }
    for (const c of ready ? s.children : []) {
      if (c.children) { await suite(c); continue; }
      const title = titleOf(c);
      onStart(title);
      const t0 = performance.now();
      try {
        await guarded(c.fn, c.timeout);
        record({ title, state: 'passed', ms: performance.now() - t0 });
      } catch (e) {
        record(e instanceof Skip
          ? { title, state: 'skipped', reason: e.message, ms: 0 }
          : { title, state: 'failed', error: format(e), ms: performance.now() - t0 });
      }
    }
    for (const h of s.after) {
      try { await guarded(h.fn, h.timeout); } catch (e) {
        if (!(e instanceof Skip)) record({ title: `${titleOf(s)} "after" hook`.trim(), state: 'failed', error: format(e), ms: 0 });
      }
    }
  }
  await suite(root);
  for (const e of stray.splice(0)) record({ title: 'uncaught error between tests', state: 'failed', error: format(e), ms: 0 });
  return results;
}
