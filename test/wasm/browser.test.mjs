// penny/browser under Node's worker_threads: the browser suite
// (test/browser/suite.mjs) on the same wasm build, without a browser, so
// that `npm test` checks it on every run. Skipped when clang-14 and
// wasm-ld-14, which build the module, are missing (a failing build fails).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { define } from '../browser/suite.mjs';
import { missingTools } from './toolchain.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const missing = missingTools();

if (missing.length === 0) {
  execFileSync('make', ['-s', 'dist/penny.wasm'], { cwd: ROOT,
    stdio: 'inherit' });
  const { Pool } = await import('../../lib/browser/index.mjs');
  define({ describe, it, before, after, assert, Pool });
} else {
  describe('penny/browser under Node', () => {
    it('needs clang-14 and wasm-ld-14 to build the module', function () {
      console.log(`      skipped: ${missing.join(' and ')} not found`);
      this.skip();
    });
  });
}
