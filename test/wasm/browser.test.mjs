// penny/browser under Node's worker_threads: the browser suite
// (test/browser/suite.mjs) on the same wasm build, without a browser, so
// that `npm test` checks it on every run. Skipped when clang-14 and
// wasm-ld-14, which build the module, are missing (a failing build fails).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { define } from '../browser/suite.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function haveToolchain() {
  try {
    execFileSync('clang-14', ['--version'], { stdio: 'ignore' });
    execFileSync('wasm-ld-14', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (haveToolchain()) {
  execFileSync('make', ['-s', 'dist/penny.wasm'], { cwd: ROOT,
    stdio: 'inherit' });
  const { Pool } = await import('../../lib/browser/index.mjs');
  define({ describe, it, before, after, assert, Pool });
} else {
  describe('penny/browser under Node', () => {
    it('needs clang-14 and wasm-ld-14 to build the module', function () {
      this.skip();
    });
  });
}
