'use strict';

// examples/js-tasks keeps working: a small run of the prime count, with
// and without Penny, agrees with itself and with the known count.

const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const SCRIPT = path.join(__dirname, '..', '..', 'examples', 'js-tasks',
  'index.js');

const FORK = path.join(__dirname, '..', '..', 'examples', 'js-tasks',
  'fork.js');

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

  it('runs fib, mandelbrot and merge sort with fork-join, matching the ' +
     'main thread\'s results', function () {
    this.timeout(120000);
    const r = spawnSync(process.execPath, [FORK, '0.1'],
      { encoding: 'utf8', timeout: 110000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^fib\(27\): Penny \d+ ms/m);
    assert.match(r.stdout, /^mandelbrot \d+x\d+: Penny \d+ ms/m);
    assert.match(r.stdout, /^sort of 1,000,000 doubles: Penny \d+ ms/m);
    assert.match(r.stdout, /^same results: true$/m);
  });
});
