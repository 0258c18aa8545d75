'use strict';

// Process lifetime: an idle pool never keeps the process alive, a pending
// task does; penny.run alone exits; ESM import works.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');
const { FIXTURES } = require('./fixtures/common');

const TIMEOUT = 20000;

// Runs a fixture with node; resolves to { code, signal, stdout, stderr,
// timedOut } and never rejects.
function runNode(fixture, nodeArgs = [], args = []) {
  return new Promise((resolve) => {
    const child = execFile(process.execPath,
      [...nodeArgs, path.join(FIXTURES, fixture), ...args], {
      // A crashing child must not drop a core file into the repository.
      cwd: os.tmpdir(), timeout: TIMEOUT, killSignal: 'SIGKILL',
    }, (err, stdout, stderr) => {
      resolve({
        code: child.exitCode,
        signal: child.signalCode,
        timedOut: Boolean(err && err.killed),
        stdout,
        stderr,
      });
    });
  });
}

function assertCleanExit(r, what) {
  assert.equal(r.timedOut, false,
    `${what} did not exit by itself within ${TIMEOUT} ms\n${r.stdout}`);
  assert.equal(r.signal, null, `${what} died of ${r.signal}\n${r.stderr}`);
  assert.equal(r.code, 0, `${what} exited with ${r.code}\n${r.stderr}`);
}

describe('process lifetime (child processes)', function () {
  this.timeout(TIMEOUT + 10000);

  it('a script that runs one task and nothing else exits by itself', async () => {
    const r = await runNode('exit-after-one-task.js');
    assertCleanExit(r, 'exit-after-one-task.js');
    assert.match(r.stdout, /^fib\(10\) = 55$/m);
  });

  it('a script whose pools never ran a task exits by itself', async () => {
    const r = await runNode('exit-idle-pool.js');
    assertCleanExit(r, 'exit-idle-pool.js');
    assert.match(r.stdout, /^pools 2 1$/m);
  });

  it('a pending spin(300000) keeps the process alive until it settles',
    async () => {
      const r = await runNode('exit-waits-for-spin.js');
      assertCleanExit(r, 'exit-waits-for-spin.js');
      assert.match(r.stdout, /^submitting$/m);
      assert.match(r.stdout, /^spin finished: undefined$/m,
        'the line printed in the .then is missing: the process exited ' +
        'before the task settled');
    });

  it('a script using only penny.run exits by itself', async () => {
    const r = await runNode('exit-default-run.js');
    assertCleanExit(r, 'exit-default-run.js');
    assert.match(r.stdout, /^fib\(20\) = 6765, noop = undefined$/m);
  });

  it('process.exit() while long tasks run exits cleanly', async () => {
    const r = await runNode('exit-during-spin.js');
    assertCleanExit(r, 'exit-during-spin.js');
    assert.match(r.stdout, /^exiting$/m);
    assert.doesNotMatch(r.stdout, /spin finished/);
    assert.equal(r.stderr, '');
  });

  (process.platform === 'linux' ? it : it.skip)(
    'garbage collection: an idle dropped pool stops its threads, a pending ' +
    'one still settles', async () => {
      const r = await runNode('gc-pools.js', ['--expose-gc']);
      assertCleanExit(r, 'gc-pools.js');
      assert.match(r.stdout, /^spin settled$/m);
      assert.equal((r.stdout.match(/^fib 144$/mg) || []).length, 4);
      assert.match(r.stdout, /^threads left 0$/m);
    });

  for (const n of [100000, 2 ** 31 - 1]) {
    it(`fib(${n}) (a legal i32) aborted after 50 ms rejects, no crash`,
      async () => {
        const r = await runNode('fib-deep.js', [], [String(n)]);
        assertCleanExit(r, `fib-deep.js ${n}`);
        assert.match(r.stdout,
          /^rejected (AbortError undefined|RangeError ERR_PENNY_RANGE)$/m);
      });
  }

  it('ESM: import { Pool, run } from the package works and exits', async () => {
    const r = await runNode('esm-import.mjs');
    assertCleanExit(r, 'esm-import.mjs');
    const lines = r.stdout.trim().split('\n');
    const checks = JSON.parse(lines[lines.length - 1]);
    assert.deepEqual(checks, {
      namedPool: true,
      samePool: true,
      sameRun: true,
      byName: true,
      defaultPool: true,
      fib: 6765,
      sum: 10.5,
      defaultRun: 610,
    });
  });
});
