'use strict';

// `npm run demo`: Penny's kernels on real-sized data against the same
// work in single-thread JavaScript, with times and speedups (medians).

const os = require('node:os');
const penny = require('..');

const REPS = 5;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function time(fn) {
  const t0 = process.hrtime.bigint();
  const result = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, result };
}

function jsFib(n) {
  return n < 2 ? n : jsFib(n - 1) + jsFib(n - 2);
}

function jsSum(x) {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

function jsFill(x, v) {
  for (let i = 0; i < x.length; i++) x[i] = v;
}

function jsMandelbrot(out, width, height, x0, y0, x1, y1, maxIter) {
  for (let j = 0; j < height; j++) {
    const cy = y0 + (y1 - y0) * j / height;
    for (let i = 0; i < width; i++) {
      const cx = x0 + (x1 - x0) * i / width;
      let zx = 0;
      let zy = 0;
      let k = 0;
      while (k < maxIter && zx * zx + zy * zy <= 4) {
        const t = zx * zx - zy * zy + cx;
        zy = 2 * zx * zy + cy;
        zx = t;
        k++;
      }
      out[j * width + i] = k;
    }
  }
}

// `setup`, if given, runs untimed before each of the two, with 'penny' or
// 'js' as its argument.
async function compare(name, what, pennyFn, jsFn, check, setup = () => {}) {
  const p = [];
  const j = [];
  for (let r = 0; r < REPS; r++) {
    setup('penny');
    const a = await time(pennyFn);
    setup('js');
    const b = await time(jsFn);
    check(a.result, b.result);
    p.push(a.ms);
    j.push(b.ms);
  }
  const pm = median(p);
  const jm = median(j);
  console.log(`${name.padEnd(8)} ${what.padEnd(34)} ` +
    `${jm.toFixed(1).padStart(8)} ms ${pm.toFixed(1).padStart(8)} ms ` +
    `${(jm / pm).toFixed(2).padStart(7)}x`);
}

function same(a, b) {
  if (a !== b) throw new Error(`results differ: ${a} vs ${b}`);
}

async function main() {
  // Room for two 10^7-element Float64Arrays (160 MB) and the rest.
  const pool = new penny.Pool({ arenaBytes: 256 * 1024 * 1024 });
  console.log(`Penny demo: ${pool.threads} worker threads on ` +
    `${os.availableParallelism()} CPUs, node ${process.version}\n`);
  console.log(`${'kernel'.padEnd(8)} ${'work'.padEnd(34)} ` +
    `${'JS'.padStart(11)} ${'Penny'.padStart(11)} ${'speedup'.padStart(8)}`);

  await compare('fib', 'fib(32), a fork at every call',
    () => pool.run('fib', [32]), () => jsFib(32), same);

  const n = 10_000_000;
  const x = pool.alloc(Float64Array, n); // in the arena: zero-copy
  const plain = new Float64Array(n);     // what JS would use
  for (let i = 0; i < n; i++) plain[i] = x[i] = Math.sin(i);
  await compare('sum', `sum of ${n.toExponential(0)} doubles`,
    () => pool.run('sum', [x]), () => jsSum(plain),
    (a, b) => {
      if (Math.abs(a - b) > 1e-9 * n) throw new Error(`sum ${a} vs ${b}`);
    });

  await compare('fill', `fill ${n.toExponential(0)} doubles`,
    () => pool.run('fill', [x, 1.5]), () => jsFill(plain, 1.5),
    () => {
      if (x[n - 1] !== 1.5 || plain[n - 1] !== 1.5) throw new Error('fill');
    });

  const y = pool.alloc(Float64Array, n);
  const plainY = new Float64Array(n);
  for (let i = 0; i < n; i++) plain[i] = x[i] = Math.abs(Math.sin(i)) * 100;
  await compare('sqrt', `sqrt of ${n.toExponential(0)} doubles`,
    () => pool.run('sqrt', [x, y]), () => {
      for (let i = 0; i < n; i++) plainY[i] = Math.sqrt(plain[i]);
    }, () => {
      if (y[n - 1] !== plainY[n - 1]) throw new Error('sqrt');
    });

  const m = 5_000_000;
  const s = pool.alloc(Float64Array, m);
  const plainS = new Float64Array(m);
  const data = new Float64Array(m);
  for (let i = 0; i < m; i++) data[i] = Math.sin(i * 12.9898) * 43758.5453;
  // Both sort a fresh copy of the same data each run.
  await compare('sort', `sort ${m.toExponential(0)} doubles`,
    () => pool.run('sort', [s]), () => plainS.sort(), () => {
      if (s[0] !== plainS[0] || s[m - 1] !== plainS[m - 1]) {
        throw new Error('sort');
      }
    }, (who) => (who === 'penny' ? s : plainS).set(data));

  const W = 800;
  const H = 600;
  const iters = pool.alloc(Uint32Array, W * H);
  const plainIters = new Uint32Array(W * H);
  const view = [-2.2, -1.2, 1, 1.2, 500];
  await compare('mandel', `mandelbrot ${W}x${H}, 500 iterations`,
    () => pool.run('mandelbrot', [iters, W, H, ...view]),
    () => jsMandelbrot(plainIters, W, H, ...view), () => {
      if (iters[W * H / 2 + W / 2] !== plainIters[W * H / 2 + W / 2]) {
        throw new Error('mandelbrot');
      }
    });

  pool.free(x);
  await pool.close();
  console.log('\nTimes are medians of', REPS, 'runs; JS runs on the main ' +
    'thread, Penny on its pool.');
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}

// The test suite checks the kernel against this same loop.
module.exports = { jsMandelbrot };
