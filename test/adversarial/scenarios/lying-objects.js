'use strict';

// lying-objects: objects that claim to be something they are not, passed
// where a kernel writes: plain arrays and objects that carry an own
// `buffer` equal to pool.arena (with byteOffset/length pointing at another
// allocation), objects whose prototype is Float64Array.prototype,
// DataViews, a Uint8Array whose own `constructor` says Float64Array, typed
// arrays with own byteOffset/length/byteLength/BYTES_PER_ELEMENT/buffer,
// a view over an ordinary buffer that claims the arena as its buffer, a
// Float64Array subclass with a lying length getter, Node Buffers from the
// shared slab, views over another pool's arena (its reserved start too),
// views that start inside other allocations, multi-array kernels whose
// arrays lie about their lengths, patched %TypedArray%.prototype getters,
// ArrayBuffer.isView and Array.isArray, and free() of views that lie about
// where they are.
//
// Why: DESIGN.md §4: types, offsets and lengths come from the engine,
// never from properties a user can define; no write outside the arrays
// passed; a bad call rejects with TypeError ERR_PENNY_ARG or RangeError
// ERR_PENNY_RANGE and leaves the pool usable. CONVENTIONS.md rules 16, 18.
//
// Checks: guard blocks around and between every target (in this pool's
// arena, another pool's, an ordinary buffer, another SharedArrayBuffer,
// the Buffer slab) keep their pattern whatever the call resolves or
// rejects with; a real typed array, whatever it claims, is written exactly
// over its real range with the right element type (and summed with its
// real type); anything that is not one is refused with ERR_PENNY_ARG; the
// pool answers a fresh sum after every case.

const {
  MiB, main, penny, Guard, within, isPennyError, show, checkPoolWorks,
  checkClose,
} = require('../lib');

const KiB = 1024;
const TypedArray = Object.getPrototypeOf(Int8Array);
const taProto = TypedArray.prototype;

// ---- The memory under watch. ----

function setUp(s) {
  const { Pool } = penny();
  const P = new Pool({ threads: 2, arenaBytes: 4 * MiB });
  const Q = new Pool({ threads: 1, arenaBytes: MiB });
  const seed = s.int(0, 2 ** 31);
  const zone = (bytes, i) => new Guard(bytes, seed + i);
  const ctx = {
    s, P, Q,
    g1: zone(P.alloc(Uint8Array, 64 * KiB), 1),
    t: zone(P.alloc(Uint8Array, 64 * KiB), 2),     // targets in P's arena
    g2: zone(P.alloc(Uint8Array, 64 * KiB), 3),
    qg: zone(Q.alloc(Uint8Array, 64 * KiB), 4),
    qt: zone(Q.alloc(Uint8Array, 16 * KiB), 5),    // targets in Q's arena
    plain: zone(new Uint8Array(64 * KiB), 6),      // an ordinary buffer
    other: zone(new Uint8Array(new SharedArrayBuffer(64 * KiB)), 7),
  };
  // Three small Buffers, most likely neighbours in Node's shared slab.
  const slab = [Buffer.allocUnsafe(64), Buffer.allocUnsafe(64),
    Buffer.allocUnsafe(64)];
  ctx.b0 = zone(new Uint8Array(slab[0].buffer, slab[0].byteOffset, 64), 8);
  ctx.b1 = zone(new Uint8Array(slab[1].buffer, slab[1].byteOffset, 64), 9);
  ctx.b2 = zone(new Uint8Array(slab[2].buffer, slab[2].byteOffset, 64), 10);
  ctx.slab = slab;
  ctx.guards = ['g1', 't', 'g2', 'qg', 'qt', 'plain', 'other', 'b0', 'b1',
    'b2'].map((name) => ({ name, guard: ctx[name] }));
  ctx.heapStart = P.arena.byteLength - P.stats().heapBytes;
  ctx.qHeapStart = Q.arena.byteLength - Q.stats().heapBytes;
  return ctx;
}

// A clean view of `length` elements of Type at byte `at` of a zone.
function viewIn(zone, Type, at, length) {
  const b = zone.bytes;
  return new Type(b.buffer, b.byteOffset + at, length);
}

// Known small values in a view, and their sum.
function fillKnown(v) {
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    const x = (i % 7) + 1;
    v[i] = v instanceof BigInt64Array || v instanceof BigUint64Array
      ? BigInt(x) : x;
    sum += x;
  }
  return v instanceof BigInt64Array || v instanceof BigUint64Array
    ? BigInt(sum) : sum;
}

const stored = (Type, v) =>
  (Type === BigInt64Array || Type === BigUint64Array ? BigInt(v) : v);

// Own properties that lie, on any object (an array's length, which cannot
// be redefined, is set instead).
function lie(obj, props) {
  for (const [key, value] of Object.entries(props)) {
    if (Array.isArray(obj) && key === 'length') obj.length = value;
    else Object.defineProperty(obj, key, { value, configurable: true });
  }
  return obj;
}

// Lies that point at g1 in P's arena.
function g1Lies(ctx, extra = {}) {
  return {
    buffer: ctx.P.arena, byteOffset: ctx.g1.bytes.byteOffset, length: 64,
    byteLength: 512, BYTES_PER_ELEMENT: 8, constructor: Float64Array,
    ...extra,
  };
}

// ---- One call: its outcome, the guards, the pool afterwards. ----

// expect: 'resolve', 'reject' (with one of `codes`) or 'either'; legit:
// [zone, start, end) ranges the call may write; verify(value) checks a
// resolved call's effect and returns null or what is wrong.
async function call(ctx, name, fn, { expect, codes = ['ERR_PENNY_ARG',
  'ERR_PENNY_RANGE'], legit = [], verify } = {}) {
  const { s } = ctx;
  let promise;
  try {
    promise = fn();
  } catch (err) {
    s.fail(`${name}: run() threw ${show(err)} synchronously`);
    return;
  }
  const r = await within(promise, 5000);
  if (!s.check(r.status !== 'timeout', `${name}: never settled`)) return;
  if (r.status === 'resolved') {
    s.check(expect !== 'reject', () => `${name}: resolved with ${
      show(r.value)}, expected a rejection with ${codes.join(' or ')}`);
    if (verify !== undefined && expect !== 'reject') {
      const why = verify(r.value);
      s.check(!why, () => `${name}: ${why}`);
    }
  } else {
    s.check(expect !== 'resolve', () => `${name}: rejected with ${
      show(r.value)}; a real typed array must be accepted`);
    if (expect === 'reject') {
      s.check(isPennyError(r.value, codes), () => `${name}: rejected with ${
        show(r.value)}, expected ${codes.join(' or ')}`);
    } else {
      s.check(r.value instanceof Error, () => `${name}: rejected with ${
        show(r.value)}, not an Error`);
    }
  }
  checkGuards(ctx, name, legit);
  await checkPoolWorks(s, ctx.P, name);
}

function checkGuards(ctx, name, legit) {
  for (const { name: zoneName, guard } of ctx.guards) {
    const except = legit.filter(([z]) => z === guard)
      .map(([, lo, hi]) => [lo, hi]);
    const at = guard.changed(except);
    ctx.s.check(at < 0, () => `${name}: wrote ${zoneName}+${at} (outside ` +
      'every array passed)');
    guard.reset();
  }
}

// The bytes clean views cover, as [zone, start, end) ranges of every
// guarded zone they overlap.
function legitOf(ctx, ...views) {
  const ranges = [];
  for (const v of views) {
    for (const { guard } of ctx.guards) {
      const b = guard.bytes;
      if (b.buffer !== v.buffer) continue;
      const lo = Math.max(v.byteOffset, b.byteOffset);
      const hi = Math.min(v.byteOffset + v.byteLength,
        b.byteOffset + b.byteLength);
      if (lo < hi) ranges.push([guard, lo - b.byteOffset, hi - b.byteOffset]);
    }
  }
  return ranges;
}

// verify() for fill: every element of the clean view holds v.
const filled = (clean, v) => () => {
  const want = stored(clean.constructor, v);
  for (let i = 0; i < clean.length; i++) {
    if (clean[i] !== want) {
      return `element ${i} of the real array is ${show(clean[i])}, not ${
        show(want)} (written with the wrong type or range)`;
    }
  }
  return null;
};
const summed = (want) => (value) => (Object.is(value, want) ? null
  : `sum ${show(value)}, expected ${show(want)} (the real type and length)`);

// fill and sum of a real typed array that lies: both must use the truth.
async function realArray(ctx, name, zone, Type, at, length, addLies) {
  const v = 1 + ctx.s.int(0, 100);
  const clean = viewIn(zone, Type, at, length);
  await call(ctx, `${name} (fill)`, () => ctx.P.run('fill',
    [addLies(viewIn(zone, Type, at, length)), v]), {
    expect: 'resolve', legit: legitOf(ctx, clean), verify: filled(clean, v),
  });
  const want = fillKnown(new Type(length)); // the sum of the known values
  await call(ctx, `${name} (sum)`, () => {
    fillKnown(viewIn(zone, Type, at, length));
    return ctx.P.run('sum', [addLies(viewIn(zone, Type, at, length))]);
  }, { expect: 'resolve', legit: legitOf(ctx, clean), verify: summed(want) });
}

// fill and sum of something a kernel must refuse (legit: the memory it
// really covers, if it is a typed array of the wrong kind).
async function fake(ctx, name, make, legit = []) {
  await call(ctx, `${name} (fill)`, () => ctx.P.run('fill', [make(), 9]),
    { expect: 'reject', codes: ['ERR_PENNY_ARG'], legit });
  await call(ctx, `${name} (sum)`, () => ctx.P.run('sum', [make()]),
    { expect: 'reject', codes: ['ERR_PENNY_ARG'], legit });
}

// Calls fn with properties of `target` replaced, and restores them before
// returning: the user's patch is in place while run() reads its arguments.
function patched(target, props, fn) {
  const saved = {};
  for (const key of Object.keys(props)) {
    saved[key] = Object.getOwnPropertyDescriptor(target, key);
    Object.defineProperty(target, key, { ...props[key], configurable: true });
  }
  try {
    return fn();
  } finally {
    for (const key of Object.keys(props)) {
      Object.defineProperty(target, key, saved[key]);
    }
  }
}

// ---- The cases. ----

const CASES = {
  // Not typed arrays at all.
  async fakes(ctx) {
    const { P, Q } = ctx;
    const at = (zone) => ({ buffer: zone === ctx.qg ? Q.arena : P.arena,
      byteOffset: zone.bytes.byteOffset });
    for (const [target, where] of [['g1', at(ctx.g1)], ['qg', at(ctx.qg)],
      ['ring', { buffer: P.arena, byteOffset: 0 }]]) {
      const props = g1Lies(ctx, where);
      await fake(ctx, `plain array lying about ${target}`,
        () => lie([1, 2, 3, 4, 5, 6, 7, 8], props));
      await fake(ctx, `plain object lying about ${target}`,
        () => lie({ [Symbol.toStringTag]: 'Float64Array' }, props));
      await fake(ctx, `Object.create(Float64Array.prototype) at ${target}`,
        () => lie(Object.create(Float64Array.prototype), props));
      await fake(ctx, `setPrototypeOf(object, Float64Array.prototype) at ${
        target}`, () => lie(Object.setPrototypeOf({ 0: 1, 1: 2 },
        Float64Array.prototype), props));
    }
    await fake(ctx, 'DataView over g1', () => new DataView(P.arena,
      ctx.g1.bytes.byteOffset, 64));
    await fake(ctx, 'DataView over the ordinary buffer', () => new DataView(
      ctx.plain.bytes.buffer, 0, 64));
    await fake(ctx, 'the arena itself', () => P.arena);
    await fake(ctx, 'an ArrayBuffer', () => new ArrayBuffer(64));
    const clamped = legitOf(ctx, viewIn(ctx.t, Uint8ClampedArray, 0, 64));
    await fake(ctx, 'Uint8ClampedArray in the arena', () => viewIn(ctx.t,
      Uint8ClampedArray, 0, 64), clamped);
    await fake(ctx, 'Uint8ClampedArray claiming to be a Uint8Array',
      () => lie(viewIn(ctx.t, Uint8ClampedArray, 0, 64),
        { constructor: Uint8Array }), clamped);
    await call(ctx, 'a Proxy of a view (fill)', () => P.run('fill',
      [new Proxy(viewIn(ctx.t, Float64Array, 0, 8), {}), 4]), {
      expect: 'either', legit: legitOf(ctx, viewIn(ctx.t, Float64Array, 0, 8)),
    });
  },

  // Real typed arrays with lying own properties, on every path.
  async liars(ctx) {
    const { P, Q, s } = ctx;
    const at = s.int(0, 64) * 64;
    await realArray(ctx, 'Uint8Array with own constructor Float64Array',
      ctx.t, Uint8Array, at, 64, (v) => lie(v, { constructor: Float64Array }));
    await realArray(ctx, 'Uint8Array with a constructor getter',
      ctx.t, Uint8Array, at, 64, (v) => {
        Object.defineProperty(v, 'constructor', { get: () => Float64Array });
        return v;
      });
    for (const [zone, where] of [[ctx.t, 'arena'], [ctx.plain, 'ordinary'],
      [ctx.other, 'other-shared']]) {
      await realArray(ctx, `Uint8Array (${where}) claiming Float64Array`,
        zone, Uint8Array, at, 64, (v) => lie(v, { constructor: Float64Array,
          BYTES_PER_ELEMENT: 8 }));
      await realArray(ctx, `Float64Array (${where}) with lying offset/length`,
        zone, Float64Array, at, 16, (v) => lie(v, g1Lies(ctx, {
          length: 1e6, byteLength: 8e6, BYTES_PER_ELEMENT: 1,
        })));
      await realArray(ctx, `Int16Array (${where}) claiming Q's arena`,
        zone, Int16Array, at, 32, (v) => lie(v, { buffer: Q.arena,
          byteOffset: ctx.qg.bytes.byteOffset }));
      await realArray(ctx, `BigInt64Array (${where}) claiming Float64Array`,
        zone, BigInt64Array, at, 8, (v) => lie(v,
          { constructor: Float64Array }));
      await realArray(ctx, `Float32Array (${where}) claiming 8-byte elements`,
        zone, Float32Array, at, 16, (v) => lie(v, { BYTES_PER_ELEMENT: 8,
          length: 32, byteLength: 256 }));
      await realArray(ctx, `empty Uint32Array (${where}) claiming 1e6`, zone,
        Uint32Array, at, 0, (v) => lie(v, { length: 1e6, byteLength: 4e6 }));
    }
    // An ordinary buffer's view that claims the arena as its buffer, at
    // an offset that is g1's offset in the arena.
    const off = ctx.g1.bytes.byteOffset;
    const decoy = new Uint8Array(off + 64);
    const dv = new Uint8Array(decoy.buffer, off, 64);
    lie(dv, { buffer: P.arena });
    await call(ctx, 'ordinary view claiming the arena at g1 (fill)',
      () => P.run('fill', [dv, 5]), {
        expect: 'resolve',
        verify: () => (decoy.subarray(off).every((b) => b === 5) ? null
          : 'the real (ordinary) array was not written'),
      });
    // A subclass whose length getter lies.
    class Liar extends Float64Array {
      get length() { return 1e6; }
      get byteOffset() { return ctx.g1.bytes.byteOffset; }
      static get [Symbol.species]() { return Float64Array; }
    }
    for (const [zone, where] of [[ctx.t, 'arena'], [ctx.plain, 'ordinary']]) {
      await realArray(ctx, `Float64Array subclass (${where}) with lying ` +
        'getters', zone, Float64Array, at, 16, (v) =>
        new Liar(v.buffer, v.byteOffset, 16));
    }
    // Node Buffers: one from the slab, and one over the arena.
    const v = 1 + s.int(0, 100);
    const b1 = ctx.slab[1];
    await call(ctx, 'Buffer from the shared slab (fill)',
      () => P.run('fill', [b1, v]), {
        expect: 'resolve', legit: legitOf(ctx, ctx.b1.bytes),
        verify: () => (ctx.b1.bytes.every((b) => b === v) ? null
          : 'the Buffer was not written'),
      });
    const arenaBuf = Buffer.from(P.arena, ctx.t.bytes.byteOffset + at, 64);
    await call(ctx, 'Buffer over the arena (fill)',
      () => P.run('fill', [arenaBuf, v]), {
        expect: 'resolve', legit: legitOf(ctx, arenaBuf),
        verify: () => (arenaBuf.every((b) => b === v) ? null
          : 'the Buffer was not written'),
      });
  },

  // Honest views in unusual places.
  async places(ctx) {
    const { P, Q, s } = ctx;
    const v = 1 + s.int(0, 100);
    // Inside another allocation: legit, and only those bytes.
    const inside = viewIn(ctx.g1, Float64Array, 64, 8);
    await call(ctx, 'a view inside another allocation (fill)',
      () => P.run('fill', [inside, v]), {
        expect: 'resolve', legit: legitOf(ctx, inside),
        verify: filled(inside, v),
      });
    // Another pool's arena.
    const inQ = viewIn(ctx.qt, Float64Array, 128, 32);
    await call(ctx, 'a view over another pool\'s arena (fill)',
      () => P.run('fill', [inQ, v]), {
        expect: 'resolve', legit: legitOf(ctx, inQ), verify: filled(inQ, v),
      });
    // This pool's reserved start, if it has one.
    if (ctx.heapStart > 0) {
      await call(ctx, 'a view over the reserved start (fill)',
        () => P.run('fill', [new Float64Array(P.arena, 0, 8), v]),
        { expect: 'reject', codes: ['ERR_PENNY_RANGE'] });
      await call(ctx, 'a view straddling the heap start (fill)',
        () => P.run('fill', [new Uint8Array(P.arena, ctx.heapStart - 8, 16),
          v]), { expect: 'reject', codes: ['ERR_PENNY_RANGE'] });
    }
    // Another pool's reserved start, which this pool sees as any shared
    // memory: whatever happens, that pool loses nothing.
    const qStart = new Int32Array(Q.arena, 0, Math.min(1024,
      Math.max(16, ctx.qHeapStart / 4)));
    const pending = [];
    for (let i = 0; i < 200; i++) pending.push(Q.run('fib', [12]));
    await call(ctx, 'a view over another pool\'s reserved start (fill)',
      () => P.run('fill', [qStart, -1]),
      { expect: 'either', legit: legitOf(ctx, qStart) });
    for (let i = 0; i < 200; i++) pending.push(Q.run('fib', [12]));
    const all = await within(Promise.allSettled(pending), 5000);
    s.check(all.status === 'resolved' && all.value.every((x) =>
      x.status === 'fulfilled' && x.value === 144), () =>
      'the other pool lost or broke tasks after its reserved start was ' +
      `filled through this pool: ${all.status === 'timeout'
        ? 'some never settled' : 'some rejected or were wrong'}`);
  },

  // Kernels with several arrays whose lengths lie.
  async shapes(ctx) {
    const { P } = ctx;
    const x = viewIn(ctx.t, Float64Array, 0, 64);
    for (let i = 0; i < 64; i++) x[i] = i % 16;
    const counts = viewIn(ctx.t, Uint32Array, 1024, 16);
    await call(ctx, 'histogram with counts claiming 1e6 bins', () => P.run(
      'histogram', [x, lie(viewIn(ctx.t, Uint32Array, 1024, 16),
        { length: 1e6, byteLength: 4e6 }), 0, 16]), {
      expect: 'resolve', legit: legitOf(ctx, counts, x),
      verify: () => (counts.every((c) => c === 4) ? null
        : `counts ${Array.from(counts).join(',')}, expected 4 in each of 16`),
    });
    const iters = viewIn(ctx.t, Uint32Array, 2048, 16);
    await call(ctx, 'mandelbrot into 16 cells claiming 100x100', () => P.run(
      'mandelbrot', [lie(iters, { length: 10000, byteLength: 40000 }), 100,
        100, -2, -1, 1, 1, 50]), { expect: 'reject' });
    const m = (at, n) => lie(viewIn(ctx.t, Float64Array, at, n),
      { length: 64, byteLength: 512 });
    await call(ctx, 'gemm with 4-element matrices claiming 8x8', () =>
      P.run('gemm', [m(0, 4), m(512, 4), m(4096, 4), 8, 8, 8]),
    { expect: 'reject' });
    await call(ctx, 'axpy with y shorter than it claims', () => P.run('axpy',
      [2, viewIn(ctx.t, Float64Array, 0, 64), m(4096, 8)]),
    { expect: 'reject' });
    await call(ctx, 'dot with b shorter than it claims', () => P.run('dot',
      [viewIn(ctx.t, Float64Array, 0, 64), m(4096, 8)]), { expect: 'reject' });
    await call(ctx, 'add with c shorter than it claims', () => P.run('add',
      [viewIn(ctx.t, Float64Array, 0, 64), viewIn(ctx.t, Float64Array, 0, 64),
        m(4096, 8)]), { expect: 'reject' });
  },

  // The engine's own getters and checks, patched by the user.
  async patches(ctx) {
    const { P, s } = ctx;
    const v = 1 + s.int(0, 100);
    const clean = viewIn(ctx.t, Float64Array, 256, 16);
    const target = viewIn(ctx.t, Float64Array, 256, 16);
    const g1 = ctx.g1.bytes.byteOffset;
    await call(ctx, 'patched %TypedArray%.prototype getters (fill)',
      () => patched(taProto, {
        byteOffset: { get() { return g1; } },
        length: { get() { return 1e6; } },
        byteLength: { get() { return 8e6; } },
      }, () => P.run('fill', [target, v])), {
        expect: 'either', legit: legitOf(ctx, clean),
        verify: filled(clean, v),
      });
    await call(ctx, 'patched Float64Array.prototype.constructor (fill)',
      () => patched(Float64Array.prototype, {
        constructor: { value: Uint8Array, writable: true },
      }, () => P.run('fill', [target, v])), {
        expect: 'either', legit: legitOf(ctx, clean),
        verify: filled(clean, v),
      });
    const fakeView = lie({}, g1Lies(ctx));
    await call(ctx, 'patched ArrayBuffer.isView with a fake view (fill)',
      () => patched(ArrayBuffer, {
        isView: { value: () => true, writable: true },
      }, () => P.run('fill', [fakeView, v])), { expect: 'either' });
    await call(ctx, 'patched Array.isArray with array-like args (fill)',
      () => patched(Array, {
        isArray: { value: () => true, writable: true },
      }, () => P.run('fill', { 0: lie({}, g1Lies(ctx)), 1: v, length: 2 })),
      { expect: 'either' });
  },

  // free() of views that lie about where they are.
  async frees(ctx) {
    const { P, Q, s } = ctx;
    const g1 = ctx.g1.bytes;
    const attempts = [
      ['a view with own byteOffset of g1', () => lie(
        P.alloc(Uint8Array, g1.length), { byteOffset: g1.byteOffset })],
      ['a plain object claiming g1', () => lie({}, {
        buffer: P.arena, byteOffset: g1.byteOffset, byteLength: g1.length,
        length: g1.length, constructor: Uint8Array })],
      ['an ordinary view claiming the arena at g1', () => lie(
        new Uint8Array(new ArrayBuffer(g1.byteOffset + 64), g1.byteOffset, 64),
        { buffer: P.arena })],
      ['a DataView over g1', () => new DataView(P.arena, g1.byteOffset,
        g1.length)],
    ];
    for (const [name, make] of attempts) {
      const victim = make();
      let thrown = null;
      try {
        P.free(victim);
      } catch (err) {
        thrown = err;
      }
      if (thrown !== null) {
        s.check(isPennyError(thrown, ['ERR_PENNY_ARG']), () =>
          `free(${name}) threw ${show(thrown)}, expected ERR_PENNY_ARG`);
      }
      // g1 is alive: a new block must not overlap it.
      const w = P.alloc(Uint8Array, g1.length);
      const overlap = w.byteOffset < g1.byteOffset + g1.length &&
        g1.byteOffset < w.byteOffset + w.length;
      s.check(!overlap, `free(${name}) freed g1: a new block overlaps it`);
      P.free(w);
      checkGuards(ctx, `free(${name})`, []);
    }
    let thrown = null;
    try {
      Q.free(viewIn(ctx.t, Uint8Array, 0, 64));
    } catch (err) {
      thrown = err;
    }
    s.check(isPennyError(thrown, ['ERR_PENNY_ARG']), () =>
      `free() of another pool's view: ${thrown ? show(thrown) : 'no throw'}`);
  },
};

async function body(s) {
  const ctx = setUp(s);
  const names = s.shuffle(Object.keys(CASES));
  for (const name of names) {
    s.phase = name;
    await CASES[name](ctx);
  }
  s.phase = 'close';
  await checkClose(s, ctx.P.close(), 'the pool');
  await checkClose(s, ctx.Q.close(), 'the other pool');
}

main(body);
