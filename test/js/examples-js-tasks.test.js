'use strict';

// examples/js-tasks keeps working: a small run of the prime count, with
// and without Penny, agrees with itself and with the known count.

const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const SCRIPT = path.join(__dirname, '..', '..', 'examples', 'js-tasks',
  'index.js');

describe('examples/js-tasks', () => {
  it('counts the primes below 10^6 the same way with and without Penny',
    function () {
      this.timeout(60000);
      const r = spawnSync(process.execPath, [SCRIPT, '1000000'],
        { encoding: 'utf8', timeout: 50000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^same result: true$/m);
      assert.match(r.stdout, /^primes below 1,000,000: 78,498 \(right\)$/m);
    });
});
