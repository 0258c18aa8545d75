'use strict';

// Loads the example plugin into a pool, blurs a synthetic image with it,
// checks the result against the same blur in JavaScript, and shows a
// kernel that fails with a message. Build the plugin first:
//
//   make -C examples/plugin && node examples/plugin/run.js

const path = require('node:path');
const penny = require('../..');

const LIB = path.join(__dirname, 'build',
  process.platform === 'darwin' ? 'blur.dylib' : 'blur.so');

// The JavaScript reference: the same box blur, pass by pass.
function blurJS(src, width, height, radius, passes) {
  const clamp = (v, hi) => (v < 0 ? 0 : v > hi ? hi : v);
  const box = 2 * radius + 1;
  const tmp = new Float32Array(width * height);
  const dst = new Float32Array(width * height);
  let input = src;
  for (let pass = 0; pass < passes; pass++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let k = -radius; k <= radius; k++) {
          s += input[y * width + clamp(x + k, width - 1)];
        }
        tmp[y * width + x] = s / box;
      }
    }
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let k = -radius; k <= radius; k++) {
          s += tmp[clamp(y + k, height - 1) * width + x];
        }
        dst[y * width + x] = s / box;
      }
    }
    input = dst;
  }
  return dst;
}

async function main() {
  const pool = new penny.Pool();
  console.log('loaded', pool.load(LIB).join(', '), 'from', LIB);
  console.log('signature:', pool.kernels.blur.signature);

  const width = 1024;
  const height = 768;
  const radius = 4;
  const passes = 3;
  const src = pool.alloc(Float32Array, width * height);
  const dst = pool.alloc(Float32Array, width * height);
  // A checkerboard with noise: sharp edges that the blur softens.
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const check = ((x >> 5) ^ (y >> 5)) & 1;
      src[y * width + x] = check + Math.sin(x * 12.9898 + y * 78.233) * 0.1;
    }
  }

  let t0 = process.hrtime.bigint();
  await pool.run('blur', [src, dst, width, height, radius, passes]);
  const tPenny = Number(process.hrtime.bigint() - t0) / 1e6;
  t0 = process.hrtime.bigint();
  const want = blurJS(src, width, height, radius, passes);
  const tJS = Number(process.hrtime.bigint() - t0) / 1e6;
  let same = 0;
  for (let i = 0; i < want.length; i++) same += dst[i] === want[i] ? 1 : 0;
  console.log(`blur ${width}x${height}, radius ${radius}, ${passes} passes:` +
    ` ${tPenny.toFixed(1)} ms on ${pool.threads} workers, ` +
    `${tJS.toFixed(1)} ms in JavaScript; ${same} of ${want.length} pixels ` +
    'identical');

  const weights = pool.alloc(Float32Array, 4);
  weights.set([1, 2, 3, 4]);
  console.log('normalize([1, 2, 3, 4]) summed', await pool.run('normalize',
    [weights]), '->', Array.from(weights));
  weights.fill(0);
  try {
    await pool.run('normalize', [weights]);
  } catch (err) {
    console.log(`normalize of zeros rejects: ${err.code}: ${err.message}`);
  }
  await pool.close();
  if (same !== want.length) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}

module.exports = { blurJS };
