'use strict';

// penny/browser in headless Chromium (npm run bench:browser): the three
// figures of its targets, each against a baseline measured on the same
// page in the same run, rounds interleaved, medians reported.
//
//   sort      10^7 doubles: pool.run('sort') (2 threads) against
//             Float64Array.prototype.sort on a copy of the same data
//   mandel    mandelbrot 1200x900, 1000 iterations: 2 threads against 1
//   roundtrip one awaited noop kernel, one after another: the median over
//             batches of 200 of the time per call (the page's clock is
//             coarsened to 5 us, so single calls are not timed)
//
// Options: --rounds N (default 5). Needs Chromium (test/browser/page.js).

const { withPage } = require('../test/browser/page');

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 5;

async function inPage(base, rounds) {
  const { Pool } = await import(`${base}lib/browser/index.mjs`);
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const time = async (fn) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  const out = { sort: { penny: [], js: [] }, mandel: { one: [], two: [] },
    roundtrip: { us: [] }, threads: navigator.hardwareConcurrency };

  const two = new Pool({ threads: 2 });
  const one = new Pool({ threads: 1 });
  const N = 1e7;
  const data = new Float64Array(N);
  let s = 42;
  for (let i = 0; i < N; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    data[i] = s / 2147483648 - 0.5;
  }
  const view = two.alloc(Float64Array, N);
  const copy = new Float64Array(N);
  const [W, H, IT] = [1200, 900, 1000];
  const iters1 = one.alloc(Uint32Array, W * H);
  const iters2 = two.alloc(Uint32Array, W * H);
  const mandel = (pool, iters) => pool.run('mandelbrot',
    [iters, W, H, -2.2, -1.2, 0.8, 1.2, IT]);

  await mandel(one, iters1); // warm up both pools and the engine
  await mandel(two, iters2);
  for (let r = 0; r < rounds; r++) {
    view.set(data);
    copy.set(data);
    if (r % 2 === 0) {
      out.sort.penny.push(await time(() => two.run('sort', [view])));
      out.sort.js.push(await time(() => copy.sort()));
    } else {
      out.sort.js.push(await time(() => copy.sort()));
      out.sort.penny.push(await time(() => two.run('sort', [view])));
    }
    for (let i = 0; i < N; i++) {
      if (view[i] !== copy[i]) throw new Error(`sort differs at ${i}`);
    }
    out.mandel.one.push(await time(() => mandel(one, iters1)));
    out.mandel.two.push(await time(() => mandel(two, iters2)));
    for (let i = 0; i < W * H; i++) {
      if (iters1[i] !== iters2[i]) throw new Error(`mandelbrot differs at ${i}`);
    }
  }
  for (let i = 0; i < 1000; i++) await two.run('noop');
  for (let b = 0; b < 10 * rounds; b++) {
    const t = await time(async () => {
      for (let i = 0; i < 200; i++) await two.run('noop');
    });
    out.roundtrip.us.push(t * 1000 / 200);
  }
  await Promise.all([one.close(), two.close()]);
  return {
    threads: out.threads,
    sort: { pennyMs: median(out.sort.penny), jsMs: median(out.sort.js),
      speedup: median(out.sort.js) / median(out.sort.penny) },
    mandel: { oneMs: median(out.mandel.one), twoMs: median(out.mandel.two),
      speedup: median(out.mandel.one) / median(out.mandel.two) },
    roundtrip: { medianUs: median(out.roundtrip.us),
      minUs: Math.min(...out.roundtrip.us), maxUs: Math.max(...out.roundtrip.us) },
    raw: out,
  };
}

withPage(async (page, { url }) => {
  const r = await page.evaluate(inPage, url, rounds);
  const f = (x) => x.toFixed(1);
  console.log(`headless Chromium, ${r.threads} hardware threads, ${rounds} ` +
    'rounds, medians');
  console.log(`sort 10^7 f64   penny 2 threads ${f(r.sort.pennyMs)} ms, ` +
    `Float64Array.prototype.sort ${f(r.sort.jsMs)} ms: ${
      r.sort.speedup.toFixed(2)}x (target >= 3x)`);
  console.log(`mandelbrot      1 thread ${f(r.mandel.oneMs)} ms, 2 threads ${
    f(r.mandel.twoMs)} ms: ${r.mandel.speedup.toFixed(2)}x (target >= 1.8x)`);
  console.log(`round trip      ${f(r.roundtrip.medianUs)} us per awaited ` +
    `noop (batches from ${f(r.roundtrip.minUs)} to ${f(r.roundtrip.maxUs)} ` +
    'us; target <= 50 us)');
  if (args.includes('--json')) console.log(JSON.stringify(r.raw));
}, { log: null }).catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
