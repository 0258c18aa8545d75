// Penny's browser example (npm run serve:example): the Mandelbrot set
// rendered by Penny's `mandelbrot` kernel and by plain JavaScript side by
// side, then a task module's own functions on the same pool. In an app,
// import { Pool } from 'penny/browser'; here it comes from the repository.
import { Pool } from '../../lib/browser/index.mjs';
import { isPrime } from './tasks.mjs';

const $ = (id) => document.getElementById(id);
const W = 480;
const H = 360;
const VIEW = [-2.2, -1.35, 0.8, 1.35]; // x0, y0, x1, y1
const MAX_ITER = 1500;
const LIMIT = 2_000_000;

function plainMandelbrot(iters) {
  const [x0, y0, x1, y1] = VIEW;
  for (let j = 0; j < H; j++) {
    const cy = y0 + (y1 - y0) * j / H;
    for (let i = 0; i < W; i++) {
      const cx = x0 + (x1 - x0) * i / W;
      let zx = 0;
      let zy = 0;
      let n = 0;
      while (n < MAX_ITER && zx * zx + zy * zy <= 4) {
        const t = zx * zx - zy * zy + cx;
        zy = 2 * zx * zy + cy;
        zx = t;
        n++;
      }
      iters[j * W + i] = n;
    }
  }
}

function paint(canvas, iters) {
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(W, H);
  for (let k = 0; k < iters.length; k++) {
    const n = iters[k];
    const t = n >= MAX_ITER ? 0 : Math.sqrt(n / MAX_ITER);
    img.data[4 * k] = 255 * Math.min(1, 3 * t);
    img.data[4 * k + 1] = 255 * Math.min(1, Math.max(0, 3 * t - 1));
    img.data[4 * k + 2] = 255 * Math.min(1, 0.4 + t);
    img.data[4 * k + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

const ms = (t) => `${t.toFixed(0)} ms`;
const nextFrame = () => new Promise((r) => requestAnimationFrame(() => r()));

async function main() {
  const threads = navigator.hardwareConcurrency || 2;
  const pool = new Pool({ threads,
    tasks: new URL('./tasks.mjs', import.meta.url) });
  $('threads').textContent = threads;
  $('limit').textContent = LIMIT.toLocaleString('en');
  const iters = pool.alloc(Uint32Array, W * H);
  const plain = new Uint32Array(W * H);

  async function render() {
    $('status').textContent = 'Rendering…';
    let t0 = performance.now();
    await pool.run('mandelbrot', [iters, W, H, ...VIEW, MAX_ITER]);
    $('penny-time').textContent = ms(performance.now() - t0);
    paint($('penny'), iters);
    await nextFrame();
    t0 = performance.now();
    plainMandelbrot(plain);
    $('plain-time').textContent = ms(performance.now() - t0);
    paint($('plain'), plain);
    $('status').textContent = iters.every((v, i) => v === plain[i])
      ? 'Both images agree pixel for pixel.' : 'The images differ!';
  }

  $('render').onclick = render;
  // The first round also starts the pool's Workers and compiles the code
  // on every thread: the times shown are the second round's.
  await render();
  await render();
  await nextFrame();

  const counts = pool.alloc(Int32Array, 1);
  for (let round = 0; round < 2; round++) {
    counts[0] = 0;
    let t0 = performance.now();
    const primes = await pool.run('countPrimes', [LIMIT, counts]);
    $('tasks-penny').textContent = `${primes.toLocaleString('en')} primes ` +
      `in ${ms(performance.now() - t0)}`;
    await nextFrame();
    t0 = performance.now();
    let c = 0;
    for (let n = 0; n < LIMIT; n++) if (isPrime(n)) c++;
    $('tasks-plain').textContent = `${c.toLocaleString('en')} primes in ${
      ms(performance.now() - t0)}`;
  }
  const t0 = performance.now();
  const f = await pool.run('fib', [27]);
  $('fib').textContent = `${f.toLocaleString('en')} in ${
    ms(performance.now() - t0)}`;
  document.body.dataset.done = 'true';
}

main().catch((err) => {
  $('status').textContent = `${err.name}: ${err.message}`;
  document.body.dataset.done = 'error';
  throw err;
});
