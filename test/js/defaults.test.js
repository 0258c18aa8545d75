'use strict';

// No program has to size anything: the README's programs (readme.test.js),
// the Mandelbrot example at 4000x4000 and a sort of 10^8 doubles all run
// on pools made with default options. Each runs in its own process, so its
// gigabyte is returned when it ends.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { spawnSync } = require('node:child_process');
const { ROOT, FIXTURES } = require('./fixtures/common');

function node(args, cwd) {
  const r = spawnSync(process.execPath, args,
    { cwd, encoding: 'utf8', timeout: 240000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('default options serve large inputs', function () {
  this.timeout(300000);

  it('examples/mandelbrot.js renders 4000x4000', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'penny-mandel-'));
    try {
      const file = path.join(dir, 'm.png');
      node([path.join(ROOT, 'examples', 'mandelbrot.js'), file, '4000',
        '4000'], dir);
      const png = fs.readFileSync(file);
      assert.equal(png.readUInt32BE(16), 4000); // IHDR width
      assert.equal(png.readUInt32BE(20), 4000); // IHDR height
      // The image data: 4000 rows of a filter byte and 4000 RGB pixels.
      // The view is centred at -0.6 + 0i, well inside the set: black.
      const idat = png.indexOf('IDAT');
      const rgb = zlib.inflateSync(
        png.subarray(idat + 4, idat + 4 + png.readUInt32BE(idat - 4)));
      assert.equal(rgb.length, 4000 * (1 + 3 * 4000));
      const centre = 2000 * (1 + 3 * 4000) + 1 + 3 * 2000;
      assert.deepEqual([...rgb.subarray(centre, centre + 3)], [0, 0, 0]);
      const corner = 1; // -3 - 1.2i: outside, escapes at once
      assert.notDeepEqual([...rgb.subarray(corner, corner + 3)], [0, 0, 0]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sorts 10^8 doubles', () => {
    const out = node([path.join(FIXTURES, 'sort-large.js'), '1e8'], ROOT);
    assert.equal(out.trim(), 'ok 100000000');
  });
});
