'use strict';

// overlap: concurrent kernels on overlapping views, while JavaScript writes
// into those views: two sorts of the same view (every element type), three
// sorts of partly overlapping subarrays, sorts of one memory seen through
// different element types, sort against fill, sum, scan and histogram on
// overlapping subarrays (histogram counting into its own input), and for
// every kernel in pool.kernels (plugins included) two or three concurrent
// calls whose arrays overlap each other and alias inputs with outputs.
//
// Why: DESIGN.md §4: two tasks on one array, or racing writes, may produce
// garbage in that array, never a crash or a write outside the arrays
// involved; CONVENTIONS.md rule 18: a kernel recounts, clamps and bounds
// every index it derives from data that can change under it. The bug this
// was written for: two `sort` tasks on the same view overflowed the C heap
// (double free or corruption, SIGSEGV).
//
// Checks, per case: no crash (run.js sees signals and sanitizer reports),
// every promise settles (resolved, or rejected with a Penny error), the
// bytes around and between the views passed keep their pattern, the event
// loop is never blocked longer than the limit, and the pool answers a
// fresh sum afterwards. Sorts run last, so that a crash there leaves the
// other kernels' results in the log.

const {
  MiB, TYPES, isBigType, main, penny, Guard, Tracker, Heartbeat,
  isPennyError, show, tick, checkPoolWorks, checkClose,
} = require('../lib');

const BLOCK = 65536; // BLOCK_MIN in src/kernels/sort.c: sorts above go parallel
const WINDOW = 8 * MiB;
const FLOATS = [Float32Array, Float64Array];
const SIGNED = [Int8Array, Int16Array, Int32Array, BigInt64Array, ...FLOATS];

// ---- The window of memory every case works in. ----

function setUp(s) {
  const pool = new (penny().Pool)({ threads: s.int(2, 4),
    arenaBytes: 3 * WINDOW });
  const seed = s.int(0, 2 ** 31);
  const bytesOf = (v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const g0 = new Guard(bytesOf(pool.alloc(Float64Array, 8192)), seed);
  // A Float64Array keeps the window's start 8-byte aligned for any type.
  const w = new Guard(bytesOf(pool.alloc(Float64Array, WINDOW / 8)), seed + 1);
  const g1 = new Guard(bytesOf(pool.alloc(Float64Array, 8192)), seed + 2);
  return { s, pool, g0, w, g1, hb: new Heartbeat() };
}

// A view of n elements of Type at byte `at` of the window (aligned down).
function view(ctx, Type, at, n) {
  const size = Type.BYTES_PER_ELEMENT;
  const start = Math.floor(at / size) * size;
  const max = Math.floor((WINDOW - start) / size);
  return new Type(ctx.pool.arena, ctx.w.bytes.byteOffset + start,
    Math.min(n, max));
}

function randomize(ctx, v) {
  const { s } = ctx;
  const big = isBigType(v.constructor);
  const float = FLOATS.includes(v.constructor);
  for (let i = 0; i < v.length; i++) {
    const r = s.rand();
    if (big) v[i] = BigInt(Math.floor((r - 0.5) * 2 ** 40));
    else if (float) v[i] = r < 0.01 ? NaN : (r - 0.5) * 1e6;
    else v[i] = Math.floor(r * 2 ** 32);
  }
  return v;
}

// ---- One case: concurrent calls, JS meddling, then the checks. ----

async function runCase(ctx, name, calls) {
  const { s, pool } = ctx;
  s.phase = name;
  for (const g of [ctx.g0, ctx.w, ctx.g1]) g.reset();
  const views = calls.flatMap((c) => c.args.filter(ArrayBuffer.isView));
  for (const v of new Set(views)) if (v.length > 0) randomize(ctx, v);
  const tracker = new Tracker(s);
  ctx.hb.reset();
  for (const c of calls) {
    let p;
    try {
      p = pool.run(c.kernel, c.args);
    } catch (err) {
      s.fail(`${name}: run('${c.kernel}') threw ${show(err)} synchronously`);
      continue;
    }
    tracker.add(p, `${name}: ${c.kernel}`, (rec) => (rec.status ===
      'resolved' || isPennyError(rec.value) ? null
      : `rejected with ${show(rec.value)}`));
  }
  // JavaScript writes into the same views while the kernels run.
  for (let round = 0; round < 200 && tracker.pending > 0; round++) {
    const v = s.pick(views);
    if (v !== undefined && v.length > 0) {
      const lo = s.int(0, v.length);
      randomize(ctx, v.subarray(lo, Math.min(v.length, lo + s.int(1, 256))));
    }
    await tick();
  }
  await tracker.wait({ stallMs: 3000, capMs: 20000 });
  tracker.judge();
  ctx.hb.check(s, name);
  const legit = views.map((v) => {
    const lo = v.byteOffset - ctx.w.bytes.byteOffset;
    return [lo, lo + v.byteLength];
  });
  for (const [zone, except] of [['before', []], ['window', legit],
    ['after', []]]) {
    const g = zone === 'before' ? ctx.g0 : zone === 'after' ? ctx.g1 : ctx.w;
    const at = g.changed(except);
    s.check(at < 0, () => `${name}: wrote ${zone === 'window'
      ? 'the window' : `the guard ${zone} it`} at byte ${at}, outside ` +
      'every view passed');
  }
  await checkPoolWorks(s, pool, name);
}

// ---- Overlapping calls of each kernel. ----

// A random byte offset in the first part of the window.
const spot = (ctx) => ctx.s.int(0, 64) * 64;

// Two or three calls of one kernel on views that overlap each other.
function kernelCalls(ctx, name, info) {
  const { s } = ctx;
  const n = s.int(1000, 20000);
  const at = spot(ctx);
  const shift = (Type, k) => at + k * Type.BYTES_PER_ELEMENT * s.int(1, 64);
  const any = () => s.pick(TYPES);
  const float = () => s.pick(FLOATS);
  const scalar = (Type) => (isBigType(Type) ? 3 : 1.5);
  const same = (Type, k) => view(ctx, Type, shift(Type, k), n);
  const build = {
    noop: () => [],
    fib: () => [s.int(5, 15)],
    spin: () => [s.int(10, 500)],
    fill: () => { const T = any(); return [same(T, 0), scalar(T)]; },
    scale: () => { const T = any(); return [same(T, 0), scalar(T)]; },
    axpy: () => {
      const T = any();
      return [scalar(T), same(T, 0), same(T, 1)];
    },
    dot: () => { const T = any(); return [same(T, 0), same(T, 1)]; },
    scan: () => [same(any(), 0)],
    sort: () => [same(any(), 0)],
    sqrt: () => { const T = float(); return [same(T, 0), same(T, 1)]; },
    exp: () => { const T = float(); return [same(T, 0), same(T, 1)]; },
    log: () => { const T = float(); return [same(T, 0), same(T, 1)]; },
    abs: () => { const T = s.pick(SIGNED); return [same(T, 0), same(T, 1)]; },
    histogram: () => {
      // The counts alias the input's bytes.
      const x = same(any(), 0);
      return [x, view(ctx, Uint32Array, x.byteOffset -
        ctx.w.bytes.byteOffset + 64, s.int(1, 512)), -1e6, 1e6];
    },
    mandelbrot: () => {
      const w = s.int(8, 64);
      const h = s.int(8, 64);
      return [view(ctx, Uint32Array, shift(Uint32Array, 1), w * h), w, h,
        -2, -1, 1, 1, s.int(10, 200)];
    },
    gemm: () => {
      const T = float();
      const m = s.int(8, 64);
      const k = s.int(8, 64);
      const nn = s.int(8, 64);
      // C overlaps both A and B.
      return [view(ctx, T, at, m * k), view(ctx, T, shift(T, 1), k * nn),
        view(ctx, T, shift(T, 1) + T.BYTES_PER_ELEMENT * 4, m * nn), m, nn, k];
    },
  };
  for (const op of ['add', 'sub', 'mul', 'div', 'min', 'max', 'sum', 'argmin',
    'argmax']) {
    build[op] ??= () => {
      const T = op === 'div' ? float() : any();
      return info.params.map((p, i) => (p.array ? same(T, i) : 1));
    };
  }
  // A kernel this file does not know (a plugin): Float64Array views that
  // overlap, 1 for every scalar. It may refuse them; it must not crash.
  const make = build[name] ?? (() => info.params.map((p, i) =>
    (p.array ? same(Float64Array, i) : 1)));
  const calls = [];
  for (let i = s.int(2, 4); i > 0; i--) {
    calls.push({ kernel: name, args: make() });
  }
  return calls;
}

// ---- Mixed kernels and sorts. ----

function mixedCalls(ctx) {
  const { s } = ctx;
  const T = s.pick([Float64Array, Int32Array, Float32Array, BigInt64Array]);
  const n = s.int(BLOCK, 3 * BLOCK);
  const x = view(ctx, T, spot(ctx), n);
  const q = Math.floor(n / 4);
  const big = isBigType(T);
  return [
    { kernel: 'sort', args: [x] },
    { kernel: 'fill', args: [x.subarray(q, 3 * q), big ? 7 : 7.5] },
    { kernel: 'sum', args: [x.subarray(q, n - q)] },
    { kernel: 'scan', args: [x.subarray(2 * q)] },
    // Counts into the middle of its own input.
    { kernel: 'histogram', args: [x.subarray(0, 2 * q), new Uint32Array(
      x.buffer, x.byteOffset + q * T.BYTES_PER_ELEMENT, 1000), -1e6, 1e6] },
    { kernel: 'sort', args: [x.subarray(q)] },
  ];
}

function sortCases(ctx) {
  const { s } = ctx;
  const cases = [];
  for (const T of TYPES) {
    const n = s.int(BLOCK, 3 * BLOCK);
    const x = view(ctx, T, spot(ctx), n);
    cases.push([`two sorts of one ${T.name} view (n ${n})`,
      [{ kernel: 'sort', args: [x] }, { kernel: 'sort', args: [x] }]]);
  }
  const T = s.pick(TYPES);
  const n = s.int(2 * BLOCK, 4 * BLOCK);
  const x = view(ctx, T, spot(ctx), n);
  cases.push([`three sorts of overlapping ${T.name} subarrays`, [
    { kernel: 'sort', args: [x.subarray(0, (3 * n) >> 2)] },
    { kernel: 'sort', args: [x.subarray(n >> 2)] },
    { kernel: 'sort', args: [x] },
  ]]);
  const at = spot(ctx);
  const bytes = 8 * s.int(BLOCK, 2 * BLOCK);
  const as = (Type) => view(ctx, Type, at, bytes / Type.BYTES_PER_ELEMENT);
  cases.push(['sorts of one memory as Float64, Int32, Uint8 and BigUint64', [
    { kernel: 'sort', args: [as(Float64Array)] },
    { kernel: 'sort', args: [as(Int32Array)] },
    { kernel: 'sort', args: [as(Uint8Array)] },
    { kernel: 'sort', args: [as(BigUint64Array)] },
  ]]);
  return cases;
}

async function body(s) {
  const ctx = setUp(s);
  const kernels = ctx.pool.kernels;
  const names = s.shuffle(Object.keys(kernels).filter((k) => k !== 'sort'));
  const reps = s.scaled(2, 1);
  for (const name of names) {
    for (let r = 0; r < reps && !s.overBudget(); r++) {
      await runCase(ctx, `overlapping ${name} calls`,
        kernelCalls(ctx, name, kernels[name]));
    }
    s.info.kernelsCovered = (s.info.kernelsCovered || 0) + 1;
  }
  if (kernels.sort) {
    for (let r = 0; r < reps && !s.overBudget(); r++) {
      await runCase(ctx, 'overlapping sort calls',
        kernelCalls(ctx, 'sort', kernels.sort));
    }
    s.info.kernelsCovered++;
    for (const [name, calls] of sortCases(ctx)) {
      if (s.overBudget()) break;
      await runCase(ctx, name, calls);
    }
    for (let r = 0; r < s.scaled(4, 2) && !s.overBudget(); r++) {
      await runCase(ctx, 'sort vs fill, sum, scan and histogram on one view',
        mixedCalls(ctx));
    }
  }
  s.check(s.info.kernelsCovered === Object.keys(kernels).length,
    `covered ${s.info.kernelsCovered} of ${Object.keys(kernels).length} ` +
    'kernels');
  s.phase = 'close';
  await checkClose(s, ctx.pool.close(), 'the end', 10000);
  ctx.hb.stop();
}

main(body);
