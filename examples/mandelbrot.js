'use strict';

// Renders the Mandelbrot set to a PNG with Penny's mandelbrot kernel: a
// deliberately unbalanced workload (rows through the set cost maxIter
// steps a pixel) that the pool's work stealing spreads over its threads.
//
//   node examples/mandelbrot.js [out.png] [width] [height]

const fs = require('node:fs');
const zlib = require('node:zlib');
const penny = require('..'); // in your project: require('penny')

// A minimal PNG encoder (8-bit RGB), so the example needs nothing but
// Penny: a signature, then IHDR, IDAT (zlib of rows, each led by filter
// byte 0) and IEND chunks, each with its CRC-32.
const CRC = new Int32Array(256).map((_, n) => {
  for (let k = 0; k < 8; k++) n = n & 1 ? 0xEDB88320 ^ (n >>> 1) : n >>> 1;
  return n;
});
function chunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  let c = -1;
  for (const b of body) c = CRC[(c ^ b) & 0xFF] ^ (c >>> 8);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeInt32BE(~c, body.length + 4);
  return out;
}
function png(width, height, rgb) {
  const raw = Buffer.alloc((3 * width + 1) * height);
  for (let y = 0; y < height; y++) {
    rgb.copy(raw, y * (3 * width + 1) + 1, 3 * width * y, 3 * width * (y + 1));
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, no filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

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
  const rgb = Buffer.alloc(3 * width * height);
  for (let i = 0; i < width * height; i++) {
    const n = iters[i];
    const t = n >= maxIter ? 0 : Math.sqrt(n / maxIter);
    rgb[3 * i] = Math.round(255 * Math.min(1, 3 * t));
    rgb[3 * i + 1] = Math.round(255 * Math.min(1, Math.max(0, 3 * t - 1)));
    rgb[3 * i + 2] = n >= maxIter ? 0 : Math.round(255 * Math.min(1, 0.3 + t));
  }
  fs.writeFileSync(file, png(width, height, rgb));
  console.log(`${width}x${height}, maxIter ${maxIter}: ${ms.toFixed(1)} ms ` +
    `on ${pool.threads} threads; wrote ${file}`);
  await pool.close();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
