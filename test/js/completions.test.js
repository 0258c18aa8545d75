'use strict';

// The second way completions reach the loop thread: a Node-API
// thread-safe function, which Penny uses under Bun and Deno (see
// src/addon/completion.c). Node normally takes libuv's async handle, so
// this runs the suites that exercise delivery, abort, close, exit and
// Worker teardown again in a child process with PENNY_COMPLETIONS=tsfn.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const SUITES = ['abort', 'close', 'process', 'workers', 'ring', 'racing',
  'tasks'].map((s) => path.join('test', 'js', `${s}.test.js`));

describe('completions through a thread-safe function', function () {
  this.timeout(300000);

  it('passes the delivery, abort, close, exit and Worker suites', async () => {
    const r = await new Promise((resolve) => {
      const child = execFile(process.execPath, [
        require.resolve('mocha/bin/mocha.js'), '--no-config', '--timeout',
        '60000', '--reporter', 'dot', ...SUITES,
      ], {
        cwd: ROOT, timeout: 280000, killSignal: 'SIGKILL',
        env: { ...process.env, PENNY_COMPLETIONS: 'tsfn' },
        maxBuffer: 16 << 20,
      }, (err, stdout, stderr) => resolve({
        code: child.exitCode, signal: child.signalCode, stdout, stderr,
      }));
    });
    assert.equal(r.signal, null, `died of ${r.signal}\n${r.stdout}${r.stderr}`);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /[1-9]\d* passing/);
    assert.doesNotMatch(r.stdout, /failing/);
  });
});
