'use strict';

// Renders the Mandelbrot set to a PNG with Penny's mandelbrot kernel: a
// deliberately unbalanced workload (rows through the set cost maxIter
// steps a pixel) that the pool's work stealing spreads over its threads.
//
//   node examples/mandelbrot.js [out.png] [width] [height]

const fs = require('node:fs');
const { PNG } = require('pngjs');
const penny = require('..');

async function main() {
  const file = process.argv[2] || 'mandelbrot.png';
  const width = Number(process.argv[3] || 1024);
  const height = Number(process.argv[4] || 768);
  const maxIter = 1000;
  // A view with the whole set in it, at the image's aspect ratio.
  const cy = 0;
  const cx = -0.6;
  const h = 2.4;
  const w = h * width / height;

  // No sizing: an image larger than the arena gets a buffer of its own.
  const pool = new penny.Pool();
  const iters = pool.alloc(Uint32Array, width * height);
  const t0 = process.hrtime.bigint();
  await pool.run('mandelbrot', [iters, width, height, cx - w / 2, cy - h / 2,
    cx + w / 2, cy + h / 2, maxIter]);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;

  // Escape counts to colours: black inside, a smooth ramp outside.
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    const n = iters[i];
    const t = n >= maxIter ? 0 : Math.sqrt(n / maxIter);
    png.data[4 * i] = Math.round(255 * Math.min(1, 3 * t));
    png.data[4 * i + 1] = Math.round(255 * Math.min(1, Math.max(0, 3 * t - 1)));
    png.data[4 * i + 2] = Math.round(255 * Math.min(1, 0.3 + t));
    if (n >= maxIter) png.data[4 * i + 2] = 0;
    png.data[4 * i + 3] = 255;
  }
  fs.writeFileSync(file, PNG.sync.write(png));
  console.log(`${width}x${height}, maxIter ${maxIter}: ${ms.toFixed(1)} ms ` +
    `on ${pool.threads} threads; wrote ${file}`);
  await pool.close();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
