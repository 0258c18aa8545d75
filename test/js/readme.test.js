'use strict';

// The docs cannot drift from the code: every JavaScript block in README.md
// and docs/*.md that is a complete program (it loads 'penny' itself) runs
// here, as CommonJS or as an ES module according to how it loads Penny,
// from a directory where 'penny' resolves to this package. It must exit 0,
// and each `console.log(...)` line that ends in a `// value` comment must
// print that value, in order.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ROOT } = require('./fixtures/common');
const { programs, docFiles, check } = require('./fixtures/docs');

describe('the docs run', () => {
  let dir;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'penny-readme-'));
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'penny'), 'dir');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const all = docFiles(ROOT).flatMap(programs);

  it('finds the README\'s first example in both module systems', () => {
    assert.ok(all.some((p) => p.name.startsWith('README') && p.esm));
    assert.ok(all.some((p) => p.name.startsWith('README') && !p.esm));
  });

  for (const p of all) {
    it(`${p.name} (${p.esm ? 'ES module' : 'CommonJS'}) runs as written`,
      () => check(p, dir));
  }
});
